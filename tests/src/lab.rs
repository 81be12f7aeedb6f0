//! The lab: two network namespaces (client, server) joined by one veth pair.
//!
//! Why namespaces: end-to-end knock tests need a real Ethernet link, a server with its own
//! addresses, firewall and capture, and must run in parallel without touching the host network.
//! Each [`Lab`] creates `knock-e2e-<pid>-<n>-<test>-{c,s}`, with the veth ends created directly
//! inside them (never in the host namespace), and addresses from documentation ranges:
//!
//! | side   | IPv4            | IPv6              |
//! |--------|-----------------|-------------------|
//! | client | 192.0.2.1/24    | 2001:db8::1/64    |
//! | server | 192.0.2.2/24    | 2001:db8::2/64    |
//!
//! IPv6 addresses are added with `nodad`, so they work at once.
//!
//! Dropping a lab (also while a test panics) kills every process inside both namespaces, deletes
//! them (which removes the veth) and removes the lab's temp directory. [`Lab::new`] also removes
//! namespaces and temp dirs left behind by earlier test processes that died (the names carry the
//! pid). Tools are driven through the `ip` command, not netlink.

use std::ffi::OsStr;
use std::fs::{self, File};
use std::net::{IpAddr, Ipv4Addr, Ipv6Addr, SocketAddr, UdpSocket};
use std::os::fd::AsFd;
use std::path::{Path, PathBuf};
use std::process::{Command, Output, Stdio};
use std::sync::Mutex;
use std::sync::atomic::{AtomicU32, Ordering};
use std::time::Duration;

use crate::capture::Packet;
use crate::process;

/// Client IPv4 address inside the client namespace.
pub const CLIENT_V4: Ipv4Addr = Ipv4Addr::new(192, 0, 2, 1);
/// Server IPv4 address inside the server namespace.
pub const SERVER_V4: Ipv4Addr = Ipv4Addr::new(192, 0, 2, 2);
/// Client IPv6 address inside the client namespace.
pub const CLIENT_V6: Ipv6Addr = Ipv6Addr::new(0x2001, 0xdb8, 0, 0, 0, 0, 0, 1);
/// Server IPv6 address inside the server namespace.
pub const SERVER_V6: Ipv6Addr = Ipv6Addr::new(0x2001, 0xdb8, 0, 0, 0, 0, 0, 2);

/// Bound for the readiness probe in [`Lab::new`].
const READY_TIMEOUT: Duration = Duration::from_secs(5);

/// Default bound for [`Lab::run_client`] / [`Lab::run_server`].
pub const RUN_TIMEOUT: Duration = Duration::from_secs(30);

const NS_PREFIX: &str = "knock-e2e-";
const NETNS_DIR: &str = "/run/netns";

static COUNTER: AtomicU32 = AtomicU32::new(0);

/// Why a lab (or something running in it) failed.
#[derive(Debug, thiserror::Error)]
pub enum LabError {
    /// The machine cannot host a lab: not root, no `ip`, namespaces or veth forbidden.
    /// [`Lab::for_test`] turns this into a skip (or a panic under CI).
    #[error("lab unavailable: {0}")]
    Unavailable(String),
    /// A command ran and failed.
    #[error("`{command}` failed ({status}): {stderr}")]
    Command { command: String, status: String, stderr: String },
    /// An I/O error, with what we were doing.
    #[error("{context}: {source}")]
    Io {
        context: String,
        #[source]
        source: std::io::Error,
    },
    /// Something did not happen in time.
    #[error("timed out after {after:?} waiting for {what}\n{detail}")]
    Timeout { what: String, after: Duration, detail: String },
    /// A daemon (knockd, tcpdump) exited or failed while starting.
    #[error("{what} failed to start: {detail}")]
    Startup { what: String, detail: String },
    /// A knockd configuration the lab cannot run as given.
    #[error("bad knockd config: {0}")]
    Config(String),
    /// A capture file could not be read or parsed.
    #[error("capture: {0}")]
    Capture(String),
}

impl LabError {
    pub(crate) fn io(context: impl Into<String>, source: std::io::Error) -> Self {
        LabError::Io { context: context.into(), source }
    }
}

/// Which namespace a command runs in.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Side {
    Client,
    Server,
}

/// Two namespaces joined by a veth pair; see the module docs.
#[derive(Debug)]
pub struct Lab {
    test_name: String,
    client_ns: String,
    server_ns: String,
    client_iface: String,
    server_iface: String,
    dir: tempfile::TempDir,
    extra_server_addrs: Mutex<Vec<IpAddr>>,
    seq: AtomicU32,
}

