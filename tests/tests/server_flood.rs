//! knock-server under floods of spoofed sources that *complete* doors (issue 21, section 2), in the
//! namespace lab with real packets: a flood of one door cannot refuse another door's users
//! (`--max-commands` is shared fairly between doors), a flood of extensions cannot hide a real opening
//! from the log (state changes have their own budget; the noise is summarised), and a stop command
//! killed by a signal (as `systemctl stop` did without `KillMode=mixed`) is retried, so its iptables
//! rule goes.
//!
//! The spoofed frames are sent from the client namespace on an AF_PACKET socket, as fast as it goes.
#![cfg(target_os = "linux")]

use std::net::{IpAddr, Ipv6Addr};
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

use knock_e2e::knock_server::counter;
use knock_e2e::packet_socket::PacketSocket;
use knock_e2e::{Lab, Macs, Side, lab_or_skip, syn_frame, wait_until};

const OPEN_WAIT: Duration = Duration::from_secs(5);

/// The MAC addresses of the client's and the server's veth.
fn macs(lab: &Lab) -> Macs {
    (lab.mac(Side::Client).expect("client MAC"), lab.mac(Side::Server).expect("server MAC"))
}

/// Frames in which each of `sources` completes the door `ports` once (hit 1 from every source, then hit 2...).
fn completions(macs: Macs, dst: IpAddr, ports: &[u16], sources: &[IpAddr]) -> Vec<Vec<u8>> {
    let mut frames = Vec::new();
    for port in ports {
        for src in sources {
            frames.push(syn_frame(macs, *src, dst, *port));
        }
    }
    frames
}

/// A flood running in the client namespace until dropped (or [`Flood::stop`]).
struct Flood {
    stop: Arc<AtomicBool>,
    sent: Arc<AtomicU64>,
    thread: Option<JoinHandle<std::io::Result<()>>>,
}

impl Flood {
    /// Sends `batch(round)` for round 0, 1, 2, ... again and again, at most `per_second` frames a second
    /// (a debug build's capture on a loaded machine drops frames, a real knock's among them, far below
    /// what the socket takes).
    fn start(lab: &Lab, per_second: u64, batch: impl Fn(u32) -> Vec<Vec<u8>> + Send + 'static) -> Flood {
        let (stop, sent) = (Arc::new(AtomicBool::new(false)), Arc::new(AtomicU64::new(0)));
        let (ns, iface) = lab.client_packet_target().expect("the client's interface");
        let (stop_flag, counter) = (Arc::clone(&stop), Arc::clone(&sent));
        let thread = std::thread::spawn(move || {
            let socket = PacketSocket::open_in(&ns, &iface)?;
            let (mut round, mut sent, began) = (0, 0u64, Instant::now());
            while !stop_flag.load(Ordering::Relaxed) {
                for frame in batch(round) {
                    socket.send(&frame)?;
                    sent += 1;
                    counter.fetch_add(1, Ordering::Relaxed);
                }
                round += 1;
                let due = Duration::from_secs_f64(sent as f64 / per_second as f64);
                if let Some(ahead) = due.checked_sub(began.elapsed()) {
                    std::thread::sleep(ahead);
                }
            }
            Ok(())
        });
        Flood { stop, sent, thread: Some(thread) }
    }

    /// Stops it; how many frames it sent.
    fn stop(mut self) -> u64 {
        self.end();
        self.sent.load(Ordering::Relaxed)
    }

    fn end(&mut self) {
        self.stop.store(true, Ordering::Relaxed);
        if let Some(thread) = self.thread.take() {
            match thread.join() {
                Ok(Ok(())) => {}
                Ok(Err(e)) => panic!("the flood could not send: {e}"),
                Err(_) => panic!("the flood thread panicked"),
            }
        }
    }
}

impl Drop for Flood {
    fn drop(&mut self) {
        self.stop.store(true, Ordering::Relaxed);
        if let Some(thread) = self.thread.take() {
            let _ = thread.join();
        }
    }
}

