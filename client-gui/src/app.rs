//! The application state: everything the window shows, as plain Rust that tests drive without a window.
//! The `ui` modules only draw it and turn clicks into calls of these methods.

use std::collections::{BTreeSet, HashMap};
use std::net::SocketAddr;
use std::path::PathBuf;
use std::time::{Duration, Instant, SystemTime};

use client_core::Diagnosis;
use client_core::rotating::DoorKey;
use client_core::{Action, Profile, ProfileKind};
use client_core::{AddressFamily, CancellationToken, ErrorKind, KnockEvent};
use client_core::{Outcome, Plan, ProfileEvent, ProfileReport};
use client_core::{ProfileStore, StoreError, StoreVersion, UnreadableFile};
use client_core::{RawPermission, raw_permission};
use serde::{Deserialize, Serialize};

use crate::editor::{Editor, EditorKind, Field, FieldError, FieldErrors};
use crate::worker::{RunId, Worker, WorkerMessage};
use client_core::{KeyringAvailability as Availability, SecretStore};

/// How many past knocks the history keeps.
const HISTORY_LIMIT: usize = 500;

/// One profile file of the store, as the host list shows it.
#[derive(Debug, Clone)]
pub struct Entry {
    pub name: String,
    pub path: PathBuf,
    pub profile: Result<Profile, UnreadableFile>,
    pub version: Option<StoreVersion>,
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
    /// The verify port answered before knocking: nothing was sent (knocking an open door would stack
    /// a second firewall rule); Force knocks anyway.
    AlreadyOpen {
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
    /// The knock was sent but the host cannot be reached (no route, host or network unreachable): not
    /// the same news as a door that stayed shut, and not fixed by another knock.
    Unreachable {
        at: SystemTime,
        why: String,
    },
    Failed {
        at: SystemTime,
        why: String,
    },
    /// A close sequence was sent and the service port no longer answers: the door is shut.
    Closed {
        at: SystemTime,
        detail: String,
    },
    /// A close sequence was sent but the service port still answers.
    StillOpen {
        at: SystemTime,
        why: String,
    },
    /// Only in the history: a cancelled run never replaces a profile's last result.
    Cancelled {
        at: SystemTime,
    },
}

impl LastResult {
    /// The same result without its words (kept across restarts: the state file holds no port).
    pub fn without_words(&self) -> LastResult {
        match self.clone() {
            LastResult::Opened { at, .. } => LastResult::Opened { at, detail: String::new() },
            LastResult::AlreadyOpen { at, .. } => LastResult::AlreadyOpen { at, detail: String::new() },
            LastResult::Sent { at, .. } => LastResult::Sent { at, detail: String::new() },
            LastResult::NotOpened { at, .. } => LastResult::NotOpened { at, why: String::new() },
            LastResult::Unreachable { at, .. } => LastResult::Unreachable { at, why: String::new() },
            LastResult::Closed { at, .. } => LastResult::Closed { at, detail: String::new() },
            LastResult::StillOpen { at, .. } => LastResult::StillOpen { at, why: String::new() },
            LastResult::Failed { at, .. } => LastResult::Failed { at, why: String::new() },
            other => other,
        }
    }
}

/// What a row's status icon says, derived from the running knock and the last result.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Status {
    Never,
    Knocking,
    Open,
    Sent,
    Failed,
}

/// The state of one hit during a knock.
#[derive(Debug, Clone, PartialEq)]
pub enum HitState {
    Pending,
    /// The run ended before this hit was sent.
    NotSent,
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
    /// The run ended because the user cancelled it (shown as its own neutral state).
    pub cancelled: bool,
    /// A close whose port is being checked (false) or was checked (true); true for other runs.
    pub close_checked: bool,
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
#[derive(Debug, Clone)]
pub enum Resolution {
    Pending { host: String, family: AddressFamily },
    Done { host: String, family: AddressFamily, result: Result<SocketAddr, client_core::ResolveError> },
}

impl Resolution {
    /// Whether this answer (or pending lookup) is for this host and family.
    fn is_for(&self, wanted_host: &str, wanted_family: AddressFamily) -> bool {
        match self {
            Resolution::Pending { host, family } | Resolution::Done { host, family, .. } => {
                host == wanted_host && *family == wanted_family
            }
        }
    }
}

/// An action that would close the editor; asked first when the editor has unsaved changes.
#[derive(Debug, Clone, PartialEq)]
pub enum Leave {
    New,
    Close,
    Select(String),
    Edit(String),
    Duplicate(String),
}

/// The question the app waits on before it goes on; one at a time, so two can never stack. (The import,
/// export and import-from-text dialogs, which carry forms, keep their own state for now.)
#[derive(Debug, Clone)]
pub enum Modal {
    /// "Discard changes?" before this action closes the editor.
    Discard(Leave),
    /// "Delete NAME?"
    Delete(String),
    /// A save found the file changed on disk: reload theirs or keep mine (boxed: it holds a profile).
    Conflict(Box<Conflict>),
}

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

/// What survives a restart (eframe persistence).
#[derive(Debug, Clone, Default, Serialize, Deserialize)]
pub struct Persisted {
    pub selected: Option<String>,
    pub last_results: HashMap<String, LastResult>,
    /// Profiles pinned to the top of the list.
    #[serde(default)]
    pub favourites: BTreeSet<String>,
    /// Per-profile connect commands the user changed (the default is `ssh -4/-6 HOST`).
    #[serde(default)]
    pub connect_commands: HashMap<String, String>,
    /// Per-profile user names for Connect (`ssh USER@HOST`).
    #[serde(default)]
    pub connect_users: HashMap<String, String>,
    /// The host list's group headers the user collapsed ([`Group::key`]).
    #[serde(default)]
    pub collapsed_groups: BTreeSet<String>,
    /// What quitting does with doors the app opened that have a close sequence.
    #[serde(default)]
    pub quit_policy: QuitPolicy,
    /// Whether the History panel is expanded (it starts collapsed to one line: the list and the detail
    /// view get the room first).
    #[serde(default)]
    pub history_open: bool,
    /// Closing the window keeps the app running in the tray (src/tray/), when there is one.
    #[serde(default)]
    pub keep_in_tray: bool,
}

/// A group of the host list: pinned favourites, a tag (a profile's first), or no tag.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord)]
pub enum Group {
    Pinned,
    Tag(String),
    Untagged,
}

impl Group {
    /// The key kept in [`Persisted::collapsed_groups`] (tags cannot contain `:`).
    pub fn key(&self) -> String {
        match self {
            Group::Pinned => "pinned:".to_owned(),
            Group::Tag(tag) => format!("tag:{tag}"),
            Group::Untagged => "untagged:".to_owned(),
        }
    }

    pub fn title(&self) -> String {
        match self {
            Group::Pinned => "pinned".to_owned(),
            Group::Tag(tag) => format!("#{tag}"),
            Group::Untagged => "no tag".to_owned(),
        }
    }
}

/// One line of the host list: a group header or a profile. Both are one row of the same height.
#[derive(Debug, Clone, PartialEq)]
pub enum ListRow {
    Header { group: Group, count: usize, collapsed: bool },
    Profile(String),
}

/// What quitting does with the doors this session opened that have a close sequence.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize)]
pub enum QuitPolicy {
    /// Ask each time (the default): close them, leave them open, or stay.
    #[default]
    Ask,
    /// Send their close sequences, then quit.
    CloseDoors,
    /// Quit and leave them open.
    LeaveOpen,
}

/// Where quitting is.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub enum Quit {
    #[default]
    No,
    /// The window was asked to close: "Close these doors before quitting?"
    Asking(Vec<String>),
    /// Sending these doors' close sequences; quits when they are done.
    Closing(Vec<String>),
    /// Nothing holds the quit any more.
    Ready,
}

