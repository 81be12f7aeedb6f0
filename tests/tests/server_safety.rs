//! knock-server never leaves a door open by accident and bounds its work (issue 10), in the namespace
//! lab with real iptables and nft: a slow start command and its stop are ordered (SIGTERM and a short
//! Cmd_Timeout), 1,000 spoofed sources cannot run more than `--max-commands` commands, 1,000 repeats run
//! the start once, one-time sequences are consumed by content and stay refused when the file cannot be
//! written, and nftables doors close themselves on time, even after `kill -9`.
#![cfg(target_os = "linux")]

use std::net::{IpAddr, SocketAddr};
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use knock_e2e::knock_server::{counter, replay};
use knock_e2e::nft::knock_ruleset;
use knock_e2e::{Lab, PCAP_MACS, PcapWriter, lab_or_skip, syn_frame, wait_until};

const OPEN_WAIT: Duration = Duration::from_secs(5);

/// `iptables -S INPUT` (or ip6tables) in the server namespace.
fn input_rules(lab: &Lab, tool: &str) -> String {
    let out = lab.run_server(tool, ["-w", "5", "-S", "INPUT"]).unwrap_or_else(|e| panic!("{tool}: {e}"));
    String::from_utf8_lossy(&out.stdout).into_owned()
}

fn accept_rule_for(lab: &Lab, ip: IpAddr) -> bool {
    input_rules(lab, "iptables").lines().any(|l| l.contains(&format!("-s {ip}/32")) && l.contains("ACCEPT"))
}

/// A door whose start takes `start_delay` before it adds an ACCEPT rule for the source; the stop removes it.
fn slow_iptables_door(start_delay: &str, cmd_timeout: u32) -> String {
    let rule = "INPUT -s %IP% -p tcp --dport 22 -j ACCEPT";
    format!(
        "[ssh]\n  Sequence = 7000,8000,9000\n  Seq_Timeout = 10\n  TCPFlags = syn\n  \
         Start_Command = sleep {start_delay}; iptables -w 5 -I {rule}\n  Cmd_Timeout = {cmd_timeout}\n  \
         Stop_Command = iptables -w 5 -D {rule}\n"
    )
}

// ---- ordering of start and stop -------------------------------------------------------------------------

#[test]
fn sigterm_during_a_slow_start_leaves_no_accept_rule() {
    let lab = lab_or_skip!();
    let mut server = lab.knock_server(&slow_iptables_door("1", 60), &[]);
    let ip: IpAddr = lab.client_v4().into();
    lab.knock(&[&lab.server_v4().to_string(), "7000", "8000", "9000"]);
    assert!(server.wait_for_log("192.0.2.1: ssh: OPEN SESAME", OPEN_WAIT), "{}", server.diagnostics());
    std::thread::sleep(Duration::from_millis(200));
    let status = server.stop().unwrap_or_else(|e| panic!("stop: {e}"));
    assert!(status.success(), "exit {status}\n{}", server.diagnostics());
    assert!(
        !accept_rule_for(&lab, ip),
        "after exit the ACCEPT rule is still there:\n{}\n{}",
        input_rules(&lab, "iptables"),
        server.diagnostics()
    );
    let log = server.log();
    assert!(!log.contains("non-zero status"), "the stop ran before the start finished\n{}", server.diagnostics());
}

#[test]
fn a_cmd_timeout_shorter_than_the_start_still_stops_after_it() {
    let lab = lab_or_skip!();
    let server = lab.knock_server(&slow_iptables_door("2", 1), &[]);
    let ip: IpAddr = lab.client_v4().into();
    lab.knock(&[&lab.server_v4().to_string(), "7000", "8000", "9000"]);
    assert!(server.wait_for_log("192.0.2.1: ssh: OPEN SESAME", OPEN_WAIT), "{}", server.diagnostics());
    assert!(
        wait_until(Duration::from_secs(5), || accept_rule_for(&lab, ip)),
        "the start added no rule\n{}",
        server.diagnostics()
    );
    assert!(
        wait_until(Duration::from_secs(5), || !accept_rule_for(&lab, ip)),
        "the stop did not remove the rule the start added:\n{}\n{}",
        input_rules(&lab, "iptables"),
        server.diagnostics()
    );
    std::thread::sleep(Duration::from_millis(500));
    assert!(!accept_rule_for(&lab, ip), "{}", server.diagnostics());
    assert!(!server.log().contains("non-zero status"), "{}", server.diagnostics());
}

