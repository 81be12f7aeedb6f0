//! Issue 26 (1, 2): the profile's kind, carried end to end. Each kind (sequence, SPA, rotating) is planned
//! as itself, with no stand-in sequence: `open` sends the kind's real hits (the sequence, one sealed SPA
//! datagram, the current window's derived sequence) and `doctor` knocks the same, on loopback over UDP
//! (no privilege, nothing listens). A rotating open remembers its window in the store's `.state`, written
//! like a profile (atomically), and a close of an SPA or a rotating profile is refused.

#![expect(
    unsafe_code,
    reason = "std::env::set_var before any thread reads the environment (the tests set their own variables)"
)]

use std::net::UdpSocket;

use client_core::ProfileStore;
use client_core::rotating::{DoorKey, Rotation};
use client_core::{Action, AllowIp, Profile, ProfileError, ProfileKind, RotatingKnock, SpaSettings};
use client_core::{CancellationToken, Hit, Method, Protocol, Sequence};
use client_core::{Conclusion, diagnose};
use client_core::{Outcome, Plan, PlanKind, ProfileReport, run_plan};

const ROTATING_KEY: &str = "JBSWY3DPEHPK3PXPJBSWY3DPEHPK3PXP";

/// A UDP port nothing listens on (bound, read, released).
fn free_udp_port() -> u16 {
    UdpSocket::bind("127.0.0.1:0").expect("bind").local_addr().expect("addr").port()
}

fn runtime() -> tokio::runtime::Runtime {
    tokio::runtime::Builder::new_current_thread().enable_all().build().expect("runtime")
}

fn open(plan: &Plan) -> ProfileReport {
    runtime().block_on(run_plan(plan, &CancellationToken::new(), |_| {}))
}

fn doctor_knock_detail(name: &str, profile: &Profile) -> String {
    let diagnosis = runtime().block_on(diagnose(name, profile, &CancellationToken::new())).expect("diagnosable");
    assert_eq!(diagnosis.conclusion, Conclusion::Unverified, "{:?}", diagnosis.checks);
    diagnosis.checks.iter().find(|c| c.name == "knock").map(|c| c.detail.clone()).expect("a knock check")
}

fn unix_now() -> u64 {
    std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).expect("clock").as_secs()
}

#[test]
fn a_sequence_plans_opens_and_is_diagnosed_as_its_sequence() {
    let (a, b) = (free_udp_port(), free_udp_port());
    let sequence = Sequence::parse(&format!("{a}:udp,{b}:udp"), Protocol::Tcp).expect("sequence");
    let mut profile = Profile::new("127.0.0.1", sequence.clone());
    if let Some(knock) = profile.sequence_mut() {
        knock.delay_ms = 1;
    }
    let plan = Plan::new("seq", &profile, Action::Open).expect("plan");
    match &plan.kind {
        PlanKind::Sequence { sequence: planned, secret, method, delay, .. } => {
            assert_eq!((planned, *secret, *method), (&sequence, false, Method::Auto));
            assert_eq!(delay.as_millis(), 1);
        }
        other => panic!("a sequence profile planned as {other:?}"),
    }
    assert_eq!(plan.hit_labels(), [format!("{a}:udp"), format!("{b}:udp")]);
    let report = open(&plan);
    assert!(matches!(report.outcome, Outcome::Sent), "{:?}", report.outcome);
    let sent = &report.last_knock().expect("knocked").request;
    assert_eq!((&sent.sequence, sent.secret_ports), (&sequence, false));
    let detail = doctor_knock_detail("seq", &profile);
    assert!(detail.starts_with("2 hits sent") && detail.contains(&format!("{a}:udp")), "{detail}");
}

