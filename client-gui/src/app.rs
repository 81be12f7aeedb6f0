//! The application state: everything the window shows, as plain Rust that tests drive without a window.
//! The `ui` modules only draw it and turn clicks into calls of these methods.

use std::collections::{BTreeMap, HashMap};
use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant, SystemTime};

use client_core::open::{Outcome, Plan, ProfileEvent, ProfileReport};
use client_core::profile::{Action, Profile};
use client_core::store::{ProfileStore, StoreError, UnreadableFile, Version};
use client_core::{CancellationToken, KnockEvent};
use client_core::{RawPermission, raw_permission};
use serde::{Deserialize, Serialize};

use crate::editor::{Editor, Field, FieldErrors};
use crate::secrets::{Availability, SecretStore};
use crate::worker::{RunId, Worker, WorkerMessage};

/// How many past knocks the history keeps.
const HISTORY_LIMIT: usize = 500;

/// One profile file of the store, as the host list shows it.
#[derive(Debug, Clone)]
pub struct Entry {
    pub name: String,
    pub path: PathBuf,
    pub profile: Result<Profile, UnreadableFile>,
    pub version: Option<Version>,
}

/// The last result of a profile, shown in its row; kept across restarts.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, Default)]
pub enum LastResult {
    #[default]
    Never,
    Opened {
        at: SystemTime,
        detail: String,
    },
    Sent {
        at: SystemTime,
        detail: String,
    },
    NotOpened {
        at: SystemTime,
        why: String,
    },
    Failed {
        at: SystemTime,
        why: String,
    },
}

/// The state of one hit during a knock.
#[derive(Debug, Clone, PartialEq)]
pub enum HitState {
    Pending,
    Sent,
    Failed(String),
}

/// Where a running knock is.
#[derive(Debug, Clone, PartialEq)]
pub enum Phase {
    Knocking,
    Verifying { address: SocketAddr, since: Instant, timeout: Duration },
    BackingOff { until: Instant, next_attempt: u32 },
    Done,
}

/// A knock in progress (or just finished) for one profile.
#[derive(Debug, Clone)]
pub struct Run {
    pub id: RunId,
    pub action: Action,
    pub hits: Vec<(String, HitState)>,
    pub attempt: u32,
    pub attempts: u32,
    pub address: Option<SocketAddr>,
    pub phase: Phase,
    cancel: CancellationToken,
}

impl Run {
    pub fn is_running(&self) -> bool {
        self.phase != Phase::Done
    }
}

#[derive(Debug, Clone, PartialEq)]
pub struct HistoryEntry {
    pub at: SystemTime,
    pub name: String,
    pub action: Action,
    pub result: LastResult,
}

/// A save that found the file changed on disk since the editor loaded it.
#[derive(Debug, Clone)]
pub struct Conflict {
    pub name: String,
    pub mine: Profile,
}

#[derive(Debug, Clone, PartialEq)]
pub enum Notice {
    Info(String),
    Error(String),
}

/// The resolved address of the selected host, for the detail view.
#[derive(Debug, Clone, PartialEq)]
pub enum Resolution {
    Pending,
    Done { host: String, result: Result<SocketAddr, String> },
}

/// What survives a restart (eframe persistence).
#[derive(Debug, Clone, Default, Serialize, Deserialize)]
pub struct Persisted {
    pub selected: Option<String>,
    pub last_results: HashMap<String, LastResult>,
}

pub struct AppState {
    store: ProfileStore,
    worker: Worker,
    pub entries: Vec<Entry>,
    pub selected: Option<String>,
    pub search: String,
    pub editor: Option<Editor>,
    pub editor_errors: FieldErrors,
    pub pending_delete: Option<String>,
    pub conflict: Option<Conflict>,
    /// A knockd.conf waiting for the host its doors belong to.
    pub pending_import: Option<PathBuf>,
    pub import_host: String,
    pub runs: HashMap<String, Run>,
    pub last_results: HashMap<String, LastResult>,
    pub history: Vec<HistoryEntry>,
    pub notice: Option<Notice>,
    pub resolution: HashMap<String, Resolution>,
    pub raw_permission: RawPermission,
    /// Whether the OS keyring can hold secrets (None until the probe answered).
    pub keyring: Option<Availability>,
    secrets: SecretStore,
    fingerprint: u64,
    last_scan: Instant,
    rescan_every: Duration,
}

