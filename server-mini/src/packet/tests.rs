//! Tests of the packet parser: every link type, IPv4/IPv6 with extension headers, fragments, and
//! malformed or truncated input (every prefix of every test packet parses without panicking).

use std::net::{Ipv4Addr, Ipv6Addr};

use etherparse::{
    ArpEthIpv4Packet, ArpOperation, Ethernet2Header, IpAuthHeader, IpFragOffset, IpHeaders, Ipv4Extensions, Ipv4Header,
    Ipv4Options, Ipv6Extensions, Ipv6FragmentHeader, Ipv6Header, Ipv6RawExtHeader, Ipv6RoutingExtensions,
    LinuxSllHeader, LinuxSllPacketType, LinuxSllProtocolType, PacketBuilder, PacketBuilderStep, SingleVlanHeader,
    SlicedPacket, TcpHeader, UdpHeader, VlanId,
};

use knock_e2e::Rng;

use super::*;

const SRC4: [u8; 4] = [203, 0, 113, 7];
const DST4: [u8; 4] = [192, 0, 2, 2];
const SRC6: [u8; 16] = [0x20, 0x01, 0x0d, 0xb8, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 7];
const DST6: [u8; 16] = [0x20, 0x01, 0x0d, 0xb8, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 2];
const MAC_A: [u8; 6] = [2, 0, 0, 0, 0, 1];
const MAC_B: [u8; 6] = [2, 0, 0, 0, 0, 2];
/// Appended to every test packet, so that prefixes can cut the payload but keep the headers.
const PAYLOAD: &[u8] = b"knock knock";

// ---- builders ------------------------------------------------------------------------------------------

fn tcp_bytes(step: PacketBuilderStep<TcpHeader>, payload: &[u8]) -> Vec<u8> {
    let mut out = Vec::new();
    step.write(&mut out, payload).expect("build tcp");
    out
}

fn udp_bytes(step: PacketBuilderStep<UdpHeader>, payload: &[u8]) -> Vec<u8> {
    let mut out = Vec::new();
    step.write(&mut out, payload).expect("build udp");
    out
}

fn v4() -> PacketBuilderStep<IpHeaders> {
    PacketBuilder::ipv4(SRC4, DST4, 64)
}

fn v6() -> PacketBuilderStep<IpHeaders> {
    PacketBuilder::ipv6(SRC6, DST6, 64)
}

fn v6_with(exts: Ipv6Extensions) -> PacketBuilderStep<IpHeaders> {
    let header = Ipv6Header { hop_limit: 64, source: SRC6, destination: DST6, ..Default::default() };
    PacketBuilder::ip(IpHeaders::Ipv6(header, exts))
}

fn v4_header() -> Ipv4Header {
    Ipv4Header::new(0, 64, IpNumber::TCP, SRC4, DST4).expect("ipv4 header")
}

fn v4_with(header: Ipv4Header, exts: Ipv4Extensions) -> PacketBuilderStep<IpHeaders> {
    PacketBuilder::ip(IpHeaders::Ipv4(header, exts))
}

fn syn4() -> Vec<u8> {
    tcp_bytes(v4().tcp(40000, 7000, 1, 64240).syn(), PAYLOAD)
}

fn syn6() -> Vec<u8> {
    tcp_bytes(v6().tcp(40000, 7000, 1, 64240).syn(), PAYLOAD)
}

fn udp4() -> Vec<u8> {
    udp_bytes(v4().udp(40000, 8000), PAYLOAD)
}

fn udp6() -> Vec<u8> {
    udp_bytes(v6().udp(40000, 8000), PAYLOAD)
}

fn raw_ext(payload_len: usize) -> Ipv6RawExtHeader {
    Ipv6RawExtHeader::new_raw(IpNumber::TCP, &vec![0; payload_len]).expect("ext header")
}

fn frag6(offset: u16, more: bool) -> Ipv6FragmentHeader {
    Ipv6FragmentHeader::new(IpNumber::TCP, IpFragOffset::try_new(offset).expect("offset"), more, 0x1234_5678)
}

fn sll2_header(protocol: u16, arphrd: u16) -> [u8; SLL2_LEN] {
    let mut header = [0u8; SLL2_LEN];
    header[0..2].copy_from_slice(&protocol.to_be_bytes());
    header[4..8].copy_from_slice(&3u32.to_be_bytes()); // interface index
    header[8..10].copy_from_slice(&arphrd.to_be_bytes());
    header[10] = 0; // PACKET_HOST
    header[11] = 6;
    header[12..18].copy_from_slice(&MAC_A);
    header
}

fn sll_header(protocol: u16, arphrd: u16) -> [u8; SLL_LEN] {
    let mut header = [0u8; SLL_LEN];
    header[2..4].copy_from_slice(&arphrd.to_be_bytes());
    header[4..6].copy_from_slice(&6u16.to_be_bytes());
    header[6..12].copy_from_slice(&MAC_A);
    header[14..16].copy_from_slice(&protocol.to_be_bytes());
    header
}

fn ether_type_of(ip: &[u8]) -> EtherType {
    if ip.first().is_some_and(|b| b >> 4 == 6) { EtherType::IPV6 } else { EtherType::IPV4 }
}

/// Puts an IP packet behind `link`'s header (etherparse's header types where it has them).
fn wrap(link: LinkType, ip: &[u8]) -> Vec<u8> {
    let ether_type = ether_type_of(ip);
    let mut out = match link {
        LinkType::Ethernet => Ethernet2Header { source: MAC_A, destination: MAC_B, ether_type }.to_bytes().to_vec(),
        LinkType::LinuxSll => LinuxSllHeader {
            packet_type: LinuxSllPacketType::HOST,
            arp_hrd_type: ArpHardwareId::ETHERNET,
            sender_address_valid_length: 6,
            sender_address: [2, 0, 0, 0, 0, 1, 0, 0],
            protocol_type: LinuxSllProtocolType::EtherType(ether_type),
        }
        .to_bytes()
        .to_vec(),
        LinkType::LinuxSll2 => sll2_header(ether_type.0, ArpHardwareId::ETHERNET.0).to_vec(),
        LinkType::RawIp => Vec::new(),
        // macOS values, host byte order of a little-endian machine.
        LinkType::Null => (if ether_type == EtherType::IPV6 { 30u32 } else { 2 }).to_le_bytes().to_vec(),
    };
    out.extend_from_slice(ip);
    out
}

