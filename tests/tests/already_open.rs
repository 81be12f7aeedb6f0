//! An open door is not knocked again (issue 13, part 1): against knockd's usual door (`iptables -I ...
//! -j ACCEPT` per knock), `open`, `proxy` and `close` leave no ACCEPT rule behind; a second `open` sends
//! no packet (the capture shows none) and reports `already_open` with exit 0; `--force` knocks anyway.
#![cfg(target_os = "linux")] // the namespace lab is Linux-only (see knock_e2e's crate docs)

use std::time::Duration;

use knock_e2e::door_lab::text;
use knock_e2e::{Lab, lab_or_skip};

const GATED: u16 = 2222;

fn json_of(out: &std::process::Output) -> serde_json::Value {
    serde_json::from_slice(&out.stdout).unwrap_or_else(|e| panic!("stdout is one JSON document ({e}): {}", text(out)))
}

fn add_bastion(lab: &Lab) {
    let server = lab.server_v4().to_string();
    let out = lab.knock_cli(&[
        "profile",
        "add",
        "bastion",
        "--host",
        &server,
        "--open",
        "7000,8000,9000",
        "--close",
        "9000,8000,7000",
        "--verify-port",
        "2222",
        "--verify-timeout",
        "3000",
    ]);
    assert_eq!(out.status.code(), Some(0), "{}", text(&out));
}

#[test]
fn open_proxy_close_leave_no_accept_rule_behind() {
    let lab = lab_or_skip!();
    let knockd = lab.gated_knockd(GATED, "7000,8000,9000", "");
    let _service = lab.server_tcp_listener_any(GATED).expect("listener");
    add_bastion(&lab);

    let out = lab.knock_cli(&["open", "bastion", "--json"]);
    assert_eq!(out.status.code(), Some(0), "{}\n{}", text(&out), knockd.diagnostics());
    assert_eq!(json_of(&out)["profiles"][0]["outcome"], "opened");
    assert_eq!(lab.server_accept_rules(GATED), 1, "{}", knockd.diagnostics());

    // As an ssh ProxyCommand: stdin is empty, so the relay ends once the echo service closes.
    let out = lab.knock_cli(&["proxy", "bastion"]);
    assert_eq!(out.status.code(), Some(0), "{}", text(&out));
    assert!(String::from_utf8_lossy(&out.stderr).contains("already open"), "{}", text(&out));
    assert_eq!(lab.server_accept_rules(GATED), 1, "proxy did not knock the open door again");

    let out = lab.knock_cli(&["close", "bastion"]);
    assert_eq!(out.status.code(), Some(0), "{}", text(&out));
    assert!(knockd.wait_for_log("closeSSH: OPEN SESAME", Duration::from_secs(5)), "{}", knockd.diagnostics());
    assert!(
        knock_e2e::wait_until(Duration::from_secs(5), || lab.server_accept_rules(GATED) == 0),
        "one close removes the one rule: {} left",
        lab.server_accept_rules(GATED)
    );
    assert_eq!(knockd.count_in_log("openSSH: OPEN SESAME"), 1, "{}", knockd.diagnostics());
}

#[test]
fn a_second_open_sends_nothing_and_force_knocks() {
    let lab = lab_or_skip!();
    let knockd = lab.gated_knockd(GATED, "7000,8000,9000", "");
    let _service = lab.server_tcp_listener_any(GATED).expect("listener");
    add_bastion(&lab);
    let out = lab.knock_cli(&["open", "bastion"]);
    assert_eq!(out.status.code(), Some(0), "{}\n{}", text(&out), knockd.diagnostics());

    let capture = lab.start_capture("tcp dst port 7000 or tcp dst port 8000 or tcp dst port 9000").expect("tcpdump");
    let out = lab.knock_cli(&["open", "bastion", "--json"]);
    let knocks = capture.stop().expect("capture");
    assert_eq!(out.status.code(), Some(0), "{}", text(&out));
    let json = json_of(&out);
    let profile = &json["profiles"][0];
    assert_eq!(profile["outcome"], "already_open", "{json:#}");
    assert_eq!(profile["exit_code"], 0, "{json:#}");
    assert_eq!(profile["already_open_check"]["state"], "answers", "{json:#}");
    assert_eq!(profile["attempts"].as_array().map(Vec::len), Some(0), "{json:#}");
    assert!(knocks.is_empty(), "no knock packet on the wire: {knocks:?}");
    let out = lab.knock_cli(&["open", "bastion"]);
    assert!(String::from_utf8_lossy(&out.stdout).contains("already open"), "{}", text(&out));

    let capture = lab.start_capture("tcp dst port 7000 or tcp dst port 8000 or tcp dst port 9000").expect("tcpdump");
    let out = lab.knock_cli(&["open", "bastion", "--force", "--json"]);
    let knocks = capture.stop().expect("capture");
    assert_eq!(out.status.code(), Some(0), "{}", text(&out));
    assert_eq!(json_of(&out)["profiles"][0]["outcome"], "opened");
    assert_eq!(knocks.iter().filter(|p| p.is_syn()).count(), 3, "--force knocks: {knocks:?}");
    assert!(
        knock_e2e::wait_until(Duration::from_secs(5), || knockd.count_in_log("openSSH: OPEN SESAME") == 2),
        "{}",
        knockd.diagnostics()
    );
}
