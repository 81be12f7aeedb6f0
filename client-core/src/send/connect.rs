//! The unprivileged TCP hit: a non-blocking connect() closed at once, so exactly one plain SYN.
//!
//! Per OS (what makes it exactly one SYN):
//! - Linux, macOS, BSDs: the kernel emits the SYN inside `connect()` and, because the socket is closed while
//!   still in SYN_SENT, never retransmits it (a socket left open ~1 s would be retransmitted at +1 s, +2 s,
//!   ... on Linux). Measured on Linux with captures in the lab (tests/tests/wire.rs).
//! - Windows: before connecting, `SIO_TCP_INITIAL_RTO` sets `MaxSynRetransmissions` to
//!   `TCP_INITIAL_RTO_NO_SYN_RETRANSMISSIONS`, so even if `closesocket` were slow to abort the attempt, the
//!   stack would never send a second SYN (by default Windows retransmits twice, and retries after a RST).
//!   The per-OS rules, and Wine, are in [`super::syn_retries`]. The CI's Windows job counts SYNs per hit
//!   with the built-in `pktmon` capture.
//!
//! Everywhere, linger 0 makes a late SYN-ACK answered by one RST instead of a FIN handshake.

use std::io;
use std::net::SocketAddr;
use std::time::Duration;

use socket2::{Domain, Protocol, Socket, Type};

use super::syn_retries::forbid_syn_retransmissions;

pub(super) fn send_syn(to: SocketAddr, local: Option<SocketAddr>) -> io::Result<()> {
    let socket = Socket::new(Domain::for_address(to), Type::STREAM, Some(Protocol::TCP))?;
    socket.set_nonblocking(true)?;
    socket.set_linger(Some(Duration::ZERO))?;
    forbid_syn_retransmissions(&socket)?;
    if let Some(local) = local {
        // A fixed source port is reused hit after hit; nothing lingers in TIME_WAIT, but be explicit.
        socket.set_reuse_address(true)?;
        socket.bind(&local.into())?;
    }
    match socket.connect(&to.into()) {
        Ok(()) => Ok(()),
        Err(err) if connect_in_progress(&err) => Ok(()),
        Err(err) => Err(err),
    }
    // `socket` is dropped (closed) here, right after the SYN left.
}

#[cfg(unix)]
fn connect_in_progress(err: &io::Error) -> bool {
    err.raw_os_error() == Some(libc::EINPROGRESS)
}

#[cfg(windows)]
fn connect_in_progress(err: &io::Error) -> bool {
    // WSAEWOULDBLOCK, which std maps to WouldBlock.
    err.kind() == io::ErrorKind::WouldBlock
}

#[cfg(not(any(unix, windows)))]
fn connect_in_progress(err: &io::Error) -> bool {
    err.kind() == io::ErrorKind::WouldBlock
}
