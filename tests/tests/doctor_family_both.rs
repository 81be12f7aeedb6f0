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

/// Issue 23, item 11: a `family = any` profile on a name with A and AAAA records, whose server opens for
/// one family only. The family `any` picks first does not open; doctor knocks the other family's address,
/// which opens, and concludes `wrong_family` with the `family` setting to use (not "check the sequence").
#[test]
fn any_family_that_does_not_open_tries_the_other_and_names_the_family_to_set() {
    let lab = lab_or_skip!();
    doctor_support::no_icmp_rate_limit(&lab);
    let (v4, v6): (IpAddr, IpAddr) = (lab.server_v4().into(), lab.server_v6().into());
    let _hosts = lab.client_hosts_entry(NAME, &[v4, v6]).expect("hosts entry");
    // The address `any` uses is the resolver's first (getaddrinfo's order, as `getent ahosts` prints it).
    let out = lab.run_client("getent", ["ahosts", NAME]).expect("getent");
    let listing = String::from_utf8_lossy(&out.stdout).into_owned();
    let first: IpAddr =
        listing.split_whitespace().next().and_then(|a| a.parse().ok()).unwrap_or_else(|| panic!("getent: {listing}"));
    // A door for the other family only: the knock over the first family reaches knockd, nothing opens.
    let (knockd, _service, works) = if first.is_ipv4() {
        let (knockd, service) = lab.ipv6_only_knockd(GATED);
        (knockd, service, "ipv6")
    } else {
        lab.server_gate_tcp_port(GATED).expect("gate");
        let conf = format!(
            "[openSSH]\n  sequence = 7000,8000,9000\n  seq_timeout = 10\n  tcpflags = syn\n  start_command = {}\n",
            Lab::gate_open_command(GATED)
        );
        let knockd = lab.start_knockd(&conf).expect("knockd");
        (knockd, lab.server_tcp_listener_any(GATED).expect("listener"), "ipv4")
    };
    let args = ["profile", "add", "door", "--host", NAME, "--open", "7000,8000,9000", "--verify-port", "2222"];
    let out = lab.knock_cli(&[&args[..], &["--verify-timeout", "800"]].concat());
    assert_eq!(out.status.code(), Some(0), "{}", text(&out));

    let json = doctor(&lab, "door", 3, "wrong_family");
    let family = doctor_support::check(&json, "family");
    assert_eq!(family["status"], "fail", "{json:#}\n{}", knockd.diagnostics());
    let advice = family["advice"].as_str().unwrap_or_default();
    assert!(advice.contains(&format!("family = \"{works}\"")), "{json:#}");
    assert!(advice.contains(&format!("--family {works}")), "{json:#}");
    assert!(!advice.contains("check the sequence"), "{json:#}");
    let other = if works == "ipv4" { "ipv6" } else { "ipv4" };
    assert_eq!(family_checks(&json, other).last(), Some(&("after", "fail")), "{json:#}");
    assert_eq!(family_checks(&json, works).last(), Some(&("after", "ok")), "{json:#}");
    let out = lab.knock_cli(&["doctor", "door"]);
    let said = String::from_utf8_lossy(&out.stdout);
    assert!(said.contains("conclusion: wrong_family (set the profile's family"), "{said}");
}

/// Issue 23, item 11: a profile asking for a family the host does not have is invalid input for doctor
/// as for `open`: one conclusion, exit 2 from both.
#[test]
fn no_address_in_the_family_exits_2_from_open_and_doctor() {
    let lab = lab_or_skip!();
    let v4 = lab.server_v4().to_string();
    let args = ["profile", "add", "v6only", "--host", &v4, "--family", "ipv6", "--open", "7000", "--verify-port", "22"];
    let out = lab.knock_cli(&args);
    assert_eq!(out.status.code(), Some(0), "{}", text(&out));
    let open = lab.knock_cli(&["open", "v6only"]);
    assert_eq!(open.status.code(), Some(2), "{}", text(&open));
    let json = doctor(&lab, "v6only", 2, "no_address_in_family");
    assert_eq!(doctor_support::check(&json, "resolution")["status"], "fail", "{json:#}");
}
