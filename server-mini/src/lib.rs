//! knock-server: a small, pcap-based knock server that reads knockd.conf and fixes knockd's failure modes
//! (see `docs/server.md` and `docs/knockd-behaviour.md`).
//!
//! Per OS (decided here; each module's own choices are at its top):
//! - **Linux**: everything: pcap capture, commands, nftables doors, capabilities dropped after the
//!   capture opens, and uid 0 given up for the system user `knock-server` unless told otherwise
//!   (`src/privileges.rs`).
//! - **macOS** (and other Unix systems): pcap capture on BPF, commands, signals, `--user`; no
//!   capabilities and no nftables (an `Nft_Set` is refused with a message; use commands with pfctl).
//! - **Windows**: not supported. Capture would need Npcap, and the server is built on Unix signals
//!   (SIGHUP reload, SIGUSR1 counters), process groups for hung commands, syslog and file modes. Only the
//!   portable parts build there (`config`, `doors` and its attempt table, `sweep_guard`, `packet`,
//!   `schedule`, `nft`, `exit`), and `knock-server` prints that it runs on Linux and macOS only and exits 1.
//!
//! The concerns, one module (file in `src/`) each; all are private, and what other crates use is the
//! list of `pub use` below:
//! - `run.rs`: the command line; `main` only calls [`run()`] and maps the result with [`ExitStatus`].
//! - `exit.rs`: the exit codes, as a type, decided in one place.
//! - `capture.rs`: the event loop: live capture and offline replay.
//! - `signals.rs`, `pid_file.rs`, `addresses.rs`: what the live loop watches (SIGTERM/SIGHUP/SIGUSR1,
//!   the PID file, the interface's own addresses refreshed every 10 s).
//! - `config.rs`: knockd.conf (via client-core's parser) given knockd's meaning; the `--check` lint.
//!   `check.rs` is `--check` itself.
//! - `packet.rs`: link layer + IPv4/IPv6 (with extension headers) + TCP/UDP into a small [`Hit`].
//! - `doors.rs`: the per-(source, door) state machine as pure code; `attempts.rs` is the bounded attempt
//!   table it shares with `rotating_doors.rs` (one bound, eviction of the oldest, timeouts in start order).
//! - `sweep_guard.rs`: what makes every door resist a blind port sweep (stray hits reset an attempt, a
//!   wrong hit costs the source a wait), shared by both kinds of door.
//! - `rotating_doors.rs`: the same for rotating doors (a sequence per user and time window);
//!   `rotating_keys.rs` reads their `USER BASE32KEY` files; `rotating_used.rs` keeps each user's last
//!   used window across restarts (one use per window). Both records, and one-time sequence files, are
//!   replaced whole through `state_file.rs`.
//! - `server.rs`: packets in, events out: logging, commands, one-time sequences (`one_time.rs`: used
//!   ones kept by the file's canonical path), the capture filter.
//! - `actions.rs`: commands run without blocking, in the order `schedule.rs` decides; stop commands
//!   scheduled and run at shutdown; `nft.rs`: nftables set elements.
//! - `log.rs`: knockd-compatible log lines to stderr, LogFile and syslog, rate-limited under floods.
//! - `privileges.rs`: capabilities and the user switch once the capture is open.
//! - The SPA door (fwknop, `--fwknop-access`): `fwknop_access.rs` reads fwknopd's access.conf,
//!   `fwknopd_conf.rs` the few fwknopd.conf settings, `spa_door.rs` decides per packet (pure),
//!   `spa_replay.rs` is the replay cache in the state directory, `spa.rs` ties them to the server loop and
//!   the command runner.

// Nothing is `pub` that the list of `pub use` below does not export (checked by the lint).
#![warn(unreachable_pub)]
#![cfg_attr(
    not(unix),
    allow(dead_code, reason = "on Windows only the portable modules build, for their unit tests: nothing calls them")
)]

#[cfg(unix)]
mod actions;
#[cfg(unix)]
mod addresses;
mod attempts;
#[cfg(unix)]
mod capture;
#[cfg(unix)]
mod check;
mod config;
mod doors;
mod exit;
#[cfg(unix)]
mod fwknop_access;
#[cfg(unix)]
mod fwknopd_conf;
#[cfg(unix)]
mod log;
mod nft;
#[cfg(unix)]
mod one_time;
mod packet;
#[cfg(unix)]
mod pid_file;
#[cfg(unix)]
mod privileges;
#[cfg(unix)]
mod rotating_doors;
#[cfg(unix)]
mod rotating_keys;
#[cfg(unix)]
mod rotating_used;
#[cfg(unix)]
mod run;
mod schedule;
#[cfg(unix)]
mod server;
#[cfg(unix)]
mod signals;
#[cfg(unix)]
mod spa;
#[cfg(unix)]
mod spa_door;
#[cfg(unix)]
mod spa_replay;
#[cfg(unix)]
mod state_file;
mod sweep_guard;

// The library's surface: what knock-server's `main`, `tests/replay.rs` and the fuzz targets (`fuzz/`) use.
// Everything else is pub(crate): a change inside a module cannot break another crate.
#[cfg(unix)]
pub use actions::ActionCounters;
#[cfg(unix)]
pub use capture::replay;
#[cfg(unix)]
pub use check::ruleset as nft_ruleset;
pub use config::{
    DoorConfig, NftDoor, ServerConfig, Warning, from_conf as config_from_conf, lint as lint_config, load as load_config,
};
pub use exit::{ExitStatus, Failure};
#[cfg(unix)]
pub use log::Logger;
pub use nft::{NftFamilyUse, NftSet};
pub use packet::{Hit, LinkType, Parsed, parse as parse_frame};
#[cfg(unix)]
pub use run::{Args, run};
#[cfg(unix)]
pub use server::{AllCounters, Counters, Server, ServerOptions};
#[cfg(unix)]
pub use spa::{SpaCounters, fuzz_verdict as spa_fuzz_verdict};
