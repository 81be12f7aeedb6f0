//! The ICMP errors that came back for UDP datagrams this process sent: the proof that a UDP hit arrived
//! (the server's own "port unreachable") or where it was dropped (an unreachable from a router on the
//! way), and the "packet too big" answers that measure a path MTU ([`crate::probe::path_mtu`]).
//!
//! Per OS (decided here, nowhere else):
//! - **Linux:** `IP_RECVERR` / `IPV6_RECVERR` on the sending socket, which needs no privilege. The kernel
//!   then queues every ICMP error that quotes one of the socket's datagrams, with its type, code and
//!   sender (the "offender"); `recvmsg(MSG_ERRQUEUE)` reads them (nix parses the control messages). The
//!   socket is kept open until the queue has been read.
//! - **macOS, the BSDs, Windows:** not built. They tell a port unreachable only as ECONNREFUSED on a
//!   connected socket, without the sender, and nothing of that has run here: [`UdpErrorWatch::arm`]
//!   answers "not available on this OS" and every hit reads as [`HitAnswer::NotWatched`].
//!
//! Reading is bounded: at most [`MAX_ERRORS_PER_SOCKET`] errors per socket and read.

use std::net::{IpAddr, SocketAddr};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use socket2::Socket;

#[cfg(target_os = "linux")]
/// No more queued errors than this are read from one socket at a time (a flood cannot keep us busy).
const MAX_ERRORS_PER_SOCKET: usize = 16;
/// How often the queues are looked at while waiting for answers.
const POLL_EVERY: Duration = Duration::from_millis(20);

/// One ICMP (or local) error reported for a datagram.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[cfg_attr(not(target_os = "linux"), expect(dead_code, reason = "only Linux reads the error queue"))]
pub(crate) enum IcmpError {
    /// ICMP port unreachable: the destination's host got the datagram and has no socket on the port.
    PortUnreachable { from: IpAddr },
    /// Destination unreachable for another reason (`what`: "host unreachable", "administratively
    /// prohibited (a firewall rejected it)", ...).
    Unreachable { from: IpAddr, what: &'static str },
    /// The datagram is larger than a link on the way: ICMP "fragmentation needed" / "packet too big" from
    /// `from`, or the local stack (`from` is `None`) refusing it with EMSGSIZE. `mtu` is the link's MTU.
    TooBig { from: Option<IpAddr>, mtu: u32 },
    /// The hop limit ran out on the way (a routing loop).
    TimeExceeded { from: IpAddr },
    /// Anything else the kernel queued (`errno` as it reported it).
    Other { from: Option<IpAddr>, errno: u32 },
}

impl IcmpError {
    /// `port unreachable from 192.0.2.2`, `host unreachable from 198.51.100.1`, ...
    pub(crate) fn describe(&self) -> String {
        let by = |from: &Option<IpAddr>| from.map_or_else(|| "from this host".to_owned(), |ip| format!("from {ip}"));
        match self {
            IcmpError::PortUnreachable { from } => format!("port unreachable from {from}"),
            IcmpError::Unreachable { from, what } => format!("{what} from {from}"),
            IcmpError::TooBig { from, mtu } => format!("packet too big (MTU {mtu}) {}", by(from)),
            IcmpError::TimeExceeded { from } => format!("time exceeded (a routing loop?) from {from}"),
            IcmpError::Other { from, errno } => {
                format!("{} {}", std::io::Error::from_raw_os_error(*errno as i32), by(from))
            }
        }
    }
}

/// What came back for one UDP hit.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum HitAnswer {
    /// The server's host answered port unreachable: the hit arrived.
    Arrived { from: IpAddr },
    /// Nothing came back (normal for a port the server filters).
    NoAnswer,
    /// An ICMP error other than the server's port unreachable.
    Error(IcmpError),
    /// Errors could not be watched for this hit (the reason, e.g. "not available on this OS").
    NotWatched(String),
}

struct Watched {
    index: usize,
    socket: Socket,
    to: SocketAddr,
    /// Whether the OS queues errors for this socket (when not, the hit reads as not watched, with why).
    armed: Result<(), Arc<std::io::Error>>,
    answer: Option<IcmpError>,
}

/// Keeps the sockets of a knock's UDP hits (armed before sending) and reads what came back for them.
#[derive(Default)]
pub(crate) struct UdpErrorWatch {
    kept: Mutex<Vec<Watched>>,
}

