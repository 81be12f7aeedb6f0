//! knock-server benchmark (prints numbers, asserts no timings). Run with `scripts/server-bench.sh`
//! (release build; part (c) needs root for the namespace lab and is skipped without it).
//!
//! (a) Offline replay throughput: a generated pcap of ~3 M mixed Ethernet frames (complete knocks over
//!     IPv4 and IPv6 from many sources, wrong-order knocks, abandoned first hits, traffic to other ports,
//!     flag mismatches, truncated frames), replayed with `knock-server --read F --dry-run -q` pinned to one
//!     CPU: wall time, packets/s and peak RSS (wait4's ru_maxrss), best and median of several runs.
//! (b) Memory: 1 M first hits from 1 M distinct sources (long Seq_Timeout, --max-attempts 1000000), peak RSS
//!     and bytes per attempt over a 1-packet baseline; then 2 M sources under the same cap (eviction).
//! (c) Live, in the lab: a spoofed-source SYN flood on the door's first port at fixed rates (hping3
//!     --rand-source -i u100, -i u10, --flood) while N legitimate knocks arrive from N client addresses;
//!     how many each server opened, knock-server then knockd 0.8 with the same door.
//!
//! (d) Offline replay of a rotating door with 1,000 users (Rotating_Step = 10, 4 hits, tcp,udp,tcp,tcp): a
//!     generated pcap of ~3 M frames over several windows (complete knocks of users in their window's
//!     sequence, the same sequences replayed from spoofed sources, wrong-order knocks, random hits in the
//!     port range, noise), replayed like (a): packets/s, peak RSS, and the openings/replays counted against
//!     the generator's own count; then peak RSS with 1 M sources mid-sequence on that door.
//!
//! (e) Live, in the lab: a blind sweep (knock_e2e::sweep: a SYN and a UDP datagram to every port
//!     1024-65535, a new random order per pass, one source, a look at the door's marker after each pass)
//!     against knock-server's static door (8471,2947:udp,6302) and rotating door (the defaults: 4 TCP hits
//!     in 1024-65535, 30 s windows, skew 1), both with the sweep guard, then against knockd 0.8 with the
//!     static door: time to open, or "not opened after N SYNs".
//!
//! (f) SPA (issue 25): a generated pcap of N SPA payloads to UDP 62201 (valid packets from the fwknop codec,
//!     the same packets replayed, forged packets whose HMAC does not verify, random base64), replayed with
//!     `knock-server --fwknop-access A --read F --dry-run -q` like (a), and with `fwknopd --pcap-file F -t`
//!     (test mode: no firewall change; in the lab's server namespace) on the same pcap and access.conf:
//!     packets per second for both, the ratio, peak RSS. SERVER_BENCH_SPA_PACKETS (default 20000). Then live,
//!     in the lab (skipped with SERVER_BENCH_SKIP_LIVE=1): 20 legitimate packets of the real fwknop client
//!     (a fresh one each, from 20 source addresses) spread over SERVER_BENCH_SPA_FLOOD_SECS seconds (default
//!     10, 3 under CI=true), first without a flood, then during a flood of random SPA-sized UDP payloads from
//!     spoofed sources to UDP 62201 at the highest rate one AF_PACKET sender reaches: how many opened on
//!     knock-server (nft set) and on fwknopd 2.6.10 (its own iptables rules), the flood rate, peak RSS.
//!
//! (a) replays its pcap with the sweep guard on (the default) and off (`Sweep_Guard = off`).
//!
//! Environment: SERVER_BENCH_PACKETS (default 3000000) for (a) and (d); SERVER_BENCH_SKIP_LIVE=1 skips (c), (f)'s flood
//! and (e); SERVER_BENCH_ONLY_ROTATING=1 runs only (d); SERVER_BENCH_SWEEP_SYNS (default 50000000) bounds
//! each sweep of (e), SERVER_BENCH_SWEEP_SECS (default 600) too.

#![cfg_attr(
    target_os = "linux",
    expect(unsafe_code, reason = "wait4 for the server's rusage and the benchmark's pre_exec hook")
)]

// The namespace lab is Linux-only: elsewhere this benchmark builds to a program that says so.
#[cfg(target_os = "linux")]
fn main() {
    lab_bench::main();
}

#[cfg(not(target_os = "linux"))]
fn main() {
    eprintln!("this benchmark runs in the Linux namespace lab only");
}

#[cfg(target_os = "linux")]
mod lab_bench {
    use std::collections::BTreeMap;
    use std::fs::File;
    use std::net::IpAddr;
    use std::os::unix::process::CommandExt;
    use std::path::{Path, PathBuf};
    use std::process::{Command, Stdio};
    use std::time::{Duration, Instant};

    use knock_e2e::bins::knock_cli_path;
    use knock_e2e::knock_server::{counter, knock_server_path, parse_counters};
    use knock_e2e::{Lab, LabError, PCAP_MACS, PcapWriter, Side, syn_frame, tail, udp_frame};

    const REPLAY_RUNS: usize = 3;
    const DST4: [u8; 4] = [192, 0, 2, 2];
    const DST6: [u8; 16] = [0x20, 0x01, 0x0d, 0xb8, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 2];
    /// Offsets in the Ethernet frames built below (no VLAN, no IP options, no IPv6 extension headers).
    const SRC4_AT: usize = 14 + 12;
    const DPORT4_AT: usize = 14 + 20 + 2;
    const SRC6_AT: usize = 14 + 8;
    const DPORT6_AT: usize = 14 + 40 + 2;
    const FLAGS4_AT: usize = 14 + 20 + 13;

    pub fn main() {
        let dir = tempfile::Builder::new().prefix("knock-server-bench-").tempdir().expect("temp dir");
        let binary = knock_server_path().unwrap_or_else(|e| panic!("{e}"));
        println!("knock-server: {}", binary.display());
        let packets = std::env::var("SERVER_BENCH_PACKETS").ok().and_then(|v| v.parse().ok()).unwrap_or(3_000_000);
        if std::env::var("SERVER_BENCH_ONLY_ROTATING").is_ok_and(|v| v == "1") {
            rotating::replay_throughput(&binary, dir.path(), packets);
            return;
        }
        let parts = std::env::var("SERVER_BENCH_PARTS").unwrap_or_else(|_| "abcdef".to_owned());
        let skip_live = std::env::var("SERVER_BENCH_SKIP_LIVE").is_ok_and(|v| v == "1");
        if parts.contains('a') {
            replay_throughput(&binary, dir.path(), packets);
        }
        if parts.contains('b') {
            memory(&binary, dir.path());
        }
        if parts.contains('c') {
            if skip_live {
                println!("\n(c) live flood: skipped (SERVER_BENCH_SKIP_LIVE=1)");
            } else {
                match Lab::new("server_bench") {
                    Ok(lab) => live_flood(&lab),
                    Err(LabError::Unavailable(why)) => println!("\n(c) live flood: skipped, no lab: {why}"),
                    Err(e) => panic!("building the lab: {e}"),
                }
            }
        }
        if parts.contains('d') {
            rotating::replay_throughput(&binary, dir.path(), packets);
        }
        if parts.contains('f') {
            spa::replay(&binary, dir.path(), skip_live);
        }
        if parts.contains('e') {
            if skip_live {
                println!("\n(e) blind sweep: skipped (SERVER_BENCH_SKIP_LIVE=1)");
            } else {
                match Lab::new("server_bench_sweep") {
                    Ok(lab) => sweep::blind_sweep(&lab),
                    Err(LabError::Unavailable(why)) => println!("\n(e) blind sweep: skipped, no lab: {why}"),
                    Err(e) => panic!("building the lab: {e}"),
                }
            }
        }
    }

    // ---- (f) ------------------------------------------------------------------------------------------------

