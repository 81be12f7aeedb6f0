//! The real app, driven through its UI with egui_kittest on a temporary profile store: knocking sends
//! real hits to listeners on 127.0.0.1, the editor validates and saves, delete asks first, changes made
//! on disk show up, a conflicting save is not silent, and the keyboard shortcuts work.

use std::net::{TcpListener, UdpSocket};
use std::num::NonZeroU16;
use std::path::Path;
use std::time::{Duration, Instant};

use client_core::profile::{Profile, Verify};
use client_core::secrets::{SecretKind, SecretStore};
use client_core::store::ProfileStore;
use client_core::{Protocol, Sequence};
use client_gui::KnockGui;
use client_gui::app::LastResult;
use egui::{Key, Modifiers};
use egui_kittest::Harness;
use egui_kittest::kittest::{NodeT, Queryable};

fn app(dir: &Path) -> Harness<'static, KnockGui> {
    let store = ProfileStore::new(dir);
    Harness::builder()
        .with_size(egui::vec2(1200.0, 800.0))
        .build_eframe(move |cc| KnockGui::new(cc, store).expect("the app starts"))
}

fn profile(host: &str, sequence: &str) -> Profile {
    Profile::new(host, Sequence::parse(sequence, Protocol::Tcp).expect("sequence"))
}

/// Focuses the field labelled `label` and types `text` into it, as a user would.
fn type_into(harness: &mut Harness<'static, KnockGui>, label: &str, text: &str) {
    harness.get_by_label(label).focus();
    harness.run();
    harness.get_by_label(label).type_text(text);
    harness.run();
}

/// Steps the app (its knocks run on background threads) until `done` holds or 10 s pass.
fn step_until(harness: &mut Harness<'static, KnockGui>, mut done: impl FnMut(&KnockGui) -> bool) {
    let deadline = Instant::now() + Duration::from_secs(10);
    while !done(harness.state()) {
        assert!(Instant::now() < deadline, "timed out waiting for the app");
        harness.step();
        std::thread::sleep(Duration::from_millis(10));
    }
    harness.run_steps(2);
}

/// Receives one datagram on each socket; returns the socket indexes in arrival order.
fn arrival_order(sockets: &[UdpSocket]) -> Vec<usize> {
    for s in sockets {
        s.set_nonblocking(true).expect("nonblocking");
    }
    let deadline = Instant::now() + Duration::from_secs(10);
    let mut order = Vec::new();
    let mut buf = [0u8; 16];
    while order.len() < sockets.len() && Instant::now() < deadline {
        for (i, s) in sockets.iter().enumerate() {
            if !order.contains(&i) && s.recv_from(&mut buf).is_ok() {
                order.push(i);
            }
        }
        std::thread::sleep(Duration::from_micros(200));
    }
    order
}

#[test]
fn the_knock_button_sends_real_hits_in_order_and_the_row_shows_the_result() {
    let dir = tempfile::tempdir().expect("dir");
    let sockets: Vec<UdpSocket> = (0..3).map(|_| UdpSocket::bind("127.0.0.1:0").expect("udp")).collect();
    let ports: Vec<u16> = sockets.iter().map(|s| s.local_addr().expect("addr").port()).collect();
    let service = TcpListener::bind("127.0.0.1:0").expect("verify port");
    let mut web = profile("127.0.0.1", &format!("{}:udp,{}:udp,{}:udp", ports[0], ports[1], ports[2]));
    if let Some(knock) = web.sequence_mut() {
        knock.delay_ms = 30;
    }
    let mut verify = Verify::new(NonZeroU16::new(service.local_addr().expect("addr").port()).expect("port"));
    verify.timeout_ms = 3000;
    web.verify = Some(verify);
    ProfileStore::new(dir.path()).create("web", &web).expect("create");

    let mut harness = app(dir.path());
    harness.get_by_label_contains("never knocked");
    let receiver = std::thread::spawn(move || arrival_order(&sockets));
    harness.get_by_label("Knock web").click();
    harness.run_steps(2);
    step_until(&mut harness, |app| matches!(app.state.last_result("web"), LastResult::Opened { .. }));
    assert_eq!(receiver.join().expect("receiver"), [0, 1, 2], "each hit arrived, in order");
    assert!(harness.query_all_by_label_contains("opened just now").count() >= 1, "the row shows the result");
    assert_eq!(harness.state().state.history.len(), 1);
}

