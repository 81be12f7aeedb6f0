//! Real services behind the server's knock gate: a TCP echo listener, OpenSSH's `sshd`, and
//! iptables rules (plus knockd door commands) that really close and open a port.
//!
//! Why: a knock only matters if it opens something. These helpers let a test prove the whole
//! path end to end: the port is closed, the knock makes knockd run the door command, a real
//! connection (or `ssh` login) from the client namespace succeeds, and the stop command closes
//! the port again.
//!
//! - [`Lab::server_tcp_listener`] / [`Lab::server_tcp_listener_any`]: an echo service served by a
//!   background thread of the test process. The sockets are created by a short-lived thread that
//!   `setns()`ed into the server namespace (a socket keeps the namespace it was created in), so
//!   the accept loop runs in an ordinary thread. [`TcpService`] counts accepted connections and
//!   stops its threads on drop (poll with a short timeout plus a stop flag; nothing blocks
//!   forever).
//! - [`Lab::start_sshd`]: Debian's `/usr/sbin/sshd -D -e` in the server namespace with a config,
//!   host key and authorized client key in the lab dir; [`Sshd::client_options`] are the `ssh`
//!   arguments for a non-interactive root login. Killed on drop.
//! - [`Lab::server_gate_tcp_port`] drops new TCP connections (SYNs) to a port;
//!   [`Lab::gate_open_command`] / [`Lab::gate_close_command`] (and the `_v6` twins) are knockd
//!   door commands that insert / delete an ACCEPT rule for `%IP%` in front of that DROP. Only
//!   SYNs are dropped, so a connection opened while the door was open survives the close, as
//!   with the usual `ESTABLISHED` rule on real servers.
//!
//! knockd 0.8 (spec 2.2, 2.5) runs `Start_Command_6` / `Stop_Command_6` for IPv6 knocks and falls
//! back to the IPv4 commands when those are absent, so a door gating both families needs all
//! four ([`Lab::gate_door_section`] writes them); the stop command runs `Cmd_Timeout` seconds
//! (default 10) after the start command, and only if a start command ran.

use std::fs::{self, File};
use std::io::{self, Read, Write};
use std::net::{IpAddr, Shutdown, SocketAddr, TcpListener, TcpStream};
use std::os::unix::fs::PermissionsExt;
use std::os::unix::process::CommandExt;
use std::path::{Path, PathBuf};
use std::process::{Child, Stdio};
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::thread::{self, JoinHandle};
use std::time::{Duration, Instant};

use rustix::event::{PollFd, PollFlags, Timespec, poll};
use rustix::io::Errno;

use crate::lab::{Lab, LabError, Side};
use crate::process;

/// How often service threads look at their stop flag.
const POLL: Duration = Duration::from_millis(20);
/// Bound for [`Lab::start_sshd`] to see sshd listen.
pub const SSHD_STARTUP_TIMEOUT: Duration = Duration::from_secs(10);
/// OpenSSH's server binary (Debian `openssh-server`).
pub const SSHD_PATH: &str = "/usr/sbin/sshd";
/// sshd's privilege separation directory; sshd refuses to start without it.
const PRIVSEP_DIR: &str = "/run/sshd";

/// Runs `f` on a short-lived thread moved into the network namespace `ns`; sockets `f` creates
/// stay in that namespace wherever they are used afterwards.
fn in_netns<T: Send>(ns: &str, f: impl FnOnce() -> io::Result<T> + Send) -> io::Result<T> {
    let path = Path::new("/run/netns").join(ns);
    thread::scope(|s| {
        s.spawn(move || {
            crate::lab::enter_netns(&path)?;
            f()
        })
        .join()
        .unwrap_or_else(|_| Err(io::Error::other("netns thread panicked")))
    })
}

// ---------------------------------------------------------------------------------------------
// TCP echo service

/// A TCP echo service in the server namespace (see [`Lab::server_tcp_listener`]). Every accepted
/// connection gets its bytes copied back until the peer's EOF, then is closed. Dropping it stops
/// the accept loop and all connections.
#[derive(Debug)]
pub struct TcpService {
    addrs: Vec<SocketAddr>,
    shared: Arc<Shared>,
    thread: Option<JoinHandle<()>>,
}

