//! Runs: the knocks (with their verify and close checks) and the Diagnose in flight, and what they
//! ended with: each profile's last result, this session's history, and the doors this session opened.

use std::collections::{BTreeSet, HashMap};
use std::net::SocketAddr;
use std::time::{Duration, Instant, SystemTime};

use client_core::{Action, CancellationToken, Diagnosis, ErrorKind, KnockEvent};
use client_core::{KeyringAvailability as Availability, Outcome, Plan, ProfileEvent, ProfileReport};
use serde::{Deserialize, Serialize};

use super::AppState;
use super::notices::{Notice, note_of};
use crate::worker::RunId;

/// How many past knocks the history keeps.
const HISTORY_LIMIT: usize = 500;

/// The last result of a profile, shown in its row; kept across restarts.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, Default)]
pub enum LastResult {
    #[default]
    Never,
    Opened {
        at: SystemTime,
        detail: String,
    },
    /// The verify port answered before knocking: nothing was sent (knocking an open door would stack
    /// a second firewall rule); Force knocks anyway.
    AlreadyOpen {
        at: SystemTime,
        detail: String,
    },
    Sent {
        at: SystemTime,
        detail: String,
    },
    NotOpened {
        at: SystemTime,
        why: String,
    },
    /// The knock was sent but the host cannot be reached (no route, host or network unreachable): not
    /// the same news as a door that stayed shut, and not fixed by another knock.
    Unreachable {
        at: SystemTime,
        why: String,
    },
    Failed {
        at: SystemTime,
        why: String,
    },
    /// A close sequence was sent and the service port no longer answers: the door is shut.
    Closed {
        at: SystemTime,
        detail: String,
    },
    /// A close sequence was sent but the service port still answers.
    StillOpen {
        at: SystemTime,
        why: String,
    },
    /// Only in the history: a cancelled run never replaces a profile's last result.
    Cancelled {
        at: SystemTime,
    },
}

impl LastResult {
    /// The same result without its words (kept across restarts: the state file holds no port).
    pub fn without_words(&self) -> LastResult {
        match self.clone() {
            LastResult::Opened { at, .. } => LastResult::Opened { at, detail: String::new() },
            LastResult::AlreadyOpen { at, .. } => LastResult::AlreadyOpen { at, detail: String::new() },
            LastResult::Sent { at, .. } => LastResult::Sent { at, detail: String::new() },
            LastResult::NotOpened { at, .. } => LastResult::NotOpened { at, why: String::new() },
            LastResult::Unreachable { at, .. } => LastResult::Unreachable { at, why: String::new() },
            LastResult::Closed { at, .. } => LastResult::Closed { at, detail: String::new() },
            LastResult::StillOpen { at, .. } => LastResult::StillOpen { at, why: String::new() },
            LastResult::Failed { at, .. } => LastResult::Failed { at, why: String::new() },
            other => other,
        }
    }
}

/// What a row's status icon says, derived from the running knock and the last result.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Status {
    Never,
    Knocking,
    Open,
    Sent,
    Failed,
}

/// The state of one hit during a knock.
#[derive(Debug, Clone, PartialEq)]
pub enum HitState {
    Pending,
    /// The run ended before this hit was sent.
    NotSent,
    Sent,
    Failed(String),
}

/// Where a running knock is.
#[derive(Debug, Clone, PartialEq)]
pub enum Phase {
    Knocking,
    Verifying { address: SocketAddr, since: Instant, timeout: Duration },
    BackingOff { until: Instant, next_attempt: u32 },
    Done,
}

/// A knock in progress (or just finished) for one profile.
#[derive(Debug, Clone)]
pub struct Run {
    pub id: RunId,
    pub action: Action,
    pub hits: Vec<(String, HitState)>,
    pub attempt: u32,
    pub attempts: u32,
    pub address: Option<SocketAddr>,
    pub phase: Phase,
    /// The run ended because the user cancelled it (shown as its own neutral state).
    pub cancelled: bool,
    /// A close whose port is being checked (false) or was checked (true); true for other runs.
    pub close_checked: bool,
    cancel: CancellationToken,
}

