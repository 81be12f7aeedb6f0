//! Honest outcomes (issue 24 item 6), in a real egui frame: a knock that ended before its hits were sent
//! does not leave them waiting, and the app speaks in its own words (buttons), never in knock-cli's
//! commands or flags.

#![expect(unsafe_code, reason = "std::env::set_var of the test's own variable, which edition 2024 marks unsafe")]

use std::net::{TcpListener, UdpSocket};
use std::num::NonZeroU16;
use std::path::Path;
use std::time::{Duration, Instant};

use client_core::{AddressFamily, Profile, ProfileStore, Protocol, Sequence, Verify};
use client_gui::KnockGui;
use client_gui::app::{HitState, LastResult};
use egui_kittest::Harness;
use egui_kittest::kittest::{NodeT, Queryable};

fn app(dir: &Path) -> Harness<'static, KnockGui> {
    let store = ProfileStore::new(dir);
    Harness::builder()
        .with_size(egui::vec2(1000.0, 680.0))
        .build_eframe(move |cc| KnockGui::new(cc, store).expect("the app starts"))
}

fn wait_until_done(harness: &mut Harness<'static, KnockGui>) {
    let deadline = Instant::now() + Duration::from_secs(20);
    harness.run_steps(2);
    while harness.state().state.runs.any_running() {
        assert!(Instant::now() < deadline, "the knock did not end");
        harness.step();
        std::thread::sleep(Duration::from_millis(10));
    }
    harness.run_steps(3);
}

/// Every text on screen (labels, buttons, hover-free): what the user reads.
fn screen_text(harness: &Harness<'static, KnockGui>) -> String {
    harness
        .query_all_by(|_| true)
        .filter_map(|n| n.accesskit_node().label().or_else(|| n.accesskit_node().value()))
        .collect::<Vec<_>>()
        .join("\n")
}

/// A name that cannot resolve in the profile's family: the knock fails before any hit, and its chips
/// say "not sent" instead of waiting ("…") forever.
#[test]
fn a_failed_lookup_leaves_no_hit_waiting() {
    let dir = tempfile::tempdir().expect("dir");
    let mut web = Profile::new("127.0.0.1", Sequence::parse("7000,8000", Protocol::Tcp).expect("sequence"));
    web.family = AddressFamily::V6;
    ProfileStore::new(dir.path()).create("web", &web).expect("create");
    let mut harness = app(dir.path());
    harness.get_by_label("Knock web").click();
    wait_until_done(&mut harness);
    assert!(matches!(harness.state().state.runs.last_result("web"), LastResult::Failed { .. }));
    let run = harness.state().state.runs.knocks.get("web").expect("the run's stepper").clone();
    assert!(!run.hits.is_empty());
    assert!(run.hits.iter().all(|(_, hit)| *hit != HitState::Pending), "no hit left waiting: {:?}", run.hits);
}

/// An open door: the result says nothing was sent, without knock-cli's "--force" (the app has a button).
#[test]
fn an_already_open_door_is_told_without_cli_wording() {
    let dir = tempfile::tempdir().expect("dir");
    let socket = UdpSocket::bind("127.0.0.1:0").expect("udp");
    let port = socket.local_addr().expect("addr").port();
    let service = TcpListener::bind("127.0.0.1:0").expect("verify port");
    let mut web = Profile::new("127.0.0.1", Sequence::parse(&format!("{port}:udp"), Protocol::Tcp).expect("seq"));
    web.verify = Some(Verify::new(NonZeroU16::new(service.local_addr().expect("addr").port()).expect("port")));
    ProfileStore::new(dir.path()).create("web", &web).expect("create");
    let mut harness = app(dir.path());
    harness.get_by_label("Knock web").click();
    wait_until_done(&mut harness);
    let LastResult::AlreadyOpen { detail, .. } = harness.state().state.runs.last_result("web").clone() else {
        panic!("expected Already open");
    };
    assert!(!detail.contains("--force") && detail.contains("nothing was sent"), "{detail}");
    // The saved state says "already open, when", never a port (item 11).
    let saved = serde_json::to_string(&harness.state().state.persisted()).expect("json");
    let verify_port = service.local_addr().expect("addr").port().to_string();
    assert!(saved.contains("AlreadyOpen"), "{saved}");
    assert!(!saved.contains(&verify_port) && !saved.contains(&port.to_string()), "a port in the saved state: {saved}");
    harness.state_mut().state.settings.history_open = true;
    harness.run_steps(2);
    let text = screen_text(&harness);
    assert!(text.contains("Already open") && text.contains("nothing was sent"), "the screen is read:\n{text}");
    assert!(!text.contains("--force") && !text.contains("knock-cli"), "CLI wording on screen:\n{text}");
}

