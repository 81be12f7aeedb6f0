//! May this process send raw TCP segments, and if not, how does the user grant it? One place, per OS.
//!
//! Decisions per OS:
//! - Linux: raw sockets need `CAP_NET_RAW` (root has it). Grant it to the binary once with
//!   `sudo setcap cap_net_raw+ep /path/to/knock-cli`; the user keeps their own keyring and config, which is
//!   why this is the advice rather than `sudo`.
//! - macOS and the BSDs: raw sockets need root; there is no per-binary capability. The advice is `sudo`,
//!   with its cost stated: under `sudo` the process reads root's keychain and root's profiles, not the
//!   user's. Raw setup on macOS must not set a zero receive buffer (EINVAL; see `raw.rs`), and if setup
//!   still fails, `auto` falls back to `connect` for plain SYNs (`send/mod.rs`).
//! - Windows: TCP over raw sockets is forbidden by the OS (since XP SP2) even for administrators, so the
//!   probe answers "denied" without trying and only the `connect` method (plain SYN, exactly one: see
//!   `connect.rs`) is available.
//!
//! The answer comes from actually opening a raw socket once (the only test that cannot be fooled by
//! capability bounding sets, sandboxes or seccomp), and is cached for the process. Opening is not the whole
//! story (an OS may still refuse a socket option or a bind), hence `auto`'s fallback at setup.

use std::sync::OnceLock;

/// Whether raw TCP sockets may be used by this process.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum RawPermission {
    Permitted,
    Denied {
        /// What the OS said when we tried.
        reason: String,
        /// The exact step that grants raw sockets on this OS, or why it cannot be done.
        how_to_grant: String,
    },
}

/// Probes (once per process) whether raw TCP sockets are permitted.
pub fn raw_permission() -> RawPermission {
    static CACHE: OnceLock<RawPermission> = OnceLock::new();
    CACHE.get_or_init(probe).clone()
}

#[cfg(unix)]
fn probe() -> RawPermission {
    use socket2::{Domain, Protocol, Socket, Type};
    // Either family proves the privilege; IPv4 exists everywhere, IPv6 may be disabled.
    match Socket::new(Domain::IPV4, Type::RAW, Some(Protocol::TCP))
        .or_else(|_| Socket::new(Domain::IPV6, Type::RAW, Some(Protocol::TCP)))
    {
        Ok(_) => RawPermission::Permitted,
        Err(err) => RawPermission::Denied { reason: err.to_string(), how_to_grant: how_to_grant() },
    }
}

#[cfg(windows)]
fn probe() -> RawPermission {
    RawPermission::Denied {
        reason: "Windows does not allow TCP over raw sockets".to_owned(),
        how_to_grant: how_to_grant(),
    }
}

#[cfg(not(any(unix, windows)))]
fn probe() -> RawPermission {
    RawPermission::Denied {
        reason: "raw sockets are not supported on this OS".to_owned(),
        how_to_grant: how_to_grant(),
    }
}

/// The grant instruction for this OS, naming the running binary where that helps.
pub(crate) fn how_to_grant() -> String {
    let exe = std::env::current_exe()
        .ok()
        .map(|p| p.display().to_string())
        .unwrap_or_else(|| "/path/to/knock-cli".to_owned());
    grant_instruction(&exe)
}

#[cfg(target_os = "linux")]
fn grant_instruction(exe: &str) -> String {
    format!("grant the capability once with `sudo setcap cap_net_raw+ep {exe}`, or run as root")
}

#[cfg(all(unix, not(target_os = "linux")))]
fn grant_instruction(_exe: &str) -> String {
    "raw sockets need root on this OS: run with sudo (under sudo, root's keychain and profiles are used, not \
     yours)"
        .to_owned()
}

#[cfg(windows)]
fn grant_instruction(_exe: &str) -> String {
    "Windows forbids TCP over raw sockets even for administrators: only plain SYN hits (method connect) \
     are possible"
        .to_owned()
}

#[cfg(not(any(unix, windows)))]
fn grant_instruction(_exe: &str) -> String {
    "raw sockets are not supported on this OS: use method connect".to_owned()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn probe_is_stable_and_denial_says_how_to_grant() {
        let first = raw_permission();
        assert_eq!(first, raw_permission());
        if let RawPermission::Denied { how_to_grant, .. } = first {
            assert!(!how_to_grant.is_empty());
        }
    }

    #[cfg(target_os = "linux")]
    #[test]
    fn linux_instruction_names_setcap_and_binary() {
        let text = grant_instruction("/usr/local/bin/knock-cli");
        assert!(text.contains("setcap cap_net_raw+ep /usr/local/bin/knock-cli"), "{text}");
    }
}
