//! What actually went over the wire, seen from the server's veth.
//!
//! Why: a knock client's job is to put exact packets on the wire (one SYN per TCP hit, never a
//! retransmit, one UDP datagram with the right payload, in order). [`Lab::start_capture`] runs
//! `tcpdump -i SERVER_IFACE -U -w FILE -n FILTER` in the server namespace, waits until tcpdump
//! says `listening on` (the BPF filter is set by then), and [`Capture::stop`] reads the file with
//! the `pcap` crate and parses each Ethernet frame with etherparse into a [`Packet`].
//!
//! The capture taps the interface before netfilter, so it also sees packets the server's firewall
//! drops. tcpdump runs with `--immediate-mode` (no 1 s block timeout in the kernel ring) and
//! `-Z root` (Debian's tcpdump otherwise drops to user `tcpdump`, which cannot write into the
//! root-only lab dir). Non-IP frames (ARP, ...) are skipped.

use std::io::{BufRead, BufReader};
use std::net::IpAddr;
use std::os::unix::process::CommandExt;
use std::path::{Path, PathBuf};
use std::process::{Child, Stdio};
use std::sync::{Arc, Mutex, mpsc};
use std::thread;
use std::time::{Duration, Instant};

use etherparse::{LaxNetSlice, LaxSlicedPacket, TransportSlice};

use crate::lab::{Lab, LabError};
use crate::process;

/// How long [`Lab::start_capture`] waits for tcpdump to listen.
pub const STARTUP_TIMEOUT: Duration = Duration::from_secs(5);

/// Transport protocol of a [`Packet`].
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Proto {
    Tcp,
    Udp,
    /// Any other IP protocol number (ICMP = 1, ICMPv6 = 58, ...).
    Other(u8),
}

/// TCP flags of a packet (all false for non-TCP packets).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Hash)]
pub struct TcpFlags {
    pub fin: bool,
    pub syn: bool,
    pub rst: bool,
    pub psh: bool,
    pub ack: bool,
    pub urg: bool,
}

impl TcpFlags {
    pub const FIN: u8 = 0x01;
    pub const SYN: u8 = 0x02;
    pub const RST: u8 = 0x04;
    pub const PSH: u8 = 0x08;
    pub const ACK: u8 = 0x10;
    pub const URG: u8 = 0x20;

    /// The flags as the low 6 bits of the TCP flags byte.
    pub fn bits(self) -> u8 {
        [
            (self.fin, Self::FIN),
            (self.syn, Self::SYN),
            (self.rst, Self::RST),
            (self.psh, Self::PSH),
            (self.ack, Self::ACK),
            (self.urg, Self::URG),
        ]
        .iter()
        .filter(|(set, _)| *set)
        .fold(0, |acc, (_, bit)| acc | bit)
    }

    /// Flags from the TCP flags byte (ECE/CWR ignored).
    pub fn from_bits(bits: u8) -> TcpFlags {
        TcpFlags {
            fin: bits & Self::FIN != 0,
            syn: bits & Self::SYN != 0,
            rst: bits & Self::RST != 0,
            psh: bits & Self::PSH != 0,
            ack: bits & Self::ACK != 0,
            urg: bits & Self::URG != 0,
        }
    }

    /// Exactly SYN, nothing else: what a knock client's TCP hit looks like.
    pub fn is_syn_only(self) -> bool {
        self.bits() == Self::SYN
    }
}

/// One captured IP packet.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Packet {
    /// Capture time since the Unix epoch (µs precision).
    pub ts: Duration,
    pub src: IpAddr,
    pub dst: IpAddr,
    pub proto: Proto,
    /// 0 unless TCP or UDP.
    pub src_port: u16,
    /// 0 unless TCP or UDP.
    pub dst_port: u16,
    /// All false unless TCP.
    pub tcp_flags: TcpFlags,
    /// Transport payload bytes (after the TCP/UDP header); for other protocols the IP payload.
    pub payload_len: usize,
    /// The TCP header's option bytes (empty unless TCP with options).
    pub tcp_options: Vec<u8>,
}

impl Packet {
    /// A TCP packet with exactly SYN set.
    pub fn is_syn(&self) -> bool {
        self.proto == Proto::Tcp && self.tcp_flags.is_syn_only()
    }

