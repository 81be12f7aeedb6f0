//! The unprivileged TCP hit: a non-blocking connect() closed at once, so exactly one plain SYN.
//!
//! Per OS (what makes it exactly one SYN):
//! - Linux, macOS, BSDs: the kernel emits the SYN inside `connect()` and, because the socket is closed while
//!   still in SYN_SENT, never retransmits it (a socket left open ~1 s would be retransmitted at +1 s, +2 s,
//!   ... on Linux). Measured on Linux with captures in the lab (tests/tests/wire.rs).
//! - Windows: before connecting, `SIO_TCP_INITIAL_RTO` sets `MaxSynRetransmissions` to
//!   `TCP_INITIAL_RTO_NO_SYN_RETRANSMISSIONS` (Windows 8 and later), so even if `closesocket` were slow to
//!   abort the attempt, the stack would never send a second SYN (by default Windows retransmits twice, and
//!   retries after a RST). The CI's Windows job counts SYNs per hit with the built-in `pktmon` capture.
//!   A failed ioctl is an error, not a silent downgrade: a retransmitted SYN breaks knock sequences.
//!
//! Everywhere, linger 0 makes a late SYN-ACK answered by one RST instead of a FIN handshake.

use std::io;
use std::net::SocketAddr;
use std::time::Duration;

use socket2::{Domain, Protocol, Socket, Type};

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

/// Unix kernels need nothing: closing in SYN_SENT already stops retransmissions.
#[cfg(not(windows))]
fn forbid_syn_retransmissions(_socket: &Socket) -> io::Result<()> {
    Ok(())
}

/// Windows: zero SYN retransmissions for this socket (`SIO_TCP_INITIAL_RTO`, mstcpip.h).
#[cfg(windows)]
fn forbid_syn_retransmissions(socket: &Socket) -> io::Result<()> {
    use std::os::windows::io::AsRawSocket;
    use windows_sys::Win32::Networking::WinSock::{
        SIO_TCP_INITIAL_RTO, SOCKET, SOCKET_ERROR, TCP_INITIAL_RTO_NO_SYN_RETRANSMISSIONS, TCP_INITIAL_RTO_PARAMETERS,
        WSAIoctl,
    };
    let parameters = TCP_INITIAL_RTO_PARAMETERS {
        // TCP_INITIAL_RTO_UNSPECIFIED_RTT ((USHORT)-1): keep the system's initial RTT estimate.
        Rtt: u16::MAX,
        // The header defines it as ((USHORT)-2) and C truncates it into this UCHAR field: 0xFE.
        MaxSynRetransmissions: TCP_INITIAL_RTO_NO_SYN_RETRANSMISSIONS as u8,
    };
    let mut returned = 0u32;
    // SAFETY: a valid socket handle we own, an input buffer of the documented struct and size, no output
    // buffer, synchronous call (no OVERLAPPED, no completion routine).
    let status = unsafe {
        WSAIoctl(
            socket.as_raw_socket() as SOCKET,
            SIO_TCP_INITIAL_RTO,
            std::ptr::from_ref(&parameters).cast(),
            std::mem::size_of::<TCP_INITIAL_RTO_PARAMETERS>() as u32,
            std::ptr::null_mut(),
            0,
            &mut returned,
            std::ptr::null_mut(),
            None,
        )
    };
    if status == SOCKET_ERROR {
        let err = io::Error::last_os_error();
        return Err(io::Error::new(
            err.kind(),
            format!("cannot limit SYN retransmissions to zero (SIO_TCP_INITIAL_RTO, needs Windows 8 or later): {err}"),
        ));
    }
    Ok(())
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