fn tcp_hit(src: IpAddr, dst: IpAddr, port: u16, flags: TcpFlags) -> Parsed {
    Parsed::Hit(Hit { src, dst, protocol: Protocol::Tcp, port, flags })
}

fn ip4(a: [u8; 4]) -> IpAddr {
    IpAddr::V4(Ipv4Addr::from(a))
}

fn ip6(a: [u8; 16]) -> IpAddr {
    IpAddr::V6(Ipv6Addr::from(a))
}

fn syn_hit4(port: u16) -> Parsed {
    tcp_hit(ip4(SRC4), ip4(DST4), port, TcpFlags::SYN)
}

fn syn_hit6(port: u16) -> Parsed {
    tcp_hit(ip6(SRC6), ip6(DST6), port, TcpFlags::SYN)
}

fn udp_hit4(port: u16) -> Parsed {
    Parsed::Hit(Hit { src: ip4(SRC4), dst: ip4(DST4), protocol: Protocol::Udp, port, flags: TcpFlags::NONE })
}

fn udp_hit6(port: u16) -> Parsed {
    Parsed::Hit(Hit { src: ip6(SRC6), dst: ip6(DST6), protocol: Protocol::Udp, port, flags: TcpFlags::NONE })
}

fn is_malformed(parsed: Parsed) -> bool {
    matches!(parsed, Parsed::Malformed(_))
}

// ---- link types ----------------------------------------------------------------------------------------

#[test]
#[cfg(unix)]
fn from_pcap_maps_the_supported_link_types() {
    use pcap::Linktype;
    assert_eq!(LinkType::from_pcap(Linktype::ETHERNET), Some(LinkType::Ethernet));
    assert_eq!(LinkType::from_pcap(Linktype::LINUX_SLL), Some(LinkType::LinuxSll));
    assert_eq!(LinkType::from_pcap(Linktype::LINUX_SLL2), Some(LinkType::LinuxSll2));
    assert_eq!(LinkType::from_pcap(Linktype(DLT_RAW)), Some(LinkType::RawIp));
    assert_eq!(LinkType::from_pcap(Linktype::RAW), Some(LinkType::RawIp));
    assert_eq!(LinkType::from_pcap(Linktype::IPV4), Some(LinkType::RawIp));
    assert_eq!(LinkType::from_pcap(Linktype::IPV6), Some(LinkType::RawIp));
    assert_eq!(LinkType::from_pcap(Linktype::NULL), Some(LinkType::Null));
    assert_eq!(LinkType::from_pcap(Linktype(DLT_LOOP)), Some(LinkType::Null));
    for unsupported in [Linktype::IEEE802_11_RADIOTAP, Linktype::PPP, Linktype::USB_LINUX, Linktype(-1)] {
        assert_eq!(LinkType::from_pcap(unsupported), None, "{unsupported:?}");
    }
}

#[test]
fn tcp_syn_and_udp_over_v4_and_v6_on_every_link_type() {
    for link in LinkType::ALL {
        assert_eq!(parse(link, &wrap(link, &syn4())), syn_hit4(7000), "{link:?} v4 tcp");
        assert_eq!(parse(link, &wrap(link, &syn6())), syn_hit6(7000), "{link:?} v6 tcp");
        assert_eq!(parse(link, &wrap(link, &udp4())), udp_hit4(8000), "{link:?} v4 udp");
        assert_eq!(parse(link, &wrap(link, &udp6())), udp_hit6(8000), "{link:?} v6 udp");
    }
}

#[test]
fn packet_builder_ethernet_and_sll_frames() {
    let eth = tcp_bytes(PacketBuilder::ethernet2(MAC_A, MAC_B).ipv4(SRC4, DST4, 64).tcp(1, 7000, 1, 1).syn(), &[]);
    assert_eq!(parse(LinkType::Ethernet, &eth), syn_hit4(7000));
    let eth6 = udp_bytes(PacketBuilder::ethernet2(MAC_A, MAC_B).ipv6(SRC6, DST6, 64).udp(1, 9000), &[]);
    assert_eq!(parse(LinkType::Ethernet, &eth6), udp_hit6(9000));
    let sll = tcp_bytes(
        PacketBuilder::linux_sll(LinuxSllPacketType::HOST, 6, [2, 0, 0, 0, 0, 1, 0, 0])
            .ipv6(SRC6, DST6, 64)
            .tcp(1, 7000, 1, 1)
            .syn(),
        &[],
    );
    assert_eq!(parse(LinkType::LinuxSll, &sll), syn_hit6(7000));
    let raw = udp_bytes(PacketBuilder::ipv4(SRC4, DST4, 64).udp(1, 9000), &[]);
    assert_eq!(parse(LinkType::RawIp, &raw), udp_hit4(9000));
}

