//! knock-cli's keys in a real keyring (issue 21, section 3): keys belong to a profile's identity, not its
//! name; profiles written before ids migrate with their keys; a provisioning URI on the command line is
//! imported with a warning.
//!
//! Every test runs knock-cli under `scripts/with-keyring.sh`: a private D-Bus session with GNOME Keyring,
//! HOME in a temporary directory, so the user's own keyring is never touched (knock-cli's service name is
//! only ever used inside that sandbox). Without dbus-run-session / gnome-keyring-daemon a test prints
//! `SKIPPED (needs gnome-keyring + dbus)`, or fails when `CI` is `true`/`1`.
#![cfg(target_os = "linux")]
// A test's own output (SKIPPED notes) goes through libtest's captured stderr, not knock-cli's output.rs.
#![allow(clippy::disallowed_macros)]

use std::path::{Path, PathBuf};
use std::process::{Command, Output, Stdio};

/// A base32 door key (160 bits), as `knock-server rotating keygen` makes them.
const KEY: &str = "GEZDGNBVGY3TQOJQGEZDGNBVGY3TQOJQGEZDGNBV";

fn has_tool(name: &str) -> bool {
    std::env::var_os("PATH").is_some_and(|path| std::env::split_paths(&path).any(|dir| dir.join(name).is_file()))
}

/// A fresh directory for one test's profiles (removed on drop).
struct TempDir(PathBuf);

impl TempDir {
    fn new(test: &str) -> TempDir {
        let nanos = std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).map_or(0, |d| d.as_nanos());
        let dir = std::env::temp_dir().join(format!("knock-cli-{test}-{}-{nanos}", std::process::id()));
        std::fs::create_dir_all(&dir).expect("a temporary directory");
        TempDir(dir)
    }
}

impl Drop for TempDir {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}

/// Runs `steps` (sh, with `k` = knock-cli on `dir`'s profiles) in a private keyring session; None (after
/// saying so) when the machine has no keyring tools, which CI must have.
fn in_keyring(dir: &Path, steps: &str) -> Option<Output> {
    let ci = std::env::var("CI").is_ok_and(|v| matches!(v.trim().to_ascii_lowercase().as_str(), "true" | "1"));
    if !has_tool("dbus-run-session") || !has_tool("gnome-keyring-daemon") {
        assert!(!ci, "CI must have gnome-keyring and dbus (scripts/install-deps.sh)");
        eprintln!("SKIPPED (needs gnome-keyring + dbus)");
        return None;
    }
    let script = Path::new(env!("CARGO_MANIFEST_DIR")).join("../scripts/with-keyring.sh");
    let body = format!(
        "k() {{ '{cli}' --profiles-dir '{dir}' \"$@\"; }}; {steps}",
        cli = env!("CARGO_BIN_EXE_knock-cli"),
        dir = dir.display()
    );
    let out = Command::new("sh")
        .arg(&script)
        .args(["sh", "-c", &body])
        // Keys only from the keyring: none of the toolkit's key variables.
        .env_remove("KNOCK_ROTATING_KEY")
        .env_remove("KNOCK_SPA_KEY_BASE64")
        .env_remove("KNOCK_SPA_HMAC_KEY_BASE64")
        .env_remove("KNOCK_PROFILES_DIR")
        .env_remove("DISPLAY")
        .env_remove("WAYLAND_DISPLAY")
        .stdin(Stdio::null())
        .output()
        .expect("with-keyring.sh runs");
    if out.status.code() == Some(77) {
        assert!(!ci, "CI must have gnome-keyring and dbus: {}", text(&out));
        eprintln!("SKIPPED (needs gnome-keyring + dbus): {}", text(&out));
        return None;
    }
    Some(out)
}

fn text(out: &Output) -> String {
    format!(
        "status {:?}\n--- stdout\n{}\n--- stderr\n{}",
        out.status,
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    )
}

fn read(path: &Path) -> String {
    std::fs::read_to_string(path).unwrap_or_else(|e| panic!("{}: {e}", path.display()))
}

/// The `id = "..."` of a profile file.
fn profile_id(path: &Path) -> Option<String> {
    read(path).lines().find_map(|line| Some(line.strip_prefix("id = \"")?.strip_suffix('"')?.to_owned()))
}

