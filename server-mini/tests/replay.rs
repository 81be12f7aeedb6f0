//! The event loop as a library function: a pcap file written here is replayed through
//! `server_mini::replay`, the same code path as live capture. (Unix only, like the server.)
#![cfg(unix)]

use std::path::Path;

use knock_e2e::{PCAP_MACS, syn_frame};
use server_mini::{ExitStatus, Logger, Server, ServerOptions, load_config, replay};

fn syn(src: [u8; 4], port: u16) -> Vec<u8> {
    syn_frame(PCAP_MACS, src.into(), [192, 0, 2, 2].into(), port)
}

fn write_pcap(path: &Path, frames: &[(u64, Vec<u8>)]) {
    let dead = pcap::Capture::dead(pcap::Linktype::ETHERNET).expect("dead capture");
    let mut file = dead.savefile(path).expect("savefile");
    for (ms, frame) in frames {
        let header = pcap::PacketHeader {
            ts: libc::timeval {
                tv_sec: (ms / 1000) as libc::time_t,
                tv_usec: ((ms % 1000) * 1000) as libc::suseconds_t,
            },
            caplen: frame.len() as u32,
            len: frame.len() as u32,
        };
        file.write(&pcap::Packet::new(&header, frame));
    }
    file.flush().expect("flush");
}

fn dry_run() -> ServerOptions {
    ServerOptions { max_attempts: 100, dry_run: true, ..ServerOptions::default() }
}

#[test]
fn a_replayed_capture_opens_the_door_and_counts() {
    let dir = tempfile::tempdir().expect("dir");
    let conf = dir.path().join("knockd.conf");
    // Port 22 is a public port here: B's SYN to it does not end B's attempt (the sweep guard would reset
    // it otherwise), so B times out.
    std::fs::write(
        &conf,
        "[options]\n Public_Ports = 22\n[ssh]\n sequence = 7000,8000,9000\n seq_timeout = 5\n tcpflags = syn\n command = true\n",
    )
    .expect("conf");
    let pcap_path = dir.path().join("knock.pcap");
    let a = [198, 51, 100, 1];
    let b = [198, 51, 100, 2];
    write_pcap(
        &pcap_path,
        &[
            (0, syn(a, 7000)),
            (10, syn(b, 7000)),
            (15, syn(b, 22)),
            (20, syn(a, 8000)),
            (30, syn(a, 9000)),
            (10_000, syn(b, 8000)),
        ],
    );
    let log_path = dir.path().join("knock.log");
    let log = Logger::new(Some(&log_path), false, false).expect("log");
    let config = load_config(&conf).expect("config");
    let mut server = Server::new(config, dry_run(), log).expect("server");
    replay(&mut server, &pcap_path).expect("replay");
    let text = std::fs::read_to_string(&log_path).expect("log");
    assert!(text.contains("198.51.100.1: ssh: OPEN SESAME"), "{text}");
    assert!(text.contains("198.51.100.2: ssh: sequence timeout (stage 1)"), "{text}");
    assert!(!text.contains("stray hit"), "{text}");
    assert_eq!(server.counters().server.opened, 1);
    let counters = server.counters().server;
    assert_eq!((counters.packets, counters.hits, counters.not_knock), (6, 5, 1), "port 22 is no door's: no hit");
}

#[test]
fn a_missing_capture_file_is_a_runtime_failure() {
    let dir = tempfile::tempdir().expect("dir");
    let conf = dir.path().join("knockd.conf");
    std::fs::write(&conf, "[ssh]\n sequence = 7000,8000,9000\n").expect("conf");
    let log = Logger::new(None, false, false).expect("log");
    let mut server = Server::new(load_config(&conf).expect("config"), dry_run(), log).expect("server");
    let failure = replay(&mut server, &dir.path().join("none.pcap")).expect_err("missing");
    assert_eq!(failure.status, ExitStatus::Runtime);
    assert!(failure.message.contains("none.pcap"), "{failure}");
}
