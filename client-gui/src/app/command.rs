//! Commands: everything the user can ask of the app, as data. The window's `ui/` code only reads the
//! state and returns commands (clicks, typing, keyboard shortcuts alike); [`AppState::apply`] is the one
//! place that carries them out, after the frame's UI. Tests drive the app through the same commands,
//! without a window.
//!
//! Another input source (a tray or menu-bar menu, a second window) submits commands too: from the UI
//! thread it calls [`AppState::submit`]; the app applies what was submitted at the start of the next
//! frame ([`AppState::apply_submitted`], called from `KnockGui::logic`, which runs also while the window
//! is hidden). What only the window can do (show itself, close) comes back as a [`WindowRequest`].

use client_core::Action;

use super::AppState;
use super::import_export::{ExportDialog, ImportDialog, ImportUriDialog};
use super::list::Group;
use super::notices::Notice;
use super::settings::QuitPolicy;
use crate::editor::{Editor, Field};

/// A command's payload that may hold secrets (keys typed in the editor, a pasted door-key line, a
/// copied key): a command prints it masked, so a logged or failed-test command never shows one.
#[derive(Clone)]
pub struct Masked<T>(pub T);

impl<T> std::fmt::Debug for Masked<T> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("***")
    }
}

/// One thing the user asked for. A profile is named by its name (the store's file name).
#[derive(Debug, Clone)]
pub enum Command {
    // ----- the list and the selection
    /// Select a profile (asks first if that would lose unsaved edits).
    Select(String),
    /// Move the selection this many listed rows down (negative: up) and show it.
    MoveSelection(isize),
    /// The search box's text (the selection follows the filter).
    SetSearch(String),
    /// List only profiles with this tag (None: all).
    SetTagFilter(Option<String>),
    ToggleGroup(Group),
    ToggleFavourite(String),
    /// The host list scrolled to the selection (the request is done).
    SelectionScrolled,
    // ----- knocks and Diagnose
    /// Knock `profile` (Open checks first whether the door already answers).
    Knock {
        profile: String,
        action: Action,
    },
    /// Open `profile` even when its door already answers.
    ForceKnock {
        profile: String,
    },
    CancelKnock {
        profile: String,
    },
    /// The keyboard's Enter: knock the highlighted profile (shown first), if the list shows one.
    KnockSelected,
    Diagnose {
        profile: String,
    },
    /// The keyboard's Ctrl+D: diagnose the highlighted profile (shown first).
    DiagnoseSelected,
    CancelDiagnosis,
    CloseDiagnosis,
    // ----- addresses, rotating windows, the keyring
    /// Look `profile`'s host up unless a lookup for its current host is pending or done.
    Resolve {
        profile: String,
    },
    /// Look `profile`'s host up again.
    RefreshAddress {
        profile: String,
    },
    Reveal {
        profile: String,
    },
    Hide {
        profile: String,
    },
    UnlockKeyring,
    /// The view copied a key to the clipboard: clear it from there later.
    CopiedSecret(Masked<zeroize::Zeroizing<String>>),
    // ----- the editor
    NewProfile,
    Edit {
        profile: String,
    },
    Duplicate {
        profile: String,
    },
    /// The form as the user changed it, and the field typed in (None: one without its own error).
    EditForm {
        form: Masked<Box<Editor>>,
        field: Option<Field>,
    },
    SaveEditor,
    /// Cancel or Escape in the editor (asks first when there are changes).
    CancelEditor,
    // ----- the questions
    /// "Discard changes?": Save, then go on.
    SaveAndContinue,
    DiscardChanges,
    KeepEditing,
    RequestDelete {
        profile: String,
    },
    /// The keyboard's Delete: ask to delete the highlighted profile (shown first).
    DeleteSelected,
    ConfirmDelete,
    CancelDelete,
    ConflictReload,
    ConflictKeepMine,
    ConflictKeepEditing,
    // ----- import and export
    OpenImport,
    /// The import dialog's form as the user changed it.
    EditImport(Box<ImportDialog>),
    PreviewImport,
    BrowseImportFile,
    FinishImport,
    OpenImportUri,
    EditImportUri(Masked<Box<ImportUriDialog>>),
    SubmitImportUri,
    OpenExport,
    EditExport(Box<ExportDialog>),
    BrowseExportFolder,
    Export {
        overwrite: bool,
    },
    /// Cancel or Escape in the import, import-from-text or export dialog.
    CloseDialog,
    OpenProfilesFolder,
    // ----- connecting
    SetConnectUser {
        profile: String,
        user: String,
    },
    SetConnectCommand {
        profile: String,
        command: String,
    },
    /// Run this command in a terminal.
    Connect {
        command: String,
    },
    // ----- notices and settings
    /// Show this notice (e.g. "copied").
    Notify(Notice),
    DismissNotice,
    ToggleHistory,
    SetQuitPolicy(QuitPolicy),
    /// View > Keep running in the tray when the window is closed.
    SetKeepInTray(bool),
    // ----- quitting and the window
    /// Close the window (quitting asks about open doors first, as the quit policy says).
    Quit,
    CloseDoorsAndQuit,
    QuitLeavingDoorsOpen,
    CancelQuit,
    /// Bring the window to the front (shown, not minimized, focused).
    ShowWindow,
}

