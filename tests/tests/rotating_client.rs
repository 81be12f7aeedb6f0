//! The client side of rotating sequences on the wire: a rotating profile's knock is this window's sequence
//! as the document defines it. knock-server has a rotating door with this key; `rotating now --reveal`
//! prints the sequence the independent Python implementation derives for the current window; knock-cli's
//! rotating profile opens the door, the ports are never printed unless revealed, a second open in the same
//! window waits for the next window instead of sending a spent sequence, and knock(1) fed by `rotating now
//! --reveal` afterwards sends that spent sequence, which the server refuses as a replay.
#![cfg(target_os = "linux")] // the namespace lab is Linux-only (see knock_e2e's crate docs)

use std::path::Path;
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use knock_e2e::bins::knock_cli_path;
use knock_e2e::text;
use knock_e2e::{Lab, lab_or_skip};

const KEY: &str = "GEZDGNBVGY3TQOJQGEZDGNBVGY3TQOJQGEZDGNBVGY3TQOJQGEZA";
/// A long window, so the test never straddles a boundary (it waits out the last 20 s of one if needed).
const STEP: u64 = 3600;
const GATED: u16 = 2222;

fn unix_now() -> u64 {
    std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).map_or(0, |d| d.as_secs())
}

/// This window's sequence by tests/reference/rotating.py, as `PORT:PROTO,...`.
fn python_sequence(now: u64) -> String {
    let script = Path::new(env!("CARGO_MANIFEST_DIR")).join("../tests/reference/rotating.py");
    let out = Command::new("python3")
        .arg(script)
        .args([KEY, "ssh", &now.to_string(), &STEP.to_string(), "3", "20000-20999", "tcp,udp,tcp", "-"])
        .output()
        .expect("python3 runs");
    assert!(out.status.success(), "{}", text(&out));
    String::from_utf8_lossy(&out.stdout).split_whitespace().nth(1).expect("sequence").to_owned()
}

fn cli(lab: &Lab) -> Command {
    let mut command = lab.client_cmd(knock_cli_path());
    command.arg("--profiles-dir").arg(lab.dir().join("profiles")).env("KNOCK_ROTATING_KEY_R", KEY).stdin(Stdio::null());
    command
}

#[test]
fn a_rotating_profile_knocks_this_windows_sequence_and_never_a_spent_one() {
    let lab = lab_or_skip!();
    if STEP - unix_now() % STEP < 20 {
        std::thread::sleep(Duration::from_secs(STEP - unix_now() % STEP + 1));
    }
    let sequence = python_sequence(unix_now());
    let ports: Vec<String> = sequence.split(',').map(|hit| hit.split(':').next().expect("port").to_owned()).collect();
    lab.server_gate_tcp_port(GATED).expect("gate");
    let _service = lab.server_tcp_listener_any(GATED).expect("listener");
    let keys = lab.dir().join("ssh.keys");
    std::fs::write(&keys, format!("r {KEY}\n")).expect("keys");
    std::fs::set_permissions(&keys, std::os::unix::fs::PermissionsExt::from_mode(0o600)).expect("chmod");
    let state = lab.dir().join("state");
    std::fs::create_dir_all(&state).expect("state dir");
    let knock_server = lab
        .start_knock_server(
            &format!(
                "[ssh]\n  Rotating_Keys = {}\n  Rotating_Step = {STEP}\n  Rotating_Length = 3\n  \
                 Rotating_Range = 20000-20999\n  Rotating_Protocols = tcp,udp,tcp\n  Seq_Timeout = 10\n  \
                 TCPFlags = syn\n  Start_Command = {}\n",
                keys.display(),
                Lab::gate_open_command(GATED)
            ),
            &["--state-dir", &state.display().to_string()],
        )
        .expect("knock-server");
    let server = lab.server_v4().to_string();
    let add = cli(&lab)
        .args(["profile", "add", "r", "--rotating", "--host", &server, "--door", "ssh", "--step", "3600"])
        .args(["--length", "3", "--range", "20000-20999", "--protocols", "tcp,udp,tcp", "--verify-port", "2222"])
        .args(["--verify-timeout", "3000", "--attempts", "1"])
        .output()
        .expect("add");
    assert_eq!(add.status.code(), Some(0), "{}", text(&add));

    // The ports are masked unless revealed; revealed, they are the document's sequence, as knock(1) words.
    let masked = cli(&lab).args(["rotating", "now", "r"]).output().expect("now");
    assert_eq!(String::from_utf8_lossy(&masked.stdout).trim(), "*:tcp *:udp *:tcp", "{}", text(&masked));
    assert!(String::from_utf8_lossy(&masked.stderr).contains("s left in this window"), "{}", text(&masked));
    let revealed = cli(&lab).args(["rotating", "now", "r", "--reveal"]).output().expect("now --reveal");
    assert_eq!(String::from_utf8_lossy(&revealed.stdout).trim(), sequence.replace(',', " "), "{}", text(&revealed));

    // knock-cli opens the door with this window's sequence; no port of it is printed.
    let open = cli(&lab).args(["open", "r", "--json", "-v"]).output().expect("open");
    assert_eq!(open.status.code(), Some(0), "{}\n{}", text(&open), knock_server.diagnostics());
    let shown = text(&open);
    assert!(shown.contains("\"outcome\": \"opened\""), "{shown}");
    for port in &ports {
        assert!(!shown.contains(port.as_str()), "port {port} printed: {shown}");
    }
    assert!(
        knock_server.wait_for_log("ssh: OPEN SESAME (user r, window", Duration::from_secs(5)),
        "{}",
        knock_server.diagnostics()
    );

    // A second open in the same window does not send the spent sequence: it waits for the next window.
    let started = Instant::now();
    let mut second =
        // --force: the door is open, and the point is what a knock in a spent window does.
        cli(&lab).args(["open", "r", "--force"]).stdout(Stdio::piped()).stderr(Stdio::piped()).spawn().expect("spawn");
    std::thread::sleep(Duration::from_secs(2));
    let _ = second.kill();
    let second = second.wait_with_output().expect("wait");
    assert!(started.elapsed() < Duration::from_secs(30));
    assert!(
        String::from_utf8_lossy(&second.stderr).contains("waiting") && second.status.code() != Some(0),
        "{}",
        text(&second)
    );
    assert_eq!(
        knock_server.count_in_log("Stage 1"),
        1,
        "no hit of the spent sequence was sent again: {}",
        knock_server.log()
    );

    // knock(1), fed by `rotating now --reveal`, sends the same (now spent) sequence: refused as a replay.
    let words = String::from_utf8_lossy(&revealed.stdout).into_owned();
    let mut knock = lab.client_cmd("knock");
    knock.arg(&server).args(words.split_whitespace());
    let out = knock.output().expect("knock(1) runs");
    assert!(out.status.success(), "{}", text(&out));
    let deadline = Instant::now() + Duration::from_secs(5);
    while knock_server.count_in_log("replay refused: user r already used window") < 1 && Instant::now() < deadline {
        std::thread::sleep(Duration::from_millis(50));
    }
    assert_eq!(
        knock_server.count_in_log("replay refused: user r already used window"),
        1,
        "{}",
        knock_server.diagnostics()
    );
    assert_eq!(knock_server.count_in_log("OPEN SESAME"), 1, "{}", knock_server.diagnostics());
}
