//! Modal dialogs: discard unsaved edits?, confirm a delete, resolve a save conflict, import (path field
//! with Browse…, then a preview with editable names), export (ticked profiles, folder, overwrite
//! question). Escape closes each one as its cancel button would; Enter in a field submits; the first
//! field has the keyboard when a dialog opens.

use egui::{Id, Key, Modal, RichText};

use crate::app::{
    AppState, Command, ExportDialog, ImportDialog, ImportUriDialog, Masked, Modal as Question, Quit, QuitPolicy,
};
use crate::ui::Commands;

/// Draws the question or dialog the app waits on (quitting's first: it may come over any other).
pub fn draw(state: &AppState, opened: bool, ctx: &egui::Context, out: &mut Commands) {
    if let Quit::Asking(doors) = &state.quit {
        quit(doors, opened, ctx, out);
        return;
    }
    match &state.modal {
        None => {}
        Some(Question::Discard(_)) => discard(state, opened, ctx, out),
        Some(Question::Delete(name)) => delete(name, opened, ctx, out),
        Some(Question::Conflict(conflict)) => self::conflict(&conflict.name, ctx, out),
        Some(Question::Import(dialog)) => import(state, dialog, opened, ctx, out),
        Some(Question::ImportUri(dialog)) => import_uri(dialog, opened, ctx, out),
        Some(Question::Export(dialog)) => export(state, dialog, opened, ctx, out),
    }
}

/// "Delete NAME?"
fn delete(name: &str, opened: bool, ctx: &egui::Context, out: &mut Commands) {
    let modal = Modal::new(Id::unique("confirm-delete")).show(ctx, |ui| {
        ui.heading(format!("Delete {name}?"));
        ui.label("The profile file and its keyring secrets are removed. This cannot be undone.");
        ui.horizontal(|ui| {
            if ui.button("Delete profile").clicked() {
                out.push(Command::ConfirmDelete);
            }
            let keep = ui.button("Keep it");
            if opened {
                keep.request_focus();
            }
            if keep.clicked() {
                out.push(Command::CancelDelete);
            }
        });
    });
    if modal.should_close() {
        out.push(Command::CancelDelete);
    }
}

/// A save found the file changed on disk: reload theirs, or keep mine.
fn conflict(name: &str, ctx: &egui::Context, out: &mut Commands) {
    let modal = Modal::new(Id::unique("save-conflict")).show(ctx, |ui| {
        ui.heading(format!("{name} changed on disk"));
        ui.label("Someone (knock-cli, a text editor, another window) changed this profile after you opened it.");
        ui.horizontal(|ui| {
            if ui.button("Reload theirs").on_hover_text("Discard your edits and load the file as it is now").clicked() {
                out.push(Command::ConflictReload);
            }
            if ui.button("Keep mine").on_hover_text("Overwrite the file with your version").clicked() {
                out.push(Command::ConflictKeepMine);
            }
        });
    });
    if modal.should_close() {
        // Back to the editor with the edits intact; nothing was written.
        out.push(Command::ConflictKeepEditing);
    }
}

/// "Save changes?": Save (the default when the form is valid: Enter saves, as it does in the editor),
/// Discard, or Cancel (the default otherwise: Enter never throws edits away).
fn discard(state: &AppState, opened: bool, ctx: &egui::Context, out: &mut Commands) {
    let can_save = state.editing.can_save();
    let modal = Modal::new(Id::unique("discard-changes")).show(ctx, |ui| {
        ui.set_max_width(420.0);
        ui.heading("Discard changes?");
        ui.add(egui::Label::new("The profile you are editing has changes that are not saved.").wrap());
        if !can_save {
            ui.add(egui::Label::new(RichText::new("It cannot be saved yet: a field needs fixing.").weak()).wrap());
        }
        ui.horizontal_wrapped(|ui| {
            let save = ui.add_enabled(can_save, egui::Button::new(RichText::new("Save").strong()));
            let discard = ui.button("Discard");
            let cancel = ui.button("Cancel").on_hover_text("Keep editing");
            if opened {
                if can_save { save.request_focus() } else { cancel.request_focus() }
            }
            if save.clicked() {
                out.push(Command::SaveAndContinue);
            } else if discard.clicked() {
                out.push(Command::DiscardChanges);
            } else if cancel.clicked() {
                out.push(Command::KeepEditing);
            }
        });
    });
    if modal.should_close() {
        out.push(Command::KeepEditing);
    }
}

