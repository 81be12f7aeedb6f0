//! Running what an opening does without blocking packet processing, in the order [`crate::schedule`]
//! decides: start commands (`/bin/sh -c`, `%IP%` replaced by the formatted source address, the only
//! thing it can ever be), nftables set elements ([`crate::nft`]), and stop commands `Cmd_Timeout` after
//! their start finished. Each job runs on its own thread; a command still running after
//! [`COMMAND_LIMIT`] is killed with its process group and reported.
//!
//! - **The cap, per door.** At most `max_running` jobs run at once (`--max-commands`), and each door
//!   with something to run keeps a reserve of them that other doors' floods cannot take (see
//!   [`crate::schedule`]); a source whose start still runs on a door does not take a second slot on it.
//! - **What is logged** (see [`crate::log`]): an opening whose start runs logs knockd's
//!   `IP: DOOR: OPEN SESAME` and `DOOR: running command: ...` as state changes, as do stops, failures and
//!   the first refusal of a source (then again once it was not refused for [`REFUSAL_MEMORY`]; at most
//!   [`REMEMBERED_REFUSALS`] sources are remembered, beyond which refusals count as repeated). Extensions,
//!   repeated refusals and openings while the source's start or stop still runs are noise: written while
//!   the noise budget lasts, then summarised per door once a second.
//! - **Stops are retried.** A stop command that fails (non-zero status, could not run, killed by a
//!   signal, e.g. `systemctl stop` signalling the whole unit, or hung past [`COMMAND_LIMIT`]) runs again
//!   after [`STOP_RETRY_BACKOFF`] (0.5 s, 1 s, 2 s: four attempts in all, within the 10 s shutdown wait);
//!   each failure is logged, and a stop that failed every attempt is logged as an alert: `DOOR: stop
//!   command for IP failed 4 times: the door may still be open for IP`. A stop that had not finished when
//!   the server exits (10 s, then 5 s after killing what hung) is reported the same way and not tried
//!   again, so nothing runs unwatched after the exit. (The slot stays taken while the stop waits to retry.)

use std::collections::{HashMap, HashSet};
use std::net::IpAddr;
use std::os::unix::process::CommandExt;
use std::process::{Command, Stdio};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::mpsc::{Receiver, Sender, channel};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use crate::config::DoorConfig;
use crate::log::{Logger, Noise};
use crate::nft::{NftError, NftSet};
use crate::schedule::{Decision, Job, JobKind, Key, Scheduler};

/// A command still running after this long is killed (it would hold the door open or the table busy).
pub(crate) const COMMAND_LIMIT: Duration = Duration::from_secs(60);
/// `--max-commands` when not given.
pub(crate) const DEFAULT_MAX_COMMANDS: usize = 64;
/// After hung commands were killed at shutdown, how long their stop commands get.
const SHUTDOWN_AFTER_KILL: Duration = Duration::from_secs(5);
/// How long to wait before each retry of a failed stop command (so a stop runs at most 4 times).
pub(crate) const STOP_RETRY_BACKOFF: [Duration; 3] =
    [Duration::from_millis(500), Duration::from_millis(1000), Duration::from_millis(2000)];
/// A source refused again within this time is refused "again" (noise), not logged as a new refusal.
pub(crate) const REFUSAL_MEMORY: Duration = Duration::from_secs(60);
/// Most sources remembered as refused recently (a bound under spoofed floods).
pub(crate) const REMEMBERED_REFUSALS: usize = 4096;

/// One thing a job does.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum Step {
    Shell(String),
    Nft { set: NftSet, source: IpAddr, timeout: Duration },
}

impl Step {
    fn describe(&self) -> String {
        match self {
            Step::Shell(command) => format!("running command: {command}"),
            Step::Nft { set, timeout, .. } => format!("adding to nft set {set} for {} s", timeout.as_secs()),
        }
    }
}

/// A job's steps, run in order on one thread.
pub(crate) type Steps = Vec<Step>;

