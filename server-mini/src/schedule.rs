//! The order of a door's work for one source, as pure code (time passed in, no I/O), so the rules are
//! unit tests:
//!
//! - **Per (door, source) ordering.** A stop never starts before its start finished: a stop that falls
//!   due while the start still runs waits for it. A knock that arrives while the stop runs starts again
//!   only after the stop finished.
//! - **Extension, not a second start.** While a door that closes itself (a stop command, or an nftables
//!   set whose elements expire) is open for a source, a new opening moves the stop later instead of
//!   running the start again (the caller refreshes the nftables element). Doors with only a start command
//!   keep knockd's behaviour: every opening runs it.
//! - **A cap on running work.** At most `max_running` jobs (a start, a stop, an nftables refresh) run at
//!   once. A new opening beyond it is refused (never queued without bound); a stop that falls due at the
//!   cap waits for a free slot (stops are never dropped) and is served before new openings.
//! - **Shutdown.** Every open door's stop falls due at once; a start still running is waited for, then
//!   stopped. No new opening is accepted.

use std::collections::HashMap;
use std::net::IpAddr;
use std::time::{Duration, Instant};

/// A door and a source. The door is named and told apart by its header line (two doors may share a
/// name, as in knockd).
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct Key {
    pub door: String,
    pub line: usize,
    pub source: IpAddr,
}

/// What the caller must do about a new opening.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Decision {
    /// Run the start job (a slot is now taken).
    Start,
    /// Already open: the stop moved to the new time. `refresh` says a job was granted to refresh the
    /// nftables element (a slot is now taken).
    Extend { refresh: bool },
    /// The door's stop is running: the start runs after it (see [`Job::Start`] from [`Scheduler::next_jobs`]).
    AfterStop,
    /// At the cap: nothing runs.
    Refused,
}

/// Work the caller must start now (each takes a slot until [`Scheduler::finished`]).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Job<S> {
    Stop { key: Key, stop: S },
    Start { key: Key, start: S },
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum JobKind {
    Start,
    Stop,
    /// An extension's nftables refresh, or the start of a door without a stop.
    Other,
}

#[derive(Debug)]
enum Phase {
    /// The start job runs.
    Starting,
    /// Started; the stop (if any) runs at `stop_due`.
    Open,
    /// The stop job runs; `reopen` holds a knock that came meanwhile.
    Stopping { reopen: Option<Duration> },
    /// Waiting for a slot to start again after a stop.
    StartPending,
}

#[derive(Debug)]
struct Opening<S> {
    phase: Phase,
    stop_due: Instant,
    hold: Duration,
    /// The start job's payload (run again after a stop, for a knock that came while it ran).
    start: S,
    /// The stop job's payload (None: nothing to run at the end, e.g. an nftables element the kernel expires).
    stop: Option<S>,
}

#[derive(Debug)]
pub struct Scheduler<S> {
    openings: HashMap<Key, Opening<S>>,
    running: usize,
    max_running: usize,
    shutting_down: bool,
    /// No stop falls due before this (a lower bound: extensions only move stops later), so the event
    /// loop does not scan every opening on every packet.
    earliest: Option<Instant>,
    /// Something changed that may let a job run (a job finished, shutdown began).
    dirty: bool,
}

impl<S: Clone> Scheduler<S> {
    pub fn new(max_running: usize) -> Scheduler<S> {
        Scheduler {
            openings: HashMap::new(),
            running: 0,
            max_running: max_running.max(1),
            shutting_down: false,
            earliest: None,
            dirty: false,
        }
    }

    fn note_due(&mut self, due: Instant) {
        self.earliest = Some(self.earliest.map_or(due, |e| e.min(due)));
    }

    /// Jobs running now.
    pub fn running(&self) -> usize {
        self.running
    }

    /// Doors open (or opening, or closing) for some source.
    pub fn open_count(&self) -> usize {
        self.openings.len()
    }

    fn has_slot(&self) -> bool {
        self.running < self.max_running
    }

