//! Rotating doors: the per-(source, door) state machine of [`crate::doors`], for doors whose sequence is
//! derived per user and time window (`client_core::rotating`). Pure code: time is passed in (the wall
//! clock's unix seconds for windows, the caller's monotonic milliseconds for timeouts), no I/O.
//!
//! How a knock is recognised, and why:
//! - The accepted windows are `T-skew..=T+skew` around the current window `T` (clock skew between
//!   client and server). When `T` changes, the tables are rebuilt once: each user's sequence for each
//!   window (cached, so a step computes one new window per user), a hash map from the first hit
//!   `(port, protocol)` to the (user, window) candidates starting with it, and the set of every port of
//!   those sequences (what counts as a hit, and what the capture filter passes). A first hit is one
//!   lookup, not a scan over users x windows.
//! - An attempt keeps the candidates of its first hit, window included, so a knock that straddles a
//!   window boundary still opens. Sequences of past windows stay in the tables for as long as an attempt
//!   begun in them can last (the door's Seq_Timeout, at most [`MAX_LATE_WINDOWS`] windows), so their
//!   later hits still pass the filter.
//! - Later hits keep the candidates whose next hit they are; a repeat of the previous hit (a
//!   retransmitted SYN) is ignored. With the sweep guard (on unless `Sweep_Guard = off`, see
//!   [`crate::sweep_guard`]) any other new flow from the source to a port in the door's range resets the
//!   attempt, and the source waits the door's penalty before a new one: a sweep must hit the exact next
//!   port of some user's sequence, about one chance in the range's size per hit. Without the guard, a
//!   hit on another port of the attempt's candidate sequences resets it, and so does a first hit of any
//!   accepted sequence (which then starts a new attempt); other users' ports do not disturb an attempt.
//! - Completing emits [`Event::OpenAs`] with the user and window: whether that window was already used
//!   (a replay) is the server's decision, from state that survives restarts ([`crate::rotating_used`]).
//! - The attempt table is the static doors' one ([`crate::attempts`]: bounded, the oldest attempt is
//!   evicted); an attempt holds at most [`MAX_CANDIDATES`] candidates.

use std::collections::{HashMap, HashSet};
use std::net::IpAddr;
use std::sync::Arc;

use client_core::rotating::Rotation;
use client_core::{Hit, Protocol, TcpFlagSpec};

use crate::attempts::{self, Attempts, QueueSpec};
use crate::doors::{Admission, Event, Millis, Reason, admit, is_for_door};
use crate::packet;
use crate::rotating_keys::UserKey;
use crate::sweep_guard::{self, Guard, PortSet, Scope};

/// Most (user, window) candidates one first hit can start (a hash collision of first ports between a
/// few users is normal; more is bounded so a door's work per packet stays bounded).
pub(crate) const MAX_CANDIDATES: usize = 64;

/// At most this many windows past the accepted ones stay in the tables for attempts in progress (a
/// Seq_Timeout of an hour with 10 s windows would otherwise keep 360 windows of every user's sequences);
/// a knock must finish within this many windows after its window stops being accepted (`--check` warns
/// when Seq_Timeout is longer).
pub(crate) const MAX_LATE_WINDOWS: u64 = crate::config::ROTATING_MAX_LATE_WINDOWS;

/// What a rotating door needs to recognise a knock.
#[derive(Debug, Clone)]
pub(crate) struct RotatingSpec {
    /// The door's index in the configuration (the one events carry).
    pub(crate) door: usize,
    pub(crate) rotation: Rotation,
    pub(crate) skew: u64,
    pub(crate) users: Vec<UserKey>,
    pub(crate) timeout_ms: Millis,
    pub(crate) flags: Option<TcpFlagSpec>,
    pub(crate) target: Option<IpAddr>,
    /// The sweep guard (None: `Sweep_Guard = off`).
    pub(crate) guard: Option<Guard>,
}

impl RotatingSpec {
    /// What the door's sweep guard watches: its range, for the protocols its template uses.
    pub(crate) fn guard_scope(&self) -> Option<Scope> {
        let protocols = &self.rotation.protocols;
        self.guard.map(|_| Scope {
            tcp: protocols.is_empty() || protocols.contains(&Protocol::Tcp),
            udp: protocols.contains(&Protocol::Udp),
            range: Some(self.rotation.range),
        })
    }
}

#[derive(Debug, Clone)]
struct Candidate {
    user: u32,
    window: u64,
    hits: Arc<[Hit]>,
}

