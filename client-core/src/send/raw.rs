//! The raw TCP hit: one segment with chosen flags, built with etherparse, on a raw socket.
//!
//! The socket is `SOCK_RAW`/`IPPROTO_TCP` for both families, so the kernel writes the IP header and we
//! write only the TCP header. The checksum covers a pseudo-header with the source address, so the socket is
//! bound to the source the kernel's routing would pick (found with a connected UDP socket) or to the
//! address the user asked for. The kernel has no socket for the segment's source port, so a SYN-ACK is
//! answered by the local stack with one RST, as for any port scanner.
//!
//! Per OS (raw sockets exist only on Unix; Windows forbids TCP over raw sockets, see `privilege.rs`):
//! - Linux: a raw TCP socket receives a copy of every incoming TCP segment, so its receive buffer is set
//!   to 0 (the kernel rounds that up to its minimum) to keep the kernel from queueing copies we never read.
//! - macOS and the BSDs: the kernel never hands TCP segments to raw sockets, so there is nothing to limit,
//!   and `SO_RCVBUF = 0` is refused with EINVAL: the buffer is left alone.

use std::io;
use std::net::{IpAddr, SocketAddr};

use etherparse::TcpHeader;
use socket2::{Domain, Protocol, Socket, Type};

use crate::sequence::TcpFlags;

/// The range Linux uses for ephemeral ports; a random one per hit, like the kernel would choose.
const EPHEMERAL_PORTS: std::ops::RangeInclusive<u16> = 32768..=60999;
/// A common initial window; a zero window marks a segment as crafted to some middleboxes.
const WINDOW: u16 = 64240;

pub(super) struct RawTcpSocket {
    socket: Socket,
    source: IpAddr,
    destination: SocketAddr,
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
        Ok(RawTcpSocket { socket, source, destination })
    }

    pub(super) fn send_segment(&self, port: u16, source_port: Option<u16>, flags: TcpFlags) -> io::Result<()> {
        let source_port = source_port.unwrap_or_else(|| fastrand::u16(EPHEMERAL_PORTS));
        let segment = build_segment(self.source, self.destination.ip(), source_port, port, flags)?;
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
        let bytes = build_segment(s.into(), d.into(), 40000, 7000, TcpFlags::SYN).expect("build");
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
        let bytes = build_segment(s.into(), d.into(), 1, 65535, flags).expect("build");
        let header = parse(&bytes);
        assert!(header.fin && header.psh && header.urg && header.ack && !header.syn && !header.rst);
        assert_ne!(header.acknowledgment_number, 0, "an ACK segment carries an acknowledgment number");
        assert_eq!(header.calc_checksum_ipv6_raw(s.octets(), d.octets(), &[]).expect("sum"), header.checksum);
    }

    #[test]
    fn mixed_families_are_refused() {
        let err =
            build_segment([192, 0, 2, 1].into(), "2001:db8::2".parse::<IpAddr>().expect("d"), 1, 2, TcpFlags::SYN)
                .expect_err("mixed");
        assert_eq!(err.kind(), io::ErrorKind::InvalidInput);
    }
}
