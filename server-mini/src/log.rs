//! Logging: knockd-compatible lines, so existing log watchers keep working. Every line goes to stderr
//! (systemd style; journald adds the time), to `LogFile` as `[YYYY-MM-DD HH:MM] line` like knockd, and to
//! syslog (ident `knockd`, LOG_NOTICE) with `UseSyslog`. The log file is created 0640 (owner and the log
//! group only).
//!
//! Every line is rate-limited, so a flood cannot fill the disk or starve the packet loop, and each kind
//! of line has a budget of its own, so one kind cannot hide another:
//!
//! - **State changes** ([`Logger::state`]): a new opening whose start runs (`IP: DOOR: OPEN SESAME`),
//!   a command started, failed or killed, a stop run, a refusal of a source not refused recently. Never
//!   dropped for noise: their budget is theirs alone, [`STATE_PER_DOOR_PER_SECOND`] per door (so a flood
//!   of one door cannot use up another door's lines) and a hard bound of [`STATE_PER_SECOND`] in all (so
//!   nothing fills the disk). What the hard bounds drop is counted and summarised once a second, by door.
//! - **Alerts** ([`Logger::alert`]): a door that may have stayed open. Their own budget.
//! - **Noise** ([`Logger::noise`]): repeated openings of an already-open (door, source) (extensions),
//!   repeated refusals, openings while a start or stop still runs, rotating replays. The first
//!   [`NOISE_PER_SECOND`] a second are written as usual; beyond that they are counted per door and kind
//!   and summarised once a second (`ssh: 48,213 more openings by 20 sources already open (extended) in
//!   the last second`).
//! - **Per-packet lines** ([`Logger::packet`]: stages, rejections), **other events**
//!   ([`Logger::event`]) and **lifecycle** lines ([`Logger::important`]: start, reload, counters,
//!   shutdown) keep their own budgets; what they drop is counted and summarised once a second.
//!
//! Summaries are written when the second is over: at the next line, or at the event loop's next
//! [`Logger::tick`] (at least every 100 ms), so a flood that stops is still summarised.

#![expect(unsafe_code, reason = "localtime_r, openlog and syslog from the C library")]

use std::collections::{BTreeMap, HashMap, HashSet};
use std::ffi::CString;
use std::fs::{File, OpenOptions};
use std::io::{self, Write};
use std::net::IpAddr;
use std::path::Path;
use std::time::{Duration, Instant};

/// Per-packet lines allowed per second before suppression.
const LINES_PER_SECOND: u32 = 500;
/// Other event lines (one-time sequence files, ...) allowed per second before suppression.
const EVENTS_PER_SECOND: u32 = 500;
/// Lifecycle lines (start, reload, counters, shutdown) allowed per second: a budget of their own, so
/// a flood of events cannot hide them.
const LIFECYCLE_PER_SECOND: u32 = 100;
/// State-change lines of one door per second (hard bound; what is beyond is counted and summarised).
pub(crate) const STATE_PER_DOOR_PER_SECOND: u32 = 200;
/// State-change lines of all doors per second (hard bound, so nothing fills the disk).
pub(crate) const STATE_PER_SECOND: u32 = 2_000;
/// Alert lines (a door that may have stayed open) per second.
const ALERTS_PER_SECOND: u32 = 100;
/// Noise events written individually per second; beyond, they are only counted and summarised.
pub(crate) const NOISE_PER_SECOND: u32 = 500;
/// Distinct sources remembered per door and kind of noise in one second (for the summary's "by N sources").
const NOISE_SOURCES: usize = 10_000;
/// Mode of a log file we create.
const LOG_FILE_MODE: u32 = 0o640;

/// A kind of noise: what happened again, for the once-a-second summary.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub(crate) enum Noise {
    /// An opening of a door already open for the source: extended.
    Extended,
    /// An opening refused again for a source refused recently.
    Refused,
    /// An opening of a door without a stop whose start still runs for the source.
    Busy,
    /// An opening while the source's stop command runs (it opens again after).
    Closing,
    /// A rotating sequence whose window its user already used.
    Replay,
}

impl Noise {
    fn summary(self) -> &'static str {
        match self {
            Noise::Extended => "already open (extended)",
            Noise::Refused => "refused again (--max-commands)",
            Noise::Busy => "whose start command still runs (not run again)",
            Noise::Closing => "whose stop command runs (opening again after it)",
            Noise::Replay => "replaying a used window (refused)",
        }
    }
}

#[derive(Debug, Default)]
struct NoiseCount {
    events: u64,
    sources: HashSet<IpAddr>,
    /// More distinct sources than [`NOISE_SOURCES`].
    more_sources: bool,
}