#[test]
fn an_spa_profile_plans_opens_and_is_diagnosed_as_one_sealed_datagram() {
    let port = free_udp_port();
    let name = "kinds-spa";
    let (key, hmac) = client_core::spa::keygen().expect("keys");
    let [(key_var, hmac_var), _] = client_core::spa_key_variables(name);
    // SAFETY: variable names only this test uses, set before the runs that read them.
    unsafe {
        std::env::set_var(&key_var, key.to_base64());
        std::env::set_var(&hmac_var, hmac.to_base64());
    }
    let mut settings = SpaSettings::new("tcp/22".parse().expect("access"));
    settings.port = port.try_into().expect("nonzero");
    settings.allow_ip = AllowIp::Source;
    let profile = Profile::new_spa("127.0.0.1", settings.clone());
    let plan = Plan::new(name, &profile, Action::Open).expect("plan");
    assert!(matches!(&plan.kind, PlanKind::Spa(planned) if *planned == settings), "{:?}", plan.kind);
    assert_eq!(plan.hit_labels(), [format!("{port}:udp")]);
    let report = open(&plan);
    assert!(matches!(report.outcome, Outcome::Sent), "{:?}", report.outcome);
    let sent = &report.last_knock().expect("knocked").request;
    assert_eq!(sent.sequence.hits(), [Hit::udp(port)], "one datagram to fwknopd's port");
    assert!(sent.udp_payload.len() > 100, "a sealed SPA packet, not a placeholder payload");
    let detail = doctor_knock_detail(name, &profile);
    assert!(detail.starts_with("1 hit sent") && detail.contains(&format!("{port}:udp")), "{detail}");
    assert!(matches!(Plan::new(name, &profile, Action::Close), Err(ProfileError::SpaHasNoClose { .. })));
}

#[test]
fn a_rotating_profile_plans_opens_and_is_diagnosed_as_its_window_sequence_and_remembers_the_window() {
    let name = "kinds-rotating";
    let [var, _] = client_core::rotating_key_variables(name);
    // SAFETY: a variable name only this test uses, set before the runs that read it.
    unsafe { std::env::set_var(&var, ROTATING_KEY) };
    let mut rotation = Rotation::new("ssh");
    rotation.step = 3600;
    rotation.length = 3;
    rotation.range = (40000, 40999);
    rotation.protocols = vec![Protocol::Udp; 3];
    rotation.exclude = vec![40001];
    let knock = RotatingKnock { rotation: rotation.clone(), method: Method::Connect, delay_ms: 2 };
    let profile = Profile::with_kind("127.0.0.1", ProfileKind::Rotating(knock.clone()));
    let dir = tempfile::tempdir().expect("dir");
    let store = ProfileStore::new(dir.path());
    store.create(name, &profile).expect("create");

    let plan = Plan::new(name, &profile, Action::Open).expect("plan").remembering_in(&store);
    match &plan.kind {
        PlanKind::Rotating { knock: planned, window_state } => {
            assert_eq!(planned, &knock, "the door's parameters, as the profile has them");
            assert_eq!(window_state.as_ref(), Some(&store.window_state(name)));
        }
        other => panic!("a rotating profile planned as {other:?}"),
    }
    assert_eq!(plan.hit_labels(), ["*:udp", "*:udp", "*:udp"], "one masked hit per position");

    let window = rotation.window(unix_now());
    let report = open(&plan);
    assert!(matches!(report.outcome, Outcome::Sent), "{:?}", report.outcome);
    let sent = &report.last_knock().expect("knocked").request;
    let expected = rotation.sequence(&DoorKey::from_base32(ROTATING_KEY).expect("key"), window).expect("derive");
    if rotation.window(unix_now()) == window {
        assert_eq!(sent.sequence, expected, "the current window's sequence");
    }
    assert_eq!(sent.sequence.len(), 3);
    assert!(sent.secret_ports, "derived ports are masked");
    assert_eq!((sent.method, sent.delay.as_millis()), (Method::Connect, 2));

    // Item 2: the window went to the store's state file through its atomic writer (no temp file left).
    let state = store.window_state(name);
    assert_eq!(state.last(), Some(window));
    let state_dir = state.path().parent().expect("state dir");
    let files: Vec<String> = std::fs::read_dir(state_dir)
        .expect("state dir")
        .map(|e| e.expect("entry").file_name().to_string_lossy().into_owned())
        .collect();
    assert_eq!(files, [format!("{name}.window")]);
    assert_eq!(std::fs::read_to_string(state.path()).expect("read"), format!("{window}\n"));
    state.remember(window + 1).expect("replace");
    assert_eq!(state.last(), Some(window + 1));
    assert_eq!(store.list().expect("list").len(), 1, "the state is never listed as a profile");

    let detail = doctor_knock_detail(name, &profile);
    assert!(detail.starts_with("3 hits sent") && detail.contains("*:udp"), "{detail}");
    for hit in expected.hits() {
        assert!(!detail.contains(&hit.port.to_string()), "a derived port must not be shown: {detail}");
    }
    assert!(matches!(Plan::new(name, &profile, Action::Close), Err(ProfileError::NoCloseSequence { .. })));

    // Removing the profile forgets its window.
    let secrets = client_core::SecretStore::with_service(format!("knock-test-kinds-{}", std::process::id()));
    store.remove(name, &secrets).expect("remove");
    assert_eq!(state.last(), None);
}
