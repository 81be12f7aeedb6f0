//! The profile editor: every field with its error next to it; Save stays disabled until all are valid.

use client_core::{AddressFamily, Method};
use egui::RichText;

use crate::app::{AppState, Command, Masked};
use crate::editor::{Editor, EditorKind, Field, FieldError, FieldErrors};
use crate::ui::{Commands, icons};

/// Draws the form on a copy of it; a change goes back as [`Command::EditForm`], before Save if both.
pub fn draw(state: &AppState, opened: bool, keys: bool, ui: &mut egui::Ui, out: &mut Commands) {
    // Ctrl+S saves, Escape cancels (asking first if there are changes), from anywhere in the form.
    if keys && ui.input_mut(|i| i.consume_key(egui::Modifiers::COMMAND, egui::Key::S)) {
        out.push(Command::SaveEditor);
        return;
    }
    // Escape with a menu or a drop-down open closes that only (egui does), never the editor behind it.
    let menu_open = egui::Popup::is_any_open(ui.ctx());
    if keys && !menu_open && ui.input_mut(|i| i.consume_key(egui::Modifiers::NONE, egui::Key::Escape)) {
        out.push(Command::CancelEditor);
        return;
    }
    let errors = state.editing.visible_errors();
    let can_save = state.editing.can_save();
    let Some(mut editor) = state.editing.form.clone() else { return };
    let heading = if editor.is_new() { "New profile".to_owned() } else { format!("Edit {}", editor.name) };
    ui.add(egui::Label::new(RichText::new(heading).heading()).truncate());
    // The action row is pinned below the form, outside its scroll area: Save and Cancel are on screen at
    // any window size and with any kind of profile, however long the form.
    let mut save = false;
    let mut cancel = false;
    egui::Panel::bottom("editor-actions").resizable(false).show(ui, |ui| {
        ui.horizontal_wrapped(|ui| {
            let button = egui::Button::new(RichText::new("Save").strong());
            save = ui.add_enabled(can_save, button).on_hover_text("Ctrl+S, or Enter in a field").clicked();
            cancel = ui.button("Cancel").on_hover_text("Escape").clicked();
            if errors.is_empty() {
                ui.label(RichText::new("Enter or Ctrl+S saves").weak());
            } else {
                ui.label(RichText::new(format!("{} to fix", client_core::plural(errors.len(), "field"))).weak());
            }
        });
    });
    let mut changed = None;
    let mut submit = false;
    let mut copied_keys = None;
    egui::ScrollArea::vertical().auto_shrink([false, false]).show(ui, |ui| {
        // Fields as wide as the window allows (up to 260): at 640x400 or zoomed, none is cut at the edge.
        let field_width = (ui.available_width() - 130.0).clamp(80.0, 260.0);
        egui::Grid::new("editor").num_columns(2).spacing([12.0, 8.0]).show(ui, |ui| {
            let mut form = Form { errors: &errors, changed: None, submit: false, focus_name: opened, field_width };
            fields(&mut editor, &mut form, ui);
            changed = form.changed;
            submit = form.submit;
        });
        if let Some(lines) = editor.generated.clone()
            && generated_keys(&lines, ui)
        {
            copied_keys = Some(lines);
        }
    });
    if let Some(field) = changed {
        out.push(Command::EditForm { form: Masked(Box::new(editor)), field });
    }
    if let Some(lines) = copied_keys {
        out.push(Command::CopiedSecret(Masked(zeroize::Zeroizing::new(lines))));
    }
    if submit || save {
        out.push(Command::SaveEditor);
    } else if cancel {
        out.push(Command::CancelEditor);
    }
}

/// What drawing the form found: which field changed (`Some(None)`: a field without its own error),
/// whether Enter was pressed in a single-line field, and whether Name should take the keyboard.
struct Form<'a> {
    errors: &'a FieldErrors,
    changed: Option<Option<Field>>,
    submit: bool,
    focus_name: bool,
    /// How wide a field is drawn.
    field_width: f32,
}

impl Form<'_> {
    fn note(&mut self, response: &egui::Response, field: Option<Field>) {
        if response.changed() {
            self.changed = Some(field);
        }
        if response.lost_focus() && response.ctx.input(|i| i.key_pressed(egui::Key::Enter)) {
            self.submit = true;
        }
    }
}

