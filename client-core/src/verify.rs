//! Did the door open? After a knock, poll a TCP connect to the service port until it answers or the
//! timeout passes; if it did not open, knock again (a fresh sequence) with backoff, up to the attempt
//! count. No knock client does this, and lossy links, SYN-eating middleboxes and servers that need a
//! moment to run their command make it the difference between "sent" and "works".
//!
//! The probe connects from the knock's bind address (if any), because the server opened the port for
//! the address the knock came from, and to the exact address that was knocked.

use std::net::{IpAddr, SocketAddr};
use std::time::{Duration, Instant};

use socket2::{Domain, Protocol, Socket, Type};
use tokio::net::TcpStream;
use tokio::task::JoinSet;
use tokio_util::sync::CancellationToken;

use crate::error::{ErrorKind, KnockError};
use crate::knock::{KnockEvent, KnockReport, KnockRequest, knock};
use crate::profile::{Action, Profile, ProfileError, Verify};

/// A fresh probe (a new connect, a new SYN) starts this often. A single connect would not do: when the
/// server opens the port a moment after our SYN was dropped, the kernel retransmits only after its 1 s
/// initial RTO, which can be longer than the whole verify window.
const PROBE_SPACING: Duration = Duration::from_millis(200);
/// How long each probe may wait for its handshake; probes overlap, so slow links are still served.
const PROBE_LIFETIME: Duration = Duration::from_secs(3);
/// At most this many probes in flight.
const MAX_PROBES_IN_FLIGHT: usize = 16;

/// The result of polling the service port after one knock.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct VerifyOutcome {
    pub address: SocketAddr,
    pub open: bool,
    /// From the end of the knock until the port answered (or the timeout passed).
    pub elapsed: Duration,
    /// Connection attempts started.
    pub probes: u32,
    /// Why the last probe failed, when the port never answered.
    pub last_error: Option<String>,
}

/// Polls `address` with overlapping TCP connects until one succeeds or `timeout` passes.
pub async fn wait_for_port(
    address: SocketAddr,
    bind: Option<IpAddr>,
    timeout: Duration,
    cancel: &CancellationToken,
) -> Result<VerifyOutcome, KnockError> {
    let started = Instant::now();
    let deadline = started + timeout;
    let mut in_flight = JoinSet::new();
    let mut probes = 0;
    let mut next_probe = started;
    let mut last_error = None;
    let outcome =
        |open, probes, last_error| VerifyOutcome { address, open, elapsed: started.elapsed(), probes, last_error };
    loop {
        let now = Instant::now();
        if now >= deadline {
            return Ok(outcome(false, probes, last_error.or_else(|| Some("no answer".to_owned()))));
        }
        if now >= next_probe && in_flight.len() < MAX_PROBES_IN_FLIGHT {
            probes += 1;
            let lifetime = PROBE_LIFETIME.min(deadline - now);
            in_flight.spawn(async move {
                match tokio::time::timeout(lifetime, connect(address, bind)).await {
                    Ok(result) => result.map(drop).map_err(|e| e.to_string()),
                    Err(_) => Err(format!("no answer within {} ms", lifetime.as_millis())),
                }
            });
            next_probe = now + PROBE_SPACING;
        }
        let wake = next_probe.min(deadline);
        tokio::select! {
            _ = cancel.cancelled() => return Err(KnockError::Cancelled),
            _ = tokio::time::sleep_until(wake.into()) => {}
            Some(finished) = in_flight.join_next(), if !in_flight.is_empty() => match finished {
                Ok(Ok(())) => return Ok(outcome(true, probes, None)),
                Ok(Err(error)) => last_error = Some(error),
                Err(join) => last_error = Some(format!("probe failed: {join}")),
            },
        }
    }
}

async fn connect(address: SocketAddr, bind: Option<IpAddr>) -> std::io::Result<TcpStream> {
    let Some(ip) = bind else {
        return TcpStream::connect(address).await;
    };
    let socket = Socket::new(Domain::for_address(address), Type::STREAM, Some(Protocol::TCP))?;
    socket.set_nonblocking(true)?;
    socket.bind(&SocketAddr::new(ip, 0).into())?;
    tokio::net::TcpSocket::from_std_stream(socket.into()).connect(address).await
}