#[derive(Debug)]
struct Attempt {
    started: Millis,
    /// Hits matched so far (every candidate agrees on them).
    stage: usize,
    candidates: Vec<Candidate>,
}

impl attempts::Attempt for Attempt {
    fn started(&self) -> Millis {
        self.started
    }
    fn stage(&self) -> usize {
        self.stage
    }
}

struct Door {
    spec: RotatingSpec,
    /// See [`RotatingSpec::guard_scope`].
    scope: Option<Scope>,
    /// The window the tables were built for.
    window: Option<u64>,
    /// (user, window) -> sequence, for every window an attempt may still be in.
    sequences: HashMap<(u32, u64), Arc<[Hit]>>,
    /// First hit -> candidates, for the accepted windows only.
    first: HashMap<Hit, Vec<Candidate>>,
    /// Every hit of `sequences`.
    ports: HashSet<Hit>,
}

impl Door {
    /// The windows whose sequences are kept at window `t`: the accepted ones, plus as many past ones as
    /// the Seq_Timeout spans (an attempt started in them may still be running), plus the next one.
    fn kept_windows(&self, t: u64) -> std::ops::RangeInclusive<u64> {
        let step_ms = self.spec.rotation.step.max(1).saturating_mul(1000);
        let lasting = self.spec.timeout_ms.div_ceil(step_ms).min(MAX_LATE_WINDOWS);
        // And the next window beyond the accepted ones: the loop sets the filter up to 100 ms after a
        // window changes, and the first hits of the newly accepted window must already pass by then.
        t.saturating_sub(self.spec.skew.saturating_add(lasting))..=t.saturating_add(self.spec.skew).saturating_add(1)
    }

    fn rebuild(&mut self, t: u64) {
        let kept = self.kept_windows(t);
        self.sequences.retain(|(_, window), _| kept.contains(window));
        for (user, entry) in self.spec.users.iter().enumerate() {
            let Ok(user) = u32::try_from(user) else { break };
            for window in kept.clone() {
                if self.sequences.contains_key(&(user, window)) {
                    continue;
                }
                // Parameters were validated with the configuration; a failure leaves the window out.
                if let Ok(sequence) = self.spec.rotation.sequence(&entry.key, window) {
                    self.sequences.insert((user, window), sequence.hits().into());
                }
            }
        }
        let accepted = t.saturating_sub(self.spec.skew)..=t.saturating_add(self.spec.skew);
        self.first.clear();
        self.ports.clear();
        for (&(user, window), hits) in &self.sequences {
            self.ports.extend(hits.iter().copied());
            if accepted.contains(&window)
                && let Some(first) = hits.first()
            {
                let list = self.first.entry(*first).or_default();
                if list.len() < MAX_CANDIDATES {
                    list.push(Candidate { user, window, hits: Arc::clone(hits) });
                }
            }
        }
        self.window = Some(t);
    }
}

pub(crate) struct RotatingDoors {
    doors: Vec<Door>,
    /// The host's public service ports: never stray hits.
    public: PortSet,
    /// Whether any door has the sweep guard (asked for every packet).
    guarded: bool,
    /// Attempts in progress, one queue per door in `doors`' order.
    attempts: Attempts<Attempt>,
    /// The unix second of the last [`RotatingDoors::set_time`] (the same second changes nothing).
    last_unix: Option<u64>,
    /// See [`crate::doors::Doors::set_local_addresses`].
    local: Option<Vec<IpAddr>>,
}

impl RotatingDoors {
    pub(crate) fn new(specs: Vec<RotatingSpec>, max_attempts: usize, public: PortSet) -> RotatingDoors {
        let queues = specs.iter().map(|s| QueueSpec {
            door: s.door,
            timeout_ms: s.timeout_ms,
            penalty_ms: s.guard.map_or(0, |g| g.penalty_ms),
        });
        let attempts = Attempts::new(queues, max_attempts);
        let doors: Vec<Door> = specs
            .into_iter()
            .map(|spec| Door {
                scope: spec.guard_scope(),
                spec,
                window: None,
                sequences: HashMap::new(),
                first: HashMap::new(),
                ports: HashSet::new(),
            })
            .collect();
        let guarded = doors.iter().any(|d| d.scope.is_some());
        RotatingDoors { doors, public, guarded, attempts, last_unix: None, local: None }
    }

    pub(crate) fn is_empty(&self) -> bool {
        self.doors.is_empty()
    }

