//! client-core's secrets (`SecretStore`) against a real Secret Service, and without one.
//!
//! Each test re-executes this test binary (only that test, marked by the `KNOCK_SECRETS_TEST_CHILD`
//! environment variable) in the environment it needs, so plain `cargo test` runs them with no set-up:
//! - the round trip runs under `scripts/with-keyring.sh`: a private `dbus-run-session` with GNOME Keyring
//!   unlocked, HOME in a temporary directory; your own keyring is never touched;
//! - the "unavailable" tests run with no session bus at all, and on a private bus that has no Secret
//!   Service (a bus config without service directories, so nothing is auto-started).
//!
//! Missing `dbus-run-session` / `gnome-keyring-daemon`: the test prints `SKIPPED (needs gnome-keyring +
//! dbus)`, or fails when `CI` is `true`/`1`. Every child is bounded in time and killed (its whole process
//! group) when it overruns.
#![cfg(target_os = "linux")]

use std::ffi::OsString;
use std::fs;
use std::os::unix::process::CommandExt;
use std::path::{Path, PathBuf};
use std::process::{Command, ExitStatus, Stdio};
use std::thread;
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use client_core::Sequence;
use client_core::{KeyOwner, KeyringAvailability, Secret, SecretError, SecretKind, SecretStore};
use client_core::{Profile, ProfileId};
use client_core::{ProfileStore, StoreError};

/// Set (to the test's name) in a re-executed child: it runs the real body.
const CHILD_ENV: &str = "KNOCK_SECRETS_TEST_CHILD";
/// Printed by a child that ran its body to the end (libtest exits 0 when `--exact` matches nothing).
const DONE: &str = "SECRETS-TEST-CHILD-DONE";
/// The temporary HOME that scripts/with-keyring.sh exports.
const SANDBOX_ENV: &str = "KNOCK_KEYRING_SANDBOX";
/// The exit status of scripts/with-keyring.sh when dbus or gnome-keyring is not installed.
const TOOLS_MISSING: i32 = 77;
const NO_SERVICE: &str = "no Secret Service is running: install and unlock GNOME Keyring or KWallet";

fn is_child(test: &str) -> bool {
    std::env::var(CHILD_ENV).is_ok_and(|name| name == test)
}

fn in_ci() -> bool {
    std::env::var("CI").is_ok_and(|v| matches!(v.trim().to_ascii_lowercase().as_str(), "true" | "1"))
}

/// Skips the test, or fails it in CI, where the keyring tests must run.
fn skip(reason: &str) {
    assert!(
        !in_ci(),
        "{reason}; CI is set, so this test must run: install dbus and gnome-keyring (scripts/install-deps.sh)"
    );
    eprintln!("SKIPPED (needs gnome-keyring + dbus): {reason}");
}

fn has_tool(name: &str) -> bool {
    std::env::var_os("PATH").is_some_and(|path| std::env::split_paths(&path).any(|dir| dir.join(name).is_file()))
}

struct ChildRun {
    /// None: it overran its time and was killed.
    status: Option<ExitStatus>,
    stdout: String,
    stderr: String,
}

impl ChildRun {
    fn describe(&self) -> String {
        format!("status {:?}\n--- stdout\n{}\n--- stderr\n{}", self.status, self.stdout, self.stderr)
    }

    /// The child ran the test body to the end and passed.
    fn assert_passed(&self, test: &str) {
        match self.status {
            None => panic!(
                "{test}: the child did not finish in time and was killed (a keyring call hangs?)\n{}",
                self.describe()
            ),
            Some(status) => assert!(status.success(), "{test}: the child failed\n{}", self.describe()),
        }
        assert!(
            self.stdout.contains(&format!("{DONE} {test}")),
            "{test}: the child did not run the test body\n{}",
            self.describe()
        );
    }
}