#[test]
fn tcp_flags_keep_only_the_six_classic_bits() {
    let all = tcp_bytes(v4().tcp(1, 7000, 1, 1).fin().syn().rst().psh().ack(9).urg(1).ece().cwr().ns(), &[]);
    assert_eq!(parse(LinkType::RawIp, &all), tcp_hit(ip4(SRC4), ip4(DST4), 7000, TcpFlags::from_bits(0x3f)));
    let syn_ack = tcp_bytes(v6().tcp(1, 7000, 1, 1).syn().ack(9), &[]);
    assert_eq!(parse(LinkType::RawIp, &syn_ack), tcp_hit(ip6(SRC6), ip6(DST6), 7000, TcpFlags::from_bits(0x12)));
    let none = tcp_bytes(v4().tcp(1, 7000, 1, 1).ece().cwr().ns(), &[]);
    assert_eq!(parse(LinkType::RawIp, &none), tcp_hit(ip4(SRC4), ip4(DST4), 7000, TcpFlags::NONE));
    for (name, flag) in TcpFlags::NAMED {
        let mut frame = syn4();
        frame[20 + 13] = flag.bits();
        let Parsed::Hit(hit) = parse(LinkType::RawIp, &frame) else { panic!("{name}: not a hit") };
        assert_eq!(hit.flags, flag, "{name}");
    }
}

#[test]
fn vlan_qinq_and_triple_tags() {
    let single = tcp_bytes(
        PacketBuilder::ethernet2(MAC_A, MAC_B)
            .single_vlan(VlanId::try_new(42).expect("vlan"))
            .ipv4(SRC4, DST4, 64)
            .tcp(1, 7000, 1, 1)
            .syn(),
        PAYLOAD,
    );
    assert_eq!(parse(LinkType::Ethernet, &single), syn_hit4(7000));
    let double = udp_bytes(
        PacketBuilder::ethernet2(MAC_A, MAC_B)
            .double_vlan(VlanId::try_new(100).expect("vlan"), VlanId::try_new(42).expect("vlan"))
            .ipv6(SRC6, DST6, 64)
            .udp(1, 8000),
        PAYLOAD,
    );
    assert_eq!(parse(LinkType::Ethernet, &double), udp_hit6(8000));

    let tag = |ether_type| {
        SingleVlanHeader { vlan_id: VlanId::try_new(7).expect("vlan"), ether_type, ..Default::default() }.to_bytes()
    };
    let tagged = |tags: &[EtherType]| {
        let first = tags.first().copied().unwrap_or(EtherType::IPV4);
        let mut frame = Ethernet2Header { source: MAC_A, destination: MAC_B, ether_type: first }.to_bytes().to_vec();
        for next in tags.iter().skip(1).chain([EtherType::IPV4].iter()) {
            frame.extend_from_slice(&tag(*next));
        }
        frame.extend_from_slice(&syn4());
        frame
    };
    use EtherType as E;
    // 802.1ad outer + 802.1Q inner, the old 0x9100 QinQ, and three tags.
    for tags in [
        vec![E::PROVIDER_BRIDGING, E::VLAN_TAGGED_FRAME],
        vec![E::VLAN_DOUBLE_TAGGED_FRAME, E::VLAN_TAGGED_FRAME],
        vec![E::PROVIDER_BRIDGING, E::VLAN_TAGGED_FRAME, E::VLAN_TAGGED_FRAME],
    ] {
        assert_eq!(parse(LinkType::Ethernet, &tagged(&tags)), syn_hit4(7000), "{tags:?}");
    }
    let four = tagged(&[E::PROVIDER_BRIDGING, E::VLAN_TAGGED_FRAME, E::VLAN_TAGGED_FRAME, E::VLAN_TAGGED_FRAME]);
    assert_eq!(parse(LinkType::Ethernet, &four), Parsed::Malformed("more than three VLAN tags"));
    // A VLAN tag inside a cooked capture (a VLAN device seen by `any` without offload).
    let mut sll2 = sll2_header(E::VLAN_TAGGED_FRAME.0, 1).to_vec();
    sll2.extend_from_slice(&tag(E::IPV6));
    sll2.extend_from_slice(&syn6());
    assert_eq!(parse(LinkType::LinuxSll2, &sll2), syn_hit6(7000));
}

// ---- IPv6 extension headers ----------------------------------------------------------------------------

#[test]
fn ipv6_extension_headers_before_tcp_and_udp() {
    let all = Ipv6Extensions {
        hop_by_hop_options: Some(raw_ext(6)),
        destination_options: Some(raw_ext(14)),
        routing: Some(Ipv6RoutingExtensions { routing: raw_ext(22), final_destination_options: Some(raw_ext(6)) }),
        fragment: None,
        auth: Some(IpAuthHeader::new(IpNumber::TCP, 1, 2, &[0; 12]).expect("auth")),
    };
    let frame = tcp_bytes(v6_with(all.clone()).tcp(1, 7000, 1, 1).syn(), PAYLOAD);
    // knockd would read the hop-by-hop header as TCP; etherparse walks the chain.
    assert_eq!(frame[6], 0, "next header is hop-by-hop");
    for link in LinkType::ALL {
        assert_eq!(parse(link, &wrap(link, &frame)), syn_hit6(7000), "{link:?}");
    }
    let udp = udp_bytes(v6_with(all).udp(1, 8000), PAYLOAD);
    assert_eq!(parse(LinkType::RawIp, &udp), udp_hit6(8000));

    let one_each = [
        Ipv6Extensions { hop_by_hop_options: Some(raw_ext(6)), ..Default::default() },
        Ipv6Extensions { destination_options: Some(raw_ext(6)), ..Default::default() },
        Ipv6Extensions {
            routing: Some(Ipv6RoutingExtensions { routing: raw_ext(6), final_destination_options: None }),
            ..Default::default()
        },
        // An atomic fragment (offset 0, no more fragments) is a whole packet.
        Ipv6Extensions { fragment: Some(frag6(0, false)), ..Default::default() },
    ];
    for exts in one_each {
        let frame = tcp_bytes(v6_with(exts.clone()).tcp(1, 7000, 1, 1).syn(), PAYLOAD);
        assert_eq!(parse(LinkType::RawIp, &frame), syn_hit6(7000), "{exts:?}");
    }
}