/// Why one step of a job failed (logged as `DOOR: {error}`).
#[derive(Debug, thiserror::Error)]
enum StepError {
    #[error(transparent)]
    Nft(#[from] NftError),
    #[error("cannot run command: {0}")]
    Spawn(std::io::Error),
    #[error("command returned non-zero status code ({0})")]
    Status(i32),
    #[error("command failed: killed by a signal")]
    Signalled,
    #[error("command failed: still running after {} s: killed", COMMAND_LIMIT.as_secs())]
    Hung,
    #[error("command failed: {0}")]
    Wait(std::io::Error),
}

/// What a job's thread reports back to the event loop, which logs it.
#[derive(Debug)]
enum Report {
    /// An attempt failed; `retry_in`: a stop runs again after this long.
    Failed { key: Key, failures: Vec<StepError>, attempt: usize, retry_in: Option<Duration> },
    /// The job ended (its slot is free); `ok`: its last attempt succeeded.
    Finished { key: Key, kind: JobKind, ok: bool, attempts: usize },
}

/// Counters of the commands, printed with the server's on SIGUSR1 and at exit.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct ActionCounters {
    /// Jobs started (starts, stops, refreshes).
    pub started: u64,
    /// Steps that failed (non-zero exit, could not run, killed, nft error), each attempt counted.
    pub failed: u64,
    /// Openings refused at the `--max-commands` cap (or the door's share of it), and openings of a door
    /// without a stop whose start still ran for the same source.
    pub refused: u64,
    /// Openings extended instead of started again.
    pub extended: u64,
    /// The most jobs that ran at once.
    pub peak: usize,
}

pub(crate) struct Actions {
    dry_run: bool,
    max_running: usize,
    scheduler: Scheduler<Steps>,
    sender: Sender<Report>,
    receiver: Receiver<Report>,
    /// Process groups of commands still running (killed at shutdown if they outlive the wait).
    groups: Arc<Mutex<HashSet<u32>>>,
    /// Set when the server gives up at exit: no stop command is tried again (it would outlive us).
    exiting: Arc<AtomicBool>,
    /// Sources refused recently, per door (their next refusals are noise).
    refused_at: HashMap<Key, Instant>,
    /// When `refused_at` was last pruned.
    refusals_pruned: Option<Instant>,
    pub(crate) counters: ActionCounters,
}

impl Actions {
    pub(crate) fn new(dry_run: bool, max_running: usize) -> Actions {
        let (sender, receiver) = channel();
        Actions {
            dry_run,
            max_running: max_running.max(1),
            scheduler: Scheduler::new(max_running),
            sender,
            receiver,
            groups: Arc::default(),
            exiting: Arc::default(),
            refused_at: HashMap::new(),
            refusals_pruned: None,
            counters: ActionCounters::default(),
        }
    }

    /// The configured doors: each one that runs something (a start command or an nftables set) gets its
    /// reserve of `--max-commands`. Called at start and after every reload.
    pub(crate) fn set_doors(&mut self, doors: &[DoorConfig]) {
        let runs = |d: &&DoorConfig| d.start_command.is_some() || d.start_command_6.is_some() || d.nft.is_some();
        self.scheduler.set_doors(doors.iter().filter(runs).map(|d| (d.name.clone(), d.line)));
    }

    /// Jobs running now.
    pub(crate) fn running(&self) -> usize {
        self.scheduler.running()
    }

