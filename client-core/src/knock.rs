//! Running one knock: validate, resolve once, choose the TCP method, send each hit in order with the
//! inter-hit delay, report progress as it happens, and stop promptly when cancelled.
//!
//! The first hit that fails ends the knock: the rest of a broken sequence could only confuse the server.

use std::net::{IpAddr, SocketAddr};
use std::time::{Duration, Instant, SystemTime};

use tokio_util::sync::CancellationToken;

use crate::error::KnockError;
use crate::profile::{Action, Profile, ProfileError, ProfileKind};
use crate::send::privilege::{RawPermission, raw_permission};
use crate::send::{HitMethod, HitSender, Method, TcpMethod};
use crate::sequence::{Hit, Protocol, Sequence, TcpFlagSpec};
use crate::target::{AddressFamily, resolve};

/// Everything that describes one knock. [`KnockRequest::new`] gives knock(1)'s defaults. `Debug` masks the
/// sequence and the UDP payload (an SPA packet) when the ports are a secret.
#[derive(Clone, PartialEq)]
pub struct KnockRequest {
    pub host: String,
    pub family: AddressFamily,
    pub sequence: Sequence,
    pub method: Method,
    /// Flags of TCP hits; anything but a plain SYN needs raw sockets.
    pub tcp_flags: TcpFlagSpec,
    /// Pause between hits (none after the last).
    pub delay: Duration,
    /// Payload of each UDP hit.
    pub udp_payload: Vec<u8>,
    /// Local address to send from.
    pub bind_address: Option<IpAddr>,
    /// Fixed source port for every hit (default: a fresh ephemeral port per hit).
    pub source_port: Option<u16>,
    /// How long name resolution may take.
    pub resolve_timeout: Duration,
    /// The ports are a secret from outside the profile file (an environment variable): front ends must
    /// not print them.
    pub secret_ports: bool,
    /// The address `host` already resolved to, when the caller had to resolve it first (an SPA packet
    /// names the server's path): the knock then goes there without a second lookup.
    pub resolved: Option<IpAddr>,
    /// Raw SYNs without TCP options. By default (false) a raw SYN carries the option set of Linux's
    /// connect() SYN (MSS, SACK permitted, timestamps, window scale): a bare SYN looks like a scanner's
    /// to some intrusion detection systems.
    pub bare_syn: bool,
}

impl KnockRequest {
    /// The knock that performs `action` for a sequence `profile` named `name`: its host, family, method,
    /// flags and delay, and the sequence read from where the profile keeps it (marked secret when that is
    /// outside the file). The model knows nothing of knocks; this is where a profile becomes one.
    pub fn for_profile(profile: &Profile, name: &str, action: Action) -> Result<KnockRequest, ProfileError> {
        let knock = match (&profile.kind, action) {
            (ProfileKind::Sequence(knock), _) => knock,
            (_, Action::Open) => return Err(ProfileError::NotASequence { name: name.to_owned() }),
            (ProfileKind::Spa(_), Action::Close) => return Err(ProfileError::SpaHasNoClose { name: name.to_owned() }),
            (_, Action::Close) => return Err(ProfileError::NoCloseSequence { name: name.to_owned() }),
        };
        let source = match action {
            Action::Open => &knock.open,
            Action::Close => {
                knock.close.as_ref().ok_or_else(|| ProfileError::NoCloseSequence { name: name.to_owned() })?
            }
        };
        let mut request = KnockRequest::new(profile.host.clone(), source.resolve(name, action)?);
        request.secret_ports = source.is_secret();
        request.family = profile.family;
        request.method = knock.method;
        request.tcp_flags = knock.tcp_flags;
        request.delay = Duration::from_millis(knock.delay_ms);
        Ok(request)
    }
}

impl std::fmt::Debug for KnockRequest {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let masked = |secret: bool, shown: String| if secret { "***".to_owned() } else { shown };
        f.debug_struct("KnockRequest")
            .field("host", &self.host)
            .field("family", &self.family)
            .field("sequence", &format_args!("{}", masked(self.secret_ports, format!("{}", self.sequence))))
            .field("method", &self.method)
            .field("tcp_flags", &self.tcp_flags)
            .field("delay", &self.delay)
            .field("udp_payload_len", &self.udp_payload.len())
            .field("bind_address", &self.bind_address)
            .field("source_port", &self.source_port)
            .field("resolve_timeout", &self.resolve_timeout)
            .field("secret_ports", &self.secret_ports)
            .field("resolved", &self.resolved)
            .field("bare_syn", &self.bare_syn)
            .finish()
    }
}

