//! client-core: the port-knocking library shared by `knock-cli`, `knock-gui` and (its syntax half)
//! `knock-server`.
//!
//! Always built (no feature; what `knock-server` links):
//! - [`sequence`]: hits (`PORT[:tcp|udp]`) and TCP flag selections, parsed strictly. No empty sequence exists.
//! - [`knockd_conf`]: knockd.conf syntax with line numbers.
//! - [`rotating`]: rotating sequences derived from a door key and the time (`docs/rotating-sequences.md`).
//!
//! With the `client` feature (the default for the clients):
//! - [`profile`]: a saved host; its kind is a type (a sequence knock, an SPA knock or a rotating knock).
//! - [`store`]: the profile directory (lock, atomic writes, conflicts, unreadable files kept; each
//!   profile's id, under which its keyring secrets live, so they follow renames and go with deletes).
//! - [`secrets`]: per-profile secrets in the OS keyring, one API on every OS, and where SPA keys are read
//!   from (environment, then keyring).
//! - [`open`]: **how a profile is opened**: plan, attempts, retry with backoff, outcome and its wording.
//! - [`knock()`]: runs one sequence against one address with progress events and cancellation; the send
//!   methods (`raw`, `connect`, UDP) and privilege discovery ([`raw_permission`]) live in a private
//!   `send` module.
//! - [`verify`]: probes the service port after a knock (and tells a RST from silence from ICMP). Nothing else.
//! - [`doctor`]: "did it open, and if not, why?": the checks a person would make, each with a verdict and
//!   advice, and one conclusion identifier; what `knock-cli doctor` and the app's Diagnose show.
//! - [`icmp_errors`] and [`path_mtu`]: what came back for our UDP datagrams (did a hit arrive?) and the
//!   measured path MTU, for `doctor`; Linux only, each file says why.
//! - [`spa`]: fwknop Single Packet Authorization, one file per concern (as fwknop's `lib/`), including the
//!   sealing of one attempt's packet.
//! - [`import`]: knockd.conf doors and fwknop rc files into profiles.
//! - [`runtime`]: the runtime-with-Ctrl-C-cancellation helper the front ends share.
//!
//! Per platform: Linux sends raw segments with CAP_NET_RAW (or as root), other Unixes as root; Windows
//! forbids TCP over raw sockets, so `auto` always uses `connect` there, which sends plain SYNs only.
//! This crate prints nothing and never exits the process: errors are typed ([`KnockError`]) and carry an
//! [`ErrorKind`] that front ends map to exit codes or messages.

pub mod knockd_conf;
pub mod rotating;
pub mod sequence;

#[cfg(feature = "client")]
pub mod doctor;
#[cfg(feature = "client")]
mod error;
#[cfg(feature = "client")]
pub mod icmp_errors;
#[cfg(feature = "client")]
pub mod import;
#[cfg(feature = "client")]
mod knock;
#[cfg(feature = "client")]
pub mod open;
#[cfg(feature = "client")]
pub mod path_mtu;
#[cfg(feature = "client")]
pub mod profile;
#[cfg(feature = "client")]
pub mod runtime;
#[cfg(feature = "client")]
pub mod secrets;
#[cfg(feature = "client")]
mod send;
#[cfg(feature = "client")]
pub mod spa;
#[cfg(feature = "client")]
pub mod store;
#[cfg(feature = "client")]
mod target;
#[cfg(feature = "client")]
pub mod verify;

pub use sequence::{Hit, Protocol, Sequence, SequenceError, TcpFlagSpec, TcpFlags};

#[cfg(feature = "client")]
pub use error::{ErrorKind, KnockError};
#[cfg(feature = "client")]
pub use knock::{
    HitOutcome, HitRecord, KnockEvent, KnockReport, KnockRequest, ReportedHit, choose_tcp_method, knock,
    knock_blocking, needs_raw,
};
#[cfg(feature = "client")]
pub use send::privilege::{RawPermission, raw_permission};
#[cfg(feature = "client")]
pub use send::{HitMethod, Method, TcpMethod};
#[cfg(feature = "client")]
pub use target::{AddressFamily, ResolveError, local_address_towards, resolve};
#[cfg(feature = "client")]
pub use tokio_util::sync::CancellationToken;
