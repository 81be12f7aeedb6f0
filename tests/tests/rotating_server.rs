//! knock-server's rotating doors end to end, in the namespace lab, with real packets: knock-cli (a
//! `[rotating]` profile, its key from `KNOCK_ROTATING_KEY_<NAME>`) and knock(1) fed by `rotating now
//! --reveal` open a rotating door; a knock straddling a window boundary opens; a captured sequence
//! replayed from the same source or a spoofed one does not open, also after a restart; a window outside
//! the skew does not open; each user has a key and the log names them; a revoked user (line removed,
//! SIGHUP) no longer opens; Python's independent derivation gives the sequence the server accepts;
//! `rotating keygen` provisions a user; bad input is refused with file:line and nothing opens.
#![cfg(target_os = "linux")] // the namespace lab is Linux-only (see knock_e2e's crate docs)

use std::fs;
use std::net::{IpAddr, Ipv4Addr};
use std::os::unix::fs::PermissionsExt;
use std::path::{Path, PathBuf};
use std::process::{Command, Output, Stdio};
use std::time::{Duration, Instant};

use client_core::rotating::{DoorKey, Rotation, parse_uri};
use client_core::{Hit, Protocol};
use etherparse::PacketBuilder;
use knock_e2e::bins::knock_cli_path;
use knock_e2e::knock_server::{counter, knock_server_path};
use knock_e2e::{Lab, Side, lab_or_skip, text};

const ALICE: &str = "JBSWY3DPEHPK3PXPJBSWY3DPEHPK3PXP";
const BOB: &str = "GEZDGNBVGY3TQOJQGEZDGNBVGY3TQOJQGEZDGNBVGY3TQOJQGEZA";
const RANGE: (u16, u16) = (20000, 29999);
const PROTOCOLS: &str = "tcp,udp,tcp,tcp";
const OPEN_WAIT: Duration = Duration::from_secs(5);
/// After this, the server has judged whatever was sent before (it reads packets at once).
const SETTLE: Duration = Duration::from_millis(700);

fn unix_now() -> u64 {
    std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).map_or(0, |d| d.as_secs())
}

fn rotation(step: u64) -> Rotation {
    let mut r = Rotation::new("ssh");
    r.step = step;
    r.range = RANGE;
    r.protocols = vec![Protocol::Tcp, Protocol::Udp, Protocol::Tcp, Protocol::Tcp];
    r
}

fn sequence(key: &str, step: u64, window: u64) -> Vec<Hit> {
    rotation(step).sequence(&DoorKey::from_base32(key).expect("key"), window).expect("sequence").hits().to_vec()
}

/// `PORT:PROTO` words for knock-cli / knock(1).
fn words(hits: &[Hit]) -> Vec<String> {
    hits.iter().map(|h| format!("{}:{}", h.port, h.protocol.as_str())).collect()
}

/// Writes the key file (0600) with `users` and returns its path.
fn key_file(lab: &Lab, users: &[(&str, &str)]) -> PathBuf {
    let path = lab.dir().join("ssh.keys");
    let text: String = users.iter().map(|(user, key)| format!("{user} {key}\n")).collect();
    fs::write(&path, format!("# rotating keys of door ssh\n{text}")).expect("write keys");
    fs::set_permissions(&path, fs::Permissions::from_mode(0o600)).expect("chmod");
    path
}

/// A rotating door [ssh] over `keys` whose start command leaves `<labdir>/opened-%IP%`.
fn door(lab: &Lab, keys: &Path, step: u64, skew: u64) -> String {
    format!(
        "[ssh]\n  Rotating_Keys = {}\n  Rotating_Step = {step}\n  Rotating_Length = 4\n  Rotating_Range = {}-{}\n  \
         Rotating_Protocols = {PROTOCOLS}\n  Rotating_Skew = {skew}\n  Seq_Timeout = 10\n  TCPFlags = syn\n  \
         Start_Command = {}\n",
        keys.display(),
        RANGE.0,
        RANGE.1,
        lab.touch_marker_command()
    )
}

fn state_dir(lab: &Lab) -> String {
    let dir = lab.dir().join("state");
    fs::create_dir_all(&dir).expect("state dir");
    dir.display().to_string()
}

