//! Least privilege, once the capture is open.
//!
//! Per OS (decided here, nowhere else):
//! - **Linux**: opening the capture needs CAP_NET_RAW; afterwards the server needs only what its doors
//!   need: CAP_NET_ADMIN when a door has a command or an nftables set (iptables, ip6tables and nft need
//!   it), nothing otherwise. Every other capability is dropped from the bounding, permitted, effective
//!   and inheritable sets, so no command the server runs can regain it. With `--user NAME` the server
//!   also switches to that user (and its primary group, no supplementary groups), keeping the needed
//!   capabilities as ambient ones so that door commands (iptables, nft) still work.
//!   `--keep-capabilities` skips all of it, for doors whose commands need more (e.g. `systemctl`).
//!   Capabilities are decided at start: a SIGHUP that adds a door needing more needs a restart.
//! - **Which user** ([`target_user`]): started as root, the server switches to the system user
//!   [`DEFAULT_USER`] (`knock-server`, which the Debian package creates and the systemd unit runs as)
//!   unless `--user NAME` names another, `--run-as-root` keeps uid 0 (capabilities still dropped), or
//!   `--keep-capabilities` keeps everything. A door command run as root could read /etc/shadow or
//!   rewrite the configuration; as `knock-server` it has CAP_NET_ADMIN and nothing else. Started as
//!   another user (the unit's `User=knock-server` with ambient capabilities), the server stays that
//!   user and passes CAP_NET_ADMIN to door commands as an ambient capability.
//! - **macOS and other Unix systems**: there are no capabilities; `--user` switches user after the BPF
//!   device is open (door commands then run as that user, so firewall commands need sudo rules).

#![expect(unsafe_code, reason = "setgroups(0, NULL): nix does not wrap setgroups on macOS, rustix not at all")]

use crate::config::ServerConfig;
use crate::exit::Failure;

/// The user a server started as root switches to when no `--user` is given.
pub(crate) const DEFAULT_USER: &str = "knock-server";

/// Which user the server runs as once the capture is open.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum Target<'a> {
    /// Stay the user it was started as.
    Stay,
    /// `--user NAME`.
    Switch(&'a str),
    /// Started as root without `--user`: [`DEFAULT_USER`].
    Default(&'a str),
}

/// The user to run as (see the module docs): `--user` wins; `--run-as-root` and `--keep-capabilities`
/// keep the starting user; otherwise root switches to [`DEFAULT_USER`] and anyone else stays.
pub(crate) fn target_user<'a>(
    euid: u32,
    user: Option<&'a str>,
    run_as_root: bool,
    keep_capabilities: bool,
) -> Target<'a> {
    match user {
        Some(name) => Target::Switch(name),
        None if run_as_root || keep_capabilities || euid != 0 => Target::Stay,
        None => Target::Default(DEFAULT_USER),
    }
}

/// Why the server's user could not create files in a directory (`--state-dir`); the text follows the
/// directory's name.
#[derive(Debug, thiserror::Error)]
pub(crate) enum NotWritable {
    #[error("cannot be read ({0})")]
    Unreadable(std::io::Error),
    #[error("is not a directory")]
    NotADirectory,
    #[error("user {user} cannot write it (owner uid {owner}, group gid {group}, mode {mode:04o})")]
    Denied { user: String, owner: u32, group: u32, mode: u32 },
}

/// Whether `user` (its uid and primary group; supplementary groups are dropped) may create files in
/// `dir`, from the owner and mode bits. Err says why not.
pub(crate) fn check_writable(dir: &std::path::Path, user: &User) -> Result<(), NotWritable> {
    use std::os::unix::fs::MetadataExt;
    let meta = std::fs::metadata(dir).map_err(NotWritable::Unreadable)?;
    if !meta.is_dir() {
        return Err(NotWritable::NotADirectory);
    }
    let mode = meta.mode();
    let (write_exec_owner, write_exec_group, write_exec_other) = (0o300, 0o030, 0o003);
    let allowed = if meta.uid() == user.uid {
        mode & write_exec_owner == write_exec_owner
    } else if meta.gid() == user.gid {
        mode & write_exec_group == write_exec_group
    } else {
        mode & write_exec_other == write_exec_other
    };
    if allowed {
        Ok(())
    } else {
        Err(NotWritable::Denied { user: user.name.clone(), owner: meta.uid(), group: meta.gid(), mode: mode & 0o7777 })
    }
}