    /// A completed knock. `hold`: how long the door stays open (`None` for a door that does not close
    /// itself: every opening runs the start). `stop`: what to run at the end. `refresh_on_extend`: an
    /// extension needs a job (an nftables refresh).
    pub fn open(
        &mut self,
        key: Key,
        now: Instant,
        hold: Option<Duration>,
        start: S,
        stop: Option<S>,
        refresh_on_extend: bool,
    ) -> Decision {
        if self.shutting_down {
            return Decision::Refused;
        }
        let Some(hold) = hold else {
            return self.take_slot(Decision::Start);
        };
        let has_slot = self.has_slot();
        if let Some(opening) = self.openings.get_mut(&key) {
            match &mut opening.phase {
                Phase::Starting | Phase::Open => {
                    if refresh_on_extend && !has_slot {
                        return Decision::Refused;
                    }
                    opening.stop_due = later(now, hold);
                    opening.hold = hold;
                    return if refresh_on_extend {
                        self.take_slot(Decision::Extend { refresh: true })
                    } else {
                        Decision::Extend { refresh: false }
                    };
                }
                Phase::Stopping { reopen } => {
                    *reopen = Some(hold);
                    return Decision::AfterStop;
                }
                Phase::StartPending => return Decision::AfterStop,
            }
        }
        if !has_slot {
            return Decision::Refused;
        }
        self.note_due(later(now, hold));
        self.openings.insert(key, Opening { phase: Phase::Starting, stop_due: later(now, hold), hold, start, stop });
        self.take_slot(Decision::Start)
    }

    fn take_slot(&mut self, decision: Decision) -> Decision {
        if !self.has_slot() {
            return Decision::Refused;
        }
        self.running += 1;
        decision
    }

    /// A job ended (whatever its outcome): its slot is free, and a finished start lets its stop run.
    pub fn finished(&mut self, key: &Key, kind: JobKind, now: Instant) {
        self.running = self.running.saturating_sub(1);
        self.dirty = true;
        match kind {
            JobKind::Start => {
                if let Some(opening) = self.openings.get_mut(key)
                    && matches!(opening.phase, Phase::Starting)
                {
                    opening.phase = Phase::Open;
                    if self.shutting_down {
                        opening.stop_due = now;
                    }
                    let due = opening.stop_due;
                    self.note_due(due);
                }
            }
            JobKind::Stop => {
                let reopen = match self.openings.get(key).map(|o| &o.phase) {
                    Some(Phase::Stopping { reopen }) => *reopen,
                    _ => None,
                };
                match reopen {
                    Some(hold) if !self.shutting_down => {
                        if let Some(opening) = self.openings.get_mut(key) {
                            opening.phase = Phase::StartPending;
                            opening.hold = hold;
                        }
                    }
                    _ => {
                        self.openings.remove(key);
                    }
                }
            }
            JobKind::Other => {}
        }
    }

    /// The jobs to start at `now`, as slots allow: due stops first (oldest first), then starts that
    /// waited for a stop. Openings with nothing to run at the end are forgotten when they fall due.
    pub fn next_jobs(&mut self, now: Instant) -> Vec<Job<S>> {
        if !self.dirty && self.earliest.is_none_or(|e| e > now) {
            return Vec::new();
        }
        self.dirty = false;
        self.openings.retain(|_, o| !(matches!(o.phase, Phase::Open) && o.stop.is_none() && o.stop_due <= now));
        let mut due: Vec<(Instant, Key)> = self
            .openings
            .iter()
            .filter(|(_, o)| matches!(o.phase, Phase::Open) && o.stop_due <= now)
            .map(|(k, o)| (o.stop_due, k.clone()))
            .collect();
        due.sort();
        let mut jobs = Vec::new();
        for (_, key) in due {
            if !self.has_slot() {
                self.dirty = true;
                self.recompute_earliest();
                return jobs;
            }
            if let Some(opening) = self.openings.get_mut(&key)
                && let Some(stop) = opening.stop.clone()
            {
                opening.phase = Phase::Stopping { reopen: None };
                self.running += 1;
                jobs.push(Job::Stop { key, stop });
            }
        }
        if self.shutting_down {
            self.recompute_earliest();
            return jobs;
        }
        let pending: Vec<Key> = self
            .openings
            .iter()
            .filter(|(_, o)| matches!(o.phase, Phase::StartPending))
            .map(|(k, _)| k.clone())
            .collect();
        for key in pending {
            if !self.has_slot() {
                self.dirty = true;
                break;
            }
            if let Some(opening) = self.openings.get_mut(&key) {
                opening.phase = Phase::Starting;
                opening.stop_due = later(now, opening.hold);
                self.running += 1;
                jobs.push(Job::Start { key, start: opening.start.clone() });
            }
        }
        self.recompute_earliest();
        jobs
    }

