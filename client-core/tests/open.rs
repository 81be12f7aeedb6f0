//! Verify and retry on loopback: opened at once, opened only on a later attempt, never opened, close
//! without verification, and cancellation during backoff.

#![expect(
    unsafe_code,
    reason = "std::env::set_var before any thread reads the environment (the tests set their own variables)"
)]

use std::net::TcpListener;
use std::num::{NonZeroU16, NonZeroU32};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use client_core::{Action, Profile, Verify};
use client_core::{CancellationToken, ErrorKind, Protocol, Sequence};
use client_core::{Outcome, ProfileEvent, run_profile};

fn free_port() -> u16 {
    TcpListener::bind("127.0.0.1:0").expect("bind").local_addr().expect("addr").port()
}

fn profile(verify_port: u16, attempts: u32) -> Profile {
    let mut p = Profile::new("127.0.0.1", Sequence::parse("7000:udp,7001:udp", Protocol::Tcp).expect("seq"));
    let mut verify = Verify::new(NonZeroU16::new(verify_port).expect("port"));
    verify.timeout_ms = 300;
    verify.backoff_ms = 50;
    verify.attempts = NonZeroU32::new(attempts).expect("attempts");
    p.verify = Some(verify);
    if let Some(knock) = p.sequence_mut() {
        knock.close = Some(Sequence::parse("7001:udp", Protocol::Tcp).expect("seq").into());
    }
    p
}

fn run(profile: &Profile, action: Action, events: &mut Vec<ProfileEvent>) -> client_core::ProfileReport {
    let rt = tokio::runtime::Builder::new_current_thread().enable_all().build().expect("rt");
    let cancel = CancellationToken::new();
    rt.block_on(run_profile("t", profile, action, &cancel, |e| events.push(e.clone()))).expect("runnable")
}

#[test]
fn an_open_port_verifies_on_the_first_attempt() {
    let listener = TcpListener::bind("127.0.0.1:0").expect("listener");
    let port = listener.local_addr().expect("addr").port();
    let mut events = Vec::new();
    let report = run(&profile(port, 3), Action::Open, &mut events);
    assert!(matches!(report.outcome, Outcome::Opened), "{:?}", report.outcome);
    assert_eq!(report.attempts.len(), 1);
    let verify = report.attempts[0].verify.as_ref().expect("verified");
    assert!(verify.open && verify.address.port() == port);
    assert!(matches!(events.first(), Some(ProfileEvent::AttemptStarted { attempt: 1, attempts: 3 })));
    assert!(matches!(events.last(), Some(ProfileEvent::VerifyFinished(v)) if v.open));
}

#[test]
fn a_port_that_opens_late_is_found_by_a_retry_with_a_fresh_knock() {
    let port = free_port();
    let listener: Arc<Mutex<Option<TcpListener>>> = Arc::default();
    let mut events = Vec::new();
    let rt = tokio::runtime::Builder::new_current_thread().enable_all().build().expect("rt");
    let cancel = CancellationToken::new();
    let slot = Arc::clone(&listener);
    let report = rt
        .block_on(run_profile("t", &profile(port, 3), Action::Open, &cancel, |e| {
            // The "server" opens the port only while we back off after the first attempt.
            if matches!(e, ProfileEvent::BackingOff { next_attempt: 2, .. }) {
                *slot.lock().expect("lock") = Some(TcpListener::bind(("127.0.0.1", port)).expect("late bind"));
            }
            events.push(e.clone());
        }))
        .expect("runnable");
    assert!(matches!(report.outcome, Outcome::Opened), "{:?}", report.outcome);
    assert_eq!(report.attempts.len(), 2);
    assert!(!report.attempts[0].verify.as_ref().expect("v1").open);
    assert!(report.attempts[1].verify.as_ref().expect("v2").open);
    assert_eq!(report.attempts[1].knock.hits_sent(), 2, "the retry sent the whole sequence again");
}

