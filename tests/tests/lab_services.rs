//! Real services in the lab's server namespace: the TCP echo listener, OpenSSH's sshd, and the
//! iptables gate whose door commands knockd runs. Each test proves traffic end to end from the
//! client namespace.
#![cfg(target_os = "linux")] // the namespace lab is Linux-only (see knock_e2e's crate docs)

use std::io::{self, Read, Write};
use std::net::{IpAddr, Shutdown, SocketAddr, TcpStream};
use std::process::Output;
use std::time::{Duration, Instant};

use knock_e2e::{Knockd, Lab, TcpService, lab_or_skip, wait_until};

const PORT: u16 = 2222;
/// Connect timeout for probes that are expected to fail (SYN dropped).
const CLOSED_PROBE: Duration = Duration::from_millis(400);
const WAIT: Duration = Duration::from_secs(5);

fn text(out: &Output) -> String {
    format!(
        "{}\nstdout: {}\nstderr: {}",
        out.status,
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    )
}

/// `bash` in the client namespace opens `/dev/tcp/HOST/PORT`, sends "hi\n" and prints what
/// comes back (3 bytes).
fn bash_echo(lab: &Lab, host: IpAddr, port: u16) -> Output {
    let script = format!("exec 3<>/dev/tcp/{host}/{port}; echo hi >&3; head -c3 <&3");
    lab.run_client("timeout", ["5", "bash", "-c", &script]).expect("bash runs in the client namespace")
}

fn assert_bash_echo(lab: &Lab, host: IpAddr, port: u16) {
    let out = bash_echo(lab, host, port);
    assert!(out.status.success(), "bash echo via {host}: {}", text(&out));
    assert_eq!(String::from_utf8_lossy(&out.stdout), "hi\n", "{}", text(&out));
}

/// Sends `msg` on `s` and reads it back.
fn round_trip(s: &mut TcpStream, msg: &[u8]) -> io::Result<Vec<u8>> {
    s.set_read_timeout(Some(Duration::from_secs(2)))?;
    s.write_all(msg)?;
    let mut back = vec![0u8; msg.len()];
    s.read_exact(&mut back)?;
    Ok(back)
}

/// Asserts a connect from the client to `dst` gets no answer (the SYN is dropped).
fn assert_closed(lab: &Lab, dst: SocketAddr, when: &str) {
    match lab.client_connect(dst, CLOSED_PROBE) {
        Ok(_) => panic!("{when}: connecting to {dst} succeeded, expected the gate to drop it"),
        Err(e) => assert_eq!(
            e.kind(),
            io::ErrorKind::TimedOut,
            "{when}: connecting to {dst}: {e} (expected a timeout, i.e. a dropped SYN)"
        ),
    }
}

/// Connects from the client to `dst` and proves the echo service answers.
fn assert_open(lab: &Lab, dst: SocketAddr, when: &str) -> TcpStream {
    let mut s =
        lab.client_connect(dst, Duration::from_secs(1)).unwrap_or_else(|e| panic!("{when}: connecting to {dst}: {e}"));
    let back = round_trip(&mut s, b"knock knock").expect("echo round trip");
    assert_eq!(back, b"knock knock", "{when}");
    s
}

/// Polls (connects of at most 200 ms) until `dst` accepts a connection; the last stream.
fn wait_open(lab: &Lab, dst: SocketAddr, timeout: Duration) -> Option<TcpStream> {
    let deadline = Instant::now() + timeout;
    loop {
        if let Ok(s) = lab.client_connect(dst, Duration::from_millis(200)) {
            return Some(s);
        }
        if Instant::now() >= deadline {
            return None;
        }
    }
}

/// Polls until a connect to `dst` times out (the gate closed again).
fn wait_closed(lab: &Lab, dst: SocketAddr, timeout: Duration) -> bool {
    wait_until(
        timeout,
        || matches!(lab.client_connect(dst, Duration::from_millis(200)), Err(e) if e.kind() == io::ErrorKind::TimedOut),
    )
}

fn server_and_client(lab: &Lab, v6: bool) -> (IpAddr, IpAddr) {
    if v6 { (lab.server_v6().into(), lab.client_v6().into()) } else { (lab.server_v4().into(), lab.client_v4().into()) }
}