impl UdpErrorWatch {
    pub(crate) fn new() -> UdpErrorWatch {
        UdpErrorWatch::default()
    }

    /// Asks the OS to queue ICMP errors for `socket`'s datagrams (before anything is sent on it).
    pub(crate) fn arm(&self, socket: &Socket, to: SocketAddr) -> Result<(), Arc<std::io::Error>> {
        enable(socket, to.is_ipv6()).map_err(Arc::new)
    }

    /// Keeps the socket of hit `index` (sent to `to`) until [`UdpErrorWatch::collect`].
    pub(crate) fn keep(&self, index: usize, socket: Socket, to: SocketAddr, armed: Result<(), Arc<std::io::Error>>) {
        if let Ok(mut kept) = self.kept.lock() {
            kept.push(Watched { index, socket, to, armed, answer: None });
        }
    }

    /// Waits at most `window` for an answer to every armed hit (returning as soon as each has one), then
    /// says per hit (index, destination) what came back, in sending order.
    pub(crate) async fn collect(&self, window: Duration) -> Vec<(usize, SocketAddr, HitAnswer)> {
        let deadline = Instant::now() + window;
        loop {
            let pending = match self.kept.lock() {
                Ok(mut kept) => {
                    for watched in kept.iter_mut().filter(|w| w.armed.is_ok() && w.answer.is_none()) {
                        watched.answer = read_errors(&watched.socket).into_iter().next();
                    }
                    kept.iter().any(|w| w.armed.is_ok() && w.answer.is_none())
                }
                Err(_) => false,
            };
            if !pending || Instant::now() >= deadline {
                break;
            }
            tokio::time::sleep(POLL_EVERY).await;
        }
        let Ok(kept) = self.kept.lock() else { return Vec::new() };
        kept.iter()
            .map(|w| {
                let answer = match (&w.armed, w.answer) {
                    (Err(error), _) => HitAnswer::NotWatched(format!("cannot watch for ICMP errors: {error}")),
                    (Ok(()), None) => HitAnswer::NoAnswer,
                    (Ok(()), Some(IcmpError::PortUnreachable { from })) if from == w.to.ip() => {
                        HitAnswer::Arrived { from }
                    }
                    (Ok(()), Some(error)) => HitAnswer::Error(error),
                };
                (w.index, w.to, answer)
            })
            .collect()
    }
}

/// Turns on the error queue of a UDP socket (see the module docs for each OS).
#[cfg(target_os = "linux")]
pub(crate) fn enable(socket: &Socket, ipv6: bool) -> std::io::Result<()> {
    use nix::sys::socket::{setsockopt, sockopt};
    let done = if ipv6 {
        setsockopt(socket, sockopt::Ipv6RecvErr, &true)
    } else {
        setsockopt(socket, sockopt::Ipv4RecvErr, &true)
    };
    done.map_err(std::io::Error::from)
}

#[cfg(not(target_os = "linux"))]
pub(crate) fn enable(_socket: &Socket, _ipv6: bool) -> std::io::Result<()> {
    Err(std::io::Error::new(std::io::ErrorKind::Unsupported, "not available on this OS (Linux only)"))
}

/// The errors queued for `socket` so far (at most [`MAX_ERRORS_PER_SOCKET`]), oldest first.
#[cfg(target_os = "linux")]
pub(crate) fn read_errors(socket: &Socket) -> Vec<IcmpError> {
    use std::io::IoSliceMut;
    use std::os::fd::AsRawFd;

    use nix::sys::socket::{ControlMessageOwned, MsgFlags, SockaddrStorage, recvmsg};

    let mut found = Vec::new();
    for _ in 0..MAX_ERRORS_PER_SOCKET {
        // The queued copy of our own datagram comes back as the payload: not needed, so a small buffer
        // (it is truncated) will do.
        let mut quoted = [0u8; 64];
        let mut iov = [IoSliceMut::new(&mut quoted)];
        let mut control = nix::cmsg_space!(libc::sock_extended_err, libc::sockaddr_in6);
        let flags = MsgFlags::MSG_ERRQUEUE | MsgFlags::MSG_DONTWAIT;
        let Ok(message) = recvmsg::<SockaddrStorage>(socket.as_raw_fd(), &mut iov, Some(&mut control), flags) else {
            break; // EAGAIN: the queue is empty
        };
        let Ok(messages) = message.cmsgs() else { continue };
        for control in messages {
            match control {
                ControlMessageOwned::Ipv4RecvErr(error, offender) => {
                    let from =
                        offender.map(|a| IpAddr::from(std::net::Ipv4Addr::from(u32::from_be(a.sin_addr.s_addr))));
                    found.push(classify(&error, from));
                }
                ControlMessageOwned::Ipv6RecvErr(error, offender) => {
                    let from = offender.map(|a| IpAddr::from(std::net::Ipv6Addr::from(a.sin6_addr.s6_addr)));
                    found.push(classify(&error, from));
                }
                _ => {}
            }
        }
    }
    found
}