#[test]
fn ipv6_extension_header_errors() {
    // Hop-by-hop anywhere but first.
    let mut frame = tcp_bytes(
        v6_with(Ipv6Extensions { destination_options: Some(raw_ext(6)), ..Default::default() })
            .tcp(1, 7000, 1, 1)
            .syn(),
        &[],
    );
    frame[40] = 0; // the destination options header now says "hop-by-hop follows"
    assert_eq!(parse(LinkType::RawIp, &frame), Parsed::Malformed("IPv6 hop-by-hop header not first"));
    // An extension header whose length runs past the packet.
    let mut frame = tcp_bytes(
        v6_with(Ipv6Extensions { hop_by_hop_options: Some(raw_ext(6)), ..Default::default() }).tcp(1, 7000, 1, 1).syn(),
        &[],
    );
    frame[41] = 200;
    assert_eq!(parse(LinkType::RawIp, &frame), Parsed::Malformed("truncated IPv6 extension header"));
    // A header etherparse does not walk (mobility, 135): not readable, so not a knock (knockd: same).
    let mut frame = syn6();
    frame[6] = 135;
    assert_eq!(parse(LinkType::RawIp, &frame), Parsed::NotKnock);
    // No next header (59), ESP (50), ICMPv6.
    for next in [59u8, 50] {
        let mut frame = syn6();
        frame[6] = next;
        assert_eq!(parse(LinkType::RawIp, &frame), Parsed::NotKnock, "next header {next}");
    }
}

#[test]
fn ipv6_fragments() {
    let first = tcp_bytes(
        v6_with(Ipv6Extensions {
            hop_by_hop_options: Some(raw_ext(6)),
            fragment: Some(frag6(0, true)),
            ..Default::default()
        })
        .tcp(1, 7000, 1, 1)
        .syn(),
        PAYLOAD,
    );
    assert_eq!(parse(LinkType::RawIp, &first), syn_hit6(7000), "first fragment with the whole TCP header");

    // A later fragment: the payload is the middle of some TCP segment.
    let later = |next: IpNumber, data: &[u8]| {
        let exts = Ipv6Extensions { fragment: Some(frag6(185, true)), ..Default::default() };
        let mut out = Vec::new();
        v6_with(exts).write(&mut out, next, data).expect("fragment");
        out
    };
    assert_eq!(parse(LinkType::RawIp, &later(IpNumber::TCP, &[0xAB; 64])), Parsed::Fragment);
    assert_eq!(parse(LinkType::RawIp, &later(IpNumber::UDP, &[1, 2])), Parsed::Fragment);
    // The next-header field names the first header of the original payload; in a later fragment the bytes
    // that follow are not that header. etherparse reads them anyway (here: a length running far past
    // the packet); the fragment header decides.
    let garbage = later(IpNumber::IPV6_DESTINATION_OPTIONS, &[6, 255, 0, 0, 0, 0, 0, 0]);
    assert_eq!(parse(LinkType::RawIp, &garbage), Parsed::Fragment);
    let last = {
        let exts = Ipv6Extensions { fragment: Some(frag6(3, false)), ..Default::default() };
        let mut out = Vec::new();
        v6_with(exts).write(&mut out, IpNumber::TCP, &[0; 24]).expect("fragment");
        out
    };
    assert_eq!(parse(LinkType::RawIp, &last), Parsed::Fragment, "last fragment");

    // A first fragment that ends inside the TCP header (tiny fragment attack) or inside the header chain.
    let tiny = |data: &[u8], exts: Ipv6Extensions| {
        let mut out = Vec::new();
        v6_with(exts).write(&mut out, IpNumber::TCP, data).expect("fragment");
        out
    };
    let first_only = Ipv6Extensions { fragment: Some(frag6(0, true)), ..Default::default() };
    let tcp_start = &first[first.len() - PAYLOAD.len() - 20..first.len() - PAYLOAD.len()];
    assert_eq!(parse(LinkType::RawIp, &tiny(&tcp_start[..8], first_only.clone())), Parsed::Fragment);
    let udp_first = tiny(&[0x9c, 0x40, 0x1f, 0x40], first_only.clone());
    let mut udp_first = udp_first;
    udp_first[6] = 44;
    udp_first[40] = 17; // fragment header -> UDP, 4 bytes of it
    assert_eq!(parse(LinkType::RawIp, &udp_first), Parsed::Fragment);
    let mut chain_cut = tiny(&[0; 8], first_only);
    chain_cut[40] = 60; // fragment -> destination options, whose length runs past the fragment
    chain_cut[48 + 1] = 10;
    assert_eq!(parse(LinkType::RawIp, &chain_cut), Parsed::Fragment);
}

/// Found by `cargo fuzz run packet` against a version that iterated `Ipv6ExtensionsSlice`: etherparse 0.21's
/// iterator reads past the extension headers the lax slicer managed to parse (here the fragment header names
/// a hop-by-hop header next, which etherparse refuses, and the iterator walks on into it) and aborted on
/// `get_unchecked`.
#[test]
fn fuzz_regression_etherparse_extension_iterator_out_of_bounds() {
    const FRAME: [u8; 76] = [
        0x1e, 0x00, 0x00, 0x00, 0x60, 0xff, 0xff, 0xff, 0xff, 0x2c, 0x2c, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff,
        0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0x2c, 0x2c, 0x2c, 0x2c, 0x2c, 0x2c, 0x2c, 0x2c, 0x2c, 0x2c, 0x2c, 0x2c,
        0x2c, 0x00, 0x02, 0x00, 0x02, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x01, 0x00, 0x08, 0x06, 0x2c, 0x2c, 0x2c,
        0x2c, 0x2c, 0x2c, 0x2c, 0x2c, 0x00, 0x00, 0x00, 0x2c, 0x2c, 0x2c, 0x2c, 0x2c, 0x2c, 0x2c, 0x2c, 0x2c, 0x00,
        0x01, 0x06, 0xff, 0xff,
    ];
    // A first fragment whose fragment header is followed by a hop-by-hop header.
    assert_eq!(parse(LinkType::Null, &FRAME), Parsed::Malformed("IPv6 hop-by-hop header not first"));
    for link in LinkType::ALL {
        for len in 0..=FRAME.len() {
            parse(link, &FRAME[..len]);
        }
    }
}

