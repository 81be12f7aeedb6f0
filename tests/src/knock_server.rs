//! Our server, `knock-server` (crate server-mini), running in the lab's server namespace, and the
//! plumbing its tests and benchmark share: offline replays of pcap files, writing pcap files,
//! extra client addresses and background client processes (floods, concurrent knockers).
//!
//! [`Lab::start_knock_server`] mirrors [`Lab::start_knockd`](crate::Knockd): it writes the config
//! into the lab dir with `[options] LogFile = <labdir>/knock-server.log` (and a PidFile) added,
//! runs `knock-server -c CONF -i SERVER_IFACE [extra args]` in its own process group, with stdout
//! and stderr in files next to the config, and returns once the log says
//! `starting up, listening on <iface>` (written after the capture filter is set). It passes
//! [`RUN_AS_ROOT`] unless the arguments choose a user (`--user`, `--keep-capabilities`): started as root,
//! knock-server would otherwise switch to the system user `knock-server`, and the lab's door commands
//! `touch` markers in the root-owned lab dir, its state dirs, one-time and key files are root's too. The
//! lab tests are about doors, not users; the default user has its own test
//! ([`Lab::start_knock_server_as_given`], `tests/tests/server_state.rs`). Dropping the
//! [`KnockServer`] sends SIGTERM (knock-server then runs pending stop commands) and SIGKILLs it,
//! and whatever it started, after [`DROP_GRACE`].
//!
//! knock-server writes every log line to stderr and `[YYYY-MM-DD HH:MM] line` to the LogFile; on
//! SIGUSR1 and at exit it logs `counters: packets N, hits N, ...` ([`parse_counters`]).

use std::collections::BTreeMap;
use std::fs;
use std::io::Read;
use std::net::{IpAddr, Ipv4Addr};
use std::os::unix::process::CommandExt;
use std::path::{Path, PathBuf};
use std::process::{Child, ExitStatus, Output, Stdio};
use std::thread::JoinHandle;
use std::time::Duration;

use crate::knockd::complete_config;
use crate::lab::{Lab, LabError, Side};
use crate::packet_socket::PacketSocket;
use crate::{bins, process, tail};

/// Env var that overrides where the `knock-server` binary is looked up (see [`knock_server_path`]).
pub const KNOCK_SERVER_ENV: &str = "KNOCK_SERVER";
/// The log line knock-server writes once its capture listens.
pub const READY_LINE: &str = "starting up, listening on";
/// The opt-out of knock-server's default user that [`Lab::start_knock_server`] passes (see the module
/// docs).
pub const RUN_AS_ROOT: &str = "--run-as-root";
/// How long [`Lab::start_knock_server`] waits for [`READY_LINE`].
pub const STARTUP_TIMEOUT: Duration = Duration::from_secs(10);
/// How long [`KnockServer::stop`] waits after SIGTERM. knock-server itself waits at most 15 s for
/// running commands at shutdown.
pub const STOP_TIMEOUT: Duration = Duration::from_secs(20);
/// How long dropping a [`KnockServer`] waits after SIGTERM before SIGKILL.
pub const DROP_GRACE: Duration = Duration::from_secs(2);
/// How long [`KnockServer::counters`] waits for the `counters:` line after SIGUSR1 (the main loop
/// looks at the signal flag at least every 100 ms).
pub const COUNTERS_TIMEOUT: Duration = Duration::from_secs(5);
/// Bound for [`replay`].
pub const REPLAY_TIMEOUT: Duration = Duration::from_secs(300);

/// `target/<profile>/knock-server` next to the running test binary, or `$KNOCK_SERVER`.
pub fn knock_server_path() -> Result<PathBuf, LabError> {
    bins::workspace_bin("knock-server", KNOCK_SERVER_ENV)
        .map_err(|detail| LabError::Startup { what: "knock-server".into(), detail })
}

/// A running knock-server; stopped on drop (see the module docs).
#[derive(Debug)]
pub struct KnockServer {
    child: Child,
    conf_path: PathBuf,
    log_path: PathBuf,
    log_offset: u64,
    stdout_path: PathBuf,
    stderr_path: PathBuf,
    args: Vec<String>,
}

impl Lab {
    /// `<labdir>/knock-server.log`, where every knock-server of this lab logs.
    pub fn knock_server_log_path(&self) -> PathBuf {
        self.dir().join("knock-server.log")
    }