#[test]
fn the_editor_rejects_a_bad_port_next_to_the_field_and_saves_a_good_profile() {
    let dir = tempfile::tempdir().expect("dir");
    let mut harness = app(dir.path());
    harness.get_by_label("New").click();
    harness.run();
    type_into(&mut harness, "Name", "web");
    type_into(&mut harness, "Host", "192.0.2.2");
    type_into(&mut harness, "Open sequence", "7000,70000");
    harness.run();
    harness.get_by_label_contains("between 1 and 65535");
    assert!(harness.get_by_label("Save").accesskit_node().is_disabled(), "Save stays disabled");
    assert!(!dir.path().join("web.toml").exists());

    for _ in 0..5 {
        harness.key_press(Key::Backspace);
    }
    type_into(&mut harness, "Open sequence", "8000:udp");
    harness.run();
    assert!(harness.query_by_label_contains("between 1 and 65535").is_none(), "the message went away");
    let save = harness.get_by_label("Save");
    assert!(!save.accesskit_node().is_disabled());
    save.click();
    harness.run();
    let saved = std::fs::read_to_string(dir.path().join("web.toml")).expect("saved to disk");
    assert!(saved.contains("open = \"7000:tcp,8000:udp\"") && saved.contains("host = \"192.0.2.2\""), "{saved}");
}

#[test]
fn delete_asks_first() {
    let dir = tempfile::tempdir().expect("dir");
    ProfileStore::new(dir.path()).create("web", &profile("192.0.2.2", "7000")).expect("create");
    let mut harness = app(dir.path());
    harness.get_by_label_contains("web  ·  192.0.2.2").click();
    harness.run();
    harness.get_by_label("Delete").click();
    harness.run();
    harness.get_by_label("Delete web?");
    assert!(dir.path().join("web.toml").exists(), "nothing is deleted before confirming");
    harness.get_by_label("Keep it").click();
    harness.run();
    assert!(harness.query_by_label("Delete web?").is_none());
    assert!(dir.path().join("web.toml").exists());

    // The Delete key asks too.
    harness.key_press(Key::Delete);
    harness.run();
    harness.get_by_label("Delete profile").click();
    harness.step();
    // The worker deletes the file and its keyring secrets off the UI thread, then reports back.
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(10);
    while harness.query_by_label_contains("web  ·").is_some() && std::time::Instant::now() < deadline {
        std::thread::sleep(std::time::Duration::from_millis(20));
        harness.step();
    }
    assert!(!dir.path().join("web.toml").exists());
    assert!(harness.query_by_label_contains("web  ·").is_none());
}

#[test]
fn changes_made_on_disk_show_up() {
    let dir = tempfile::tempdir().expect("dir");
    let cli = ProfileStore::new(dir.path());
    cli.create("web", &profile("192.0.2.2", "7000")).expect("create");
    let mut harness = app(dir.path());
    harness.state_mut().state.set_rescan_interval(Duration::from_millis(20));
    harness.get_by_label_contains("web  ·  192.0.2.2");

    // As knock-cli would, while the app is open.
    cli.create("db", &profile("192.0.2.3", "7000")).expect("create");
    cli.update("web", |p| -> Result<(), ()> {
        p.host = "192.0.2.9".into();
        Ok(())
    })
    .expect("update")
    .expect("change");
    std::thread::sleep(Duration::from_millis(50));
    step_until(&mut harness, |app| app.state.entries.len() == 2);
    harness.get_by_label_contains("db  ·  192.0.2.3");
    harness.get_by_label_contains("web  ·  192.0.2.9");
}

#[test]
fn a_conflicting_save_is_not_silent() {
    let dir = tempfile::tempdir().expect("dir");
    let cli = ProfileStore::new(dir.path());
    cli.create("web", &profile("192.0.2.2", "7000")).expect("create");
    let mut harness = app(dir.path());
    harness.get_by_label_contains("web  ·  192.0.2.2").click();
    harness.run();
    harness.get_by_label("Edit").click();
    harness.run();
    type_into(&mut harness, "Tags", "mine");
    harness.run();

    cli.update("web", |p| -> Result<(), ()> {
        p.notes = "changed by knock-cli".into();
        Ok(())
    })
    .expect("update")
    .expect("change");
    harness.get_by_label("Save").click();
    harness.run();
    harness.get_by_label("web changed on disk");
    let on_disk = cli.load("web").expect("load").profile;
    assert_eq!(on_disk.notes, "changed by knock-cli", "their change was not overwritten");
    assert!(on_disk.tags.is_empty());

    harness.get_by_label("Keep mine").click();
    harness.run();
    let on_disk = cli.load("web").expect("load").profile;
    assert_eq!(on_disk.tags, ["mine"], "only after the user chose to keep theirs");
}

