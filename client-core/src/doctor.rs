//! "Did it open, and if not, why?": the checks a person would make, in order, each with a verdict
//! ([`Status`]), what was seen and what to do, and one [`Conclusion`] drawn from them. `knock-cli doctor`
//! prints a [`Diagnosis`] as text or JSON; the desktop app's Diagnose shows the same checks.
//!
//! The order matters and is the one a person would follow: resolution, the path (source address, NAT),
//! raw-socket privilege, the verify port **before** knocking, the knock, the verify port **after** it.
//! The conclusion comes from the pair before/after: filtered both times means the server did not act on
//! the knock; a RST after means the door opened but nothing listens; an answer only after the verify
//! timeout means the door's command is slower than the timeout. An open door is not knocked (that would
//! stack a second firewall rule).
//!
//! Nothing here prints, and no detail names a port of a secret sequence: hits are
//! [`crate::ReportedHit`]s, which mask themselves.

use std::net::{IpAddr, SocketAddr};
use std::time::{Duration, Instant};

use tokio_util::sync::CancellationToken;

use crate::error::KnockError;
use crate::knock::{HitOutcome, KnockReport, knock, needs_raw};
use crate::open::{Plan, plural};
use crate::profile::{Action, AllowIp, Profile, ProfileError, ProfileKind};
use crate::send::privilege::{RawPermission, raw_permission};
use crate::target::{self, AddressFamily};
use crate::verify::{PortState, probe_port, wait_for_port};

/// How long the verify port is probed before knocking.
const BEFORE_BUDGET: Duration = Duration::from_secs(1);
/// After the verify timeout passed without an answer, keep watching this much longer (at most), to tell
/// a slow door from one that never opens.
const LATE_WINDOW: Duration = Duration::from_secs(10);
/// An SPA datagram above this may be fragmented or dropped on some paths (IPv6's minimum MTU of 1280
/// minus the IPv6 and UDP headers).
const SPA_SAFE_PAYLOAD: usize = 1232;

/// A check's verdict.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Status {
    Ok,
    Warn,
    Fail,
}

impl Status {
    pub fn as_str(self) -> &'static str {
        match self {
            Status::Ok => "ok",
            Status::Warn => "warn",
            Status::Fail => "fail",
        }
    }
}

/// One check: its name (`resolution`, `path`, `privilege`, `before`, `knock`, `after`, `spa_packet`),
/// its verdict, what was seen, and what to do (empty when nothing).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Check {
    pub name: &'static str,
    pub status: Status,
    pub detail: String,
    pub advice: String,
}

/// The cause found, as a fixed identifier (see [`Conclusion::as_str`]).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Conclusion {
    /// The verify port answered after the knock.
    Opened,
    /// The verify port answered before knocking: nothing was sent.
    AlreadyOpen,
    /// Filtered before and after the knock.
    NotActedOn,
    /// Filtered before, refused (RST) after: the door opened, nothing listens.
    NotListening,
    /// Refused before and after: a REJECT rule the knock did not lift, or nothing listens.
    RefusedBeforeAndAfter,
    /// Answered only after the verify timeout.
    OpenedLate,
    /// ICMP unreachable or no route: the packets do not reach the server.
    ServerUnreachable,
    /// The host name does not resolve (in the profile's family).
    Unresolvable,
    /// The profile needs raw sockets and this process may not open them.
    NeedsRawPrivilege,
    /// An SPA packet naming our private address crosses a NAT: the server opens for the wrong address.
    NatForSpa,
    /// The knock could not be sent for another reason (see the `knock` check).
    KnockFailed,
    /// Sent, but the profile has no verify port: whether it opened cannot be seen.
    Unverified,
}

impl Conclusion {
    pub fn as_str(self) -> &'static str {
        match self {
            Conclusion::Opened => "opened",
            Conclusion::AlreadyOpen => "already_open",
            Conclusion::NotActedOn => "not_acted_on",
            Conclusion::NotListening => "not_listening",
            Conclusion::RefusedBeforeAndAfter => "refused_before_and_after",
            Conclusion::OpenedLate => "opened_late",
            Conclusion::ServerUnreachable => "server_unreachable",
            Conclusion::Unresolvable => "unresolvable",
            Conclusion::NeedsRawPrivilege => "needs_raw_privilege",
            Conclusion::NatForSpa => "nat_for_spa",
            Conclusion::KnockFailed => "knock_failed",
            Conclusion::Unverified => "unverified",
        }
    }

    /// Whether the door is (or became) open: `opened`, `already_open`, `opened_late`.
    pub fn door_opened(self) -> bool {
        matches!(self, Conclusion::Opened | Conclusion::AlreadyOpen | Conclusion::OpenedLate)
    }
}

