//! Did the door open? After a knock, poll a TCP connect to the service port until it answers or the
//! timeout passes. (Retrying a door that did not open is [`crate::open`]'s job.) Lossy links,
//! SYN-eating middleboxes and servers that need a moment to run their command make this the difference
//! between "sent" and "works".
//!
//! The probe connects from the knock's bind address (if any), because the server opened the port for
//! the address the knock came from, and to the exact address that was knocked.
//!
//! [`probe_port`] is one connect whose failure is told apart ([`PortState`]): a RST means the host is
//! reachable and the port closed or REJECTed, silence means filtered (or the host is down), an ICMP
//! unreachable means a router or the host refused the path. The already-open check and `doctor` use it.

use std::net::{IpAddr, SocketAddr};
use std::time::{Duration, Instant};

use socket2::{Domain, Protocol, Socket, Type};
use tokio::net::TcpStream;
use tokio::task::JoinSet;
use tokio_util::sync::CancellationToken;

use crate::error::KnockError;

/// A fresh probe (a new connect, a new SYN) starts this often. A single connect would not do: when the
/// server opens the port a moment after our SYN was dropped, the kernel retransmits only after its 1 s
/// initial RTO, which can be longer than the whole verify window.
const PROBE_SPACING: Duration = Duration::from_millis(200);
/// How long each probe may wait for its handshake; probes overlap, so slow links are still served.
const PROBE_LIFETIME: Duration = Duration::from_secs(3);
/// At most this many probes in flight.
const MAX_PROBES_IN_FLIGHT: usize = 16;
/// At most this many probes in flight in the whole process (one socket each): a fleet of slow doors
/// verified at once waits for a slot rather than running out of file descriptors (the common soft
/// limit is 1024, and each host being knocked holds a few more).
const MAX_PROBES_PER_PROCESS: usize = 512;
static PROBE_SLOTS: tokio::sync::Semaphore = tokio::sync::Semaphore::const_new(MAX_PROBES_PER_PROCESS);

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
    /// What the last finished probe saw, when the port never answered (`None`: none finished).
    pub last_state: Option<PortState>,
}

/// Polls `address` with overlapping TCP connects until one succeeds or `timeout` passes.
pub(crate) async fn wait_for_port(
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
    let mut last_state = None;
    let outcome = |open, probes, last_error, last_state| VerifyOutcome {
        address,
        open,
        elapsed: started.elapsed(),
        probes,
        last_error,
        last_state,
    };
    loop {
        let now = Instant::now();
        if now >= deadline {
            let state = last_state.or(Some(PortState::NoAnswer));
            return Ok(outcome(false, probes, last_error.or_else(|| Some("no answer".to_owned())), state));
        }
        if now >= next_probe && in_flight.len() < MAX_PROBES_IN_FLIGHT {
            probes += 1;
            let lifetime = PROBE_LIFETIME.min(deadline - now);
            in_flight.spawn(async move {
                let probe = async {
                    // The semaphore is never closed; a failed acquire would only mean no bound.
                    let _slot = PROBE_SLOTS.acquire().await;
                    connect(address, bind).await
                };
                match tokio::time::timeout(lifetime, probe).await {
                    Ok(result) => result.map(drop).map_err(|e| (e.to_string(), PortState::of_error(&e))),
                    Err(_) => Err((format!("no answer within {} ms", lifetime.as_millis()), PortState::NoAnswer)),
                }
            });
            next_probe = now + PROBE_SPACING;
        }
        let wake = next_probe.min(deadline);
        tokio::select! {
            _ = cancel.cancelled() => return Err(KnockError::Cancelled),
            _ = tokio::time::sleep_until(wake.into()) => {}
            Some(finished) = in_flight.join_next(), if !in_flight.is_empty() => match finished {
                Ok(Ok(())) => return Ok(outcome(true, probes, None, None)),
                Ok(Err((error, state))) => {
                    // A timeout says less than a RST or an ICMP error: it does not hide one seen earlier.
                    if state != PortState::NoAnswer || last_state.is_none() {
                        last_error = Some(error);
                        last_state = Some(state);
                    }
                }
                Err(join) => last_error = Some(format!("probe failed: {join}")),
            },
        }
    }
}

/// What one connect to a port saw.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum PortState {
    /// The handshake completed: something listens and the path is open.
    Answers,
    /// A RST (or an ICMP port unreachable, which the kernel reports the same way): the host is reachable,
    /// the port is closed or REJECTed.
    Refused,
    /// Nothing came back within the budget: a firewall drops the SYN, or the host is down.
    NoAnswer,
    /// An ICMP host/network unreachable (or no route): the packets do not reach the host.
    Unreachable(String),
    /// Any other local error (no address of that family, a bind failure).
    Error(String),
}

impl PortState {
    /// A stable identifier for JSON: `answers`, `refused`, `no_answer`, `unreachable`, `error`.
    pub fn as_str(&self) -> &'static str {
        match self {
            PortState::Answers => "answers",
            PortState::Refused => "refused",
            PortState::NoAnswer => "no_answer",
            PortState::Unreachable(_) => "unreachable",
            PortState::Error(_) => "error",
        }
    }

    /// One phrase for people: `answers`, `refused (RST)`, ...
    pub fn describe(&self) -> String {
        match self {
            PortState::Answers => "answers".to_owned(),
            PortState::Refused => "refused (RST: host reachable, port closed or rejected)".to_owned(),
            PortState::NoAnswer => "no answer (filtered, or the host is down)".to_owned(),
            PortState::Unreachable(why) => format!("unreachable (ICMP or no route: {why})"),
            PortState::Error(why) => format!("probe failed: {why}"),
        }
    }

    fn of_error(error: &std::io::Error) -> PortState {
        use std::io::ErrorKind as K;
        match error.kind() {
            K::ConnectionRefused | K::ConnectionReset => PortState::Refused,
            K::HostUnreachable | K::NetworkUnreachable | K::AddrNotAvailable => {
                PortState::Unreachable(error.to_string())
            }
            K::TimedOut => PortState::NoAnswer,
            _ => PortState::Error(error.to_string()),
        }
    }
}

/// One TCP connect to `address` (from `bind`, if given), waiting at most `budget`. Front ends use it to
/// check that a door closed after its close sequence (the port no longer answers).
pub async fn probe_port(address: SocketAddr, bind: Option<IpAddr>, budget: Duration) -> PortState {
    match tokio::time::timeout(budget, connect(address, bind)).await {
        Ok(Ok(_stream)) => PortState::Answers,
        Ok(Err(error)) => PortState::of_error(&error),
        Err(_) => PortState::NoAnswer,
    }
}

/// One connect that fails at the first RST or ICMP error on every OS (Windows would otherwise retry a
/// refused SYN for about 2 s: see [`crate::send::syn_retries`]).
async fn connect(address: SocketAddr, bind: Option<IpAddr>) -> std::io::Result<TcpStream> {
    let socket = Socket::new(Domain::for_address(address), Type::STREAM, Some(Protocol::TCP))?;
    socket.set_nonblocking(true)?;
    crate::send::syn_retries::fail_connect_at_first_refusal(&socket);
    if let Some(ip) = bind {
        socket.bind(&SocketAddr::new(ip, 0).into())?;
    }
    tokio::net::TcpSocket::from_std_stream(socket.into()).connect(address).await
}
