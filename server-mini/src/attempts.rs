//! The bounded attempt table that static doors ([`crate::doors`]) and rotating doors
//! ([`crate::rotating_doors`]) both keep: per door, the attempts in progress keyed by source, and one
//! bound on their total. Pure code: time is passed in, nothing here does I/O.
//!
//! Why this shape:
//! - Each door's attempts are kept in start order, and all of a door's attempts share its timeout, so
//!   expiry ([`Attempts::tick`]) and the next deadline look only at each door's oldest attempt.
//! - When the table is full, the oldest attempt over all doors is evicted (and reported) before a new
//!   one is added: a flood of spoofed sources costs bounded memory and never stops a new knock.
//! - Ended attempts are reported as the doors' own [`Event::Rejected`], with the door's index in the
//!   configuration, so the server logs both kinds of door the same way.
//! - Penalties (the sweep guard, see [`crate::sweep_guard`]): after a wrong hit a source may not start
//!   a new attempt on that door for the door's penalty time. They live in the same table and count
//!   against the same bound, so a spoofed sweep from many sources costs no more memory than attempts
//!   do. All of a door's penalties share its penalty time, so they too expire in insertion order. When
//!   the table is full, the oldest penalty goes before any attempt: forgetting a penalty costs an
//!   attacker's next try a short wait, evicting an attempt costs a user their knock.

use std::hash::{Hash, Hasher};
use std::net::IpAddr;

use hashlink::LinkedHashMap;
use hashlink::linked_hash_map::Entry;

use crate::doors::{Event, Millis, Reason};
use crate::packet;

/// What the table needs to know of an attempt.
pub(crate) trait Attempt {
    /// When its first hit arrived: the door's timeout runs from it.
    fn started(&self) -> Millis;
    /// Hits matched so far.
    fn stage(&self) -> usize;
}

/// A source address as a table key: compared as the address, hashed as one 128-bit number (the table
/// is asked once per packet; hashing the enum and its bytes cost a measurable share of a replay).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
struct Src(IpAddr);

impl Hash for Src {
    fn hash<H: Hasher>(&self, state: &mut H) {
        state.write_u128(match self.0 {
            IpAddr::V4(a) => u128::from(u32::from(a)),
            IpAddr::V6(a) => u128::from(a),
        });
    }
}

/// One door's attempts and penalties, each oldest first.
struct Queue<A> {
    /// The door's index in the configuration (the one events carry).
    door: usize,
    timeout_ms: Millis,
    /// How long a penalised source waits (0: no penalties).
    penalty_ms: Millis,
    attempts: LinkedHashMap<Src, A>,
    /// Penalised sources and when their penalty began.
    penalties: LinkedHashMap<Src, Millis>,
}

impl<A: Attempt> Queue<A> {
    fn is_live(&self, attempt: &A, now: Millis) -> bool {
        now.saturating_sub(attempt.started()) < self.timeout_ms
    }

    fn is_penalised_since(&self, since: Millis, now: Millis) -> bool {
        now.saturating_sub(since) < self.penalty_ms
    }
}

/// A door of an [`Attempts`] table: its index in the configuration, its timeout and its penalty time.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct QueueSpec {
    pub(crate) door: usize,
    pub(crate) timeout_ms: Millis,
    pub(crate) penalty_ms: Millis,
}

/// Attempts in progress on a set of doors, addressed by the door's position in that set (`queue`).
pub(crate) struct Attempts<A> {
    queues: Vec<Queue<A>>,
    max_attempts: usize,
    len: usize,
}

impl<A: Attempt> Attempts<A> {
    /// One queue per door, in the order the caller addresses them; at most `max_attempts` (at least 1)
    /// attempts and penalties over all of them.
    pub(crate) fn new(doors: impl IntoIterator<Item = QueueSpec>, max_attempts: usize) -> Attempts<A> {
        let queues = doors
            .into_iter()
            .map(|d| Queue {
                door: d.door,
                timeout_ms: d.timeout_ms,
                penalty_ms: d.penalty_ms,
                attempts: LinkedHashMap::new(),
                penalties: LinkedHashMap::new(),
            })
            .collect();
        Attempts { queues, max_attempts: max_attempts.max(1), len: 0 }
    }

    /// Attempts in progress and penalties, over all doors (what the bound counts).
    pub(crate) fn len(&self) -> usize {
        self.len
    }

    /// Penalties in force (not yet collected), over all doors.
    #[cfg(test)]
    pub(crate) fn penalties(&self) -> usize {
        self.queues.iter().map(|q| q.penalties.len()).sum()
    }

    /// Whether `src` has an attempt (live or not yet collected) on door `queue`: the cheap first question
    /// the sweep guard asks for every stray packet.
    pub(crate) fn has_attempt(&self, queue: usize, src: IpAddr) -> bool {
        self.queues.get(queue).is_some_and(|q| q.attempts.contains_key(&Src(src)))
    }

