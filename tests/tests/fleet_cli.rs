//! `knock-cli open` over a fleet as CI drives it: one bad profile never aborts the others, an unreadable
//! profile is invalid input. Hits go only to a UDP socket this test binds on loopback; no lab needed.
#![cfg(target_os = "linux")] // setpriv and rustix: Linux only

use std::net::UdpSocket;
use std::path::Path;
use std::process::{Command, Output};
use std::time::Duration;

use knock_e2e::bins::knock_cli_path;
use knock_e2e::text;

fn cli(dir: &Path, args: &[&str]) -> Command {
    let mut cmd = Command::new(knock_cli_path());
    cmd.arg("--profiles-dir").arg(dir).args(args);
    cmd
}

fn json(out: &Output) -> serde_json::Value {
    serde_json::from_slice(&out.stdout).unwrap_or_else(|e| panic!("one JSON document ({e}): {}", text(out)))
}

/// A loopback UDP socket that counts the datagrams it receives.
fn listener() -> (UdpSocket, u16) {
    let socket = UdpSocket::bind("127.0.0.1:0").expect("bind loopback");
    socket.set_read_timeout(Some(Duration::from_millis(500))).expect("timeout");
    let port = socket.local_addr().expect("addr").port();
    (socket, port)
}

fn received(socket: &UdpSocket) -> usize {
    let mut buf = [0u8; 64];
    let mut count = 0;
    while socket.recv(&mut buf).is_ok() {
        count += 1;
    }
    count
}

#[test]
fn one_profile_with_an_unset_sequence_variable_does_not_abort_the_group() {
    let dir = tempfile::tempdir().expect("dir");
    let (socket, port) = listener();
    for name in ["a-good", "c-good"] {
        std::fs::write(
            dir.path().join(format!("{name}.toml")),
            format!("host = \"127.0.0.1\"\nopen = \"{port}:udp\"\ntags = [\"fleet\"]\n"),
        )
        .expect("write");
    }
    std::fs::write(
        dir.path().join("b-bad.toml"),
        "host = \"127.0.0.1\"\nopen = { env = \"ZZ_SEQ\" }\ntags = [\"fleet\"]\n",
    )
    .expect("write");

    let out = cli(dir.path(), &["open", "--group", "fleet", "--json"]).env_remove("ZZ_SEQ").output().expect("runs");
    // The worst code wins: invalid input (2) for the bad one, although the good ones were knocked.
    assert_eq!(out.status.code(), Some(2), "{}", text(&out));
    let doc = json(&out);
    assert_eq!(doc["exit_code"], 2, "{doc}");
    assert_eq!(doc["outcome"], "invalid", "{doc}");
    let profiles = doc["profiles"].as_array().expect("profiles");
    let names: Vec<&str> = profiles.iter().map(|p| p["name"].as_str().unwrap_or("")).collect();
    assert_eq!(names, ["a-good", "b-bad", "c-good"], "{doc}");
    for good in [&profiles[0], &profiles[2]] {
        assert_eq!(good["outcome"], "sent", "{doc}");
        assert_eq!(good["exit_code"], 0, "{doc}");
        assert!(good["error"].is_null(), "{doc}");
    }
    let bad = &profiles[1];
    assert_eq!(bad["outcome"], "invalid", "{doc}");
    assert_eq!(bad["exit_code"], 2, "{doc}");
    assert_eq!(bad["error"]["kind"], "invalid_input", "{doc}");
    assert!(bad["error"]["message"].as_str().unwrap_or("").contains("ZZ_SEQ"), "{doc}");
    assert_eq!(bad["attempts"].as_array().map(Vec::len), Some(0), "{doc}");
    assert_eq!(received(&socket), 2, "both good profiles knocked");

    // Without --json: the good ones on stdout, the bad one on stderr, named.
    let out = cli(dir.path(), &["open", "--group", "fleet"]).env_remove("ZZ_SEQ").output().expect("runs");
    assert_eq!(out.status.code(), Some(2), "{}", text(&out));
    let stdout = String::from_utf8_lossy(&out.stdout);
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(stdout.contains("a-good") && stdout.contains("c-good"), "{}", text(&out));
    assert!(stderr.contains("b-bad") && stderr.contains("ZZ_SEQ"), "{}", text(&out));
    assert_eq!(received(&socket), 2);
}

