//! Drawing. Each module draws one part of the window from the [`AppState`] and turns clicks into calls
//! of its methods; no state lives here except what only matters to the view (focus requests).

mod detail;
mod dialogs;
mod editor_view;
mod history;
mod host_list;

use std::time::SystemTime;

use egui::{Key, Modifiers, RichText};

use crate::app::{AppState, Notice};
use crate::secrets::Availability;

/// View-only state: one-shot focus requests.
#[derive(Debug, Default)]
pub struct ViewState {
    pub focus_search: bool,
    /// Tag groups the user folded in the host list.
    pub collapsed: std::collections::HashSet<String>,
}

pub fn draw(state: &mut AppState, view: &mut ViewState, ui: &mut egui::Ui) {
    shortcuts(state, view, ui.ctx());
    egui::Panel::top("toolbar").show(ui, |ui| toolbar(state, view, ui));
    egui::Panel::bottom("history").resizable(true).default_size(140.0).show(ui, |ui| history::draw(state, ui));
    egui::Panel::left("hosts")
        .resizable(true)
        .default_size(320.0)
        .show(ui, |ui| host_list::draw(state, &mut view.collapsed, ui));
    egui::CentralPanel::default_margins().show(ui, |ui| {
        if state.editor.is_some() {
            editor_view::draw(state, ui);
        } else {
            detail::draw(state, ui);
        }
    });
    dialogs::draw(state, ui.ctx());
}

/// Enter knocks the selected host, Ctrl+N starts a new profile, Ctrl+F goes to the search box, Delete
/// asks to delete the selected profile. Only when no dialog or editor is open, and Delete and Enter only
/// when no text field has the keyboard (except the search box for Enter: type, then Enter to knock).
fn shortcuts(state: &mut AppState, view: &mut ViewState, ctx: &egui::Context) {
    let modal_open = state.pending_delete.is_some() || state.conflict.is_some() || state.pending_import.is_some();
    if modal_open {
        return;
    }
    if ctx.input_mut(|i| i.consume_key(Modifiers::COMMAND, Key::N)) {
        state.new_profile();
    }
    if ctx.input_mut(|i| i.consume_key(Modifiers::COMMAND, Key::F)) {
        view.focus_search = true;
    }
    if state.editor.is_some() {
        return;
    }
    let typing = ctx.egui_wants_keyboard_input() && !view_has_search_focus(ctx);
    if !typing && ctx.input_mut(|i| i.consume_key(Modifiers::NONE, Key::Enter)) {
        let target = state.selected.clone().or_else(|| state.visible().first().map(|e| e.name.clone()));
        if let Some(name) = target {
            state.select(&name);
            state.knock(&name, client_core::profile::Action::Open);
        }
    }
    if !ctx.egui_wants_keyboard_input()
        && ctx.input_mut(|i| i.consume_key(Modifiers::NONE, Key::Delete))
        && let Some(name) = state.selected.clone()
    {
        state.request_delete(&name);
    }
}

fn search_id() -> egui::Id {
    egui::Id::unique("knock-search")
}

fn view_has_search_focus(ctx: &egui::Context) -> bool {
    ctx.memory(|m| m.has_focus(search_id()))
}

fn toolbar(state: &mut AppState, view: &mut ViewState, ui: &mut egui::Ui) {
    ui.horizontal(|ui| {
        ui.heading("knock");
        if ui.button("New").on_hover_text("New profile (Ctrl+N)").clicked() {
            state.new_profile();
        }
        if ui.button("Import…").on_hover_text("Import profile files or a knockd.conf").clicked()
            && let Some(paths) = rfd::FileDialog::new()
                .add_filter("profiles and knockd.conf", &["toml", "conf"])
                .add_filter("all files", &["*"])
                .pick_files()
        {
            state.import_files(&paths);
        }
        let export_enabled = state.selected.is_some();
        if ui
            .add_enabled(export_enabled, egui::Button::new("Export…"))
            .on_hover_text("Export the selected profile")
            .clicked()
            && let (Some(name), Some(dir)) = (state.selected.clone(), rfd::FileDialog::new().pick_folder())
        {
            state.export(&[name], &dir);
        }
        ui.separator();
        let label = ui.label("Search");
        let search =
            egui::TextEdit::singleline(&mut state.search).id(search_id()).hint_text("name, host, tag (Ctrl+F)");
        let response = ui.add(search).labelled_by(label.id);
        if std::mem::take(&mut view.focus_search) {
            response.request_focus();
        }
        ui.with_layout(egui::Layout::right_to_left(egui::Align::Center), |ui| {
            let (text, tip) = match &state.raw_permission {
                client_core::RawPermission::Permitted => {
                    ("raw sockets: permitted", "TCP hits can carry any flags".to_owned())
                }
                client_core::RawPermission::Denied { how_to_grant, .. } => (
                    "raw sockets: not permitted",
                    format!("Plain SYN hits still work. To send other flags: {how_to_grant}"),
                ),
            };
            ui.label(RichText::new(text).small()).on_hover_text(tip);
            ui.separator();
            match &state.keyring {
                None => ui.label(RichText::new("keyring: checking…").small()),
                Some(Availability::Available) => ui
                    .label(RichText::new("keyring: available").small())
                    .on_hover_text("Secrets for authenticated knocks are stored in the OS keyring, never in files"),
                Some(Availability::Unavailable(why)) => ui
                    .label(RichText::new("keyring: unavailable").small().color(ui.visuals().warn_fg_color))
                    .on_hover_text(why.as_str()),
            };
        });
    });
    if let Some(notice) = state.notice.clone() {
        ui.horizontal(|ui| {
            match &notice {
                Notice::Info(text) => ui.label(text),
                Notice::Error(text) => ui.colored_label(ui.visuals().error_fg_color, text),
            };
            if ui.small_button("Dismiss").clicked() {
                state.notice = None;
            }
        });
    }
}

/// "just now", "42 s ago", "5 min ago", "3 h ago", "2 d ago".
pub fn ago(at: SystemTime) -> String {
    let secs = SystemTime::now().duration_since(at).map_or(0, |d| d.as_secs());
    match secs {
        0..=4 => "just now".to_owned(),
        5..=59 => format!("{secs} s ago"),
        60..=3599 => format!("{} min ago", secs / 60),
        3600..=86_399 => format!("{} h ago", secs / 3600),
        _ => format!("{} d ago", secs / 86_400),
    }
}
