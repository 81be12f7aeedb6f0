//! Rotating profiles: the current window and its countdown, and the ports of the window when the
//! user chose to reveal them (the door key then held in memory only, never persisted).

use std::collections::HashMap;

use client_core::ProfileKind;
use client_core::rotating::DoorKey;

use super::AppState;

/// A rotating profile's current window: its number, the seconds it has left, and (when revealed) its
/// ports as `PORT:PROTO` words.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct WindowView {
    pub window: u64,
    pub seconds_left: u64,
    pub ports: Option<String>,
}

/// The revealed door keys and why a Reveal failed.
#[derive(Debug, Default)]
pub struct Revealed {
    /// Rotating profiles whose current ports the user chose to reveal: their door keys, in memory only
    /// (never persisted), until Hide, a restart or a change of the profile.
    keys: HashMap<String, DoorKey>,
    /// Why a Reveal failed, per profile.
    pub errors: HashMap<String, crate::worker::RevealError>,
}

impl AppState {
    /// A rotating profile's current window at `unix_time`; its ports only when the user revealed them.
    pub fn window_view(&self, name: &str, unix_time: u64) -> Option<WindowView> {
        let ProfileKind::Rotating(knock) = &self.list.profile(name)?.kind else { return None };
        let rotation = &knock.rotation;
        let window = rotation.window(unix_time);
        let ports = self.revealed.keys.get(name).map(|key| match rotation.sequence(key, window) {
            Ok(sequence) => sequence.hits().iter().map(ToString::to_string).collect::<Vec<_>>().join(" "),
            Err(err) => format!("cannot derive: {err}"),
        });
        Some(WindowView { window, seconds_left: rotation.seconds_left(unix_time), ports })
    }

    /// "Reveal": reads the door key off the UI thread; the ports show once it arrives.
    pub fn reveal(&mut self, name: &str) {
        self.revealed.errors.remove(name);
        self.worker.read_rotating_key(self.files.store().clone(), self.system.secrets.clone(), name.to_owned());
    }

    /// "Hide": forgets the key; the ports are masked again.
    pub fn hide(&mut self, name: &str) {
        self.revealed.keys.remove(name);
        self.revealed.errors.remove(name);
    }

    pub fn is_revealed(&self, name: &str) -> bool {
        self.revealed.keys.contains_key(name)
    }

    pub(super) fn on_rotating_key(&mut self, name: String, result: Result<DoorKey, crate::worker::RevealError>) {
        match result {
            Ok(key) => {
                self.revealed.keys.insert(name, key);
            }
            Err(err) => {
                self.revealed.errors.insert(name, err);
            }
        }
    }
}
