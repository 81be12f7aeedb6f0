//! The layout check (issue 24, items 1, 8 and 9): for every screen (the list, the detail of each kind of
//! profile, the editor of each kind with Verify ticked, each dialog) at 640x400, 1000x680 and 1920x1080,
//! and at zoom 1.5, no two interactive widgets overlap, no button is cut sideways, and the actions that
//! matter (Save and Cancel, Knock and Edit, a dialog's buttons) are wholly visible without scrolling.
//!
//! Widgets are found through the AccessKit tree, as assistive tools see them; their rectangles come from
//! egui's own record of the frame (`Context::read_response`), which also says what is clipped away by a
//! scroll area or the window and which layer (a dialog) a widget is on.

use std::path::Path;

use client_core::{Profile, ProfileStore, Protocol, Sequence};
use client_gui::KnockGui;
use client_gui::app::LastResult;
use client_gui::editor::EditorKind;
use egui::accesskit::Role;
use egui::{Rect, Vec2};
use egui_kittest::Harness;
use egui_kittest::kittest::{NodeT, Queryable};

const SIZES: [(f32, f32); 3] = [(640.0, 400.0), (1000.0, 680.0), (1920.0, 1080.0)];
const LONG_NAME: &str = "very-long-profile-name-for-the-staging-database-east";

fn store_with_every_kind(dir: &Path) {
    let store = ProfileStore::new(dir);
    let web: Profile = toml::from_str(
        "host = \"192.0.2.2\"\nopen = \"7000,8000:udp,9000\"\nclose = \"9000,8000:udp,7000\"\n\
         tags = [\"prod\"]\nnotes = \"the bastion in front of the web servers; ask ops before changing it\"\n\
         [verify]\nport = 22\n",
    )
    .expect("web");
    store.create("web", &web).expect("create");
    let long = Profile::new(
        "a-very-long-host-name-that-cannot-be-resolved-anywhere.invalid",
        Sequence::parse("7000", Protocol::Tcp).expect("seq"),
    );
    store.create(LONG_NAME, &long).expect("create");
    let spa: Profile = toml::from_str("host = \"192.0.2.5\"\n[spa]\naccess = \"tcp/22\"\n").expect("spa");
    store.create("fw", &spa).expect("create");
    let rotating: Profile =
        toml::from_str("host = \"192.0.2.4\"\n[rotating]\ndoor = \"ssh\"\nlength = 4\n").expect("rotating");
    store.create("door", &rotating).expect("create");
}

fn app(dir: &Path, size: Vec2, zoom: f32) -> Harness<'static, KnockGui> {
    let store = ProfileStore::new(dir);
    let mut harness =
        Harness::builder().with_size(size).build_eframe(move |cc| KnockGui::new(cc, store).expect("the app starts"));
    harness.ctx.set_zoom_factor(zoom);
    settle(&mut harness);
    harness
}

/// A few frames: spinners (a lookup that never answers) keep egui from ever being still.
fn settle(harness: &mut Harness<'static, KnockGui>) {
    harness.run_steps(4);
}

/// One interactive widget as drawn: its whole rectangle and the part not clipped away.
#[derive(Debug)]
struct Drawn {
    label: String,
    role: Role,
    rect: Rect,
    visible: Rect,
}

fn interactive(role: Role) -> bool {
    matches!(
        role,
        Role::Button
            | Role::DefaultButton
            | Role::TextInput
            | Role::MultilineTextInput
            | Role::PasswordInput
            | Role::CheckBox
            | Role::RadioButton
            | Role::ComboBox
            | Role::ListBoxOption
            | Role::Link
            | Role::Slider
            | Role::SpinButton
            | Role::Tab
    )
}