impl Lab {
    /// Builds a lab named after `test_name` (only used to make names readable).
    pub fn new(test_name: &str) -> Result<Lab, LabError> {
        let euid = rustix::process::geteuid().as_raw();
        if euid != 0 {
            return Err(LabError::Unavailable(format!("not root (euid {euid})")));
        }
        remove_stale();

        let pid = std::process::id();
        let n = COUNTER.fetch_add(1, Ordering::Relaxed);
        let short = sanitize(test_name);
        let base = format!("{NS_PREFIX}{pid}-{n}-{short}");
        // Interface names: at most 15 bytes; pid < 2^22 is 6 hex digits, n is cut to 6 hex digits.
        let tag = format!("{pid:x}-{:x}", n & 0xff_ffff);
        let dir = tempfile::Builder::new()
            .prefix(&format!("{NS_PREFIX}{pid}-{n}-"))
            .tempdir()
            .map_err(|e| LabError::io("creating the lab temp dir", e))?;
        let lab = Lab {
            test_name: test_name.to_string(),
            client_ns: format!("{base}-c"),
            server_ns: format!("{base}-s"),
            client_iface: format!("kc{tag}"),
            server_iface: format!("ks{tag}"),
            dir,
            extra_server_addrs: Mutex::new(Vec::new()),
            seq: AtomicU32::new(0),
        };
        // On error `lab` is dropped here, which removes whatever was already created.
        lab.setup()?;
        Ok(lab)
    }

    /// [`Lab::new`] for a test: `None` (after printing `SKIPPED (needs root + ip netns): <reason>`
    /// to stderr) when the machine cannot host a lab; under `CI=true`/`CI=1` it panics instead, so
    /// a CI run never passes silently. Any other failure panics: that is a real bug.
    pub fn for_test(test_name: &str) -> Option<Lab> {
        match Lab::new(test_name) {
            Ok(lab) => Some(lab),
            Err(LabError::Unavailable(reason)) => {
                if in_ci() {
                    panic!("{test_name}: lab unavailable under CI: {reason}");
                }
                // Not eprintln!: libtest captures that and shows it only for failing tests.
                use std::io::Write;
                let _ = writeln!(std::io::stderr(), "SKIPPED (needs root + ip netns): {test_name}: {reason}");
                None
            }
            Err(e) => panic!("{test_name}: building the lab failed: {e}"),
        }
    }

    fn setup(&self) -> Result<(), LabError> {
        {
            let _lock = NetnsLock::acquire();
            for ns in [&self.client_ns, &self.server_ns] {
                ip(&["netns", "add", ns], true)?;
            }
        }
        ip(
            &[
                "link",
                "add",
                &self.client_iface,
                "netns",
                &self.client_ns,
                "type",
                "veth",
                "peer",
                "name",
                &self.server_iface,
                "netns",
                &self.server_ns,
            ],
            true,
        )?;
        let client = format!(
            "link set lo up\naddr add {CLIENT_V4}/24 dev {i}\naddr add {CLIENT_V6}/64 dev {i} nodad\nlink set {i} up\n",
            i = self.client_iface
        );
        let server = format!(
            "link set lo up\naddr add {SERVER_V4}/24 dev {i}\naddr add {SERVER_V6}/64 dev {i} nodad\nlink set {i} up\n",
            i = self.server_iface
        );
        ip_batch(&self.client_ns, &client)?;
        ip_batch(&self.server_ns, &server)?;
        self.sync_link_state()?;
        self.wait_until_usable()
    }

    /// Makes the kernel apply the veths' pending carrier change now.
    ///
    /// Why: when the second veth end comes up, the carrier change of both ends is queued for the
    /// linkwatch work, which may run up to 1 s later. Until it runs, IPv6 on the device is not
    /// ready and the receiver drops incoming multicast, Neighbour Solicitations included, as
    /// "no route" (`IP_INNOROUTES`, seen with the skb:kfree_skb tracepoint on kernel 6.18), so
    /// the first IPv6 packet of a test waited for an NDP retransmit or was lost (IPv4 was not
    /// affected). Asking for the link (`RTM_GETLINK`) applies a pending event for that device at
    /// once: `Lab::new` went from ~950 ms to ~15 ms with this.
    fn sync_link_state(&self) -> Result<(), LabError> {
        ip(&["-n", &self.client_ns, "link", "show", "dev", &self.client_iface], false)?;
        ip(&["-n", &self.server_ns, "link", "show", "dev", &self.server_iface], false)
    }

