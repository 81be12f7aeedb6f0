//! `knock-cli doctor NAME --json` in each situation the lab can build (issue 13, part 3), against a real
//! knockd whose door gates a port with iptables: each asserts the conclusion, the failing check's verdict
//! and its advice. The NAT case puts the client behind a real source NAT in front of a real fwknopd.
#![cfg(target_os = "linux")] // the namespace lab is Linux-only (see knock_e2e's crate docs)

mod doctor_support;

use doctor_support::{GATED, add, assert_check, check, doctor, doctor_spa, json_of, start_fwknopd};
use knock_e2e::bins::knock_cli_path;
use knock_e2e::door_lab::text;
use knock_e2e::lab_or_skip;

#[test]
fn a_good_profile_opens_and_an_open_door_is_not_knocked() {
    let lab = lab_or_skip!();
    let knockd = lab.gated_knockd(GATED, "7000,8000,9000", "");
    let _service = lab.server_tcp_listener_any(GATED).expect("listener");
    add(&lab, "good", &lab.server_v4().to_string(), "7000,8000,9000", &[]);
    let json = doctor(&lab, "good", 0, "opened");
    for name in ["resolution", "path", "privilege", "before", "knock", "after"] {
        assert_eq!(check(&json, name)["status"], "ok", "{json:#}\n{}", knockd.diagnostics());
    }
    assert_check(&json, "before", "ok", "no answer", "");
    assert_check(&json, "knock", "ok", "3 hits sent", "");
    let json = doctor(&lab, "good", 0, "already_open");
    // Issue 23, item 11: answering before any knock is a warning (the door may protect nothing).
    assert_check(&json, "before", "warn", "answers", "the door protects nothing");
    assert_check(&json, "before", "warn", "answers", "not knocking an open door");
    assert!(json["checks"].as_array().is_some_and(|c| !c.iter().any(|c| c["name"] == "knock")), "{json:#}");
    assert_eq!(knockd.count_in_log("openSSH: OPEN SESAME"), 1, "{}", knockd.diagnostics());
}

#[test]
fn a_wrong_sequence_is_filtered_before_and_after() {
    let lab = lab_or_skip!();
    let _knockd = lab.gated_knockd(GATED, "7000,8000,9000", "");
    let _service = lab.server_tcp_listener_any(GATED).expect("listener");
    add(&lab, "wrong", &lab.server_v4().to_string(), "7001,8000,9000", &["--verify-timeout", "800"]);
    let json = doctor(&lab, "wrong", 3, "not_acted_on");
    assert_check(&json, "before", "ok", "no answer", "");
    assert_check(&json, "after", "fail", "filtered before and after", "check the sequence matches");
}

#[test]
fn a_rst_after_the_knock_means_nothing_listens() {
    let lab = lab_or_skip!();
    let _knockd = lab.gated_knockd(GATED, "7000,8000,9000", "");
    // No service on the gated port: once the door opens, the server's kernel answers with a RST.
    add(&lab, "nolisten", &lab.server_v4().to_string(), "7000,8000,9000", &["--verify-timeout", "1500"]);
    let json = doctor(&lab, "nolisten", 3, "not_listening");
    assert_check(&json, "after", "fail", "RST after", "start the service on port 2222");
}

#[test]
fn a_server_that_is_down_is_unreachable() {
    let lab = lab_or_skip!();
    // On the lab's link, but nobody has it: ARP fails and the kernel reports the host unreachable.
    add(&lab, "down", "192.0.2.99", "7000,8000,9000", &["--verify-timeout", "5000"]);
    let json = doctor(&lab, "down", 3, "server_unreachable");
    let after = check(&json, "after");
    assert_eq!(after["status"], "fail", "{json:#}");
    assert!(after["detail"].as_str().is_some_and(|d| d.contains("unreachable")), "{json:#}");
    assert!(after["advice"].as_str().is_some_and(|a| a.contains("check it is up")), "{json:#}");
}

#[test]
fn a_door_slower_than_the_verify_timeout_opened_late() {
    let lab = lab_or_skip!();
    let knockd = lab.gated_knockd(GATED, "7000,8000,9000", "sleep 2; ");
    let _service = lab.server_tcp_listener_any(GATED).expect("listener");
    add(&lab, "slow", &lab.server_v4().to_string(), "7000,8000,9000", &["--verify-timeout", "1000"]);
    let json = doctor(&lab, "slow", 0, "opened_late");
    assert_check(&json, "after", "warn", "answered after", "--verify-timeout");
    drop(knockd);
}

