//! The raw TCP hit: one segment with chosen flags, built with etherparse, on a raw socket.
//!
//! The socket is `SOCK_RAW`/`IPPROTO_TCP` for both families, so the kernel writes the IP header and we
//! write only the TCP header. The checksum covers a pseudo-header with the source address, so the socket is
//! bound to the source the kernel's routing would pick (found with a connected UDP socket) or to the
//! address the user asked for. The kernel has no socket for the segment's source port, so a SYN-ACK is
//! answered by the local stack with one RST, as for any port scanner.
//!
//! A segment with SYN carries, unless the knock asks for a bare SYN, the options of Linux's connect() SYN
//! in Linux's order: MSS, SACK permitted, timestamps (a random TSval, TSecr 0), NOP, window scale, with
//! Linux's initial window: a SYN without options is what port scanners send, and some IDSs flag it. The
//! MSS is what an Ethernet path gives (1460 over IPv4, 1440 over IPv6); the kernel's own SYN would take the
//! route's MTU, which a raw socket does not see. Other segments (FIN, ACK, ...) carry no options.
//!
//! Per OS (raw sockets exist only on Unix; Windows forbids TCP over raw sockets, see `privilege.rs`):
//! - Linux: a raw TCP socket receives a copy of every incoming TCP segment, so its receive buffer is set
//!   to 0 (the kernel rounds that up to its minimum) to keep the kernel from queueing copies we never read.
//! - macOS and the BSDs: the kernel never hands TCP segments to raw sockets, so there is nothing to limit,
//!   and `SO_RCVBUF = 0` is refused with EINVAL: the buffer is left alone.
//! - Window scale: on Linux the one the kernel's own SYN carries, computed as the kernel does from
//!   `net.ipv4.tcp_rmem`'s maximum and `net.core.rmem_max` (7 with older defaults, 10 with 6.x's 32 MiB);
//!   elsewhere, or when /proc cannot be read, Linux's classic 7.

use std::io;
use std::net::{IpAddr, SocketAddr};

use etherparse::{TcpHeader, TcpOptionElement};
use socket2::{Domain, Protocol, Socket, Type};

use crate::sequence::TcpFlags;

/// The range Linux uses for ephemeral ports; a random one per hit, like the kernel would choose.
const EPHEMERAL_PORTS: std::ops::RangeInclusive<u16> = 32768..=60999;
/// A common initial window; a zero window marks a segment as crafted to some middleboxes.
const WINDOW: u16 = 64240;
/// Linux's classic window scale shift in a SYN (a 6 MiB tcp_rmem maximum), when the kernel's cannot be read.
const DEFAULT_WINDOW_SCALE: u8 = 7;
/// The MSS of an Ethernet path (MTU 1500 minus the IPv4 or IPv6 and TCP headers).
const MSS_V4: u16 = 1460;
const MSS_V6: u16 = 1440;

pub(super) struct RawTcpSocket {
    socket: Socket,
    source: IpAddr,
    destination: SocketAddr,
    /// The window scale a SYN's options carry.
    window_scale: u8,
}

impl RawTcpSocket {
    pub(super) fn open(destination: SocketAddr, bind_address: Option<IpAddr>) -> io::Result<RawTcpSocket> {
        let source = match bind_address {
            Some(ip) => ip,
            None => crate::target::local_address_towards(destination)?,
        };
        let socket = Socket::new(Domain::for_address(destination), Type::RAW, Some(Protocol::TCP))?;
        // Binding fixes the source the kernel writes into the IP header to the one in our checksum.
        let mut local = destination;
        local.set_ip(source);
        local.set_port(0);
        socket.bind(&local.into())?;
        limit_receive_queue(&socket)?;
        let mut destination = destination;
        // Linux raw IPv6 sockets take the port field as a protocol number: 0 means the socket's own.
        destination.set_port(0);
        Ok(RawTcpSocket { socket, source, destination, window_scale: window_scale() })
    }

    pub(super) fn send_segment(
        &self,
        port: u16,
        source_port: Option<u16>,
        flags: TcpFlags,
        syn_options: bool,
    ) -> io::Result<()> {
        let source_port = source_port.unwrap_or_else(|| fastrand::u16(EPHEMERAL_PORTS));
        let syn_options = syn_options.then_some(self.window_scale);
        let segment = build_segment(self.source, self.destination.ip(), source_port, port, flags, syn_options)?;
        let sent = self.socket.send_to(&segment, &self.destination.into())?;
        if sent != segment.len() {
            return Err(io::Error::other(format!("sent {sent} of {} segment bytes", segment.len())));
        }
        Ok(())
    }
}