    /// Proves both families work in both directions, then empties the neighbour caches so tests
    /// start from a link that never talked.
    ///
    /// Each direction gets a 1-byte UDP datagram to port 9 from a thread moved into the sending
    /// namespace, until the peer's ICMP port-unreachable comes back (ECONNREFUSED); between
    /// tries the link state is synced again and the stuck neighbour entry flushed. Normally every
    /// probe succeeds at once. (Side effect: each peer's ICMP rate limiter has spent a token.)
    fn wait_until_usable(&self) -> Result<(), LabError> {
        let deadline = std::time::Instant::now() + READY_TIMEOUT;
        let pairs = [
            (&self.client_ns, &self.client_iface, IpAddr::from(SERVER_V6)),
            (&self.server_ns, &self.server_iface, IpAddr::from(CLIENT_V6)),
            (&self.client_ns, &self.client_iface, IpAddr::from(SERVER_V4)),
            (&self.server_ns, &self.server_iface, IpAddr::from(CLIENT_V4)),
        ];
        for (ns, iface, dst) in pairs {
            loop {
                match udp_round_trip(ns, SocketAddr::new(dst, 9), Duration::from_millis(100)) {
                    Ok(true) => break,
                    Ok(false) => {}
                    Err(e) => return Err(LabError::io(format!("probing {dst} from {ns}"), e)),
                }
                if std::time::Instant::now() >= deadline {
                    return Err(LabError::Timeout {
                        what: format!("{dst} to answer from {ns}"),
                        after: READY_TIMEOUT,
                        detail: String::new(),
                    });
                }
                self.sync_link_state()?;
                ip(&["-n", ns, "neigh", "flush", "dev", iface], false)?;
            }
        }
        ip(&["-n", &self.client_ns, "neigh", "flush", "dev", &self.client_iface], false)?;
        ip(&["-n", &self.server_ns, "neigh", "flush", "dev", &self.server_iface], false)
    }

    /// The test name this lab was built for.
    pub fn test_name(&self) -> &str {
        &self.test_name
    }
    /// Name of the client namespace (for `ip netns exec`).
    pub fn client_ns(&self) -> &str {
        &self.client_ns
    }
    /// Name of the server namespace.
    pub fn server_ns(&self) -> &str {
        &self.server_ns
    }
    /// The client's veth interface (inside the client namespace).
    pub fn client_iface(&self) -> &str {
        &self.client_iface
    }
    /// The server's veth interface (inside the server namespace).
    pub fn server_iface(&self) -> &str {
        &self.server_iface
    }
    /// 192.0.2.1
    pub fn client_v4(&self) -> Ipv4Addr {
        CLIENT_V4
    }
    /// 2001:db8::1
    pub fn client_v6(&self) -> Ipv6Addr {
        CLIENT_V6
    }
    /// 192.0.2.2
    pub fn server_v4(&self) -> Ipv4Addr {
        SERVER_V4
    }
    /// 2001:db8::2
    pub fn server_v6(&self) -> Ipv6Addr {
        SERVER_V6
    }
    /// The client's addresses (IPv4 first).
    pub fn client_addrs(&self) -> Vec<IpAddr> {
        vec![CLIENT_V4.into(), CLIENT_V6.into()]
    }
    /// The server's addresses: the two defaults, then those added with [`Lab::add_server_address`].
    pub fn server_addrs(&self) -> Vec<IpAddr> {
        let mut v: Vec<IpAddr> = vec![SERVER_V4.into(), SERVER_V6.into()];
        if let Ok(extra) = self.extra_server_addrs.lock() {
            v.extend(extra.iter().copied());
        }
        v
    }

    /// Adds another address to the server's veth (as /32 or /128) and an on-link host route to it
    /// on the client, so any address works, inside the documentation ranges or not.
    ///
    /// knockd reads interface addresses only at startup: add addresses before
    /// [`Lab::start_knockd`].
    pub fn add_server_address(&self, addr: IpAddr) -> Result<(), LabError> {
        let (plen, nodad) = match addr {
            IpAddr::V4(_) => (32, ""),
            IpAddr::V6(_) => (128, " nodad"),
        };
        ip_batch(&self.server_ns, &format!("addr add {addr}/{plen} dev {}{nodad}\n", self.server_iface))?;
        ip_batch(&self.client_ns, &format!("route add {addr}/{plen} dev {}\n", self.client_iface))?;
        if let Ok(mut extra) = self.extra_server_addrs.lock() {
            extra.push(addr);
        }
        Ok(())
    }

