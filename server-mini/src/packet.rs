//! One captured frame in, one [`Parsed`] out: link layer, IPv4/IPv6 (extension headers included), TCP/UDP.
//!
//! This faces the internet, so it never panics and never allocates: every input, including truncated headers,
//! lying length fields, fragments and random bytes, maps to one of the four [`Parsed`] outcomes.
//!
//! Design (see also the tests at the bottom):
//! - **etherparse's lax slicer** ([`LaxSlicedPacket`]) does Ethernet + VLAN/QinQ, IPv4 (+AH), IPv6 and its
//!   extension headers (hop-by-hop, destination options, routing, fragment, AH). Lax rather than strict because
//!   a capture may cut a frame (snaplen): when the IP length fields promise more bytes than were captured,
//!   strict [`etherparse::SlicedPacket`] rejects the whole frame although every header we need is there.
//!   knockd reads the headers from whatever was captured too. Where lax is too lenient we tighten it here:
//!   an IPv4 total length that is shorter than its own header, a link type that disagrees with the IP version,
//!   a UDP length below 8 or beyond a complete packet are all `Malformed`.
//! - **The transport header is sliced here** (etherparse's [`TcpHeaderSlice`] / [`UdpHeaderSlice`]) rather
//!   than taken from the sliced packet, because etherparse does not slice the transport of any fragment,
//!   not even the first one.
//! - **Fragments.** A first fragment (offset 0, more-fragments set) that holds the whole TCP header (data
//!   offset included) or the 8-byte UDP header is a [`Hit`]: it names the port of the datagram the kernel will
//!   reassemble, and knockd counts it too (libpcap's `tcp dst port N` matches offset-0 fragments). It is counted
//!   once, since every later fragment (offset != 0) is [`Parsed::Fragment`]. A first fragment that ends inside
//!   the transport or extension headers (the RFC 1858 "tiny fragment" trick) is `Fragment`, never a guess.
//! - **Hand-parsed** only where etherparse 0.21 has nothing usable: the BSD loopback (`Null`) 4-byte address
//!   family, and the Linux cooked headers SLL and SLL2. etherparse has no SLL2, and its SLL parser rejects
//!   every ARPHRD type but five: the `any` device also carries loopback (772), tun/WireGuard (0xFFFE), PPP
//!   (512) and IP-in-IP (768) frames, whose protocol field is an ether type like Ethernet's.
//! - Checksums are not verified (knockd does not; locally generated packets carry partial checksums).

use std::net::IpAddr;

use client_core::{Protocol, TcpFlags};
use etherparse::err::Layer;
use etherparse::err::ip::HeaderError as IpHeaderError;
use etherparse::err::ipv6_exts::HeaderError as ExtHeaderError;
use etherparse::err::packet::SliceError;
use etherparse::err::tcp::HeaderSliceError as TcpSliceError;
use etherparse::{
    ArpHardwareId, EtherType, IpAuthHeaderSlice, IpNumber, Ipv6FragmentHeaderSlice, Ipv6RawExtHeaderSlice,
    LaxIpPayloadSlice, LaxIpv4Slice, LaxIpv6Slice, LaxNetSlice, LaxSlicedPacket, TcpHeaderSlice, UdpHeaderSlice,
    ip_number,
};

/// The link layer of a capture, from its pcap link type.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum LinkType {
    /// Ethernet II, with up to three 802.1Q / 802.1ad (QinQ) tags.
    Ethernet,
    /// Linux cooked capture v1 (the `any` device with libpcap < 1.10 or `-y LINUX_SLL`).
    LinuxSll,
    /// Linux cooked capture v2.
    LinuxSll2,
    /// Bare IPv4 or IPv6 packets (tun devices, WireGuard).
    RawIp,
    /// BSD loopback: a 4-byte address family (host or network byte order), then IPv4 or IPv6.
    Null,
}

// DLT_RAW is 14 on OpenBSD, which uses 12 for DLT_LOOP (libpcap's dlt.h); everywhere else DLT_RAW is 12.
// (Only the pcap mapping uses them: Unix, like the capture.)
#[cfg(all(unix, target_os = "openbsd"))]
const DLT_RAW: i32 = 14;
#[cfg(all(unix, not(target_os = "openbsd")))]
const DLT_RAW: i32 = 12;
#[cfg(all(unix, target_os = "openbsd"))]
const DLT_LOOP: i32 = 12;
#[cfg(all(unix, not(target_os = "openbsd")))]
const DLT_LOOP: i32 = 108;

