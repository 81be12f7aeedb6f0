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

use std::net::IpAddr;

use hashlink::LinkedHashMap;
use hashlink::linked_hash_map::Entry;

use crate::doors::{Event, Millis, Reason};
use crate::packet;

/// What the table needs to know of an attempt.
pub trait Attempt {
    /// When its first hit arrived: the door's timeout runs from it.
    fn started(&self) -> Millis;
    /// Hits matched so far.
    fn stage(&self) -> usize;
}

/// One door's attempts, oldest first.
struct Queue<A> {
    /// The door's index in the configuration (the one events carry).
    door: usize,
    timeout_ms: Millis,
    attempts: LinkedHashMap<IpAddr, A>,
}

impl<A: Attempt> Queue<A> {
    fn is_live(&self, attempt: &A, now: Millis) -> bool {
        now.saturating_sub(attempt.started()) < self.timeout_ms
    }
}

/// Attempts in progress on a set of doors, addressed by the door's position in that set (`queue`).
pub struct Attempts<A> {
    queues: Vec<Queue<A>>,
    max_attempts: usize,
    len: usize,
}

impl<A: Attempt> Attempts<A> {
    /// One queue per door, each given as (its index in the configuration, its timeout), in the order
    /// the caller addresses them; at most `max_attempts` (at least 1) attempts over all of them.
    pub fn new(doors: impl IntoIterator<Item = (usize, Millis)>, max_attempts: usize) -> Attempts<A> {
        let queues = doors
            .into_iter()
            .map(|(door, timeout_ms)| Queue { door, timeout_ms, attempts: LinkedHashMap::new() })
            .collect();
        Attempts { queues, max_attempts: max_attempts.max(1), len: 0 }
    }

    /// Attempts in progress, over all doors.
    pub fn len(&self) -> usize {
        self.len
    }

    /// `src`'s attempt on door `queue`, if its timeout has not passed at `now`.
    pub fn live(&self, queue: usize, src: IpAddr, now: Millis) -> Option<&A> {
        let q = self.queues.get(queue)?;
        q.attempts.get(&src).filter(|a| q.is_live(a, now))
    }

    /// Reports a hit whose TCP flags door `queue` does not accept, at the stage of its source's live
    /// attempt (the hit itself is ignored).
    pub fn report_flags_ignored(&self, queue: usize, hit: &packet::Hit, now: Millis, events: &mut Vec<Event>) {
        let Some(q) = self.queues.get(queue) else { return };
        let stage = self.live(queue, hit.src, now).map_or(0, Attempt::stage);
        events.push(Event::FlagsIgnored { src: hit.src, door: q.door, stage, flags: hit.flags });
    }

    /// `src`'s attempt on door `queue` if it is live at `now`. One that timed out but that
    /// [`Attempts::tick`] has not collected yet is ended here, reported as a timeout in order, so that a
    /// late hit is judged afresh (one hash lookup either way: this runs for every hit).
    pub fn current(&mut self, queue: usize, src: IpAddr, now: Millis, events: &mut Vec<Event>) -> Option<&mut A> {
        let q = self.queues.get_mut(queue)?;
        match q.attempts.entry(src) {
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
    pub fn remove(&mut self, queue: usize, src: IpAddr) -> Option<A> {
        let removed = self.queues.get_mut(queue)?.attempts.remove(&src);
        if removed.is_some() {
            self.len -= 1;
        }
        removed
    }

    /// Drops every attempt on door `queue`, unreported (its sequence changed).
    pub fn clear(&mut self, queue: usize) {
        if let Some(q) = self.queues.get_mut(queue) {
            self.len -= q.attempts.len();
            q.attempts.clear();
        }
    }

    /// Adds `src`'s new attempt on door `queue` (the caller has ended any previous one), first evicting
    /// the oldest attempt of all doors when the table is full.
    pub fn insert(&mut self, queue: usize, src: IpAddr, attempt: A, events: &mut Vec<Event>) {
        if queue >= self.queues.len() {
            return;
        }
        if self.len >= self.max_attempts {
            self.evict_oldest(events);
        }
        if let Some(q) = self.queues.get_mut(queue)
            && q.attempts.insert(src, attempt).is_none()
        {
            self.len += 1;
        }
    }

    fn evict_oldest(&mut self, events: &mut Vec<Event>) {
        let oldest =
            self.queues.iter().enumerate().filter_map(|(i, q)| q.attempts.front().map(|(_, a)| (a.started(), i))).min();
        if let Some((_, index)) = oldest
            && let Some(q) = self.queues.get_mut(index)
            && let Some((src, attempt)) = q.attempts.pop_front()
        {
            self.len -= 1;
            events.push(Event::Rejected { src, door: q.door, stage: attempt.stage(), reason: Reason::Evicted });
        }
    }

    /// Expires the attempts whose timeout has passed at `now`, reported as timeouts, door by door in
    /// start order.
    pub fn tick(&mut self, now: Millis, events: &mut Vec<Event>) {
        for q in &mut self.queues {
            while let Some((_, attempt)) = q.attempts.front() {
                if q.is_live(attempt, now) {
                    break;
                }
                if let Some((src, attempt)) = q.attempts.pop_front() {
                    self.len -= 1;
                    events.push(Event::Rejected { src, door: q.door, stage: attempt.stage(), reason: Reason::Timeout });
                }
            }
        }
    }

    /// When the next timeout falls due, if any attempt is in progress.
    pub fn next_deadline(&self) -> Option<Millis> {
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
        let mut table = Attempts::new([(4, 1000), (7, 1000)], 3);
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
        let mut table = Attempts::new([(0, 100), (1, 50)], 10);
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
        let mut table = Attempts::new([(0, 100)], 10);
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
        let mut table = Attempts::new([(0, 100), (1, 100)], 10);
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