    /// Starts knock-server with `config` (a knockd.conf; `[options]` is added or completed with
    /// our LogFile and PidFile) on the server's veth, plus `extra_args` (e.g. `--max-attempts 10`,
    /// `--dry-run`). Returns once it listens.
    pub fn start_knock_server(&self, config: &str, extra_args: &[&str]) -> Result<KnockServer, LabError> {
        let chooses_user = extra_args.iter().any(|a| matches!(*a, "--user" | "--keep-capabilities" | RUN_AS_ROOT));
        let mut args = extra_args.to_vec();
        if !chooses_user {
            args.push(RUN_AS_ROOT);
        }
        self.start_knock_server_as_given(config, &args)
    }

    /// [`Lab::start_knock_server`] for a test that cannot go on without it: fails the test with the reason.
    #[track_caller]
    pub fn knock_server(&self, config: &str, extra_args: &[&str]) -> KnockServer {
        self.start_knock_server(config, extra_args).unwrap_or_else(|e| panic!("knock-server does not start: {e}"))
    }

    /// [`Lab::start_knock_server`] with exactly `extra_args`: no [`RUN_AS_ROOT`] added, so knock-server
    /// (started as root) picks its user as it does outside the lab.
    pub fn start_knock_server_as_given(&self, config: &str, extra_args: &[&str]) -> Result<KnockServer, LabError> {
        let binary = knock_server_path()?;
        let log_path = self.knock_server_log_path();
        let text = complete_config(config, &log_path, &self.dir().join("knock-server.pid"))?;
        let conf_path = self.unique_path("knock-server", "conf");
        fs::write(&conf_path, text).map_err(|e| LabError::io(format!("writing {}", conf_path.display()), e))?;
        let stdout_path = conf_path.with_extension("stdout");
        let stderr_path = conf_path.with_extension("stderr");
        let stdout =
            fs::File::create(&stdout_path).map_err(|e| LabError::io("creating knock-server stdout file", e))?;
        let stderr =
            fs::File::create(&stderr_path).map_err(|e| LabError::io("creating knock-server stderr file", e))?;
        let log_offset = fs::metadata(&log_path).map(|m| m.len()).unwrap_or(0);

        let mut args: Vec<String> = vec!["-c".into(), conf_path.display().to_string()];
        args.extend(["-i".to_owned(), self.server_iface().to_owned()]);
        args.extend(extra_args.iter().map(|a| (*a).to_owned()));
        let mut cmd = self.server_cmd(&binary);
        cmd.args(&args).stdin(Stdio::null()).stdout(stdout).stderr(stderr).process_group(0);
        let child = cmd.spawn().map_err(|e| LabError::io("spawning `ip netns exec .. knock-server`", e))?;
        let mut server = KnockServer { child, conf_path, log_path, log_offset, stdout_path, stderr_path, args };

        process::wait_until_ready(
            &mut server,
            "knock-server",
            READY_LINE,
            STARTUP_TIMEOUT,
            |d| &mut d.child,
            KnockServer::log,
            KnockServer::diagnostics,
        )?;
        Ok(server)
    }

    /// Adds `addr` to the client's veth (`ip addr add ADDR/24 dev CLIENT_IFACE`, or `/64 ... nodad`
    /// for IPv6), so a client can send from it (`knock-cli --bind ADDR`). The server reaches it on
    /// link, since it is inside the lab's prefixes.
    pub fn add_client_address(&self, addr: IpAddr) -> Result<(), LabError> {
        self.add_client_addresses(&[addr])
    }

    /// [`Lab::add_client_address`] for many addresses with one `ip -batch` run.
    pub fn add_client_addresses(&self, addrs: &[IpAddr]) -> Result<(), LabError> {
        let mut script = String::new();
        for addr in addrs {
            // nodad only means something for IPv6 (ip warns about it for IPv4).
            let (plen, nodad) = if addr.is_ipv4() { (24, "") } else { (64, " nodad") };
            script.push_str(&format!("addr add {addr}/{plen} dev {}{nodad}\n", self.client_iface()));
        }
        let batch = self.unique_path("client-addrs", "ip");
        fs::write(&batch, script).map_err(|e| LabError::io(format!("writing {}", batch.display()), e))?;
        let out = self.run_client("ip", [std::ffi::OsStr::new("-batch"), batch.as_os_str()])?;
        if !out.status.success() {
            return Err(LabError::Command {
                command: format!("ip -batch {} (in the client namespace)", batch.display()),
                status: out.status.to_string(),
                stderr: process::lossy(&out.stderr),
            });
        }
        Ok(())
    }

