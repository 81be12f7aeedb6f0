//! The typed errors of a knock, and the coarse kind a front end maps to an exit code or a message.

use std::io;
use std::net::IpAddr;
use std::sync::Arc;

use thiserror::Error;

use crate::discover::DiscoverError;
use crate::knock::ReportedHit;
use crate::rotating::RotatingError;
use crate::secrets::KeyError;
use crate::sequence::{SequenceError, TcpFlagSpec};
use crate::target::ResolveError;

/// What went wrong, in the terms a front end acts on.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum ErrorKind {
    /// The request itself is wrong (bad sequence, flags a method cannot send, wrong family): fix and retry.
    InvalidInput,
    /// The network or the resolver failed: retrying may help.
    Network,
    /// The OS refused (raw sockets not permitted, a firewall rejecting output).
    Permission,
    /// The caller cancelled the knock.
    Cancelled,
}

/// Cheap to clone (I/O sources are shared), so a report can keep each attempt's own error. Never
/// contains a secret: a hit of a secret sequence is a [`ReportedHit`], which prints masked.
#[derive(Debug, Clone, Error)]
pub enum KnockError {
    #[error(transparent)]
    Sequence(#[from] SequenceError),
    #[error(
        "TCP flags {flags} need the raw method: the connect method can only send a plain SYN \
         (use --method raw, or flags syn)"
    )]
    FlagsNeedRaw { flags: TcpFlagSpec },
    #[error("{needed_for} needs raw sockets, which this process may not open ({reason}); {how_to_grant}")]
    RawNotPermitted { needed_for: String, reason: String, how_to_grant: String },
    #[error(transparent)]
    Resolve(#[from] ResolveError),
    #[error("cannot prepare to send to {address}: {source}")]
    Setup {
        address: IpAddr,
        #[source]
        source: Arc<io::Error>,
    },
    // The address without the port: the port is the hit's, which may be a secret.
    #[error("hit {number} of {total} ({hit}) to {address} failed: {source}")]
    Hit {
        number: usize,
        total: usize,
        hit: ReportedHit,
        address: IpAddr,
        #[source]
        source: Arc<io::Error>,
    },
    #[error("cannot build the SPA packet: {0}")]
    Spa(#[from] crate::spa::SpaError),
    #[error("cannot discover the public address for the SPA packet: {0}")]
    Discover(#[from] DiscoverError),
    /// The SPA keys or the rotating door key are missing or unusable (the message names the variable or
    /// keyring entry, never a value), or the keyring did not answer.
    #[error(transparent)]
    Keys(#[from] KeysError),
    /// An SPA packet cannot name this host's address (no IPv4 route to the server).
    #[error(transparent)]
    AllowIp(#[from] AllowIpError),
    #[error("the knock was cancelled")]
    Cancelled,
}

/// Why a kind's keys were not there to use. Names the variable or keyring entry, never a value.
#[derive(Debug, Clone, Error)]
pub enum KeysError {
    #[error(transparent)]
    Unusable(#[from] KeyError),
    #[error("the keyring did not answer within {seconds} s (is an unlock prompt waiting?)")]
    KeyringTimedOut { seconds: u64 },
    #[error("reading the keys failed: {0}")]
    ReaderStopped(Arc<tokio::task::JoinError>),
    /// A caller ran an SPA attempt without reading the keys first (a bug, reported rather than panicking).
    #[error("the SPA keys were not read")]
    NotRead,
    #[error("the rotating door key cannot make a sequence: {0}")]
    Rotation(#[from] RotatingError),
}

/// Why `allow_ip = "local"` has no address to put in the packet (fwknop's message names an IPv4 address).
#[derive(Debug, Clone, Error)]
pub enum AllowIpError {
    #[error(
        "allow_ip = \"local\" needs this host's IPv4 address towards {server}, but the route goes out over IPv6 \
         ({local}): set allow_ip to \"source\", to your public IPv4 address, or to \"discover\" with a discover_url"
    )]
    RouteIsIpv6 { server: IpAddr, local: std::net::Ipv6Addr },
    #[error(
        "allow_ip = \"local\" needs this host's IPv4 address towards {server}, but there is no route ({source}): \
         set allow_ip to \"source\", to your public IPv4 address, or to \"discover\" with a discover_url"
    )]
    NoRoute {
        server: IpAddr,
        #[source]
        source: Arc<io::Error>,
    },
}

impl KnockError {
    pub fn kind(&self) -> ErrorKind {
        match self {
            KnockError::Sequence(_) | KnockError::FlagsNeedRaw { .. } => ErrorKind::InvalidInput,
            KnockError::RawNotPermitted { .. } => ErrorKind::Permission,
            KnockError::Resolve(err) => match err {
                ResolveError::EmptyHost | ResolveError::NoAddressInFamily { .. } => ErrorKind::InvalidInput,
                ResolveError::Lookup { .. } | ResolveError::TimedOut { .. } => ErrorKind::Network,
            },
            KnockError::Setup { source, .. } | KnockError::Hit { source, .. } => io_kind(source),
            KnockError::Spa(_) | KnockError::Keys(_) | KnockError::AllowIp(_) => ErrorKind::InvalidInput,
            KnockError::Discover(_) => ErrorKind::Network,
            KnockError::Cancelled => ErrorKind::Cancelled,
        }
    }
}

fn io_kind(err: &io::Error) -> ErrorKind {
    match err.kind() {
        io::ErrorKind::PermissionDenied => ErrorKind::Permission,
        io::ErrorKind::InvalidInput => ErrorKind::InvalidInput,
        _ => ErrorKind::Network,
    }
}
