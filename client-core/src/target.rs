//! Resolving the knock target: once per knock, honouring an address-family preference.
//!
//! knock(1) calls getaddrinfo once per port and takes whatever comes first each time, so one knock can
//! spread its hits over an AAAA and an A record. Here the host is resolved once and every hit of the
//! sequence goes to that one address. IP literals (including `[v6]` and scoped `fe80::1%eth0`) skip DNS.

use std::net::{IpAddr, SocketAddr};

use thiserror::Error;

pub(crate) use crate::settings::AddressFamily;

#[derive(Debug, Clone, Error)]
pub enum ResolveError {
    #[error("empty host name")]
    EmptyHost,
    #[error("cannot resolve {host:?}: {source} ({})", if *transient {
        "a temporary resolver failure (EAI_AGAIN): retried with the profile's attempts and backoff"
    } else {
        "the resolver says the name does not exist or has no address (EAI_NONAME): not retried"
    })]
    Lookup {
        host: String,
        #[source]
        source: std::sync::Arc<std::io::Error>,
        /// A temporary failure (getaddrinfo's EAI_AGAIN, e.g. a resolver that timed out or answered
        /// SERVFAIL), worth retrying; otherwise the name does not exist (EAI_NONAME, NXDOMAIN) or the lookup
        /// failed for good.
        transient: bool,
    },
    #[error("{host:?} did not resolve within {seconds} s")]
    TimedOut { host: String, seconds: u64 },
    #[error("{host:?} has no {family} address (it resolves to {found})")]
    NoAddressInFamily { host: String, family: AddressFamily, found: String },
}

impl ResolveError {
    /// A failure that may pass if asked again: a temporary resolver failure or a lookup that timed out.
    pub fn is_transient(&self) -> bool {
        matches!(self, ResolveError::Lookup { transient: true, .. } | ResolveError::TimedOut { .. })
    }
}

fn lookup_error(host: &str, source: std::io::Error) -> ResolveError {
    let transient = is_temporary_failure(&source);
    ResolveError::Lookup { host: host.to_owned(), source: source.into(), transient }
}

/// getaddrinfo's EAI_AGAIN. The standard library reports it only as text (gai_strerror's, in the C
/// locale: glibc and musl say "Temporary failure in name resolution", macOS the same), or on Windows as
/// WSATRY_AGAIN (11002).
fn is_temporary_failure(err: &std::io::Error) -> bool {
    err.raw_os_error() == Some(11002) || err.to_string().contains("Temporary failure in name resolution")
}

/// Resolves `host` to one socket address (port 0; the hit sets it), preferring `family`.
pub async fn resolve(host: &str, family: AddressFamily) -> Result<SocketAddr, ResolveError> {
    let host = host.trim();
    if host.is_empty() {
        return Err(ResolveError::EmptyHost);
    }
    let bare = host.strip_prefix('[').and_then(|h| h.strip_suffix(']')).unwrap_or(host);
    let candidates: Vec<SocketAddr> = match bare.parse::<IpAddr>() {
        Ok(ip) => vec![SocketAddr::new(ip, 0)],
        // Not a plain literal: the system resolver (it also understands scoped `fe80::1%eth0`).
        Err(_) => tokio::net::lookup_host((bare, 0)).await.map_err(|source| lookup_error(host, source))?.collect(),
    };
    pick(host, family, &candidates)
}

/// Every address `host` resolves to, in the resolver's order, and how long the lookup took (zero for an
/// IP literal), within `timeout`. For `doctor`: the knock itself uses [`resolve`].
pub(crate) async fn resolve_all(
    host: &str,
    timeout: std::time::Duration,
) -> Result<(Vec<IpAddr>, std::time::Duration), ResolveError> {
    let started = std::time::Instant::now();
    let host = host.trim();
    if host.is_empty() {
        return Err(ResolveError::EmptyHost);
    }
    let bare = host.strip_prefix('[').and_then(|h| h.strip_suffix(']')).unwrap_or(host);
    if let Ok(ip) = bare.parse::<IpAddr>() {
        return Ok((vec![ip], std::time::Duration::ZERO));
    }
    let found = tokio::time::timeout(timeout, tokio::net::lookup_host((bare, 0)))
        .await
        .map_err(|_| ResolveError::TimedOut { host: host.to_owned(), seconds: timeout.as_secs() })?
        .map_err(|source| lookup_error(host, source))?;
    let mut addresses: Vec<IpAddr> = Vec::new();
    for address in found {
        if !addresses.contains(&address.ip()) {
            addresses.push(address.ip());
        }
    }
    Ok((addresses, started.elapsed()))
}

/// The address a knock in `family` uses among `addresses` (the first of that family).
pub(crate) fn choose(family: AddressFamily, addresses: &[IpAddr]) -> Option<IpAddr> {
    addresses.iter().copied().find(|a| family.accepts(a))
}

/// Whether a NAT will most likely rewrite `source` on its way to `destination`: the source is private
/// (RFC 1918, CGNAT 100.64/10, IPv6 ULA) and the destination is not. A guess from addresses alone,
/// worded as such by its users.
pub(crate) fn nat_likely(source: IpAddr, destination: IpAddr) -> bool {
    is_private(source) && !is_private(destination) && !destination.is_loopback()
}