impl AppState {
    pub fn new(store: ProfileStore, persisted: Persisted) -> std::io::Result<AppState> {
        let mut state = AppState {
            store,
            worker: Worker::new()?,
            entries: Vec::new(),
            selected: persisted.selected,
            search: String::new(),
            editor: None,
            editor_errors: FieldErrors::new(),
            pending_delete: None,
            conflict: None,
            pending_import: None,
            import_host: String::new(),
            runs: HashMap::new(),
            last_results: persisted.last_results,
            history: Vec::new(),
            notice: None,
            resolution: HashMap::new(),
            raw_permission: raw_permission(),
            keyring: None,
            secrets: SecretStore::new(),
            fingerprint: 0,
            last_scan: Instant::now(),
            rescan_every: Duration::from_secs(2),
        };
        state.reload();
        state.worker.check_keyring(state.secrets.clone());
        Ok(state)
    }

    pub fn store(&self) -> &ProfileStore {
        &self.store
    }

    pub fn worker_mut(&mut self) -> &mut Worker {
        &mut self.worker
    }

    pub fn persisted(&self) -> Persisted {
        Persisted { selected: self.selected.clone(), last_results: self.last_results.clone() }
    }

    /// How often the store is re-scanned for changes made by others (the CLI, an editor).
    pub fn set_rescan_interval(&mut self, every: Duration) {
        self.rescan_every = every;
    }

    pub fn rescan_interval(&self) -> Duration {
        self.rescan_every
    }

    // ----- the store -------------------------------------------------------------------------------

    /// Re-reads every profile file.
    pub fn reload(&mut self) {
        self.fingerprint = self.store.fingerprint();
        self.last_scan = Instant::now();
        match self.store.list() {
            Ok(listed) => {
                self.entries = listed
                    .into_iter()
                    .map(|l| {
                        let version = self.store.load(&l.name).ok().map(|s| s.version);
                        Entry { name: l.name, path: l.path, profile: l.profile, version }
                    })
                    .collect();
            }
            Err(err) => self.notice = Some(Notice::Error(err.to_string())),
        }
        if self.selected.as_ref().is_some_and(|s| self.entry(s).is_none()) {
            self.selected = None;
        }
    }

    /// Re-scans when the interval has passed and the files changed; true if the list changed.
    pub fn rescan_if_due(&mut self, now: Instant) -> bool {
        if now.duration_since(self.last_scan) < self.rescan_every {
            return false;
        }
        self.last_scan = now;
        if self.store.fingerprint() == self.fingerprint {
            return false;
        }
        self.reload();
        true
    }

    pub fn entry(&self, name: &str) -> Option<&Entry> {
        self.entries.iter().find(|e| e.name == name)
    }

    pub fn names(&self) -> Vec<String> {
        self.entries.iter().map(|e| e.name.clone()).collect()
    }

    /// The entries matching the search box (name, host, tags, notes; case-insensitive).
    pub fn visible(&self) -> Vec<&Entry> {
        let needle = self.search.trim().to_lowercase();
        self.entries
            .iter()
            .filter(|e| {
                needle.is_empty()
                    || e.name.to_lowercase().contains(&needle)
                    || e.profile.as_ref().is_ok_and(|p| {
                        p.host.to_lowercase().contains(&needle)
                            || p.tags.iter().any(|t| t.to_lowercase().contains(&needle))
                            || p.notes.to_lowercase().contains(&needle)
                    })
            })
            .collect()
    }

    /// Visible entries grouped by tag (a profile appears under each of its tags; "untagged" last).
    pub fn groups(&self) -> BTreeMap<String, Vec<&Entry>> {
        let mut groups: BTreeMap<String, Vec<&Entry>> = BTreeMap::new();
        for entry in self.visible() {
            match &entry.profile {
                Ok(p) if !p.tags.is_empty() => {
                    for tag in &p.tags {
                        groups.entry(tag.to_lowercase()).or_default().push(entry);
                    }
                }
                _ => groups.entry(UNTAGGED.to_owned()).or_default().push(entry),
            }
        }
        groups
    }