/// How long name resolution may take, unless a request says otherwise.
pub(crate) const RESOLVE_TIMEOUT: Duration = Duration::from_secs(10);

impl KnockRequest {
    pub fn new(host: impl Into<String>, sequence: Sequence) -> KnockRequest {
        KnockRequest {
            host: host.into(),
            family: AddressFamily::Any,
            sequence,
            method: Method::Auto,
            tcp_flags: TcpFlagSpec::default(),
            delay: Duration::ZERO,
            udp_payload: vec![0],
            bind_address: None,
            source_port: None,
            resolve_timeout: RESOLVE_TIMEOUT,
            secret_ports: false,
            resolved: None,
            bare_syn: false,
        }
    }
}

/// A hit as the engine reports it (events, records, errors): when the sequence is a secret (it came from
/// the environment, not the profile file), it prints as `*:tcp` in `Display` and `Debug`, and
/// [`ReportedHit::port`] is `None`, so no front end can print the port by mistake.
#[derive(Clone, Copy, PartialEq, Eq)]
pub struct ReportedHit {
    hit: Hit,
    secret: bool,
}

impl ReportedHit {
    pub fn new(hit: Hit, secret: bool) -> ReportedHit {
        ReportedHit { hit, secret }
    }

    /// The port, unless it is a secret.
    pub fn port(&self) -> Option<u16> {
        (!self.secret).then_some(self.hit.port)
    }

    pub fn protocol(&self) -> Protocol {
        self.hit.protocol
    }

    pub fn is_secret(&self) -> bool {
        self.secret
    }

    /// knock(1)'s target text: `tcp 192.0.2.2:7000`, `udp [2001:db8::2]:7000`, or `tcp 192.0.2.2:*` for a
    /// secret; `tcp port 7000` before the host resolved.
    pub fn target(&self, address: Option<IpAddr>) -> String {
        let port = self.port().map_or_else(|| "*".to_owned(), |p| p.to_string());
        match address {
            Some(IpAddr::V4(ip)) => format!("{} {ip}:{port}", self.hit.protocol),
            Some(IpAddr::V6(ip)) => format!("{} [{ip}]:{port}", self.hit.protocol),
            None => format!("{} port {port}", self.hit.protocol),
        }
    }
}

impl std::fmt::Display for ReportedHit {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self.port() {
            Some(_) => write!(f, "{}", self.hit),
            None => write!(f, "*:{}", self.hit.protocol),
        }
    }
}

impl std::fmt::Debug for ReportedHit {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "ReportedHit({self})")
    }
}

/// Live progress of a knock, in order.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum KnockEvent {
    /// The host resolved; every hit goes to `address`. `tcp_method` is None when no hit is TCP.
    Resolved { address: SocketAddr, tcp_method: Option<TcpMethod> },
    /// Hit `index` (0-based) left at `at` after the knock started.
    HitSent { index: usize, hit: ReportedHit, method: HitMethod, at: Duration },
    /// Hit `index` could not be sent; the knock ends.
    HitFailed { index: usize, hit: ReportedHit, error: String },
}

/// What happened to one hit.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum HitOutcome {
    Sent {
        method: HitMethod,
        at: Duration,
    },
    Failed {
        error: String,
    },
    /// Not attempted: an earlier step failed or the knock was cancelled.
    NotSent,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct HitRecord {
    pub index: usize,
    pub hit: ReportedHit,
    pub outcome: HitOutcome,
}

/// The full account of a knock, successful or not.
#[derive(Debug)]
pub struct KnockReport {
    pub request: KnockRequest,
    pub address: Option<SocketAddr>,
    pub tcp_method: Option<TcpMethod>,
    pub started_at: SystemTime,
    pub elapsed: Duration,
    pub hits: Vec<HitRecord>,
    pub error: Option<KnockError>,
}

impl KnockReport {
    pub fn succeeded(&self) -> bool {
        self.error.is_none()
    }

    pub fn hits_sent(&self) -> usize {
        self.hits.iter().filter(|h| matches!(h.outcome, HitOutcome::Sent { .. })).count()
    }
}

