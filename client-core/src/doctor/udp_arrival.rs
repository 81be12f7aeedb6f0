//! The `udp_arrival` check: for each UDP hit (or the SPA packet), what came back. A port unreachable
//! from the server proves the datagram reached the server's host (a knock server capturing packets sees
//! it before its firewall); silence is normal for a port the server filters; an unreachable from another
//! address says where on the way it was dropped. From the set, what can be inferred.

use std::net::{IpAddr, SocketAddr};

use super::{Check, Status};
use crate::knock::KnockReport;
use crate::probe::icmp_errors::{HitAnswer, IcmpError};
use crate::sequence::Protocol;

/// The check, and whether any UDP datagram was proven to arrive (the `after` check says so).
pub(super) struct UdpArrival {
    pub check: Check,
    pub some_arrived: bool,
}

/// `None` when the knock had no UDP hit.
pub(super) fn check(
    report: &KnockReport,
    server: IpAddr,
    answers: &[(usize, SocketAddr, HitAnswer)],
    spa: bool,
) -> Option<UdpArrival> {
    if !report.hits.iter().any(|h| h.hit.protocol() == Protocol::Udp) || answers.is_empty() {
        return None;
    }
    let mut lines = Vec::new();
    let (mut arrived, mut silent, mut dropped, mut unwatched) = (0usize, 0usize, Vec::new(), None);
    for (index, _, answer) in answers {
        let what = match report.hits.get(*index) {
            Some(_) if spa => "the SPA packet".to_owned(),
            Some(record) => format!("hit {} ({})", index + 1, record.hit),
            None => format!("hit {}", index + 1),
        };
        let seen = match answer {
            HitAnswer::Arrived { from } => {
                arrived += 1;
                format!("arrived (port unreachable came back from {from})")
            }
            HitAnswer::NoAnswer => {
                silent += 1;
                "no answer (normal for a filtered port)".to_owned()
            }
            // The server's own firewall answered: the datagram reached its host all the same.
            HitAnswer::Error(error @ IcmpError::Unreachable { from, .. }) if *from == server => {
                arrived += 1;
                format!("arrived (the server answered {})", error.describe())
            }
            HitAnswer::Error(error) => {
                dropped.push(error.describe());
                format!("dropped on the way: {}", error.describe())
            }
            HitAnswer::NotWatched(reason) => {
                unwatched = Some(reason.clone());
                "cannot tell".to_owned()
            }
        };
        lines.push(format!("{what}: {seen}"));
    }
    if let Some(reason) = unwatched {
        let detail = format!("whether UDP datagrams arrive cannot be seen here: {reason}");
        return Some(UdpArrival { check: check_of(Status::Ok, detail, ""), some_arrived: false });
    }
    let (status, inference, advice) = if !dropped.is_empty() {
        (
            Status::Warn,
            format!(
                "{} dropped before reaching the server",
                if dropped.len() == answers.len() { "all were" } else { "some were" }
            ),
            "the packets do not reach the server: check the route (VPN?) and firewalls between you and it",
        )
    } else if silent == 0 {
        (Status::Ok, format!("every UDP datagram reached {server}"), "")
    } else if arrived > 0 {
        (
            Status::Ok,
            format!(
                "{server} is reachable; the unanswered ones were filtered (by the server or on the way), or the \
                 server's ICMP rate limit held their answers back"
            ),
            "",
        )
    } else {
        (
            Status::Ok,
            "nothing came back: normal when the server drops closed ports, so whether they arrived cannot be seen"
                .to_owned(),
            "",
        )
    };
    let detail = format!("{}; {inference}", lines.join(", "));
    Some(UdpArrival { check: check_of(status, detail, advice), some_arrived: arrived > 0 })
}

fn check_of(status: Status, detail: String, advice: &str) -> Check {
    Check { name: "udp_arrival", status, detail, advice: advice.to_owned(), family: None }
}