#[test]
fn keyboard_shortcuts_new_search_and_enter_to_knock() {
    let dir = tempfile::tempdir().expect("dir");
    let socket = UdpSocket::bind("127.0.0.1:0").expect("udp");
    let port = socket.local_addr().expect("addr").port();
    ProfileStore::new(dir.path()).create("alpha", &profile("127.0.0.1", &format!("{port}:udp"))).expect("create");
    ProfileStore::new(dir.path()).create("beta", &profile("192.0.2.3", "7000")).expect("create");
    let mut harness = app(dir.path());

    harness.key_press_modifiers(Modifiers::COMMAND, Key::N);
    harness.run();
    harness.get_by_label("New profile");
    harness.get_by_label("Cancel").click();
    harness.run();

    harness.key_press_modifiers(Modifiers::COMMAND, Key::F);
    harness.run();
    assert!(harness.get_by_label("Search").accesskit_node().is_focused(), "Ctrl+F focuses the search box");
    harness.get_by_label("Search").type_text("alph");
    harness.run();
    assert!(harness.query_by_label_contains("beta  ·").is_none(), "the search filters the list");
    harness.key_press(Key::Enter);
    // A knock is now running and its spinner animates: step rather than wait for a still frame.
    harness.run_steps(2);
    socket.set_read_timeout(Some(Duration::from_secs(5))).expect("timeout");
    let mut buf = [0u8; 4];
    assert!(socket.recv_from(&mut buf).is_ok(), "Enter knocked the matching host");
    step_until(&mut harness, |app| !app.state.any_running());
    assert!(matches!(harness.state().state.last_result("alpha"), LastResult::Sent { .. }));
}

/// A keyring service of this test run only: the app's real service (`knock-toolkit`) is never written, so
/// a developer's real profile named `fw` keeps its keys. Whatever the test stored is deleted on drop.
struct TestKeyring {
    secrets: SecretStore,
    profile: &'static str,
}

impl TestKeyring {
    fn new(profile: &'static str) -> TestKeyring {
        let nanos = std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).map_or(0, |d| d.as_nanos());
        let service = format!("knock-toolkit-test-{}-{nanos}", std::process::id());
        assert_ne!(service, client_core::secrets::SERVICE);
        TestKeyring { secrets: SecretStore::with_service(service), profile }
    }
}

impl Drop for TestKeyring {
    fn drop(&mut self) {
        // Nothing stored (no keyring) is fine; a keyring that stored keys must also delete them.
        let _ = self.secrets.delete_all(self.profile);
    }
}

#[test]
fn an_spa_profile_is_created_with_generated_keys_that_never_reach_the_file() {
    let dir = tempfile::tempdir().expect("dir");
    let keyring = TestKeyring::new("fw");
    let store = ProfileStore::new(dir.path());
    let secrets = keyring.secrets.clone();
    let mut harness = Harness::builder().with_size(egui::vec2(1200.0, 800.0)).build_eframe(move |cc| {
        let mut gui = KnockGui::new(cc, store).expect("the app starts");
        gui.state.set_secret_store(secrets);
        gui
    });
    harness.get_by_label("New").click();
    harness.run();
    type_into(&mut harness, "Name", "fw");
    type_into(&mut harness, "Host", "192.0.2.2");
    harness.get_by_label("SPA (fwknop)").click();
    harness.run();
    harness.get_by_label("Access").focus();
    harness.run();
    for _ in 0.."tcp/22".len() {
        harness.key_press(Key::Backspace);
    }
    harness.get_by_label("Access").type_text("tcp/2222");
    harness.run();
    harness.get_by_label("Generate keys").click();
    harness.run();
    harness.get_by_label_contains("KEY_BASE64: ");
    let key = harness.state().state.editor.as_ref().map(|e| e.spa_key.clone()).expect("editor open");
    assert!(!key.is_empty(), "Generate keys filled the masked fields");
    let save = harness.get_by_label("Save");
    assert!(!save.accesskit_node().is_disabled());
    save.click();
    harness.run();
    let saved = std::fs::read_to_string(dir.path().join("fw.toml")).expect("saved to disk");
    assert!(saved.contains("[spa]") && saved.contains("access = \"tcp/2222\""), "{saved}");
    assert!(!saved.contains(&key), "the key never reaches the profile file: {saved}");
    // The keyring answer comes from the worker: stored, or a clear error naming the variables to use.
    step_until(&mut harness, |app| {
        matches!(&app.state.notice, Some(client_gui::app::Notice::Info(m)) if m.contains("keyring"))
            || matches!(&app.state.notice, Some(client_gui::app::Notice::Error(m)) if m.contains("KNOCK_SPA_KEY_BASE64_FW"))
    });
    if matches!(&harness.state().state.notice, Some(client_gui::app::Notice::Info(_))) {
        // Stored: read it back through a fresh store and entry (the mock keyring would have nothing).
        let fresh = SecretStore::with_service(keyring.secrets.service());
        let stored = fresh.get("fw", SecretKind::SpaKey).expect("read back").expect("the key is in the keyring");
        assert!(stored.expose() == key, "the keyring holds the generated key");
    }
    drop(harness);
    drop(keyring);
}