impl LinkType {
    /// The parser for a capture's link type; `None` if unsupported (the caller reports it).
    #[cfg(unix)]
    pub(crate) fn from_pcap(linktype: pcap::Linktype) -> Option<LinkType> {
        match linktype.0 {
            1 => Some(LinkType::Ethernet),    // DLT_EN10MB
            113 => Some(LinkType::LinuxSll),  // DLT_LINUX_SLL
            276 => Some(LinkType::LinuxSll2), // DLT_LINUX_SLL2
            // DLT_RAW; LINKTYPE_RAW as written in files; LINKTYPE_IPV4 and LINKTYPE_IPV6.
            DLT_RAW | 101 | 228 | 229 => Some(LinkType::RawIp),
            // DLT_NULL (host byte order) and DLT_LOOP (network byte order): both byte orders are accepted.
            0 | DLT_LOOP => Some(LinkType::Null),
            _ => None,
        }
    }

    /// Every link type, for tests and fuzzing.
    pub const ALL: [LinkType; 5] =
        [LinkType::Ethernet, LinkType::LinuxSll, LinkType::LinuxSll2, LinkType::RawIp, LinkType::Null];
}

/// A TCP or UDP packet: everything the door state machine looks at.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct Hit {
    pub src: IpAddr,
    pub dst: IpAddr,
    pub protocol: Protocol,
    /// The destination port.
    pub port: u16,
    /// The six classic TCP flags (FIN SYN RST PSH ACK URG); [`TcpFlags::NONE`] for UDP.
    pub flags: TcpFlags,
}

/// What one frame is.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Parsed {
    Hit(Hit),
    /// A valid frame that is not TCP/UDP over IP: ARP, ICMP, IGMP, ESP, other ether types, ...
    NotKnock,
    /// A non-first IP fragment, or a first fragment too short to hold the transport header.
    Fragment,
    /// A frame that cannot be read; the reason is for counters and debugging.
    Malformed(&'static str),
}

/// Parses one captured frame. Never panics, never allocates.
pub fn parse(link: LinkType, frame: &[u8]) -> Parsed {
    match slice(link, frame) {
        Ok(sliced) => classify(&sliced),
        Err(parsed) => parsed,
    }
}

/// The data of a complete, unfragmented UDP datagram in `frame` (what the SPA door reads), None for
/// anything else. Like [`parse`], it never panics.
pub(crate) fn udp_payload(link: LinkType, frame: &[u8]) -> Option<&[u8]> {
    let sliced = slice(link, frame).ok()?;
    let payload = match sliced.net.as_ref()? {
        LaxNetSlice::Ipv4(ip) => ip.payload(),
        LaxNetSlice::Ipv6(ip) => ip.payload(),
        LaxNetSlice::Arp(_) => return None,
    };
    if payload.fragmented || payload.incomplete || payload.ip_number != IpNumber::UDP {
        return None;
    }
    let udp = UdpHeaderSlice::from_slice(payload.payload).ok()?;
    let length = usize::from(udp.length());
    if length < UDP_HEADER_LEN {
        return None;
    }
    payload.payload.get(UDP_HEADER_LEN..length)
}

/// The link layer taken off, the network layer sliced (or the outcome when that is already decided).
fn slice(link: LinkType, frame: &[u8]) -> Result<LaxSlicedPacket<'_>, Parsed> {
    match link {
        LinkType::Ethernet => {
            LaxSlicedPacket::from_ethernet(frame).map_err(|_| Parsed::Malformed("truncated Ethernet header"))
        }
        LinkType::RawIp => LaxSlicedPacket::from_ip(frame).map_err(|err| match err {
            etherparse::err::ip::LaxHeaderSliceError::Len(_) => Parsed::Malformed("truncated IP header"),
            etherparse::err::ip::LaxHeaderSliceError::Content(err) => Parsed::Malformed(ip_reason(&err)),
        }),
        LinkType::LinuxSll => linux_sll(frame),
        LinkType::LinuxSll2 => linux_sll2(frame),
        LinkType::Null => null(frame),
    }
}

const SLL_LEN: usize = 16;
const SLL2_LEN: usize = 20;
/// Below this the SLL protocol field is not an ether type but one of `LINUX_SLL_P_*` (802.3, 802.2, CAN, ...).
const MIN_ETHER_TYPE: u16 = 0x0600;

fn be16(bytes: [u8; 2]) -> u16 {
    u16::from_be_bytes(bytes)
}

