//! knock-server: a small, pcap-based knock server that reads knockd.conf and fixes knockd's failure modes
//! (see the README's "The server: knock-server").
//!
//! - [`run`]: the command line; `main` only calls [`run::run`] and maps the result with [`exit`].
//! - [`exit`]: the exit codes, as a type, decided in one place.
//! - [`capture`]: the event loop: live capture and offline replay.
//! - [`signals`], [`pid_file`], [`addresses`]: what the live loop watches (SIGTERM/SIGHUP/SIGUSR1, the
//!   PID file, the interface's own addresses refreshed every 10 s).
//! - [`config`]: knockd.conf (via client-core's parser) given knockd's meaning; the `--check` lint.
//! - [`packet`]: link layer + IPv4/IPv6 (with extension headers) + TCP/UDP into a small [`packet::Hit`].
//! - [`doors`]: the per-(source, door) state machine as pure code, with a bounded attempt table.
//! - [`server`]: packets in, events out: logging, commands, one-time sequences, the capture filter.
//! - [`actions`]: commands run without blocking; stop commands scheduled and run at shutdown.
//! - [`log`]: knockd-compatible log lines to stderr, LogFile and syslog, rate-limited under floods.

pub mod actions;
pub mod addresses;
pub mod capture;
pub mod check;
pub mod config;
pub mod doors;
pub mod exit;
pub mod log;
pub mod nft;
pub mod one_time;
pub mod packet;
pub mod pid_file;
pub mod privileges;
pub mod run;
pub mod schedule;
pub mod server;
pub mod signals;
