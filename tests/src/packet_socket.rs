//! One AF_PACKET socket on a lab interface, for frames no client tool makes (IPv6 extension headers,
//! fragments, spoofed sources, sweeps, floods): the frame goes on the wire as given, the kernel adds
//! nothing. [`PacketSocket::open_in`] moves the calling thread into the namespace first, so callers
//! open it from a thread of their own ([`Lab::send_client_frame`](crate::Lab::send_client_frame) and
//! the sweep and flood senders do).

#![expect(unsafe_code, reason = "an AF_PACKET socket and sendmmsg, which neither std nor socket2 wraps")]

use std::io;
use std::os::fd::{AsRawFd, FromRawFd, OwnedFd};
use std::path::{Path, PathBuf};
use std::time::Duration;

use crate::lab::{Lab, LabError};

/// An AF_PACKET socket bound to one interface of one namespace.
pub struct PacketSocket {
    fd: OwnedFd,
    addr: libc::sockaddr_ll,
}

impl Lab {
    /// Where the client's frames go out: its namespace's path and its veth's name (for
    /// [`PacketSocket::open_in`] on a thread of the caller's).
    pub fn client_packet_target(&self) -> Result<(PathBuf, std::ffi::CString), LabError> {
        let iface = std::ffi::CString::new(self.client_iface())
            .map_err(|_| LabError::Config(format!("interface name {:?}", self.client_iface())))?;
        Ok((Path::new("/run/netns").join(self.client_ns()), iface))
    }
}

impl PacketSocket {
    /// Joins the namespace at `ns` (this thread only, for good: call it from a thread of its own) and
    /// opens a socket that sends on `iface` there.
    pub fn open_in(ns: &Path, iface: &std::ffi::CStr) -> io::Result<PacketSocket> {
        crate::lab::enter_netns(ns)?;
        // SAFETY: if_nametoindex reads a NUL-terminated string.
        let index = unsafe { libc::if_nametoindex(iface.as_ptr()) };
        if index == 0 {
            return Err(io::Error::last_os_error());
        }
        // SAFETY: socket(2) has no memory preconditions; the fd is owned (closed) by OwnedFd.
        let fd = unsafe { libc::socket(libc::AF_PACKET, libc::SOCK_RAW, 0) };
        if fd < 0 {
            return Err(io::Error::last_os_error());
        }
        // SAFETY: fd is a fresh, valid descriptor that nothing else owns.
        let fd = unsafe { OwnedFd::from_raw_fd(fd) };
        // SAFETY: sockaddr_ll is plain data; all-zero is a valid value.
        let mut addr: libc::sockaddr_ll = unsafe { std::mem::zeroed() };
        addr.sll_family = libc::AF_PACKET as libc::c_ushort;
        addr.sll_ifindex = libc::c_int::try_from(index).map_err(io::Error::other)?;
        addr.sll_halen = 6;
        Ok(PacketSocket { fd, addr })
    }

    /// Sends one whole Ethernet frame; a full transmit queue is waited for, never a frame dropped.
    pub fn send(&self, frame: &[u8]) -> io::Result<()> {
        loop {
            // SAFETY: buffer and address are valid for the given lengths for the duration of the call.
            let sent = unsafe {
                libc::sendto(
                    self.fd.as_raw_fd(),
                    frame.as_ptr().cast(),
                    frame.len(),
                    0,
                    std::ptr::from_ref(&self.addr).cast(),
                    std::mem::size_of::<libc::sockaddr_ll>() as libc::socklen_t,
                )
            };
            if sent >= 0 {
                return Ok(());
            }
            wait_for_queue(io::Error::last_os_error())?;
        }
    }

    /// Sends every frame of `frames` with sendmmsg(2), as few calls as the queue allows.
    pub fn send_batch(&self, frames: &[&[u8]]) -> io::Result<()> {
        let mut iovecs: Vec<libc::iovec> = frames
            .iter()
            .map(|frame| libc::iovec { iov_base: frame.as_ptr().cast_mut().cast(), iov_len: frame.len() })
            .collect();
        let mut done = 0;
        while done < iovecs.len() {
            let mut headers: Vec<libc::mmsghdr> = iovecs[done..]
                .iter_mut()
                .map(|iov| {
                    // SAFETY: msghdr is plain data; all-zero is a valid value.
                    let mut msg: libc::msghdr = unsafe { std::mem::zeroed() };
                    msg.msg_name = std::ptr::from_ref(&self.addr).cast_mut().cast();
                    msg.msg_namelen = std::mem::size_of::<libc::sockaddr_ll>() as libc::socklen_t;
                    msg.msg_iov = iov;
                    msg.msg_iovlen = 1;
                    libc::mmsghdr { msg_hdr: msg, msg_len: 0 }
                })
                .collect();
            let len = libc::c_uint::try_from(headers.len()).map_err(io::Error::other)?;
            // SAFETY: every header points at a live iovec, frame and address for the duration of the call.
            let sent = unsafe { libc::sendmmsg(self.fd.as_raw_fd(), headers.as_mut_ptr(), len, 0) };
            if sent > 0 {
                done += usize::try_from(sent).map_err(io::Error::other)?;
                continue;
            }
            wait_for_queue(io::Error::last_os_error())?;
        }
        Ok(())
    }
}

/// A full transmit queue (ENOBUFS, EAGAIN) is waited out briefly; any other error is returned.
fn wait_for_queue(err: io::Error) -> io::Result<()> {
    if err.raw_os_error() == Some(libc::ENOBUFS) || err.kind() == io::ErrorKind::WouldBlock {
        std::thread::sleep(Duration::from_micros(50));
        Ok(())
    } else {
        Err(err)
    }
}
