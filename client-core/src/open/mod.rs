//! Opening a profile: how `knock-cli open bastion`, `ssh`, `proxy` and the desktop app's Knock button
//! all work, in one place.
//!
//! 1. [`Plan::new`] checks the profile can do the action (cheap, no I/O: safe on a UI thread). The plan has
//!    the profile's kind ([`PlanKind`]: a sequence, SPA or rotating) with that kind's settings only; what a
//!    kind derives per attempt (an SPA packet, a rotating window's sequence) is not in the plan.
//! 2. [`run_plan`] first checks whether the door is already open (with a verify block and
//!    [`Plan::already_open_check`] set by [`Plan::unless_open`]): the host is resolved **once** and the
//!    verify port probed briefly; if it answers, nothing is sent (knocking an open door would make
//!    knockd's `iptables -I` door insert a second rule that one close does not remove). Then it runs
//!    attempts: for an SPA profile it first reads the keys (environment, else the OS
//!    keyring, off the async threads), resolves the host **once** and seals a fresh packet
//!    (`spa_attempt.rs`); for a rotating profile it reads the door key and sends the current window's
//!    sequence, never a window already completed (remembered in the store's [`WindowState`]); then it
//!    knocks ([`crate::knock()`]), and with a verify block polls the service port ([`crate::verify`]). A
//!    door that did not open is knocked again after a backoff (doubled each time), a fresh sequence or
//!    packet each attempt, up to the attempt count.
//!    With `family = "both"` the host is resolved once and its first IPv4 and first IPv6 address are
//!    each run as above (each family's hits in order, IPv4 first); [`ProfileReport::families`] says which
//!    verified, and the outcome is `Opened` only when every family did.
//! 3. The [`ProfileReport`] keeps every attempt's own knock record (with its own error) and the outcome;
//!    [`ProfileReport::summary`] is the one wording of an outcome that every front end prints.
//!
//! Every step can be cancelled and has a timeout: the keyring read, resolution, discovery, the knock and
//! the verify.

use std::net::{IpAddr, SocketAddr};
use std::sync::Arc;
use std::time::{Duration, Instant};

use tokio_util::sync::CancellationToken;

use crate::error::{ErrorKind, KeysError, KnockError};
use crate::knock::{KnockEvent, KnockReport, KnockRequest, RESOLVE_TIMEOUT, ReportedHit, knock, resolve_cancellable};
use crate::profile::{Action, AllowIp, Profile, ProfileError, ProfileKind, RotatingKnock, SpaSettings, Verify};
use crate::rotating::{DoorKey, Rotation};
use crate::secrets;
use crate::send::Method;
use crate::sequence::{Hit, Protocol, Sequence, TcpFlagSpec};
use crate::store::WindowState;
use crate::target::AddressFamily;
use crate::wording::plural;

pub(crate) mod spa_attempt;
use crate::verify::{PortState, VerifyOutcome, probe_port, wait_for_port};

/// How long reading an SPA profile's keys from the OS keyring may take (an unlock prompt included).
const KEYRING_TIMEOUT: Duration = Duration::from_secs(30);

/// The default budget of the already-open probe: long enough for a LAN or a continent away, short enough
/// that a closed door (which drops the SYN) costs little before the knock.
pub(crate) const DEFAULT_ALREADY_OPEN_BUDGET: Duration = Duration::from_millis(300);

/// The already-open probe made before knocking: where, what it saw, how long it took.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AlreadyOpenCheck {
    pub address: SocketAddr,
    pub state: PortState,
    pub elapsed: Duration,
}

impl AlreadyOpenCheck {
    pub fn is_open(&self) -> bool {
        self.state == PortState::Answers
    }
}

/// Progress of [`run_plan`]: attempts, the knock's own events, verification and backoff.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ProfileEvent {
    AttemptStarted {
        attempt: u32,
        attempts: u32,
    },
    Knock(KnockEvent),
    VerifyStarted {
        address: SocketAddr,
        timeout: Duration,
    },
    VerifyFinished(VerifyOutcome),
    BackingOff {
        next_attempt: u32,
        pause: Duration,
    },
    /// A rotating profile already completed this window's sequence (the server would refuse it as a
    /// replay): waiting `seconds` for the next window.
    WaitingForWindow {
        seconds: u64,
    },
}

