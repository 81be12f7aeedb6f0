//! Import and export: the import dialog (a path typed or picked, a preview, the names to give), import
//! from text (a `knock+rotating://` line), the export dialog (ticked profiles, a folder, with keys or
//! not), and the native file dialogs (Browse…). Reading a file is client-core's import ([`crate::transfer`]
//! is the thin layer over it); keys go to the keyring in the worker.

use std::collections::BTreeSet;
use std::path::PathBuf;

use super::AppState;
use super::modal::Modal;
use super::notices::Notice;

/// The import dialog: a path typed or picked, what it would create, and the names to give.
#[derive(Debug, Clone, Default)]
pub struct ImportDialog {
    pub path: String,
    /// The host a knockd.conf's doors belong to (other formats name their host).
    pub host: String,
    pub preview: Option<crate::transfer::Preview>,
    pub error: Option<String>,
    /// A knockd.conf's doors: the TCP port to verify after knocking (empty: none).
    pub verify_port: String,
    /// The file is an encrypted backup (Export with keys): the dialog asks for its passphrase.
    pub encrypted: bool,
    pub passphrase: crate::transfer::Passphrase,
    /// The backup is being decrypted (in the worker).
    pub decrypting: bool,
    /// The profiles are being written and their keys stored (in the worker).
    pub importing: bool,
}

/// What a native file dialog (Browse…) was opened for.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Pick {
    ImportFile,
    ExportFolder,
}

/// The file an export with keys writes (named here so that ui/ can say it without reaching into transfer).
pub const BACKUP_FILE: &str = crate::transfer::BACKUP_FILE;

/// The export dialog: which profiles, where, and whether existing files may be replaced.
#[derive(Debug, Clone, Default)]
pub struct ExportDialog {
    pub chosen: BTreeSet<String>,
    pub dir: String,
    /// Files that already exist: the dialog asks before replacing them.
    pub existing: Vec<PathBuf>,
    pub error: Option<String>,
    /// Export with keys: one encrypted file of the profiles and their keys, sealed with a passphrase.
    pub with_keys: bool,
    pub passphrase: crate::transfer::Passphrase,
    pub confirm: crate::transfer::Passphrase,
    /// An export with keys is being written (in the worker).
    pub writing: bool,
}

/// The "Import from text" dialog: a pasted `knock+rotating://` URI (it carries the door key: the field
/// is masked and wiped when the dialog closes) and an optional name (default: the door's).
#[derive(Debug, Clone, Default)]
pub struct ImportUriDialog {
    pub uri: zeroize::Zeroizing<String>,
    pub name: String,
    pub error: Option<String>,
    /// Waiting for the keyring and the store.
    pub busy: bool,
}

impl AppState {
    /// Opens the import dialog: a path field (always usable, also where no file-dialog portal runs)
    /// with a Browse… button, then a preview of the profiles to be created.
    pub fn open_import(&mut self) {
        self.modal = Some(Modal::Import(Box::default()));
    }

    /// Reads the dialog's path (format detected: profile TOML, fwknoprc, knockd.conf) into a preview.
    pub fn preview_import(&mut self) {
        let Some(Modal::Import(dialog)) = &mut self.modal else { return };
        let path = crate::transfer::expand_home(&dialog.path);
        if dialog.encrypted && !dialog.passphrase.is_empty() {
            // In the worker: scrypt takes about a second.
            if !dialog.decrypting {
                dialog.decrypting = true;
                dialog.error = None;
                self.worker.preview_backup(path, dialog.passphrase.secret());
            }
            return;
        }
        match crate::transfer::preview_import(&path, dialog.host.trim()) {
            Ok(preview) => {
                dialog.preview = Some(preview);
                dialog.error = None;
            }
            Err(err) if crate::transfer::needs_passphrase(&err) => {
                dialog.preview = None;
                dialog.encrypted = true;
                dialog.error = Some("an encrypted backup (Export with keys): enter its passphrase".to_owned());
            }
            Err(err) => {
                dialog.preview = None;
                dialog.error = Some(err.to_string());
            }
        }
    }

    /// A backup's preview, decrypted in the worker.
    pub(super) fn on_backup_previewed(
        &mut self,
        path: PathBuf,
        result: Result<crate::transfer::Preview, crate::transfer::PreviewError>,
    ) {
        let Some(dialog) = self.import_dialog_mut() else { return };
        dialog.decrypting = false;
        // An answer for a path no longer in the field is dropped.
        if crate::transfer::expand_home(&dialog.path) == path {
            match result {
                Ok(preview) => {
                    dialog.preview = Some(preview);
                    dialog.error = None;
                }
                Err(err) => {
                    dialog.preview = None;
                    dialog.error = Some(err.to_string());
                }
            }
        }
    }

