//! The host list: profiles grouped by tag, each row with its host, last result and its own Knock button.
//! Every line has the same height and only the visible lines are laid out, so a list of thousands of
//! profiles costs what a screenful does.

use std::collections::{HashMap, HashSet};

use egui::{RichText, Role, WidgetInfo};

use crate::app::{AppState, LastResult};
use crate::ui::ago;

const LINE_HEIGHT: f32 = 44.0;

enum Line {
    Group { tag: String, count: usize, open: bool },
    Row { index: usize },
}

pub fn draw(state: &mut AppState, collapsed: &mut HashSet<String>, ui: &mut egui::Ui) {
    if state.entries.is_empty() {
        ui.label(format!("No profiles yet in {}.", state.store().dir().display()));
        ui.label("Click New (Ctrl+N), or Import… a knockd.conf.");
        return;
    }
    let lines = flatten(state, collapsed);
    if lines.is_empty() {
        ui.label("No profile matches the search.");
        return;
    }
    egui::ScrollArea::vertical().auto_shrink([false, false]).show_rows(ui, LINE_HEIGHT, lines.len(), |ui, range| {
        for line in &lines[range] {
            let size = egui::vec2(ui.available_width(), LINE_HEIGHT);
            ui.allocate_ui(size, |ui| match line {
                Line::Group { tag, count, open } => group_header(tag, *count, *open, collapsed, ui),
                Line::Row { index } => {
                    ui.push_id(*index, |ui| row(state, *index, ui));
                }
            });
        }
    });
}

/// The list as lines: a header per tag, then (unless collapsed) its profiles, by index into entries.
fn flatten(state: &AppState, collapsed: &HashSet<String>) -> Vec<Line> {
    let index_of: HashMap<&str, usize> = state.entries.iter().enumerate().map(|(i, e)| (e.name.as_str(), i)).collect();
    let mut lines = Vec::new();
    for (tag, entries) in state.groups() {
        let open = !collapsed.contains(&tag);
        lines.push(Line::Group { count: entries.len(), open, tag: tag.clone() });
        if open {
            lines
                .extend(entries.iter().filter_map(|e| index_of.get(e.name.as_str())).map(|&index| Line::Row { index }));
        }
    }
    lines
}

fn group_header(tag: &str, count: usize, open: bool, collapsed: &mut HashSet<String>, ui: &mut egui::Ui) {
    ui.add_space(14.0);
    let marker = if open { "v" } else { ">" };
    let header = ui.add(egui::Button::new(RichText::new(format!("{marker}  {tag} ({count})")).strong()).frame(false));
    if header.clicked() {
        if open {
            collapsed.insert(tag.to_owned());
        } else {
            collapsed.remove(tag);
        }
    }
}

fn row(state: &mut AppState, index: usize, ui: &mut egui::Ui) {
    let Some(entry) = state.entries.get(index) else { return };
    let name = entry.name.clone();
    let host = entry.profile.as_ref().map(|p| p.host.clone()).map_err(Clone::clone);
    let selected = state.selected.as_deref() == Some(name.as_str());
    let running = state.runs.get(&name).is_some_and(|r| r.is_running());
    ui.horizontal(|ui| {
        let knock = ui.add_enabled(host.is_ok() && !running, egui::Button::new("Knock"));
        // One accessible name per row, so assistive tools (and tests) can tell the buttons apart.
        knock.widget_info(|| WidgetInfo::labeled(Role::Button, host.is_ok() && !running, format!("Knock {name}")));
        if knock.clicked() {
            state.select(&name);
            state.knock(&name, client_core::profile::Action::Open);
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
                state.select(&name);
            }
            match &host {
                Ok(_) => result_line(state.last_result(&name), ui),
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
