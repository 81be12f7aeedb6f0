//! How many SYNs one TCP connect may put on the wire, per OS. Two users: a `connect` knock hit must be
//! exactly one SYN (a second one would be a stray hit in the sequence), and a verify probe should learn
//! "refused" from the first RST instead of waiting out the stack's retries.
//!
//! Per OS:
//! - Linux, macOS, BSDs: nothing to set. A socket closed while in SYN_SENT is never retransmitted (measured
//!   on Linux in the lab, tests/tests/wire.rs), and a RST fails the connect at once (ECONNREFUSED).
//! - Windows (8 and later; Rust itself needs 10): by default the stack retransmits an unanswered SYN twice
//!   and, unlike Unix kernels, also retries a SYN that was answered by a RST, so a connect to a closed port
//!   reports WSAECONNREFUSED only after about 2 s. `SIO_TCP_INITIAL_RTO` with `MaxSynRetransmissions =
//!   TCP_INITIAL_RTO_NO_SYN_RETRANSMISSIONS` makes that one SYN: the knock's guarantee, and a refused verify
//!   probe fails after one round trip. For verify probes `TCP_FAIL_CONNECT_ON_ICMP_ERROR` (Windows 10 1703
//!   and later) also makes an ICMP unreachable fail the connect, as it does on Unix, instead of being
//!   ignored until the connect times out. Verify sends a fresh probe every 200 ms anyway (verify.rs), so
//!   probes need no retransmissions of their own.
//! - Which Windows builds honour it: the ioctl and its structure exist from Windows 8 / Server 2012
//!   (Microsoft's TCP_INITIAL_RTO_PARAMETERS page), but the no-retransmit value
//!   (`TCP_INITIAL_RTO_NO_SYN_RETRANSMISSIONS`) is honoured from Windows 10 version 1709, build 16299, on
//!   (so Windows Server 2019 and later; Server 2016 is build 14393) (Microsoft's SIO_TCP_INITIAL_RTO page,
//!   learn.microsoft.com/windows/win32/winsock/sio-tcp-initial-rto; the build number is the one issue 22
//!   item 9 gives: the copy of that page read here shows the parameters, not the version remark). Older
//!   builds (Windows 10 1507 to 1703, which Rust's std still runs on) accept the call and may still
//!   retransmit: there a connect hit's one SYN rests on the socket being closed before the stack's first
//!   retransmission (send/connect.rs closes it at the first answer, or after at most 100 ms against a 3 s
//!   initial RTO), and a refused verify probe may take the old ~2 s.
//! - Windows programs under Wine: Wine's ws2_32 does not implement `SIO_TCP_INITIAL_RTO` (WSAEOPNOTSUPP),
//!   and its sockets are the host kernel's (Linux, macOS), which never retransmit a SYN after close. So that
//!   one refusal, and only under Wine (detected by ntdll's `wine_get_version` export), is not an error;
//!   scripts/check-platforms.sh runs knock-cli.exe under Wine and counts the SYNs with tcpdump.
//!
//! For a knock a failed limit is an error, never a silent downgrade: a retransmitted SYN breaks sequences.
//! For a verify probe it is best effort: a probe that retries only answers later.

use std::io;

use socket2::Socket;

/// Makes `socket` (not yet connected) send exactly one SYN, or says why it cannot.
#[cfg(not(windows))]
pub(super) fn forbid_syn_retransmissions(_socket: &Socket) -> io::Result<()> {
    Ok(())
}

/// Makes a verify probe's connect fail at the first RST or ICMP error; failures are ignored (see above).
#[cfg(not(windows))]
pub(crate) fn fail_connect_at_first_refusal(_socket: &Socket) {}

#[cfg(windows)]
pub(super) fn forbid_syn_retransmissions(socket: &Socket) -> io::Result<()> {
    use windows_sys::Win32::Networking::WinSock::WSAEOPNOTSUPP;
    match windows::set_no_syn_retransmissions(socket) {
        Ok(()) => Ok(()),
        Err(err) if err.raw_os_error() == Some(WSAEOPNOTSUPP) && windows::running_under_wine() => Ok(()),
        Err(err) => Err(io::Error::new(
            err.kind(),
            format!("cannot limit SYN retransmissions to zero (SIO_TCP_INITIAL_RTO, needs Windows 8 or later): {err}"),
        )),
    }
}

#[cfg(windows)]
pub(crate) fn fail_connect_at_first_refusal(socket: &Socket) {
    let _ = windows::set_no_syn_retransmissions(socket);
    let _ = windows::set_fail_connect_on_icmp_error(socket);
}

#[cfg(windows)]
#[expect(
    unsafe_code,
    reason = "WSAIoctl and setsockopt with Winsock structs, and GetProcAddress, which windows-sys exposes only as unsafe"
)]
mod windows {
    use std::io;
    use std::os::windows::io::AsRawSocket;
    use std::sync::OnceLock;

    use socket2::Socket;
    use windows_sys::Win32::Networking::WinSock::{
        IPPROTO_TCP, SIO_TCP_INITIAL_RTO, SOCKET, SOCKET_ERROR, TCP_FAIL_CONNECT_ON_ICMP_ERROR,
        TCP_INITIAL_RTO_NO_SYN_RETRANSMISSIONS, TCP_INITIAL_RTO_PARAMETERS, WSAIoctl, setsockopt,
    };
    use windows_sys::Win32::System::LibraryLoader::{GetModuleHandleW, GetProcAddress};

    /// `SIO_TCP_INITIAL_RTO` with zero SYN retransmissions (mstcpip.h).
    pub(super) fn set_no_syn_retransmissions(socket: &Socket) -> io::Result<()> {
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
        if status == SOCKET_ERROR { Err(io::Error::last_os_error()) } else { Ok(()) }
    }

    /// `TCP_FAIL_CONNECT_ON_ICMP_ERROR` = 1 (a DWORD option).
    pub(super) fn set_fail_connect_on_icmp_error(socket: &Socket) -> io::Result<()> {
        let enable: u32 = 1;
        // SAFETY: a valid socket handle we own; the option value is a DWORD of the size passed.
        let status = unsafe {
            setsockopt(
                socket.as_raw_socket() as SOCKET,
                IPPROTO_TCP,
                TCP_FAIL_CONNECT_ON_ICMP_ERROR,
                std::ptr::from_ref(&enable).cast(),
                std::mem::size_of::<u32>() as i32,
            )
        };
        if status == SOCKET_ERROR { Err(io::Error::last_os_error()) } else { Ok(()) }
    }

    /// Wine's ntdll exports `wine_get_version`; Windows' never does.
    pub(super) fn running_under_wine() -> bool {
        static WINE: OnceLock<bool> = OnceLock::new();
        *WINE.get_or_init(|| {
            let ntdll: Vec<u16> = "ntdll.dll\0".encode_utf16().collect();
            // SAFETY: NUL-terminated strings; ntdll is loaded in every Windows process and the handle is not
            // freed (GetModuleHandleW does not add a reference).
            unsafe {
                let module = GetModuleHandleW(ntdll.as_ptr());
                !module.is_null() && GetProcAddress(module, c"wine_get_version".as_ptr().cast()).is_some()
            }
        })
    }
}
