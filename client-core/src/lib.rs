//! client-core: the port-knocking library shared by `knock-cli`, `knock-gui` and (its syntax half)
//! `knock-server`. Its API is the list of `pub use` below and three namespaces ([`spa`], [`knockd_conf`],
//! [`rotating`]); every module is private (`docs/architecture.md` says what may import what).
//!
//! Always built (no feature; what `knock-server` links):
//! - `sequence.rs`: hits (`PORT[:tcp|udp]`) and TCP flag selections, parsed strictly ([`Sequence`]). No
//!   empty sequence exists.
//! - [`knockd_conf`]: knockd.conf syntax with line numbers.
//! - [`rotating`]: rotating sequences derived from a door key and the time (`docs/rotating-sequences.md`).
//!
//! With the `client` feature (the default for the clients), one file per concern:
//! - The model (no I/O, imports no engine module): `profile.rs` ([`Profile`]: a saved host whose kind is a
//!   type, [`ProfileKind`]) and `settings.rs` ([`AddressFamily`], [`Method`]).
//! - `store.rs` ([`ProfileStore`]): the profile directory (lock, atomic writes, conflicts, unreadable files
//!   kept; each profile's id, under which its keyring secrets live, so they follow renames and go with
//!   deletes; the rotating window file).
//! - `secrets.rs` ([`SecretStore`]): per-profile secrets in the OS keyring, one API on every OS, and where
//!   keys are read from (environment, then keyring).
//! - `open/`: **how a profile is opened** ([`Plan`], [`run_plan`]): plan, attempts, retry with backoff,
//!   outcome and its wording; `open/spa_attempt.rs` seals one attempt's SPA packet.
//! - `knock.rs` ([`knock()`]): runs one sequence against one address with progress events and
//!   cancellation; `send/` puts hits on the wire (`raw`, `connect`, UDP) and discovers privilege
//!   ([`raw_permission`]); `target.rs` resolves the host once.
//! - `verify.rs`: probes the service port after a knock (and tells a RST from silence from ICMP).
//! - `doctor/` ([`diagnose`]): "did it open, and if not, why?": the checks a person would make, each with a
//!   verdict and advice, and one conclusion; what `knock-cli doctor` and the app's Diagnose show.
//! - `probe/`: what came back for our UDP datagrams (did a hit arrive?) and the measured path MTU, for
//!   `send` and `doctor`; Linux only, each file says why.
//! - [`spa`]: fwknop Single Packet Authorization, a pure codec, one file per concern (as fwknop's `lib/`).
//! - `import/` ([`import_path`]): knockd.conf doors, fwknop rc files and rotating URIs into profiles.
//! - `runtime.rs` ([`block_on_cancellable`]), `wording.rs` ([`plural`]): what the front ends share.
//!
//! Per platform: Linux sends raw segments with CAP_NET_RAW (or as root), other Unixes as root; Windows
//! forbids TCP over raw sockets, so `auto` always uses `connect` there, which sends plain SYNs only.
//! This crate prints nothing and never exits the process: errors are typed ([`KnockError`]) and carry an
//! [`ErrorKind`] that front ends map to exit codes or messages.

// Nothing is `pub` that the list below does not export (checked by the lint).
#![warn(unreachable_pub)]

// Three namespaces stay public: the syntaxes and the wire format shared with knock-server, whose
// functions are named for their namespace (`spa::build`, `knockd_conf::parse`, `rotating::parse_uri`).
// Each keeps its own curated `pub use` list. Every other module is private: what front ends and tests
// need is exported below, by name, and nothing else is reachable.
pub mod knockd_conf;
pub mod rotating;
mod sequence;
#[cfg(feature = "spa")]
pub mod spa;