/// `knock-cli knock -4 HOST HITS...` from the client namespace; must exit 0.
fn knock(lab: &Lab, hits: &[Hit]) {
    let mut args = vec!["knock".to_owned(), "-4".to_owned(), lab.server_v4().to_string()];
    args.extend(words(hits));
    let out = lab.run_client(knock_cli_path(), &args).expect("knock-cli runs");
    assert!(out.status.success(), "knock-cli {args:?}\n{}", text(&out));
}

/// The same hits as raw frames from `src`, a spoofed address inside the lab's client prefix.
fn spoofed(lab: &Lab, src: Ipv4Addr, hits: &[Hit]) {
    let server_mac = lab.mac(Side::Server).expect("server MAC");
    let client_mac = lab.mac(Side::Client).expect("client MAC");
    for hit in hits {
        let builder = PacketBuilder::ethernet2(client_mac, server_mac).ipv4(src.octets(), lab.server_v4().octets(), 64);
        let mut frame = Vec::new();
        match hit.protocol {
            Protocol::Tcp => builder.tcp(40000, hit.port, 1, 64240).syn().write(&mut frame, &[]),
            Protocol::Udp => builder.udp(40000, hit.port).write(&mut frame, &[0]),
        }
        .expect("frame");
        lab.send_client_frame(&frame).expect("inject");
    }
}

fn opened_line(ip: IpAddr, user: &str) -> String {
    format!("{ip}: ssh: OPEN SESAME (user {user}, window ")
}

/// Waits out the end of the current window when fewer than `margin` seconds are left.
fn not_near_the_end(step: u64, margin: u64) {
    let left = step - unix_now() % step;
    if left < margin {
        std::thread::sleep(Duration::from_secs(left + 1));
    }
}

fn cli(lab: &Lab, name: &str, key: &str) -> Command {
    let mut command = lab.client_cmd(knock_cli_path());
    command
        .arg("--profiles-dir")
        .arg(lab.dir().join("profiles"))
        .env(format!("KNOCK_ROTATING_KEY_{}", name.to_uppercase()), key)
        .stdin(Stdio::null());
    command
}

fn add_profile(lab: &Lab, name: &str, key: &str, step: u64) {
    let out = cli(lab, name, key)
        .args(["profile", "add", name, "--rotating", "--host", &lab.server_v4().to_string(), "--door", "ssh"])
        .args(["--step", &step.to_string(), "--length", "4", "--range", &format!("{}-{}", RANGE.0, RANGE.1)])
        .args(["--protocols", PROTOCOLS])
        .output()
        .expect("profile add");
    assert_eq!(out.status.code(), Some(0), "{}", text(&out));
}

#[test]
fn knock_cli_and_knock1_open_and_the_log_names_each_user() {
    let lab = lab_or_skip!();
    let keys = key_file(&lab, &[("alice", ALICE), ("bob", BOB)]);
    let server = lab.knock_server(&door(&lab, &keys, 4, 1), &["--state-dir", &state_dir(&lab)]);
    assert!(server.log().contains("ssh: rotating door, 2 user(s)"), "{}", server.diagnostics());

    // knock-cli, alice's [rotating] profile.
    add_profile(&lab, "alice", ALICE, 4);
    let open = cli(&lab, "alice", ALICE).args(["open", "alice", "--json"]).output().expect("open");
    assert_eq!(open.status.code(), Some(0), "{}\n{}", text(&open), server.diagnostics());
    let client: IpAddr = lab.client_v4().into();
    assert!(server.wait_for_log(&opened_line(client, "alice"), OPEN_WAIT), "{}", server.diagnostics());
    assert!(lab.wait_for_marker(client, OPEN_WAIT), "{}", server.diagnostics());

    // knock(1), fed by bob's `rotating now --reveal`.
    add_profile(&lab, "bob", BOB, 4);
    let now = cli(&lab, "bob", BOB).args(["rotating", "now", "bob", "--reveal"]).output().expect("now");
    assert_eq!(now.status.code(), Some(0), "{}", text(&now));
    let revealed = String::from_utf8_lossy(&now.stdout).into_owned();
    assert_eq!(revealed.split_whitespace().count(), 4, "{revealed}");
    let mut knock1 = lab.client_cmd("knock");
    knock1.arg(lab.server_v4().to_string()).args(revealed.split_whitespace());
    let out = knock1.output().expect("knock(1) runs");
    assert!(out.status.success(), "{}", text(&out));
    assert!(server.wait_for_log(": ssh: OPEN SESAME (user bob, window ", OPEN_WAIT), "{}", server.diagnostics());
    let log = server.log();
    for hit in revealed.split_whitespace() {
        let port = hit.split(':').next().expect("port");
        assert!(!log.contains(&format!(" {port}")), "port {port} of a sequence in the log:\n{log}");
    }
}

