//! The history panel: past knocks, newest first, with their result or error.

use crate::app::{AppState, LastResult};
use crate::ui::ago;

pub fn draw(state: &AppState, ui: &mut egui::Ui) {
    ui.label(egui::RichText::new(format!("History ({})", state.history.len())).strong());
    egui::ScrollArea::vertical().auto_shrink([false, false]).show(ui, |ui| {
        if state.history.is_empty() {
            ui.label(egui::RichText::new("No knocks yet in this session.").weak());
        }
        for entry in state.history.iter().rev() {
            let outcome = match &entry.result {
                LastResult::Never => "never".to_owned(),
                LastResult::Opened { detail, .. } => format!("opened: {detail}"),
                LastResult::Sent { detail, .. } => detail.clone(),
                LastResult::NotOpened { why, .. } => format!("not opened: {why}"),
                LastResult::Failed { why, .. } => format!("failed: {why}"),
            };
            ui.label(format!("{:>10}  {}  {}  {outcome}", ago(entry.at), entry.name, entry.action));
        }
    });
}