// ---- bounded work ---------------------------------------------------------------------------------------

/// A pcap in which each source completes the door 7000,8000 once per round.
fn completions(path: &Path, sources: &[[u8; 4]], rounds: usize) {
    let mut pcap = PcapWriter::create(path).unwrap_or_else(|e| panic!("{e}"));
    let mut ts = Duration::from_secs(1_700_000_000);
    for _ in 0..rounds {
        for src in sources {
            for port in [7000, 8000] {
                pcap.push(ts, &syn_frame(PCAP_MACS, (*src).into(), [192, 0, 2, 2].into(), port));
                ts += Duration::from_micros(10);
            }
        }
    }
    pcap.finish().unwrap_or_else(|e| panic!("{e}"));
}

fn write_conf(dir: &Path, name: &str, text: &str) -> PathBuf {
    let path = dir.join(name);
    std::fs::write(&path, text).expect("write the config");
    path
}

#[test]
fn a_thousand_spoofed_sources_never_run_more_commands_than_the_cap() {
    let dir = tempfile::tempdir().expect("dir");
    let running = dir.path().join("running");
    std::fs::create_dir(&running).expect("dir");
    let peak = dir.path().join("peak");
    // Each command registers itself, records how many run at that moment, and holds for a second.
    let command =
        format!("touch {r}/$$; ls {r} | wc -l >> {p}; sleep 1; rm {r}/$$", r = running.display(), p = peak.display());
    let conf = write_conf(
        dir.path(),
        "k.conf",
        &format!("[ssh]\n Sequence = 7000,8000\n Seq_Timeout = 5\n TCPFlags = syn\n Start_Command = {command}\n"),
    );
    let sources: Vec<[u8; 4]> = (0..1000u32).map(|i| [10, 1, (i / 250) as u8, (i % 250) as u8 + 1]).collect();
    let pcap = dir.path().join("spoofed.pcap");
    completions(&pcap, &sources, 1);
    let out = replay(&conf, &pcap, &["--max-commands", "8"]).unwrap_or_else(|e| panic!("{e}"));
    assert!(out.status.success(), "{}", out.diagnostics());
    assert_eq!(counter(&out.counters, "opened"), 1000, "{}", out.diagnostics());
    let started = counter(&out.counters, "commands_started");
    let refused = counter(&out.counters, "commands_refused");
    assert!((1..=1000).contains(&started) && started + refused == 1000, "{}", out.diagnostics());
    assert!(refused >= 900, "a fast replay must hit the cap: {}", out.diagnostics());
    assert!(counter(&out.counters, "commands_peak") <= 8, "{}", out.diagnostics());
    let seen: Vec<u64> =
        std::fs::read_to_string(&peak).expect("peak").lines().filter_map(|l| l.trim().parse().ok()).collect();
    assert_eq!(seen.len() as u64, started, "every started command ran");
    assert!(seen.iter().all(|n| *n <= 8), "more than 8 commands at once: {seen:?}");
    assert!(out.count("opening refused") >= 1, "{}", out.diagnostics());
}

#[test]
fn a_thousand_repeats_from_one_source_run_the_start_once() {
    let dir = tempfile::tempdir().expect("dir");
    let starts = dir.path().join("starts");
    let stops = dir.path().join("stops");
    let conf = write_conf(
        dir.path(),
        "k.conf",
        &format!(
            "[ssh]\n Sequence = 7000,8000\n Seq_Timeout = 5\n TCPFlags = syn\n Start_Command = echo %IP% >> {}\n \
             Cmd_Timeout = 60\n Stop_Command = echo %IP% >> {}\n",
            starts.display(),
            stops.display()
        ),
    );
    let pcap = dir.path().join("repeats.pcap");
    completions(&pcap, &[[198, 51, 100, 9]], 1000);
    let out = replay(&conf, &pcap, &[]).unwrap_or_else(|e| panic!("{e}"));
    assert!(out.status.success(), "{}", out.diagnostics());
    let lines = |p: &Path| std::fs::read_to_string(p).unwrap_or_default().lines().count();
    assert_eq!(lines(&starts), 1, "start ran {} times\n{}", lines(&starts), out.diagnostics());
    assert_eq!(lines(&stops), 1, "one stop at shutdown\n{}", out.diagnostics());
    assert_eq!(counter(&out.counters, "openings_extended"), 999, "{}", out.diagnostics());
    assert!(out.count("opening extended") >= 1, "{}", out.diagnostics());
}