/// Draws the form.
fn fields(editor: &mut Editor, form: &mut Form<'_>, ui: &mut egui::Ui) {
    let name = text_row(ui, form, "Name", &mut editor.name, Some(Field::Name), "bastion");
    if std::mem::take(&mut form.focus_name) {
        name.request_focus();
    }
    text_row(ui, form, "Host", &mut editor.host, Some(Field::Host), "bastion.example.org");
    ui.label("Kind");
    // One line where there is room, stacked in a narrow window (a grid cell does not wrap).
    let kinds = |ui: &mut egui::Ui| {
        for kind in EditorKind::ALL {
            if ui.radio_value(&mut editor.kind, kind, kind.label()).changed() {
                form.changed = Some(None);
            }
        }
    };
    if form.field_width < 250.0 {
        ui.vertical(kinds);
    } else {
        ui.horizontal(kinds);
    }
    ui.end_row();
    match editor.kind {
        EditorKind::Sequence => {
            text_row(ui, form, "Open sequence", &mut editor.open, Some(Field::Open), "1300,8888:udp,9394");
            text_row(ui, form, "Close sequence", &mut editor.close, Some(Field::Close), "optional");
        }
        EditorKind::Spa => spa_fields(editor, form, ui),
        EditorKind::Rotating => rotating_fields(editor, form, ui),
    }
    let label = ui.label("Address family");
    egui::ComboBox::from_id_salt("family")
        .selected_text(editor.family.as_str())
        .show_ui(ui, |ui| {
            for family in [AddressFamily::Any, AddressFamily::V4, AddressFamily::V6] {
                if ui.selectable_value(&mut editor.family, family, family.as_str()).changed() {
                    form.changed = Some(None);
                }
            }
        })
        .response
        .labelled_by(label.id);
    ui.end_row();
    if editor.kind != EditorKind::Spa {
        let label = ui.label("Send method");
        egui::ComboBox::from_id_salt("method")
            .selected_text(editor.method.as_str())
            .show_ui(ui, |ui| {
                for method in [Method::Auto, Method::Raw, Method::Connect] {
                    if ui.selectable_value(&mut editor.method, method, method.as_str()).changed() {
                        form.changed = Some(None);
                    }
                }
            })
            .response
            .labelled_by(label.id);
        ui.end_row();
        // A rotating sequence's hits are plain SYNs (the server matches those).
        if editor.kind == EditorKind::Sequence {
            text_row(ui, form, "TCP flags", &mut editor.tcp_flags, Some(Field::TcpFlags), "syn");
        }
        text_row(ui, form, "Delay (ms)", &mut editor.delay_ms, Some(Field::Delay), "0");
    }
    ui.label("Verify");
    if ui.checkbox(&mut editor.verify, "check a TCP port after knocking").changed() {
        form.changed = Some(None);
    }
    ui.end_row();
    if editor.verify {
        text_row(ui, form, "Verify port", &mut editor.verify_port, Some(Field::VerifyPort), "22");
        text_row(ui, form, "Wait (ms)", &mut editor.verify_timeout_ms, Some(Field::VerifyTimeout), "5000");
        text_row(ui, form, "Attempts", &mut editor.attempts, Some(Field::Attempts), "3");
        text_row(ui, form, "Backoff (ms)", &mut editor.backoff_ms, Some(Field::Backoff), "1000");
    }
    text_row(ui, form, "Tags", &mut editor.tags, Some(Field::Tags), "prod, ssh");
    let notes = ui.label("Notes");
    let response = ui.add(egui::TextEdit::multiline(&mut editor.notes).desired_rows(2)).labelled_by(notes.id);
    if response.changed() {
        form.changed = Some(None);
    }
    ui.end_row();
}

/// The SPA part of the form: what to ask fwknopd for, and the keys (masked; stored in the OS keyring on
/// save, never in the profile file). Generated keys show once, in monospace on one line each.
fn spa_fields(editor: &mut Editor, form: &mut Form<'_>, ui: &mut egui::Ui) {
    text_row(ui, form, "Access", &mut editor.access, Some(Field::Access), "tcp/22,udp/53");
    text_row(ui, form, "Allow IP", &mut editor.allow_ip, Some(Field::AllowIp), "local, source or an IPv4 address");
    text_row(ui, form, "SPA port", &mut editor.spa_port, Some(Field::SpaPort), "62201");
    text_row(ui, form, "Username", &mut editor.spa_user, Some(Field::SpaUser), "your login name");
    let keep = if editor.is_new() { "base64, or Generate keys" } else { "leave empty to keep the stored key" };
    secret_row(ui, form, "Key", &mut editor.spa_key, None, keep);
    secret_row(ui, form, "HMAC key", &mut editor.spa_hmac_key, Some(Field::SpaKeys), keep);
    ui.label("");
    if ui.button("Generate keys").clicked() {
        if let Err(err) = editor.generate_keys() {
            editor.generated = Some(format!("cannot generate keys: {err}"));
        }
        form.changed = Some(Some(Field::SpaKeys));
    }
    ui.end_row();
}