/// One knock and, when configured, its verification. The knock record keeps its own error.
#[derive(Debug)]
pub struct Attempt {
    pub knock: KnockReport,
    pub verify: Option<VerifyOutcome>,
}

/// How a profile run ended.
#[derive(Debug)]
pub enum Outcome {
    /// The verify port answered.
    Opened,
    /// Every hit was sent; nothing to verify (no verify block, or a close).
    Sent,
    /// Every attempt was sent but the verify port never answered.
    NotOpened,
    /// The knock could not be sent (or the request was invalid, or cancelled).
    Failed(KnockError),
}

#[derive(Debug)]
pub struct ProfileReport {
    pub name: String,
    pub action: Action,
    pub attempts: Vec<Attempt>,
    pub outcome: Outcome,
    pub elapsed: Duration,
    /// The probe made before knocking, when there was one. With an answer the outcome is `Opened` with
    /// no attempts: nothing was sent.
    pub already_open: Option<AlreadyOpenCheck>,
    /// With `family = "both"`: each family's address and whether it opened (verified or already open).
    pub families: Vec<FamilyResult>,
    /// With `family = "both"`: the index in `families` of the family whose result is the outcome (the
    /// first that did worst), so the summary names its address and counts its attempts only.
    outcome_family: Option<usize>,
}

/// One family of a `family = "both"` run.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FamilyResult {
    pub address: IpAddr,
    /// The verify port answered (after the knock or already before it).
    pub opened: bool,
    /// How this family's run ended.
    pub outcome: FamilyOutcome,
    /// This family's attempts (its entries of [`ProfileReport::attempts`], which lists the families in
    /// order).
    pub attempts: usize,
}

/// How one family of a `family = "both"` run ended ([`Outcome`] without the error).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum FamilyOutcome {
    Opened,
    /// Every hit sent, nothing to verify: for a close, the close knock went out.
    Sent,
    NotOpened,
    Failed,
}

impl FamilyOutcome {
    fn of(outcome: &Outcome) -> FamilyOutcome {
        match outcome {
            Outcome::Opened => FamilyOutcome::Opened,
            Outcome::Sent => FamilyOutcome::Sent,
            Outcome::NotOpened => FamilyOutcome::NotOpened,
            Outcome::Failed(_) => FamilyOutcome::Failed,
        }
    }

    /// The per-family word of a summary, about the action: a close reports closing, never opening.
    pub fn word(self, action: Action) -> &'static str {
        match (action, self) {
            (Action::Close, FamilyOutcome::Sent | FamilyOutcome::Opened) => "closed",
            (Action::Close, _) => "close failed",
            (Action::Open, FamilyOutcome::Opened) => "opened",
            (Action::Open, FamilyOutcome::Sent) => "knocked",
            (Action::Open, FamilyOutcome::NotOpened) => "not opened",
            (Action::Open, FamilyOutcome::Failed) => "failed",
        }
    }
}

impl ProfileReport {
    /// The door answered before any knock, so nothing was sent.
    pub fn was_already_open(&self) -> bool {
        self.attempts.is_empty() && self.already_open.as_ref().is_some_and(AlreadyOpenCheck::is_open)
    }

    pub fn last_knock(&self) -> Option<&KnockReport> {
        self.attempts.last().map(|a| &a.knock)
    }

    /// The address that was knocked (last attempt).
    pub fn address(&self) -> Option<SocketAddr> {
        self.last_knock().and_then(|k| k.address).or_else(|| self.already_open.as_ref().map(|c| c.address))
    }

    /// The one wording of an outcome, shared by `open`, `ssh`, `proxy` and the desktop app:
    /// `opened 192.0.2.2 (port 22 answered after 0.21 s, 1 attempt)`. Never contains a secret port.
    pub fn summary(&self) -> String {
        let summary = self.outcome_summary();
        if self.families.len() < 2 {
            return summary;
        }
        let families: Vec<String> = self
            .families
            .iter()
            .map(|f| match self.action {
                Action::Close => format!("{} {}", f.address, f.outcome.word(self.action)),
                Action::Open if f.attempts == 0 && f.opened => format!("{} already open", f.address),
                Action::Open => {
                    format!("{} {} ({})", f.address, f.outcome.word(self.action), plural(f.attempts, "attempt"))
                }
            })
            .collect();
        format!("{summary}; per family: {}", families.join(", "))
    }

