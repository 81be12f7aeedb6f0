//! What knock-cli promises a careful user, tried as an attacker would: secret ports never printed (even
//! when a send fails or the door stays shut), no panic on a closed or full stdout, no panic on hostile
//! input anywhere, an import that would write an unloadable profile writes nothing, and two profile names
//! that would share their keys' environment variables are refused.
#![cfg(target_os = "linux")] // the namespace lab is Linux-only (see knock_e2e's crate docs)

use std::fs::File;
use std::process::{Command, Output, Stdio};

use knock_e2e::bins::knock_cli_path;
use knock_e2e::{Lab, lab_or_skip};
use knock_e2e::{mentions_number, text};

/// A secret sequence: three ports that appear nowhere else in the lab (not in addresses, not in times).
const SECRET: &str = "47123,51234:udp,58345";
const SECRET_PORTS: [&str; 3] = ["47123", "51234", "58345"];

/// knock-cli in the client namespace with the secret in `SECRET_SEQ`, stdin closed.
fn cli(lab: &Lab, args: &[&str]) -> Output {
    lab.client_cmd(knock_cli_path())
        .arg("--profiles-dir")
        .arg(lab.dir().join("profiles"))
        .args(args)
        .env("SECRET_SEQ", SECRET)
        .stdin(Stdio::null())
        .output()
        .expect("knock-cli runs")
}

fn assert_no_secret(out: &Output, what: &str) {
    let all = format!("{}{}", String::from_utf8_lossy(&out.stdout), String::from_utf8_lossy(&out.stderr));
    for port in SECRET_PORTS {
        assert!(!mentions_number(&all, port), "{what} printed the secret port {port}:\n{}", text(out));
    }
    assert_ne!(out.status.code(), Some(101), "{what} panicked:\n{}", text(out));
}

/// Every way of running an environment-sequence profile, none of which may print a secret port.
fn run_every_way(lab: &Lab, host: &str, expect: i32) {
    let out = cli(
        lab,
        &[
            "profile",
            "add",
            "ci",
            "--host",
            host,
            "--open-env",
            "SECRET_SEQ",
            "--verify-port",
            "22",
            "--verify-timeout",
            "300",
            "--attempts",
            "2",
            "--backoff",
            "50",
        ],
    );
    assert_eq!(out.status.code(), Some(0), "{}", text(&out));
    for args in [
        vec!["open", "ci"],
        vec!["open", "ci", "--json"],
        vec!["open", "ci", "-v"],
        vec!["open", "ci", "-v", "--json"],
        vec!["open", "ci", "-q"],
        vec!["ssh", "ci"],
        vec!["proxy", "ci"],
        vec!["profile", "show", "ci"],
        vec!["profile", "list", "--json"],
    ] {
        let out = cli(lab, &args);
        assert_no_secret(&out, &args.join(" "));
        if matches!(args[0], "open" | "ssh" | "proxy") {
            assert_eq!(out.status.code(), Some(expect), "{}: {}", args.join(" "), text(&out));
        }
    }
    // The JSON report masks the ports, and each failed attempt carries its own failure (issue: "sent").
    let json: serde_json::Value = serde_json::from_slice(&cli(lab, &["open", "ci", "--json"]).stdout).expect("json");
    for attempt in json["profiles"][0]["attempts"].as_array().expect("attempts") {
        for hit in attempt["knock"]["hits"].as_array().expect("hits") {
            assert!(hit["port"].is_null(), "{json:#}");
        }
        if expect == 1 {
            assert_eq!(attempt["knock"]["outcome"], "failed", "{json:#}");
            assert!(attempt["knock"]["error"]["message"].as_str().is_some_and(|m| !m.is_empty()), "{json:#}");
        }
    }
}

#[test]
fn secret_ports_never_printed_when_the_network_is_unreachable() {
    let lab = lab_or_skip!();
    // 198.51.100.7 (TEST-NET-2) has no route in the client namespace: every send fails at once.
    run_every_way(&lab, "198.51.100.7", 1);
}

#[test]
fn secret_ports_never_printed_when_the_server_drops_everything() {
    let lab = lab_or_skip!();
    let out = lab.run_server("iptables", ["-A", "INPUT", "-j", "DROP"]).expect("iptables");
    assert!(out.status.success(), "{}", text(&out));
    run_every_way(&lab, &lab.server_v4().to_string(), 3);
}