#[test]
fn a_knock_straddling_a_window_boundary_opens() {
    let lab = lab_or_skip!();
    let keys = key_file(&lab, &[("alice", ALICE)]);
    // Skew 0: only the current window is accepted, so only keeping the first hit's window can open this.
    let server = lab.knock_server(&door(&lab, &keys, 4, 0), &["--state-dir", &state_dir(&lab)]);
    // Start ~1 s before a window ends.
    let step = 4;
    while step - unix_now() % step != 1 {
        std::thread::sleep(Duration::from_millis(100));
    }
    std::thread::sleep(Duration::from_millis(200));
    let window = unix_now() / step;
    let hits = sequence(ALICE, step, window);
    knock(&lab, &hits[..2]);
    while unix_now() / step == window {
        std::thread::sleep(Duration::from_millis(50));
    }
    std::thread::sleep(Duration::from_millis(300));
    knock(&lab, &hits[2..]);
    let line = format!("{}{window})", opened_line(lab.client_v4().into(), "alice"));
    assert!(server.wait_for_log(&line, OPEN_WAIT), "no {line:?}\n{}", server.diagnostics());
}

#[test]
fn a_replayed_sequence_does_not_open_from_any_source_even_after_a_restart() {
    let lab = lab_or_skip!();
    let keys = key_file(&lab, &[("alice", ALICE)]);
    let step = 3600;
    not_near_the_end(step, 30);
    let config = door(&lab, &keys, step, 1);
    let state = state_dir(&lab);
    let mut server = lab.knock_server(&config, &["--state-dir", &state]);
    let window = unix_now() / step;
    let hits = sequence(ALICE, step, window);
    let client: IpAddr = lab.client_v4().into();
    knock(&lab, &hits);
    assert!(server.wait_for_log(&opened_line(client, "alice"), OPEN_WAIT), "{}", server.diagnostics());
    assert!(lab.wait_for_marker(client, OPEN_WAIT));
    fs::remove_file(lab.opened_marker(client)).expect("reset the marker");

    // The captured sequence, replayed from the same source and from a spoofed one.
    let replay = format!("ssh: replay refused: user alice already used window {window}");
    knock(&lab, &hits);
    assert!(server.wait_for_count(&replay, 1, OPEN_WAIT), "same source\n{}", server.diagnostics());
    let spoof = Ipv4Addr::new(192, 0, 2, 77);
    spoofed(&lab, spoof, &hits);
    assert!(server.wait_for_log(&format!("{spoof}: {replay}"), OPEN_WAIT), "spoofed\n{}", server.diagnostics());
    server.stop().expect("stop");

    // After a restart (same state directory) the window is still spent.
    let server = lab.knock_server(&config, &["--state-dir", &state]);
    knock(&lab, &hits);
    spoofed(&lab, spoof, &hits);
    assert!(server.wait_for_count(&replay, 2, OPEN_WAIT), "after a restart\n{}", server.diagnostics());
    std::thread::sleep(SETTLE);
    assert_eq!(server.count_in_log("OPEN SESAME"), 0, "{}", server.diagnostics());
    assert!(!lab.opened_marker(client).exists() && !lab.opened_marker(spoof.into()).exists());
    let state_file = Path::new(&state).join("rotating-used");
    assert_eq!(fs::read_to_string(&state_file).expect("state"), format!("ssh\talice\t{window}\n"));
}

