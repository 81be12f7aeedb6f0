//! The keyboard, in a real egui frame (egui_kittest): the question before losing edits defaults to
//! something safe and offers Save, a new form takes the typing, and the selection is one model: always
//! in view (scrolled to, its group expanded), moved by the arrows and by Tab, acted on by Enter.

use std::path::Path;

use client_core::{Profile, ProfileStore, Protocol, Sequence};
use client_gui::KnockGui;
use egui::{Key, Modifiers};
use egui_kittest::Harness;
use egui_kittest::kittest::{NodeT, Queryable};

fn app_sized(dir: &Path, size: egui::Vec2) -> Harness<'static, KnockGui> {
    let store = ProfileStore::new(dir);
    Harness::builder()
        .with_size(size)
        // The rescan timer may ask for one more frame on a loaded machine: room beyond the default 4 steps.
        .with_max_steps(12)
        .build_eframe(move |cc| KnockGui::new(cc, store).expect("the app starts"))
}

fn profile(host: &str, tags: &[&str]) -> Profile {
    let mut p = Profile::new(host, Sequence::parse("7000", Protocol::Tcp).expect("sequence"));
    p.tags = tags.iter().map(|t| (*t).to_owned()).collect();
    p
}

fn type_into(harness: &mut Harness<'static, KnockGui>, label: &str, text: &str) {
    harness.get_by_label(label).focus();
    harness.run();
    harness.get_by_label(label).type_text(text);
    harness.run();
}

/// Item 2: Enter in "Discard changes?" saves (the form is valid) and the new form has the keyboard; with
/// a form that cannot be saved, Enter keeps editing. It never discards.
#[test]
fn enter_in_the_discard_question_saves_or_keeps_editing_never_discards() {
    let dir = tempfile::tempdir().expect("dir");
    let mut harness = app_sized(dir.path(), egui::vec2(1000.0, 680.0));
    harness.key_press_modifiers(Modifiers::COMMAND, Key::N);
    harness.run();
    type_into(&mut harness, "Name", "web");
    // Not valid yet (no host, no sequence): Enter must keep the edits.
    harness.key_press_modifiers(Modifiers::COMMAND, Key::N);
    harness.run();
    harness.get_by_label("Discard changes?");
    harness.get_by_label("Discard");
    harness.key_press(Key::Enter);
    harness.run();
    assert!(harness.query_by_label("Discard changes?").is_none(), "Enter answered the question");
    assert_eq!(harness.state().state.editing.form.as_ref().map(|e| e.name.as_str()), Some("web"), "edits kept");

    type_into(&mut harness, "Host", "192.0.2.2");
    type_into(&mut harness, "Open sequence", "7000");
    harness.key_press_modifiers(Modifiers::COMMAND, Key::N);
    harness.run();
    harness.get_by_label("Discard changes?");
    harness.key_press(Key::Enter);
    harness.run();
    harness.run();
    assert!(dir.path().join("web.toml").exists(), "Enter saved the profile");
    // The new form opened, and what is typed now lands in its Name.
    assert_eq!(harness.state().state.editing.form.as_ref().map(|e| e.name.as_str()), Some(""), "a new form");
    assert!(harness.get_by_label("Name").accesskit_node().is_focused(), "Name has the keyboard after New");
    harness.get_by_label("Name").type_text("db");
    harness.run();
    assert_eq!(harness.state().state.editing.form.as_ref().map(|e| e.name.as_str()), Some("db"));
}

/// Item 4: with 1,000 profiles in a small window, ↓ keeps the selection in view, and Enter on a selection
/// inside a collapsed group expands the group (and knocks it) instead of doing nothing.
#[test]
fn the_selection_is_always_in_view() {
    let dir = tempfile::tempdir().expect("dir");
    let store = ProfileStore::new(dir.path());
    for i in 0..1000 {
        store.create(&format!("h{i:04}"), &profile("192.0.2.7", &["lab"])).expect("create");
    }
    let mut harness = app_sized(dir.path(), egui::vec2(640.0, 400.0));
    harness.run();
    let window = egui::Rect::from_min_size(egui::Pos2::ZERO, egui::vec2(640.0, 400.0));
    for _ in 0..40 {
        harness.key_press(Key::ArrowDown);
        harness.run();
    }
    let selected = harness.state().state.list.selected.clone().expect("a selection");
    assert_eq!(selected, "h0039");
    let label = format!("{selected}  ·");
    let row = harness.get_by_label_contains(&label);
    assert!(window.contains_rect(row.rect()), "the selected row is on screen: {:?}", row.rect());
    assert!(row.accesskit_node().is_selected() == Some(true));

    // Collapse the group: Enter shows the selection again (the knock itself is not this test's matter).
    harness.state_mut().state.list.toggle_group(&client_gui::app::Group::Tag("lab".into()));
    harness.run();
    assert!(harness.query_by_label_contains(&label).is_none(), "collapsed");
    harness.key_press(Key::Delete);
    harness.run();
    harness.get_by_label(&format!("Delete {selected}?"));
    let row = harness.get_by_label_contains(&label);
    assert!(window.contains_rect(row.rect()), "the group opened and the row is on screen: {:?}", row.rect());
    harness.key_press(Key::Escape);
    harness.run();
}

