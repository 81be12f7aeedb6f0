//! Smoke tests of the lab itself, driven with the reference tools (ping, Debian's `knock`,
//! `knockd`, `tcpdump`, iptables). If these fail, every other end-to-end test is suspect.
#![cfg(target_os = "linux")] // the namespace lab is Linux-only (see knock_e2e's crate docs)

use std::net::{IpAddr, Ipv4Addr, Ipv6Addr};
use std::panic::{AssertUnwindSafe, catch_unwind};
use std::path::{Path, PathBuf};
use std::process::Stdio;
use std::sync::Mutex;
use std::time::Duration;

use knock_e2e::{Lab, Packet, Proto, lab_or_skip, wait_until};

const WAIT: Duration = Duration::from_secs(5);

/// A three-port door that touches `<labdir>/opened-%IP%`.
fn door_conf(lab: &Lab) -> String {
    format!(
        "[openSSH]\n  Sequence = 7000,8000,9000\n  Seq_Timeout = 10\n  TCPFlags = syn\n  Start_Command = {}\n",
        lab.touch_marker_command()
    )
}

fn ping(lab: &Lab, addr: IpAddr) {
    let out =
        lab.run_client("ping", ["-c1", "-W2", &addr.to_string()]).expect("ping runs (apt-get install iputils-ping)");
    assert!(
        out.status.success(),
        "ping {addr} from the client: {}\n{}{}",
        out.status,
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
}

fn netns_exists(name: &str) -> bool {
    Path::new("/run/netns").join(name).exists()
}

fn hits(packets: &[Packet]) -> Vec<String> {
    packets.iter().map(Packet::hit).collect()
}

#[test]
fn client_pings_server_over_ipv4_and_ipv6() {
    let lab = lab_or_skip!();
    ping(&lab, lab.server_v4().into());
    ping(&lab, lab.server_v6().into());
    // The veth lives only inside the namespaces.
    let out = lab.run_server("ip", ["-br", "link", "show", lab.server_iface()]).expect("ip runs");
    assert!(out.status.success(), "server iface missing in the server namespace");
    assert!(!Path::new("/sys/class/net").join(lab.server_iface()).exists(), "veth end leaked into the host namespace");
}

#[test]
fn extra_server_addresses_are_reachable() {
    let lab = lab_or_skip!();
    let extra: [IpAddr; 3] = [
        Ipv4Addr::new(192, 0, 2, 3).into(),
        Ipv4Addr::new(198, 51, 100, 7).into(),
        Ipv6Addr::new(0x2001, 0xdb8, 1, 0, 0, 0, 0, 7).into(),
    ];
    for addr in extra {
        lab.add_server_address(addr).expect("add address");
    }
    assert_eq!(lab.server_addrs().len(), 5);
    for addr in extra {
        ping(&lab, addr);
    }
    // knockd reads addresses at startup, so a knock on an added address opens the door.
    let knockd = lab.start_knockd(&door_conf(&lab)).expect("knockd starts");
    lab.knock(&["198.51.100.7", "7000", "8000", "9000"]);
    assert!(knockd.wait_for_log("OPEN SESAME", WAIT), "{}", knockd.diagnostics());
}

#[test]
fn namespaces_and_dir_are_gone_after_drop() {
    let lab = lab_or_skip!();
    let (c, s, dir) = (lab.client_ns().to_string(), lab.server_ns().to_string(), lab.dir().to_path_buf());
    assert!(netns_exists(&c) && netns_exists(&s) && dir.is_dir());
    drop(lab);
    assert!(!netns_exists(&c), "{c} left behind");
    assert!(!netns_exists(&s), "{s} left behind");
    assert!(!dir.exists(), "{} left behind", dir.display());
}

#[test]
fn namespaces_are_gone_after_a_panic() {
    let seen: Mutex<Option<(String, String, PathBuf)>> = Mutex::new(None);
    let result = catch_unwind(AssertUnwindSafe(|| {
        let lab = lab_or_skip!("panicking_closure");
        *seen.lock().expect("lock") = Some((lab.client_ns().into(), lab.server_ns().into(), lab.dir().into()));
        panic!("deliberate panic while holding a Lab (expected in this test's output)");
    }));
    let Some((c, s, dir)) = seen.into_inner().expect("lock") else {
        return;
    }; // skipped
    assert!(result.is_err(), "the closure should have panicked");
    assert!(!netns_exists(&c), "{c} left behind");
    assert!(!netns_exists(&s), "{s} left behind");
    assert!(!dir.exists(), "{} left behind", dir.display());
}

#[test]
fn processes_started_in_the_lab_die_with_it() {
    let lab = lab_or_skip!();
    let spawn =
        |mut cmd: std::process::Command| cmd.stdout(Stdio::null()).stderr(Stdio::null()).spawn().expect("spawn");
    let mut children = Vec::new();
    for mut cmd in [lab.client_cmd("sleep"), lab.server_cmd("sleep")] {
        cmd.arg("600");
        children.push(spawn(cmd));
    }
    // A grandchild in its own session (like knockd's door commands): not our child, not in our
    // process group; it writes its pid to a file.
    let pid_file = lab.dir().join("grandchild.pid");
    let mut setsid = lab.server_cmd("setsid");
    setsid.args(["-f", "sh", "-c", &format!("echo $$ > {}; exec sleep 600", pid_file.display())]);
    children.push(spawn(setsid));
    assert!(wait_until(WAIT, || std::fs::read_to_string(&pid_file).is_ok_and(|s| s.ends_with('\n'))));
    let grandchild: u32 = std::fs::read_to_string(&pid_file).expect("pid file").trim().parse().expect("pid");
    assert!(Path::new(&format!("/proc/{grandchild}")).exists());

    drop(lab);
    for child in &mut children {
        assert!(
            wait_until(WAIT, || matches!(child.try_wait(), Ok(Some(_)))),
            "process {} survived the lab",
            child.id()
        );
    }
    // The grandchild is re-parented to init, which reaps it; it must be gone (or a zombie).
    let alive = || {
        std::fs::read_to_string(format!("/proc/{grandchild}/stat"))
            .is_ok_and(|s| !s.rsplit(')').next().is_some_and(|rest| rest.trim_start().starts_with('Z')))
    };
    assert!(wait_until(WAIT, || !alive()), "setsid'd grandchild {grandchild} survived the lab");
}

#[test]
fn knockd_opens_a_door_for_knock_over_ipv4() {
    let lab = lab_or_skip!();
    let knockd = lab.start_knockd(&door_conf(&lab)).expect("knockd starts");
    lab.knock(&["192.0.2.2", "7000", "8000", "9000"]);
    assert!(knockd.wait_for_log("192.0.2.1: openSSH: OPEN SESAME", WAIT), "{}", knockd.diagnostics());
    assert!(lab.wait_for_marker(lab.client_v4().into(), WAIT), "no marker file\n{}", knockd.diagnostics());
    assert!(!lab.opened_marker(lab.client_v6().into()).exists());
}

#[test]
fn knockd_opens_a_door_for_knock_over_ipv6() {
    let lab = lab_or_skip!();
    let knockd = lab.start_knockd(&door_conf(&lab)).expect("knockd starts");
    lab.knock(&["2001:db8::2", "7000", "8000", "9000"]);
    assert!(knockd.wait_for_log("2001:db8::1: openSSH: OPEN SESAME", WAIT), "{}", knockd.diagnostics());
    assert!(lab.wait_for_marker(lab.client_v6().into(), WAIT), "no marker file\n{}", knockd.diagnostics());
    assert!(!lab.opened_marker(lab.client_v4().into()).exists());
}

#[test]
fn capture_sees_exactly_three_syns_in_order() {
    let lab = lab_or_skip!();
    let capture = lab.start_capture("tcp or udp").expect("tcpdump starts");
    lab.knock(&["192.0.2.2", "7000", "8000", "9000"]);
    let packets = capture.stop().expect("capture stops");
    let sent = lab.client_to_server(&packets);
    assert_eq!(hits(&sent), ["tcp 7000", "tcp 8000", "tcp 9000"], "{packets:#?}");
    assert!(sent.iter().all(Packet::is_syn), "{sent:#?}");
    assert!(sent.windows(2).all(|w| w[0].ts <= w[1].ts));
    assert!(sent.iter().all(|p| p.src == IpAddr::from(lab.client_v4()) && p.payload_len == 0));
    // No firewall: the server's kernel answers each SYN with RST+ACK, and the capture sees it.
    let answers = lab.server_to_client(&packets);
    assert_eq!(answers.len(), 3, "{answers:#?}");
    assert!(answers.iter().all(|p| p.tcp_flags.rst && p.tcp_flags.ack));
}

#[test]
fn capture_sees_a_one_byte_udp_hit() {
    let lab = lab_or_skip!();
    let capture = lab.start_capture("tcp or udp").expect("tcpdump starts");
    lab.knock(&["192.0.2.2", "7000", "8000", "9000:udp"]);
    let sent = lab.client_to_server(&capture.stop().expect("capture stops"));
    assert_eq!(hits(&sent), ["tcp 7000", "tcp 8000", "udp 9000"], "{sent:#?}");
    let udp = &sent[2];
    assert_eq!((udp.proto, udp.payload_len), (Proto::Udp, 1), "{udp:#?}");
}

#[test]
fn capture_sees_syns_the_firewall_drops_and_the_server_stays_silent() {
    let lab = lab_or_skip!();
    lab.server_drop_tcp_ports(&[7000, 8000, 9000]).expect("iptables");
    let capture = lab.start_capture("tcp").expect("tcpdump starts");
    lab.knock(&["192.0.2.2", "7000", "8000", "9000"]);
    lab.knock(&["2001:db8::2", "7000", "8000", "9000"]);
    let packets = capture.stop().expect("capture stops");
    let sent = lab.client_to_server(&packets);
    assert_eq!(hits(&sent), ["tcp 7000", "tcp 8000", "tcp 9000"].repeat(2), "{packets:#?}");
    assert!(sent.iter().all(Packet::is_syn));
    assert_eq!(sent.iter().filter(|p| p.src.is_ipv6()).count(), 3);
    assert!(lab.server_to_client(&packets).is_empty(), "DROP should silence the server: {packets:#?}");
}
