//! The order of a door's work for one source, as pure code (time passed in, no I/O), so the rules are
//! unit tests:
//!
//! - **Per (door, source) ordering.** A stop never starts before its start finished: a stop that falls
//!   due while the start still runs waits for it. A knock that arrives while the stop runs starts again
//!   only after the stop finished.
//! - **Extension, not a second start.** While a door that closes itself (a stop command, or an nftables
//!   set whose elements expire) is open for a source, a new opening moves the stop later instead of
//!   running the start again (the caller refreshes the nftables element, with at most one refresh
//!   running per (door, source): a refresh already running carries the extension). Doors with only a
//!   start command keep knockd's behaviour: every opening runs it, but **a source whose start still runs
//!   on a door does not start it again** ([`Decision::Busy`]): one source never holds two slots of one
//!   door.
//! - **A cap on running work, shared fairly between doors.** At most `max_running` jobs (a start, a
//!   stop, an nftables refresh) run at once (`--max-commands`). Each door declared with
//!   [`Scheduler::set_doors`] has a **reserve** of `max(1, max_running / (2 × doors))` slots that other
//!   doors' jobs never take: a job of door D may run when a slot is free and either D runs fewer jobs
//!   than its reserve, or the free slots left after it still cover every other door's unused reserve.
//!   So a flood of one door can take at most `max_running − (doors − 1) × reserve` slots, and every
//!   other door always has its reserve for its own users; a single busy door still uses the whole cap
//!   when the others are idle. (With more doors than `max_running`, reserves of 1 add up to more than
//!   the cap: the cap still holds, and a door is then only sure of its slot while some are free.) Jobs
//!   of a door not declared (removed by a reload while its stops are pending) count against the cap and
//!   may use one slot as their reserve.
//!   A new opening that cannot run is refused (never queued without bound); a stop that cannot run waits
//!   for a slot its door may use (stops are never dropped) and is served before new openings.
//! - **Shutdown.** Every open door's stop falls due at once; a start still running is waited for, then
//!   stopped. No new opening is accepted.

use std::collections::{HashMap, HashSet};
use std::net::IpAddr;
use std::time::{Duration, Instant};

/// A door and a source. The door is named and told apart by its header line (two doors may share a
/// name, as in knockd).
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub(crate) struct Key {
    pub(crate) door: String,
    pub(crate) line: usize,
    pub(crate) source: IpAddr,
}

impl Key {
    fn door_id(&self) -> DoorId {
        (self.door.clone(), self.line)
    }
}

/// A door: its name and the line of its header.
pub(crate) type DoorId = (String, usize);

/// What the caller must do about a new opening.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Decision {
    /// Run the start job (a slot is now taken).
    Start,
    /// Already open: the stop moved to the new time. `refresh` says a job was granted to refresh the
    /// nftables element (a slot is now taken).
    Extend { refresh: bool },
    /// The door's stop is running: the start runs after it (see [`Job::Start`] from [`Scheduler::next_jobs`]).
    AfterStop,
    /// A door without a stop whose start still runs for this source: not started a second time.
    Busy,
    /// No slot this door may use: nothing runs.
    Refused,
}

