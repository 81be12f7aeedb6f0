//! The reference server, Debian's `knockd` 0.8, running in the lab's server namespace.
//!
//! Why: interop tests check that our client opens doors on the server users actually run.
//! [`Lab::start_knockd`] writes the config into the lab dir, makes sure its `[options]` send the
//! log to `<labdir>/knockd.log`, runs `knockd -c CONF -i SERVER_IFACE` in the foreground and waits
//! until the log says `starting up, listening on <iface>` (printed after the pcap filter is set).
//! The process (and any door-command child it forked) is killed on drop.
//!
//! Facts checked by hand (knockd 0.8 on a veth): IPv6 knocks are seen and open doors (`%IP%`
//! becomes e.g. `2001:db8::1`); in the foreground knockd writes nothing to stdout without `-v`
//! and no pid file; a bad config prints `config: line N: syntax error` to stderr and exits 1;
//! interface addresses are read once at startup (add addresses before starting knockd); the
//! door command runs in a forked, setsid() child shortly *after* `OPEN SESAME` is logged, so
//! wait for marker files rather than checking them once.

use std::fs;
use std::net::IpAddr;
use std::os::unix::process::CommandExt;
use std::path::{Path, PathBuf};
use std::process::{Child, Stdio};
use std::time::Duration;

use crate::lab::{Lab, LabError};
use crate::process;

/// How long [`Lab::start_knockd`] waits for knockd's startup line.
pub const STARTUP_TIMEOUT: Duration = Duration::from_secs(5);
/// The log line knockd writes once it listens.
pub const READY_LINE: &str = "starting up, listening on";

/// A running knockd; killed on drop.
#[derive(Debug)]
pub struct Knockd {
    child: Child,
    conf_path: PathBuf,
    log_path: PathBuf,
    log_offset: u64,
    stdout_path: PathBuf,
    stderr_path: PathBuf,
}

impl Lab {
    /// `<labdir>/knockd.log`, where every knockd of this lab logs.
    pub fn knockd_log_path(&self) -> PathBuf {
        self.dir().join("knockd.log")
    }

    /// An `[options]` section pointing LogFile (and PidFile) into the lab dir. Use it when your
    /// config needs more global options; otherwise [`Lab::start_knockd`] adds it for you.
    pub fn knockd_options_section(&self) -> String {
        format!(
            "[options]\n  LogFile = {}\n  PidFile = {}\n",
            self.knockd_log_path().display(),
            self.dir().join("knockd.pid").display()
        )
    }

    /// Marker file a door command made with [`Lab::touch_marker_command`] creates for `ip`:
    /// `<labdir>/opened-<ip>`.
    pub fn opened_marker(&self, ip: IpAddr) -> PathBuf {
        self.dir().join(format!("opened-{ip}"))
    }

    /// `touch <labdir>/opened-%IP%`: a door command that leaves a marker per knocking source.
    pub fn touch_marker_command(&self) -> String {
        format!("touch {}/opened-%IP%", self.dir().display())
    }

    /// Waits until [`Lab::opened_marker`] for `ip` exists.
    pub fn wait_for_marker(&self, ip: IpAddr, timeout: Duration) -> bool {
        let path = self.opened_marker(ip);
        crate::wait_until(timeout, || path.exists())
    }

    /// Starts knockd with `config` (doors; `[options]` is added or completed, see the module
    /// docs) on the server's veth. Returns once knockd listens.
    pub fn start_knockd(&self, config: &str) -> Result<Knockd, LabError> {
        self.start_knockd_with_args(config, &[])
    }

    /// [`Lab::start_knockd`] with extra knockd arguments (e.g. `-v`, `-D`, `-4`); stdout and
    /// stderr go to files in the lab dir, see [`Knockd::output`].
    pub fn start_knockd_with_args(&self, config: &str, extra_args: &[&str]) -> Result<Knockd, LabError> {
        let log_path = self.knockd_log_path();
        let text = complete_config(config, &log_path, &self.dir().join("knockd.pid"))?;
        let conf_path = self.unique_path("knockd", "conf");
        fs::write(&conf_path, text).map_err(|e| LabError::io(format!("writing {}", conf_path.display()), e))?;
        let stdout_path = conf_path.with_extension("stdout");
        let stderr_path = conf_path.with_extension("stderr");
        let stdout = fs::File::create(&stdout_path).map_err(|e| LabError::io("creating knockd stdout file", e))?;
        let stderr = fs::File::create(&stderr_path).map_err(|e| LabError::io("creating knockd stderr file", e))?;
        let log_offset = fs::metadata(&log_path).map(|m| m.len()).unwrap_or(0);

        let mut cmd = self.server_cmd("knockd");
        cmd.arg("-c")
            .arg(&conf_path)
            .args(["-i", self.server_iface()])
            .args(extra_args)
            .stdin(Stdio::null())
            .stdout(stdout)
            .stderr(stderr)
            .process_group(0);
        let child = cmd.spawn().map_err(|e| LabError::io("spawning `ip netns exec .. knockd`", e))?;
        let mut knockd = Knockd { child, conf_path, log_path, log_offset, stdout_path, stderr_path };

        process::wait_until_ready(
            &mut knockd,
            "knockd",
            READY_LINE,
            STARTUP_TIMEOUT,
            |d| &mut d.child,
            Knockd::log,
            Knockd::diagnostics,
        )?;
        Ok(knockd)
    }
}

impl Knockd {
    /// What this knockd logged so far (earlier knockd runs in the same lab excluded).
    pub fn log(&self) -> String {
        crate::log_since(&self.log_path, self.log_offset)
    }