/// Runs this test binary's `test` (and only it) as a child, behind `prefix` (a wrapper command and its
/// arguments, or nothing), with its own process group so a hung child is killed with everything it started.
fn run_child(test: &str, prefix: &[OsString], configure: impl FnOnce(&mut Command), limit: Duration) -> ChildRun {
    let exe = std::env::current_exe().expect("the test binary's path");
    let mut command = match prefix.split_first() {
        Some((program, args)) => {
            let mut command = Command::new(program);
            command.args(args).arg(&exe);
            command
        }
        None => Command::new(&exe),
    };
    let logs = tempfile::tempdir().expect("a temporary directory");
    let stdout_path = logs.path().join("stdout");
    let stderr_path = logs.path().join("stderr");
    command
        .args(["--exact", test, "--nocapture", "--test-threads=1"])
        .env(CHILD_ENV, test)
        // Temporary files (the keyring sandbox of with-keyring.sh too) go here, so a killed child leaves none.
        .env("TMPDIR", logs.path())
        // No display: an unexpected unlock prompt must fail, not pop up or wait for a click.
        .env_remove("DISPLAY")
        .env_remove("WAYLAND_DISPLAY")
        .stdin(Stdio::null())
        .stdout(fs::File::create(&stdout_path).expect("stdout file"))
        .stderr(fs::File::create(&stderr_path).expect("stderr file"))
        .process_group(0);
    configure(&mut command);
    let mut child = command.spawn().expect("spawn the child test");
    let started = Instant::now();
    let status = loop {
        if let Some(status) = child.try_wait().expect("wait for the child") {
            break Some(status);
        }
        if started.elapsed() > limit {
            // The child leads its own process group: kill the group (bus, keyring daemon, test).
            let _ = Command::new("kill").args(["-KILL", "--", &format!("-{}", child.id())]).status();
            let _ = child.kill();
            let _ = child.wait();
            break None;
        }
        thread::sleep(Duration::from_millis(50));
    };
    let read = |path: &Path| String::from_utf8_lossy(&fs::read(path).unwrap_or_default()).into_owned();
    ChildRun { status, stdout: read(&stdout_path), stderr: read(&stderr_path) }
}

/// Every regular file under `dir`.
fn files_under(dir: &Path) -> Vec<PathBuf> {
    let mut files = Vec::new();
    let mut pending = vec![dir.to_path_buf()];
    while let Some(dir) = pending.pop() {
        let Ok(entries) = fs::read_dir(&dir) else { continue };
        for entry in entries.flatten() {
            let Ok(kind) = entry.file_type() else { continue };
            if kind.is_dir() {
                pending.push(entry.path());
            } else if kind.is_file() {
                files.push(entry.path());
            }
        }
    }
    files
}

fn assert_in_no_file(files: &[PathBuf], secrets: &[&Secret]) {
    for file in files {
        let bytes = fs::read(file).unwrap_or_default();
        for secret in secrets {
            let needle = secret.expose().as_bytes();
            assert!(!bytes.windows(needle.len()).any(|w| w == needle), "a secret is written in {}", file.display());
        }
    }
}

fn unique() -> String {
    let nanos = SystemTime::now().duration_since(UNIX_EPOCH).map(|d| d.as_nanos()).unwrap_or_default();
    format!("{}-{nanos}", std::process::id())
}

/// What secret-tool (libsecret, a separate client) finds: proof the entry is in the Secret Service itself.
fn secret_tool_lookup(service: &str, user: &str) -> Option<Option<String>> {
    if !has_tool("secret-tool") {
        eprintln!("note: secret-tool (libsecret-tools) not installed: cross-check skipped");
        return None;
    }
    let output = Command::new("secret-tool")
        .args(["lookup", "service", service, "username", user])
        .stdin(Stdio::null())
        .output()
        .expect("run secret-tool");
    Some(output.status.success().then(|| String::from_utf8_lossy(&output.stdout).into_owned()))
}

/// The usernames of every item of `service` (secret-tool search), or None without secret-tool.
fn secret_tool_search(service: &str) -> Option<String> {
    if !has_tool("secret-tool") {
        eprintln!("note: secret-tool (libsecret-tools) not installed: cross-check skipped");
        return None;
    }
    let output = Command::new("secret-tool")
        .args(["search", "--all", "service", service])
        .stdin(Stdio::null())
        .output()
        .expect("run secret-tool");
    let all = format!("{}{}", String::from_utf8_lossy(&output.stdout), String::from_utf8_lossy(&output.stderr));
    Some(all.lines().filter(|l| l.contains("username")).collect::<Vec<_>>().join("\n"))
}

