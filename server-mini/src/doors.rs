//! The doors: a per-(source, door) state machine as pure code. Time is passed in (milliseconds on any
//! monotonic clock: live capture, a replayed file's timestamps, or a test's counter), nothing here does
//! I/O, and every rule is a fast unit test.
//!
//! Semantics (where knockd 0.8 differs, see `docs/knockd-behaviour.md` 2.4):
//! - Every source's progress on every door is independent: one source finishing, failing or timing out
//!   never touches another's attempt (knockd drops them all), and a source may work on several doors.
//! - A wrong hit on one of a door's ports resets that source's attempt. With the sweep guard (on unless
//!   the door says `Sweep_Guard = off`, see [`crate::sweep_guard`]) so does any other new flow from that
//!   source to this host, and the source then waits the door's penalty before a new attempt. Without
//!   it, as in knockd, only the door's own ports affect it, and a wrong hit that is the door's first hit
//!   starts a fresh attempt with it (knockd consumes it).
//! - A repeat of the previous stage's hit (a retransmitted SYN, a browser's second SYN) is ignored.
//! - A TCP hit whose flags do not match the door's TCPFlags is ignored, as in knockd, and reported.
//! - Timeouts run from the first hit and are reported by [`Doors::tick`] when they happen.
//! - The attempt table is bounded: when full, the oldest attempt is evicted (and reported); the table is
//!   [`crate::attempts`], shared with the rotating doors.
//!
//! Memory: an attempt costs about 87 bytes (measured: key, stage, start time, links, hash slot), so the default
//! cap of 1,000,000 attempts stays under ~90 MB whatever a flood of spoofed sources sends.

use std::net::IpAddr;

use client_core::{Hit, Protocol, TcpFlagSpec, TcpFlags};

use crate::attempts::{self, Attempts, QueueSpec};
use crate::packet;
use crate::sweep_guard::{self, Guard, PortSet, Scope};

/// Milliseconds on the caller's monotonic clock.
pub(crate) type Millis = u64;

pub(crate) const DEFAULT_MAX_ATTEMPTS: usize = 1_000_000;

/// What a door needs to recognise a knock.
#[derive(Debug, Clone, PartialEq)]
pub(crate) struct DoorSpec {
    pub(crate) name: String,
    /// None disables the door (a one-time sequence file with no sequence left).
    pub(crate) sequence: Option<Vec<Hit>>,
    pub(crate) timeout_ms: Millis,
    pub(crate) flags: Option<TcpFlagSpec>,
    pub(crate) target: Option<IpAddr>,
    /// The sweep guard (None: `Sweep_Guard = off`, knockd's exact matching).
    pub(crate) guard: Option<Guard>,
}

/// Why an attempt ended without opening.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Reason {
    /// A hit on one of the door's ports, but not the expected one.
    WrongHit { expected: Hit, got: Hit },
    /// The sweep guard: a new flow from the source to another port of this host (not a public one).
    Stray,
    /// The sequence did not finish within the door's timeout.
    Timeout,
    /// Evicted to keep the table within its cap.
    Evicted,
}

/// What happened, for logging and actions. `stage` counts the hits matched so far.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Event {
    Stage {
        src: IpAddr,
        door: usize,
        stage: usize,
    },
    Open {
        src: IpAddr,
        door: usize,
    },
    /// A rotating door's sequence of user `user` (index in its key file) for window `window` completed;
    /// the server decides whether that window was already used (see `crate::rotating_doors`).
    OpenAs {
        src: IpAddr,
        door: usize,
        user: u32,
        window: u64,
    },
    /// The attempt ended at `stage` without opening.
    Rejected {
        src: IpAddr,
        door: usize,
        stage: usize,
        reason: Reason,
    },
    /// A first hit from a source waiting out its penalty (the sweep guard): no attempt starts.
    Penalised {
        src: IpAddr,
        door: usize,
    },
    /// A TCP hit on the door's next port with flags the door does not accept: ignored.
    FlagsIgnored {
        src: IpAddr,
        door: usize,
        stage: usize,
        flags: TcpFlags,
    },
}

#[derive(Debug, Clone, Copy)]
struct Attempt {
    stage: u8,
    started: Millis,
}