    /// `count` extra client IPv4 addresses 192.0.2.`first`.. (added to the client's veth).
    pub fn add_client_v4_range(&self, first: u8, count: u8) -> Result<Vec<Ipv4Addr>, LabError> {
        let last = u16::from(first) + u16::from(count);
        if first < 3 || last > 255 {
            return Err(LabError::Config(format!(
                "client addresses 192.0.2.{first}..+{count}: keep them within 192.0.2.3-254 (.1 and .2 are taken)"
            )));
        }
        let addrs: Vec<Ipv4Addr> = (0..count).map(|i| Ipv4Addr::new(192, 0, 2, first + i)).collect();
        let ips: Vec<IpAddr> = addrs.iter().map(|a| IpAddr::V4(*a)).collect();
        self.add_client_addresses(&ips)?;
        Ok(addrs)
    }

    /// Starts `program args...` in the namespace of `side` in the background (own process group,
    /// stdout and stderr collected); see [`Background`].
    pub fn spawn<I, S>(&self, side: Side, program: impl AsRef<std::ffi::OsStr>, args: I) -> Result<Background, LabError>
    where
        I: IntoIterator<Item = S>,
        S: AsRef<std::ffi::OsStr>,
    {
        let what = format!("{} (in the {side:?} namespace)", program.as_ref().to_string_lossy());
        let mut cmd = self.cmd(side, program);
        cmd.args(args).stdin(Stdio::null()).stdout(Stdio::piped()).stderr(Stdio::piped()).process_group(0);
        let mut child = cmd.spawn().map_err(|e| LabError::io(format!("spawning {what}"), e))?;
        let stdout = child.stdout.take().map(|s| std::thread::spawn(move || read_all(s)));
        let stderr = child.stderr.take().map(|s| std::thread::spawn(move || read_all(s)));
        Ok(Background { child: Some(child), stdout, stderr, what })
    }
}

impl Lab {
    /// The MAC address of the veth end on `side` (`/sys/class/net/IFACE/address` in its namespace).
    pub fn mac(&self, side: Side) -> Result<[u8; 6], LabError> {
        let iface = match side {
            Side::Client => self.client_iface(),
            Side::Server => self.server_iface(),
        };
        let out = self.run(side, "cat", [format!("/sys/class/net/{iface}/address")], Duration::from_secs(5))?;
        let text = String::from_utf8_lossy(&out.stdout);
        let bytes: Vec<u8> = text.trim().split(':').filter_map(|b| u8::from_str_radix(b, 16).ok()).collect();
        <[u8; 6]>::try_from(bytes).map_err(|_| LabError::Capture(format!("no MAC address for {iface}: {text:?}")))
    }

    /// Sends one whole Ethernet frame out of the client's veth (an AF_PACKET socket, from a thread moved
    /// into the client namespace): for packets no client tool makes, e.g. IPv6 extension headers or
    /// fragments. The frame goes on the wire as given; the kernel adds nothing.
    pub fn send_client_frame(&self, frame: &[u8]) -> Result<(), LabError> {
        let (ns, iface) = self.client_packet_target()?;
        std::thread::scope(|s| {
            s.spawn(|| PacketSocket::open_in(&ns, &iface)?.send(frame))
                .join()
                .unwrap_or_else(|_| Err(std::io::Error::other("frame sender thread panicked")))
        })
        .map_err(|e| LabError::io(format!("sending a raw frame from {}", self.client_ns()), e))
    }
}

impl KnockServer {
    /// What this knock-server logged to the LogFile so far (earlier runs in the same lab excluded).
    pub fn log(&self) -> String {
        crate::log_since(&self.log_path, self.log_offset)
    }

    /// Waits until [`KnockServer::log`] contains `needle`.
    pub fn wait_for_log(&self, needle: &str, timeout: Duration) -> bool {
        crate::wait_until(timeout, || self.log().contains(needle))
    }

    /// Waits until at least `n` log lines contain `needle`.
    pub fn wait_for_count(&self, needle: &str, n: usize, timeout: Duration) -> bool {
        crate::wait_until(timeout, || self.count_in_log(needle) >= n)
    }

    /// How many log lines contain `needle`.
    pub fn count_in_log(&self, needle: &str) -> usize {
        self.log().lines().filter(|l| l.contains(needle)).count()
    }

