//! `doctor` on a `family = "both"` profile checks each family's address (issue 13, parts 2 and 3): one
//! host name with A and AAAA records (a hosts entry in the client namespace), the path, before, knock and
//! after per family against a real knockd, a conclusion per family, and the overall one from them.
#![cfg(target_os = "linux")] // the namespace lab is Linux-only (see knock_e2e's crate docs)

mod doctor_support;

use std::net::IpAddr;

use doctor_support::{GATED, doctor};
use knock_e2e::door_lab::text;
use knock_e2e::{Lab, lab_or_skip};
use serde_json::Value;

const NAME: &str = "door.lab.test";

fn add_both(lab: &Lab) {
    let args = ["profile", "add", "door", "--host", NAME, "--family", "both", "--open", "7000,8000,9000"];
    let out = lab.knock_cli(&[&args[..], &["--verify-port", "2222", "--verify-timeout", "800"]].concat());
    assert_eq!(out.status.code(), Some(0), "{}", text(&out));
}

/// The checks of one family, by name.
fn family_checks<'a>(json: &'a Value, family: &str) -> Vec<(&'a str, &'a str)> {
    json["checks"]
        .as_array()
        .map(|checks| {
            checks
                .iter()
                .filter(|c| c["family"] == family)
                .filter_map(|c| Some((c["name"].as_str()?, c["status"].as_str()?)))
                .collect()
        })
        .unwrap_or_default()
}

#[test]
fn each_family_is_checked_and_concluded_on_its_own() {
    let lab = lab_or_skip!();
    doctor_support::no_icmp_rate_limit(&lab);
    let (v4, v6): (IpAddr, IpAddr) = (lab.server_v4().into(), lab.server_v6().into());
    let _hosts = lab.client_hosts_entry(NAME, &[v6, v4]).expect("hosts entry");
    // An IPv6-only door: the IPv4 knock reaches knockd but nothing opens for it.
    let (knockd, _service) = lab.ipv6_only_knockd(GATED);
    add_both(&lab);

    let json = doctor(&lab, "door", 3, "not_acted_on");
    let resolution = &json["checks"][0];
    assert_eq!(resolution["name"], "resolution", "{json:#}");
    assert!(resolution.get("family").is_none(), "shared checks have no family: {json:#}");
    let uses = format!("the knock uses {v4}, {v6} (family both: each is knocked and verified)");
    assert!(resolution["detail"].as_str().is_some_and(|d| d.contains(&uses)), "{json:#}");
    let expected_v4 = [("path", "ok"), ("before", "ok"), ("knock", "ok"), ("after", "fail")];
    let expected_v6 = [("path", "ok"), ("before", "ok"), ("knock", "ok"), ("after", "ok")];
    assert_eq!(family_checks(&json, "ipv4"), expected_v4, "{json:#}\n{}", knockd.diagnostics());
    assert_eq!(family_checks(&json, "ipv6"), expected_v6, "{json:#}\n{}", knockd.diagnostics());
    let families = &json["families"];
    assert_eq!(families[0]["family"], "ipv4", "IPv4 first: {json:#}");
    assert_eq!(families[0]["address"], v4.to_string(), "{json:#}");
    assert_eq!(families[0]["conclusion"], "not_acted_on", "{json:#}");
    assert_eq!(families[1]["family"], "ipv6", "{json:#}");
    assert_eq!(families[1]["address"], v6.to_string(), "{json:#}");
    assert_eq!(families[1]["conclusion"], "opened", "{json:#}");

    // The text names each family's checks and conclusion.
    let out = lab.knock_cli(&["doctor", "door"]);
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(stdout.contains(&format!("[ipv6] port 2222 of {v6} before knocking: answers")), "{stdout}");
    assert!(stdout.contains(&format!("conclusion ipv4 ({v4}): not_acted_on")), "{stdout}");
    assert!(stdout.contains(&format!("conclusion ipv6 ({v6}): already_open")), "{stdout}");
    assert!(stdout.contains("conclusion: not_acted_on (check the sequence matches"), "{stdout}");
}

#[test]
fn a_door_open_in_both_families_is_opened() {
    let lab = lab_or_skip!();
    doctor_support::no_icmp_rate_limit(&lab);
    let (v4, v6): (IpAddr, IpAddr) = (lab.server_v4().into(), lab.server_v6().into());
    let _hosts = lab.client_hosts_entry(NAME, &[v4, v6]).expect("hosts entry");
    let knockd = lab.gated_knockd(GATED, "7000,8000,9000", "");
    let _service = lab.server_tcp_listener_any(GATED).expect("listener");
    add_both(&lab);
    let json = doctor(&lab, "door", 0, "opened");
    assert_eq!(json["families"][0]["conclusion"], "opened", "{json:#}");
    assert_eq!(json["families"][1]["conclusion"], "opened", "{json:#}");
    assert_eq!(knockd.count_in_log("openSSH: OPEN SESAME"), 2, "one knock per family: {}", knockd.diagnostics());
    let json = doctor(&lab, "door", 0, "already_open");
    assert_eq!(json["families"].as_array().map(Vec::len), Some(2), "{json:#}");
}

#[test]
fn a_single_family_profile_has_no_family_entries() {
    let lab = lab_or_skip!();
    doctor_support::no_icmp_rate_limit(&lab);
    doctor_support::add(&lab, "v4", &lab.server_v4().to_string(), "7000,8000,9000", &["--verify-timeout", "300"]);
    // No door and nothing listening: refused before and after.
    let json = doctor(&lab, "v4", 3, "refused_before_and_after");
    assert!(json.get("families").is_none(), "{json:#}");
    assert!(json["checks"].as_array().is_some_and(|c| c.iter().all(|c| c.get("family").is_none())), "{json:#}");
}
