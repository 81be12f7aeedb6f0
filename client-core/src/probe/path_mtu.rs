//! The path MTU towards a server, measured: does a datagram of a given size cross without being
//! fragmented? (`doctor` asks it for an SPA packet: a fragmented one is often dropped on the way, and a
//! server capturing packets does not reassemble it.)
//!
//! Per OS (decided here, nowhere else):
//! - **Linux:** a UDP socket connected to the server with `IP_MTU_DISCOVER = IP_PMTUDISC_DO`
//!   (`IPV6_MTU_DISCOVER = IPV6_PMTUDISC_DO`), so nothing it sends is fragmented. One probe of the size in
//!   question goes to the server's discard port ([`PROBE_PORT`]) with DF set: either the local stack
//!   refuses it (EMSGSIZE: bigger than the route's MTU), or a router with a smaller link answers
//!   "fragmentation needed" / "packet too big" (read from the error queue, [`crate::probe::icmp_errors`]), or it
//!   crosses. `IP_MTU` / `IPV6_MTU` then give the kernel's path MTU: the route's, lowered by what the probe
//!   taught it (or the router's figure, when it is below the kernel's floor). No privilege is needed.
//! - **Other OSes:** not measured: [`measure`] answers "not available on this OS" and the caller keeps a
//!   fixed safe size.

use std::io;
use std::net::IpAddr;
use std::time::Duration;

#[cfg(target_os = "linux")]
use crate::probe::icmp_errors::IcmpError;

/// The probe goes to the discard service (RFC 863): nothing is expected to act on it.
#[cfg(target_os = "linux")]
pub(crate) const PROBE_PORT: u16 = 9;

/// IP and UDP header bytes around a UDP payload in each family.
pub(crate) fn udp_overhead(ip: IpAddr) -> usize {
    if ip.is_ipv4() { 20 + 8 } else { 40 + 8 }
}

/// What a measurement found.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct PathMtu {
    /// The kernel's path MTU towards the server after the probe (IP header included).
    pub mtu: u32,
    /// How the probe fared: `None` when it left and nothing came back.
    pub probe: Option<String>,
}

/// Measures the path MTU towards `server` with one probe carrying `payload_len` bytes of UDP payload,
/// waiting at most `wait` for an answer to it. Linux only (see the module docs).
#[cfg(target_os = "linux")]
pub(crate) async fn measure(server: IpAddr, payload_len: usize, wait: Duration) -> io::Result<PathMtu> {
    use socket2::{Domain, Protocol, Socket, Type};

    let to = std::net::SocketAddr::new(server, PROBE_PORT);
    let socket = Socket::new(Domain::for_address(to), Type::DGRAM, Some(Protocol::UDP))?;
    use rustix::net::sockopt;
    if server.is_ipv4() {
        sockopt::set_ip_mtu_discover(&socket, sockopt::Ipv4PathMtuDiscovery::DO)?;
    } else {
        sockopt::set_ipv6_mtu_discover(&socket, sockopt::Ipv6PathMtuDiscovery::DO)?;
    }
    crate::probe::icmp_errors::enable(&socket, server.is_ipv6())?;
    socket.connect(&to.into())?;
    let probe = vec![0u8; payload_len];
    // A router's "too big" may name an MTU below the kernel's floor (min_pmtu, 552 by default), which the
    // kernel then reports instead: the smaller of the two is the path's.
    let mut told: Option<u32> = None;
    let outcome = match socket.send(&probe) {
        Ok(_) => {
            let deadline = std::time::Instant::now() + wait;
            loop {
                let answers = crate::probe::icmp_errors::read_errors(&socket);
                if let Some(answer) = answers.first() {
                    if let IcmpError::TooBig { mtu, .. } = answer {
                        told = Some(*mtu).filter(|m| *m > 0);
                    }
                    break Some(probe_answer(answer));
                }
                if std::time::Instant::now() >= deadline {
                    break None;
                }
                tokio::time::sleep(Duration::from_millis(20)).await;
            }
        }
        Err(e) if e.raw_os_error() == Some(libc::EMSGSIZE) => {
            Some("refused by this host: larger than the route's MTU".to_owned())
        }
        Err(e) => return Err(e),
    };
    let kernel = if server.is_ipv4() { sockopt::ip_mtu(&socket)? } else { sockopt::ipv6_mtu(&socket)? };
    let mtu = told.map_or(kernel, |told| told.min(kernel));
    Ok(PathMtu { mtu, probe: outcome })
}

#[cfg(not(target_os = "linux"))]
pub(crate) async fn measure(_server: IpAddr, _payload_len: usize, _wait: Duration) -> io::Result<PathMtu> {
    Err(io::Error::new(io::ErrorKind::Unsupported, "not available on this OS (measured on Linux only)"))
}

#[cfg(target_os = "linux")]
fn probe_answer(answer: &IcmpError) -> String {
    match answer {
        IcmpError::TooBig { from: Some(router), mtu } => format!("{router} answered that its link's MTU is {mtu}"),
        IcmpError::TooBig { from: None, mtu } => format!("refused by this host: larger than the MTU {mtu}"),
        IcmpError::PortUnreachable { from } => format!("crossed: {from} answered port unreachable"),
        other => other.describe(),
    }
}

#[cfg(all(test, target_os = "linux"))]
mod tests {
    use super::*;

    #[test]
    fn loopback_has_a_large_mtu_and_a_small_probe_crosses() {
        let rt = tokio::runtime::Builder::new_current_thread().enable_all().build().expect("runtime");
        let found =
            rt.block_on(measure(IpAddr::from([127, 0, 0, 1]), 100, Duration::from_millis(500))).expect("measured");
        assert!(found.mtu >= 1500, "{found:?}");
        // Loopback's discard port is closed here (or open): either way nothing says "too big".
        assert!(!found.probe.as_deref().unwrap_or("").contains("MTU"), "{found:?}");
    }
}