/// Item 4: Tab onto a row selects it, and ↓ then moves the selection and the focus together.
#[test]
fn tab_and_arrows_move_one_selection() {
    let dir = tempfile::tempdir().expect("dir");
    let store = ProfileStore::new(dir.path());
    for name in ["alpha", "beta", "gamma"] {
        store.create(name, &profile("192.0.2.7", &[])).expect("create");
    }
    let mut harness = app_sized(dir.path(), egui::vec2(1000.0, 680.0));
    harness.run();
    harness.get_by_label_contains("beta  ·").focus();
    harness.run();
    assert_eq!(harness.state().state.list.selected.as_deref(), Some("beta"), "focusing a row selects it");
    harness.key_press(Key::ArrowDown);
    harness.run();
    harness.run();
    assert_eq!(harness.state().state.list.selected.as_deref(), Some("gamma"));
    let focused: Vec<String> = harness
        .query_all_by(|n| n.is_focused())
        .map(|n| format!("{:?} {:?}", n.accesskit_node().role(), n.accesskit_node().label()))
        .collect();
    assert!(
        harness.get_by_label_contains("gamma  ·").accesskit_node().is_focused(),
        "the focus went along: {focused:?}"
    );
    assert!(!harness.get_by_label_contains("beta  ·").accesskit_node().is_focused());
}

/// Item 12: Escape with a drop-down open closes the drop-down, not the editor behind it.
#[test]
fn escape_closes_a_menu_not_the_editor() {
    let dir = tempfile::tempdir().expect("dir");
    let mut harness = app_sized(dir.path(), egui::vec2(1000.0, 680.0));
    harness.key_press_modifiers(Modifiers::COMMAND, Key::N);
    harness.run();
    type_into(&mut harness, "Name", "web");
    harness.get_by_label("Address family").click();
    harness.run();
    assert!(egui::Popup::is_any_open(&harness.ctx), "the drop-down is open");
    harness.key_press(Key::Escape);
    harness.run();
    assert!(harness.query_by_label("Discard changes?").is_none(), "Escape did not ask to leave the editor");
    assert_eq!(harness.state().state.editing.form.as_ref().map(|e| e.name.as_str()), Some("web"));
}

/// Item 11: generated keys are masked on screen until Reveal.
#[test]
fn generated_keys_are_masked_until_reveal() {
    let dir = tempfile::tempdir().expect("dir");
    let mut harness = app_sized(dir.path(), egui::vec2(1000.0, 680.0));
    harness.key_press_modifiers(Modifiers::COMMAND, Key::N);
    harness.run();
    harness.get_by_label("SPA (fwknop)").click();
    harness.run();
    harness.get_by_label("Generate keys").click();
    harness.run();
    let key = harness.state().state.editing.form.as_ref().map(|e| e.spa_key.clone()).expect("editor open");
    assert!(!key.is_empty());
    harness.get_by_label_contains("KEY_BASE64: ");
    assert!(harness.query_by_label_contains(&key).is_none(), "the key is not on screen before Reveal");
    harness.get_by_label("Reveal keys").click();
    harness.run();
    harness.get_by_label_contains(&key);
}

/// Item 12: Help's shortcut table is aligned (a grid: every description starts at the same x).
#[test]
fn the_shortcut_table_is_aligned() {
    let dir = tempfile::tempdir().expect("dir");
    let mut harness = app_sized(dir.path(), egui::vec2(1000.0, 680.0));
    harness.get_by_label("Help").click();
    harness.run();
    let lefts: Vec<f32> = ["knock the selected host", "search", "new profile", "move the selection"]
        .iter()
        .map(|what| harness.get_by_label(what).rect().left())
        .collect();
    assert!(lefts.windows(2).all(|w| (w[0] - w[1]).abs() < 0.5), "descriptions start at {lefts:?}");
}

/// Item 10: Enter in the export dialog's folder field exports; a folder that does not exist is refused
/// with a message, which goes away when the folder is changed.
#[test]
fn export_submits_on_enter_and_clears_a_stale_error() {
    let dir = tempfile::tempdir().expect("dir");
    ProfileStore::new(dir.path().join("p")).create("web", &profile("192.0.2.7", &[])).expect("create");
    let out = dir.path().join("out");
    std::fs::create_dir(&out).expect("out");
    let mut harness = app_sized(&dir.path().join("p"), egui::vec2(1000.0, 680.0));
    harness.state_mut().state.select("web");
    harness.state_mut().state.open_export();
    harness.run();
    harness.run();
    harness.get_by_label("Folder").type_text(&dir.path().join("missing").display().to_string());
    harness.key_press(Key::Enter);
    harness.run();
    let error = harness.state().state.export_dialog().and_then(|d| d.error.clone()).expect("refused");
    assert!(error.contains("missing"), "names the folder: {error}");
    harness.get_by_label("Folder").focus();
    harness.run();
    harness.key_press_modifiers(Modifiers::COMMAND, Key::A);
    harness.get_by_label("Folder").type_text(&out.display().to_string());
    harness.run();
    assert!(harness.state().state.export_dialog().is_some_and(|d| d.error.is_none()), "stale error cleared");
    harness.key_press(Key::Enter);
    harness.run();
    assert!(out.join("web.toml").exists(), "Enter exported");
    assert!(harness.state().state.export_dialog().is_none());
}
