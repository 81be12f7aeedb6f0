//! Did the door open? After a knock, poll a TCP connect to the service port until it answers or the
//! timeout passes; if it did not open, knock again (a fresh sequence) with backoff, up to the attempt
//! count. No knock client does this, and lossy links, SYN-eating middleboxes and servers that need a
//! moment to run their command make it the difference between "sent" and "works".
//!
//! The probe connects from the knock's bind address (if any), because the server opened the port for
//! the address the knock came from, and to the exact address that was knocked.

use std::net::{IpAddr, SocketAddr};
use std::time::{Duration, Instant};

use socket2::{Domain, Protocol, Socket, Type};
use tokio::net::TcpStream;
use tokio::task::JoinSet;
use tokio_util::sync::CancellationToken;

use crate::error::{ErrorKind, KnockError};
use crate::knock::{KnockEvent, KnockReport, KnockRequest, knock};
use std::net::Ipv4Addr;

use crate::profile::{Action, AllowIp, Profile, ProfileError, SpaSettings, Verify};
use crate::sequence::{Hit, Sequence};
use crate::spa::{AccessRequest, HmacKey, SpaKey};
use crate::target::{self, AddressFamily};

/// A fresh probe (a new connect, a new SYN) starts this often. A single connect would not do: when the
/// server opens the port a moment after our SYN was dropped, the kernel retransmits only after its 1 s
/// initial RTO, which can be longer than the whole verify window.
const PROBE_SPACING: Duration = Duration::from_millis(200);
/// How long each probe may wait for its handshake; probes overlap, so slow links are still served.
const PROBE_LIFETIME: Duration = Duration::from_secs(3);
/// At most this many probes in flight.
const MAX_PROBES_IN_FLIGHT: usize = 16;

/// The result of polling the service port after one knock.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct VerifyOutcome {
    pub address: SocketAddr,
    pub open: bool,
    /// From the end of the knock until the port answered (or the timeout passed).
    pub elapsed: Duration,
    /// Connection attempts started.
    pub probes: u32,
    /// Why the last probe failed, when the port never answered.
    pub last_error: Option<String>,
}

/// Polls `address` with overlapping TCP connects until one succeeds or `timeout` passes.
pub async fn wait_for_port(
    address: SocketAddr,
    bind: Option<IpAddr>,
    timeout: Duration,
    cancel: &CancellationToken,
) -> Result<VerifyOutcome, KnockError> {
    let started = Instant::now();
    let deadline = started + timeout;
    let mut in_flight = JoinSet::new();
    let mut probes = 0;
    let mut next_probe = started;
    let mut last_error = None;
    let outcome =
        |open, probes, last_error| VerifyOutcome { address, open, elapsed: started.elapsed(), probes, last_error };
    loop {
        let now = Instant::now();
        if now >= deadline {
            return Ok(outcome(false, probes, last_error.or_else(|| Some("no answer".to_owned()))));
        }
        if now >= next_probe && in_flight.len() < MAX_PROBES_IN_FLIGHT {
            probes += 1;
            let lifetime = PROBE_LIFETIME.min(deadline - now);
            in_flight.spawn(async move {
                match tokio::time::timeout(lifetime, connect(address, bind)).await {
                    Ok(result) => result.map(drop).map_err(|e| e.to_string()),
                    Err(_) => Err(format!("no answer within {} ms", lifetime.as_millis())),
                }
            });
            next_probe = now + PROBE_SPACING;
        }
        let wake = next_probe.min(deadline);
        tokio::select! {
            _ = cancel.cancelled() => return Err(KnockError::Cancelled),
            _ = tokio::time::sleep_until(wake.into()) => {}
            Some(finished) = in_flight.join_next(), if !in_flight.is_empty() => match finished {
                Ok(Ok(())) => return Ok(outcome(true, probes, None)),
                Ok(Err(error)) => last_error = Some(error),
                Err(join) => last_error = Some(format!("probe failed: {join}")),
            },
        }
    }
}

async fn connect(address: SocketAddr, bind: Option<IpAddr>) -> std::io::Result<TcpStream> {
    let Some(ip) = bind else {
        return TcpStream::connect(address).await;
    };
    let socket = Socket::new(Domain::for_address(address), Type::STREAM, Some(Protocol::TCP))?;
    socket.set_nonblocking(true)?;
    socket.bind(&SocketAddr::new(ip, 0).into())?;
    tokio::net::TcpSocket::from_std_stream(socket.into()).connect(address).await
}