/// The interactive widgets the user can reach now (not those under an open dialog).
fn drawn_widgets(harness: &Harness<'static, KnockGui>) -> Vec<Drawn> {
    let ctx = harness.ctx.clone();
    let mut drawn = Vec::new();
    for node in harness.query_all_by(|n| interactive(n.role())) {
        let ak = node.accesskit_node();
        // egui's Id is the AccessKit node id (`Id::accesskit_id`); serde is the only way back to an Id.
        let Ok(id) = serde_json::from_str::<egui::Id>(&ak.locate().0.0.to_string()) else { continue };
        let Some(response) = ctx.read_response(id) else { continue };
        if !ctx.memory(|m| m.is_above_modal_layer(response.layer_id)) {
            continue;
        }
        let label = ak.label().or_else(|| ak.value()).unwrap_or_default();
        drawn.push(Drawn { label, role: ak.role(), rect: response.rect, visible: response.interact_rect });
    }
    drawn
}

/// Checks one screen; `must_see` are labels of buttons that must be wholly visible. Returns the problems.
fn check(harness: &Harness<'static, KnockGui>, screen: &str, must_see: &[&str]) -> Vec<String> {
    let window = harness.ctx.content_rect();
    let widgets = drawn_widgets(harness);
    let mut problems = Vec::new();
    for w in &widgets {
        let shown = w.visible.is_positive();
        if shown && !window.expand(0.5).contains_rect(w.visible) {
            problems.push(format!("{screen}: {:?} {:?} is outside the window {window:?}", w.role, w.label));
        }
        // Nothing scrolls sideways: a widget cut at its left or right is cut for good.
        let cut_sideways = w.visible.left() > w.rect.left() + 0.5 || w.visible.right() < w.rect.right() - 0.5;
        if shown && cut_sideways && w.role != Role::ListBoxOption {
            problems
                .push(format!("{screen}: {:?} {:?} is cut sideways: {:?} of {:?}", w.role, w.label, w.visible, w.rect));
        }
    }
    for (i, a) in widgets.iter().enumerate() {
        for b in &widgets[i + 1..] {
            // A host row holds its favourite and Knock buttons.
            if a.role == Role::ListBoxOption || b.role == Role::ListBoxOption {
                continue;
            }
            let overlap = a.visible.shrink(1.0).intersect(b.visible.shrink(1.0));
            if overlap.is_positive() {
                problems.push(format!("{screen}: {:?} {:?} overlaps {:?} {:?}", a.role, a.label, b.role, b.label));
            }
        }
    }
    for label in must_see {
        let found: Vec<&Drawn> = widgets.iter().filter(|w| w.label == *label).collect();
        match found.first() {
            None => problems.push(format!("{screen}: no {label:?} to reach")),
            Some(w) if !(w.visible.is_positive() && w.visible.expand(0.5).contains_rect(w.rect)) => {
                problems.push(format!("{screen}: {label:?} is not wholly visible: {:?} of {:?}", w.visible, w.rect));
            }
            Some(_) => {}
        }
    }
    problems
}

/// Item 8: a row's status is drawn whole (it was cut to "n…" at 640x400): one of the frame's texts starts
/// with `word` and is not cut, and no text that starts with a status word is cut.
fn status_is_whole(harness: &Harness<'static, KnockGui>, screen: &str, word: &str) -> Vec<String> {
    const WORDS: [&str; 9] = [
        "never knocked",
        "not opened",
        "opened",
        "sent",
        "failed",
        "unreachable",
        "closed",
        "still open",
        "already open",
    ];
    let mut texts = Vec::new();
    for clipped in &harness.output().shapes {
        let shapes = match &clipped.shape {
            egui::Shape::Vec(shapes) => shapes.iter().collect(),
            shape => vec![shape],
        };
        for shape in shapes {
            if let egui::Shape::Text(text) = shape {
                texts.push((text.galley.text().to_owned(), text.galley.elided));
            }
        }
    }
    let mut problems: Vec<String> = texts
        .iter()
        .filter(|(text, elided)| *elided && WORDS.iter().any(|w| text.starts_with(w)))
        .map(|(text, _)| format!("{screen}: a row's status is cut: {text:?}"))
        .collect();
    if !texts.iter().any(|(text, elided)| !elided && text.starts_with(word)) {
        problems.push(format!("{screen}: no row shows its status {word:?} whole"));
    }
    problems
}

