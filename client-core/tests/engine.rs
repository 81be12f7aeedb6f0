//! The hit engine against loopback listeners: what arrives, in which order, with which method, and how
//! bad requests, cancellation and the inter-hit delay behave. (Wire-level proofs live in the namespace lab.)

use std::net::{TcpListener, UdpSocket};
use std::time::{Duration, Instant};

use client_core::RawPermission;
use client_core::choose_tcp_method;
use client_core::{
    CancellationToken, ErrorKind, HitMethod, HitOutcome, KnockEvent, KnockRequest, Method, Protocol, Sequence,
    TcpFlagSpec, TcpMethod, knock, knock_blocking,
};

fn seq(text: &str) -> Sequence {
    Sequence::parse(text, Protocol::Tcp).expect("valid sequence")
}

fn denied() -> RawPermission {
    RawPermission::Denied { reason: "Operation not permitted".into(), how_to_grant: "setcap cap_net_raw+ep X".into() }
}

#[test]
fn method_choice_follows_privilege_and_flags() {
    let syn = TcpFlagSpec::default();
    let synack = TcpFlagSpec::parse("syn,ack").expect("flags");
    let tcp = seq("1,2");
    let ok = RawPermission::Permitted;
    assert_eq!(choose_tcp_method(Method::Auto, syn, &tcp, &ok).expect("auto"), Some(TcpMethod::Raw));
    assert_eq!(choose_tcp_method(Method::Auto, syn, &tcp, &denied()).expect("auto"), Some(TcpMethod::Connect));
    assert_eq!(choose_tcp_method(Method::Connect, syn, &tcp, &ok).expect("connect"), Some(TcpMethod::Connect));
    let err = choose_tcp_method(Method::Auto, synack, &tcp, &denied()).expect_err("flags need raw");
    assert_eq!(err.kind(), ErrorKind::Permission);
    assert!(err.to_string().contains("setcap cap_net_raw+ep"), "{err}");
    assert!(err.to_string().contains("syn,ack"), "{err}");
    let err = choose_tcp_method(Method::Raw, syn, &tcp, &denied()).expect_err("raw denied");
    assert_eq!(err.kind(), ErrorKind::Permission);
    let err = choose_tcp_method(Method::Connect, synack, &tcp, &ok).expect_err("connect can't");
    assert_eq!(err.kind(), ErrorKind::InvalidInput);
    // UDP-only sequences need no TCP method, so no privilege either.
    assert_eq!(choose_tcp_method(Method::Raw, synack, &seq("1:udp"), &denied()).expect("udp"), None);
    let none = TcpFlagSpec::parse("!ack").expect("flags");
    assert_eq!(choose_tcp_method(Method::Raw, none, &tcp, &ok).expect_err("empty").kind(), ErrorKind::InvalidInput);
}

#[test]
fn connect_hits_reach_listeners_in_order_and_udp_carries_the_payload() {
    let a = TcpListener::bind("127.0.0.1:0").expect("listener a");
    let b = TcpListener::bind("127.0.0.1:0").expect("listener b");
    let u = UdpSocket::bind("127.0.0.1:0").expect("udp");
    let (pa, pb, pu) =
        (a.local_addr().expect("a").port(), b.local_addr().expect("b").port(), u.local_addr().expect("u").port());
    let mut request = KnockRequest::new("127.0.0.1", seq(&format!("{pa},{pu}:udp,{pb}")));
    request.method = Method::Connect;
    request.udp_payload = b"hello".to_vec();
    let mut events = Vec::new();
    let report = knock_blocking(&request, |e| events.push(e.clone())).expect("runtime");
    assert!(report.succeeded(), "{:?}", report.error);
    assert_eq!(report.hits_sent(), 3);
    assert_eq!(report.tcp_method, Some(TcpMethod::Connect));
    let methods: Vec<HitMethod> = events
        .iter()
        .filter_map(|e| match e {
            KnockEvent::HitSent { method, .. } => Some(*method),
            _ => None,
        })
        .collect();
    assert_eq!(methods, [HitMethod::Connect, HitMethod::Udp, HitMethod::Connect]);
    assert!(matches!(events[0], KnockEvent::Resolved { .. }));
    let mut buf = [0u8; 16];
    u.set_read_timeout(Some(Duration::from_secs(2))).expect("timeout");
    let (n, _) = u.recv_from(&mut buf).expect("datagram");
    assert_eq!(&buf[..n], b"hello");
}