    pub(crate) fn set_local_addresses(&mut self, local: Option<Vec<IpAddr>>) {
        self.local = local;
    }

    /// Rebuilds the tables of every door whose window changed at `unix_secs`; true when one did (the
    /// capture filter must follow).
    pub(crate) fn set_time(&mut self, unix_secs: u64) -> bool {
        if self.last_unix == Some(unix_secs) {
            return false;
        }
        self.last_unix = Some(unix_secs);
        let mut changed = false;
        for door in &mut self.doors {
            let t = door.spec.rotation.window(unix_secs);
            if door.window != Some(t) {
                door.rebuild(t);
                changed = true;
            }
        }
        changed
    }

    /// The name of user `user` of the door with configuration index `door`.
    pub(crate) fn user_name(&self, door: usize, user: u32) -> Option<&str> {
        let door = self.doors.iter().find(|d| d.spec.door == door)?;
        door.spec.users.get(usize::try_from(user).ok()?).map(|u| u.user.as_str())
    }

    /// The rotating doors' specs.
    pub(crate) fn specs(&self) -> impl Iterator<Item = &RotatingSpec> {
        self.doors.iter().map(|d| &d.spec)
    }

    /// Whether a packet to this port and protocol is a hit of some rotating door now.
    pub(crate) fn is_door_port(&self, port: u16, protocol: Protocol) -> bool {
        let hit = Hit { port, protocol };
        self.doors.iter().any(|d| d.ports.contains(&hit))
    }

    /// Every port a rotating door may need now (for the capture filter), per door.
    pub(crate) fn ports(&self) -> impl Iterator<Item = (&RotatingSpec, &HashSet<Hit>)> {
        self.doors.iter().map(|d| (&d.spec, &d.ports))
    }

    /// Attempts in progress and penalties (what the table's bound counts).
    pub(crate) fn attempts(&self) -> usize {
        self.attempts.len()
    }

    /// Whether `hit` may be a stray hit of a guarded door's attempt: a new flow, not to a public port,
    /// while some attempt is in progress (cheap: asked for every packet that is not on a door's port).
    pub(crate) fn may_be_stray(&self, hit: &packet::Hit) -> bool {
        self.guarded
            && self.attempts.len() > 0
            && sweep_guard::is_new_flow(hit)
            && !self.public.contains(hit.port, hit.protocol)
    }

