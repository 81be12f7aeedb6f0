//! The unprivileged TCP hit: a non-blocking connect() closed right after the SYN left, so exactly one plain
//! SYN.
//!
//! Per OS (what makes it exactly one SYN, and when the socket is closed):
//! - Linux, macOS, BSDs: the kernel emits the SYN inside `connect()` and, because the socket is closed while
//!   still in SYN_SENT, never retransmits it (a socket left open ~1 s would be retransmitted at +1 s, +2 s,
//!   ... on Linux). Closed as soon as `connect()` returns EINPROGRESS. Measured on Linux with captures in the
//!   lab (tests/tests/wire.rs).
//! - Windows: `connect()` returns WSAEWOULDBLOCK before the stack has necessarily sent anything, and a
//!   failure to send (no route, a filter driver that holds the packet) is only reported later; closing at
//!   once (linger 0 aborts the attempt) could send zero SYNs and still count the hit as sent. So the hit
//!   waits, with `select`, until the attempt is answered (connected, or refused by a RST: either way the
//!   SYN was on the wire) or has failed (an error, returned: nothing was sent), for at most
//!   [`SYN_WAIT`]; a port that never answers (the usual knock port, filtered) is closed when that runs
//!   out, as it has been the whole time the stack needed to send. One SYN still: `SIO_TCP_INITIAL_RTO`
//!   with `TCP_INITIAL_RTO_NO_SYN_RETRANSMISSIONS` forbids a second one where Windows honours it (see
//!   [`super::syn_retries`] for which builds), and where it does not, the socket is closed before the stack
//!   could send another: a RST ends the wait at once (before any retry after it), and an unanswered SYN is
//!   aborted at [`SYN_WAIT`], far before the first retransmission (3 s, Windows' default initial RTO,
//!   Microsoft's TcpInitialRTT documentation). The CI's Windows job counts SYNs per hit with the built-in `pktmon`
//!   capture; under Wine (scripts/check-platforms.sh) the sockets are Linux's.
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
        #[cfg(windows)]
        Err(err) if connect_in_progress(&err) => windows::wait_for_syn(&socket),
        #[cfg(not(windows))]
        Err(err) if connect_in_progress(&err) => Ok(()),
        Err(err) => Err(err),
    }
    // `socket` is dropped (closed) here, right after the SYN left.
}

/// How long a Windows connect hit waits for its SYN to be answered or to fail (see the module docs): far
/// below the stack's first SYN retransmission (3 s), long enough for a SYN to leave a busy machine.
#[cfg(windows)]
pub(super) const SYN_WAIT: Duration = Duration::from_millis(100);

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

#[cfg(windows)]
#[expect(unsafe_code, reason = "select with Winsock's FD_SET and TIMEVAL, which windows-sys exposes only as unsafe")]
mod windows {
    use std::io;
    use std::os::windows::io::AsRawSocket;

    use socket2::Socket;
    use windows_sys::Win32::Networking::WinSock::{FD_SET, SOCKET, SOCKET_ERROR, TIMEVAL, WSAECONNREFUSED, select};

    use super::SYN_WAIT;

    /// Waits, at most [`SYN_WAIT`], for a non-blocking connect to be answered or to fail. Answered
    /// (connected or refused) and unanswered are Ok: the SYN was sent, or had that long to be. A failure
    /// before any answer (no route to the host, a filter that dropped the attempt) is the error.
    pub(super) fn wait_for_syn(socket: &Socket) -> io::Result<()> {
        let raw = socket.as_raw_socket() as SOCKET;
        let mut only_this = FD_SET { fd_count: 1, fd_array: [0; 64] };
        only_this.fd_array[0] = raw;
        // Writable: connected. Exceptional: the connect failed (Winsock's select documentation).
        let (mut connected, mut failed) = (only_this, only_this);
        let timeout = TIMEVAL { tv_sec: 0, tv_usec: SYN_WAIT.as_micros() as i32 };
        // SAFETY: two FD_SETs and a TIMEVAL that live across the call; nfds is ignored by Winsock.
        let ready = unsafe { select(0, std::ptr::null_mut(), &mut connected, &mut failed, &timeout) };
        if ready == SOCKET_ERROR {
            return Err(io::Error::last_os_error());
        }
        if failed.fd_count == 0 {
            // Connected, or no answer within the bound.
            return Ok(());
        }
        match socket.take_error()? {
            // A RST answered the SYN: it was on the wire, as a knock on a closed port should be.
            Some(err) if err.raw_os_error() == Some(WSAECONNREFUSED) => Ok(()),
            Some(err) => Err(err),
            None => Ok(()),
        }
    }
}

#[cfg(test)]
mod tests {
    use std::net::{Ipv4Addr, SocketAddr, TcpListener};

    use super::send_syn;

    /// A hit on a closed loopback port is answered by a RST: sent, and on Windows the wait ends with the
    /// answer rather than at its bound.
    #[test]
    fn a_hit_on_a_closed_port_is_sent_without_waiting_out_the_bound() {
        let closed = TcpListener::bind((Ipv4Addr::LOCALHOST, 0)).expect("a free port");
        let to = closed.local_addr().expect("its address");
        drop(closed);
        #[cfg(windows)]
        let started = std::time::Instant::now();
        send_syn(to, None).expect("a refused SYN counts as sent");
        #[cfg(windows)]
        assert!(started.elapsed() < super::SYN_WAIT, "waited {:?} for a RST on loopback", started.elapsed());
    }

    /// A hit on a listening port completes the handshake: sent.
    #[test]
    fn a_hit_on_a_listening_port_is_sent() {
        let listener = TcpListener::bind((Ipv4Addr::LOCALHOST, 0)).expect("a free port");
        let to: SocketAddr = listener.local_addr().expect("its address");
        send_syn(to, None).expect("an accepted SYN counts as sent");
    }
}