/// Everything `doctor` found about one profile.
#[derive(Debug, Clone)]
pub struct Diagnosis {
    pub profile: String,
    pub checks: Vec<Check>,
    pub conclusion: Conclusion,
}

impl Diagnosis {
    fn check(&mut self, name: &'static str, status: Status, detail: String, advice: impl Into<String>) {
        self.checks.push(Check { name, status, detail, advice: advice.into() });
    }

    /// The last check's advice that is not empty: the one thing to do.
    pub fn advice(&self) -> Option<&str> {
        self.checks.iter().rev().find(|c| c.status != Status::Ok && !c.advice.is_empty()).map(|c| c.advice.as_str())
    }
}

/// Runs every check on `profile` (an open), knocking at most once. Fails only when the profile cannot be
/// opened at all (the same refusals as `open`).
pub async fn diagnose(name: &str, profile: &Profile, cancel: &CancellationToken) -> Result<Diagnosis, ProfileError> {
    let plan = Plan::new(name, profile, Action::Open)?;
    let mut diagnosis = Diagnosis { profile: name.to_owned(), checks: Vec::new(), conclusion: Conclusion::Opened };
    diagnosis.conclusion = run_checks(&plan, profile, cancel, &mut diagnosis).await;
    Ok(diagnosis)
}

