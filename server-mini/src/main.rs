//! knock-server: reads a knockd.conf, captures on one interface (or replays a pcap file), and opens doors.
//!
//! Exit codes: 0 clean shutdown (or `--check` found no error); 1 a runtime failure (capture, files);
//! 2 invalid configuration or arguments.

use std::os::fd::AsRawFd;
use std::path::{Path, PathBuf};
use std::process::ExitCode;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::{Duration, Instant};

use clap::Parser;
use client_core::knockd_conf;
use server_mini::config::{self, ServerConfig};
use server_mini::doors::{DEFAULT_MAX_ATTEMPTS, Millis};
use server_mini::log::Logger;
use server_mini::packet::LinkType;
use server_mini::server::Server;

#[derive(Debug, Parser)]
#[command(name = "knock-server", version, about = "A knockd.conf-compatible port-knock server")]
struct Args {
    /// The knockd.conf to read.
    #[arg(short, long, value_name = "FILE", default_value = "/etc/knockd.conf")]
    config: PathBuf,
    /// Interface to capture on (overrides Interface in [options]).
    #[arg(short, long, value_name = "IFACE")]
    interface: Option<String>,
    /// Check the configuration, print errors and warnings for weak doors, and exit.
    #[arg(long)]
    check: bool,
    /// Replay a capture file through the same code path instead of capturing live.
    #[arg(long, value_name = "FILE.pcap")]
    read: Option<PathBuf>,
    /// Log the commands instead of running them.
    #[arg(long)]
    dry_run: bool,
    /// Most attempts in progress at once (oldest evicted beyond); about 87 bytes each.
    #[arg(long, value_name = "N", default_value_t = DEFAULT_MAX_ATTEMPTS)]
    max_attempts: usize,
    /// Do not log to stderr (only LogFile / syslog).
    #[arg(short, long)]
    quiet: bool,
}

fn main() -> ExitCode {
    let args = Args::parse();
    let conf = match knockd_conf::parse_file(&args.config) {
        Ok(conf) => conf,
        Err(err) => return fail(2, &err.to_string()),
    };
    let config = match config::from_conf(&conf, &args.config) {
        Ok(config) => config,
        Err(err) => return fail(2, &err.in_file(&args.config).to_string()),
    };
    if args.check {
        return check(&config, &conf);
    }
    let log = match Logger::new(config.options.log_file.as_deref(), config.options.use_syslog, !args.quiet) {
        Ok(log) => log,
        Err(err) => return fail(1, &format!("cannot open the log file: {err}")),
    };
    let server = match Server::new(config, args.max_attempts, args.dry_run, log) {
        Ok(server) => server,
        Err(err) => return fail(2, &err.to_string()),
    };
    let result = match &args.read {
        Some(file) => replay(server, file),
        None => live(server, args.interface.clone(), &args.config),
    };
    match result {
        Ok(()) => ExitCode::SUCCESS,
        Err(message) => fail(1, &message),
    }
}

fn fail(code: u8, message: &str) -> ExitCode {
    eprintln!("knock-server: {message}");
    ExitCode::from(code)
}

fn check(config: &ServerConfig, conf: &knockd_conf::KnockdConf) -> ExitCode {
    let warnings = config::lint(config, conf);
    for w in &warnings {
        println!("{}:{}: [{}]: warning: {}", config.path.display(), w.line, w.door, w.message);
    }
    println!("{}: {} door(s), {} warning(s), no errors", config.path.display(), config.doors.len(), warnings.len());
    ExitCode::SUCCESS
}

fn replay(mut server: Server, file: &Path) -> Result<(), String> {
    let mut capture = pcap::Capture::from_file(file).map_err(|e| format!("cannot read {}: {e}", file.display()))?;
    let link = link_type(capture.get_datalink())?;
    server.log.important(&format!("replaying {}", file.display()));
    let mut last = 0;
    loop {
        match capture.next_packet() {
            Ok(packet) => {
                let ts = &packet.header.ts;
                let now = (ts.tv_sec.max(0) as u64).saturating_mul(1000) + (ts.tv_usec.max(0) as u64) / 1000;
                server.tick(now);
                server.handle_frame(link, packet.data, now);
                last = now;
            }
            Err(pcap::Error::NoMorePackets) => break,
            Err(err) => return Err(format!("reading {}: {err}", file.display())),
        }
    }
    server.tick(last);
    server.shutdown(Duration::from_secs(10));
    let summary = format!("counters: {}, attempts_left {}", server.counters, server.attempts());
    server.log.important(&summary);
    Ok(())
}

fn link_type(datalink: pcap::Linktype) -> Result<LinkType, String> {
    LinkType::from_pcap(datalink).ok_or_else(|| {
        format!("unsupported link type {datalink:?}: knock-server reads Ethernet, Linux cooked (SLL, SLL2), raw IP and loopback")
    })
}

const ADDRESS_REFRESH: Duration = Duration::from_secs(10);

/// The capture interface's addresses, which doors without a Target accept hits to. None (accept any
/// destination) only if the interface cannot be looked up, which the log says.
fn interface_addresses(interface: &str) -> Option<Vec<std::net::IpAddr>> {
    let devices = pcap::Device::list().ok()?;
    let device = devices.into_iter().find(|d| d.name == interface)?;
    Some(device.addresses.into_iter().map(|a| a.addr).collect())
}

fn describe(local: &Option<Vec<std::net::IpAddr>>) -> String {
    match local {
        Some(addresses) if !addresses.is_empty() => {
            addresses.iter().map(ToString::to_string).collect::<Vec<_>>().join(", ")
        }
        Some(_) => "none (no knock can reach a door without a Target)".to_owned(),
        None => "unknown: hits to any destination count".to_owned(),
    }
}

