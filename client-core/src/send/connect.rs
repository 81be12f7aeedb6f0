//! The unprivileged TCP hit: a non-blocking connect() closed at once.
//!
//! The kernel emits exactly one SYN for the connect and, because the socket is closed while still in
//! SYN_SENT, never retransmits it (a socket left open ~1 s would be retransmitted at +1 s, +2 s, ... on
//! Linux). Linger 0 makes a late SYN-ACK answered by one RST instead of a FIN handshake.

use std::io;
use std::net::SocketAddr;
use std::time::Duration;

use socket2::{Domain, Protocol, Socket, Type};

pub(super) fn send_syn(to: SocketAddr, local: Option<SocketAddr>) -> io::Result<()> {
    let socket = Socket::new(Domain::for_address(to), Type::STREAM, Some(Protocol::TCP))?;
    socket.set_nonblocking(true)?;
    socket.set_linger(Some(Duration::ZERO))?;
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