/// Decides how TCP hits are sent, before any network activity, so bad requests fail fast.
pub fn choose_tcp_method(
    method: Method,
    flags: TcpFlagSpec,
    sequence: &Sequence,
    permission: &RawPermission,
) -> Result<Option<TcpMethod>, KnockError> {
    if !sequence.hits().iter().any(|h| h.protocol == Protocol::Tcp) {
        return Ok(None);
    }
    flags.sendable()?;
    let denied = |needed_for: String| match permission {
        RawPermission::Permitted => None,
        RawPermission::Denied { reason, how_to_grant } => {
            Some(KnockError::RawNotPermitted { needed_for, reason: reason.clone(), how_to_grant: how_to_grant.clone() })
        }
    };
    match method {
        Method::Raw => match denied("method raw".to_owned()) {
            None => Ok(Some(TcpMethod::Raw)),
            Some(err) => Err(err),
        },
        Method::Connect if flags.is_plain_syn() => Ok(Some(TcpMethod::Connect)),
        Method::Connect => Err(KnockError::FlagsNeedRaw { flags }),
        Method::Auto => match denied(format!("sending TCP flags {flags}")) {
            None => Ok(Some(TcpMethod::Raw)),
            Some(_) if flags.is_plain_syn() => Ok(Some(TcpMethod::Connect)),
            Some(err) => Err(err),
        },
    }
}

/// Runs a knock. Never panics on bad input: every failure is in the report's `error`.
pub async fn knock(
    request: &KnockRequest,
    cancel: &CancellationToken,
    on_event: impl FnMut(&KnockEvent),
) -> KnockReport {
    knock_watching(request, cancel, on_event, None).await
}

/// [`knock`], keeping each UDP hit's socket in `udp_watch` to read the ICMP errors that come back
/// (`doctor` proves that a UDP hit arrived this way).
pub(crate) async fn knock_watching(
    request: &KnockRequest,
    cancel: &CancellationToken,
    mut on_event: impl FnMut(&KnockEvent),
    udp_watch: Option<&crate::probe::icmp_errors::UdpErrorWatch>,
) -> KnockReport {
    let started = Instant::now();
    let mut report = KnockReport {
        request: request.clone(),
        address: None,
        tcp_method: None,
        started_at: SystemTime::now(),
        elapsed: Duration::ZERO,
        hits: request
            .sequence
            .hits()
            .iter()
            .enumerate()
            .map(|(index, &hit)| HitRecord {
                index,
                hit: ReportedHit::new(hit, request.secret_ports),
                outcome: HitOutcome::NotSent,
            })
            .collect(),
        error: None,
    };
    let result = run(request, cancel, &mut on_event, started, &mut report, udp_watch).await;
    report.error = result.err();
    report.elapsed = started.elapsed();
    report
}

async fn run(
    request: &KnockRequest,
    cancel: &CancellationToken,
    on_event: &mut impl FnMut(&KnockEvent),
    started: Instant,
    report: &mut KnockReport,
    udp_watch: Option<&crate::probe::icmp_errors::UdpErrorWatch>,
) -> Result<(), KnockError> {
    let hits = request.sequence.hits();
    if hits.is_empty() {
        return Err(crate::sequence::SequenceError::EmptySequence.into());
    }
    // The report's tcp_method is set only once the sender is open: a knock that never got that far (the
    // host did not resolve) sent nothing, by no method.
    let tcp_method = choose_tcp_method(request.method, request.tcp_flags, &request.sequence, &raw_permission())?;

    let address = match request.resolved {
        Some(ip) => SocketAddr::new(ip, 0),
        None => resolve_cancellable(&request.host, request.family, request.resolve_timeout, cancel).await?,
    };
    report.address = Some(address);

    let sender = HitSender::open(
        address,
        tcp_method,
        request.method == Method::Auto && request.tcp_flags.is_plain_syn(),
        request.tcp_flags.set,
        request.udp_payload.clone(),
        request.bind_address,
        request.source_port,
    )
    .map_err(|source| KnockError::Setup { address: address.ip(), source: source.into() })?
    .with_syn_options(!request.bare_syn);
    // `auto` may have fallen back from raw to connect while setting up.
    let tcp_method = sender.tcp_method();
    report.tcp_method = tcp_method;
    on_event(&KnockEvent::Resolved { address, tcp_method });

    let mut next_hit_at: Option<Instant> = None;
    for (index, &hit) in hits.iter().enumerate() {
        let reported = ReportedHit::new(hit, request.secret_ports);
        if let Some(deadline) = next_hit_at {
            wait_until(deadline, cancel).await?;
        }
        if cancel.is_cancelled() {
            return Err(KnockError::Cancelled);
        }
        let sent = match udp_watch {
            Some(watch) => sender.send_watched(index, hit, watch),
            None => sender.send(hit),
        };
        match sent {
            Ok(method) => {
                let sent = Instant::now();
                let at = sent - started;
                report.hits[index].outcome = HitOutcome::Sent { method, at };
                on_event(&KnockEvent::HitSent { index, hit: reported, method, at });
                if !request.delay.is_zero() {
                    next_hit_at = Some(sent + request.delay);
                }
            }
            Err(source) => {
                let error = source.to_string();
                report.hits[index].outcome = HitOutcome::Failed { error: error.clone() };
                on_event(&KnockEvent::HitFailed { index, hit: reported, error });
                return Err(KnockError::Hit {
                    number: index + 1,
                    total: hits.len(),
                    hit: reported,
                    address: address.ip(),
                    source: source.into(),
                });
            }
        }
    }
    Ok(())
}