fn echo_listener_serves(v6: bool) {
    let lab = lab_or_skip!(if v6 { "echo_v6" } else { "echo_v4" });
    let (server, client) = server_and_client(&lab, v6);
    let svc = lab.server_tcp_listener(server, PORT).expect("echo listener binds in the server namespace");
    assert_eq!(svc.local_addrs(), &[SocketAddr::new(server, PORT)]);
    assert_eq!(svc.accepted(), 0);
    assert_bash_echo(&lab, server, PORT);
    assert!(svc.wait_for_accepted(1, WAIT), "accept not counted");
    assert_eq!(svc.accepted(), 1);
    assert_eq!(svc.peers().first().map(SocketAddr::ip), Some(client));
}

#[test]
fn echo_listener_ipv4() {
    echo_listener_serves(false);
}

#[test]
fn echo_listener_ipv6() {
    echo_listener_serves(true);
}

#[test]
fn echo_listener_any_serves_both_families_and_stops_on_drop() {
    let lab = lab_or_skip!();
    let svc: TcpService = lab.server_tcp_listener_any(0).expect("listeners bind");
    let port = svc.port();
    assert_ne!(port, 0);
    assert_eq!(svc.local_addrs().len(), 2);
    assert_bash_echo(&lab, lab.server_v4().into(), port);
    assert_bash_echo(&lab, lab.server_v6().into(), port);
    // A connection from the test process that stays open across the drop.
    let mut held = assert_open(&lab, SocketAddr::new(lab.server_v4().into(), port), "held");
    assert!(svc.wait_for_accepted(3, WAIT), "accepted {}", svc.accepted());
    let peers: Vec<IpAddr> = svc.peers().iter().map(SocketAddr::ip).collect();
    assert!(peers.contains(&lab.client_v4().into()), "{peers:?}");
    assert!(peers.contains(&lab.client_v6().into()), "{peers:?}");

    let t = Instant::now();
    drop(svc);
    assert!(t.elapsed() < Duration::from_secs(2), "drop took {:?}", t.elapsed());
    // The open connection was shut down and the port is closed now (RST, not silence).
    let mut buf = [0u8; 1];
    held.set_read_timeout(Some(Duration::from_secs(2))).expect("set timeout");
    assert!(matches!(held.read(&mut buf), Ok(0) | Err(_)));
    let err = lab
        .client_connect(SocketAddr::new(lab.server_v4().into(), port), CLOSED_PROBE)
        .expect_err("nothing listens after drop");
    assert_eq!(err.kind(), io::ErrorKind::ConnectionRefused, "{err}");
}

#[test]
fn sshd_login_over_ipv4_and_ipv6() {
    let lab = lab_or_skip!();
    let sshd = lab.start_sshd(PORT).expect("sshd starts (apt-get install openssh-server)");
    for (server, client) in [
        (IpAddr::from(lab.server_v4()), IpAddr::from(lab.client_v4())),
        (lab.server_v6().into(), lab.client_v6().into()),
    ] {
        let out = lab
            .run_client("ssh", sshd.client_options().into_iter().chain([server.to_string(), "echo hello".to_string()]))
            .expect("ssh runs in the client namespace");
        assert!(out.status.success(), "ssh {server}: {}\n{}", text(&out), sshd.diagnostics());
        assert_eq!(String::from_utf8_lossy(&out.stdout), "hello\n", "ssh {server}: {}", text(&out));
        assert!(
            sshd.wait_for_log(&format!("Accepted publickey for root from {client}"), WAIT),
            "{}",
            sshd.diagnostics()
        );
    }
}

/// Gate, open for the client with the door command, close again.
fn gate_cycle(v6: bool) {
    let lab = lab_or_skip!(if v6 { "gate_v6" } else { "gate_v4" });
    let (server, client) = server_and_client(&lab, v6);
    let dst = SocketAddr::new(server, PORT);
    let (open, close) = if v6 {
        (Lab::gate_open_command_v6(PORT), Lab::gate_close_command_v6(PORT))
    } else {
        (Lab::gate_open_command(PORT), Lab::gate_close_command(PORT))
    };
    let svc = lab.server_tcp_listener_any(PORT).expect("listener binds");
    lab.server_gate_tcp_port(PORT).expect("gate rules");

    assert_closed(&lab, dst, "gated");
    assert_eq!(svc.accepted(), 0);

    lab.run_door_command(&open, client).expect("open command");
    let mut during = assert_open(&lab, dst, "after the open command");
    assert!(svc.wait_for_accepted(1, WAIT));

    lab.run_door_command(&close, client).expect("close command");
    assert_closed(&lab, dst, "after the close command");
    // Only new connections are gated: the one opened meanwhile keeps working.
    let back = round_trip(&mut during, b"still here").expect("established connection survives");
    assert_eq!(back, b"still here");
    assert_eq!(svc.accepted(), 1);
}

