//! `doctor` measures the path MTU for an SPA packet instead of assuming 1232 bytes (issue 13, part 3:
//! "packet size against the path MTU"): the client's veth gets a lower MTU, and the `spa_packet` check
//! reads the kernel's path MTU through a connected UDP socket with DF set (IP_MTU_DISCOVER, IP_MTU), then
//! says whether the packet a real fwknopd is sent fits.
#![cfg(target_os = "linux")] // the namespace lab is Linux-only (see knock_e2e's crate docs)

mod doctor_support;

use doctor_support::{GATED, assert_check, doctor_spa, start_fwknopd};
use knock_e2e::door_lab::text;
use knock_e2e::{Lab, lab_or_skip};

fn set_client_mtu(lab: &Lab, mtu: u16) {
    let mtu = mtu.to_string();
    let out = lab.run_client("ip", ["link", "set", "dev", lab.client_iface(), "mtu", &mtu]).expect("ip link");
    assert!(out.status.success(), "{}", text(&out));
}

fn add_spa(lab: &Lab, access: &str, extra: &[&str]) {
    let server = lab.server_v4().to_string();
    let args = ["profile", "add", "fw", "--spa", "--host", &server, "--access", access, "--verify-port", "2222"];
    let out = lab.knock_cli(&[&args[..], &["--allow-source", "--verify-timeout", "1500"], extra].concat());
    assert_eq!(out.status.code(), Some(0), "{}", text(&out));
}

#[test]
fn an_spa_packet_that_fits_a_1280_link_says_so_with_the_measured_mtu() {
    let lab = lab_or_skip!();
    doctor_support::no_icmp_rate_limit(&lab);
    lab.server_gate_tcp_port(GATED).expect("gate");
    let _service = lab.server_tcp_listener_any(GATED).expect("listener");
    let (fwknopd, key, hmac) = start_fwknopd(&lab);
    set_client_mtu(&lab, 1280);
    add_spa(&lab, "tcp/2222", &[]);
    let (out, json) = doctor_spa(&lab, &key, &hmac, &[]);
    assert_eq!(json["conclusion"], "opened", "{json:#}\n{}\n{}", text(&out), fwknopd.log());
    let towards = format!("fits the path MTU of 1280 towards {}", lab.server_v4());
    assert_check(&json, "spa_packet", "ok", &towards, "");
}

#[test]
fn every_spa_packet_fits_a_576_link() {
    // fwknopd takes no Rijndael packet of 400 characters or more (knock-cli refuses to build one), so
    // every SPA packet fits a 576-byte link: only a link below the packet's size makes it warn.
    let lab = lab_or_skip!();
    doctor_support::no_icmp_rate_limit(&lab);
    lab.server_gate_tcp_port(GATED).expect("gate");
    let _service = lab.server_tcp_listener_any(GATED).expect("listener");
    let (fwknopd, key, hmac) = start_fwknopd(&lab);
    set_client_mtu(&lab, 576);
    add_spa(&lab, "tcp/2222", &[]);
    let (out, json) = doctor_spa(&lab, &key, &hmac, &[]);
    assert_eq!(json["conclusion"], "opened", "{json:#}\n{}\n{}", text(&out), fwknopd.log());
    assert_check(&json, "spa_packet", "ok", "fits the path MTU of 576", "");
}

#[test]
fn an_spa_packet_larger_than_a_200_byte_link_is_warned_about() {
    let lab = lab_or_skip!();
    doctor_support::no_icmp_rate_limit(&lab);
    lab.server_gate_tcp_port(GATED).expect("gate");
    let _service = lab.server_tcp_listener_any(GATED).expect("listener");
    let (fwknopd, key, hmac) = start_fwknopd(&lab);
    set_client_mtu(&lab, 200);
    add_spa(&lab, "tcp/2222", &[]);
    let (out, json) = doctor_spa(&lab, &key, &hmac, &[]);
    let towards = format!("does not fit the path MTU of 200 towards {}", lab.server_v4());
    assert_check(&json, "spa_packet", "warn", &towards, "shorten the access list");
    assert_check(&json, "spa_packet", "warn", "refused by this host: larger than the route's MTU", "");
    // The kernel fragments the packet, and the real fwknopd does not act on it.
    assert_eq!(json["conclusion"], "not_acted_on", "{json:#}\n{}\n{}", text(&out), fwknopd.log());
    assert_check(&json, "after", "fail", "filtered before and after", "does not act on a fragmented packet");
}

#[test]
fn a_router_with_a_smaller_link_is_found_by_the_probe() {
    let lab = lab_or_skip!();
    doctor_support::no_icmp_rate_limit(&lab);
    // The server namespace routes for an address of the lab's subnet over a 200-byte link (a veth whose
    // peer stays down, inside the server namespace): a router on the way with a small link, answering
    // "fragmentation needed" to the DF probe. Nothing leaves the lab.
    let behind = "192.0.2.60";
    let server = lab.server_v4().to_string();
    let steps: [(bool, &[&str]); 5] = [
        (false, &["ip", "route", "add", &format!("{behind}/32"), "via", &server]),
        (true, &["sysctl", "-q", "-w", "net.ipv4.ip_forward=1"]),
        (true, &["ip", "link", "add", "small0", "mtu", "200", "type", "veth", "peer", "name", "small1"]),
        (true, &["ip", "link", "set", "small0", "up"]),
        (true, &["ip", "route", "add", &format!("{behind}/32"), "dev", "small0"]),
    ];
    for (on_server, step) in steps {
        let out = if on_server { lab.run_server(step[0], &step[1..]) } else { lab.run_client(step[0], &step[1..]) };
        let out = out.expect("step runs");
        assert!(out.status.success(), "{step:?}: {}", text(&out));
    }
    let (_fwknopd, key, hmac) = start_fwknopd(&lab);
    // No verify port: nothing answers behind the dummy link.
    let args = ["profile", "add", "fw", "--spa", "--host", behind, "--access", "tcp/2222", "--allow-source"];
    let out = lab.knock_cli(&args);
    assert_eq!(out.status.code(), Some(0), "{}", text(&out));
    let (out, json) = doctor_spa(&lab, &key, &hmac, &[]);
    assert_eq!(json["conclusion"], "unverified", "{json:#}\n{}", text(&out));
    let found = format!(
        "does not fit the path MTU of 200 towards {behind} (probe: {server} answered that its link's MTU is 200)"
    );
    assert_check(&json, "spa_packet", "warn", &found, "shorten the access list");
    // The knock's own packet met the same router.
    assert_check(&json, "udp_arrival", "warn", &format!("packet too big (MTU 200) from {server}"), "");
}