// ---- one-time sequences ---------------------------------------------------------------------------------

fn one_time_door(file: &Path, marker: &str) -> String {
    format!(
        "[otp]\n  One_Time_Sequences = {}\n  Seq_Timeout = 10\n  TCPFlags = syn\n  Start_Command = {marker}\n",
        file.display()
    )
}

#[test]
fn the_consumed_line_is_the_used_sequence_after_the_file_was_edited() {
    let lab = lab_or_skip!();
    let file = lab.dir().join("one-time");
    std::fs::write(&file, "# a comment line\n7000,8000,9000\n7100,8100,9100\n").expect("write");
    let state = lab.dir().join("state");
    std::fs::create_dir(&state).expect("state dir");
    let state_arg = state.display().to_string();
    let server = lab.knock_server(&one_time_door(&file, &lab.touch_marker_command()), &["--state-dir", &state_arg]);
    // Edited after the load: the comment line above the sequences goes, every line number shifts.
    std::fs::write(&file, "7000,8000,9000\n7100,8100,9100\n").expect("edit");
    lab.knock(&[&lab.server_v4().to_string(), "7000", "8000", "9000"]);
    assert!(server.wait_for_log("192.0.2.1: otp: OPEN SESAME", OPEN_WAIT), "{}", server.diagnostics());
    assert!(
        wait_until(OPEN_WAIT, || std::fs::read_to_string(&file).unwrap_or_default().starts_with('#')),
        "{}",
        server.diagnostics()
    );
    let text = std::fs::read_to_string(&file).expect("read");
    assert_eq!(text, "#7000,8000,9000\n7100,8100,9100\n", "the used sequence's line is marked, not another");
}

/// A read-only bind mount of a directory, undone on drop.
struct ReadOnly(PathBuf);

impl ReadOnly {
    fn mount(dir: &Path) -> ReadOnly {
        let d = dir.display().to_string();
        let ok = |args: &[&str]| std::process::Command::new("mount").args(args).status().is_ok_and(|s| s.success());
        assert!(ok(&["--bind", &d, &d]) && ok(&["-o", "remount,bind,ro", &d]), "cannot make {d} read-only");
        ReadOnly(dir.to_owned())
    }
}

impl Drop for ReadOnly {
    fn drop(&mut self) {
        let _ = std::process::Command::new("umount").arg(&self.0).status();
    }
}

#[test]
fn a_sequence_that_cannot_be_marked_stays_refused_after_sighup_and_restart() {
    let lab = lab_or_skip!();
    let ro_dir = lab.dir().join("ro");
    std::fs::create_dir(&ro_dir).expect("dir");
    let file = ro_dir.join("one-time");
    std::fs::write(&file, "7000,8000,9000\n7100,8100,9100\n").expect("write");
    let _read_only = ReadOnly::mount(&ro_dir);
    assert!(std::fs::write(ro_dir.join("probe"), "x").is_err(), "the bind mount is not read-only");
    let state = lab.dir().join("state");
    std::fs::create_dir(&state).expect("state dir");
    let state_arg = state.display().to_string();
    let config = one_time_door(&file, &lab.touch_marker_command());
    let host = lab.server_v4().to_string();
    let open = "192.0.2.1: otp: OPEN SESAME";
    let mut server = lab.knock_server(&config, &["--state-dir", &state_arg]);
    lab.knock(&[&host, "7000", "8000", "9000"]);
    assert!(server.wait_for_log(open, OPEN_WAIT), "{}", server.diagnostics());
    assert!(server.wait_for_log("it stays refused (recorded in", OPEN_WAIT), "{}", server.diagnostics());
    // SIGHUP re-reads the (unchanged, unmarked) file: the used sequence must stay refused.
    let reloads = server.count_in_log("re-reading config file");
    server.signal(libc::SIGHUP);
    assert!(wait_until(OPEN_WAIT, || server.count_in_log("re-reading config file") > reloads));
    lab.knock(&[&host, "7000", "8000", "9000"]);
    lab.knock(&[&host, "7100", "8100", "9100"]);
    assert!(server.wait_for_count(open, 2, OPEN_WAIT), "the second sequence opens\n{}", server.diagnostics());
    std::thread::sleep(Duration::from_millis(300));
    assert_eq!(server.count_in_log(open), 2, "the used sequence opened again after SIGHUP\n{}", server.diagnostics());
    server.stop().unwrap_or_else(|e| panic!("stop: {e}"));
    drop(server);
    // A restart with the same state directory: both used sequences stay refused.
    let server = lab.knock_server(&config, &["--state-dir", &state_arg]);
    let before = server.count_in_log(open);
    lab.knock(&[&host, "7000", "8000", "9000"]);
    lab.knock(&[&host, "7100", "8100", "9100"]);
    std::thread::sleep(Duration::from_secs(1));
    assert_eq!(server.count_in_log(open), before, "a used sequence opened after a restart\n{}", server.diagnostics());
    assert!(server.log().contains("door disabled"), "no sequence left\n{}", server.diagnostics());
}