/// Linux cooked v1: packet type (2), ARPHRD type (2), address length (2), address (8), protocol (2).
fn linux_sll(frame: &[u8]) -> Result<LaxSlicedPacket<'_>, Parsed> {
    let Some((header, payload)) = frame.split_first_chunk::<SLL_LEN>() else {
        return Err(Parsed::Malformed("truncated Linux cooked (SLL) header"));
    };
    cooked(be16([header[2], header[3]]), be16([header[14], header[15]]), payload)
}

/// Linux cooked v2: protocol (2), reserved (2), interface index (4), ARPHRD type (2), packet type (1),
/// address length (1), address (8).
fn linux_sll2(frame: &[u8]) -> Result<LaxSlicedPacket<'_>, Parsed> {
    let Some((header, payload)) = frame.split_first_chunk::<SLL2_LEN>() else {
        return Err(Parsed::Malformed("truncated Linux cooked (SLL2) header"));
    };
    cooked(be16([header[8], header[9]]), be16([header[0], header[1]]), payload)
}

/// The payload of an SLL/SLL2 frame. As in libpcap: the protocol is an ether type, except on netlink
/// (a netlink family), on 802.11 radiotap and FRAD (no meaning), and below 0x0600 (`LINUX_SLL_P_*`).
fn cooked(arphrd: u16, protocol: u16, payload: &[u8]) -> Result<LaxSlicedPacket<'_>, Parsed> {
    let arphrd = ArpHardwareId(arphrd);
    if arphrd == ArpHardwareId::NETLINK
        || arphrd == ArpHardwareId::IEEE80211_RADIOTAP
        || arphrd == ArpHardwareId::FRAD
        || protocol < MIN_ETHER_TYPE
    {
        return Err(Parsed::NotKnock);
    }
    Ok(LaxSlicedPacket::from_ether_type(EtherType(protocol), payload))
}

/// AF_INET is 2 everywhere.
const AF_INET: u32 = 2;
/// AF_INET6: Linux 10, Windows (Npcap loopback) 23, NetBSD/OpenBSD/BSD/OS 24, FreeBSD/DragonFly 28, macOS 30.
const AF_INET6: [u32; 5] = [10, 23, 24, 28, 30];

/// BSD loopback: the address family as a 4-byte integer in the byte order of the capturing host (DLT_NULL)
/// or in network byte order (DLT_LOOP). Families are small, so the smaller reading is the right one.
fn null(frame: &[u8]) -> Result<LaxSlicedPacket<'_>, Parsed> {
    let Some((header, payload)) = frame.split_first_chunk::<4>() else {
        return Err(Parsed::Malformed("truncated loopback header"));
    };
    let family = u32::from_le_bytes(*header).min(u32::from_be_bytes(*header));
    let ether_type = if family == AF_INET {
        EtherType::IPV4
    } else if AF_INET6.contains(&family) {
        EtherType::IPV6
    } else {
        return Err(Parsed::NotKnock);
    };
    Ok(LaxSlicedPacket::from_ether_type(ether_type, payload))
}

fn is_vlan(ether_type: EtherType) -> bool {
    matches!(
        ether_type,
        EtherType::VLAN_TAGGED_FRAME | EtherType::PROVIDER_BRIDGING | EtherType::VLAN_DOUBLE_TAGGED_FRAME
    )
}

/// From the sliced link and network layers to the outcome.
fn classify(sliced: &LaxSlicedPacket<'_>) -> Parsed {
    // The ether type the link layer announced for the network layer (None for raw IP).
    let declared = sliced.ether_payload().map(|payload| payload.ether_type);
    match &sliced.net {
        None => match &sliced.stop_err {
            Some((err, layer)) => Parsed::Malformed(stop_reason(err, *layer)),
            // etherparse stops after three VLAN/MACsec tags.
            None if declared.is_some_and(is_vlan) => Parsed::Malformed("more than three VLAN tags"),
            // Another ether type (LLDP, 802.3 length field, encrypted MACsec, ...).
            None => Parsed::NotKnock,
        },
        Some(LaxNetSlice::Arp(_)) => Parsed::NotKnock,
        Some(LaxNetSlice::Ipv4(ip)) => {
            if declared.is_some_and(|t| t != EtherType::IPV4) {
                return Parsed::Malformed("IPv4 packet where the link layer announced another protocol");
            }
            ipv4(ip, sliced.stop_err.as_ref())
        }
        Some(LaxNetSlice::Ipv6(ip)) => {
            if declared.is_some_and(|t| t != EtherType::IPV6) {
                return Parsed::Malformed("IPv6 packet where the link layer announced another protocol");
            }
            ipv6(ip, sliced.stop_err.as_ref())
        }
    }
}