    /// Everything knock-server wrote to stderr (every log line, without the timestamp, unless `-q`).
    pub fn stderr(&self) -> String {
        fs::read_to_string(&self.stderr_path).unwrap_or_default()
    }

    /// Everything knock-server wrote to stdout (nothing, normally).
    pub fn stdout(&self) -> String {
        fs::read_to_string(&self.stdout_path).unwrap_or_default()
    }

    /// Process id of knock-server itself (`ip netns exec` execs it).
    pub fn pid(&self) -> u32 {
        self.child.id()
    }

    /// The complete config file it runs with.
    pub fn config_path(&self) -> &Path {
        &self.conf_path
    }

    /// True while the process has not exited.
    pub fn is_running(&mut self) -> bool {
        matches!(self.child.try_wait(), Ok(None))
    }

    /// Sends `signal` to knock-server (not to its commands).
    pub fn signal(&self, signal: libc::c_int) {
        process::signal(self.pid(), signal);
    }

    /// Sends SIGUSR1 and returns the counters of the `counters:` line it logs in answer.
    pub fn counters(&mut self) -> Result<BTreeMap<String, u64>, LabError> {
        let before = self.count_in_log("counters:");
        process::signal(self.pid(), libc::SIGUSR1);
        if !crate::wait_until(COUNTERS_TIMEOUT, || self.count_in_log("counters:") > before) {
            let running = self.is_running();
            return Err(LabError::Timeout {
                what: format!("a `counters:` line after SIGUSR1 (process running: {running})"),
                after: COUNTERS_TIMEOUT,
                detail: self.diagnostics(),
            });
        }
        parse_counters(&self.log()).ok_or_else(|| LabError::Startup {
            what: "knock-server counters".into(),
            detail: format!("unparsable `counters:` line\n{}", self.diagnostics()),
        })
    }

    /// Resident set size now (`VmRSS` of /proc/PID/status), in KiB.
    pub fn rss_kib(&self) -> Result<u64, LabError> {
        proc_status_kib(self.pid(), "VmRSS:")
    }

    /// Peak resident set size so far (`VmHWM`), in KiB.
    pub fn peak_rss_kib(&self) -> Result<u64, LabError> {
        proc_status_kib(self.pid(), "VmHWM:")
    }

    /// SIGTERM (to knock-server only, not its commands), then waits up to [`STOP_TIMEOUT`] for it to
    /// exit. `Err(Timeout)` (after a SIGKILL) when it did not.
    pub fn stop(&mut self) -> Result<ExitStatus, LabError> {
        if let Ok(Some(status)) = self.child.try_wait() {
            return Ok(status);
        }
        process::signal(self.pid(), libc::SIGTERM);
        match process::wait_timeout(&mut self.child, STOP_TIMEOUT) {
            Ok(Some(status)) => Ok(status),
            Ok(None) => {
                let detail = self.diagnostics();
                process::stop_child(&mut self.child, libc::SIGKILL, Duration::from_millis(100));
                Err(LabError::Timeout {
                    what: "knock-server to exit after SIGTERM".into(),
                    after: STOP_TIMEOUT,
                    detail,
                })
            }
            Err(e) => Err(LabError::io("waiting for knock-server", e)),
        }
    }

    /// Command line, log, stderr, stdout and config, for assertion messages.
    pub fn diagnostics(&self) -> String {
        format!(
            "--- knock-server {} ---\n--- log ---\n{}--- stderr (last 8 KiB) ---\n{}--- stdout ---\n{}--- config {} ---\n{}",
            self.args.join(" "),
            self.log(),
            tail(&self.stderr(), 8192),
            self.stdout(),
            self.conf_path.display(),
            fs::read_to_string(&self.conf_path).unwrap_or_default()
        )
    }
}

impl Drop for KnockServer {
    fn drop(&mut self) {
        process::stop_child(&mut self.child, libc::SIGTERM, DROP_GRACE);
    }
}

/// The counters of the last `counters:` line in `text`: `counters: packets 3, hits 3, ..., attempts 0`
/// becomes {"packets": 3, "hits": 3, ..., "attempts": 0}. `None` when there is no such line or a
/// field is not `NAME NUMBER`.
pub fn parse_counters(text: &str) -> Option<BTreeMap<String, u64>> {
    let line = text.lines().rev().find(|l| l.contains("counters:"))?;
    let (_, fields) = line.split_once("counters:")?;
    fields
        .split(',')
        .map(|field| {
            let (name, value) = field.trim().rsplit_once(' ')?;
            Some((name.trim().to_owned(), value.parse().ok()?))
        })
        .collect()
}