#[derive(Debug, Default)]
struct Shared {
    stop: AtomicBool,
    accepted: AtomicUsize,
    peers: Mutex<Vec<SocketAddr>>,
}

impl Lab {
    /// An echo service listening on `addr:port` inside the server namespace (`port` 0 picks one;
    /// see [`TcpService::port`]). `addr` is one of [`Lab::server_addrs`] or a wildcard.
    pub fn server_tcp_listener(&self, addr: IpAddr, port: u16) -> Result<TcpService, LabError> {
        self.server_tcp_listeners(&[addr], port)
    }

    /// An echo service on `port` on every server address ([`Lab::server_addrs`]: IPv4, IPv6 and
    /// those added with [`Lab::add_server_address`] before this call), one socket per address.
    /// With `port` 0 they all share the port the first one got.
    pub fn server_tcp_listener_any(&self, port: u16) -> Result<TcpService, LabError> {
        self.server_tcp_listeners(&self.server_addrs(), port)
    }

    fn server_tcp_listeners(&self, addrs: &[IpAddr], port: u16) -> Result<TcpService, LabError> {
        let listeners = in_netns(self.server_ns(), || {
            let mut port = port;
            let mut out = Vec::with_capacity(addrs.len());
            for &ip in addrs {
                let l = TcpListener::bind(SocketAddr::new(ip, port))
                    .map_err(|e| io::Error::new(e.kind(), format!("binding {ip} port {port}: {e}")))?;
                l.set_nonblocking(true)?;
                port = l.local_addr()?.port();
                out.push(l);
            }
            Ok(out)
        })
        .map_err(|e| LabError::io("creating a TCP listener in the server namespace", e))?;
        let addrs = listeners
            .iter()
            .map(TcpListener::local_addr)
            .collect::<io::Result<Vec<_>>>()
            .map_err(|e| LabError::io("reading a listener's address", e))?;
        let shared = Arc::new(Shared::default());
        let thread = {
            let shared = Arc::clone(&shared);
            thread::Builder::new()
                .name("knock-e2e-accept".into())
                .spawn(move || accept_loop(&listeners, &shared))
                .map_err(|e| LabError::io("spawning the accept thread", e))?
        };
        Ok(TcpService { addrs, shared, thread: Some(thread) })
    }

    /// A TCP connection from the client namespace to `dst`, bounded by `timeout` (`TimedOut` when
    /// the SYN is dropped). The stream can be used from any thread.
    pub fn client_connect(&self, dst: SocketAddr, timeout: Duration) -> io::Result<TcpStream> {
        in_netns(self.client_ns(), || TcpStream::connect_timeout(&dst, timeout))
    }
}

impl TcpService {
    /// The bound addresses (one per listening socket).
    pub fn local_addrs(&self) -> &[SocketAddr] {
        &self.addrs
    }

    /// The port (the same on every socket).
    pub fn port(&self) -> u16 {
        self.addrs.first().map_or(0, SocketAddr::port)
    }

    /// How many connections were accepted so far.
    pub fn accepted(&self) -> usize {
        self.shared.accepted.load(Ordering::SeqCst)
    }

    /// Source addresses of the accepted connections, in accept order.
    pub fn peers(&self) -> Vec<SocketAddr> {
        self.shared.peers.lock().map(|p| p.clone()).unwrap_or_default()
    }

    /// Waits until at least `n` connections were accepted.
    pub fn wait_for_accepted(&self, n: usize, timeout: Duration) -> bool {
        crate::wait_until(timeout, || self.accepted() >= n)
    }
}

impl Drop for TcpService {
    fn drop(&mut self) {
        self.shared.stop.store(true, Ordering::SeqCst);
        if let Some(t) = self.thread.take() {
            let _ = t.join();
        }
    }
}