async fn run_checks(plan: &Plan, profile: &Profile, cancel: &CancellationToken, d: &mut Diagnosis) -> Conclusion {
    let request = &plan.request;
    let spa = plan.spa.as_ref();

    // 1. Resolution: every address, which one is used, how long it took.
    let family = request.family;
    let resolved = tokio::select! {
        _ = cancel.cancelled() => Err(target::ResolveError::TimedOut { host: request.host.clone(), seconds: 0 }),
        r = target::resolve_all(&request.host, request.resolve_timeout) => r,
    };
    let (addresses, took) = match resolved {
        Ok(found) => found,
        Err(error) => {
            d.check(
                "resolution",
                Status::Fail,
                error.to_string(),
                format!(
                    "check the host name {:?} (typo? VPN or split DNS needed?), or use an IP address",
                    request.host
                ),
            );
            return Conclusion::Unresolvable;
        }
    };
    let Some(server) = target::choose(family, &addresses) else {
        d.check(
            "resolution",
            Status::Fail,
            format!("{} resolves to {} but has no {family} address", request.host, list(&addresses)),
            "set the profile's family to one the host has (--family any, ipv4 or ipv6)",
        );
        return Conclusion::Unresolvable;
    };
    d.check(
        "resolution",
        Status::Ok,
        format!(
            "{} resolves to {} in {:.0} ms; the knock uses {server} (family {family})",
            request.host,
            list(&addresses),
            took.as_secs_f64() * 1000.0
        ),
        "",
    );

    // 2. The path: the source address the server will see, and whether a NAT rewrites it.
    let mut nat_breaks_spa = false;
    match target::local_address_towards(SocketAddr::new(server, 9)) {
        Ok(source) => {
            let nat = target::nat_likely(source, server);
            let spa_local = spa.is_some_and(|s| s.allow_ip == AllowIp::Local);
            let (status, advice) = match (nat, spa_local) {
                (true, true) => {
                    nat_breaks_spa = true;
                    (
                        Status::Fail,
                        "the SPA packet names this private address, but the server sees the NAT's: set \
                         allow_ip = \"source\" (--allow-source) or \"discover\" with a discover_url",
                    )
                }
                (true, false) => (Status::Ok, ""),
                (false, _) => (Status::Ok, ""),
            };
            let seen = if nat {
                format!("{source} is private: a NAT will most likely rewrite it towards {server}")
            } else {
                format!("the server sees {source} as the source")
            };
            d.check("path", status, format!("local source address {source}; {seen}"), advice);
        }
        Err(error) => {
            d.check(
                "path",
                Status::Fail,
                format!("no route to {server}: {error}"),
                "check the network connection (and a VPN, if the server is only reachable through it)",
            );
            return Conclusion::ServerUnreachable;
        }
    }

    // 3. Privilege: raw sockets, and whether this profile needs them.
    let needs = spa.is_none() && needs_raw(request.method, request.tcp_flags);
    match (raw_permission(), needs) {
        (RawPermission::Permitted, _) => {
            d.check("privilege", Status::Ok, format!("raw sockets permitted; {}", needed_text(needs)), "");
        }
        (RawPermission::Denied { reason, how_to_grant }, true) => {
            d.check(
                "privilege",
                Status::Fail,
                format!(
                    "this profile sends TCP flags {} (method {}), which needs raw sockets; they are refused: {reason}",
                    request.tcp_flags,
                    request.method.as_str()
                ),
                how_to_grant,
            );
            return Conclusion::NeedsRawPrivilege;
        }
        (RawPermission::Denied { .. }, false) => {
            d.check(
                "privilege",
                Status::Ok,
                "raw sockets refused, not needed: plain SYNs go out with connect()".to_owned(),
                "",
            );
        }
    }

    // SPA: the packet size (the clock check needs a trusted time source, see the README).
    let keys = match spa {
        Some(_) => match crate::open::read_keys(&plan.name, cancel).await {
            Ok(keys) => Some(keys),
            Err(error) => {
                d.check(
                    "spa_packet",
                    Status::Fail,
                    error.to_string(),
                    "store the keys: knock-cli profile set-key NAME",
                );
                return Conclusion::KnockFailed;
            }
        },
        None => None,
    };

    // 4. Before knocking: the verify port's state.
    let Some(verify) = plan.verify else {
        return knock_unverified(plan, server, keys.as_ref(), cancel, d).await;
    };
    let target = SocketAddr::new(server, verify.port.get());
    let before = probe_port(target, request.bind_address, BEFORE_BUDGET).await;
    let (status, advice) = match &before {
        PortState::Answers => {
            (Status::Ok, "nothing to do: not knocking an open door (that would stack firewall rules)")
        }
        PortState::Refused | PortState::NoAnswer => (Status::Ok, ""),
        PortState::Unreachable(_) | PortState::Error(_) => {
            (Status::Fail, "the server is not reachable: check it is up and the address is right")
        }
    };
    d.check(
        "before",
        status,
        format!("port {} of {server} before knocking: {}", verify.port, before.describe()),
        advice,
    );
    match before {
        PortState::Answers => return Conclusion::AlreadyOpen,
        PortState::Unreachable(_) => return Conclusion::ServerUnreachable,
        _ => {}
    }

    // 5. The knock, with per-hit timing.
    let report = match knock_once(plan, server, keys.as_ref(), cancel).await {
        Ok(report) => report,
        Err(error) => return knock_failed(&error, d),
    };
    if let Some(error) = &report.error {
        return knock_failed(error, d);
    }
    d.check("knock", Status::Ok, knock_detail(&report), "");
    if let Some(size) = spa.map(|_| report.request.udp_payload.len()) {
        let (status, advice) = if size > SPA_SAFE_PAYLOAD {
            (Status::Warn, "shorten the access list or user name: large datagrams may be fragmented and dropped")
        } else {
            (Status::Ok, "")
        };
        d.check("spa_packet", status, format!("SPA packet of {size} bytes (safe below {SPA_SAFE_PAYLOAD})"), advice);
    }

    // 6. After: the verify port again, then a while longer to catch a slow door.
    let timeout = verify.timeout();
    let after = match wait_for_port(target, request.bind_address, timeout, cancel).await {
        Ok(after) => after,
        Err(error) => return knock_failed(&error, d),
    };
    if after.open {
        d.check(
            "after",
            Status::Ok,
            format!("port {} answered {:.2} s after the knock", verify.port, after.elapsed.as_secs_f64()),
            "",
        );
        return Conclusion::Opened;
    }
    let after_state = after.last_state.clone().unwrap_or(PortState::NoAnswer);
    // Keep looking: an answer now means the door was slower than the timeout.
    let started = Instant::now();
    let late_window = LATE_WINDOW.min(timeout.saturating_mul(3).max(Duration::from_secs(3)));
    if matches!(after_state, PortState::NoAnswer)
        && let Ok(late) = wait_for_port(target, request.bind_address, late_window, cancel).await
        && late.open
    {
        let at = timeout + started.elapsed();
        let suggested = (at.as_millis() as u64).saturating_mul(3) / 2;
        d.check(
            "after",
            Status::Warn,
            format!(
                "port {} did not answer within the verify timeout of {:.1} s, but answered after {:.1} s",
                verify.port,
                timeout.as_secs_f64(),
                at.as_secs_f64()
            ),
            format!(
                "raise the verify timeout above the door's command time: knock-cli profile edit {} --verify-timeout {}",
                plan.name,
                suggested.max(1000)
            ),
        );
        return Conclusion::OpenedLate;
    }
    let detail = format!(
        "port {} of {server} after knocking ({:.1} s): {}",
        verify.port,
        (timeout + started.elapsed()).as_secs_f64(),
        after_state.describe()
    );
    match (&before, &after_state, nat_breaks_spa) {
        (_, PortState::NoAnswer, true) => {
            d.check(
                "after",
                Status::Fail,
                detail,
                "the server let in the address named in the packet, not the NAT's: use allow_ip = \"source\" or \"discover\"",
            );
            Conclusion::NatForSpa
        }
        (_, PortState::NoAnswer, false) => {
            d.check(
                "after",
                Status::Fail,
                detail + "; filtered before and after: the server did not act on the knock",
                not_acted_on_advice(profile, spa.is_some()),
            );
            Conclusion::NotActedOn
        }
        (PortState::NoAnswer, PortState::Refused, _) => {
            d.check(
                "after",
                Status::Fail,
                detail + "; filtered before, RST after: the door opened but nothing listens on the port",
                format!("start the service on port {} of the server, or fix the profile's verify port", verify.port),
            );
            Conclusion::NotListening
        }
        (_, PortState::Refused, _) => {
            d.check(
                "after",
                Status::Fail,
                detail + "; refused before and after: a REJECT rule the knock did not lift, or nothing listens",
                format!(
                    "check the service listens on port {} and the server's door removes the REJECT rule for your address",
                    verify.port
                ),
            );
            Conclusion::RefusedBeforeAndAfter
        }
        (_, PortState::Unreachable(_), _) => {
            d.check(
                "after",
                Status::Fail,
                detail,
                "the server is not reachable: check it is up and the address is right",
            );
            Conclusion::ServerUnreachable
        }
        _ => {
            d.check("after", Status::Fail, detail, "");
            Conclusion::KnockFailed
        }
    }
}

