//! knock-server: a small, pcap-based knock server that reads knockd.conf and fixes knockd's failure modes
//! (see the README's "The server: knock-server" and `docs/knockd-behaviour.md`).
//!
//! Per OS (decided here; each module's own choices are at its top):
//! - **Linux**: everything: pcap capture, commands, nftables doors, capabilities dropped after the
//!   capture opens, and uid 0 given up for the system user `knock-server` unless told otherwise
//!   ([`privileges`]).
//! - **macOS** (and other Unix systems): pcap capture on BPF, commands, signals, `--user`; no
//!   capabilities and no nftables (an `Nft_Set` is refused with a message; use commands with pfctl).
//! - **Windows**: not supported. Capture would need Npcap, and the server is built on Unix signals
//!   (SIGHUP reload, SIGUSR1 counters), process groups for hung commands, syslog and file modes. Only the
//!   portable parts build there ([`config`], [`doors`] and its attempt table, [`sweep_guard`], [`packet`], [`schedule`], [`nft`], [`exit`]),
//!   and `knock-server` prints that it runs on Linux and macOS only and exits 1.
//!
//! - [`run`]: the command line; `main` only calls [`run::run`] and maps the result with [`exit`].
//! - [`exit`]: the exit codes, as a type, decided in one place.
//! - [`capture`]: the event loop: live capture and offline replay.
//! - [`signals`], [`pid_file`], [`addresses`]: what the live loop watches (SIGTERM/SIGHUP/SIGUSR1, the
//!   PID file, the interface's own addresses refreshed every 10 s).
//! - [`config`]: knockd.conf (via client-core's parser) given knockd's meaning; the `--check` lint.
//! - [`packet`]: link layer + IPv4/IPv6 (with extension headers) + TCP/UDP into a small [`packet::Hit`].
//! - [`doors`]: the per-(source, door) state machine as pure code; `attempts` is the bounded attempt table
//!   it shares with [`rotating_doors`] (one bound, eviction of the oldest, timeouts in start order).
//! - [`sweep_guard`]: what makes every door resist a blind port sweep (stray hits reset an attempt, a
//!   wrong hit costs the source a wait), shared by both kinds of door.
//! - [`rotating_doors`]: the same for rotating doors (a sequence per user and time window);
//!   [`rotating_keys`] reads their `USER BASE32KEY` files; [`rotating_used`] keeps each user's last
//!   used window across restarts (one use per window).
//! - [`server`]: packets in, events out: logging, commands, one-time sequences ([`one_time`]: used ones
//!   kept by the file's canonical path), the capture filter.
//! - [`actions`]: commands run without blocking; stop commands scheduled and run at shutdown.
//! - [`log`]: knockd-compatible log lines to stderr, LogFile and syslog, rate-limited under floods.

#[cfg(unix)]
pub mod actions;
#[cfg(unix)]
pub mod addresses;
mod attempts;
#[cfg(unix)]
pub mod capture;
#[cfg(unix)]
pub mod check;
pub mod config;
pub mod doors;
pub mod exit;
#[cfg(unix)]
pub mod log;
pub mod nft;
#[cfg(unix)]
pub mod one_time;
pub mod packet;
#[cfg(unix)]
pub mod pid_file;
#[cfg(unix)]
pub mod privileges;
#[cfg(unix)]
pub mod rotating_doors;
#[cfg(unix)]
pub mod rotating_keys;
#[cfg(unix)]
pub mod rotating_used;
#[cfg(unix)]
pub mod run;
pub mod schedule;
#[cfg(unix)]
pub mod server;
#[cfg(unix)]
pub mod signals;
#[cfg(unix)]
mod state_file;
pub mod sweep_guard;