#[test]
fn real_secret_service_round_trip() {
    const TEST: &str = "real_secret_service_round_trip";
    if is_child(TEST) {
        round_trip_in_sandbox();
        println!("{DONE} {TEST}");
        return;
    }
    if !has_tool("dbus-run-session") || !has_tool("gnome-keyring-daemon") {
        skip("dbus-run-session or gnome-keyring-daemon is not installed");
        return;
    }
    let script = Path::new(env!("CARGO_MANIFEST_DIR")).join("../scripts/with-keyring.sh");
    let prefix = [OsString::from("sh"), script.into_os_string()];
    let run = run_child(TEST, &prefix, |_| {}, Duration::from_secs(120));
    if run.status.and_then(|s| s.code()) == Some(TOOLS_MISSING) {
        skip(&format!("scripts/with-keyring.sh found no keyring tools: {}", run.stderr.trim()));
        return;
    }
    run.assert_passed(TEST);
}

fn round_trip_in_sandbox() {
    // Only ever inside scripts/with-keyring.sh: never against the user's own keyring.
    let home = PathBuf::from(std::env::var_os("HOME").expect("HOME"));
    let sandbox = std::env::var_os(SANDBOX_ENV).expect("run by scripts/with-keyring.sh");
    assert_eq!(home.as_os_str(), sandbox, "HOME is not the keyring sandbox: refusing to run");

    let service = format!("knock-toolkit-test-{}", unique());
    let store = SecretStore::with_service(&service);
    assert_eq!(store.availability(), KeyringAvailability::Available);

    // A profile the way the app keeps it, in the profiles directory under this HOME: its keys are keyed
    // by its id.
    let profiles = ProfileStore::new(home.join(".config/knock/profiles"));
    let open: Sequence = "7000,8000,9000".parse().expect("a sequence");
    let created = profiles.create("work", &Profile::new("bastion.example.org", open)).expect("create the profile");
    let id = created.profile.id.expect("a created profile has an id");
    let work = KeyOwner::of("work", &created.profile);
    assert_eq!(work, KeyOwner::Id(id));

    let key = Secret::new(format!("spa-key-{}-Zq7", unique()));
    let hmac = Secret::new(format!("spa-hmac-{}-Xw3", unique()));
    let replaced = Secret::new(format!("spa-key-replaced-{}-Pv5", unique()));

    // A missing entry is None, and deleting it is fine.
    assert!(store.get(&work, SecretKind::SpaKey).expect("get").is_none());
    store.delete(&work, SecretKind::SpaKey).expect("delete a missing entry");

    // Round trip; a fresh store object (a fresh keyring entry) reads what was written.
    store.set(&work, SecretKind::SpaKey, &key).expect("set the key");
    store.set(&work, SecretKind::SpaHmacKey, &hmac).expect("set the HMAC key");
    let reader = SecretStore::with_service(&service);
    assert_eq!(reader.get(&work, SecretKind::SpaKey).expect("get").expect("stored").expose(), key.expose());
    assert_eq!(reader.get(&work, SecretKind::SpaHmacKey).expect("get").expect("stored").expose(), hmac.expose());
    store.set(&work, SecretKind::SpaKey, &replaced).expect("replace the key");
    assert_eq!(reader.get(&work, SecretKind::SpaKey).expect("get").expect("stored").expose(), replaced.expose());

    // Other profiles, the name itself and other services see nothing.
    let other = KeyOwner::Id(ProfileId::random().expect("random id"));
    assert!(store.get(&other, SecretKind::SpaKey).expect("get").is_none());
    assert!(store.get(&legacy("work"), SecretKind::SpaKey).expect("get").is_none(), "nothing under the name");
    let other_service = SecretStore::with_service(format!("{service}-other"));
    assert!(other_service.get(&work, SecretKind::SpaKey).expect("get").is_none());

    // It is in the Secret Service, under the documented name (libsecret's own client finds it).
    if let Some(found) = secret_tool_lookup(&service, &format!("profile-id:{id}:spa-key")) {
        assert_eq!(found.as_deref(), Some(replaced.expose()), "secret-tool lookup");
    }

    // Renaming the profile keeps its id, so its secrets follow it (keys follow their profile).
    profiles.rename("work", "home-lab", &store).expect("rename the profile");
    let renamed = profiles.load("home-lab").expect("load the renamed profile");
    assert_eq!(KeyOwner::of("home-lab", &renamed.profile), work, "the id survives the rename");
    assert_eq!(store.get(&work, SecretKind::SpaKey).expect("get").expect("kept").expose(), replaced.expose());
    assert_eq!(store.get(&work, SecretKind::SpaHmacKey).expect("get").expect("kept").expose(), hmac.expose());
    // An edit keeps it too, even one that passes a profile without an id (an editor's form).
    let mut edited = renamed.profile.clone();
    edited.id = None;
    edited.notes = "edited".into();
    let saved = profiles.save("home-lab", &edited, Some(renamed.version)).expect("save");
    assert_eq!(saved.profile.id, Some(id));
    assert_eq!(profiles.load("home-lab").expect("load").profile.id, Some(id));

    // While stored, no secret is in any file: not in the profiles directory, not anywhere under HOME
    // (GNOME Keyring keeps its items encrypted).
    let profile_files = files_under(profiles.dir());
    assert!(profile_files.iter().any(|f| f.ends_with("home-lab.toml")), "the profile file exists: {profile_files:?}");
    assert_in_no_file(&profile_files, &[&key, &hmac, &replaced]);
    let home_files = files_under(&home);
    assert!(home_files.iter().any(|f| f.extension().is_some_and(|e| e == "keyring")), "keyring files: {home_files:?}");
    assert_in_no_file(&home_files, &[&key, &hmac, &replaced]);

    // A move onto an owner with stale secrets leaves exactly the moved ones.
    let spare = KeyOwner::Id(ProfileId::random().expect("random id"));
    let stale = Secret::new(format!("stale-{}-Kd2", unique()));
    store.set(&spare, SecretKind::SpaHmacKey, &stale).expect("set a stale secret");
    store.delete(&work, SecretKind::SpaHmacKey).expect("delete the HMAC key");
    store.move_all(&work, &spare).expect("move onto stale secrets");
    assert_eq!(store.get(&spare, SecretKind::SpaKey).expect("get").expect("moved").expose(), replaced.expose());
    assert!(store.get(&spare, SecretKind::SpaHmacKey).expect("get").is_none(), "the stale secret is gone");
    assert!(store.get(&work, SecretKind::SpaKey).expect("get").is_none());

    // Delete one, then all; deleting again is fine.
    store.delete(&spare, SecretKind::SpaKey).expect("delete");
    assert!(store.get(&spare, SecretKind::SpaKey).expect("get").is_none());
    store.delete(&spare, SecretKind::SpaKey).expect("delete again");
    store.set(&spare, SecretKind::SpaHmacKey, &hmac).expect("set");
    store.delete_all(&spare).expect("delete all");
    store.delete_all(&other).expect("delete all of nothing");
    for owner in [&work, &spare] {
        for kind in SecretKind::ALL {
            assert!(store.get(owner, kind).expect("get").is_none(), "{owner} {kind:?} is still stored");
        }
    }

    // `rm` forgets the profile's secrets (and any its name had before ids).
    store.set(&work, SecretKind::SpaKey, &key).expect("set");
    store.set(&legacy("home-lab"), SecretKind::SpaKey, &stale).expect("set a pre-id entry");
    let (_, forgotten) = profiles.remove("home-lab", &store).expect("remove");
    assert!(forgotten.is_none(), "{forgotten:?}");
    assert!(store.get(&work, SecretKind::SpaKey).expect("get").is_none());
    assert!(store.get(&legacy("home-lab"), SecretKind::SpaKey).expect("get").is_none());
}