fn not_acted_on_advice(profile: &Profile, spa: bool) -> String {
    if spa {
        return "check the keys match the server's access.conf, fwknopd listens on this interface, and the clock is \
                within 120 s of the server's"
            .to_owned();
    }
    let secret = match &profile.kind {
        ProfileKind::Sequence(knock) => knock.open.is_secret(),
        ProfileKind::Spa(_) => false,
        ProfileKind::Rotating(_) => true,
    };
    format!(
        "check the sequence matches the server's door{}, the server listens on this interface, and that your \
         packets arrive from the address you expect",
        if secret { " (it comes from the environment)" } else { "" }
    )
}

fn needed_text(needs: bool) -> &'static str {
    if needs { "this profile needs them" } else { "this profile does not need them" }
}

fn list(addresses: &[IpAddr]) -> String {
    addresses.iter().map(IpAddr::to_string).collect::<Vec<_>>().join(", ")
}

/// One knock to `server` (resolved already); for SPA a freshly sealed packet.
async fn knock_once(
    plan: &Plan,
    server: IpAddr,
    keys: Option<&crate::secrets::SpaKeys>,
    cancel: &CancellationToken,
) -> Result<KnockReport, KnockError> {
    let mut request = plan.request.clone();
    request.resolved = Some(server);
    if let Some(rotation) = &plan.rotating {
        // The current window's sequence (the plan holds a stand-in until the key is read).
        let key = crate::open::read_rotating_key(&plan.name, cancel).await?;
        let now = std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).map_or(0, |d| d.as_secs());
        request.sequence =
            rotation.sequence(&key, rotation.window(now)).map_err(|e| KnockError::Keys(e.to_string()))?;
    }
    if let (Some(settings), Some(keys)) = (&plan.spa, keys) {
        let wire = crate::spa::attempt::seal(settings, keys, SocketAddr::new(server, 0), cancel).await?;
        request.udp_payload = wire.into_bytes();
    }
    Ok(knock(&request, cancel, |_| {}).await)
}

