//! The sweep guard: what makes a door resist a blind port sweep. Pure code, shared by static doors
//! ([`crate::doors`]) and rotating doors ([`crate::rotating_doors`]).
//!
//! Why: knockd (and knock-server before the guard) only looks at a door's own ports, so a sweep of
//! every port in a random order completes a 3-hit door in seconds: the attacker needs only the door's
//! ports to come in the right relative order, about 1 pass in 6. With the guard, an attempt must be a
//! clean knock:
//! - **A stray hit ends the attempt.** Once a source has an attempt on a door, any new flow from it to
//!   this host that is not the next hit (or a repeat of the previous one, a retransmit) resets the
//!   attempt: for a static door any TCP SYN (without ACK) or UDP datagram to any port; for a rotating
//!   door the same within its `Rotating_Range`. Only the protocols the door's hits use count (a TCP-only
//!   door ignores UDP). Established traffic (ACKs, data, SYN-ACKs) never counts, and neither do the
//!   host's public service ports (`Public_Ports` in `[options]`, e.g. 80,443), so a user behind a NAT
//!   shared with someone browsing the host is not reset.
//! - **A wrong hit costs a wait.** After a wrong or stray hit the source may not start a new attempt
//!   on that door for `Sweep_Penalty` seconds (default [`DEFAULT_PENALTY_SECS`]); the penalty lives in
//!   the bounded attempt table ([`crate::attempts`]). A sweep therefore gets at most one try per penalty
//!   per source, however fast it sends, and each try must hit exactly the right port next: about one
//!   chance in the range's size per hit, instead of one in a few per pass.
//! - **Opt-out.** `Sweep_Guard = off` restores knockd's exact matching (no stray resets, no penalty);
//!   `--check` warns about it with what a sweep can then do.

use client_core::{Hit, Protocol, TcpFlags};

use crate::doors::Millis;
use crate::packet;

/// `Sweep_Penalty` when absent: shorter than knock-cli's wait before a retry (it probes for 5 s, then
/// waits 1 s), so its retry after a reset knock is not refused.
pub(crate) const DEFAULT_PENALTY_SECS: u64 = 2;

/// A door's guard (None on the door: `Sweep_Guard = off`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct Guard {
    /// How long a source that sent a wrong hit may not start a new attempt (0: no penalty).
    pub(crate) penalty_ms: Millis,
}

/// Whether a packet starts something new: a TCP SYN without ACK, or a UDP datagram. Only these count as
/// stray hits; the rest of a conversation (ACKs, data, a SYN-ACK, RSTs) never does.
pub(crate) fn is_new_flow(hit: &packet::Hit) -> bool {
    match hit.protocol {
        Protocol::Udp => true,
        Protocol::Tcp => hit.flags.contains(TcpFlags::SYN) && !hit.flags.contains(TcpFlags::ACK),
    }
}

/// A set of (port, protocol): the public service ports. A bitmap per protocol: one lookup per packet.
#[derive(Clone, PartialEq, Eq)]
pub(crate) struct PortSet {
    tcp: Box<[u64]>,
    udp: Box<[u64]>,
}

impl std::fmt::Debug for PortSet {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "PortSet(tcp {:?}, udp {:?})", self.ports(Protocol::Tcp), self.ports(Protocol::Udp))
    }
}

impl Default for PortSet {
    fn default() -> PortSet {
        PortSet::new(&[])
    }
}

const WORDS: usize = 65536 / 64;

impl PortSet {
    pub(crate) fn new(hits: &[Hit]) -> PortSet {
        let mut set = PortSet { tcp: vec![0; WORDS].into_boxed_slice(), udp: vec![0; WORDS].into_boxed_slice() };
        for hit in hits {
            let bits = set.bits_mut(hit.protocol);
            if let Some(word) = bits.get_mut(usize::from(hit.port) / 64) {
                *word |= 1 << (hit.port % 64);
            }
        }
        set
    }

    fn bits(&self, protocol: Protocol) -> &[u64] {
        match protocol {
            Protocol::Tcp => &self.tcp,
            Protocol::Udp => &self.udp,
        }
    }

    fn bits_mut(&mut self, protocol: Protocol) -> &mut [u64] {
        match protocol {
            Protocol::Tcp => &mut self.tcp,
            Protocol::Udp => &mut self.udp,
        }
    }