/// Runs knock-cli without the capabilities that let root read any file (a normal user's view).
fn as_unprivileged(dir: &Path, args: &[&str]) -> Output {
    if rustix::process::geteuid().is_root() {
        Command::new("setpriv")
            .args(["--inh-caps=-all", "--bounding-set=-all", "--"])
            .arg(knock_cli_path())
            .arg("--profiles-dir")
            .arg(dir)
            .args(args)
            .output()
            .expect("setpriv runs")
    } else {
        cli(dir, args).output().expect("runs")
    }
}

#[test]
fn an_unreadable_profile_exits_2_and_names_the_file() {
    use std::os::unix::fs::PermissionsExt;
    let dir = tempfile::tempdir().expect("dir");
    let path = dir.path().join("locked.toml");
    std::fs::write(&path, "host = \"127.0.0.1\"\nopen = \"7000:udp\"\n").expect("write");
    std::fs::set_permissions(&path, std::fs::Permissions::from_mode(0o000)).expect("chmod");

    let out = as_unprivileged(dir.path(), &["open", "locked", "--json"]);
    assert_eq!(out.status.code(), Some(2), "{}", text(&out));
    let doc = json(&out);
    assert_eq!(doc["error"]["kind"], "invalid_input", "{doc}");
    let message = doc["error"]["message"].as_str().unwrap_or("");
    assert!(message.contains("locked.toml") && message.contains("ermission denied"), "{doc}");

    for args in [&["open", "locked"][..], &["close", "locked"], &["profile", "show", "locked"]] {
        let out = as_unprivileged(dir.path(), args);
        assert_eq!(out.status.code(), Some(2), "{args:?}: {}", text(&out));
        assert!(String::from_utf8_lossy(&out.stderr).contains("locked.toml"), "{args:?}: {}", text(&out));
    }
}

/// SIGTERM (a cancelled CI job) or SIGINT during `open --json`: the hits not yet sent are never sent, and
/// stdout still holds one complete document saying `cancelled`, with the shells' 143 or 130.
#[test]
fn a_cancelled_open_prints_a_complete_cancelled_document() {
    use rustix::process::{Pid, Signal, kill_process};
    for (signal, code) in [(Signal::TERM, 143), (Signal::INT, 130)] {
        let dir = tempfile::tempdir().expect("dir");
        let (socket, port) = listener();
        socket.set_read_timeout(Some(Duration::from_secs(10))).expect("timeout");
        std::fs::write(
            dir.path().join("slow.toml"),
            format!("host = \"127.0.0.1\"\nopen = \"{port}:udp,{port}:udp,{port}:udp\"\ndelay_ms = 1500\n"),
        )
        .expect("write");
        let child = cli(dir.path(), &["open", "slow", "--json"])
            .stdout(std::process::Stdio::piped())
            .stderr(std::process::Stdio::piped())
            .spawn()
            .expect("spawn");
        let mut buf = [0u8; 64];
        socket.recv(&mut buf).expect("the first hit arrives");
        let pid = i32::try_from(child.id()).ok().and_then(Pid::from_raw).expect("pid");
        kill_process(pid, signal).expect("signal");
        let out = child.wait_with_output().expect("wait");
        assert_eq!(out.status.code(), Some(code), "{signal:?}: {}", text(&out));
        let doc = json(&out);
        assert_eq!(doc["outcome"], "cancelled", "{doc}");
        assert_eq!(doc["exit_code"], code, "{doc}");
        assert_eq!(doc["profiles"][0]["outcome"], "cancelled", "{doc}");
        assert_eq!(doc["profiles"][0]["error"]["kind"], "cancelled", "{doc}");
        // Nothing further: the two remaining hits (due 1.5 s and 3 s after the first) never come.
        socket.set_read_timeout(Some(Duration::from_millis(3500))).expect("timeout");
        assert!(socket.recv(&mut buf).is_err(), "{signal:?}: a hit was sent after the signal");
    }
}