    /// The lab's temp directory (removed on drop). Config files, logs, captures and marker files
    /// go here.
    pub fn dir(&self) -> &Path {
        self.dir.path()
    }

    /// A fresh numbered path in the lab dir: `<stem>-<n>.<ext>`.
    pub(crate) fn unique_path(&self, stem: &str, ext: &str) -> PathBuf {
        let n = self.seq.fetch_add(1, Ordering::Relaxed);
        self.dir().join(format!("{stem}-{n}.{ext}"))
    }

    /// A command that runs `program` inside the namespace of `side` (`ip netns exec NS program`).
    /// Add arguments, stdio etc. as with any `Command`. Processes left running are killed when
    /// the lab is dropped.
    pub fn cmd(&self, side: Side, program: impl AsRef<OsStr>) -> Command {
        let ns = match side {
            Side::Client => &self.client_ns,
            Side::Server => &self.server_ns,
        };
        let mut c = Command::new("ip");
        c.args(["netns", "exec", ns]).arg(program);
        c
    }

    /// [`Lab::cmd`] on the client side.
    pub fn client_cmd(&self, program: impl AsRef<OsStr>) -> Command {
        self.cmd(Side::Client, program)
    }

    /// [`Lab::cmd`] on the server side.
    pub fn server_cmd(&self, program: impl AsRef<OsStr>) -> Command {
        self.cmd(Side::Server, program)
    }

    /// Runs `program args...` in the client namespace and returns its output, whatever its exit
    /// status. Killed after [`RUN_TIMEOUT`] (then `Err(Timeout)`).
    pub fn run_client<I, S>(&self, program: impl AsRef<OsStr>, args: I) -> Result<Output, LabError>
    where
        I: IntoIterator<Item = S>,
        S: AsRef<OsStr>,
    {
        self.run(Side::Client, program, args, RUN_TIMEOUT)
    }

    /// `knock ARGS...` (Debian's knock(1)) in the client namespace; fails the test unless it exits 0.
    #[track_caller]
    pub fn knock(&self, args: &[&str]) {
        let out = self.run_client("knock", args).unwrap_or_else(|e| panic!("knock {args:?}: {e}"));
        assert!(out.status.success(), "knock {args:?}: {}\n{}", out.status, String::from_utf8_lossy(&out.stderr));
    }

    /// Runs `program args...` in the server namespace; see [`Lab::run_client`].
    pub fn run_server<I, S>(&self, program: impl AsRef<OsStr>, args: I) -> Result<Output, LabError>
    where
        I: IntoIterator<Item = S>,
        S: AsRef<OsStr>,
    {
        self.run(Side::Server, program, args, RUN_TIMEOUT)
    }

    /// Runs `program args...` in the namespace of `side`, bounded by `timeout`.
    pub fn run<I, S>(
        &self,
        side: Side,
        program: impl AsRef<OsStr>,
        args: I,
        timeout: Duration,
    ) -> Result<Output, LabError>
    where
        I: IntoIterator<Item = S>,
        S: AsRef<OsStr>,
    {
        let what = format!("{} (in the {side:?} namespace)", program.as_ref().to_string_lossy());
        let mut cmd = self.cmd(side, program);
        cmd.args(args);
        process::output_with_timeout(cmd, timeout, &what)
    }

    /// Packets sent from one of the client's addresses to one of the server's, in capture order.
    pub fn client_to_server(&self, packets: &[Packet]) -> Vec<Packet> {
        let clients = self.client_addrs();
        let servers = self.server_addrs();
        packets.iter().filter(|p| clients.contains(&p.src) && servers.contains(&p.dst)).cloned().collect()
    }

    /// Packets sent from one of the server's addresses to one of the client's.
    pub fn server_to_client(&self, packets: &[Packet]) -> Vec<Packet> {
        let clients = self.client_addrs();
        let servers = self.server_addrs();
        packets.iter().filter(|p| servers.contains(&p.src) && clients.contains(&p.dst)).cloned().collect()
    }
}

impl Drop for Lab {
    fn drop(&mut self) {
        for ns in [&self.client_ns, &self.server_ns] {
            remove_namespace(ns);
        }
    }
}