impl Run {
    pub fn is_running(&self) -> bool {
        self.phase != Phase::Done
    }
}

#[derive(Debug, Clone, PartialEq)]
pub struct HistoryEntry {
    pub at: SystemTime,
    pub name: String,
    pub action: Action,
    pub result: LastResult,
}

/// A Diagnose of one profile: running (cancellable) or its result.
#[derive(Debug, Clone)]
pub struct DiagnoseRun {
    pub name: String,
    id: RunId,
    cancel: CancellationToken,
    pub started: Instant,
    /// None while it runs.
    pub result: Option<Result<Diagnosis, client_core::ProfileError>>,
    pub cancelled: bool,
}

impl DiagnoseRun {
    pub fn is_running(&self) -> bool {
        self.result.is_none()
    }
}

/// The runs' state.
#[derive(Debug)]
pub struct Runs {
    /// The last knock of each profile, running or finished (its stepper).
    pub knocks: HashMap<String, Run>,
    /// Each profile's last result (kept across restarts without its words).
    pub last_results: HashMap<String, LastResult>,
    /// This session's knocks, oldest first (the last 500).
    pub history: Vec<HistoryEntry>,
    /// Doors this session opened (open knocks that opened or were sent), for closing them on quit.
    pub opened_here: BTreeSet<String>,
    /// How long after a close sequence its port is checked (the server runs its close command first).
    pub close_settle: Duration,
    /// The last Diagnose, running or done.
    pub diagnosis: Option<DiagnoseRun>,
}

impl Runs {
    pub(super) fn new(last_results: HashMap<String, LastResult>) -> Runs {
        Runs {
            knocks: HashMap::new(),
            last_results,
            history: Vec::new(),
            opened_here: BTreeSet::new(),
            close_settle: Duration::from_secs(1),
            diagnosis: None,
        }
    }

    pub fn last_result(&self, name: &str) -> &LastResult {
        static NEVER: LastResult = LastResult::Never;
        self.last_results.get(name).unwrap_or(&NEVER)
    }

    /// Whether a knock of `name` is running.
    pub fn is_running(&self, name: &str) -> bool {
        self.knocks.get(name).is_some_and(Run::is_running)
    }

    pub fn any_running(&self) -> bool {
        self.knocks.values().any(Run::is_running)
    }

    pub fn diagnosing(&self) -> bool {
        self.diagnosis.as_ref().is_some_and(DiagnoseRun::is_running)
    }

    /// Whether something in the background wants the window to keep repainting (progress, countdowns).
    pub fn any_busy(&self) -> bool {
        self.any_running() || self.diagnosing()
    }

    /// What the row's status icon shows.
    pub fn status(&self, name: &str) -> Status {
        if self.is_running(name) {
            return Status::Knocking;
        }
        match self.last_result(name) {
            LastResult::Never | LastResult::Cancelled { .. } => Status::Never,
            LastResult::Opened { .. } | LastResult::AlreadyOpen { .. } => Status::Open,
            LastResult::Sent { .. } | LastResult::Closed { .. } => Status::Sent,
            LastResult::StillOpen { .. } => Status::Open,
            LastResult::NotOpened { .. } | LastResult::Unreachable { .. } | LastResult::Failed { .. } => Status::Failed,
        }
    }

    /// Forgets a profile's run, result and stepper (it was deleted, or its host changed).
    pub(super) fn forget(&mut self, name: &str) {
        self.last_results.remove(name);
        self.knocks.remove(name);
    }

