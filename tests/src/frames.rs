//! Ethernet frames of single hits, for pcap files replayed through knock-server and for the AF_PACKET
//! sender: built with etherparse, so lengths and checksums are right.

use std::net::IpAddr;

use etherparse::{PacketBuilder, PacketBuilderStep};

/// Source and destination MAC addresses of a frame.
pub type Macs = ([u8; 6], [u8; 6]);

/// The MAC addresses of frames that only go into pcap files (no link checks them; locally administered).
pub const PCAP_MACS: Macs = ([2, 0, 0, 0, 0, 1], [2, 0, 0, 0, 0, 2]);

/// A TCP SYN from `src` (port 40000) to `dst`:`port`, in an Ethernet frame from `macs.0` to `macs.1`.
/// Panics when `src` and `dst` are not of one family.
pub fn syn_frame(macs: Macs, src: IpAddr, dst: IpAddr, port: u16) -> Vec<u8> {
    let builder = ip(macs, src, dst).tcp(40000, port, 1, 64240).syn();
    let mut frame = Vec::with_capacity(builder.size(0));
    builder.write(&mut frame, &[]).expect("a SYN fits in a frame");
    frame
}

/// A UDP datagram of one zero byte (what knock(1) sends) from `src` (port 40000) to `dst`:`port`, in an
/// Ethernet frame from `macs.0` to `macs.1`. Panics when `src` and `dst` are not of one family.
pub fn udp_frame(macs: Macs, src: IpAddr, dst: IpAddr, port: u16) -> Vec<u8> {
    let builder = ip(macs, src, dst).udp(40000, port);
    let mut frame = Vec::with_capacity(builder.size(1));
    builder.write(&mut frame, &[0]).expect("a datagram fits in a frame");
    frame
}

/// A UDP datagram carrying `payload` from `src` (port 40000) to `dst`:`port` (an SPA packet, say), in an
/// Ethernet frame from `macs.0` to `macs.1`. Panics when `src` and `dst` are not of one family.
pub fn udp_payload_frame(macs: Macs, src: IpAddr, dst: IpAddr, port: u16, payload: &[u8]) -> Vec<u8> {
    let builder = ip(macs, src, dst).udp(40000, port);
    let mut frame = Vec::with_capacity(builder.size(payload.len()));
    builder.write(&mut frame, payload).expect("a datagram fits in a frame");
    frame
}

fn ip(macs: Macs, src: IpAddr, dst: IpAddr) -> PacketBuilderStep<etherparse::IpHeaders> {
    let ethernet = PacketBuilder::ethernet2(macs.0, macs.1);
    match (src, dst) {
        (IpAddr::V4(src), IpAddr::V4(dst)) => ethernet.ipv4(src.octets(), dst.octets(), 64),
        (IpAddr::V6(src), IpAddr::V6(dst)) => ethernet.ipv6(src.octets(), dst.octets(), 64),
        _ => panic!("{src} and {dst} are not of one family"),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn frames_carry_the_hit() {
        let (src, dst): (IpAddr, IpAddr) = ("192.0.2.1".parse().expect("ip"), "192.0.2.2".parse().expect("ip"));
        let syn = syn_frame(PCAP_MACS, src, dst, 7000);
        let sliced = etherparse::SlicedPacket::from_ethernet(&syn).expect("parses");
        let Some(etherparse::TransportSlice::Tcp(tcp)) = sliced.transport else { panic!("not TCP") };
        assert!(tcp.syn() && !tcp.ack() && tcp.destination_port() == 7000);
        let v6: IpAddr = "2001:db8::2".parse().expect("ip");
        let udp = udp_frame(PCAP_MACS, "2001:db8::1".parse().expect("ip"), v6, 8000);
        let sliced = etherparse::SlicedPacket::from_ethernet(&udp).expect("parses");
        let Some(etherparse::TransportSlice::Udp(datagram)) = sliced.transport else { panic!("not UDP") };
        assert_eq!((datagram.destination_port(), datagram.payload()), (8000, &[0u8][..]));
    }
}
