//! `family = "both"` (issue 13, part 2): one host name with A and AAAA records (a hosts entry inside the
//! client namespace); `open` knocks and verifies each family, and `ssh` connects over a family that
//! verified even when the other did not open.
#![cfg(target_os = "linux")] // the namespace lab is Linux-only (see knock_e2e's crate docs)

use std::net::{IpAddr, SocketAddr};
use std::time::Duration;

use knock_e2e::bins::knock_cli_path;
use knock_e2e::door_lab::text;
use knock_e2e::{Lab, lab_or_skip};

const GATED: u16 = 2222;
const NAME: &str = "door.lab.test";

fn json_of(out: &std::process::Output) -> serde_json::Value {
    serde_json::from_slice(&out.stdout).unwrap_or_else(|e| panic!("stdout is one JSON document ({e}): {}", text(out)))
}

fn add_both(lab: &Lab, timeout_ms: &str) {
    let out = lab.knock_cli(&[
        "profile",
        "add",
        "door",
        "--host",
        NAME,
        "--family",
        "both",
        "--open",
        "7000,8000,9000",
        "--verify-port",
        "2222",
        "--verify-timeout",
        timeout_ms,
        "--attempts",
        "1",
    ]);
    assert_eq!(out.status.code(), Some(0), "{}", text(&out));
}

fn reachable(lab: &Lab, ip: IpAddr) -> bool {
    lab.client_connect(SocketAddr::new(ip, GATED), Duration::from_millis(500)).is_ok()
}

#[test]
fn both_families_of_one_name_are_knocked_and_verified() {
    let lab = lab_or_skip!();
    let (v4, v6): (IpAddr, IpAddr) = (lab.server_v4().into(), lab.server_v6().into());
    let _hosts = lab.client_hosts_entry(NAME, &[v6, v4]).expect("hosts entry");
    let knockd = lab.gated_knockd(GATED, "7000,8000,9000", "");
    let _service = lab.server_tcp_listener_any(GATED).expect("listener");
    add_both(&lab, "3000");
    assert!(!reachable(&lab, v4) && !reachable(&lab, v6), "both gates closed before");

    let out = lab.knock_cli(&["open", "door", "--json"]);
    assert_eq!(out.status.code(), Some(0), "{}\n{}", text(&out), knockd.diagnostics());
    let json = json_of(&out);
    let families = &json["profiles"][0]["families"];
    assert_eq!(families[0]["family"], "ipv4", "IPv4 first: {json:#}");
    assert_eq!(families[0]["address"], v4.to_string(), "{json:#}");
    assert_eq!(families[1]["address"], v6.to_string(), "{json:#}");
    assert_eq!((&families[0]["opened"], &families[1]["opened"]), (&true.into(), &true.into()), "{json:#}");
    assert!(reachable(&lab, v4) && reachable(&lab, v6), "each family's door opened for its own address");
    assert_eq!(knockd.count_in_log("openSSH: OPEN SESAME"), 2, "{}", knockd.diagnostics());

    // Both open now: nothing is sent again.
    let out = lab.knock_cli(&["open", "door", "--json"]);
    assert_eq!(json_of(&out)["profiles"][0]["outcome"], "already_open", "{}", text(&out));
}

#[test]
fn ssh_uses_a_family_that_verified() {
    let lab = lab_or_skip!();
    let (v4, v6): (IpAddr, IpAddr) = (lab.server_v4().into(), lab.server_v6().into());
    let _hosts = lab.client_hosts_entry(NAME, &[v4, v6]).expect("hosts entry");
    // An IPv6-only door: the IPv4 knock reaches knockd but nothing opens for it.
    let (knockd, _service) = lab.ipv6_only_knockd(GATED);
    add_both(&lab, "800");
    // A stand-in for ssh that records how it was called.
    let bin = lab.dir().join("bin");
    std::fs::create_dir_all(&bin).expect("bin dir");
    let record = lab.dir().join("ssh-args");
    let script = bin.join("ssh");
    std::fs::write(&script, format!("#!/bin/sh\necho \"$@\" > {}\n", record.display())).expect("script");
    std::process::Command::new("chmod").arg("+x").arg(&script).status().expect("chmod");
    let path = format!("PATH={}:{}", bin.display(), std::env::var("PATH").unwrap_or_default());
    let out = lab
        .run_client(
            "env",
            [
                path.as_str(),
                &knock_cli_path().display().to_string(),
                "--profiles-dir",
                &lab.dir().join("profiles").display().to_string(),
                "ssh",
                "door",
                "--",
                "uptime",
            ],
        )
        .expect("knock-cli ssh");
    assert_eq!(out.status.code(), Some(0), "{}\n{}", text(&out), knockd.diagnostics());
    let args = std::fs::read_to_string(&record).expect("ssh was run");
    assert_eq!(args.trim(), format!("-6 {NAME} uptime"), "ssh over the family that opened");
    assert!(reachable(&lab, v6) && !reachable(&lab, v4));
}

