//! `doctor` proves that UDP hits arrived (issue 13, part 3: "a UDP hit answered by ICMP port unreachable
//! proves it arrived; say so"): against a real knockd whose door has UDP hits, the server's kernel answers
//! each hit with a port unreachable (knockd captures packets, it has no socket on the port), which the
//! client reads from the sending socket's error queue (IP_RECVERR). A hit the server's firewall drops gets
//! no answer, and the others still prove the server is reachable.
#![cfg(target_os = "linux")] // the namespace lab is Linux-only (see knock_e2e's crate docs)

mod doctor_support;

use doctor_support::{GATED, add, assert_check, doctor};
use knock_e2e::bins::knock_cli_path;
use knock_e2e::door_lab::text;
use knock_e2e::{Lab, lab_or_skip};

const UDP_DOOR: &str = "7000:udp,8000:udp,9000:udp";

#[test]
fn udp_hits_that_reach_the_server_are_proven_by_port_unreachable() {
    let lab = lab_or_skip!();
    doctor_support::no_icmp_rate_limit(&lab);
    let knockd = lab.gated_knockd(GATED, UDP_DOOR, "");
    let _service = lab.server_tcp_listener_any(GATED).expect("listener");
    add(&lab, "udp", &lab.server_v4().to_string(), UDP_DOOR, &[]);
    let json = doctor(&lab, "udp", 0, "opened");
    let server = lab.server_v4();
    for (n, port) in [(1, 7000), (2, 8000), (3, 9000)] {
        let seen = format!("hit {n} ({port}:udp): arrived (port unreachable came back from {server})");
        assert_check(&json, "udp_arrival", "ok", &seen, "");
    }
    assert_check(&json, "udp_arrival", "ok", &format!("every UDP datagram reached {server}"), "");
    assert_eq!(knockd.count_in_log("openSSH: OPEN SESAME"), 1, "{}", knockd.diagnostics());
}

#[test]
fn a_hit_the_server_filters_gets_no_answer_and_the_others_prove_it_is_reachable() {
    let lab = lab_or_skip!();
    doctor_support::no_icmp_rate_limit(&lab);
    let knockd = lab.gated_knockd(GATED, UDP_DOOR, "");
    let _service = lab.server_tcp_listener_any(GATED).expect("listener");
    // The server drops the second hit (knockd still sees it: it captures before the firewall).
    let out = lab
        .run_server("iptables", ["-w", "5", "-I", "INPUT", "-p", "udp", "--dport", "8000", "-j", "DROP"])
        .expect("iptables");
    assert!(out.status.success(), "{}", text(&out));
    add(&lab, "udp", &lab.server_v4().to_string(), UDP_DOOR, &[]);
    let json = doctor(&lab, "udp", 0, "opened");
    assert_check(&json, "udp_arrival", "ok", "hit 2 (8000:udp): no answer (normal for a filtered port)", "");
    assert_check(&json, "udp_arrival", "ok", "hit 3 (9000:udp): arrived (port unreachable came back", "");
    let reachable = format!("{} is reachable; the unanswered ones were filtered", lab.server_v4());
    assert_check(&json, "udp_arrival", "ok", &reachable, "");
    assert_eq!(knockd.count_in_log("openSSH: OPEN SESAME"), 1, "{}", knockd.diagnostics());
}

#[test]
fn a_wrong_udp_sequence_arrived_but_was_not_acted_on() {
    let lab = lab_or_skip!();
    doctor_support::no_icmp_rate_limit(&lab);
    let _knockd = lab.gated_knockd(GATED, UDP_DOOR, "");
    let _service = lab.server_tcp_listener_any(GATED).expect("listener");
    add(&lab, "wrong", &lab.server_v4().to_string(), "7000:udp,8001:udp,9000:udp", &["--verify-timeout", "800"]);
    let json = doctor(&lab, "wrong", 3, "not_acted_on");
    assert_check(&json, "udp_arrival", "ok", "every UDP datagram reached", "");
    assert_check(
        &json,
        "after",
        "fail",
        "the UDP hits arrived, so the server's host got the knock",
        "check the sequence matches",
    );
}

#[test]
fn a_secret_udp_sequence_is_proven_to_arrive_without_showing_its_ports() {
    let lab = lab_or_skip!();
    doctor_support::no_icmp_rate_limit(&lab);
    let _knockd = lab.gated_knockd(GATED, UDP_DOOR, "");
    let _service = lab.server_tcp_listener_any(GATED).expect("listener");
    let server = lab.server_v4().to_string();
    let out = lab.knock_cli(&[
        "profile",
        "add",
        "ci",
        "--host",
        &server,
        "--open-env",
        "DOOR_SEQUENCE",
        "--verify-port",
        "2222",
    ]);
    assert_eq!(out.status.code(), Some(0), "{}", text(&out));
    let dir = lab.dir().join("profiles").display().to_string();
    for json in [true, false] {
        let mut cmd = lab.client_cmd(knock_cli_path());
        cmd.env("DOOR_SEQUENCE", UDP_DOOR).args(["--profiles-dir", &dir, "doctor", "ci"]);
        if json {
            cmd.arg("--json");
        }
        let out = cmd.output().expect("knock-cli runs");
        let all = text(&out);
        assert!(all.contains("hit 2 (*:udp): arrived (port unreachable came back"), "{all}");
        for port in ["7000", "8000", "9000"] {
            assert!(!knock_e2e::mentions_number(&all, port), "port {port} of the secret sequence leaked: {all}");
        }
        assert_eq!(out.status.code(), Some(0), "opened: {all}");
        // Close the door again for the next run (as knockd's close would).
        lab.run_door_command(&Lab::gate_close_command(GATED), lab.client_v4().into()).expect("door closed");
    }
}

#[test]
fn a_router_that_refuses_the_hits_is_named_as_dropping_them_on_the_way() {
    let lab = lab_or_skip!();
    doctor_support::no_icmp_rate_limit(&lab);
    // The server namespace routes for an address of the lab's subnet that no namespace has, and refuses
    // to forward to it: like a router on the way answering "host unreachable". Nothing leaves the lab.
    let behind = "192.0.2.50";
    let server = lab.server_v4().to_string();
    let steps: [(bool, &[&str]); 3] = [
        (false, &["ip", "route", "add", &format!("{behind}/32"), "via", &server]),
        (true, &["sysctl", "-q", "-w", "net.ipv4.ip_forward=1"]),
        (true, &["ip", "route", "add", "unreachable", &format!("{behind}/32")]),
    ];
    for (on_server, step) in steps {
        let out = if on_server { lab.run_server(step[0], &step[1..]) } else { lab.run_client(step[0], &step[1..]) };
        let out = out.expect("step runs");
        assert!(out.status.success(), "{step:?}: {}", text(&out));
    }
    // No verify port: the verify probe would stop at the unreachable before any hit is sent.
    let out = lab.knock_cli(&["profile", "add", "far", "--host", behind, "--open", UDP_DOOR]);
    assert_eq!(out.status.code(), Some(0), "{}", text(&out));
    let json = doctor(&lab, "far", 0, "unverified");
    let dropped = format!("hit 1 (7000:udp): dropped on the way: host unreachable from {server}");
    assert_check(&json, "udp_arrival", "warn", &dropped, "the packets do not reach the server");
    assert_check(&json, "udp_arrival", "warn", "all were dropped before reaching the server", "");
}