/// The "Import from text" dialog: a pasted `knock+rotating://` URI (it carries the door key: the field
/// is masked and wiped when the dialog closes) and an optional name (default: the door's).
#[derive(Debug, Default)]
pub struct ImportUriDialog {
    pub uri: zeroize::Zeroizing<String>,
    pub name: String,
    pub error: Option<String>,
    /// Waiting for the keyring and the store.
    pub busy: bool,
}

/// A Diagnose of one profile: running (cancellable) or its result.
#[derive(Debug, Clone)]
pub struct DiagnoseRun {
    pub name: String,
    id: RunId,
    cancel: CancellationToken,
    pub started: Instant,
    /// None while it runs.
    pub result: Option<Result<Diagnosis, client_core::ProfileError>>,
    pub cancelled: bool,
}

impl DiagnoseRun {
    pub fn is_running(&self) -> bool {
        self.result.is_none()
    }
}

/// A rotating profile's current window: its number, the seconds it has left, and (when revealed) its
/// ports as `PORT:PROTO` words.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct WindowView {
    pub window: u64,
    pub seconds_left: u64,
    pub ports: Option<String>,
}

/// A desktop notification of a knock's outcome (sent only while the window is not focused).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DesktopNote {
    pub title: String,
    pub body: String,
}

pub struct AppState {
    store: ProfileStore,
    worker: Worker,
    pub entries: Vec<Entry>,
    pub selected: Option<String>,
    pub search: String,
    /// Only profiles with this tag are listed (a tag chip was clicked).
    pub tag_filter: Option<String>,
    pub favourites: BTreeSet<String>,
    pub connect_commands: HashMap<String, String>,
    pub connect_users: HashMap<String, String>,
    pub collapsed_groups: BTreeSet<String>,
    pub quit_policy: QuitPolicy,
    /// [`Persisted::keep_in_tray`].
    pub keep_in_tray: bool,
    pub quit: Quit,
    /// Doors this session opened (open knocks that opened or were sent), for closing them on quit.
    pub opened_here: BTreeSet<String>,
    /// Outcomes waiting to be shown as desktop notifications (the window decides: only when unfocused).
    pub notes_outbox: Vec<DesktopNote>,
    /// The last notification handed to the desktop and how that went (for the tests and the curious).
    pub last_note: Option<(DesktopNote, Result<(), crate::notify::NotifyError>)>,
    /// Rotating profiles whose current ports the user chose to reveal: their door keys, in memory only
    /// (never persisted), until Hide, a restart or a change of the profile.
    revealed: HashMap<String, DoorKey>,
    /// Why a Reveal failed, per profile.
    pub reveal_errors: HashMap<String, crate::worker::RevealError>,
    /// The "Import from text" dialog (a `knock+rotating://` URI).
    pub import_uri_dialog: Option<ImportUriDialog>,
    /// The last Diagnose, running or done.
    pub diagnosis: Option<DiagnoseRun>,
    pub editor: Option<Editor>,
    pub editor_errors: FieldErrors,
    /// The form as loaded, to tell whether the user changed anything.
    editor_baseline: Option<Editor>,
    /// Fields the user has edited (their errors show from then on), or all after a Save attempt.
    pub editor_touched: BTreeSet<Field>,
    pub editor_submitted: bool,
    /// The question the app waits on, if any (one at a time: see [`Modal`]).
    pub modal: Option<Modal>,
    /// Counts the editor sessions opened (New, Edit, Duplicate): the view gives Name the keyboard when
    /// it changes, also when a new form replaces one that was open.
    pub editor_session: u64,
    /// Whether the History panel is expanded (kept across restarts).
    pub history_open: bool,
    /// The keyboard moved the selection: the host list scrolls it into view when it draws next.
    pub scroll_to_selection: bool,
    /// How long after a close sequence its port is checked (the server runs its close command first).
    pub close_settle: Duration,
    pub import_dialog: Option<ImportDialog>,
    pub export_dialog: Option<ExportDialog>,
    /// A native file dialog is open (its answer comes through the worker); Browse… waits for it.
    pub picking: Option<Pick>,
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
    /// A fingerprint of the store is being computed by the worker (so at most one at a time).
    scanning: bool,
    /// Bumped whenever `entries` change: the list's rows and tags are cached against it.
    entries_generation: u64,
    /// `entries` by name, rebuilt with them (the list looks rows up by name every frame).
    index: HashMap<String, usize>,
    /// The list rows and the tags, computed once per change of their inputs, not every frame.
    list_cache: std::cell::RefCell<Option<(u64, std::rc::Rc<Vec<ListRow>>)>>,
    tags_cache: std::cell::RefCell<Option<(u64, std::rc::Rc<Vec<String>>)>>,
}

impl AppState {
    pub fn new(store: ProfileStore, persisted: Persisted) -> std::io::Result<AppState> {
        let mut state = AppState {
            store,
            worker: Worker::new()?,
            entries: Vec::new(),
            selected: persisted.selected,
            search: String::new(),
            tag_filter: None,
            favourites: persisted.favourites,
            connect_commands: persisted.connect_commands,
            connect_users: persisted.connect_users,
            collapsed_groups: persisted.collapsed_groups,
            quit_policy: persisted.quit_policy,
            keep_in_tray: persisted.keep_in_tray,
            quit: Quit::No,
            opened_here: BTreeSet::new(),
            notes_outbox: Vec::new(),
            last_note: None,
            revealed: HashMap::new(),
            reveal_errors: HashMap::new(),
            import_uri_dialog: None,
            diagnosis: None,
            editor: None,
            editor_errors: FieldErrors::new(),
            editor_baseline: None,
            editor_touched: BTreeSet::new(),
            editor_submitted: false,
            modal: None,
            editor_session: 0,
            history_open: persisted.history_open,
            scroll_to_selection: false,
            close_settle: Duration::from_secs(1),
            import_dialog: None,
            export_dialog: None,
            picking: None,
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
            scanning: false,
            entries_generation: 0,
            index: HashMap::new(),
            list_cache: std::cell::RefCell::new(None),
            tags_cache: std::cell::RefCell::new(None),
        };
        state.reload();
        state.worker.check_keyring(state.secrets.clone());
        Ok(state)
    }

    pub fn store(&self) -> &ProfileStore {
        &self.store
    }

    /// Keeps secrets under another keyring service from now on (tests use a unique one, so a user's real
    /// entries are never touched), and probes that service.
    pub fn set_secret_store(&mut self, secrets: SecretStore) {
        self.secrets = secrets;
        self.keyring = None;
        self.worker.check_keyring(self.secrets.clone());
    }

    /// Unlock (the keyring is locked): the OS shows its unlock prompt; the state is probed again after.
    pub fn unlock_keyring(&mut self) {
        self.keyring = None;
        self.worker.unlock_keyring(self.secrets.clone());
    }

    /// A key was copied to the clipboard (the view copied it): it is cleared from there after
    /// [`crate::clipboard::SECRET_LIFETIME`] if still there.
    pub fn copied_secret(&mut self, copied: &str) {
        crate::clipboard::clear_later(zeroize::Zeroizing::new(copied.to_owned()), crate::clipboard::SECRET_LIFETIME);
        self.notice = Some(Notice::Info(format!(
            "copied; the clipboard is cleared in {} s",
            crate::clipboard::SECRET_LIFETIME.as_secs()
        )));
    }

    pub fn worker_mut(&mut self) -> &mut Worker {
        &mut self.worker
    }

    pub fn persisted(&self) -> Persisted {
        Persisted {
            selected: self.selected.clone(),
            // Only what happened and when: the wording (addresses, the verify port, an error's text) stays in
            // memory, so the state file holds no port of a door and no sequence.
            last_results: self.last_results.iter().map(|(name, r)| (name.clone(), r.without_words())).collect(),
            favourites: self.favourites.clone(),
            connect_commands: self.connect_commands.clone(),
            connect_users: self.connect_users.clone(),
            collapsed_groups: self.collapsed_groups.clone(),
            quit_policy: self.quit_policy,
            history_open: self.history_open,
            keep_in_tray: self.keep_in_tray,
        }
    }

