//! "Did it open, and if not, why?": the checks a person would make, in order, each with a verdict
//! ([`Status`]), what was seen and what to do, and one [`Conclusion`] drawn from them. `knock-cli doctor`
//! prints a [`Diagnosis`] as text or JSON; the desktop app's Diagnose shows the same checks.
//!
//! The order matters and is the one a person would follow: resolution, raw-socket privilege, for SPA the
//! local clock against the `discover_url`'s `Date` ([`clock`]), then for each address knocked (both
//! families with `family = "both"`, [`family`]): the path (source address, NAT), the verify port **before**
//! knocking, the knock, what came back for UDP hits ([`udp_arrival`]), an SPA packet against the measured
//! path MTU ([`spa_packet`]), the verify port **after** it. The conclusion comes from the pair
//! before/after: filtered both times means the server did not act on the knock; a RST after means the
//! door opened but nothing listens; an answer only after the verify timeout means the door's command is
//! slower than the timeout. An open door is not knocked (that would stack a second firewall rule).
//!
//! Nothing here prints, and no detail names a port of a secret sequence: hits are
//! [`crate::ReportedHit`]s, which mask themselves.

mod clock;
mod family;
mod spa_packet;
mod udp_arrival;

use std::net::IpAddr;

use tokio_util::sync::CancellationToken;

use crate::knock::RESOLVE_TIMEOUT;
use crate::open::{Plan, PlanKind};
use crate::profile::{Action, Profile, ProfileError};
use crate::send::privilege::{RawPermission, raw_permission};
use crate::settings::needs_raw;
use crate::target::{self, AddressFamily};

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

/// One check: its name (`resolution`, `privilege`, `clock`, `path`, `before`, `knock`, `udp_arrival`,
/// `spa_packet`, `after`), its verdict, what was seen, and what to do (empty when nothing). `family` is
/// set on the per-address checks of a `family = "both"` profile.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Check {
    pub name: &'static str,
    pub status: Status,
    pub detail: String,
    pub advice: String,
    pub family: Option<AddressFamily>,
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
    /// The host name does not resolve.
    Unresolvable,
    /// The host resolves, but to no address of the profile's family (invalid input, as for `open`).
    NoAddressInFamily,
    /// The profile's family (`any`) did not open, but the other family's address did: the server acts on
    /// one family only; the profile should say `family = "ipv4"` or `"ipv6"`.
    WrongFamily,
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
            Conclusion::NoAddressInFamily => "no_address_in_family",
            Conclusion::WrongFamily => "wrong_family",
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

/// The conclusion for one address of a `family = "both"` profile.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FamilyDiagnosis {
    pub family: AddressFamily,
    pub address: IpAddr,
    pub conclusion: Conclusion,
}

/// Everything `doctor` found about one profile.
#[derive(Debug, Clone)]
pub struct Diagnosis {
    pub profile: String,
    pub checks: Vec<Check>,
    /// The overall conclusion; with `family = "both"`, the first family's that did not open (or, when all
    /// opened, `opened_late` if one was late, `already_open` if all were, else `opened`).
    pub conclusion: Conclusion,
    /// With `family = "both"`: one entry per address knocked (IPv4 first); empty otherwise.
    pub families: Vec<FamilyDiagnosis>,
}

impl Diagnosis {
    fn check(&mut self, name: &'static str, status: Status, detail: String, advice: impl Into<String>) {
        self.checks.push(Check { name, status, detail, advice: advice.into(), family: None });
    }

    /// The one thing to do: the last failed check's advice, else the last warning's.
    pub fn advice(&self) -> Option<&str> {
        let last = |status: Status| {
            self.checks.iter().rev().find(|c| c.status == status && !c.advice.is_empty()).map(|c| c.advice.as_str())
        };
        last(Status::Fail).or_else(|| last(Status::Warn))
    }
}

/// Runs every check on `profile` (an open), knocking at most once per address. Fails only when the
/// profile cannot be opened at all (the same refusals as `open`).
pub async fn diagnose(name: &str, profile: &Profile, cancel: &CancellationToken) -> Result<Diagnosis, ProfileError> {
    let plan = Plan::new(name, profile, Action::Open)?;
    let mut diagnosis = Diagnosis {
        profile: name.to_owned(),
        checks: Vec::new(),
        conclusion: Conclusion::Opened,
        families: Vec::new(),
    };
    diagnosis.conclusion = run_checks(&plan, cancel, &mut diagnosis).await;
    Ok(diagnosis)
}