/// Accepts on all (nonblocking) listeners until the stop flag is set; one echo thread per
/// connection. Joins the echo threads before returning.
fn accept_loop(listeners: &[TcpListener], shared: &Arc<Shared>) {
    let mut conns: Vec<JoinHandle<()>> = Vec::new();
    let mut fds: Vec<PollFd<'_>> = listeners.iter().map(|l| PollFd::new(l, PollFlags::IN)).collect();
    let timeout = Timespec::try_from(POLL).unwrap_or_default();
    while !shared.stop.load(Ordering::SeqCst) {
        match poll(&mut fds, Some(&timeout)) {
            Ok(0) | Err(Errno::INTR) => continue,
            Ok(_) => {}
            Err(_) => {
                thread::sleep(POLL);
                continue;
            }
        }
        for l in listeners {
            // Until WouldBlock (drained) or a transient error; the next poll retries.
            while let Ok((stream, peer)) = l.accept() {
                shared.accepted.fetch_add(1, Ordering::SeqCst);
                if let Ok(mut p) = shared.peers.lock() {
                    p.push(peer);
                }
                let shared = Arc::clone(shared);
                // If the thread cannot start, the stream is dropped (closed) with the closure.
                if let Ok(h) =
                    thread::Builder::new().name("knock-e2e-echo".into()).spawn(move || echo(stream, &shared.stop))
                {
                    conns.push(h);
                }
            }
        }
        conns.retain(|h| !h.is_finished());
    }
    for h in conns {
        let _ = h.join();
    }
}

/// Copies everything read back to the peer until EOF, an error or the stop flag.
fn echo(mut s: TcpStream, stop: &AtomicBool) {
    let _ = s.set_nonblocking(false);
    let _ = s.set_read_timeout(Some(POLL));
    let _ = s.set_write_timeout(Some(Duration::from_secs(1)));
    let mut buf = [0u8; 16 * 1024];
    while !stop.load(Ordering::SeqCst) {
        match s.read(&mut buf) {
            Ok(0) => break,
            Ok(n) => {
                if s.write_all(&buf[..n]).is_err() {
                    break;
                }
            }
            Err(e)
                if matches!(
                    e.kind(),
                    io::ErrorKind::WouldBlock | io::ErrorKind::TimedOut | io::ErrorKind::Interrupted
                ) => {}
            Err(_) => break,
        }
    }
    let _ = s.shutdown(Shutdown::Both);
}

// ---------------------------------------------------------------------------------------------
// sshd

/// A running OpenSSH server in the server namespace (see [`Lab::start_sshd`]); killed on drop.
#[derive(Debug)]
pub struct Sshd {
    child: Child,
    port: u16,
    dir: PathBuf,
    config_path: PathBuf,
    log_path: PathBuf,
    client_key: PathBuf,
}