#[test]
fn a_flags_profile_without_raw_privilege_says_how_to_grant() {
    let lab = lab_or_skip!();
    add(&lab, "flags", &lab.server_v4().to_string(), "7000,8000,9000", &["--tcp-flags", "fin,!ack"]);
    // Every capability dropped, root's uid kept: exactly "raw sockets not permitted".
    let out = lab
        .client_cmd("setpriv")
        .args(["--inh-caps=-all", "--bounding-set=-all", "--"])
        .arg(knock_cli_path())
        .args(["--profiles-dir", &lab.dir().join("profiles").display().to_string(), "doctor", "flags", "--json"])
        .output()
        .expect("setpriv runs");
    let json = json_of(&out);
    assert_eq!(json["conclusion"], "needs_raw_privilege", "{json:#}");
    assert_eq!(out.status.code(), Some(1), "{json:#}");
    assert_check(&json, "privilege", "fail", "needs raw sockets", "setcap cap_net_raw+ep");
}

#[test]
fn an_unresolvable_host_is_named() {
    let lab = lab_or_skip!();
    add(&lab, "nohost", "no-such-host.invalid", "7000,8000,9000", &[]);
    let json = doctor(&lab, "nohost", 1, "unresolvable");
    assert_check(&json, "resolution", "fail", "no-such-host.invalid", "check the host name");
    assert_eq!(json["checks"].as_array().map(Vec::len), Some(1), "nothing after a failed resolution: {json:#}");
}

#[test]
fn the_text_output_names_the_conclusion_and_the_advice() {
    let lab = lab_or_skip!();
    add(&lab, "nohost", "no-such-host.invalid", "7000,8000,9000", &[]);
    let out = lab.knock_cli(&["doctor", "nohost"]);
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert_eq!(out.status.code(), Some(1), "{}", text(&out));
    assert!(stdout.contains("fail  resolution"), "{stdout}");
    assert!(stdout.contains("conclusion: unresolvable (check the host name"), "{stdout}");
}

#[test]
fn spa_naming_a_private_address_behind_a_nat_does_not_open() {
    let lab = lab_or_skip!();
    lab.client_behind_nat().expect("NAT");
    lab.server_gate_tcp_port(GATED).expect("gate");
    let _service = lab.server_tcp_listener_any(GATED).expect("listener");
    let (fwknopd, key, hmac) = start_fwknopd(&lab);
    let server = lab.server_v4().to_string();
    let args = ["profile", "add", "fw", "--spa", "--host", &server, "--access", "tcp/2222", "--verify-port", "2222"];
    let out = lab.knock_cli(&[&args[..], &["--verify-timeout", "1500"]].concat());
    assert_eq!(out.status.code(), Some(0), "{}", text(&out));

    let (out, json) = doctor_spa(&lab, &key, &hmac, &[]);
    assert_eq!(json["conclusion"], "nat_for_spa", "{json:#}\n{}\n{}", text(&out), fwknopd.log());
    assert_eq!(out.status.code(), Some(3), "{json:#}");
    assert_check(&json, "path", "fail", knock_e2e::nat::PRIVATE_SOURCE, "allow_ip = \"source\"");
    assert_check(&json, "after", "fail", "no answer", "allow_ip = \"source\" or \"discover\"");

    // Following the advice opens the door.
    let out = lab.knock_cli(&["profile", "edit", "fw", "--allow-source"]);
    assert_eq!(out.status.code(), Some(0), "{}", text(&out));
    let (out, json) = doctor_spa(&lab, &key, &hmac, &[]);
    assert_eq!(json["conclusion"], "opened", "{json:#}\n{}\n{}", text(&out), fwknopd.log());
    assert_check(&json, "path", "ok", "NAT", "");
}

/// Issue 23, item 11: a verify port that answers with no door in front of it (nothing filters it) is a
/// warning: the door protects nothing.
#[test]
fn a_port_that_answers_without_any_knock_is_a_warning() {
    let lab = lab_or_skip!();
    let _service = lab.server_tcp_listener_any(GATED).expect("listener");
    add(&lab, "wideopen", &lab.server_v4().to_string(), "7000,8000,9000", &[]);
    let json = doctor(&lab, "wideopen", 0, "already_open");
    assert_check(&json, "before", "warn", "answers", "protects nothing");
    let out = lab.knock_cli(&["doctor", "wideopen"]);
    let said = String::from_utf8_lossy(&out.stdout);
    assert!(said.contains("warn  before") && said.contains("protects nothing"), "{said}");
}