    /// The address of a family that opened (the first), for a connection that must use an open door.
    pub fn opened_address(&self) -> Option<IpAddr> {
        match self.families.iter().find(|f| f.opened) {
            Some(family) => Some(family.address),
            None if matches!(self.outcome, Outcome::Opened) => self.address().map(|a| a.ip()),
            None => None,
        }
    }

    /// The attempts behind the outcome: all of them, or with `family = "both"` those of the family whose
    /// result is the outcome.
    fn outcome_attempts(&self) -> &[Attempt] {
        let Some(index) = self.outcome_family else { return &self.attempts };
        let start: usize = self.families.iter().take(index).map(|f| f.attempts).sum();
        let count = self.families.get(index).map_or(0, |f| f.attempts);
        self.attempts.get(start..start + count).unwrap_or(&self.attempts)
    }

    fn outcome_summary(&self) -> String {
        let chosen = self.outcome_attempts();
        let family_address = self.outcome_family.and_then(|i| self.families.get(i)).map(|f| f.address);
        let address = family_address
            .or_else(|| chosen.last().and_then(|a| a.knock.address).map(|a| a.ip()))
            .or_else(|| self.address().map(|a| a.ip()))
            .map_or_else(|| "?".to_owned(), |ip| ip.to_string());
        let attempts = plural(chosen.len(), "attempt");
        if self.action == Action::Close && self.families.len() > 1 && matches!(self.outcome, Outcome::Sent) {
            let hits = plural(chosen.last().map_or(0, |a| a.knock.hits_sent()), "hit");
            let addresses: Vec<String> = self.families.iter().map(|f| f.address.to_string()).collect();
            return format!("closed {} ({hits} sent to each)", addresses.join(" and "));
        }
        match &self.outcome {
            Outcome::Opened if self.was_already_open() => {
                let port = self.already_open.as_ref().map_or(0, |c| c.address.port());
                format!("already open: port {port} of {address} answers (nothing sent; --force knocks anyway)")
            }
            Outcome::Opened => {
                let verify = chosen.last().and_then(|a| a.verify.as_ref());
                match verify {
                    Some(v) => format!(
                        "opened {address} (port {} answered after {:.2} s, {attempts})",
                        v.address.port(),
                        v.elapsed.as_secs_f64()
                    ),
                    None => format!("opened {address} ({attempts})"),
                }
            }
            Outcome::Sent => {
                let hits = plural(chosen.last().map_or(0, |a| a.knock.hits_sent()), "hit");
                match self.action {
                    Action::Close => format!("closed {address} ({hits} sent)"),
                    Action::Open => format!("knocked {address} ({hits} sent, nothing to verify)"),
                }
            }
            Outcome::NotOpened => {
                let verify = chosen.last().and_then(|a| a.verify.as_ref());
                match verify {
                    Some(v) => format!(
                        "not opened: port {} of {address} did not answer within {:.1} s after {attempts}{}",
                        v.address.port(),
                        v.elapsed.as_secs_f64(),
                        v.last_error.as_deref().map(|e| format!(" (last probe: {e})")).unwrap_or_default()
                    ),
                    None => format!("not opened after {attempts}"),
                }
            }
            Outcome::Failed(error) => format!("failed: {error}"),
        }
    }
}

/// A validated run: what to send and, for an open, how to verify it. Building one does no I/O.
#[derive(Debug, Clone)]
pub struct Plan {
    pub name: String,
    /// Whose keyring entries hold the profile's keys (its id; see [`crate::secrets::KeyOwner`]).
    pub keys: secrets::KeyOwner,
    pub action: Action,
    /// DNS name or address, as the profile has it.
    pub host: String,
    /// The family knocked (an SPA plan that lets in this host's own address is IPv4).
    pub family: AddressFamily,
    /// What is sent, by the profile's kind: each kind carries its own settings, and what a kind derives
    /// per attempt (a rotating window's sequence, an SPA packet) is not in the plan at all.
    pub kind: PlanKind,
    /// Only for `Open`; a close is one knock.
    pub verify: Option<Verify>,
    /// With a verify block: probe the verify port this long before knocking, and send nothing if it
    /// already answers. `None` (what [`Plan::new`] gives) knocks regardless; front ends turn it on with
    /// [`Plan::unless_open`] (knock-cli does unless `--force`).
    pub already_open_check: Option<Duration>,
}

