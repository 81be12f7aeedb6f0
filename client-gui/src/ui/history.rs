//! The history panel: past knocks of this session, newest first, in aligned columns.

use crate::app::{AppState, LastResult};
use crate::ui::ago;

pub fn draw(state: &AppState, ui: &mut egui::Ui) {
    ui.label(egui::RichText::new(format!("History ({})", state.runs.history.len())).strong());
    egui::ScrollArea::vertical().auto_shrink([false, false]).show(ui, |ui| {
        if state.runs.history.is_empty() {
            ui.label(egui::RichText::new("No knocks yet in this session.").weak());
            return;
        }
        egui::Grid::new("history").num_columns(4).striped(true).spacing([16.0, 2.0]).show(ui, |ui| {
            for entry in state.runs.history.iter().rev() {
                let outcome = match &entry.result {
                    LastResult::Never => "never".to_owned(),
                    LastResult::Cancelled { .. } => "cancelled".to_owned(),
                    LastResult::Opened { detail, .. }
                    | LastResult::AlreadyOpen { detail, .. }
                    | LastResult::Sent { detail, .. }
                    | LastResult::Closed { detail, .. } => detail.clone(),
                    LastResult::StillOpen { why, .. } => why.clone(),
                    LastResult::NotOpened { why, .. }
                    | LastResult::Unreachable { why, .. }
                    | LastResult::Failed { why, .. } => why.clone(),
                };
                ui.label(egui::RichText::new(ago(entry.at)).weak());
                ui.label(&entry.name);
                ui.label(entry.action.to_string());
                ui.add(egui::Label::new(outcome).truncate());
                ui.end_row();
            }
        });
    });
}
