//! What `knock-cli knock` puts on the wire, seen by a capture on the server's side of the lab: exactly
//! one packet per hit, in order, with the requested flags, for both send methods and both families, and
//! still exactly one when the server's firewall drops the hits (no SYN retransmits).
#![cfg(target_os = "linux")] // the namespace lab is Linux-only (see knock_e2e's crate docs)

use std::net::IpAddr;
use std::time::Duration;

use knock_e2e::bins::knock_cli_path;
use knock_e2e::{Lab, Packet, Proto, TcpFlags, lab_or_skip};

/// Long enough for Linux to retransmit an unanswered SYN (it would at +1 s, +3 s).
const RETRANSMIT_WINDOW: Duration = Duration::from_millis(3500);

struct Knocked {
    /// Client → server TCP/UDP packets, in capture order.
    sent: Vec<Packet>,
    /// Server → client TCP packets (the server's RSTs prove our segments' checksums are valid).
    answers: Vec<Packet>,
}

fn server(lab: &Lab, v6: bool) -> IpAddr {
    if v6 { lab.server_v6().into() } else { lab.server_v4().into() }
}

/// Knocks with `args` (after `knock`) and the server address, capturing on the server side; waits
/// `linger` after the knock before stopping the capture.
fn knock_and_capture(lab: &Lab, v6: bool, options: &[&str], hits: &[&str], linger: Duration) -> Knocked {
    let capture = lab.start_capture("tcp or udp").expect("tcpdump starts");
    let server = server(lab, v6).to_string();
    let mut args = vec!["knock"];
    args.extend_from_slice(options);
    args.push(&server);
    args.extend_from_slice(hits);
    let out = lab.run_client(knock_cli_path(), &args).expect("knock-cli runs");
    assert_eq!(out.status.code(), Some(0), "{args:?}: {}", String::from_utf8_lossy(&out.stderr));
    let hits_seen =
        |packets: &[Packet]| lab.client_to_server(packets).iter().filter(|p| p.is_tcp() || p.is_udp()).count();
    // Wait for the hits to be written (IPv6 ones wait for neighbour discovery), so a slow machine cannot
    // make us stop early; any extra packet still shows up in the linger and the capture's settle time.
    capture.wait_for(Duration::from_secs(5), |packets| hits_seen(packets) >= hits.len()).expect("capture readable");
    std::thread::sleep(linger);
    let packets = capture.stop().expect("capture stops and parses");
    let sent = lab.client_to_server(&packets).into_iter().filter(|p| p.is_tcp() || p.is_udp()).collect();
    let answers = lab.server_to_client(&packets).into_iter().filter(Packet::is_tcp).collect();
    Knocked { sent, answers }
}

fn describe(packets: &[Packet]) -> Vec<String> {
    packets.iter().map(|p| format!("{} flags={:#04x} len={}", p.hit(), p.tcp_flags.bits(), p.payload_len)).collect()
}

/// Asserts the packets are exactly `expected` (proto, port) in order, TCP ones with `flags`, UDP ones
/// with a one-byte payload.
fn assert_hits(sent: &[Packet], expected: &[(Proto, u16)], flags: u8) {
    let seen: Vec<(Proto, u16)> = sent.iter().map(|p| (p.proto, p.dst_port)).collect();
    assert_eq!(seen, expected, "exactly one packet per hit, in order: {:?}", describe(sent));
    for p in sent {
        match p.proto {
            Proto::Tcp => assert_eq!(p.tcp_flags.bits(), flags, "flags of {}: {:?}", p.hit(), describe(sent)),
            Proto::Udp => assert_eq!(p.payload_len, 1, "knock(1)'s one-byte UDP payload: {:?}", describe(sent)),
            Proto::Other(_) => unreachable!("filtered to TCP and UDP"),
        }
    }
}

fn assert_server_answered_each_tcp_hit(knocked: &Knocked) {
    for hit in knocked.sent.iter().filter(|p| p.is_tcp()) {
        assert!(
            knocked.answers.iter().any(|a| a.src_port == hit.dst_port && a.dst_port == hit.src_port && a.tcp_flags.rst),
            "the server's kernel answered {} with a RST only if its checksum was valid: answers {:?}",
            hit.hit(),
            describe(&knocked.answers)
        );
    }
}

const MIXED: [(Proto, u16); 3] = [(Proto::Tcp, 7000), (Proto::Udp, 8000), (Proto::Tcp, 9000)];

fn mixed_sequence_on_the_wire(method: &str, v6: bool) {
    let lab = lab_or_skip!(&format!("wire_{method}_{}", if v6 { "v6" } else { "v4" }));
    let family = if v6 { "-6" } else { "-4" };
    let knocked =
        knock_and_capture(&lab, v6, &["--method", method, family], &["7000", "8000:udp", "9000"], Duration::ZERO);
    assert_hits(&knocked.sent, &MIXED, TcpFlags::SYN);
    assert_server_answered_each_tcp_hit(&knocked);
}

#[test]
fn raw_ipv4_sends_one_valid_syn_per_hit_in_order() {
    mixed_sequence_on_the_wire("raw", false);
}

#[test]
fn raw_ipv6_sends_one_valid_syn_per_hit_in_order() {
    mixed_sequence_on_the_wire("raw", true);
}

#[test]
fn connect_ipv4_sends_one_syn_per_hit_in_order() {
    mixed_sequence_on_the_wire("connect", false);
}

#[test]
fn connect_ipv6_sends_one_syn_per_hit_in_order() {
    mixed_sequence_on_the_wire("connect", true);
}