/// Resolves `host` once, within `timeout`, giving up at once when cancelled.
pub(crate) async fn resolve_cancellable(
    host: &str,
    family: AddressFamily,
    timeout: Duration,
    cancel: &CancellationToken,
) -> Result<SocketAddr, KnockError> {
    tokio::select! {
        _ = cancel.cancelled() => Err(KnockError::Cancelled),
        resolved = tokio::time::timeout(timeout, resolve(host, family)) => {
            Ok(resolved.map_err(|_| crate::target::ResolveError::TimedOut {
                host: host.to_owned(),
                seconds: timeout.as_secs(),
            })??)
        }
    }
}

/// How early the timer wakes us before a deadline; the rest is spun, because timer wheels round to whole
/// milliseconds and a knock server may check the gaps between hits.
const SPIN_MARGIN: Duration = Duration::from_millis(2);

async fn wait_until(deadline: Instant, cancel: &CancellationToken) -> Result<(), KnockError> {
    if let Some(coarse) = deadline.checked_sub(SPIN_MARGIN)
        && coarse > Instant::now()
    {
        tokio::select! {
            _ = cancel.cancelled() => return Err(KnockError::Cancelled),
            _ = tokio::time::sleep_until(coarse.into()) => {}
        }
    }
    while Instant::now() < deadline {
        std::hint::spin_loop();
    }
    Ok(())
}

/// Runs a knock on a private single-threaded runtime, for callers without one.
pub fn knock_blocking(request: &KnockRequest, on_event: impl FnMut(&KnockEvent)) -> std::io::Result<KnockReport> {
    let runtime = tokio::runtime::Builder::new_current_thread().enable_all().build()?;
    let cancel = CancellationToken::new();
    Ok(runtime.block_on(knock(request, &cancel, on_event)))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn requests_carry_the_profile_settings() {
        let text = "host = \"b\"\nfamily = \"ipv6\"\nmethod = \"connect\"\ndelay_ms = 100\nopen = \"7000,8000:udp,9000\"\nclose = \"9000,8000:udp,7000\"\n";
        let profile: Profile = toml::from_str(text).expect("profile");
        let open = KnockRequest::for_profile(&profile, "b", Action::Open).expect("open");
        assert_eq!(
            (open.family, open.method, open.delay, open.secret_ports),
            (AddressFamily::V6, Method::Connect, Duration::from_millis(100), false)
        );
        let close = KnockRequest::for_profile(&profile, "b", Action::Close).expect("close");
        assert_eq!(close.sequence.hits()[0], Hit::tcp(9000));
        let mut no_close = profile.clone();
        if let Some(knock) = no_close.sequence_mut() {
            knock.close = None;
        }
        let e = KnockRequest::for_profile(&no_close, "b", Action::Close).expect_err("no close").to_string();
        assert!(e.contains("profile edit b --close"), "{e}");
    }

    #[test]
    fn a_sequence_from_outside_the_file_is_marked_secret_and_other_kinds_have_none() {
        let secret: Profile =
            toml::from_str("host = \"h\"\nopen = { env = \"KNOCK_TEST_SEQ_NEVER_SET\" }\nclose = \"9000\"\n")
                .expect("env source");
        let e = KnockRequest::for_profile(&secret, "p", Action::Open).expect_err("unset").to_string();
        assert!(e.contains("$KNOCK_TEST_SEQ_NEVER_SET, which is not set"), "{e}");
        assert!(!KnockRequest::for_profile(&secret, "p", Action::Close).expect("inline").secret_ports);
        let spa: Profile = toml::from_str("host = \"fw\"\n[spa]\naccess = \"tcp/22\"\n").expect("spa");
        assert!(matches!(KnockRequest::for_profile(&spa, "fw", Action::Open), Err(ProfileError::NotASequence { .. })));
        assert!(matches!(
            KnockRequest::for_profile(&spa, "fw", Action::Close),
            Err(ProfileError::SpaHasNoClose { .. })
        ));
    }
}