/// Progress of [`run_profile`]: attempts, the knock's own events, verification and backoff.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ProfileEvent {
    AttemptStarted { attempt: u32, attempts: u32 },
    Knock(KnockEvent),
    VerifyStarted { address: SocketAddr, timeout: Duration },
    VerifyFinished(VerifyOutcome),
    BackingOff { next_attempt: u32, pause: Duration },
}

/// One knock and, when configured, its verification.
#[derive(Debug)]
pub struct Attempt {
    pub knock: KnockReport,
    pub verify: Option<VerifyOutcome>,
}

/// How a profile run ended.
#[derive(Debug)]
pub enum Outcome {
    /// The verify port answered.
    Opened,
    /// Every hit was sent; nothing to verify (no verify block, or a close).
    Sent,
    /// Every attempt was sent but the verify port never answered.
    NotOpened,
    /// The knock could not be sent (or the request was invalid, or cancelled).
    Failed(KnockError),
}

#[derive(Debug)]
pub struct ProfileReport {
    pub name: String,
    pub action: Action,
    pub attempts: Vec<Attempt>,
    pub outcome: Outcome,
    pub elapsed: Duration,
}

impl ProfileReport {
    pub fn last_knock(&self) -> Option<&KnockReport> {
        self.attempts.last().map(|a| &a.knock)
    }
}

/// A validated run: the knock to send and, for an open, how to verify it.
#[derive(Debug, Clone)]
pub struct Plan {
    pub name: String,
    pub action: Action,
    pub request: KnockRequest,
    /// Only for `Open`; a close is one knock.
    pub verify: Option<Verify>,
    /// For SPA profiles: the packet is built afresh for every attempt (fwknopd rejects replays).
    pub spa: Option<SpaPlan>,
}

/// What an SPA attempt needs; the keys stay in memory only (zeroized on drop, never printed).
#[derive(Debug, Clone)]
pub struct SpaPlan {
    pub settings: SpaSettings,
    pub key: SpaKey,
    pub hmac_key: HmacKey,
}

/// The environment variables that hold an SPA profile's keys, most specific first:
/// `KNOCK_SPA_KEY_BASE64_<NAME>` then `KNOCK_SPA_KEY_BASE64` (likewise `KNOCK_SPA_HMAC_KEY_BASE64`),
/// where NAME is the profile name upper-cased with `-` and `.` as `_`.
pub fn spa_key_variables(name: &str) -> [(String, String); 2] {
    let suffix: String =
        name.chars().map(|c| if c.is_ascii_alphanumeric() { c.to_ascii_uppercase() } else { '_' }).collect();
    [
        (format!("KNOCK_SPA_KEY_BASE64_{suffix}"), format!("KNOCK_SPA_HMAC_KEY_BASE64_{suffix}")),
        ("KNOCK_SPA_KEY_BASE64".to_owned(), "KNOCK_SPA_HMAC_KEY_BASE64".to_owned()),
    ]
}

impl Plan {
    /// Fails when the profile cannot describe `action` (a close without a close sequence), or an SPA
    /// profile's keys are neither given (see [`Plan::with_spa_keys`]) nor in the environment.
    pub fn new(name: &str, profile: &Profile, action: Action) -> Result<Plan, ProfileError> {
        let Some(settings) = &profile.spa else {
            return Ok(Plan {
                name: name.to_owned(),
                action,
                request: profile.knock_request(name, action)?,
                verify: profile.verify.filter(|_| action == Action::Open),
                spa: None,
            });
        };
        let (key, hmac_key) = spa_keys(name)?;
        Plan::spa(name, profile, settings, action, key, hmac_key)
    }

    /// An SPA profile's plan with keys from elsewhere (the OS keyring).
    pub fn with_spa_keys(name: &str, profile: &Profile, key: SpaKey, hmac_key: HmacKey) -> Result<Plan, ProfileError> {
        match &profile.spa {
            Some(settings) => Plan::spa(name, profile, settings, Action::Open, key, hmac_key),
            None => Plan::new(name, profile, Action::Open),
        }
    }