    /// Whether `src` is penalised on door `queue` at `now` (an expired penalty is collected here).
    pub(crate) fn is_penalised(&mut self, queue: usize, src: IpAddr, now: Millis) -> bool {
        let Some(q) = self.queues.get_mut(queue) else { return false };
        let Some(&since) = q.penalties.get(&Src(src)) else { return false };
        if q.is_penalised_since(since, now) {
            return true;
        }
        q.penalties.remove(&Src(src));
        self.len -= 1;
        false
    }

    /// Penalises `src` on door `queue` from `now` (after a wrong hit; the caller removed its attempt).
    /// Nothing happens for a door without penalties.
    pub(crate) fn penalise(&mut self, queue: usize, src: IpAddr, now: Millis, events: &mut Vec<Event>) {
        if self.queues.get(queue).is_none_or(|q| q.penalty_ms == 0) {
            return;
        }
        if self.len >= self.max_attempts {
            self.evict_oldest(events);
        }
        if let Some(q) = self.queues.get_mut(queue) {
            // A renewed penalty moves to the back: insertion order stays start order.
            let renewed = q.penalties.remove(&Src(src)).is_some();
            q.penalties.insert(Src(src), now);
            if !renewed {
                self.len += 1;
            }
        }
    }

    /// `src`'s attempt on door `queue`, if its timeout has not passed at `now`.
    pub(crate) fn live(&self, queue: usize, src: IpAddr, now: Millis) -> Option<&A> {
        let q = self.queues.get(queue)?;
        q.attempts.get(&Src(src)).filter(|a| q.is_live(a, now))
    }

    /// Reports a hit whose TCP flags door `queue` does not accept, at the stage of its source's live
    /// attempt (the hit itself is ignored).
    pub(crate) fn report_flags_ignored(&self, queue: usize, hit: &packet::Hit, now: Millis, events: &mut Vec<Event>) {
        let Some(q) = self.queues.get(queue) else { return };
        let stage = self.live(queue, hit.src, now).map_or(0, Attempt::stage);
        events.push(Event::FlagsIgnored { src: hit.src, door: q.door, stage, flags: hit.flags });
    }

    /// The sweep guard's answer to a stray hit: `src`'s attempt on door `queue`, if live, ends (reported
    /// as [`Reason::Stray`]) and `src` is penalised; an attempt that already timed out is reported as a
    /// timeout, and nothing else happens.
    pub(crate) fn end_for_stray_hit(&mut self, queue: usize, src: IpAddr, now: Millis, events: &mut Vec<Event>) {
        let Some(door) = self.queues.get(queue).map(|q| q.door) else { return };
        let Some(stage) = self.current(queue, src, now, events).map(|a| a.stage()) else { return };
        self.remove(queue, src);
        events.push(Event::Rejected { src, door, stage, reason: Reason::Stray });
        self.penalise(queue, src, now, events);
    }

    /// `src`'s attempt on door `queue` if it is live at `now`. One that timed out but that
    /// [`Attempts::tick`] has not collected yet is ended here, reported as a timeout in order, so that a
    /// late hit is judged afresh (one hash lookup either way: this runs for every hit).
    pub(crate) fn current(
        &mut self,
        queue: usize,
        src: IpAddr,
        now: Millis,
        events: &mut Vec<Event>,
    ) -> Option<&mut A> {
        let q = self.queues.get_mut(queue)?;
        match q.attempts.entry(Src(src)) {
            Entry::Occupied(entry) if now.saturating_sub(entry.get().started()) < q.timeout_ms => {
                Some(entry.into_mut())
            }
            Entry::Occupied(entry) => {
                let old = entry.remove();
                self.len -= 1;
                events.push(Event::Rejected { src, door: q.door, stage: old.stage(), reason: Reason::Timeout });
                None
            }
            Entry::Vacant(_) => None,
        }
    }

    /// Removes `src`'s attempt on door `queue` (it finished or failed; the caller reports why).
    pub(crate) fn remove(&mut self, queue: usize, src: IpAddr) -> Option<A> {
        let removed = self.queues.get_mut(queue)?.attempts.remove(&Src(src));
        if removed.is_some() {
            self.len -= 1;
        }
        removed
    }

    /// Drops every attempt and penalty on door `queue`, unreported (its sequence changed).
    pub(crate) fn clear(&mut self, queue: usize) {
        if let Some(q) = self.queues.get_mut(queue) {
            self.len -= q.attempts.len() + q.penalties.len();
            q.attempts.clear();
            q.penalties.clear();
        }
    }