    mod spa {
        use std::os::unix::fs::PermissionsExt;
        use std::path::Path;
        use std::time::{Duration, Instant, SystemTime};

        use client_core::spa::{self, AccessRequest};
        use knock_e2e::frames::{PCAP_MACS, udp_payload_frame};
        use knock_e2e::knock_server::counter;
        use knock_e2e::{Lab, LabError, PcapWriter, Rng};

        use super::{counters, run_server, timed_replays};

        /// What the generated pcap holds.
        struct Mix {
            frames: u64,
            valid: u64,
            replays: u64,
            forged: u64,
            random: u64,
        }

        fn pcap(path: &Path, target: u64, key: &spa::SpaKey, hmac: &spa::HmacKey) -> Mix {
            let mut rng = Rng::new(0x5ba);
            let mut writer = PcapWriter::create(path).expect("pcap");
            let now = SystemTime::now();
            let start = now.duration_since(SystemTime::UNIX_EPOCH).expect("clock");
            let dst = "192.0.2.2".parse().expect("ip");
            let mut mix = Mix { frames: 0, valid: 0, replays: 0, forged: 0, random: 0 };
            let mut last_valid: Option<String> = None;
            const B64: &[u8] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
            for i in 0..target {
                let src = std::net::Ipv4Addr::from(0x0a00_0000 + (i as u32 % 60_000) + 1);
                let request = AccessRequest::new("bench", src, "tcp/22".parse().expect("access"));
                let payload = match i % 100 {
                    // 1% valid, 1% replays of the last valid one, 49% forged, 49% random.
                    0 => {
                        mix.valid += 1;
                        let wire = spa::build(&request, key, hmac, now).expect("build");
                        last_valid = Some(wire.clone());
                        wire
                    }
                    1 => {
                        mix.replays += 1;
                        last_valid.clone().expect("a valid packet came first")
                    }
                    n if n % 2 == 0 => {
                        mix.forged += 1;
                        let mut wire = spa::build(&request, key, hmac, now).expect("build").into_bytes();
                        let at = 20 + rng.below(100);
                        wire[at] = if wire[at] == b'A' { b'B' } else { b'A' };
                        String::from_utf8(wire).expect("ascii")
                    }
                    _ => {
                        mix.random += 1;
                        (0..150 + rng.below(240)).map(|_| B64[rng.below(B64.len())] as char).collect()
                    }
                };
                let frame = udp_payload_frame(PCAP_MACS, src.into(), dst, 62201, payload.as_bytes());
                writer.push(start + Duration::from_micros(i), &frame);
                mix.frames += 1;
            }
            writer.finish().expect("pcap written");
            mix
        }

        pub fn replay(binary: &Path, dir: &Path, skip_live: bool) {
            let target: u64 =
                std::env::var("SERVER_BENCH_SPA_PACKETS").ok().and_then(|v| v.parse().ok()).unwrap_or(20_000);
            let (key, hmac) = spa::keygen().expect("keys");
            let access = dir.join("spa-access.conf");
            std::fs::write(
                &access,
                format!(
                    "SOURCE ANY\nOPEN_PORTS tcp/22\nKEY_BASE64 {}\nHMAC_KEY_BASE64 {}\nFW_ACCESS_TIMEOUT 30\n",
                    key.to_base64(),
                    hmac.to_base64()
                ),
            )
            .expect("access.conf");
            std::fs::set_permissions(&access, std::fs::Permissions::from_mode(0o600)).expect("chmod");
            let conf = dir.join("spa.conf");
            std::fs::write(&conf, format!("[options]\n Fwknop_Access = {}\n", access.display())).expect("conf");
            let path = dir.join("spa.pcap");
            let began = Instant::now();
            let mix = pcap(&path, target, &key, &hmac);
            println!(
                "\n(f) SPA offline replay: {} frames to UDP 62201 (written in {:.1?}): {} valid, {} replays, {} forged \
                 (bad HMAC), {} random; 1 CPU",
                mix.frames,
                began.elapsed(),
                mix.valid,
                mix.replays,
                mix.forged,
                mix.random
            );
            let (conf_s, pcap_s) = (conf.display().to_string(), path.display().to_string());
            let check = run_server(binary, &["-c", &conf_s, "--read", &pcap_s, "--dry-run"], &dir.join("spa.stderr"));
            let c = counters(&check);
            println!(
                "    check run: opened {} of {} valid, replays refused {} of {}, refused {}, not SPA {}",
                counter(&c, "spa_opened"),
                mix.valid,
                counter(&c, "spa_replays"),
                mix.replays,
                counter(&c, "spa_refused"),
                counter(&c, "spa_not_spa")
            );
            println!("    knock-server:");
            let ours = timed_replays(binary, &conf_s, &pcap_s, &dir.join("spa-q.stderr"), mix.frames as f64);
            match Lab::new("server_bench_spa") {
                Ok(lab) => {
                    fwknopd(&lab, &access, &path, mix.frames as f64, ours);
                    if skip_live {
                        println!("\n(f) SPA live flood: skipped (SERVER_BENCH_SKIP_LIVE=1)");
                    } else {
                        flood::live_flood(&lab, &key, &hmac);
                    }
                }
                Err(LabError::Unavailable(why)) => println!("    fwknopd and the live flood: skipped, no lab: {why}"),
                Err(e) => panic!("building the lab: {e}"),
            }
            let _ = std::fs::remove_file(&path);
        }

        /// `fwknopd --pcap-file` in test mode on the same pcap, in the lab's server namespace.
        fn fwknopd(lab: &Lab, access: &Path, pcap: &Path, frames: f64, ours: f64) {
            let run = lab.dir().join("fwknop-bench");
            std::fs::create_dir_all(&run).expect("run dir");
            let conf = run.join("fwknopd.conf");
            std::fs::write(
                &conf,
                format!(
                    "PCAP_INTF {};\nENABLE_SPA_PACKET_AGING Y;\nMAX_SPA_PACKET_AGE 120;\nENABLE_DIGEST_PERSISTENCE Y;\n\
                     FWKNOP_RUN_DIR {run};\nFWKNOP_PID_FILE {run}/fwknopd.pid;\nDIGEST_FILE {run}/digest.cache;\n",
                    lab.server_iface(),
                    run = run.display()
                ),
            )
            .expect("fwknopd.conf");
            // fwknopd does not stop at the end of a pcap file: -C stops it after that many candidate packets
            // (every frame here is one), and `timeout` bounds it in any case.
            let limit = format!("{}", 60 + frames as u64 / 100);
            let count = format!("{}", frames as u64);
            let started = Instant::now();
            let out = lab
                .server_cmd("timeout")
                .args([limit.as_str(), "fwknopd", "-c"])
                .arg(&conf)
                .arg("-a")
                .arg(access)
                .arg("--pcap-file")
                .arg(pcap)
                .args(["--pcap-any-direction", "-f", "-t", "-C", count.as_str()])
                .output();
            let wall = started.elapsed().as_secs_f64();
            match out {
                Ok(out) if out.status.success() => {
                    let text = String::from_utf8_lossy(&out.stderr);
                    let accepted = text.matches("--test mode enabled").count();
                    println!(
                        "    fwknopd --pcap-file -t: {wall:.3} s, {:.0} packets/s (accepted {accepted}); knock-server / \
                         fwknopd: {:.1}x the packets per second (target >= 10x: {})",
                        frames / wall,
                        ours / (frames / wall),
                        if ours / (frames / wall) >= 10.0 { "met" } else { "NOT met" }
                    );
                }
                Ok(out) => println!(
                    "    fwknopd failed ({}): {}",
                    out.status,
                    knock_e2e::tail(&String::from_utf8_lossy(&out.stderr), 2000)
                ),
                Err(e) => println!("    fwknopd: cannot run: {e}"),
            }
        }