/// Kills everything inside `ns`, then deletes it (the veth end inside goes with it).
fn remove_namespace(ns: &str) {
    if !Path::new(NETNS_DIR).join(ns).exists() {
        return;
    }
    process::kill_netns_processes(ns);
    // Another process's stale sweep may have deleted it meanwhile: only complain if it is still there.
    if let Err(e) = ip(&["netns", "del", ns], false)
        && Path::new(NETNS_DIR).join(ns).exists()
    {
        eprintln!("knock-e2e: could not delete namespace {ns}: {e}");
    }
}

/// Removes namespaces and temp dirs of earlier test processes that are gone.
fn remove_stale() {
    static SWEEP: Mutex<()> = Mutex::new(());
    let _one_at_a_time = SWEEP.lock().unwrap_or_else(|p| p.into_inner());
    if let Ok(rd) = fs::read_dir(NETNS_DIR) {
        for e in rd.flatten() {
            let name = e.file_name().to_string_lossy().into_owned();
            if owner_is_dead(&name) {
                remove_namespace(&name);
            }
        }
    }
    if let Ok(rd) = fs::read_dir(std::env::temp_dir()) {
        for e in rd.flatten() {
            let name = e.file_name().to_string_lossy().into_owned();
            if owner_is_dead(&name) {
                let _ = fs::remove_dir_all(e.path());
            }
        }
    }
}

/// `knock-e2e-<pid>-...` whose pid no longer exists.
fn owner_is_dead(name: &str) -> bool {
    let Some(rest) = name.strip_prefix(NS_PREFIX) else {
        return false;
    };
    let Some(pid) = rest.split('-').next().and_then(|p| p.parse::<u32>().ok()) else {
        return false;
    };
    pid != std::process::id() && !process::pid_alive(pid)
}

/// Test name reduced to `[A-Za-z0-9_]`, at most 24 chars, for namespace names.
fn sanitize(name: &str) -> String {
    let s: String =
        name.chars().map(|c| if c.is_ascii_alphanumeric() || c == '_' { c } else { '_' }).take(24).collect();
    if s.is_empty() { "lab".to_string() } else { s }
}