/// Knocks until `opened` holds (the capture may drop a knock's packet in the flood), at most 3 times.
fn knock_until(lab: &Lab, args: &[&str], opened: impl Fn() -> bool) -> bool {
    for _ in 0..3 {
        lab.knock(args);
        if wait_until(Duration::from_secs(2), &opened) {
            return true;
        }
    }
    false
}

#[test]
fn a_flood_completing_one_door_does_not_refuse_another_doors_user() {
    let lab = lab_or_skip!();
    let opened = lab.dir().join("opened-192.0.2.1");
    let config = format!(
        "[flood]\n  Sequence = 7000,8000\n  Seq_Timeout = 10\n  TCPFlags = syn\n  Start_Command = sleep 2\n\
         [ssh]\n  Sequence = 7100,8100,9100\n  Seq_Timeout = 10\n  TCPFlags = syn\n  \
         Start_Command = touch {}/opened-%IP%\n",
        lab.dir().display()
    );
    let mut server = lab.knock_server(&config, &["--max-commands", "8"]);
    // Spoofed IPv6 sources, 100 new ones a round, complete door "flood"; each start holds a slot 2 s.
    let dst: IpAddr = lab.server_v6().into();
    let macs = macs(&lab);
    let frames: Vec<Vec<Vec<u8>>> = (0..40u16)
        .map(|round| {
            let sources: Vec<IpAddr> =
                (1..=100u16).map(|i| Ipv6Addr::new(0x2001, 0xdb8, 0xbad, round, 0, 0, 0, i).into()).collect();
            completions(macs, dst, &[7000, 8000], &sources)
        })
        .collect();
    let flood = Flood::start(&lab, 20_000, move |round| frames[round as usize % frames.len()].clone());
    assert!(
        server.wait_for_log("flood: opening refused", OPEN_WAIT),
        "the flood never reached the cap\n{}",
        server.diagnostics()
    );
    let host = lab.server_v4().to_string();
    let b_opened = knock_until(&lab, &["-4", &host, "7100", "8100", "9100"], || opened.exists());
    let sent = flood.stop();
    let counters = server.counters().expect("counters");
    assert!(
        b_opened,
        "door ssh's user was refused during door flood's flood ({sent} frames): {counters:?}\n{}",
        server.diagnostics()
    );
    let log = server.log();
    assert!(log.contains("192.0.2.1: ssh: OPEN SESAME"), "{}", server.diagnostics());
    assert!(log.contains("ssh: running command: touch "), "{}", server.diagnostics());
    assert!(!log.contains("192.0.2.1: ssh: opening refused"), "{}", server.diagnostics());
    assert!(counter(&counters, "commands_refused") > 0, "the flood must hit the cap: {counters:?}");
    assert!(counter(&counters, "commands_peak") <= 8, "{counters:?}");
}