/// "Import from text": paste the `knock+rotating://` line that `knock-server rotating keygen` printed;
/// the profile is created with its door key in the OS keyring. The field is masked (the line holds the
/// key); a bad line gets the parser's message, which never contains the key.
fn import_uri(dialog: &ImportUriDialog, opened: bool, ctx: &egui::Context, out: &mut Commands) {
    // The form is drawn on a copy (wiped on drop, like the dialog's); what changed goes back as a command.
    let mut dialog = dialog.clone();
    let mut changed = false;
    let mut submit = false;
    let mut cancel = false;
    let modal = Modal::new(Id::unique("import-uri")).show(ctx, |ui| {
        ui.set_max_width(560.0);
        ui.heading("Import from text");
        ui.add(
            egui::Label::new(
                "Paste the knock+rotating:// line your server's administrator sent (knock-server rotating keygen). \
                 It holds the door key: the key goes to the OS keyring, never to a file.",
            )
            .wrap(),
        );
        ui.horizontal(|ui| {
            let label = ui.label("Import line");
            let field = ui
                .add(
                    egui::TextEdit::singleline(&mut *dialog.uri)
                        .password(true)
                        .hint_text("knock+rotating://host/door?key=…")
                        .desired_width(380.0),
                )
                .labelled_by(label.id);
            if opened {
                field.request_focus();
            }
            if field.changed() {
                dialog.error = None;
                changed = true;
            }
            submit |= field.lost_focus() && ui.input(|i| i.key_pressed(Key::Enter));
        });
        ui.horizontal(|ui| {
            let label = ui.label("Profile name");
            let field = ui
                .add(egui::TextEdit::singleline(&mut dialog.name).hint_text("the door's name").desired_width(220.0))
                .labelled_by(label.id);
            changed |= field.changed();
            submit |= field.lost_focus() && ui.input(|i| i.key_pressed(Key::Enter));
        });
        if let Some(error) = &dialog.error {
            ui.add(egui::Label::new(RichText::new(error).color(ui.visuals().error_fg_color)).wrap());
        }
        ui.horizontal(|ui| {
            if dialog.busy {
                ui.spinner();
                ui.label("storing the key…");
            }
            let import = ui.add_enabled(!dialog.busy && !dialog.uri.trim().is_empty(), egui::Button::new("Import"));
            submit |= import.clicked();
            cancel |= ui.button("Cancel").clicked();
        });
    });
    if cancel || modal.should_close() {
        // Dropping the dialog wipes the pasted line.
        out.push(Command::CloseDialog);
        return;
    }
    if changed {
        out.push(Command::EditImportUri(Masked(Box::new(dialog))));
    }
    if submit {
        out.push(Command::SubmitImportUri);
    }
}