impl attempts::Attempt for Attempt {
    fn started(&self) -> Millis {
        self.started
    }
    fn stage(&self) -> usize {
        usize::from(self.stage)
    }
}

/// What the checks every door makes, static or rotating, decide about a hit (see [`admit`]).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Admission {
    /// Not for this door: another destination.
    Ignored,
    /// On one of the door's ports, but TCP with flags the door does not accept: reported, not counted.
    FlagsIgnored,
    /// Counts for the door.
    Counts,
}

/// The checks a hit on one of a door's ports (the caller has looked) passes before it counts for the
/// door, in this order: sent to the door's Target, or without one to one of the server's own addresses
/// (`local`; None accepts any); and for TCP, with flags the door accepts.
pub(crate) fn admit(
    target: Option<IpAddr>,
    flags: Option<TcpFlagSpec>,
    local: Option<&[IpAddr]>,
    hit: &packet::Hit,
) -> Admission {
    if !is_for_door(target, local, hit) {
        return Admission::Ignored;
    }
    if hit.protocol == Protocol::Tcp
        && let Some(flags) = flags
        && !flags.matches(hit.flags)
    {
        return Admission::FlagsIgnored;
    }
    Admission::Counts
}

/// Whether `hit` was sent to the door's Target, or without one to one of the server's own addresses
/// (`local`; None accepts any).
pub(crate) fn is_for_door(target: Option<IpAddr>, local: Option<&[IpAddr]>, hit: &packet::Hit) -> bool {
    match target {
        Some(target) => target == hit.dst,
        None => local.is_none_or(|local| local.contains(&hit.dst)),
    }
}

pub(crate) struct Doors {
    specs: Vec<DoorSpec>,
    /// Per door, what its sweep guard watches (None: no guard, or a disabled door).
    scopes: Vec<Option<Scope>>,
    /// Whether any door has a scope (asked for every packet).
    guarded: bool,
    /// The host's public service ports: never stray hits.
    public: PortSet,
    /// Attempts in progress, one queue per door in `specs`' order.
    attempts: Attempts<Attempt>,
    /// Every (port, protocol) of an enabled door, sorted: what counts as a hit.
    door_ports: Vec<Hit>,
    /// The server's own addresses: doors without a Target only count hits sent to one of them (as knockd
    /// does), so knocks routed through a gateway, and the server's own outgoing traffic, never count.
    /// None accepts any destination (replaying a capture from another host).
    local: Option<Vec<IpAddr>>,
}

impl Doors {
    /// The doors, at most `max_attempts` attempts and penalties in all, and the host's public ports.
    pub(crate) fn new(specs: Vec<DoorSpec>, max_attempts: usize, public: PortSet) -> Doors {
        let queues = specs.iter().enumerate().map(|(door, s)| QueueSpec {
            door,
            timeout_ms: s.timeout_ms,
            penalty_ms: s.guard.map_or(0, |g| g.penalty_ms),
        });
        let attempts = Attempts::new(queues, max_attempts);
        let mut doors =
            Doors { specs, scopes: Vec::new(), guarded: false, public, attempts, door_ports: Vec::new(), local: None };
        doors.index_ports();
        doors
    }

    fn index_ports(&mut self) {
        let mut ports: Vec<Hit> = self.specs.iter().flat_map(|s| s.sequence.iter().flatten().copied()).collect();
        ports.sort_unstable_by_key(|h| (h.port, h.protocol == Protocol::Udp));
        ports.dedup();
        self.door_ports = ports;
        self.scopes = self.specs.iter().map(|s| s.guard.and(s.sequence.as_deref()).map(Scope::of_hits)).collect();
        self.guarded = self.scopes.iter().any(Option::is_some);
    }

    /// Whether `hit` may be a stray hit of a guarded door's attempt: a new flow, not to a public port,
    /// while some attempt is in progress (cheap: asked for every packet that is not on a door's port).
    pub(crate) fn may_be_stray(&self, hit: &packet::Hit) -> bool {
        self.guarded
            && self.attempts.len() > 0
            && sweep_guard::is_new_flow(hit)
            && !self.public.contains(hit.port, hit.protocol)
    }

