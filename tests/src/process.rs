//! Process plumbing shared by the lab modules: bounded waits, signals, and finding every process
//! that lives in a given network namespace (so cleanup also catches children that called
//! `setsid()`, like knockd's command runners).

use std::fs;
use std::io::Read;
use std::os::unix::fs::MetadataExt;
use std::os::unix::process::CommandExt;
use std::path::Path;
use std::process::{Child, Command, ExitStatus, Output, Stdio};
use std::thread;
use std::time::{Duration, Instant};

use rustix::process::{Pid, Signal};

use crate::lab::LabError;

/// Sends `sig` to `pid`; errors (already gone) are ignored.
pub(crate) fn signal(pid: u32, sig: libc::c_int) {
    let pid = i32::try_from(pid).ok().and_then(Pid::from_raw);
    if let (Some(pid), Some(sig)) = (pid, Signal::from_named_raw(sig)) {
        let _ = rustix::process::kill_process(pid, sig);
    }
}

/// Sends `sig` to the process group `pgid`; errors are ignored.
pub(crate) fn signal_group(pgid: u32, sig: libc::c_int) {
    // Never group 1: kill(-1) signals every process we may signal.
    let pgid = i32::try_from(pgid).ok().filter(|g| *g > 1).and_then(Pid::from_raw);
    if let (Some(pgid), Some(sig)) = (pgid, Signal::from_named_raw(sig)) {
        let _ = rustix::process::kill_process_group(pgid, sig);
    }
}

/// Waits until a daemon we started logs `ready_line`, at most `timeout`. Fails with
/// the daemon's diagnostics if it exits first or never gets ready.
pub(crate) fn wait_until_ready<D>(
    daemon: &mut D,
    what: &str,
    ready_line: &str,
    timeout: Duration,
    child: fn(&mut D) -> &mut Child,
    log: fn(&D) -> String,
    diagnostics: fn(&D) -> String,
) -> Result<(), LabError> {
    let deadline = Instant::now() + timeout;
    loop {
        if log(daemon).contains(ready_line) {
            return Ok(());
        }
        if let Ok(Some(status)) = child(daemon).try_wait() {
            return Err(LabError::Startup {
                what: what.into(),
                detail: format!("exited with {status}\n{}", diagnostics(daemon)),
            });
        }
        if Instant::now() >= deadline {
            return Err(LabError::Timeout {
                what: format!("{what} to log {ready_line:?}"),
                after: timeout,
                detail: diagnostics(daemon),
            });
        }
        thread::sleep(Duration::from_millis(10));
    }
}

/// Waits for `child` at most `timeout`; `Ok(None)` when it is still running.
pub(crate) fn wait_timeout(child: &mut Child, timeout: Duration) -> std::io::Result<Option<ExitStatus>> {
    let deadline = Instant::now() + timeout;
    loop {
        if let Some(status) = child.try_wait()? {
            return Ok(Some(status));
        }
        if Instant::now() >= deadline {
            return Ok(None);
        }
        thread::sleep(Duration::from_millis(5));
    }
}

/// Stops a child we spawned in its own process group: `first` signal to the group, then SIGKILL
/// after `grace`, and reaps it. Its setsid() descendants are killed too.
pub(crate) fn stop_child(child: &mut Child, first: libc::c_int, grace: Duration) -> Option<ExitStatus> {
    if let Ok(Some(status)) = child.try_wait() {
        return Some(status);
    }
    let pid = child.id();
    let descendants = descendants(pid);
    signal_group(pid, first);
    signal(pid, first);
    let status = match wait_timeout(child, grace) {
        Ok(Some(status)) => Some(status),
        _ => {
            signal_group(pid, libc::SIGKILL);
            let _ = child.kill();
            child.wait().ok()
        }
    };
    for d in descendants {
        signal(d, libc::SIGKILL);
    }
    status
}