/// A user to switch to (`--user`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct User {
    pub(crate) name: String,
    pub(crate) uid: libc::uid_t,
    pub(crate) gid: libc::gid_t,
}

impl User {
    /// Looks the user up in the system's user database.
    pub(crate) fn lookup(name: &str) -> Result<User, Failure> {
        match nix::unistd::User::from_name(name) {
            Ok(Some(entry)) => Ok(User { name: name.to_owned(), uid: entry.uid.as_raw(), gid: entry.gid.as_raw() }),
            Ok(None) => {
                Err(Failure::invalid(format!("--user {name}: no such user (create it, e.g. useradd --system {name})")))
            }
            Err(errno) => Err(Failure::runtime(format!("--user {name}: cannot read the user database: {errno}"))),
        }
    }
}

/// Whether the doors need CAP_NET_ADMIN (a command or an nftables set).
#[cfg(target_os = "linux")]
fn needs_net_admin(config: &ServerConfig) -> bool {
    config.doors.iter().any(|d| {
        d.nft.is_some()
            || d.start_command.is_some()
            || d.start_command_6.is_some()
            || d.stop_command.is_some()
            || d.stop_command_6.is_some()
    })
}

/// Drops what the doors do not need (see the module docs); `spa_runs` is whether the SPA door runs commands
/// or nft updates (it needs CAP_NET_ADMIN too). Returns a line for the log.
#[cfg(target_os = "linux")]
pub(crate) fn drop_privileges(config: &ServerConfig, spa_runs: bool, user: Option<&User>) -> Result<String, Failure> {
    use caps::{CapSet, Capability, CapsHashSet};
    let fail = |what: &str, err: &dyn std::fmt::Display| Failure::runtime(format!("cannot {what}: {err}"));
    let mut needed = CapsHashSet::new();
    if needs_net_admin(config) || spa_runs {
        needed.insert(Capability::CAP_NET_ADMIN);
    }
    let have = caps::read(None, CapSet::Permitted).map_err(|e| fail("read the capabilities", &e))?;
    let missing: Vec<String> = needed.difference(&have).map(ToString::to_string).collect();
    if !missing.is_empty() {
        return Err(Failure::runtime(format!(
            "the doors need {} (nft or firewall commands), which this process does not have",
            missing.join(", ")
        )));
    }
    // The bounding set first, while CAP_SETPCAP is still there (without it, e.g. started with only
    // CAP_NET_RAW and CAP_NET_ADMIN by systemd, the unit's CapabilityBoundingSet already bounds it).
    if have.contains(&Capability::CAP_SETPCAP) {
        let supported = caps::runtime::thread_all_supported();
        for cap in supported.difference(&needed) {
            caps::drop(None, CapSet::Bounding, *cap).map_err(|e| fail("drop a bounding capability", &e))?;
        }
    }
    if let Some(user) = user {
        switch_user(user)?;
    }
    for set in [CapSet::Effective, CapSet::Inheritable, CapSet::Permitted] {
        // Effective and inheritable must stay within permitted: shrink them before it.
        caps::set(None, set, &needed).map_err(|e| fail("set the capabilities", &e))?;
    }
    if user.is_some() || !rustix::process::geteuid().is_root() {
        // As a user other than root, exec() would drop the capabilities: ambient ones pass to door commands.
        caps::set(None, CapSet::Ambient, &needed).map_err(|e| fail("set the ambient capabilities", &e))?;
    }
    let kept = if needed.is_empty() {
        "none".to_owned()
    } else {
        needed.iter().map(ToString::to_string).collect::<Vec<_>>().join(", ")
    };
    let who = user.map_or_else(|| "the same user".to_owned(), |u| format!("user {}", u.name));
    Ok(format!("privileges dropped: running as {who}, capabilities kept: {kept}"))
}