        /// Live: a flood of random SPA-sized UDP payloads from spoofed sources to the SPA port while 20
        /// legitimate packets from the real fwknop client arrive, on knock-server then on fwknopd.
        pub(super) mod flood {
            use std::net::Ipv4Addr;
            use std::os::unix::fs::PermissionsExt;
            use std::sync::atomic::{AtomicBool, Ordering};
            use std::time::{Duration, Instant};

            use client_core::spa;
            use knock_e2e::frames::udp_payload_frame;
            use knock_e2e::knock_server::counter;
            use knock_e2e::nft::knock_ruleset;
            use knock_e2e::packet_socket::PacketSocket;
            use knock_e2e::{Lab, Rng, Side};

            use super::super::mib;

            const LEGIT: u32 = 20;
            const GATED: u16 = 22;
            const SPA_PORT: u16 = 62201;
            /// Distinct flood frames built up front, sent over and over in batches.
            const FLOOD_FRAMES: usize = 8192;
            const BATCH: usize = 64;
            /// Time a server gets after the flood to work through a backlog.
            const DRAIN: Duration = Duration::from_secs(5);

            #[derive(Clone, Copy)]
            enum Server {
                KnockServer,
                Fwknopd,
            }

            /// The address legitimate packet `i` comes from and asks access for (in the client's subnet).
            fn legit_source(lab: &Lab, i: u32) -> Ipv4Addr {
                Ipv4Addr::from(u32::from(lab.client_v4()) + 100 + i)
            }

            pub fn live_flood(lab: &Lab, key: &spa::SpaKey, hmac: &spa::HmacKey) {
                let secs: u64 = std::env::var("SERVER_BENCH_SPA_FLOOD_SECS")
                    .ok()
                    .and_then(|v| v.parse().ok())
                    .unwrap_or(if std::env::var("CI").is_ok_and(|v| v == "true") { 3 } else { 10 });
                let access = format!(
                    "SOURCE ANY\nOPEN_PORTS tcp/{GATED}\nKEY_BASE64 {}\nHMAC_KEY_BASE64 {}\nFW_ACCESS_TIMEOUT 30\n",
                    key.to_base64(),
                    hmac.to_base64()
                );
                lab.server_nft_load(&knock_ruleset(GATED)).unwrap_or_else(|e| panic!("{e}"));
                println!(
                    "\n(f) SPA live flood: random base64 payloads (150-389 bytes) from spoofed sources to UDP {SPA_PORT}, \
                     as fast as one AF_PACKET sender goes, for {secs} s; {LEGIT} legitimate packets (the real fwknop \
                     client, a fresh packet each, one per source address) spread over it; same access.conf"
                );
                println!("    {:<15} {:<9} {:>12} {:>8} {:>4}  notes", "server", "flood", "flood pps", "opened", "of");
                // Without a flood first: the control row (every legitimate packet opens on both).
                for flood in [false, true] {
                    for server in [Server::KnockServer, Server::Fwknopd] {
                        let (pps, opened, notes) =
                            round(lab, server, &access, key, hmac, Duration::from_secs(secs), flood);
                        let name = match server {
                            Server::KnockServer => "knock-server",
                            Server::Fwknopd => "fwknopd 2.6.10",
                        };
                        let flood = if flood { "max rate" } else { "none" };
                        println!("    {name:<15} {flood:<9} {pps:>12.0} {opened:>8} {LEGIT:>4}  {notes}");
                    }
                }
            }

            /// 20 fresh packets from the real fwknop client (`-T`: built, not sent), one per legitimate source.
            fn legit_packets(
                lab: &Lab,
                key: &spa::SpaKey,
                hmac: &spa::HmacKey,
                round: &str,
            ) -> Vec<(Ipv4Addr, String)> {
                let home = lab.dir().join(format!("fwknop-client-{round}"));
                std::fs::create_dir_all(&home).expect("home");
                let rc = home.join("fwknoprc");
                std::fs::write(
                    &rc,
                    format!(
                        "[lab]\nSPA_SERVER {}\nSPA_SERVER_PORT {SPA_PORT}\nSPA_SERVER_PROTO udp\nACCESS tcp/{GATED}\n\
                         KEY_BASE64 {}\nHMAC_KEY_BASE64 {}\nUSE_HMAC Y\nHMAC_DIGEST_TYPE sha256\n",
                        lab.server_v4(),
                        key.to_base64(),
                        hmac.to_base64()
                    ),
                )
                .expect("rc file");
                std::fs::set_permissions(&rc, std::fs::Permissions::from_mode(0o600)).expect("chmod");
                (0..LEGIT)
                    .map(|i| {
                        let source = legit_source(lab, i);
                        let packet = home.join(format!("packet-{i}"));
                        let out = lab
                            .client_cmd("fwknop")
                            .env("HOME", &home)
                            .arg("--rc-file")
                            .arg(&rc)
                            .args(["-n", "lab", "--no-save-args", "-T", "-a"])
                            .arg(source.to_string())
                            .arg("-B")
                            .arg(&packet)
                            .output()
                            .expect("fwknop runs");
                        assert!(out.status.success(), "fwknop: {}", knock_e2e::text(&out));
                        (source, std::fs::read_to_string(&packet).expect("saved packet").trim().to_owned())
                    })
                    .collect()
            }

            /// The flood's frames: random sources in 198.18.0.0/15, random base64 payloads of SPA sizes.
            fn flood_frames(lab: &Lab) -> Vec<Vec<u8>> {
                const B64: &[u8] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
                let macs = (lab.mac(Side::Client).expect("mac"), lab.mac(Side::Server).expect("mac"));
                let mut rng = Rng::new(0xf100d);
                (0..FLOOD_FRAMES)
                    .map(|_| {
                        let src = Ipv4Addr::from(0xc612_0000 + (rng.next_u64() as u32 & 0x1_ffff));
                        let payload: Vec<u8> = (0..150 + rng.below(240)).map(|_| B64[rng.below(B64.len())]).collect();
                        udp_payload_frame(macs, src.into(), lab.server_v4().into(), SPA_PORT, &payload)
                    })
                    .collect()
            }

