//! Which time window each user of a rotating door last used, so each window's sequence opens at most once
//! per user key, whatever the source address, also after a restart.
//!
//! The rule is "only windows after the last used one": a used window and every earlier one are refused
//! as replays. (A client never goes back in time: knock-cli waits for the next window after a use.)
//!
//! The state file is `STATE_DIR/rotating-used` (beside the one-time sequences' `one-time-used`), one line
//! per (door, user): `DOOR<TAB>USER<TAB>WINDOW`. A use is recorded in memory, then written crash-safely
//! (temp file, fsync, rename) **before** the door's command runs; if the write fails, the door does not
//! open (a use that a restart would forget could be replayed).

use std::collections::HashMap;
use std::path::{Path, PathBuf};

use crate::state_file::{self, write_atomically};

/// The name of the state file inside the state directory.
pub(crate) const STATE_FILE: &str = "rotating-used";

#[derive(Debug, Default)]
pub(crate) struct UsedWindows {
    /// None: no state directory; uses are remembered until the server stops.
    path: Option<PathBuf>,
    /// door -> user -> last used window (nested, so a lookup by `&str` allocates nothing).
    last: HashMap<String, HashMap<String, u64>>,
}

impl UsedWindows {
    /// Reads `STATE_DIR/rotating-used` (absent: nothing used yet). Lines that do not parse are skipped.
    pub(crate) fn load(state_dir: Option<&Path>) -> std::io::Result<UsedWindows> {
        let Some((path, text)) = state_file::read(state_dir, STATE_FILE)? else {
            return Ok(UsedWindows::default());
        };
        let mut used = UsedWindows { path: Some(path), last: HashMap::new() };
        for line in text.lines() {
            // Door names may hold a tab in theory; users and windows never do, so split from the right.
            let mut parts = line.rsplitn(3, '\t');
            let (Some(window), Some(user), Some(door)) = (parts.next(), parts.next(), parts.next()) else { continue };
            let Ok(window) = window.parse::<u64>() else { continue };
            used.remember(door, user, window);
        }
        Ok(used)
    }

    fn remember(&mut self, door: &str, user: &str, window: u64) {
        let users = self.last.entry(door.to_owned()).or_default();
        match users.get_mut(user) {
            Some(last) => *last = (*last).max(window),
            None => {
                users.insert(user.to_owned(), window);
            }
        }
    }

    pub(crate) fn path(&self) -> Option<&Path> {
        self.path.as_deref()
    }

    /// The last window `user` used on `door`.
    pub(crate) fn last(&self, door: &str, user: &str) -> Option<u64> {
        self.last.get(door)?.get(user).copied()
    }

    /// Records that `user` used `window` on `door`: in memory at once, then durably in the state file.
    pub(crate) fn record(&mut self, door: &str, user: &str, window: u64) -> std::io::Result<()> {
        self.remember(door, user, window);
        let Some(path) = &self.path else { return Ok(()) };
        let mut lines: Vec<String> = self
            .last
            .iter()
            .flat_map(|(door, users)| users.iter().map(move |(user, window)| format!("{door}\t{user}\t{window}\n")))
            .collect();
        lines.sort();
        write_atomically(path, lines.concat().as_bytes(), 0o600)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_last_window_survives_a_reload_and_only_grows() {
        let dir = tempfile::tempdir().expect("dir");
        let mut used = UsedWindows::load(Some(dir.path())).expect("load");
        assert_eq!(used.last("ssh", "alice"), None);
        used.record("ssh", "alice", 100).expect("record");
        used.record("ssh", "alice", 99).expect("record");
        used.record("web", "alice", 7).expect("record");
        let again = UsedWindows::load(Some(dir.path())).expect("load");
        assert_eq!(again.last("ssh", "alice"), Some(100));
        assert_eq!(again.last("web", "alice"), Some(7));
        assert_eq!(again.last("ssh", "bob"), None);
        use std::os::unix::fs::PermissionsExt;
        let mode = std::fs::metadata(dir.path().join(STATE_FILE)).expect("meta").permissions().mode() & 0o777;
        assert_eq!(mode, 0o600);
    }

    #[test]
    fn a_failed_write_still_refuses_in_memory() {
        let mut used = UsedWindows::load(Some(Path::new("/nonexistent/state"))).expect("absent file is empty");
        assert!(used.record("ssh", "alice", 5).is_err());
        assert_eq!(used.last("ssh", "alice"), Some(5));
    }
}