    fn spa(
        name: &str,
        profile: &Profile,
        settings: &SpaSettings,
        action: Action,
        key: SpaKey,
        hmac_key: HmacKey,
    ) -> Result<Plan, ProfileError> {
        if action == Action::Close {
            return Err(ProfileError::NoCloseSequence { name: name.to_owned() });
        }
        let hit = Sequence::new(vec![Hit::udp(settings.port.get())]).map_err(|_| ProfileError::NeitherKind)?;
        let mut request = KnockRequest::new(profile.host.clone(), hit);
        // The packet names an IPv4 address to let in; "local" means ours, so it must be IPv4.
        request.family = match (profile.family, settings.allow_ip) {
            (AddressFamily::Any, AllowIp::Local) => AddressFamily::V4,
            (family, _) => family,
        };
        if request.family == AddressFamily::V6 && settings.allow_ip == AllowIp::Local {
            return Err(ProfileError::SpaLocalNeedsIpv4 { name: name.to_owned() });
        }
        Ok(Plan {
            name: name.to_owned(),
            action,
            request,
            verify: profile.verify,
            spa: Some(SpaPlan { settings: settings.clone(), key, hmac_key }),
        })
    }
}

/// An SPA profile's keys: from the environment (CI), else from the OS keyring (`knock-cli profile set-key`).
fn spa_keys(name: &str) -> Result<(SpaKey, HmacKey), ProfileError> {
    match spa_keys_from_env(name) {
        Err(ProfileError::SpaKeysMissing { .. }) => {}
        found => return found,
    }
    #[cfg(any(target_os = "linux", target_os = "macos", target_os = "windows"))]
    if let Some(keys) = spa_keys_from_keyring(name)? {
        return Ok(keys);
    }
    let [(key_var, hmac_var), _] = spa_key_variables(name);
    Err(ProfileError::SpaKeysMissing { name: name.to_owned(), key_var, hmac_var })
}

/// Both keys from the keyring, or None when either is missing or there is no keyring service.
#[cfg(any(target_os = "linux", target_os = "macos", target_os = "windows"))]
fn spa_keys_from_keyring(name: &str) -> Result<Option<(SpaKey, HmacKey)>, ProfileError> {
    use crate::secrets::{SecretKind, SecretStore};
    let store = SecretStore::new();
    let (Ok(Some(key)), Ok(Some(hmac))) =
        (store.get(name, SecretKind::SpaKey), store.get(name, SecretKind::SpaHmacKey))
    else {
        return Ok(None);
    };
    let invalid =
        |var: &str, why: String| ProfileError::SpaKeyInvalid { name: name.to_owned(), var: var.to_owned(), why };
    let key = SpaKey::from_base64(key.expose()).map_err(|e| invalid("the keyring's SPA key", e.to_string()))?;
    let hmac = HmacKey::from_base64(hmac.expose()).map_err(|e| invalid("the keyring's HMAC key", e.to_string()))?;
    Ok(Some((key, hmac)))
}

fn spa_keys_from_env(name: &str) -> Result<(SpaKey, HmacKey), ProfileError> {
    let variables = spa_key_variables(name);
    for (key_var, hmac_var) in &variables {
        let (Ok(key), Ok(hmac)) = (std::env::var(key_var), std::env::var(hmac_var)) else { continue };
        // The values are secrets: errors name the variable, never the value.
        let key = SpaKey::from_base64(&key).map_err(|e| ProfileError::SpaKeyInvalid {
            name: name.to_owned(),
            var: key_var.clone(),
            why: e.to_string(),
        })?;
        let hmac = HmacKey::from_base64(&hmac).map_err(|e| ProfileError::SpaKeyInvalid {
            name: name.to_owned(),
            var: hmac_var.clone(),
            why: e.to_string(),
        })?;
        return Ok((key, hmac));
    }
    Err(ProfileError::SpaKeysMissing {
        name: name.to_owned(),
        key_var: variables[0].0.clone(),
        hmac_var: variables[0].1.clone(),
    })
}