/// The rotating part of the form: the door's parameters, as the server has them (the door key stays in
/// the OS keyring: `knock-cli profile set-key` or Import from text).
fn rotating_fields(editor: &mut Editor, form: &mut Form<'_>, ui: &mut egui::Ui) {
    text_row(ui, form, "Door", &mut editor.door, Some(Field::Door), "the door's name on the server");
    text_row(ui, form, "Window (s)", &mut editor.step, Some(Field::Step), "30");
    text_row(ui, form, "Hits", &mut editor.length, Some(Field::Length), "4");
    text_row(ui, form, "Port range", &mut editor.range, Some(Field::Range), "1024-65535");
    text_row(ui, form, "Protocols", &mut editor.protocols, Some(Field::Protocols), "all tcp, or tcp,udp,tcp,tcp");
    text_row(ui, form, "Exclude ports", &mut editor.exclude, Some(Field::Exclude), "none, or 22, 443");
}

/// Generated keys, shown once below the form at full width: monospace, one line per key (never wrapped
/// mid-key; scrolls sideways if the window is narrow), with a Copy button that says it copied. True
/// when they were copied (the clipboard is then cleared after a while).
fn generated_keys(lines: &str, ui: &mut egui::Ui) -> bool {
    ui.separator();
    ui.label(RichText::new("For the server's access.conf (shown only now):").strong());
    // Masked until Reveal (someone may be looking at the screen); Copy copies them either way.
    let revealed_id = ui.scope_id().with(("revealed", lines));
    let revealed = ui.ctx().data(|d| d.get_temp::<bool>(revealed_id)).unwrap_or(false);
    let shown = if revealed { lines.trim_end().to_owned() } else { masked_keys(lines) };
    egui::ScrollArea::horizontal().id_salt("generated-keys").show(ui, |ui| {
        ui.add(egui::Label::new(RichText::new(shown).monospace().size(14.0)).extend());
    });
    let copied_id = ui.scope_id().with("copied");
    let copied = ui.ctx().data(|d| d.get_temp::<bool>(copied_id)).unwrap_or(false);
    let button = ui
        .horizontal(|ui| {
            if ui.button(if revealed { "Hide keys" } else { "Reveal keys" }).clicked() {
                ui.ctx().data_mut(|d| d.insert_temp(revealed_id, !revealed));
            }
            if copied {
                icons::button(ui, icons::OPEN, "Copied")
            } else {
                icons::button(ui, icons::COPY, "Copy to clipboard")
            }
        })
        .inner;
    // Bring the keys into view once, right after they were generated (they sit below the form).
    let seen_id = ui.scope_id().with(("seen", lines));
    if !ui.ctx().data(|d| d.get_temp::<bool>(seen_id)).unwrap_or(false) {
        button.scroll_to_me(Some(egui::Align::Max));
        ui.ctx().data_mut(|d| d.insert_temp(seen_id, true));
    }
    if button.clicked() {
        ui.ctx().copy_text(lines.to_owned());
        ui.ctx().data_mut(|d| d.insert_temp(copied_id, true));
        return true;
    }
    false
}

/// The access.conf lines with each value masked: `KEY_BASE64: ••••••••`.
fn masked_keys(lines: &str) -> String {
    lines
        .trim_end()
        .lines()
        .map(|line| match line.split_once(": ") {
            Some((name, _)) => format!("{name}: ••••••••"),
            None => line.to_owned(),
        })
        .collect::<Vec<_>>()
        .join("\n")
}

/// A masked field for a key; its error (if any) under it.
fn secret_row(
    ui: &mut egui::Ui,
    form: &mut Form<'_>,
    label: &str,
    value: &mut String,
    field: Option<Field>,
    hint: &str,
) {
    let label = ui.label(label);
    let edit = egui::TextEdit::singleline(value).password(true).hint_text(hint).desired_width(form.field_width);
    ui.vertical(|ui| {
        let response = ui.add(edit).labelled_by(label.id);
        form.note(&response, Some(field.unwrap_or(Field::SpaKeys)));
        error_cell(ui, field.and_then(|f| form.errors.get(&f)), form.field_width);
    });
    ui.end_row();
}

/// A field's error, under it (never in a column of its own that a narrow window would cut off).
fn error_cell(ui: &mut egui::Ui, error: Option<&FieldError>, width: f32) {
    if let Some(error) = error {
        ui.set_max_width(width.max(200.0));
        ui.add(egui::Label::new(RichText::new(error.to_string()).color(ui.visuals().error_fg_color)).wrap());
    }
}

/// A labelled single-line field with its error (if any) under it. The field is linked to its
/// label for assistive tools (and tests), which find it as "Host", "Open sequence", ...
fn text_row(
    ui: &mut egui::Ui,
    form: &mut Form<'_>,
    label: &str,
    value: &mut String,
    field: Option<Field>,
    hint: &str,
) -> egui::Response {
    let label = ui.label(label);
    let edit = egui::TextEdit::singleline(value).hint_text(hint).desired_width(form.field_width);
    let response = ui
        .vertical(|ui| {
            let response = ui.add(edit).labelled_by(label.id);
            form.note(&response, field);
            error_cell(ui, field.and_then(|f| form.errors.get(&f)), form.field_width);
            response
        })
        .inner;
    ui.end_row();
    response
}