#[test]
fn only_windows_within_the_skew_open_and_python_derives_the_accepted_sequence() {
    let lab = lab_or_skip!();
    let keys = key_file(&lab, &[("alice", ALICE)]);
    let step = 3600;
    not_near_the_end(step, 30);
    let server = lab.knock_server(&door(&lab, &keys, step, 1), &["--state-dir", &state_dir(&lab)]);
    let window = unix_now() / step;
    for outside in [window - 2, window + 2] {
        knock(&lab, &sequence(ALICE, step, outside));
    }
    std::thread::sleep(SETTLE);
    assert_eq!(server.count_in_log("OPEN SESAME"), 0, "{}", server.diagnostics());
    // The current window's sequence, as tests/reference/rotating.py (Python's hmac) derives it.
    let script = Path::new(env!("CARGO_MANIFEST_DIR")).join("reference/rotating.py");
    let out = Command::new("python3")
        .arg(script)
        .args([ALICE, "ssh", &unix_now().to_string(), &step.to_string(), "4", "20000-29999", PROTOCOLS, "-"])
        .output()
        .expect("python3 runs");
    assert!(out.status.success(), "{}", text(&out));
    let stdout = String::from_utf8_lossy(&out.stdout).into_owned();
    let python: Vec<String> =
        stdout.split_whitespace().nth(1).expect("sequence").split(',').map(str::to_owned).collect();
    let mut args = vec!["knock".to_owned(), "-4".to_owned(), lab.server_v4().to_string()];
    args.extend(python);
    let out = lab.run_client(knock_cli_path(), &args).expect("knock-cli");
    assert!(out.status.success(), "{}", text(&out));
    let line = format!("{}{window})", opened_line(lab.client_v4().into(), "alice"));
    assert!(server.wait_for_log(&line, OPEN_WAIT), "{}", server.diagnostics());
    assert_eq!(server.count_in_log("OPEN SESAME"), 1, "{}", server.diagnostics());
}

#[test]
fn a_revoked_user_no_longer_opens_and_keygen_adds_one() {
    let lab = lab_or_skip!();
    let keys = key_file(&lab, &[("alice", ALICE), ("bob", BOB)]);
    let step = 3600;
    not_near_the_end(step, 30);
    let server = lab.knock_server(&door(&lab, &keys, step, 1), &["--state-dir", &state_dir(&lab)]);
    let window = unix_now() / step;

    // Bob's line removed, SIGHUP: bob's sequence of this window (never used) no longer opens.
    key_file(&lab, &[("alice", ALICE)]);
    server.signal(libc::SIGHUP);
    assert!(server.wait_for_log("ssh: rotating door, 1 user(s)", OPEN_WAIT), "{}", server.diagnostics());
    knock(&lab, &sequence(BOB, step, window));
    std::thread::sleep(SETTLE);
    assert_eq!(server.count_in_log("OPEN SESAME"), 0, "revoked\n{}", server.diagnostics());

    // keygen: a new user, the URI carries the key; after SIGHUP that key opens, and the log names carol.
    let binary = knock_server_path().expect("knock-server");
    let conf = server.config_path().display().to_string();
    let host = lab.server_v4().to_string();
    let out = Command::new(&binary)
        .args(["rotating", "keygen", "-c", &conf, "ssh", "carol", "--host", &host, "--stdout"])
        .output()
        .expect("keygen");
    assert_eq!(out.status.code(), Some(0), "{}", text(&out));
    let stdout = String::from_utf8_lossy(&out.stdout).into_owned();
    assert_eq!(stdout.lines().count(), 1, "one line: {stdout}");
    let provisioning = parse_uri(stdout.trim()).expect("an import URI");
    assert_eq!((provisioning.host.as_str(), &provisioning.rotation), (host.as_str(), &rotation(step)));
    let listed = fs::read_to_string(&keys).expect("keys");
    assert!(listed.lines().any(|l| l == format!("carol {}", provisioning.key.to_base32())), "{listed}");
    assert_eq!(fs::metadata(&keys).expect("meta").permissions().mode() & 0o777, 0o600);
    let again = Command::new(&binary)
        .args(["rotating", "keygen", "-c", &conf, "ssh", "carol", "--host", &host, "--stdout"])
        .output()
        .expect("keygen");
    assert_ne!(again.status.code(), Some(0), "{}", text(&again));
    assert!(String::from_utf8_lossy(&again.stderr).contains("carol already has a key"), "{}", text(&again));
    server.signal(libc::SIGHUP);
    assert!(server.wait_for_count("ssh: rotating door, 2 user(s)", 2, OPEN_WAIT), "{}", server.diagnostics());
    let carol = provisioning.rotation.sequence(&provisioning.key, window).expect("sequence");
    knock(&lab, carol.hits());
    assert!(server.wait_for_log(&opened_line(lab.client_v4().into(), "carol"), OPEN_WAIT), "{}", server.diagnostics());
    assert_eq!(server.count_in_log("OPEN SESAME"), 1, "{}", server.diagnostics());
}

