//! Did the door open? After a knock, poll a TCP connect to the service port until it answers or the
//! timeout passes. (Retrying a door that did not open is [`crate::open`]'s job.) Lossy links,
//! SYN-eating middleboxes and servers that need a moment to run their command make this the difference
//! between "sent" and "works".
//!
//! The probe connects from the knock's bind address (if any), because the server opened the port for
//! the address the knock came from, and to the exact address that was knocked.

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