// ---- IPv4 ----------------------------------------------------------------------------------------------

#[test]
fn ipv4_fragments() {
    let mut first_header = v4_header();
    first_header.more_fragments = true;
    first_header.dont_fragment = false;
    first_header.identification = 77;
    let first = tcp_bytes(v4_with(first_header.clone(), Default::default()).tcp(1, 7000, 1, 1).syn(), PAYLOAD);
    assert_eq!(parse(LinkType::RawIp, &first), syn_hit4(7000), "first fragment with the whole TCP header");

    // A UDP datagram of 1400 bytes cut after 48 bytes of payload: the UDP length exceeds the fragment.
    let mut udp_first = udp_bytes(v4_with(first_header.clone(), Default::default()).udp(1, 8000), &[7; 40]);
    udp_first[20 + 4..20 + 6].copy_from_slice(&1408u16.to_be_bytes());
    assert_eq!(parse(LinkType::RawIp, &udp_first), udp_hit4(8000));
    // The same length in an unfragmented packet is a lie.
    let mut udp_whole = udp4();
    udp_whole[20 + 4..20 + 6].copy_from_slice(&1408u16.to_be_bytes());
    assert_eq!(parse(LinkType::RawIp, &udp_whole), Parsed::Malformed("UDP length beyond the IP packet"));

    let mut later_header = first_header.clone();
    later_header.fragment_offset = IpFragOffset::try_new(3).expect("offset");
    let mut later = Vec::new();
    v4_with(later_header.clone(), Default::default()).write(&mut later, IpNumber::TCP, &[0xAB; 40]).expect("b");
    assert_eq!(parse(LinkType::RawIp, &later), Parsed::Fragment);
    later_header.more_fragments = false;
    let mut last = Vec::new();
    v4_with(later_header, Default::default()).write(&mut last, IpNumber::UDP, &[0; 3]).expect("build");
    assert_eq!(parse(LinkType::RawIp, &last), Parsed::Fragment, "last fragment");

    // Tiny first fragments: 8 bytes of TCP (ports, sequence number, no flags), 4 bytes of UDP.
    for (protocol, len) in [(IpNumber::TCP, 8), (IpNumber::UDP, 4), (IpNumber::TCP, 0)] {
        let mut tiny = Vec::new();
        v4_with(first_header.clone(), Default::default())
            .write(&mut tiny, protocol, &first[20..20 + len])
            .expect("build");
        for link in LinkType::ALL {
            assert_eq!(parse(link, &wrap(link, &tiny)), Parsed::Fragment, "{protocol:?} {len} {link:?}");
        }
    }
    // DF alone is not fragmentation.
    let mut df = syn4();
    df[6] = 0x40;
    assert_eq!(parse(LinkType::RawIp, &df), syn_hit4(7000));
}

#[test]
fn ipv4_options_and_authentication_header() {
    let mut header = v4_header();
    header.options = Ipv4Options::try_from(&[1u8, 1, 1, 0][..]).expect("options"); // NOP NOP NOP EOL
    let frame = tcp_bytes(v4_with(header, Default::default()).tcp(1, 7000, 1, 1).syn(), PAYLOAD);
    assert_eq!(frame[0], 0x46);
    assert_eq!(parse(LinkType::Ethernet, &wrap(LinkType::Ethernet, &frame)), syn_hit4(7000));

    let auth = Ipv4Extensions { auth: Some(IpAuthHeader::new(IpNumber::UDP, 9, 1, &[0; 12]).expect("auth")) };
    let frame = udp_bytes(v4_with(v4_header(), auth).udp(1, 8000), PAYLOAD);
    assert_eq!(frame[9], 51);
    assert_eq!(parse(LinkType::RawIp, &frame), udp_hit4(8000));
    let mut bad_auth = frame.clone();
    bad_auth[21] = 0; // AH payload length 0: shorter than the AH itself
    assert!(is_malformed(parse(LinkType::RawIp, &bad_auth)), "{:?}", parse(LinkType::RawIp, &bad_auth));
}

#[test]
fn bad_ipv4_header_length_and_total_length() {
    for ihl in 0u8..5 {
        let mut frame = syn4();
        frame[0] = 0x40 | ihl;
        assert_eq!(parse(LinkType::RawIp, &frame), Parsed::Malformed("IPv4 header length below 5"), "ihl {ihl}");
        assert_eq!(parse(LinkType::Ethernet, &wrap(LinkType::Ethernet, &frame)), parse(LinkType::RawIp, &frame));
    }
    // IHL 15 = 60 bytes of header: the TCP header is read as options, and what follows is too short.
    let mut frame = tcp_bytes(v4().tcp(1, 7000, 1, 1).syn(), &[]);
    frame[0] = 0x4f;
    assert_eq!(parse(LinkType::RawIp, &frame), Parsed::Malformed("truncated IP header"));
    // IHL 15 with enough bytes: the "TCP header" is then whatever follows the options.
    let mut frame = syn4();
    frame[0] = 0x46;
    assert_ne!(parse(LinkType::RawIp, &frame), syn_hit4(7000));
    // Total length shorter than the header.
    for total in 1u16..20 {
        let mut frame = syn4();
        frame[2..4].copy_from_slice(&total.to_be_bytes());
        let expected = Parsed::Malformed("IPv4 total length shorter than the IPv4 header");
        assert_eq!(parse(LinkType::RawIp, &frame), expected, "total {total}");
    }
    // Total length that leaves less than a TCP header.
    for total in 20u16..40 {
        let mut frame = syn4();
        frame[2..4].copy_from_slice(&total.to_be_bytes());
        assert_eq!(parse(LinkType::RawIp, &frame), Parsed::Malformed("truncated TCP header"), "total {total}");
    }
    // Total length 0 (Linux TSO/GRO super-packets): the captured length is used, as libpcap does.
    let mut frame = syn4();
    frame[2..4].copy_from_slice(&0u16.to_be_bytes());
    assert_eq!(parse(LinkType::RawIp, &frame), syn_hit4(7000));
    // Total length beyond the frame: a capture cut by the snaplen. The headers are all there.
    let mut frame = syn4();
    frame[2..4].copy_from_slice(&1500u16.to_be_bytes());
    assert_eq!(parse(LinkType::RawIp, &frame), syn_hit4(7000));
    // Trailing bytes after the total length (Ethernet padding): ignored.
    let mut padded = wrap(LinkType::Ethernet, &tcp_bytes(v4().tcp(1, 7000, 1, 1).syn(), &[]));
    padded.resize(60, 0);
    assert_eq!(parse(LinkType::Ethernet, &padded), syn_hit4(7000));
    // Not IPv4 or IPv6 at all.
    for version in [0u8, 5, 7, 15] {
        let mut frame = syn4();
        frame[0] = (version << 4) | 5;
        let expected = Parsed::Malformed("IP version is neither 4 nor 6");
        assert_eq!(parse(LinkType::RawIp, &frame), expected);
        assert_eq!(parse(LinkType::Ethernet, &wrap(LinkType::Ethernet, &frame)), expected);
    }
}