#[test]
fn gate_opens_and_closes_ipv4() {
    gate_cycle(false);
}

#[test]
fn gate_opens_and_closes_ipv6() {
    gate_cycle(true);
}

/// knockd with a gate door for `PORT` (Cmd_Timeout 2 s); Debian's `knock` knocks from the
/// client. Returns knockd once the port was open and closed again.
fn knockd_gate_cycle(lab: &Lab, v6: bool) -> Knockd {
    let (server, client) = server_and_client(lab, v6);
    let dst = SocketAddr::new(server, PORT);
    let svc = lab.server_tcp_listener_any(PORT).expect("listener binds");
    lab.server_gate_tcp_port(PORT).expect("gate rules");
    let knockd = lab.start_knockd(&Lab::gate_door_section("gate", "7000,8000,9000", PORT, 2)).expect("knockd starts");
    assert_closed(lab, dst, "before the knock");

    let mut args = vec![if v6 { "-6" } else { "-4" }.to_string(), server.to_string()];
    args.extend(["7000", "8000", "9000"].map(String::from));
    let out = lab.run_client("knock", &args).expect("knock runs");
    assert!(out.status.success(), "knock: {}", text(&out));
    assert!(knockd.wait_for_log(&format!("{client}: gate: OPEN SESAME"), WAIT), "{}", knockd.diagnostics());
    let mut s =
        wait_open(lab, dst, WAIT).unwrap_or_else(|| panic!("the door did not open {dst}\n{}", knockd.diagnostics()));
    let back = round_trip(&mut s, b"through the door").expect("echo through the door");
    assert_eq!(back, b"through the door");
    let _ = s.shutdown(Shutdown::Both);
    assert!(svc.wait_for_accepted(1, WAIT));
    assert!(svc.peers().iter().all(|p| p.ip() == client), "{:?}", svc.peers());

    assert!(knockd.wait_for_log(&format!("{client}: gate: command timeout"), WAIT), "{}", knockd.diagnostics());
    assert!(wait_closed(lab, dst, WAIT), "the stop command did not close {dst}\n{}", knockd.diagnostics());
    assert_closed(lab, dst, "after the stop command");
    knockd
}

#[test]
fn knockd_gate_door_opens_and_closes_for_knock_ipv4() {
    let lab = lab_or_skip!();
    let knockd = knockd_gate_cycle(&lab, false);
    let log = knockd.log();
    assert!(log.contains("running command: iptables -w 5 -I INPUT -s 192.0.2.1 "), "{log}");
    assert!(!log.contains("non-zero status"), "{log}");
}

#[test]
fn knockd_gate_door_opens_and_closes_for_knock_ipv6() {
    let lab = lab_or_skip!();
    let knockd = knockd_gate_cycle(&lab, true);
    let log = knockd.log();
    assert!(log.contains("running command: ip6tables -w 5 -I INPUT -s 2001:db8::1 "), "{log}");
    assert!(!log.contains("non-zero status"), "{log}");
}

#[test]
fn ssh_login_through_a_knockd_gate() {
    let lab = lab_or_skip!();
    let sshd = lab.start_sshd(PORT).expect("sshd starts");
    lab.server_gate_tcp_port(PORT).expect("gate rules");
    let knockd = lab.start_knockd(&Lab::gate_door_section("ssh", "7100,7200,7300", PORT, 10)).expect("knockd starts");
    let server = IpAddr::from(lab.server_v4());
    assert_closed(&lab, SocketAddr::new(server, PORT), "before the knock");

    let out = lab.run_client("knock", ["192.0.2.2", "7100", "7200", "7300"]).expect("knock runs");
    assert!(out.status.success(), "knock: {}", text(&out));
    assert!(knockd.wait_for_log("192.0.2.1: ssh: OPEN SESAME", WAIT), "{}", knockd.diagnostics());
    assert!(wait_open(&lab, SocketAddr::new(server, PORT), WAIT).is_some());
    let out = lab
        .run_client("ssh", sshd.client_options().into_iter().chain([server.to_string(), "echo hello".into()]))
        .expect("ssh runs");
    assert_eq!(String::from_utf8_lossy(&out.stdout), "hello\n", "{}\n{}", text(&out), sshd.diagnostics());
}