    /// A completed knock of `door` by `source`: start, extend, or refuse (see [`crate::schedule`]), with
    /// its `IP: DOOR: OPEN SESAME{how}` line logged as a state change or as noise.
    pub(crate) fn open(&mut self, log: &mut Logger, door: &DoorConfig, source: IpAddr, how: &str, now: Instant) {
        let name = door.name.as_str();
        let opened = || format!("{source}: {name}: OPEN SESAME{how}");
        let ipv6 = source.is_ipv6();
        let (start, stop) = door.commands(ipv6);
        let nft = door.nft.as_ref().and_then(|n| n.set_for(ipv6).map(|set| (set.clone(), n.timeout)));
        let nft_step = nft.map(|(set, timeout)| Step::Nft { set, source, timeout });
        let mut start_steps: Steps = nft_step.iter().cloned().collect();
        start_steps.extend(start.map(|c| Step::Shell(substitute(c, source))));
        if start_steps.is_empty() {
            // Nothing to do (knockd runs no stop command without a start command either).
            log.state(name, opened);
            return;
        }
        // knockd runs the stop command only when there is a start command.
        let stop_steps: Option<Steps> =
            stop.filter(|_| start.is_some()).map(|c| vec![Step::Shell(substitute(c, source))]);
        let hold = match (&stop_steps, &door.nft) {
            (Some(_), _) => Some(door.cmd_timeout),
            (None, Some(n)) if nft_step.is_some() => Some(n.timeout),
            _ => None,
        };
        let key = Key { door: door.name.clone(), line: door.line, source };
        let decision = self.scheduler.open(key.clone(), now, hold, start_steps.clone(), stop_steps, nft_step.is_some());
        match decision {
            Decision::Start => {
                log.state(name, opened);
                let kind = if hold.is_some() { JobKind::Start } else { JobKind::Once };
                self.spawn(log, key, kind, start_steps, now, true);
            }
            Decision::Extend { refresh } => {
                self.counters.extended += 1;
                let seconds = hold.unwrap_or_default().as_secs();
                let refreshing = refresh.then(|| nft_step.as_ref().map(Step::describe)).flatten();
                log.noise(name, Noise::Extended, source, || {
                    let mut lines = vec![
                        opened(),
                        format!("{source}: {name}: already open: opening extended by {seconds} s (no second start)"),
                    ];
                    lines.extend(refreshing.map(|step| format!("{name}: {step}")));
                    lines
                });
                if refresh {
                    self.spawn(log, key, JobKind::Refresh, nft_step.into_iter().collect(), now, false);
                }
            }
            Decision::AfterStop => {
                log.noise(name, Noise::Closing, source, || {
                    vec![opened(), format!("{source}: {name}: closing: opens again once the stop command finished")]
                });
            }
            Decision::Busy => {
                self.counters.refused += 1;
                log.noise(name, Noise::Busy, source, || {
                    vec![
                        opened(),
                        format!("{source}: {name}: the start command still runs for {source}: not run again"),
                    ]
                });
            }
            Decision::Refused => {
                self.counters.refused += 1;
                let running = self.scheduler.running();
                let of_door = self.scheduler.running_for(&door.name, door.line);
                let (cap, reserve) = (self.max_running, self.scheduler.reserve());
                let refused = || {
                    format!(
                        "{source}: {name}: opening refused: {running} commands already running, {of_door} of them for \
                         this door (--max-commands {cap}; each door keeps {reserve} for its own users)"
                    )
                };
                if self.refused_recently(key, now) {
                    log.noise(name, Noise::Refused, source, || vec![opened(), refused()]);
                } else {
                    log.state(name, opened);
                    log.state(name, refused);
                }
            }
        }
        self.counters.peak = self.counters.peak.max(self.scheduler.running());
    }

    /// Whether `key` was refused within [`REFUSAL_MEMORY`]; remembers this refusal either way (while
    /// fewer than [`REMEMBERED_REFUSALS`] sources are remembered; beyond, every refusal is "recent").
    fn refused_recently(&mut self, key: Key, now: Instant) -> bool {
        let fresh = |at: &Instant| now.saturating_duration_since(*at) < REFUSAL_MEMORY;
        if let Some(at) = self.refused_at.get_mut(&key) {
            let recent = fresh(at);
            *at = now;
            return recent;
        }
        if self.refused_at.len() >= REMEMBERED_REFUSALS {
            // Forget what is stale, at most once a second (a spoofed flood refuses thousands a second).
            if self.refusals_pruned.is_some_and(|at| now.saturating_duration_since(at) < Duration::from_secs(1)) {
                return true;
            }
            self.refusals_pruned = Some(now);
            self.refused_at.retain(|_, at| fresh(at));
            if self.refused_at.len() >= REMEMBERED_REFUSALS {
                return true;
            }
        }
        self.refused_at.insert(key, now);
        false
    }

    fn spawn(&mut self, log: &mut Logger, key: Key, kind: JobKind, steps: Steps, now: Instant, log_steps: bool) {
        if log_steps {
            for step in &steps {
                let line = step.describe();
                log.state(&key.door, || format!("{}: {line}", key.door));
            }
        }
        if self.dry_run {
            log.state(&key.door, || format!("{}: dry run: command not run", key.door));
            self.scheduler.finished(&key, kind, now);
            return;
        }
        self.counters.started += 1;
        let (sender, groups, exiting) = (self.sender.clone(), Arc::clone(&self.groups), Arc::clone(&self.exiting));
        let thread_key = key.clone();
        let spawned = std::thread::Builder::new()
            .name("knock-command".into())
            .spawn(move || run_job(thread_key, kind, &steps, &groups, &sender, &exiting));
        if let Err(err) = spawned {
            // The job never ran; its slot is freed at once and the failure logged.
            self.counters.failed += 1;
            log.state(&key.door, || format!("{}: cannot start a command thread: {err}", key.door));
            self.finished(log, &key, kind, false, 1, now);
        }
    }