#[test]
fn link_type_and_ip_version_must_agree() {
    let v6_as_v4 = {
        let mut frame =
            Ethernet2Header { source: MAC_A, destination: MAC_B, ether_type: EtherType::IPV4 }.to_bytes().to_vec();
        frame.extend_from_slice(&syn6());
        frame
    };
    assert!(is_malformed(parse(LinkType::Ethernet, &v6_as_v4)));
    let mut v4_as_v6 = 10u32.to_le_bytes().to_vec();
    v4_as_v6.extend_from_slice(&syn4());
    assert!(is_malformed(parse(LinkType::Null, &v4_as_v6)));
    let mut sll2 = sll2_header(EtherType::IPV6.0, 1).to_vec();
    sll2.extend_from_slice(&udp4());
    assert!(is_malformed(parse(LinkType::LinuxSll2, &sll2)));
}

#[test]
fn ipv6_payload_length() {
    // Shorter than the TCP header.
    let mut frame = syn6();
    frame[4..6].copy_from_slice(&10u16.to_be_bytes());
    assert_eq!(parse(LinkType::RawIp, &frame), Parsed::Malformed("truncated TCP header"));
    // Longer than the capture (snaplen): the headers are there.
    frame[4..6].copy_from_slice(&1400u16.to_be_bytes());
    assert_eq!(parse(LinkType::RawIp, &frame), syn_hit6(7000));
    // 0: a jumbogram or a Linux BIG TCP super-packet; the captured length is used.
    frame[4..6].copy_from_slice(&0u16.to_be_bytes());
    assert_eq!(parse(LinkType::RawIp, &frame), syn_hit6(7000));
    // The fixed header alone.
    assert_eq!(parse(LinkType::RawIp, &frame[..40]), Parsed::Malformed("truncated TCP header"));
}

// ---- TCP and UDP ---------------------------------------------------------------------------------------

#[test]
fn bad_tcp_data_offset() {
    for offset in 0u8..5 {
        for (frame, ip_len) in [(syn4(), 20), (syn6(), 40)] {
            let mut frame = frame;
            frame[ip_len + 12] = offset << 4;
            assert_eq!(parse(LinkType::RawIp, &frame), Parsed::Malformed("TCP data offset below 5"), "{offset}");
        }
    }
    // An offset past the end of the packet (the 11-byte payload would have to be 40 bytes of options).
    for offset in [8u8, 15] {
        let mut frame = syn4();
        frame[20 + 12] = offset << 4;
        assert_eq!(parse(LinkType::RawIp, &frame), Parsed::Malformed("truncated TCP header"), "{offset}");
    }
    // Options present and accounted for (6 = 4 bytes of options: here, the first payload bytes).
    let mut frame = syn4();
    frame[20 + 12] = 6 << 4;
    assert_eq!(parse(LinkType::RawIp, &frame), syn_hit4(7000));
    // A real SYN with MSS / SACK / timestamps / window scale.
    let options = [2u8, 4, 0x05, 0xb4, 4, 2, 8, 10, 0, 0, 0, 1, 0, 0, 0, 0, 1, 3, 3, 7];
    let syn = tcp_bytes(v6().tcp(40000, 7000, 1, 64800).syn().options_raw(&options).expect("options"), &[]);
    assert_eq!(parse(LinkType::RawIp, &syn), syn_hit6(7000));
}

#[test]
fn bad_udp_length() {
    for length in 0u16..8 {
        let mut frame = udp4();
        frame[24..26].copy_from_slice(&length.to_be_bytes());
        assert_eq!(parse(LinkType::RawIp, &frame), Parsed::Malformed("UDP length below 8"), "{length}");
    }
    // Shorter than the IP payload: the rest is trailer, the datagram is fine.
    let mut frame = udp6();
    frame[44..46].copy_from_slice(&8u16.to_be_bytes());
    assert_eq!(parse(LinkType::RawIp, &frame), udp_hit6(8000));
    // Longer than the complete IP packet.
    frame[44..46].copy_from_slice(&100u16.to_be_bytes());
    assert_eq!(parse(LinkType::RawIp, &frame), Parsed::Malformed("UDP length beyond the IP packet"));
    // A UDP header without payload.
    let empty = udp_bytes(v4().udp(1, 8000), &[]);
    assert_eq!(parse(LinkType::RawIp, &empty), udp_hit4(8000));
}

// ---- not knocks ----------------------------------------------------------------------------------------