            /// One server: (flood packets per second sent, legitimate packets that opened, notes).
            fn round(
                lab: &Lab,
                server: Server,
                access: &str,
                key: &spa::SpaKey,
                hmac: &spa::HmacKey,
                flood_time: Duration,
                flood: bool,
            ) -> (f64, usize, String) {
                let name = match server {
                    Server::KnockServer => "knock-server",
                    Server::Fwknopd => "fwknopd",
                };
                let legit = legit_packets(lab, key, hmac, &format!("{name}-{flood}"));
                let frames = flood_frames(lab);
                let mut ks = None;
                let mut fw = None;
                match server {
                    Server::KnockServer => {
                        let path = lab.dir().join("flood-access.conf");
                        std::fs::write(&path, access).expect("access.conf");
                        std::fs::set_permissions(&path, std::fs::Permissions::from_mode(0o600)).expect("chmod");
                        let config = format!("[options]\n Fwknop_Access = {}\n", path.display());
                        let args = ["--fwknop-nft-set", "inet knock allow4"];
                        ks = Some(lab.start_knock_server(&config, &args).unwrap_or_else(|e| panic!("{e}")));
                    }
                    Server::Fwknopd => fw = Some(lab.start_fwknopd(access).expect("fwknopd starts")),
                }
                let log = |ks: &Option<knock_e2e::KnockServer>, fw: &Option<knock_e2e::Fwknopd>| match (ks, fw) {
                    (Some(s), _) => s.log(),
                    (_, Some(f)) => f.log(),
                    _ => String::new(),
                };
                let wanted: Vec<String> = legit
                    .iter()
                    .map(|(ip, _)| match server {
                        Server::KnockServer => format!("{ip}: spa-stanza-1: OPEN SESAME"),
                        Server::Fwknopd => format!("for {ip} "),
                    })
                    .collect();
                let count = |text: &str| match server {
                    Server::KnockServer => wanted.iter().filter(|w| text.contains(w.as_str())).count(),
                    Server::Fwknopd => wanted
                        .iter()
                        .filter(|w| text.lines().any(|l| l.contains("Added access rule") && l.contains(w.as_str())))
                        .count(),
                };

                let stop = AtomicBool::new(false);
                let (ns, iface) = lab.client_packet_target().expect("client interface");
                let macs = (lab.mac(Side::Client).expect("mac"), lab.mac(Side::Server).expect("mac"));
                let (sent, elapsed) = std::thread::scope(|s| {
                    let flooder = s.spawn(|| {
                        let socket = PacketSocket::open_in(&ns, &iface).expect("packet socket");
                        let refs: Vec<&[u8]> = frames.iter().map(Vec::as_slice).collect();
                        let started = Instant::now();
                        let mut sent = 0u64;
                        while flood && !stop.load(Ordering::Relaxed) {
                            for batch in refs.chunks(BATCH) {
                                socket.send_batch(batch).expect("flood frames sent");
                                sent += batch.len() as u64;
                            }
                        }
                        (sent, started.elapsed())
                    });
                    // The legitimate packets spread over the flood, the first after a tenth of it.
                    let gap = flood_time / (LEGIT + 2);
                    std::thread::sleep(gap);
                    for (ip, payload) in &legit {
                        let tick = Instant::now();
                        let frame =
                            udp_payload_frame(macs, (*ip).into(), lab.server_v4().into(), SPA_PORT, payload.as_bytes());
                        lab.send_client_frame(&frame).expect("legitimate frame sent");
                        std::thread::sleep(gap.saturating_sub(tick.elapsed()));
                    }
                    std::thread::sleep(gap);
                    stop.store(true, Ordering::Relaxed);
                    flooder.join().expect("flood thread")
                });
                knock_e2e::wait_until(DRAIN, || count(&log(&ks, &fw)) == wanted.len());
                let opened = count(&log(&ks, &fw));
                let notes = match (&mut ks, &fw) {
                    (Some(s), _) => {
                        let rss = s.peak_rss_kib().map(mib).unwrap_or(0.0);
                        match s.counters() {
                            Ok(c) => format!(
                                "captured {} SPA-port packets of {sent} flood + {LEGIT} sent (the kernel dropped {} \
                                 for a full capture buffer, the interface {}), refused {}, peak RSS {rss:.1} MiB",
                                counter(&c, "spa_packets"),
                                counter(&c, "pcap_dropped"),
                                counter(&c, "pcap_if_dropped"),
                                counter(&c, "spa_refused")
                            ),
                            Err(e) => format!("no counters: {e}"),
                        }
                    }
                    (_, Some(f)) => {
                        let text = f.log();
                        let errors = text.matches("Error creating fko context").count();
                        format!("logged {errors} undecodable packets of {sent} flood + {LEGIT} sent")
                    }
                    _ => String::new(),
                };
                drop(ks);
                drop(fw);
                (sent as f64 / elapsed.as_secs_f64().max(1e-9), opened, notes)
            }
        }
    }

    // ---- (e) ------------------------------------------------------------------------------------------------

    mod sweep {
        use std::net::IpAddr;
        use std::os::unix::fs::PermissionsExt;
        use std::path::PathBuf;
        use std::time::Duration;

        use knock_e2e::Lab;
        use knock_e2e::knock_server::counter;
        use knock_e2e::sweep::{Sweep, SweepOutcome};

        const STATIC_SEQUENCE: &str = "8471,2947:udp,6302";

        fn marker(lab: &Lab, name: &str, ip: IpAddr) -> PathBuf {
            lab.dir().join(format!("opened-{name}-{ip}"))
        }

        fn door(lab: &Lab, name: &str, body: &str) -> String {
            format!(
                "[{name}]\n{body}  Seq_Timeout = 10\n  TCPFlags = syn,!ack\n  Start_Command = touch {}/opened-{name}-%IP%\n",
                lab.dir().display()
            )
        }

        fn row(server: &str, door: &str, outcome: &SweepOutcome, captured: Option<u64>) {
            let result = match outcome.opened {
                Some((_, syns, at)) => format!("OPENED after {:.1} s, {} SYNs", at.as_secs_f64(), syns),
                None => format!("not opened after {} SYNs ({:.0} s)", outcome.syns, outcome.elapsed.as_secs_f64()),
            };
            let captured = captured.map(|c| format!(", captured {c}")).unwrap_or_default();
            println!(
                "    {server:<13} {door:<32} {result:<44} {} packets, {:.0}/s{captured}",
                outcome.packets,
                outcome.rate()
            );
        }

        pub fn blind_sweep(lab: &Lab) {
            let syns: u64 =
                std::env::var("SERVER_BENCH_SWEEP_SYNS").ok().and_then(|v| v.parse().ok()).unwrap_or(50_000_000);
            let secs: u64 = std::env::var("SERVER_BENCH_SWEEP_SECS").ok().and_then(|v| v.parse().ok()).unwrap_or(600);
            let client: IpAddr = lab.client_v4().into();
            // What a knock server's firewall does: DROP what reaches closed ports (the capture sees packets
            // first); it also spares the kernel an RST or ICMP error per sweep packet.
            for protocol in ["tcp", "udp"] {
                lab.server_iptables(&["-A", "INPUT", "-p", protocol, "--dport", "1024:65535", "-j", "DROP"])
                    .expect("iptables");
            }
            println!(
                "\n(e) live: blind sweep from one address, a SYN and a UDP datagram to every port 1024-65535 in a new \
                 random order per pass, the door's marker checked after each pass; at most {syns} SYNs or {secs} s per \
                 server"
            );
            let sweep = Sweep {
                ports: 1024..=65535,
                tcp: true,
                udp: true,
                // As many datagrams as SYNs, in a random mix: one pass more makes sure of `syns` SYNs.
                max_packets: syns.saturating_mul(2).saturating_add(2 * 64_512),
                max_time: Duration::from_secs(secs),
                seed: 0x00c0_ffee_d00d_u64,
            };
            let keys = lab.dir().join("rotating.keys");
            std::fs::write(&keys, "alice JBSWY3DPEHPK3PXPJBSWY3DPEHPK3PXP\n").expect("keys");
            std::fs::set_permissions(&keys, std::fs::Permissions::from_mode(0o600)).expect("chmod");
            let config = format!(
                "{}{}",
                door(lab, "static", &format!("  Sequence = {STATIC_SEQUENCE}\n")),
                door(lab, "rotating", &format!("  Rotating_Keys = {}\n", keys.display()))
            );
            let state = lab.dir().join("state");
            std::fs::create_dir_all(&state).expect("state dir");
            let mut server = lab
                .start_knock_server(&config, &["--state-dir", &state.display().to_string()])
                .expect("knock-server starts");
            let (static_marker, rotating_marker) = (marker(lab, "static", client), marker(lab, "rotating", client));
            let (mut static_at, mut rotating_at) = (None, None);
            let outcome = lab
                .sweep(&sweep, true, &mut |p| {
                    if static_at.is_none() && static_marker.exists() {
                        static_at = Some((p.packets, p.syns, p.elapsed));
                    }
                    if rotating_at.is_none() && rotating_marker.exists() {
                        rotating_at = Some((p.packets, p.syns, p.elapsed));
                    }
                    static_at.is_some() && rotating_at.is_some()
                })
                .expect("the sweep runs");
            std::thread::sleep(Duration::from_secs(2));
            let captured = server.counters().ok().map(|c| counter(&c, "packets"));
            if static_at.is_none() && static_marker.exists() {
                static_at = Some((outcome.packets, outcome.syns, outcome.elapsed));
            }
            if rotating_at.is_none() && rotating_marker.exists() {
                rotating_at = Some((outcome.packets, outcome.syns, outcome.elapsed));
            }
            println!("    {:<13} {:<32} {:<44} sent", "server", "door", "result");
            row("knock-server", STATIC_SEQUENCE, &SweepOutcome { opened: static_at, ..outcome.clone() }, captured);
            row(
                "knock-server",
                "rotating (4 TCP hits, 1024-65535)",
                &SweepOutcome { opened: rotating_at, ..outcome.clone() },
                captured,
            );
            drop(server);
            let knockd_door = format!(
                "[static]\n  Sequence = {STATIC_SEQUENCE}\n  Seq_Timeout = 10\n  TCPFlags = syn,!ack\n  Command = touch \
                 {}/opened-knockd-%IP%\n",
                lab.dir().display()
            );
            let knockd = lab.start_knockd(&knockd_door).expect("knockd starts");
            let knockd_marker = marker(lab, "knockd", client);
            let outcome = lab.sweep(&sweep, true, &mut |_| knockd_marker.exists()).expect("the sweep runs");
            row("knockd 0.8", STATIC_SEQUENCE, &outcome, None);
            drop(knockd);
        }
    }