    /// Waits until [`Knockd::log`] contains `needle`.
    pub fn wait_for_log(&self, needle: &str, timeout: Duration) -> bool {
        crate::wait_until(timeout, || self.log().contains(needle))
    }

    /// How many log lines contain `needle`.
    pub fn count_in_log(&self, needle: &str) -> usize {
        self.log().lines().filter(|l| l.contains(needle)).count()
    }

    /// knockd's (stdout, stderr) so far; empty without `-v`/`-D` unless it failed.
    pub fn output(&self) -> (String, String) {
        let read = |p: &Path| fs::read_to_string(p).unwrap_or_default();
        (read(&self.stdout_path), read(&self.stderr_path))
    }

    /// The config file knockd runs with (complete, with `[options]`).
    pub fn config_path(&self) -> &Path {
        &self.conf_path
    }

    /// The log file (shared by all knockd runs of the lab; see [`Knockd::log`]).
    pub fn log_path(&self) -> &Path {
        &self.log_path
    }

    /// Process id (of knockd itself: `ip netns exec` execs it).
    pub fn pid(&self) -> u32 {
        self.child.id()
    }

    /// Sends SIGHUP: knockd re-reads its config (not the interface addresses).
    pub fn reload(&self) {
        process::signal(self.child.id(), libc::SIGHUP);
    }

    /// Log, stdout and stderr, for error messages.
    pub fn diagnostics(&self) -> String {
        let (out, err) = self.output();
        format!(
            "--- knockd log ---\n{}--- stdout ---\n{out}--- stderr ---\n{err}--- config {} ---\n{}",
            self.log(),
            self.conf_path.display(),
            fs::read_to_string(&self.conf_path).unwrap_or_default()
        )
    }
}

impl Drop for Knockd {
    fn drop(&mut self) {
        // SIGTERM makes knockd wait() for a pending stop-command child, so do not wait long.
        process::stop_child(&mut self.child, libc::SIGTERM, Duration::from_millis(500));
    }
}

/// Adds `[options]` with our LogFile/PidFile, or completes the caller's `[options]`. A caller's
/// LogFile elsewhere is an error, since the lab reads the log from `log`.
pub(crate) fn complete_config(config: &str, log: &Path, pid: &Path) -> Result<String, LabError> {
    let lines: Vec<&str> = config.lines().collect();
    let is_section = |l: &str| {
        let t = l.trim();
        t.starts_with('[') && t.ends_with(']')
    };
    let Some(start) = lines.iter().position(|l| l.trim().eq_ignore_ascii_case("[options]")) else {
        return Ok(format!("[options]\n  LogFile = {}\n  PidFile = {}\n\n{config}\n", log.display(), pid.display()));
    };
    let end = lines[start + 1..].iter().position(|l| is_section(l)).map_or(lines.len(), |i| start + 1 + i);
    let key_value = |key: &str| {
        lines[start + 1..end].iter().find_map(|l| {
            let (k, v) = l.split_once('=')?;
            k.trim().eq_ignore_ascii_case(key).then(|| v.trim().to_string())
        })
    };
    let mut insert = Vec::new();
    match key_value("LogFile") {
        None => insert.push(format!("  LogFile = {}", log.display())),
        Some(v) if Path::new(&v) == log => {}
        Some(v) => {
            return Err(LabError::Config(format!(
                "LogFile = {v}: the lab reads knockd's log from {}; drop the LogFile line or use \
                 Lab::knockd_options_section()",
                log.display()
            )));
        }
    }
    if key_value("PidFile").is_none() {
        insert.push(format!("  PidFile = {}", pid.display()));
    }
    let mut out: Vec<String> = lines.iter().map(|l| l.to_string()).collect();
    for (i, l) in insert.into_iter().enumerate() {
        out.insert(start + 1 + i, l);
    }
    Ok(out.join("\n") + "\n")
}

#[cfg(test)]
mod tests {
    use super::*;

    const DOOR: &str = "[door]\n  Sequence = 7000,8000,9000\n";

    #[test]
    fn options_are_added_when_missing() {
        let c = complete_config(DOOR, Path::new("/l/knockd.log"), Path::new("/l/p")).expect("ok");
        assert!(c.starts_with("[options]\n  LogFile = /l/knockd.log\n  PidFile = /l/p\n"));
        assert!(c.contains(DOOR));
    }

    #[test]
    fn existing_options_are_completed() {
        let conf = format!("[Options]\n  UseSyslog\n{DOOR}");
        let c = complete_config(&conf, Path::new("/l/knockd.log"), Path::new("/l/p")).expect("ok");
        assert_eq!(c, format!("[Options]\n  LogFile = /l/knockd.log\n  PidFile = /l/p\n  UseSyslog\n{DOOR}"));
    }

    #[test]
    fn our_own_logfile_is_accepted_and_a_foreign_one_refused() {
        let ok = format!("[options]\n logfile = /l/knockd.log\n{DOOR}");
        let c = complete_config(&ok, Path::new("/l/knockd.log"), Path::new("/l/p")).expect("ok");
        assert_eq!(c.matches("/l/knockd.log").count(), 1);
        let bad = format!("[options]\n LogFile = /var/log/knockd.log\n{DOOR}");
        assert!(matches!(
            complete_config(&bad, Path::new("/l/knockd.log"), Path::new("/l/p")),
            Err(LabError::Config(_))
        ));
    }

    #[test]
    fn logfile_in_a_door_section_does_not_count() {
        let conf = format!("[options]\n  UseSyslog\n{DOOR}  LogFile = /x\n");
        let c = complete_config(&conf, Path::new("/l/knockd.log"), Path::new("/l/p")).expect("ok");
        assert!(c.contains("LogFile = /l/knockd.log"));
    }
}