/// Private-use addresses that a NAT translates: RFC 1918, shared CGNAT space, IPv6 unique local.
pub(crate) fn is_private(ip: IpAddr) -> bool {
    match ip {
        IpAddr::V4(v4) => v4.is_private() || (v4.octets()[0] == 100 && (v4.octets()[1] & 0xc0) == 64),
        IpAddr::V6(v6) => (v6.segments()[0] & 0xfe00) == 0xfc00,
    }
}

/// The source address this host's routing would use to reach `destination` (a connected UDP socket
/// sends nothing). Raw segments need it for their checksum, SPA packets to name the address to let in.
pub fn local_address_towards(destination: SocketAddr) -> std::io::Result<IpAddr> {
    let any: SocketAddr = match destination {
        SocketAddr::V4(_) => (IpAddr::from([0u8; 4]), 0).into(),
        SocketAddr::V6(_) => (IpAddr::from([0u16; 8]), 0).into(),
    };
    let probe = std::net::UdpSocket::bind(any)?;
    let mut to = destination;
    // Any non-zero port will do for the route lookup.
    to.set_port(9);
    probe.connect(to)?;
    Ok(probe.local_addr()?.ip())
}

fn pick(host: &str, family: AddressFamily, candidates: &[SocketAddr]) -> Result<SocketAddr, ResolveError> {
    candidates.iter().find(|a| family.accepts(&a.ip())).copied().ok_or_else(|| {
        let found: Vec<String> = candidates.iter().map(|a| a.ip().to_string()).collect();
        ResolveError::NoAddressInFamily {
            host: host.to_owned(),
            family,
            found: if found.is_empty() { "nothing".to_owned() } else { found.join(", ") },
        }
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn rt() -> tokio::runtime::Runtime {
        tokio::runtime::Builder::new_current_thread().enable_all().build().expect("runtime")
    }

    #[test]
    fn literals_skip_dns_and_respect_family() {
        let rt = rt();
        let v4 = rt.block_on(resolve("192.0.2.7", AddressFamily::Any)).expect("v4 literal");
        assert_eq!(v4.ip(), "192.0.2.7".parse::<IpAddr>().expect("ip"));
        let v6 = rt.block_on(resolve("[2001:db8::1]", AddressFamily::V6)).expect("bracketed v6");
        assert_eq!(v6.ip(), "2001:db8::1".parse::<IpAddr>().expect("ip"));
        let err = rt.block_on(resolve("192.0.2.7", AddressFamily::V6)).expect_err("v4 literal with -6");
        assert!(err.to_string().contains("no ipv6 address"), "{err}");
        assert!(matches!(rt.block_on(resolve("  ", AddressFamily::Any)), Err(ResolveError::EmptyHost)));
    }

    #[test]
    fn localhost_resolves_in_each_family() {
        let rt = rt();
        let v4 = rt.block_on(resolve("localhost", AddressFamily::V4)).expect("localhost v4");
        assert!(v4.ip().is_loopback() && v4.is_ipv4());
    }

    #[test]
    fn pick_takes_first_of_family() {
        let list: Vec<SocketAddr> = vec!["[2001:db8::5]:0".parse().expect("a"), "192.0.2.5:0".parse().expect("b")];
        assert!(pick("h", AddressFamily::Any, &list).expect("any").is_ipv6());
        assert!(pick("h", AddressFamily::V4, &list).expect("v4").is_ipv4());
        let err = pick("h", AddressFamily::V4, &list[..1]).expect_err("none");
        assert!(err.to_string().contains("2001:db8::5"), "{err}");
    }

    #[test]
    fn the_local_address_towards_loopback_is_loopback() {
        let ip = local_address_towards("127.0.0.1:0".parse().expect("addr")).expect("route");
        assert!(ip.is_loopback());
    }

    #[test]
    fn private_sources_towards_public_servers_suggest_nat() {
        let ip = |s: &str| s.parse::<IpAddr>().expect("ip");
        assert!(nat_likely(ip("10.0.0.5"), ip("192.0.2.2")));
        assert!(nat_likely(ip("100.72.1.1"), ip("203.0.113.9")));
        assert!(nat_likely(ip("fd00::5"), ip("2001:db8::2")));
        assert!(!nat_likely(ip("10.0.0.5"), ip("10.0.0.1")));
        assert!(!nat_likely(ip("192.0.2.1"), ip("192.0.2.2")));
        assert!(!nat_likely(ip("127.0.0.1"), ip("127.0.0.1")));
    }

    #[test]
    fn all_addresses_of_a_literal_come_back_without_dns() {
        let (found, took) =
            rt().block_on(resolve_all("[2001:db8::1]", std::time::Duration::from_secs(1))).expect("literal");
        assert_eq!(found, vec!["2001:db8::1".parse::<IpAddr>().expect("ip")]);
        assert_eq!(took, std::time::Duration::ZERO);
        assert_eq!(choose(AddressFamily::V4, &found), None);
    }
}