fn legacy(name: &str) -> KeyOwner {
    KeyOwner::Legacy(name.to_owned())
}

#[test]
fn keys_left_by_a_profile_deleted_by_hand_are_not_inherited() {
    const TEST: &str = "keys_left_by_a_profile_deleted_by_hand_are_not_inherited";
    if is_child(TEST) {
        not_inherited_in_sandbox();
        println!("{DONE} {TEST}");
        return;
    }
    run_in_keyring(TEST);
}

fn not_inherited_in_sandbox() {
    let home = sandbox_home();
    let store = SecretStore::with_service(format!("knock-toolkit-test-{}", unique()));
    let profiles = ProfileStore::new(home.join("profiles"));
    let open: Sequence = "7000,8000,9000".parse().expect("a sequence");
    let first = profiles.create("bastion", &Profile::new("192.0.2.10", open.clone())).expect("create");
    let key = Secret::new(format!("first-bastion-{}-Hy6", unique()));
    store.set(&KeyOwner::of("bastion", &first.profile), SecretKind::RotatingKey, &key).expect("set");
    // The file goes, by hand: the key stays in the keyring.
    fs::remove_file(&first.path).expect("delete the file by hand");
    let second = profiles.create("bastion", &Profile::new("198.51.100.20", open)).expect("create again");
    assert_ne!(second.profile.id, first.profile.id, "a new profile of the same name is another identity");
    let owner = KeyOwner::of("bastion", &second.profile);
    for kind in SecretKind::ALL {
        assert!(store.get(&owner, kind).expect("get").is_none(), "the new bastion inherited a {kind:?}");
    }
    let _ = store.delete_all(&KeyOwner::of("bastion", &first.profile));

    // A file copied by hand has the original's id, so its keys: removing the copy keeps them.
    let owner = KeyOwner::of("bastion", &second.profile);
    store.set(&owner, SecretKind::RotatingKey, &key).expect("set");
    fs::copy(&second.path, profiles.path_of("copy")).expect("copy by hand");
    profiles.remove("copy", &store).expect("remove the copy");
    assert_eq!(store.get(&owner, SecretKind::RotatingKey).expect("get").expect("kept").expose(), key.expose());
    profiles.remove("bastion", &store).expect("remove the last holder");
    assert!(store.get(&owner, SecretKind::RotatingKey).expect("get").is_none(), "forgotten with the last file");
}