#[cfg(feature = "client")]
mod backup;
#[cfg(feature = "client")]
mod discover;
#[cfg(feature = "client")]
mod doctor;
#[cfg(feature = "client")]
mod error;
#[cfg(feature = "client")]
mod import;
#[cfg(feature = "client")]
mod knock;
#[cfg(feature = "client")]
mod open;
#[cfg(feature = "client")]
mod probe;
#[cfg(feature = "client")]
mod profile;
#[cfg(feature = "client")]
mod runtime;
#[cfg(feature = "client")]
mod secrets;
#[cfg(feature = "client")]
mod send;
#[cfg(feature = "client")]
mod settings;
#[cfg(feature = "client")]
mod store;
#[cfg(feature = "client")]
mod target;
#[cfg(feature = "client")]
mod verify;
#[cfg(feature = "client")]
mod wording;

// The model: sequences, profiles and how a knock is sent (no I/O).
#[cfg(feature = "client")]
pub use profile::{
    Action, AllowIp, Profile, ProfileError, ProfileId, ProfileKind, RotatingKnock, SequenceKnock, SequenceSource,
    SpaSettings, Verify, parse_port_range, parse_protocols, validate_env_name, validate_host, validate_name,
    validate_tag,
};
pub use sequence::{Hit, Protocol, Sequence, SequenceError, TcpFlagSpec, TcpFlags};
#[cfg(feature = "client")]
pub use settings::{AddressFamily, InvalidSetting, Method, needs_raw};

// Where profiles and their secrets live.
#[cfg(feature = "client")]
pub use secrets::{
    Availability as KeyringAvailability, KeyError, KeyOwner, SERVICE as KEYRING_SERVICE, Secret, SecretError,
    SecretKind, SecretStore, keys_from_environment, rotating_key, rotating_key_variables, spa_key_variables,
};
#[cfg(feature = "client")]
pub use store::{ProfileStore, StoreError, StoredProfile, UnreadableFile, Version as StoreVersion, parse_profile};

// Opening a profile, knocking, verifying and diagnosing.
#[cfg(feature = "client")]
pub use doctor::{Check, Conclusion, Diagnosis, Status as CheckStatus, diagnose};
#[cfg(feature = "client")]
pub use error::{ErrorKind, KeysError, KnockError};
#[cfg(feature = "client")]
pub use knock::{
    HitOutcome, HitRecord, KnockEvent, KnockReport, KnockRequest, ReportedHit, choose_tcp_method, knock, knock_blocking,
};
#[cfg(feature = "client")]
pub use open::{
    Attempt, FamilyOutcome, FamilyResult, Outcome, Plan, PlanKind, ProfileEvent, ProfileReport, run_plan, run_profile,
};
#[cfg(feature = "client")]
pub use runtime::{CancelSignal, block_on_cancellable, cancelled_by};
#[cfg(feature = "client")]
pub use send::privilege::{RawPermission, raw_permission};
#[cfg(feature = "client")]
pub use send::{HitMethod, TcpMethod};
#[cfg(feature = "client")]
pub use target::{ResolveError, local_address_towards, resolve};
#[cfg(feature = "client")]
pub use tokio_util::sync::CancellationToken;
#[cfg(feature = "client")]
pub use verify::{PortState, VerifyOutcome, probe_port};
#[cfg(feature = "client")]
pub use wording::plural;

// Encrypted backups of profiles with their keys.
#[cfg(feature = "client")]
pub use backup::{
    BACKUP_PASSPHRASE_VAR, BackupError, BackupProfile, MIN_PASSPHRASE_CHARS, collect as collect_backup,
    decrypt as decrypt_backup, encrypt as encrypt_backup, import_backup, is_backup, write_file as write_backup,
};
// Importing knockd.conf, fwknoprc and rotating provisioning URIs.
#[cfg(feature = "client")]
pub use import::{
    Format as ImportFormat, ImportEntry, ImportError, ImportReport, KeysNotStored, Note as ImportNote,
    SpaKeys as ImportSpaKeys, UriImport, UriImportError, Written as ImportWritten, import_path, write as write_import,
};
