//! End-to-end test lab for the knock toolkit.
//!
//! Every test gets its own pair of Linux network namespaces (client and server) joined by one veth
//! pair, so real binaries (our `knock-cli`, Debian's `knock`, `knockd`, `tcpdump`) talk over a real
//! Ethernet link without touching the host network. Needs root and `ip netns`; without them tests
//! skip loudly, and under `CI=true` they fail (see [`Lab::for_test`]).
//!
//! Everything but [`bins`], [`frames`], [`rng`] and [`tail`] is Linux-only (network namespaces, `AF_PACKET`, `setns`) and gated by
//! `cfg(target_os = "linux")`, so the workspace builds and tests on macOS and Windows too; there the
//! lab's test files compile to nothing and only the file-only CLI tests run.
//!
//! Modules:
//! - [`lab`]: namespaces, veth, addresses, running commands inside a namespace, cleanup on drop.
//! - [`knockd`]: run the reference `knockd` on the server side and read its log.
//! - [`capture`]: record the server's wire with `tcpdump` and parse the frames.
//! - [`firewall`]: iptables/ip6tables DROP rules inside the server namespace.
//! - [`nft`]: nftables rulesets and sets inside the server namespace; reachability from a chosen client
//!   address (knock-server's nftables doors).
//! - [`bins`]: locate this workspace's binaries (e.g. `knock-cli`) from a test.
//! - [`frames`]: Ethernet frames of single hits (a TCP SYN, a UDP datagram), for pcaps and AF_PACKET.
//! - [`rng`]: the deterministic generator test data is drawn from (sweep orders, garbled frames, keys).
//! - [`door_lab`]: `knock-cli` with the lab's profiles, knockd doors gating a port, ACCEPT rules left.
//! - [`lab_hosts`]: a host name with A and AAAA records inside the client namespace (`/etc/netns`).
//! - [`nat`]: the client behind a source NAT (a private source address rewritten on the way out).
//! - [`services`]: real services behind a knock gate (TCP echo, `sshd`) and gate door commands.
//! - [`packet_socket`]: whole Ethernet frames sent from the client's veth (AF_PACKET), one or many.
//! - [`sweep`]: a blind port sweep from the client (every port, SYN and UDP, a new random order per
//!   pass), as an attacker without the key sends it.
//!
//! ```no_run
//! # #[cfg(target_os = "linux")]
//! use knock_e2e::lab_or_skip;
//! # #[cfg(target_os = "linux")]
//! # fn t() {
//! let lab = lab_or_skip!();
//! let out = lab.run_client("ping", ["-c1", "-W2", "192.0.2.2"]).expect("ping runs");
//! assert!(out.status.success());
//! # }
//! ```

pub mod bins;
#[cfg(target_os = "linux")]
pub mod capture;
#[cfg(target_os = "linux")]
pub mod door_lab;
#[cfg(target_os = "linux")]
pub mod firewall;
pub mod frames;
#[cfg(target_os = "linux")]
pub mod fwknopd;
#[cfg(target_os = "linux")]
pub mod keyring_session;
#[cfg(target_os = "linux")]
pub mod knock_server;
#[cfg(target_os = "linux")]
pub mod knockd;
#[cfg(target_os = "linux")]
pub mod lab;
#[cfg(target_os = "linux")]
pub mod lab_hosts;
#[cfg(target_os = "linux")]
pub mod nat;
#[cfg(target_os = "linux")]
pub mod nft;
#[cfg(target_os = "linux")]
pub mod packet_socket;
#[cfg(target_os = "linux")]
mod process;
pub mod rng;
#[cfg(target_os = "linux")]
pub mod services;
#[cfg(target_os = "linux")]
pub mod sweep;

#[cfg(target_os = "linux")]
pub use capture::{Capture, Packet, Proto, TcpFlags};
pub use frames::{Macs, PCAP_MACS, syn_frame, udp_frame};
#[cfg(target_os = "linux")]
pub use fwknopd::Fwknopd;
#[cfg(target_os = "linux")]
pub use knock_server::{Background, KnockServer, PcapWriter, Replay};
#[cfg(target_os = "linux")]
pub use knockd::Knockd;
#[cfg(target_os = "linux")]
pub use lab::{Lab, LabError, Side};
pub use rng::Rng;
#[cfg(target_os = "linux")]
pub use services::{Sshd, TcpService};