pub struct Logger {
    path: Option<std::path::PathBuf>,
    file: Option<File>,
    syslog: bool,
    stderr: bool,
    window_start: Instant,
    lines_in_window: u32,
    events_in_window: u32,
    lifecycle_in_window: u32,
    alerts_in_window: u32,
    noise_in_window: u32,
    state_in_window: u32,
    state_by_door: HashMap<String, u32>,
    /// State-change lines dropped by the hard bounds this second, by door.
    state_dropped: BTreeMap<String, u64>,
    /// Noise beyond its budget this second, by door and kind.
    noise_counted: BTreeMap<String, BTreeMap<Noise, NoiseCount>>,
    suppressed_in_window: u64,
    pub(crate) suppressed_total: u64,
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
            alerts_in_window: 0,
            noise_in_window: 0,
            state_in_window: 0,
            state_by_door: HashMap::new(),
            state_dropped: BTreeMap::new(),
            noise_counted: BTreeMap::new(),
            suppressed_in_window: 0,
            suppressed_total: 0,
        })
    }

    /// Reopens the log file (after logrotate moved it), as knockd does on SIGHUP.
    pub(crate) fn reopen(&mut self) -> io::Result<()> {
        if let Some(path) = &self.path {
            self.file = Some(open_log(path)?);
        }
        Ok(())
    }

    /// A lifecycle line (start, reload, counters, shutdown), dropped (and counted) above its own limit.
    pub(crate) fn important(&mut self, line: &str) {
        self.roll_window();
        if self.lifecycle_in_window >= LIFECYCLE_PER_SECOND {
            self.suppress();
            return;
        }
        self.lifecycle_in_window += 1;
        self.write(line);
    }

    /// A line saying a door may have stayed open: its own budget, dropped (and counted) above it.
    pub(crate) fn alert(&mut self, line: &str) {
        self.roll_window();
        if self.alerts_in_window >= ALERTS_PER_SECOND {
            self.suppress();
            return;
        }
        self.alerts_in_window += 1;
        self.write(line);
    }

    /// A state-change line of `door` (see the module docs): only the hard bounds drop it, and what they
    /// drop is summarised by door.
    pub(crate) fn state(&mut self, door: &str, line: impl FnOnce() -> String) {
        self.roll_window();
        let of_door = self.state_by_door.get(door).copied().unwrap_or(0);
        if of_door >= STATE_PER_DOOR_PER_SECOND || self.state_in_window >= STATE_PER_SECOND {
            self.suppress();
            match self.state_dropped.get_mut(door) {
                Some(count) => *count += 1,
                None => {
                    self.state_dropped.insert(door.to_owned(), 1);
                }
            }
            return;
        }
        match self.state_by_door.get_mut(door) {
            Some(count) => *count += 1,
            None => {
                self.state_by_door.insert(door.to_owned(), 1);
            }
        }
        self.state_in_window += 1;
        self.write(&line());
    }

    /// Noise of `door` by `source`: its lines are written while the noise budget lasts, then only
    /// counted and summarised once a second by door and kind.
    pub(crate) fn noise(&mut self, door: &str, kind: Noise, source: IpAddr, lines: impl FnOnce() -> Vec<String>) {
        self.roll_window();
        if self.noise_in_window < NOISE_PER_SECOND {
            self.noise_in_window += 1;
            for line in lines() {
                self.write(&line);
            }
            return;
        }
        self.suppress();
        let of_door = match self.noise_counted.get_mut(door) {
            Some(of_door) => of_door,
            None => self.noise_counted.entry(door.to_owned()).or_default(),
        };
        let count = of_door.entry(kind).or_default();
        count.events += 1;
        if count.sources.len() < NOISE_SOURCES {
            count.sources.insert(source);
        } else if !count.sources.contains(&source) {
            count.more_sources = true;
        }
    }

    /// An event line (one-time sequence files, other events), dropped (and counted) above its rate limit.
    pub(crate) fn event(&mut self, line: impl FnOnce() -> String) {
        self.roll_window();
        if self.events_in_window >= EVENTS_PER_SECOND {
            self.suppress();
            return;
        }
        self.events_in_window += 1;
        self.write(&line());
    }

    /// A per-packet line, dropped (and counted) above the rate limit.
    ///
    /// The window is not rolled here but by [`Logger::tick`], which the event loop calls at least every
    /// 100 ms: a per-packet line costs no clock read (a flood makes millions of them).
    pub(crate) fn packet(&mut self, line: impl FnOnce() -> String) {
        if self.lines_in_window >= LINES_PER_SECOND {
            self.suppress();
            return;
        }
        self.lines_in_window += 1;
        self.write(&line());
    }

    /// Called by the event loop (at least every 100 ms) with the time it read: writes the last second's
    /// summaries once it is over.
    pub(crate) fn tick(&mut self, now: Instant) {
        if now.saturating_duration_since(self.window_start) >= Duration::from_secs(1) {
            self.summarise();
        }
    }

    /// Writes what is counted so far now (at exit), and starts a new second.
    pub(crate) fn flush(&mut self) {
        self.summarise();
    }

    fn suppress(&mut self) {
        self.suppressed_in_window += 1;
        self.suppressed_total += 1;
    }

    fn roll_window(&mut self) {
        if self.window_start.elapsed() < Duration::from_secs(1) {
            return;
        }
        self.summarise();
    }

    fn summarise(&mut self) {
        let seconds = self.window_start.elapsed().as_secs().max(1);
        let period = if seconds == 1 { "the last second".to_owned() } else { format!("the last {seconds} seconds") };
        self.window_start = Instant::now();
        self.lines_in_window = 0;
        self.events_in_window = 0;
        self.lifecycle_in_window = 0;
        self.alerts_in_window = 0;
        self.noise_in_window = 0;
        self.state_in_window = 0;
        self.state_by_door.clear();
        let mut summarised = 0;
        let noise = std::mem::take(&mut self.noise_counted);
        for (door, kind, count) in noise.iter().flat_map(|(door, kinds)| kinds.iter().map(move |(k, c)| (door, k, c))) {
            summarised += count.events;
            let more = if count.more_sources { "more than " } else { "" };
            let sources = count.sources.len() as u64;
            self.write(&format!(
                "{door}: {} more {} by {more}{} {} {} in {period}",
                thousands(count.events),
                plural(count.events, "opening", "openings"),
                thousands(sources),
                plural(sources, "source", "sources"),
                kind.summary()
            ));
        }
        let dropped = std::mem::take(&mut self.state_dropped);
        let dropped_states: u64 = dropped.values().sum();
        if dropped_states > 0 {
            let by_door: Vec<String> = dropped.iter().map(|(door, n)| format!("{door} {}", thousands(*n))).collect();
            self.write(&format!(
                "suppressed {} state-change log lines in {period} (limit {STATE_PER_DOOR_PER_SECOND} per door and \
                 {STATE_PER_SECOND} in all per second): {}",
                thousands(dropped_states),
                by_door.join(", ")
            ));
        }
        let other = std::mem::take(&mut self.suppressed_in_window).saturating_sub(summarised + dropped_states);
        if other > 0 {
            self.write(&format!("suppressed {} log lines in {period} (rate limit)", thousands(other)));
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

fn plural(n: u64, one: &'static str, many: &'static str) -> &'static str {
    if n == 1 { one } else { many }
}

/// `48213` as `48,213`.
fn thousands(n: u64) -> String {
    let digits = n.to_string();
    let mut out = String::with_capacity(digits.len() + digits.len() / 3);
    for (i, c) in digits.chars().enumerate() {
        if i > 0 && (digits.len() - i).is_multiple_of(3) {
            out.push(',');
        }
        out.push(c);
    }
    out
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
    fn noise_never_hides_a_state_change_and_is_summarised_per_door() {
        let dir = tempfile::tempdir().expect("dir");
        let path = dir.path().join("knock.log");
        let mut log = Logger::new(Some(&path), false, false).expect("logger");
        let sources: Vec<IpAddr> = (1..=20).map(|i| IpAddr::from([10, 9, 0, i])).collect();
        for i in 0..50_000 {
            let source = sources[i % sources.len()];
            log.noise("ssh", Noise::Extended, source, || vec![format!("{source}: ssh: OPEN SESAME")]);
            log.packet(|| format!("{source}: ssh: Stage 1"));
            log.event(|| "an event".to_owned());
        }
        log.state("ssh", || "192.0.2.1: ssh: OPEN SESAME".to_owned());
        log.state("ssh", || "ssh: running command: touch 192.0.2.1".to_owned());
        // A flood of another door's state changes uses up that door's budget only.
        for i in 0..10_000 {
            log.state("web", || format!("10.0.0.{i}: web: opening refused"));
        }
        log.state("ssh", || "192.0.2.1: ssh: command timeout".to_owned());
        log.alert("ssh: stop command for 192.0.2.1 failed 4 times: the door may still be open for 192.0.2.1");
        let slow = log.window_start.elapsed() >= Duration::from_millis(900);
        log.flush();
        let text = std::fs::read_to_string(&path).expect("log");
        for line in [
            "] 192.0.2.1: ssh: OPEN SESAME\n",
            "] ssh: running command: touch 192.0.2.1\n",
            "] 192.0.2.1: ssh: command timeout\n",
            "the door may still be open for 192.0.2.1",
        ] {
            assert!(text.contains(line), "{line:?} missing");
        }
        if !slow {
            assert_eq!(text.lines().filter(|l| l.contains("ssh: OPEN SESAME")).count(), NOISE_PER_SECOND as usize + 1);
            assert!(
                text.contains("ssh: 49,500 more openings by 20 sources already open (extended) in the last second")
            );
            assert_eq!(text.lines().filter(|l| l.contains("web: opening refused")).count(), 200);
            assert!(text.contains("suppressed 9,800 state-change log lines in the last second (limit 200 per door"));
            assert!(text.contains("): web 9,800\n"), "{}", &text[text.len() - 600..]);
            // 49,500 Stage lines and 49,500 events.
            assert!(text.contains("suppressed 99,000 log lines in the last second (rate limit)"));
            assert_eq!(log.suppressed_total, 49_500 + 9_800 + 99_000);
        }
        assert!(text.lines().count() < 2_000 * 2, "bounded: {} lines", text.lines().count());
    }

    #[test]
    fn thousands_are_separated() {
        assert_eq!(thousands(0), "0");
        assert_eq!(thousands(999), "999");
        assert_eq!(thousands(1_000), "1,000");
        assert_eq!(thousands(48_213), "48,213");
        assert_eq!(thousands(1_234_567), "1,234,567");
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
