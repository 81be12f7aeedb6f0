//! Logging: knockd-compatible lines, so existing log watchers keep working. Every line goes to stderr
//! (systemd style; journald adds the time), to `LogFile` as `[YYYY-MM-DD HH:MM] line` like knockd, and to
//! syslog (ident `knockd`, LOG_NOTICE) with `UseSyslog`.
//!
//! Every line is rate-limited, so a flood cannot fill the disk or starve the packet loop; what was
//! dropped is counted and summarised once a second. Per-packet lines (stages, rejections) and event
//! lines (openings, commands, lifecycle) have separate budgets, so a flood of wrong hits cannot hide an
//! OPEN SESAME. The log file is created 0640 (owner and the log group only).

use std::ffi::CString;
use std::fs::{File, OpenOptions};
use std::io::{self, Write};
use std::path::Path;
use std::time::{Duration, Instant};

/// Per-packet lines allowed per second before suppression.
const LINES_PER_SECOND: u32 = 500;
/// Event lines (openings, commands, refusals, lifecycle) allowed per second before suppression.
const EVENTS_PER_SECOND: u32 = 500;
/// Lifecycle lines (start, reload, counters, shutdown) allowed per second: a budget of their own, so
/// a flood of events cannot hide them.
const LIFECYCLE_PER_SECOND: u32 = 100;
/// Mode of a log file we create.
const LOG_FILE_MODE: u32 = 0o640;

pub struct Logger {
    path: Option<std::path::PathBuf>,
    file: Option<File>,
    syslog: bool,
    stderr: bool,
    window_start: Instant,
    lines_in_window: u32,
    events_in_window: u32,
    lifecycle_in_window: u32,
    suppressed_in_window: u64,
    pub suppressed_total: u64,
}

impl Logger {
    pub fn new(log_file: Option<&Path>, syslog: bool, stderr: bool) -> io::Result<Logger> {
        let file = match log_file {
            Some(path) => Some(open_log(path)?),
            None => None,
        };
        if syslog {
            open_syslog();
        }
        Ok(Logger {
            path: log_file.map(Path::to_path_buf),
            file,
            syslog,
            stderr,
            window_start: Instant::now(),
            lines_in_window: 0,
            events_in_window: 0,
            lifecycle_in_window: 0,
            suppressed_in_window: 0,
            suppressed_total: 0,
        })
    }

    /// Reopens the log file (after logrotate moved it), as knockd does on SIGHUP.
    pub fn reopen(&mut self) -> io::Result<()> {
        if let Some(path) = &self.path {
            self.file = Some(open_log(path)?);
        }
        Ok(())
    }

    /// A lifecycle line (start, reload, counters, shutdown), dropped (and counted) above its own limit.
    pub fn important(&mut self, line: &str) {
        self.roll_window();
        if self.lifecycle_in_window >= LIFECYCLE_PER_SECOND {
            self.suppressed_in_window += 1;
            self.suppressed_total += 1;
            return;
        }
        self.lifecycle_in_window += 1;
        self.write(line);
    }

    /// An event line (openings, commands, refusals), dropped (and counted) above its rate limit.
    pub fn event(&mut self, line: impl FnOnce() -> String) {
        self.roll_window();
        if self.events_in_window >= EVENTS_PER_SECOND {
            self.suppressed_in_window += 1;
            self.suppressed_total += 1;
            return;
        }
        self.events_in_window += 1;
        self.write(&line());
    }

    /// A per-packet line, dropped (and counted) above the rate limit.
    pub fn packet(&mut self, line: impl FnOnce() -> String) {
        self.roll_window();
        if self.lines_in_window >= LINES_PER_SECOND {
            self.suppressed_in_window += 1;
            self.suppressed_total += 1;
            return;
        }
        self.lines_in_window += 1;
        self.write(&line());
    }