    // ---- frames ---------------------------------------------------------------------------------------------

    /// Frame templates; the source address and destination port are patched in per packet (knock-server does
    /// not verify checksums, like knockd).
    struct Templates {
        syn4: Vec<u8>,
        udp4: Vec<u8>,
        syn6: Vec<u8>,
        udp6: Vec<u8>,
    }

    impl Templates {
        fn new() -> Templates {
            let (v4, v6) = (IpAddr::from([10, 0, 0, 1]), IpAddr::from(DST6));
            Templates {
                syn4: syn_frame(PCAP_MACS, v4, DST4.into(), 7000),
                udp4: udp_frame(PCAP_MACS, v4, DST4.into(), 8000),
                syn6: syn_frame(PCAP_MACS, v6, v6, 7000),
                udp6: udp_frame(PCAP_MACS, v6, v6, 8000),
            }
        }

        /// A hit from IPv4 source `src` on `port`, UDP if `udp`.
        fn v4(&self, src: u32, port: u16, udp: bool) -> Vec<u8> {
            let mut f = if udp { self.udp4.clone() } else { self.syn4.clone() };
            f[SRC4_AT..SRC4_AT + 4].copy_from_slice(&src.to_be_bytes());
            f[DPORT4_AT..DPORT4_AT + 2].copy_from_slice(&port.to_be_bytes());
            f
        }

        /// A hit from IPv6 source 2001:db8:1::`src`.
        fn v6(&self, src: u32, port: u16, udp: bool) -> Vec<u8> {
            let mut f = if udp { self.udp6.clone() } else { self.syn6.clone() };
            let mut addr = [0u8; 16];
            addr[..6].copy_from_slice(&[0x20, 0x01, 0x0d, 0xb8, 0, 1]);
            addr[12..].copy_from_slice(&src.to_be_bytes());
            f[SRC6_AT..SRC6_AT + 16].copy_from_slice(&addr);
            f[DPORT6_AT..DPORT6_AT + 2].copy_from_slice(&port.to_be_bytes());
            f
        }
    }

    /// The door every part uses: 7000, 8000:udp, 9000 with `TCPFlags = syn`.
    fn config(dir: &Path, name: &str, seq_timeout: u32) -> PathBuf {
        let path = dir.join(name);
        let text = format!(
            "[ssh]\n  Sequence = 7000,8000:udp,9000\n  Seq_Timeout = {seq_timeout}\n  TCPFlags = syn\n  \
             Start_Command = /bin/true %IP%\n"
        );
        std::fs::write(&path, text).expect("write config");
        path
    }

    /// Sources per block and what they do: complete IPv4 knocks, complete IPv6 knocks, wrong-order IPv4 knocks
    /// (7000, 9000, 8000), and first hits only (abandoned, they time out); plus noise frames.
    const BLOCK_V4_OPEN: u32 = 100;
    const BLOCK_V6_OPEN: u32 = 20;
    const BLOCK_WRONG: u32 = 200;
    const BLOCK_ABANDONED: u32 = 680;
    const BLOCK_NOISE: usize = 1500;
    const BLOCK_SOURCES: u32 = BLOCK_V4_OPEN + BLOCK_V6_OPEN + BLOCK_WRONG + BLOCK_ABANDONED;

    /// Writes the mixed pcap of (a); returns (frames, knocks that must open).
    fn mixed_pcap(path: &Path, target: u64) -> (u64, u64) {
        let t = Templates::new();
        let mut pcap = PcapWriter::create(path).expect("pcap");
        let mut ts = Duration::from_secs(1_700_000_000);
        let step = Duration::from_micros(10);
        let mut noise_seq: u32 = 0;
        let mut opened = 0;
        let mut block: u32 = 0;
        let is_v6 = |s: u32| (BLOCK_V4_OPEN..BLOCK_V4_OPEN + BLOCK_V6_OPEN).contains(&s);
        while pcap.written() < target {
            let base = 0x0a00_0000 + block * BLOCK_SOURCES;
            let mut knock = Vec::with_capacity(2000);
            for s in 0..BLOCK_SOURCES {
                knock.push(if is_v6(s) { t.v6(base + s, 7000, false) } else { t.v4(base + s, 7000, false) });
            }
            for (hit, port, udp) in [(2, 8000u16, true), (3, 9000, false)] {
                for s in 0..BLOCK_V4_OPEN + BLOCK_V6_OPEN + BLOCK_WRONG {
                    let (port, udp) = if s >= BLOCK_V4_OPEN + BLOCK_V6_OPEN {
                        // Wrong order: 9000 second, 8000:udp third.
                        if hit == 2 { (9000, false) } else { (8000, true) }
                    } else {
                        (port, udp)
                    };
                    knock.push(if is_v6(s) { t.v6(base + s, port, udp) } else { t.v4(base + s, port, udp) });
                }
            }
            opened += u64::from(BLOCK_V4_OPEN + BLOCK_V6_OPEN);
            let mut noise_due = 0usize;
            for (i, frame) in knock.iter().enumerate() {
                pcap.push(ts, frame);
                ts += step;
                let want = (i + 1) * BLOCK_NOISE / knock.len();
                while noise_due < want {
                    let frame = noise(&t, noise_seq);
                    pcap.push(ts, &frame);
                    ts += step;
                    noise_seq = noise_seq.wrapping_add(1);
                    noise_due += 1;
                }
            }
            block += 1;
        }
        let written = pcap.finish().expect("pcap written");
        (written, opened)
    }

    /// Noise: SYNs to other ports (what a capture filter would normally drop), UDP to 53, IPv6 to 22, SYN/ACKs
    /// on a door port (flags mismatch), truncated frames.
    fn noise(t: &Templates, n: u32) -> Vec<u8> {
        let src = 0xc633_6400 + (n % 50_000); // 198.51.100.0 + ...
        match n % 6 {
            0 | 1 => t.v4(src, 443, false),
            2 => t.v4(src, 53, true),
            3 => t.v6(src, 22, false),
            4 => {
                let mut f = t.v4(src, 7000, false);
                f[FLAGS4_AT] = 0x12; // SYN+ACK
                f
            }
            _ => {
                let mut f = t.v4(src, 9000, false);
                f.truncate(14 + 20 + 7);
                f
            }
        }
    }