    pub fn is_tcp(&self) -> bool {
        self.proto == Proto::Tcp
    }

    pub fn is_udp(&self) -> bool {
        self.proto == Proto::Udp
    }

    /// `tcp 7000` / `udp 9000` / `proto 1`: handy in assertion messages.
    pub fn hit(&self) -> String {
        match self.proto {
            Proto::Tcp => format!("tcp {}", self.dst_port),
            Proto::Udp => format!("udp {}", self.dst_port),
            Proto::Other(n) => format!("proto {n}"),
        }
    }
}

/// A running tcpdump; stop it with [`Capture::stop`] (dropping it just kills it).
#[derive(Debug)]
pub struct Capture {
    child: Child,
    file: PathBuf,
    stderr: Arc<Mutex<String>>,
}

impl Lab {
    /// Starts tcpdump on the server's veth with a BPF filter (`""` captures everything) and
    /// returns once it listens.
    pub fn start_capture(&self, bpf_filter: &str) -> Result<Capture, LabError> {
        let file = self.unique_path("capture", "pcap");
        let mut cmd = self.server_cmd("tcpdump");
        cmd.args(["-i", self.server_iface(), "-U", "--immediate-mode", "-Z", "root", "-n", "-w"])
            .arg(&file)
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::piped())
            .process_group(0);
        if !bpf_filter.trim().is_empty() {
            cmd.arg(bpf_filter);
        }
        let mut child = cmd.spawn().map_err(|e| LabError::io("spawning `ip netns exec .. tcpdump`", e))?;

        let stderr_text = Arc::new(Mutex::new(String::new()));
        let (ready_tx, ready_rx) = mpsc::channel();
        if let Some(pipe) = child.stderr.take() {
            let text = Arc::clone(&stderr_text);
            thread::spawn(move || {
                for line in BufReader::new(pipe).lines() {
                    let Ok(line) = line else { break };
                    if line.contains("listening on") {
                        let _ = ready_tx.send(());
                    }
                    if let Ok(mut t) = text.lock() {
                        t.push_str(&line);
                        t.push('\n');
                    }
                }
            });
        }
        let mut capture = Capture { child, file, stderr: stderr_text };

        let deadline = Instant::now() + STARTUP_TIMEOUT;
        loop {
            if ready_rx.recv_timeout(Duration::from_millis(10)).is_ok() {
                return Ok(capture);
            }
            if let Ok(Some(status)) = capture.child.try_wait() {
                // Let the reader thread collect the last stderr lines.
                thread::sleep(Duration::from_millis(20));
                return Err(LabError::Startup {
                    what: "tcpdump".into(),
                    detail: format!("exited with {status}: {}", capture.stderr()),
                });
            }
            if Instant::now() >= deadline {
                return Err(LabError::Timeout {
                    what: "tcpdump to print `listening on`".into(),
                    after: STARTUP_TIMEOUT,
                    detail: capture.stderr(),
                });
            }
        }
    }
}

impl Capture {
    /// Packets written to the file so far (a partly written last record is ignored).
    pub fn packets_so_far(&self) -> Result<Vec<Packet>, LabError> {
        read_pcap(&self.file, true)
    }

    /// Waits until `pred` holds for the packets so far; returns them either way.
    pub fn wait_for(
        &self,
        timeout: Duration,
        mut pred: impl FnMut(&[Packet]) -> bool,
    ) -> Result<Vec<Packet>, LabError> {
        let deadline = Instant::now() + timeout;
        loop {
            let packets = self.packets_so_far()?;
            if pred(&packets) || Instant::now() >= deadline {
                return Ok(packets);
            }
            thread::sleep(Duration::from_millis(10));
        }
    }

    /// Lets tcpdump catch up (the file stops growing for 100 ms, at most 2 s), stops it with
    /// SIGINT and returns every IP packet captured, in order.
    pub fn stop(mut self) -> Result<Vec<Packet>, LabError> {
        self.settle();
        process::signal(self.child.id(), libc::SIGINT);
        let status = match process::wait_timeout(&mut self.child, Duration::from_secs(5)) {
            Ok(Some(status)) => status,
            _ => {
                return Err(LabError::Timeout {
                    what: "tcpdump to exit after SIGINT".into(),
                    after: Duration::from_secs(5),
                    detail: self.stderr(),
                });
            }
        };
        if !status.success() {
            return Err(LabError::Capture(format!("tcpdump exited with {status}: {}", self.stderr())));
        }
        read_pcap(&self.file, false)
    }