#[test]
fn a_profile_written_before_ids_migrates_once_with_its_keys() {
    const TEST: &str = "a_profile_written_before_ids_migrates_once_with_its_keys";
    if is_child(TEST) {
        migration_in_sandbox();
        println!("{DONE} {TEST}");
        return;
    }
    run_in_keyring(TEST);
}

fn migration_in_sandbox() {
    let home = sandbox_home();
    let store = SecretStore::with_service(format!("knock-toolkit-test-{}", unique()));
    let profiles = ProfileStore::new(home.join("profiles"));
    fs::create_dir_all(profiles.dir()).expect("profiles dir");
    // As an earlier version left them: a file without `id`, its keys under `profile:<name>:<kind>`.
    let text = "host = \"fw.example.org\"\n\n[spa]\naccess = \"tcp/22\"\n";
    fs::write(profiles.path_of("fw"), text).expect("write a pre-id profile");
    let key = Secret::new(format!("old-key-{}-Mm1", unique()));
    let hmac = Secret::new(format!("old-hmac-{}-Nn2", unique()));
    store.set(&legacy("fw"), SecretKind::SpaKey, &key).expect("set");
    store.set(&legacy("fw"), SecretKind::SpaHmacKey, &hmac).expect("set");

    // It keeps working before it is migrated: loading writes nothing, its keys are read by name.
    let before = profiles.load("fw").expect("load");
    assert_eq!(before.profile.id, None);
    assert_eq!(KeyOwner::of("fw", &before.profile), legacy("fw"));
    assert_eq!(fs::read_to_string(profiles.path_of("fw")).expect("read"), text, "load writes nothing");

    // A migration that cannot write the file changes nothing (the copies it made are removed). The lock
    // file exists, so it gets as far as copying the keys, then cannot write into the frozen directory.
    fs::write(profiles.dir().join(".lock"), "").expect("lock file");
    if freeze(profiles.dir(), true) {
        let failed = profiles.migrate("fw", &store);
        // A failed migration is no error for a front end: the profile works as it was.
        let fallback = profiles.load_for_keys("fw", &store);
        assert!(freeze(profiles.dir(), false), "cannot make the directory writable again");
        assert!(matches!(failed, Err(StoreError::Io { .. })), "{failed:?}");
        assert_eq!(fallback.expect("load_for_keys falls back").profile.id, None);
        assert_eq!(fs::read_to_string(profiles.path_of("fw")).expect("read"), text);
        assert_eq!(store.get(&legacy("fw"), SecretKind::SpaKey).expect("get").expect("kept").expose(), key.expose());
        assert_eq!(
            store.get(&legacy("fw"), SecretKind::SpaHmacKey).expect("get").expect("kept").expose(),
            hmac.expose()
        );
        if let Some(entries) = secret_tool_search(store.service()) {
            assert!(!entries.contains("profile-id:"), "the copies were not removed: {entries}");
            assert!(entries.contains("profile:fw:spa-key"), "{entries}");
        }
    } else {
        eprintln!("note: cannot make a directory read-only here: the failed-migration case is skipped");
    }

    // The first use of its keys migrates it: an id in the file, the keys under it, none left by name.
    let migrated = profiles.load_for_keys("fw", &store).expect("migrate");
    let id = migrated.profile.id.expect("an id after migration");
    let owner = KeyOwner::Id(id);
    assert_eq!(profiles.load("fw").expect("load").profile.id, Some(id), "the id is in the file");
    let written = fs::read_to_string(profiles.path_of("fw")).expect("read");
    assert!(written.starts_with(&format!("id = \"{id}\"\n")), "{written}");
    assert_eq!(store.get(&owner, SecretKind::SpaKey).expect("get").expect("moved").expose(), key.expose());
    assert_eq!(store.get(&owner, SecretKind::SpaHmacKey).expect("get").expect("moved").expose(), hmac.expose());
    for kind in SecretKind::ALL {
        assert!(store.get(&legacy("fw"), kind).expect("get").is_none(), "{kind:?} left under the name");
    }
    if let Some(found) = secret_tool_lookup(store.service(), &format!("profile-id:{id}:spa-key")) {
        assert_eq!(found.as_deref(), Some(key.expose()), "secret-tool lookup");
    }

    // Once: a second migration, a save, an edit and a rename keep that id and the keys.
    assert_eq!(profiles.migrate("fw", &store).expect("again").profile.id, Some(id));
    let mut changed = migrated.profile.clone();
    changed.id = None;
    profiles.save("fw", &changed, None).expect("save");
    profiles
        .update("fw", |p| {
            p.notes = "edited".into();
            Ok::<(), ()>(())
        })
        .expect("update")
        .expect("edit");
    profiles.rename("fw", "fw2", &store).expect("rename");
    assert_eq!(profiles.load("fw2").expect("load").profile.id, Some(id));
    assert_eq!(store.get(&owner, SecretKind::SpaKey).expect("get").expect("kept").expose(), key.expose());

    // A pre-id profile that is renamed is migrated first, so its keys follow it too.
    fs::write(profiles.path_of("old"), "host = \"h.example.org\"\n[rotating]\ndoor = \"ssh\"\n").expect("write");
    let door_key = Secret::new(format!("door-{}-Pp3", unique()));
    store.set(&legacy("old"), SecretKind::RotatingKey, &door_key).expect("set");
    profiles.rename("old", "new", &store).expect("rename a pre-id profile");
    let renamed = profiles.load("new").expect("load");
    let renamed_owner = KeyOwner::of("new", &renamed.profile);
    assert!(matches!(renamed_owner, KeyOwner::Id(_)), "{renamed_owner:?}");
    assert_eq!(
        store.get(&renamed_owner, SecretKind::RotatingKey).expect("get").expect("moved").expose(),
        door_key.expose()
    );
    assert!(store.get(&legacy("old"), SecretKind::RotatingKey).expect("get").is_none());
    let _ = store.delete_all(&owner);
    let _ = store.delete_all(&renamed_owner);
}

