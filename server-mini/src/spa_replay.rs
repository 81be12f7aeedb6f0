//! The SPA door's replay cache: the digest of every packet that decrypted (`spa::replay_digest`, keyed as
//! fwknopd keys its `digest.cache`), kept until the packet could no longer pass the age check, and
//! durable across restarts.
//!
//! - **Bounded.** An entry expires once its packet is too old for `MAX_SPA_PACKET_AGE` (the later of its
//!   timestamp and its arrival, plus the age, plus a second); only packets that passed the HMAC are ever
//!   recorded, so a spoofed flood adds nothing. With packet aging off nothing expires, and at
//!   [`MAX_DIGESTS`] the cache refuses new entries, so the door refuses to open rather than forget one.
//! - **Durable.** With a state directory the cache is the file `STATE_DIR/spa-digests` (one `DIGEST
//!   EXPIRES` line each), replaced whole and crash-safely ([`crate::state_file`]) **before** the door
//!   opens; if the write fails the door does not open (a digest a restart forgets could be replayed).
//!   fwknopd with `ENABLE_DIGEST_PERSISTENCE N` keeps no cache at all; knock-server then keeps it in memory.

use std::collections::HashMap;
use std::path::{Path, PathBuf};

use crate::state_file::{self, write_atomically};

/// The state file's name inside the state directory.
pub(crate) const STATE_FILE: &str = "spa-digests";
/// Most digests kept at once.
pub(crate) const MAX_DIGESTS: usize = 100_000;

/// Why a digest could not be recorded.
#[derive(Debug, thiserror::Error)]
pub(crate) enum RecordError {
    #[error("the replay cache holds {MAX_DIGESTS} digests that have not expired (packet aging is off?)")]
    Full,
    #[error("cannot write {path}: {source}")]
    Write { path: String, source: std::io::Error },
}

#[derive(Debug)]
pub(crate) struct SpaReplay {
    /// None: kept in memory only.
    path: Option<PathBuf>,
    /// digest -> unix second after which it can be forgotten.
    seen: HashMap<String, u64>,
    /// The earliest of those seconds (u64::MAX when empty): the cache is walked to drop expired entries
    /// only once one has expired, not at every record (which made filling it quadratic).
    soonest_expiry: u64,
    /// Walks made to drop expired entries (for the tests).
    #[cfg(test)]
    prunes: usize,
}

impl Default for SpaReplay {
    fn default() -> SpaReplay {
        SpaReplay {
            path: None,
            seen: HashMap::new(),
            soonest_expiry: u64::MAX,
            #[cfg(test)]
            prunes: 0,
        }
    }
}

impl SpaReplay {
    /// Reads `STATE_DIR/spa-digests` (absent: empty); `persist` false keeps the cache in memory only.
    /// Lines that do not parse are skipped.
    pub(crate) fn load(state_dir: Option<&Path>, persist: bool) -> std::io::Result<SpaReplay> {
        let dir = state_dir.filter(|_| persist);
        let Some((path, text)) = state_file::read(dir, STATE_FILE)? else { return Ok(SpaReplay::default()) };
        let mut seen = HashMap::new();
        for line in text.lines() {
            let Some((digest, expires)) = line.split_once(' ') else { continue };
            let Ok(expires) = expires.trim().parse::<u64>() else { continue };
            if !digest.is_empty() && digest.len() <= 64 && seen.len() < MAX_DIGESTS {
                seen.insert(digest.to_owned(), expires);
            }
        }
        let soonest_expiry = seen.values().copied().min().unwrap_or(u64::MAX);
        let mut replay = SpaReplay::default();
        (replay.path, replay.seen, replay.soonest_expiry) = (Some(path), seen, soonest_expiry);
        Ok(replay)
    }

    pub(crate) fn path(&self) -> Option<&Path> {
        self.path.as_deref()
    }

    pub(crate) fn len(&self) -> usize {
        self.seen.len()
    }

