//! The host list: profiles grouped by tag, each row with its host, last result and its own Knock button.

use egui::{RichText, Role, WidgetInfo};

use crate::app::{AppState, LastResult};
use crate::ui::ago;

pub fn draw(state: &mut AppState, ui: &mut egui::Ui) {
    egui::ScrollArea::vertical().auto_shrink([false, false]).show(ui, |ui| {
        if state.entries.is_empty() {
            ui.label(format!("No profiles yet in {}.", state.store().dir().display()));
            ui.label("Click New (Ctrl+N), or Import… a knockd.conf.");
            return;
        }
        let groups: Vec<(String, Vec<String>)> = state
            .groups()
            .into_iter()
            .map(|(tag, entries)| (tag, entries.into_iter().map(|e| e.name.clone()).collect()))
            .collect();
        if groups.is_empty() {
            ui.label("No profile matches the search.");
        }
        for (tag, names) in groups {
            egui::CollapsingHeader::new(RichText::new(format!("{tag} ({})", names.len())).strong())
                .id_salt(("group", &tag))
                .default_open(true)
                .show(ui, |ui| {
                    for name in names {
                        ui.push_id((&tag, &name), |ui| row(state, &name, ui));
                    }
                });
        }
    });
}

fn row(state: &mut AppState, name: &str, ui: &mut egui::Ui) {
    let Some(host) = state.entry(name).map(|e| e.profile.as_ref().map(|p| p.host.clone()).map_err(Clone::clone)) else {
        return;
    };
    let selected = state.selected.as_deref() == Some(name);
    let running = state.runs.get(name).is_some_and(|r| r.is_running());
    ui.horizontal(|ui| {
        let knock = ui.add_enabled(host.is_ok() && !running, egui::Button::new("Knock"));
        // One accessible name per row, so assistive tools (and tests) can tell the buttons apart.
        knock.widget_info(|| WidgetInfo::labeled(Role::Button, host.is_ok() && !running, format!("Knock {name}")));
        if knock.clicked() {
            state.select(name);
            state.knock(name, client_core::profile::Action::Open);
        }
        if running {
            ui.spinner();
        }
        ui.vertical(|ui| {
            let title = match &host {
                Ok(host) => format!("{name}  ·  {host}"),
                Err(_) => format!("{name} (unreadable)"),
            };
            if ui.selectable_label(selected, title).clicked() {
                state.select(name);
            }
            match &host {
                Ok(_) => result_line(state.last_result(name), ui),
                Err(err) => {
                    ui.colored_label(
                        ui.visuals().error_fg_color,
                        format!("unreadable: line {}, column {}", err.line, err.column),
                    );
                }
            }
        });
    });
}

pub(super) fn result_line(result: &LastResult, ui: &mut egui::Ui) {
    let (text, color) = match result {
        LastResult::Never => ("never knocked".to_owned(), ui.visuals().weak_text_color()),
        LastResult::Opened { at, .. } => (format!("opened {}", ago(*at)), egui::Color32::from_rgb(0x2e, 0xa0, 0x43)),
        LastResult::Sent { at, detail } => (format!("{detail} {}", ago(*at)), ui.visuals().text_color()),
        LastResult::NotOpened { at, why } => (format!("not opened {}: {why}", ago(*at)), ui.visuals().warn_fg_color),
        LastResult::Failed { at, why } => (format!("failed {}: {why}", ago(*at)), ui.visuals().error_fg_color),
    };
    ui.label(RichText::new(text).small().color(color));
}