    /// Starts the jobs that are due (stops, starts waiting for a stop) and logs jobs that finished.
    pub(crate) fn poll(&mut self, log: &mut Logger, now: Instant) {
        log.tick(now);
        self.collect(log, now);
        for job in self.scheduler.next_jobs(now) {
            match job {
                Job::Stop { key, stop } => {
                    log.state(&key.door, || format!("{}: {}: command timeout", key.source, key.door));
                    self.spawn(log, key, JobKind::Stop, stop, now, true);
                }
                Job::Start { key, start } => self.spawn(log, key, JobKind::Start, start, now, true),
            }
        }
        self.counters.peak = self.counters.peak.max(self.scheduler.running());
    }

    fn collect(&mut self, log: &mut Logger, now: Instant) {
        while let Ok(report) = self.receiver.try_recv() {
            match report {
                Report::Failed { key, failures, attempt, retry_in } => {
                    let door = &key.door;
                    for failure in failures {
                        self.counters.failed += 1;
                        log.state(door, || format!("{door}: {failure}"));
                    }
                    if let Some(wait) = retry_in {
                        let attempts = STOP_RETRY_BACKOFF.len() + 1;
                        log.state(door, || {
                            format!(
                                "{}: {door}: stop command failed (attempt {attempt} of {attempts}): retrying in {} ms",
                                key.source,
                                wait.as_millis()
                            )
                        });
                    }
                }
                Report::Finished { key, kind, ok, attempts } => self.finished(log, &key, kind, ok, attempts, now),
            }
        }
    }

    fn finished(&mut self, log: &mut Logger, key: &Key, kind: JobKind, ok: bool, attempts: usize, now: Instant) {
        self.scheduler.finished(key, kind, now);
        if kind != JobKind::Stop {
            return;
        }
        let (door, source) = (&key.door, key.source);
        if !ok {
            log.alert(&format!(
                "{door}: stop command for {source} failed {attempts} times: the door may still be open for {source}"
            ));
        } else if attempts > 1 {
            log.state(door, || format!("{source}: {door}: stop command succeeded at attempt {attempts}"));
        }
    }

    /// When the next stop is due.
    pub(crate) fn next_due(&self) -> Option<Instant> {
        self.scheduler.next_due()
    }

    /// At shutdown: every open door's stop runs now, after its start if that still runs; everything is
    /// waited for up to `wait`, then what still runs is killed with its process group. A stop that did
    /// not finish is reported as an alert.
    pub(crate) fn shutdown(&mut self, log: &mut Logger, wait: Duration) {
        self.scheduler.begin_shutdown(Instant::now());
        if !self.drain(log, Instant::now() + wait) {
            // A start still hanging: kill it, so that its stop command can still run.
            self.kill_running(log);
            if !self.drain(log, Instant::now() + SHUTDOWN_AFTER_KILL) {
                self.exiting.store(true, Ordering::SeqCst);
                self.kill_running(log);
                for key in self.scheduler.unstopped() {
                    let (door, source) = (&key.door, key.source);
                    log.alert(&format!(
                        "{door}: stop command for {source} did not finish before exit: the door may still be open \
                         for {source}"
                    ));
                }
            }
        }
        log.flush();
    }

    /// Runs due stops and collects finished jobs until nothing is left or `deadline`; true when idle.
    fn drain(&mut self, log: &mut Logger, deadline: Instant) -> bool {
        loop {
            let now = Instant::now();
            log.tick(now);
            self.collect(log, now);
            for job in self.scheduler.next_jobs(now) {
                if let Job::Stop { key, stop } = job {
                    log.state(&key.door, || {
                        format!("{}: {}: shutting down: running the stop command now", key.source, key.door)
                    });
                    self.spawn(log, key, JobKind::Stop, stop, now, true);
                }
            }
            if self.scheduler.is_idle() {
                return true;
            }
            if now >= deadline {
                return false;
            }
            std::thread::sleep(Duration::from_millis(20));
        }
    }

