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
