//! The client side of rotating sequences on the wire: a rotating profile's knock is this window's sequence
//! as the document defines it. knockd (which does not rotate) is given, as a static door, the sequence that
//! the independent Python implementation derives for the current window; knock-cli's rotating profile opens
//! that door, so does knock(1) fed by `rotating now --reveal`, the ports are never printed unless revealed,
//! and a second open in the same window waits for the next window instead of sending a spent sequence.
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
    let knockd = lab
        .start_knockd(&format!(
            "[ssh]\n  sequence = {sequence}\n  seq_timeout = 10\n  tcpflags = syn\n  start_command = {}\n",
            Lab::gate_open_command(GATED)
        ))
        .expect("knockd");
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
    assert_eq!(open.status.code(), Some(0), "{}\n{}", text(&open), knockd.diagnostics());
    let shown = text(&open);
    assert!(shown.contains("\"outcome\": \"opened\""), "{shown}");
    for port in &ports {
        assert!(!shown.contains(port.as_str()), "port {port} printed: {shown}");
    }
    assert_eq!(knockd.count_in_log("OPEN SESAME"), 1, "{}", knockd.diagnostics());

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
    assert_eq!(knockd.count_in_log("Stage 1"), 1, "no hit of the spent sequence was sent again: {}", knockd.log());

    // knock(1), fed by `rotating now --reveal`, sends the same sequence (knockd's door opens again).
    let words = String::from_utf8_lossy(&revealed.stdout).into_owned();
    let mut knock = lab.client_cmd("knock");
    knock.arg(&server).args(words.split_whitespace());
    let out = knock.output().expect("knock(1) runs");
    assert!(out.status.success(), "{}", text(&out));
    let deadline = Instant::now() + Duration::from_secs(5);
    while knockd.count_in_log("OPEN SESAME") < 2 && Instant::now() < deadline {
        std::thread::sleep(Duration::from_millis(50));
    }
    assert_eq!(knockd.count_in_log("OPEN SESAME"), 2, "{}", knockd.diagnostics());
}
