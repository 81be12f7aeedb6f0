//! `knock-cli profile ...` as a user or a script drives it: concurrent writers, corrupt files, typos,
//! exit codes. These touch only files (no packets), so they need no lab.

use std::path::Path;
use std::process::{Command, Output};

use knock_e2e::bins::knock_cli_path;
use knock_e2e::text;

fn cli(dir: &Path, args: &[&str]) -> Output {
    Command::new(knock_cli_path()).arg("--profiles-dir").arg(dir).args(args).output().expect("knock-cli runs")
}

fn add(dir: &Path, name: &str) -> Output {
    cli(dir, &["profile", "add", name, "--host", "192.0.2.2", "--open", "7000,8000:udp,9000", "--verify-port", "22"])
}

#[test]
fn twenty_parallel_adds_all_survive() {
    let dir = tempfile::tempdir().expect("dir");
    let children: Vec<_> = (0..20)
        .map(|i| {
            Command::new(knock_cli_path())
                .arg("--profiles-dir")
                .arg(dir.path())
                .args(["profile", "add", &format!("host{i}"), "--host", "192.0.2.2", "--open", "7000,8000"])
                .spawn()
                .expect("spawn")
        })
        .collect();
    for mut child in children {
        assert!(child.wait().expect("wait").success());
    }
    let out = cli(dir.path(), &["profile", "list", "--json"]);
    assert_eq!(out.status.code(), Some(0), "{}", text(&out));
    let listed = String::from_utf8_lossy(&out.stdout);
    for i in 0..20 {
        assert!(listed.contains(&format!("\"name\": \"host{i}\"")), "host{i} lost: {listed}");
    }
}

#[test]
fn twenty_parallel_edits_of_one_profile_lose_no_update() {
    let dir = tempfile::tempdir().expect("dir");
    assert!(add(dir.path(), "shared").status.success());
    let children: Vec<_> = (0..20)
        .map(|i| {
            Command::new(knock_cli_path())
                .env("KNOCK_PROFILES_DIR", dir.path())
                .args(["profile", "edit", "shared", "--tag", &format!("t{i}")])
                .spawn()
                .expect("spawn")
        })
        .collect();
    for mut child in children {
        assert!(child.wait().expect("wait").success());
    }
    let out = cli(dir.path(), &["profile", "show", "shared", "--json"]);
    let shown = String::from_utf8_lossy(&out.stdout);
    for i in 0..20 {
        assert!(shown.contains(&format!("\"t{i}\"")), "tag t{i} lost: {shown}");
    }
}

#[test]
fn a_corrupt_profile_is_reported_and_left_untouched() {
    let dir = tempfile::tempdir().expect("dir");
    assert!(add(dir.path(), "good").status.success());
    let bad = dir.path().join("bad.toml");
    let content = "host = \"192.0.2.2\"\nopen = \"7000\"\ndelay_ms = \"soon\"\n";
    std::fs::write(&bad, content).expect("write");

    let out = cli(dir.path(), &["profile", "list"]);
    assert_eq!(out.status.code(), Some(2), "an unreadable profile makes list exit 2: {}", text(&out));
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(err.contains("bad.toml:3:12") && err.contains("left as it is"), "{err}");
    assert!(String::from_utf8_lossy(&out.stdout).contains("good"), "the readable ones are still listed");

    for args in [
        vec!["profile", "edit", "bad", "--delay", "5"],
        vec!["profile", "rm", "bad"],
        vec!["profile", "rename", "bad", "fixed"],
        vec!["profile", "add", "bad", "--host", "h", "--open", "1"],
        vec!["profile", "show", "bad"],
        vec!["open", "bad"],
    ] {
        let out = cli(dir.path(), &args);
        assert_eq!(out.status.code(), Some(2), "{args:?}: {}", text(&out));
    }
    assert_eq!(std::fs::read_to_string(&bad).expect("still there"), content, "byte for byte untouched");
    assert!(!dir.path().join("fixed.toml").exists());
}