/// "Close the doors you opened before quitting?": close them (sending each close sequence, then
/// quitting), leave them open, or stay; "Remember my choice" sets View > On quit.
fn quit(doors: &[String], opened: bool, ctx: &egui::Context, out: &mut Commands) {
    let remember_id = Id::unique("quit-remember");
    let mut remember = ctx.data(|d| d.get_temp::<bool>(remember_id)).unwrap_or(false);
    let modal = Modal::new(Id::unique("quit-close-doors")).show(ctx, |ui| {
        ui.set_max_width(460.0);
        ui.heading("Close the doors you opened?");
        ui.add(
            egui::Label::new(format!(
                "This session opened {} with a close sequence: {}. Send the close sequences before quitting?",
                client_core::plural(doors.len(), "door"),
                doors.join(", ")
            ))
            .wrap(),
        );
        ui.checkbox(&mut remember, "Remember my choice (View > On quit)");
        ui.horizontal(|ui| {
            let close = ui.button(RichText::new("Close them and quit").strong());
            if opened {
                close.request_focus();
            }
            if close.clicked() {
                if remember {
                    out.push(Command::SetQuitPolicy(QuitPolicy::CloseDoors));
                }
                out.push(Command::CloseDoorsAndQuit);
            }
            if ui.button("Quit, leave them open").clicked() {
                if remember {
                    out.push(Command::SetQuitPolicy(QuitPolicy::LeaveOpen));
                }
                out.push(Command::QuitLeavingDoorsOpen);
            }
            if ui.button("Cancel").on_hover_text("Stay in the app").clicked() {
                out.push(Command::CancelQuit);
            }
        });
    });
    ctx.data_mut(|d| d.insert_temp(remember_id, remember));
    if modal.should_close() {
        out.push(Command::CancelQuit);
    }
}

fn import(state: &AppState, dialog: &ImportDialog, opened: bool, ctx: &egui::Context, out: &mut Commands) {
    // The form is drawn on a copy; what changed goes back as a command.
    let mut dialog = dialog.clone();
    let mut changed = false;
    let can_browse = state.picking.is_none();
    let mut preview_now = false;
    let mut browse_now = false;
    let mut finish = false;
    let mut cancel = false;
    let modal = Modal::new(Id::unique("import")).show(ctx, |ui| {
        ui.set_max_width(560.0);
        ui.heading("Import profiles");
        ui.add(
            egui::Label::new(
                "A knock profile (.toml), an fwknop client file (~/.fwknoprc) or a knockd.conf; the format is detected.",
            )
            .wrap(),
        );
        ui.horizontal(|ui| {
            let label = ui.label("File path");
            let field = ui
                .add(egui::TextEdit::singleline(&mut dialog.path).hint_text("/path/to/file or ~/file").desired_width(340.0))
                .labelled_by(label.id);
            if opened {
                field.request_focus();
            }
            if field.lost_focus() && ui.input(|i| i.key_pressed(Key::Enter)) {
                preview_now = true;
            }
            if field.changed() {
                dialog.preview = None;
                dialog.error = None;
                // Another file: whether it is a backup is found out again.
                dialog.encrypted = false;
                changed = true;
            }
            let browse = ui
                .add_enabled(can_browse, egui::Button::new("Browse…"))
                .on_hover_text("Pick the file with the system's file dialog");
            if browse.clicked() {
                browse_now = true;
            }
        });
        ui.horizontal(|ui| {
            let label = ui.label("Host (knockd.conf only)");
            let field = ui
                .add(egui::TextEdit::singleline(&mut dialog.host).hint_text("bastion.example.org").desired_width(220.0))
                .labelled_by(label.id);
            if field.lost_focus() && ui.input(|i| i.key_pressed(Key::Enter)) {
                preview_now = true;
            }
            if field.changed() {
                dialog.preview = None;
                changed = true;
            }
        });
        if dialog.encrypted {
            // An encrypted backup (Export with keys): its passphrase, masked.
            ui.horizontal(|ui| {
                let label = ui.label("Passphrase");
                let field = ui
                    .add(egui::TextEdit::singleline(&mut *dialog.passphrase.0).password(true).desired_width(220.0))
                    .labelled_by(label.id);
                if field.lost_focus() && ui.input(|i| i.key_pressed(Key::Enter)) {
                    preview_now = true;
                }
                if field.changed() {
                    dialog.preview = None;
                    changed = true;
                }
            });
        }
        if let Some(preview) = dialog.preview.as_mut() {
            // A knockd.conf says nothing of the service behind the door: offer to check one after knocking.
            if preview.format == client_core::ImportFormat::KnockdConf {
                ui.horizontal(|ui| {
                    let label = ui.label("Verify port (optional)");
                    let field = ui
                        .add(egui::TextEdit::singleline(&mut dialog.verify_port).hint_text("22").desired_width(80.0))
                        .labelled_by(label.id)
                        .on_hover_text("A TCP port the door opens (ssh: 22): checked after each knock");
                    changed |= field.changed();
                });
            }
            ui.separator();
            ui.label(format!("read as {} — will create:", preview.format));
            egui::Grid::new("import-preview").num_columns(3).show(ui, |ui| {
                for (i, candidate) in preview.candidates.iter_mut().enumerate() {
                    let label = ui.label(format!("Profile {}", i + 1));
                    let field = ui.push_id(i, |ui| {
                        ui.add(egui::TextEdit::singleline(&mut candidate.name).desired_width(200.0)).labelled_by(label.id)
                    });
                    changed |= field.inner.changed();
                    let has_keys = candidate.keys.is_some() || candidate.door_key.is_some();
                    let keys = if has_keys { ", keys to the keyring" } else { "" };
                    ui.label(format!("{}{keys}", candidate.profile.host));
                    ui.end_row();
                }
            });
            for skipped in &preview.skipped {
                ui.add(egui::Label::new(RichText::new(format!("skipped: {skipped}")).weak()).wrap());
            }
        }
        if let Some(error) = &dialog.error {
            ui.add(egui::Label::new(RichText::new(error).color(ui.visuals().error_fg_color)).wrap());
        }
        ui.horizontal(|ui| {
            if dialog.importing {
                ui.spinner();
                ui.add_enabled(false, egui::Button::new("Importing…"));
            } else if dialog.preview.is_some() {
                if ui.button("Import").clicked() {
                    finish = true;
                }
            } else if dialog.decrypting {
                ui.add_enabled(false, egui::Button::new("Decrypting…"));
            } else if ui.add_enabled(!dialog.path.trim().is_empty(), egui::Button::new("Preview")).clicked() {
                preview_now = true;
            }
            if ui.button("Cancel").clicked() {
                cancel = true;
            }
        });
    });
    if modal.should_close() || cancel {
        out.push(Command::CloseDialog);
        return;
    }
    if changed {
        out.push(Command::EditImport(Box::new(dialog)));
    }
    if browse_now {
        out.push(Command::BrowseImportFile);
    } else if preview_now {
        out.push(Command::PreviewImport);
    } else if finish {
        out.push(Command::FinishImport);
    }
}