impl Lab {
    /// Starts `/usr/sbin/sshd -D -e -f <dir>/sshd_config` in the server namespace, listening on
    /// `port` on every server address ([`Lab::server_addrs`]).
    ///
    /// Everything lives in a fresh `<labdir>/sshd-<n>/`: an ed25519 host key, a client key pair
    /// whose public half is the only authorized key, the config (public keys only, no PAM, root
    /// may log in with a key, `StrictModes no` for the temp dir) and the pid file. Creates
    /// `/run/sshd` (sshd's privilege separation dir) if missing. Returns once sshd logged that it
    /// listens on every address (it logs that after `listen()`, so connections are accepted from
    /// then on; the check does not connect, so it also works behind a
    /// [gate](Lab::server_gate_tcp_port)).
    pub fn start_sshd(&self, port: u16) -> Result<Sshd, LabError> {
        if !Path::new(SSHD_PATH).exists() {
            return Err(LabError::Startup {
                what: "sshd".into(),
                detail: format!("{SSHD_PATH} not found (apt-get install openssh-server)"),
            });
        }
        ensure_privsep_dir()?;
        let dir = self.unique_path("sshd", "d");
        fs::create_dir(&dir).map_err(|e| LabError::io(format!("creating {}", dir.display()), e))?;
        check_config_path(&dir)?;
        let host_key = dir.join("ssh_host_ed25519_key");
        let client_key = dir.join("client_ed25519");
        self.keygen(&host_key, "knock-e2e host")?;
        self.keygen(&client_key, "knock-e2e client")?;
        let authorized = dir.join("authorized_keys");
        let client_pub = client_key.with_extension("pub");
        fs::copy(&client_pub, &authorized)
            .map_err(|e| LabError::io(format!("copying {} to {}", client_pub.display(), authorized.display()), e))?;

        let listen: String = self.server_addrs().iter().map(|a| format!("ListenAddress {a}\n")).collect();
        let config_path = dir.join("sshd_config");
        let pid_path = dir.join("sshd.pid");
        let config = format!(
            "# Written by knock-e2e (Lab::start_sshd).\n\
             Port {port}\n\
             AddressFamily any\n\
             {listen}\
             HostKey \"{host_key}\"\n\
             PidFile \"{pid}\"\n\
             AuthorizedKeysFile \"{authorized}\"\n\
             PubkeyAuthentication yes\n\
             PasswordAuthentication no\n\
             KbdInteractiveAuthentication no\n\
             UsePAM no\n\
             PermitRootLogin prohibit-password\n\
             StrictModes no\n\
             UseDNS no\n\
             PrintMotd no\n\
             PrintLastLog no\n\
             LogLevel VERBOSE\n",
            host_key = host_key.display(),
            pid = pid_path.display(),
            authorized = authorized.display(),
        );
        fs::write(&config_path, config).map_err(|e| LabError::io(format!("writing {}", config_path.display()), e))?;

        let log_path = dir.join("sshd.log");
        let log = File::create(&log_path).map_err(|e| LabError::io(format!("creating {}", log_path.display()), e))?;
        let mut cmd = self.server_cmd(SSHD_PATH);
        cmd.args(["-D", "-e", "-f"])
            .arg(&config_path)
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(log)
            .process_group(0);
        let child = cmd.spawn().map_err(|e| LabError::io("spawning `ip netns exec .. sshd`", e))?;
        let mut sshd = Sshd { child, port, dir, config_path, log_path, client_key };

        let wanted: Vec<String> =
            self.server_addrs().iter().map(|a| format!("Server listening on {a} port {port}.")).collect();
        let deadline = Instant::now() + SSHD_STARTUP_TIMEOUT;
        loop {
            let log = sshd.log();
            if wanted.iter().all(|w| log.contains(w)) {
                return Ok(sshd);
            }
            if let Ok(Some(status)) = sshd.child.try_wait() {
                return Err(LabError::Startup {
                    what: "sshd".into(),
                    detail: format!("exited with {status}\n{}", sshd.diagnostics()),
                });
            }
            if Instant::now() >= deadline {
                return Err(LabError::Timeout {
                    what: format!("sshd to log {wanted:?}"),
                    after: SSHD_STARTUP_TIMEOUT,
                    detail: sshd.diagnostics(),
                });
            }
            thread::sleep(Duration::from_millis(10));
        }
    }

    /// `ssh-keygen -q -t ed25519 -N '' -C COMMENT -f PATH`, bounded.
    fn keygen(&self, path: &Path, comment: &str) -> Result<(), LabError> {
        let mut cmd = std::process::Command::new("ssh-keygen");
        cmd.args(["-q", "-t", "ed25519", "-N", "", "-C", comment, "-f"]).arg(path);
        let what = format!("ssh-keygen -f {}", path.display());
        let out = process::output_with_timeout(cmd, Duration::from_secs(15), &what)?;
        if !out.status.success() {
            return Err(LabError::Command {
                command: what,
                status: out.status.to_string(),
                stderr: process::lossy(&out.stderr),
            });
        }
        Ok(())
    }
}

/// Creates sshd's privilege separation dir (root-owned, 0755) when it is missing.
fn ensure_privsep_dir() -> Result<(), LabError> {
    let dir = Path::new(PRIVSEP_DIR);
    if dir.is_dir() {
        return Ok(());
    }
    match fs::create_dir(dir) {
        Ok(()) => fs::set_permissions(dir, fs::Permissions::from_mode(0o755))
            .map_err(|e| LabError::io(format!("chmod 755 {PRIVSEP_DIR}"), e)),
        // A parallel test created it meanwhile.
        Err(e) if e.kind() == io::ErrorKind::AlreadyExists => Ok(()),
        Err(e) => Err(LabError::io(format!("creating {PRIVSEP_DIR}"), e)),
    }
}