#[test]
fn unknown_names_and_bad_values_exit_2_with_help() {
    let dir = tempfile::tempdir().expect("dir");
    assert!(add(dir.path(), "bastion").status.success());
    let out = cli(dir.path(), &["open", "bastoin"]);
    assert_eq!(out.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&out.stderr).contains("did you mean \"bastion\""), "{}", text(&out));

    let out = cli(dir.path(), &["open", "--json", "bastoin"]);
    assert_eq!(out.status.code(), Some(2));
    let json = String::from_utf8_lossy(&out.stdout);
    assert!(json.contains("\"outcome\": \"invalid\"") && json.contains("\"exit_code\": 2"), "{json}");

    for (args, needle) in [
        (vec!["profile", "add", "x", "--host", "h", "--open", "7000:foo"], "--open: invalid hit \"7000:foo\""),
        (vec!["profile", "add", "x", "--host", "h"], "needs --open"),
        (vec!["profile", "add", "a/b", "--host", "h", "--open", "1"], "invalid profile name"),
        (vec!["profile", "add", "bastion", "--host", "h", "--open", "1"], "already exists"),
        (vec!["profile", "edit", "bastion", "--family", "ipx"], "--family: invalid address family"),
        (vec!["profile", "edit", "bastion", "--attempts", "0"], "--attempts"),
        (vec!["close", "bastion"], "has no close sequence"),
        (vec!["open", "--group", "nope"], "no profile in"),
    ] {
        let out = cli(dir.path(), &args);
        assert_eq!(out.status.code(), Some(2), "{args:?}: {}", text(&out));
        assert!(String::from_utf8_lossy(&out.stderr).contains(needle), "{args:?} must say {needle}: {}", text(&out));
    }
}

#[test]
fn edit_show_rename_rm_round_trip() {
    let dir = tempfile::tempdir().expect("dir");
    assert!(add(dir.path(), "bastion").status.success());
    let out = cli(
        dir.path(),
        &["profile", "edit", "bastion", "--close", "9000,8000", "--delay", "40", "--tag", "prod", "--attempts", "5"],
    );
    assert!(out.status.success(), "{}", text(&out));
    let shown = String::from_utf8_lossy(&cli(dir.path(), &["profile", "show", "bastion"]).stdout).into_owned();
    for needle in ["close = \"9000:tcp,8000:tcp\"", "delay_ms = 40", "tags = [\"prod\"]", "attempts = 5", "port = 22"] {
        assert!(shown.contains(needle), "{needle} in {shown}");
    }
    assert!(cli(dir.path(), &["profile", "edit", "bastion", "--no-verify", "--untag", "prod"]).status.success());
    let shown = String::from_utf8_lossy(&cli(dir.path(), &["profile", "show", "bastion"]).stdout).into_owned();
    assert!(!shown.contains("[verify]") && !shown.contains("prod"), "{shown}");
    assert!(cli(dir.path(), &["profile", "rename", "bastion", "jump"]).status.success());
    assert!(dir.path().join("jump.toml").exists() && !dir.path().join("bastion.toml").exists());
    assert!(cli(dir.path(), &["profile", "rm", "jump"]).status.success());
    assert!(!dir.path().join("jump.toml").exists());
}

#[test]
fn list_never_prints_sequences() {
    let dir = tempfile::tempdir().expect("dir");
    assert!(cli(dir.path(), &["profile", "add", "s", "--host", "h", "--open", "31337,42424"]).status.success());
    for args in [vec!["profile", "list"], vec!["profile", "list", "--json"]] {
        let out = cli(dir.path(), &args);
        let all = text(&out);
        assert!(!all.contains("31337") && !all.contains("42424"), "{args:?} leaked the sequence: {all}");
    }
}

#[test]
fn completions_are_generated_for_every_shell() {
    let dir = tempfile::tempdir().expect("dir");
    for shell in ["bash", "zsh", "fish", "powershell"] {
        let out = cli(dir.path(), &["completions", shell]);
        assert!(out.status.success() && String::from_utf8_lossy(&out.stdout).contains("knock-cli"), "{shell}");
    }
}

#[test]
fn the_example_profiles_list_cleanly() {
    let examples = Path::new(env!("CARGO_MANIFEST_DIR")).join("../profiles");
    let out = cli(&examples, &["profile", "list"]);
    assert_eq!(out.status.code(), Some(0), "{}", text(&out));
}