    /// How often the store is re-scanned for changes made by others (the CLI, an editor).
    pub fn set_rescan_interval(&mut self, every: Duration) {
        self.rescan_every = every;
    }

    pub fn rescan_interval(&self) -> Duration {
        self.rescan_every
    }

    // ----- the store -------------------------------------------------------------------------------

    /// Hands the outcomes waiting in [`AppState::notes_outbox`] to the desktop when the window is not
    /// focused (`focused` false); while it is focused they are dropped: the window shows them.
    pub fn deliver_notes(&mut self, focused: bool) {
        for note in std::mem::take(&mut self.notes_outbox) {
            if !focused {
                self.worker.notify(note);
            }
        }
    }

    /// Re-reads every profile file (each read once: the profile and the version it was read at).
    pub fn reload(&mut self) {
        self.fingerprint = self.store.fingerprint();
        self.last_scan = Instant::now();
        match self.store.file_names() {
            Ok(names) => {
                self.entries = names
                    .into_iter()
                    .map(|name| {
                        let path = self.store.path_of(&name);
                        match self.store.load(&name) {
                            Ok(stored) => {
                                Entry { name, path, profile: Ok(stored.profile), version: Some(stored.version) }
                            }
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
                    .collect();
            }
            Err(err) => self.notice = Some(Notice::Error(err.to_string())),
        }
        self.entries_changed();
        if self.selected.as_ref().is_some_and(|s| self.entry(s).is_none()) {
            self.selected = None;
        }
    }

    fn entries_changed(&mut self) {
        self.entries_generation += 1;
        self.index = self.entries.iter().enumerate().map(|(i, e)| (e.name.clone(), i)).collect();
    }

    /// Asks the worker for the store's fingerprint when the interval has passed (reading the
    /// directory and every file's metadata is never done on the UI thread: with 1,000 profiles it
    /// would cost a frame); [`AppState::poll`] re-reads the store when it changed. True if a check
    /// started.
    pub fn rescan_if_due(&mut self, now: Instant) -> bool {
        if self.scanning || now.duration_since(self.last_scan) < self.rescan_every {
            return false;
        }
        self.last_scan = now;
        self.scanning = true;
        self.worker.fingerprint(self.store.clone(), self.fingerprint);
        true
    }

    fn on_fingerprint(&mut self, fingerprint: u64) {
        self.scanning = false;
        if fingerprint != self.fingerprint {
            self.reload();
        }
    }

    pub fn entry(&self, name: &str) -> Option<&Entry> {
        self.index.get(name).and_then(|&i| self.entries.get(i)).filter(|e| e.name == name)
    }

    pub fn names(&self) -> Vec<String> {
        self.entries.iter().map(|e| e.name.clone()).collect()
    }

    /// The entries matching the search box (name, host, tags, notes; case-insensitive) and the tag
    /// filter, in list order, that are not hidden under a collapsed group header. One row per profile.
    pub fn visible(&self) -> Vec<&Entry> {
        self.rows()
            .iter()
            .filter_map(|row| match row {
                ListRow::Profile(name) => self.entry(name),
                ListRow::Header { .. } => None,
            })
            .collect()
    }

    /// The host list's rows. With tags in the store, profiles are grouped under headers: pinned
    /// favourites first, then each tag (a profile is listed once, under its first tag), then those
    /// without one; a collapsed header hides its rows, except while searching. Without tags, a flat
    /// list with favourites on top. Within a group, by name.
    pub fn rows(&self) -> std::rc::Rc<Vec<ListRow>> {
        // The inputs: the entries (by generation), the search, the tag filter, favourites, collapsed.
        let key = {
            use std::hash::{Hash, Hasher};
            let mut hasher = std::collections::hash_map::DefaultHasher::new();
            (self.entries_generation, &self.search, &self.tag_filter, &self.favourites, &self.collapsed_groups)
                .hash(&mut hasher);
            hasher.finish()
        };
        if let Some((cached, rows)) = self.list_cache.borrow().as_ref()
            && *cached == key
        {
            return std::rc::Rc::clone(rows);
        }
        let rows = std::rc::Rc::new(self.compute_rows());
        *self.list_cache.borrow_mut() = Some((key, std::rc::Rc::clone(&rows)));
        rows
    }

    /// Whether the search box and the tag filter list this entry (a collapsed group does not matter).
    fn matches_filter(&self, entry: &Entry, needle: &str) -> bool {
        let found = needle.is_empty()
            || entry.name.to_lowercase().contains(needle)
            || entry.profile.as_ref().is_ok_and(|p| {
                p.host.to_lowercase().contains(needle)
                    || p.tags.iter().any(|t| t.to_lowercase().contains(needle))
                    || p.notes.to_lowercase().contains(needle)
            });
        found
            && self.tag_filter.as_ref().is_none_or(|tag| {
                entry.profile.as_ref().is_ok_and(|p| p.tags.iter().any(|t| t.eq_ignore_ascii_case(tag)))
            })
    }

    fn compute_rows(&self) -> Vec<ListRow> {
        let needle = self.search.trim().to_lowercase();
        let matching = self.entries.iter().filter(|e| self.matches_filter(e, &needle));
        let grouped = self.entries.iter().any(|e| e.profile.as_ref().is_ok_and(|p| !p.tags.is_empty()));
        // Entries come sorted by name from the store; the sort is stable.
        let mut keyed: Vec<(Group, &str)> = matching.map(|e| (self.group_of(e, grouped), e.name.as_str())).collect();
        keyed.sort_by(|a, b| a.0.cmp(&b.0));
        if !grouped {
            return keyed.into_iter().map(|(_, name)| ListRow::Profile(name.to_owned())).collect();
        }
        let mut rows = Vec::with_capacity(keyed.len() + 8);
        let mut i = 0;
        while i < keyed.len() {
            let group = keyed[i].0.clone();
            let count = keyed[i..].iter().take_while(|(g, _)| *g == group).count();
            let collapsed = needle.is_empty() && self.collapsed_groups.contains(&group.key());
            rows.push(ListRow::Header { group, count, collapsed });
            if !collapsed {
                rows.extend(keyed[i..i + count].iter().map(|(_, name)| ListRow::Profile((*name).to_owned())));
            }
            i += count;
        }
        rows
    }

    fn group_of(&self, entry: &Entry, grouped: bool) -> Group {
        if self.favourites.contains(&entry.name) {
            return Group::Pinned;
        }
        match entry.profile.as_ref().ok().and_then(|p| p.tags.first()) {
            Some(tag) if grouped => Group::Tag(tag.to_lowercase()),
            _ => Group::Untagged,
        }
    }

    /// Collapses or expands a group header (kept across restarts). A selection hidden by collapsing
    /// is no longer acted on by the keyboard ([`AppState::highlighted`]).
    pub fn toggle_group(&mut self, group: &Group) {
        let key = group.key();
        if !self.collapsed_groups.remove(&key) {
            self.collapsed_groups.insert(key);
        }
    }

    /// Every tag in the store (lower-cased, sorted), for the filter chips.
    pub fn tags(&self) -> std::rc::Rc<Vec<String>> {
        if let Some((generation, tags)) = self.tags_cache.borrow().as_ref()
            && *generation == self.entries_generation
        {
            return std::rc::Rc::clone(tags);
        }
        let tags: BTreeSet<String> = self
            .entries
            .iter()
            .filter_map(|e| e.profile.as_ref().ok())
            .flat_map(|p| p.tags.iter().map(|t| t.to_lowercase()))
            .collect();
        let tags = std::rc::Rc::new(tags.into_iter().collect::<Vec<_>>());
        *self.tags_cache.borrow_mut() = Some((self.entries_generation, std::rc::Rc::clone(&tags)));
        tags
    }

    /// The row that keyboard actions (Enter, Delete) act on: the selected profile, while the search and
    /// tag filter list it. A profile hidden by the search is never acted on; one in a collapsed group is
    /// shown first ([`AppState::reveal_selection`]).
    pub fn highlighted(&self) -> Option<String> {
        let selected = self.selected.as_deref()?;
        let needle = self.search.trim().to_lowercase();
        self.entry(selected).filter(|e| self.matches_filter(e, &needle)).map(|e| e.name.clone())
    }

    /// Brings the selection into view: its group expanded, the list scrolled to it (the host list does
    /// that when it draws next, see [`AppState::scroll_to_selection`]).
    pub fn reveal_selection(&mut self) {
        let Some(entry) = self.selected.as_deref().and_then(|s| self.entry(s)) else { return };
        let grouped = self.entries.iter().any(|e| e.profile.as_ref().is_ok_and(|p| !p.tags.is_empty()));
        let key = self.group_of(entry, grouped).key();
        self.collapsed_groups.remove(&key);
        self.scroll_to_selection = true;
    }

    /// After the search or tag filter changed: the selection follows it to the first listed row when
    /// the selected one is hidden (and is cleared when nothing is listed). Not while editing.
    pub fn filter_changed(&mut self) {
        if self.editor.is_some() || self.highlighted().is_some() {
            return;
        }
        match self.visible().first().map(|e| e.name.clone()) {
            Some(first) => self.select(&first),
            None => self.selected = None,
        }
    }

    /// Moves the selection `delta` rows up (negative) or down in the listed rows.
    pub fn move_selection(&mut self, delta: isize) {
        let names: Vec<String> = self.visible().iter().map(|e| e.name.clone()).collect();
        if names.is_empty() {
            return;
        }
        let current = self.selected.as_ref().and_then(|s| names.iter().position(|n| n == s));
        let next = match current {
            None if delta < 0 => names.len() - 1,
            None => 0,
            Some(i) => i.saturating_add_signed(delta).min(names.len() - 1),
        };
        let name = names[next].clone();
        self.select(&name);
        self.reveal_selection();
    }

    pub fn toggle_favourite(&mut self, name: &str) {
        if !self.favourites.remove(name) {
            self.favourites.insert(name.to_owned());
        }
    }

    /// Selects a profile (asking first if that would lose unsaved edits) and looks up its address.
    pub fn select(&mut self, name: &str) {
        if self.selected.as_deref() == Some(name) && self.editor.is_none() {
            self.ensure_resolution(name);
            return;
        }
        if self.editor.is_some() {
            self.leave_editor(Leave::Select(name.to_owned()));
            return;
        }
        self.selected = Some(name.to_owned());
        self.ensure_resolution(name);
    }

    /// Starts a lookup of `name`'s host unless one for its current host and family is pending or done.
    /// The detail view calls this every frame, so a new profile, a restart or a changed host never
    /// leaves a stale or missing address.
    pub fn ensure_resolution(&mut self, name: &str) {
        let Some(Ok(profile)) = self.entry(name).map(|e| &e.profile) else { return };
        let (host, family) = (profile.host.clone(), profile.family);
        if self.resolution.get(name).is_some_and(|r| r.is_for(&host, family)) {
            return;
        }
        self.resolution.insert(name.to_owned(), Resolution::Pending { host: host.clone(), family });
        self.worker.resolve(name.to_owned(), host, family);
    }

    /// Looks the selected host up again (the detail view's Refresh).
    pub fn refresh_resolution(&mut self, name: &str) {
        self.resolution.remove(name);
        self.ensure_resolution(name);
    }

    /// The command that connects to `name` after it opened: the user's, else `ssh` with the family of
    /// the address that was knocked (or resolved).
    pub fn connect_command(&self, name: &str) -> String {
        if let Some(command) = self.connect_commands.get(name).filter(|c| !c.trim().is_empty()) {
            return command.clone();
        }
        let host = self.entry(name).and_then(|e| e.profile.as_ref().ok()).map_or("", |p| p.host.as_str());
        let host = match self.connect_users.get(name).map(|u| u.trim()).filter(|u| !u.is_empty()) {
            Some(user) => format!("{user}@{host}"),
            None => host.to_owned(),
        };
        let address = self.runs.get(name).and_then(|r| r.address).or_else(|| match self.resolution.get(name) {
            Some(Resolution::Done { result: Ok(address), .. }) => Some(*address),
            _ => None,
        });
        crate::desktop::default_connect_command(&host, address.map(|a| a.ip()))
    }

    /// Connect's user name for `name` (empty: none, ssh's default). A typed command keeps precedence.
    pub fn set_connect_user(&mut self, name: &str, user: String) {
        if user.trim().is_empty() {
            self.connect_users.remove(name);
        } else {
            self.connect_users.insert(name.to_owned(), user);
        }
    }

    /// What the row's status icon shows.
    pub fn status(&self, name: &str) -> Status {
        if self.runs.get(name).is_some_and(Run::is_running) {
            return Status::Knocking;
        }
        match self.last_result(name) {
            LastResult::Never | LastResult::Cancelled { .. } => Status::Never,
            LastResult::Opened { .. } | LastResult::AlreadyOpen { .. } => Status::Open,
            LastResult::Sent { .. } | LastResult::Closed { .. } => Status::Sent,
            LastResult::StillOpen { .. } => Status::Open,
            LastResult::NotOpened { .. } | LastResult::Unreachable { .. } | LastResult::Failed { .. } => Status::Failed,
        }
    }

    /// Whether this profile needs raw sockets and this process may not use them: the step to grant them.
    pub fn raw_needed_but_denied(&self, profile: &Profile) -> Option<String> {
        match (&self.raw_permission, profile.needs_raw()) {
            (RawPermission::Denied { how_to_grant, .. }, true) => Some(how_to_grant.clone()),
            _ => None,
        }
    }

    // ----- rotating profiles --------------------------------------------------------------------------

    /// A rotating profile's current window at `unix_time`; its ports only when the user revealed them.
    pub fn window_view(&self, name: &str, unix_time: u64) -> Option<WindowView> {
        let Some(Ok(Profile { kind: ProfileKind::Rotating(knock), .. })) = self.entry(name).map(|e| &e.profile) else {
            return None;
        };
        let rotation = &knock.rotation;
        let window = rotation.window(unix_time);
        let ports = self.revealed.get(name).map(|key| match rotation.sequence(key, window) {
            Ok(sequence) => sequence.hits().iter().map(ToString::to_string).collect::<Vec<_>>().join(" "),
            Err(err) => format!("cannot derive: {err}"),
        });
        Some(WindowView { window, seconds_left: rotation.seconds_left(unix_time), ports })
    }

    /// "Reveal": reads the door key off the UI thread; the ports show once it arrives.
    pub fn reveal(&mut self, name: &str) {
        self.reveal_errors.remove(name);
        self.worker.read_rotating_key(self.store.clone(), self.secrets.clone(), name.to_owned());
    }

    /// "Hide": forgets the key; the ports are masked again.
    pub fn hide(&mut self, name: &str) {
        self.revealed.remove(name);
        self.reveal_errors.remove(name);
    }

    pub fn is_revealed(&self, name: &str) -> bool {
        self.revealed.contains_key(name)
    }

    /// Opens the "Import from text" dialog.
    pub fn open_import_uri(&mut self) {
        self.import_uri_dialog = Some(ImportUriDialog::default());
    }

    /// Imports the dialog's `knock+rotating://` URI: checked here (a clear error in the dialog, never
    /// the key), then the key to the keyring and the profile to the store, off the UI thread.
    pub fn submit_import_uri(&mut self) {
        let Some(dialog) = self.import_uri_dialog.as_mut() else { return };
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
        if self.entries.iter().any(|e| e.name == import.name) {
            dialog.error = Some(format!("a profile named {:?} already exists (give another name)", import.name));
            return;
        }
        dialog.error = None;
        dialog.busy = true;
        self.worker.import_rotating(self.store.clone(), self.secrets.clone(), import);
    }

    fn on_rotating_imported(&mut self, name: String, result: Result<(), client_core::UriImportError>) {
        match result {
            Ok(()) => {
                // Dropping the dialog wipes the pasted URI (Zeroizing).
                self.import_uri_dialog = None;
                self.reload();
                self.selected = Some(name.clone());
                self.notice =
                    Some(Notice::Info(format!("added rotating profile {name}; its door key is in the OS keyring")));
            }
            Err(err) => {
                // A taken name is the one problem the dialog can fix: say how.
                let message = if matches!(err, client_core::UriImportError::Exists(_)) {
                    format!("{err} (give another name)")
                } else {
                    err.to_string()
                };
                match self.import_uri_dialog.as_mut() {
                    Some(dialog) => {
                        dialog.busy = false;
                        dialog.error = Some(message);
                    }
                    None => self.notice = Some(Notice::Error(message)),
                }
            }
        }
    }

    // ----- diagnose ----------------------------------------------------------------------------------

    /// "Diagnose": runs knock-cli doctor's checks on `name` in the background (it knocks at most once).
    pub fn diagnose(&mut self, name: &str) {
        if self.diagnosis.as_ref().is_some_and(DiagnoseRun::is_running) {
            return;
        }
        let Some(Ok(profile)) = self.entry(name).map(|e| e.profile.clone()) else { return };
        let cancel = CancellationToken::new();
        let id = self.worker.diagnose(name.to_owned(), profile, cancel.clone());
        self.diagnosis = Some(DiagnoseRun {
            name: name.to_owned(),
            id,
            cancel,
            started: Instant::now(),
            result: None,
            cancelled: false,
        });
    }

    /// Stops a running Diagnose; what it found so far is not shown (it would be misleading).
    pub fn cancel_diagnosis(&mut self) {
        if let Some(run) = self.diagnosis.as_mut().filter(|r| r.is_running()) {
            run.cancel.cancel();
            run.cancelled = true;
        }
    }

    pub fn close_diagnosis(&mut self) {
        self.cancel_diagnosis();
        self.diagnosis = None;
    }

    // ----- quitting --------------------------------------------------------------------------------

    /// The doors this session opened whose profile has a close sequence, by name.
    pub fn doors_to_close(&self) -> Vec<String> {
        self.opened_here
            .iter()
            .filter(|name| {
                self.entry(name)
                    .and_then(|e| e.profile.as_ref().ok())
                    .and_then(Profile::sequence)
                    .is_some_and(|k| k.close.is_some())
            })
            .cloned()
            .collect()
    }

    /// The window was asked to close: true when it may close now. With doors to close, by the
    /// [`QuitPolicy`]: ask first ([`Quit::Asking`]), or send their close sequences and quit after them.
    pub fn request_quit(&mut self) -> bool {
        match &self.quit {
            Quit::Ready => return true,
            Quit::Asking(_) | Quit::Closing(_) => return false,
            Quit::No => {}
        }
        let doors = self.doors_to_close();
        if doors.is_empty() {
            self.quit = Quit::Ready;
            return true;
        }
        match self.quit_policy {
            QuitPolicy::Ask => self.quit = Quit::Asking(doors),
            QuitPolicy::CloseDoors => self.close_doors_and_quit(),
            QuitPolicy::LeaveOpen => self.quit = Quit::Ready,
        }
        matches!(self.quit, Quit::Ready)
    }

    /// "Close them and quit": sends each door's close sequence; the window closes when they are done.
    pub fn close_doors_and_quit(&mut self) {
        let doors = self.doors_to_close();
        for name in &doors {
            self.cancel(name);
        }
        for name in &doors {
            // A running open of the same door was cancelled above; its end arrives later and is ignored.
            self.runs.remove(name);
            self.knock(name, Action::Close);
        }
        self.quit = Quit::Closing(doors);
    }

    /// "Quit, leave them open".
    pub fn quit_leaving_doors_open(&mut self) {
        self.quit = Quit::Ready;
    }

    /// "Cancel": stay.
    pub fn cancel_quit(&mut self) {
        self.quit = Quit::No;
    }

    /// True once a quit may proceed: nothing asked, and every close sequence sent (or failed).
    pub fn ready_to_quit(&mut self) -> bool {
        if let Quit::Closing(doors) = &self.quit
            && doors.iter().all(|name| self.runs.get(name).is_none_or(|r| !r.is_running()))
        {
            self.quit = Quit::Ready;
        }
        self.quit == Quit::Ready
    }

    // ----- knocking --------------------------------------------------------------------------------

    /// Starts knocking `name`'s `action` sequence in the background (ignored if one is running). An
    /// open first checks whether the door already answers and then sends nothing, like knock-cli.
    pub fn knock(&mut self, name: &str, action: Action) {
        self.knock_with(name, action, false);
    }

    /// Opens `name` even when its door already answers (knock-cli's `--force`).
    pub fn force_knock(&mut self, name: &str) {
        self.knock_with(name, Action::Open, true);
    }

    fn knock_with(&mut self, name: &str, action: Action, force: bool) {
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
            Ok(plan) if force => plan.remembering_in(&self.store),
            Ok(plan) => plan.remembering_in(&self.store).unless_open(),
            Err(err) => {
                self.notice = Some(Notice::Error(self.in_app_words(name, &err)));
                return;
            }
        };
        let hits = plan.hit_labels().into_iter().map(|label| (label, HitState::Pending)).collect();
        let attempts = plan.verify.map_or(1, |v| v.attempts.get());
        let cancel = CancellationToken::new();
        let id = self.worker.knock(plan, cancel.clone());
        let run = Run {
            id,
            action,
            hits,
            attempt: 1,
            attempts,
            address: None,
            phase: Phase::Knocking,
            cancelled: false,
            close_checked: true,
            cancel,
        };
        self.runs.insert(name.to_owned(), run);
    }

    /// A profile error as the app says it: missing keys point to the app's own ways to add them (or to
    /// Unlock when the keyring is locked), never to knock-cli commands; other errors as they are.
    pub fn in_app_words(&self, name: &str, err: &client_core::ProfileError) -> String {
        use client_core::ProfileError as E;
        let locked = matches!(self.keyring, Some(Availability::Locked));
        match err {
            E::SpaKeysMissing { .. } | E::RotatingKeyMissing { .. } if locked => {
                format!("{name}: the keyring is locked, so its keys cannot be read: Unlock it, then knock again")
            }
            E::SpaKeysMissing { .. } => {
                format!("{name} has no keys yet: add them with Add keys… (or Edit), then knock again")
            }
            E::RotatingKeyMissing { .. } => format!(
                "{name} has no door key yet: import the knock+rotating:// line your administrator sent \
                 (Import from text…)"
            ),
            other => other.to_string(),
        }
    }

    pub fn cancel(&mut self, name: &str) {
        if let Some(run) = self.runs.get(name) {
            run.cancel.cancel();
        }
    }

    pub fn any_running(&self) -> bool {
        self.runs.values().any(Run::is_running)
    }

    /// Whether something in the background wants the window to keep repainting (progress, countdowns).
    pub fn any_busy(&self) -> bool {
        self.any_running() || self.diagnosis.as_ref().is_some_and(DiagnoseRun::is_running)
    }

    /// Applies what the worker reported; true if anything changed.
    pub fn poll(&mut self) -> bool {
        let messages = self.worker.drain();
        let changed = !messages.is_empty();
        for message in messages {
            match message {
                WorkerMessage::Progress { name, run, event } => self.on_progress(&name, run, &event),
                WorkerMessage::Finished { name, run, report } => self.on_finished(&name, run, &report),
                WorkerMessage::Resolved { name, host, family, result } => {
                    // A late answer for a host the profile no longer has is dropped.
                    if self.resolution.get(&name).is_some_and(|r| r.is_for(&host, family)) {
                        self.resolution.insert(name, Resolution::Done { host, family, result });
                    }
                }
                WorkerMessage::Renamed { old, new, result } => self.on_renamed(old, new, result),
                WorkerMessage::Keyring(availability) => self.keyring = Some(availability),
                WorkerMessage::ClosedChecked { name, run, address, state } => {
                    self.on_closed_checked(&name, run, address, &state);
                }
                WorkerMessage::Unlocked(Ok(())) => self.notice = Some(Notice::Info("keyring unlocked".to_owned())),
                WorkerMessage::Unlocked(Err(err)) => {
                    self.notice = Some(Notice::Error(format!("the keyring is still locked: {err}")));
                }
                WorkerMessage::Deleted { name, result } => self.on_deleted(name, result),
                WorkerMessage::Notified { note, result } => self.last_note = Some((note, result)),
                WorkerMessage::Picked { pick, path } => self.on_picked(pick, path),
                WorkerMessage::Fingerprint(fingerprint) => self.on_fingerprint(fingerprint),
                WorkerMessage::RotatingKey { name, result } => match result {
                    Ok(key) => {
                        self.revealed.insert(name, key);
                    }
                    Err(err) => {
                        self.reveal_errors.insert(name, err);
                    }
                },
                WorkerMessage::RotatingImported { name, result } => self.on_rotating_imported(name, result),
                WorkerMessage::BackupPreviewed { path, result } => {
                    let Some(dialog) = self.import_dialog.as_mut() else { continue };
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
                WorkerMessage::BackupWritten { count, result } => {
                    let Some(dialog) = self.export_dialog.as_mut() else { continue };
                    dialog.writing = false;
                    match result {
                        Ok(path) => {
                            self.export_dialog = None;
                            self.notice = Some(Notice::Info(format!(
                                "exported {} with their keys, encrypted, to {}",
                                client_core::plural(count, "profile"),
                                path.display()
                            )));
                        }
                        Err(err) => dialog.error = Some(err.to_string()),
                    }
                }
                WorkerMessage::Diagnosed { name, run, result } => {
                    if let Some(current) = self.diagnosis.as_mut().filter(|d| d.id == run && d.name == name) {
                        current.result = Some(result);
                    }
                }
                WorkerMessage::SecretsStored { name, result: Ok(()) } => {
                    self.notice = Some(Notice::Info(format!("saved {name}; its keys are in the OS keyring")));
                }
                WorkerMessage::SecretsStored { name, result: Err(err) } => {
                    let rotating =
                        self.entry(&name).and_then(|e| e.profile.as_ref().ok()).is_some_and(|p| p.rotating().is_some());
                    let variables = if rotating {
                        let [var, _] = client_core::rotating_key_variables(&name);
                        format!("${var}")
                    } else {
                        let [(key_var, hmac_var), _] = client_core::spa_key_variables(&name);
                        format!("${key_var} and ${hmac_var}")
                    };
                    self.notice = Some(Notice::Error(format!(
                        "saved {name}, but its keys could not be stored ({err}); give them in {variables}"
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
        // Hits still waiting when the run ended were never sent (the name did not resolve, the knock
        // failed before them): their chips say so instead of waiting forever.
        for hit in &mut run.hits {
            if hit.1 == HitState::Pending {
                hit.1 = HitState::NotSent;
            }
        }
        let cancelled = matches!(&report.outcome, Outcome::Failed(e) if e.kind() == ErrorKind::Cancelled);
        run.cancelled = cancelled;
        let mut result = if cancelled { LastResult::Cancelled { at: SystemTime::now() } } else { result_of(report) };
        // Keys that were not there: said the app's way (Add keys…, Unlock), not knock-cli's.
        if let (
            Outcome::Failed(client_core::KnockError::Keys(client_core::KeysError::Unusable(
                client_core::KeyError::Missing(missing),
            ))),
            LastResult::Failed { why, .. },
        ) = (&report.outcome, &mut result)
        {
            *why = self.in_app_words(name, missing);
        }
        // A cancel is the user's choice, not news about the door: the last result stays.
        if !cancelled {
            self.last_results.insert(name.to_owned(), result.clone());
            self.notes_outbox.push(note_of(name, &result));
        }
        if report.was_already_open() {
            // Nothing was sent: no stepper of hits that never left.
            self.runs.remove(name);
        }
        // A close of a profile that verifies: check that the port stopped answering (honest "closed").
        if let (Action::Close, Outcome::Sent, Some(verify), Some(address)) = (
            report.action,
            &report.outcome,
            self.entry(name).and_then(|e| e.profile.as_ref().ok()).and_then(|p| p.verify),
            report.address(),
        ) {
            let port = SocketAddr::new(address.ip(), verify.port.get());
            let budget = Duration::from_millis(verify.timeout_ms.clamp(200, 5000));
            self.worker.check_closed(name.to_owned(), id, port, self.close_settle, budget);
            if let Some(run) = self.runs.get_mut(name) {
                run.close_checked = false;
            }
        }
        match (report.action, &report.outcome) {
            (Action::Open, Outcome::Opened | Outcome::Sent) if !report.was_already_open() => {
                self.opened_here.insert(name.to_owned());
            }
            (Action::Close, Outcome::Sent) => {
                self.opened_here.remove(name);
            }
            _ => {}
        }
        self.history.push(HistoryEntry { at: SystemTime::now(), name: name.to_owned(), action: report.action, result });
        if self.history.len() > HISTORY_LIMIT {
            self.history.remove(0);
        }
    }

    /// A door's close was checked: its last result says whether the port stopped answering.
    fn on_closed_checked(&mut self, name: &str, run: RunId, address: SocketAddr, state: &client_core::PortState) {
        if self.runs.get(name).is_none_or(|r| r.id != run) {
            return;
        }
        let at = SystemTime::now();
        let result = match state {
            client_core::PortState::Answers => LastResult::StillOpen {
                at,
                why: format!(
                    "the close sequence was sent, but port {} of {} still answers",
                    address.port(),
                    address.ip()
                ),
            },
            _ => LastResult::Closed {
                at,
                detail: format!("port {} of {} no longer answers", address.port(), address.ip()),
            },
        };
        self.notes_outbox.push(note_of(name, &result));
        self.last_results.insert(name.to_owned(), result);
        if let Some(run) = self.runs.get_mut(name) {
            run.close_checked = true;
        }
    }

    pub fn last_result(&self, name: &str) -> &LastResult {
        static NEVER: LastResult = LastResult::Never;
        self.last_results.get(name).unwrap_or(&NEVER)
    }

    // ----- editing -----------------------------------------------------------------------------------

    pub fn new_profile(&mut self) {
        if self.editor.is_some() {
            self.leave_editor(Leave::New);
        } else {
            self.open_editor(Editor::new_profile());
        }
    }

    pub fn edit(&mut self, name: &str) {
        if self.editor.is_some() {
            self.leave_editor(Leave::Edit(name.to_owned()));
            return;
        }
        match self.store.load(name) {
            Ok(stored) => self.open_editor(Editor::edit(name, &stored.profile, stored.version)),
            Err(err) => self.notice = Some(Notice::Error(err.to_string())),
        }
    }

    pub fn duplicate(&mut self, name: &str) {
        if self.editor.is_some() {
            self.leave_editor(Leave::Duplicate(name.to_owned()));
            return;
        }
        if let Some(Ok(profile)) = self.entry(name).map(|e| &e.profile) {
            let editor = Editor::duplicate(name, profile, &self.names());
            self.open_editor(editor);
        }
    }

    fn open_editor(&mut self, editor: Editor) {
        self.editor_errors = editor.validate(&self.names());
        self.editor_baseline = Some(editor.clone());
        self.editor_touched.clear();
        self.editor_submitted = false;
        self.editor = Some(editor);
        self.editor_session += 1;
    }

    /// Whether the form differs from what was loaded.
    pub fn editor_dirty(&self) -> bool {
        self.editor.is_some() && self.editor != self.editor_baseline
    }

    /// Re-validates the form after the user typed in `field` (its errors show from now on).
    pub fn editor_changed_field(&mut self, field: Option<Field>) {
        if let Some(field) = field {
            self.editor_touched.insert(field);
        }
        self.editor_changed();
    }

    /// Re-validates the form after the user typed.
    pub fn editor_changed(&mut self) {
        if let Some(editor) = &self.editor {
            self.editor_errors = editor.validate(&self.names());
        }
    }

    /// The errors to show: those of fields the user edited, or all after a Save attempt. A new form
    /// does not open with errors for fields nobody has typed in yet.
    pub fn visible_editor_errors(&self) -> FieldErrors {
        self.editor_errors
            .iter()
            .filter(|(field, _)| self.editor_submitted || self.editor_touched.contains(field))
            .map(|(field, message)| (*field, message.clone()))
            .collect()
    }

    pub fn can_save(&self) -> bool {
        self.editor.is_some() && self.editor_errors.is_empty()
    }

    /// The editor's Cancel (and Escape): asks first when there are unsaved changes.
    pub fn cancel_editor(&mut self) {
        self.leave_editor(Leave::Close);
    }

    /// Closes the editor now, dropping any edits (after the user agreed, or after a save).
    pub fn close_editor(&mut self) {
        self.editor = None;
        self.editor_baseline = None;
        self.editor_errors.clear();
        self.editor_touched.clear();
        self.editor_submitted = false;
    }

    /// Runs `action`, which closes the editor, at once when nothing would be lost; otherwise asks
    /// "Discard changes?" first ([`AppState::discard_changes`] / [`AppState::keep_editing`]).
    pub fn leave_editor(&mut self, action: Leave) {
        if self.editor_dirty() {
            self.modal = Some(Modal::Discard(action));
        } else {
            self.close_editor();
            self.perform(action);
        }
    }

    pub fn discard_changes(&mut self) {
        if let Some(action) = self.take_discard() {
            self.close_editor();
            self.perform(action);
        }
    }

    pub fn keep_editing(&mut self) {
        self.take_discard();
    }

    /// The action waiting for the "Discard changes?" answer.
    pub fn pending_discard(&self) -> Option<&Leave> {
        match &self.modal {
            Some(Modal::Discard(action)) => Some(action),
            _ => None,
        }
    }

    fn take_discard(&mut self) -> Option<Leave> {
        match self.modal.take() {
            Some(Modal::Discard(action)) => Some(action),
            other => {
                self.modal = other;
                None
            }
        }
    }

    fn take_conflict(&mut self) -> Option<Conflict> {
        match self.modal.take() {
            Some(Modal::Conflict(conflict)) => Some(*conflict),
            other => {
                self.modal = other;
                None
            }
        }
    }

    /// "Save" in the "Discard changes?" question: saves the form, then does what was asked. A form that
    /// does not save (an invalid field, a conflict on disk) stays open with its errors shown.
    pub fn save_and_continue(&mut self) {
        let Some(action) = self.take_discard() else { return };
        self.save_editor();
        if self.editor.is_none() {
            self.perform(action);
        }
    }

    fn perform(&mut self, action: Leave) {
        match action {
            Leave::New => self.new_profile(),
            Leave::Close => {}
            Leave::Select(name) => self.select(&name),
            Leave::Edit(name) => self.edit(&name),
            Leave::Duplicate(name) => self.duplicate(&name),
        }
    }

    /// Saves the form. A file changed on disk since it was loaded is not overwritten: a [`Conflict`]
    /// asks the user to reload it or keep theirs. A changed name renames the profile after the save,
    /// off the UI thread, and its keyring keys move with it.
    pub fn save_editor(&mut self) {
        self.editor_submitted = true;
        let Some(editor) = self.editor.clone() else { return };
        let profile = match editor.build(&self.names()) {
            Ok(profile) => profile,
            Err(errors) => {
                self.editor_errors = errors;
                return;
            }
        };
        let name = editor.name.trim().to_owned();
        let keys = if editor.kind == EditorKind::Spa { editor.keys().ok().flatten() } else { None };
        let renamed_from = editor.original.as_ref().map(|(o, _)| o.clone()).filter(|o| *o != name);
        if renamed_from.is_some() && self.entry(&name).is_some() {
            self.editor_errors.insert(Field::Name, FieldError::NameTaken(name.clone()));
            return;
        }
        let before = editor.original.as_ref().and_then(|(o, _)| self.entry(o)).and_then(|e| e.profile.clone().ok());
        let result = match &editor.original {
            None => self.store.create(&name, &profile),
            Some((original, version)) => self.store.save(original, &profile, Some(*version)),
        };
        match result {
            Ok(_) => {
                let saved_as = editor.original.as_ref().map_or(name.clone(), |(o, _)| o.clone());
                // A new host or family makes the old address and result meaningless.
                if before.is_some_and(|b| b.host != profile.host || b.family != profile.family) {
                    self.last_results.remove(&saved_as);
                    self.runs.remove(&saved_as);
                    self.resolution.remove(&saved_as);
                }
                self.close_editor();
                self.reload();
                self.selected = Some(saved_as.clone());
                self.notice = Some(Notice::Info(format!("saved {saved_as}")));
                // Keys go to the keyring only, never to the file; the worker reports how it went. With a
                // rename they are stored after it, in the same job (under the profile's id either way).
                if let Some(old) = renamed_from {
                    self.worker.rename_profile(self.store.clone(), self.secrets.clone(), old, name.clone(), keys);
                } else if let Some((key, hmac)) = keys {
                    self.worker.store_spa_keys(self.store.clone(), self.secrets.clone(), saved_as, key, hmac);
                }
            }
            Err(StoreError::Conflict { name, .. }) => {
                self.modal = Some(Modal::Conflict(Box::new(Conflict { name, mine: profile })))
            }
            Err(StoreError::AlreadyExists { .. }) => {
                self.editor_errors.insert(Field::Name, FieldError::NameTaken(name.clone()));
            }
            Err(err) => self.notice = Some(Notice::Error(err.to_string())),
        }
    }

    fn on_renamed(&mut self, old: String, new: String, result: Result<(), StoreError>) {
        let was_selected = self.selected.as_deref() == Some(old.as_str());
        self.reload();
        match result {
            Ok(()) => {
                if let Some(last) = self.last_results.remove(&old) {
                    self.last_results.insert(new.clone(), last);
                }
                if self.favourites.remove(&old) {
                    self.favourites.insert(new.clone());
                }
                self.runs.remove(&old);
                self.resolution.remove(&old);
                if was_selected {
                    self.selected = Some(new.clone());
                }
                self.notice = Some(Notice::Info(format!("renamed {old} to {new}; its keys moved with it")));
            }
            Err(err) => self.notice = Some(Notice::Error(format!("saved {old}, but could not rename it: {err}"))),
        }
    }

    /// Conflict resolution: discard my edits and load what is on disk now.
    pub fn conflict_reload(&mut self) {
        if let Some(conflict) = self.take_conflict() {
            // The user chose to drop their edits: no second question.
            self.close_editor();
            self.reload();
            self.edit(&conflict.name);
        }
    }

    /// Conflict resolution: overwrite the file with my version.
    pub fn conflict_keep_mine(&mut self) {
        let Some(conflict) = self.take_conflict() else { return };
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
        self.modal = Some(Modal::Delete(name.to_owned()));
    }

    pub fn cancel_delete(&mut self) {
        if matches!(self.modal, Some(Modal::Delete(_))) {
            self.modal = None;
        }
    }

    pub fn confirm_delete(&mut self) {
        let Some(Modal::Delete(name)) = self.modal.take() else { return };
        // The file and its keyring secrets go together, off the UI thread; the worker reports back.
        self.worker.delete_profile(self.store.clone(), self.secrets.clone(), name);
    }

    fn on_deleted(&mut self, name: String, result: Result<Option<client_core::SecretError>, StoreError>) {
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
            Err(err) => self.notice = Some(Notice::Error(err.to_string())),
        }
    }

    // ----- import / export ------------------------------------------------------------------------

    /// Opens the import dialog: a path field (always usable, also where no file-dialog portal runs)
    /// with a Browse… button, then a preview of the profiles to be created.
    pub fn open_import(&mut self) {
        self.import_dialog = Some(ImportDialog::default());
    }

    /// Reads the dialog's path (format detected: profile TOML, fwknoprc, knockd.conf) into a preview.
    pub fn preview_import(&mut self) {
        let Some(dialog) = self.import_dialog.as_mut() else { return };
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

    /// Creates the previewed profiles (under the names as edited); their keys go to the keyring off
    /// the UI thread. Says what was added and what was not.
    pub fn finish_import(&mut self) {
        let Some(dialog) = self.import_dialog.as_mut() else { return };
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
        let outcome = crate::transfer::apply_import(&self.store, &preview);
        if outcome.added.is_empty() {
            dialog.error = Some(format!("nothing imported: {}", outcome.problems.join("; ")));
            return;
        }
        self.import_dialog = None;
        let mut report = format!("imported {}", outcome.added.join(", "));
        if !outcome.problems.is_empty() {
            report.push_str(&format!(" (not imported: {})", outcome.problems.join("; ")));
        }
        self.notice = Some(Notice::Info(report));
        self.reload();
        // What was imported is selected (and shown), so the next step, a knock, is one key away.
        if let Some(first) = outcome.added.first().cloned() {
            self.select(&first);
            self.reveal_selection();
        }
        for (name, key, hmac) in outcome.keys {
            self.worker.store_spa_keys(self.store.clone(), self.secrets.clone(), name, key, hmac);
        }
        for (name, key) in outcome.door_keys {
            self.worker.store_door_key(self.store.clone(), self.secrets.clone(), name, key);
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

    fn on_picked(&mut self, pick: Pick, path: Option<PathBuf>) {
        self.picking = None;
        const NOTHING: &str =
            "(if no dialog appeared, no file-dialog portal is running: type the path in the field; ~ works)";
        match pick {
            Pick::ImportFile => {
                let Some(dialog) = self.import_dialog.as_mut() else { return };
                match path {
                    Some(path) => {
                        dialog.path = path.display().to_string();
                        self.preview_import();
                    }
                    None => dialog.error = Some(format!("no file was picked {NOTHING}")),
                }
            }
            Pick::ExportFolder => {
                let Some(dialog) = self.export_dialog.as_mut() else { return };
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
        let chosen = self.selected.iter().cloned().collect();
        self.export_dialog = Some(ExportDialog { chosen, ..ExportDialog::default() });
    }

    /// Connect: runs `command` (the profile's ssh line) in a terminal window; the notice says how it went.
    pub fn connect_in_terminal(&mut self, command: &str) {
        self.notice = Some(match crate::desktop::run_in_terminal(command) {
            Ok(()) => Notice::Info(format!("started {command} in a terminal")),
            Err(err) => Notice::Error(err.to_string()),
        });
    }

    /// File → Open profiles folder, in the desktop's file manager.
    pub fn open_profiles_folder(&mut self) {
        if let Err(err) = crate::desktop::open_folder(self.store().dir()) {
            self.notice = Some(Notice::Error(err.to_string()));
        }
    }

    /// Exports the ticked profiles into the dialog's folder. Files already there are only replaced
    /// after the user said so (`overwrite`); the dialog lists them and asks.
    pub fn export(&mut self, overwrite: bool) {
        let Some(dialog) = self.export_dialog.as_mut() else { return };
        let names: Vec<String> = dialog.chosen.iter().cloned().collect();
        let dir = crate::transfer::expand_home(&dialog.dir);
        if dialog.with_keys {
            // In the worker: the keyring is read and scrypt takes about a second.
            if !dialog.writing {
                dialog.writing = true;
                dialog.error = None;
                let (passphrase, confirm) = (dialog.passphrase.clone(), dialog.confirm.clone());
                self.worker.export_backup(self.store.clone(), self.secrets.clone(), names, dir, passphrase, confirm);
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
        match crate::transfer::export_profiles(&self.store, &names, &dir, overwrite) {
            Ok(written) => {
                self.export_dialog = None;
                self.notice = Some(Notice::Info(format!(
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
}

/// The desktop notification of a result: the profile and the answer as the title, the shared wording of
/// the outcome as the body (which never names a secret port).
fn note_of(name: &str, result: &LastResult) -> DesktopNote {
    let (what, body) = match result {
        LastResult::Opened { detail, .. } => ("door open", detail.clone()),
        LastResult::AlreadyOpen { detail, .. } => ("already open", detail.clone()),
        LastResult::Sent { detail, .. } => ("knocked", detail.clone()),
        LastResult::NotOpened { why, .. } => ("not opened", why.clone()),
        LastResult::Unreachable { why, .. } => ("unreachable", why.clone()),
        LastResult::Closed { detail, .. } => ("closed", detail.clone()),
        LastResult::StillOpen { why, .. } => ("still open", why.clone()),
        LastResult::Failed { why, .. } => ("failed", why.clone()),
        LastResult::Never | LastResult::Cancelled { .. } => ("cancelled", String::new()),
    };
    DesktopNote { title: format!("{name}: {what}"), body }
}

/// Why the host cannot be reached, when the last attempt's verify probe found no route to it (host or
/// network unreachable): then a knock that "did not open" is not the news of a shut door.
fn unreachable(attempts: &[client_core::Attempt], address: Option<SocketAddr>) -> Option<String> {
    let last_probe = attempts.last().and_then(|a| a.verify.as_ref()).and_then(|v| v.last_state.as_ref());
    match last_probe {
        Some(client_core::PortState::Unreachable(why)) => {
            let host = address.map_or("the host".to_owned(), |a| a.ip().to_string());
            Some(format!("{host} cannot be reached: {why}"))
        }
        _ => None,
    }
}

/// The row's result, in the wording every front end shares ([`ProfileReport::summary`]).
fn result_of(report: &ProfileReport) -> LastResult {
    let at = SystemTime::now();
    let detail = report.summary();
    match &report.outcome {
        Outcome::Opened if report.was_already_open() => {
            // The shared summary ends with knock-cli's "--force knocks anyway": the app has a button.
            let detail = match report.address() {
                Some(address) => format!("{} answers, so nothing was sent", address),
                None => "the door answers, so nothing was sent".to_owned(),
            };
            LastResult::AlreadyOpen { at, detail }
        }
        Outcome::Opened => LastResult::Opened { at, detail },
        Outcome::Sent => LastResult::Sent { at, detail },
        Outcome::NotOpened => match unreachable(&report.attempts, report.address()) {
            Some(why) => LastResult::Unreachable { at, why },
            None => LastResult::NotOpened { at, why: detail },
        },
        Outcome::Failed(_) => LastResult::Failed { at, why: detail },
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use client_core::{Attempt, KnockReport, KnockRequest, PortState, Protocol, Sequence, VerifyOutcome};

    fn attempt_with(last_state: PortState) -> Attempt {
        let knock = KnockReport {
            request: KnockRequest::new("192.0.2.9", Sequence::parse("7000", Protocol::Tcp).expect("sequence")),
            address: Some("192.0.2.9:7000".parse().expect("address")),
            tcp_method: None,
            started_at: SystemTime::now(),
            elapsed: Duration::from_millis(5),
            hits: Vec::new(),
            error: None,
        };
        let verify = VerifyOutcome {
            address: "192.0.2.9:22".parse().expect("address"),
            open: false,
            elapsed: Duration::from_secs(1),
            probes: 3,
            last_error: Some("No route to host (os error 113)".into()),
            last_state: Some(last_state),
        };
        Attempt { knock, verify: Some(verify) }
    }

    /// Issue 24 item 6: "No route to host" is its own result, not the "Not opened" of a wrong sequence.
    #[test]
    fn no_route_to_host_is_unreachable_not_a_shut_door() {
        let address = Some("192.0.2.9:7000".parse().expect("address"));
        let attempts = [attempt_with(PortState::Unreachable("No route to host".into()))];
        let why = unreachable(&attempts, address).expect("unreachable");
        assert!(why.contains("No route to host") && why.contains("192.0.2.9"), "{why}");
        assert_eq!(unreachable(&[attempt_with(PortState::NoAnswer)], address), None, "a shut door");
    }
}