    /// Whatever still runs would outlive us, unwatched: end it, with everything it started.
    fn kill_running(&mut self, log: &mut Logger) {
        let hung: Vec<u32> = self.groups.lock().map(|g| g.iter().copied().collect()).unwrap_or_default();
        for group in hung {
            log.alert(&format!("command (process group {group}) still running at shutdown: killed"));
            kill_group(group);
        }
    }
}

/// A job's thread: runs its steps (a stop again after [`STOP_RETRY_BACKOFF`] while it fails) and
/// reports each failed attempt and the end.
fn run_job(
    key: Key,
    kind: JobKind,
    steps: &[Step],
    groups: &Mutex<HashSet<u32>>,
    sender: &Sender<Report>,
    exiting: &AtomicBool,
) {
    let retries: &[Duration] = if kind == JobKind::Stop { &STOP_RETRY_BACKOFF } else { &[] };
    let mut attempt = 0;
    let ok = loop {
        attempt += 1;
        let failures: Vec<StepError> = steps.iter().filter_map(|step| run_step(step, groups).err()).collect();
        if failures.is_empty() {
            break true;
        }
        let retry_in = retries.get(attempt - 1).copied().filter(|_| !exiting.load(Ordering::SeqCst));
        let _ = sender.send(Report::Failed { key: key.clone(), failures, attempt, retry_in });
        match retry_in {
            Some(wait) => std::thread::sleep(wait),
            None => break false,
        }
        if exiting.load(Ordering::SeqCst) {
            break false;
        }
    };
    let _ = sender.send(Report::Finished { key, kind, ok, attempts: attempt });
}

/// Runs one step to its end (a command is killed after [`COMMAND_LIMIT`]); the failure, if any.
fn run_step(step: &Step, groups: &Mutex<HashSet<u32>>) -> Result<(), StepError> {
    match step {
        Step::Nft { set, source, timeout } => Ok(set.refresh(*source, *timeout)?),
        Step::Shell(command) => run_command(command, groups),
    }
}

fn run_command(command: &str, groups: &Mutex<HashSet<u32>>) -> Result<(), StepError> {
    // Its own process group, so a hung command can be killed with everything it started.
    let mut child = Command::new("/bin/sh")
        .arg("-c")
        .arg(command)
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(Stdio::inherit())
        .process_group(0)
        .spawn()
        .map_err(StepError::Spawn)?;
    groups.lock().map(|mut g| g.insert(child.id())).ok();
    let started = Instant::now();
    let outcome = loop {
        match child.try_wait() {
            Ok(Some(status)) => match status.code() {
                Some(0) => break Ok(()),
                Some(code) => break Err(StepError::Status(code)),
                None => break Err(StepError::Signalled),
            },
            Ok(None) if started.elapsed() >= COMMAND_LIMIT => {
                kill_group(child.id());
                let _ = child.kill();
                let _ = child.wait();
                break Err(StepError::Hung);
            }
            Ok(None) => std::thread::sleep(Duration::from_millis(20)),
            Err(err) => break Err(StepError::Wait(err)),
        }
    };
    groups.lock().map(|mut g| g.remove(&child.id())).ok();
    outcome
}

/// SIGKILL to a whole process group (the command's shell and its children).
fn kill_group(group: u32) {
    use rustix::process::{Pid, Signal, kill_process_group};
    if let Some(group) = i32::try_from(group).ok().and_then(Pid::from_raw) {
        // A group that is already gone has nothing left to kill.
        let _ = kill_process_group(group, Signal::KILL);
    }
}

