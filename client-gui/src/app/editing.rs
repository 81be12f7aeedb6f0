//! The editor session: the profile form being edited (New, Edit, Duplicate), what was loaded, which
//! fields the user touched and their errors; leaving it (asked first when edits would be lost) and
//! saving it (a file changed on disk since is never overwritten without asking).

use std::collections::BTreeSet;

use client_core::{Profile, StoreError};

use super::AppState;
use super::modal::Modal;
use super::notices::Notice;
use crate::editor::{Editor, EditorKind, Field, FieldError, FieldErrors};

/// An action that would close the editor; asked first when the editor has unsaved changes.
#[derive(Debug, Clone, PartialEq)]
pub enum Leave {
    New,
    Close,
    Select(String),
    Edit(String),
    Duplicate(String),
}

/// A save that found the file changed on disk since the editor loaded it.
#[derive(Debug, Clone)]
pub struct Conflict {
    pub name: String,
    pub mine: Profile,
}

/// The editor's state.
#[derive(Debug, Default)]
pub struct EditorSession {
    /// The form, while the editor is open.
    pub form: Option<Editor>,
    pub errors: FieldErrors,
    /// The form as loaded, to tell whether the user changed anything.
    baseline: Option<Editor>,
    /// Fields the user has edited (their errors show from then on), or all after a Save attempt.
    pub touched: BTreeSet<Field>,
    pub submitted: bool,
    /// Counts the editor sessions opened (New, Edit, Duplicate): the view gives Name the keyboard when
    /// it changes, also when a new form replaces one that was open.
    pub session: u64,
}

impl EditorSession {
    pub fn is_open(&self) -> bool {
        self.form.is_some()
    }

    /// Whether the form differs from what was loaded.
    pub fn dirty(&self) -> bool {
        self.form.is_some() && self.form != self.baseline
    }

    /// The errors to show: those of fields the user edited, or all after a Save attempt. A new form
    /// does not open with errors for fields nobody has typed in yet.
    pub fn visible_errors(&self) -> FieldErrors {
        self.errors
            .iter()
            .filter(|(field, _)| self.submitted || self.touched.contains(field))
            .map(|(field, message)| (*field, message.clone()))
            .collect()
    }

    pub fn can_save(&self) -> bool {
        self.form.is_some() && self.errors.is_empty()
    }

    fn open(&mut self, editor: Editor, taken: &[String]) {
        self.errors = editor.validate(taken);
        self.baseline = Some(editor.clone());
        self.touched.clear();
        self.submitted = false;
        self.form = Some(editor);
        self.session += 1;
    }

    fn close(&mut self) {
        self.form = None;
        self.baseline = None;
        self.errors.clear();
        self.touched.clear();
        self.submitted = false;
    }
}

impl AppState {
    pub fn new_profile(&mut self) {
        if self.editing.is_open() {
            self.leave_editor(Leave::New);
        } else {
            self.open_editor(Editor::new_profile());
        }
    }

    pub fn edit(&mut self, name: &str) {
        if self.editing.is_open() {
            self.leave_editor(Leave::Edit(name.to_owned()));
            return;
        }
        match self.files.store().load(name) {
            Ok(stored) => self.open_editor(Editor::edit(name, &stored.profile, stored.version)),
            Err(err) => self.notices.current = Some(Notice::Error(err.to_string())),
        }
    }

    pub fn duplicate(&mut self, name: &str) {
        if self.editing.is_open() {
            self.leave_editor(Leave::Duplicate(name.to_owned()));
            return;
        }
        if let Some(profile) = self.list.profile(name) {
            let editor = Editor::duplicate(name, profile, &self.list.names());
            self.open_editor(editor);
        }
    }

    fn open_editor(&mut self, editor: Editor) {
        let taken = self.list.names();
        self.editing.open(editor, &taken);
    }

    /// The form as the user changed it (typed in `field`; None: a field without its own error): it
    /// is validated again, and that field's errors show from now on.
    pub fn edit_form(&mut self, form: Editor, field: Option<Field>) {
        if !self.editing.is_open() {
            return;
        }
        self.editing.form = Some(form);
        self.editor_changed_field(field);
    }

    /// Re-validates the form after the user typed in `field` (its errors show from now on).
    pub fn editor_changed_field(&mut self, field: Option<Field>) {
        if let Some(field) = field {
            self.editing.touched.insert(field);
        }
        self.editor_changed();
    }

    /// Re-validates the form after the user typed.
    pub fn editor_changed(&mut self) {
        if let Some(editor) = &self.editing.form {
            self.editing.errors = editor.validate(&self.list.names());
        }
    }

    /// The editor's Cancel (and Escape): asks first when there are unsaved changes.
    pub fn cancel_editor(&mut self) {
        self.leave_editor(Leave::Close);
    }

    /// Closes the editor now, dropping any edits (after the user agreed, or after a save).
    pub fn close_editor(&mut self) {
        self.editing.close();
    }

    /// Runs `action`, which closes the editor, at once when nothing would be lost; otherwise asks
    /// "Discard changes?" first ([`AppState::discard_changes`] / [`AppState::keep_editing`]).
    pub fn leave_editor(&mut self, action: Leave) {
        if self.editing.dirty() {
            self.modal = Some(Modal::Discard(action));
        } else {
            self.close_editor();
            self.perform(action);
        }
    }