    /// A knock's progress event.
    pub(super) fn on_progress(&mut self, name: &str, id: RunId, event: &ProfileEvent) {
        let Some(run) = self.knocks.get_mut(name).filter(|r| r.id == id) else { return };
        match event {
            ProfileEvent::AttemptStarted { attempt, attempts } => {
                run.attempt = *attempt;
                run.attempts = *attempts;
                run.phase = Phase::Knocking;
                for hit in &mut run.hits {
                    hit.1 = HitState::Pending;
                }
            }
            ProfileEvent::Knock(KnockEvent::Resolved { address, .. }) => run.address = Some(*address),
            ProfileEvent::Knock(KnockEvent::HitSent { index, .. }) => {
                if let Some(hit) = run.hits.get_mut(*index) {
                    hit.1 = HitState::Sent;
                }
            }
            ProfileEvent::Knock(KnockEvent::HitFailed { index, error, .. }) => {
                if let Some(hit) = run.hits.get_mut(*index) {
                    hit.1 = HitState::Failed(error.clone());
                }
            }
            ProfileEvent::VerifyStarted { address, timeout } => {
                run.phase = Phase::Verifying { address: *address, since: Instant::now(), timeout: *timeout };
            }
            ProfileEvent::VerifyFinished(_) => {}
            ProfileEvent::BackingOff { next_attempt, pause } => {
                run.phase = Phase::BackingOff { until: Instant::now() + *pause, next_attempt: *next_attempt };
            }
            ProfileEvent::WaitingForWindow { seconds } => {
                let until = Instant::now() + Duration::from_secs(*seconds);
                run.phase = Phase::BackingOff { until, next_attempt: run.attempt };
            }
        }
    }
}

/// Starting, cancelling and finishing knocks and Diagnose.
impl AppState {
    /// Starts knocking `name`'s `action` sequence in the background (ignored if one is running). An
    /// open first checks whether the door already answers and then sends nothing, like knock-cli.
    pub fn knock(&mut self, name: &str, action: Action) {
        self.knock_with(name, action, false);
    }

    /// Opens `name` even when its door already answers (knock-cli's `--force`).
    pub fn force_knock(&mut self, name: &str) {
        self.knock_with(name, Action::Open, true);
    }

    fn knock_with(&mut self, name: &str, action: Action, force: bool) {
        if self.runs.is_running(name) {
            return;
        }
        let Some(entry) = self.list.entry(name) else { return };
        let profile = match &entry.profile {
            Ok(profile) => profile,
            Err(err) => {
                self.notices.current = Some(Notice::Error(err.to_string()));
                return;
            }
        };
        let plan = match Plan::new(name, profile, action) {
            Ok(plan) if force => plan.remembering_in(self.files.store()),
            Ok(plan) => plan.remembering_in(self.files.store()).unless_open(),
            Err(err) => {
                self.notices.current = Some(Notice::Error(self.in_app_words(name, &err)));
                return;
            }
        };
        let hits = plan.hit_labels().into_iter().map(|label| (label, HitState::Pending)).collect();
        let attempts = plan.verify.map_or(1, |v| v.attempts.get());
        let cancel = CancellationToken::new();
        let id = self.worker.knock(plan, cancel.clone());
        let run = Run {
            id,
            action,
            hits,
            attempt: 1,
            attempts,
            address: None,
            phase: Phase::Knocking,
            cancelled: false,
            close_checked: true,
            cancel,
        };
        self.runs.knocks.insert(name.to_owned(), run);
    }

    /// A profile error as the app says it: missing keys point to the app's own ways to add them (or to
    /// Unlock when the keyring is locked), never to knock-cli commands; other errors as they are.
    pub fn in_app_words(&self, name: &str, err: &client_core::ProfileError) -> String {
        use client_core::ProfileError as E;
        let locked = matches!(self.system.keyring, Some(Availability::Locked));
        match err {
            E::SpaKeysMissing { .. } | E::RotatingKeyMissing { .. } if locked => {
                format!("{name}: the keyring is locked, so its keys cannot be read: Unlock it, then knock again")
            }
            E::SpaKeysMissing { .. } => {
                format!("{name} has no keys yet: add them with Add keys… (or Edit), then knock again")
            }
            E::RotatingKeyMissing { .. } => format!(
                "{name} has no door key yet: import the knock+rotating:// line your administrator sent \
                 (Import from text…)"
            ),
            other => other.to_string(),
        }
    }

    pub fn cancel(&mut self, name: &str) {
        if let Some(run) = self.runs.knocks.get(name) {
            run.cancel.cancel();
        }
    }