/// Runs `cmd` with piped output, killing it after `timeout`.
pub(crate) fn output_with_timeout(mut cmd: Command, timeout: Duration, what: &str) -> Result<Output, LabError> {
    cmd.stdin(Stdio::null()).stdout(Stdio::piped()).stderr(Stdio::piped());
    cmd.process_group(0);
    let mut child = cmd.spawn().map_err(|e| LabError::io(format!("spawning {what}"), e))?;
    let stdout = child.stdout.take().map(|s| thread::spawn(move || read_all(s)));
    let stderr = child.stderr.take().map(|s| thread::spawn(move || read_all(s)));
    let waited = wait_timeout(&mut child, timeout).map_err(|e| LabError::io(format!("waiting for {what}"), e))?;
    let status = match waited {
        Some(status) => status,
        None => {
            stop_child(&mut child, libc::SIGKILL, Duration::from_millis(100));
            let out = join(stdout);
            let err = join(stderr);
            return Err(LabError::Timeout {
                what: format!("{what} to exit"),
                after: timeout,
                detail: format!("stdout: {}\nstderr: {}", lossy(&out), lossy(&err)),
            });
        }
    };
    Ok(Output { status, stdout: join(stdout), stderr: join(stderr) })
}

fn read_all(mut r: impl Read) -> Vec<u8> {
    let mut buf = Vec::new();
    let _ = r.read_to_end(&mut buf);
    buf
}

fn join(h: Option<thread::JoinHandle<Vec<u8>>>) -> Vec<u8> {
    h.and_then(|h| h.join().ok()).unwrap_or_default()
}

pub(crate) fn lossy(b: &[u8]) -> String {
    String::from_utf8_lossy(b).trim_end().to_string()
}

fn proc_pids() -> Vec<u32> {
    let Ok(rd) = fs::read_dir("/proc") else {
        return Vec::new();
    };
    rd.filter_map(|e| e.ok()?.file_name().to_str()?.parse::<u32>().ok()).collect()
}

/// Parent pid from /proc/PID/stat (the field after the parenthesised command name).
fn ppid_of(pid: u32) -> Option<u32> {
    let stat = fs::read_to_string(format!("/proc/{pid}/stat")).ok()?;
    let rest = &stat[stat.rfind(')')? + 1..];
    rest.split_whitespace().nth(1)?.parse().ok()
}

/// All live descendants of `root` (children, grandchildren, ...), found by walking /proc.
pub(crate) fn descendants(root: u32) -> Vec<u32> {
    let parents: Vec<(u32, u32)> = proc_pids().into_iter().filter_map(|p| Some((p, ppid_of(p)?))).collect();
    let mut found = vec![root];
    let mut i = 0;
    while i < found.len() {
        let parent = found[i];
        found.extend(parents.iter().filter(|(_, pp)| *pp == parent).map(|(p, _)| *p));
        i += 1;
    }
    found.remove(0);
    found
}

/// Pids of every process whose network namespace is the named one (`/run/netns/NAME`).
pub(crate) fn netns_pids(ns: &str) -> Vec<u32> {
    let Ok(meta) = fs::metadata(Path::new("/run/netns").join(ns)) else {
        return Vec::new();
    };
    let me = std::process::id();
    proc_pids()
        .into_iter()
        .filter(|&p| p != me)
        .filter(|p| {
            fs::metadata(format!("/proc/{p}/ns/net"))
                .map(|m| m.dev() == meta.dev() && m.ino() == meta.ino())
                .unwrap_or(false)
        })
        .collect()
}

/// SIGKILLs every process in the namespace until none is left (bounded to ~2 s).
pub(crate) fn kill_netns_processes(ns: &str) {
    let deadline = Instant::now() + Duration::from_secs(2);
    loop {
        let pids = netns_pids(ns);
        if pids.is_empty() || Instant::now() >= deadline {
            return;
        }
        for p in pids {
            signal(p, libc::SIGKILL);
        }
        thread::sleep(Duration::from_millis(5));
    }
}

/// True when a process with this pid exists and is not a zombie (a killed test binary whose
/// parent does not reap it is gone for our purposes).
pub(crate) fn pid_alive(pid: u32) -> bool {
    match fs::read_to_string(format!("/proc/{pid}/stat")) {
        Ok(stat) => !stat
            .rfind(')')
            .and_then(|i| stat[i + 1..].split_whitespace().next())
            .is_some_and(|state| state == "Z" || state == "X"),
        Err(_) => false,
    }
}