/// Last path segment of a `type_name` of a function item, closures stripped
/// (`crate::mod::my_test::__here` -> `my_test`). Used by [`lab_or_skip!`](crate::lab_or_skip).
#[doc(hidden)]
pub fn short_fn_name(type_name: &'static str) -> &'static str {
    let mut s = type_name.strip_suffix("::__here").unwrap_or(type_name);
    while let Some(stripped) = s.strip_suffix("::{{closure}}") {
        s = stripped;
    }
    s.rsplit("::").next().unwrap_or(s)
}

/// Moves the calling thread (only it, and for good) into the network namespace at `path`
/// (`/run/netns/NAME`): sockets it creates afterwards live there. Call it from a thread of its own.
pub fn enter_netns(path: &Path) -> std::io::Result<()> {
    let netns = File::open(path)?;
    rustix::thread::move_into_link_name_space(netns.as_fd(), Some(rustix::thread::LinkNameSpaceType::Network))?;
    Ok(())
}

/// From a thread moved into `ns`: sends one byte to `dst` on a connected UDP socket. `true` when
/// the peer answered (ICMP port unreachable, i.e. ECONNREFUSED, or a reply), `false` on silence.
fn udp_round_trip(ns: &str, dst: SocketAddr, wait: Duration) -> std::io::Result<bool> {
    let path = Path::new(NETNS_DIR).join(ns);
    std::thread::scope(|s| {
        s.spawn(|| {
            enter_netns(&path)?;
            let any: SocketAddr = match dst {
                SocketAddr::V4(_) => (Ipv4Addr::UNSPECIFIED, 0).into(),
                SocketAddr::V6(_) => (Ipv6Addr::UNSPECIFIED, 0).into(),
            };
            let sock = UdpSocket::bind(any)?;
            sock.connect(dst)?;
            sock.set_read_timeout(Some(wait))?;
            sock.send(&[0])?;
            match sock.recv(&mut [0u8; 16]) {
                Ok(_) => Ok(true),
                Err(e) if e.kind() == std::io::ErrorKind::ConnectionRefused => Ok(true),
                Err(e) if matches!(e.kind(), std::io::ErrorKind::WouldBlock | std::io::ErrorKind::TimedOut) => {
                    Ok(false)
                }
                Err(e) => Err(e),
            }
        })
        .join()
        .unwrap_or_else(|_| Err(std::io::Error::other("probe thread panicked")))
    })
}

fn in_ci() -> bool {
    std::env::var("CI").map(|v| v == "1" || v.eq_ignore_ascii_case("true")).unwrap_or(false)
}

/// Runs `ip ARGS`. With `setup` set, failures that mean "this machine cannot do it" become
/// [`LabError::Unavailable`].
fn ip(args: &[&str], setup: bool) -> Result<(), LabError> {
    let out = Command::new("ip").args(args).stdin(Stdio::null()).output().map_err(|e| ip_spawn_error(e, args))?;
    check(out, &format!("ip {}", args.join(" ")), setup)
}

/// Runs `ip -n NS -batch -` with `script` on stdin (one spawn for several commands).
fn ip_batch(ns: &str, script: &str) -> Result<(), LabError> {
    use std::io::Write;
    let args = ["-n", ns, "-batch", "-"];
    let mut child = Command::new("ip")
        .args(args)
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .map_err(|e| ip_spawn_error(e, &args))?;
    if let Some(mut stdin) = child.stdin.take() {
        stdin.write_all(script.as_bytes()).map_err(|e| LabError::io("writing to `ip -batch`", e))?;
    }
    let out = child.wait_with_output().map_err(|e| LabError::io("waiting for `ip -batch`", e))?;
    check(out, &format!("ip -n {ns} -batch - <<< {script:?}"), true)
}

fn ip_spawn_error(e: std::io::Error, args: &[&str]) -> LabError {
    if e.kind() == std::io::ErrorKind::NotFound {
        LabError::Unavailable("`ip` not found (install iproute2)".into())
    } else {
        LabError::io(format!("spawning `ip {}`", args.join(" ")), e)
    }
}

fn check(out: Output, command: &str, setup: bool) -> Result<(), LabError> {
    if out.status.success() {
        return Ok(());
    }
    let stderr = process::lossy(&out.stderr);
    let environmental = ["Operation not permitted", "Permission denied", "not supported", "Unknown device type"];
    if setup && environmental.iter().any(|m| stderr.contains(m)) {
        return Err(LabError::Unavailable(format!("`{command}`: {stderr}")));
    }
    Err(LabError::Command { command: command.to_string(), status: out.status.to_string(), stderr })
}

/// Serialises `ip netns add` across threads and processes: the first `ip netns add` on a boot
/// makes /run/netns a shared mount, and concurrent first calls can stack mounts.
struct NetnsLock {
    _guard: std::sync::MutexGuard<'static, ()>,
    _file: Option<File>,
}

impl NetnsLock {
    fn acquire() -> NetnsLock {
        static LOCAL: Mutex<()> = Mutex::new(());
        let guard = LOCAL.lock().unwrap_or_else(|p| p.into_inner());
        let file = File::options().create(true).truncate(false).write(true).open("/run/knock-e2e.lock").ok();
        if let Some(f) = &file {
            // Released when the file is closed. Without the lock the callers race; they still work alone.
            let _ = rustix::fs::flock(f, rustix::fs::FlockOperation::LockExclusive);
        }
        NetnsLock { _guard: guard, _file: file }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn short_fn_name_strips_module_and_closures() {
        assert_eq!(short_fn_name("lab_smoke::pings::__here"), "pings");
        assert_eq!(short_fn_name("lab_smoke::pings::{{closure}}::{{closure}}::__here"), "pings");
        assert_eq!(short_fn_name("x"), "x");
    }

    #[test]
    fn sanitize_keeps_names_short_and_safe() {
        assert_eq!(sanitize("a b/c"), "a_b_c");
        assert_eq!(sanitize(""), "lab");
        assert_eq!(sanitize(&"x".repeat(100)).len(), 24);
    }

    #[test]
    fn stale_detection_needs_our_prefix_and_a_dead_pid() {
        assert!(!owner_is_dead("other-1-2"));
        assert!(!owner_is_dead(&format!("{NS_PREFIX}{}-0-t-c", std::process::id())));
        assert!(!owner_is_dead(&format!("{NS_PREFIX}1-0-t-c"))); // pid 1 is alive
        assert!(owner_is_dead(&format!("{NS_PREFIX}4194305-0-t-c"))); // above pid_max
        assert!(!owner_is_dead(&format!("{NS_PREFIX}notapid-0-t-c")));
    }
}