/// What the window is asked to do; the eframe app takes them after applying commands
/// ([`AppState::take_window_requests`]).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum WindowRequest {
    /// Come to the front: shown, not minimized, focused ([`Command::ShowWindow`]).
    Show,
    /// The user asked to quit ([`Command::Quit`]: File > Quit, Ctrl+Q, a tray menu's Quit), not merely
    /// closed the window: the window is closed, and quitting then asks about doors opened here.
    Close,
}

impl AppState {
    /// Queues a command from another input source (a tray menu); applied by [`AppState::apply_submitted`]
    /// at the start of the next frame. A source on another thread sends its commands to the UI thread
    /// (a channel read in `KnockGui::logic`) and wakes it with `egui::Context::request_repaint`.
    pub fn submit(&mut self, command: Command) {
        self.submitted.push(command);
    }

    /// Applies the commands submitted since the last call; true if there were any.
    pub fn apply_submitted(&mut self) -> bool {
        let submitted = std::mem::take(&mut self.submitted);
        let any = !submitted.is_empty();
        self.apply_all(submitted);
        any
    }

    /// What the window was asked to do since the last call.
    pub fn take_window_requests(&mut self) -> Vec<WindowRequest> {
        std::mem::take(&mut self.window_requests)
    }

    /// Applies commands in order (those of one frame).
    pub fn apply_all(&mut self, commands: impl IntoIterator<Item = Command>) {
        for command in commands {
            self.apply(command);
        }
    }