    pub fn select(&mut self, name: &str) {
        if self.selected.as_deref() == Some(name) {
            return;
        }
        self.selected = Some(name.to_owned());
        if let Some(Ok(profile)) = self.entry(name).map(|e| &e.profile) {
            let (host, family) = (profile.host.clone(), profile.family);
            self.resolution.insert(name.to_owned(), Resolution::Pending);
            self.worker.resolve(name.to_owned(), host, family);
        }
    }

    /// Whether this profile needs raw sockets and this process may not use them: the step to grant them.
    pub fn raw_needed_but_denied(&self, profile: &Profile) -> Option<String> {
        match (&self.raw_permission, profile.needs_raw()) {
            (RawPermission::Denied { how_to_grant, .. }, true) => Some(how_to_grant.clone()),
            _ => None,
        }
    }

    // ----- knocking --------------------------------------------------------------------------------

    /// Starts knocking `name`'s `action` sequence in the background (ignored if one is running).
    pub fn knock(&mut self, name: &str, action: Action) {
        if self.runs.get(name).is_some_and(Run::is_running) {
            return;
        }
        let Some(entry) = self.entry(name) else { return };
        let profile = match &entry.profile {
            Ok(profile) => profile,
            Err(err) => {
                self.notice = Some(Notice::Error(err.to_string()));
                return;
            }
        };
        let plan = match Plan::new(name, profile, action) {
            Ok(plan) => plan.remembering_in(&self.store),
            Err(err) => {
                self.notice = Some(Notice::Error(err.to_string()));
                return;
            }
        };
        let hits = plan
            .request
            .sequence
            .hits()
            .iter()
            .map(|&h| (client_core::ReportedHit::new(h, plan.request.secret_ports).to_string(), HitState::Pending))
            .collect();
        let attempts = plan.verify.map_or(1, |v| v.attempts.get());
        let cancel = CancellationToken::new();
        let id = self.worker.knock(plan, cancel.clone());
        let run = Run { id, action, hits, attempt: 1, attempts, address: None, phase: Phase::Knocking, cancel };
        self.runs.insert(name.to_owned(), run);
    }

    pub fn cancel(&mut self, name: &str) {
        if let Some(run) = self.runs.get(name) {
            run.cancel.cancel();
        }
    }

    pub fn any_running(&self) -> bool {
        self.runs.values().any(Run::is_running)
    }

    /// Applies what the worker reported; true if anything changed.
    pub fn poll(&mut self) -> bool {
        let messages = self.worker.drain();
        let changed = !messages.is_empty();
        for message in messages {
            match message {
                WorkerMessage::Progress { name, run, event } => self.on_progress(&name, run, &event),
                WorkerMessage::Finished { name, run, report } => self.on_finished(&name, run, &report),
                WorkerMessage::Resolved { name, host, result } => {
                    self.resolution.insert(name, Resolution::Done { host, result });
                }
                WorkerMessage::Keyring(availability) => self.keyring = Some(availability),
                WorkerMessage::Deleted { name, result } => self.on_deleted(name, result),
                WorkerMessage::SecretsStored { name, result: Ok(()) } => {
                    self.notice = Some(Notice::Info(format!("saved {name}; its keys are in the OS keyring")));
                }
                WorkerMessage::SecretsStored { name, result: Err(err) } => {
                    let [(key_var, hmac_var), _] = client_core::secrets::spa_key_variables(&name);
                    self.notice = Some(Notice::Error(format!(
                        "saved {name}, but its keys could not be stored ({err}); give them in ${key_var} and ${hmac_var}"
                    )));
                }
            }
        }
        changed
    }