    pub(crate) fn contains(&self, port: u16, protocol: Protocol) -> bool {
        self.bits(protocol).get(usize::from(port) / 64).is_some_and(|w| w & (1 << (port % 64)) != 0)
    }

    /// The ports of one protocol, ascending.
    pub(crate) fn ports(&self, protocol: Protocol) -> Vec<u16> {
        (0..=u16::MAX).filter(|&p| self.contains(p, protocol)).collect()
    }

    #[cfg(test)]
    pub(crate) fn is_empty(&self) -> bool {
        self.tcp.iter().chain(self.udp.iter()).all(|w| *w == 0)
    }
}

/// What a door's guard watches: the protocols its hits use and, for a rotating door, its port range.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct Scope {
    pub(crate) tcp: bool,
    pub(crate) udp: bool,
    /// Inclusive; None: every port.
    pub(crate) range: Option<(u16, u16)>,
}

impl Scope {
    /// The scope of a door whose hits are `hits` (every port).
    pub(crate) fn of_hits(hits: &[Hit]) -> Scope {
        Scope {
            tcp: hits.iter().any(|h| h.protocol == Protocol::Tcp),
            udp: hits.iter().any(|h| h.protocol == Protocol::Udp),
            range: None,
        }
    }

    /// Whether `hit` (already known to be a new flow to this host, not on the door's own ports) counts
    /// as a stray hit for the door.
    pub(crate) fn covers(&self, hit: &packet::Hit, public: &PortSet) -> bool {
        let protocol_used = match hit.protocol {
            Protocol::Tcp => self.tcp,
            Protocol::Udp => self.udp,
        };
        protocol_used
            && self.range.is_none_or(|(lo, hi)| (lo..=hi).contains(&hit.port))
            && !public.contains(hit.port, hit.protocol)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn hit(protocol: Protocol, port: u16, flags: TcpFlags) -> packet::Hit {
        packet::Hit {
            src: "198.51.100.1".parse().expect("ip"),
            dst: "192.0.2.2".parse().expect("ip"),
            protocol,
            port,
            flags,
        }
    }

    #[test]
    fn only_syns_without_ack_and_udp_are_new_flows() {
        assert!(is_new_flow(&hit(Protocol::Tcp, 1, TcpFlags::SYN)));
        assert!(is_new_flow(&hit(Protocol::Udp, 1, TcpFlags::NONE)));
        assert!(!is_new_flow(&hit(Protocol::Tcp, 1, TcpFlags::SYN.union(TcpFlags::ACK))));
        assert!(!is_new_flow(&hit(Protocol::Tcp, 1, TcpFlags::ACK)));
        assert!(!is_new_flow(&hit(Protocol::Tcp, 1, TcpFlags::RST)));
    }

    #[test]
    fn scopes_follow_protocols_ranges_and_public_ports() {
        let public =
            PortSet::new(&[Hit { port: 443, protocol: Protocol::Tcp }, Hit { port: 0, protocol: Protocol::Udp }]);
        assert!(public.contains(443, Protocol::Tcp) && !public.contains(443, Protocol::Udp));
        assert!(public.contains(0, Protocol::Udp) && !public.contains(65535, Protocol::Udp));
        assert_eq!(public.ports(Protocol::Tcp), [443]);
        let tcp_only = Scope { tcp: true, udp: false, range: None };
        assert!(tcp_only.covers(&hit(Protocol::Tcp, 80, TcpFlags::SYN), &public));
        assert!(!tcp_only.covers(&hit(Protocol::Tcp, 443, TcpFlags::SYN), &public), "public");
        assert!(!tcp_only.covers(&hit(Protocol::Udp, 80, TcpFlags::NONE), &public), "a protocol the door does not use");
        let ranged = Scope { tcp: true, udp: true, range: Some((1024, 2048)) };
        assert!(ranged.covers(&hit(Protocol::Udp, 1024, TcpFlags::NONE), &public));
        assert!(ranged.covers(&hit(Protocol::Tcp, 2048, TcpFlags::SYN), &public));
        assert!(!ranged.covers(&hit(Protocol::Tcp, 2049, TcpFlags::SYN), &public));
        assert!(!ranged.covers(&hit(Protocol::Tcp, 22, TcpFlags::SYN), &public));
        assert!(PortSet::default().is_empty() && !public.is_empty());
    }
}