/// We never read: on Linux keep the kernel from queueing copies of every incoming TCP segment for us.
#[cfg(target_os = "linux")]
fn limit_receive_queue(socket: &Socket) -> io::Result<()> {
    socket.set_recv_buffer_size(0)
}

/// The window scale Linux's tcp_select_initial_window gives a SYN: log2 of the largest receive buffer
/// (`tcp_rmem`'s maximum or `rmem_max`) minus 15, at most 14.
#[cfg(target_os = "linux")]
fn window_scale() -> u8 {
    let read = |path: &str, field: usize| -> Option<u64> {
        std::fs::read_to_string(path).ok()?.split_whitespace().nth(field)?.parse().ok()
    };
    let space = read("/proc/sys/net/ipv4/tcp_rmem", 2).into_iter().chain(read("/proc/sys/net/core/rmem_max", 0)).max();
    space.map_or(DEFAULT_WINDOW_SCALE, scale_for_buffer)
}

/// The kernel's rule: `clamp(ilog2(space) - 15, 0, 14)`.
#[cfg(any(target_os = "linux", test))]
fn scale_for_buffer(space: u64) -> u8 {
    match space.checked_ilog2() {
        Some(bits) => bits.saturating_sub(15).min(14) as u8,
        None => DEFAULT_WINDOW_SCALE,
    }
}

#[cfg(not(target_os = "linux"))]
fn window_scale() -> u8 {
    DEFAULT_WINDOW_SCALE
}

/// BSD kernels deliver no TCP to raw sockets (and macOS rejects a zero buffer with EINVAL).
#[cfg(not(target_os = "linux"))]
fn limit_receive_queue(_socket: &Socket) -> io::Result<()> {
    Ok(())
}

/// Builds a TCP header with a valid checksum for `source` → `destination`.
fn build_segment(
    source: IpAddr,
    destination: IpAddr,
    source_port: u16,
    destination_port: u16,
    flags: TcpFlags,
    syn_options: Option<u8>,
) -> io::Result<Vec<u8>> {
    let mut header = TcpHeader::new(source_port, destination_port, fastrand::u32(..), WINDOW);
    header.fin = flags.contains(TcpFlags::FIN);
    header.syn = flags.contains(TcpFlags::SYN);
    header.rst = flags.contains(TcpFlags::RST);
    header.psh = flags.contains(TcpFlags::PSH);
    header.ack = flags.contains(TcpFlags::ACK);
    header.urg = flags.contains(TcpFlags::URG);
    if header.ack {
        header.acknowledgment_number = fastrand::u32(..);
    }
    if let Some(window_scale) = syn_options.filter(|_| header.syn) {
        let mss = if destination.is_ipv4() { MSS_V4 } else { MSS_V6 };
        header
            .set_options(&[
                TcpOptionElement::MaximumSegmentSize(mss),
                TcpOptionElement::SelectiveAcknowledgementPermitted,
                TcpOptionElement::Timestamp(fastrand::u32(1..), 0),
                TcpOptionElement::Noop,
                TcpOptionElement::WindowScale(window_scale),
            ])
            .map_err(|e| io::Error::other(format!("TCP options: {e}")))?;
    }
    let checksum = match (source, destination) {
        (IpAddr::V4(s), IpAddr::V4(d)) => header.calc_checksum_ipv4_raw(s.octets(), d.octets(), &[]),
        (IpAddr::V6(s), IpAddr::V6(d)) => header.calc_checksum_ipv6_raw(s.octets(), d.octets(), &[]),
        _ => {
            return Err(io::Error::new(
                io::ErrorKind::InvalidInput,
                format!("source {source} and destination {destination} are of different address families"),
            ));
        }
    };
    header.checksum = checksum.map_err(|e| io::Error::other(e.to_string()))?;
    Ok(header.to_bytes().to_vec())
}

#[cfg(test)]
mod tests {
    use super::*;
    use etherparse::TcpHeaderSlice;

    fn parse(bytes: &[u8]) -> TcpHeader {
        TcpHeaderSlice::from_slice(bytes).expect("valid TCP header").to_header()
    }