/// SIGHUP: re-read the configuration (a bad one is reported and the running one kept), reopen the log.
fn reload_config(server: &mut Server, path: &Path, local: Option<Vec<std::net::IpAddr>>) {
    if let Err(err) = server.log.reopen() {
        server.log.important(&format!("cannot reopen the log file: {err}"));
    }
    server.log.important(&format!("re-reading config file: {}", path.display()));
    let result =
        config::load(path).map_err(|e| e.to_string()).and_then(|c| server.reload(c, local).map_err(|e| e.to_string()));
    if let Err(err) = result {
        server.log.important(&format!("config not reloaded, keeping the running one: {err}"));
    }
}

fn live(mut server: Server, interface: Option<String>, config_path: &Path) -> Result<(), String> {
    let interface = interface
        .or_else(|| server.config().options.interface.clone())
        .ok_or("no interface: pass -i IFACE or set Interface in [options]")?;
    let mut capture = pcap::Capture::from_device(interface.as_str())
        .and_then(|c| c.promisc(false).snaplen(512).immediate_mode(true).open())
        .and_then(|c| c.setnonblock())
        .map_err(|e| format!("cannot capture on {interface}: {e}"))?;
    let link = link_type(capture.get_datalink())?;
    capture.filter(&server.bpf_filter(), true).map_err(|e| format!("cannot set the capture filter: {e}"))?;
    let stop = Arc::new(AtomicBool::new(false));
    let report = Arc::new(AtomicBool::new(false));
    for signal in [signal_hook::consts::SIGTERM, signal_hook::consts::SIGINT] {
        signal_hook::flag::register(signal, Arc::clone(&stop)).map_err(|e| e.to_string())?;
    }
    signal_hook::flag::register(signal_hook::consts::SIGUSR1, Arc::clone(&report)).map_err(|e| e.to_string())?;
    let reload = Arc::new(AtomicBool::new(false));
    signal_hook::flag::register(signal_hook::consts::SIGHUP, Arc::clone(&reload)).map_err(|e| e.to_string())?;
    let mut local = interface_addresses(&interface);
    server.set_local_addresses(local.clone());
    let mut addresses_read = Instant::now();
    let pid_file = server.config().options.pid_file.clone();
    if let Some(path) = &pid_file {
        std::fs::write(path, format!("{}\n", std::process::id()))
            .map_err(|e| format!("cannot write {}: {e}", path.display()))?;
    }
    server.log.important(&format!("starting up, listening on {interface}"));
    let addresses = describe(&local);
    server.log.important(&format!("addresses of {interface}: {addresses}"));
    let clock = Instant::now();
    let now_ms = || Millis::try_from(clock.elapsed().as_millis()).unwrap_or(Millis::MAX);
    let fd = capture.as_raw_fd();
    while !stop.load(Ordering::Relaxed) {
        if reload.swap(false, Ordering::Relaxed) {
            reload_config(&mut server, config_path, local.clone());
        }
        // Addresses change (DHCP, PPPoE): knockd needs a restart, we look again every 10 s.
        if addresses_read.elapsed() >= ADDRESS_REFRESH {
            addresses_read = Instant::now();
            let now_local = interface_addresses(&interface);
            if now_local != local {
                server.log.important(&format!("addresses of {interface} changed: {}", describe(&now_local)));
                local = now_local;
                server.set_local_addresses(local.clone());
            }
        }
        if report.swap(false, Ordering::Relaxed) {
            let line = format!("counters: {}, attempts {}", server.counters, server.attempts());
            server.log.important(&line);
        }
        wait_readable(fd, poll_timeout(&server, now_ms()));
        loop {
            match capture.next_packet() {
                Ok(packet) => {
                    let now = now_ms();
                    server.handle_frame(link, packet.data, now);
                }
                Err(pcap::Error::TimeoutExpired | pcap::Error::NoMorePackets) => break,
                Err(err) => {
                    server.log.important(&format!("capture error: {err}"));
                    break;
                }
            }
        }
        server.tick(now_ms());
        server.actions.poll(&mut server.log, Instant::now());
        if server.take_filter_changed()
            && let Err(err) = capture.filter(&server.bpf_filter(), true)
        {
            server.log.important(&format!("cannot update the capture filter: {err}"));
        }
    }
    server.log.important("shutting down");
    // Pending stop commands run now; anything still running after 10 s is killed.
    server.shutdown(Duration::from_secs(10));
    let line = format!("counters: {}, attempts {}", server.counters, server.attempts());
    server.log.important(&line);
    if let Some(path) = pid_file {
        let _ = std::fs::remove_file(path);
    }
    Ok(())
}

/// How long to sleep in poll(): until the next timeout or stop command, at most 100 ms.
fn poll_timeout(server: &Server, now: Millis) -> Duration {
    let mut timeout = Duration::from_millis(100);
    if let Some(deadline) = server.next_deadline() {
        timeout = timeout.min(Duration::from_millis(deadline.saturating_sub(now)));
    }
    if let Some(due) = server.actions.next_due() {
        timeout = timeout.min(due.saturating_duration_since(Instant::now()));
    }
    timeout
}

fn wait_readable(fd: std::os::fd::RawFd, timeout: Duration) {
    let mut pollfd = libc::pollfd { fd, events: libc::POLLIN, revents: 0 };
    let millis = libc::c_int::try_from(timeout.as_millis()).unwrap_or(100);
    // SAFETY: one valid pollfd for the duration of the call; EINTR (a signal) just returns early.
    unsafe { libc::poll(&mut pollfd, 1, millis) };
}
