//! The tray's menu as data, the same on every OS: the favourite (pinned) profiles, each with its last
//! outcome in words, then "Open knock" and "Quit". Each backend draws it its own way.

use crate::app::{AppState, LastResult};

/// The item that shows and raises the window.
pub const OPEN_LABEL: &str = "Open knock";
/// The item that quits the app.
pub const QUIT_LABEL: &str = "Quit";
/// The one (disabled) line when no profile is pinned.
pub const NO_FAVOURITES_LABEL: &str = "No favourites: pin a host in the app";

/// The tray's menu.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct Menu {
    /// The pinned profiles that are in the store, by name.
    pub favourites: Vec<FavouriteLine>,
}

/// One favourite: clicking it knocks the profile.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FavouriteLine {
    pub name: String,
    /// What the menu shows: the name and the last outcome ("web — door open").
    pub label: String,
}

impl Menu {
    /// The menu for the app's current favourites and results.
    pub fn of(state: &AppState) -> Menu {
        let favourites = state
            .list
            .favourites
            .iter()
            .filter(|name| state.list.entry(name).is_some())
            .map(|name| FavouriteLine {
                name: name.clone(), label: format!("{name} — {}", outcome_word(state, name))
            })
            .collect();
        Menu { favourites }
    }
}

/// A profile's last outcome in a few words (the desktop notification's words), or "knocking…" while it
/// runs. Never a port or an address: a menu is on screen for anyone to see.
pub fn outcome_word(state: &AppState, name: &str) -> &'static str {
    if state.runs.is_running(name) {
        return "knocking…";
    }
    match state.runs.last_result(name) {
        LastResult::Never => "not knocked yet",
        LastResult::Opened { .. } => "door open",
        LastResult::AlreadyOpen { .. } => "already open",
        LastResult::Sent { .. } => "knocked",
        LastResult::NotOpened { .. } => "not opened",
        LastResult::Unreachable { .. } => "unreachable",
        LastResult::Failed { .. } => "failed",
        LastResult::Closed { .. } => "closed",
        LastResult::StillOpen { .. } => "still open",
        LastResult::Cancelled { .. } => "cancelled",
    }
}
