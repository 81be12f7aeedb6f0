//! knock-server: a small, pcap-based knock server that reads knockd.conf and fixes knockd's failure modes
//! (see `docs/knockd-behaviour.md` and the README).
//!
//! - [`config`]: knockd.conf (via client-core's parser) given knockd's meaning; the `--check` lint.
//! - [`packet`]: link layer + IPv4/IPv6 (with extension headers) + TCP/UDP into a small [`packet::Hit`].
//! - [`doors`]: the per-(source, door) state machine as pure code, with a bounded attempt table.
//! - [`server`]: packets in, events out: logging, commands, one-time sequences, the capture filter.
//! - [`actions`]: commands run without blocking; stop commands scheduled and run at shutdown.
//! - [`log`]: knockd-compatible log lines to stderr, LogFile and syslog, rate-limited under floods.

pub mod actions;
pub mod config;
pub mod doors;
pub mod log;
pub mod packet;
pub mod server;
