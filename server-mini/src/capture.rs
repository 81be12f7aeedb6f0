//! The event loop: live capture on an interface, or offline replay of a pcap file, both feeding
//! [`Server::handle_frame`] and [`Server::tick`]. Only the clock differs: wall time live, the capture's
//! own timestamps in a replay (so a replay of an hour of traffic runs timeouts as they happened).

use std::os::fd::{AsFd, BorrowedFd};
use std::path::Path;
use std::time::{Duration, Instant};

use crate::addresses::{self, AddressWatch};
use crate::config;
use crate::doors::Millis;
use crate::exit::Failure;
use crate::packet::LinkType;
use crate::pid_file::PidFile;
use crate::server::Server;
use crate::signals::Signals;

/// How long pending stop commands and running commands get at shutdown before they are killed.
pub(crate) const SHUTDOWN_WAIT: Duration = Duration::from_secs(10);
/// The longest the loop sleeps without looking at signals and timers.
const MAX_SLEEP: Duration = Duration::from_millis(100);
/// Most packets handled before the live loop looks at timers, commands and signals again (about 10 ms of
/// a flood at the capture's full rate).
const MAX_BATCH: usize = 16_384;
/// A replay looks at commands and the log's window every this many packets.
const REPLAY_POLL_EVERY: u32 = 64;

/// Replays a capture file through the same code path as live capture, then shuts down (pending stop
/// commands run) and logs the counters.
pub fn replay(server: &mut Server, file: &Path) -> Result<(), Failure> {
    let mut capture =
        pcap::Capture::from_file(file).map_err(|e| Failure::runtime(format!("cannot read {}: {e}", file.display())))?;
    let link = link_type(capture.get_datalink())?;
    server.use_capture_clock();
    server.log.important(&format!("replaying {}", file.display()));
    let mut last = 0;
    let mut since_poll = 0u32;
    loop {
        match capture.next_packet() {
            Ok(packet) => {
                let ts = &packet.header.ts;
                let now = (ts.tv_sec.max(0) as u64).saturating_mul(1000) + (ts.tv_usec.max(0) as u64) / 1000;
                server.tick(now);
                server.handle_frame(link, packet.data, now);
                // Commands and the log's window follow the wall clock: looked at every few packets, as the
                // live loop does after each batch (a clock read per packet was a tenth of a replay's time).
                since_poll += 1;
                if since_poll >= REPLAY_POLL_EVERY {
                    since_poll = 0;
                    server.poll_actions();
                }
                last = now;
            }
            Err(pcap::Error::NoMorePackets) => break,
            Err(err) => return Err(Failure::runtime(format!("reading {}: {err}", file.display()))),
        }
    }
    server.tick(last);
    server.shutdown(SHUTDOWN_WAIT);
    let summary = format!("counters: {}, attempts_left {}", server.counters(), server.attempts());
    server.log.important(&summary);
    Ok(())
}

/// What the live loop needs besides the server.
pub(crate) struct Live<'a> {
    /// `-i IFACE`, else `Interface` in `[options]`.
    pub(crate) interface: Option<String>,
    /// Re-read on SIGHUP.
    pub(crate) config_path: &'a Path,
    /// Runs once the capture is open, before any packet is handled (e.g. dropping privileges).
    pub(crate) after_open: &'a mut dyn FnMut(&mut Server) -> Result<(), Failure>,
}