    /// Adds `src`'s new attempt on door `queue` (the caller has ended any previous one), first evicting
    /// the oldest attempt of all doors when the table is full.
    pub(crate) fn insert(&mut self, queue: usize, src: IpAddr, attempt: A, events: &mut Vec<Event>) {
        if queue >= self.queues.len() {
            return;
        }
        if self.len >= self.max_attempts {
            self.evict_oldest(events);
        }
        if let Some(q) = self.queues.get_mut(queue)
            && q.attempts.insert(Src(src), attempt).is_none()
        {
            self.len += 1;
        }
    }

    /// Makes room for one entry: the oldest penalty of all doors if there is one (unreported: it only
    /// shortens a wait), else the oldest attempt (reported).
    fn evict_oldest(&mut self, events: &mut Vec<Event>) {
        let oldest_penalty =
            self.queues.iter().enumerate().filter_map(|(i, q)| q.penalties.front().map(|(_, &since)| (since, i))).min();
        if let Some((_, index)) = oldest_penalty
            && let Some(q) = self.queues.get_mut(index)
            && q.penalties.pop_front().is_some()
        {
            self.len -= 1;
            return;
        }
        let oldest =
            self.queues.iter().enumerate().filter_map(|(i, q)| q.attempts.front().map(|(_, a)| (a.started(), i))).min();
        if let Some((_, index)) = oldest
            && let Some(q) = self.queues.get_mut(index)
            && let Some((Src(src), attempt)) = q.attempts.pop_front()
        {
            self.len -= 1;
            events.push(Event::Rejected { src, door: q.door, stage: attempt.stage(), reason: Reason::Evicted });
        }
    }

    /// Expires the attempts whose timeout has passed at `now`, reported as timeouts, door by door in
    /// start order; and the penalties that ended, unreported.
    pub(crate) fn tick(&mut self, now: Millis, events: &mut Vec<Event>) {
        for q in &mut self.queues {
            while let Some((_, &since)) = q.penalties.front() {
                if q.is_penalised_since(since, now) {
                    break;
                }
                q.penalties.pop_front();
                self.len -= 1;
            }
            while let Some((_, attempt)) = q.attempts.front() {
                if q.is_live(attempt, now) {
                    break;
                }
                if let Some((Src(src), attempt)) = q.attempts.pop_front() {
                    self.len -= 1;
                    events.push(Event::Rejected { src, door: q.door, stage: attempt.stage(), reason: Reason::Timeout });
                }
            }
        }
    }