/// knock-cli with stdout at `stdout` (no lab needed: nothing is sent anywhere but loopback).
fn with_stdout(dir: &std::path::Path, args: &[&str], stdout: Stdio) -> Output {
    Command::new(knock_cli_path())
        .arg("--profiles-dir")
        .arg(dir)
        .args(args)
        .stdin(Stdio::null())
        .stdout(stdout)
        .stderr(Stdio::piped())
        .output()
        .expect("knock-cli runs")
}

#[test]
fn a_full_or_closed_stdout_is_an_error_never_a_panic() {
    let dir = tempfile::tempdir().expect("dir");
    let add = with_stdout(
        dir.path(),
        &["profile", "add", "lo", "--host", "127.0.0.1", "--open", "47999:udp,47998:udp", "--tag", "t"],
        Stdio::null(),
    );
    assert_eq!(add.status.code(), Some(0), "{}", text(&add));
    for args in [
        vec!["spa", "keygen"],
        vec!["profile", "list"],
        vec!["profile", "list", "--json"],
        vec!["open", "lo", "--json"],
        vec!["completions", "bash"],
    ] {
        let full = with_stdout(dir.path(), &args, Stdio::from(File::create("/dev/full").expect("/dev/full")));
        assert_eq!(full.status.code(), Some(1), "{} >/dev/full: {}", args.join(" "), text(&full));
        assert!(String::from_utf8_lossy(&full.stderr).contains("cannot write to stdout"), "{}", text(&full));

        // A closed pipe: the reader is gone before anything is written (`knock-cli ... | true`).
        // The read end is closed before the child starts, so its first write meets the broken pipe.
        let (reader, writer) = std::io::pipe().expect("pipe");
        drop(reader);
        let closed = Command::new(knock_cli_path())
            .arg("--profiles-dir")
            .arg(dir.path())
            .args(&args)
            .stdin(Stdio::null())
            .stdout(writer)
            .stderr(Stdio::piped())
            .output()
            .expect("run");
        assert_ne!(closed.status.code(), Some(101), "{} | true panicked: {}", args.join(" "), text(&closed));
        // Not killed by SIGPIPE either (std ignores it; a start-up that skipped std's would not): the broken
        // pipe is reported as exit 1, as src/output.rs promises.
        assert_eq!(closed.status.code(), Some(1), "{} | true: {}", args.join(" "), text(&closed));
        assert!(!String::from_utf8_lossy(&closed.stderr).contains("panicked"), "{}", text(&closed));
        // ... and quietly (docs/cli.md: "a closed pipe ... exits 1 quietly"): the reader went away, nothing to report.
        assert!(closed.stderr.is_empty(), "{} | true wrote to stderr: {}", args.join(" "), text(&closed));
    }
}