// ---- nftables doors -------------------------------------------------------------------------------------

const GUARDED_PORT: u16 = 2222;

fn nft_door(timeout: u32) -> String {
    format!(
        "[nft]\n  Sequence = 7000,8000,9000\n  Seq_Timeout = 10\n  TCPFlags = syn\n  Nft_Set = inet knock allow4\n  \
         Nft_Set_6 = inet knock allow6\n  Nft_Timeout = {timeout}\n"
    )
}

fn nft_door_closes_itself(ipv6: bool) {
    let lab = lab_or_skip!();
    lab.server_nft_load(&knock_ruleset(GUARDED_PORT)).unwrap_or_else(|e| panic!("{e}"));
    let _service = lab.server_tcp_listener_any(GUARDED_PORT).unwrap_or_else(|e| panic!("{e}"));
    let (server_ip, client_ip, other, set): (IpAddr, IpAddr, IpAddr, &str) = if ipv6 {
        (lab.server_v6().into(), lab.client_v6().into(), "2001:db8::77".parse().expect("ip"), "allow6")
    } else {
        (lab.server_v4().into(), lab.client_v4().into(), "192.0.2.77".parse().expect("ip"), "allow4")
    };
    // A second client address that is never chosen as a source by itself (a deprecated IPv6 address;
    // a secondary IPv4 one), to prove the door opened for the knocking source only.
    if ipv6 {
        let dev = lab.client_iface().to_owned();
        let out = lab
            .run_client("ip", ["addr", "add", "2001:db8::77/64", "dev", dev.as_str(), "nodad", "preferred_lft", "0"])
            .unwrap_or_else(|e| panic!("{e}"));
        assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    } else {
        lab.add_client_address(other).unwrap_or_else(|e| panic!("{e}"));
    }
    let service = SocketAddr::new(server_ip, GUARDED_PORT);
    assert!(!lab.client_reaches_from(client_ip, service), "the port is open before any knock");
    let mut server = lab.knock_server(&nft_door(3), &[]);
    let family = if ipv6 { "-6" } else { "-4" };
    let host = server_ip.to_string();
    lab.knock(&[family, &host, "7000", "8000", "9000"]);
    let open = format!("{client_ip}: nft: OPEN SESAME");
    assert!(server.wait_for_log(&open, OPEN_WAIT), "{}", server.diagnostics());
    let listed = || lab.server_nft_list_set("inet", "knock", set);
    assert!(
        wait_until(OPEN_WAIT, || listed().contains(&format!("{client_ip} timeout 3s"))),
        "the source is not in the set with its timeout:\n{}\n{}",
        listed(),
        server.diagnostics()
    );
    assert!(lab.client_reaches_from(client_ip, service), "the knocking source cannot connect\n{}", listed());
    assert!(!lab.client_reaches_from(other, service), "another source of the client can connect\n{}", listed());
    // A repeat refreshes the element (one element, timeout restarted), and the log says it was extended.
    std::thread::sleep(Duration::from_millis(1500));
    lab.knock(&[family, &host, "7000", "8000", "9000"]);
    assert!(server.wait_for_log("opening extended", OPEN_WAIT), "{}", server.diagnostics());
    let refreshed = Instant::now();
    std::thread::sleep(Duration::from_millis(300));
    let text = listed();
    assert_eq!(text.matches(&client_ip.to_string()).count(), 1, "one element per source:\n{text}");
    assert!(text.contains("expires 2s") || text.contains("expires 3s"), "timeout not refreshed:\n{text}");
    // kill -9: nothing can run a stop, the kernel still closes the door on time.
    server.signal(libc::SIGKILL);
    assert!(wait_until(Duration::from_secs(2), || !server.is_running()), "SIGKILL");
    let closed = wait_until(Duration::from_secs(6), || !listed().contains(&client_ip.to_string()));
    let after = refreshed.elapsed();
    assert!(closed, "the element never expired:\n{}", listed());
    assert!(after >= Duration::from_secs(2) && after <= Duration::from_secs(5), "expired after {after:?}, timeout 3 s");
    assert!(!lab.client_reaches_from(client_ip, service), "the port stayed open after the timeout");
}