    /// Creates the previewed profiles (under the names as edited) and stores their keys in the keyring,
    /// through client-core's import (the same as `knock-cli profile import`), off the UI thread; the
    /// dialog closes when it is done ([`AppState::poll`]) and says what was added and what was not.
    pub fn finish_import(&mut self) {
        let Some(Modal::Import(dialog)) = &mut self.modal else { return };
        if dialog.importing {
            return;
        }
        let Some(mut preview) = dialog.preview.clone() else { return };
        if !dialog.verify_port.trim().is_empty() {
            match dialog.verify_port.trim().parse::<std::num::NonZeroU16>() {
                Ok(port) => {
                    for candidate in &mut preview.candidates {
                        candidate.profile.verify.get_or_insert(client_core::Verify::new(port));
                    }
                }
                Err(_) => {
                    dialog.error =
                        Some(format!("verify port {:?}: give a TCP port, 1 to 65535", dialog.verify_port.trim()));
                    return;
                }
            }
        }
        dialog.importing = true;
        dialog.error = None;
        self.worker.import(self.files.store().clone(), self.system.secrets.clone(), preview);
    }

    /// The import was written: what was added is selected (and shown), so the next step, a knock, is
    /// one key away; with nothing added, the dialog stays open and says why.
    pub(super) fn on_imported(&mut self, applied: crate::transfer::Applied) {
        let nothing = applied.added.is_empty().then(|| format!("nothing imported: {}", applied.problems.join("; ")));
        match (self.import_dialog_mut(), nothing) {
            (Some(dialog), Some(why)) => {
                dialog.importing = false;
                dialog.error = Some(why);
                return;
            }
            (Some(_), None) => self.modal = None,
            // The dialog was closed meanwhile: the notice says it.
            (None, Some(why)) => {
                self.notices.current = Some(Notice::Error(why));
                return;
            }
            (None, None) => {}
        }
        let mut report = format!("imported {}", applied.added.join(", "));
        if !applied.problems.is_empty() {
            report.push_str(&format!(" (not imported: {})", applied.problems.join("; ")));
        }
        self.notices.current = Some(if applied.keys_not_stored.is_empty() {
            Notice::Info(report)
        } else {
            Notice::Error(format!("{report}; {}", applied.keys_not_stored.join("; ")))
        });
        self.reload();
        if let Some(first) = applied.added.first() {
            self.select(first);
            self.list.reveal_selection();
        }
    }

    /// Import's Browse…: the system's file dialog (see [`crate::pick`]); the file is previewed when picked.
    pub fn browse_import_file(&mut self) {
        if self.picking.is_none() {
            self.browse(Pick::ImportFile, crate::pick::file());
        }
    }

    /// Export's Browse…: the system's folder dialog.
    pub fn browse_export_folder(&mut self) {
        if self.picking.is_none() {
            self.browse(Pick::ExportFolder, crate::pick::folder());
        }
    }

    /// Waits (in the worker) for `dialog`, a file dialog already shown, and applies its answer for `pick`
    /// when it comes ([`AppState::poll`]). Tests pass a ready future instead of a dialog.
    pub fn browse(&mut self, pick: Pick, dialog: impl std::future::Future<Output = Option<PathBuf>> + Send + 'static) {
        self.picking = Some(pick);
        self.worker.await_pick(pick, dialog);
    }

    pub(super) fn on_picked(&mut self, pick: Pick, path: Option<PathBuf>) {
        self.picking = None;
        const NOTHING: &str =
            "(if no dialog appeared, no file-dialog portal is running: type the path in the field; ~ works)";
        match pick {
            Pick::ImportFile => {
                let Some(dialog) = self.import_dialog_mut() else { return };
                match path {
                    Some(path) => {
                        dialog.path = path.display().to_string();
                        self.preview_import();
                    }
                    None => dialog.error = Some(format!("no file was picked {NOTHING}")),
                }
            }
            Pick::ExportFolder => {
                let Some(dialog) = self.export_dialog_mut() else { return };
                match path {
                    Some(dir) => {
                        dialog.dir = dir.display().to_string();
                        dialog.existing.clear();
                        dialog.error = None;
                    }
                    None => dialog.error = Some(format!("no folder was picked {NOTHING}")),
                }
            }
        }
    }