/// sshd_config paths are written in double quotes, and `AuthorizedKeysFile` expands `%` tokens:
/// refuse paths that would need escaping (a temp dir under an odd `$TMPDIR`).
fn check_config_path(p: &Path) -> Result<(), LabError> {
    match p.to_str() {
        Some(s) if !s.contains(['"', '%', '\n']) => Ok(()),
        _ => Err(LabError::Startup {
            what: "sshd".into(),
            detail: format!("the lab dir {p:?} cannot be written into sshd_config"),
        }),
    }
}

impl Sshd {
    /// The `ssh` arguments for a non-interactive root login with the lab's client key, without
    /// host key checks or known_hosts writes, ignoring `~/.ssh/config` (`-F /dev/null`) and any
    /// agent. Add the host (`192.0.2.2` or `2001:db8::2`) and the remote command after them.
    pub fn client_options(&self) -> Vec<String> {
        let mut v: Vec<String> = vec![
            "-F".into(),
            "/dev/null".into(),
            "-i".into(),
            self.client_key.display().to_string(),
            "-p".into(),
            self.port.to_string(),
            "-l".into(),
            "root".into(),
        ];
        for opt in [
            "BatchMode=yes",
            "StrictHostKeyChecking=no",
            "UserKnownHostsFile=/dev/null",
            "GlobalKnownHostsFile=/dev/null",
            "LogLevel=ERROR",
            "IdentitiesOnly=yes",
            "IdentityAgent=none",
            "ConnectTimeout=5",
        ] {
            v.push("-o".into());
            v.push(opt.into());
        }
        v
    }

    /// The port sshd listens on.
    pub fn port(&self) -> u16 {
        self.port
    }

    /// sshd's own output so far (`-e`: its log goes to stderr), e.g. `Accepted publickey for
    /// root from 192.0.2.1 ...`.
    pub fn log(&self) -> String {
        fs::read_to_string(&self.log_path).unwrap_or_default()
    }

    /// Waits until [`Sshd::log`] contains `needle`.
    pub fn wait_for_log(&self, needle: &str, timeout: Duration) -> bool {
        crate::wait_until(timeout, || self.log().contains(needle))
    }

    /// The directory with sshd's config, keys and log.
    pub fn dir(&self) -> &Path {
        &self.dir
    }

    /// The generated `sshd_config`.
    pub fn config_path(&self) -> &Path {
        &self.config_path
    }

    /// The client's private key (its public half is authorized for root).
    pub fn client_key_path(&self) -> &Path {
        &self.client_key
    }

    /// Process id of the listening sshd (`ip netns exec` execs it).
    pub fn pid(&self) -> u32 {
        self.child.id()
    }

    /// Log and config, for error messages.
    pub fn diagnostics(&self) -> String {
        format!(
            "--- sshd log ---\n{}--- config {} ---\n{}",
            self.log(),
            self.config_path.display(),
            fs::read_to_string(&self.config_path).unwrap_or_default()
        )
    }
}

impl Drop for Sshd {
    fn drop(&mut self) {
        // Session children call setsid(); stop_child kills the descendants too.
        process::stop_child(&mut self.child, libc::SIGTERM, Duration::from_millis(500));
    }
}

// ---------------------------------------------------------------------------------------------
// Gate

impl Lab {
    /// Closes `port` on the server: appends `INPUT -p tcp --dport PORT --syn -j DROP` for IPv4
    /// and IPv6, so new connections time out (no RST) while established ones keep working. Open
    /// it per source with [`Lab::gate_open_command`] (knockd door command, or
    /// [`Lab::run_door_command`]).
    pub fn server_gate_tcp_port(&self, port: u16) -> Result<(), LabError> {
        self.server_iptables(&["-A", "INPUT", "-p", "tcp", "--dport", &port.to_string(), "--syn", "-j", "DROP"])
    }