/// Makes `dir` unwritable (`frozen`) or writable again, even for root (chattr +i); false if it cannot.
fn freeze(dir: &Path, frozen: bool) -> bool {
    use std::os::unix::fs::PermissionsExt;
    let is_root = Command::new("id").arg("-u").output().is_ok_and(|o| o.stdout.starts_with(b"0\n"));
    if is_root {
        let flag = if frozen { "+i" } else { "-i" };
        return Command::new("chattr").arg(flag).arg(dir).stderr(Stdio::null()).status().is_ok_and(|s| s.success());
    }
    fs::set_permissions(dir, fs::Permissions::from_mode(if frozen { 0o500 } else { 0o700 })).is_ok()
}

/// HOME as scripts/with-keyring.sh set it; refuses to go on anywhere else (never the user's keyring).
/// Issue 24 item 5: a locked keyring is reported as locked (the app offers Unlock), not as a keyring
/// without keys and not as no keyring.
#[test]
fn a_locked_keyring_is_reported_locked() {
    const TEST: &str = "a_locked_keyring_is_reported_locked";
    if is_child(TEST) {
        locked_in_sandbox();
        println!("{DONE} {TEST}");
        return;
    }
    run_in_keyring(TEST);
}

fn locked_in_sandbox() {
    sandbox_home();
    let store = SecretStore::with_service(format!("knock-toolkit-test-{}", unique()));
    assert_eq!(store.availability(), KeyringAvailability::Available, "unlocked at first");
    // Lock the default collection as the desktop does after a timeout or on screen lock.
    let locked = Command::new("dbus-send")
        .args([
            "--session",
            "--print-reply",
            "--dest=org.freedesktop.secrets",
            "/org/freedesktop/secrets",
            "org.freedesktop.Secret.Service.Lock",
            "array:objpath:/org/freedesktop/secrets/aliases/default",
        ])
        .output()
        .expect("dbus-send");
    assert!(locked.status.success(), "Lock: {}", String::from_utf8_lossy(&locked.stderr));
    assert_eq!(store.availability(), KeyringAvailability::Locked);
}