/// Issue 21: a profile whose file was deleted by hand left its key in the keyring; a new profile of the
/// same name, for another host, must not inherit it: it has no key, and says so as any keyless profile.
#[test]
fn a_new_profile_never_inherits_the_keys_of_a_deleted_one_of_the_same_name() {
    let dir = TempDir::new("inherit");
    let d = dir.0.display();
    let steps = format!(
        "k profile add bastion --rotating --host 192.0.2.10 --door ssh >/dev/null; echo \"add=$?\"; \
         echo {KEY} | k profile set-key bastion >/dev/null; echo \"set-key=$?\"; \
         k rotating now bastion --reveal >/dev/null 2>'{d}/first.err'; echo \"first=$?\"; \
         cp '{d}/bastion.toml' '{d}/first.saved'; \
         rm '{d}/bastion.toml'; \
         k profile add bastion --rotating --host 198.51.100.20 --door ssh >/dev/null; echo \"again=$?\"; \
         k rotating now bastion --reveal >'{d}/second.out' 2>'{d}/second.err'; echo \"second=$?\"; \
         k profile add keyless --rotating --host 198.51.100.21 --door ssh >/dev/null; \
         k rotating now keyless --reveal 2>'{d}/keyless.err'; echo \"keyless=$?\""
    );
    let Some(out) = in_keyring(&dir.0, &steps) else { return };
    let stdout = String::from_utf8_lossy(&out.stdout).into_owned();
    let diag = text(&out);
    assert!(stdout.contains("add=0") && stdout.contains("set-key=0"), "{diag}");
    assert!(stdout.contains("first=0"), "the first bastion has its key: {}\n{diag}", read(&dir.0.join("first.err")));
    assert!(stdout.contains("again=0"), "{diag}");
    // The new bastion has no key: exit 2, the message any keyless profile gets, and no ports.
    let second_err = read(&dir.0.join("second.err"));
    assert!(stdout.contains("second=2"), "the new bastion inherited the key: {second_err}\n{diag}");
    assert!(read(&dir.0.join("second.out")).is_empty(), "no sequence without a key");
    assert!(second_err.contains("rotating profile \"bastion\" has no door key"), "{second_err}");
    let keyless_err = read(&dir.0.join("keyless.err"));
    assert!(stdout.contains("keyless=2"), "{diag}");
    let generic = |err: &str, name: &str| err.replace(name, "NAME").replace(&name.to_ascii_uppercase(), "NAME");
    assert_eq!(generic(&second_err, "bastion"), generic(&keyless_err, "keyless"), "as any profile without a key");
    let (first, second) = (profile_id(&dir.0.join("first.saved")), profile_id(&dir.0.join("bastion.toml")));
    assert!(first.is_some() && second.is_some() && first != second, "two identities: {first:?} {second:?}");
}

/// A profile written before ids, its key under `profile:<name>:rotating-key` (as earlier versions stored
/// it), keeps working: its first use migrates it, once, to an id with the key moved under it.
#[test]
fn a_profile_written_before_ids_keeps_its_key_and_migrates_on_first_use() {
    let dir = TempDir::new("migrate");
    let d = dir.0.display();
    std::fs::write(dir.0.join("old.toml"), "host = \"192.0.2.10\"\n\n[rotating]\ndoor = \"ssh\"\n").expect("write");
    let steps = format!(
        "printf %s {KEY} | secret-tool store --label=old service knock-toolkit username profile:old:rotating-key \
         target default; echo \"stored=$?\"; \
         k rotating now old --reveal >'{d}/first.out' 2>'{d}/first.err'; echo \"first=$?\"; \
         cp '{d}/old.toml' '{d}/first.saved'; \
         echo entries:; secret-tool search --all service knock-toolkit 2>&1 | grep username; echo end-entries; \
         k rotating now old --reveal >'{d}/second.out' 2>'{d}/second.err'; echo \"second=$?\"; \
         k profile rename old renamed >/dev/null; echo \"rename=$?\"; \
         k rotating now renamed --reveal >/dev/null 2>'{d}/renamed.err'; echo \"renamed=$?\""
    );
    let Some(out) = in_keyring(&dir.0, &steps) else { return };
    let stdout = String::from_utf8_lossy(&out.stdout).into_owned();
    let diag = text(&out);
    assert!(stdout.contains("stored=0"), "{diag}");
    assert!(stdout.contains("first=0"), "the pre-id profile still works: {}\n{diag}", read(&dir.0.join("first.err")));
    assert_eq!(read(&dir.0.join("first.out")).split_whitespace().count(), 4, "a revealed sequence");
    let id = profile_id(&dir.0.join("first.saved"))
        .unwrap_or_else(|| panic!("migrated: {}", read(&dir.0.join("first.saved"))));
    let migrated = read(&dir.0.join("first.saved"));
    assert!(migrated.contains("host = \"192.0.2.10\"") && migrated.contains("door = \"ssh\""), "{migrated}");
    let entries = stdout.split_once("entries:").and_then(|(_, rest)| rest.split_once("end-entries")).map(|(e, _)| e);
    let entries = entries.unwrap_or_else(|| panic!("{diag}"));
    assert!(entries.contains(&format!("profile-id:{id}:rotating-key")), "the key moved under the id: {diag}");
    assert!(!entries.contains("profile:old:"), "nothing left under the name: {diag}");
    // Once: it keeps its id, and its key, through later uses and a rename.
    assert!(stdout.contains("second=0"), "{}\n{diag}", read(&dir.0.join("second.err")));
    assert!(
        stdout.contains("rename=0") && stdout.contains("renamed=0"),
        "{}\n{diag}",
        read(&dir.0.join("renamed.err"))
    );
    assert_eq!(profile_id(&dir.0.join("renamed.toml")), Some(id));
}

