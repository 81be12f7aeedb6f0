//! client-core: the port-knocking client library shared by `knock-cli` and `knock-gui`.
//!
//! - [`sequence`]: hits (`PORT[:tcp|udp]`) and TCP flag selections, parsed strictly.
//! - [`target`]: resolves a host once per knock, honouring an address-family preference.
//! - [`send`]: the send methods (`raw`, `connect`, UDP) and [`send::privilege`], which says whether raw
//!   sockets are permitted and how to grant them on this OS.
//! - [`knock`](mod@knock): runs a sequence against a target with progress events and cancellation.
//!
//! Per platform: Linux sends raw segments with CAP_NET_RAW (or as root), other Unixes as root; Windows
//! forbids TCP over raw sockets, so `auto` always uses `connect` there, which sends plain SYNs only.
//! This crate prints nothing and never exits the process: errors are typed ([`KnockError`]) and carry an
//! [`ErrorKind`] that front ends map to exit codes or messages.

#[cfg(feature = "client")]
pub mod error;
#[cfg(feature = "client")]
pub mod import;
#[cfg(feature = "client")]
pub mod knock;
pub mod knockd_conf;
#[cfg(feature = "client")]
pub mod profile;
#[cfg(feature = "client")]
pub mod secrets;
#[cfg(feature = "client")]
pub mod send;
pub mod sequence;
#[cfg(feature = "client")]
pub mod spa;
#[cfg(feature = "client")]
pub mod store;
#[cfg(feature = "client")]
pub mod target;
#[cfg(feature = "client")]
pub mod verify;

#[cfg(feature = "client")]
pub use error::{ErrorKind, KnockError};
#[cfg(feature = "client")]
pub use knock::{HitOutcome, HitRecord, KnockEvent, KnockReport, KnockRequest, knock, knock_blocking};
#[cfg(feature = "client")]
pub use send::{HitMethod, Method, TcpMethod};
pub use sequence::{Hit, Protocol, Sequence, SequenceError, TcpFlagSpec, TcpFlags};
#[cfg(feature = "client")]
pub use target::AddressFamily;
#[cfg(feature = "client")]
pub use tokio_util::sync::CancellationToken;