/// Issue 23, item 10: with `attempts = 2` and one family that never opens, the summary counts that family's
/// 2 attempts (not every family's 3), and the JSON gives each family its own outcome and attempt count.
#[test]
fn both_families_report_each_familys_own_attempts() {
    let lab = lab_or_skip!();
    let (v4, v6): (IpAddr, IpAddr) = (lab.server_v4().into(), lab.server_v6().into());
    let _hosts = lab.client_hosts_entry(NAME, &[v4, v6]).expect("hosts entry");
    let (knockd, _service) = lab.ipv6_only_knockd(GATED);
    add_both(&lab, "600");
    let out = lab.knock_cli(&["profile", "edit", "door", "--attempts", "2", "--backoff", "100"]);
    assert_eq!(out.status.code(), Some(0), "{}", text(&out));

    let out = lab.knock_cli(&["open", "door"]);
    assert_eq!(out.status.code(), Some(3), "IPv4 never opens: {}\n{}", text(&out), knockd.diagnostics());
    let said = text(&out);
    assert!(said.contains(&format!("port {GATED} of {v4} did not answer")), "{said}");
    assert!(said.contains("after 2 attempts") && !said.contains("after 3 attempts"), "{said}");
    assert!(said.contains(&format!("{v4} not opened (2 attempts)")), "{said}");
    assert!(
        said.contains(&format!("{v6} opened (1 attempt)")) || said.contains(&format!("{v6} already open")),
        "{said}"
    );

    let out = lab.knock_cli(&["open", "door", "--json", "--force"]);
    let json = json_of(&out);
    let profile = &json["profiles"][0];
    let families = &profile["families"];
    assert_eq!(families[0]["outcome"], "not_opened", "{json:#}");
    assert_eq!(families[0]["attempts"], 2, "{json:#}");
    assert_eq!(families[1]["outcome"], "opened", "{json:#}");
    assert_eq!(families[1]["attempts"], 1, "{json:#}");
    assert_eq!(profile["attempts"].as_array().map(Vec::len), Some(3), "every attempt is listed: {json:#}");
}

/// Issue 23, item 10: `close` of a dual-stack profile talks about closing each family, never "not opened".
#[test]
fn closing_both_families_reports_closing() {
    let lab = lab_or_skip!();
    let (v4, v6): (IpAddr, IpAddr) = (lab.server_v4().into(), lab.server_v6().into());
    let _hosts = lab.client_hosts_entry(NAME, &[v4, v6]).expect("hosts entry");
    let knockd = lab.gated_knockd(GATED, "7000,8000,9000", "");
    let _service = lab.server_tcp_listener_any(GATED).expect("listener");
    add_both(&lab, "3000");
    let out = lab.knock_cli(&["profile", "edit", "door", "--close", "9000,8000,7000"]);
    assert_eq!(out.status.code(), Some(0), "{}", text(&out));
    let out = lab.knock_cli(&["open", "door"]);
    assert_eq!(out.status.code(), Some(0), "{}\n{}", text(&out), knockd.diagnostics());

    let out = lab.knock_cli(&["close", "door"]);
    assert_eq!(out.status.code(), Some(0), "{}\n{}", text(&out), knockd.diagnostics());
    let said = text(&out);
    assert!(said.contains(&format!("closed {v4} and {v6} (3 hits sent to each)")), "{said}");
    assert!(!said.contains("not opened") && !said.contains("opened"), "a close is about closing: {said}");
    let deadline = std::time::Instant::now() + Duration::from_secs(5);
    while knockd.count_in_log("closeSSH: OPEN SESAME") < 2 && std::time::Instant::now() < deadline {
        std::thread::sleep(Duration::from_millis(50));
    }
    assert_eq!(knockd.count_in_log("closeSSH: OPEN SESAME"), 2, "{}", knockd.diagnostics());
    // knockd logs before it runs the command: give the close commands a moment.
    let deadline = std::time::Instant::now() + Duration::from_secs(3);
    while (reachable(&lab, v4) || reachable(&lab, v6)) && std::time::Instant::now() < deadline {
        std::thread::sleep(Duration::from_millis(100));
    }
    assert!(!reachable(&lab, v4) && !reachable(&lab, v6), "both closed: {}", knockd.diagnostics());

    let out = lab.knock_cli(&["open", "door", "--force", "--json"]);
    assert_eq!(out.status.code(), Some(0), "{}", text(&out));
    let out = lab.knock_cli(&["close", "door", "--json"]);
    let json = json_of(&out);
    let families = &json["profiles"][0]["families"];
    assert_eq!((&families[0]["outcome"], &families[1]["outcome"]), (&"closed".into(), &"closed".into()), "{json:#}");
}