    pub(super) fn on_finished(&mut self, name: &str, id: RunId, report: &ProfileReport) {
        let Some(run) = self.runs.knocks.get_mut(name).filter(|r| r.id == id) else { return };
        run.phase = Phase::Done;
        // Hits still waiting when the run ended were never sent (the name did not resolve, the knock
        // failed before them): their chips say so instead of waiting forever.
        for hit in &mut run.hits {
            if hit.1 == HitState::Pending {
                hit.1 = HitState::NotSent;
            }
        }
        let cancelled = matches!(&report.outcome, Outcome::Failed(e) if e.kind() == ErrorKind::Cancelled);
        run.cancelled = cancelled;
        let mut result = if cancelled { LastResult::Cancelled { at: SystemTime::now() } } else { result_of(report) };
        // Keys that were not there: said the app's way (Add keys…, Unlock), not knock-cli's.
        if let (
            Outcome::Failed(client_core::KnockError::Keys(client_core::KeysError::Unusable(
                client_core::KeyError::Missing(missing),
            ))),
            LastResult::Failed { why, .. },
        ) = (&report.outcome, &mut result)
        {
            *why = self.in_app_words(name, missing);
        }
        // A cancel is the user's choice, not news about the door: the last result stays.
        if !cancelled {
            self.runs.last_results.insert(name.to_owned(), result.clone());
            self.notices.outbox.push(note_of(name, &result));
        }
        if report.was_already_open() {
            // Nothing was sent: no stepper of hits that never left.
            self.runs.knocks.remove(name);
        }
        // A close of a profile that verifies: check that the port stopped answering (honest "closed").
        if let (Action::Close, Outcome::Sent, Some(verify), Some(address)) =
            (report.action, &report.outcome, self.list.profile(name).and_then(|p| p.verify), report.address())
        {
            let port = SocketAddr::new(address.ip(), verify.port.get());
            let budget = Duration::from_millis(verify.timeout_ms.clamp(200, 5000));
            self.worker.check_closed(name.to_owned(), id, port, self.runs.close_settle, budget);
            if let Some(run) = self.runs.knocks.get_mut(name) {
                run.close_checked = false;
            }
        }
        match (report.action, &report.outcome) {
            (Action::Open, Outcome::Opened | Outcome::Sent) if !report.was_already_open() => {
                self.runs.opened_here.insert(name.to_owned());
            }
            (Action::Close, Outcome::Sent) => {
                self.runs.opened_here.remove(name);
            }
            _ => {}
        }
        let history = &mut self.runs.history;
        history.push(HistoryEntry { at: SystemTime::now(), name: name.to_owned(), action: report.action, result });
        if history.len() > HISTORY_LIMIT {
            history.remove(0);
        }
    }

    /// A door's close was checked: its last result says whether the port stopped answering.
    pub(super) fn on_closed_checked(
        &mut self,
        name: &str,
        run: RunId,
        address: SocketAddr,
        state: &client_core::PortState,
    ) {
        if self.runs.knocks.get(name).is_none_or(|r| r.id != run) {
            return;
        }
        let at = SystemTime::now();
        let result = match state {
            client_core::PortState::Answers => LastResult::StillOpen {
                at,
                why: format!(
                    "the close sequence was sent, but port {} of {} still answers",
                    address.port(),
                    address.ip()
                ),
            },
            _ => LastResult::Closed {
                at,
                detail: format!("port {} of {} no longer answers", address.port(), address.ip()),
            },
        };
        self.notices.outbox.push(note_of(name, &result));
        self.runs.last_results.insert(name.to_owned(), result);
        if let Some(run) = self.runs.knocks.get_mut(name) {
            run.close_checked = true;
        }
    }

    /// "Diagnose": runs knock-cli doctor's checks on `name` in the background (it knocks at most once).
    pub fn diagnose(&mut self, name: &str) {
        if self.runs.diagnosing() {
            return;
        }
        let Some(profile) = self.list.profile(name).cloned() else { return };
        let cancel = CancellationToken::new();
        let id = self.worker.diagnose(name.to_owned(), profile, cancel.clone());
        self.runs.diagnosis = Some(DiagnoseRun {
            name: name.to_owned(),
            id,
            cancel,
            started: Instant::now(),
            result: None,
            cancelled: false,
        });
    }