/// Builds this attempt's SPA datagram: resolves the server, picks the address to let in, seals a fresh
/// packet. Returns the resolved address (the knock must go there) and the packet.
async fn prepare_spa(spa: &SpaPlan, request: &KnockRequest) -> Result<(std::net::SocketAddr, String), KnockError> {
    let address = target::resolve(&request.host, request.family).await?;
    let allow_ip = match spa.settings.allow_ip {
        AllowIp::Source => Ipv4Addr::UNSPECIFIED,
        AllowIp::Address(ip) => ip,
        AllowIp::Discover => {
            let url = spa.settings.discover_url.clone().unwrap_or_default();
            let found =
                tokio::task::spawn_blocking(move || target::discover_public_ipv4(&url, Duration::from_secs(10)))
                    .await
                    .map_err(|e| KnockError::Discover(e.to_string()))?;
            found.map_err(KnockError::Discover)?
        }
        AllowIp::Local => match target::local_address_towards(address) {
            Ok(IpAddr::V4(ip)) => ip,
            Ok(IpAddr::V6(_)) | Err(_) => Ipv4Addr::UNSPECIFIED,
        },
    };
    let user = spa.settings.user.clone().unwrap_or_else(crate::spa::default_username);
    let mut access = AccessRequest::new(user, allow_ip, spa.settings.access.0.clone());
    access.digest = spa.settings.digest;
    access.hmac = spa.settings.hmac;
    access.time_offset = spa.settings.time_offset_s;
    access.client_timeout = spa.settings.client_timeout_s;
    let wire = crate::spa::build(&access, &spa.key, &spa.hmac_key, std::time::SystemTime::now())?;
    Ok((address, wire))
}

/// Knocks a profile's `action` sequence; for `Open` with a verify block, verifies and retries.
pub async fn run_profile(
    name: &str,
    profile: &Profile,
    action: Action,
    cancel: &CancellationToken,
    on_event: impl FnMut(&ProfileEvent),
) -> Result<ProfileReport, ProfileError> {
    Ok(run_plan(&Plan::new(name, profile, action)?, cancel, on_event).await)
}

/// Runs a plan: knock, verify, back off and knock again, up to the attempt count.
pub async fn run_plan(
    plan: &Plan,
    cancel: &CancellationToken,
    mut on_event: impl FnMut(&ProfileEvent),
) -> ProfileReport {
    let request = &plan.request;
    let started = Instant::now();
    let verify = plan.verify;
    let attempts = verify.map_or(1, |v| v.attempts.get());
    let mut report = ProfileReport {
        name: plan.name.clone(),
        action: plan.action,
        attempts: Vec::new(),
        outcome: Outcome::NotOpened,
        elapsed: Duration::ZERO,
    };
    for attempt in 1..=attempts {
        if attempt > 1
            && let Some(verify) = verify
        {
            let pause = verify.backoff_before(attempt);
            on_event(&ProfileEvent::BackingOff { next_attempt: attempt, pause });
            tokio::select! {
                _ = cancel.cancelled() => {
                    report.outcome = Outcome::Failed(KnockError::Cancelled);
                    break;
                }
                _ = tokio::time::sleep(pause) => {}
            }
        }
        on_event(&ProfileEvent::AttemptStarted { attempt, attempts });
        let mut attempt_request = request.clone();
        if let Some(spa) = &plan.spa {
            match prepare_spa(spa, request).await {
                Ok((address, wire)) => {
                    attempt_request.host = address.ip().to_string();
                    attempt_request.udp_payload = wire.into_bytes();
                }
                Err(error) => {
                    report.outcome = Outcome::Failed(error);
                    break;
                }
            }
        }
        let mut knock_report = knock(&attempt_request, cancel, |e| on_event(&ProfileEvent::Knock(e.clone()))).await;
        if let Some(error) = knock_report.error.take() {
            // Only network trouble is worth another attempt; bad input or a refused privilege is not.
            let retry = error.kind() == ErrorKind::Network && attempt < attempts;
            report.attempts.push(Attempt { knock: knock_report, verify: None });
            if retry {
                continue;
            }
            report.outcome = Outcome::Failed(error);
            break;
        }
        let (Some(verify), Some(mut address)) = (verify, knock_report.address) else {
            report.attempts.push(Attempt { knock: knock_report, verify: None });
            report.outcome = Outcome::Sent;
            break;
        };
        address.set_port(verify.port.get());
        on_event(&ProfileEvent::VerifyStarted { address, timeout: verify.timeout() });
        match wait_for_port(address, request.bind_address, verify.timeout(), cancel).await {
            Ok(outcome) => {
                on_event(&ProfileEvent::VerifyFinished(outcome.clone()));
                let open = outcome.open;
                report.attempts.push(Attempt { knock: knock_report, verify: Some(outcome) });
                if open {
                    report.outcome = Outcome::Opened;
                    break;
                }
                report.outcome = Outcome::NotOpened;
            }
            Err(error) => {
                report.attempts.push(Attempt { knock: knock_report, verify: None });
                report.outcome = Outcome::Failed(error);
                break;
            }
        }
    }
    report.elapsed = started.elapsed();
    report
}
