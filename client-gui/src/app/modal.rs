//! The modal: the one question or dialog the app waits on before it goes on. One at a time, so two
//! can never stack (quitting's question is [`super::Quit`]'s: it may come over any of these).

use super::AppState;
use super::editing::{Conflict, Leave};
use super::import_export::{ExportDialog, ImportDialog, ImportUriDialog};

#[derive(Debug, Clone)]
pub enum Modal {
    /// "Discard changes?" before this action closes the editor.
    Discard(Leave),
    /// "Delete NAME?"
    Delete(String),
    /// A save found the file changed on disk: reload theirs or keep mine (boxed: it holds a profile).
    Conflict(Box<Conflict>),
    /// Import a file: its path, a preview, the names to give.
    Import(Box<ImportDialog>),
    /// Import from text: a pasted `knock+rotating://` line.
    ImportUri(Box<ImportUriDialog>),
    /// Export profiles to a folder.
    Export(Box<ExportDialog>),
}

impl AppState {
    /// Whether a question or dialog waits for the user (the window's shortcuts are off meanwhile).
    pub fn modal_open(&self) -> bool {
        self.modal.is_some() || matches!(self.quit, super::Quit::Asking(_))
    }

    pub fn import_dialog(&self) -> Option<&ImportDialog> {
        match &self.modal {
            Some(Modal::Import(dialog)) => Some(dialog),
            _ => None,
        }
    }

    pub fn import_dialog_mut(&mut self) -> Option<&mut ImportDialog> {
        match &mut self.modal {
            Some(Modal::Import(dialog)) => Some(dialog),
            _ => None,
        }
    }

    pub fn import_uri_dialog(&self) -> Option<&ImportUriDialog> {
        match &self.modal {
            Some(Modal::ImportUri(dialog)) => Some(dialog),
            _ => None,
        }
    }

    pub fn import_uri_dialog_mut(&mut self) -> Option<&mut ImportUriDialog> {
        match &mut self.modal {
            Some(Modal::ImportUri(dialog)) => Some(dialog),
            _ => None,
        }
    }

    pub fn export_dialog(&self) -> Option<&ExportDialog> {
        match &self.modal {
            Some(Modal::Export(dialog)) => Some(dialog),
            _ => None,
        }
    }

    pub fn export_dialog_mut(&mut self) -> Option<&mut ExportDialog> {
        match &mut self.modal {
            Some(Modal::Export(dialog)) => Some(dialog),
            _ => None,
        }
    }

    /// Closes the import, import-from-text or export dialog (Cancel, Escape); dropping it wipes what
    /// was typed in its secret fields. The questions are answered through their own commands.
    pub fn close_dialog(&mut self) {
        if matches!(self.modal, Some(Modal::Import(_) | Modal::ImportUri(_) | Modal::Export(_))) {
            self.modal = None;
        }
    }
}
