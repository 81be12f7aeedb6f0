//! The profile editor: every field with its error next to it; Save stays disabled until all are valid.

use client_core::{AddressFamily, Method};
use egui::RichText;

use crate::app::AppState;
use crate::editor::{Editor, Field, FieldErrors};

pub fn draw(state: &mut AppState, ui: &mut egui::Ui) {
    let errors = state.editor_errors.clone();
    let Some(editor) = state.editor.as_mut() else { return };
    ui.heading(if editor.is_new() { "New profile".to_owned() } else { format!("Edit {}", editor.name) });
    let mut changed = false;
    egui::ScrollArea::vertical().show(ui, |ui| {
        egui::Grid::new("editor").num_columns(3).spacing([12.0, 8.0]).show(ui, |ui| {
            changed |= fields(editor, &errors, ui);
        });
    });
    if changed {
        state.editor_changed();
    }
    ui.add_space(8.0);
    ui.horizontal(|ui| {
        if ui.add_enabled(state.can_save(), egui::Button::new("Save")).clicked() {
            state.save_editor();
        }
        if ui.button("Cancel").clicked() {
            state.close_editor();
        }
        if !state.can_save() {
            ui.label(RichText::new(format!("{} field(s) to fix", state.editor_errors.len())).weak());
        }
    });
}

/// Draws the form; true if any value changed.
fn fields(editor: &mut Editor, errors: &FieldErrors, ui: &mut egui::Ui) -> bool {
    let mut changed = false;
    let new = editor.is_new();
    changed |= text_row(ui, "Name", &mut editor.name, errors.get(&Field::Name), new, "bastion");
    changed |= text_row(ui, "Host", &mut editor.host, errors.get(&Field::Host), true, "bastion.example.org");
    ui.label("Kind");
    ui.horizontal(|ui| {
        changed |= ui.radio_value(&mut editor.spa, false, "Knock sequence").changed();
        changed |= ui.radio_value(&mut editor.spa, true, "SPA (fwknop)").changed();
    });
    ui.label("");
    ui.end_row();
    if editor.spa {
        changed |= spa_fields(editor, errors, ui);
    } else {
        changed |=
            text_row(ui, "Open sequence", &mut editor.open, errors.get(&Field::Open), true, "1300,8888:udp,9394");
        changed |= text_row(ui, "Close sequence", &mut editor.close, errors.get(&Field::Close), true, "optional");
    }
    let label = ui.label("Address family");
    egui::ComboBox::from_id_salt("family")
        .selected_text(editor.family.as_str())
        .show_ui(ui, |ui| {
            for family in [AddressFamily::Any, AddressFamily::V4, AddressFamily::V6] {
                changed |= ui.selectable_value(&mut editor.family, family, family.as_str()).changed();
            }
        })
        .response
        .labelled_by(label.id);
    ui.label("");
    ui.end_row();
    if !editor.spa {
        let label = ui.label("Send method");
        egui::ComboBox::from_id_salt("method")
            .selected_text(editor.method.as_str())
            .show_ui(ui, |ui| {
                for method in [Method::Auto, Method::Raw, Method::Connect] {
                    changed |= ui.selectable_value(&mut editor.method, method, method.as_str()).changed();
                }
            })
            .response
            .labelled_by(label.id);
        ui.label("");
        ui.end_row();
        changed |= text_row(ui, "TCP flags", &mut editor.tcp_flags, errors.get(&Field::TcpFlags), true, "syn");
        changed |= text_row(ui, "Delay (ms)", &mut editor.delay_ms, errors.get(&Field::Delay), true, "0");
    }
    ui.label("Verify");
    changed |= ui.checkbox(&mut editor.verify, "check a TCP port after knocking").changed();
    ui.label("");
    ui.end_row();
    if editor.verify {
        changed |= text_row(ui, "Verify port", &mut editor.verify_port, errors.get(&Field::VerifyPort), true, "22");
        changed |=
            text_row(ui, "Wait (ms)", &mut editor.verify_timeout_ms, errors.get(&Field::VerifyTimeout), true, "5000");
        changed |= text_row(ui, "Attempts", &mut editor.attempts, errors.get(&Field::Attempts), true, "3");
        changed |= text_row(ui, "Backoff (ms)", &mut editor.backoff_ms, errors.get(&Field::Backoff), true, "1000");
    }
    changed |= text_row(ui, "Tags", &mut editor.tags, errors.get(&Field::Tags), true, "prod, ssh");
    let notes = ui.label("Notes");
    changed |= ui.add(egui::TextEdit::multiline(&mut editor.notes).desired_rows(2)).labelled_by(notes.id).changed();
    ui.label("");
    ui.end_row();
    changed
}

