//! The application state: everything the window shows, as plain Rust that tests drive without a
//! window. [`AppState`] composes one part per concern, each in a file named for it:
//!
//! - [`list`]: the profiles listed, the search and tag filter, groups, favourites, the selection;
//! - [`runs`]: knocks and Diagnose in flight, last results, the history, doors opened here;
//! - [`editing`]: the editor session (the form, its errors, leaving it, saving it);
//! - [`modal`]: the one question or dialog the app waits on ([`Modal`]);
//! - [`import_export`]: the import, import-from-text and export dialogs and file pickers;
//! - [`settings`]: the user's settings and [`Persisted`], what survives a restart;
//! - [`notices`]: the notice toast and desktop notifications;
//! - [`store`]: reading and re-scanning the profile store, deleting and renaming;
//! - [`system`]: the keyring and raw-socket permission; [`rotating`]: revealed windows;
//!   [`addresses`]: host lookups; [`connect`]: Connect in a terminal; [`quit`]: quitting;
//! - [`command`]: [`Command`], all the user can ask, and [`AppState::apply`], the one place that
//!   carries commands out (the `ui` modules only read the state and return commands);
//! - [`worker_news`]: what the background worker reported, applied by [`AppState::poll`].

pub mod addresses;
pub mod command;
pub mod connect;
pub mod editing;
pub mod import_export;
pub mod list;
pub mod modal;
pub mod notices;
pub mod quit;
pub mod rotating;
pub mod runs;
pub mod settings;
pub mod store;
pub mod system;
pub mod worker_news;

use std::collections::HashMap;

use client_core::ProfileStore;

pub use addresses::Resolution;
pub use command::{Command, Masked, WindowRequest};
pub use editing::{Conflict, EditorSession, Leave};
pub use import_export::{BACKUP_FILE, ExportDialog, ImportDialog, ImportUriDialog, Pick};
pub use list::{Entry, Group, HostList, ListRow};
pub use modal::Modal;
pub use notices::{DesktopNote, Notice, Notices};
pub use quit::Quit;
pub use rotating::{Revealed, WindowView};
pub use runs::{DiagnoseRun, HistoryEntry, HitState, LastResult, Phase, Run, Runs, Status};
pub use settings::{Persisted, QuitPolicy, Settings};
pub use store::ProfileFiles;
pub use system::System;

use crate::worker::Worker;

pub struct AppState {
    files: ProfileFiles,
    worker: Worker,
    pub list: HostList,
    pub runs: Runs,
    pub editing: EditorSession,
    /// The question or dialog the app waits on, if any (one at a time: see [`Modal`]).
    pub modal: Option<Modal>,
    pub settings: Settings,
    pub notices: Notices,
    pub quit: Quit,
    pub system: System,
    pub revealed: Revealed,
    /// Each profile's host lookup, pending or done.
    pub resolution: HashMap<String, Resolution>,
    /// A native file dialog is open (its answer comes through the worker); Browse… waits for it.
    pub picking: Option<Pick>,
    /// Commands from other input sources, applied at the start of the next frame ([`AppState::submit`]).
    submitted: Vec<Command>,
    /// What the window was asked to do ([`AppState::take_window_requests`]).
    window_requests: Vec<WindowRequest>,
}

impl AppState {
    pub fn new(store: ProfileStore, persisted: Persisted) -> std::io::Result<AppState> {
        let mut state = AppState {
            files: ProfileFiles::new(store),
            worker: Worker::new()?,
            list: HostList::new(persisted.selected, persisted.favourites, persisted.collapsed_groups),
            runs: Runs::new(persisted.last_results),
            editing: EditorSession::default(),
            modal: None,
            settings: Settings {
                connect_commands: persisted.connect_commands,
                connect_users: persisted.connect_users,
                quit_policy: persisted.quit_policy,
                history_open: persisted.history_open,
                keep_in_tray: persisted.keep_in_tray,
            },
            notices: Notices::default(),
            quit: Quit::No,
            system: System::new(),
            revealed: Revealed::default(),
            resolution: HashMap::new(),
            picking: None,
            submitted: Vec::new(),
            window_requests: Vec::new(),
        };
        state.reload();
        state.worker.check_keyring(state.system.secrets.clone());
        Ok(state)
    }

    pub fn worker_mut(&mut self) -> &mut Worker {
        &mut self.worker
    }
}
