//! knock-server's sweep guard end to end, in the namespace lab, with real packets: a blind sweep (a SYN
//! and a UDP datagram to every port 1024-65535, a new random order per pass, from one address) opens
//! neither a static nor a rotating door, while the same sweep opens the same kind of door with
//! `Sweep_Guard = off` (the control: proof the sweep is one that works against knockd's matching); and
//! knock(1), knock-cli and the rotating client still open every time while the same client keeps an
//! established TCP session and makes new connections to a public port during the knock.

#![cfg(target_os = "linux")] // the namespace lab is Linux-only (see knock_e2e's crate docs)

use std::fs;
use std::io::{Read, Write};
use std::net::{IpAddr, SocketAddr};
use std::os::unix::fs::PermissionsExt;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::time::{Duration, Instant};

use knock_e2e::bins::knock_cli_path;
use knock_e2e::sweep::Sweep;
use knock_e2e::{KnockServer, Lab, lab_or_skip, text};

const OPEN_WAIT: Duration = Duration::from_secs(5);
const KEY: &str = "JBSWY3DPEHPK3PXPJBSWY3DPEHPK3PXP";
/// The sample door of knock-server.conf.sample before it was commented out, which the audit opened in
/// 0.8-2.0 s with this sweep.
const STATIC_SEQUENCE: &str = "8471,2947:udp,6302";
/// Rotating windows of this test's knocks: short, so the rotating client can knock in a fresh window.
const STEP: u64 = 4;

fn start(lab: &Lab, config: &str) -> KnockServer {
    let state = lab.dir().join("state");
    fs::create_dir_all(&state).expect("state dir");
    lab.start_knock_server(config, &["--state-dir", &state.display().to_string()])
        .unwrap_or_else(|e| panic!("knock-server does not start: {e}"))
}

/// `<labdir>/opened-NAME-IP`: the marker door NAME's start command leaves.
fn marker(lab: &Lab, name: &str, ip: IpAddr) -> PathBuf {
    lab.dir().join(format!("opened-{name}-{ip}"))
}

fn touch(lab: &Lab, name: &str) -> String {
    format!("touch {}/opened-{name}-%IP%", lab.dir().display())
}

fn key_file(lab: &Lab) -> PathBuf {
    let path = lab.dir().join("rotating.keys");
    fs::write(&path, format!("alice {KEY}\n")).expect("keys");
    fs::set_permissions(&path, fs::Permissions::from_mode(0o600)).expect("chmod");
    path
}

fn static_door(lab: &Lab, name: &str, sequence: &str, extra: &str) -> String {
    format!(
        "[{name}]\n  Sequence = {sequence}\n  Seq_Timeout = 10\n  TCPFlags = syn,!ack\n  Start_Command = {}\n{extra}",
        touch(lab, name)
    )
}

fn rotating_door(lab: &Lab, name: &str, keys: &Path, extra: &str) -> String {
    format!(
        "[{name}]\n  Rotating_Keys = {}\n  Seq_Timeout = 8\n  TCPFlags = syn,!ack\n  Start_Command = {}\n{extra}",
        keys.display(),
        touch(lab, name)
    )
}

/// What a knock server's firewall does: DROP what reaches closed ports (the capture sees packets before
/// the firewall). It also spares the server's kernel an RST or ICMP error per sweep packet.
fn drop_swept_ports(lab: &Lab) {
    for protocol in ["tcp", "udp"] {
        lab.server_iptables(&["-A", "INPUT", "-p", protocol, "--dport", "1024:65535", "-j", "DROP"]).expect("iptables");
    }
}

fn packets_from_env(name: &str, default: u64) -> u64 {
    std::env::var(name).ok().and_then(|v| v.parse().ok()).unwrap_or(default)
}

