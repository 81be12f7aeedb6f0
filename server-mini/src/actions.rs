//! Running what an opening does without blocking packet processing, in the order [`crate::schedule`]
//! decides: start commands (`/bin/sh -c`, `%IP%` replaced by the formatted source address, the only
//! thing it can ever be), nftables set elements ([`crate::nft`]), and stop commands `Cmd_Timeout` after
//! their start finished. Each job runs on its own thread; a command still running after
//! [`COMMAND_LIMIT`] is killed with its process group and reported. At most `max_running` jobs run at
//! once (`--max-commands`); what is refused is counted and logged (rate-limited, like every line).

use std::collections::HashSet;
use std::net::IpAddr;
use std::os::unix::process::CommandExt;
use std::process::{Command, Stdio};
use std::sync::mpsc::{Receiver, Sender, channel};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use crate::config::DoorConfig;
use crate::log::Logger;
use crate::nft::NftSet;
use crate::schedule::{Decision, Job, JobKind, Key, Scheduler};

/// A command still running after this long is killed (it would hold the door open or the table busy).
pub const COMMAND_LIMIT: Duration = Duration::from_secs(60);
/// `--max-commands` when not given.
pub const DEFAULT_MAX_COMMANDS: usize = 64;
/// After hung commands were killed at shutdown, how long their stop commands get.
const SHUTDOWN_AFTER_KILL: Duration = Duration::from_secs(5);

/// One thing a job does.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Step {
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
pub type Steps = Vec<Step>;

/// What a finished job reports back to the event loop, which logs it.
#[derive(Debug)]
struct Finished {
    key: Key,
    kind: JobKind,
    failures: Vec<String>,
}

/// Counters of the commands, printed with the server's on SIGUSR1 and at exit.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct ActionCounters {
    /// Jobs started (starts, stops, refreshes).
    pub started: u64,
    /// Steps that failed (non-zero exit, could not run, killed, nft error).
    pub failed: u64,
    /// Openings refused at the `--max-commands` cap.
    pub refused: u64,
    /// Openings extended instead of started again.
    pub extended: u64,
    /// The most jobs that ran at once.
    pub peak: usize,
}

pub struct Actions {
    dry_run: bool,
    scheduler: Scheduler<Steps>,
    sender: Sender<Finished>,
    receiver: Receiver<Finished>,
    /// Process groups of commands still running (killed at shutdown if they outlive the wait).
    groups: Arc<Mutex<HashSet<u32>>>,
    pub counters: ActionCounters,
}

impl Actions {
    pub fn new(dry_run: bool, max_running: usize) -> Actions {
        let (sender, receiver) = channel();
        Actions {
            dry_run,
            scheduler: Scheduler::new(max_running),
            sender,
            receiver,
            groups: Arc::default(),
            counters: ActionCounters::default(),
        }
    }

    /// Jobs running now.
    pub fn running(&self) -> usize {
        self.scheduler.running()
    }