#[test]
fn keygen_then_import_uri_into_a_real_keyring_opens() {
    // The provisioning of docs/choosing.md: keygen on the server, the URI through stdin into knock-cli (the key goes to
    // the OS keyring), SIGHUP, and the profile opens the door, the log naming the new user.
    let lab = lab_or_skip!();
    let keys = key_file(&lab, &[("alice", ALICE)]);
    let step = 3600;
    not_near_the_end(step, 30);
    let server = lab.knock_server(&door(&lab, &keys, step, 1), &["--state-dir", &state_dir(&lab)]);
    let binary = knock_server_path().expect("knock-server");
    let conf = server.config_path().display().to_string();
    let uri_file = lab.dir().join("dave.uri");
    let out = Command::new(&binary)
        .args(["rotating", "keygen", "-c", &conf, "ssh", "dave", "--host", &lab.server_v4().to_string(), "--out"])
        .arg(&uri_file)
        .output()
        .expect("keygen");
    assert_eq!(out.status.code(), Some(0), "{}", text(&out));
    assert!(out.stdout.is_empty(), "the URI goes to --out only\n{}", text(&out));
    assert_eq!(fs::metadata(&uri_file).expect("uri").permissions().mode() & 0o777, 0o600);
    server.signal(libc::SIGHUP);
    assert!(server.wait_for_count("ssh: rotating door, 2 user(s)", 1, OPEN_WAIT), "{}", server.diagnostics());
    let steps = format!(
        "k() {{ {cli} --profiles-dir {dir} \"$@\"; }}; k profile import-uri - --name bastion < {uri}; \
         echo \"import=$?\"; k open bastion --json; echo \"open=$?\"",
        cli = knock_cli_path().display(),
        dir = lab.dir().join("profiles").display(),
        uri = uri_file.display(),
    );
    let Some(out) = knock_e2e::keyring_session::in_keyring_session(&lab, &steps) else { return };
    let stdout = String::from_utf8_lossy(&out.stdout).into_owned();
    assert!(stdout.contains("import=0") && stdout.contains("open=0"), "{}\n{}", text(&out), server.diagnostics());
    assert!(server.wait_for_log(&opened_line(lab.client_v4().into(), "dave"), OPEN_WAIT), "{}", server.diagnostics());
    let key = parse_uri(String::from_utf8_lossy(&fs::read(&uri_file).expect("uri")).trim()).expect("uri").key;
    let profile = fs::read_to_string(lab.dir().join("profiles/bastion.toml")).expect("profile");
    assert!(!profile.contains(&key.to_base32()), "the key is never in the profile file: {profile}");
}

