//! One SPA attempt's packet: which address the packet lets in, and a freshly sealed message (new random
//! value, salt and timestamp every time: fwknopd refuses replays).
//!
//! The server's address is resolved once by the caller ([`crate::open`]); "local" means this host's
//! source address towards that address, which must be IPv4 (fwknop's message names an IPv4 address).
//! A missing IPv4 route is an error that says what to use instead, never a silent 0.0.0.0 that fwknopd
//! refuses.

use std::net::{IpAddr, Ipv4Addr, SocketAddr};
use std::sync::Arc;
use std::time::{Duration, SystemTime};

use tokio_util::sync::CancellationToken;

use crate::discover::{DiscoverError, discover_public_ipv4};
use crate::error::{AllowIpError, KnockError};
use crate::profile::{AllowIp, SpaSettings};
use crate::secrets::SpaKeys;
use crate::spa::AccessRequest;
use crate::target;

/// How long asking `discover_url` for the public address may take.
const DISCOVER_TIMEOUT: Duration = Duration::from_secs(10);

/// Seals this attempt's packet for `server` (already resolved).
pub(crate) async fn seal(
    settings: &SpaSettings,
    keys: &SpaKeys,
    server: SocketAddr,
    cancel: &CancellationToken,
) -> Result<String, KnockError> {
    let allow_ip = allow_ip(settings, server, cancel).await?;
    let user = settings.user.clone().unwrap_or_else(crate::spa::default_username);
    let mut access = AccessRequest::new(user, allow_ip, settings.access.clone());
    access.digest = settings.digest;
    access.hmac = settings.hmac;
    access.time_offset = settings.time_offset_s;
    access.client_timeout = settings.client_timeout_s;
    Ok(crate::spa::build(&access, &keys.key, &keys.hmac, SystemTime::now())?)
}

/// The address the packet asks the server to let in.
async fn allow_ip(
    settings: &SpaSettings,
    server: SocketAddr,
    cancel: &CancellationToken,
) -> Result<Ipv4Addr, KnockError> {
    match settings.allow_ip {
        AllowIp::Source => Ok(Ipv4Addr::UNSPECIFIED),
        AllowIp::Address(ip) => Ok(ip),
        AllowIp::Discover => {
            let url = settings.discover_url.clone().unwrap_or_default();
            let found = tokio::task::spawn_blocking(move || discover_public_ipv4(&url, DISCOVER_TIMEOUT));
            tokio::select! {
                _ = cancel.cancelled() => Err(KnockError::Cancelled),
                found = found => Ok(found.map_err(|e| DiscoverError::Stopped(Arc::new(e)))??),
            }
        }
        AllowIp::Local => match target::local_address_towards(server) {
            Ok(IpAddr::V4(ip)) => Ok(ip),
            Ok(IpAddr::V6(local)) => Err(AllowIpError::RouteIsIpv6 { server: server.ip(), local }.into()),
            Err(source) => Err(AllowIpError::NoRoute { server: server.ip(), source: Arc::new(source) }.into()),
        },
    }
}