/// Captures on the interface until SIGTERM/SIGINT; SIGHUP reloads the configuration, SIGUSR1 logs the
/// counters. At the end, pending stop commands run and the PID file is removed.
pub(crate) fn live(server: &mut Server, live: Live<'_>) -> Result<(), Failure> {
    let interface = live
        .interface
        .or_else(|| server.config().options.interface.clone())
        .ok_or_else(|| Failure::runtime("no interface: pass -i IFACE or set Interface in [options]"))?;
    // A 4 MiB kernel buffer (libpcap's default is 2 MiB) absorbs the bursts while knock-server is not
    // scheduled under a flood: server-bench (f)'s max-rate SPA flood dropped up to 0.9% in the kernel with
    // 2 MiB, none or 0.2% with 4 MiB (peak RSS 7.5 -> 9.9 MiB); 8 MiB dropped none at 14.5 MiB.
    let mut capture = pcap::Capture::from_device(interface.as_str())
        .and_then(|c| c.promisc(false).snaplen(512).immediate_mode(true).buffer_size(4 << 20).open())
        .and_then(|c| c.setnonblock())
        .map_err(|e| Failure::runtime(format!("cannot capture on {interface}: {e}")))?;
    let link = link_type(capture.get_datalink())?;
    let mut applied_filter = server.bpf_filter();
    capture
        .filter(&applied_filter, true)
        .map_err(|e| Failure::runtime(format!("cannot set the capture filter: {e}")))?;
    // The filter just set already follows the current windows.
    server.take_filter_changed();
    let signals = Signals::register().map_err(|e| Failure::runtime(format!("cannot handle signals: {e}")))?;
    let mut addresses = AddressWatch::new(&interface);
    server.set_local_addresses(addresses.current().clone());
    let _pid_file = match server.config().options.pid_file.clone() {
        Some(path) => {
            Some(PidFile::write(&path).map_err(|e| Failure::runtime(format!("cannot write {}: {e}", path.display())))?)
        }
        None => None,
    };
    (live.after_open)(server)?;
    server.log.important(&format!("starting up, listening on {interface}"));
    let described = addresses::describe(addresses.current());
    server.log.important(&format!("addresses of {interface}: {described}"));
    let clock = Instant::now();
    let now_ms = || Millis::try_from(clock.elapsed().as_millis()).unwrap_or(Millis::MAX);
    while !signals.stop_requested() {
        if signals.take_reload() {
            reload_config(server, live.config_path, addresses.current().clone());
            // At once: a revoked user's ports must stop passing, a new user's must start to.
            update_filter(server, &mut capture, &mut applied_filter);
        }
        if let Some(changed) = addresses.refresh() {
            server.log.important(&format!("addresses of {interface} changed: {}", addresses::describe(changed)));
            server.set_local_addresses(changed.clone());
        }
        if signals.take_report() {
            let line = counters_line(server, &mut capture);
            server.log.important(&line);
        }
        wait_readable(capture.as_fd(), sleep_time(server, now_ms()));
        // A bounded batch: under a flood the capture never runs dry, and timers, stop commands and
        // signals must still be looked at.
        for _ in 0..MAX_BATCH {
            match capture.next_packet() {
                Ok(packet) => server.handle_frame(link, packet.data, now_ms()),
                Err(pcap::Error::TimeoutExpired | pcap::Error::NoMorePackets) => break,
                Err(err) => {
                    server.log.important(&format!("capture error: {err}"));
                    break;
                }
            }
        }
        server.tick(now_ms());
        server.poll_actions();
        update_filter(server, &mut capture, &mut applied_filter);
    }
    server.log.important("shutting down");
    server.shutdown(SHUTDOWN_WAIT);
    let line = counters_line(server, &mut capture);
    server.log.important(&line);
    Ok(())
}

/// The counters, with the capture's own (libpcap's `pcap_stats`): frames the filter passed, and those
/// the kernel dropped because the capture buffer was full (`ps_drop`) or the interface dropped
/// (`ps_ifdrop`), which never reached knock-server.
fn counters_line(server: &Server, capture: &mut pcap::Capture<pcap::Active>) -> String {
    let mut line = format!("counters: {}, attempts {}", server.counters(), server.attempts());
    if let Ok(stats) = capture.stats() {
        line.push_str(&format!(
            ", pcap_received {}, pcap_dropped {}, pcap_if_dropped {}",
            stats.received, stats.dropped, stats.if_dropped
        ));
    }
    line
}

/// Sets the capture filter again when the doors' ports changed (one-time sequences, rotating windows, a
/// reload). Only a filter that differs from `applied` is set: re-attaching one is not free (on Linux,
/// libpcap swaps in a reject-all filter and drains the socket while it does), and a hit in flight then
/// can be lost.
fn update_filter(server: &mut Server, capture: &mut pcap::Capture<pcap::Active>, applied: &mut String) {
    if !server.take_filter_changed() {
        return;
    }
    let wanted = server.bpf_filter();
    if wanted == *applied {
        return;
    }
    match capture.filter(&wanted, true) {
        Ok(()) => *applied = wanted,
        Err(err) => server.log.important(&format!("cannot update the capture filter: {err}")),
    }
}

fn link_type(datalink: pcap::Linktype) -> Result<LinkType, Failure> {
    LinkType::from_pcap(datalink).ok_or_else(|| {
        Failure::runtime(format!(
            "unsupported link type {datalink:?}: knock-server reads Ethernet, Linux cooked (SLL, SLL2), raw IP and \
             loopback"
        ))
    })
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
    server.reload_spa();
}

/// How long to sleep in poll(): until the next timeout or scheduled command, at most [`MAX_SLEEP`].
fn sleep_time(server: &Server, now: Millis) -> Duration {
    let mut timeout = MAX_SLEEP;
    if let Some(deadline) = server.next_deadline() {
        timeout = timeout.min(Duration::from_millis(deadline.saturating_sub(now)));
    }
    if let Some(due) = server.next_action_due() {
        timeout = timeout.min(due.saturating_duration_since(Instant::now()));
    }
    timeout
}

fn wait_readable(fd: BorrowedFd<'_>, timeout: Duration) {
    use rustix::event::{PollFd, PollFlags, Timespec, poll};
    // MAX_SLEEP always converts; were it not to, zero (no wait) beats None (no end).
    let timeout = Timespec::try_from(timeout.min(MAX_SLEEP)).unwrap_or_default();
    // An error (EINTR: a signal) only ends the wait early; the loop looks at signals next.
    let _ = poll(&mut [PollFd::new(&fd, PollFlags::IN)], Some(&timeout));
}