    fn on_progress(&mut self, name: &str, id: RunId, event: &ProfileEvent) {
        let Some(run) = self.runs.get_mut(name).filter(|r| r.id == id) else { return };
        match event {
            ProfileEvent::AttemptStarted { attempt, attempts } => {
                run.attempt = *attempt;
                run.attempts = *attempts;
                run.phase = Phase::Knocking;
                for hit in &mut run.hits {
                    hit.1 = HitState::Pending;
                }
            }
            ProfileEvent::Knock(KnockEvent::Resolved { address, .. }) => run.address = Some(*address),
            ProfileEvent::Knock(KnockEvent::HitSent { index, .. }) => {
                if let Some(hit) = run.hits.get_mut(*index) {
                    hit.1 = HitState::Sent;
                }
            }
            ProfileEvent::Knock(KnockEvent::HitFailed { index, error, .. }) => {
                if let Some(hit) = run.hits.get_mut(*index) {
                    hit.1 = HitState::Failed(error.clone());
                }
            }
            ProfileEvent::VerifyStarted { address, timeout } => {
                run.phase = Phase::Verifying { address: *address, since: Instant::now(), timeout: *timeout };
            }
            ProfileEvent::VerifyFinished(_) => {}
            ProfileEvent::BackingOff { next_attempt, pause } => {
                run.phase = Phase::BackingOff { until: Instant::now() + *pause, next_attempt: *next_attempt };
            }
            ProfileEvent::WaitingForWindow { seconds } => {
                let until = Instant::now() + std::time::Duration::from_secs(*seconds);
                run.phase = Phase::BackingOff { until, next_attempt: run.attempt };
            }
        }
    }

    fn on_finished(&mut self, name: &str, id: RunId, report: &ProfileReport) {
        let Some(run) = self.runs.get_mut(name).filter(|r| r.id == id) else { return };
        run.phase = Phase::Done;
        let result = result_of(report);
        self.last_results.insert(name.to_owned(), result.clone());
        self.history.push(HistoryEntry { at: SystemTime::now(), name: name.to_owned(), action: report.action, result });
        if self.history.len() > HISTORY_LIMIT {
            self.history.remove(0);
        }
    }

    pub fn last_result(&self, name: &str) -> &LastResult {
        static NEVER: LastResult = LastResult::Never;
        self.last_results.get(name).unwrap_or(&NEVER)
    }

    // ----- editing -----------------------------------------------------------------------------------

    pub fn new_profile(&mut self) {
        self.open_editor(Editor::new_profile());
    }

    pub fn edit(&mut self, name: &str) {
        match self.store.load(name) {
            Ok(stored) => self.open_editor(Editor::edit(name, &stored.profile, stored.version)),
            Err(err) => self.notice = Some(Notice::Error(err.to_string())),
        }
    }

    pub fn duplicate(&mut self, name: &str) {
        if let Some(Ok(profile)) = self.entry(name).map(|e| &e.profile) {
            let editor = Editor::duplicate(name, profile, &self.names());
            self.open_editor(editor);
        }
    }

    fn open_editor(&mut self, editor: Editor) {
        self.editor_errors = editor.validate(&self.names());
        self.editor = Some(editor);
    }

    /// Re-validates the form after the user typed.
    pub fn editor_changed(&mut self) {
        if let Some(editor) = &self.editor {
            self.editor_errors = editor.validate(&self.names());
        }
    }

    pub fn can_save(&self) -> bool {
        self.editor.is_some() && self.editor_errors.is_empty()
    }

    pub fn close_editor(&mut self) {
        self.editor = None;
        self.editor_errors.clear();
    }

    /// Saves the form. A file changed on disk since it was loaded is not overwritten: a [`Conflict`]
    /// asks the user to reload it or keep theirs.
    pub fn save_editor(&mut self) {
        let Some(editor) = self.editor.clone() else { return };
        let profile = match editor.build(&self.names()) {
            Ok(profile) => profile,
            Err(errors) => {
                self.editor_errors = errors;
                return;
            }
        };
        let name = editor.name.trim().to_owned();
        let keys = if editor.spa { editor.keys().ok().flatten() } else { None };
        let result = match &editor.original {
            None => self.store.create(&name, &profile),
            Some((original, version)) => self.store.save(original, &profile, Some(*version)),
        };
        match result {
            Ok(_) => {
                self.close_editor();
                self.reload();
                self.selected = Some(name.clone());
                self.notice = Some(Notice::Info(format!("saved {name}")));
                // Keys go to the keyring only, never to the file; the worker reports how it went.
                if let Some((key, hmac)) = keys {
                    self.worker.store_spa_keys(self.secrets.clone(), name, key, hmac);
                }
            }
            Err(StoreError::Conflict { name, .. }) => self.conflict = Some(Conflict { name, mine: profile }),
            Err(StoreError::AlreadyExists { .. }) => {
                self.editor_errors.insert(Field::Name, format!("a profile named {name:?} already exists"));
            }
            Err(err) => self.notice = Some(Notice::Error(err.to_string())),
        }
    }