fn ipv4(ip: &LaxIpv4Slice<'_>, stop: Option<&(SliceError, Layer)>) -> Parsed {
    let header = ip.header();
    let total_len = usize::from(header.total_len());
    // 0 is what Linux TSO/GRO ("BIG TCP") super-packets carry; libpcap and lax etherparse then use the captured
    // length. Anything else shorter than the header is a lie.
    if total_len != 0 && total_len < header.slice().len() {
        return Parsed::Malformed("IPv4 total length shorter than the IPv4 header");
    }
    if header.fragments_offset().value() != 0 {
        return Parsed::Fragment;
    }
    let first_fragment = header.more_fragments();
    let payload = ip.payload();
    if let Some((err, layer)) = stop
        && let Some(reason) = ip_layer_reason(err, *layer)
    {
        return if first_fragment && !payload.incomplete && matches!(err, SliceError::Len(_)) {
            Parsed::Fragment
        } else {
            Parsed::Malformed(reason)
        };
    }
    transport(IpAddr::V4(header.source_addr()), IpAddr::V4(header.destination_addr()), payload, first_fragment)
}

fn ipv6(ip: &LaxIpv6Slice<'_>, stop: Option<&(SliceError, Layer)>) -> Parsed {
    let header = ip.header();
    let payload = ip.payload();
    let mut first_fragment = false;
    if payload.fragmented {
        // In a later fragment the bytes after the fragment header are the middle of the original payload, so
        // whatever etherparse read there (more "extension headers", errors) is meaningless: decide on the
        // fragment header alone.
        match ipv6_fragment(header.next_header(), ip.extensions().slice()) {
            Fragmentation::Later => return Parsed::Fragment,
            Fragmentation::First => first_fragment = true,
            Fragmentation::None => {}
        }
    }
    if let Some((err, layer)) = stop
        && let Some(reason) = ip_layer_reason(err, *layer)
    {
        // RFC 8200 wants the whole header chain in the first fragment; one that ends inside it is a fragment
        // we cannot use, not a broken packet.
        return if first_fragment && !payload.incomplete && matches!(err, SliceError::Len(_)) {
            Parsed::Fragment
        } else {
            Parsed::Malformed(reason)
        };
    }
    transport(IpAddr::V6(header.source_addr()), IpAddr::V6(header.destination_addr()), payload, first_fragment)
}

enum Fragmentation {
    None,
    First,
    Later,
}

/// What the fragment headers in an IPv6 extension chain (as far as etherparse parsed it) say.
///
/// This walks the chain with etherparse's checked slicers instead of iterating [`etherparse::Ipv6ExtensionsSlice`]:
/// in etherparse 0.21 that iterator follows the last parsed header's next-header field past the parsed bytes
/// when the lax slicer stopped inside the chain, and reads out of bounds (undefined behaviour; a debug build
/// aborts on its unchecked-precondition check). See the `ipv6_fragments` test.
fn ipv6_fragment(first: IpNumber, chain: &[u8]) -> Fragmentation {
    let mut next = first;
    let mut rest = chain;
    let mut result = Fragmentation::None;
    loop {
        let len = match next {
            ip_number::IPV6_HOP_BY_HOP | ip_number::IPV6_ROUTE | ip_number::IPV6_DEST_OPTIONS => {
                match Ipv6RawExtHeaderSlice::from_slice(rest) {
                    Ok(ext) => {
                        next = ext.next_header();
                        ext.slice().len()
                    }
                    Err(_) => return result,
                }
            }
            ip_number::IPV6_FRAG => match Ipv6FragmentHeaderSlice::from_slice(rest) {
                Ok(fragment) => {
                    if fragment.fragment_offset().value() != 0 {
                        return Fragmentation::Later;
                    }
                    if fragment.more_fragments() {
                        result = Fragmentation::First;
                    }
                    next = fragment.next_header();
                    fragment.slice().len()
                }
                Err(_) => return result,
            },
            ip_number::AUTH => match IpAuthHeaderSlice::from_slice(rest) {
                Ok(auth) => {
                    next = auth.next_header();
                    auth.slice().len()
                }
                Err(_) => return result,
            },
            _ => return result,
        };
        match rest.get(len..) {
            Some(tail) => rest = tail,
            None => return result,
        }
    }
}

