//! Settings: what the user chose that is not a profile (connect commands and user names, what quitting
//! does, whether the History panel is open), and [`Persisted`], all that survives a restart.

use std::collections::{BTreeSet, HashMap};

use serde::{Deserialize, Serialize};

use super::AppState;
use super::runs::LastResult;

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

/// The user's settings (kept across restarts).
#[derive(Debug, Clone, Default)]
pub struct Settings {
    /// Per-profile connect commands the user changed (the default is `ssh -4/-6 HOST`).
    pub connect_commands: HashMap<String, String>,
    /// Per-profile user names for Connect (`ssh USER@HOST`).
    pub connect_users: HashMap<String, String>,
    /// What quitting does with doors the app opened that have a close sequence.
    pub quit_policy: QuitPolicy,
    /// Whether the History panel is expanded (it starts collapsed to one line: the list and the detail
    /// view get the room first).
    pub history_open: bool,
    /// Closing the window keeps the app running in the tray (src/tray/), when there is one.
    pub keep_in_tray: bool,
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
    /// The host list's group headers the user collapsed ([`super::Group::key`]).
    #[serde(default)]
    pub collapsed_groups: BTreeSet<String>,
    /// What quitting does with doors the app opened that have a close sequence.
    #[serde(default)]
    pub quit_policy: QuitPolicy,
    /// Whether the History panel is expanded.
    #[serde(default)]
    pub history_open: bool,
    /// [`Settings::keep_in_tray`] (off when missing: saved states from before it).
    #[serde(default)]
    pub keep_in_tray: bool,
}

impl AppState {
    pub fn persisted(&self) -> Persisted {
        Persisted {
            selected: self.list.selected.clone(),
            // Only what happened and when: the wording (addresses, the verify port, an error's text) stays in
            // memory, so the state file holds no port of a door and no sequence.
            last_results: self.runs.last_results.iter().map(|(name, r)| (name.clone(), r.without_words())).collect(),
            favourites: self.list.favourites.clone(),
            connect_commands: self.settings.connect_commands.clone(),
            connect_users: self.settings.connect_users.clone(),
            collapsed_groups: self.list.collapsed_groups.clone(),
            quit_policy: self.settings.quit_policy,
            history_open: self.settings.history_open,
            keep_in_tray: self.settings.keep_in_tray,
        }
    }
}