    /// knockd door command (IPv4 sources) that lets `%IP%` through a
    /// [gate](Lab::server_gate_tcp_port): inserts `ACCEPT` at the top of INPUT.
    pub fn gate_open_command(port: u16) -> String {
        gate_command("iptables", "-I", port)
    }

    /// Undoes [`Lab::gate_open_command`] (deletes one such rule; opening twice needs two closes).
    pub fn gate_close_command(port: u16) -> String {
        gate_command("iptables", "-D", port)
    }

    /// [`Lab::gate_open_command`] with ip6tables, for `Start_Command_6` (IPv6 knocks).
    pub fn gate_open_command_v6(port: u16) -> String {
        gate_command("ip6tables", "-I", port)
    }

    /// [`Lab::gate_close_command`] with ip6tables, for `Stop_Command_6`.
    pub fn gate_close_command_v6(port: u16) -> String {
        gate_command("ip6tables", "-D", port)
    }

    /// A knockd door section `[name]` that opens the [gated](Lab::server_gate_tcp_port) `port`
    /// for the knocking source (either family) for `cmd_timeout` seconds: `Sequence`,
    /// `Seq_Timeout = 10`, `TCPFlags = syn`, the four start/stop commands and `Cmd_Timeout`.
    pub fn gate_door_section(name: &str, sequence: &str, port: u16, cmd_timeout: u32) -> String {
        format!(
            "[{name}]\n  Sequence = {sequence}\n  Seq_Timeout = 10\n  TCPFlags = syn\n  \
             Start_Command = {}\n  Start_Command_6 = {}\n  Cmd_Timeout = {cmd_timeout}\n  \
             Stop_Command = {}\n  Stop_Command_6 = {}\n",
            Lab::gate_open_command(port),
            Lab::gate_open_command_v6(port),
            Lab::gate_close_command(port),
            Lab::gate_close_command_v6(port),
        )
    }

    /// Runs a door command the way knockd does: every `%IP%` replaced by `ip`, then `sh -c` in
    /// the server namespace. A non-zero exit is an error.
    pub fn run_door_command(&self, command: &str, ip: IpAddr) -> Result<(), LabError> {
        let cmd = command.replace("%IP%", &ip.to_string());
        let out = self.run(Side::Server, "sh", ["-c", &cmd], Duration::from_secs(15))?;
        if !out.status.success() {
            return Err(LabError::Command {
                command: cmd,
                status: out.status.to_string(),
                stderr: process::lossy(&out.stderr),
            });
        }
        Ok(())
    }
}

fn gate_command(tool: &str, op: &str, port: u16) -> String {
    format!("{tool} -w 5 {op} INPUT -s %IP% -p tcp --dport {port} -j ACCEPT")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn gate_commands_insert_and_delete_the_same_rule() {
        assert_eq!(Lab::gate_open_command(22), "iptables -w 5 -I INPUT -s %IP% -p tcp --dport 22 -j ACCEPT");
        assert_eq!(Lab::gate_close_command(22), "iptables -w 5 -D INPUT -s %IP% -p tcp --dport 22 -j ACCEPT");
        assert!(Lab::gate_open_command_v6(22).starts_with("ip6tables "));
        assert!(Lab::gate_close_command_v6(22).starts_with("ip6tables -w 5 -D "));
    }

    #[test]
    fn gate_door_has_all_four_commands() {
        let d = Lab::gate_door_section("ssh", "7000,8000", 22, 3);
        for key in [
            "Start_Command = iptables",
            "Start_Command_6 = ip6tables",
            "Stop_Command = iptables",
            "Stop_Command_6 = ip6tables",
            "Cmd_Timeout = 3",
        ] {
            assert!(d.contains(key), "{key} missing in {d}");
        }
    }

    #[test]
    fn odd_lab_dirs_are_refused_for_sshd_config() {
        assert!(check_config_path(Path::new("/tmp/knock-e2e-1-2-abc")).is_ok());
        assert!(check_config_path(Path::new("/tmp/a%b")).is_err());
        assert!(check_config_path(Path::new("/tmp/a\"b")).is_err());
    }
}
