//! `profile import-uri` on a box without a desktop session (issue 23, item 8): no D-Bus session, so no OS
//! keyring. With `KNOCK_ROTATING_KEY_<NAME>` set the keyring is never asked; without it the profile is
//! written without its key and the message names the variable to set. Either way the key never lands in
//! the profile file and the profile derives its sequence once the variable is set.
#![cfg(unix)]
// A test's own output goes through libtest's captured stderr, not knock-cli's output.rs.
#![allow(clippy::disallowed_macros)]

use std::path::{Path, PathBuf};
use std::process::{Command, Output, Stdio};

/// A base32 door key (160 bits), as `knock-server rotating keygen` makes them.
const KEY: &str = "GEZDGNBVGY3TQOJQGEZDGNBVGY3TQOJQGEZDGNBV";
const OTHER_KEY: &str = "JBSWY3DPEHPK3PXPJBSWY3DPEHPK3PXP";

/// A fresh directory (removed on drop): the profiles, the URI file and a HOME without any session.
struct TempDir(PathBuf);

impl TempDir {
    fn new(test: &str) -> TempDir {
        let nanos = std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).map_or(0, |d| d.as_nanos());
        let dir = std::env::temp_dir().join(format!("knock-cli-headless-{test}-{}-{nanos}", std::process::id()));
        std::fs::create_dir_all(dir.join("home/run")).expect("a temporary directory");
        TempDir(dir)
    }
}

impl Drop for TempDir {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}

/// knock-cli as on a server reached over ssh: no D-Bus session bus (an address that leads nowhere, so
/// nothing is auto-launched), no display, HOME and XDG_RUNTIME_DIR empty directories.
fn headless(dir: &Path, args: &[&str], env: &[(&str, &str)], stdin: Option<&Path>) -> Output {
    let home = dir.join("home");
    let mut command = Command::new(env!("CARGO_BIN_EXE_knock-cli"));
    command
        .arg("--profiles-dir")
        .arg(dir.join("profiles"))
        .args(args)
        .env("DBUS_SESSION_BUS_ADDRESS", format!("unix:path={}", home.join("run/no-bus").display()))
        .env("HOME", &home)
        .env("XDG_RUNTIME_DIR", home.join("run"))
        .env_remove("DISPLAY")
        .env_remove("WAYLAND_DISPLAY")
        .env_remove("KNOCK_ROTATING_KEY")
        .env_remove("KNOCK_ROTATING_KEY_ROT")
        .env_remove("KNOCK_PROFILES_DIR")
        .envs(env.iter().copied());
    match stdin {
        Some(path) => command.stdin(std::fs::File::open(path).expect("the URI file")),
        None => command.stdin(Stdio::null()),
    };
    command.output().expect("knock-cli runs")
}

fn text(out: &Output) -> String {
    format!(
        "status {:?}\n--- stdout\n{}\n--- stderr\n{}",
        out.status,
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    )
}

fn uri_file(dir: &Path) -> PathBuf {
    let path = dir.join("rot.uri");
    std::fs::write(&path, format!("knock+rotating://192.0.2.1/ssh?key={KEY}\n")).expect("write the URI");
    path
}

fn profile_text(dir: &Path) -> String {
    std::fs::read_to_string(dir.join("profiles/rot.toml")).expect("the profile was written")
}

#[test]
fn with_the_key_variable_set_import_uri_never_asks_the_keyring() {
    let dir = TempDir::new("env");
    let uri = uri_file(&dir.0);
    let out = headless(
        &dir.0,
        &["profile", "import-uri", "-", "--name", "rot"],
        &[("KNOCK_ROTATING_KEY_ROT", KEY)],
        Some(&uri),
    );
    let diag = text(&out);
    assert_eq!(out.status.code(), Some(0), "{diag}");
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(stdout.contains("added rotating profile rot") && stdout.contains("$KNOCK_ROTATING_KEY_ROT"), "{diag}");
    assert!(out.stderr.is_empty(), "nothing to warn about, no keyring error: {diag}");
    assert!(!profile_text(&dir.0).contains(KEY), "the key is never in the file");
    let now = headless(&dir.0, &["rotating", "now", "rot"], &[("KNOCK_ROTATING_KEY_ROT", KEY)], None);
    assert_eq!(now.status.code(), Some(0), "the imported profile derives its sequence: {}", text(&now));

    // A variable holding another key than the URI's: imported, with a warning that never shows a key.
    let dir = TempDir::new("env-other");
    let uri = uri_file(&dir.0);
    let out = headless(
        &dir.0,
        &["profile", "import-uri", "-", "--name", "rot"],
        &[("KNOCK_ROTATING_KEY", OTHER_KEY)],
        Some(&uri),
    );
    let diag = text(&out);
    assert_eq!(out.status.code(), Some(0), "{diag}");
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(stderr.contains("$KNOCK_ROTATING_KEY does not hold the door key"), "{diag}");
    assert!(!stderr.contains(KEY) && !stderr.contains(OTHER_KEY), "{diag}");
}

#[test]
fn without_a_keyring_import_uri_writes_the_profile_and_names_the_variable() {
    let dir = TempDir::new("nokeyring");
    let uri = uri_file(&dir.0);
    let out = headless(&dir.0, &["profile", "import-uri", "-", "--name", "rot"], &[], Some(&uri));
    let diag = text(&out);
    assert_eq!(out.status.code(), Some(0), "{diag}");
    assert!(String::from_utf8_lossy(&out.stdout).contains("added rotating profile rot"), "{diag}");
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(stderr.contains("$KNOCK_ROTATING_KEY_ROT"), "names the variable to set: {diag}");
    assert!(stderr.contains("profile set-key rot"), "and the keyring way, for later: {diag}");
    assert!(!stderr.contains(KEY) && !String::from_utf8_lossy(&out.stdout).contains(KEY), "{diag}");
    assert!(!profile_text(&dir.0).contains(KEY), "the key is never in the file");
    let now = headless(&dir.0, &["rotating", "now", "rot"], &[("KNOCK_ROTATING_KEY_ROT", KEY)], None);
    assert_eq!(now.status.code(), Some(0), "with the variable set, the profile works: {}", text(&now));
    // A second import of the same name is still refused (nothing overwritten).
    let again = headless(&dir.0, &["profile", "import-uri", "-", "--name", "rot"], &[], Some(&uri));
    assert_eq!(again.status.code(), Some(2), "{}", text(&again));
}