    pub(crate) fn contains(&self, digest: &str) -> bool {
        self.seen.contains_key(digest)
    }

    /// Records `digest` until `expires`: in memory at once, then durably. Expired entries are dropped first.
    pub(crate) fn record(&mut self, digest: &str, expires: u64, now: u64) -> Result<(), RecordError> {
        if self.soonest_expiry < now {
            self.seen.retain(|_, until| *until >= now);
            self.soonest_expiry = self.seen.values().copied().min().unwrap_or(u64::MAX);
            #[cfg(test)]
            {
                self.prunes += 1;
            }
        }
        if self.seen.len() >= MAX_DIGESTS && !self.seen.contains_key(digest) {
            return Err(RecordError::Full);
        }
        self.seen.insert(digest.to_owned(), expires);
        self.soonest_expiry = self.soonest_expiry.min(expires);
        let Some(path) = &self.path else { return Ok(()) };
        let mut lines: Vec<String> = self.seen.iter().map(|(d, e)| format!("{d} {e}\n")).collect();
        lines.sort();
        write_atomically(path, lines.concat().as_bytes(), 0o600)
            .map_err(|source| RecordError::Write { path: path.display().to_string(), source })
    }
}

/// When a recorded digest may be forgotten: once its packet fails the age check whatever the clock says
/// (`max_age` None: never).
pub(crate) fn expiry(timestamp: u64, now: u64, max_age: Option<u64>) -> u64 {
    match max_age {
        Some(age) => timestamp.max(now).saturating_add(age).saturating_add(1),
        None => u64::MAX,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn digests_survive_a_restart_and_expire_with_the_age_window() {
        let dir = tempfile::tempdir().expect("dir");
        let mut cache = SpaReplay::load(Some(dir.path()), true).expect("load");
        cache.record("AAA", expiry(1000, 1000, Some(120)), 1000).expect("record");
        cache.record("BBB", expiry(1000, 1300, Some(120)), 1300).expect("record");
        let again = SpaReplay::load(Some(dir.path()), true).expect("load");
        assert!(again.contains("BBB"));
        assert!(!again.contains("AAA"), "expired at 1121, dropped when BBB was recorded at 1300");
        use std::os::unix::fs::PermissionsExt;
        let mode = std::fs::metadata(dir.path().join(STATE_FILE)).expect("meta").permissions().mode() & 0o777;
        assert_eq!(mode, 0o600);
        assert!(!SpaReplay::load(Some(dir.path()), false).expect("memory").contains("BBB"), "persistence off");
    }

    #[test]
    fn the_cache_is_walked_for_expired_entries_only_once_one_has_expired() {
        let mut cache = SpaReplay::default();
        for i in 0..1000u64 {
            cache.record(&i.to_string(), 1000 + i, 10).expect("record");
        }
        assert_eq!(cache.prunes, 0, "nothing had expired");
        // At 1500, the digests until 1499 have expired: one walk drops them.
        cache.record("late", 5000, 1500).expect("record");
        assert_eq!((cache.prunes, cache.len()), (1, 501));
        assert!(!cache.contains("499") && cache.contains("500") && cache.contains("late"));
        cache.record("later", 5000, 1500).expect("record");
        assert_eq!(cache.prunes, 1, "the earliest left expires at 1500");
    }

    #[test]
    fn a_full_cache_refuses_and_a_failed_write_still_refuses_in_memory() {
        let mut cache = SpaReplay::default();
        for i in 0..MAX_DIGESTS {
            cache.record(&i.to_string(), u64::MAX, 0).expect("record");
        }
        assert!(matches!(cache.record("new", u64::MAX, 0), Err(RecordError::Full)));
        let mut broken = SpaReplay::load(Some(Path::new("/nonexistent/state")), true).expect("absent is empty");
        assert!(broken.record("X", 10, 0).is_err());
        assert!(broken.contains("X"));
    }
}