/// Reads the TCP or UDP header at the start of the IP payload.
fn transport(src: IpAddr, dst: IpAddr, payload: &LaxIpPayloadSlice<'_>, first_fragment: bool) -> Parsed {
    // A header cut short: by the fragmentation (a tiny first fragment) or by the capture / a lying length.
    let cut = |reason| if first_fragment && !payload.incomplete { Parsed::Fragment } else { Parsed::Malformed(reason) };
    match payload.ip_number {
        IpNumber::TCP => match TcpHeaderSlice::from_slice(payload.payload) {
            Ok(tcp) => Parsed::Hit(Hit {
                src,
                dst,
                protocol: Protocol::Tcp,
                port: tcp.destination_port(),
                flags: tcp_flags(&tcp),
            }),
            Err(TcpSliceError::Content(_)) => Parsed::Malformed("TCP data offset below 5"),
            Err(TcpSliceError::Len(_)) => cut("truncated TCP header"),
        },
        IpNumber::UDP => match UdpHeaderSlice::from_slice(payload.payload) {
            Ok(udp) => {
                let length = usize::from(udp.length());
                if length < UDP_HEADER_LEN {
                    Parsed::Malformed("UDP length below 8")
                } else if length > payload.payload.len() && !payload.incomplete && !first_fragment {
                    Parsed::Malformed("UDP length beyond the IP packet")
                } else {
                    Parsed::Hit(Hit {
                        src,
                        dst,
                        protocol: Protocol::Udp,
                        port: udp.destination_port(),
                        flags: TcpFlags::NONE,
                    })
                }
            }
            Err(_) => cut("truncated UDP header"),
        },
        // ICMP, IGMP, ESP, GRE, IPv6 extension headers etherparse does not walk (mobility, HIP, shim6), ...
        _ => Parsed::NotKnock,
    }
}

const UDP_HEADER_LEN: usize = 8;

fn tcp_flags(tcp: &TcpHeaderSlice<'_>) -> TcpFlags {
    let bits = [tcp.fin(), tcp.syn(), tcp.rst(), tcp.psh(), tcp.ack(), tcp.urg()]
        .iter()
        .enumerate()
        .fold(0u8, |bits, (bit, set)| if *set { bits | (1 << bit) } else { bits });
    TcpFlags::from_bits(bits)
}

fn ip_reason(err: &IpHeaderError) -> &'static str {
    match err {
        IpHeaderError::UnsupportedIpVersion { .. } => "IP version is neither 4 nor 6",
        IpHeaderError::Ipv4HeaderLengthSmallerThanHeader { .. } => "IPv4 header length below 5",
    }
}

/// The reason for a stop in the IP header's own extension headers (IPv4 AH, IPv6 chain); `None` for stops in
/// the transport layer, which [`transport`] reads itself.
fn ip_layer_reason(err: &SliceError, layer: Layer) -> Option<&'static str> {
    match layer {
        Layer::IpAuthHeader
        | Layer::Ipv6ExtHeader
        | Layer::Ipv6HopByHopHeader
        | Layer::Ipv6DestOptionsHeader
        | Layer::Ipv6RouteHeader
        | Layer::Ipv6FragHeader => Some(stop_reason(err, layer)),
        _ => None,
    }
}

fn stop_reason(err: &SliceError, layer: Layer) -> &'static str {
    match err {
        SliceError::Ip(err) => ip_reason(err),
        SliceError::Ipv4Exts(_) | SliceError::Ipv6Exts(ExtHeaderError::IpAuth(_)) => "bad IP authentication header",
        SliceError::Ipv6Exts(ExtHeaderError::HopByHopNotAtStart) => "IPv6 hop-by-hop header not first",
        SliceError::Macsec(_) => "bad MACsec header",
        _ => match layer {
            Layer::Ethernet2Header => "truncated Ethernet header",
            Layer::VlanHeader => "truncated VLAN tag",
            Layer::MacsecHeader | Layer::MacsecPacket => "truncated MACsec header",
            Layer::IpHeader | Layer::Ipv4Header | Layer::Ipv6Header => "truncated IP header",
            Layer::IpAuthHeader => "truncated IP authentication header",
            Layer::Ipv6ExtHeader
            | Layer::Ipv6HopByHopHeader
            | Layer::Ipv6DestOptionsHeader
            | Layer::Ipv6RouteHeader
            | Layer::Ipv6FragHeader => "truncated IPv6 extension header",
            Layer::Arp => "truncated ARP packet",
            _ => "truncated header",
        },
    }
}

#[cfg(test)]
mod tests;