#[test]
fn arp_icmp_and_other_protocols_are_not_knocks() {
    let arp = ArpEthIpv4Packet {
        operation: ArpOperation::REQUEST,
        sender_mac: MAC_A,
        sender_ipv4: SRC4,
        target_mac: [0; 6],
        target_ipv4: DST4,
    };
    let mut frame = Vec::new();
    PacketBuilder::ethernet2(MAC_A, MAC_B).arp(arp.into()).write(&mut frame).expect("arp");
    assert_eq!(parse(LinkType::Ethernet, &frame), Parsed::NotKnock);
    assert_eq!(parse(LinkType::Ethernet, &frame[..20]), Parsed::Malformed("truncated ARP packet"));

    let mut icmp = Vec::new();
    v4().icmpv4_echo_request(1, 1).write(&mut icmp, b"ping").expect("icmp");
    let mut icmp6 = Vec::new();
    v6().icmpv6_echo_request(1, 1).write(&mut icmp6, b"ping").expect("icmp6");
    let mut igmp_like = syn4();
    igmp_like[9] = 2;
    let mut gre = syn4();
    gre[9] = 47;
    for link in LinkType::ALL {
        for frame in [&icmp, &icmp6, &igmp_like, &gre] {
            assert_eq!(parse(link, &wrap(link, frame)), Parsed::NotKnock, "{link:?} {frame:?}");
        }
        // Truncated ICMP is still not a knock: only TCP and UDP are read.
        assert_eq!(parse(link, &wrap(link, &icmp[..22])), Parsed::NotKnock, "{link:?}");
    }

    // Other ether types: LLDP, an 802.3 length field, MACsec.
    for ether_type in [0x88ccu16, 0x0040, 0x88e5] {
        let mut frame = Ethernet2Header { source: MAC_A, destination: MAC_B, ether_type: EtherType(ether_type) }
            .to_bytes()
            .to_vec();
        frame.extend_from_slice(&[0u8; 46]);
        assert!(!matches!(parse(LinkType::Ethernet, &frame), Parsed::Hit(_)), "{ether_type:#x}");
    }
    let mut lldp =
        Ethernet2Header { source: MAC_A, destination: MAC_B, ether_type: EtherType(0x88cc) }.to_bytes().to_vec();
    lldp.extend_from_slice(&[0u8; 46]);
    assert_eq!(parse(LinkType::Ethernet, &lldp), Parsed::NotKnock);
}

// ---- cooked and loopback headers ------------------------------------------------------------------------

#[test]
fn cooked_captures_of_every_arphrd_type_the_any_device_shows() {
    // Ethernet, loopback, PPP, IP-in-IP, SIT, IP GRE, tun/WireGuard (none).
    for arphrd in [1u16, 772, 512, 768, 776, 778, 0xfffe] {
        for (ip, expected) in [(syn4(), syn_hit4(7000)), (udp6(), udp_hit6(8000))] {
            let protocol = ether_type_of(&ip).0;
            let mut sll = sll_header(protocol, arphrd).to_vec();
            sll.extend_from_slice(&ip);
            assert_eq!(parse(LinkType::LinuxSll, &sll), expected, "SLL arphrd {arphrd}");
            let mut sll2 = sll2_header(protocol, arphrd).to_vec();
            sll2.extend_from_slice(&ip);
            assert_eq!(parse(LinkType::LinuxSll2, &sll2), expected, "SLL2 arphrd {arphrd}");
        }
    }
    // Why SLL is not handed to etherparse: it refuses the loopback and tun frames of the `any` device.
    let mut lo = sll_header(EtherType::IPV4.0, 772).to_vec();
    lo.extend_from_slice(&syn4());
    assert!(SlicedPacket::from_linux_sll(&lo).is_err());

    // Netlink (its protocol is a netlink family), radiotap, and LINUX_SLL_P_* protocols below 0x0600.
    for (arphrd, protocol) in
        [(824u16, 0x0800u16), (803, 0x0800), (770, 0x0800), (1, 0x0004), (1, 0x0001), (280, 0x000c)]
    {
        let mut sll = sll_header(protocol, arphrd).to_vec();
        sll.extend_from_slice(&syn4());
        assert_eq!(parse(LinkType::LinuxSll, &sll), Parsed::NotKnock, "{arphrd} {protocol:#x}");
        let mut sll2 = sll2_header(protocol, arphrd).to_vec();
        sll2.extend_from_slice(&syn4());
        assert_eq!(parse(LinkType::LinuxSll2, &sll2), Parsed::NotKnock, "{arphrd} {protocol:#x}");
    }
    // Outgoing packets parse too (the caller's filter decides).
    let mut out = sll_header(EtherType::IPV4.0, 1);
    out[0..2].copy_from_slice(&4u16.to_be_bytes());
    let mut out = out.to_vec();
    out.extend_from_slice(&syn4());
    assert_eq!(parse(LinkType::LinuxSll, &out), syn_hit4(7000));
    // ARP over SLL.
    let mut arp = Vec::new();
    PacketBuilder::linux_sll(LinuxSllPacketType::HOST, 6, [0; 8])
        .arp(
            ArpEthIpv4Packet {
                operation: ArpOperation::REPLY,
                sender_mac: MAC_A,
                sender_ipv4: SRC4,
                target_mac: MAC_B,
                target_ipv4: DST4,
            }
            .into(),
        )
        .write(&mut arp)
        .expect("arp");
    assert_eq!(parse(LinkType::LinuxSll, &arp), Parsed::NotKnock);
}