/// Progress of [`run_profile`]: attempts, the knock's own events, verification and backoff.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ProfileEvent {
    AttemptStarted { attempt: u32, attempts: u32 },
    Knock(KnockEvent),
    VerifyStarted { address: SocketAddr, timeout: Duration },
    VerifyFinished(VerifyOutcome),
    BackingOff { next_attempt: u32, pause: Duration },
}

/// One knock and, when configured, its verification.
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
}

impl ProfileReport {
    pub fn last_knock(&self) -> Option<&KnockReport> {
        self.attempts.last().map(|a| &a.knock)
    }
}

/// A validated run: the knock to send and, for an open, how to verify it.
#[derive(Debug, Clone, PartialEq)]
pub struct Plan {
    pub name: String,
    pub action: Action,
    pub request: KnockRequest,
    /// Only for `Open`; a close is one knock.
    pub verify: Option<Verify>,
}

impl Plan {
    /// Fails when the profile cannot describe `action` (a close without a close sequence).
    pub fn new(name: &str, profile: &Profile, action: Action) -> Result<Plan, ProfileError> {
        Ok(Plan {
            name: name.to_owned(),
            action,
            request: profile.knock_request(name, action)?,
            verify: profile.verify.filter(|_| action == Action::Open),
        })
    }
}

/// Knocks a profile's `action` sequence; for `Open` with a verify block, verifies and retries.
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
    let request = &plan.request;
    let started = Instant::now();
    let verify = plan.verify;
    let attempts = verify.map_or(1, |v| v.attempts.get());
    let mut report = ProfileReport {
        name: plan.name.clone(),
        action: plan.action,
        attempts: Vec::new(),
        outcome: Outcome::NotOpened,
        elapsed: Duration::ZERO,
    };
    for attempt in 1..=attempts {
        if attempt > 1
            && let Some(verify) = verify
        {
            let pause = verify.backoff_before(attempt);
            on_event(&ProfileEvent::BackingOff { next_attempt: attempt, pause });
            tokio::select! {
                _ = cancel.cancelled() => {
                    report.outcome = Outcome::Failed(KnockError::Cancelled);
                    break;
                }
                _ = tokio::time::sleep(pause) => {}
            }
        }
        on_event(&ProfileEvent::AttemptStarted { attempt, attempts });
        let mut knock_report = knock(request, cancel, |e| on_event(&ProfileEvent::Knock(e.clone()))).await;
        if let Some(error) = knock_report.error.take() {
            // Only network trouble is worth another attempt; bad input or a refused privilege is not.
            let retry = error.kind() == ErrorKind::Network && attempt < attempts;
            report.attempts.push(Attempt { knock: knock_report, verify: None });
            if retry {
                continue;
            }
            report.outcome = Outcome::Failed(error);
            break;
        }
        let (Some(verify), Some(mut address)) = (verify, knock_report.address) else {
            report.attempts.push(Attempt { knock: knock_report, verify: None });
            report.outcome = Outcome::Sent;
            break;
        };
        address.set_port(verify.port.get());
        on_event(&ProfileEvent::VerifyStarted { address, timeout: verify.timeout() });
        match wait_for_port(address, request.bind_address, verify.timeout(), cancel).await {
            Ok(outcome) => {
                on_event(&ProfileEvent::VerifyFinished(outcome.clone()));
                let open = outcome.open;
                report.attempts.push(Attempt { knock: knock_report, verify: Some(outcome) });
                if open {
                    report.outcome = Outcome::Opened;
                    break;
                }
                report.outcome = Outcome::NotOpened;
            }
            Err(error) => {
                report.attempts.push(Attempt { knock: knock_report, verify: None });
                report.outcome = Outcome::Failed(error);
                break;
            }
        }
    }
    report.elapsed = started.elapsed();
    report
}