    pub fn discard_changes(&mut self) {
        if let Some(action) = self.take_discard() {
            self.close_editor();
            self.perform(action);
        }
    }

    pub fn keep_editing(&mut self) {
        self.take_discard();
    }

    /// The action waiting for the "Discard changes?" answer.
    pub fn pending_discard(&self) -> Option<&Leave> {
        match &self.modal {
            Some(Modal::Discard(action)) => Some(action),
            _ => None,
        }
    }

    fn take_discard(&mut self) -> Option<Leave> {
        match self.modal.take() {
            Some(Modal::Discard(action)) => Some(action),
            other => {
                self.modal = other;
                None
            }
        }
    }

    fn take_conflict(&mut self) -> Option<Conflict> {
        match self.modal.take() {
            Some(Modal::Conflict(conflict)) => Some(*conflict),
            other => {
                self.modal = other;
                None
            }
        }
    }

    /// "Save" in the "Discard changes?" question: saves the form, then does what was asked. A form that
    /// does not save (an invalid field, a conflict on disk) stays open with its errors shown.
    pub fn save_and_continue(&mut self) {
        let Some(action) = self.take_discard() else { return };
        self.save_editor();
        if !self.editing.is_open() {
            self.perform(action);
        }
    }

    fn perform(&mut self, action: Leave) {
        match action {
            Leave::New => self.new_profile(),
            Leave::Close => {}
            Leave::Select(name) => self.select(&name),
            Leave::Edit(name) => self.edit(&name),
            Leave::Duplicate(name) => self.duplicate(&name),
        }
    }

    /// Saves the form. A file changed on disk since it was loaded is not overwritten: a [`Conflict`]
    /// asks the user to reload it or keep theirs. A changed name renames the profile after the save,
    /// off the UI thread, and its keyring keys move with it.
    pub fn save_editor(&mut self) {
        self.editing.submitted = true;
        let Some(editor) = self.editing.form.clone() else { return };
        let names = self.list.names();
        let profile = match editor.build(&names) {
            Ok(profile) => profile,
            Err(errors) => {
                self.editing.errors = errors;
                return;
            }
        };
        let name = editor.name.trim().to_owned();
        let keys = if editor.kind == EditorKind::Spa { editor.keys().ok().flatten() } else { None };
        let renamed_from = editor.original.as_ref().map(|(o, _)| o.clone()).filter(|o| *o != name);
        if renamed_from.is_some() && self.list.entry(&name).is_some() {
            self.editing.errors.insert(Field::Name, FieldError::NameTaken(name.clone()));
            return;
        }
        let before = editor.original.as_ref().and_then(|(o, _)| self.list.profile(o)).cloned();
        let result = match &editor.original {
            None => self.files.store().create(&name, &profile),
            Some((original, version)) => self.files.store().save(original, &profile, Some(*version)),
        };
        match result {
            Ok(_) => {
                let saved_as = editor.original.as_ref().map_or(name.clone(), |(o, _)| o.clone());
                // A new host or family makes the old address and result meaningless.
                if before.is_some_and(|b| b.host != profile.host || b.family != profile.family) {
                    self.runs.forget(&saved_as);
                    self.resolution.remove(&saved_as);
                }
                self.close_editor();
                self.reload();
                self.list.selected = Some(saved_as.clone());
                self.notices.current = Some(Notice::Info(format!("saved {saved_as}")));
                // Keys go to the keyring only, never to the file; the worker reports how it went. With a
                // rename they are stored after it, in the same job (under the profile's id either way).
                let (store, secrets) = (self.files.store().clone(), self.system.secrets.clone());
                if let Some(old) = renamed_from {
                    self.worker.rename_profile(store, secrets, old, name.clone(), keys);
                } else if let Some((key, hmac)) = keys {
                    self.worker.store_spa_keys(store, secrets, saved_as, key, hmac);
                }
            }
            Err(StoreError::Conflict { name, .. }) => {
                self.modal = Some(Modal::Conflict(Box::new(Conflict { name, mine: profile })))
            }
            Err(StoreError::AlreadyExists { .. }) => {
                self.editing.errors.insert(Field::Name, FieldError::NameTaken(name.clone()));
            }
            Err(err) => self.notices.current = Some(Notice::Error(err.to_string())),
        }
    }

    /// Conflict resolution: discard my edits and load what is on disk now.
    pub fn conflict_reload(&mut self) {
        if let Some(conflict) = self.take_conflict() {
            // The user chose to drop their edits: no second question.
            self.close_editor();
            self.reload();
            self.edit(&conflict.name);
        }
    }

    /// Conflict resolution: overwrite the file with my version.
    pub fn conflict_keep_mine(&mut self) {
        let Some(conflict) = self.take_conflict() else { return };
        match self.files.store().save(&conflict.name, &conflict.mine, None) {
            Ok(_) => {
                self.close_editor();
                self.reload();
                self.notices.current = Some(Notice::Info(format!("saved {} over the change on disk", conflict.name)));
            }
            Err(err) => self.notices.current = Some(Notice::Error(err.to_string())),
        }
    }

    /// Conflict resolution: neither yet; back to the editor with the edits intact (nothing was written).
    pub fn conflict_keep_editing(&mut self) {
        self.take_conflict();
    }
}
