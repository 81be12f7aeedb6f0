//! The profile store as the app sees it: reading every file, re-scanning for changes made by others
//! (the CLI, a text editor) off the UI thread, and deleting and renaming profiles (with their keys).

use std::time::{Duration, Instant};

use client_core::{ProfileStore, StoreError, UnreadableFile};

use super::AppState;
use super::list::Entry;
use super::modal::Modal;
use super::notices::Notice;

/// The store and when it was last read.
#[derive(Debug)]
pub struct ProfileFiles {
    store: ProfileStore,
    /// The fingerprint of the store when it was last read.
    fingerprint: u64,
    last_scan: Instant,
    rescan_every: Duration,
    /// A fingerprint of the store is being computed by the worker (so at most one at a time).
    scanning: bool,
}

impl ProfileFiles {
    pub(super) fn new(store: ProfileStore) -> ProfileFiles {
        ProfileFiles {
            store,
            fingerprint: 0,
            last_scan: Instant::now(),
            rescan_every: Duration::from_secs(2),
            scanning: false,
        }
    }

    pub fn store(&self) -> &ProfileStore {
        &self.store
    }

    /// Every profile file, each read once: the profile and the version it was read at.
    fn read(&mut self) -> Result<Vec<Entry>, StoreError> {
        self.fingerprint = self.store.fingerprint();
        self.last_scan = Instant::now();
        let names = self.store.file_names()?;
        Ok(names
            .into_iter()
            .map(|name| {
                let path = self.store.path_of(&name);
                match self.store.load(&name) {
                    Ok(stored) => Entry { name, path, profile: Ok(stored.profile), version: Some(stored.version) },
                    Err(StoreError::Unreadable(unreadable)) => {
                        Entry { name, path, profile: Err(unreadable), version: None }
                    }
                    Err(err) => {
                        let unreadable =
                            UnreadableFile { path: path.clone(), line: 1, column: 1, message: err.to_string() };
                        Entry { name, path, profile: Err(unreadable), version: None }
                    }
                }
            })
            .collect())
    }
}

impl AppState {
    pub fn store(&self) -> &ProfileStore {
        self.files.store()
    }

    /// Re-reads every profile file.
    pub fn reload(&mut self) {
        match self.files.read() {
            Ok(entries) => self.list.set_entries(entries),
            Err(err) => {
                self.notices.current = Some(Notice::Error(err.to_string()));
                let entries = std::mem::take(&mut self.list.entries);
                self.list.set_entries(entries);
            }
        }
    }

    /// How often the store is re-scanned for changes made by others (the CLI, an editor).
    pub fn set_rescan_interval(&mut self, every: Duration) {
        self.files.rescan_every = every;
    }

    pub fn rescan_interval(&self) -> Duration {
        self.files.rescan_every
    }

    /// Asks the worker for the store's fingerprint when the interval has passed (reading the
    /// directory and every file's metadata is never done on the UI thread: with 1,000 profiles it
    /// would cost a frame); [`AppState::poll`] re-reads the store when it changed. True if a check
    /// started.
    pub fn rescan_if_due(&mut self, now: Instant) -> bool {
        let files = &mut self.files;
        if files.scanning || now.duration_since(files.last_scan) < files.rescan_every {
            return false;
        }
        files.last_scan = now;
        files.scanning = true;
        self.worker.fingerprint(files.store.clone(), files.fingerprint);
        true
    }

    pub(super) fn on_fingerprint(&mut self, fingerprint: u64) {
        self.files.scanning = false;
        if fingerprint != self.files.fingerprint {
            self.reload();
        }
    }

    pub fn request_delete(&mut self, name: &str) {
        self.modal = Some(Modal::Delete(name.to_owned()));
    }

    pub fn cancel_delete(&mut self) {
        if matches!(self.modal, Some(Modal::Delete(_))) {
            self.modal = None;
        }
    }

    pub fn confirm_delete(&mut self) {
        if !matches!(self.modal, Some(Modal::Delete(_))) {
            return;
        }
        let Some(Modal::Delete(name)) = self.modal.take() else { return };
        // The file and its keyring secrets go together, off the UI thread; the worker reports back.
        self.worker.delete_profile(self.files.store.clone(), self.system.secrets.clone(), name);
    }

    pub(super) fn on_deleted(&mut self, name: String, result: Result<Option<client_core::SecretError>, StoreError>) {
        match result {
            Ok(forgotten) => {
                self.runs.forget(&name);
                if self.list.selected.as_deref() == Some(name.as_str()) {
                    self.list.selected = None;
                }
                self.reload();
                self.notices.current = Some(match forgotten {
                    None => Notice::Info(format!("deleted {name}")),
                    Some(err) => Notice::Error(format!("deleted {name}, but not its keyring secrets: {err}")),
                });
            }
            Err(err) => self.notices.current = Some(Notice::Error(err.to_string())),
        }
    }

    /// A rename (after a save under a new name) happened in the worker: the result, pin and selection
    /// follow the new name.
    pub(super) fn on_renamed(&mut self, old: String, new: String, result: Result<(), StoreError>) {
        let was_selected = self.list.selected.as_deref() == Some(old.as_str());
        self.reload();
        match result {
            Ok(()) => {
                if let Some(last) = self.runs.last_results.remove(&old) {
                    self.runs.last_results.insert(new.clone(), last);
                }
                if self.list.favourites.remove(&old) {
                    self.list.favourites.insert(new.clone());
                }
                self.runs.knocks.remove(&old);
                self.resolution.remove(&old);
                if was_selected {
                    self.list.selected = Some(new.clone());
                }
                self.notices.current = Some(Notice::Info(format!("renamed {old} to {new}; its keys moved with it")));
            }
            Err(err) => {
                self.notices.current = Some(Notice::Error(format!("saved {old}, but could not rename it: {err}")))
            }
        }
    }
}