/// A plan's kind, as the profile's ([`ProfileKind`]): what every attempt sends and what it needs first.
#[derive(Clone)]
pub enum PlanKind {
    /// A knockd-style sequence, the same every attempt (one from the environment was read when the plan
    /// was made; `secret` then, and front ends mask its ports).
    Sequence { sequence: Sequence, secret: bool, method: Method, tcp_flags: TcpFlagSpec, delay: Duration },
    /// One fwknop SPA datagram to the settings' port, sealed afresh every attempt (fwknopd rejects
    /// replays) with the keys read when the plan runs.
    Spa(SpaSettings),
    /// The current window's sequence, derived every attempt from the door key (read when the plan runs),
    /// never a window already completed. Its ports are as secret as an environment sequence.
    Rotating {
        knock: RotatingKnock,
        /// Where the last completed window is remembered across runs and front ends (the store's; set by
        /// [`Plan::remembering_in`]). `None`: within this run only.
        window_state: Option<WindowState>,
    },
}

impl std::fmt::Debug for PlanKind {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            // A secret sequence never reaches a log through Debug.
            PlanKind::Sequence { sequence, secret, method, tcp_flags, delay } => f
                .debug_struct("Sequence")
                .field("sequence", &format_args!("{}", if *secret { "***".to_owned() } else { sequence.to_string() }))
                .field("secret", secret)
                .field("method", method)
                .field("tcp_flags", tcp_flags)
                .field("delay", delay)
                .finish(),
            PlanKind::Spa(settings) => f.debug_tuple("Spa").field(settings).finish(),
            PlanKind::Rotating { knock, window_state } => {
                f.debug_struct("Rotating").field("knock", knock).field("window_state", window_state).finish()
            }
        }
    }
}

impl Plan {
    /// For an open: do not knock when the verify port already answers within
    /// `DEFAULT_ALREADY_OPEN_BUDGET` (the report then says so, with no attempt).
    pub fn unless_open(mut self) -> Plan {
        if self.action == Action::Open {
            self.already_open_check = Some(DEFAULT_ALREADY_OPEN_BUDGET);
        }
        self
    }

    /// Fails when the profile cannot describe `action` (a close without a close sequence, a close of an
    /// SPA or a rotating profile, an unset environment sequence).
    pub fn new(name: &str, profile: &Profile, action: Action) -> Result<Plan, ProfileError> {
        let (kind, family, verify) = match &profile.kind {
            ProfileKind::Sequence(knock) => {
                let request = KnockRequest::for_profile(profile, name, action)?;
                let kind = PlanKind::Sequence {
                    sequence: request.sequence,
                    secret: request.secret_ports,
                    method: knock.method,
                    tcp_flags: knock.tcp_flags,
                    delay: request.delay,
                };
                (kind, profile.family, profile.verify.filter(|_| action == Action::Open))
            }
            ProfileKind::Rotating(knock) => {
                if action == Action::Close {
                    return Err(ProfileError::NoCloseSequence { name: name.to_owned() });
                }
                (PlanKind::Rotating { knock: knock.clone(), window_state: None }, profile.family, profile.verify)
            }
            ProfileKind::Spa(settings) => {
                if action == Action::Close {
                    return Err(ProfileError::SpaHasNoClose { name: name.to_owned() });
                }
                // The packet names an IPv4 address to let in; "local" means ours, so it must be IPv4.
                let family = match (profile.family, settings.allow_ip) {
                    (AddressFamily::Any | AddressFamily::Both, AllowIp::Local) => AddressFamily::V4,
                    (family, _) => family,
                };
                if family == AddressFamily::V6 && settings.allow_ip == AllowIp::Local {
                    return Err(ProfileError::SpaLocalNeedsIpv4 { name: name.to_owned() });
                }
                (PlanKind::Spa(settings.clone()), family, profile.verify)
            }
        };
        Ok(Plan {
            name: name.to_owned(),
            keys: secrets::KeyOwner::of(name, profile),
            action,
            host: profile.host.clone(),
            family,
            kind,
            verify,
            already_open_check: None,
        })
    }