#[test]
fn a_port_that_never_opens_exhausts_the_attempts_with_backoff() {
    let port = free_port();
    let mut events = Vec::new();
    let report = run(&profile(port, 3), Action::Open, &mut events);
    assert!(matches!(report.outcome, Outcome::NotOpened), "{:?}", report.outcome);
    assert_eq!(report.attempts.len(), 3);
    let pauses: Vec<Duration> = events
        .iter()
        .filter_map(|e| match e {
            ProfileEvent::BackingOff { pause, .. } => Some(*pause),
            _ => None,
        })
        .collect();
    assert_eq!(pauses, [Duration::from_millis(50), Duration::from_millis(100)]);
    let last = report.attempts[2].verify.as_ref().expect("verified");
    assert!(last.probes >= 2 && last.last_error.is_some(), "{last:?}");
}

#[test]
fn close_sends_the_close_sequence_without_verifying() {
    let mut events = Vec::new();
    let report = run(&profile(free_port(), 3), Action::Close, &mut events);
    assert!(matches!(report.outcome, Outcome::Sent), "{:?}", report.outcome);
    assert_eq!(report.attempts.len(), 1);
    assert_eq!(report.attempts[0].knock.request.sequence.len(), 1);
    assert!(!events.iter().any(|e| matches!(e, ProfileEvent::VerifyStarted { .. })));
}

#[test]
fn invalid_requests_are_not_retried() {
    let mut p = profile(free_port(), 3);
    p.family = client_core::AddressFamily::V6;
    let report = run(&p, Action::Open, &mut Vec::new());
    assert!(
        matches!(&report.outcome, Outcome::Failed(e) if e.kind() == ErrorKind::InvalidInput),
        "{:?}",
        report.outcome
    );
    assert_eq!(report.attempts.len(), 1);
}

#[test]
fn cancelling_during_backoff_stops_at_once() {
    let mut p = profile(free_port(), 3);
    if let Some(v) = p.verify.as_mut() {
        v.backoff_ms = 60_000;
    }
    let rt = tokio::runtime::Builder::new_current_thread().enable_all().build().expect("rt");
    let cancel = CancellationToken::new();
    let trigger = cancel.clone();
    let started = std::time::Instant::now();
    let report = rt
        .block_on(run_profile("t", &p, Action::Open, &cancel, |e| {
            if matches!(e, ProfileEvent::BackingOff { .. }) {
                trigger.cancel();
            }
        }))
        .expect("runnable");
    assert!(matches!(&report.outcome, Outcome::Failed(e) if e.kind() == ErrorKind::Cancelled), "{:?}", report.outcome);
    assert!(started.elapsed() < Duration::from_secs(5));
}

/// Every SPA step can be cancelled: here the discovery endpoint accepts the connection and never answers
/// (a hanging HTTPS server on loopback), and Cancel ends the run at once with `Cancelled`.
#[test]
fn a_hanging_spa_step_is_cancelled_at_once() {
    use client_core::{AllowIp, SpaSettings};
    let hanging = TcpListener::bind("127.0.0.1:0").expect("listener");
    let url = format!("https://{}/ip", hanging.local_addr().expect("addr"));
    let (key, hmac) = client_core::spa::keygen().expect("keys");
    // SAFETY: set_var is unsafe in edition 2024 (other threads may read the environment); these variables
    // are read by this test's profile only.
    unsafe {
        std::env::set_var("KNOCK_SPA_KEY_BASE64_HANGING", key.to_base64());
        std::env::set_var("KNOCK_SPA_HMAC_KEY_BASE64_HANGING", hmac.to_base64());
    }
    let mut settings = SpaSettings::new("tcp/22".parse().expect("access"));
    settings.allow_ip = AllowIp::Discover;
    settings.discover_url = Some(url);
    let profile = Profile::new_spa("127.0.0.1", settings);
    let rt = tokio::runtime::Builder::new_current_thread().enable_all().build().expect("rt");
    let cancel = CancellationToken::new();
    let trigger = cancel.clone();
    let started = std::time::Instant::now();
    let report = rt.block_on(async {
        tokio::spawn(async move {
            tokio::time::sleep(Duration::from_millis(300)).await;
            trigger.cancel();
        });
        run_profile("hanging", &profile, Action::Open, &cancel, |_| {}).await.expect("runnable")
    });
    let elapsed = started.elapsed();
    assert!(matches!(&report.outcome, Outcome::Failed(e) if e.kind() == ErrorKind::Cancelled), "{:?}", report.outcome);
    // Discovery alone may take 10 s; cancelled, the run ends within a moment of the cancel.
    assert!(elapsed < Duration::from_secs(3), "cancelled after {elapsed:?}");
    drop(hanging);
}