async fn run_checks(plan: &Plan, cancel: &CancellationToken, d: &mut Diagnosis) -> Conclusion {
    let host = &plan.host;
    let spa = match &plan.kind {
        PlanKind::Spa(settings) => Some(settings),
        PlanKind::Sequence { .. } | PlanKind::Rotating { .. } => None,
    };

    // 1. Resolution: every address, which one(s) the knock uses, how long it took.
    let family = plan.family;
    let resolved = tokio::select! {
        _ = cancel.cancelled() => Err(target::ResolveError::TimedOut { host: host.clone(), seconds: 0 }),
        r = target::resolve_all(host, RESOLVE_TIMEOUT) => r,
    };
    let (addresses, took) = match resolved {
        Ok(found) => found,
        Err(error) => {
            d.check(
                "resolution",
                Status::Fail,
                error.to_string(),
                format!("check the host name {host:?} (typo? VPN or split DNS needed?), or use an IP address"),
            );
            return Conclusion::Unresolvable;
        }
    };
    // `both` knocks the first address of each family (IPv4 first), as `open` does.
    let servers: Vec<IpAddr> = match family {
        AddressFamily::Both => {
            [AddressFamily::V4, AddressFamily::V6].into_iter().filter_map(|f| target::choose(f, &addresses)).collect()
        }
        _ => target::choose(family, &addresses).into_iter().collect(),
    };
    if servers.is_empty() {
        d.check(
            "resolution",
            Status::Fail,
            format!("{host} resolves to {} but has no {family} address", list(&addresses)),
            "set the profile's family to one the host has (--family any, ipv4 or ipv6)",
        );
        return Conclusion::NoAddressInFamily;
    }
    let used = match servers.as_slice() {
        [one] if family == AddressFamily::Both => {
            format!("the knock uses {one} only (family both, but the host has no {} address)", family_of(*one).other())
        }
        [one] => format!("the knock uses {one} (family {family})"),
        many => format!("the knock uses {} (family {family}: each is knocked and verified)", list(many)),
    };
    d.check(
        "resolution",
        Status::Ok,
        format!("{host} resolves to {} in {:.0} ms; {used}", list(&addresses), took.as_secs_f64() * 1000.0),
        "",
    );

    // 2. Privilege: raw sockets, and whether this profile needs them.
    let needs = plan.tcp_sending().filter(|&(method, flags)| needs_raw(method, flags));
    match (raw_permission(), needs) {
        (RawPermission::Permitted, _) => {
            d.check("privilege", Status::Ok, format!("raw sockets permitted; {}", needed_text(needs.is_some())), "");
        }
        (RawPermission::Denied { reason, how_to_grant }, Some((method, flags))) => {
            d.check(
                "privilege",
                Status::Fail,
                format!(
                    "this profile sends TCP flags {flags} (method {}), which needs raw sockets; they are refused: {reason}",
                    method.as_str()
                ),
                how_to_grant,
            );
            return Conclusion::NeedsRawPrivilege;
        }
        (RawPermission::Denied { .. }, None) => {
            d.check(
                "privilege",
                Status::Ok,
                "raw sockets refused, not needed: plain SYNs go out with connect()".to_owned(),
                "",
            );
        }
    }

    // SPA: the keys, and the clock against a trusted time source when one is configured.
    let keys = match spa {
        Some(_) => match crate::open::read_keys(plan, cancel).await {
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
    if let Some(settings) = spa
        && let Some(check) = clock::check(settings, cancel).await
    {
        d.checks.push(check);
    }

    // 3. Each address: path, before, knock, what came back, after.
    let both = family == AddressFamily::Both && servers.len() > 1;
    let context = family::Context { plan, keys: keys.as_ref(), cancel };
    let mut families = Vec::new();
    for server in servers {
        let first = d.checks.len();
        let conclusion = family::diagnose_address(&context, server, d).await;
        if both {
            for check in &mut d.checks[first..] {
                check.family = Some(family_of(server));
            }
            families.push(FamilyDiagnosis { family: family_of(server), address: server, conclusion });
        } else {
            // `family = any` picked one family; a door that did not open there may be a server that acts
            // on the other family only (a dual-stack name, a knockd with start_command only, a firewall
            // rule for one family): knock the other family's address once to tell.
            let other = target::choose(family_of(server).other(), &addresses);
            return match other {
                Some(other) if family == AddressFamily::Any && worth_other_family(conclusion) => {
                    try_other_family(&context, server, other, conclusion, first, d).await
                }
                _ => conclusion,
            };
        }
        if cancel.is_cancelled() {
            break;
        }
    }
    let overall = overall_conclusion(&families);
    d.families = families;
    overall
}

/// A conclusion that another family's address might not share: the knock went out but nothing opened,
/// or the address was unreachable.
fn worth_other_family(conclusion: Conclusion) -> bool {
    matches!(
        conclusion,
        Conclusion::NotActedOn
            | Conclusion::RefusedBeforeAndAfter
            | Conclusion::ServerUnreachable
            | Conclusion::KnockFailed
    )
}

/// `family = any` did not open over `server`'s family: runs the per-address checks over `other` (the
/// host's address of the other family). When that opens, the conclusion is [`Conclusion::WrongFamily`]
/// with the `family` line to set; otherwise the first family's conclusion stands. The checks of both
/// addresses carry their family.
async fn try_other_family(
    context: &family::Context<'_>,
    server: IpAddr,
    other: IpAddr,
    conclusion: Conclusion,
    first: usize,
    d: &mut Diagnosis,
) -> Conclusion {
    for check in &mut d.checks[first..] {
        check.family = Some(family_of(server));
    }
    let start = d.checks.len();
    let other_conclusion = family::diagnose_address(context, other, d).await;
    for check in &mut d.checks[start..] {
        check.family = Some(family_of(other));
    }
    let (works, fails) = (family_of(other), family_of(server));
    if other_conclusion.door_opened() {
        d.check(
            "family",
            Status::Fail,
            format!(
                "{} did not open over {fails} ({server}) but opened over {works} ({other}): the server acts on \
                 {works} knocks only",
                context.plan.host
            ),
            format!(
                "set the profile's family: family = \"{works}\" (knock-cli profile edit {} --family {works}), or \
                 make the server's door open for {fails} too",
                context.plan.name
            ),
        );
        return Conclusion::WrongFamily;
    }
    d.check(
        "family",
        Status::Ok,
        format!(
            "the other family did not open either ({works}, {other}: {}): not a matter of family",
            other_conclusion.as_str()
        ),
        "",
    );
    conclusion
}

/// With several families: the first that did not open decides; when all opened, a late one says so.
fn overall_conclusion(families: &[FamilyDiagnosis]) -> Conclusion {
    if let Some(failed) = families.iter().find(|f| !f.conclusion.door_opened()) {
        return failed.conclusion;
    }
    if families.iter().any(|f| f.conclusion == Conclusion::OpenedLate) {
        Conclusion::OpenedLate
    } else if families.iter().all(|f| f.conclusion == Conclusion::AlreadyOpen) {
        Conclusion::AlreadyOpen
    } else {
        Conclusion::Opened
    }
}

fn needed_text(needs: bool) -> &'static str {
    if needs { "this profile needs them" } else { "this profile does not need them" }
}

fn list(addresses: &[IpAddr]) -> String {
    addresses.iter().map(IpAddr::to_string).collect::<Vec<_>>().join(", ")
}

/// The family a knock used, for text (`ipv4`/`ipv6`).
pub(crate) fn family_of(ip: IpAddr) -> AddressFamily {
    if ip.is_ipv4() { AddressFamily::V4 } else { AddressFamily::V6 }
}

trait OtherFamily {
    fn other(self) -> AddressFamily;
}

impl OtherFamily for AddressFamily {
    fn other(self) -> AddressFamily {
        if self == AddressFamily::V4 { AddressFamily::V6 } else { AddressFamily::V4 }
    }
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
    fn with_both_families_the_first_that_did_not_open_decides() {
        let at = |conclusion, v6: bool| FamilyDiagnosis {
            family: if v6 { AddressFamily::V6 } else { AddressFamily::V4 },
            address: if v6 { IpAddr::from([0u16; 8]) } else { IpAddr::from([0u8; 4]) },
            conclusion,
        };
        let open = [at(Conclusion::Opened, false), at(Conclusion::AlreadyOpen, true)];
        assert_eq!(overall_conclusion(&open), Conclusion::Opened);
        let late = [at(Conclusion::Opened, false), at(Conclusion::OpenedLate, true)];
        assert_eq!(overall_conclusion(&late), Conclusion::OpenedLate);
        let half = [at(Conclusion::Opened, false), at(Conclusion::NotActedOn, true)];
        assert_eq!(overall_conclusion(&half), Conclusion::NotActedOn);
        let both = [at(Conclusion::AlreadyOpen, false), at(Conclusion::AlreadyOpen, true)];
        assert_eq!(overall_conclusion(&both), Conclusion::AlreadyOpen);
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