/// A proxy relaying (stdin held open by ssh, the service silent) ends on SIGTERM with 143 and on SIGINT
/// with 130, at once: a cancelled CI job or `timeout` never leaves a ProxyCommand behind.
#[test]
fn a_relaying_proxy_ends_on_sigterm_and_sigint() {
    use rustix::process::{Pid, Signal, kill_process};
    use std::net::TcpListener;
    for (signal, code) in [(Signal::TERM, 143), (Signal::INT, 130)] {
        let dir = tempfile::tempdir().expect("dir");
        let service = TcpListener::bind("127.0.0.1:0").expect("bind loopback");
        let port = service.local_addr().expect("addr").port();
        std::fs::write(
            dir.path().join("door.toml"),
            format!("host = \"127.0.0.1\"\nopen = \"7000:udp\"\n\n[verify]\nport = {port}\n"),
        )
        .expect("write");
        // The service accepts (the already-open probe, then the relay) and keeps each connection silent.
        let (accepted, connections) = std::sync::mpsc::channel();
        std::thread::spawn(move || {
            for stream in service.incoming().flatten() {
                if accepted.send(stream).is_err() {
                    return;
                }
            }
        });
        let mut child = cli(dir.path(), &["proxy", "-q", "door"])
            .stdin(std::process::Stdio::piped())
            .stdout(std::process::Stdio::piped())
            .stderr(std::process::Stdio::piped())
            .spawn()
            .expect("spawn");
        let wait = Duration::from_secs(10);
        let _probe = connections.recv_timeout(wait).expect("the already-open probe connects");
        let _relay = connections.recv_timeout(wait).expect("the relay connects");
        let pid = i32::try_from(child.id()).ok().and_then(Pid::from_raw).expect("pid");
        let sent = std::time::Instant::now();
        kill_process(pid, signal).expect("signal");
        let status = loop {
            if let Some(status) = child.try_wait().expect("wait") {
                break status;
            }
            assert!(sent.elapsed() < Duration::from_secs(5), "{signal:?}: the proxy is still relaying");
            std::thread::sleep(Duration::from_millis(20));
        };
        assert_eq!(status.code(), Some(code), "{signal:?}");
    }
}

/// `proxy -q` and `KNOCK_QUIET=1`: nothing on stderr but errors (here: a door already open says nothing),
/// as `ssh -q`; without them the `already open` line is printed; a bad KNOCK_QUIET is invalid input.
#[test]
fn proxy_quiet_prints_nothing_but_errors() {
    use std::io::Write;
    use std::net::TcpListener;
    let dir = tempfile::tempdir().expect("dir");
    let service = TcpListener::bind("127.0.0.1:0").expect("bind loopback");
    let port = service.local_addr().expect("addr").port();
    std::fs::write(
        dir.path().join("door.toml"),
        format!("host = \"127.0.0.1\"\nopen = \"7000:udp\"\n\n[verify]\nport = {port}\n"),
    )
    .expect("write");
    // The service: each connection (the already-open probe, then the relay) gets a greeting and is closed.
    std::thread::spawn(move || {
        for mut stream in service.incoming().flatten() {
            let _ = stream.write_all(b"hello\n");
        }
    });
    let proxy = |args: &[&str], quiet_env: Option<&str>| {
        let mut cmd = cli(dir.path(), args);
        cmd.stdin(std::process::Stdio::null()).env_remove("KNOCK_QUIET");
        if let Some(value) = quiet_env {
            cmd.env("KNOCK_QUIET", value);
        }
        cmd.output().expect("runs")
    };

    let out = proxy(&["proxy", "door"], None);
    assert_eq!(out.status.code(), Some(0), "{}", text(&out));
    assert!(String::from_utf8_lossy(&out.stderr).contains("already open"), "{}", text(&out));
    assert_eq!(String::from_utf8_lossy(&out.stdout), "hello\n", "{}", text(&out));

    for (args, env) in [(&["proxy", "-q", "door"][..], None), (&["proxy", "door"], Some("1"))] {
        let out = proxy(args, env);
        assert_eq!(out.status.code(), Some(0), "{args:?} {env:?}: {}", text(&out));
        assert!(out.stderr.is_empty(), "{args:?} {env:?}: {}", text(&out));
        assert_eq!(String::from_utf8_lossy(&out.stdout), "hello\n", "{}", text(&out));
    }

    let out = proxy(&["proxy", "door"], Some("loud"));
    assert_eq!(out.status.code(), Some(2), "{}", text(&out));
    assert!(String::from_utf8_lossy(&out.stderr).contains("KNOCK_QUIET"), "{}", text(&out));
}

