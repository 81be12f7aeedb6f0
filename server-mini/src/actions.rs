//! Running door commands without blocking packet processing. `%IP%` is replaced by the formatted source
//! address (the only thing it can ever be), the command runs with `/bin/sh -c`, and a watcher thread
//! reports its exit status; a command still running after [`COMMAND_LIMIT`] is killed and reported. Stop
//! commands are scheduled `Cmd_Timeout` after their start command and run at shutdown if still pending,
//! so SIGTERM never leaves a door open.

use std::cmp::Reverse;
use std::collections::{BinaryHeap, HashSet};
use std::net::IpAddr;
use std::os::unix::process::CommandExt;
use std::process::{Command, Stdio};
use std::sync::mpsc::{Receiver, Sender, channel};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use crate::log::Logger;

/// A command still running after this long is killed (it would hold the door open or the table busy).
pub const COMMAND_LIMIT: Duration = Duration::from_secs(60);

/// What a finished command reports back to the main loop, which logs it.
#[derive(Debug)]
pub struct Finished {
    pub door: String,
    pub outcome: Result<i32, String>,
}

struct PendingStop {
    due: Instant,
    seq: u64,
    door: String,
    source: IpAddr,
    command: String,
}

impl PartialEq for PendingStop {
    fn eq(&self, other: &Self) -> bool {
        (self.due, self.seq) == (other.due, other.seq)
    }
}
impl Eq for PendingStop {}
impl PartialOrd for PendingStop {
    fn partial_cmp(&self, other: &Self) -> Option<std::cmp::Ordering> {
        Some(self.cmp(other))
    }
}
impl Ord for PendingStop {
    fn cmp(&self, other: &Self) -> std::cmp::Ordering {
        (self.due, self.seq).cmp(&(other.due, other.seq))
    }
}

pub struct Actions {
    dry_run: bool,
    stops: BinaryHeap<Reverse<PendingStop>>,
    seq: u64,
    sender: Sender<Finished>,
    receiver: Receiver<Finished>,
    running: u64,
    /// Process groups of commands still running (killed at shutdown if they outlive the wait).
    groups: Arc<Mutex<HashSet<u32>>>,
    pub started: u64,
    pub failed: u64,
}

impl Actions {
    pub fn new(dry_run: bool) -> Actions {
        let (sender, receiver) = channel();
        Actions {
            dry_run,
            stops: BinaryHeap::new(),
            seq: 0,
            sender,
            receiver,
            running: 0,
            groups: Arc::default(),
            started: 0,
            failed: 0,
        }
    }

    /// Runs a door's start command for `source` and schedules its stop command.
    pub fn open(
        &mut self,
        log: &mut Logger,
        door: &str,
        source: IpAddr,
        start: Option<&str>,
        stop: Option<&str>,
        cmd_timeout: Duration,
    ) {
        // knockd runs the stop command only when there is a start command.
        let Some(start) = start else { return };
        self.run(log, door, &substitute(start, source));
        if let Some(stop) = stop {
            self.seq += 1;
            self.stops.push(Reverse(PendingStop {
                due: Instant::now() + cmd_timeout,
                seq: self.seq,
                door: door.to_owned(),
                source,
                command: substitute(stop, source),
            }));
        }
    }

    fn run(&mut self, log: &mut Logger, door: &str, command: &str) {
        log.important(&format!("{door}: running command: {command}"));
        if self.dry_run {
            log.important(&format!("{door}: dry run: command not run"));
            return;
        }
        self.started += 1;
        // Its own process group, so a hung command can be killed with everything it started.
        let child = Command::new("/bin/sh")
            .arg("-c")
            .arg(command)
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::inherit())
            .process_group(0)
            .spawn();
        let mut child = match child {
            Ok(child) => child,
            Err(err) => {
                self.failed += 1;
                log.important(&format!("{door}: cannot run command: {err}"));
                return;
            }
        };
        self.running += 1;
        self.groups.lock().map(|mut g| g.insert(child.id())).ok();
        let groups = Arc::clone(&self.groups);
        let (sender, door) = (self.sender.clone(), door.to_owned());
        std::thread::spawn(move || {
            let started = Instant::now();
            let outcome = loop {
                match child.try_wait() {
                    Ok(Some(status)) => break Ok(status.code().unwrap_or(-1)),
                    Ok(None) if started.elapsed() >= COMMAND_LIMIT => {
                        kill_group(child.id());
                        let _ = child.kill();
                        let _ = child.wait();
                        break Err(format!("still running after {} s: killed", COMMAND_LIMIT.as_secs()));
                    }
                    Ok(None) => std::thread::sleep(Duration::from_millis(20)),
                    Err(err) => break Err(err.to_string()),
                }
            };
            groups.lock().map(|mut g| g.remove(&child.id())).ok();
            let _ = sender.send(Finished { door, outcome });
        });
    }

    /// Runs the stop commands that are due; logs commands that finished.
    pub fn poll(&mut self, log: &mut Logger, now: Instant) {
        while self.stops.peek().is_some_and(|Reverse(s)| s.due <= now) {
            if let Some(Reverse(stop)) = self.stops.pop() {
                log.important(&format!("{}: {}: command timeout", stop.source, stop.door));
                self.run(log, &stop.door, &stop.command);
            }
        }
        self.collect(log);
    }

    fn collect(&mut self, log: &mut Logger) {
        while let Ok(finished) = self.receiver.try_recv() {
            self.running -= 1;
            match finished.outcome {
                Ok(0) => {}
                Ok(code) => {
                    self.failed += 1;
                    log.important(&format!("{}: command returned non-zero status code ({code})", finished.door));
                }
                Err(why) => {
                    self.failed += 1;
                    log.important(&format!("{}: command failed: {why}", finished.door));
                }
            }
        }
    }

    /// When the next stop command is due.
    pub fn next_due(&self) -> Option<Instant> {
        self.stops.peek().map(|Reverse(s)| s.due)
    }

    /// At shutdown: run every pending stop command now, and wait (bounded) for running commands.
    pub fn shutdown(&mut self, log: &mut Logger, wait: Duration) {
        while let Some(Reverse(stop)) = self.stops.pop() {
            log.important(&format!("{}: {}: shutting down: running the stop command now", stop.source, stop.door));
            self.run(log, &stop.door, &stop.command);
        }
        let deadline = Instant::now() + wait;
        while self.running > 0 && Instant::now() < deadline {
            std::thread::sleep(Duration::from_millis(20));
            self.collect(log);
        }
        // Whatever still runs would outlive us, unwatched: end it, with everything it started.
        let hung: Vec<u32> = self.groups.lock().map(|g| g.iter().copied().collect()).unwrap_or_default();
        for group in hung {
            log.important(&format!("command (process group {group}) still running at shutdown: killed"));
            kill_group(group);
        }
    }
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