    /// Stops a running Diagnose; what it found so far is not shown (it would be misleading).
    pub fn cancel_diagnosis(&mut self) {
        if let Some(run) = self.runs.diagnosis.as_mut().filter(|r| r.is_running()) {
            run.cancel.cancel();
            run.cancelled = true;
        }
    }

    pub fn close_diagnosis(&mut self) {
        self.cancel_diagnosis();
        self.runs.diagnosis = None;
    }

    pub(super) fn on_diagnosed(
        &mut self,
        name: &str,
        run: RunId,
        result: Result<Diagnosis, client_core::ProfileError>,
    ) {
        if let Some(current) = self.runs.diagnosis.as_mut().filter(|d| d.id == run && d.name == name) {
            current.result = Some(result);
        }
    }
}

/// Why the host cannot be reached, when the last attempt's verify probe found no route to it (host or
/// network unreachable): then a knock that "did not open" is not the news of a shut door.
fn unreachable(attempts: &[client_core::Attempt], address: Option<SocketAddr>) -> Option<String> {
    let last_probe = attempts.last().and_then(|a| a.verify.as_ref()).and_then(|v| v.last_state.as_ref());
    match last_probe {
        Some(client_core::PortState::Unreachable(why)) => {
            let host = address.map_or("the host".to_owned(), |a| a.ip().to_string());
            Some(format!("{host} cannot be reached: {why}"))
        }
        _ => None,
    }
}

/// The row's result, in the wording every front end shares ([`ProfileReport::summary`]).
fn result_of(report: &ProfileReport) -> LastResult {
    let at = SystemTime::now();
    let detail = report.summary();
    match &report.outcome {
        Outcome::Opened if report.was_already_open() => {
            // The shared summary ends with knock-cli's "--force knocks anyway": the app has a button.
            let detail = match report.address() {
                Some(address) => format!("{} answers, so nothing was sent", address),
                None => "the door answers, so nothing was sent".to_owned(),
            };
            LastResult::AlreadyOpen { at, detail }
        }
        Outcome::Opened => LastResult::Opened { at, detail },
        Outcome::Sent => LastResult::Sent { at, detail },
        Outcome::NotOpened => match unreachable(&report.attempts, report.address()) {
            Some(why) => LastResult::Unreachable { at, why },
            None => LastResult::NotOpened { at, why: detail },
        },
        Outcome::Failed(_) => LastResult::Failed { at, why: detail },
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use client_core::{Attempt, KnockReport, KnockRequest, PortState, Protocol, Sequence, VerifyOutcome};

    fn attempt_with(last_state: PortState) -> Attempt {
        let knock = KnockReport {
            request: KnockRequest::new("192.0.2.9", Sequence::parse("7000", Protocol::Tcp).expect("sequence")),
            address: Some("192.0.2.9:7000".parse().expect("address")),
            tcp_method: None,
            started_at: SystemTime::now(),
            elapsed: Duration::from_millis(5),
            hits: Vec::new(),
            error: None,
        };
        let verify = VerifyOutcome {
            address: "192.0.2.9:22".parse().expect("address"),
            open: false,
            elapsed: Duration::from_secs(1),
            probes: 3,
            last_error: Some("No route to host (os error 113)".into()),
            last_state: Some(last_state),
        };
        Attempt { knock, verify: Some(verify) }
    }

    /// Issue 24 item 6: "No route to host" is its own result, not the "Not opened" of a wrong sequence.
    #[test]
    fn no_route_to_host_is_unreachable_not_a_shut_door() {
        let address = Some("192.0.2.9:7000".parse().expect("address"));
        let attempts = [attempt_with(PortState::Unreachable("No route to host".into()))];
        let why = unreachable(&attempts, address).expect("unreachable");
        assert!(why.contains("No route to host") && why.contains("192.0.2.9"), "{why}");
        assert_eq!(unreachable(&[attempt_with(PortState::NoAnswer)], address), None, "a shut door");
    }
}
