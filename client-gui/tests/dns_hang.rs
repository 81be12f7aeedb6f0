//! The README's promise "the window never freezes, even when DNS hangs", against a real resolver that
//! hangs: the test re-runs itself in private mount and network namespaces (`unshare`, root) where
//! /etc/resolv.conf names a DNS server on 127.0.0.1 that reads queries and never answers. The real app
//! (egui_kittest, background runtime as in the window) knocks a profile whose host only DNS could resolve:
//! the query arrives at the silent server, frames keep coming while the lookup hangs, the knock is shown as
//! running with its Cancel button, Cancel ends it at once, and quitting does not wait for the lookup.
//!
//! Linux only (namespaces). Without root or `unshare` the test says so and passes, except under
//! `CI=true`, where it fails.
#![cfg(target_os = "linux")]

use std::net::UdpSocket;
use std::process::Command;
use std::time::{Duration, Instant};

use client_core::{Profile, ProfileStore, Protocol, Sequence};
use client_gui::KnockGui;
use egui_kittest::Harness;
use egui_kittest::kittest::Queryable;

/// Set in the re-run inside the namespaces.
const INSIDE: &str = "KNOCK_GUI_DNS_HANG_INSIDE";
/// A name no hosts file has: only DNS could answer it.
const HOST: &str = "door.knock-dns-hang.example";
/// The resolver's own timeout, far longer than the test: the lookup hangs for the test's whole life.
const RESOLV_CONF: &str = "nameserver 127.0.0.1\noptions timeout:30 attempts:1\n";
/// A frame slower than this is a freeze (a frame takes milliseconds; the lookup hangs 30 s).
const FREEZE: Duration = Duration::from_secs(2);

#[test]
fn the_window_keeps_drawing_while_dns_hangs() {
    if std::env::var_os(INSIDE).is_some() {
        return inside_the_namespaces();
    }
    let exe = std::env::current_exe().expect("the test binary");
    let run = Command::new("unshare")
        .args(["--mount", "--net", "--"])
        .arg(exe)
        .args(["the_window_keeps_drawing_while_dns_hangs", "--exact", "--nocapture", "--test-threads=1"])
        .env(INSIDE, "1")
        .output();
    let out = match run {
        Ok(out) => out,
        Err(e) => return skip(&format!("unshare cannot run: {e}")),
    };
    let stderr = String::from_utf8_lossy(&out.stderr);
    if !out.status.success() && stderr.contains("unshare failed") {
        return skip(&format!("no private namespaces here (root needed): {}", stderr.trim()));
    }
    assert!(
        out.status.success() && String::from_utf8_lossy(&out.stdout).contains("1 passed"),
        "the run inside the namespaces failed ({}):\n{}\n{stderr}",
        out.status,
        String::from_utf8_lossy(&out.stdout)
    );
}

fn skip(message: &str) {
    assert!(std::env::var("CI").as_deref() != Ok("true"), "{message}");
    eprintln!("SKIPPED: {message}");
}

fn inside_the_namespaces() {
    // The namespace's own resolv.conf (a bind mount in this mount namespace only) and loopback.
    let dir = tempfile::tempdir().expect("temp dir");
    let resolv = dir.path().join("resolv.conf");
    std::fs::write(&resolv, RESOLV_CONF).expect("resolv.conf");
    run(Command::new("mount").args(["--make-rprivate", "/"]));
    run(Command::new("mount").arg("--bind").arg(&resolv).arg("/etc/resolv.conf"));
    run(Command::new("ip").args(["link", "set", "lo", "up"]));
    let silent_dns = UdpSocket::bind("127.0.0.1:53").expect("the silent DNS server binds 127.0.0.1:53");
    silent_dns.set_read_timeout(Some(Duration::from_millis(1))).expect("timeout");

    let profiles = dir.path().join("profiles");
    let store = ProfileStore::new(&profiles);
    let door = Profile::new(HOST, Sequence::parse("7000,8000", Protocol::Tcp).expect("sequence"));
    store.create("hang", &door).expect("create");
    let mut harness = Harness::builder()
        .with_size(egui::vec2(1000.0, 680.0))
        .build_eframe(move |cc| KnockGui::new(cc, store).expect("the app starts"));
    harness.run_steps(2);
    harness.get_by_label("Knock hang").click();

    // Frames for 3 s while the lookup hangs: none slow, the query seen by the silent server.
    let mut queried = false;
    let mut slowest = Duration::ZERO;
    let start = Instant::now();
    while start.elapsed() < Duration::from_secs(3) {
        let frame = Instant::now();
        harness.step();
        slowest = slowest.max(frame.elapsed());
        queried |= silent_dns.recv_from(&mut [0; 512]).is_ok();
        std::thread::sleep(Duration::from_millis(20));
    }
    assert!(queried, "the lookup never reached the DNS server named in resolv.conf");
    assert!(slowest < FREEZE, "a frame took {slowest:?} while DNS hung: the window froze");
    println!("slowest frame while DNS hung: {slowest:?}");

    // The knock is shown running and can be cancelled from the window.
    harness.get_by_label("Cancel").click();
    let cancelled = Instant::now();
    while harness.query_by_label("Cancel").is_some() {
        assert!(cancelled.elapsed() < FREEZE, "Cancel did not end the knock while DNS hung");
        harness.step();
        std::thread::sleep(Duration::from_millis(20));
    }

    // Quitting does not wait for the hanging lookup (it would keep the process alive 30 s more).
    let quitting = Instant::now();
    drop(harness);
    assert!(quitting.elapsed() < FREEZE, "quitting waited {:?} for the hanging lookup", quitting.elapsed());
}

fn run(command: &mut Command) {
    let status = command.status().unwrap_or_else(|e| panic!("{command:?}: {e}"));
    assert!(status.success(), "{command:?}: {status}");
}