/// Replaces every `%IP%` with the address; the address is formatted by us, so it can hold no shell syntax.
pub(crate) fn substitute(command: &str, source: IpAddr) -> String {
    command.replace("%IP%", &source.to_string())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn door(dir: &Path, commands: &str) -> DoorConfig {
        let path = dir.join("knockd.conf");
        std::fs::write(&path, format!("[ssh]\n Sequence = 7000,8000\n Seq_Timeout = 5\n{commands}")).expect("conf");
        let mut config = crate::config::load(&path).expect("config");
        config.doors.remove(0)
    }

    fn wait_idle(actions: &mut Actions, log: &mut Logger, within: Duration) -> bool {
        let deadline = Instant::now() + within;
        while Instant::now() < deadline {
            actions.poll(log, Instant::now());
            if actions.scheduler.is_idle() {
                return true;
            }
            std::thread::sleep(Duration::from_millis(20));
        }
        false
    }

    use std::path::Path;

    #[test]
    fn a_stop_command_that_fails_the_first_time_is_retried() {
        let dir = tempfile::tempdir().expect("dir");
        let (marker, stops) = (dir.path().join("failed-once"), dir.path().join("stops"));
        // Fails (status 3) the first time, succeeds the second.
        let stop = format!(
            "echo %IP% >> {s}; test -e {m} || {{ touch {m}; exit 3; }}",
            s = stops.display(),
            m = marker.display()
        );
        let door = door(dir.path(), &format!(" Start_Command = true\n Cmd_Timeout = 0\n Stop_Command = {stop}\n"));
        let log_path = dir.path().join("log");
        let mut log = Logger::new(Some(&log_path), false, false).expect("log");
        let mut actions = Actions::new(false, 4);
        actions.set_doors(std::slice::from_ref(&door));
        actions.open(&mut log, &door, "192.0.2.1".parse().expect("ip"), "", Instant::now());
        assert!(wait_idle(&mut actions, &mut log, Duration::from_secs(10)), "the stop never finished");
        let text = std::fs::read_to_string(&log_path).expect("log");
        assert_eq!(std::fs::read_to_string(&stops).expect("stops").lines().count(), 2, "{text}");
        assert!(text.contains("ssh: command returned non-zero status code (3)"), "{text}");
        assert!(text.contains("192.0.2.1: ssh: stop command failed (attempt 1 of 4): retrying in 500 ms"), "{text}");
        assert!(text.contains("192.0.2.1: ssh: stop command succeeded at attempt 2"), "{text}");
        assert!(!text.contains("may still be open"), "{text}");
        assert_eq!(actions.counters.failed, 1);
    }

    #[test]
    fn a_stop_command_that_always_fails_is_reported_loudly() {
        let dir = tempfile::tempdir().expect("dir");
        let stops = dir.path().join("stops");
        // Killed by a signal every time (as systemd's control-group kill did to a stop in flight).
        let stop = format!("echo x >> {}; kill -TERM $$", stops.display());
        let door = door(dir.path(), &format!(" Start_Command = true\n Cmd_Timeout = 0\n Stop_Command = {stop}\n"));
        let log_path = dir.path().join("log");
        let mut log = Logger::new(Some(&log_path), false, false).expect("log");
        let mut actions = Actions::new(false, 4);
        actions.open(&mut log, &door, "2001:db8::9".parse().expect("ip"), "", Instant::now());
        assert!(wait_idle(&mut actions, &mut log, Duration::from_secs(10)), "the stop never finished");
        let text = std::fs::read_to_string(&log_path).expect("log");
        assert_eq!(std::fs::read_to_string(&stops).expect("stops").lines().count(), 4, "{text}");
        assert_eq!(text.matches("ssh: command failed: killed by a signal").count(), 4, "{text}");
        assert!(
            text.contains(
                "ssh: stop command for 2001:db8::9 failed 4 times: the door may still be open for 2001:db8::9"
            ),
            "{text}"
        );
    }

    #[test]
    fn a_stop_still_failing_at_exit_is_reported_loudly() {
        let dir = tempfile::tempdir().expect("dir");
        let stops = dir.path().join("stops");
        let stop = format!("echo x >> {}; sleep 30", stops.display());
        let door = door(dir.path(), &format!(" Start_Command = true\n Cmd_Timeout = 60\n Stop_Command = {stop}\n"));
        let log_path = dir.path().join("log");
        let mut log = Logger::new(Some(&log_path), false, false).expect("log");
        let mut actions = Actions::new(false, 4);
        actions.open(&mut log, &door, "192.0.2.7".parse().expect("ip"), "", Instant::now());
        let started = Instant::now();
        while actions.running() > 0 && started.elapsed() < Duration::from_secs(5) {
            actions.poll(&mut log, Instant::now());
            std::thread::sleep(Duration::from_millis(10));
        }
        // The stop hangs: killed after the wait, retried, killed again when the server exits.
        actions.shutdown(&mut log, Duration::from_millis(200));
        let text = std::fs::read_to_string(&log_path).expect("log");
        assert!(text.contains("ssh: command failed: killed by a signal"), "{text}");
        assert!(text.contains("192.0.2.7: ssh: stop command failed (attempt 1 of 4): retrying in 500 ms"), "{text}");
        assert!(std::fs::read_to_string(&stops).expect("stops").lines().count() >= 2, "retried\n{text}");
        assert!(
            text.contains(
                "ssh: stop command for 192.0.2.7 did not finish before exit: the door may still be open for 192.0.2.7"
            ),
            "{text}"
        );
    }

    #[test]
    fn a_source_is_refused_loudly_once_then_as_noise_and_memory_is_bounded() {
        let mut actions = Actions::new(false, 1);
        let key = |i: u32| Key { door: "ssh".to_owned(), line: 1, source: IpAddr::from(i.to_be_bytes()) };
        let t0 = Instant::now();
        assert!(!actions.refused_recently(key(1), t0), "the first refusal is news");
        assert!(actions.refused_recently(key(1), t0 + Duration::from_secs(30)));
        assert!(actions.refused_recently(key(1), t0 + Duration::from_secs(89)), "refused 59 s ago");
        assert!(!actions.refused_recently(key(1), t0 + Duration::from_secs(150)), "not refused for a minute");
        // A spoofed flood of distinct sources: at most REMEMBERED_REFUSALS remembered, then all "recent".
        let news = (2..20_000).filter(|i| !actions.refused_recently(key(*i), t0 + Duration::from_secs(150))).count();
        assert_eq!(news, REMEMBERED_REFUSALS - 1);
        assert_eq!(actions.refused_at.len(), REMEMBERED_REFUSALS);
        // A minute later the stale ones are forgotten.
        assert!(!actions.refused_recently(key(30_000), t0 + Duration::from_secs(211)));
        assert_eq!(actions.refused_at.len(), 1);
    }

    #[test]
    fn extensions_are_summarised_and_a_real_opening_is_always_logged() {
        let dir = tempfile::tempdir().expect("dir");
        let door = door(dir.path(), " Start_Command = true %IP%\n Cmd_Timeout = 60\n Stop_Command = true %IP%\n");
        let log_path = dir.path().join("log");
        let mut log = Logger::new(Some(&log_path), false, false).expect("log");
        let mut actions = Actions::new(true, 64);
        actions.set_doors(std::slice::from_ref(&door));
        let now = Instant::now();
        let spoofed: Vec<IpAddr> = (1..=20).map(|i| IpAddr::from([10, 9, 0, i])).collect();
        for round in 0..5_000 {
            for source in &spoofed {
                actions.open(&mut log, &door, *source, "", now);
            }
            if round == 2_500 {
                actions.open(&mut log, &door, "192.0.2.1".parse().expect("ip"), "", now);
            }
        }
        log.flush();
        let text = std::fs::read_to_string(&log_path).expect("log");
        assert!(text.contains("] 192.0.2.1: ssh: OPEN SESAME\n"), "{}", &text[text.len().saturating_sub(2000)..]);
        assert!(text.contains("ssh: running command: true 192.0.2.1"), "{}", &text[text.len().saturating_sub(2000)..]);
        assert_eq!(actions.counters.extended, 20 * 4_999);
        // Usually one summary, `ssh: 99,480 more openings by 20 sources already open (extended) in the last
        // second`; a slow machine may cross into more windows (then 500 more are written in each).
        let summaries: Vec<u64> = text
            .lines()
            .filter(|l| l.contains("more openings by 20 sources already open (extended) in the last"))
            .filter_map(|l| l.split("ssh: ").nth(1)?.split(' ').next()?.replace(',', "").parse::<u64>().ok())
            .collect();
        let summarised: u64 = summaries.iter().sum();
        // The first 500 extensions of a second are written (2 lines each); the rest are one summary line.
        let lines = text.lines().count();
        assert!(lines < 1_100 * summaries.len().max(1), "{lines} lines, {} summaries", summaries.len());
        let written = text.matches("already open: opening extended by 60 s").count() as u64;
        assert_eq!(summarised + written, 20 * 4_999, "{}", &text[text.len().saturating_sub(2000)..]);
        assert!(text.contains("ssh: 99,480 more openings by 20 sources") || written > 500, "{text}");
    }
}