#[test]
fn a_blind_sweep_opens_no_guarded_door_and_opens_the_unguarded_control() {
    let lab = lab_or_skip!();
    let keys = key_file(&lab);
    let config = format!(
        "{}{}{}",
        static_door(&lab, "static", STATIC_SEQUENCE, ""),
        rotating_door(&lab, "rotating", &keys, ""),
        static_door(&lab, "control", "5713,1389:udp,4426", "  Sweep_Guard = off\n"),
    );
    let mut server = start(&lab, &config);
    drop_swept_ports(&lab);
    let client: IpAddr = lab.client_v4().into();
    // At least this many packets (half of them SYNs), and on until the control opened.
    let minimum = packets_from_env("SWEEP_TEST_PACKETS", 1_300_000);
    let sweep = Sweep {
        ports: 1024..=65535,
        tcp: true,
        udp: true,
        max_packets: minimum.max(6_000_000),
        max_time: Duration::from_secs(120),
        seed: 0x5eed_0f5e_ed15_u64,
    };
    let (static_marker, rotating_marker, control_marker) =
        (marker(&lab, "static", client), marker(&lab, "rotating", client), marker(&lab, "control", client));
    let outcome = lab
        .sweep(&sweep, true, &mut |progress| progress.packets >= minimum && control_marker.exists())
        .expect("the sweep runs");
    // Everything captured was judged before the verdict: the server's packet count has stopped growing
    // (a capture under a sweep may drop a few; the counters say how many it saw).
    let deadline = Instant::now() + Duration::from_secs(30);
    let mut last = None;
    let counters = loop {
        let counters = server.counters().unwrap_or_else(|e| panic!("counters: {e}"));
        let seen = counters.get("packets").copied().unwrap_or(0);
        if seen >= outcome.packets || last == Some(seen) || Instant::now() > deadline {
            break counters;
        }
        last = Some(seen);
        std::thread::sleep(Duration::from_millis(500));
    };
    let summary = format!(
        "sweep: {} packets ({} SYNs) in {} passes, {:.1?}, {:.0} packets/s; control opened after {:?}; \
         counters {counters:?}",
        outcome.packets,
        outcome.syns,
        outcome.passes,
        outcome.elapsed,
        outcome.rate(),
        outcome.opened
    );
    eprintln!("{summary}");
    assert!(
        control_marker.exists(),
        "the unguarded control door did not open: this sweep proves nothing\n{summary}\n{}",
        server.diagnostics()
    );
    assert!(!static_marker.exists(), "the guarded static door opened to a blind sweep\n{summary}");
    assert!(!rotating_marker.exists(), "the guarded rotating door opened to a blind sweep\n{summary}");
    let log = server.log();
    assert_eq!(server.count_in_log("static: OPEN SESAME") + server.count_in_log("rotating: OPEN SESAME"), 0);
    assert!(log.contains(&format!("{client}: static: stray hit at stage ")), "no stray reset logged\n{log}");
    for port in STATIC_SEQUENCE.split(',').map(|p| p.split(':').next().unwrap_or(p)) {
        // As a word of its own (` 2947:udp`, ` 2947 `, `,2947`), as a port would be written.
        assert!(
            ![" ", ","].iter().any(|before| log.contains(&format!("{before}{port}"))),
            "a port of the sequence ({port}) is in the log\n{log}"
        );
    }
}

/// The client's other traffic to the server during its knocks: an established TCP session on port 22
/// (a line echoed every 20 ms) and a new TCP connection to port 443 (a Public_Port) every 50 ms.
struct OtherTraffic {
    stop: Arc<AtomicBool>,
    echoed: Arc<AtomicUsize>,
    connects: Arc<AtomicUsize>,
    threads: Vec<std::thread::JoinHandle<()>>,
}

impl OtherTraffic {
    fn start(lab: &Lab) -> OtherTraffic {
        let server = IpAddr::from(lab.server_v4());
        let mut session =
            lab.client_connect(SocketAddr::new(server, 22), Duration::from_secs(2)).expect("the session on port 22");
        session.set_read_timeout(Some(Duration::from_secs(2))).expect("timeout");
        let stop = Arc::new(AtomicBool::new(false));
        let (echoed, connects) = (Arc::new(AtomicUsize::new(0)), Arc::new(AtomicUsize::new(0)));
        let session_thread = {
            let (stop, echoed) = (Arc::clone(&stop), Arc::clone(&echoed));
            std::thread::spawn(move || {
                let mut buf = [0u8; 6];
                while !stop.load(Ordering::Relaxed) {
                    if session.write_all(b"hello\n").is_err() || session.read_exact(&mut buf).is_err() {
                        return;
                    }
                    echoed.fetch_add(1, Ordering::Relaxed);
                    std::thread::sleep(Duration::from_millis(20));
                }
            })
        };
        // New connections are made from a thread inside the client namespace (client_connect moves a
        // thread there for each; this loop asks for one every 50 ms).
        let connect_thread = {
            let (stop, connects) = (Arc::clone(&stop), Arc::clone(&connects));
            let ns = lab.client_ns().to_owned();
            std::thread::spawn(move || {
                knock_e2e::lab::enter_netns(&Path::new("/run/netns").join(ns)).expect("into the client netns");
                while !stop.load(Ordering::Relaxed) {
                    if let Ok(mut stream) =
                        std::net::TcpStream::connect_timeout(&SocketAddr::new(server, 443), Duration::from_secs(1))
                    {
                        let _ = stream.write_all(b"GET / HTTP/1.0\r\n\r\n");
                        connects.fetch_add(1, Ordering::Relaxed);
                    }
                    std::thread::sleep(Duration::from_millis(50));
                }
            })
        };
        OtherTraffic { stop, echoed, connects, threads: vec![session_thread, connect_thread] }
    }

