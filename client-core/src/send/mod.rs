//! Putting hits on the wire. One module per method; [`HitSender`] picks between them per hit.
//!
//! | method    | TCP hit                                      | privilege                      | platforms |
//! |-----------|----------------------------------------------|--------------------------------|-----------|
//! | `raw`     | one hand-built segment, any flags            | CAP_NET_RAW (Linux), root (Unix) | Unix    |
//! | `connect` | non-blocking connect(), closed at once: one plain SYN, never retransmitted | none | all |
//! | `auto`    | `raw` where permitted and set up, else `connect` (plain SYN only) | —          | all       |
//!
//! UDP hits are one datagram on an ordinary socket with every method. [`privilege`] says whether raw
//! sockets are permitted and how to grant them.

mod connect;
pub(crate) mod privilege;
mod raw;
pub(crate) mod syn_retries;
mod udp;

use std::fmt;
use std::io;
use std::net::{IpAddr, SocketAddr};

use crate::sequence::{Hit, Protocol, TcpFlags};

pub(crate) use crate::settings::Method;

/// How TCP hits of one knock are sent, once `auto` has been decided.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum TcpMethod {
    Raw,
    Connect,
}

impl TcpMethod {
    pub fn as_str(self) -> &'static str {
        match self {
            TcpMethod::Raw => "raw",
            TcpMethod::Connect => "connect",
        }
    }
}

impl fmt::Display for TcpMethod {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// How one hit went out.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum HitMethod {
    Raw,
    Connect,
    Udp,
}

impl HitMethod {
    pub fn as_str(self) -> &'static str {
        match self {
            HitMethod::Raw => "raw",
            HitMethod::Connect => "connect",
            HitMethod::Udp => "udp",
        }
    }
}

impl fmt::Display for HitMethod {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// Everything needed to send the hits of one knock to one resolved address.
pub(crate) struct HitSender {
    destination: SocketAddr,
    tcp: Option<TcpSender>,
    udp_payload: Vec<u8>,
    bind_address: Option<IpAddr>,
    source_port: Option<u16>,
}

enum TcpSender {
    /// `syn_options`: a segment with SYN carries the OS-like option set ([`raw`]'s module docs).
    Raw {
        socket: raw::RawTcpSocket,
        flags: TcpFlags,
        syn_options: bool,
    },
    Connect,
}

impl HitSender {
    /// Opens what the knock needs up front (the raw socket), so a setup failure happens before any hit.
    ///
    /// With `connect_if_raw_fails` (method `auto` sending plain SYNs), a raw socket that was permitted but
    /// cannot be set up (an OS refusing an option, no route for the source address probe) falls back to
    /// `connect`, which sends the same plain SYN; [`HitSender::tcp_method`] says which one is used.
    pub(crate) fn open(
        destination: SocketAddr,
        tcp_method: Option<TcpMethod>,
        connect_if_raw_fails: bool,
        flags: TcpFlags,
        udp_payload: Vec<u8>,
        bind_address: Option<IpAddr>,
        source_port: Option<u16>,
    ) -> io::Result<HitSender> {
        let tcp = match tcp_method {
            None => None,
            Some(TcpMethod::Connect) => Some(TcpSender::Connect),
            Some(TcpMethod::Raw) => match raw::RawTcpSocket::open(destination, bind_address) {
                Ok(socket) => Some(TcpSender::Raw { socket, flags, syn_options: true }),
                Err(_) if connect_if_raw_fails => Some(TcpSender::Connect),
                Err(err) => return Err(err),
            },
        };
        Ok(HitSender { destination, tcp, udp_payload, bind_address, source_port })
    }

    /// Whether raw SYNs carry the OS-like TCP option set (the default) or none (a bare SYN).
    pub(crate) fn with_syn_options(mut self, on: bool) -> HitSender {
        if let Some(TcpSender::Raw { syn_options, .. }) = &mut self.tcp {
            *syn_options = on;
        }
        self
    }

    /// How TCP hits are actually sent (after any fallback), `None` when the knock has no TCP hit.
    pub(crate) fn tcp_method(&self) -> Option<TcpMethod> {
        match self.tcp {
            None => None,
            Some(TcpSender::Raw { .. }) => Some(TcpMethod::Raw),
            Some(TcpSender::Connect) => Some(TcpMethod::Connect),
        }
    }

    /// Sends one hit and says how it went out.
    pub(crate) fn send(&self, hit: Hit) -> io::Result<HitMethod> {
        let mut to = self.destination;
        to.set_port(hit.port);
        match (hit.protocol, &self.tcp) {
            (Protocol::Udp, _) => {
                udp::send_datagram(to, self.local(), &self.udp_payload)?;
                Ok(HitMethod::Udp)
            }
            (Protocol::Tcp, Some(TcpSender::Raw { socket, flags, syn_options })) => {
                socket.send_segment(hit.port, self.source_port, *flags, *syn_options)?;
                Ok(HitMethod::Raw)
            }
            (Protocol::Tcp, Some(TcpSender::Connect)) => {
                connect::send_syn(to, self.local())?;
                Ok(HitMethod::Connect)
            }
            (Protocol::Tcp, None) => {
                Err(io::Error::other("internal error: a TCP hit in a knock prepared without a TCP method"))
            }
        }
    }

    /// [`HitSender::send`], but a UDP hit's socket is handed to `watch` (armed before the datagram leaves)
    /// so the ICMP errors that come back for it can be read afterwards (`doctor`: did it arrive?).
    pub(crate) fn send_watched(
        &self,
        index: usize,
        hit: Hit,
        watch: &crate::probe::icmp_errors::UdpErrorWatch,
    ) -> io::Result<HitMethod> {
        if hit.protocol != Protocol::Udp {
            return self.send(hit);
        }
        let mut to = self.destination;
        to.set_port(hit.port);
        let socket = udp::open_socket(to, self.local())?;
        let armed = watch.arm(&socket, to);
        udp::send_from(&socket, to, &self.udp_payload)?;
        watch.keep(index, socket, to, armed);
        Ok(HitMethod::Udp)
    }

    /// The local address to bind ordinary sockets to, when the user asked for one.
    fn local(&self) -> Option<SocketAddr> {
        if self.bind_address.is_none() && self.source_port.is_none() {
            return None;
        }
        let ip = self.bind_address.unwrap_or(match self.destination {
            SocketAddr::V4(_) => IpAddr::from([0u8; 4]),
            SocketAddr::V6(_) => IpAddr::from([0u16; 8]),
        });
        Some(SocketAddr::new(ip, self.source_port.unwrap_or(0)))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A source address this machine does not have (TEST-NET-1): raw setup fails on every OS, whether
    /// raw sockets are refused (EPERM, Windows) or permitted (bind: EADDRNOTAVAIL).
    const FOREIGN_SOURCE: [u8; 4] = [192, 0, 2, 77];

    fn open_raw(connect_if_raw_fails: bool) -> io::Result<HitSender> {
        HitSender::open(
            SocketAddr::from(([127, 0, 0, 1], 7000)),
            Some(TcpMethod::Raw),
            connect_if_raw_fails,
            TcpFlags::SYN,
            vec![0],
            Some(IpAddr::from(FOREIGN_SOURCE)),
            None,
        )
    }

    #[test]
    fn auto_falls_back_to_connect_when_raw_setup_fails() {
        let sender = open_raw(true).expect("falls back instead of failing");
        assert_eq!(sender.tcp_method(), Some(TcpMethod::Connect));
    }

    #[test]
    fn explicit_raw_reports_a_failed_setup() {
        assert!(open_raw(false).is_err(), "method raw must not silently become connect");
    }
}