#[test]
fn nft_door_ipv4_closes_itself_even_after_kill_9() {
    nft_door_closes_itself(false);
}

#[test]
fn nft_door_ipv6_closes_itself_even_after_kill_9() {
    nft_door_closes_itself(true);
}

#[test]
fn check_verifies_the_nft_sets_and_prints_the_ruleset() {
    let lab = lab_or_skip!();
    let conf = lab.dir().join("nft.conf");
    std::fs::write(&conf, nft_door(30)).expect("write");
    let binary = knock_e2e::knock_server::knock_server_path().unwrap_or_else(|e| panic!("{e}"));
    let conf_arg = conf.display().to_string();
    let check = || lab.run_server(&binary, ["--check", "-c", conf_arg.as_str()]).unwrap_or_else(|e| panic!("{e}"));
    let missing = check();
    let text = String::from_utf8_lossy(&missing.stdout).into_owned();
    assert!(missing.status.success(), "a missing set stops the door, not the server: {text}");
    assert!(text.contains("warning: nft set inet knock allow4 does not exist"), "{text}");
    assert!(text.contains("set allow4 { type ipv4_addr; flags timeout; }"), "{text}");
    assert!(text.contains("ip6 saddr @allow6 accept"), "{text}");
    lab.server_nft_load(&knock_ruleset(22)).unwrap_or_else(|e| panic!("{e}"));
    let present = check();
    let text = String::from_utf8_lossy(&present.stdout).into_owned();
    assert!(present.status.success(), "{text}");
    assert!(text.contains("nft set inet knock allow4 exists") && text.contains("allow6 exists"), "{text}");
}

// ---- least privilege ------------------------------------------------------------------------------------

/// `Field:` of /proc/PID/status.
fn proc_status(pid: u32, field: &str) -> String {
    let text = std::fs::read_to_string(format!("/proc/{pid}/status")).unwrap_or_default();
    text.lines().find_map(|l| l.strip_prefix(field)).map(|v| v.trim().to_owned()).unwrap_or_default()
}

/// CAP_NET_ADMIN is capability 12.
const NET_ADMIN_ONLY: &str = "0000000000001000";

#[test]
fn as_user_nobody_with_only_cap_net_admin_an_nft_door_still_opens() {
    let lab = lab_or_skip!();
    lab.server_nft_load(&knock_ruleset(GUARDED_PORT)).unwrap_or_else(|e| panic!("{e}"));
    let server = lab.knock_server(&nft_door(30), &["--user", "nobody"]);
    assert!(server.wait_for_log("privileges dropped: running as user nobody", OPEN_WAIT), "{}", server.diagnostics());
    let pid = server.pid();
    assert!(proc_status(pid, "Uid:").starts_with("65534"), "Uid: {}", proc_status(pid, "Uid:"));
    for field in ["CapEff:", "CapPrm:", "CapBnd:", "CapAmb:"] {
        assert_eq!(proc_status(pid, field), NET_ADMIN_ONLY, "{field}\n{}", server.diagnostics());
    }
    lab.knock(&["-4", &lab.server_v4().to_string(), "7000", "8000", "9000"]);
    let client = lab.client_v4().to_string();
    assert!(
        wait_until(OPEN_WAIT, || lab.server_nft_list_set("inet", "knock", "allow4").contains(&client)),
        "nft as nobody with CAP_NET_ADMIN did not add the source\n{}",
        server.diagnostics()
    );
}

#[test]
fn a_door_without_commands_keeps_no_capability() {
    let lab = lab_or_skip!();
    let server = lab.knock_server("[log]\n  Sequence = 7000,8000,9000\n  Seq_Timeout = 10\n  TCPFlags = syn\n", &[]);
    assert!(server.wait_for_log("capabilities kept: none", OPEN_WAIT), "{}", server.diagnostics());
    for field in ["CapEff:", "CapPrm:", "CapBnd:"] {
        assert_eq!(proc_status(server.pid(), field), "0000000000000000", "{field}\n{}", server.diagnostics());
    }
}
