//! The real app, driven through its UI with egui_kittest on a temporary profile store: knocking sends
//! real hits to listeners on 127.0.0.1, the editor validates and saves, delete asks first, changes made
//! on disk show up, a conflicting save is not silent, and the keyboard shortcuts work.

#![expect(unsafe_code, reason = "std::env::set_var of the test's own variables, which edition 2024 marks unsafe")]

use std::net::{TcpListener, UdpSocket};
use std::num::NonZeroU16;
use std::path::Path;
use std::time::{Duration, Instant};

use client_core::ProfileStore;
use client_core::{KeyOwner, SecretKind, SecretStore};
use client_core::{Profile, SequenceSource, Verify};
use client_core::{Protocol, Sequence};
use client_gui::KnockGui;
use client_gui::app::LastResult;
use egui::{Key, Modifiers};
use egui_kittest::Harness;
use egui_kittest::kittest::{NodeT, Queryable};
use stepping::step_until;

#[cfg(target_os = "linux")]
mod session;
mod stepping;

fn app(dir: &Path) -> Harness<'static, KnockGui> {
    app_sized(dir, egui::vec2(1200.0, 800.0))
}

fn app_sized(dir: &Path, size: egui::Vec2) -> Harness<'static, KnockGui> {
    let store = ProfileStore::new(dir);
    Harness::builder().with_size(size).build_eframe(move |cc| KnockGui::new(cc, store).expect("the app starts"))
}

/// The app on the profiles in `dir`, storing secrets in `keyring`'s test service (never the user's).
fn app_with_secrets(dir: &Path, keyring: &TestKeyring) -> Harness<'static, KnockGui> {
    let store = ProfileStore::new(dir);
    let secrets = keyring.secrets.clone();
    Harness::builder().with_size(egui::vec2(1200.0, 800.0)).build_eframe(move |cc| {
        let mut gui = KnockGui::new(cc, store).expect("the app starts");
        gui.state.set_secret_store(secrets);
        gui
    })
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
    // The door opens once the knock arrived (the listener starts after the last hit): before, the
    // port is closed, so the app's already-open check does not skip the knock.
    let service_port = TcpListener::bind("127.0.0.1:0").expect("port").local_addr().expect("addr").port();
    let mut web = profile("127.0.0.1", &format!("{}:udp,{}:udp,{}:udp", ports[0], ports[1], ports[2]));
    if let Some(knock) = web.sequence_mut() {
        knock.delay_ms = 30;
    }
    let mut verify = Verify::new(NonZeroU16::new(service_port).expect("port"));
    verify.timeout_ms = 3000;
    web.verify = Some(verify);
    ProfileStore::new(dir.path()).create("web", &web).expect("create");

    let mut harness = app(dir.path());
    harness.get_by_label_contains("never knocked");
    let receiver = std::thread::spawn(move || {
        let order = arrival_order(&sockets);
        (order, TcpListener::bind(("127.0.0.1", service_port)).expect("the door opens"))
    });
    harness.get_by_label("Knock web").click();
    harness.run_steps(2);
    step_until(&mut harness, |app| !app.state.runs.any_running());
    let (order, _service) = receiver.join().expect("receiver");
    assert_eq!(order, [0, 1, 2], "each hit arrived, in order");
    assert!(matches!(harness.state().state.runs.last_result("web"), LastResult::Opened { .. }));
    assert!(harness.query_all_by_label_contains("opened just now").count() >= 1, "the row shows the result");
    assert_eq!(harness.state().state.runs.history.len(), 1);
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
    assert!(saved.contains("open = \"7000,8000:udp\"") && saved.contains("host = \"192.0.2.2\""), "{saved}");

    // Reopened (after a restart too), the sequence is shown as it was typed, not rewritten.
    drop(harness);
    let mut harness = app(dir.path());
    harness.state_mut().state.select("web");
    harness.run();
    harness.get_by_role_and_label(egui::accesskit::Role::Button, "Edit").click();
    harness.run();
    let shown = harness.get_by_label("Open sequence").accesskit_node().value();
    assert_eq!(shown.as_deref(), Some("7000,8000:udp"));
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
    step_until(&mut harness, |app| app.state.list.entries.len() == 2);
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

/// Issue 26: the editor's kind selector has Rotating; a rotating profile opens in it with its door's fields
/// (not as an empty sequence form), and an edit made there is saved as a rotating profile.
#[test]
fn a_rotating_profile_is_edited_as_rotating() {
    let dir = tempfile::tempdir().expect("dir");
    let rotating: Profile =
        toml::from_str("host = \"192.0.2.4\"\n[rotating]\ndoor = \"ssh\"\nlength = 3\n").expect("rotating");
    let store = ProfileStore::new(dir.path());
    store.create("door", &rotating).expect("create");
    let mut harness = app(dir.path());
    harness.get_by_label_contains("door  ·  192.0.2.4").click();
    harness.run();
    harness.get_by_label("Edit").click();
    harness.run();
    let kind = harness.state().state.editing.form.as_ref().map(|e| e.kind);
    assert_eq!(kind, Some(client_gui::editor::EditorKind::Rotating));
    for label in ["Knock sequence", "SPA (fwknop)", "Rotating", "Door", "Window (s)", "Port range", "Protocols"] {
        harness.get_by_label(label);
    }
    assert!(harness.query_by_label("Open sequence").is_none(), "no sequence fields for a rotating profile");
    harness.get_by_label("Hits").focus();
    harness.run();
    harness.key_press(Key::Backspace);
    harness.get_by_label("Hits").type_text("5");
    harness.run();
    harness.get_by_label("Save").click();
    harness.run();
    let saved = store.load("door").expect("load").profile;
    let knock = saved.rotating().expect("still a rotating profile");
    assert_eq!((knock.rotation.door.as_str(), knock.rotation.length), ("ssh", 5));
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
    step_until(&mut harness, |app| !app.state.runs.any_running());
    assert!(matches!(harness.state().state.runs.last_result("alpha"), LastResult::Sent { .. }));
}