    /// Opens the export dialog with the selected profile (or none) ticked.
    pub fn open_export(&mut self) {
        let chosen = self.list.selected.iter().cloned().collect();
        self.modal = Some(Modal::Export(Box::new(ExportDialog { chosen, ..ExportDialog::default() })));
    }

    /// Exports the ticked profiles into the dialog's folder. Files already there are only replaced
    /// after the user said so (`overwrite`); the dialog lists them and asks.
    pub fn export(&mut self, overwrite: bool) {
        let Some(Modal::Export(dialog)) = &mut self.modal else { return };
        let names: Vec<String> = dialog.chosen.iter().cloned().collect();
        let dir = crate::transfer::expand_home(&dialog.dir);
        if dialog.with_keys {
            // In the worker: the keyring is read and scrypt takes about a second.
            if !dialog.writing {
                dialog.writing = true;
                dialog.error = None;
                let (passphrase, confirm) = (dialog.passphrase.clone(), dialog.confirm.clone());
                let (store, secrets) = (self.files.store().clone(), self.system.secrets.clone());
                self.worker.export_backup(store, secrets, names, dir, passphrase, confirm);
            }
            return;
        }
        if !overwrite {
            let existing = crate::transfer::existing_exports(&names, &dir);
            if !existing.is_empty() {
                dialog.existing = existing;
                return;
            }
        }
        match crate::transfer::export_profiles(self.files.store(), &names, &dir, overwrite) {
            Ok(written) => {
                self.modal = None;
                self.notices.current = Some(Notice::Info(format!(
                    "exported {} to {}",
                    client_core::plural(written.len(), "profile"),
                    dir.display()
                )));
            }
            Err(err) => {
                dialog.existing.clear();
                dialog.error = Some(err.to_string());
            }
        }
    }

    /// An export with keys was written (or not) in the worker.
    pub(super) fn on_backup_written(&mut self, count: usize, result: Result<PathBuf, crate::transfer::ExportError>) {
        let Some(dialog) = self.export_dialog_mut() else { return };
        dialog.writing = false;
        match result {
            Ok(path) => {
                self.modal = None;
                self.notices.current = Some(Notice::Info(format!(
                    "exported {} with their keys, encrypted, to {}",
                    client_core::plural(count, "profile"),
                    path.display()
                )));
            }
            Err(err) => dialog.error = Some(err.to_string()),
        }
    }

    /// Opens the "Import from text" dialog.
    pub fn open_import_uri(&mut self) {
        self.modal = Some(Modal::ImportUri(Box::default()));
    }

    /// Imports the dialog's `knock+rotating://` URI: checked here (a clear error in the dialog, never
    /// the key), then the key to the keyring and the profile to the store, off the UI thread.
    pub fn submit_import_uri(&mut self) {
        let Some(Modal::ImportUri(dialog)) = &mut self.modal else { return };
        let name = Some(dialog.name.as_str());
        let import = match client_core::UriImport::prepare(&dialog.uri, name) {
            Ok(import) => import,
            Err(err @ client_core::UriImportError::Name(_)) => {
                dialog.error = Some(format!("{err} (give the profile another name)"));
                return;
            }
            Err(err) => {
                dialog.error = Some(err.to_string());
                return;
            }
        };
        if self.list.entries.iter().any(|e| e.name == import.name) {
            dialog.error = Some(format!("a profile named {:?} already exists (give another name)", import.name));
            return;
        }
        dialog.error = None;
        dialog.busy = true;
        self.worker.import_rotating(self.files.store().clone(), self.system.secrets.clone(), import);
    }

    pub(super) fn on_rotating_imported(&mut self, name: String, result: Result<(), client_core::UriImportError>) {
        match result {
            Ok(()) => {
                // Dropping the dialog wipes the pasted URI (Zeroizing).
                if self.import_uri_dialog().is_some() {
                    self.modal = None;
                }
                self.reload();
                self.list.selected = Some(name.clone());
                self.notices.current =
                    Some(Notice::Info(format!("added rotating profile {name}; its door key is in the OS keyring")));
            }
            Err(err) => {
                // A taken name is the one problem the dialog can fix: say how.
                let message = if matches!(err, client_core::UriImportError::Exists(_)) {
                    format!("{err} (give another name)")
                } else {
                    err.to_string()
                };
                match self.import_uri_dialog_mut() {
                    Some(dialog) => {
                        dialog.busy = false;
                        dialog.error = Some(message);
                    }
                    None => self.notices.current = Some(Notice::Error(message)),
                }
            }
        }
    }
}