/// Issue 21: the URI holds the key, so on the command line (ps, shell history) it is imported with a
/// warning that names the risk; a file or stdin is the quiet way.
#[test]
fn import_uri_warns_when_the_uri_is_an_argument_and_still_imports_it() {
    let dir = TempDir::new("import-uri");
    let d = dir.0.display();
    let uri = format!("knock+rotating://192.0.2.1/ssh?key={KEY}");
    std::fs::write(dir.0.join("alice.uri"), format!("{uri}\n")).expect("write the URI file");
    let steps = format!(
        "k profile import-uri '{uri}' --name on-argv >'{d}/argv.out' 2>'{d}/argv.err'; echo \"argv=$?\"; \
         k profile import-uri '{d}/alice.uri' --name from-file >/dev/null 2>'{d}/file.err'; echo \"file=$?\"; \
         k profile import-uri - --name from-stdin <'{d}/alice.uri' >/dev/null 2>'{d}/stdin.err'; echo \"stdin=$?\"; \
         k profile import-uri '{d}/missing.uri' --name nothing 2>'{d}/missing.err'; echo \"missing=$?\"; \
         for p in on-argv from-file from-stdin; do k rotating now $p >/dev/null 2>&1; echo \"now-$p=$?\"; done"
    );
    let Some(out) = in_keyring(&dir.0, &steps) else { return };
    let stdout = String::from_utf8_lossy(&out.stdout).into_owned();
    let diag = text(&out);
    // On the command line: imported (exit 0, the key in the keyring), with a warning naming the risk.
    assert!(stdout.contains("argv=0"), "{}\n{diag}", read(&dir.0.join("argv.err")));
    assert!(read(&dir.0.join("argv.out")).contains("added rotating profile on-argv"), "{diag}");
    let warning = read(&dir.0.join("argv.err"));
    assert!(warning.contains("warning") && warning.contains("door key"), "{warning}");
    assert!(warning.contains("process list (ps)") && warning.contains("shell history"), "{warning}");
    assert!(warning.contains("import-uri -") && warning.contains("file"), "it says what to do: {warning}");
    assert!(!warning.contains(KEY), "the warning never repeats the key: {warning}");
    // From a file or stdin: no warning.
    assert!(stdout.contains("file=0") && stdout.contains("stdin=0"), "{diag}");
    assert_eq!(read(&dir.0.join("file.err")), "");
    assert_eq!(read(&dir.0.join("stdin.err")), "");
    let missing = read(&dir.0.join("missing.err"));
    assert!(stdout.contains("missing=2") && missing.contains("cannot read"), "{missing}\n{diag}");
    for name in ["on-argv", "from-file", "from-stdin"] {
        assert!(stdout.contains(&format!("now-{name}=0")), "{name} has its key: {diag}");
        assert!(!read(&dir.0.join(format!("{name}.toml"))).contains(KEY), "the key is never in the file");
    }
}

/// A file copied by hand keeps the original's id, so its keys would be the original's: set-key refuses
/// (before any keyring access) and says how to make the copy a profile of its own.
#[test]
fn set_key_refuses_a_copy_that_shares_the_originals_id() {
    let dir = TempDir::new("copy");
    let cli = |args: &[&str], stdin: Stdio| {
        Command::new(env!("CARGO_BIN_EXE_knock-cli"))
            .arg("--profiles-dir")
            .arg(&dir.0)
            .args(args)
            .stdin(stdin)
            .output()
            .expect("knock-cli runs")
    };
    let add = cli(&["profile", "add", "bastion", "--rotating", "--host", "192.0.2.10", "--door", "ssh"], Stdio::null());
    assert_eq!(add.status.code(), Some(0), "{}", text(&add));
    std::fs::copy(dir.0.join("bastion.toml"), dir.0.join("copy.toml")).expect("copy by hand");
    let refused = cli(&["profile", "set-key", "copy"], Stdio::null());
    assert_eq!(refused.status.code(), Some(2), "{}", text(&refused));
    let err = String::from_utf8_lossy(&refused.stderr);
    assert!(err.contains("copy has the same id as bastion") && err.contains("delete the `id` line"), "{err}");
}