    /// Stops; (lines echoed on the session, connections made to 443).
    fn stop(self) -> (usize, usize) {
        self.stop.store(true, Ordering::Relaxed);
        for thread in self.threads {
            let _ = thread.join();
        }
        (self.echoed.load(Ordering::Relaxed), self.connects.load(Ordering::Relaxed))
    }
}

fn cli(lab: &Lab) -> Command {
    let mut command = lab.client_cmd(knock_cli_path());
    command
        .arg("--profiles-dir")
        .arg(lab.dir().join("profiles"))
        .env("KNOCK_ROTATING_KEY_ALICE", KEY)
        .stdin(Stdio::null());
    command
}

fn unix_now() -> u64 {
    std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).map_or(0, |d| d.as_secs())
}

#[test]
fn knock1_knock_cli_and_the_rotating_client_open_every_time_amid_the_clients_other_traffic() {
    let lab = lab_or_skip!();
    let _ssh = lab.server_tcp_listener_any(22).expect("a service on 22");
    let _https = lab.server_tcp_listener_any(443).expect("a service on 443");
    let keys = key_file(&lab);
    let config = format!(
        "[options]\n  Public_Ports = 443\n{}{}",
        static_door(&lab, "static", STATIC_SEQUENCE, ""),
        rotating_door(&lab, "rotating", &keys, &format!("  Rotating_Step = {STEP}\n"))
    );
    let server = start(&lab, &config);
    let client: IpAddr = lab.client_v4().into();
    let host = lab.server_v4().to_string();
    let traffic = OtherTraffic::start(&lab);
    let hits: Vec<&str> = STATIC_SEQUENCE.split(',').collect();
    let mut opened = 0;
    for round in 0..3 {
        // knock(1), 150 ms between hits so the other traffic interleaves with the knock.
        let out = lab.client_cmd("knock").args(["-d", "150", &host]).args(&hits).output().expect("knock(1) runs");
        assert!(out.status.success(), "{}", text(&out));
        opened += 1;
        assert!(
            server.wait_for_count(&format!("{client}: static: OPEN SESAME"), opened, OPEN_WAIT),
            "knock(1) round {round} did not open\n{}",
            server.diagnostics()
        );
        let out = cli(&lab).args(["knock", "-4", "-d", "150", &host]).args(&hits).output().expect("knock-cli runs");
        assert!(out.status.success(), "{}", text(&out));
        opened += 1;
        assert!(
            server.wait_for_count(&format!("{client}: static: OPEN SESAME"), opened, OPEN_WAIT),
            "knock-cli round {round} did not open\n{}",
            server.diagnostics()
        );
    }
    let add = cli(&lab)
        .args(["profile", "add", "alice", "--rotating", "--host", &host, "--door", "rotating"])
        .args(["--step", &STEP.to_string()])
        .output()
        .expect("profile add");
    assert_eq!(add.status.code(), Some(0), "{}", text(&add));
    for round in 1..=2 {
        // One use per window: each round knocks early in a fresh window.
        let left = STEP - unix_now() % STEP;
        std::thread::sleep(Duration::from_secs(left) + Duration::from_millis(100));
        let out = cli(&lab).args(["open", "alice"]).output().expect("knock-cli open");
        assert_eq!(out.status.code(), Some(0), "{}\n{}", text(&out), server.diagnostics());
        assert!(
            server.wait_for_count(&format!("{client}: rotating: OPEN SESAME (user alice"), round, OPEN_WAIT),
            "the rotating client's round {round} did not open\n{}",
            server.diagnostics()
        );
    }
    let (echoed, connects) = traffic.stop();
    assert!(echoed > 20 && connects > 10, "the other traffic did not flow: {echoed} echoes, {connects} connections");
    let log = server.log();
    assert!(!log.contains("attempt reset"), "a knock was reset by the client's other traffic\n{log}");
}