    /// Only open doors have a stop to wait for; a running start or stop ends with [`Self::finished`],
    /// which marks the scheduler dirty.
    fn recompute_earliest(&mut self) {
        self.earliest = self.openings.values().filter(|o| matches!(o.phase, Phase::Open)).map(|o| o.stop_due).min();
    }

    /// When the next stop falls due (for the event loop's sleep).
    pub fn next_due(&self) -> Option<Instant> {
        self.earliest
    }

    /// From now on no opening is accepted and every open door's stop is due now.
    pub fn begin_shutdown(&mut self, now: Instant) {
        self.shutting_down = true;
        self.dirty = true;
        self.openings.retain(|_, o| !matches!(o.phase, Phase::StartPending));
        for opening in self.openings.values_mut() {
            if matches!(opening.phase, Phase::Open) {
                opening.stop_due = now;
            }
            if let Phase::Stopping { reopen } = &mut opening.phase {
                *reopen = None;
            }
        }
    }

    /// Nothing runs and no stop is pending (shutdown can end).
    pub fn is_idle(&self) -> bool {
        self.running == 0 && self.openings.values().all(|o| o.stop.is_none() && matches!(o.phase, Phase::Open))
    }
}

/// `now + hold`, saturating instead of panicking (bounded config values make this a formality).
fn later(now: Instant, hold: Duration) -> Instant {
    now.checked_add(hold).unwrap_or(now + Duration::from_secs(604_800))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn key(src: &str) -> Key {
        Key { door: "ssh".to_owned(), line: 1, source: src.parse().expect("ip") }
    }

    const A: &str = "192.0.2.1";
    const B: &str = "192.0.2.2";
    const S10: Option<Duration> = Some(Duration::from_secs(10));

    #[test]
    fn a_stop_never_starts_before_its_start_finished() {
        let t0 = Instant::now();
        let mut s = Scheduler::new(10);
        assert_eq!(s.open(key(A), t0, S10, "start", Some("stop"), false), Decision::Start);
        // The stop falls due while the start is still running (a start slower than Cmd_Timeout).
        assert!(s.next_jobs(t0 + Duration::from_secs(20)).is_empty(), "the start still runs");
        s.finished(&key(A), JobKind::Start, t0 + Duration::from_secs(21));
        assert_eq!(s.next_jobs(t0 + Duration::from_secs(21)), [Job::Stop { key: key(A), stop: "stop" }]);
        s.finished(&key(A), JobKind::Stop, t0 + Duration::from_secs(22));
        assert!(s.is_idle());
    }

    #[test]
    fn at_shutdown_a_running_start_is_waited_for_then_stopped() {
        let t0 = Instant::now();
        let mut s = Scheduler::new(10);
        s.open(key(A), t0, S10, "start", Some("stop"), false);
        s.open(key(B), t0, S10, "start", Some("stop"), false);
        s.finished(&key(B), JobKind::Start, t0);
        s.begin_shutdown(t0 + Duration::from_millis(200));
        let jobs = s.next_jobs(t0 + Duration::from_millis(200));
        assert_eq!(jobs, [Job::Stop { key: key(B), stop: "stop" }], "A's start still runs: no stop for A yet");
        assert_eq!(s.open(key(A), t0, S10, "start", Some("stop"), false), Decision::Refused, "no opening at shutdown");
        s.finished(&key(A), JobKind::Start, t0 + Duration::from_secs(1));
        assert_eq!(s.next_jobs(t0 + Duration::from_secs(1)), [Job::Stop { key: key(A), stop: "stop" }]);
        s.finished(&key(A), JobKind::Stop, t0 + Duration::from_secs(1));
        s.finished(&key(B), JobKind::Stop, t0 + Duration::from_secs(1));
        assert!(s.is_idle());
    }

    #[test]
    fn a_repeat_extends_instead_of_starting_again() {
        let t0 = Instant::now();
        let mut s = Scheduler::new(10);
        assert_eq!(s.open(key(A), t0, S10, "start", Some("stop"), false), Decision::Start);
        s.finished(&key(A), JobKind::Start, t0);
        for i in 1..1000 {
            let now = t0 + Duration::from_millis(i);
            assert_eq!(s.open(key(A), now, S10, "start", Some("stop"), false), Decision::Extend { refresh: false });
        }
        assert!(s.next_jobs(t0 + Duration::from_secs(10)).is_empty(), "the stop moved with the last knock");
        assert_eq!(s.next_jobs(t0 + Duration::from_millis(10_999)).len(), 1);
        // An nftables door: each extension refreshes the element (a job).
        let mut s = Scheduler::<&str>::new(10);
        s.open(key(A), t0, S10, "start", None, true);
        assert_eq!(s.open(key(A), t0, S10, "start", None, true), Decision::Extend { refresh: true });
        assert_eq!(s.running(), 2);
    }

    #[test]
    fn doors_without_a_stop_run_every_start_like_knockd() {
        let t0 = Instant::now();
        let mut s = Scheduler::<&str>::new(10);
        assert_eq!(s.open(key(A), t0, None, "start", None, false), Decision::Start);
        assert_eq!(s.open(key(A), t0, None, "start", None, false), Decision::Start);
        assert_eq!(s.open_count(), 0);
    }

    #[test]
    fn the_cap_refuses_openings_and_delays_stops_without_dropping_them() {
        let t0 = Instant::now();
        let mut s = Scheduler::new(2);
        assert_eq!(s.open(key(A), t0, S10, "start", Some("stop"), false), Decision::Start);
        assert_eq!(s.open(key(B), t0, S10, "start", Some("stop"), false), Decision::Start);
        assert_eq!(s.open(key("192.0.2.3"), t0, S10, "start", Some("stop"), false), Decision::Refused);
        assert_eq!(s.open(key("192.0.2.4"), t0, None, "start", None, false), Decision::Refused);
        s.finished(&key(A), JobKind::Start, t0);
        s.finished(&key(B), JobKind::Start, t0);
        // Two slots, both stops due: both run; a third job must wait.
        let late = t0 + Duration::from_secs(11);
        assert_eq!(s.open(key("192.0.2.5"), late, None, "start", None, false), Decision::Start);
        assert_eq!(s.next_jobs(late).len(), 1, "one slot left");
        assert_eq!(s.running(), 2);
        s.finished(&key("192.0.2.5"), JobKind::Other, late);
        assert_eq!(s.next_jobs(late).len(), 1, "the other stop, once a slot is free");
    }

    #[test]
    fn a_knock_during_the_stop_starts_again_after_it() {
        let t0 = Instant::now();
        let mut s = Scheduler::new(10);
        s.open(key(A), t0, S10, "start", Some("stop"), false);
        s.finished(&key(A), JobKind::Start, t0);
        let due = t0 + Duration::from_secs(10);
        assert_eq!(s.next_jobs(due).len(), 1);
        assert_eq!(s.open(key(A), due, S10, "start", Some("stop"), false), Decision::AfterStop);
        assert!(s.next_jobs(due).is_empty(), "not while the stop runs");
        s.finished(&key(A), JobKind::Stop, due);
        assert_eq!(s.next_jobs(due), [Job::Start { key: key(A), start: "start" }]);
        s.finished(&key(A), JobKind::Start, due);
        assert_eq!(s.next_due(), Some(due + Duration::from_secs(10)));
    }
}