/// Every screen at this size and zoom; returns the problems found.
fn every_screen(size: Vec2, zoom: f32) -> Vec<String> {
    let dir = tempfile::tempdir().expect("dir");
    store_with_every_kind(dir.path());
    let mut harness = app(dir.path(), size, zoom);
    let at = format!("{}x{} zoom {zoom}", size.x, size.y);
    let mut problems = check(&harness, &format!("{at} list"), &["New", "Knock web"]);
    problems.extend(status_is_whole(&harness, &format!("{at} list"), "never knocked"));

    harness.state_mut().state.runs.last_results.insert(
        "web".into(),
        LastResult::NotOpened { at: std::time::SystemTime::now(), why: "the verify port did not answer".into() },
    );
    // The History panel open with knocks in it: it gives way (at most a third of the window).
    for i in 0..12 {
        let at = std::time::SystemTime::now();
        let result = LastResult::Sent { at, detail: format!("sent 3 hits to 192.0.2.{i}") };
        let entry = client_gui::app::HistoryEntry { at, name: "web".into(), action: client_core::Action::Open, result };
        harness.state_mut().state.runs.history.push(entry);
    }
    harness.state_mut().state.settings.history_open = true;
    settle(&mut harness);
    problems.extend(check(&harness, &format!("{at} list with History open"), &["New", "Knock web", "History (12)"]));
    problems.extend(status_is_whole(&harness, &format!("{at} list with History open"), "not opened"));
    for name in ["web", LONG_NAME, "fw", "door"] {
        harness.state_mut().state.select(name);
        settle(&mut harness);
        problems.extend(check(&harness, &format!("{at} detail of {name}"), &["Knock (open)", "Edit", "Delete"]));
    }

    for kind in EditorKind::ALL {
        harness.state_mut().state.new_profile();
        if let Some(editor) = harness.state_mut().state.editing.form.as_mut() {
            editor.kind = kind;
            editor.verify = true;
        }
        settle(&mut harness);
        problems.extend(check(&harness, &format!("{at} editor {kind:?} with Verify"), &["Save", "Cancel"]));
        harness.state_mut().state.close_editor();
    }
    harness.state_mut().state.edit("door");
    settle(&mut harness);
    problems.extend(check(&harness, &format!("{at} editor of a rotating profile"), &["Save", "Cancel"]));

    // A dirty editor asked to make way for a new one: the discard question.
    if let Some(editor) = harness.state_mut().state.editing.form.as_mut() {
        editor.notes.push_str(" changed");
    }
    harness.state_mut().state.new_profile();
    settle(&mut harness);
    problems.extend(check(&harness, &format!("{at} discard dialog"), &["Save", "Discard", "Cancel"]));
    harness.state_mut().state.keep_editing();
    harness.state_mut().state.close_editor();

    harness.state_mut().state.request_delete("web");
    settle(&mut harness);
    problems.extend(check(&harness, &format!("{at} delete dialog"), &["Delete profile", "Keep it"]));
    harness.state_mut().state.cancel_delete();

    harness.state_mut().state.open_import();
    settle(&mut harness);
    problems.extend(check(&harness, &format!("{at} import dialog"), &["Browse…", "Cancel"]));
    if let Some(dialog) = harness.state_mut().state.import_dialog_mut() {
        dialog.encrypted = true;
    }
    settle(&mut harness);
    problems.extend(check(&harness, &format!("{at} import of a backup"), &["Passphrase", "Cancel"]));
    harness.state_mut().state.modal = None;

    harness.state_mut().state.open_import_uri();
    settle(&mut harness);
    problems.extend(check(&harness, &format!("{at} import-from-text dialog"), &["Import", "Cancel"]));
    harness.state_mut().state.modal = None;

    harness.state_mut().state.select("web");
    harness.state_mut().state.open_export();
    settle(&mut harness);
    problems.extend(check(&harness, &format!("{at} export dialog"), &["Export 1 profile", "Cancel"]));
    if let Some(dialog) = harness.state_mut().state.export_dialog_mut() {
        dialog.with_keys = true;
    }
    settle(&mut harness);
    problems.extend(check(&harness, &format!("{at} export with keys"), &["Export 1 profile with keys", "Cancel"]));
    problems
}