    // ---- running knock-server -------------------------------------------------------------------------------

    struct Run {
        wall: Duration,
        max_rss_kib: u64,
        stderr: String,
    }

    /// Runs `knock-server ARGS` pinned to one CPU, stderr to a file; wall time and peak RSS from wait4.
    #[expect(clippy::zombie_processes, reason = "reaped with wait4(2), for its rusage")]
    fn run_server(binary: &Path, args: &[&str], stderr: &Path) -> Run {
        let err = File::create(stderr).expect("stderr file");
        let mut cmd = Command::new(binary);
        cmd.args(args).stdin(Stdio::null()).stdout(Stdio::null()).stderr(err);
        // SAFETY: sched_setaffinity is async-signal-safe; the set is built on the child's stack.
        unsafe {
            cmd.pre_exec(|| {
                let mut set: libc::cpu_set_t = std::mem::zeroed();
                libc::CPU_SET(1, &mut set);
                if libc::sched_setaffinity(0, std::mem::size_of::<libc::cpu_set_t>(), &set) != 0 {
                    libc::CPU_ZERO(&mut set);
                    libc::CPU_SET(0, &mut set);
                    libc::sched_setaffinity(0, std::mem::size_of::<libc::cpu_set_t>(), &set);
                }
                Ok(())
            });
        }
        let started = Instant::now();
        let child = cmd.spawn().expect("spawn knock-server");
        let pid = libc::pid_t::try_from(child.id()).expect("pid");
        let mut status = 0;
        // SAFETY: rusage is plain data; wait4 fills it for our own child.
        let mut usage: libc::rusage = unsafe { std::mem::zeroed() };
        // SAFETY: valid pointers for the call; the child is ours and not waited for elsewhere.
        let waited = unsafe { libc::wait4(pid, &mut status, 0, &mut usage) };
        let wall = started.elapsed();
        assert_eq!(waited, pid, "wait4: {}", std::io::Error::last_os_error());
        let stderr = std::fs::read_to_string(stderr).unwrap_or_default();
        assert!(
            libc::WIFEXITED(status) && libc::WEXITSTATUS(status) == 0,
            "knock-server {args:?} failed (status {status:#x}):\n{}",
            tail(&stderr, 4000)
        );
        Run { wall, max_rss_kib: u64::try_from(usage.ru_maxrss).unwrap_or(0), stderr }
    }

    fn counters(run: &Run) -> BTreeMap<String, u64> {
        parse_counters(&run.stderr).unwrap_or_default()
    }

    fn mib(kib: u64) -> f64 {
        kib as f64 / 1024.0
    }

    /// Replays `pcap` REPLAY_RUNS times (quiet, dry run) under `conf`, prints the best and median run's wall
    /// time, packets/s, ns per packet and peak RSS for its `frames`, and returns the best packets/s.
    fn timed_replays(binary: &Path, conf: &str, pcap: &str, stderr: &Path, frames: f64) -> f64 {
        let mut runs: Vec<Run> = (0..REPLAY_RUNS)
            .map(|_| run_server(binary, &["-c", conf, "--read", pcap, "--dry-run", "-q"], stderr))
            .collect();
        runs.sort_by_key(|r| r.wall);
        println!("    {:<8} {:>10} {:>14} {:>12} {:>14}", "run", "wall s", "packets/s", "ns/packet", "peak RSS MiB");
        for (name, run) in [("best", &runs[0]), ("median", &runs[runs.len() / 2])] {
            let secs = run.wall.as_secs_f64();
            println!(
                "    {:<8} {:>10.3} {:>14.0} {:>12.0} {:>14.1}",
                name,
                secs,
                frames / secs,
                secs * 1e9 / frames,
                mib(run.max_rss_kib)
            );
        }
        frames / runs[0].wall.as_secs_f64()
    }

    // ---- (a) ------------------------------------------------------------------------------------------------

    fn replay_throughput(binary: &Path, dir: &Path, target: u64) {
        let pcap = dir.join("mixed.pcap");
        let began = Instant::now();
        let (frames, expected_open) = mixed_pcap(&pcap, target);
        let size = std::fs::metadata(&pcap).map(|m| m.len()).unwrap_or(0);
        println!(
            "\n(a) offline replay: {frames} frames ({:.0} MB pcap, written in {:.1?}), {} complete knocks, 1 CPU",
            size as f64 / 1e6,
            began.elapsed(),
            expected_open
        );
        let conf = config(dir, "replay.conf", 5);
        let (conf_s, pcap_s) = (conf.display().to_string(), pcap.display().to_string());
        // Untimed check that the replay does what it should (without -q, for the counters line).
        let check = run_server(binary, &["-c", &conf_s, "--read", &pcap_s, "--dry-run"], &dir.join("check.stderr"));
        let c = counters(&check);
        println!(
            "    check run (logging to stderr): {:.2?}; opened {} of {expected_open} expected; counters {c:?}",
            check.wall,
            counter(&c, "opened")
        );
        println!("    sweep guard on (the default):");
        let best = timed_replays(binary, &conf_s, &pcap_s, &dir.join("q.stderr"), frames as f64);
        println!("    target >= 1,000,000 packets/s on one core: {}", if best >= 1e6 { "met" } else { "NOT met" });
        let off = dir.join("replay-off.conf");
        let text = std::fs::read_to_string(&conf).expect("config") + "  Sweep_Guard = off\n";
        std::fs::write(&off, text).expect("write config");
        println!("    sweep guard off (Sweep_Guard = off, knockd's matching):");
        let best_off = timed_replays(binary, &off.display().to_string(), &pcap_s, &dir.join("q.stderr"), frames as f64);
        println!("    guard on / off: {:.2}x the packets per second", best / best_off);
        if let Ok(baseline) = std::env::var("SERVER_BENCH_BASELINE") {
            // Another build (e.g. before the guard existed) on the same pcap and door, in the same run.
            println!("    baseline {baseline} (same pcap and door):");
            let best_base = timed_replays(Path::new(&baseline), &conf_s, &pcap_s, &dir.join("q.stderr"), frames as f64);
            println!("    guard on / baseline: {:.2}x the packets per second", best / best_base);
        }
        if let Ok(keep) = std::env::var("SERVER_BENCH_KEEP_PCAP") {
            // For profiling the replay by hand (perf record knock-server --read ...).
            std::fs::copy(&pcap, &keep).expect("copy the pcap");
            println!("    pcap kept as {keep}");
        }
        let _ = std::fs::remove_file(&pcap);
    }

    // ---- (b) ------------------------------------------------------------------------------------------------

    /// A pcap of `sources` first hits (SYN to 7000) from distinct IPv4 sources, 1 µs apart.
    fn first_hits_pcap(path: &Path, sources: u32) {
        let t = Templates::new();
        let mut pcap = PcapWriter::create(path).expect("pcap");
        let start = Duration::from_secs(1_700_000_000);
        for i in 0..sources {
            pcap.push(start + Duration::from_micros(u64::from(i)), &t.v4(0x0b00_0000 + i, 7000, false));
        }
        pcap.finish().expect("pcap written");
    }

