//! Modal dialogs: confirm a delete, resolve a save conflict, and ask which host a knockd.conf's doors
//! belong to.

use egui::{Id, Modal};

use crate::app::AppState;

pub fn draw(state: &mut AppState, ctx: &egui::Context) {
    if let Some(name) = state.pending_delete.clone() {
        Modal::new(Id::unique("confirm-delete")).show(ctx, |ui| {
            ui.heading(format!("Delete {name}?"));
            ui.label("The profile file is removed from the profiles directory. This cannot be undone.");
            ui.horizontal(|ui| {
                if ui.button("Delete profile").clicked() {
                    state.confirm_delete();
                }
                if ui.button("Keep it").clicked() {
                    state.cancel_delete();
                }
            });
        });
    }
    if let Some(conflict) = state.conflict.clone() {
        Modal::new(Id::unique("save-conflict")).show(ctx, |ui| {
            ui.heading(format!("{} changed on disk", conflict.name));
            ui.label("Someone (knock-cli, a text editor, another window) changed this profile after you opened it.");
            ui.horizontal(|ui| {
                if ui
                    .button("Reload theirs")
                    .on_hover_text("Discard your edits and load the file as it is now")
                    .clicked()
                {
                    state.conflict_reload();
                }
                if ui.button("Keep mine").on_hover_text("Overwrite the file with your version").clicked() {
                    state.conflict_keep_mine();
                }
            });
        });
    }
    if let Some(path) = state.pending_import.clone() {
        Modal::new(Id::unique("import-host")).show(ctx, |ui| {
            ui.heading("Import knockd.conf");
            ui.label(format!("{} describes the server's doors. Which host do they belong to?", path.display()));
            ui.text_edit_singleline(&mut state.import_host);
            ui.horizontal(|ui| {
                if ui.add_enabled(!state.import_host.trim().is_empty(), egui::Button::new("Import")).clicked() {
                    state.finish_import();
                }
                if ui.button("Cancel").clicked() {
                    state.pending_import = None;
                }
            });
        });
    }
}