#[test]
fn a_real_opening_is_logged_while_spoofed_sources_extend_the_same_door() {
    let lab = lab_or_skip!();
    let dir = lab.dir().display().to_string();
    let config = format!(
        "[ssh]\n  Sequence = 7000,8000\n  Seq_Timeout = 10\n  TCPFlags = syn\n  Start_Command = touch {dir}/opened-%IP%\n  \
         Cmd_Timeout = 30\n  Stop_Command = rm -f {dir}/opened-%IP%\n"
    );
    let mut server = lab.knock_server(&config, &[]);
    // 20 spoofed sources complete the door again and again: 20 openings, then only extensions.
    let dst: IpAddr = lab.server_v4().into();
    let sources: Vec<IpAddr> = (1..=20u8).map(|i| IpAddr::from([198, 18, 0, i])).collect();
    let frames = completions(macs(&lab), dst, &[7000, 8000], &sources);
    // 10,000 completions a second: 20,000 OPEN SESAME and "extended" lines, 40 times the old shared
    // budget of 500 event lines a second, which was then used up in the first 25 ms of each second.
    let flood = Flood::start(&lab, 20_000, move |_| frames.clone());
    let flooding = Instant::now();
    assert!(server.wait_for_log("already open: opening extended", OPEN_WAIT), "{}", server.diagnostics());
    // Into the flood's second second, so the real opening meets the flood at full rate.
    std::thread::sleep(Duration::from_millis(1200));
    let opened = lab.dir().join("opened-192.0.2.1");
    let host = lab.server_v4().to_string();
    let real_opened = knock_until(&lab, &["-4", &host, "7000", "8000"], || opened.exists());
    // The flood goes on past the second the real opening happened in.
    std::thread::sleep(Duration::from_millis(1200));
    let sent = flood.stop();
    let elapsed = flooding.elapsed();
    let counters = server.counters().expect("counters");
    let rate = sent as f64 / elapsed.as_secs_f64();
    assert!(real_opened, "the real knock did not run its command ({rate:.0} frames/s)\n{}", server.diagnostics());
    let extended = counter(&counters, "openings_extended");
    assert!(extended > 5_000, "the flood was too slow to matter ({rate:.0} frames/s): {counters:?}");
    let log = server.log();
    let command = format!("ssh: running command: touch {dir}/opened-192.0.2.1");
    for line in ["192.0.2.1: ssh: OPEN SESAME", command.as_str()] {
        assert!(
            log.contains(line),
            "{line:?} is not in the log ({extended} extensions, {rate:.0} frames/s): {counters:?}\n{}",
            server.diagnostics()
        );
    }
    // The log stays small: beyond 500 a second, noise is summarised, not written line by line.
    let lines = log.lines().count() as u64;
    let bound = 2_000 * (elapsed.as_secs() + 2);
    assert!(lines < bound, "{lines} lines in {elapsed:?} for {extended} extensions");
    assert!(
        log.contains("more openings by 20 sources already open (extended) in the last"),
        "{}",
        server.diagnostics()
    );
}

#[test]
fn a_stop_command_killed_by_a_signal_is_retried_and_its_rule_goes() {
    let lab = lab_or_skip!();
    let ip = lab.client_v4().to_string();
    let marker = lab.dir().join("stop-killed-once");
    let rule = "INPUT -s %IP% -p tcp --dport 22 -j ACCEPT";
    // The first stop is killed by SIGTERM before it removes the rule (as `systemctl stop` without
    // KillMode=mixed signalled every process of the unit); the retry removes it.
    let config = format!(
        "[ssh]\n  Sequence = 7000,8000,9000\n  Seq_Timeout = 10\n  TCPFlags = syn\n  \
         Start_Command = iptables -w 5 -I {rule}\n  Cmd_Timeout = 1\n  \
         Stop_Command = test -e {m} || {{ touch {m}; kill -TERM $$; }}; iptables -w 5 -D {rule}\n",
        m = marker.display()
    );
    let server = lab.knock_server(&config, &[]);
    let has_rule = || {
        let out = lab.run_server("iptables", ["-w", "5", "-S", "INPUT"]).unwrap_or_else(|e| panic!("iptables: {e}"));
        String::from_utf8_lossy(&out.stdout).lines().any(|l| l.contains(&format!("-s {ip}/32")))
    };
    lab.knock(&["-4", &lab.server_v4().to_string(), "7000", "8000", "9000"]);
    assert!(wait_until(OPEN_WAIT, has_rule), "the start added no rule\n{}", server.diagnostics());
    assert!(wait_until(OPEN_WAIT, || marker.exists()), "the stop never ran\n{}", server.diagnostics());
    assert!(
        wait_until(OPEN_WAIT, || !has_rule()),
        "the rule stayed after the stop was killed\n{}",
        server.diagnostics()
    );
    assert!(server.wait_for_log("stop command succeeded at attempt 2", OPEN_WAIT), "{}", server.diagnostics());
    let log = server.log();
    assert!(log.contains("ssh: command failed: killed by a signal"), "{}", server.diagnostics());
    assert!(log.contains(&format!("{ip}: ssh: stop command failed (attempt 1 of 4)")), "{}", server.diagnostics());
    assert!(!log.contains("may still be open"), "{}", server.diagnostics());
}