/// The value of counter `name`, 0 when absent (for assertion messages, print the whole map).
pub fn counter(counters: &BTreeMap<String, u64>, name: &str) -> u64 {
    counters.get(name).copied().unwrap_or(0)
}

/// What an offline run (`knock-server -c CONF --read FILE ...`) did.
#[derive(Debug)]
pub struct Replay {
    pub status: ExitStatus,
    pub stdout: String,
    pub stderr: String,
    /// From the final `counters:` line on stderr (empty if there was none, e.g. with `-q`).
    pub counters: BTreeMap<String, u64>,
}

impl Replay {
    /// How many stderr lines contain `needle`.
    pub fn count(&self, needle: &str) -> usize {
        self.stderr.lines().filter(|l| l.contains(needle)).count()
    }

    /// Status, counters and the output, for assertion messages.
    pub fn diagnostics(&self) -> String {
        format!(
            "exit {}\ncounters: {:?}\n--- stderr (last 8 KiB) ---\n{}\n--- stdout ---\n{}",
            self.status,
            self.counters,
            tail(&self.stderr, 8192),
            self.stdout
        )
    }
}

/// Runs `knock-server -c CONFIG --read PCAP EXTRA...` here (no namespace: a replay reads a file,
/// it needs no capture rights), bounded by [`REPLAY_TIMEOUT`].
pub fn replay(config: &Path, pcap: &Path, extra_args: &[&str]) -> Result<Replay, LabError> {
    let mut cmd = std::process::Command::new(knock_server_path()?);
    cmd.arg("-c").arg(config).arg("--read").arg(pcap).args(extra_args);
    let out = process::output_with_timeout(cmd, REPLAY_TIMEOUT, "knock-server --read")?;
    let stderr = String::from_utf8_lossy(&out.stderr).into_owned();
    Ok(Replay {
        status: out.status,
        stdout: String::from_utf8_lossy(&out.stdout).into_owned(),
        counters: parse_counters(&stderr).unwrap_or_default(),
        stderr,
    })
}

/// Writes Ethernet frames to a pcap file (libpcap's own writer, via a dead capture handle).
pub struct PcapWriter {
    // Declared first: dropped (closed) before the handle it was opened from.
    savefile: pcap::Savefile,
    _handle: pcap::Capture<pcap::Dead>,
    path: PathBuf,
    written: u64,
}

impl PcapWriter {
    /// Creates (truncates) `path` as a pcap file of Ethernet frames.
    pub fn create(path: &Path) -> Result<PcapWriter, LabError> {
        let handle = pcap::Capture::dead(pcap::Linktype::ETHERNET)
            .map_err(|e| LabError::Capture(format!("pcap dead handle: {e}")))?;
        let savefile =
            handle.savefile(path).map_err(|e| LabError::Capture(format!("creating {}: {e}", path.display())))?;
        Ok(PcapWriter { savefile, _handle: handle, path: path.to_owned(), written: 0 })
    }

    /// Appends one frame captured at `ts` (since the Unix epoch), whole (caplen = len).
    pub fn push(&mut self, ts: Duration, frame: &[u8]) {
        let len = u32::try_from(frame.len()).unwrap_or(u32::MAX);
        let header = pcap::PacketHeader {
            ts: libc::timeval {
                tv_sec: libc::time_t::try_from(ts.as_secs()).unwrap_or(libc::time_t::MAX),
                tv_usec: libc::suseconds_t::from(ts.subsec_micros()),
            },
            caplen: len,
            len,
        };
        self.savefile.write(&pcap::Packet::new(&header, frame));
        self.written += 1;
    }

    /// Frames written so far.
    pub fn written(&self) -> u64 {
        self.written
    }

    /// Flushes and closes the file; returns how many frames it holds.
    pub fn finish(mut self) -> Result<u64, LabError> {
        self.savefile.flush().map_err(|e| LabError::Capture(format!("writing {}: {e}", self.path.display())))?;
        Ok(self.written)
    }
}

/// A process started with [`Lab::spawn`]; killed (SIGKILL to its group) on drop.
#[derive(Debug)]
pub struct Background {
    child: Option<Child>,
    stdout: Option<JoinHandle<Vec<u8>>>,
    stderr: Option<JoinHandle<Vec<u8>>>,
    what: String,
}