/// The README's GitHub Actions recipe, run twice in the same workspace as a kept CI runner does (the
/// bastion is a loopback UDP port and a loopback verify port: no name is resolved, nothing leaves).
#[test]
fn the_readme_ci_recipe_runs_twice_in_the_same_workspace() {
    use std::net::TcpListener;
    let readme = std::fs::read_to_string(Path::new(env!("CARGO_MANIFEST_DIR")).join("../README.md")).expect("README");
    let start = readme.find("# GitHub Actions").expect("the GitHub Actions recipe");
    let recipe = &readme[start..];
    let run = recipe.find("run: |").expect("run: |") + "run: |".len();
    let end = recipe[run..].find("  env:").expect("env:") + run;
    let script = recipe[run..end].replace("bastion.example.org", "127.0.0.1");
    assert!(script.contains("knock-cli"), "{script}");

    let (socket, port) = listener();
    let service = TcpListener::bind("127.0.0.1:0").expect("bind");
    let verify = service.local_addr().expect("addr").port();
    std::thread::spawn(move || for _ in service.incoming() {});
    let script = script.replace("--verify-port 22", &format!("--verify-port {verify}"));
    let workspace = tempfile::tempdir().expect("workspace");
    let bin_dir = knock_cli_path().parent().expect("bin dir").to_owned();
    let path = format!("{}:{}", bin_dir.display(), std::env::var("PATH").unwrap_or_default());
    for run in 1..=2 {
        let out = Command::new("sh")
            .args(["-e", "-c", &script])
            .current_dir(workspace.path())
            .env("PATH", &path)
            .env("BASTION_SEQUENCE", format!("{port}:udp"))
            .output()
            .expect("sh runs");
        assert_eq!(out.status.code(), Some(0), "run {run} of\n{script}\n{}", text(&out));
    }
    // The verify port answers from the start, so both runs find the door already open: nothing is sent.
    assert_eq!(received(&socket), 0);
}