#[test]
fn hostile_input_never_panics_anywhere() {
    // In the lab: a name that does not resolve asks no resolver outside (the namespace has no route out).
    let lab = lab_or_skip!();
    let long_list = (1..=3000).map(|p| format!("{}:udp", 40000 + p)).collect::<Vec<_>>().join(",");
    let long_name = "a".repeat(10_000);
    let bad_file = lab.dir().join("bad.conf");
    std::fs::write(&bad_file, b"\xff\xfe[options]\n\0\0\n[door\nsequence = 99999999999\n").expect("bad file");
    let bad_toml = lab.dir().join("profiles").join("broken.toml");
    std::fs::create_dir_all(bad_toml.parent().expect("dir")).expect("profiles dir");
    std::fs::write(&bad_toml, "host = [\n\u{1F4A9}").expect("broken profile");
    let bad = bad_file.to_str().expect("utf-8 path");
    let hosts = ["-oProxyCommand=id", "ü.invalid", "\u{202E}evil", "", " ", "1.2.3.4:22", "[::1", "%", &long_name];
    let mut runs: Vec<Vec<String>> = Vec::new();
    for host in hosts {
        runs.push(vec!["knock".into(), host.into(), "7000".into()]);
        runs.push(vec![
            "profile".into(),
            "add".into(),
            "h".into(),
            "--host".into(),
            host.into(),
            "--open".into(),
            "1".into(),
        ]);
        runs.push(vec!["profile".into(), "import".into(), bad.into(), "--host".into(), host.into()]);
    }
    for seq in ["0", "65536", "7000:sctp", ",,,", "7000:", ":udp", "\u{0663}", &long_list, "-1", "7000;rm -rf /"] {
        runs.push(vec!["knock".into(), "127.0.0.1".into(), seq.into()]);
        runs.push(vec![
            "profile".into(),
            "add".into(),
            "s".into(),
            "--host".into(),
            "127.0.0.1".into(),
            "--open".into(),
            seq.into(),
        ]);
    }
    for name in ["../etc/passwd", "CON", "ü", "", ".x", &long_name, "a:b"] {
        for command in [
            vec!["open", name],
            vec!["profile", "show", name],
            vec!["profile", "rm", name],
            vec!["profile", "rename", name, "x"],
            vec!["ssh", name],
            vec!["proxy", name],
            vec!["close", name],
            vec!["profile", "set-key", name],
        ] {
            runs.push(command.into_iter().map(str::to_owned).collect());
        }
    }
    for args in [
        vec!["knock", "127.0.0.1", "7000", "--tcp-flags", "syn,fin,bogus"],
        vec!["knock", "127.0.0.1", "7000", "--udp-payload", "zz"],
        vec!["knock", "127.0.0.1", "7000", "--delay", "99999999999999999999"],
        vec!["knock", "127.0.0.1", "7000", "--bind", "not-an-ip"],
        vec!["open", "--group", "\u{1F4A9}"],
        vec!["open", "--group", "nothing", "--parallel", "0"],
        vec!["profile", "list"],
        vec!["profile", "import", "/nonexistent/file", "--host", "127.0.0.1"],
        vec!["profile", "import", "/dev/null", "--host", "127.0.0.1"],
        vec!["profile", "add", "x", "--spa", "--host", "127.0.0.1", "--access", "tcp/0"],
        vec!["profile", "add", "x", "--spa", "--host", "127.0.0.1", "--access", "tcp/22", "--allow-ip", "999.1.1.1"],
        vec!["profile", "add", "x", "--spa", "--host", "127.0.0.1", "--access", "tcp/22", "--discover-url", "http://x"],
        vec!["profile", "edit", "broken", "--delay", "5"],
        vec!["spa", "keygen", "--bogus"],
    ] {
        runs.push(args.into_iter().map(str::to_owned).collect());
    }
    for args in &runs {
        let out = lab
            .client_cmd(knock_cli_path())
            .arg("--profiles-dir")
            .arg(lab.dir().join("profiles"))
            .args(args)
            .stdin(Stdio::null())
            .output()
            .expect("knock-cli runs");
        assert_ne!(out.status.code(), Some(101), "{args:?} panicked: {}", text(&out));
        assert!(!String::from_utf8_lossy(&out.stderr).contains("panicked"), "{args:?}: {}", text(&out));
    }
}

#[test]
fn an_import_that_would_write_an_unloadable_profile_writes_nothing() {
    let dir = tempfile::tempdir().expect("dir");
    let conf = dir.path().join("knockd.conf");
    std::fs::write(&conf, "[options]\n  logfile = /dev/null\n[openSSH]\n  sequence = 7000,8000,9000\n").expect("conf");
    let profiles = dir.path().join("profiles");
    let out = Command::new(knock_cli_path())
        .arg("--profiles-dir")
        .arg(&profiles)
        .args(["profile", "import", conf.to_str().expect("path"), "--host=-oProxyCommand=id"])
        .stdin(Stdio::null())
        .output()
        .expect("knock-cli runs");
    assert_eq!(out.status.code(), Some(2), "{}", text(&out));
    let written: Vec<_> = std::fs::read_dir(&profiles)
        .map(|d| d.flatten().map(|e| e.file_name()).filter(|n| n.to_string_lossy().ends_with(".toml")).collect())
        .unwrap_or_default();
    assert!(written.is_empty(), "nothing is written: {written:?}");
}