#[test]
fn every_screen_fits_at_every_size() {
    let mut problems = Vec::new();
    for (w, h) in SIZES {
        problems.extend(every_screen(egui::vec2(w, h), 1.0));
    }
    assert!(problems.is_empty(), "{} layout problems:\n{}", problems.len(), problems.join("\n"));
}

#[test]
fn every_screen_fits_at_zoom_one_and_a_half() {
    // The default window at 150 %: 667x453 points.
    let problems = every_screen(egui::vec2(1000.0, 680.0), 1.5);
    assert!(problems.is_empty(), "{} layout problems:\n{}", problems.len(), problems.join("\n"));
}

/// Item 7: a notice is a toast over the window; it never moves the layout under the pointer.
#[test]
fn a_notice_never_moves_the_layout() {
    let dir = tempfile::tempdir().expect("dir");
    store_with_every_kind(dir.path());
    let mut harness = app(dir.path(), egui::vec2(1000.0, 680.0), 1.0);
    let places = |h: &Harness<'static, KnockGui>| -> Vec<Rect> {
        ["Search", "Knock web", "New"].iter().map(|l| h.get_by_label(l).rect()).collect()
    };
    let before = places(&harness);
    harness.state_mut().state.notices.current =
        Some(client_gui::app::Notice::Error("a long message that would take a line of its own ".repeat(4)));
    settle(&mut harness);
    harness.get_by_label("Dismiss");
    assert_eq!(places(&harness), before, "nothing moved when the notice came");
    harness.get_by_label("Dismiss").click();
    settle(&mut harness);
    assert!(harness.state().state.notices.current.is_none());
    assert_eq!(places(&harness), before, "nothing moved when it went");
}

/// Item 15: the empty list has one obvious first action, and Import beside it; the form then takes the
/// typing in Name.
#[test]
fn the_first_run_offers_add_your_first_host_and_import() {
    let dir = tempfile::tempdir().expect("dir");
    let mut harness = app(dir.path(), egui::vec2(640.0, 400.0), 1.0);
    assert!(check(&harness, "first run", &["Add your first host"]).is_empty());
    let imports = harness.query_all_by_label("Import…").count();
    assert!(imports >= 2, "Import in the list as well as in the toolbar: {imports}");
    harness.get_by_label("Add your first host").click();
    settle(&mut harness);
    assert!(harness.get_by_label("Name").accesskit_node().is_focused(), "Name has the keyboard");
}

/// Item 12: Escape in the search box clears it, and so does its clear button.
#[test]
fn escape_and_the_clear_button_clear_the_search() {
    let dir = tempfile::tempdir().expect("dir");
    store_with_every_kind(dir.path());
    let mut harness = app(dir.path(), egui::vec2(1000.0, 680.0), 1.0);
    harness.get_by_label("Search").focus();
    settle(&mut harness);
    harness.get_by_label("Search").type_text("web");
    settle(&mut harness);
    assert!(harness.query_by_label("Knock fw").is_none(), "filtered");
    harness.key_press(egui::Key::Escape);
    settle(&mut harness);
    assert_eq!(harness.state().state.list.search, "", "Escape cleared the search");
    harness.get_by_label("Knock fw");
    harness.state_mut().state.list.search = "door".into();
    settle(&mut harness);
    harness.get_by_label("Clear search").click();
    settle(&mut harness);
    assert_eq!(harness.state().state.list.search, "");
}

