//! The checks on one address the knock goes to (each family's with `family = "both"`): the path, the
//! verify port before knocking, the knock, what came back for UDP hits, an SPA packet against the path
//! MTU, the verify port after, and the conclusion from before/after.

use std::net::{IpAddr, SocketAddr};
use std::time::{Duration, Instant};

use tokio_util::sync::CancellationToken;

use super::{Conclusion, Diagnosis, Status, spa_packet, udp_arrival};
use crate::error::{KeysError, KnockError};
use crate::knock::{HitOutcome, KnockReport, knock_watching};
use crate::open::{Plan, PlanKind};
use crate::probe::icmp_errors::UdpErrorWatch;
use crate::profile::AllowIp;
use crate::secrets::SpaKeys;
use crate::sequence::{Hit, Sequence};
use crate::target;
use crate::verify::{PortState, probe_port, wait_for_port};
use crate::wording::plural;

/// How long the verify port is probed before knocking.
const BEFORE_BUDGET: Duration = Duration::from_secs(1);
/// After the verify timeout passed without an answer, keep watching this much longer (at most), to tell
/// a slow door from one that never opens.
const LATE_WINDOW: Duration = Duration::from_secs(10);
/// How long to wait for ICMP answers to UDP hits when there is no verify wait to overlap with.
const UDP_ANSWER_WINDOW: Duration = Duration::from_millis(500);

/// What every address's checks share.
pub(super) struct Context<'a> {
    pub plan: &'a Plan,
    pub keys: Option<&'a SpaKeys>,
    pub cancel: &'a CancellationToken,
}