async fn knock_unverified(
    plan: &Plan,
    server: IpAddr,
    keys: Option<&crate::secrets::SpaKeys>,
    cancel: &CancellationToken,
    d: &mut Diagnosis,
) -> Conclusion {
    d.check(
        "before",
        Status::Warn,
        "the profile has no verify port: whether the door opens cannot be seen".to_owned(),
        format!("add one: knock-cli profile edit {} --verify-port PORT", plan.name),
    );
    match knock_once(plan, server, keys, cancel).await {
        Ok(report) if report.error.is_none() => {
            d.check("knock", Status::Ok, knock_detail(&report), "");
            Conclusion::Unverified
        }
        Ok(report) => knock_failed(report.error.as_ref().unwrap_or(&KnockError::Cancelled), d),
        Err(error) => knock_failed(&error, d),
    }
}

fn knock_failed(error: &KnockError, d: &mut Diagnosis) -> Conclusion {
    match error {
        KnockError::RawNotPermitted { how_to_grant, .. } => {
            d.check("knock", Status::Fail, error.to_string(), how_to_grant.clone());
            Conclusion::NeedsRawPrivilege
        }
        _ => {
            d.check("knock", Status::Fail, error.to_string(), "see the error; `knock-cli open -v NAME` shows each hit");
            Conclusion::KnockFailed
        }
    }
}

/// `3 hits sent to 192.0.2.2 in 2.1 ms: 7000:tcp at 0.0 ms, ...` (secret ports print as `*`).
fn knock_detail(report: &KnockReport) -> String {
    let hits: Vec<String> = report
        .hits
        .iter()
        .map(|h| match &h.outcome {
            HitOutcome::Sent { at, .. } => format!("{} at {:.1} ms", h.hit, at.as_secs_f64() * 1000.0),
            HitOutcome::Failed { error } => format!("{} failed: {error}", h.hit),
            HitOutcome::NotSent => format!("{} not sent", h.hit),
        })
        .collect();
    let to = report.address.map_or_else(|| "?".to_owned(), |a| a.ip().to_string());
    let method = report.tcp_method.map_or(String::new(), |m| format!(" (TCP by {})", m.as_str()));
    format!(
        "{} sent to {to} in {:.1} ms{method}: {}",
        plural(report.hits_sent(), "hit"),
        report.elapsed.as_secs_f64() * 1000.0,
        hits.join(", ")
    )
}

/// The family a knock used, for text (`ipv4`/`ipv6`).
pub fn family_of(ip: IpAddr) -> AddressFamily {
    if ip.is_ipv4() { AddressFamily::V4 } else { AddressFamily::V6 }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn conclusions_have_stable_identifiers_and_only_openings_count_as_open() {
        assert_eq!(Conclusion::NotActedOn.as_str(), "not_acted_on");
        assert_eq!(Conclusion::NatForSpa.as_str(), "nat_for_spa");
        assert!(Conclusion::OpenedLate.door_opened());
        assert!(!Conclusion::NotListening.door_opened());
    }

    #[test]
    fn an_unresolvable_host_is_concluded_without_sending_anything() {
        let rt = tokio::runtime::Builder::new_current_thread().enable_all().build().expect("runtime");
        let profile: Profile =
            toml::from_str("host = \"no-such-host.invalid\"\nopen = \"7000\"\n[verify]\nport = 22\n").expect("profile");
        let d = rt.block_on(diagnose("x", &profile, &CancellationToken::new())).expect("diagnosis");
        assert_eq!(d.conclusion, Conclusion::Unresolvable);
        assert_eq!(d.checks.len(), 1);
        assert_eq!(d.checks[0].status, Status::Fail);
        assert!(d.advice().is_some_and(|a| a.contains("host name")), "{d:?}");
    }
}