    fn roll_window(&mut self) {
        if self.window_start.elapsed() < Duration::from_secs(1) {
            return;
        }
        let suppressed = std::mem::take(&mut self.suppressed_in_window);
        self.window_start = Instant::now();
        self.lines_in_window = 0;
        self.events_in_window = 0;
        self.lifecycle_in_window = 0;
        if suppressed > 0 {
            self.write(&format!("suppressed {suppressed} log lines in the last second (rate limit)"));
        }
    }

    fn write(&mut self, line: &str) {
        if self.stderr {
            let _ = writeln!(io::stderr().lock(), "{line}");
        }
        if let Some(file) = &mut self.file {
            let _ = writeln!(file, "[{}] {line}", local_minute());
        }
        if self.syslog {
            write_syslog(line);
        }
    }
}

fn open_log(path: &Path) -> io::Result<File> {
    use std::os::unix::fs::OpenOptionsExt;
    OpenOptions::new().create(true).append(true).mode(LOG_FILE_MODE).open(path)
}

/// `YYYY-MM-DD HH:MM` in local time, knockd's LogFile format.
fn local_minute() -> String {
    let now = unsafe_local_time();
    format!("{:04}-{:02}-{:02} {:02}:{:02}", now.tm_year + 1900, now.tm_mon + 1, now.tm_mday, now.tm_hour, now.tm_min)
}

fn unsafe_local_time() -> libc::tm {
    // SAFETY: time(NULL) has no preconditions; localtime_r writes into the zeroed struct we own.
    unsafe {
        let t = libc::time(std::ptr::null_mut());
        let mut tm: libc::tm = std::mem::zeroed();
        libc::localtime_r(&t, &mut tm);
        tm
    }
}

fn open_syslog() {
    static IDENT: &[u8] = b"knockd\0";
    // SAFETY: IDENT is a static NUL-terminated string, valid for the process lifetime as openlog requires.
    unsafe { libc::openlog(IDENT.as_ptr().cast(), 0, libc::LOG_USER) };
}

fn write_syslog(line: &str) {
    let Ok(message) = CString::new(line.replace('\0', " ")) else { return };
    // SAFETY: both strings are NUL-terminated; the format string takes exactly one %s argument.
    unsafe { libc::syslog(libc::LOG_NOTICE, c"%s".as_ptr(), message.as_ptr()) };
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn per_packet_and_event_lines_are_rate_limited_separately() {
        let dir = tempfile::tempdir().expect("dir");
        let path = dir.path().join("knock.log");
        let mut log = Logger::new(Some(&path), false, false).expect("logger");
        for i in 0..(LINES_PER_SECOND + 100) {
            log.packet(|| format!("stage {i}"));
        }
        log.important("OPEN SESAME");
        let text = std::fs::read_to_string(&path).expect("log");
        assert_eq!(text.lines().filter(|l| l.contains("stage")).count(), LINES_PER_SECOND as usize);
        assert!(text.lines().last().is_some_and(|l| l.ends_with("] OPEN SESAME")), "knockd's format: {text}");
        assert_eq!(log.suppressed_total, 100);
        for i in 0..(EVENTS_PER_SECOND + 7) {
            log.event(|| format!("event {i}"));
        }
        let text = std::fs::read_to_string(&path).expect("log");
        // Within the same second (a slow machine may roll the window; then fewer are dropped).
        if log.window_start.elapsed() < Duration::from_millis(900) {
            assert_eq!(text.lines().filter(|l| l.contains("event")).count(), EVENTS_PER_SECOND as usize);
            assert_eq!(log.suppressed_total, 107);
        }
        log.important("counters: still written");
        assert!(std::fs::read_to_string(&path).expect("log").contains("counters: still written"));
    }

    #[test]
    fn the_log_file_is_created_0640() {
        use std::os::unix::fs::PermissionsExt;
        let dir = tempfile::tempdir().expect("dir");
        let path = dir.path().join("knock.log");
        let _log = Logger::new(Some(&path), false, false).expect("logger");
        let mode = std::fs::metadata(&path).expect("meta").permissions().mode() & 0o777;
        // The umask can only remove bits.
        assert_eq!(mode & !0o640, 0, "{mode:o}");
    }
}