/// The SPA part of the form: what to ask fwknopd for, and the keys (masked; stored in the OS keyring on
/// save, never in the profile file).
fn spa_fields(editor: &mut Editor, errors: &FieldErrors, ui: &mut egui::Ui) -> bool {
    let mut changed = false;
    changed |= text_row(ui, "Access", &mut editor.access, errors.get(&Field::Access), true, "tcp/22,udp/53");
    changed |= text_row(
        ui,
        "Allow IP",
        &mut editor.allow_ip,
        errors.get(&Field::AllowIp),
        true,
        "local, source or an IPv4 address",
    );
    changed |= text_row(ui, "SPA port", &mut editor.spa_port, errors.get(&Field::SpaPort), true, "62201");
    changed |= text_row(ui, "Username", &mut editor.spa_user, errors.get(&Field::SpaUser), true, "your login name");
    let keep = if editor.is_new() { "base64, or Generate keys" } else { "leave empty to keep the stored key" };
    changed |= secret_row(ui, "Key", &mut editor.spa_key, None, keep);
    changed |= secret_row(ui, "HMAC key", &mut editor.spa_hmac_key, errors.get(&Field::SpaKeys), keep);
    ui.label("");
    if ui.button("Generate keys").clicked() {
        if let Err(err) = editor.generate_keys() {
            editor.generated = Some(format!("cannot generate keys: {err}"));
        }
        changed = true;
    }
    ui.label("");
    ui.end_row();
    if let Some(lines) = editor.generated.clone() {
        ui.label("For access.conf");
        ui.vertical(|ui| {
            ui.label(RichText::new(lines.trim_end()).monospace().small());
            if ui.small_button("Copy").clicked() {
                ui.ctx().copy_text(lines.clone());
            }
        });
        ui.label(RichText::new("put these on the server; they are shown only now").weak());
        ui.end_row();
    }
    changed
}

/// A masked field for a key; its error (if any) in the third column.
fn secret_row(ui: &mut egui::Ui, label: &str, value: &mut String, error: Option<&String>, hint: &str) -> bool {
    let label = ui.label(label);
    let edit = egui::TextEdit::singleline(value).password(true).hint_text(hint).desired_width(260.0);
    let response = ui.add(edit).labelled_by(label.id);
    match error {
        Some(message) => ui.colored_label(ui.visuals().error_fg_color, message),
        None => ui.label(""),
    };
    ui.end_row();
    response.changed()
}

/// A labelled single-line field with its error (if any) in the third column. The field is linked to its
/// label for assistive tools (and tests), which find it as "Host", "Open sequence", ...
fn text_row(
    ui: &mut egui::Ui,
    label: &str,
    value: &mut String,
    error: Option<&String>,
    enabled: bool,
    hint: &str,
) -> bool {
    let label = ui.label(label);
    let edit = egui::TextEdit::singleline(value).hint_text(hint).desired_width(260.0);
    let response = ui.add_enabled(enabled, edit).labelled_by(label.id);
    match error {
        Some(message) => ui.colored_label(ui.visuals().error_fg_color, message),
        None => ui.label(""),
    };
    ui.end_row();
    response.changed()
}