fn sandbox_home() -> PathBuf {
    let home = PathBuf::from(std::env::var_os("HOME").expect("HOME"));
    let sandbox = std::env::var_os(SANDBOX_ENV).expect("run by scripts/with-keyring.sh");
    assert_eq!(home.as_os_str(), sandbox, "HOME is not the keyring sandbox: refusing to run");
    home
}

/// Runs `test`'s body in a child under scripts/with-keyring.sh (skipped without the tools, unless CI).
fn run_in_keyring(test: &str) {
    if !has_tool("dbus-run-session") || !has_tool("gnome-keyring-daemon") {
        skip("dbus-run-session or gnome-keyring-daemon is not installed");
        return;
    }
    let script = Path::new(env!("CARGO_MANIFEST_DIR")).join("../scripts/with-keyring.sh");
    let prefix = [OsString::from("sh"), script.into_os_string()];
    let run = run_child(test, &prefix, |_| {}, Duration::from_secs(120));
    if run.status.and_then(|s| s.code()) == Some(TOOLS_MISSING) {
        skip(&format!("scripts/with-keyring.sh found no keyring tools: {}", run.stderr.trim()));
        return;
    }
    run.assert_passed(test);
}

/// With no Secret Service: Unavailable with the message a user can act on, quickly, for every call.
fn unavailable_everywhere() {
    let store = SecretStore::with_service("knock-toolkit-test-unavailable");
    let started = Instant::now();
    let availability = store.availability();
    let KeyringAvailability::Unavailable(message) = &availability else {
        panic!("expected Unavailable, got {availability:?}");
    };
    assert!(message.starts_with(NO_SERVICE), "{message}");
    eprintln!("availability: Unavailable({message:?})");

    let secret = Secret::new("never-stored-Qx9");
    let work = KeyOwner::Id(ProfileId::random().expect("random id"));
    let results = [
        store.set(&work, SecretKind::SpaKey, &secret).err(),
        store.get(&work, SecretKind::SpaKey).err(),
        store.delete(&work, SecretKind::SpaKey).err(),
    ];
    for result in results {
        let err = result.expect("an error without a Secret Service");
        assert!(matches!(&err, SecretError::Unavailable { message } if message.starts_with(NO_SERVICE)), "{err:?}");
        assert!(!format!("{err} {err:?}").contains(secret.expose()), "the secret leaks into the error: {err:?}");
    }
    assert!(started.elapsed() < Duration::from_secs(10), "no Secret Service took {:?} to report", started.elapsed());
}

#[test]
fn no_session_bus_is_unavailable() {
    const TEST: &str = "no_session_bus_is_unavailable";
    if is_child(TEST) {
        unavailable_everywhere();
        println!("{DONE} {TEST}");
        return;
    }
    // No DBUS_SESSION_BUS_ADDRESS, no display to autolaunch one, an empty runtime dir (no $XDG_RUNTIME_DIR/bus).
    let empty = tempfile::tempdir().expect("a temporary directory");
    let run = run_child(
        TEST,
        &[],
        |command| {
            command
                .env_remove("DBUS_SESSION_BUS_ADDRESS")
                .env("XDG_RUNTIME_DIR", empty.path())
                .env("HOME", empty.path());
        },
        Duration::from_secs(60),
    );
    run.assert_passed(TEST);
}