fn export(state: &AppState, dialog: &ExportDialog, opened: bool, ctx: &egui::Context, out: &mut Commands) {
    // The form is drawn on a copy; what changed goes back as a command.
    let mut dialog = dialog.clone();
    let before = (dialog.chosen.clone(), dialog.dir.clone(), dialog.existing.clone(), dialog.error.clone());
    let before_keys = (dialog.with_keys, dialog.passphrase.0.clone(), dialog.confirm.0.clone());
    let names = state.list.names();
    let can_browse = state.picking.is_none();
    let mut run: Option<bool> = None;
    let mut browse_now = false;
    let mut cancel = false;
    let modal = Modal::new(Id::unique("export")).show(ctx, |ui| {
        ui.set_max_width(520.0);
        ui.heading("Export profiles");
        ui.horizontal(|ui| {
            let label = ui.label("Folder");
            let field = ui
                .add(
                    egui::TextEdit::singleline(&mut dialog.dir)
                        .hint_text("/path/to/folder or ~/folder")
                        .desired_width(320.0),
                )
                .labelled_by(label.id);
            if opened {
                field.request_focus();
            }
            if field.changed() {
                // A new folder: the old question and error no longer apply.
                dialog.existing.clear();
                dialog.error = None;
            }
            if field.lost_focus() && ui.input(|i| i.key_pressed(Key::Enter)) && !dialog.chosen.is_empty() {
                run = Some(false);
            }
            if ui.add_enabled(can_browse, egui::Button::new("Browse…")).clicked() {
                browse_now = true;
            }
        });
        ui.horizontal(|ui| {
            if ui.small_button("All").clicked() {
                dialog.chosen = names.iter().cloned().collect();
            }
            if ui.small_button("None").clicked() {
                dialog.chosen.clear();
            }
        });
        egui::ScrollArea::vertical().max_height(220.0).show(ui, |ui| {
            for name in &names {
                let mut on = dialog.chosen.contains(name);
                if ui.checkbox(&mut on, name).changed() {
                    if on {
                        dialog.chosen.insert(name.clone());
                    } else {
                        dialog.chosen.remove(name);
                    }
                    dialog.existing.clear();
                }
            }
        });
        ui.checkbox(&mut dialog.with_keys, "Export with keys… (one encrypted file, with a passphrase)")
            .on_hover_text("The profiles and their keys from the keyring, in one file sealed with a passphrase");
        if dialog.with_keys {
            egui::Grid::new("export-passphrase").num_columns(2).show(ui, |ui| {
                for (words, field) in
                    [("Passphrase", &mut dialog.passphrase), ("Confirm passphrase", &mut dialog.confirm)]
                {
                    let label = ui.label(words);
                    let edit = ui
                        .add(egui::TextEdit::singleline(&mut *field.0).password(true).desired_width(220.0))
                        .labelled_by(label.id);
                    if edit.changed() {
                        dialog.error = None;
                    }
                    ui.end_row();
                }
            });
        }
        let note = if dialog.with_keys {
            format!(
                "{} is written readable by you only, its keys encrypted: import it with the passphrase.",
                crate::app::BACKUP_FILE
            )
        } else {
            "Files are written readable by you only: they contain the sequences.".to_owned()
        };
        ui.add(egui::Label::new(RichText::new(note).weak()).wrap());
        if let Some(error) = &dialog.error {
            ui.add(egui::Label::new(RichText::new(error).color(ui.visuals().error_fg_color)).wrap());
        }
        if dialog.existing.is_empty() {
            ui.horizontal(|ui| {
                let count = client_core::plural(dialog.chosen.len(), "profile");
                let label =
                    if dialog.with_keys { format!("Export {count} with keys") } else { format!("Export {count}") };
                let label = if dialog.writing { "Encrypting…".to_owned() } else { label };
                let ready = !dialog.chosen.is_empty()
                    && !dialog.writing
                    && (!dialog.with_keys || dialog.passphrase.0.chars().count() >= client_core::MIN_PASSPHRASE_CHARS);
                let button = ui.add_enabled(ready, egui::Button::new(label));
                let button = if dialog.with_keys && !ready {
                    button.on_disabled_hover_text(format!(
                        "a passphrase of at least {} characters",
                        client_core::MIN_PASSPHRASE_CHARS
                    ))
                } else {
                    button
                };
                if button.clicked() {
                    run = Some(false);
                }
                if ui.button("Cancel").clicked() {
                    cancel = true;
                }
            });
        } else {
            let list: Vec<String> = dialog.existing.iter().map(|p| p.display().to_string()).collect();
            ui.add(
                egui::Label::new(
                    RichText::new(format!(
                        "Replace {}? {}",
                        client_core::plural(list.len(), "existing file"),
                        list.join(", ")
                    ))
                    .color(ui.visuals().warn_fg_color),
                )
                .wrap(),
            );
            ui.horizontal(|ui| {
                if ui.button("Replace").clicked() {
                    run = Some(true);
                }
                if ui.button("Keep them").clicked() {
                    dialog.existing.clear();
                }
            });
        }
    });
    if modal.should_close() || cancel {
        out.push(Command::CloseDialog);
        return;
    }
    let after = (dialog.chosen.clone(), dialog.dir.clone(), dialog.existing.clone(), dialog.error.clone());
    let after_keys = (dialog.with_keys, dialog.passphrase.0.clone(), dialog.confirm.0.clone());
    if after != before || after_keys != before_keys {
        out.push(Command::EditExport(Box::new(dialog)));
    }
    if browse_now {
        out.push(Command::BrowseExportFolder);
    } else if let Some(overwrite) = run {
        out.push(Command::Export { overwrite });
    }
}