/// A keyring service of this test run only: the app's real service (`knock-toolkit`) is never written, so
/// a developer's real profile named `fw` keeps its keys. Whatever the test stored is deleted on drop.
struct TestKeyring {
    secrets: SecretStore,
    profile: &'static str,
    dir: std::path::PathBuf,
}

impl TestKeyring {
    fn new(profile: &'static str, dir: &Path) -> TestKeyring {
        let nanos = std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).map_or(0, |d| d.as_nanos());
        let service = format!("knock-toolkit-test-{}-{nanos}", std::process::id());
        assert_ne!(service, client_core::KEYRING_SERVICE);
        TestKeyring { secrets: SecretStore::with_service(service), profile, dir: dir.to_owned() }
    }

    /// Whose entries hold the test profile's keys: its id (from its file in the test's store).
    fn owner(&self) -> Option<KeyOwner> {
        let stored = client_core::ProfileStore::new(&self.dir).load(self.profile).ok()?;
        Some(KeyOwner::of(self.profile, &stored.profile))
    }
}

impl Drop for TestKeyring {
    fn drop(&mut self) {
        // Nothing stored (no keyring) is fine; a keyring that stored keys must also delete them.
        if let Some(owner) = self.owner() {
            let _ = self.secrets.delete_all(&owner);
        }
    }
}

#[test]
fn an_spa_profile_is_created_with_generated_keys_that_never_reach_the_file() {
    let dir = tempfile::tempdir().expect("dir");
    let keyring = TestKeyring::new("fw", dir.path());
    let mut harness = app_with_secrets(dir.path(), &keyring);
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
    let key = harness.state().state.editing.form.as_ref().map(|e| e.spa_key.clone()).expect("editor open");
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
        matches!(&app.state.notices.current, Some(client_gui::app::Notice::Info(m)) if m.contains("keyring"))
            || matches!(&app.state.notices.current, Some(client_gui::app::Notice::Error(m)) if m.contains("KNOCK_SPA_KEY_BASE64_FW"))
    });
    if matches!(&harness.state().state.notices.current, Some(client_gui::app::Notice::Info(_))) {
        // Stored: read it back through a fresh store and entry (the mock keyring would have nothing).
        let fresh = SecretStore::with_service(keyring.secrets.service());
        let owner = keyring.owner().expect("the profile's id");
        assert!(matches!(owner, KeyOwner::Id(_)), "keys are stored under the profile's id: {owner:?}");
        let stored = fresh.get(&owner, SecretKind::SpaKey).expect("read back").expect("the key is in the keyring");
        assert!(stored.expose() == key, "the keyring holds the generated key");
    }
    drop(harness);
    drop(keyring);
}

/// Defect 1, through the keys a user presses: select fin-knock, Ctrl+F, type "v6", Enter: the listed
/// v6-door is knocked, never the hidden fin-knock.
#[test]
fn enter_with_a_filter_knocks_the_listed_host_only() {
    let dir = tempfile::tempdir().expect("dir");
    let hidden = UdpSocket::bind("127.0.0.1:0").expect("udp");
    let listed = UdpSocket::bind("127.0.0.1:0").expect("udp");
    let port = |s: &UdpSocket| s.local_addr().expect("addr").port();
    let store = ProfileStore::new(dir.path());
    store.create("fin-knock", &profile("127.0.0.1", &format!("{}:udp", port(&hidden)))).expect("create");
    store.create("v6-door", &profile("127.0.0.1", &format!("{}:udp", port(&listed)))).expect("create");
    let mut harness = app(dir.path());
    harness.get_by_label_contains("fin-knock  ·").click();
    // The pointer leaves, so no row tooltip (which repeats the row's text) lingers.
    harness.event(egui::Event::PointerGone);
    harness.run();
    harness.key_press_modifiers(Modifiers::COMMAND, Key::F);
    harness.run();
    harness.get_by_label("Search").type_text("v6");
    harness.run();
    assert!(harness.query_by_label_contains("fin-knock  ·").is_none(), "fin-knock is hidden");
    harness.key_press(Key::Enter);
    harness.run_steps(2);
    step_until(&mut harness, |app| !app.state.runs.any_running());
    let mut buf = [0u8; 4];
    listed.set_read_timeout(Some(Duration::from_secs(5))).expect("timeout");
    assert!(listed.recv_from(&mut buf).is_ok(), "the listed host was knocked");
    hidden.set_nonblocking(true).expect("nonblocking");
    assert!(hidden.recv_from(&mut buf).is_err(), "the hidden host was not");
    assert!(!harness.state().state.runs.knocks.contains_key("fin-knock"));
}