    /// Remembers a rotating profile's completed windows in `store` (across runs and front ends).
    pub fn remembering_in(mut self, store: &crate::store::ProfileStore) -> Plan {
        if let PlanKind::Rotating { window_state, .. } = &mut self.kind {
            *window_state = Some(store.window_state(&self.name));
        }
        self
    }

    /// How TCP hits are sent: the method and flags of a sequence, the method and plain SYNs of a rotating
    /// window; `None` for SPA (one UDP datagram).
    pub fn tcp_sending(&self) -> Option<(Method, TcpFlagSpec)> {
        match &self.kind {
            PlanKind::Sequence { method, tcp_flags, .. } => Some((*method, *tcp_flags)),
            PlanKind::Rotating { knock, .. } => Some((knock.method, TcpFlagSpec::default())),
            PlanKind::Spa(_) => None,
        }
    }

    /// True when sending needs raw sockets (TCP flags other than a plain SYN, or `method = "raw"`).
    pub fn needs_raw(&self) -> bool {
        self.tcp_sending().is_some_and(|(method, flags)| crate::settings::needs_raw(method, flags))
    }

    /// The hits of one attempt as a front end shows them before they are sent: a sequence's (masked when
    /// secret), the SPA datagram to fwknopd's port, or a rotating window's `*:tcp` per position (its ports
    /// are derived per attempt, and secret).
    pub fn hit_labels(&self) -> Vec<String> {
        match &self.kind {
            PlanKind::Sequence { sequence, secret, .. } => {
                sequence.hits().iter().map(|&hit| ReportedHit::new(hit, *secret).to_string()).collect()
            }
            PlanKind::Spa(settings) => vec![Hit::udp(settings.port.get()).to_string()],
            PlanKind::Rotating { knock, .. } => (0..knock.rotation.length)
                .map(|k| format!("*:{}", knock.rotation.protocols.get(k).copied().unwrap_or(Protocol::Tcp)))
                .collect(),
        }
    }

    /// The knock of one attempt: `hits` to the plan's host in the plan's family, sent the kind's way.
    pub(crate) fn attempt_request(&self, hits: Sequence) -> KnockRequest {
        let mut request = KnockRequest::new(self.host.clone(), hits);
        request.family = self.family;
        match &self.kind {
            PlanKind::Sequence { secret, method, tcp_flags, delay, .. } => {
                request.secret_ports = *secret;
                request.method = *method;
                request.tcp_flags = *tcp_flags;
                request.delay = *delay;
            }
            // The datagram's payload is sealed per attempt by the caller.
            PlanKind::Spa(_) => {}
            PlanKind::Rotating { knock, .. } => {
                // Derived ports are as secret as an environment sequence: masked in every output.
                request.secret_ports = true;
                request.method = knock.method;
                request.delay = Duration::from_millis(knock.delay_ms);
            }
        }
        request
    }
}

/// Knocks a profile's `action`; for `Open` with a verify block, verifies and retries.
pub async fn run_profile(
    name: &str,
    profile: &Profile,
    action: Action,
    cancel: &CancellationToken,
    on_event: impl FnMut(&ProfileEvent),
) -> Result<ProfileReport, ProfileError> {
    Ok(run_plan(&Plan::new(name, profile, action)?, cancel, on_event).await)
}

/// Runs a plan: knock, verify, back off and knock again, up to the attempt count.
pub async fn run_plan(
    plan: &Plan,
    cancel: &CancellationToken,
    mut on_event: impl FnMut(&ProfileEvent),
) -> ProfileReport {
    let started = Instant::now();
    let mut report = ProfileReport {
        name: plan.name.clone(),
        action: plan.action,
        attempts: Vec::new(),
        outcome: Outcome::NotOpened,
        elapsed: Duration::ZERO,
        already_open: None,
        families: Vec::new(),
        outcome_family: None,
    };
    report.outcome = if plan.family == AddressFamily::Both {
        run_both_families(plan, cancel, &mut on_event, &mut report).await
    } else {
        let to = Destination { family: plan.family, resolved: None };
        match run_attempts(plan, to, cancel, &mut on_event, &mut report).await {
            Ok(outcome) => outcome,
            Err(error) => Outcome::Failed(error),
        }
    };
    report.elapsed = started.elapsed();
    report
}

