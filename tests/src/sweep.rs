//! A blind port sweep from the lab's client, as an attacker without the key sends it: a SYN and a UDP
//! datagram to every port of a range, in a new random order each pass, from the client's own address,
//! with a look after each pass at whether a door opened for that address (the caller's probe, e.g. a
//! door command's marker file). Frames go out of the client's veth through one AF_PACKET socket from a
//! thread moved into the client namespace; they are built once (etherparse) and only reordered per
//! pass. The sweep is bounded by a packet count and a time limit, and only ever reaches the lab's
//! server address.

use std::ops::RangeInclusive;
use std::path::Path;
use std::time::{Duration, Instant};

use etherparse::PacketBuilder;

use crate::lab::{Lab, LabError, Side};
use crate::packet_socket::PacketSocket;
use crate::rng::Rng;

/// What to send.
#[derive(Debug, Clone)]
pub struct Sweep {
    pub ports: RangeInclusive<u16>,
    pub tcp: bool,
    pub udp: bool,
    /// Stop after this many packets (SYNs and datagrams together) ...
    pub max_packets: u64,
    /// ... or this long, whichever comes first.
    pub max_time: Duration,
    /// Seeds the order of the passes ([`Rng`]; a fixed seed gives the same sweep).
    pub seed: u64,
}

/// What a sweep did.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct SweepOutcome {
    pub packets: u64,
    pub syns: u64,
    pub passes: u64,
    pub elapsed: Duration,
    /// Packets and SYNs sent, and the time, when the probe first said open (checked after each pass).
    pub opened: Option<(u64, u64, Duration)>,
}

impl SweepOutcome {
    /// Packets per second over the whole sweep.
    pub fn rate(&self) -> f64 {
        self.packets as f64 / self.elapsed.as_secs_f64().max(1e-9)
    }
}

impl Lab {
    /// Sends `sweep` from the client's IPv4 address to the server's, calling `opened` with the progress
    /// after every pass (and once at the end); stops early when `stop_when_opened` and `opened` said yes.
    pub fn sweep(
        &self,
        sweep: &Sweep,
        stop_when_opened: bool,
        opened: &mut (dyn FnMut(&SweepOutcome) -> bool + Send),
    ) -> Result<SweepOutcome, LabError> {
        let frames = self.sweep_frames(sweep)?;
        let (ns, iface) = self.client_packet_target()?;
        std::thread::scope(|s| {
            s.spawn(|| send_sweep(&ns, &iface, &frames, sweep, stop_when_opened, opened))
                .join()
                .unwrap_or_else(|_| Err(std::io::Error::other("sweep thread panicked")))
        })
        .map_err(|e| LabError::io(format!("sweeping from {}", self.client_ns()), e))
    }

    /// One frame per (port, protocol) of the sweep, client to server over IPv4; `true` marks a SYN.
    fn sweep_frames(&self, sweep: &Sweep) -> Result<Vec<(bool, Vec<u8>)>, LabError> {
        let (client_mac, server_mac) = (self.mac(Side::Client)?, self.mac(Side::Server)?);
        let (src, dst) = (self.client_v4().octets(), self.server_v4().octets());
        let mut frames = Vec::new();
        for port in sweep.ports.clone() {
            // A different source port per destination, as a scanner's would be; checksums are right, so
            // the server's kernel answers as it would to any scan.
            let sport = 40000 + (port % 20000);
            if sweep.tcp {
                let mut out = Vec::new();
                PacketBuilder::ethernet2(client_mac, server_mac)
                    .ipv4(src, dst, 64)
                    .tcp(sport, port, u32::from(port), 1024)
                    .syn()
                    .write(&mut out, &[])
                    .map_err(|e| LabError::Config(format!("building a SYN: {e}")))?;
                frames.push((true, out));
            }
            if sweep.udp {
                let mut out = Vec::new();
                PacketBuilder::ethernet2(client_mac, server_mac)
                    .ipv4(src, dst, 64)
                    .udp(sport, port)
                    .write(&mut out, &[0])
                    .map_err(|e| LabError::Config(format!("building a datagram: {e}")))?;
                frames.push((false, out));
            }
        }
        Ok(frames)
    }
}

/// Frames handed to the kernel per sendmmsg(2) call.
const BATCH: usize = 64;

/// In this thread: join the namespace at `ns`, then send the sweep on `iface`.
fn send_sweep(
    ns: &Path,
    iface: &std::ffi::CStr,
    frames: &[(bool, Vec<u8>)],
    sweep: &Sweep,
    stop_when_opened: bool,
    opened: &mut (dyn FnMut(&SweepOutcome) -> bool + Send),
) -> std::io::Result<SweepOutcome> {
    let socket = PacketSocket::open_in(ns, iface)?;
    let mut order: Vec<usize> = (0..frames.len()).collect();
    let mut rng = Rng::new(sweep.seed);
    let started = Instant::now();
    let mut outcome = SweepOutcome::default();
    'passes: while outcome.packets < sweep.max_packets && started.elapsed() < sweep.max_time {
        rng.shuffle(&mut order);
        for batch in order.chunks(BATCH) {
            let left = usize::try_from(sweep.max_packets - outcome.packets).unwrap_or(usize::MAX);
            let batch: Vec<&(bool, Vec<u8>)> = batch.iter().filter_map(|&i| frames.get(i)).take(left).collect();
            socket.send_batch(&batch.iter().map(|(_, frame)| frame.as_slice()).collect::<Vec<_>>())?;
            outcome.packets += batch.len() as u64;
            outcome.syns += batch.iter().filter(|(syn, _)| *syn).count() as u64;
            if outcome.packets >= sweep.max_packets {
                outcome.passes += 1;
                break 'passes;
            }
        }
        outcome.passes += 1;
        outcome.elapsed = started.elapsed();
        if outcome.opened.is_none() && opened(&outcome) {
            outcome.opened = Some((outcome.packets, outcome.syns, started.elapsed()));
            if stop_when_opened {
                break;
            }
        }
    }
    outcome.elapsed = started.elapsed();
    if outcome.opened.is_none() && opened(&outcome) {
        outcome.opened = Some((outcome.packets, outcome.syns, outcome.elapsed));
    }
    Ok(outcome)
}