/// Defect 2 and 11: Ctrl+N over unsaved edits asks first; Escape closes the question and keeps the
/// edits; the editor opens with Name focused and without errors for fields nobody typed in.
#[test]
fn the_editor_guards_unsaved_edits_and_answers_the_keyboard() {
    let dir = tempfile::tempdir().expect("dir");
    let mut harness = app(dir.path());
    harness.key_press_modifiers(Modifiers::COMMAND, Key::N);
    harness.run();
    assert!(harness.get_by_label("Name").accesskit_node().is_focused(), "Name has the keyboard");
    assert!(harness.query_by_label_contains("invalid").is_none(), "no errors before anything is typed");
    assert!(harness.query_by_label_contains("enter a sequence").is_none());
    harness.get_by_label("Name").type_text("web");
    harness.run();
    harness.key_press_modifiers(Modifiers::COMMAND, Key::N);
    harness.run();
    harness.get_by_label("Discard changes?");
    harness.key_press(Key::Escape);
    harness.run();
    assert!(harness.query_by_label("Discard changes?").is_none(), "Escape closes the question");
    assert_eq!(harness.state().state.editing.form.as_ref().map(|e| e.name.as_str()), Some("web"), "edits kept");

    type_into(&mut harness, "Host", "127.0.0.1");
    type_into(&mut harness, "Open sequence", "7000,8000:udp");
    harness.key_press_modifiers(Modifiers::COMMAND, Key::S);
    harness.run();
    assert!(dir.path().join("web.toml").exists(), "Ctrl+S saved");
    assert!(harness.state().state.editing.form.is_none());

    // Enter in a field saves too; Escape on an unchanged form just closes it.
    harness.get_by_label("Edit").click();
    harness.run();
    harness.key_press(Key::Escape);
    harness.run();
    assert!(harness.state().state.editing.form.is_none() && harness.query_by_label("Discard changes?").is_none());
}

/// Defect 11: Escape closes dialogs; the import dialog focuses its field and Enter submits it.
#[test]
fn dialogs_close_on_escape_and_submit_on_enter() {
    let dir = tempfile::tempdir().expect("dir");
    ProfileStore::new(dir.path().join("p")).create("web", &profile("192.0.2.2", "7000")).expect("create");
    let conf = dir.path().join("knockd.conf");
    std::fs::write(&conf, "[openSSH]\n sequence = 7100,7200,7300\n").expect("write");
    let mut harness = app(&dir.path().join("p"));
    harness.get_by_label_contains("web  ·").click();
    harness.run();
    harness.key_press(Key::Delete);
    harness.run();
    harness.get_by_label("Delete web?");
    harness.key_press(Key::Escape);
    harness.run();
    assert!(harness.query_by_label("Delete web?").is_none(), "Escape keeps the profile");
    assert!(dir.path().join("p/web.toml").exists());

    harness.get_by_label("Import…").click();
    harness.run();
    harness.run();
    assert!(harness.get_by_label("File path").accesskit_node().is_focused(), "the first field has the keyboard");
    harness.get_by_label("File path").type_text(&conf.display().to_string());
    harness.key_press(Key::Enter);
    harness.run();
    harness.get_by_label_contains("enter the host");
    type_into(&mut harness, "Host (knockd.conf only)", "192.0.2.2");
    harness.key_press(Key::Enter);
    harness.run();
    harness.get_by_label_contains("will create");
    harness.get_by_role_and_label(egui::accesskit::Role::Button, "Import").click();
    step_until(&mut harness, |app| app.state.import_dialog().is_none());
    assert!(dir.path().join("p/ssh.toml").exists(), "imported");
    harness.get_by_label("Import…").click();
    harness.run();
    harness.key_press(Key::Escape);
    harness.run();
    assert!(harness.state().state.import_dialog().is_none(), "Escape closes the import dialog");
}

/// Defect 7/8: rows are one line of exactly ROW_HEIGHT whatever the width, once per profile, also with
/// 1,000 profiles in a 640x400 window; the panel keeps its minimum width with no match.
#[test]
fn rows_hold_their_shape_with_a_thousand_profiles_in_a_small_window() {
    let dir = tempfile::tempdir().expect("dir");
    let store = ProfileStore::new(dir.path());
    for i in 0..1000 {
        let mut p = profile(&format!("host-with-a-rather-long-name-{i}.example.org"), "7000");
        p.tags = vec!["alpha".into(), "beta".into()];
        store.create(&format!("h{i:04}"), &p).expect("create");
    }
    let mut harness = app_sized(dir.path(), egui::vec2(640.0, 400.0));
    harness.run();
    let rows: Vec<egui::Rect> = harness.query_all_by_label_contains("  ·  ").map(|n| n.rect()).collect();
    assert!(!rows.is_empty() && rows.len() < 40, "only the visible rows are laid out: {}", rows.len());
    for pair in rows.windows(2) {
        assert_eq!(pair[0].height(), client_gui::ui::ROW_HEIGHT, "{pair:?}");
        assert_eq!(pair[1].top() - pair[0].top(), client_gui::ui::ROW_HEIGHT, "no gap, no overlap: {pair:?}");
    }
    assert_eq!(harness.query_all_by_label_contains("h0000  ·").count(), 1, "two tags, one row");
    // One Tab stop per row: its Knock button is pointer-only.
    let knock = harness.get_by_label("Knock h0000");
    assert!(!knock.accesskit_node().data().supports_action(egui::accesskit::Action::Focus));
    let row = harness.get_by_label_contains("h0000  ·");
    assert!(row.accesskit_node().data().supports_action(egui::accesskit::Action::Focus));

    harness.key_press_modifiers(Modifiers::COMMAND, Key::F);
    harness.run();
    harness.get_by_label("Search").type_text("no such host anywhere");
    harness.run();
    harness.get_by_label("No profile matches the search.");
    let width = harness.get_by_label("No profile matches the search.").rect().width();
    assert!(width >= client_gui::ui::HOSTS_MIN_WIDTH - 40.0, "the panel did not shrink: {width}");
}