/// Where the attempts of one run go: the plan's family, or one address of a `family = "both"` run.
#[derive(Debug, Clone, Copy)]
struct Destination {
    family: AddressFamily,
    /// Already resolved (a `both` run resolves once for every family).
    resolved: Option<IpAddr>,
}

/// `family = "both"`: one resolution, then the plan once per family (IPv4 first), each with its own
/// already-open check, knock and verify. Every family must open for `Opened`; the first failure or
/// non-opening is the outcome otherwise.
async fn run_both_families(
    plan: &Plan,
    cancel: &CancellationToken,
    on_event: &mut impl FnMut(&ProfileEvent),
    report: &mut ProfileReport,
) -> Outcome {
    let resolved = tokio::select! {
        _ = cancel.cancelled() => return Outcome::Failed(KnockError::Cancelled),
        r = crate::target::resolve_all(&plan.host, RESOLVE_TIMEOUT) => r,
    };
    let addresses = match resolved {
        Ok((addresses, _)) => addresses,
        Err(error) => return Outcome::Failed(error.into()),
    };
    let chosen: Vec<IpAddr> = [AddressFamily::V4, AddressFamily::V6]
        .into_iter()
        .filter_map(|family| crate::target::choose(family, &addresses))
        .collect();
    if chosen.is_empty() {
        return Outcome::Failed(
            crate::target::ResolveError::NoAddressInFamily {
                host: plan.host.clone(),
                family: AddressFamily::Both,
                found: "nothing".to_owned(),
            }
            .into(),
        );
    }
    let mut overall: Option<Outcome> = None;
    for address in chosen {
        let family = if address.is_ipv4() { AddressFamily::V4 } else { AddressFamily::V6 };
        let to = Destination { family, resolved: Some(address) };
        let attempts_before = report.attempts.len();
        let outcome = match run_attempts(plan, to, cancel, on_event, report).await {
            Ok(outcome) => outcome,
            Err(error) => Outcome::Failed(error),
        };
        report.families.push(FamilyResult {
            address,
            opened: matches!(outcome, Outcome::Opened),
            outcome: FamilyOutcome::of(&outcome),
            attempts: report.attempts.len() - attempts_before,
        });
        let worse = matches!(
            (&overall, &outcome),
            (None, _) | (Some(Outcome::Opened | Outcome::Sent), Outcome::NotOpened | Outcome::Failed(_))
        );
        if worse {
            overall = Some(outcome);
            report.outcome_family = Some(report.families.len() - 1);
        }
        if cancel.is_cancelled() {
            break;
        }
    }
    overall.unwrap_or(Outcome::NotOpened)
}