/// `profile add --replace` keeps the id (and so the keyring keys) and takes exactly the new options;
/// without it an existing profile is refused (exit 2). `open --profile-file FILE|-` knocks a profile that
/// is never stored.
#[test]
fn add_replace_and_profile_file() {
    let dir = tempfile::tempdir().expect("dir");
    let add = |extra: &[&str]| {
        let mut args = vec!["profile", "add", "ci", "--host", "127.0.0.1", "--open", "7000:udp"];
        args.extend_from_slice(extra);
        cli(dir.path(), &args).output().expect("runs")
    };
    assert_eq!(add(&[]).status.code(), Some(0));
    let out = add(&[]);
    assert_eq!(out.status.code(), Some(2), "{}", text(&out));
    assert!(String::from_utf8_lossy(&out.stderr).contains("already exists"), "{}", text(&out));
    let id = |dir: &Path| {
        let out = cli(dir, &["profile", "show", "ci", "--json"]).output().expect("runs");
        json(&out)["profile"]["id"].clone()
    };
    let before = id(dir.path());
    let out = add(&["--replace", "--tag", "again"]);
    assert_eq!(out.status.code(), Some(0), "{}", text(&out));
    assert_eq!(id(dir.path()), before, "the id is kept");
    let shown = cli(dir.path(), &["profile", "show", "ci", "--json"]).output().expect("runs");
    assert!(String::from_utf8_lossy(&shown.stdout).contains("again"), "{}", text(&shown));

    let (socket, port) = listener();
    let store = tempfile::tempdir().expect("store");
    let file = dir.path().join("bastion.toml");
    std::fs::write(&file, format!("host = \"127.0.0.1\"\nopen = \"{port}:udp\"\n")).expect("write");
    let out = cli(store.path(), &["open", "--json", "--profile-file"]).arg(&file).output().expect("runs");
    assert_eq!(out.status.code(), Some(0), "{}", text(&out));
    assert_eq!(json(&out)["profiles"][0]["name"], "bastion");
    assert_eq!(received(&socket), 1);
    let mut child = cli(store.path(), &["open", "--profile-file", "-"])
        .stdin(std::process::Stdio::piped())
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .expect("spawn");
    {
        use std::io::Write;
        let mut stdin = child.stdin.take().expect("stdin");
        stdin.write_all(format!("host = \"127.0.0.1\"\nopen = \"{port}:udp\"\n").as_bytes()).expect("write");
    }
    let out = child.wait_with_output().expect("wait");
    assert_eq!(out.status.code(), Some(0), "{}", text(&out));
    assert_eq!(received(&socket), 1);
    assert_eq!(std::fs::read_dir(store.path()).map(Iterator::count).unwrap_or(0), 0, "nothing stored");

    // A bad file: exit 2, named with its line.
    std::fs::write(&file, "host = \"127.0.0.1\"\nopen = \"70000\"\n").expect("write");
    let out = cli(store.path(), &["open", "--profile-file"]).arg(&file).output().expect("runs");
    assert_eq!(out.status.code(), Some(2), "{}", text(&out));
    assert!(String::from_utf8_lossy(&out.stderr).contains("bastion.toml:2"), "{}", text(&out));
}

/// 50 doors of one host open in one round by default (under a second when the server keeps up: here each
/// door takes 0.3 s, three hits 150 ms apart), and `--per-host N` bounds them.
#[test]
fn fifty_doors_of_one_host_open_in_one_round_and_per_host_bounds_them() {
    let dir = tempfile::tempdir().expect("dir");
    let (socket, port) = listener();
    for i in 0..50 {
        std::fs::write(
            dir.path().join(format!("door{i:02}.toml")),
            format!(
                "host = \"127.0.0.1\"\nopen = \"{port}:udp,{port}:udp,{port}:udp\"\ndelay_ms = 150\ntags = [\"one\"]\n"
            ),
        )
        .expect("write");
    }
    let timed = |extra: &[&str]| {
        let mut args = vec!["open", "--group", "one", "--quiet"];
        args.extend_from_slice(extra);
        let started = std::time::Instant::now();
        let out = cli(dir.path(), &args).output().expect("runs");
        assert_eq!(out.status.code(), Some(0), "{extra:?}: {}", text(&out));
        started.elapsed()
    };
    let default = timed(&[]);
    assert!(default < Duration::from_secs(1), "50 doors of one host took {default:?}");
    assert_eq!(received(&socket), 150);
    // Four at a time: 13 rounds of 0.3 s.
    let four = timed(&["--per-host", "4"]);
    assert!(four >= Duration::from_millis(3600), "--per-host 4 took only {four:?}");
    assert_eq!(received(&socket), 150);
    let out = cli(dir.path(), &["open", "--group", "one", "--per-host", "0"]).output().expect("runs");
    assert_eq!(out.status.code(), Some(2), "{}", text(&out));
    assert!(String::from_utf8_lossy(&out.stderr).contains("--per-host"), "{}", text(&out));
}
