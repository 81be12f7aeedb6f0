//! `knock-cli knock` against a real knockd (Debian's knockd 0.8) in the namespace lab: TCP, UDP, mixed
//! and IPv6 sequences open a door with both send methods; wrong order does not.
#![cfg(target_os = "linux")] // the namespace lab is Linux-only (see knock_e2e's crate docs)

use std::net::IpAddr;
use std::process::Output;
use std::time::Duration;

use knock_e2e::bins::knock_cli_path;
use knock_e2e::{Lab, lab_or_skip, text};

const OPEN_WAIT: Duration = Duration::from_secs(5);

/// A door `open` with `sequence` and `tcpflags = syn` whose command leaves a marker per source.
fn door(lab: &Lab, sequence: &str) -> String {
    format!(
        "[open]\n  sequence = {sequence}\n  seq_timeout = 10\n  tcpflags = syn\n  command = {}\n",
        lab.touch_marker_command()
    )
}

fn knock_cli(lab: &Lab, args: &[&str]) -> Output {
    lab.run_client(knock_cli_path(), args).expect("knock-cli runs in the client namespace")
}

/// Knocks `hits` at the server's `family` address with `method` and asserts knockd opened the door for
/// the client's address of that family.
fn assert_opens(lab: &Lab, sequence: &str, method: &str, v6: bool, hits: &[&str]) {
    let knockd = lab.start_knockd(&door(lab, sequence)).expect("knockd starts");
    let (server, client): (IpAddr, IpAddr) = if v6 {
        (lab.server_v6().into(), lab.client_v6().into())
    } else {
        (lab.server_v4().into(), lab.client_v4().into())
    };
    let server = server.to_string();
    let mut args = vec!["knock", "-v", "--method", method, server.as_str()];
    args.extend_from_slice(hits);
    let out = knock_cli(lab, &args);
    assert_eq!(out.status.code(), Some(0), "{}", text(&out));
    assert!(String::from_utf8_lossy(&out.stdout).contains("hitting "), "{}", text(&out));
    assert!(
        knockd.wait_for_log(&format!("{client}: open: OPEN SESAME"), OPEN_WAIT),
        "knockd did not open for {client}\nknockd log:\n{}\n{}",
        knockd.diagnostics(),
        text(&out)
    );
    assert!(lab.wait_for_marker(client, OPEN_WAIT), "the door command did not run\n{}", knockd.diagnostics());
}

#[test]
fn tcp_sequence_opens_knockd_raw_ipv4() {
    let lab = lab_or_skip!();
    assert_opens(&lab, "7000,8000,9000", "raw", false, &["7000", "8000", "9000"]);
}

#[test]
fn tcp_sequence_opens_knockd_connect_ipv4() {
    let lab = lab_or_skip!();
    assert_opens(&lab, "7000,8000,9000", "connect", false, &["7000", "8000", "9000"]);
}

#[test]
fn tcp_sequence_opens_knockd_raw_ipv6() {
    let lab = lab_or_skip!();
    assert_opens(&lab, "7000,8000,9000", "raw", true, &["-6", "7000,8000,9000"]);
}

#[test]
fn tcp_sequence_opens_knockd_connect_ipv6() {
    let lab = lab_or_skip!();
    assert_opens(&lab, "7000,8000,9000", "connect", true, &["-6", "7000", "8000", "9000"]);
}

#[test]
fn udp_sequence_opens_knockd_ipv4() {
    let lab = lab_or_skip!();
    assert_opens(&lab, "7000:udp,8000:udp,9000:udp", "auto", false, &["-u", "7000", "8000", "9000"]);
}

#[test]
fn udp_sequence_opens_knockd_ipv6() {
    let lab = lab_or_skip!();
    assert_opens(&lab, "7000:udp,8000:udp,9000:udp", "auto", true, &["7000:udp", "8000:UDP", "9000:Udp"]);
}

#[test]
fn mixed_sequence_opens_knockd_raw_ipv4() {
    let lab = lab_or_skip!();
    assert_opens(&lab, "7000,8000:udp,9000", "raw", false, &["7000", "8000:udp", "9000"]);
}

#[test]
fn mixed_sequence_opens_knockd_connect_ipv4() {
    let lab = lab_or_skip!();
    assert_opens(&lab, "7000,8000:udp,9000", "connect", false, &["7000,8000:udp,9000"]);
}

#[test]
fn mixed_sequence_opens_knockd_raw_ipv6() {
    let lab = lab_or_skip!();
    assert_opens(&lab, "7000:udp,8000,9000:udp", "raw", true, &["7000:udp", "8000", "9000:udp"]);
}

#[test]
fn mixed_sequence_opens_knockd_connect_ipv6() {
    let lab = lab_or_skip!();
    assert_opens(&lab, "7000:udp,8000,9000:udp", "connect", true, &["7000:udp", "8000", "9000:udp"]);
}

#[test]
fn raw_flags_open_a_door_that_wants_them() {
    let lab = lab_or_skip!();
    let conf = format!(
        "[open]\n  sequence = 7000,8000\n  seq_timeout = 10\n  tcpflags = fin,psh,urg,!syn\n  command = {}\n",
        lab.touch_marker_command()
    );
    let knockd = lab.start_knockd(&conf).expect("knockd starts");
    let server = lab.server_v4().to_string();
    // A plain SYN does not match the door's flags: knockd ignores it.
    let out = knock_cli(&lab, &["knock", "--method", "raw", &server, "7000", "8000"]);
    assert_eq!(out.status.code(), Some(0), "{}", text(&out));
    let out = knock_cli(&lab, &["knock", "--method", "raw", "--tcp-flags", "fin,psh,urg", &server, "7000", "8000"]);
    assert_eq!(out.status.code(), Some(0), "{}", text(&out));
    assert!(knockd.wait_for_log("OPEN SESAME", OPEN_WAIT), "{}", knockd.diagnostics());
    assert_eq!(knockd.count_in_log("OPEN SESAME"), 1, "only the FIN/PSH/URG knock may open\n{}", knockd.diagnostics());
}

#[test]
fn wrong_order_is_sent_but_does_not_open() {
    let lab = lab_or_skip!();
    let knockd = lab.start_knockd(&door(&lab, "7000,8000,9000")).expect("knockd starts");
    let server = lab.server_v4().to_string();
    let out = knock_cli(&lab, &["knock", &server, "9000", "8000", "7000"]);
    // Exit 0: every hit was sent. Whether a door opens is the server's decision.
    assert_eq!(out.status.code(), Some(0), "{}", text(&out));
    // Give knockd time to act on the last hit (it would have logged Stage 1 for 7000).
    assert!(knockd.wait_for_log("Stage 1", OPEN_WAIT), "{}", knockd.diagnostics());
    std::thread::sleep(Duration::from_millis(500));
    assert_eq!(knockd.count_in_log("OPEN SESAME"), 0, "{}", knockd.diagnostics());
    assert!(!lab.opened_marker(lab.client_v4().into()).exists());
}