/// eframe's storage in memory: what the app saves on exit, to restart from.
#[derive(Default)]
struct Memory(std::collections::HashMap<String, String>);
impl eframe::Storage for Memory {
    fn get_string(&self, key: &str) -> Option<String> {
        self.0.get(key).cloned()
    }
    fn set_string(&mut self, key: &str, value: String) {
        self.0.insert(key.to_owned(), value);
    }
    fn remove_string(&mut self, key: &str) {
        self.0.remove(key);
    }
    fn flush(&mut self) {}
}

/// Saves the app as eframe does on exit and starts it again from that storage.
fn restart(harness: &mut Harness<'static, KnockGui>, dir: &Path) -> Harness<'static, KnockGui> {
    let mut storage = Memory::default();
    eframe::App::save(harness.state_mut(), &mut storage);
    let persisted: client_gui::app::Persisted =
        eframe::get_value(&storage, client_gui::gui::STORAGE_KEY).expect("the app saved its state");
    let store = ProfileStore::new(dir);
    Harness::builder()
        .with_size(egui::vec2(1200.0, 800.0))
        .build_eframe(move |cc| KnockGui::with_persisted(cc, store, persisted).expect("the app starts"))
}

/// Asks the window to close, as the window manager's close button (or Ctrl+Q) does.
fn request_close(harness: &mut Harness<'static, KnockGui>) {
    harness.input_mut().viewports.entry(egui::ViewportId::ROOT).or_default().events.push(egui::ViewportEvent::Close);
}

/// Whether the app asked the window to close (or to cancel a close) in the last frames.
fn viewport_commands(harness: &mut Harness<'static, KnockGui>, frames: usize) -> Vec<egui::ViewportCommand> {
    let mut commands = Vec::new();
    for _ in 0..frames {
        harness.step();
        for output in harness.output().viewport_output.values() {
            commands.extend(output.commands.iter().cloned());
        }
    }
    commands
}

/// Issue 14: group headers by tag collapse and expand, say so to assistive tools, and stay as the user
/// left them across a restart (the app's persisted state).
#[test]
fn group_headers_collapse_and_stay_collapsed_across_a_restart() {
    let dir = tempfile::tempdir().expect("dir");
    let store = ProfileStore::new(dir.path());
    for (name, tags) in [("web", vec!["prod", "eu"]), ("db", vec!["prod"]), ("lab1", vec!["lab"]), ("misc", vec![])] {
        let mut p = profile("192.0.2.2", "7000");
        p.tags = tags.into_iter().map(str::to_owned).collect();
        store.create(name, &p).expect("create");
    }
    let mut harness = app(dir.path());
    harness.run();
    let prod = harness.get_by_role_and_label(egui::accesskit::Role::Button, "#prod (2)");
    assert_eq!(prod.accesskit_node().data().is_expanded(), Some(true));
    harness.get_by_role_and_label(egui::accesskit::Role::Button, "no tag (1)");
    assert_eq!(harness.query_all_by_label_contains("web  ·").count(), 1, "two tags, one row (under the first)");
    harness.get_by_role_and_label(egui::accesskit::Role::Button, "#prod (2)").click();
    harness.run();
    let prod = harness.get_by_role_and_label(egui::accesskit::Role::Button, "#prod (2)");
    assert_eq!(prod.accesskit_node().data().is_expanded(), Some(false), "collapsed, and says so");
    assert!(harness.query_by_label_contains("web  ·").is_none() && harness.query_by_label_contains("db  ·").is_none());
    harness.get_by_label_contains("lab1  ·");

    let mut harness = restart(&mut harness, dir.path());
    harness.run();
    let prod = harness.get_by_role_and_label(egui::accesskit::Role::Button, "#prod (2)");
    assert_eq!(prod.accesskit_node().data().is_expanded(), Some(false), "still collapsed after a restart");
    assert!(harness.query_by_label_contains("db  ·").is_none());
    // A search shows matches inside collapsed groups; the header stays collapsed for later.
    harness.key_press_modifiers(Modifiers::COMMAND, Key::F);
    harness.run();
    harness.get_by_label("Search").type_text("db");
    harness.run();
    harness.get_by_label_contains("db  ·");
    assert!(harness.state().state.list.collapsed_groups.contains("tag:prod"));
    // Expanding again (keyboard: Space on the focused header) brings the rows back.
    harness.state_mut().state.list.search.clear();
    harness.run();
    harness.get_by_role_and_label(egui::accesskit::Role::Button, "#prod (2)").focus();
    harness.run();
    harness.key_press(Key::Space);
    harness.run();
    harness.get_by_label_contains("web  ·");
    assert!(harness.state().state.list.collapsed_groups.is_empty());
}

/// Issue 14: quitting offers to send the close sequence of the doors this session opened, and does,
/// with real hits, before the window closes; "leave them open" and Cancel do not knock.
#[test]
fn quitting_sends_the_close_sequence_of_doors_opened_here_after_asking() {
    let dir = tempfile::tempdir().expect("dir");
    let open_socket = UdpSocket::bind("127.0.0.1:0").expect("udp");
    let close_sockets: Vec<UdpSocket> = (0..2).map(|_| UdpSocket::bind("127.0.0.1:0").expect("udp")).collect();
    let port = |s: &UdpSocket| s.local_addr().expect("addr").port();
    let mut door = profile("127.0.0.1", &format!("{}:udp", port(&open_socket)));
    if let Some(knock) = door.sequence_mut() {
        let close = format!("{}:udp,{}:udp", port(&close_sockets[0]), port(&close_sockets[1]));
        knock.close = Some(SequenceSource::Inline(Sequence::parse(&close, Protocol::Tcp).expect("close")));
        knock.delay_ms = 20;
    }
    ProfileStore::new(dir.path()).create("door", &door).expect("create");
    ProfileStore::new(dir.path()).create("other", &profile("127.0.0.1", "9")).expect("create");

    let mut harness = app(dir.path());
    // Nothing opened yet: the window closes at once.
    request_close(&mut harness);
    let commands = viewport_commands(&mut harness, 2);
    assert!(!commands.contains(&egui::ViewportCommand::CancelClose), "{commands:?}");
    harness.state_mut().state.cancel_quit();

    harness.get_by_label("Knock door").click();
    harness.run_steps(2);
    step_until(&mut harness, |app| !app.state.runs.any_running());
    assert_eq!(harness.state().state.doors_to_close(), ["door"]);

    request_close(&mut harness);
    let commands = viewport_commands(&mut harness, 2);
    assert!(commands.contains(&egui::ViewportCommand::CancelClose), "the close waits for the answer: {commands:?}");
    harness.get_by_label("Close the doors you opened?");
    harness.key_press(Key::Escape);
    harness.run();
    assert_eq!(harness.state().state.quit, client_gui::app::Quit::No, "Escape stays in the app");

    request_close(&mut harness);
    harness.run();
    let receiver = std::thread::spawn(move || arrival_order(&close_sockets));
    harness.get_by_label("Close them and quit").click();
    harness.run_steps(2);
    let mut commands = Vec::new();
    let deadline = Instant::now() + Duration::from_secs(10);
    while !commands.contains(&egui::ViewportCommand::Close) {
        assert!(Instant::now() < deadline, "the window never closed: {commands:?}");
        commands.extend(viewport_commands(&mut harness, 1));
        std::thread::sleep(Duration::from_millis(10));
    }
    assert_eq!(receiver.join().expect("receiver"), [0, 1], "the close sequence was sent, in order, before closing");
    assert!(harness.state().state.doors_to_close().is_empty());
}

/// Issue 14: with the window not focused, a knock's outcome goes to the desktop as a notification
/// (through the OS's service; where none runs, the app gets a clear error back and carries on); with
/// the window focused, none is sent.
#[test]
fn outcomes_become_desktop_notifications_only_when_the_window_is_not_focused() {
    let dir = tempfile::tempdir().expect("dir");
    let socket = UdpSocket::bind("127.0.0.1:0").expect("udp");
    let port = socket.local_addr().expect("addr").port();
    ProfileStore::new(dir.path()).create("web", &profile("127.0.0.1", &format!("{port}:udp"))).expect("create");
    let mut harness = app(dir.path());
    harness.input_mut().focused = true;
    harness.get_by_label("Knock web").click();
    harness.run_steps(2);
    step_until(&mut harness, |app| !app.state.runs.any_running());
    harness.run_steps(3);
    assert!(harness.state().state.notices.last_note.is_none(), "focused: the window shows it, no notification");

    harness.input_mut().focused = false;
    harness.get_by_label("Knock web").click();
    harness.run_steps(2);
    step_until(&mut harness, |app| app.state.notices.last_note.is_some());
    let (note, result) = harness.state().state.notices.last_note.clone().expect("a notification");
    assert_eq!(note.title, "web: knocked");
    assert!(note.body.starts_with("knocked 127.0.0.1 (1 hit sent"), "{}", note.body);
    if let Err(err) = result {
        assert!(err.to_string().starts_with("desktop notification not shown: "), "{err}");
    }
}

/// Issue 11: a secret sequence's ports never reach the history or the state eframe persists, also
/// when the knock fails.
#[test]
fn secret_ports_never_reach_the_persisted_state() {
    let dir = tempfile::tempdir().expect("dir");
    // SAFETY: a variable name only this test uses, set before any thread reads it.
    unsafe { std::env::set_var("KNOCK_GUI_TEST_SECRET_SEQ", "31337,31338:udp,31339") };
    let closed = TcpListener::bind("127.0.0.1:0").expect("bind");
    let closed_port = closed.local_addr().expect("addr").port();
    drop(closed);
    let mut refused = profile("127.0.0.1", "1");
    let mut broadcast = profile("255.255.255.255", "1");
    for p in [&mut refused, &mut broadcast] {
        if let Some(knock) = p.sequence_mut() {
            knock.open = SequenceSource::Env("KNOCK_GUI_TEST_SECRET_SEQ".into());
        }
        let mut verify = Verify::new(NonZeroU16::new(closed_port).expect("port"));
        verify.timeout_ms = 300;
        verify.attempts = std::num::NonZeroU32::MIN;
        p.verify = Some(verify);
    }
    let store = ProfileStore::new(dir.path());
    store.create("refused", &refused).expect("create");
    store.create("broadcast", &broadcast).expect("create");
    let mut harness = app(dir.path());
    for name in ["refused", "broadcast"] {
        harness.get_by_label(&format!("Knock {name}")).click();
        harness.run_steps(2);
        step_until(&mut harness, |app| !app.state.runs.any_running());
    }
    let state = &harness.state().state;
    assert!(
        !matches!(state.runs.last_result("refused"), LastResult::Never | LastResult::Opened { .. }),
        "{:?}",
        state.runs.last_result("refused")
    );
    assert!(
        matches!(state.runs.last_result("broadcast"), LastResult::Failed { .. }),
        "{:?}",
        state.runs.last_result("broadcast")
    );
    let mut storage = Memory::default();
    eframe::App::save(harness.state_mut(), &mut storage);
    let state = &harness.state().state;
    let texts = [
        storage.0.values().cloned().collect::<Vec<_>>().join("\n"),
        format!("{:?}", state.runs.history),
        format!("{:?}", state.runs.knocks.values().map(|r| &r.hits).collect::<Vec<_>>()),
        harness.query_all_by_label_contains("").map(|n| format!("{:?}", n.accesskit_node().label())).collect(),
    ];
    assert!(texts[0].contains("refused"), "the storage holds the results: {}", texts[0]);
    for text in &texts {
        for port in ["31337", "31338", "31339"] {
            assert!(!text.contains(port), "secret port {port} leaked: {text}");
        }
    }
}

/// Every icon the app draws has a glyph in the bundled fonts (no tofu boxes, no panic).
#[test]
fn every_icon_has_a_glyph() {
    let ctx = egui::Context::default();
    let mut output = ctx.run_ui(egui::RawInput::default(), |_| {});
    output.textures_delta.clear();
    for icon in client_gui::ui::icons::ALL.iter().chain(&["›", "…", "·", "—"]) {
        let found = ctx.fonts_mut(|f| f.has_glyphs(&egui::FontId::proportional(14.0), icon));
        assert!(found, "no glyph for {icon:?}");
    }
}

/// The AccessKit tree: named regions, and knock results announced (a polite live region).
#[test]
fn regions_are_named_and_results_are_announced() {
    use egui::accesskit::{Live, Role};
    let dir = tempfile::tempdir().expect("dir");
    let socket = UdpSocket::bind("127.0.0.1:0").expect("udp");
    let port = socket.local_addr().expect("addr").port();
    ProfileStore::new(dir.path()).create("web", &profile("127.0.0.1", &format!("{port}:udp"))).expect("create");
    let mut harness = app(dir.path());
    for region in ["Toolbar", "Hosts", "Details", "History"] {
        harness.get_by_role_and_label(Role::Region, region);
    }
    harness.get_by_label("Knock web").click();
    harness.run_steps(2);
    step_until(&mut harness, |app| !app.state.runs.any_running());
    let title = harness.get_by_label("Knocked");
    assert_eq!(title.accesskit_node().live(), Live::Polite, "the result is announced");
}

/// The window title names the selected host (defect 12).
#[test]
fn the_title_names_the_selected_host() {
    let dir = tempfile::tempdir().expect("dir");
    ProfileStore::new(dir.path()).create("web", &profile("192.0.2.2", "7000")).expect("create");
    let mut harness = app(dir.path());
    harness.get_by_label_contains("web  ·").click();
    let mut titles = Vec::new();
    for _ in 0..3 {
        harness.step();
        for output in harness.output().viewport_output.values() {
            for command in &output.commands {
                if let egui::ViewportCommand::Title(title) = command {
                    titles.push(title.clone());
                }
            }
        }
    }
    assert!(titles.iter().any(|t| t == "web (192.0.2.2) — knock"), "{titles:?}");
}

/// Issue 24 item 13: the window has an accessible name (egui's root node has none by default, so a
/// screen reader announced a nameless window): "knock", then the title naming the selected host.
#[test]
fn the_window_has_an_accessible_name() {
    let dir = tempfile::tempdir().expect("dir");
    ProfileStore::new(dir.path()).create("web", &profile("192.0.2.2", "7000")).expect("create");
    let mut harness = app(dir.path());
    harness.run_steps(2);
    let root = harness.root();
    assert_eq!(root.accesskit_node().role(), egui::accesskit::Role::Window);
    assert_eq!(root.accesskit_node().label().as_deref(), Some("knock"));
    harness.get_by_label_contains("web  ·").click();
    harness.run_steps(2);
    assert_eq!(harness.root().accesskit_node().label().as_deref(), Some("web (192.0.2.2) — knock"));
}

/// Issue 13: an open first checks whether the door already answers, like knock-cli: then it sends
/// nothing and says "already open" (its own outcome); "Knock anyway" forces the knock.
#[test]
fn an_open_door_is_not_knocked_again_unless_forced() {
    let dir = tempfile::tempdir().expect("dir");
    let socket = UdpSocket::bind("127.0.0.1:0").expect("udp");
    socket.set_read_timeout(Some(Duration::from_millis(300))).expect("timeout");
    let port = socket.local_addr().expect("addr").port();
    let service = TcpListener::bind("127.0.0.1:0").expect("verify port");
    let mut web = profile("127.0.0.1", &format!("{port}:udp"));
    web.verify = Some(Verify::new(NonZeroU16::new(service.local_addr().expect("addr").port()).expect("port")));
    ProfileStore::new(dir.path()).create("web", &web).expect("create");
    let mut harness = app(dir.path());
    harness.get_by_label("Knock web").click();
    harness.run_steps(2);
    step_until(&mut harness, |app| !app.state.runs.any_running());
    assert!(matches!(harness.state().state.runs.last_result("web"), LastResult::AlreadyOpen { .. }));
    let mut buf = [0u8; 64];
    assert!(socket.recv_from(&mut buf).is_err(), "nothing was sent to an open door");
    harness.get_by_label("Already open");
    harness.get_by_label_contains("already open just now");
    assert!(harness.state().state.doors_to_close().is_empty() && harness.state().state.runs.opened_here.is_empty());

    harness.get_by_label("Knock anyway").click();
    harness.run_steps(2);
    step_until(&mut harness, |app| !app.state.runs.any_running());
    assert!(socket.recv_from(&mut buf).is_ok(), "forced: the hit was sent");
    assert!(matches!(harness.state().state.runs.last_result("web"), LastResult::Opened { .. }));
    harness.get_by_label("Door open");
}

/// Issue 13: Diagnose runs knock-cli doctor's checks off the UI thread and shows each verdict, what was
/// seen, what to do and the conclusion; a running Diagnose can be cancelled.
#[test]
fn diagnose_shows_each_check_and_the_conclusion_and_can_be_cancelled() {
    let dir = tempfile::tempdir().expect("dir");
    let socket = UdpSocket::bind("127.0.0.1:0").expect("udp");
    let port = socket.local_addr().expect("addr").port();
    let service = TcpListener::bind("127.0.0.1:0").expect("verify port");
    let mut open = profile("127.0.0.1", &format!("{port}:udp"));
    open.verify = Some(Verify::new(NonZeroU16::new(service.local_addr().expect("addr").port()).expect("port")));
    let closed = TcpListener::bind("127.0.0.1:0").expect("bind");
    let closed_port = closed.local_addr().expect("addr").port();
    drop(closed);
    let mut shut = profile("127.0.0.1", &format!("{port}:udp"));
    let mut verify = Verify::new(NonZeroU16::new(closed_port).expect("port"));
    verify.timeout_ms = 8000;
    shut.verify = Some(verify);
    let store = ProfileStore::new(dir.path());
    store.create("open", &open).expect("create");
    store.create("shut", &shut).expect("create");

    let mut harness = app(dir.path());
    harness.get_by_label_contains("open  ·").click();
    harness.run();
    harness.get_by_label("Diagnose").click();
    harness.run_steps(2);
    step_until(&mut harness, |app| app.state.runs.diagnosis.as_ref().is_some_and(|d| !d.is_running()));
    harness.get_by_label("Conclusion: the door was already open");
    for check in ["resolution", "before"] {
        harness.get_by_label(check);
    }
    assert!(harness.query_all_by_label_contains("ok").count() >= 2, "each check shows its verdict");

    harness.get_by_label("Close").click();
    harness.run();
    harness.get_by_label_contains("shut  ·").click();
    harness.run();
    harness.get_by_label("Diagnose").click();
    harness.run_steps(3);
    assert!(
        harness.state().state.runs.diagnosis.as_ref().is_some_and(|d| d.is_running()),
        "checking in the background"
    );
    harness.get_by_label_contains("checking…");
    let cancelled_at = Instant::now();
    harness.get_by_role_and_label(egui::accesskit::Role::Button, "Cancel").click();
    harness.run_steps(2);
    step_until(&mut harness, |app| app.state.runs.diagnosis.as_ref().is_some_and(|d| !d.is_running()));
    assert!(cancelled_at.elapsed() < Duration::from_secs(3), "cancel stops it promptly: {:?}", cancelled_at.elapsed());
    harness.get_by_label_contains("Diagnose cancelled");
}

/// Issue 12: a rotating profile shows the seconds left in its window, never its ports unless revealed
/// (Reveal / Hide), and the window repaints once a second only while such a profile is shown.
#[test]
fn a_rotating_profile_counts_down_and_reveals_its_ports_only_when_asked() {
    use client_core::rotating::{DoorKey, Rotation};
    use client_core::{ProfileKind, RotatingKnock};
    const KEY: &str = "JBSWY3DPEHPK3PXPJBSWY3DPEHPK3PXP";
    let dir = tempfile::tempdir().expect("dir");
    let [var, _] = client_core::rotating_key_variables("rot-gui-test");
    // SAFETY: a variable name only this test uses, set before any thread reads it.
    unsafe { std::env::set_var(&var, KEY) };
    let rotation = Rotation::new("ssh");
    let knock = RotatingKnock { rotation: rotation.clone(), method: client_core::Method::Auto, delay_ms: 0 };
    let store = ProfileStore::new(dir.path());
    store.create("rot-gui-test", &Profile::with_kind("192.0.2.2", ProfileKind::Rotating(knock))).expect("create");
    store.create("plain", &profile("192.0.2.3", "7000")).expect("create");
    let ports_now = || {
        let key = DoorKey::from_base32(KEY).expect("key");
        let now = std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).expect("clock").as_secs();
        let t = rotation.window(now);
        [t, t + 1].map(|t| {
            rotation.sequence(&key, t).expect("derive").hits().iter().map(ToString::to_string).collect::<Vec<_>>()
        })
    };
    // Whether any node shows one of these hits (`PORT:PROTO`) or the whole sequence.
    let shows = |harness: &Harness<'static, KnockGui>, text: &str| harness.query_by_label_contains(text).is_some();
    let repaint_delay = |harness: &Harness<'static, KnockGui>| {
        harness.output().viewport_output.get(&egui::ViewportId::ROOT).map(|v| v.repaint_delay).expect("root")
    };

    // The countdown's text changes every second, and a change that falls inside a `run()` lays the facts
    // grid out again (egui's Grid takes extra passes when a column's width changes), so under load this
    // harness may need a few more steps to settle than kittest's default of 4.
    let store = ProfileStore::new(dir.path());
    let mut harness = Harness::builder()
        .with_size(egui::vec2(1200.0, 800.0))
        .with_max_steps(12)
        .build_eframe(move |cc| KnockGui::new(cc, store).expect("the app starts"));
    harness.run();
    harness.get_by_label_contains("plain  ·").click();
    harness.run();
    assert!(repaint_delay(&harness) <= Duration::from_secs(1), "a countdown is listed: once a second");
    harness.get_by_label_contains("rot-gui-test  ·").click();
    harness.run();
    harness.get_by_label_contains("s left in this window");
    harness.get_by_label("•••• (hidden)");
    for window in ports_now() {
        assert!(!shows(&harness, &window.join(" ")), "ports hidden by default");
    }
    harness.get_by_label("Reveal").click();
    harness.run();
    step_until(&mut harness, |app| app.state.is_revealed("rot-gui-test"));
    assert!(ports_now().iter().any(|hits| shows(&harness, &hits.join(" "))), "revealed: {:?}", ports_now());
    let mut storage = Memory::default();
    eframe::App::save(harness.state_mut(), &mut storage);
    let saved = storage.0.values().cloned().collect::<Vec<_>>().join("\n");
    for hits in ports_now() {
        assert!(!saved.contains(&hits.join(" ")) && !saved.contains(KEY), "never persisted: {saved}");
    }
    harness.get_by_label("Hide").click();
    harness.run();
    harness.get_by_label("•••• (hidden)");

    // Without a rotating profile on screen, no once-a-second repaint.
    harness.state_mut().state.list.search = "plain".into();
    harness.state_mut().state.select("plain");
    harness.run();
    assert!(repaint_delay(&harness) > Duration::from_secs(1), "{:?}", repaint_delay(&harness));
}