/// No capabilities outside Linux: only `--user` (see the module docs).
#[cfg(not(target_os = "linux"))]
pub(crate) fn drop_privileges(_config: &ServerConfig, _spa_runs: bool, user: Option<&User>) -> Result<String, Failure> {
    match user {
        Some(user) => {
            switch_user(user)?;
            Ok(format!("privileges dropped: running as user {}", user.name))
        }
        None => Ok("running with the privileges it was started with (no capabilities on this OS)".to_owned()),
    }
}

/// setgroups([]), setgid, setuid, keeping the permitted capabilities across the uid change on Linux.
fn switch_user(user: &User) -> Result<(), Failure> {
    use nix::unistd::{Gid, Uid, setgid, setuid};
    // std's wording of an OS error ("Operation not permitted (os error 1)"), whichever crate made the call.
    let os = |what: &str, err: std::io::Error| Failure::runtime(format!("cannot {what} (--user {}): {err}", user.name));
    #[cfg(target_os = "linux")]
    rustix::thread::set_keep_capabilities(true).map_err(|e| os("keep capabilities", e.into()))?;
    // SAFETY: setgroups reads no list when its length is 0.
    if unsafe { libc::setgroups(0, std::ptr::null()) } != 0 {
        return Err(os("drop supplementary groups", std::io::Error::last_os_error()));
    }
    setgid(Gid::from_raw(user.gid)).map_err(|e| os("set the group", e.into()))?;
    setuid(Uid::from_raw(user.uid)).map_err(|e| os("set the user", e.into()))?;
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn root_switches_to_the_system_user_unless_told_otherwise() {
        assert_eq!(target_user(0, None, false, false), Target::Default("knock-server"));
        assert_eq!(target_user(0, Some("nobody"), false, false), Target::Switch("nobody"));
        assert_eq!(target_user(0, None, true, false), Target::Stay, "--run-as-root");
        assert_eq!(target_user(0, None, false, true), Target::Stay, "--keep-capabilities");
        assert_eq!(target_user(999, None, false, false), Target::Stay, "started as the unit's User=");
        assert_eq!(target_user(999, Some("nobody"), false, false), Target::Switch("nobody"));
    }

    #[test]
    fn users_are_looked_up_in_the_user_database() {
        let root = User::lookup("root").expect("root exists on every Unix");
        assert_eq!((root.uid, root.gid), (0, 0));
        let missing = User::lookup("knock-e2e-no-such-user").expect_err("no such user");
        assert!(missing.message.contains("no such user"), "{missing}");
        assert_eq!(missing.status, crate::ExitStatus::InvalidConfig);
    }

    #[test]
    fn a_state_dir_the_user_cannot_write_is_found() {
        use std::os::unix::fs::PermissionsExt;
        let dir = tempfile::tempdir().expect("dir");
        let owner = std::os::unix::fs::MetadataExt::uid(&std::fs::metadata(dir.path()).expect("meta"));
        let other = User { name: "other".into(), uid: owner.wrapping_add(12345), gid: 54321 };
        let me = User { name: "me".into(), uid: owner, gid: 54321 };
        std::fs::set_permissions(dir.path(), std::fs::Permissions::from_mode(0o700)).expect("chmod");
        assert!(check_writable(dir.path(), &me).is_ok());
        let why = check_writable(dir.path(), &other).expect_err("0700 of another user").to_string();
        assert!(why.contains("cannot write") && why.contains("mode 0700"), "{why}");
        std::fs::set_permissions(dir.path(), std::fs::Permissions::from_mode(0o1777)).expect("chmod");
        assert!(check_writable(dir.path(), &other).is_ok());
    }
}