use std::process::Output;
use std::time::{Duration, Instant};

/// A finished command's exit status, stdout and stderr, for assertion messages.
pub fn text(out: &Output) -> String {
    format!(
        "exit {:?}\nstdout: {}\nstderr: {}",
        out.status.code(),
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    )
}

/// The last `max` bytes of `text` (fewer, to start at a character boundary): the end of a long log for
/// an assertion message.
pub fn tail(text: &str, max: usize) -> &str {
    let mut start = text.len().saturating_sub(max);
    while !text.is_char_boundary(start) {
        start += 1;
    }
    &text[start..]
}

/// What a log file shared by several runs in one lab holds from byte `offset` on (the end of the file when
/// this run started): this run's lines only. Empty while the file does not exist.
#[cfg(target_os = "linux")]
pub(crate) fn log_since(path: &std::path::Path, offset: u64) -> String {
    match std::fs::read(path) {
        Ok(bytes) => {
            let start = usize::try_from(offset).unwrap_or(0).min(bytes.len());
            String::from_utf8_lossy(&bytes[start..]).into_owned()
        }
        Err(_) => String::new(),
    }
}

/// Whether `text` has `number` as a number of its own: not inside a longer number, nor among the digits
/// after a decimal point. For "a secret port is never printed" checks: an `"elapsed_ms": 0.158345` once
/// matched the secret port 58345.
pub fn mentions_number(text: &str, number: &str) -> bool {
    text.match_indices(number).any(|(at, _)| {
        let before = text[..at].chars().next_back();
        let after = text[at + number.len()..].chars().next();
        !before.is_some_and(|c| c.is_ascii_digit() || c == '.') && !after.is_some_and(|c| c.is_ascii_digit())
    })
}

/// Polls `cond` every 10 ms until it returns true or `timeout` passes; returns the last result.
pub fn wait_until(timeout: Duration, mut cond: impl FnMut() -> bool) -> bool {
    let deadline = Instant::now() + timeout;
    loop {
        if cond() {
            return true;
        }
        if Instant::now() >= deadline {
            return false;
        }
        std::thread::sleep(Duration::from_millis(10));
    }
}

/// Builds a [`Lab`] for the current test, or skips the test (`return`s) when the machine cannot
/// host one. Under `CI=true`/`CI=1` it panics instead of skipping. See [`Lab::for_test`].
///
/// `lab_or_skip!()` names the lab after the enclosing function; `lab_or_skip!("name")` names it
/// explicitly. Only usable in functions returning `()`.
#[macro_export]
macro_rules! lab_or_skip {
    () => {
        $crate::lab_or_skip!($crate::__function_name!())
    };
    ($name:expr) => {
        match $crate::lab::Lab::for_test($name) {
            ::std::option::Option::Some(lab) => lab,
            ::std::option::Option::None => return,
        }
    };
}

/// The name of the enclosing function (closures stripped), for naming labs after their test.
#[doc(hidden)]
#[macro_export]
macro_rules! __function_name {
    () => {{
        fn __here() {}
        fn __type_name_of<T>(_: T) -> &'static str {
            ::std::any::type_name::<T>()
        }
        $crate::lab::short_fn_name(__type_name_of(__here))
    }};
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_port_inside_a_longer_number_or_a_fraction_is_not_a_mention() {
        assert!(mentions_number("hit 58345:tcp", "58345"));
        assert!(mentions_number("58345", "58345"));
        assert!(mentions_number("ports 47123,58345", "58345"));
        assert!(!mentions_number("\"elapsed_ms\": 0.158345", "58345"));
        assert!(!mentions_number("1583459", "58345"));
    }

    #[test]
    fn tail_keeps_the_end_at_a_char_boundary() {
        assert_eq!(tail("abcdef", 3), "def");
        assert_eq!(tail("ab", 10), "ab");
        assert_eq!(tail("aé", 1), "");
    }
}