impl Background {
    /// Process id (of the program itself: `ip netns exec` execs it).
    pub fn pid(&self) -> Option<u32> {
        self.child.as_ref().map(Child::id)
    }

    /// Waits for it to exit, at most `timeout` (then it is killed and this is `Err(Timeout)`).
    pub fn wait(mut self, timeout: Duration) -> Result<Output, LabError> {
        let Some(mut child) = self.child.take() else {
            return Err(LabError::Startup { what: self.what.clone(), detail: "already waited for".into() });
        };
        let waited = process::wait_timeout(&mut child, timeout)
            .map_err(|e| LabError::io(format!("waiting for {}", self.what), e))?;
        match waited {
            Some(status) => Ok(Output { status, stdout: join(self.stdout.take()), stderr: join(self.stderr.take()) }),
            None => {
                process::stop_child(&mut child, libc::SIGKILL, Duration::from_millis(100));
                Err(LabError::Timeout {
                    what: format!("{} to exit", self.what),
                    after: timeout,
                    detail: format!(
                        "stdout: {}\nstderr: {}",
                        process::lossy(&join(self.stdout.take())),
                        process::lossy(&join(self.stderr.take()))
                    ),
                })
            }
        }
    }

    /// Stops it with `signal` (SIGKILL after 2 s) and returns what it wrote.
    pub fn stop(mut self, signal: libc::c_int) -> Output {
        let status = match self.child.take() {
            Some(mut child) => process::stop_child(&mut child, signal, Duration::from_secs(2)),
            None => None,
        };
        Output {
            status: status.unwrap_or_else(|| std::os::unix::process::ExitStatusExt::from_raw(-1)),
            stdout: join(self.stdout.take()),
            stderr: join(self.stderr.take()),
        }
    }
}

impl Drop for Background {
    fn drop(&mut self) {
        if let Some(mut child) = self.child.take() {
            process::stop_child(&mut child, libc::SIGKILL, Duration::from_millis(100));
        }
    }
}

fn read_all(mut r: impl Read) -> Vec<u8> {
    let mut buf = Vec::new();
    let _ = r.read_to_end(&mut buf);
    buf
}

fn join(handle: Option<JoinHandle<Vec<u8>>>) -> Vec<u8> {
    handle.and_then(|h| h.join().ok()).unwrap_or_default()
}

/// A `Name:   N kB` line of /proc/PID/status, in KiB.
fn proc_status_kib(pid: u32, field: &str) -> Result<u64, LabError> {
    let path = format!("/proc/{pid}/status");
    let status = fs::read_to_string(&path).map_err(|e| LabError::io(format!("reading {path}"), e))?;
    status
        .lines()
        .find_map(|l| l.strip_prefix(field)?.trim().strip_suffix("kB")?.trim().parse().ok())
        .ok_or_else(|| LabError::Capture(format!("no {field} line in {path}")))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn counters_lines_parse_into_a_map() {
        let log = "[2026-01-01 10:00] counters: packets 1, hits 1, attempts 0\n\
                   [2026-01-01 10:01] 192.0.2.1: d: Stage 1\n\
                   [2026-01-01 10:01] counters: packets 7, hits 5, malformed 2, evicted 0, attempts_left 3\n";
        let c = parse_counters(log).expect("parses");
        assert_eq!(counter(&c, "packets"), 7);
        assert_eq!(counter(&c, "malformed"), 2);
        assert_eq!(counter(&c, "attempts_left"), 3);
        assert_eq!(counter(&c, "absent"), 0);
        assert_eq!(parse_counters("no counters here"), None);
        assert_eq!(parse_counters("counters: packets many"), None);
    }

    #[test]
    fn pcap_files_round_trip() {
        let dir = tempfile::tempdir().expect("temp dir");
        let path = dir.path().join("t.pcap");
        let mut w = PcapWriter::create(&path).expect("create");
        w.push(Duration::from_micros(1_500_001), &[1, 2, 3]);
        w.push(Duration::from_secs(2), &[4; 60]);
        assert_eq!(w.finish().expect("finish"), 2);
        let mut r = pcap::Capture::from_file(&path).expect("open");
        let p = r.next_packet().expect("first");
        assert_eq!((p.header.ts.tv_sec, p.header.ts.tv_usec, p.data), (1, 500_001, &[1u8, 2, 3][..]));
        assert_eq!(r.next_packet().expect("second").data.len(), 60);
        assert!(matches!(r.next_packet(), Err(pcap::Error::NoMorePackets)));
    }
}