/// What a run's attempts send, by the plan's kind, with what the kind needs read once before the first.
enum Sending<'a> {
    Sequence(&'a Sequence),
    Spa { settings: &'a SpaSettings, keys: secrets::SpaKeys, address: SocketAddr },
    Rotating { rotation: &'a Rotation, key: DoorKey, window_state: Option<&'a WindowState>, last: Option<u64> },
}

async fn run_attempts(
    plan: &Plan,
    to: Destination,
    cancel: &CancellationToken,
    on_event: &mut impl FnMut(&ProfileEvent),
    report: &mut ProfileReport,
) -> Result<Outcome, KnockError> {
    let verify = plan.verify;
    let attempts = verify.map_or(1, |v| v.attempts.get());
    let spa = matches!(plan.kind, PlanKind::Spa(_));
    // The host is resolved once per run when something needs the address before the knock: the SPA
    // packet names it, and the already-open probe goes to it. The knock then reuses it.
    let precheck = verify.zip(plan.already_open_check);
    let (address, keys) = if spa || precheck.is_some() {
        let address = async {
            let address = match to.resolved {
                Some(ip) => SocketAddr::new(ip, 0),
                None => resolve_retrying(plan, to.family, cancel, on_event).await?,
            };
            let check = match precheck {
                Some((verify, budget)) => {
                    let mut target = address;
                    target.set_port(verify.port.get());
                    let started = Instant::now();
                    let state = tokio::select! {
                        _ = cancel.cancelled() => return Err(KnockError::Cancelled),
                        state = probe_port(target, None, budget) => state,
                    };
                    Some(AlreadyOpenCheck { address: target, state, elapsed: started.elapsed() })
                }
                None => None,
            };
            Ok((address, check))
        };
        // SPA keys are read (keyring round trip) while the host resolves and the port is probed.
        let keys = async { if spa { read_keys(plan, cancel).await.map(Some) } else { Ok(None) } };
        let (resolution, keys) = tokio::join!(address, keys);
        let (address, check) = resolution?;
        if let Some(check) = check {
            let open = check.is_open();
            report.already_open = Some(check);
            if open {
                return Ok(Outcome::Opened);
            }
        }
        (Some(address), keys?)
    } else {
        (None, None)
    };
    let mut sending = match &plan.kind {
        PlanKind::Sequence { sequence, .. } => Sending::Sequence(sequence),
        PlanKind::Spa(settings) => match (address, keys) {
            (Some(address), Some(keys)) => Sending::Spa { settings, keys, address },
            // Both are read above for every SPA plan.
            _ => return Err(KeysError::NotRead.into()),
        },
        PlanKind::Rotating { knock, window_state } => Sending::Rotating {
            rotation: &knock.rotation,
            key: read_rotating_key(plan, cancel).await?,
            window_state: window_state.as_ref(),
            last: window_state.as_ref().and_then(WindowState::last),
        },
    };
    let attempts_done = &mut report.attempts;
    let mut outcome = Outcome::NotOpened;
    for attempt in 1..=attempts {
        if attempt > 1
            && let Some(verify) = verify
        {
            let pause = verify.backoff_before(attempt);
            on_event(&ProfileEvent::BackingOff { next_attempt: attempt, pause });
            tokio::select! {
                _ = cancel.cancelled() => return Err(KnockError::Cancelled),
                _ = tokio::time::sleep(pause) => {}
            }
        }
        on_event(&ProfileEvent::AttemptStarted { attempt, attempts });
        let mut window = None;
        let mut attempt_request = match &sending {
            Sending::Sequence(sequence) => plan.attempt_request((*sequence).clone()),
            Sending::Spa { settings, keys, address } => {
                let wire = crate::open::spa_attempt::seal(settings, keys, *address, cancel).await?;
                let mut request = plan.attempt_request(Sequence::from(Hit::udp(settings.port.get())));
                request.udp_payload = wire.into_bytes();
                request
            }
            Sending::Rotating { rotation, key, last, .. } => {
                let t = next_window(rotation, *last, cancel, on_event).await?;
                window = Some(t);
                plan.attempt_request(rotation.sequence(key, t).map_err(KeysError::from)?)
            }
        };
        attempt_request.family = to.family;
        attempt_request.resolved = address.map(|a| a.ip()).or(to.resolved);
        let knock_report = knock(&attempt_request, cancel, |e| on_event(&ProfileEvent::Knock(e.clone()))).await;
        if let (Some(t), None, Sending::Rotating { last, window_state, .. }) =
            (window, &knock_report.error, &mut sending)
        {
            // Sent: this window's sequence is spent (the server accepts it once), here and in later runs.
            *last = Some(t);
            if let Some(state) = window_state {
                // Best effort: a failure only means a later run may be refused by the server as a
                // replay, and then retries in the next window.
                let _ = state.remember(t);
            }
        }
        if let Some(error) = &knock_report.error {
            // Only network trouble is worth another attempt; bad input, a refused privilege or a name
            // that does not exist is not.
            let permanent_lookup = matches!(error, KnockError::Resolve(e) if !e.is_transient());
            let retry = error.kind() == ErrorKind::Network && !permanent_lookup && attempt < attempts;
            let error = error.clone();
            attempts_done.push(Attempt { knock: knock_report, verify: None });
            if retry {
                continue;
            }
            return Err(error);
        }
        let (Some(verify), Some(mut address)) = (verify, knock_report.address) else {
            attempts_done.push(Attempt { knock: knock_report, verify: None });
            return Ok(Outcome::Sent);
        };
        address.set_port(verify.port.get());
        on_event(&ProfileEvent::VerifyStarted { address, timeout: verify.timeout() });
        match wait_for_port(address, None, verify.timeout(), cancel).await {
            Ok(verified) => {
                on_event(&ProfileEvent::VerifyFinished(verified.clone()));
                let open = verified.open;
                attempts_done.push(Attempt { knock: knock_report, verify: Some(verified) });
                if open {
                    return Ok(Outcome::Opened);
                }
                outcome = Outcome::NotOpened;
            }
            Err(error) => {
                attempts_done.push(Attempt { knock: knock_report, verify: None });
                return Err(error);
            }
        }
    }
    Ok(outcome)
}

/// Resolves the plan's host before the first attempt, retrying a transient failure (EAI_AGAIN, a timeout)
/// with the verify block's attempts and backoff; a name that does not exist fails at once.
async fn resolve_retrying(
    plan: &Plan,
    family: AddressFamily,
    cancel: &CancellationToken,
    on_event: &mut impl FnMut(&ProfileEvent),
) -> Result<SocketAddr, KnockError> {
    let attempts = plan.verify.map_or(1, |v| v.attempts.get());
    let mut tried = 1;
    loop {
        match resolve_cancellable(&plan.host, family, RESOLVE_TIMEOUT, cancel).await {
            Err(KnockError::Resolve(err)) if err.is_transient() && tried < attempts => {
                tried += 1;
                if let Some(verify) = plan.verify {
                    let pause = verify.backoff_before(tried);
                    on_event(&ProfileEvent::BackingOff { next_attempt: tried, pause });
                    tokio::select! {
                        _ = cancel.cancelled() => return Err(KnockError::Cancelled),
                        _ = tokio::time::sleep(pause) => {}
                    }
                }
            }
            other => return other,
        }
    }
}

/// The current window, or the next one when the current one was already completed (waiting for it).
async fn next_window(
    rotation: &Rotation,
    last: Option<u64>,
    cancel: &CancellationToken,
    on_event: &mut impl FnMut(&ProfileEvent),
) -> Result<u64, KnockError> {
    loop {
        let now = unix_now();
        let t = rotation.window(now);
        if last.is_none_or(|last| t > last) {
            return Ok(t);
        }
        let seconds = rotation.seconds_left(now);
        on_event(&ProfileEvent::WaitingForWindow { seconds });
        tokio::select! {
            _ = cancel.cancelled() => return Err(KnockError::Cancelled),
            _ = tokio::time::sleep(Duration::from_secs(seconds)) => {}
        }
    }
}

fn unix_now() -> u64 {
    std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).map_or(0, |d| d.as_secs())
}

