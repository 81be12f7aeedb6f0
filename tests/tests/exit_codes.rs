//! The exit-code contract of `knock-cli knock`, run as a user would, inside the lab's client namespace.
#![cfg(target_os = "linux")] // the namespace lab is Linux-only (see knock_e2e's crate docs)

use knock_e2e::bins::knock_cli_path;
use knock_e2e::{Lab, lab_or_skip};

fn run(lab: &Lab, args: &[&str]) -> (Option<i32>, String, String) {
    let out = lab.run_client(knock_cli_path(), args).expect("knock-cli runs");
    (
        out.status.code(),
        String::from_utf8_lossy(&out.stdout).into_owned(),
        String::from_utf8_lossy(&out.stderr).into_owned(),
    )
}

#[test]
fn unknown_host_exits_1_and_names_the_host() {
    let lab = lab_or_skip!();
    let (code, _, err) = run(&lab, &["knock", "no-such-host.invalid", "7000"]);
    assert_eq!(code, Some(1), "{err}");
    assert!(err.contains("no-such-host.invalid"), "{err}");
}

#[test]
fn unknown_host_in_json_says_network() {
    let lab = lab_or_skip!();
    let (code, out, _) = run(&lab, &["knock", "--json", "no-such-host.invalid", "7000"]);
    assert_eq!(code, Some(1));
    assert!(out.contains("\"outcome\": \"failed\"") && out.contains("\"kind\": \"network\""), "{out}");
    assert!(out.contains("\"status\": \"not_sent\""), "{out}");
    // Issue 23, item 12: nothing was sent, so by no method.
    assert!(out.contains("\"tcp_method\": null"), "{out}");
}

/// Issue 23, item 12: the knock(1)-compatible `knock --json` (the `knock` link) says the same.
#[test]
fn unknown_host_through_the_knock_link_reports_no_tcp_method() {
    let lab = lab_or_skip!();
    let link = lab.dir().join("knock");
    std::os::unix::fs::symlink(knock_cli_path(), &link).expect("knock link");
    let out = lab.run_client(&link, ["--json", "no-such-host.invalid", "7000"]).expect("knock runs");
    let json: serde_json::Value = serde_json::from_slice(&out.stdout).expect("one JSON document");
    assert_eq!(out.status.code(), Some(1), "{json:#}");
    assert_eq!(json["tcp_method"], serde_json::Value::Null, "nothing was sent: {json:#}");
    assert_eq!(json["hits"][0]["status"], "not_sent", "{json:#}");
}

#[test]
fn invalid_input_exits_2_and_names_the_token() {
    let lab = lab_or_skip!();
    let server = lab.server_v4().to_string();
    for (args, needle) in [
        (vec!["knock", server.as_str(), "7000:foo"], "\"7000:foo\""),
        (vec!["knock", server.as_str(), "70000"], "\"70000\""),
        (vec!["knock", server.as_str(), "0"], "\"0\""),
        (vec!["knock", server.as_str(), "7000,,8000"], "\"7000,,8000\""),
        (vec!["knock", "--tcp-flags", "syn,ecn", server.as_str(), "7000"], "\"ecn\""),
        (vec!["knock", "--method", "connect", "--tcp-flags", "fin", server.as_str(), "7000"], "method raw"),
        (vec!["knock", "-6", server.as_str(), "7000"], "no ipv6 address"),
        (vec!["knock", "--method", "carrier-pigeon", server.as_str(), "7000"], "carrier-pigeon"),
        (vec!["knock", server.as_str()], "PORT"),
    ] {
        let (code, _, err) = run(&lab, &args);
        assert_eq!(code, Some(2), "{args:?}: {err}");
        assert!(err.contains(needle), "{args:?} must mention {needle}: {err}");
    }
}

#[test]
fn unreachable_network_exits_1() {
    let lab = lab_or_skip!();
    // The client namespace has no route to this documentation address.
    let (code, _, err) = run(&lab, &["knock", "--method", "connect", "198.51.100.7", "7000"]);
    assert_eq!(code, Some(1), "{err}");
    assert!(err.contains("hit 1 of 1 (7000:tcp)"), "{err}");
}

#[test]
fn raw_without_privilege_exits_1_and_says_how_to_grant() {
    let lab = lab_or_skip!();
    let server = lab.server_v4().to_string();
    // Drop every capability but keep root's uid: exactly "not permitted" for raw sockets.
    let out = lab
        .client_cmd("setpriv")
        .args(["--inh-caps=-all", "--bounding-set=-all", "--"])
        .arg(knock_cli_path())
        .args(["knock", "--tcp-flags", "syn,ack", server.as_str(), "7000"])
        .output()
        .expect("setpriv runs");
    let err = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(1), "{err}");
    assert!(err.contains("setcap cap_net_raw+ep"), "{err}");

    // Plain SYNs still work unprivileged: auto falls back to connect.
    let out = lab
        .client_cmd("setpriv")
        .args(["--inh-caps=-all", "--bounding-set=-all", "--"])
        .arg(knock_cli_path())
        .args(["knock", "--json", server.as_str(), "7000"])
        .output()
        .expect("setpriv runs");
    let json = String::from_utf8_lossy(&out.stdout);
    assert_eq!(out.status.code(), Some(0), "{json}");
    assert!(json.contains("\"tcp_method\": \"connect\""), "{json}");
}