    fn settle(&self) {
        let size = || std::fs::metadata(&self.file).map(|m| m.len()).unwrap_or(0);
        let deadline = Instant::now() + Duration::from_secs(2);
        let mut last = size();
        let mut stable_since = Instant::now();
        while Instant::now() < deadline {
            thread::sleep(Duration::from_millis(10));
            let now = size();
            if now != last {
                last = now;
                stable_since = Instant::now();
            } else if stable_since.elapsed() >= Duration::from_millis(100) {
                return;
            }
        }
    }

    /// The pcap file (in the lab dir).
    pub fn path(&self) -> &Path {
        &self.file
    }

    /// tcpdump's stderr so far.
    pub fn stderr(&self) -> String {
        self.stderr.lock().map(|s| s.clone()).unwrap_or_default()
    }
}

impl Drop for Capture {
    fn drop(&mut self) {
        process::stop_child(&mut self.child, libc::SIGKILL, Duration::from_millis(200));
    }
}

/// Reads a pcap file of Ethernet frames into [`Packet`]s (non-IP frames skipped). With
/// `partial`, a truncated last record (file still being written) ends the read quietly.
pub fn read_pcap(path: &Path, partial: bool) -> Result<Vec<Packet>, LabError> {
    let mut cap = match pcap::Capture::from_file(path) {
        Ok(cap) => cap,
        // A file tcpdump has not written its header into yet.
        Err(_) if partial && std::fs::metadata(path).map(|m| m.len() < 24).unwrap_or(true) => {
            return Ok(Vec::new());
        }
        Err(e) => {
            return Err(LabError::Capture(format!("opening {}: {e}", path.display())));
        }
    };
    let link = cap.get_datalink();
    if link != pcap::Linktype::ETHERNET {
        return Err(LabError::Capture(format!("{}: link type {link:?}, expected Ethernet", path.display())));
    }
    let mut out = Vec::new();
    loop {
        match cap.next_packet() {
            Ok(p) => {
                let ts = timeval_to_duration(p.header.ts.tv_sec, p.header.ts.tv_usec);
                if let Some(packet) = parse_ethernet(ts, p.data) {
                    out.push(packet);
                }
            }
            Err(pcap::Error::NoMorePackets) => break,
            Err(_) if partial => break,
            Err(e) => {
                return Err(LabError::Capture(format!("reading {}: {e}", path.display())));
            }
        }
    }
    Ok(out)
}

fn timeval_to_duration(sec: libc::time_t, usec: libc::suseconds_t) -> Duration {
    let sec = u64::try_from(sec).unwrap_or(0);
    let usec = u32::try_from(usec).unwrap_or(0).min(999_999);
    Duration::new(sec, usec * 1000)
}

/// Parses one Ethernet frame; `None` when it carries no IPv4/IPv6 packet.
pub fn parse_ethernet(ts: Duration, frame: &[u8]) -> Option<Packet> {
    let sliced = LaxSlicedPacket::from_ethernet(frame).ok()?;
    let (src, dst, ip_payload) = match sliced.net.as_ref()? {
        LaxNetSlice::Ipv4(v4) => {
            (IpAddr::V4(v4.header().source_addr()), IpAddr::V4(v4.header().destination_addr()), v4.payload())
        }
        LaxNetSlice::Ipv6(v6) => {
            (IpAddr::V6(v6.header().source_addr()), IpAddr::V6(v6.header().destination_addr()), v6.payload())
        }
        LaxNetSlice::Arp(_) => return None,
    };
    let mut packet = Packet {
        ts,
        src,
        dst,
        proto: Proto::Other(ip_payload.ip_number.0),
        src_port: 0,
        dst_port: 0,
        tcp_flags: TcpFlags::default(),
        payload_len: ip_payload.payload.len(),
        tcp_options: Vec::new(),
    };
    match &sliced.transport {
        Some(TransportSlice::Tcp(tcp)) => {
            packet.proto = Proto::Tcp;
            packet.src_port = tcp.source_port();
            packet.dst_port = tcp.destination_port();
            packet.tcp_flags = TcpFlags {
                fin: tcp.fin(),
                syn: tcp.syn(),
                rst: tcp.rst(),
                psh: tcp.psh(),
                ack: tcp.ack(),
                urg: tcp.urg(),
            };
            packet.payload_len = tcp.payload().len();
            packet.tcp_options = tcp.options().to_vec();
        }
        Some(TransportSlice::Udp(udp)) => {
            packet.proto = Proto::Udp;
            packet.src_port = udp.source_port();
            packet.dst_port = udp.destination_port();
            packet.payload_len = udp.payload().len();
        }
        _ => {}
    }
    Some(packet)
}