/// Issue 23, item 9: the documented flow verifies. `keygen --verify-port` puts the service port into the
/// URI, the imported profile probes it after knocking (no "nothing to verify"), and `open` reports
/// `opened` because the port answered; a URI without it still imports, and `import-uri --verify-port` gives it.
#[test]
fn keygen_with_verify_port_gives_a_profile_that_verifies() {
    const GATED: u16 = 2222;
    let lab = lab_or_skip!();
    lab.server_gate_tcp_port(GATED).expect("gate");
    let _service = lab.server_tcp_listener_any(GATED).expect("listener");
    let keys = key_file(&lab, &[("alice", ALICE)]);
    let step = 3600;
    not_near_the_end(step, 30);
    let conf = door(&lab, &keys, step, 1).replace(&lab.touch_marker_command(), &Lab::gate_open_command(GATED));
    let server = lab.knock_server(&conf, &["--state-dir", &state_dir(&lab)]);
    let binary = knock_server_path().expect("knock-server");
    let config = server.config_path().display().to_string();
    let host = lab.server_v4().to_string();
    let keygen = |user: &str, extra: &[&str]| {
        let uri_file = lab.dir().join(format!("{user}.uri"));
        let out = Command::new(&binary)
            .args(["rotating", "keygen", "-c", &config, "ssh", user, "--host", &host])
            .args(extra)
            .arg("--out")
            .arg(&uri_file)
            .output()
            .expect("keygen");
        assert_eq!(out.status.code(), Some(0), "{}", text(&out));
        uri_file
    };
    let dave = keygen("dave", &["--verify-port", &GATED.to_string()]);
    let uri = fs::read_to_string(&dave).expect("uri");
    assert_eq!(parse_uri(uri.trim()).expect("uri").verify_port.map(|p| p.get()), Some(GATED), "{uri}");
    let erin = keygen("erin", &[]);
    server.signal(libc::SIGHUP);
    assert!(server.wait_for_count("ssh: rotating door, 3 user(s)", 1, OPEN_WAIT), "{}", server.diagnostics());
    let steps = format!(
        "k() {{ {cli} --profiles-dir {dir} \"$@\"; }}; k profile import-uri - --name bastion < {dave}; \
         echo \"import=$?\"; k open bastion --json > {out}; echo \"open=$?\"; \
         k profile import-uri - --name old < {erin} --verify-port {GATED}; echo \"old=$?\"; \
         k profile show old",
        cli = knock_cli_path().display(),
        dir = lab.dir().join("profiles").display(),
        dave = dave.display(),
        erin = erin.display(),
        out = lab.dir().join("open.json").display(),
    );
    let Some(out) = knock_e2e::keyring_session::in_keyring_session(&lab, &steps) else { return };
    let stdout = String::from_utf8_lossy(&out.stdout).into_owned();
    assert!(stdout.contains("import=0") && stdout.contains("old=0"), "{}\n{}", text(&out), server.diagnostics());
    let json: serde_json::Value =
        serde_json::from_slice(&fs::read(lab.dir().join("open.json")).expect("open's JSON")).expect("JSON");
    assert!(stdout.contains("open=0"), "{json:#}\n{}\n{}", text(&out), server.diagnostics());
    let profile = &json["profiles"][0];
    assert_eq!(profile["outcome"], "opened", "verified, not just sent: {json:#}");
    assert_eq!(profile["attempts"][0]["verify"]["port"], GATED, "{json:#}");
    assert_eq!(profile["attempts"][0]["verify"]["open"], true, "{json:#}");
    assert!(stdout.contains(&format!("port = {GATED}")), "the old URI's profile verifies too: {stdout}");
}

/// Runs `knock-server ARGS` (no lab: a bad configuration stops it before it captures).
fn knock_server(args: &[&str]) -> Output {
    let binary = knock_server_path().unwrap_or_else(|e| panic!("{e}"));
    Command::new(binary).args(args).stdin(Stdio::null()).output().expect("knock-server runs")
}