#[test]
fn default_udp_payload_is_one_zero_byte() {
    let u = UdpSocket::bind("127.0.0.1:0").expect("udp");
    let port = u.local_addr().expect("addr").port();
    let report = knock_blocking(&KnockRequest::new("127.0.0.1", seq(&format!("{port}:udp"))), |_| {}).expect("rt");
    assert!(report.succeeded());
    assert_eq!(report.tcp_method, None);
    let mut buf = [0xffu8; 4];
    u.set_read_timeout(Some(Duration::from_secs(2))).expect("timeout");
    let (n, _) = u.recv_from(&mut buf).expect("datagram");
    assert_eq!(&buf[..n], &[0]);
}

#[test]
fn delay_separates_hits_and_is_not_added_after_the_last() {
    let u = UdpSocket::bind("127.0.0.1:0").expect("udp");
    let port = u.local_addr().expect("addr").port();
    let mut request = KnockRequest::new("127.0.0.1", seq(&format!("{port}:udp,{port}:udp,{port}:udp")));
    request.delay = Duration::from_millis(30);
    let report = knock_blocking(&request, |_| {}).expect("rt");
    let at: Vec<Duration> = report
        .hits
        .iter()
        .map(|h| match h.outcome {
            HitOutcome::Sent { at, .. } => at,
            ref other => panic!("hit not sent: {other:?}"),
        })
        .collect();
    for pair in at.windows(2) {
        assert!(pair[1] - pair[0] >= Duration::from_millis(30), "gap {:?}", pair[1] - pair[0]);
    }
    // Two gaps, not three: the knock ends right after the last hit, not a delay later. Compared with the
    // knock's own clock (not a wall-clock budget), so a loaded machine or Windows' coarse timers cannot
    // make it flake.
    let last = at.last().copied().unwrap_or_default();
    assert!(report.elapsed - last < request.delay, "the knock ended {:?} after its last hit", report.elapsed - last);
}

#[test]
fn bad_requests_fail_before_the_network() {
    let mut request = KnockRequest::new("127.0.0.1", seq("7000"));
    request.method = Method::Connect;
    request.tcp_flags = TcpFlagSpec::parse("fin").expect("flags");
    let report = knock_blocking(&request, |_| panic!("no event expected")).expect("rt");
    assert_eq!(report.error.as_ref().map(|e| e.kind()), Some(ErrorKind::InvalidInput));
    assert_eq!(report.address, None);
    assert!(report.hits.iter().all(|h| h.outcome == HitOutcome::NotSent));

    let mut request = KnockRequest::new("127.0.0.1", seq("7000"));
    request.family = client_core::AddressFamily::V6;
    let report = knock_blocking(&request, |_| {}).expect("rt");
    assert_eq!(report.error.as_ref().map(|e| e.kind()), Some(ErrorKind::InvalidInput));
}

#[test]
fn unresolvable_host_is_a_network_error() {
    let report = knock_blocking(&KnockRequest::new("no-such-host.invalid", seq("7000")), |_| {}).expect("rt");
    let err = report.error.expect("must fail");
    assert_eq!(err.kind(), ErrorKind::Network);
    assert!(err.to_string().contains("no-such-host.invalid"), "{err}");
}

#[test]
fn cancellation_stops_between_hits() {
    let u = UdpSocket::bind("127.0.0.1:0").expect("udp");
    let port = u.local_addr().expect("addr").port();
    let mut request = KnockRequest::new("127.0.0.1", seq(&format!("{port}:udp,{port}:udp,{port}:udp")));
    request.delay = Duration::from_secs(5);
    let runtime = tokio::runtime::Builder::new_current_thread().enable_all().build().expect("rt");
    let cancel = CancellationToken::new();
    let begun = Instant::now();
    let report = runtime.block_on(async {
        let trigger = cancel.clone();
        knock(&request, &cancel, move |e| {
            if matches!(e, KnockEvent::HitSent { index: 0, .. }) {
                trigger.cancel();
            }
        })
        .await
    });
    assert_eq!(report.error.as_ref().map(|e| e.kind()), Some(ErrorKind::Cancelled));
    assert_eq!(report.hits_sent(), 1);
    assert!(begun.elapsed() < Duration::from_secs(2), "cancel must not wait out the delay");
}

#[test]
fn a_failing_hit_ends_the_knock_and_names_the_hit() {
    // Binding to an address this host does not have fails at the first hit, portably.
    let mut request = KnockRequest::new("127.0.0.1", seq("7000:udp,7001:udp"));
    request.bind_address = Some("192.0.2.123".parse().expect("ip"));
    let report = knock_blocking(&request, |_| {}).expect("rt");
    let err = report.error.expect("must fail");
    assert!(err.to_string().contains("hit 1 of 2 (7000:udp)"), "{err}");
    assert!(matches!(report.hits[0].outcome, HitOutcome::Failed { .. }));
    assert_eq!(report.hits[1].outcome, HitOutcome::NotSent);
}