#[test]
fn bus_without_secret_service_is_unavailable() {
    const TEST: &str = "bus_without_secret_service_is_unavailable";
    if is_child(TEST) {
        unavailable_everywhere();
        println!("{DONE} {TEST}");
        return;
    }
    if !has_tool("dbus-run-session") {
        skip("dbus-run-session is not installed");
        return;
    }
    // A session bus with no service directories: org.freedesktop.secrets cannot be auto-started.
    let dir = tempfile::tempdir().expect("a temporary directory");
    let config = dir.path().join("bus.conf");
    let bus_config = format!(
        r#"<!DOCTYPE busconfig PUBLIC "-//freedesktop//DTD D-Bus Bus Configuration 1.0//EN"
 "http://www.freedesktop.org/standards/dbus/1.0/busconfig.dtd">
<busconfig>
  <type>session</type>
  <listen>unix:dir={}</listen>
  <auth>EXTERNAL</auth>
  <policy context="default">
    <allow send_destination="*" eavesdrop="true"/>
    <allow eavesdrop="true"/>
    <allow own="*"/>
  </policy>
</busconfig>
"#,
        dir.path().display()
    );
    fs::write(&config, bus_config).expect("write the bus config");
    let mut config_arg = OsString::from("--config-file=");
    config_arg.push(&config);
    let prefix = [OsString::from("dbus-run-session"), config_arg, OsString::from("--")];
    let run = run_child(
        TEST,
        &prefix,
        |command| {
            command.env("XDG_RUNTIME_DIR", dir.path()).env("HOME", dir.path());
        },
        Duration::from_secs(60),
    );
    run.assert_passed(TEST);
}

/// Issue 24 item 10: a backup takes an SPA profile's keys and a rotating profile's door key from a real
/// keyring, and importing it puts them back under the new profiles' ids; the file holds neither key in
/// the clear.
#[test]
fn a_backup_carries_keys_from_the_keyring_and_back() {
    const TEST: &str = "a_backup_carries_keys_from_the_keyring_and_back";
    if is_child(TEST) {
        backup_in_sandbox();
        println!("{DONE} {TEST}");
        return;
    }
    run_in_keyring(TEST);
}

fn backup_in_sandbox() {
    use client_core::rotating::DoorKey;
    use client_core::spa::{HmacKey, SpaKey};

    let home = sandbox_home();
    let store = SecretStore::with_service(format!("knock-toolkit-test-{}", unique()));
    let profiles = ProfileStore::new(home.join("profiles"));
    let fw: Profile = toml::from_str("host = \"192.0.2.5\"\n[spa]\naccess = \"tcp/22\"\n").expect("spa");
    let door: Profile = toml::from_str("host = \"192.0.2.4\"\n[rotating]\ndoor = \"ssh\"\n").expect("rotating");
    let fw = profiles.create("fw", &fw).expect("create");
    let door = profiles.create("door", &door).expect("create");
    let (key, hmac) = (SpaKey::new(vec![0x41; 32]).expect("key"), HmacKey::new(vec![0x42; 64]).expect("hmac"));
    store.store_spa_keys(&KeyOwner::of("fw", &fw.profile), &key, &hmac).expect("spa keys");
    let door_key = DoorKey::from_bytes(vec![0x43; 20]).expect("door key");
    store.store_rotating_key(&KeyOwner::of("door", &door.profile), &door_key).expect("door key");

    let names = ["fw".to_owned(), "door".to_owned()];
    let backup = client_core::collect_backup(&profiles, &names, &store).expect("collect");
    let passphrase = Secret::new("a passphrase for the test");
    let text = client_core::encrypt_backup(&backup, &passphrase).expect("encrypt");
    for secret in [key.to_base64(), hmac.to_base64(), door_key.to_base32()] {
        assert!(!text.contains(&secret), "a key in the clear");
    }
    let file = home.join("knock-backup.age");
    client_core::write_backup(&file, &text).expect("write");

    let elsewhere = ProfileStore::new(home.join("elsewhere"));
    let report = client_core::import_backup(&file, &passphrase).expect("import");
    let written = client_core::write_import(&report, &elsewhere, &store);
    assert!(written.iter().all(|w| w.profile.is_ok() && matches!(w.keys, Some(Ok(())))), "{written:?}");
    let fw2 = elsewhere.load("fw").expect("fw");
    let door2 = elsewhere.load("door").expect("door");
    assert_ne!(fw2.profile.id, fw.profile.id, "a new id");
    let got = store.spa_keys("fw", &KeyOwner::of("fw", &fw2.profile)).expect("read").expect("keys");
    assert_eq!((got.key.as_bytes(), got.hmac.as_bytes()), (key.as_bytes(), hmac.as_bytes()));
    let got = store.get(&KeyOwner::of("door", &door2.profile), SecretKind::RotatingKey).expect("read").expect("key");
    assert_eq!(got.expose(), door_key.to_base32());
    for (name, p) in [("fw", &fw.profile), ("door", &door.profile), ("fw", &fw2.profile), ("door", &door2.profile)] {
        let _ = store.delete_all(&KeyOwner::of(name, p));
    }
}