#[test]
fn bad_input_gives_file_line_errors_and_nothing_opens() {
    let dir = tempfile::tempdir().expect("dir");
    let keys = dir.path().join("ssh.keys");
    let conf = dir.path().join("knockd.conf");
    let marker = dir.path().join("opened");
    let write_conf = |extra: &str| {
        let text = format!(
            "[ssh]\n  Rotating_Keys = {}\n  Start_Command = touch {}\n{extra}",
            keys.display(),
            marker.display()
        );
        fs::write(&conf, text).expect("conf");
    };
    let keys_with = |text: &str, mode: u32| {
        fs::write(&keys, text).expect("keys");
        fs::set_permissions(&keys, fs::Permissions::from_mode(mode)).expect("chmod");
    };
    let conf_arg = conf.display().to_string();
    let cases: Vec<(&str, &str, u32, String)> = vec![
        ("", "alice JBSWY3DPEHPK3PXPJBSWY3DPEHPK3PXP\n", 0o644, "ssh.keys:1".into()),
        ("", "alice JBSWY3DPEHPK3PXPJBSWY3DPEHPK3PXP\nbob not!base32\n", 0o600, "ssh.keys:2".into()),
        ("", "# c\nalice JBSWY3DP\n", 0o600, "ssh.keys:2".into()),
        ("  Rotating_Range = 40000-40002\n", "", 0o600, "knockd.conf:4".into()),
        ("  Rotating_Protocols = tcp,udp\n", "", 0o600, "knockd.conf:4".into()),
        ("  Sequence = 7000,8000,9000\n", "", 0o600, "knockd.conf:4".into()),
    ];
    for (extra, key_text, mode, location) in cases {
        write_conf(extra);
        keys_with(key_text, mode);
        for args in [vec!["-c", conf_arg.as_str(), "--check"], vec!["-c", conf_arg.as_str(), "-i", "lo", "-q"]] {
            let out = knock_server(&args);
            let shown = text(&out);
            assert_ne!(out.status.code(), Some(0), "{extra:?} {key_text:?} {args:?}: {shown}");
            assert!(shown.contains(&location), "{extra:?} {key_text:?} {args:?}: no {location}: {shown}");
            assert!(!shown.contains("JBSWY3DP"), "a key in an error: {shown}");
        }
    }
    assert!(!marker.exists(), "something opened");
}

#[test]
fn bad_key_files_on_sighup_keep_the_running_users() {
    let lab = lab_or_skip!();
    let keys = key_file(&lab, &[("alice", ALICE)]);
    let step = 3600;
    not_near_the_end(step, 30);
    let server = lab.knock_server(&door(&lab, &keys, step, 1), &["--state-dir", &state_dir(&lab)]);
    fs::set_permissions(&keys, fs::Permissions::from_mode(0o644)).expect("chmod");
    server.signal(libc::SIGHUP);
    let started = Instant::now();
    assert!(server.wait_for_log("config not reloaded", OPEN_WAIT), "{}", server.diagnostics());
    assert!(server.log().contains("ssh.keys:1"), "{}", server.diagnostics());
    assert!(started.elapsed() < OPEN_WAIT);
    knock(&lab, &sequence(ALICE, step, unix_now() / step));
    assert!(server.wait_for_log(&opened_line(lab.client_v4().into(), "alice"), OPEN_WAIT), "{}", server.diagnostics());
}

#[test]
fn the_capture_filter_follows_the_windows() {
    let lab = lab_or_skip!();
    let keys = key_file(&lab, &[("alice", ALICE)]);
    let step = 2;
    // Skew 0: the filter holds windows T-2..T+1 (2 late windows, the next one), so T+4's ports do not pass yet.
    // Without the sweep guard: with it, every SYN in the door's range passes (a stray hit must be seen).
    let config = format!("{}  Sweep_Guard = off\n", door(&lab, &keys, step, 0));
    let mut server = lab.knock_server(&config, &["--state-dir", &state_dir(&lab)]);
    while !unix_now().is_multiple_of(step) {
        std::thread::sleep(Duration::from_millis(50));
    }
    let future = unix_now() / step + 4;
    let hits = sequence(ALICE, step, future);
    let before = server.counters().expect("counters");
    knock(&lab, &hits);
    std::thread::sleep(SETTLE);
    let after = server.counters().expect("counters");
    // None of the 4 packets reached the server (a few unrelated IPv6 packets may).
    let grew = |name| counter(&after, name) - counter(&before, name);
    assert!(
        grew("hits") == 0 && grew("packets") < 4,
        "a future window's ports passed the capture filter: {before:?} -> {after:?}\n{}",
        server.diagnostics()
    );
    while unix_now() / step < future {
        std::thread::sleep(Duration::from_millis(50));
    }
    std::thread::sleep(Duration::from_millis(200));
    knock(&lab, &hits);
    let line = format!("{}{future})", opened_line(lab.client_v4().into(), "alice"));
    assert!(server.wait_for_log(&line, OPEN_WAIT), "{}", server.diagnostics());
}