/// A rotating profile's door key, read like the SPA keys ([`read_secret`]).
pub(crate) async fn read_rotating_key(plan: &Plan, cancel: &CancellationToken) -> Result<DoorKey, KnockError> {
    read_secret(plan, cancel, secrets::rotating_key).await
}

/// The profile's SPA keys ([`read_secret`]).
pub(crate) async fn read_keys(plan: &Plan, cancel: &CancellationToken) -> Result<secrets::SpaKeys, KnockError> {
    read_secret(plan, cancel, secrets::spa_keys).await
}

/// Reads a profile's secret off the async threads (the keyring is a blocking round trip that may show an
/// unlock prompt), with a timeout, and abandons it at once on cancel.
async fn read_secret<T: Send + 'static>(
    plan: &Plan,
    cancel: &CancellationToken,
    read: fn(&str, &secrets::KeyOwner) -> Result<T, secrets::KeyError>,
) -> Result<T, KnockError> {
    let (name, owner) = (plan.name.clone(), plan.keys.clone());
    let reading = tokio::task::spawn_blocking(move || read(&name, &owner));
    tokio::select! {
        _ = cancel.cancelled() => Err(KnockError::Cancelled),
        found = tokio::time::timeout(KEYRING_TIMEOUT, reading) => match found {
            Err(_) => Err(KeysError::KeyringTimedOut { seconds: KEYRING_TIMEOUT.as_secs() }.into()),
            Ok(Err(join)) => Err(KeysError::ReaderStopped(Arc::new(join)).into()),
            Ok(Ok(result)) => Ok(result.map_err(KeysError::from)?),
        },
    }
}
