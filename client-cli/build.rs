//! Link decisions for knock-cli, per OS. knock-cli runs in tight loops (a knock before every SSH
//! deploy), so what the dynamic loader does before `main` is most of its start-up; each shared library
//! costs about 0.1 ms here (open, four mmaps, relocation, page faults), more than the knock itself.
//!
//! - **Linux with glibc, dynamically linked** (what `cargo install` gives): the unwinder comes from
//!   `libgcc_eh.a` (what `gcc -static-libgcc` does) instead of `libgcc_s.so.1`. std names `-lgcc_s`
//!   itself, so this script shadows that name with a one-line linker script in `OUT_DIR` that points at
//!   the static archive. Only when the compiler can name `libgcc_eh.a` and the build is not
//!   cross-compiled; otherwise the default stays. (libm is dropped in `src/libm_pow.rs`.)
//! - **Linux static builds** (`scripts/build-release.sh`, `crt-static`): rustc already links `libgcc_eh`.
//! - **macOS, Windows, musl, the BSDs**: defaults; none of them loads libgcc_s.
//! - **Windows**, besides: the icon, the application manifest and version info are compiled into
//!   knock-cli.exe as resources, the same as knock-gui.exe's (packaging/windows/resources.rs, included
//!   below; nothing there changes what the loader does).
//!
//! `tests/linking.rs` checks the result: libc is the only library knock-cli needs on glibc Linux.

// Cargo reads a build script's instructions from its stdout; println! is how they are written.
#![allow(clippy::disallowed_macros)]

use std::path::{Path, PathBuf};
use std::process::Command;

fn main() {
    println!("cargo:rerun-if-changed=build.rs");
    println!("cargo:rerun-if-changed=../packaging/windows/resources.rs");
    println!("cargo:rerun-if-env-changed=CC");
    windows_resources("knock-cli");
    static_unwinder_on_glibc_linux();
}

include!("../packaging/windows/resources.rs");

/// Links the unwinder statically on dynamically linked glibc Linux builds (see the top of this file).
fn static_unwinder_on_glibc_linux() {
    let var = |name: &str| std::env::var(name).unwrap_or_default();
    let glibc_linux = var("CARGO_CFG_TARGET_OS") == "linux" && var("CARGO_CFG_TARGET_ENV") == "gnu";
    let crt_static = var("CARGO_CFG_TARGET_FEATURE").split(',').any(|f| f == "crt-static");
    if !glibc_linux || crt_static || var("TARGET") != var("HOST") {
        return;
    }
    let Some(archive) = static_unwinder() else {
        println!("cargo:warning=libgcc_eh.a not found: knock-cli will load libgcc_s.so.1 (slower start-up)");
        return;
    };
    let out_dir = PathBuf::from(var("OUT_DIR"));
    let script = format!(
        "/* knock-cli: the unwinder, linked statically (see client-cli/build.rs) */\nINPUT(\"{}\")\n",
        archive.display()
    );
    if std::fs::write(out_dir.join("libgcc_s.so"), script).is_ok() {
        println!("cargo:rustc-link-search=native={}", out_dir.display());
    }
}

/// The absolute path of `libgcc_eh.a` as the C compiler (rustc's linker driver) finds it, if it does.
fn static_unwinder() -> Option<PathBuf> {
    let cc = std::env::var("CC").unwrap_or_else(|_| "cc".to_owned());
    let output = Command::new(cc).arg("-print-file-name=libgcc_eh.a").output().ok()?;
    let path = PathBuf::from(String::from_utf8(output.stdout).ok()?.trim());
    // Not found, the compiler echoes the bare name back.
    (path.is_absolute() && Path::new(&path).is_file()).then_some(path)
}
