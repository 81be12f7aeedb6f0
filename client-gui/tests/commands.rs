//! The app driven through [`Command`]s without a window, as the UI and a tray menu drive it: the UI
//! only reads the state and says what the user asked for; [`AppState::apply`] is the one place that
//! changes it (issue 24, Structure).

use std::path::Path;

use client_core::{Action, Profile, ProfileStore, Protocol, Sequence};
use client_gui::app::{AppState, Command, Leave, Masked, Modal, Persisted, WindowRequest};
use client_gui::ui::{self, ViewState};

fn profile(host: &str, tags: &[&str]) -> Profile {
    let mut p = Profile::new(host, Sequence::parse("7000", Protocol::Tcp).expect("sequence"));
    p.tags = tags.iter().map(|t| (*t).to_owned()).collect();
    p
}

fn state_with(dir: &Path, names: &[&str]) -> AppState {
    let store = ProfileStore::new(dir);
    for (i, name) in names.iter().enumerate() {
        store.create(name, &profile(&format!("192.0.2.{}", i + 2), &[])).expect("profile");
    }
    AppState::new(ProfileStore::new(dir), Persisted::default()).expect("state")
}

fn key(key: egui::Key, modifiers: egui::Modifiers) -> egui::Event {
    egui::Event::Key { key, physical_key: None, pressed: true, repeat: false, modifiers }
}

/// Ctrl (Cmd on macOS), as a keyboard sends it.
const COMMAND: egui::Modifiers = egui::Modifiers {
    ctrl: !cfg!(target_os = "macos"),
    mac_cmd: cfg!(target_os = "macos"),
    ..egui::Modifiers::COMMAND
};

/// One frame of the real UI over `state` (headless), with `events`: the commands it returns.
fn frame(ctx: &egui::Context, state: &AppState, view: &mut ViewState, events: Vec<egui::Event>) -> Vec<Command> {
    let input = egui::RawInput {
        screen_rect: Some(egui::Rect::from_min_size(egui::Pos2::ZERO, egui::vec2(1000.0, 680.0))),
        events,
        ..egui::RawInput::default()
    };
    let mut commands = Vec::new();
    // egui may run a second pass (a sizing pass): it has no input; keep what the first returned.
    let mut output = ctx.run_ui(input, |ui| commands.extend(ui::draw(state, view, ui)));
    output.textures_delta.clear();
    commands
}

/// Keyboard shortcuts are commands like clicks, and the frame's UI changes nothing by itself: the
/// state only changes when the commands are applied.
#[test]
fn keyboard_shortcuts_come_back_as_commands_and_the_ui_changes_nothing_itself() {
    let dir = tempfile::tempdir().expect("dir");
    let mut state = state_with(dir.path(), &["alpha", "beta", "gamma"]);
    let ctx = egui::Context::default();
    let mut view = ViewState::default();
    frame(&ctx, &state, &mut view, Vec::new());

    let commands = frame(&ctx, &state, &mut view, vec![key(egui::Key::ArrowDown, egui::Modifiers::NONE)]);
    assert!(commands.iter().any(|c| matches!(c, Command::MoveSelection(1))), "{commands:?}");
    assert_eq!(state.list.selected, None, "drawing the frame moved nothing");
    state.apply_all(commands);
    assert_eq!(state.list.selected.as_deref(), Some("alpha"), "applying the commands did");

    let commands = frame(&ctx, &state, &mut view, vec![key(egui::Key::N, COMMAND)]);
    assert!(commands.iter().any(|c| matches!(c, Command::NewProfile)), "{commands:?}");
    assert!(!state.editing.is_open());
    state.apply_all(commands);
    assert!(state.editing.is_open());

    // Typing in the editor: the form comes back as a command, and only applying it changes the state.
    let mut typed = Vec::new();
    for _ in 0..4 {
        typed = frame(&ctx, &state, &mut view, vec![egui::Event::Text("web".into())]);
        if typed.iter().any(|c| matches!(c, Command::EditForm { .. })) {
            break;
        }
    }
    assert!(typed.iter().any(|c| matches!(c, Command::EditForm { .. })), "{typed:?}");
    assert_eq!(state.editing.form.as_ref().map(|e| e.name.as_str()), Some(""));
    state.apply_all(typed);
    assert_eq!(state.editing.form.as_ref().map(|e| e.name.as_str()), Some("web"));
    assert!(state.editing.dirty());

    let commands = frame(&ctx, &state, &mut view, vec![key(egui::Key::Q, COMMAND)]);
    assert!(commands.iter().any(|c| matches!(c, Command::Quit)), "{commands:?}");
    state.apply_all(commands);
    assert_eq!(state.take_window_requests(), [WindowRequest::Close], "quitting is the window's to do");
}

/// The keyboard's Enter and Delete act on the highlighted profile only: never on one the search hides.
#[test]
fn selection_commands_never_reach_a_hidden_host() {
    let dir = tempfile::tempdir().expect("dir");
    let mut state = state_with(dir.path(), &["alpha", "beta"]);
    state.apply(Command::Select("beta".into()));
    state.apply(Command::SetSearch("alpha".into()));
    assert_eq!(state.list.selected.as_deref(), Some("alpha"), "the selection follows the filter");
    state.list.selected = Some("beta".into());
    state.apply(Command::KnockSelected);
    state.apply(Command::DeleteSelected);
    assert!(state.runs.knocks.is_empty() && state.modal.is_none(), "nothing acted on the hidden host");
    state.apply(Command::SetSearch(String::new()));
    state.apply(Command::DeleteSelected);
    assert!(matches!(&state.modal, Some(Modal::Delete(name)) if name == "beta"));
    state.apply(Command::CancelDelete);
    assert!(state.modal.is_none());
}