/// Work the caller must start now (each takes a slot until [`Scheduler::finished`]).
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum Job<S> {
    Stop { key: Key, stop: S },
    Start { key: Key, start: S },
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum JobKind {
    /// The start of a door that closes itself (its stop follows).
    Start,
    Stop,
    /// An extension's nftables refresh.
    Refresh,
    /// The start of a door without a stop.
    Once,
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
    /// An nftables refresh job runs for it.
    refreshing: bool,
    /// The start job's payload (run again after a stop, for a knock that came while it ran).
    start: S,
    /// The stop job's payload (None: nothing to run at the end, e.g. an nftables element the kernel expires).
    stop: Option<S>,
}

#[derive(Debug)]
pub(crate) struct Scheduler<S> {
    openings: HashMap<Key, Opening<S>>,
    /// Doors without a stop whose start runs for a source (one at a time per source).
    once_running: HashSet<Key>,
    running: usize,
    max_running: usize,
    /// Jobs running per door.
    door_running: HashMap<DoorId, usize>,
    /// The doors that have a reserve (see the module docs).
    doors: Vec<DoorId>,
    reserve: usize,
    shutting_down: bool,
    /// No stop falls due before this (a lower bound: extensions only move stops later), so the event
    /// loop does not scan every opening on every packet.
    earliest: Option<Instant>,
    /// Something changed that may let a job run (a job finished, shutdown began).
    dirty: bool,
}

impl<S: Clone> Scheduler<S> {
    pub(crate) fn new(max_running: usize) -> Scheduler<S> {
        Scheduler {
            openings: HashMap::new(),
            once_running: HashSet::new(),
            running: 0,
            max_running: max_running.max(1),
            door_running: HashMap::new(),
            doors: Vec::new(),
            reserve: 1,
            shutting_down: false,
            earliest: None,
            dirty: false,
        }
    }

    /// The doors that run jobs (each gets its reserve of the cap; see the module docs). Called again
    /// after a reload; jobs already running keep their slots.
    pub(crate) fn set_doors(&mut self, doors: impl IntoIterator<Item = DoorId>) {
        self.doors = doors.into_iter().collect();
        self.doors.sort();
        self.doors.dedup();
        self.reserve = (self.max_running / (2 * self.doors.len().max(1))).max(1);
        self.dirty = true;
    }

    /// Each door's reserve of slots.
    pub(crate) fn reserve(&self) -> usize {
        self.reserve
    }

    fn note_due(&mut self, due: Instant) {
        self.earliest = Some(self.earliest.map_or(due, |e| e.min(due)));
    }

    /// Jobs running now.
    pub(crate) fn running(&self) -> usize {
        self.running
    }

    /// Jobs of `door` running now.
    pub(crate) fn running_for(&self, door: &str, line: usize) -> usize {
        self.door_running.get(&(door.to_owned(), line)).copied().unwrap_or(0)
    }

    /// Doors open (or opening, or closing) for some source.
    #[cfg(test)]
    pub(crate) fn open_count(&self) -> usize {
        self.openings.len()
    }

    /// Whether a job of `door` may take a slot now (the cap and the other doors' reserves).
    fn may_run(&self, door: &DoorId) -> bool {
        if self.running >= self.max_running {
            return false;
        }
        let own = self.door_running.get(door).copied().unwrap_or(0);
        if own < self.reserve {
            return true;
        }
        let free_after = self.max_running - self.running - 1;
        let others_unused: usize = self
            .doors
            .iter()
            .filter(|d| *d != door)
            .map(|d| self.reserve.saturating_sub(self.door_running.get(d).copied().unwrap_or(0)))
            .sum();
        free_after >= others_unused
    }

    fn take(&mut self, door: DoorId) {
        self.running += 1;
        *self.door_running.entry(door).or_insert(0) += 1;
    }

    /// A completed knock. `hold`: how long the door stays open (`None` for a door that does not close
    /// itself: every opening runs the start). `stop`: what to run at the end. `refresh_on_extend`: an
    /// extension needs a job (an nftables refresh).
    pub(crate) fn open(
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
        let door = key.door_id();
        let Some(hold) = hold else {
            if self.once_running.contains(&key) {
                return Decision::Busy;
            }
            if !self.may_run(&door) {
                return Decision::Refused;
            }
            self.take(door);
            self.once_running.insert(key);
            return Decision::Start;
        };
        let may_run = self.may_run(&door);
        if let Some(opening) = self.openings.get_mut(&key) {
            match &mut opening.phase {
                Phase::Starting | Phase::Open => {
                    let refresh = refresh_on_extend && !opening.refreshing;
                    if refresh && !may_run {
                        return Decision::Refused;
                    }
                    opening.stop_due = later(now, hold);
                    opening.hold = hold;
                    if refresh {
                        opening.refreshing = true;
                        self.take(door);
                    }
                    return Decision::Extend { refresh };
                }
                Phase::Stopping { reopen } => {
                    *reopen = Some(hold);
                    return Decision::AfterStop;
                }
                Phase::StartPending => return Decision::AfterStop,
            }
        }
        if !may_run {
            return Decision::Refused;
        }
        self.note_due(later(now, hold));
        self.openings.insert(
            key,
            Opening { phase: Phase::Starting, stop_due: later(now, hold), hold, refreshing: false, start, stop },
        );
        self.take(door);
        Decision::Start
    }

    /// A job ended (whatever its outcome): its slot is free, and a finished start lets its stop run.
    pub(crate) fn finished(&mut self, key: &Key, kind: JobKind, now: Instant) {
        self.running = self.running.saturating_sub(1);
        let door = key.door_id();
        if let Some(count) = self.door_running.get_mut(&door) {
            *count = count.saturating_sub(1);
            if *count == 0 {
                self.door_running.remove(&door);
            }
        }
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
            JobKind::Refresh => {
                if let Some(opening) = self.openings.get_mut(key) {
                    opening.refreshing = false;
                }
            }
            JobKind::Once => {
                self.once_running.remove(key);
            }
        }
    }

    /// The jobs to start at `now`, as slots allow: due stops first (oldest first), then starts that
    /// waited for a stop. Openings with nothing to run at the end are forgotten when they fall due.
    pub(crate) fn next_jobs(&mut self, now: Instant) -> Vec<Job<S>> {
        if !self.dirty && self.earliest.is_none_or(|e| e > now) {
            return Vec::new();
        }
        self.dirty = false;
        self.openings
            .retain(|_, o| !(matches!(o.phase, Phase::Open) && o.stop.is_none() && o.stop_due <= now && !o.refreshing));
        let mut due: Vec<(Instant, Key)> = self
            .openings
            .iter()
            .filter(|(_, o)| matches!(o.phase, Phase::Open) && o.stop.is_some() && o.stop_due <= now)
            .map(|(k, o)| (o.stop_due, k.clone()))
            .collect();
        due.sort();
        let mut jobs = Vec::new();
        for (_, key) in due {
            let door = key.door_id();
            if !self.may_run(&door) {
                // Waits for a slot its door may use (see `finished`, which marks the scheduler dirty).
                self.dirty = true;
                continue;
            }
            if let Some(opening) = self.openings.get_mut(&key)
                && let Some(stop) = opening.stop.clone()
            {
                opening.phase = Phase::Stopping { reopen: None };
                self.take(door);
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
            let door = key.door_id();
            if !self.may_run(&door) {
                self.dirty = true;
                continue;
            }
            if let Some(opening) = self.openings.get_mut(&key) {
                opening.phase = Phase::Starting;
                opening.stop_due = later(now, opening.hold);
                jobs.push(Job::Start { key, start: opening.start.clone() });
                self.take(door);
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
    pub(crate) fn next_due(&self) -> Option<Instant> {
        self.earliest
    }

    /// From now on no opening is accepted and every open door's stop is due now.
    pub(crate) fn begin_shutdown(&mut self, now: Instant) {
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
    pub(crate) fn is_idle(&self) -> bool {
        self.running == 0 && self.openings.values().all(|o| o.stop.is_none() && matches!(o.phase, Phase::Open))
    }

    /// The (door, source) pairs whose stop has not finished (at exit: doors that may stay open).
    pub(crate) fn unstopped(&self) -> Vec<Key> {
        let mut keys: Vec<Key> =
            self.openings.iter().filter(|(_, o)| o.stop.is_some()).map(|(k, _)| k.clone()).collect();
        keys.sort();
        keys
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
        // One refresh at a time per source: a refresh already running carries the extension.
        assert_eq!(s.open(key(A), t0, S10, "start", None, true), Decision::Extend { refresh: false });
        assert_eq!(s.running(), 2);
        s.finished(&key(A), JobKind::Refresh, t0);
        assert_eq!(s.open(key(A), t0, S10, "start", None, true), Decision::Extend { refresh: true });
    }

    #[test]
    fn doors_without_a_stop_run_every_start_like_knockd() {
        let t0 = Instant::now();
        let mut s = Scheduler::<&str>::new(10);
        assert_eq!(s.open(key(A), t0, None, "start", None, false), Decision::Start);
        s.finished(&key(A), JobKind::Once, t0);
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
        s.finished(&key("192.0.2.5"), JobKind::Once, late);
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

    fn door_key(door: &str, line: usize, src: IpAddr) -> Key {
        Key { door: door.to_owned(), line, source: src }
    }

    /// Distinct spoofed IPv6 sources.
    fn spoofed(i: u32) -> IpAddr {
        IpAddr::V6(std::net::Ipv6Addr::new(0x2001, 0xdb8, 0xbad, 0, 0, 0, (i >> 16) as u16, i as u16))
    }

    fn two_doors(cap: usize) -> Scheduler<&'static str> {
        let mut s = Scheduler::new(cap);
        s.set_doors([("ssh".to_owned(), 1), ("web".to_owned(), 9)]);
        s
    }

    #[test]
    fn a_flood_of_one_door_never_refuses_another_doors_first_opening() {
        let t0 = Instant::now();
        for (cap, hold) in [(64, None), (64, S10), (8, S10), (2, None), (3, S10)] {
            let mut s = two_doors(cap);
            // 1,000 spoofed sources complete door "ssh"; none of their starts finishes (they take 2 s).
            let mut started = 0;
            for i in 0..1000 {
                let decision = s.open(door_key("ssh", 1, spoofed(i)), t0, hold, "start", Some("stop"), false);
                started += usize::from(decision == Decision::Start);
            }
            assert_eq!(started, cap - s.reserve(), "cap {cap}: the flood takes all but the other door's reserve");
            assert_eq!(s.running_for("ssh", 1), started);
            // A real user of the other door opens at once...
            let user = door_key("web", 9, "192.0.2.1".parse().expect("ip"));
            assert_eq!(s.open(user, t0, hold, "start", Some("stop"), false), Decision::Start, "cap {cap}");
            // ...and so do the next ones, up to the door's reserve.
            for i in 1..s.reserve() {
                let user = door_key("web", 9, spoofed(5000 + i as u32));
                assert_eq!(s.open(user, t0, hold, "start", Some("stop"), false), Decision::Start, "cap {cap}");
            }
            assert_eq!(s.running(), cap);
        }
        // The old global cap (no door declared): the flood takes every slot and the other door's user
        // is refused.
        let mut s = Scheduler::new(64);
        for i in 0..1000 {
            s.open(door_key("ssh", 1, spoofed(i)), t0, S10, "start", Some("stop"), false);
        }
        let user = door_key("web", 9, "192.0.2.1".parse().expect("ip"));
        assert_eq!(s.open(user, t0, S10, "start", Some("stop"), false), Decision::Refused);
    }

    #[test]
    fn a_single_busy_door_still_uses_the_whole_cap_and_other_doors_keep_their_reserve() {
        let t0 = Instant::now();
        let mut s = Scheduler::new(64);
        s.set_doors([("ssh".to_owned(), 1)]);
        let started = (0..100)
            .filter(|i| s.open(door_key("ssh", 1, spoofed(*i)), t0, S10, "s", Some("p"), false) == Decision::Start)
            .count();
        assert_eq!(started, 64, "one door: the whole cap");
        // Four doors: the reserve is 64 / 8 = 8 each; a flood of one takes 64 - 3 x 8 = 40.
        let mut s = Scheduler::new(64);
        s.set_doors((1..=4).map(|line| ("door".to_owned(), line)));
        assert_eq!(s.reserve(), 8);
        let started = (0..100)
            .filter(|i| s.open(door_key("door", 1, spoofed(*i)), t0, S10, "s", Some("p"), false) == Decision::Start)
            .count();
        assert_eq!(started, 40);
        // A second door's flood takes its reserve and nothing of the last two doors' reserves.
        let started = (0..100)
            .filter(|i| s.open(door_key("door", 2, spoofed(*i)), t0, S10, "s", Some("p"), false) == Decision::Start)
            .count();
        assert_eq!(started, 8);
        for line in [3, 4] {
            for i in 0..8 {
                let d = s.open(door_key("door", line, spoofed(i)), t0, S10, "s", Some("p"), false);
                assert_eq!(d, Decision::Start, "door {line}, user {i}");
            }
        }
        assert_eq!(s.running(), 64);
    }

    #[test]
    fn a_source_still_starting_a_door_without_a_stop_does_not_take_a_second_slot() {
        let t0 = Instant::now();
        let mut s = two_doors(64);
        assert_eq!(s.open(door_key("ssh", 1, spoofed(1)), t0, None, "start", None, false), Decision::Start);
        for _ in 0..100 {
            assert_eq!(s.open(door_key("ssh", 1, spoofed(1)), t0, None, "start", None, false), Decision::Busy);
        }
        assert_eq!(s.running(), 1);
        // Another door is another slot; once the start finished, the next completion runs it again.
        assert_eq!(s.open(door_key("web", 9, spoofed(1)), t0, None, "start", None, false), Decision::Start);
        s.finished(&door_key("ssh", 1, spoofed(1)), JobKind::Once, t0);
        assert_eq!(s.open(door_key("ssh", 1, spoofed(1)), t0, None, "start", None, false), Decision::Start);
    }

    #[test]
    fn a_flooded_doors_stops_wait_for_its_own_slots_and_are_never_dropped() {
        let t0 = Instant::now();
        let mut s = two_doors(8);
        let flood: Vec<Key> = (0..6).map(|i| door_key("ssh", 1, spoofed(i))).collect();
        for k in &flood {
            assert_eq!(s.open(k.clone(), t0, S10, "start", Some("stop"), false), Decision::Start);
            s.finished(k, JobKind::Start, t0);
        }
        // Six more flood openings hold ssh's slots when the first six stops fall due.
        for i in 6..12 {
            assert_eq!(s.open(door_key("ssh", 1, spoofed(i)), t0, S10, "s", Some("p"), false), Decision::Start);
        }
        let due = t0 + Duration::from_secs(10);
        assert!(s.next_jobs(due).is_empty(), "ssh may not take web's reserve for its stops");
        let user = door_key("web", 9, "192.0.2.1".parse().expect("ip"));
        assert_eq!(s.open(user, due, S10, "start", Some("stop"), false), Decision::Start);
        s.finished(&door_key("ssh", 1, spoofed(6)), JobKind::Start, due);
        assert_eq!(s.next_jobs(due).len(), 1, "one ssh slot free: one stop");
        for i in 7..12 {
            s.finished(&door_key("ssh", 1, spoofed(i)), JobKind::Start, due);
        }
        assert_eq!(s.next_jobs(due).len(), 5, "every stop runs once its door has slots");
        assert_eq!(s.unstopped().len(), 13, "12 ssh openings and web's, none dropped");
    }
}