/// Issue 24 item 10: a backup made by client-core (profiles with their keys, a passphrase) imports with
/// `profile import`, the passphrase from `$KNOCK_BACKUP_PASSPHRASE`: the profiles are created and the
/// rotating door key reaches the keyring (the door's sequence is derived from it). A wrong passphrase
/// says so and creates nothing; without a terminal or the variable, the message names the variable.
#[test]
fn a_backup_with_keys_imports_with_the_passphrase_from_the_environment() {
    use client_core::rotating::DoorKey;
    use client_core::{BackupProfile, Profile, Secret, encrypt_backup};

    let dir = TempDir::new("backup");
    let d = dir.0.display();
    let rotating: Profile =
        toml::from_str("host = \"192.0.2.4\"\n[rotating]\ndoor = \"ssh\"\nlength = 4\n").expect("rotating");
    let web: Profile = toml::from_str("host = \"192.0.2.2\"\nopen = \"7000,8000:udp\"\n").expect("web");
    let profiles = [
        BackupProfile {
            name: "door".into(),
            profile: rotating,
            spa_keys: None,
            door_key: DoorKey::from_base32(KEY).ok(),
        },
        BackupProfile { name: "web".into(), profile: web, spa_keys: None, door_key: None },
    ];
    let passphrase = "correct horse battery staple";
    let backup = encrypt_backup(&profiles, &Secret::new(passphrase)).expect("encrypt");
    // Outside the profiles folder: the import is what puts them there.
    let file = dir.0.join("knock.backup");
    std::fs::create_dir_all(dir.0.join("profiles")).expect("dir");
    std::fs::write(&file, backup).expect("write");
    let steps = format!(
        "k() {{ '{cli}' --profiles-dir '{d}/profiles' \"$@\"; }}; \
         k profile import '{f}' 2>'{d}/none.err'; echo \"none=$?\"; \
         KNOCK_BACKUP_PASSPHRASE='not the passphrase' k profile import '{f}' 2>'{d}/wrong.err'; echo \"wrong=$?\"; \
         ls '{d}/profiles' | wc -l | sed 's/^ */after-wrong=/'; \
         KNOCK_BACKUP_PASSPHRASE='{passphrase}' k profile import '{f}' >'{d}/ok.out' 2>'{d}/ok.err'; echo \"ok=$?\"; \
         k rotating now door --reveal >'{d}/now.out' 2>'{d}/now.err'; echo \"now=$?\"",
        cli = env!("CARGO_BIN_EXE_knock-cli"),
        f = file.display(),
    );
    let Some(out) = in_keyring(&dir.0, &steps) else { return };
    let stdout = String::from_utf8_lossy(&out.stdout).into_owned();
    let diag = text(&out);
    assert!(stdout.contains("none=2"), "{diag}");
    assert!(read(&dir.0.join("none.err")).contains("$KNOCK_BACKUP_PASSPHRASE"), "{}", read(&dir.0.join("none.err")));
    assert!(stdout.contains("wrong=2"), "{diag}");
    assert!(read(&dir.0.join("wrong.err")).contains("wrong passphrase"), "{}", read(&dir.0.join("wrong.err")));
    assert!(stdout.contains("after-wrong=0"), "a wrong passphrase creates nothing: {diag}");
    assert!(stdout.contains("ok=0"), "{diag}\n{}", read(&dir.0.join("ok.err")));
    let ok = read(&dir.0.join("ok.out"));
    assert!(
        ok.contains("added door") && ok.contains("added web") && ok.contains("its keys are in the OS keyring"),
        "{ok}"
    );
    assert!(stdout.contains("now=0"), "the door key reached the keyring: {}\n{diag}", read(&dir.0.join("now.err")));
    assert!(!read(&dir.0.join("now.out")).trim().is_empty(), "the door's sequence");
    assert!(read(&dir.0.join("profiles/web.toml")).contains("192.0.2.2"));
    for output in [ok, read(&dir.0.join("ok.err")), read(&dir.0.join("wrong.err"))] {
        assert!(!output.contains(KEY) && !output.contains(passphrase), "no key or passphrase in the output");
    }
}