    fn memory(binary: &Path, dir: &Path) {
        let conf = config(dir, "memory.conf", 3600);
        let conf_s = conf.display().to_string();
        let run = |pcap: &Path, cap: &str| {
            let args = ["-c", conf_s.as_str(), "--read", &pcap.display().to_string(), "--max-attempts", cap];
            run_server(binary, &args, &dir.join("memory.stderr"))
        };
        let one = dir.join("one.pcap");
        first_hits_pcap(&one, 1);
        let base = run(&one, "1000000");
        println!("\n(b) memory (Seq_Timeout = 3600, --max-attempts 1000000), peak RSS (ru_maxrss):");
        println!("    baseline, 1 attempt:                {:>8.1} MiB", mib(base.max_rss_kib));
        for (sources, label) in
            [(1_000_000u32, "1 M distinct sources, 1 M attempts"), (2_000_000, "2 M sources, cap 1 M")]
        {
            let pcap = dir.join(format!("first-{sources}.pcap"));
            first_hits_pcap(&pcap, sources);
            let r = run(&pcap, "1000000");
            let c = counters(&r);
            let attempts = counter(&c, "attempts_left");
            let grown = r.max_rss_kib.saturating_sub(base.max_rss_kib) * 1024;
            println!(
                "    {label:<36} {:>8.1} MiB  ({:.0} bytes per attempt over the baseline; attempts {attempts}, evicted {}, \
                 {:.2?})",
                mib(r.max_rss_kib),
                grown as f64 / attempts.max(1) as f64,
                counter(&c, "evicted"),
                r.wall
            );
            let _ = std::fs::remove_file(&pcap);
        }
        println!("    doors.rs claims ~70 bytes per attempt, under ~100 MB for the default cap of 1,000,000");
    }

    // ---- (c) ------------------------------------------------------------------------------------------------

    const LEGIT_KNOCKS: u8 = 20;
    const KNOCK_GAP: Duration = Duration::from_millis(200);
    const FLOOD_LEAD: Duration = Duration::from_secs(1);

    #[derive(Clone, Copy)]
    enum Server {
        KnockServer,
        Knockd,
    }

    fn live_flood(lab: &Lab) {
        let clients = lab.add_client_v4_range(50, LEGIT_KNOCKS).expect("client addresses");
        let door = "[ssh]\n  Sequence = 7000,8000,9000\n  Seq_Timeout = 10\n  TCPFlags = syn\n  Start_Command = true\n";
        println!(
            "\n(c) live: spoofed SYN flood (hping3 -S --rand-source -p 7000) on the door's first port; {LEGIT_KNOCKS} \
             legitimate knocks (knock-cli, 7000 8000 9000, one per client address, {} ms apart) during it",
            KNOCK_GAP.as_millis()
        );
        println!("    {:<13} {:<10} {:>12} {:>8} {:>10}  notes", "server", "hping3", "flood pps", "opened", "of");
        for rate in ["u100", "u10", "flood"] {
            for server in [Server::KnockServer, Server::Knockd] {
                let (sent_pps, opened, notes) = flood_round(lab, server, door, rate, &clients);
                let name = match server {
                    Server::KnockServer => "knock-server",
                    Server::Knockd => "knockd 0.8",
                };
                let flag = if rate == "flood" { "--flood".to_owned() } else { format!("-i {rate}") };
                println!("    {name:<13} {flag:<10} {sent_pps:>12.0} {opened:>8} {LEGIT_KNOCKS:>10}  {notes}");
            }
        }
    }

    /// One server under one flood rate: (achieved flood rate, legitimate knocks opened, notes).
    fn flood_round(
        lab: &Lab,
        server: Server,
        door: &str,
        rate: &str,
        clients: &[std::net::Ipv4Addr],
    ) -> (f64, usize, String) {
        let host = lab.server_v4().to_string();
        let mut ks = None;
        let mut kd = None;
        match server {
            Server::KnockServer => ks = Some(lab.start_knock_server(door, &[]).expect("knock-server starts")),
            Server::Knockd => kd = Some(lab.start_knockd(door).expect("knockd starts")),
        }
        let log = |ks: &Option<knock_e2e::KnockServer>, kd: &Option<knock_e2e::Knockd>| match (ks, kd) {
            (Some(s), _) => s.log(),
            (_, Some(d)) => d.log(),
            _ => String::new(),
        };
        let mut args = vec!["-S", "--rand-source", "-p", "7000"];
        if rate == "flood" {
            args.push("--flood");
        } else {
            args.extend(["-i", rate]);
        }
        args.push(&host);
        let flood = lab.spawn(Side::Client, "hping3", &args).expect("hping3 starts");
        let flood_start = Instant::now();
        std::thread::sleep(FLOOD_LEAD);
        let cli = knock_cli_path();
        for ip in clients {
            let tick = Instant::now();
            let ip = ip.to_string();
            let _ = lab.run_client(&cli, ["knock", "--bind", ip.as_str(), host.as_str(), "7000", "8000", "9000"]);
            std::thread::sleep(KNOCK_GAP.saturating_sub(tick.elapsed()));
        }
        std::thread::sleep(FLOOD_LEAD);
        let out = flood.stop(libc::SIGINT);
        let flood_secs = flood_start.elapsed().as_secs_f64();
        let hping = String::from_utf8_lossy(&out.stdout).into_owned() + &String::from_utf8_lossy(&out.stderr);
        let sent: u64 = hping
            .lines()
            .find_map(|l| l.split(" packets transmitted").next().filter(|_| l.contains("packets transmitted")))
            .and_then(|n| n.trim().parse().ok())
            .unwrap_or(0);
        // Give a server that fell behind time to work through its backlog.
        let wanted: Vec<String> = clients.iter().map(|ip| format!("{ip}: ssh: OPEN SESAME")).collect();
        let count = |text: &str| wanted.iter().filter(|w| text.contains(w.as_str())).count();
        knock_e2e::wait_until(Duration::from_secs(5), || count(&log(&ks, &kd)) == wanted.len());
        let text = log(&ks, &kd);
        let opened = count(&text);
        let notes = match (&mut ks, &kd) {
            (Some(s), _) => {
                let rss = s.peak_rss_kib().map(mib).unwrap_or(0.0);
                match s.counters() {
                    Ok(c) => format!(
                        "captured {} of {sent} flood packets, attempts {}, evicted {}, peak RSS {rss:.1} MiB",
                        counter(&c, "packets"),
                        counter(&c, "attempts"),
                        counter(&c, "evicted")
                    ),
                    Err(e) => format!("no counters: {e}"),
                }
            }
            (_, Some(d)) => {
                let rss = std::fs::read_to_string(format!("/proc/{}/status", d.pid()))
                    .ok()
                    .and_then(|s| {
                        s.lines().find_map(|l| l.strip_prefix("VmHWM:")?.trim().strip_suffix("kB")?.trim().parse().ok())
                    })
                    .map(mib)
                    .unwrap_or(0.0);
                let stages = text.lines().filter(|l| l.contains(": ssh: Stage 1")).count();
                format!("logged Stage 1 for {stages} of {sent} flood packets, peak RSS {rss:.1} MiB")
            }
            _ => String::new(),
        };
        // Stop the server before the next round (a backlogged knockd would otherwise keep a core busy).
        drop(ks);
        drop(kd);
        (sent as f64 / flood_secs, opened, notes)
    }

    // ---- (d) ------------------------------------------------------------------------------------------------

    mod rotating {
        use std::collections::{HashMap, HashSet};
        use std::os::unix::fs::PermissionsExt;
        use std::path::Path;
        use std::time::{Duration, Instant};

        use client_core::rotating::{DoorKey, Rotation};
        use client_core::{Hit, Protocol};
        use knock_e2e::knock_server::counter;
        use knock_e2e::{PcapWriter, Rng};

        use super::{Templates, counters, mib, run_server, timed_replays};

        const USERS: u32 = 1000;
        const STEP: u64 = 10;
        /// Per block: complete knocks, their replays from spoofed sources, wrong-order knocks, random hits in
        /// the range (first hits that lead nowhere), and noise frames.
        const KNOCKS: u32 = 50;
        const REPLAYS: u32 = 50;
        const WRONG: u32 = 50;
        const RANDOM: u32 = 400;
        const NOISE: u32 = 600;

