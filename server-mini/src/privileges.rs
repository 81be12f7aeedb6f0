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

#![expect(unsafe_code, reason = "getpwnam_r, geteuid and prctl(PR_SET_KEEPCAPS), which std does not wrap")]

use std::ffi::CString;

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

/// Whether `user` (its uid and primary group; supplementary groups are dropped) may create files in
/// `dir`, from the owner and mode bits. Err says why not.
pub(crate) fn check_writable(dir: &std::path::Path, user: &User) -> Result<(), String> {
    use std::os::unix::fs::MetadataExt;
    let meta = std::fs::metadata(dir).map_err(|e| format!("cannot be read ({e})"))?;
    if !meta.is_dir() {
        return Err("is not a directory".to_owned());
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
        Err(format!(
            "user {} cannot write it (owner uid {}, group gid {}, mode {:04o})",
            user.name,
            meta.uid(),
            meta.gid(),
            mode & 0o7777
        ))
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
        let c_name =
            CString::new(name).map_err(|_| Failure::invalid(format!("--user {name:?}: not a valid user name")))?;
        let mut entry: libc::passwd = unsafe_zeroed_passwd();
        let mut buffer = vec![0 as libc::c_char; 16 * 1024];
        let mut result: *mut libc::passwd = std::ptr::null_mut();
        // SAFETY: every pointer is valid for the call; the buffer outlives the use of `entry`'s fields,
        // of which only the numeric ones are read.
        let rc =
            unsafe { libc::getpwnam_r(c_name.as_ptr(), &mut entry, buffer.as_mut_ptr(), buffer.len(), &mut result) };
        if rc != 0 || result.is_null() {
            return Err(Failure::invalid(format!(
                "--user {name}: no such user (create it, e.g. useradd --system {name})"
            )));
        }
        Ok(User { name: name.to_owned(), uid: entry.pw_uid, gid: entry.pw_gid })
    }
}

fn unsafe_zeroed_passwd() -> libc::passwd {
    // SAFETY: passwd is a plain C struct of integers and pointers, for which all-zero is a valid value.
    unsafe { std::mem::zeroed() }
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

/// Drops what the doors do not need (see the module docs); returns a line for the log.
#[cfg(target_os = "linux")]
pub(crate) fn drop_privileges(config: &ServerConfig, user: Option<&User>) -> Result<String, Failure> {
    use caps::{CapSet, Capability, CapsHashSet};
    let fail = |what: &str, err: &dyn std::fmt::Display| Failure::runtime(format!("cannot {what}: {err}"));
    let mut needed = CapsHashSet::new();
    if needs_net_admin(config) {
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
    // SAFETY: geteuid has no preconditions.
    if user.is_some() || unsafe { libc::geteuid() } != 0 {
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
pub(crate) fn drop_privileges(_config: &ServerConfig, user: Option<&User>) -> Result<String, Failure> {
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
    let os = |what: &str| {
        Failure::runtime(format!("cannot {what} (--user {}): {}", user.name, std::io::Error::last_os_error()))
    };
    #[cfg(target_os = "linux")]
    // SAFETY: prctl with PR_SET_KEEPCAPS takes one integer argument.
    if unsafe { libc::prctl(libc::PR_SET_KEEPCAPS, 1, 0, 0, 0) } != 0 {
        return Err(os("keep capabilities"));
    }
    // SAFETY: plain system calls with integer arguments (and a null list of groups of length 0).
    unsafe {
        if libc::setgroups(0, std::ptr::null()) != 0 {
            return Err(os("drop supplementary groups"));
        }
        if libc::setgid(user.gid) != 0 {
            return Err(os("set the group"));
        }
        if libc::setuid(user.uid) != 0 {
            return Err(os("set the user"));
        }
    }
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
    fn a_state_dir_the_user_cannot_write_is_found() {
        use std::os::unix::fs::PermissionsExt;
        let dir = tempfile::tempdir().expect("dir");
        let owner = std::os::unix::fs::MetadataExt::uid(&std::fs::metadata(dir.path()).expect("meta"));
        let other = User { name: "other".into(), uid: owner.wrapping_add(12345), gid: 54321 };
        let me = User { name: "me".into(), uid: owner, gid: 54321 };
        std::fs::set_permissions(dir.path(), std::fs::Permissions::from_mode(0o700)).expect("chmod");
        assert_eq!(check_writable(dir.path(), &me), Ok(()));
        let why = check_writable(dir.path(), &other).expect_err("0700 of another user");
        assert!(why.contains("cannot write") && why.contains("mode 0700"), "{why}");
        std::fs::set_permissions(dir.path(), std::fs::Permissions::from_mode(0o1777)).expect("chmod");
        assert_eq!(check_writable(dir.path(), &other), Ok(()));
    }
}