#[cfg(test)]
mod tests {
    use super::*;
    use etherparse::PacketBuilder;
    use std::net::{Ipv4Addr, Ipv6Addr};

    const MAC_A: [u8; 6] = [2, 0, 0, 0, 0, 1];
    const MAC_B: [u8; 6] = [2, 0, 0, 0, 0, 2];

    fn build(b: etherparse::PacketBuilderStep<etherparse::TcpHeader>, payload: &[u8]) -> Vec<u8> {
        let mut v = Vec::new();
        b.write(&mut v, payload).expect("build frame");
        v
    }

    #[test]
    fn parses_an_ipv4_syn() {
        let b = PacketBuilder::ethernet2(MAC_A, MAC_B)
            .ipv4([192, 0, 2, 1], [192, 0, 2, 2], 64)
            .tcp(40000, 7000, 1, 1024)
            .syn();
        let p = parse_ethernet(Duration::from_micros(5), &build(b, &[])).expect("ip packet");
        assert_eq!(p.src, IpAddr::V4(Ipv4Addr::new(192, 0, 2, 1)));
        assert_eq!(p.dst, IpAddr::V4(Ipv4Addr::new(192, 0, 2, 2)));
        assert_eq!((p.proto, p.src_port, p.dst_port, p.payload_len), (Proto::Tcp, 40000, 7000, 0));
        assert!(p.is_syn());
        assert_eq!(p.tcp_flags.bits(), TcpFlags::SYN);
        assert_eq!(p.hit(), "tcp 7000");
    }

    #[test]
    fn parses_an_ipv6_udp_datagram() {
        let b = PacketBuilder::ethernet2(MAC_A, MAC_B)
            .ipv6(Ipv6Addr::LOCALHOST.octets(), Ipv6Addr::LOCALHOST.octets(), 64)
            .udp(5000, 9000);
        let mut frame = Vec::new();
        b.write(&mut frame, &[0]).expect("build frame");
        let p = parse_ethernet(Duration::ZERO, &frame).expect("ip packet");
        assert_eq!((p.proto, p.dst_port, p.payload_len), (Proto::Udp, 9000, 1));
        assert!(!p.is_syn());
        assert_eq!(p.tcp_flags, TcpFlags::default());
    }

    #[test]
    fn arp_and_garbage_are_skipped() {
        assert!(parse_ethernet(Duration::ZERO, &[0u8; 10]).is_none());
        let mut arp = vec![0xff; 12];
        arp.extend_from_slice(&[0x08, 0x06]);
        arp.extend_from_slice(&[0, 1, 8, 0, 6, 4, 0, 1]);
        arp.extend_from_slice(&[0; 20]);
        assert!(parse_ethernet(Duration::ZERO, &arp).is_none());
    }

    #[test]
    fn flag_bits_round_trip() {
        for bits in 0..64u8 {
            assert_eq!(TcpFlags::from_bits(bits).bits(), bits);
        }
        assert!(TcpFlags::from_bits(TcpFlags::SYN).is_syn_only());
        assert!(!TcpFlags::from_bits(TcpFlags::SYN | TcpFlags::ACK).is_syn_only());
    }

    #[test]
    fn timeval_keeps_microseconds() {
        assert_eq!(timeval_to_duration(2, 345), Duration::new(2, 345_000));
    }
}