#[test]
fn raw_sends_exactly_the_requested_flags() {
    let lab = lab_or_skip!();
    for (spec, bits) in [
        ("fin,psh,urg", TcpFlags::FIN | TcpFlags::PSH | TcpFlags::URG),
        ("syn,ack", TcpFlags::SYN | TcpFlags::ACK),
        ("rst", TcpFlags::RST),
        ("syn,!ack", TcpFlags::SYN),
    ] {
        let knocked = knock_and_capture(
            &lab,
            false,
            &["--method", "raw", "--tcp-flags", spec],
            &["7100", "7200"],
            Duration::ZERO,
        );
        assert_hits(&knocked.sent, &[(Proto::Tcp, 7100), (Proto::Tcp, 7200)], bits);
    }
}

/// A TCP option list as (kind, value) pairs, in order; timestamps' values are dropped (they are clocks).
fn option_list(bytes: &[u8]) -> Vec<(u8, Vec<u8>)> {
    let mut list = Vec::new();
    let mut rest = bytes;
    while let Some((&kind, tail)) = rest.split_first() {
        match kind {
            0 => break,
            1 => {
                list.push((1, Vec::new()));
                rest = tail;
            }
            _ => {
                let len = usize::from(*tail.first().unwrap_or(&0));
                assert!(len >= 2 && len <= rest.len(), "malformed option {kind} in {bytes:02x?}");
                let value = if kind == 8 { Vec::new() } else { rest[2..len].to_vec() };
                list.push((kind, value));
                rest = &rest[len..];
            }
        }
    }
    list
}

/// Issue 23, item 13: a raw SYN carries the option set of the kernel's own connect() SYN (MSS, SACK
/// permitted, timestamps, NOP, window scale, in that order, with the same MSS and scale), not a bare
/// header that looks like a scanner's; the server's RST proves its checksum (options included) valid.
/// `--bare-syn` still sends none.
#[test]
fn raw_syns_carry_the_options_of_the_kernels_own_syn() {
    let lab = lab_or_skip!();
    for v6 in [false, true] {
        let family = if v6 { "-6" } else { "-4" };
        let kernel = knock_and_capture(&lab, v6, &["--method", "connect", family], &["7000"], Duration::ZERO);
        let raw = knock_and_capture(&lab, v6, &["--method", "raw", family], &["7000"], Duration::ZERO);
        let (kernel_syn, raw_syn) = (&kernel.sent[0], &raw.sent[0]);
        assert!(kernel_syn.is_syn() && raw_syn.is_syn(), "{:?}", describe(&raw.sent));
        let expected = option_list(&kernel_syn.tcp_options);
        let kinds: Vec<u8> = expected.iter().map(|(kind, _)| *kind).collect();
        assert_eq!(kinds, [2, 4, 8, 1, 3], "Linux's own SYN: MSS, SACK-permitted, timestamps, NOP, window scale");
        assert_eq!(option_list(&raw_syn.tcp_options), expected, "raw SYN options (v6: {v6}) as the kernel's");
        let timestamps = &raw_syn.tcp_options[6..16];
        assert_eq!(&timestamps[..2], &[8, 10]);
        assert_ne!(&timestamps[2..6], &[0, 0, 0, 0], "a TSval");
        assert_eq!(&timestamps[6..], &[0, 0, 0, 0], "TSecr 0 in a SYN");
        assert_server_answered_each_tcp_hit(&raw);

        let bare = knock_and_capture(&lab, v6, &["--method", "raw", "--bare-syn", family], &["7000"], Duration::ZERO);
        assert!(bare.sent[0].is_syn() && bare.sent[0].tcp_options.is_empty(), "{:?}", bare.sent[0]);
    }
}

fn no_retransmit_when_dropped(method: &str, v6: bool) {
    let lab = lab_or_skip!(&format!("drop_{method}_{}", if v6 { "v6" } else { "v4" }));
    lab.server_drop_tcp_ports(&[7000, 8000, 9000]).expect("DROP rules");
    let family = if v6 { "-6" } else { "-4" };
    let knocked =
        knock_and_capture(&lab, v6, &["--method", method, family], &["7000", "8000", "9000"], RETRANSMIT_WINDOW);
    assert_hits(&knocked.sent, &[(Proto::Tcp, 7000), (Proto::Tcp, 8000), (Proto::Tcp, 9000)], TcpFlags::SYN);
    assert!(knocked.answers.is_empty(), "the firewall drops every hit: {:?}", describe(&knocked.answers));
}

#[test]
fn connect_ipv4_never_retransmits_a_dropped_syn() {
    no_retransmit_when_dropped("connect", false);
}

#[test]
fn connect_ipv6_never_retransmits_a_dropped_syn() {
    no_retransmit_when_dropped("connect", true);
}

#[test]
fn raw_ipv4_never_retransmits_a_dropped_syn() {
    no_retransmit_when_dropped("raw", false);
}

#[test]
fn raw_ipv6_never_retransmits_a_dropped_syn() {
    no_retransmit_when_dropped("raw", true);
}

#[test]
fn delay_separates_hits_on_the_wire_and_udp_payload_is_configurable() {
    let lab = lab_or_skip!();
    let knocked = knock_and_capture(
        &lab,
        false,
        &["-d", "100", "--udp-payload", "cafe"],
        &["7000:udp", "8000:udp", "9000:udp"],
        Duration::ZERO,
    );
    let ports: Vec<u16> = knocked.sent.iter().map(|p| p.dst_port).collect();
    assert_eq!(ports, [7000, 8000, 9000]);
    assert!(knocked.sent.iter().all(|p| p.payload_len == 2), "{:?}", describe(&knocked.sent));
    for pair in knocked.sent.windows(2) {
        let gap = pair[1].ts - pair[0].ts;
        // A lower bound is behaviour; how close to 100 ms it lands is the benchmark's business.
        assert!(gap >= Duration::from_millis(99), "hits only {gap:?} apart");
    }
}