/// Item 13: no accessible name or text carries an icon glyph (a screen reader would read the glyph's
/// name): buttons, labels, chips, rows; on the list and the detail of each kind, with a result.
#[test]
fn accessible_names_carry_no_icon_glyphs() {
    let dir = tempfile::tempdir().expect("dir");
    store_with_every_kind(dir.path());
    let mut harness = app(dir.path(), egui::vec2(1000.0, 680.0), 1.0);
    let mut found = Vec::new();
    let mut look = |h: &Harness<'static, KnockGui>, screen: &str| {
        for node in h.query_all_by(|n| !n.is_hidden()) {
            let ak = node.accesskit_node();
            let label = format!("{} {}", ak.label().unwrap_or_default(), ak.value().unwrap_or_default());
            // "…" (PENDING) is also punctuation: "Import…" reads fine.
            let glyphs = client_gui::ui::icons::ALL.iter().filter(|i| **i != client_gui::ui::icons::PENDING);
            if glyphs.clone().any(|icon| label.contains(icon)) {
                found.push(format!("{screen}: {label:?}"));
            }
        }
    };
    harness.state_mut().state.runs.last_results.insert(
        "web".into(),
        LastResult::NotOpened { at: std::time::SystemTime::now(), why: "the verify port did not answer".into() },
    );
    look(&harness, "list");
    for name in ["web", "fw", "door"] {
        harness.state_mut().state.select(name);
        settle(&mut harness);
        look(&harness, name);
    }
    assert!(found.is_empty(), "{found:?}");
}

/// Item 5: a locked keyring is said to be locked, with Unlock, in the toolbar and where a profile's keys
/// are shown; never "no keys". (Unlock itself shows the desktop's prompt: not clicked here.)
#[test]
fn a_locked_keyring_is_shown_as_locked_with_unlock() {
    let dir = tempfile::tempdir().expect("dir");
    store_with_every_kind(dir.path());
    let mut harness = app(dir.path(), egui::vec2(1000.0, 680.0), 1.0);
    // The app's own probe answers first (whatever this machine has); then the keyring is locked.
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(10);
    while harness.state().state.system.keyring.is_none() && std::time::Instant::now() < deadline {
        harness.step();
        std::thread::sleep(std::time::Duration::from_millis(20));
    }
    harness.state_mut().state.system.keyring = Some(client_core::KeyringAvailability::Locked);
    harness.state_mut().state.select("fw");
    settle(&mut harness);
    harness.get_by_label("keyring: locked");
    harness.get_by_label("Unlock");
    harness.get_by_label_contains("the keyring is locked");
    harness.get_by_label("Unlock keyring");
    assert!(harness.query_by_label("Add keys…").is_none(), "a locked keyring is not a keyring without keys");
    harness.state_mut().state.select("door");
    settle(&mut harness);
    harness.get_by_label("Unlock keyring");
}

/// Item 15: Connect (with a user name) is offered once the door opened, not before any knock; the copies
/// of the command and the host are there from the start.
#[test]
fn connect_is_offered_after_the_door_opens() {
    let dir = tempfile::tempdir().expect("dir");
    std::fs::write(dir.path().join("clip.toml"), "host = \"127.0.0.1\"\nopen = \"7000,8000\"\n").expect("profile");
    let mut harness = app(dir.path(), egui::vec2(1000.0, 680.0), 1.0);
    let row = harness.get_by_label_contains("clip  ·").rect();
    assert!(row.contains(egui::pos2(60.0, 66.0)), "clipboard.rs's PROFILE_ROW is off: {row:?}");
    harness.get_by_label_contains("clip  ·").click();
    settle(&mut harness);
    assert!(harness.query_by_role_and_label(Role::Button, "Connect").is_none(), "no Connect before a knock");
    harness.get_by_label_contains("Knock first");
    // Where clipboard.rs clicks (the window at 0,0 in its default size): keep the two in step.
    let copy = harness.get_by_label("Copy ssh command").rect();
    assert!(copy.contains(egui::pos2(399.0, 275.0)), "clipboard.rs's COPY_SSH_COMMAND is off: {copy:?}");

    harness
        .state_mut()
        .state
        .runs
        .last_results
        .insert("clip".into(), LastResult::Opened { at: std::time::SystemTime::now(), detail: "opened".into() });
    settle(&mut harness);
    harness.get_by_role_and_label(Role::Button, "Connect");
    harness.get_by_label("User name").focus();
    settle(&mut harness);
    harness.get_by_label("User name").type_text("alice");
    settle(&mut harness);
    let command = harness.get_by_label("Command").value().unwrap_or_default();
    assert!(command.ends_with("alice@127.0.0.1"), "{command}");
}