/// An SPA profile without keys: the notice points to the app's Add keys…, not to `knock-cli profile set-key`.
#[test]
fn missing_keys_point_to_the_app_not_to_knock_cli() {
    let dir = tempfile::tempdir().expect("dir");
    let spa: Profile = toml::from_str("host = \"127.0.0.1\"\n[spa]\naccess = \"tcp/22\"\n").expect("spa");
    ProfileStore::new(dir.path()).create("fw-no-keys-test", &spa).expect("create");
    let mut harness = app(dir.path());
    // The app's own keyring service is probed, never written; this profile's id has no entries.
    harness.get_by_label("Knock fw-no-keys-test").click();
    wait_until_done(&mut harness);
    let notice = format!("{:?}", harness.state().state.notices.current);
    let last = format!("{:?}", harness.state().state.runs.last_result("fw-no-keys-test"));
    for text in [&notice, &last] {
        assert!(!text.contains("knock-cli") && !text.contains("set-key"), "CLI wording: {text}");
    }
    assert!(last.contains("Add keys") || last.contains("Unlock"), "says what to do in the app: {last}");
}

/// A rotating knock shows one chip per hit of its door (4 here), each sent, never one chip for all.
#[test]
fn a_rotating_knock_shows_one_chip_per_hit() {
    let dir = tempfile::tempdir().expect("dir");
    let rotating: Profile = toml::from_str(
        "host = \"127.0.0.1\"\nfamily = \"ipv4\"\n[rotating]\ndoor = \"ssh\"\nlength = 4\nprotocols = \"udp,udp,udp,udp\"\n",
    )
    .expect("rotating");
    ProfileStore::new(dir.path()).create("rot-chips", &rotating).expect("create");
    // The door key from the environment (as CI gives it), never the keyring.
    // SAFETY: set before the app (and its worker threads) start; no other thread reads the environment yet.
    unsafe { std::env::set_var("KNOCK_ROTATING_KEY_ROT_CHIPS", "JBSWY3DPEHPK3PXPJBSWY3DPEHPK3PXP") };
    let mut harness = app(dir.path());
    harness.get_by_label("Knock rot-chips").click();
    wait_until_done(&mut harness);
    let result = harness.state().state.runs.last_result("rot-chips").clone();
    assert!(matches!(result, LastResult::Sent { .. }), "{result:?}");
    let run = harness.state().state.runs.knocks.get("rot-chips").expect("the run's stepper").clone();
    assert_eq!(run.hits.len(), 4, "{:?}", run.hits);
    assert!(run.hits.iter().all(|(_, hit)| *hit == HitState::Sent), "{:?}", run.hits);
    let chips = harness.query_all_by_label_contains("*:udp").count();
    assert_eq!(chips, 4, "one chip per hit: {:?}", run.hits);
}

/// After Close, a profile that verifies has its port checked: "Still open" while it answers, "Closed"
/// once it does not; never a plain "Knocked".
#[test]
fn close_is_checked_when_the_profile_verifies() {
    let dir = tempfile::tempdir().expect("dir");
    let socket = UdpSocket::bind("127.0.0.1:0").expect("udp");
    let port = socket.local_addr().expect("addr").port();
    let service = TcpListener::bind("127.0.0.1:0").expect("service port");
    let service_port = service.local_addr().expect("addr").port();
    let web: Profile = toml::from_str(&format!(
        "host = \"127.0.0.1\"\nopen = \"{port}:udp\"\nclose = \"{port}:udp\"\n[verify]\nport = {service_port}\ntimeout_ms = 500\n"
    ))
    .expect("profile");
    ProfileStore::new(dir.path()).create("web", &web).expect("create");
    let mut harness = app(dir.path());
    harness.state_mut().state.runs.close_settle = Duration::from_millis(50);
    harness.state_mut().state.select("web");
    let wait_for_check = |harness: &mut Harness<'static, KnockGui>| {
        let deadline = Instant::now() + Duration::from_secs(20);
        while !matches!(
            harness.state().state.runs.last_result("web"),
            LastResult::Closed { .. } | LastResult::StillOpen { .. }
        ) {
            assert!(Instant::now() < deadline, "no close check: {:?}", harness.state().state.runs.last_result("web"));
            harness.step();
            std::thread::sleep(Duration::from_millis(10));
        }
        harness.run_steps(2);
    };

    harness.state_mut().state.knock("web", client_core::Action::Close);
    wait_for_check(&mut harness);
    assert!(matches!(harness.state().state.runs.last_result("web"), LastResult::StillOpen { .. }));
    harness.get_by_label("Still open");

    drop(service);
    harness.state_mut().state.runs.last_results.remove("web");
    harness.state_mut().state.knock("web", client_core::Action::Close);
    wait_for_check(&mut harness);
    let result = harness.state().state.runs.last_result("web").clone();
    assert!(matches!(&result, LastResult::Closed { detail, .. } if detail.contains("no longer answers")), "{result:?}");
    harness.get_by_label("Closed");
}