    /// Carries out one command: the one place where what the user asked changes the state.
    pub fn apply(&mut self, command: Command) {
        match command {
            Command::Select(name) => self.select(&name),
            Command::MoveSelection(delta) => self.move_selection(delta),
            Command::SetSearch(search) => {
                self.list.search = search;
                self.filter_changed();
            }
            Command::SetTagFilter(tag) => {
                if self.list.tag_filter != tag {
                    self.list.tag_filter = tag;
                    self.filter_changed();
                }
            }
            Command::ToggleGroup(group) => self.list.toggle_group(&group),
            Command::ToggleFavourite(name) => self.list.toggle_favourite(&name),
            Command::SelectionScrolled => self.list.scroll_to_selection = false,
            Command::Knock { profile, action } => self.knock(&profile, action),
            Command::ForceKnock { profile } => self.force_knock(&profile),
            Command::CancelKnock { profile } => self.cancel(&profile),
            Command::KnockSelected => {
                if let Some(name) = self.highlighted_shown() {
                    self.knock(&name, Action::Open);
                }
            }
            Command::Diagnose { profile } => self.diagnose(&profile),
            Command::DiagnoseSelected => {
                if let Some(name) = self.highlighted_shown() {
                    self.diagnose(&name);
                }
            }
            Command::CancelDiagnosis => self.cancel_diagnosis(),
            Command::CloseDiagnosis => self.close_diagnosis(),
            Command::Resolve { profile } => self.ensure_resolution(&profile),
            Command::RefreshAddress { profile } => self.refresh_resolution(&profile),
            Command::Reveal { profile } => self.reveal(&profile),
            Command::Hide { profile } => self.hide(&profile),
            Command::UnlockKeyring => self.unlock_keyring(),
            Command::CopiedSecret(Masked(copied)) => self.copied_secret(&copied),
            Command::NewProfile => self.new_profile(),
            Command::Edit { profile } => self.edit(&profile),
            Command::Duplicate { profile } => self.duplicate(&profile),
            Command::EditForm { form: Masked(form), field } => self.edit_form(*form, field),
            Command::SaveEditor => self.save_editor(),
            Command::CancelEditor => self.cancel_editor(),
            Command::SaveAndContinue => self.save_and_continue(),
            Command::DiscardChanges => self.discard_changes(),
            Command::KeepEditing => self.keep_editing(),
            Command::RequestDelete { profile } => self.request_delete(&profile),
            Command::DeleteSelected => {
                if let Some(name) = self.highlighted_shown() {
                    self.request_delete(&name);
                }
            }
            Command::ConfirmDelete => self.confirm_delete(),
            Command::CancelDelete => self.cancel_delete(),
            Command::ConflictReload => self.conflict_reload(),
            Command::ConflictKeepMine => self.conflict_keep_mine(),
            Command::ConflictKeepEditing => self.conflict_keep_editing(),
            Command::OpenImport => self.open_import(),
            Command::EditImport(dialog) => {
                if let Some(open) = self.import_dialog_mut() {
                    *open = *dialog;
                }
            }
            Command::PreviewImport => self.preview_import(),
            Command::BrowseImportFile => self.browse_import_file(),
            Command::FinishImport => self.finish_import(),
            Command::OpenImportUri => self.open_import_uri(),
            Command::EditImportUri(Masked(dialog)) => {
                if let Some(open) = self.import_uri_dialog_mut() {
                    *open = *dialog;
                }
            }
            Command::SubmitImportUri => {
                if self.import_uri_dialog().is_some_and(|d| !d.busy) {
                    self.submit_import_uri();
                }
            }
            Command::OpenExport => self.open_export(),
            Command::EditExport(dialog) => {
                if let Some(open) = self.export_dialog_mut() {
                    *open = *dialog;
                }
            }
            Command::BrowseExportFolder => self.browse_export_folder(),
            Command::Export { overwrite } => self.export(overwrite),
            Command::CloseDialog => self.close_dialog(),
            Command::OpenProfilesFolder => self.open_profiles_folder(),
            Command::SetConnectUser { profile, user } => self.set_connect_user(&profile, user),
            Command::SetConnectCommand { profile, command } => self.set_connect_command(&profile, command),
            Command::Connect { command } => self.connect_in_terminal(&command),
            Command::Notify(notice) => self.notices.current = Some(notice),
            Command::DismissNotice => self.notices.current = None,
            Command::ToggleHistory => self.settings.history_open = !self.settings.history_open,
            Command::SetQuitPolicy(policy) => self.settings.quit_policy = policy,
            Command::SetKeepInTray(keep) => self.settings.keep_in_tray = keep,
            Command::Quit => self.window_requests.push(WindowRequest::Close),
            Command::CloseDoorsAndQuit => self.close_doors_and_quit(),
            Command::QuitLeavingDoorsOpen => self.quit_leaving_doors_open(),
            Command::CancelQuit => self.cancel_quit(),
            Command::ShowWindow => self.window_requests.push(WindowRequest::Show),
        }
    }

    /// The highlighted profile (the one the keyboard acts on), brought into view first: the keyboard
    /// never acts on a host the user cannot see.
    fn highlighted_shown(&mut self) -> Option<String> {
        let name = self.list.highlighted()?;
        self.list.reveal_selection();
        Some(name)
    }
}