/// Issue 12: "Import from text" turns a knock+rotating:// line into a rotating profile with its key in
/// the keyring (a test service); a bad line gets a clear error that never shows the key.
#[test]
fn import_from_text_creates_a_rotating_profile_and_explains_a_bad_line() {
    const KEY: &str = "JBSWY3DPEHPK3PXPJBSWY3DPEHPK3PXP";
    let dir = tempfile::tempdir().expect("dir");
    let keyring = TestKeyring::new("ssh-door", dir.path());
    let mut harness = app_with_secrets(dir.path(), &keyring);
    harness.get_by_label("Import from text…").click();
    harness.run();
    harness.get_by_label("Import line").type_text(&format!("knock+rotating://192.0.2.2/ssh?key={KEY}&step=abc"));
    harness.run();
    harness.get_by_role_and_label(egui::accesskit::Role::Button, "Import").click();
    harness.run();
    harness.get_by_label_contains("invalid knock+rotating:// URI");
    let error = harness.state().state.import_uri_dialog().and_then(|d| d.error.clone()).unwrap_or_default();
    assert!(error.contains("step is not a number") && !error.contains(KEY), "{error}");
    assert!(std::fs::read_dir(dir.path()).expect("dir").next().is_none(), "nothing written");

    // Cancel wipes the line; the dialog opens empty again.
    harness.get_by_role_and_label(egui::accesskit::Role::Button, "Cancel").click();
    harness.run();
    assert!(harness.state().state.import_uri_dialog().is_none());
    harness.get_by_label("Import from text…").click();
    harness.run();
    harness.get_by_label("Import line").type_text(&format!("knock+rotating://192.0.2.2/ssh?key={KEY}&length=5"));
    harness.run();
    harness.get_by_label("Profile name").focus();
    harness.run();
    harness.get_by_label("Profile name").type_text("ssh-door");
    harness.run();
    harness.get_by_role_and_label(egui::accesskit::Role::Button, "Import").click();
    harness.run_steps(2);
    step_until(&mut harness, |app| {
        app.state.import_uri_dialog().is_none() || app.state.import_uri_dialog().is_some_and(|d| d.error.is_some())
    });
    match &harness.state().state.import_uri_dialog() {
        None => {
            let saved = std::fs::read_to_string(dir.path().join("ssh-door.toml")).expect("created");
            assert!(saved.contains("[rotating]") && saved.contains("length = 5") && !saved.contains(KEY), "{saved}");
            let stored = SecretStore::with_service(keyring.secrets.service())
                .get(&keyring.owner().expect("the profile's id"), SecretKind::RotatingKey)
                .expect("read back")
                .expect("the key is in the keyring");
            assert_eq!(stored.expose(), KEY);
            assert_eq!(harness.state().state.list.selected.as_deref(), Some("ssh-door"));
        }
        Some(dialog) => {
            // A run under scripts/with-keyring.sh (the next test) must take the branch above.
            assert!(std::env::var_os(KEYRING_CHILD).is_none(), "a real keyring runs: {:?}", dialog.error);
            // No keyring here: a clear error naming the variable to use, and nothing written.
            let error = dialog.error.clone().unwrap_or_default();
            assert!(error.contains("KNOCK_ROTATING_KEY_SSH_DOOR") && !error.contains(KEY), "{error}");
            assert!(!dir.path().join("ssh-door.toml").exists());
        }
    }
    drop(harness);
    drop(keyring);
}

/// Set in the child that [`import_from_text_stores_the_key_in_a_real_gnome_keyring`] runs.
const KEYRING_CHILD: &str = "KNOCK_GUI_KEYRING_CHILD";

/// Issue 12, against a real Secret Service: the import test above runs again (this test binary, only
/// that test) under scripts/with-keyring.sh, a private D-Bus session with GNOME Keyring, where the key
/// must land in the keyring. Without dbus-run-session/gnome-keyring-daemon it is skipped, and fails
/// when CI is set. The child is killed (its process group) if it overruns.
#[cfg(target_os = "linux")]
#[test]
fn import_from_text_stores_the_key_in_a_real_gnome_keyring() {
    if std::env::var_os(KEYRING_CHILD).is_some() {
        return;
    }
    session::Rerun {
        script: "with-keyring.sh",
        test: "import_from_text_creates_a_rotating_profile_and_explains_a_bad_line",
        test_args: &[],
        marker: KEYRING_CHILD,
        needs: "dbus and gnome-keyring",
    }
    .run();
}