        fn rotation() -> Rotation {
            let mut r = Rotation::new("ssh");
            r.step = STEP;
            r.protocols = vec![Protocol::Tcp, Protocol::Udp, Protocol::Tcp, Protocol::Tcp];
            r
        }

        /// User `i`'s key: 20 bytes from a fixed generator (a benchmark needs no secrecy, only distinct keys).
        fn key(i: u32) -> DoorKey {
            let mut rng = Rng::new(u64::from(i).wrapping_mul(0x9e37_79b9_7f4a_7c15) ^ 0x5151_5151);
            DoorKey::from_bytes((0..20).map(|_| rng.next_byte()).collect()).expect("20-byte key")
        }

        /// Writes the config and the 1,000-user key file.
        fn config(dir: &Path, seq_timeout: u32) -> std::path::PathBuf {
            let keys = dir.join("rotating.keys");
            let text: String = (0..USERS).map(|i| format!("user{i} {}\n", key(i).to_base32())).collect();
            std::fs::write(&keys, text).expect("keys");
            std::fs::set_permissions(&keys, std::fs::Permissions::from_mode(0o600)).expect("chmod");
            let conf = dir.join("rotating.conf");
            let text = format!(
                "[ssh]\n  Rotating_Keys = {}\n  Rotating_Step = {STEP}\n  Rotating_Protocols = tcp,udp,tcp,tcp\n  \
                 Seq_Timeout = {seq_timeout}\n  TCPFlags = syn\n  Start_Command = /bin/true %IP%\n",
                keys.display()
            );
            std::fs::write(&conf, text).expect("conf");
            conf
        }

        /// Memory: `sources` distinct IPv4 sources each send user 0's first hit of one window (Seq_Timeout
        /// 3600, so every one stays an attempt); peak RSS over a 1-source baseline.
        pub fn memory(binary: &Path, dir: &Path) {
            let conf = config(dir, 3600);
            let conf_s = conf.display().to_string();
            let t = Templates::new();
            let start = Duration::from_secs(1_700_000_000);
            let first = rotation().sequence(&key(0), start.as_secs() / STEP).expect("sequence").hits()[0];
            let write = |path: &Path, sources: u32| {
                let mut pcap = PcapWriter::create(path).expect("pcap");
                for i in 0..sources {
                    let frame = t.v4(0x0b00_0000 + i, first.port, first.protocol == Protocol::Udp);
                    pcap.push(start + Duration::from_micros(u64::from(i)), &frame);
                }
                pcap.finish().expect("pcap written");
            };
            let run = |pcap: &Path| {
                let args = ["-c", conf_s.as_str(), "--read", &pcap.display().to_string(), "--max-attempts", "1000000"];
                run_server(binary, &args, &dir.join("rmem.stderr"))
            };
            let one = dir.join("rot-one.pcap");
            write(&one, 1);
            let base = run(&one);
            let many = dir.join("rot-many.pcap");
            write(&many, 1_000_000);
            let r = run(&many);
            let attempts = counter(&counters(&r), "attempts_left");
            let grown = r.max_rss_kib.saturating_sub(base.max_rss_kib) * 1024;
            println!(
                "    memory: 1 M sources mid-sequence on the rotating door: {:.1} MiB peak RSS (baseline {:.1} MiB); {:.0} \
                 bytes per attempt; attempts {attempts}",
                mib(r.max_rss_kib),
                mib(base.max_rss_kib),
                grown as f64 / attempts.max(1) as f64
            );
            let _ = std::fs::remove_file(&many);
        }

        struct Expected {
            frames: u64,
            opens: u64,
            replays: u64,
            windows: u64,
        }

        /// The pcap; counts what must open (the first use of a user's window) and what is a replay.
        fn pcap(path: &Path, target: u64) -> Expected {
            let t = Templates::new();
            let r = rotation();
            let keys: Vec<DoorKey> = (0..USERS).map(key).collect();
            let mut sequences: HashMap<(u32, u64), Vec<Hit>> = HashMap::new();
            let mut used: HashSet<(u32, u64)> = HashSet::new();
            let mut pcap = PcapWriter::create(path).expect("pcap");
            let mut ts = Duration::from_secs(1_700_000_000);
            let gap = Duration::from_micros(10);
            let (mut opens, mut replays, mut block, mut user) = (0u64, 0u64, 0u32, 0u32);
            let mut windows = HashSet::new();
            let mut rng = Rng::new(0x2545_f491);
            let frame = |src: u32, hit: Hit| t.v4(src, hit.port, hit.protocol == Protocol::Udp);
            while pcap.written() < target {
                let window = ts.as_secs() / STEP;
                windows.insert(window);
                let base = 0x0a00_0000 + block * 4096;
                let mut frames: Vec<Vec<u8>> = Vec::with_capacity(4096);
                let mut knocks = Vec::new();
                for k in 0..KNOCKS {
                    let hits = sequences
                        .entry((user, window))
                        .or_insert_with(|| r.sequence(&keys[user as usize], window).expect("sequence").hits().to_vec())
                        .clone();
                    if used.insert((user, window)) {
                        opens += 1;
                    } else {
                        replays += 1;
                    }
                    knocks.push((base + k, hits));
                    user = (user + 1) % USERS;
                }
                // Interleaved per stage, as concurrent clients would send them.
                for stage in 0..4 {
                    for (src, hits) in &knocks {
                        frames.push(frame(*src, hits[stage]));
                    }
                    for k in 0..REPLAYS {
                        let (_, hits) = &knocks[(k % KNOCKS) as usize];
                        frames.push(frame(base + 1024 + k, hits[stage]));
                    }
                    for k in 0..WRONG {
                        let (_, hits) = &knocks[(k % KNOCKS) as usize];
                        let order = [0, 2, 1, 3];
                        frames.push(frame(base + 2048 + k, hits[order[stage]]));
                    }
                }
                replays += u64::from(REPLAYS);
                for k in 0..RANDOM {
                    let port = 1024 + u16::try_from(rng.below(64512)).unwrap_or(0);
                    frames.push(t.v4(base + 3072 + k, port, false));
                }
                for k in 0..NOISE {
                    frames.push(super::noise(&t, block.wrapping_mul(NOISE) + k));
                }
                for f in &frames {
                    pcap.push(ts, f);
                    ts += gap;
                }
                block += 1;
            }
            let frames = pcap.finish().expect("pcap written");
            Expected { frames, opens, replays, windows: windows.len() as u64 }
        }

        pub fn replay_throughput(binary: &Path, dir: &Path, target: u64) {
            let path = dir.join("rotating.pcap");
            let began = Instant::now();
            let expected = pcap(&path, target);
            let conf = config(dir, 5);
            let (conf_s, pcap_s) = (conf.display().to_string(), path.display().to_string());
            println!(
                "\n(d) rotating door, {USERS} users: offline replay of {} frames over {} windows of {STEP} s (written in \
                 {:.1?}); {} first uses of a window must open, {} knocks are replays; 1 CPU",
                expected.frames,
                expected.windows,
                began.elapsed(),
                expected.opens,
                expected.replays
            );
            let check = run_server(binary, &["-c", &conf_s, "--read", &pcap_s, "--dry-run"], &dir.join("rot.stderr"));
            let c = counters(&check);
            println!(
                "    check run (logging to stderr): {:.2?}; opened {} of {}, replays refused {} of {}",
                check.wall,
                counter(&c, "opened"),
                expected.opens,
                counter(&c, "replays"),
                expected.replays
            );
            let best = timed_replays(binary, &conf_s, &pcap_s, &dir.join("rq.stderr"), expected.frames as f64);
            println!("    target > 1,000,000 packets/s on one core: {}", if best > 1e6 { "met" } else { "NOT met" });
            let _ = std::fs::remove_file(&path);
            memory(binary, dir);
        }
    }
}
