//! Locating this workspace's binaries from a test.
//!
//! Why: `CARGO_BIN_EXE_<name>` only exists for tests in the package that owns the binary, and
//! this crate drives binaries of other workspace members. A test executable lives in
//! `<target>/<profile>/deps/`, so the binaries are one level up, in the same profile (debug or
//! release) and target triple the test was built for. An env var overrides the lookup.

use std::path::{Path, PathBuf};

/// Env var that overrides [`knock_cli_path`].
pub const KNOCK_CLI_ENV: &str = "KNOCK_CLI";

/// `<target>/<profile>/knock-cli` next to the running test binary, or `$KNOCK_CLI`.
///
/// Panics with "knock-cli not built: run `cargo build --workspace` first" when it is missing.
pub fn knock_cli_path() -> PathBuf {
    match workspace_bin("knock-cli", KNOCK_CLI_ENV) {
        Ok(p) => p,
        Err(e) => panic!("{e}"),
    }
}

/// The workspace binary `name` (see the module docs), or `$env_override` when set. The error
/// says what to build.
pub fn workspace_bin(name: &str, env_override: &str) -> Result<PathBuf, String> {
    if let Some(p) = std::env::var_os(env_override) {
        let p = PathBuf::from(p);
        return if p.is_file() { Ok(p) } else { Err(format!("{name} not found at ${env_override}={}", p.display())) };
    }
    let exe = std::env::current_exe().map_err(|e| format!("cannot locate the test binary: {e}"))?;
    let p = bin_next_to(&exe, name).ok_or_else(|| format!("cannot derive the target dir from {}", exe.display()))?;
    if p.is_file() {
        Ok(p)
    } else {
        Err(format!(
            "{name} not built: run `cargo build --workspace` first (looked for {}; override with ${env_override})",
            p.display()
        ))
    }
}

/// `<dir>/deps/test-hash` (or `<dir>/examples/x`) -> `<dir>/<name>`; any other exe -> its own dir.
pub fn bin_next_to(exe: &Path, name: &str) -> Option<PathBuf> {
    let mut dir = exe.parent()?;
    if dir.file_name().is_some_and(|n| n == "deps" || n == "examples") {
        dir = dir.parent()?;
    }
    Some(dir.join(format!("{name}{}", std::env::consts::EXE_SUFFIX)))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn binary_is_next_to_deps() {
        // `knock-cli.exe` on Windows, joined with the platform's separator.
        let expected = |dir: &str| Some(Path::new(dir).join(format!("knock-cli{}", std::env::consts::EXE_SUFFIX)));
        let p = bin_next_to(Path::new("/w/target/release/deps/lab_smoke-abc"), "knock-cli");
        assert_eq!(p, expected("/w/target/release"));
        let p = bin_next_to(Path::new("/w/target/x86_64-unknown-linux-gnu/debug/deps/t-1"), "knock-cli");
        assert_eq!(p, expected("/w/target/x86_64-unknown-linux-gnu/debug"));
        let p = bin_next_to(Path::new("/w/target/debug/examples/e"), "knock-cli");
        assert_eq!(p, expected("/w/target/debug"));
        let p = bin_next_to(Path::new("/opt/bin/runner"), "knock-cli");
        assert_eq!(p, expected("/opt/bin"));
    }

    #[test]
    fn missing_binary_message_says_what_to_run() {
        let e = workspace_bin("surely-not-built-xyz", "KNOCK_E2E_UNSET_VAR_FOR_TEST").expect_err("missing");
        assert!(e.contains("not built: run `cargo build --workspace` first"), "{e}");
    }
}