    #[test]
    fn segment_has_requested_flags_and_valid_ipv4_checksum() {
        let (s, d) = ([192, 0, 2, 1], [192, 0, 2, 2]);
        let bytes = build_segment(s.into(), d.into(), 40000, 7000, TcpFlags::SYN, None).expect("build");
        let header = parse(&bytes);
        assert_eq!((header.source_port, header.destination_port), (40000, 7000));
        assert!(header.syn && !header.ack && !header.fin && !header.rst && !header.psh && !header.urg);
        assert_eq!(header.calc_checksum_ipv4_raw(s, d, &[]).expect("sum"), header.checksum);
        assert_eq!(bytes.len(), 20);
    }

    #[test]
    fn segment_has_valid_ipv6_checksum_and_combined_flags() {
        let s: std::net::Ipv6Addr = "2001:db8::1".parse().expect("s");
        let d: std::net::Ipv6Addr = "2001:db8::2".parse().expect("d");
        let flags = TcpFlags::FIN.union(TcpFlags::PSH).union(TcpFlags::URG).union(TcpFlags::ACK);
        let bytes = build_segment(s.into(), d.into(), 1, 65535, flags, Some(7)).expect("build");
        let header = parse(&bytes);
        assert!(header.fin && header.psh && header.urg && header.ack && !header.syn && !header.rst);
        assert_ne!(header.acknowledgment_number, 0, "an ACK segment carries an acknowledgment number");
        assert_eq!(header.calc_checksum_ipv6_raw(s.octets(), d.octets(), &[]).expect("sum"), header.checksum);
    }

    #[test]
    fn a_syn_carries_linuxs_option_set_in_linuxs_order_and_a_valid_checksum() {
        let (s, d) = ([192, 0, 2, 1], [192, 0, 2, 2]);
        let bytes = build_segment(s.into(), d.into(), 40000, 7000, TcpFlags::SYN, Some(7)).expect("build");
        assert_eq!(bytes.len(), 40, "20 bytes of header, 20 of options, like Linux's SYN");
        // MSS 1460, SACK permitted, timestamps (TSval random, TSecr 0), NOP, window scale 7.
        assert_eq!(bytes[20..28], [2, 4, 0x05, 0xb4, 4, 2, 8, 10]);
        assert_eq!(bytes[32..40], [0, 0, 0, 0, 1, 3, 3, 7]);
        let header = parse(&bytes);
        assert_eq!(header.calc_checksum_ipv4_raw(s, d, &[]).expect("sum"), header.checksum);
        assert_eq!(header.window_size, WINDOW);
        let v6: (std::net::Ipv6Addr, std::net::Ipv6Addr) =
            ("2001:db8::1".parse().expect("s"), "2001:db8::2".parse().expect("d"));
        let bytes = build_segment(v6.0.into(), v6.1.into(), 1, 2, TcpFlags::SYN, Some(7)).expect("build");
        assert_eq!(bytes[20..24], [2, 4, 0x05, 0xa0], "MSS 1440 over IPv6");
        let header = parse(&bytes);
        assert_eq!(header.calc_checksum_ipv6_raw(v6.0.octets(), v6.1.octets(), &[]).expect("sum"), header.checksum);
        // A FIN carries none, and a bare SYN none.
        assert_eq!(build_segment(s.into(), d.into(), 1, 2, TcpFlags::FIN, Some(7)).expect("fin").len(), 20);
        assert_eq!(build_segment(s.into(), d.into(), 1, 2, TcpFlags::SYN, None).expect("bare").len(), 20);
    }

    #[test]
    fn the_window_scale_follows_the_kernels_rule() {
        assert_eq!(scale_for_buffer(6_291_456), 7, "Linux 4.x-5.x default tcp_rmem maximum");
        assert_eq!(scale_for_buffer(33_554_432), 10, "Linux 6.x default");
        assert_eq!(scale_for_buffer(65_535), 0);
        assert_eq!(scale_for_buffer(u64::MAX), 14);
        assert_eq!(scale_for_buffer(0), DEFAULT_WINDOW_SCALE);
    }

    #[test]
    fn mixed_families_are_refused() {
        let err = build_segment(
            [192, 0, 2, 1].into(),
            "2001:db8::2".parse::<IpAddr>().expect("d"),
            1,
            2,
            TcpFlags::SYN,
            Some(7),
        )
        .expect_err("mixed");
        assert_eq!(err.kind(), io::ErrorKind::InvalidInput);
    }
}