    /// Conflict resolution: discard my edits and load what is on disk now.
    pub fn conflict_reload(&mut self) {
        if let Some(conflict) = self.conflict.take() {
            self.reload();
            self.edit(&conflict.name);
        }
    }

    /// Conflict resolution: overwrite the file with my version.
    pub fn conflict_keep_mine(&mut self) {
        let Some(conflict) = self.conflict.take() else { return };
        match self.store.save(&conflict.name, &conflict.mine, None) {
            Ok(_) => {
                self.close_editor();
                self.reload();
                self.notice = Some(Notice::Info(format!("saved {} over the change on disk", conflict.name)));
            }
            Err(err) => self.notice = Some(Notice::Error(err.to_string())),
        }
    }

    pub fn request_delete(&mut self, name: &str) {
        self.pending_delete = Some(name.to_owned());
    }

    pub fn cancel_delete(&mut self) {
        self.pending_delete = None;
    }

    pub fn confirm_delete(&mut self) {
        let Some(name) = self.pending_delete.take() else { return };
        // The file and its keyring secrets go together, off the UI thread; the worker reports back.
        self.worker.delete_profile(self.store.clone(), self.secrets.clone(), name);
    }

    fn on_deleted(&mut self, name: String, result: Result<Option<String>, String>) {
        match result {
            Ok(forgotten) => {
                self.last_results.remove(&name);
                self.runs.remove(&name);
                if self.selected.as_deref() == Some(name.as_str()) {
                    self.selected = None;
                }
                self.reload();
                self.notice = Some(match forgotten {
                    None => Notice::Info(format!("deleted {name}")),
                    Some(err) => Notice::Error(format!("deleted {name}, but not its keyring secrets: {err}")),
                });
            }
            Err(err) => self.notice = Some(Notice::Error(err)),
        }
    }

    // ----- import / export ------------------------------------------------------------------------

    /// Imports files chosen by the user: profile `.toml` files are copied in, anything else is read as a
    /// knockd.conf, which then waits for the host its doors belong to ([`AppState::finish_import`]).
    pub fn import_files(&mut self, paths: &[PathBuf]) {
        let mut done = Vec::new();
        for path in paths {
            if path.extension().is_some_and(|e| e == "toml") {
                match crate::transfer::import_profile_file(&self.store, path) {
                    Ok(name) => done.push(name),
                    Err(err) => {
                        self.notice = Some(Notice::Error(err));
                        return;
                    }
                }
            } else {
                self.pending_import = Some(path.clone());
            }
        }
        self.reload();
        if !done.is_empty() {
            self.notice = Some(Notice::Info(format!("imported {}", done.join(", "))));
        }
    }

    pub fn finish_import(&mut self) {
        let Some(path) = self.pending_import.take() else { return };
        match crate::transfer::import_knockd_conf(&self.store, &path, self.import_host.trim()) {
            Ok(report) => self.notice = Some(Notice::Info(report)),
            Err(err) => self.notice = Some(Notice::Error(err)),
        }
        self.reload();
    }

    pub fn export(&mut self, names: &[String], dir: &Path) {
        self.notice = Some(match crate::transfer::export_profiles(&self.store, names, dir) {
            Ok(written) => Notice::Info(format!("exported {} profile(s) to {}", written.len(), dir.display())),
            Err(err) => Notice::Error(err),
        });
    }
}

pub const UNTAGGED: &str = "untagged";

/// The row's result, in the wording every front end shares ([`ProfileReport::summary`]).
fn result_of(report: &ProfileReport) -> LastResult {
    let at = SystemTime::now();
    let detail = report.summary();
    match &report.outcome {
        Outcome::Opened => LastResult::Opened { at, detail },
        Outcome::Sent => LastResult::Sent { at, detail },
        Outcome::NotOpened => LastResult::NotOpened { at, why: detail },
        Outcome::Failed(_) => LastResult::Failed { at, why: detail },
    }
}