/// Runs the per-address checks against `server`, knocking at most once, and concludes.
pub(super) async fn diagnose_address(cx: &Context<'_>, server: IpAddr, d: &mut Diagnosis) -> Conclusion {
    let plan = cx.plan;
    let spa = match &plan.kind {
        PlanKind::Spa(settings) => Some(settings),
        PlanKind::Sequence { .. } | PlanKind::Rotating { .. } => None,
    };

    // The path: the source address the server will see, and whether a NAT rewrites it.
    let mut nat_breaks_spa = false;
    match target::local_address_towards(SocketAddr::new(server, 9)) {
        Ok(source) => {
            let nat = target::nat_likely(source, server);
            let spa_local = spa.is_some_and(|s| s.allow_ip == AllowIp::Local);
            let (status, advice) = if nat && spa_local {
                nat_breaks_spa = true;
                (
                    Status::Fail,
                    "the SPA packet names this private address, but the server sees the NAT's: set \
                     allow_ip = \"source\" (--allow-source) or \"discover\" with a discover_url",
                )
            } else {
                (Status::Ok, "")
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

    // Before knocking: the verify port's state.
    let Some(verify) = plan.verify else {
        return knock_unverified(cx, server, d).await;
    };
    let target = SocketAddr::new(server, verify.port.get());
    let before = probe_port(target, None, BEFORE_BUDGET).await;
    let (status, advice) = match &before {
        // Answering before any knock is either a knock of the last minutes, or a door that protects
        // nothing (the port is open to everyone): doctor cannot tell which, so it says both.
        PortState::Answers => (
            Status::Warn,
            "the port answers before any knock: unless a knock opened it in the last minutes, the firewall lets \
             everyone in and the door protects nothing; close it (or wait for the door's timeout) and run doctor \
             again: it must not answer then (doctor is not knocking an open door: that would stack firewall rules)",
        ),
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

    // The knock, with per-hit timing.
    let watch = UdpErrorWatch::new();
    let report = match knock_once(cx, server, &watch).await {
        Ok(report) => report,
        Err(error) => return knock_failed(&error, d),
    };
    if let Some(error) = &report.error {
        return knock_failed(error, d);
    }
    d.check("knock", Status::Ok, knock_detail(&report), "");

    // After: the verify port again, while the ICMP answers to UDP hits come in and the path MTU is
    // measured for an SPA packet.
    let timeout = verify.timeout();
    let (answers, mtu, after) = tokio::join!(
        watch.collect(timeout.min(UDP_ANSWER_WINDOW)),
        spa_packet::measure(spa.map(|_| report.request.udp_payload.len()), server),
        wait_for_port(target, None, timeout, cx.cancel),
    );
    let udp = udp_arrival::check(&report, server, &answers, spa.is_some());
    let udp_arrived = udp.as_ref().is_some_and(|u| u.some_arrived);
    if let Some(udp) = udp {
        d.checks.push(udp.check);
    }
    let packet_too_big = mtu.as_ref().is_some_and(|c| c.status != Status::Ok);
    if let Some(mtu) = mtu {
        d.checks.push(mtu);
    }
    let after = match after {
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
        && let Ok(late) = wait_for_port(target, None, late_window, cx.cancel).await
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
            let arrived = if udp_arrived { "; the UDP hits arrived, so the server's host got the knock" } else { "" };
            let advice = if packet_too_big {
                "the SPA packet is larger than the path MTU (see spa_packet): it was fragmented, and fwknopd does \
                 not act on a fragmented packet; shorten the access list or user name, or raise the link's MTU"
                    .to_owned()
            } else {
                not_acted_on_advice(plan)
            };
            d.check(
                "after",
                Status::Fail,
                detail + "; filtered before and after: the server did not act on the knock" + arrived,
                advice,
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

fn not_acted_on_advice(plan: &Plan) -> String {
    let secret = match &plan.kind {
        PlanKind::Spa(_) => {
            return "check the keys match the server's access.conf, fwknopd listens on this interface, and the \
                    clock is within 120 s of the server's"
                .to_owned();
        }
        PlanKind::Sequence { secret, .. } => *secret,
        PlanKind::Rotating { .. } => true,
    };
    format!(
        "check the sequence matches the server's door{}, the server listens on this interface, and that your \
         packets arrive from the address you expect",
        if secret { " (it comes from the environment)" } else { "" }
    )
}

/// One knock to `server` (resolved already); for SPA a freshly sealed packet. UDP hits go out through
/// `watch`, so what comes back for them can be read.
async fn knock_once(cx: &Context<'_>, server: IpAddr, watch: &UdpErrorWatch) -> Result<KnockReport, KnockError> {
    let plan = cx.plan;
    let mut request = match &plan.kind {
        PlanKind::Sequence { sequence, .. } => plan.attempt_request(sequence.clone()),
        PlanKind::Spa(settings) => {
            // The keys were read before the first address (a failure there ends the diagnosis).
            let keys = cx.keys.ok_or(KeysError::NotRead)?;
            let wire = crate::open::spa_attempt::seal(settings, keys, SocketAddr::new(server, 0), cx.cancel).await?;
            let mut request = plan.attempt_request(Sequence::from(Hit::udp(settings.port.get())));
            request.udp_payload = wire.into_bytes();
            request
        }
        PlanKind::Rotating { knock, .. } => {
            // The current window's sequence, derived with the door key.
            let key = crate::open::read_rotating_key(plan, cx.cancel).await?;
            let now = std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).map_or(0, |d| d.as_secs());
            let rotation = &knock.rotation;
            plan.attempt_request(rotation.sequence(&key, rotation.window(now)).map_err(KeysError::from)?)
        }
    };
    request.resolved = Some(server);
    Ok(knock_watching(&request, cx.cancel, |_| {}, Some(watch)).await)
}

async fn knock_unverified(cx: &Context<'_>, server: IpAddr, d: &mut Diagnosis) -> Conclusion {
    d.check(
        "before",
        Status::Warn,
        "the profile has no verify port: whether the door opens cannot be seen".to_owned(),
        format!("add one: knock-cli profile edit {} --verify-port PORT", cx.plan.name),
    );
    let watch = UdpErrorWatch::new();
    match knock_once(cx, server, &watch).await {
        Ok(report) if report.error.is_none() => {
            d.check("knock", Status::Ok, knock_detail(&report), "");
            let spa = matches!(cx.plan.kind, PlanKind::Spa(_));
            let (answers, mtu) = tokio::join!(
                watch.collect(UDP_ANSWER_WINDOW),
                spa_packet::measure(spa.then_some(report.request.udp_payload.len()), server),
            );
            if let Some(udp) = udp_arrival::check(&report, server, &answers, spa) {
                d.checks.push(udp.check);
            }
            if let Some(mtu) = mtu {
                d.checks.push(mtu);
            }
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