#[test]
fn null_loopback_families_in_both_byte_orders() {
    for (family, ip, expected) in [
        (2u32, syn4(), syn_hit4(7000)),
        (10, syn6(), syn_hit6(7000)),
        (23, syn6(), syn_hit6(7000)),
        (24, udp6(), udp_hit6(8000)),
        (28, syn6(), syn_hit6(7000)),
        (30, udp6(), udp_hit6(8000)),
    ] {
        for header in [family.to_le_bytes(), family.to_be_bytes()] {
            let mut frame = header.to_vec();
            frame.extend_from_slice(&ip);
            assert_eq!(parse(LinkType::Null, &frame), expected, "family {family} {header:?}");
        }
    }
    for family in [0u32, 1, 7, 17, 0x0200_0002, u32::MAX] {
        let mut frame = family.to_le_bytes().to_vec();
        frame.extend_from_slice(&syn4());
        assert_eq!(parse(LinkType::Null, &frame), Parsed::NotKnock, "family {family:#x}");
    }
    for len in 0..4 {
        assert_eq!(parse(LinkType::Null, &[2, 0, 0, 0][..len]), Parsed::Malformed("truncated loopback header"));
    }
}

// ---- truncation, garbage -------------------------------------------------------------------------------

/// Frames whose headers end `PAYLOAD.len()` bytes before their end.
fn corpus() -> Vec<(String, LinkType, Vec<u8>, bool)> {
    let exts = Ipv6Extensions {
        hop_by_hop_options: Some(raw_ext(6)),
        destination_options: Some(raw_ext(14)),
        routing: Some(Ipv6RoutingExtensions { routing: raw_ext(22), final_destination_options: Some(raw_ext(6)) }),
        fragment: None,
        auth: Some(IpAuthHeader::new(IpNumber::TCP, 1, 2, &[0; 8]).expect("auth")),
    };
    let mut first4 = v4_header();
    first4.more_fragments = true;
    let frag_exts = Ipv6Extensions { fragment: Some(frag6(0, true)), ..Default::default() };
    let ips: Vec<(&str, Vec<u8>, bool)> = vec![
        ("syn4", syn4(), false),
        ("syn6", syn6(), false),
        ("udp4", udp4(), false),
        ("udp6", udp6(), false),
        ("exts tcp6", tcp_bytes(v6_with(exts.clone()).tcp(1, 7000, 1, 1).syn(), PAYLOAD), false),
        ("exts udp6", udp_bytes(v6_with(exts).udp(1, 8000), PAYLOAD), false),
        ("first frag4", tcp_bytes(v4_with(first4.clone(), Default::default()).tcp(1, 7000, 1, 1).syn(), PAYLOAD), true),
        ("first frag4 udp", udp_bytes(v4_with(first4, Default::default()).udp(1, 8000), PAYLOAD), true),
        ("first frag6", tcp_bytes(v6_with(frag_exts).tcp(1, 7000, 1, 1).syn(), PAYLOAD), true),
    ];
    let mut out = Vec::new();
    for (name, ip, fragment) in ips {
        for link in LinkType::ALL {
            out.push((format!("{name} {link:?}"), link, wrap(link, &ip), fragment));
        }
    }
    let qinq = tcp_bytes(
        PacketBuilder::ethernet2(MAC_A, MAC_B)
            .double_vlan(VlanId::try_new(1).expect("vlan"), VlanId::try_new(2).expect("vlan"))
            .ipv6(SRC6, DST6, 64)
            .tcp(1, 7000, 1, 1)
            .syn(),
        PAYLOAD,
    );
    out.push(("qinq".to_owned(), LinkType::Ethernet, qinq, false));
    out
}

#[test]
fn every_truncation_of_a_valid_frame_is_malformed_or_the_same_hit() {
    let mut checked = 0;
    for (name, link, frame, fragment) in corpus() {
        let full = parse(link, &frame);
        assert!(matches!(full, Parsed::Hit(_)), "{name}: {full:?}");
        let headers_end = frame.len() - PAYLOAD.len();
        for len in 0..frame.len() {
            let parsed = parse(link, &frame[..len]);
            if len < headers_end {
                // A frame cut inside its headers: never a hit. A capture cut is not a tiny fragment, so even
                // a cut first fragment is Malformed.
                assert!(
                    is_malformed(parsed) || (fragment && parsed == Parsed::Fragment),
                    "{name} [..{len}]: {parsed:?}"
                );
            } else {
                // Headers complete, payload cut (a snaplen): the same hit, never one with other values.
                assert_eq!(parsed, full, "{name} [..{len}]");
            }
            checked += 1;
        }
    }
    assert!(checked > 3000, "{checked}");
}

#[test]
fn random_bytes_never_panic() {
    let mut rng = Rng::new(0x9e37_79b9_7f4a_7c15);
    let mut buf = [0u8; 256];
    let mut outcomes = [0usize; 4];
    for _ in 0..100_000 {
        let len = rng.below(buf.len() + 1);
        for byte in &mut buf[..len] {
            *byte = rng.next_byte();
        }
        for link in LinkType::ALL {
            let index = match parse(link, &buf[..len]) {
                Parsed::Hit(hit) => {
                    assert_eq!(hit.flags.bits() & !0x3f, 0);
                    0
                }
                Parsed::NotKnock => 1,
                Parsed::Fragment => 2,
                Parsed::Malformed(reason) => {
                    assert!(!reason.is_empty());
                    3
                }
            };
            outcomes[index] += 1;
        }
    }
    assert!(outcomes[3] > 0 && outcomes[1] > 0, "{outcomes:?}");
}

#[test]
fn mutated_valid_frames_never_panic() {
    let mut rng = Rng::new(42);
    let corpus = corpus();
    let mut hits = 0;
    for _ in 0..100_000 {
        let (_, link, frame, _) = &corpus[rng.below(corpus.len())];
        let mut frame = frame.clone();
        for _ in 0..=rng.below(4) {
            let at = rng.below(frame.len());
            frame[at] = rng.next_byte();
        }
        let len = if rng.below(4) == 0 { rng.below(frame.len() + 1) } else { frame.len() };
        if let Parsed::Hit(hit) = parse(*link, &frame[..len]) {
            assert_eq!(hit.flags.bits() & !0x3f, 0);
            if hit.protocol == Protocol::Udp {
                assert!(hit.flags.is_empty());
            }
            hits += 1;
        }
    }
    assert!(hits > 10_000, "{hits}");
}