    /// Whether a packet to this port and protocol is a hit of some enabled door (the `hits` counter).
    pub(crate) fn is_door_port(&self, port: u16, protocol: Protocol) -> bool {
        self.door_ports
            .binary_search_by_key(&(port, protocol == Protocol::Udp), |h| (h.port, h.protocol == Protocol::Udp))
            .is_ok()
    }

    /// Sets the addresses hits must be sent to (doors with a Target use that instead).
    pub(crate) fn set_local_addresses(&mut self, local: Option<Vec<IpAddr>>) {
        self.local = local;
    }

    pub(crate) fn spec(&self, door: usize) -> Option<&DoorSpec> {
        self.specs.get(door)
    }

    pub(crate) fn specs(&self) -> impl Iterator<Item = &DoorSpec> {
        self.specs.iter()
    }

    /// Attempts in progress, over all doors.
    pub(crate) fn attempts(&self) -> usize {
        self.attempts.len()
    }

    /// Replaces a door's sequence (one-time sequences); its attempts in progress are dropped.
    pub(crate) fn set_sequence(&mut self, door: usize, sequence: Option<Vec<Hit>>) {
        if let Some(spec) = self.specs.get_mut(door) {
            self.attempts.clear(door);
            spec.sequence = sequence;
        }
        self.index_ports();
    }

    /// Feeds one packet; events are appended to `events` (reused by the caller: no allocation per packet).
    pub(crate) fn on_hit(&mut self, hit: &packet::Hit, now: Millis, events: &mut Vec<Event>) {
        let knock = Hit { port: hit.port, protocol: hit.protocol };
        let may_be_stray = self.may_be_stray(hit);
        for index in 0..self.specs.len() {
            self.on_hit_door(index, hit, knock, may_be_stray, now, events);
        }
    }

    fn on_hit_door(
        &mut self,
        index: usize,
        hit: &packet::Hit,
        knock: Hit,
        may_be_stray: bool,
        now: Millis,
        events: &mut Vec<Event>,
    ) {
        let Some(spec) = self.specs.get(index) else { return };
        let Some(sequence) = spec.sequence.as_deref() else { return };
        let src = hit.src;
        if !sequence.contains(&knock) {
            let scope = self.scopes.get(index).copied().flatten();
            if may_be_stray
                && self.attempts.has_attempt(index, src)
                && scope.is_some_and(|scope| scope.covers(hit, &self.public))
                && is_for_door(spec.target, self.local.as_deref(), hit)
            {
                self.attempts.end_for_stray_hit(index, src, now, events);
            }
            return;
        }
        match admit(spec.target, spec.flags, self.local.as_deref(), hit) {
            Admission::Ignored => return,
            Admission::FlagsIgnored => return self.attempts.report_flags_ignored(index, hit, now, events),
            Admission::Counts => {}
        }
        let guard = spec.guard;
        // A penalised source has no attempt (penalising removes it), so the penalty is looked up only for
        // a first hit without one: one hash lookup per hit, as without the guard.
        match self.attempts.current(index, src, now, events) {
            Some(attempt) => {
                let stage = usize::from(attempt.stage);
                if sequence.get(stage) == Some(&knock) {
                    let stage = stage + 1;
                    if stage == sequence.len() {
                        self.attempts.remove(index, src);
                        events.push(Event::Stage { src, door: index, stage });
                        events.push(Event::Open { src, door: index });
                    } else {
                        attempt.stage += 1;
                        events.push(Event::Stage { src, door: index, stage });
                    }
                } else if stage > 0 && sequence.get(stage - 1) == Some(&knock) {
                    // The previous stage again: a retransmit, not a mistake.
                } else {
                    let expected = sequence.get(stage).copied().unwrap_or(knock);
                    let restarts = sequence.first() == Some(&knock);
                    self.attempts.remove(index, src);
                    events.push(Event::Rejected {
                        src,
                        door: index,
                        stage,
                        reason: Reason::WrongHit { expected, got: knock },
                    });
                    if guard.is_some_and(|g| g.penalty_ms > 0) {
                        self.attempts.penalise(index, src, now, events);
                    } else if restarts {
                        self.start(index, src, now, events);
                    }
                }
            }
            None if sequence.first() == Some(&knock) => {
                if guard.is_some() && self.attempts.is_penalised(index, src, now) {
                    events.push(Event::Penalised { src, door: index });
                } else {
                    self.start(index, src, now, events);
                }
            }
            None => {}
        }
    }

