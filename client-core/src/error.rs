//! The typed errors of a knock, and the coarse kind a front end maps to an exit code or a message.

use std::io;
use std::net::IpAddr;
use std::sync::Arc;

use thiserror::Error;

use crate::knock::ReportedHit;
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
    Discover(String),
    /// The SPA keys are missing or unusable (the message names the variable or keyring entry, never a
    /// value), or the keyring did not answer.
    #[error("{0}")]
    Keys(String),
    /// An SPA packet cannot name this host's address (no IPv4 route to the server).
    #[error("{0}")]
    AllowIp(String),
    #[error("the knock was cancelled")]
    Cancelled,
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