    /// When the next timeout falls due, if any attempt is in progress.
    pub(crate) fn next_deadline(&self) -> Option<Millis> {
        self.queues
            .iter()
            .filter_map(|q| q.attempts.front().map(|(_, a)| a.started().saturating_add(q.timeout_ms)))
            .min()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[derive(Debug, Clone, Copy, PartialEq)]
    struct Probe {
        started: Millis,
        stage: usize,
    }

    impl Attempt for Probe {
        fn started(&self) -> Millis {
            self.started
        }
        fn stage(&self) -> usize {
            self.stage
        }
    }

    fn ip(last: u8) -> IpAddr {
        IpAddr::from([203, 0, 113, last])
    }

    fn spec(door: usize, timeout_ms: Millis) -> QueueSpec {
        QueueSpec { door, timeout_ms, penalty_ms: 0 }
    }

    #[test]
    fn penalties_expire_count_against_the_bound_and_go_before_attempts() {
        let mut table = Attempts::new([QueueSpec { door: 2, timeout_ms: 1000, penalty_ms: 50 }, spec(3, 1000)], 3);
        let mut events = Vec::new();
        table.penalise(0, ip(1), 0, &mut events);
        assert!(table.is_penalised(0, ip(1), 49) && !table.is_penalised(1, ip(1), 49));
        assert!(!table.is_penalised(0, ip(1), 50), "a penalty lasts penalty_ms");
        assert_eq!(table.len(), 0, "collected when found expired");
        table.penalise(1, ip(1), 0, &mut events);
        assert_eq!(table.len(), 0, "a door without a penalty time penalises nobody");
        // Full table: penalties are evicted first, silently; then the oldest attempt, reported.
        table.penalise(0, ip(1), 10, &mut events);
        table.penalise(0, ip(2), 11, &mut events);
        table.insert(1, ip(3), Probe { started: 5, stage: 1 }, &mut events);
        table.insert(1, ip(4), Probe { started: 12, stage: 1 }, &mut events);
        assert_eq!(table.len(), 3);
        assert!(!table.is_penalised(0, ip(1), 12) && table.is_penalised(0, ip(2), 12), "the oldest penalty went");
        table.insert(1, ip(5), Probe { started: 13, stage: 1 }, &mut events);
        table.insert(1, ip(6), Probe { started: 14, stage: 1 }, &mut events);
        assert_eq!(rejected(&events), [(ip(3), 3, Reason::Evicted)], "penalties go before attempts");
        assert_eq!(table.len(), 3);
        // A renewed penalty restarts and keeps the count; tick collects ended ones.
        let mut table = Attempts::<Probe>::new([QueueSpec { door: 0, timeout_ms: 1000, penalty_ms: 50 }], 10);
        table.penalise(0, ip(1), 0, &mut events);
        table.penalise(0, ip(2), 10, &mut events);
        table.penalise(0, ip(1), 20, &mut events);
        assert_eq!((table.len(), table.penalties()), (2, 2));
        table.tick(60, &mut events);
        assert_eq!(table.penalties(), 1, "ip(2) ended at 60; ip(1) was renewed at 20");
        assert!(table.is_penalised(0, ip(1), 69));
        table.clear(0);
        assert_eq!(table.len(), 0);
    }

    fn rejected(events: &[Event]) -> Vec<(IpAddr, usize, Reason)> {
        events
            .iter()
            .filter_map(|e| match e {
                Event::Rejected { src, door, reason, .. } => Some((*src, *door, *reason)),
                _ => None,
            })
            .collect()
    }

    #[test]
    fn the_bound_holds_over_all_doors_and_evicts_the_oldest_with_its_doors_id() {
        // Two doors (configuration indexes 4 and 7), a bound of 3 over both.
        let mut table = Attempts::new([spec(4, 1000), spec(7, 1000)], 3);
        let mut events = Vec::new();
        table.insert(1, ip(1), Probe { started: 0, stage: 1 }, &mut events);
        table.insert(0, ip(2), Probe { started: 1, stage: 2 }, &mut events);
        table.insert(1, ip(3), Probe { started: 2, stage: 1 }, &mut events);
        assert!(events.is_empty());
        table.insert(0, ip(4), Probe { started: 3, stage: 1 }, &mut events);
        assert_eq!(rejected(&events), [(ip(1), 7, Reason::Evicted)]);
        table.insert(0, ip(5), Probe { started: 4, stage: 1 }, &mut events);
        assert_eq!(rejected(&events)[1], (ip(2), 4, Reason::Evicted));
        assert_eq!(table.len(), 3);
    }

    #[test]
    fn timeouts_are_per_door_and_collected_in_start_order() {
        let mut table = Attempts::new([spec(0, 100), spec(1, 50)], 10);
        let mut events = Vec::new();
        table.insert(0, ip(1), Probe { started: 0, stage: 1 }, &mut events);
        table.insert(1, ip(2), Probe { started: 10, stage: 3 }, &mut events);
        table.insert(0, ip(3), Probe { started: 20, stage: 1 }, &mut events);
        assert_eq!(table.next_deadline(), Some(60));
        table.tick(59, &mut events);
        assert!(events.is_empty());
        table.tick(100, &mut events);
        assert_eq!(rejected(&events), [(ip(1), 0, Reason::Timeout), (ip(2), 1, Reason::Timeout)]);
        assert_eq!(table.next_deadline(), Some(120));
        assert_eq!(table.len(), 1);
    }

    #[test]
    fn a_stale_attempt_is_not_live_and_expires_on_demand() {
        let mut table = Attempts::new([spec(0, 100)], 10);
        let mut events = Vec::new();
        table.insert(0, ip(1), Probe { started: 0, stage: 2 }, &mut events);
        assert!(table.live(0, ip(1), 99).is_some());
        assert!(table.current(0, ip(1), 99, &mut events).is_some());
        assert!(events.is_empty(), "a live attempt stays");
        assert!(table.live(0, ip(1), 100).is_none());
        assert!(table.current(0, ip(1), 100, &mut events).is_none());
        assert_eq!(events, [Event::Rejected { src: ip(1), door: 0, stage: 2, reason: Reason::Timeout }]);
        assert_eq!((table.len(), table.next_deadline()), (0, None));
    }

    #[test]
    fn remove_clear_and_unknown_doors_keep_the_count_right() {
        let mut table = Attempts::new([spec(0, 100), spec(1, 100)], 10);
        let mut events = Vec::new();
        for i in 1..=3 {
            table.insert(0, ip(i), Probe { started: 0, stage: 1 }, &mut events);
        }
        table.insert(1, ip(9), Probe { started: 0, stage: 1 }, &mut events);
        table.insert(5, ip(9), Probe { started: 0, stage: 1 }, &mut events);
        assert_eq!(table.len(), 4, "an unknown door adds nothing");
        assert!(table.remove(0, ip(1)).is_some() && table.remove(0, ip(1)).is_none());
        table.clear(0);
        assert_eq!(table.len(), 1);
        assert!(table.current(1, ip(9), 0, &mut events).is_some() && table.current(9, ip(9), 0, &mut events).is_none());
        assert!(events.is_empty());
    }
}