    /// Feeds one packet (see the module docs); events are appended to `events`.
    pub(crate) fn on_hit(&mut self, hit: &packet::Hit, now: Millis, events: &mut Vec<Event>) {
        let knock = Hit { port: hit.port, protocol: hit.protocol };
        let may_be_stray = self.may_be_stray(hit);
        for index in 0..self.doors.len() {
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
        let Some(door) = self.doors.get(index) else { return };
        let src = hit.src;
        let id = door.spec.door;
        if !door.ports.contains(&knock) {
            if may_be_stray
                && self.attempts.has_attempt(index, src)
                && door.scope.is_some_and(|scope| scope.covers(hit, &self.public))
                && is_for_door(door.spec.target, self.local.as_deref(), hit)
            {
                self.attempts.end_for_stray_hit(index, src, now, events);
            }
            return;
        }
        match admit(door.spec.target, door.spec.flags, self.local.as_deref(), hit) {
            Admission::Ignored => return,
            Admission::FlagsIgnored => return self.attempts.report_flags_ignored(index, hit, now, events),
            Admission::Counts => {}
        }
        let guard = door.spec.guard;
        // A penalised source has no attempt (penalising removes it): the penalty is looked up only when a
        // hit would start one (see `start`).
        if let Some(attempt) = self.attempts.current(index, src, now, events) {
            let stage = attempt.stage;
            if attempt.candidates.iter().any(|c| c.hits.get(stage) == Some(&knock)) {
                attempt.candidates.retain(|c| c.hits.get(stage) == Some(&knock));
                attempt.stage += 1;
                events.push(Event::Stage { src, door: id, stage: stage + 1 });
                if let Some(done) = attempt.candidates.iter().find(|c| c.hits.len() == stage + 1) {
                    let (user, window) = (done.user, done.window);
                    self.attempts.remove(index, src);
                    events.push(Event::OpenAs { src, door: id, user, window });
                }
                return;
            }
            if stage > 0 && attempt.candidates.iter().any(|c| c.hits.get(stage - 1) == Some(&knock)) {
                return; // the previous hit again: a retransmit, not a mistake
            }
            // Without the guard, only the attempt's own sequences' ports, or a first hit, reset it: with
            // many users the door's ports cover much of the range, and another user's port is not this
            // knock's mistake. With it, every hit in the range that is not the next one does.
            let own = attempt.candidates.iter().any(|c| c.hits.contains(&knock));
            if guard.is_none() && !own && !door.first.contains_key(&knock) {
                return;
            }
            let expected = attempt.candidates.first().and_then(|c| c.hits.get(stage).copied()).unwrap_or(knock);
            self.attempts.remove(index, src);
            events.push(Event::Rejected { src, door: id, stage, reason: Reason::WrongHit { expected, got: knock } });
            if guard.is_some_and(|g| g.penalty_ms > 0) {
                self.attempts.penalise(index, src, now, events);
                return;
            }
        }
        self.start(index, src, knock, now, events);
    }

    /// Starts an attempt when `knock` is the first hit of some candidate (or opens at once for one-hit
    /// sequences).
    fn start(&mut self, index: usize, src: IpAddr, knock: Hit, now: Millis, events: &mut Vec<Event>) {
        let Some(door) = self.doors.get(index) else { return };
        let Some(candidates) = door.first.get(&knock) else { return };
        let id = door.spec.door;
        if door.spec.guard.is_some() && self.attempts.is_penalised(index, src, now) {
            events.push(Event::Penalised { src, door: id });
            return;
        }
        events.push(Event::Stage { src, door: id, stage: 1 });
        if let Some(done) = candidates.iter().find(|c| c.hits.len() == 1) {
            events.push(Event::OpenAs { src, door: id, user: done.user, window: done.window });
            return;
        }
        let attempt = Attempt { started: now, stage: 1, candidates: candidates.clone() };
        self.attempts.insert(index, src, attempt, events);
    }

    /// Expires attempts whose timeout passed at `now` (see [`Attempts::tick`]).
    pub(crate) fn tick(&mut self, now: Millis, events: &mut Vec<Event>) {
        self.attempts.tick(now, events);
    }

    pub(crate) fn next_deadline(&self) -> Option<Millis> {
        self.attempts.next_deadline()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use client_core::TcpFlags;
    use client_core::rotating::DoorKey;

    const K1: &str = "JBSWY3DPEHPK3PXPJBSWY3DPEHPK3PXP";
    const K2: &str = "GEZDGNBVGY3TQOJQGEZDGNBVGY3TQOJQGEZDGNBVGY3TQOJQGEZA";
    const A: &str = "198.51.100.1";
    const B: &str = "198.51.100.2";

    fn rotation() -> Rotation {
        let mut r = Rotation::new("ssh");
        r.step = 30;
        r
    }

    fn spec(users: &[(&str, &str)]) -> RotatingSpec {
        RotatingSpec {
            door: 3,
            rotation: rotation(),
            skew: 1,
            users: users
                .iter()
                .enumerate()
                .map(|(i, (user, key))| UserKey {
                    user: (*user).to_owned(),
                    key: DoorKey::from_base32(key).expect("key"),
                    line: i + 1,
                })
                .collect(),
            timeout_ms: 10_000,
            flags: Some(TcpFlagSpec::parse("syn,!ack").expect("flags")),
            target: None,
            guard: None,
        }
    }

    fn hits(key: &str, window: u64) -> Vec<Hit> {
        rotation().sequence(&DoorKey::from_base32(key).expect("key"), window).expect("sequence").hits().to_vec()
    }

    fn packet(src: &str, hit: Hit) -> packet::Hit {
        packet::Hit {
            src: src.parse().expect("ip"),
            dst: "192.0.2.2".parse().expect("ip"),
            protocol: hit.protocol,
            port: hit.port,
            flags: TcpFlags::SYN,
        }
    }

    /// Feeds `(unix_secs, src, hit)` with `now` = unix seconds in ms; returns the events.
    fn run(doors: &mut RotatingDoors, knocks: &[(u64, &str, Hit)]) -> Vec<Event> {
        let mut events = Vec::new();
        for (unix, src, hit) in knocks {
            doors.set_time(*unix);
            doors.tick(unix * 1000, &mut events);
            doors.on_hit(&packet(src, *hit), unix * 1000, &mut events);
        }
        events
    }

    fn opened(events: &[Event]) -> Vec<(u32, u64)> {
        events
            .iter()
            .filter_map(|e| match e {
                Event::OpenAs { user, window, .. } => Some((*user, *window)),
                _ => None,
            })
            .collect()
    }

    const T: u64 = 60_000_000;

    #[test]
    fn each_user_opens_with_the_current_windows_sequence_and_is_named() {
        let mut d = RotatingDoors::new(vec![spec(&[("alice", K1), ("bob", K2)])], 100, PortSet::default());
        let now = T * 30 + 5;
        let knocks: Vec<(u64, &str, Hit)> = hits(K2, T).into_iter().map(|h| (now, B, h)).collect();
        let events = run(&mut d, &knocks);
        assert_eq!(opened(&events), [(1, T)]);
        assert_eq!(d.user_name(3, 1), Some("bob"));
        let knocks: Vec<(u64, &str, Hit)> = hits(K1, T).into_iter().map(|h| (now, A, h)).collect();
        assert_eq!(opened(&run(&mut d, &knocks)), [(0, T)]);
        assert_eq!(d.attempts(), 0);
    }

    #[test]
    fn windows_within_the_skew_open_and_others_do_not() {
        let now = T * 30 + 5;
        for (window, opens) in [(T - 1, true), (T + 1, true), (T - 2, false), (T + 2, false)] {
            let mut d = RotatingDoors::new(vec![spec(&[("alice", K1)])], 100, PortSet::default());
            let knocks: Vec<(u64, &str, Hit)> = hits(K1, window).into_iter().map(|h| (now, A, h)).collect();
            assert_eq!(opened(&run(&mut d, &knocks)).len(), usize::from(opens), "window {window}");
        }
    }

    #[test]
    fn an_attempt_keeps_the_window_of_its_first_hit() {
        // Skew 0: only the current window is accepted, and the knock straddles the boundary.
        let mut s = spec(&[("alice", K1)]);
        s.skew = 0;
        let mut d = RotatingDoors::new(vec![s], 100, PortSet::default());
        let seq = hits(K1, T);
        let end = (T + 1) * 30;
        let knocks = [(end - 1, A, seq[0]), (end - 1, A, seq[1]), (end, A, seq[2]), (end + 1, A, seq[3])];
        assert_eq!(opened(&run(&mut d, &knocks)), [(0, T)]);
        assert!(d.is_door_port(seq[3].port, seq[3].protocol), "the past window's ports still pass the filter");
        // A knock that begins after the window ended does not open at skew 0.
        let late: Vec<(u64, &str, Hit)> = seq.iter().map(|h| (end + 2, B, *h)).collect();
        assert!(opened(&run(&mut d, &late)).is_empty());
    }

    #[test]
    fn retransmits_are_harmless_other_users_ports_do_not_disturb_own_ports_reset() {
        let mut d = RotatingDoors::new(vec![spec(&[("alice", K1), ("bob", K2)])], 100, PortSet::default());
        let now = T * 30;
        let a = hits(K1, T);
        let b = hits(K2, T);
        let other = b.iter().copied().find(|h| !a.contains(h) && h != &b[0]).expect("a port of bob only");
        let knocks = [(now, A, a[0]), (now, A, a[0]), (now, A, a[1]), (now, A, other), (now, A, a[2]), (now, A, a[3])];
        let events = run(&mut d, &knocks);
        assert_eq!(opened(&events), [(0, T)]);
        assert!(!events.iter().any(|e| matches!(e, Event::Rejected { .. })), "{events:?}");
        // Alice's own third port out of order resets her attempt.
        let events = run(&mut d, &[(now, A, a[0]), (now, A, a[2]), (now, A, a[1]), (now, A, a[3])]);
        assert!(opened(&events).is_empty());
        assert!(events.iter().any(|e| matches!(e, Event::Rejected { reason: Reason::WrongHit { .. }, .. })));
    }

    fn guarded(users: &[(&str, &str)]) -> RotatingSpec {
        RotatingSpec { guard: Some(Guard { penalty_ms: 2000 }), ..spec(users) }
    }

    #[test]
    fn with_the_guard_any_other_port_in_the_range_resets_and_penalises() {
        let public = PortSet::new(&[Hit { port: 8443, protocol: Protocol::Tcp }]);
        let mut d = RotatingDoors::new(vec![guarded(&[("alice", K1), ("bob", K2)])], 100, public);
        let now = T * 30;
        let a = hits(K1, T);
        let b = hits(K2, T);
        let bobs = b.iter().copied().find(|h| !a.contains(h) && h != &b[0]).expect("a port of bob only");
        let stray = (1024..=65535u16)
            .map(|port| Hit { port, protocol: Protocol::Tcp })
            .find(|h| !d.is_door_port(h.port, h.protocol) && h.port != 8443)
            .expect("a port of nobody");
        let tcp = |port| Hit { port, protocol: Protocol::Tcp };
        let clean: Vec<(u64, &str, Hit)> = a.iter().map(|h| (now, A, *h)).collect();
        // Outside the range, a public port, a repeat of the previous hit: harmless.
        let mut knocks = vec![clean[0], (now, A, tcp(22)), (now, A, tcp(8443)), clean[0]];
        knocks.extend_from_slice(&clean[1..]);
        let events = run(&mut d, &knocks);
        assert_eq!(opened(&events), [(0, T)], "{events:?}");
        for (i, other) in [bobs, stray].into_iter().enumerate() {
            let later = now + 10 + 3 * i as u64; // past the previous penalty
            let events = run(&mut d, &[(later, A, a[0]), (later, A, other), (later, A, a[0]), (later, A, a[1])]);
            assert!(opened(&events).is_empty(), "{events:?}");
            assert!(events.iter().any(|e| matches!(e, Event::Rejected { stage: 1, .. })), "{other:?}: {events:?}");
            assert!(events.iter().any(|e| matches!(e, Event::Penalised { .. })), "{events:?}");
        }
    }

    #[test]
    fn a_blind_sweep_never_opens_a_guarded_rotating_door() {
        // One user, the default door (4 TCP hits in 1024-65535), every port in a new random order per
        // pass from one source; the same sweep opens the door without the guard.
        let sweep = |spec: RotatingSpec, passes: usize| -> Option<usize> {
            let mut d = RotatingDoors::new(vec![spec], 1000, PortSet::default());
            let mut ports: Vec<u16> = (1024..=65535).collect();
            let mut state = 0x2545_f491_4f6c_dd1d_u64;
            let mut events = Vec::new();
            let mut sent = 0u64;
            for pass in 0..passes {
                for i in (1..ports.len()).rev() {
                    state ^= state << 13;
                    state ^= state >> 7;
                    state ^= state << 17;
                    ports.swap(i, (state % (i as u64 + 1)) as usize);
                }
                for &port in &ports {
                    sent += 1;
                    let now = T * 30_000 + sent / 128;
                    d.set_time(now / 1000);
                    d.tick(now, &mut events);
                    d.on_hit(&packet(A, Hit { port, protocol: Protocol::Tcp }), now, &mut events);
                    if !opened(&events).is_empty() {
                        return Some(pass);
                    }
                    events.clear();
                }
            }
            None
        };
        assert_eq!(sweep(guarded(&[("alice", K1)]), 40), None, "the guarded door opened");
        assert!(sweep(spec(&[("alice", K1)]), 200).is_some(), "the control (no guard) should open");
    }

    #[test]
    fn timeouts_and_the_bound_hold() {
        let mut d = RotatingDoors::new(vec![spec(&[("alice", K1)])], 2, PortSet::default());
        let now = T * 30;
        let a = hits(K1, T);
        let sources = ["203.0.113.1", "203.0.113.2", "203.0.113.3"];
        let events = run(&mut d, &sources.map(|s| (now, s, a[0])));
        assert_eq!(d.attempts(), 2);
        assert_eq!(events.iter().filter(|e| matches!(e, Event::Rejected { reason: Reason::Evicted, .. })).count(), 1);
        assert_eq!(d.next_deadline(), Some(now * 1000 + 10_000));
        let mut events = Vec::new();
        d.tick(now * 1000 + 10_000, &mut events);
        assert_eq!(d.attempts(), 0);
        assert_eq!(events.iter().filter(|e| matches!(e, Event::Rejected { reason: Reason::Timeout, .. })).count(), 2);
    }

    #[test]
    fn the_tables_follow_the_window() {
        let mut d = RotatingDoors::new(vec![spec(&[("alice", K1)])], 10, PortSet::default());
        assert!(d.set_time(T * 30));
        assert!(!d.set_time(T * 30 + 29), "same window: nothing rebuilt");
        let future = hits(K1, T + 3);
        assert!(!d.is_door_port(future[0].port, future[0].protocol) || hits(K1, T + 1).contains(&future[0]));
        assert!(d.set_time((T + 2) * 30));
        assert!(d.is_door_port(future[0].port, future[0].protocol), "T+3 is within the skew of T+2");
    }
}