/// The editor through commands: a new profile typed and saved; leaving dirty edits asks first, and
/// Save in that question saves before going on.
#[test]
fn the_editor_session_is_driven_by_commands() {
    let dir = tempfile::tempdir().expect("dir");
    let mut state = state_with(dir.path(), &["alpha"]);
    state.apply(Command::NewProfile);
    let mut form = state.editing.form.clone().expect("a form");
    form.name = "web".into();
    form.host = "192.0.2.80".into();
    form.open = "7000,8000".into();
    state.apply(Command::EditForm { form: Masked(Box::new(form)), field: None });
    state.apply(Command::Select("alpha".into()));
    assert_eq!(state.pending_discard(), Some(&Leave::Select("alpha".into())), "asked before losing edits");
    state.apply(Command::SaveAndContinue);
    assert!(!state.editing.is_open());
    assert!(state.list.entry("web").is_some(), "saved");
    assert_eq!(state.list.selected.as_deref(), Some("alpha"), "then went on");

    state.apply(Command::Edit { profile: "web".into() });
    state.apply(Command::CancelEditor);
    assert!(!state.editing.is_open() && state.modal.is_none(), "nothing changed: closed without asking");
}

/// One modal at a time: a dialog is a variant of the one `Modal`, its form goes back as a command,
/// and closing a dialog never answers a question.
#[test]
fn dialogs_are_the_one_modal_and_their_forms_come_back_as_commands() {
    let dir = tempfile::tempdir().expect("dir");
    let mut state = state_with(&dir.path().join("profiles"), &["alpha"]);
    let file = dir.path().join("web.toml");
    std::fs::write(&file, "host = \"192.0.2.9\"\nopen = \"7000,8000\"\n").expect("write");
    state.apply(Command::OpenImport);
    assert!(matches!(state.modal, Some(Modal::Import(_))));
    let mut dialog = state.import_dialog().cloned().expect("the import dialog");
    dialog.path = file.display().to_string();
    state.apply(Command::EditImport(Box::new(dialog)));
    state.apply(Command::PreviewImport);
    assert!(state.import_dialog().is_some_and(|d| d.preview.is_some()), "{:?}", state.import_dialog());
    state.apply(Command::FinishImport);
    assert!(state.import_dialog().is_some_and(|d| d.importing), "written in the worker");
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(10);
    while state.import_dialog().is_some() {
        state.poll();
        assert!(std::time::Instant::now() < deadline, "the import never finished");
        std::thread::sleep(std::time::Duration::from_millis(5));
    }
    assert_eq!(state.list.selected.as_deref(), Some("web"), "what was imported is selected");

    state.apply(Command::OpenExport);
    assert!(state.export_dialog().is_some_and(|d| d.chosen.contains("web")));
    state.apply(Command::OpenImportUri);
    assert!(state.export_dialog().is_none() && state.import_uri_dialog().is_some(), "never two at once");
    state.apply(Command::CloseDialog);
    assert!(state.modal.is_none());
    state.apply(Command::RequestDelete { profile: "web".into() });
    state.apply(Command::CloseDialog);
    assert!(matches!(state.modal, Some(Modal::Delete(_))), "Close of a dialog does not answer a question");
}

/// Another input source (a tray menu) submits commands; they apply at the next frame, like the
/// window's own, and what only the window can do comes back as a request.
#[test]
fn submitted_commands_apply_at_the_next_frame() {
    let dir = tempfile::tempdir().expect("dir");
    let mut state = state_with(dir.path(), &["alpha", "beta"]);
    state.submit(Command::Select("beta".into()));
    state.submit(Command::ShowWindow);
    assert_eq!(state.list.selected, None, "not yet");
    assert!(state.apply_submitted());
    assert_eq!(state.list.selected.as_deref(), Some("beta"));
    assert_eq!(state.take_window_requests(), [WindowRequest::Show]);
    assert!(!state.apply_submitted(), "each command once");
    assert!(state.take_window_requests().is_empty());
    // A knock for a profile that does not exist is ignored, not a panic.
    state.apply(Command::Knock { profile: "nope".into(), action: Action::Open });
    assert!(state.runs.knocks.is_empty());
}

/// Commands print the secrets they may carry masked (keys typed in the editor, a pasted door-key line,
/// a copied key), so a logged command or a failed test's message never shows one.
#[test]
fn commands_print_their_secrets_masked() {
    let mut form = client_gui::editor::Editor::new_profile();
    form.spa_key = "c2VjcmV0LWtleS10eXBlZC1pbi10aGUtZWRpdG9y".into();
    let dialog = client_gui::app::ImportUriDialog {
        uri: zeroize::Zeroizing::new("knock+rotating://host/door?key=SECRETDOORKEY".into()),
        ..Default::default()
    };
    for command in [
        Command::EditForm { form: Masked(Box::new(form)), field: None },
        Command::EditImportUri(Masked(Box::new(dialog))),
        Command::CopiedSecret(Masked(zeroize::Zeroizing::new("KEY_BASE64: c2VjcmV0".into()))),
    ] {
        let printed = format!("{command:?}");
        assert!(printed.contains("***"), "{printed}");
        for secret in ["c2VjcmV0", "SECRETDOORKEY"] {
            assert!(!printed.contains(secret), "{printed}");
        }
    }
}
