//! The `clock` check of an SPA profile: fwknopd rejects a packet whose timestamp is more than 120 s
//! (its default `MAX_SPA_PACKET_AGE`) from its own clock, so a skewed local clock fails every knock.
//! The trusted time source is the `Date` header of the profile's `discover_url`, asked over the same
//! HTTPS-only client as discovery; without a `discover_url` there is nothing to compare with, and no check.

use std::time::{Duration, Instant, SystemTime};

use thiserror::Error;
use tokio_util::sync::CancellationToken;

use super::{Check, Status};
use crate::discover::{DiscoverError, discovery_agent};
use crate::profile::SpaSettings;

/// Why the server's clock could not be read.
#[derive(Debug, Error)]
enum ClockError {
    #[error("cancelled")]
    Cancelled,
    #[error("the request did not finish: {0}")]
    Stopped(tokio::task::JoinError),
    #[error(transparent)]
    Client(#[from] DiscoverError),
    #[error("discover_url {url:?} is not an https:// URL")]
    NotHttps { url: String },
    #[error("cannot ask {url}: {source}")]
    Request { url: String, source: Box<ureq::Error> },
    #[error("{url} sent no Date header")]
    NoDate { url: String },
    #[error("{url} sent a Date header that is not text")]
    DateNotText { url: String },
    #[error("{url} sent Date {shown:?}, not an HTTP date")]
    NotHttpDate { url: String, shown: String },
}

/// fwknopd's default window for a packet's age (either way).
pub(super) const FWKNOPD_MAX_AGE_S: i64 = 120;
/// The request may take this long.
const TIMEOUT: Duration = Duration::from_secs(5);

/// `None` when the profile has no `discover_url`.
pub(super) async fn check(settings: &SpaSettings, cancel: &CancellationToken) -> Option<Check> {
    let url = settings.discover_url.clone()?;
    let asked = url.clone();
    let fetched = tokio::task::spawn_blocking(move || server_date(&asked));
    let found = tokio::select! {
        _ = cancel.cancelled() => Err(ClockError::Cancelled),
        found = fetched => found.unwrap_or_else(|e| Err(ClockError::Stopped(e))),
    };
    let (status, detail, advice) = match found {
        Ok(skew_s) => judge(skew_s, settings.time_offset_s, &url),
        Err(error) => (
            Status::Warn,
            format!("cannot compare the clock with {url}: {error}"),
            "check discover_url answers over HTTPS; fwknopd rejects packets more than 120 s off its clock".to_owned(),
        ),
    };
    Some(Check { name: "clock", status, detail, advice, family: None })
}

/// The verdict for a local clock `skew_s` seconds ahead of the server's (negative: behind), with the
/// profile's `time_offset_s` added to every packet's timestamp.
fn judge(skew_s: i64, time_offset_s: i64, url: &str) -> (Status, String, String) {
    let packet_skew = skew_s.saturating_add(time_offset_s);
    let offset = if time_offset_s != 0 {
        format!("; with time_offset_s = {time_offset_s} the packets are {} off", seconds(packet_skew))
    } else {
        String::new()
    };
    let detail = format!("the local clock is {} the Date of {url}{offset}", relative(skew_s));
    if packet_skew.abs() > FWKNOPD_MAX_AGE_S {
        (
            Status::Warn,
            format!(
                "{detail}: beyond fwknopd's {FWKNOPD_MAX_AGE_S} s window, so a server whose clock agrees with it rejects the packets"
            ),
            format!(
                "set this computer's clock (turn on NTP, e.g. timedatectl set-ntp true), or set time_offset_s = {} \
                 in the profile",
                time_offset_s.saturating_sub(packet_skew)
            ),
        )
    } else {
        (Status::Ok, format!("{detail} (within fwknopd's {FWKNOPD_MAX_AGE_S} s window)"), String::new())
    }
}

fn relative(skew_s: i64) -> String {
    match skew_s {
        0 => "in step with (within a second of)".to_owned(),
        s if s > 0 => format!("{} ahead of", seconds(s)),
        s => format!("{} behind", seconds(s)),
    }
}

fn seconds(s: i64) -> String {
    format!("{} s", s.unsigned_abs())
}

/// How far the local clock is ahead of the server's `Date` (seconds; the local time taken half-way
/// through the request, as the server wrote its Date then). Blocking.
fn server_date(url: &str) -> Result<i64, ClockError> {
    let agent = discovery_agent(TIMEOUT)?;
    if !url.get(..8).is_some_and(|scheme| scheme.eq_ignore_ascii_case("https://")) {
        return Err(ClockError::NotHttps { url: url.to_owned() });
    }
    let sent = Instant::now();
    let sent_at = SystemTime::now();
    let response =
        agent.get(url).call().map_err(|e| ClockError::Request { url: url.to_owned(), source: Box::new(e) })?;
    let local = sent_at + sent.elapsed() / 2;
    let date = response
        .headers()
        .get("date")
        .ok_or_else(|| ClockError::NoDate { url: url.to_owned() })?
        .to_str()
        .map_err(|_| ClockError::DateNotText { url: url.to_owned() })?;
    let shown: String = date.chars().take(40).collect();
    let server = httpdate::parse_http_date(date).map_err(|_| ClockError::NotHttpDate { url: url.to_owned(), shown })?;
    Ok(match local.duration_since(server) {
        Ok(ahead) => i64::try_from(ahead.as_secs()).unwrap_or(i64::MAX),
        Err(behind) => i64::try_from(behind.duration().as_secs()).map_or(i64::MIN, |s| -s),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_skew_beyond_the_window_warns_and_says_how_much() {
        let (status, detail, advice) = judge(-300, 0, "https://x/");
        assert_eq!(status, Status::Warn);
        assert!(detail.contains("300 s behind") && detail.contains("120 s"), "{detail}");
        assert!(advice.contains("time_offset_s = 300"), "{advice}");
        let (status, detail, _) = judge(30, 0, "https://x/");
        assert_eq!(status, Status::Ok);
        assert!(detail.contains("30 s ahead"), "{detail}");
        // The profile's offset already makes up for it.
        let (status, detail, _) = judge(-300, 290, "https://x/");
        assert_eq!(status, Status::Ok, "{detail}");
    }
}