#[cfg(not(target_os = "linux"))]
pub(crate) fn read_errors(_socket: &Socket) -> Vec<IcmpError> {
    Vec::new()
}

/// One queued error as an [`IcmpError`] (ICMP and ICMPv6 types and codes as in RFC 792 and 4443).
#[cfg(target_os = "linux")]
fn classify(error: &libc::sock_extended_err, from: Option<IpAddr>) -> IcmpError {
    const ORIGIN_LOCAL: u8 = 1; // SO_EE_ORIGIN_LOCAL
    const ORIGIN_ICMP: u8 = 2; // SO_EE_ORIGIN_ICMP
    const ORIGIN_ICMP6: u8 = 3; // SO_EE_ORIGIN_ICMP6
    let other = IcmpError::Other { from, errno: error.ee_errno };
    let Some(sender) = from else {
        return match error.ee_origin {
            ORIGIN_LOCAL if error.ee_errno == libc::EMSGSIZE as u32 => {
                IcmpError::TooBig { from: None, mtu: error.ee_info }
            }
            _ => other,
        };
    };
    let unreachable = |what| IcmpError::Unreachable { from: sender, what };
    match (error.ee_origin, error.ee_type, error.ee_code) {
        (ORIGIN_ICMP, 3, 3) | (ORIGIN_ICMP6, 1, 4) => IcmpError::PortUnreachable { from: sender },
        (ORIGIN_ICMP, 3, 4) | (ORIGIN_ICMP6, 2, _) => IcmpError::TooBig { from, mtu: error.ee_info },
        (ORIGIN_ICMP, 3, 0 | 6) | (ORIGIN_ICMP6, 1, 0) => unreachable("network unreachable"),
        (ORIGIN_ICMP, 3, 1 | 7) | (ORIGIN_ICMP6, 1, 3) => unreachable("host unreachable"),
        (ORIGIN_ICMP, 3, 2) => unreachable("protocol unreachable"),
        (ORIGIN_ICMP, 3, 9 | 10 | 13) | (ORIGIN_ICMP6, 1, 1 | 5 | 6) => {
            unreachable("administratively prohibited (a firewall rejected it)")
        }
        (ORIGIN_ICMP, 3, _) | (ORIGIN_ICMP6, 1, _) => unreachable("destination unreachable"),
        (ORIGIN_ICMP, 11, _) | (ORIGIN_ICMP6, 3, _) => IcmpError::TimeExceeded { from: sender },
        (ORIGIN_LOCAL, _, _) if error.ee_errno == libc::EMSGSIZE as u32 => {
            IcmpError::TooBig { from: None, mtu: error.ee_info }
        }
        _ => other,
    }
}

#[cfg(all(test, target_os = "linux"))]
mod tests {
    use super::*;

    /// A closed loopback port answers port unreachable, and the watch says the datagram arrived.
    #[test]
    fn a_datagram_to_a_closed_loopback_port_is_proven_to_arrive() {
        let rt = tokio::runtime::Builder::new_current_thread().enable_all().build().expect("runtime");
        // A port that was free a moment ago: nothing listens there now.
        let closed = std::net::UdpSocket::bind("127.0.0.1:0").and_then(|s| s.local_addr()).expect("free port");
        let watch = UdpErrorWatch::new();
        let socket = Socket::new(socket2::Domain::IPV4, socket2::Type::DGRAM, None).expect("socket");
        let armed = watch.arm(&socket, closed);
        assert!(armed.is_ok(), "{armed:?}");
        socket.send_to(&[0], &closed.into()).expect("sent");
        watch.keep(0, socket, closed, armed);
        let answers = rt.block_on(watch.collect(Duration::from_secs(2)));
        assert_eq!(answers, vec![(0, closed, HitAnswer::Arrived { from: closed.ip() })]);
    }
}