#[test]
fn two_names_that_share_an_environment_variable_are_refused() {
    let dir = tempfile::tempdir().expect("dir");
    let run = |args: &[&str]| {
        Command::new(knock_cli_path())
            .arg("--profiles-dir")
            .arg(dir.path())
            .args(args)
            .stdin(Stdio::null())
            .output()
            .expect("knock-cli runs")
    };
    let add = |name: &str| run(&["profile", "add", name, "--spa", "--host", "127.0.0.1", "--access", "tcp/22"]);
    assert_eq!(add("fw-a").status.code(), Some(0));
    let clash = add("fw.a");
    assert_eq!(clash.status.code(), Some(2), "{}", text(&clash));
    let message = String::from_utf8_lossy(&clash.stderr);
    assert!(message.contains("\"fw.a\"") && message.contains("\"fw-a\"") && message.contains("FW_A"), "{message}");
    assert!(!dir.path().join("fw.a.toml").exists());
    // A rename onto a clashing name is refused the same way; a rename of the clashing profile itself is fine.
    assert_eq!(add("other").status.code(), Some(0));
    let rename = run(&["profile", "rename", "other", "fw_a"]);
    assert_eq!(rename.status.code(), Some(2), "{}", text(&rename));
    let rename = run(&["profile", "rename", "fw-a", "fw_a"]);
    assert_eq!(rename.status.code(), Some(0), "{}", text(&rename));
}

#[test]
fn the_keyring_sandbox_leaves_nothing_holding_the_callers_stdout() {
    // `scripts/with-keyring.sh CMD | grep ...` must end when CMD ends: a keyring daemon left running with
    // the caller's stdout would keep the pipe open (seen hanging CI for 11 minutes).
    let script = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../scripts/with-keyring.sh");
    let mut child = Command::new("sh")
        .arg(&script)
        .args(["sh", "-c", "secret-tool search --all service knock-toolkit-test-none; echo done"])
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .expect("with-keyring.sh runs");
    let mut stdout = child.stdout.take().expect("stdout");
    let (sender, receiver) = std::sync::mpsc::channel();
    std::thread::spawn(move || {
        let mut text = String::new();
        let _ = std::io::Read::read_to_string(&mut stdout, &mut text);
        let _ = sender.send(text);
    });
    let text = receiver.recv_timeout(std::time::Duration::from_secs(30));
    let status = child.wait().expect("wait");
    if status.code() == Some(77) {
        let ci = std::env::var("CI").is_ok_and(|v| v == "true" || v == "1");
        assert!(!ci, "CI must have gnome-keyring and dbus");
        eprintln!("SKIPPED (needs gnome-keyring + dbus)");
        return;
    }
    let text = text.expect("stdout reached its end within 30 s: something kept the pipe open");
    assert!(text.contains("done"), "{text}");
    assert!(status.success(), "{status:?}");
}

#[test]
fn spa_allow_ip_local_without_an_ipv4_route_is_an_error_not_0_0_0_0() {
    let lab = lab_or_skip!();
    let keys = cli(&lab, &["spa", "keygen"]);
    let keys = String::from_utf8_lossy(&keys.stdout).into_owned();
    let value = |prefix: &str| keys.lines().find_map(|l| l.strip_prefix(prefix)).map(str::trim).expect("key line");
    let (key, hmac) = (value("KEY_BASE64: ").to_owned(), value("HMAC_KEY_BASE64: ").to_owned());
    let add = cli(&lab, &["profile", "add", "sp", "--spa", "--host", "198.51.100.7", "--access", "tcp/22"]);
    assert_eq!(add.status.code(), Some(0), "{}", text(&add));
    let out = lab
        .client_cmd(knock_cli_path())
        .arg("--profiles-dir")
        .arg(lab.dir().join("profiles"))
        .args(["open", "sp", "--json"])
        .env("KNOCK_SPA_KEY_BASE64_SP", &key)
        .env("KNOCK_SPA_HMAC_KEY_BASE64_SP", &hmac)
        .stdin(Stdio::null())
        .output()
        .expect("knock-cli runs");
    assert_eq!(out.status.code(), Some(2), "{}", text(&out));
    let json: serde_json::Value = serde_json::from_slice(&out.stdout).expect("json");
    let message = json["profiles"][0]["error"]["message"].as_str().unwrap_or_default().to_owned();
    for advice in ["allow_ip", "\"source\"", "\"discover\""] {
        assert!(message.contains(advice), "the error suggests {advice}: {message}");
    }
    let shown = text(&out);
    assert!(!shown.contains(&key) && !shown.contains(&hmac), "keys never printed");
}