    /// Starts an attempt at stage 1 (or opens at once for a one-hit sequence).
    fn start(&mut self, index: usize, src: IpAddr, now: Millis, events: &mut Vec<Event>) {
        let one_hit = self.specs.get(index).and_then(|s| s.sequence.as_ref()).is_some_and(|s| s.len() == 1);
        events.push(Event::Stage { src, door: index, stage: 1 });
        if one_hit {
            events.push(Event::Open { src, door: index });
            return;
        }
        self.attempts.insert(index, src, Attempt { stage: 1, started: now }, events);
    }

    /// Expires attempts whose timeout has passed at `now` (see [`Attempts::tick`]).
    pub(crate) fn tick(&mut self, now: Millis, events: &mut Vec<Event>) {
        self.attempts.tick(now, events);
    }

    /// When the next timeout falls due, if any attempt is in progress.
    pub(crate) fn next_deadline(&self) -> Option<Millis> {
        self.attempts.next_deadline()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use client_core::{Protocol, Sequence};

    fn seq(text: &str) -> Vec<Hit> {
        Sequence::parse(text, Protocol::Tcp).expect("sequence").hits().to_vec()
    }

    fn door(name: &str, sequence: &str) -> DoorSpec {
        DoorSpec {
            name: name.into(),
            sequence: Some(seq(sequence)),
            timeout_ms: 5000,
            flags: Some(TcpFlagSpec::parse("syn,!ack").expect("flags")),
            target: None,
            guard: None,
        }
    }

    fn ip(text: &str) -> IpAddr {
        text.parse().expect("ip")
    }

    fn syn(src: &str, port: u16) -> packet::Hit {
        packet::Hit { src: ip(src), dst: ip("192.0.2.2"), protocol: Protocol::Tcp, port, flags: TcpFlags::SYN }
    }

    fn udp(src: &str, port: u16) -> packet::Hit {
        packet::Hit { src: ip(src), dst: ip("192.0.2.2"), protocol: Protocol::Udp, port, flags: TcpFlags::NONE }
    }

    /// Feeds hits at the given times; returns every event.
    fn run(doors: &mut Doors, hits: &[(Millis, packet::Hit)]) -> Vec<Event> {
        let mut events = Vec::new();
        for (now, hit) in hits {
            doors.tick(*now, &mut events);
            doors.on_hit(hit, *now, &mut events);
        }
        events
    }

    fn opened(events: &[Event]) -> Vec<(IpAddr, usize)> {
        events
            .iter()
            .filter_map(|e| match e {
                Event::Open { src, door } => Some((*src, *door)),
                _ => None,
            })
            .collect()
    }

    const A: &str = "198.51.100.1";
    const B: &str = "198.51.100.2";

    #[test]
    fn a_correct_sequence_opens_with_knockd_compatible_stages() {
        let mut d = Doors::new(vec![door("ssh", "7000,8000:udp,9000")], 10, PortSet::default());
        let events = run(&mut d, &[(0, syn(A, 7000)), (1, udp(A, 8000)), (2, syn(A, 9000))]);
        assert_eq!(
            events,
            [
                Event::Stage { src: ip(A), door: 0, stage: 1 },
                Event::Stage { src: ip(A), door: 0, stage: 2 },
                Event::Stage { src: ip(A), door: 0, stage: 3 },
                Event::Open { src: ip(A), door: 0 },
            ]
        );
        assert_eq!(d.attempts(), 0, "a finished attempt is gone");
    }

    #[test]
    fn concurrent_sources_are_independent() {
        // knockd bug: X finishing (or failing, or timing out) drops Y's attempt.
        let mut d = Doors::new(vec![door("ssh", "7000,8000,9000")], 10, PortSet::default());
        let events = run(
            &mut d,
            &[
                (0, syn(A, 7000)),
                (1, syn(B, 7000)),
                (2, syn(A, 8000)),
                (3, syn(A, 9000)), // A opens
                (4, syn(B, 8000)),
                (5, syn(B, 9000)), // B still opens
            ],
        );
        assert_eq!(opened(&events), [(ip(A), 0), (ip(B), 0)]);
        let mut d = Doors::new(vec![door("ssh", "7000,8000,9000")], 10, PortSet::default());
        let events = run(
            &mut d,
            &[(0, syn(A, 7000)), (1, syn(B, 7000)), (2, syn(A, 9000)), (3, syn(B, 8000)), (4, syn(B, 9000))],
        );
        assert_eq!(opened(&events), [(ip(B), 0)], "A's mistake does not cost B");
    }

    #[test]
    fn a_retransmit_of_the_previous_stage_is_harmless() {
        let mut d = Doors::new(vec![door("ssh", "7000,8000,9000")], 10, PortSet::default());
        let events = run(
            &mut d,
            &[(0, syn(A, 7000)), (1, syn(A, 7000)), (2, syn(A, 8000)), (3, syn(A, 8000)), (4, syn(A, 9000))],
        );
        assert_eq!(opened(&events), [(ip(A), 0)]);
        assert!(!events.iter().any(|e| matches!(e, Event::Rejected { .. })));
    }

    #[test]
    fn repeated_ports_in_a_sequence_advance_before_counting_as_retransmits() {
        let mut d = Doors::new(vec![door("rep", "7000,7000,8000")], 10, PortSet::default());
        let events = run(&mut d, &[(0, syn(A, 7000)), (1, syn(A, 7000)), (2, syn(A, 8000))]);
        assert_eq!(opened(&events), [(ip(A), 0)]);
    }

    #[test]
    fn a_wrong_hit_resets_with_a_reason_and_a_first_hit_restarts() {
        let mut d = Doors::new(vec![door("ssh", "7000,8000,9000")], 10, PortSet::default());
        let events = run(&mut d, &[(0, syn(A, 7000)), (1, syn(A, 9000))]);
        assert_eq!(
            events.last(),
            Some(&Event::Rejected {
                src: ip(A),
                door: 0,
                stage: 1,
                reason: Reason::WrongHit { expected: Hit::tcp(8000), got: Hit::tcp(9000) }
            })
        );
        // 7000 8500 7000 8000 9000 style: the wrong hit that is the first port starts over at once.
        let mut d = Doors::new(vec![door("ssh", "7000,8000,9000")], 10, PortSet::default());
        let events = run(
            &mut d,
            &[(0, syn(A, 7000)), (1, syn(A, 8000)), (2, syn(A, 7000)), (3, syn(A, 8000)), (4, syn(A, 9000))],
        );
        assert_eq!(opened(&events), [(ip(A), 0)]);
        // Reversed order never opens.
        let mut d = Doors::new(vec![door("ssh", "7000,8000,9000")], 10, PortSet::default());
        assert!(opened(&run(&mut d, &[(0, syn(A, 9000)), (1, syn(A, 8000)), (2, syn(A, 7000))])).is_empty());
    }

    #[test]
    fn other_doors_ports_do_not_disturb_and_doors_progress_in_parallel() {
        let mut d = Doors::new(vec![door("a", "7000,8000,9000"), door("c", "6000,6100")], 10, PortSet::default());
        // knockd: a source mid-way through door a cannot start door c, and c's port kills a.
        let events = run(
            &mut d,
            &[(0, syn(A, 7000)), (1, syn(A, 6000)), (2, syn(A, 8000)), (3, syn(A, 6100)), (4, syn(A, 9000))],
        );
        assert_eq!(opened(&events), [(ip(A), 1), (ip(A), 0)]);
        // Doors sharing a first port both progress; the last hit opens one and resets the other.
        let mut d = Doors::new(vec![door("a", "7000,8000,9000"), door("b", "7000,8000,9100")], 10, PortSet::default());
        let events = run(&mut d, &[(0, syn(A, 7000)), (1, syn(A, 8000)), (2, syn(A, 9000))]);
        assert_eq!(opened(&events), [(ip(A), 0)]);
    }

    #[test]
    fn flags_that_do_not_match_are_ignored_and_reported() {
        let mut d = Doors::new(vec![door("ssh", "7000,8000")], 10, PortSet::default());
        let mut synack = syn(A, 8000);
        synack.flags = TcpFlags::SYN.union(TcpFlags::ACK);
        let events = run(&mut d, &[(0, syn(A, 7000)), (1, synack), (2, syn(A, 8000))]);
        assert!(events.contains(&Event::FlagsIgnored { src: ip(A), door: 0, stage: 1, flags: synack.flags }));
        assert_eq!(opened(&events), [(ip(A), 0)], "the ignored packet did not reset the attempt");
        // UDP hits have no flags to check.
        let mut d = Doors::new(vec![door("u", "7000:udp,8000:udp")], 10, PortSet::default());
        assert_eq!(opened(&run(&mut d, &[(0, udp(A, 7000)), (1, udp(A, 8000))])).len(), 1);
    }

    #[test]
    fn timeouts_are_reported_when_they_happen_and_count_from_the_first_hit() {
        let mut d = Doors::new(vec![door("ssh", "7000,8000,9000")], 10, PortSet::default());
        let mut events = run(&mut d, &[(0, syn(A, 7000)), (3000, syn(A, 8000))]);
        assert_eq!(d.next_deadline(), Some(5000));
        d.tick(4999, &mut events);
        assert!(!events.iter().any(|e| matches!(e, Event::Rejected { .. })));
        d.tick(5000, &mut events);
        assert_eq!(events.last(), Some(&Event::Rejected { src: ip(A), door: 0, stage: 2, reason: Reason::Timeout }));
        assert_eq!(d.attempts(), 0);
        assert_eq!(d.next_deadline(), None);
        // A late hit after an uncollected expiry is reported as a timeout, then judged afresh.
        let mut d = Doors::new(vec![door("ssh", "7000,8000,9000")], 10, PortSet::default());
        let events = run(&mut d, &[(0, syn(A, 7000))]);
        let mut late = events;
        d.on_hit(&syn(A, 8000), 6000, &mut late);
        assert!(late.contains(&Event::Rejected { src: ip(A), door: 0, stage: 1, reason: Reason::Timeout }));
    }

    #[test]
    fn the_table_is_bounded_and_evicts_the_oldest() {
        let mut d = Doors::new(vec![door("ssh", "7000,8000")], 3, PortSet::default());
        let sources: Vec<String> = (1..=5).map(|i| format!("203.0.113.{i}")).collect();
        let hits: Vec<(Millis, packet::Hit)> =
            sources.iter().enumerate().map(|(i, s)| (i as Millis, syn(s, 7000))).collect();
        let events = run(&mut d, &hits);
        assert_eq!(d.attempts(), 3);
        let evicted: Vec<IpAddr> = events
            .iter()
            .filter_map(|e| match e {
                Event::Rejected { src, reason: Reason::Evicted, .. } => Some(*src),
                _ => None,
            })
            .collect();
        assert_eq!(evicted, [ip("203.0.113.1"), ip("203.0.113.2")]);
        // The newest can still finish.
        assert_eq!(opened(&run(&mut d, &[(10, syn("203.0.113.5", 8000))])), [(ip("203.0.113.5"), 0)]);
    }

    #[test]
    fn targets_restrict_a_door_to_one_destination_and_one_time_sequences_swap() {
        let mut spec = door("t", "7000,8000");
        spec.target = Some(ip("192.0.2.10"));
        let mut d = Doors::new(vec![spec], 10, PortSet::default());
        assert!(opened(&run(&mut d, &[(0, syn(A, 7000)), (1, syn(A, 8000))])).is_empty(), "wrong destination");
        let to = |mut h: packet::Hit| {
            h.dst = ip("192.0.2.10");
            h
        };
        assert_eq!(opened(&run(&mut d, &[(2, to(syn(A, 7000))), (3, to(syn(A, 8000)))])).len(), 1);
        run(&mut d, &[(4, to(syn(B, 7000)))]);
        d.set_sequence(0, Some(seq("6000")));
        assert_eq!(d.attempts(), 0, "attempts on the old sequence are dropped");
        assert_eq!(opened(&run(&mut d, &[(5, to(syn(B, 6000)))])).len(), 1, "a one-hit sequence opens at once");
        d.set_sequence(0, None);
        assert!(run(&mut d, &[(6, to(syn(B, 6000)))]).is_empty(), "a disabled door ignores everything");
    }

    #[test]
    fn only_hits_to_the_servers_own_addresses_count() {
        let mut d = Doors::new(vec![door("ssh", "7000,8000")], 10, PortSet::default());
        d.set_local_addresses(Some(vec![ip("192.0.2.2"), ip("2001:db8::2")]));
        let to = |dst: &str, port| packet::Hit { dst: ip(dst), ..syn(A, port) };
        assert!(
            opened(&run(&mut d, &[(0, to("198.51.100.7", 7000)), (1, to("198.51.100.7", 8000))])).is_empty(),
            "routed through us"
        );
        assert_eq!(opened(&run(&mut d, &[(2, to("192.0.2.2", 7000)), (3, to("192.0.2.2", 8000))])).len(), 1);
    }

    #[test]
    fn door_ports_are_known_and_follow_sequence_changes() {
        let mut d = Doors::new(vec![door("a", "7000,8000:udp"), door("b", "9000")], 10, PortSet::default());
        assert!(d.is_door_port(7000, Protocol::Tcp) && d.is_door_port(8000, Protocol::Udp));
        assert!(!d.is_door_port(8000, Protocol::Tcp) && !d.is_door_port(22, Protocol::Tcp));
        d.set_sequence(1, None);
        assert!(!d.is_door_port(9000, Protocol::Tcp), "a disabled door has no ports");
    }

    fn guarded(name: &str, sequence: &str, penalty_ms: Millis) -> DoorSpec {
        DoorSpec { guard: Some(Guard { penalty_ms }), ..door(name, sequence) }
    }

    fn public(ports: &str) -> PortSet {
        PortSet::new(&seq(ports))
    }

    #[test]
    fn the_sweep_guard_resets_on_any_new_flow_to_another_port_and_penalises() {
        let mut d = Doors::new(vec![guarded("ssh", "7000,8000:udp,9000", 2000)], 10, public("443"));
        let ack = |port| packet::Hit { flags: TcpFlags::ACK, ..syn(A, port) };
        let synack = |port| packet::Hit { flags: TcpFlags::SYN.union(TcpFlags::ACK), ..syn(A, port) };
        // Established traffic, a public port and the previous hit again (a retransmit) do not count.
        let events = run(
            &mut d,
            &[
                (0, syn(A, 7000)),
                (1, ack(22)),
                (2, synack(5555)),
                (3, syn(A, 443)),
                (4, syn(A, 7000)),
                (5, udp(A, 8000)),
                (6, syn(B, 1234)), // another source's stray hit is not A's
                (7, syn(A, 9000)),
            ],
        );
        assert_eq!(opened(&events), [(ip(A), 0)], "{events:?}");
        assert!(!events.iter().any(|e| matches!(e, Event::Rejected { .. })), "{events:?}");
        // A SYN or UDP datagram to any other port ends the attempt, and the source waits its penalty.
        for (i, stray) in [syn(A, 1234), udp(A, 53), syn(A, 22)].into_iter().enumerate() {
            let t = 10_000 * (i as Millis + 1);
            let events =
                run(&mut d, &[(t, syn(A, 7000)), (t + 1, stray), (t + 2, syn(A, 7000)), (t + 3, udp(A, 8000))]);
            assert!(
                events.contains(&Event::Rejected { src: ip(A), door: 0, stage: 1, reason: Reason::Stray }),
                "{stray:?}: {events:?}"
            );
            assert!(events.contains(&Event::Penalised { src: ip(A), door: 0 }), "{events:?}");
            assert!(opened(&events).is_empty());
            let retry = run(&mut d, &[(t + 2001, syn(A, 7000)), (t + 2002, udp(A, 8000)), (t + 2003, syn(A, 9000))]);
            assert_eq!(opened(&retry), [(ip(A), 0)], "after the penalty a clean knock opens: {retry:?}");
        }
    }

    #[test]
    fn the_sweep_guard_refuses_restarts_during_the_penalty_and_the_opt_out_keeps_knockd_semantics() {
        let mut d = Doors::new(vec![guarded("ssh", "7000,8000,9000", 2000)], 10, PortSet::default());
        let events = run(&mut d, &[(0, syn(A, 7000)), (1, syn(A, 9000)), (2, syn(A, 7000)), (3, syn(A, 8000))]);
        assert!(opened(&events).is_empty(), "{events:?}");
        assert_eq!(events.iter().filter(|e| matches!(e, Event::Penalised { .. })).count(), 1, "{events:?}");
        // Penalty 0: a wrong first hit restarts at once, as without the guard.
        let mut d = Doors::new(vec![guarded("ssh", "7000,8000,9000", 0)], 10, PortSet::default());
        let events = run(&mut d, &[(0, syn(A, 7000)), (1, syn(A, 7000)), (2, syn(A, 8000)), (3, syn(A, 9000))]);
        assert_eq!(opened(&events), [(ip(A), 0)], "{events:?}");
        // Off: stray hits are not the door's business.
        let mut d = Doors::new(vec![door("ssh", "7000,8000,9000")], 10, PortSet::default());
        let events = run(&mut d, &[(0, syn(A, 7000)), (1, syn(A, 1234)), (2, syn(A, 8000)), (3, syn(A, 9000))]);
        assert_eq!(opened(&events), [(ip(A), 0)]);
        assert!(!d.may_be_stray(&syn(A, 1234)), "no guard: nothing is a stray hit");
    }

    #[test]
    fn the_sweep_guard_ignores_protocols_the_door_does_not_use_and_other_destinations() {
        let mut d = Doors::new(vec![guarded("tcp", "7000,8000,9000", 2000)], 10, PortSet::default());
        d.set_local_addresses(Some(vec![ip("192.0.2.2")]));
        let routed = packet::Hit { dst: ip("198.51.100.9"), ..syn(A, 1234) };
        let events =
            run(&mut d, &[(0, syn(A, 7000)), (1, udp(A, 53)), (2, routed), (3, syn(A, 8000)), (4, syn(A, 9000))]);
        assert_eq!(opened(&events), [(ip(A), 0)], "{events:?}");
    }

    #[test]
    fn a_blind_sweep_never_opens_a_guarded_door() {
        // Every port, both protocols, a new random order per pass, one source: 40 passes (5.2 M hits);
        // the same sweep opens the door without the guard (knockd's matching) in a few passes.
        let sequence = "8471,2947:udp,6302";
        let mut guarded = Doors::new(vec![guarded("ssh", sequence, 2000)], 1000, PortSet::default());
        let mut knockd = Doors::new(vec![door("ssh", sequence)], 1000, PortSet::default());
        let mut hits: Vec<packet::Hit> = (1..=u16::MAX).flat_map(|p| [syn(A, p), udp(A, p)]).collect();
        let mut state = 0x9e37_79b9_7f4a_7c15_u64;
        let mut next = move || {
            state ^= state << 13;
            state ^= state >> 7;
            state ^= state << 17;
            state
        };
        let (mut events, mut knockd_opened, mut sent) = (Vec::new(), None, 0u64);
        for pass in 0..40 {
            for i in (1..hits.len()).rev() {
                hits.swap(i, (next() % (i as u64 + 1)) as usize);
            }
            for hit in &hits {
                // 128 hits per millisecond: a pass takes about a second, as a live sweep's did.
                sent += 1;
                let now = sent / 128;
                guarded.tick(now, &mut events);
                guarded.on_hit(hit, now, &mut events);
                assert!(opened(&events).is_empty(), "the guarded door opened in pass {pass}");
                events.clear();
                if knockd_opened.is_none() {
                    knockd.on_hit(hit, now, &mut events);
                    if !opened(&events).is_empty() {
                        knockd_opened = Some(pass);
                    }
                    events.clear();
                }
            }
        }
        assert!(knockd_opened.is_some(), "the control (no guard) should open within 40 passes");
    }

    #[test]
    fn ipv6_sources_work_the_same() {
        let mut d = Doors::new(vec![door("ssh", "7000,8000")], 10, PortSet::default());
        let v6 = |port| packet::Hit {
            src: ip("2001:db8::1"),
            dst: ip("2001:db8::2"),
            protocol: Protocol::Tcp,
            port,
            flags: TcpFlags::SYN,
        };
        assert_eq!(opened(&run(&mut d, &[(0, v6(7000)), (1, v6(8000))])), [(ip("2001:db8::1"), 0)]);
    }
}