    /// A completed knock of `door` by `source`: start, extend, or refuse (see [`crate::schedule`]).
    pub fn open(&mut self, log: &mut Logger, door: &DoorConfig, source: IpAddr, now: Instant) {
        let ipv6 = source.is_ipv6();
        let (start, stop) = door.commands(ipv6);
        let nft = door.nft.as_ref().and_then(|n| n.set_for(ipv6).map(|set| (set.clone(), n.timeout)));
        let nft_step = nft.map(|(set, timeout)| Step::Nft { set, source, timeout });
        let mut start_steps: Steps = nft_step.iter().cloned().collect();
        start_steps.extend(start.map(|c| Step::Shell(substitute(c, source))));
        if start_steps.is_empty() {
            return; // Nothing to do (knockd runs no stop command without a start command either).
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
                let kind = if hold.is_some() { JobKind::Start } else { JobKind::Other };
                self.spawn(log, key, kind, start_steps, now);
            }
            Decision::Extend { refresh } => {
                self.counters.extended += 1;
                let seconds = hold.unwrap_or_default().as_secs();
                log.event(|| {
                    format!("{source}: {}: already open: opening extended by {seconds} s (no second start)", door.name)
                });
                if refresh {
                    self.spawn(log, key, JobKind::Other, nft_step.into_iter().collect(), now);
                }
            }
            Decision::AfterStop => {
                log.event(|| format!("{source}: {}: closing: opens again once the stop command finished", door.name));
            }
            Decision::Refused => {
                self.counters.refused += 1;
                let running = self.scheduler.running();
                log.event(|| {
                    format!(
                        "{source}: {}: opening refused: {running} commands already running (--max-commands)",
                        door.name
                    )
                });
            }
        }
        self.counters.peak = self.counters.peak.max(self.scheduler.running());
    }

    fn spawn(&mut self, log: &mut Logger, key: Key, kind: JobKind, steps: Steps, now: Instant) {
        for step in &steps {
            let line = step.describe();
            log.event(|| format!("{}: {line}", key.door));
        }
        if self.dry_run {
            log.event(|| format!("{}: dry run: command not run", key.door));
            self.scheduler.finished(&key, kind, now);
            return;
        }
        self.counters.started += 1;
        let (sender, groups) = (self.sender.clone(), Arc::clone(&self.groups));
        let spawned = std::thread::Builder::new().name("knock-command".into()).spawn(move || {
            let failures = steps.iter().filter_map(|step| run_step(step, &groups).err()).collect();
            let _ = sender.send(Finished { key, kind, failures });
        });
        if let Err(err) = spawned {
            // The job never ran; its slot is freed at once and the failure logged.
            self.counters.failed += 1;
            log.event(|| format!("cannot start a command thread: {err}"));
        }
    }

    /// Starts the jobs that are due (stops, starts waiting for a stop) and logs jobs that finished.
    pub fn poll(&mut self, log: &mut Logger, now: Instant) {
        self.collect(log, now);
        for job in self.scheduler.next_jobs(now) {
            match job {
                Job::Stop { key, stop } => {
                    log.event(|| format!("{}: {}: command timeout", key.source, key.door));
                    self.spawn(log, key, JobKind::Stop, stop, now);
                }
                Job::Start { key, start } => self.spawn(log, key, JobKind::Start, start, now),
            }
        }
        self.counters.peak = self.counters.peak.max(self.scheduler.running());
    }

    fn collect(&mut self, log: &mut Logger, now: Instant) {
        while let Ok(finished) = self.receiver.try_recv() {
            self.scheduler.finished(&finished.key, finished.kind, now);
            for failure in finished.failures {
                self.counters.failed += 1;
                let door = &finished.key.door;
                log.event(|| format!("{door}: {failure}"));
            }
        }
    }

    /// When the next stop is due.
    pub fn next_due(&self) -> Option<Instant> {
        self.scheduler.next_due()
    }

    /// At shutdown: every open door's stop runs now, after its start if that still runs; everything is
    /// waited for up to `wait`, then what still runs is killed with its process group.
    pub fn shutdown(&mut self, log: &mut Logger, wait: Duration) {
        self.scheduler.begin_shutdown(Instant::now());
        if !self.drain(log, Instant::now() + wait) {
            // A start still hanging: kill it, so that its stop command can still run.
            self.kill_running(log);
            self.drain(log, Instant::now() + SHUTDOWN_AFTER_KILL);
            self.kill_running(log);
        }
    }

    /// Runs due stops and collects finished jobs until nothing is left or `deadline`; true when idle.
    fn drain(&mut self, log: &mut Logger, deadline: Instant) -> bool {
        loop {
            let now = Instant::now();
            self.collect(log, now);
            for job in self.scheduler.next_jobs(now) {
                if let Job::Stop { key, stop } = job {
                    log.event(|| format!("{}: {}: shutting down: running the stop command now", key.source, key.door));
                    self.spawn(log, key, JobKind::Stop, stop, now);
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
            log.event(|| format!("command (process group {group}) still running at shutdown: killed"));
            kill_group(group);
        }
    }
}

/// Runs one step to its end (a command is killed after [`COMMAND_LIMIT`]); the failure, if any.
fn run_step(step: &Step, groups: &Mutex<HashSet<u32>>) -> Result<(), String> {
    match step {
        Step::Nft { set, source, timeout } => set.refresh(*source, *timeout),
        Step::Shell(command) => run_command(command, groups),
    }
}

fn run_command(command: &str, groups: &Mutex<HashSet<u32>>) -> Result<(), String> {
    // Its own process group, so a hung command can be killed with everything it started.
    let mut child = Command::new("/bin/sh")
        .arg("-c")
        .arg(command)
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(Stdio::inherit())
        .process_group(0)
        .spawn()
        .map_err(|err| format!("cannot run command: {err}"))?;
    groups.lock().map(|mut g| g.insert(child.id())).ok();
    let started = Instant::now();
    let outcome = loop {
        match child.try_wait() {
            Ok(Some(status)) => match status.code() {
                Some(0) => break Ok(()),
                Some(code) => break Err(format!("command returned non-zero status code ({code})")),
                None => break Err("command failed: killed by a signal".to_owned()),
            },
            Ok(None) if started.elapsed() >= COMMAND_LIMIT => {
                kill_group(child.id());
                let _ = child.kill();
                let _ = child.wait();
                break Err(format!("command failed: still running after {} s: killed", COMMAND_LIMIT.as_secs()));
            }
            Ok(None) => std::thread::sleep(Duration::from_millis(20)),
            Err(err) => break Err(format!("command failed: {err}")),
        }
    };
    groups.lock().map(|mut g| g.remove(&child.id())).ok();
    outcome
}

/// SIGKILL to a whole process group (the command's shell and its children).
fn kill_group(group: u32) {
    if let Ok(group) = i32::try_from(group) {
        // SAFETY: kill(2) with a negative pid addresses the process group we created for the command.
        unsafe { libc::kill(-group, libc::SIGKILL) };
    }
}

/// Replaces every `%IP%` with the address; the address is formatted by us, so it can hold no shell syntax.
pub fn substitute(command: &str, source: IpAddr) -> String {
    command.replace("%IP%", &source.to_string())
}
