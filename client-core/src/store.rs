//! The profile store: one `NAME.toml` per profile in a directory, shared by the CLI and the GUI.
//!
//! Where: `--profiles-dir`, else `$KNOCK_PROFILES_DIR`, else the platform's config directory
//! (`~/.config/knock/profiles` on Linux, `~/Library/Application Support/knock/profiles` on macOS,
//! `%APPDATA%\knock\config\profiles` on Windows).
//!
//! Nothing is ever lost:
//! - every write goes to a temp file in the same directory, is flushed, and is renamed into place, so a
//!   reader sees the old or the new file, never half of one (one writer for every file the store owns:
//!   the profiles and, in `DIR/.state/`, the rotating profiles' last completed windows, [`WindowState`]);
//! - writers take an exclusive lock on `DIR/.lock` (an OS file lock, released if the process dies), so
//!   concurrent read-modify-write cycles (the GUI and the CLI, or 20 parallel `profile add`) serialise;
//! - a file that does not parse is reported with its path, line and column and is never overwritten,
//!   renamed or deleted by the store: the user fixes it by hand;
//! - [`ProfileStore::save`] refuses to overwrite a file that changed since the caller loaded it.
//!
//! Decisions per OS:
//! - Windows: a rename onto a file another process holds open without `FILE_SHARE_DELETE` (the app's own
//!   2-second re-scan, the search indexer, antivirus) fails with "access denied" or a sharing violation
//!   for a moment; such renames are retried with a short backoff (about 0.6 s in all) before failing.
//!   Unix renames never fail that way, so there is no retry there.
//! - Case-insensitive file systems (macOS's default APFS, Windows NTFS): renaming `work` to `Work` finds
//!   `Work.toml` "existing" because it is `work.toml` itself. A case-only rename is allowed when the
//!   directory has no entry spelled exactly like the new name (keyring entries are keyed by the profile's
//!   id, so they need no renaming).
//!
//! Identity: every profile the store creates gets a fresh random `id` ([`ProfileId`]) in its file, and its
//! keyring secrets are stored under that id ([`KeyOwner`]). Saves and updates keep the file's id whatever
//! the caller passes (an editor that builds a profile from a form cannot drop or change it), a rename
//! moves the file and so keeps it, and a profile created later under the same name (after `rm`, or after
//! the file was deleted by hand) has another id, so it never inherits keys left in the keyring.
//!
//! Migration of files written before ids ([`ProfileStore::migrate`]), once per profile, under the lock:
//! a fresh id is chosen, the secrets under the old name-keyed entries are copied under it, the file is
//! rewritten with the id (atomically, as every write), and only then are the old entries deleted. If
//! copying or writing fails, the copies are deleted and the profile stays as it was, its keys still under
//! its name, where they keep being read: no key is ever lost. Front ends migrate a profile when they
//! first use its keys ([`ProfileStore::load_for_keys`]: open, set-key, doctor, `rotating now`...), and
//! [`ProfileStore::rename`] migrates before renaming.

use std::collections::hash_map::DefaultHasher;
use std::fmt;
use std::fs::{self, File};
use std::hash::{Hash, Hasher};
use std::io::{self, Write};
use std::path::{Path, PathBuf};

use thiserror::Error;

use crate::profile::{Profile, ProfileError, ProfileId, env_suffix, validate_name};
use crate::secrets::{KeyOwner, SecretError, SecretStore};

/// The environment variable that overrides the default profiles directory.
pub(crate) const PROFILES_DIR_ENV: &str = "KNOCK_PROFILES_DIR";
const EXTENSION: &str = "toml";
const LOCK_FILE: &str = ".lock";

/// Where a profile file does not parse, and why.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct UnreadableFile {
    pub path: PathBuf,
    pub line: usize,
    pub column: usize,
    pub message: String,
}

impl fmt::Display for UnreadableFile {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "{}:{}:{}: {} (the file was left as it is: fix or remove it by hand)",
            self.path.display(),
            self.line,
            self.column,
            self.message
        )
    }
}

#[derive(Debug, Error)]
pub enum StoreError {
    #[error("cannot find a config directory for profiles: set {PROFILES_DIR_ENV} or pass --profiles-dir")]
    NoConfigDir,
    #[error(transparent)]
    InvalidName(#[from] ProfileError),
    #[error("no profile named {name:?} in {}{}", dir.display(), suggestion(suggestions))]
    NotFound { name: String, dir: PathBuf, suggestions: Vec<String> },
    #[error("profile {name:?} already exists ({})", path.display())]
    AlreadyExists { name: String, path: PathBuf },
    #[error("{0}")]
    Unreadable(UnreadableFile),
    #[error("{} changed on disk since it was loaded: reload it, or save again to overwrite", path.display())]
    Conflict { name: String, path: PathBuf },
    #[error(
        "profile name {name:?} clashes with profile {other:?}: both read their keys from the environment \
         variables ending in _{suffix} (e.g. KNOCK_SPA_KEY_BASE64_{suffix}); choose a name that differs in \
         more than '-' and '.'"
    )]
    EnvNameClash { name: String, other: String, suffix: String },
    #[error("cannot move the keyring secrets of profile {name:?}: {source} (nothing was renamed)")]
    Secrets {
        name: String,
        #[source]
        source: SecretError,
    },
    #[error(
        "cannot move the keyring secrets of profile {name:?} under its new id: {source} (the profile was left \
         as it was; its keys are still read from their former entries)"
    )]
    Migration {
        name: String,
        #[source]
        source: SecretError,
    },
    #[error("cannot {action} {}: {source}", path.display())]
    Io {
        action: &'static str,
        path: PathBuf,
        #[source]
        source: io::Error,
    },
}

fn suggestion(names: &[String]) -> String {
    match names {
        [] => String::new(),
        [one] => format!(" (did you mean {one:?}?)"),
        many => {
            format!(" (did you mean one of {}?)", many.iter().map(|n| format!("{n:?}")).collect::<Vec<_>>().join(", "))
        }
    }
}

/// Identifies the exact bytes a profile was loaded from, to detect changes made on disk since.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default)]
pub struct Version {
    len: u64,
    hash: u64,
}

impl Version {
    fn of(bytes: &[u8]) -> Version {
        let mut hasher = DefaultHasher::new();
        bytes.hash(&mut hasher);
        Version { len: bytes.len() as u64, hash: hasher.finish() }
    }
}

/// A profile as loaded from the store.
#[derive(Debug, Clone, PartialEq)]
pub struct StoredProfile {
    pub name: String,
    pub path: PathBuf,
    pub profile: Profile,
    pub version: Version,
}

/// One entry of [`ProfileStore::list`]: a profile, or a file that could not be read.
#[derive(Debug, Clone, PartialEq)]
pub struct ListedProfile {
    pub name: String,
    pub path: PathBuf,
    pub profile: Result<Profile, UnreadableFile>,
}

#[derive(Debug, Clone)]
pub struct ProfileStore {
    dir: PathBuf,
}

impl ProfileStore {
    /// A store in `dir` (created on the first write).
    pub fn new(dir: impl Into<PathBuf>) -> ProfileStore {
        ProfileStore { dir: dir.into() }
    }

    /// The store the user means: `explicit` (a command-line flag), else `$KNOCK_PROFILES_DIR`, else the
    /// platform's config directory.
    pub fn locate(explicit: Option<&Path>) -> Result<ProfileStore, StoreError> {
        if let Some(dir) = explicit {
            return Ok(ProfileStore::new(dir));
        }
        if let Some(dir) = std::env::var_os(PROFILES_DIR_ENV).filter(|d| !d.is_empty()) {
            return Ok(ProfileStore::new(dir));
        }
        let dirs = directories::ProjectDirs::from("", "", "knock").ok_or(StoreError::NoConfigDir)?;
        Ok(ProfileStore::new(dirs.config_dir().join("profiles")))
    }

    pub fn dir(&self) -> &Path {
        &self.dir
    }

    pub fn path_of(&self, name: &str) -> PathBuf {
        self.dir.join(format!("{name}.{EXTENSION}"))
    }

    /// Every `*.toml` file of the store, sorted by name; unreadable ones are listed with their error.
    pub fn list(&self) -> Result<Vec<ListedProfile>, StoreError> {
        let mut listed: Vec<ListedProfile> = self
            .file_names()?
            .into_iter()
            .map(|name| {
                let path = self.path_of(&name);
                let profile = match validate_name(&name) {
                    Err(err) => {
                        Err(UnreadableFile { path: path.clone(), line: 1, column: 1, message: err.to_string() })
                    }
                    Ok(()) => match fs::read(&path) {
                        Ok(bytes) => parse(&path, &bytes),
                        Err(err) => {
                            Err(UnreadableFile { path: path.clone(), line: 1, column: 1, message: err.to_string() })
                        }
                    },
                };
                ListedProfile { name, path, profile }
            })
            .collect();
        listed.sort_by(|a, b| a.name.cmp(&b.name));
        Ok(listed)
    }

    /// The names of the store's profile files (hidden and temp files excluded). Empty if no directory.
    pub fn file_names(&self) -> Result<Vec<String>, StoreError> {
        let entries = match fs::read_dir(&self.dir) {
            Ok(entries) => entries,
            Err(err) if err.kind() == io::ErrorKind::NotFound => return Ok(Vec::new()),
            Err(source) => {
                return Err(StoreError::Io { action: "list", path: self.dir.clone(), source });
            }
        };
        let mut names = Vec::new();
        for entry in entries {
            let entry = entry.map_err(|source| StoreError::Io { action: "list", path: self.dir.clone(), source })?;
            let path = entry.path();
            let is_profile = path.extension().is_some_and(|e| e == EXTENSION) && path.is_file();
            if let (true, Some(stem)) = (is_profile, path.file_stem().and_then(|s| s.to_str()))
                && !stem.starts_with('.')
            {
                names.push(stem.to_owned());
            }
        }
        names.sort();
        Ok(names)
    }

    /// A cheap digest of the store's files (names, sizes, modification times): it changes when any
    /// profile is added, removed or rewritten, so a long-running app can re-scan only then.
    pub fn fingerprint(&self) -> u64 {
        let mut hasher = DefaultHasher::new();
        if let Ok(entries) = fs::read_dir(&self.dir) {
            let mut files: Vec<(std::ffi::OsString, u64, Option<std::time::SystemTime>)> = entries
                .filter_map(Result::ok)
                .filter(|e| e.path().extension().is_some_and(|x| x == EXTENSION))
                .map(|e| {
                    let meta = e.metadata().ok();
                    (e.file_name(), meta.as_ref().map_or(0, |m| m.len()), meta.and_then(|m| m.modified().ok()))
                })
                .collect();
            files.sort();
            files.hash(&mut hasher);
        }
        hasher.finish()
    }

    /// Loads one profile.
    pub fn load(&self, name: &str) -> Result<StoredProfile, StoreError> {
        validate_name(name)?;
        let path = self.path_of(name);
        let bytes = match fs::read(&path) {
            Ok(bytes) => bytes,
            Err(err) if err.kind() == io::ErrorKind::NotFound => return Err(self.not_found(name)),
            // Mode 000, another owner's file, a directory: an unreadable profile, as `list` says.
            Err(err) => {
                return Err(StoreError::Unreadable(UnreadableFile {
                    path,
                    line: 1,
                    column: 1,
                    message: err.to_string(),
                }));
            }
        };
        let profile = parse(&path, &bytes).map_err(StoreError::Unreadable)?;
        Ok(StoredProfile { name: name.to_owned(), path, profile, version: Version::of(&bytes) })
    }

    /// Adds a new profile, with a fresh id (whatever `profile.id` holds: a new file is a new identity,
    /// even when it was made from a copy of another profile); an existing file of that name (readable or
    /// not) is never replaced.
    pub fn create(&self, name: &str, profile: &Profile) -> Result<StoredProfile, StoreError> {
        self.create_with_id(name, profile, ProfileId::random()?)
    }

    /// [`ProfileStore::create`] with an id chosen by the caller, who stored the profile's secrets under it
    /// first (a provisioning URI's import).
    pub(crate) fn create_with_id(
        &self,
        name: &str,
        profile: &Profile,
        id: ProfileId,
    ) -> Result<StoredProfile, StoreError> {
        validate_name(name)?;
        let _lock = self.lock()?;
        let path = self.path_of(name);
        if path.exists() {
            return Err(StoreError::AlreadyExists { name: name.to_owned(), path });
        }
        self.refuse_env_clash(name, None)?;
        let mut profile = profile.clone();
        profile.id = Some(id);
        self.write(name, &profile, false)
    }

    /// Where a rotating profile's last completed window is remembered (`DIR/.state/NAME.window`), so a
    /// second open in the same window waits for the next one instead of being refused as a replay.
    pub fn window_state(&self, name: &str) -> WindowState {
        WindowState { path: self.dir.join(".state").join(format!("{name}.window")) }
    }

    /// Two names that map to one environment suffix (`fw-a`, `fw.a`) would silently share their keys
    /// from the environment: the second is refused.
    fn refuse_env_clash(&self, name: &str, renamed_from: Option<&str>) -> Result<(), StoreError> {
        let suffix = env_suffix(name);
        let clash = self
            .file_names()?
            .into_iter()
            .find(|other| other != name && Some(other.as_str()) != renamed_from && env_suffix(other) == suffix);
        match clash {
            Some(other) => Err(StoreError::EnvNameClash { name: name.to_owned(), other, suffix }),
            None => Ok(()),
        }
    }

    /// Replaces a profile, keeping the file's id (`profile.id` is ignored). With `expected`, refuses if the
    /// file changed since that version was loaded; a file that does not parse is never replaced. Creates
    /// the profile (with a fresh id) if it does not exist.
    pub fn save(&self, name: &str, profile: &Profile, expected: Option<Version>) -> Result<StoredProfile, StoreError> {
        validate_name(name)?;
        let _lock = self.lock()?;
        let id = match self.load(name) {
            Ok(current) => {
                if expected.is_some_and(|v| v != current.version) {
                    return Err(StoreError::Conflict { name: name.to_owned(), path: current.path });
                }
                current.profile.id
            }
            Err(StoreError::NotFound { .. }) => Some(ProfileId::random()?),
            Err(err) => return Err(err),
        };
        let mut profile = profile.clone();
        profile.id = id;
        self.write(name, &profile, true)
    }

    /// Read-modify-write under the lock, so concurrent updates are never lost.
    pub fn update<E>(
        &self,
        name: &str,
        change: impl FnOnce(&mut Profile) -> Result<(), E>,
    ) -> Result<Result<StoredProfile, E>, StoreError> {
        validate_name(name)?;
        let _lock = self.lock()?;
        let mut profile = self.load(name)?.profile;
        let id = profile.id;
        if let Err(err) = change(&mut profile) {
            return Ok(Err(err));
        }
        profile.id = id;
        self.write(name, &profile, true).map(Ok)
    }

    /// Gives a profile written before ids its id, and moves its keyring secrets from their name-keyed
    /// entries under it (see the module docs; once: a profile with an id is returned as it is). On an
    /// error nothing changed: the file has no id and the secrets are where they were.
    pub fn migrate(&self, name: &str, secrets: &SecretStore) -> Result<StoredProfile, StoreError> {
        let current = self.load(name)?;
        if current.profile.id.is_some() {
            return Ok(current);
        }
        let _lock = self.lock()?;
        self.migrate_locked(name, secrets)
    }

    /// Loads a profile whose keys are about to be used, migrating it first when it has no id. A failed
    /// migration is not an error here: the profile is returned without an id and its keys are read from
    /// their name-keyed entries, as before ids. Errors are those of [`ProfileStore::load`].
    pub fn load_for_keys(&self, name: &str, secrets: &SecretStore) -> Result<StoredProfile, StoreError> {
        let loaded = self.load(name)?;
        if loaded.profile.id.is_some() {
            return Ok(loaded);
        }
        Ok(self.migrate(name, secrets).unwrap_or(loaded))
    }

    /// [`ProfileStore::migrate`]; the caller holds the lock.
    fn migrate_locked(&self, name: &str, secrets: &SecretStore) -> Result<StoredProfile, StoreError> {
        let current = self.load(name)?;
        if current.profile.id.is_some() {
            return Ok(current);
        }
        let id = ProfileId::random()?;
        let (legacy, owner) = (KeyOwner::Legacy(name.to_owned()), KeyOwner::Id(id));
        // 1. Copy the secrets under the id; on failure, remove the partial copy (the originals stay).
        if let Err(source) = secrets.copy_all(&legacy, &owner) {
            let _ = secrets.delete_all(&owner);
            return Err(StoreError::Migration { name: name.to_owned(), source });
        }
        // 2. The file gets the id (atomically); on failure the copies go and the profile stays as it was.
        let mut profile = current.profile;
        profile.id = Some(id);
        let stored = match self.write(name, &profile, true) {
            Ok(stored) => stored,
            Err(err) => {
                let _ = secrets.delete_all(&owner);
                return Err(err);
            }
        };
        // 3. Only now are the name-keyed entries forgotten. Should this fail, they stay behind unread
        // (this profile reads its id's entries; `rm` of this name deletes them).
        let _ = secrets.delete_all(&legacy);
        Ok(stored)
    }

    /// Deletes a profile and forgets its keyring secrets (those of its id, unless a copy of its file
    /// shares it, and any left under its name by a version before ids); refuses a file that does not
    /// parse (it may be a hand edit in progress).
    /// Returns the removed path and, when the keyring could not be cleaned, why (the file is gone either
    /// way; a later profile of the same name has another id and never reads them).
    pub fn remove(&self, name: &str, secrets: &SecretStore) -> Result<(PathBuf, Option<SecretError>), StoreError> {
        let _lock = self.lock()?;
        let stored = self.load(name)?;
        let path = stored.path;
        fs::remove_file(&path).map_err(|source| StoreError::Io { action: "remove", path: path.clone(), source })?;
        self.window_state(name).forget();
        let legacy = KeyOwner::Legacy(name.to_owned());
        let mut owners = vec![legacy.clone()];
        // A file copied by hand has the same id: its keys are also the copy's, so they stay (as they do
        // when the store cannot be listed to tell).
        if stored.profile.id.is_some() && self.sharing_id(name, &stored.profile).is_ok_and(|others| others.is_empty()) {
            owners.push(KeyOwner::of(name, &stored.profile));
        }
        let mut forgotten = None;
        for owner in &owners {
            match secrets.delete_all(owner) {
                Ok(()) | Err(SecretError::Unavailable { .. }) => {}
                Err(error) => {
                    forgotten.get_or_insert(error);
                }
            }
        }
        Ok((path, forgotten))
    }

    /// The other profiles of the store with `profile`'s id (files copied by hand: they share its keys).
    /// Empty for a profile without an id; unreadable files are skipped.
    pub fn sharing_id(&self, name: &str, profile: &Profile) -> Result<Vec<String>, StoreError> {
        let Some(id) = profile.id else { return Ok(Vec::new()) };
        Ok(self
            .list()?
            .into_iter()
            .filter(|entry| entry.name != name && entry.profile.as_ref().is_ok_and(|p| p.id == Some(id)))
            .map(|entry| entry.name)
            .collect())
    }

    /// Renames a profile; the new name must be free. Its keyring secrets are keyed by its id, which the
    /// file keeps, so they follow it. A profile without an id is migrated first (a failed migration
    /// renames nothing); without a keyring service there is nothing to move and it is renamed as it is.
    pub fn rename(&self, old: &str, new: &str, secrets: &SecretStore) -> Result<PathBuf, StoreError> {
        validate_name(new)?;
        let _lock = self.lock()?;
        let stored = self.load(old)?;
        let to = self.path_of(new);
        if to.exists() && !self.is_case_only_rename_of_itself(old, new)? {
            return Err(StoreError::AlreadyExists { name: new.to_owned(), path: to });
        }
        self.refuse_env_clash(new, Some(old))?;
        if stored.profile.id.is_none() {
            match self.migrate_locked(old, secrets) {
                Ok(_) | Err(StoreError::Migration { source: SecretError::Unavailable { .. }, .. }) => {}
                Err(StoreError::Migration { name, source }) => return Err(StoreError::Secrets { name, source }),
                Err(err) => return Err(err),
            }
        }
        let from = stored.path;
        if let Err(source) = retry_sharing_violations(|| fs::rename(&from, &to)) {
            return Err(StoreError::Io { action: "rename", path: from, source });
        }
        sync_dir(&self.dir);
        Ok(to)
    }

    /// True when `new` differs from `old` only in case and "exists" only because the file system ignores
    /// case: no directory entry is spelled exactly `new`.
    fn is_case_only_rename_of_itself(&self, old: &str, new: &str) -> Result<bool, StoreError> {
        if old == new || old.to_lowercase() != new.to_lowercase() {
            return Ok(false);
        }
        Ok(!self.file_names()?.iter().any(|name| name == new))
    }

    fn not_found(&self, name: &str) -> StoreError {
        let candidates = self.file_names().unwrap_or_default();
        StoreError::NotFound { name: name.to_owned(), dir: self.dir.clone(), suggestions: closest(name, &candidates) }
    }

    fn ensure_dir(&self) -> Result<(), StoreError> {
        fs::create_dir_all(&self.dir).map_err(|source| StoreError::Io {
            action: "create the profiles directory",
            path: self.dir.clone(),
            source,
        })
    }

    /// The store-wide writer lock; released when the returned file is dropped (or the process dies).
    fn lock(&self) -> Result<File, StoreError> {
        self.ensure_dir()?;
        let path = self.dir.join(LOCK_FILE);
        let file = fs::OpenOptions::new()
            .create(true)
            .truncate(false)
            .write(true)
            .open(&path)
            .map_err(|source| StoreError::Io { action: "open the lock file", path: path.clone(), source })?;
        file.lock().map_err(|source| StoreError::Io { action: "lock", path, source })?;
        Ok(file)
    }

    /// Writes through a temp file and a rename; the caller holds the lock.
    fn write(&self, name: &str, profile: &Profile, replace: bool) -> Result<StoredProfile, StoreError> {
        // Never write a file that would not load again: the text is read back with the loader first.
        profile.validate()?;
        let path = self.path_of(name);
        let io_err = |action| {
            let path = path.clone();
            move |source| StoreError::Io { action, path, source }
        };
        let text = toml::to_string(profile)
            .map_err(|e| io_err("encode")(io::Error::new(io::ErrorKind::InvalidData, e.to_string())))?;
        parse(&path, text.as_bytes()).map_err(StoreError::Unreadable)?;
        write_atomically(&path, text.as_bytes(), replace).map_err(|(action, source)| io_err(action)(source))?;
        Ok(StoredProfile {
            name: name.to_owned(),
            path,
            profile: profile.clone(),
            version: Version::of(text.as_bytes()),
        })
    }
}

/// A rotating profile's last completed window, remembered across runs and front ends in the store's
/// `.state` directory (see [`ProfileStore::window_state`]). Written like a profile: atomically.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct WindowState {
    path: PathBuf,
}

impl WindowState {
    pub fn path(&self) -> &Path {
        &self.path
    }

    /// The last completed window (a decimal number in the file), if one is remembered.
    pub fn last(&self) -> Option<u64> {
        fs::read_to_string(&self.path).ok()?.trim().parse().ok()
    }

    /// Remembers `window` as completed, through the store's one writer (temp file, flush, rename), so a
    /// crash or a concurrent run leaves the old or the new number, never a torn one.
    pub fn remember(&self, window: u64) -> Result<(), StoreError> {
        if let Some(dir) = self.path.parent() {
            fs::create_dir_all(dir).map_err(|source| StoreError::Io {
                action: "create the state directory",
                path: dir.to_owned(),
                source,
            })?;
        }
        write_atomically(&self.path, format!("{window}\n").as_bytes(), true)
            .map_err(|(action, source)| StoreError::Io { action, path: self.path.clone(), source })
    }

    /// Forgets the window (the profile is gone); a missing file is fine.
    fn forget(&self) {
        let _ = fs::remove_file(&self.path);
    }
}

/// The store's one writer (profiles and window state): `bytes` go to a temp file in `path`'s directory
/// (hidden, `.tmp`, so never listed as a profile), are flushed, and the file is renamed into place
/// (replacing an existing file only with `replace`), so a reader sees the old or the new file, never half
/// of one. The error says which step failed.
fn write_atomically(path: &Path, bytes: &[u8], replace: bool) -> Result<(), (&'static str, io::Error)> {
    let dir = path.parent().filter(|d| !d.as_os_str().is_empty()).unwrap_or(Path::new("."));
    let stem = path.file_stem().map(|s| s.to_string_lossy().into_owned()).unwrap_or_default();
    let mut temp = tempfile::Builder::new()
        .prefix(&format!(".{stem}."))
        .suffix(".tmp")
        .tempfile_in(dir)
        .map_err(|e| ("create a temp file for", e))?;
    temp.write_all(bytes).map_err(|e| ("write", e))?;
    temp.as_file().sync_all().map_err(|e| ("flush", e))?;
    persist_retrying(temp, path, replace).map_err(|e| (if replace { "replace" } else { "create" }, e))?;
    sync_dir(dir);
    Ok(())
}

/// Pauses between attempts of a rename that hit a sharing violation (Windows); about 0.6 s in all.
const SHARING_VIOLATION_RETRY_DELAYS_MS: [u64; 6] = [10, 20, 40, 80, 160, 320];

/// Moves the temp file into place (replacing or not), retrying sharing violations.
fn persist_retrying(mut temp: tempfile::NamedTempFile, path: &Path, replace: bool) -> io::Result<()> {
    let mut delays = SHARING_VIOLATION_RETRY_DELAYS_MS.iter();
    loop {
        let result = if replace { temp.persist(path) } else { temp.persist_noclobber(path) };
        match result {
            Ok(_) => return Ok(()),
            Err(failed) => match delays.next() {
                Some(&ms) if is_sharing_violation(&failed.error) => {
                    std::thread::sleep(std::time::Duration::from_millis(ms));
                    temp = failed.file;
                }
                _ => return Err(failed.error),
            },
        }
    }
}

/// Runs a rename, retrying sharing violations.
fn retry_sharing_violations(mut rename: impl FnMut() -> io::Result<()>) -> io::Result<()> {
    let mut delays = SHARING_VIOLATION_RETRY_DELAYS_MS.iter();
    loop {
        match rename() {
            Ok(()) => return Ok(()),
            Err(err) => match delays.next() {
                Some(&ms) if is_sharing_violation(&err) => std::thread::sleep(std::time::Duration::from_millis(ms)),
                _ => return Err(err),
            },
        }
    }
}

/// ERROR_ACCESS_DENIED (5), ERROR_SHARING_VIOLATION (32), ERROR_LOCK_VIOLATION (33): what MoveFileEx
/// reports while another process has the target open without FILE_SHARE_DELETE.
#[cfg(windows)]
fn is_sharing_violation(err: &io::Error) -> bool {
    matches!(err.raw_os_error(), Some(5 | 32 | 33))
}

#[cfg(not(windows))]
fn is_sharing_violation(_err: &io::Error) -> bool {
    false
}

/// Reads a profile that lives in no store (`knock-cli open --profile-file`): parsed exactly as a stored
/// profile, errors located by line and column under `path`; nothing is written anywhere.
pub fn parse_profile(path: &Path, bytes: &[u8]) -> Result<Profile, UnreadableFile> {
    parse(path, bytes)
}

/// Parses a profile file, locating errors by line and column.
pub(crate) fn parse(path: &Path, bytes: &[u8]) -> Result<Profile, UnreadableFile> {
    let unreadable = |line, column, message| UnreadableFile { path: path.to_owned(), line, column, message };
    let text = std::str::from_utf8(bytes).map_err(|e| {
        let (line, column) = line_column(bytes, e.valid_up_to());
        unreadable(line, column, "the file is not UTF-8 text".to_owned())
    })?;
    let profile: Profile = toml::from_str(text).map_err(|e| {
        let (line, column) = e.span().map_or((1, 1), |span| line_column(bytes, span.start));
        unreadable(line, column, e.message().trim().to_owned())
    })?;
    Ok(profile)
}

/// 1-based line and column (in characters) of a byte offset.
fn line_column(bytes: &[u8], offset: usize) -> (usize, usize) {
    let before = &bytes[..offset.min(bytes.len())];
    let line = before.iter().filter(|&&b| b == b'\n').count() + 1;
    let line_start = before.iter().rposition(|&b| b == b'\n').map_or(0, |i| i + 1);
    let column = String::from_utf8_lossy(&before[line_start..]).chars().count() + 1;
    (line, column)
}

/// Up to three existing names close to `name`, best first.
pub(crate) fn closest(name: &str, candidates: &[String]) -> Vec<String> {
    let wanted = name.to_lowercase();
    let mut scored: Vec<(f64, &String)> = candidates
        .iter()
        .map(|c| (strsim::jaro_winkler(&wanted, &c.to_lowercase()), c))
        .filter(|(score, c)| *score >= 0.8 || c.to_lowercase().contains(&wanted))
        .collect();
    scored.sort_by(|a, b| b.0.total_cmp(&a.0));
    scored.into_iter().take(3).map(|(_, c)| c.clone()).collect()
}

/// Makes a rename or create durable (Unix; Windows cannot open directories and needs no such step).
#[cfg(unix)]
fn sync_dir(dir: &Path) {
    if let Ok(handle) = File::open(dir) {
        let _ = handle.sync_all();
    }
}

#[cfg(not(unix))]
fn sync_dir(_dir: &Path) {}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::sequence::{Protocol, Sequence};

    /// Never the user's keyring: a test service name (these profiles have no secrets).
    fn test_secrets() -> SecretStore {
        SecretStore::with_service(format!("knock-toolkit-test-store-unit-{}", std::process::id()))
    }

    fn profile(host: &str) -> Profile {
        Profile::new(host, Sequence::parse("7000,8000:udp,9000", Protocol::Tcp).expect("sequence"))
    }

    /// On a case-insensitive file system (macOS, Windows CI) this is the `work` -> `Work` rename that used
    /// to fail with "already exists"; on a case-sensitive one it is an ordinary rename. Either way the
    /// profile ends up spelled `Work` on disk and `work` is gone from the listing.
    #[test]
    fn case_only_rename_changes_the_spelling() {
        let dir = tempfile::tempdir().expect("temp dir");
        let store = ProfileStore::new(dir.path());
        store.create("work", &profile("192.0.2.2")).expect("create");
        store.rename("work", "Work", &test_secrets()).expect("case-only rename");
        assert_eq!(store.file_names().expect("names"), ["Work"]);
        assert_eq!(store.load("Work").expect("load").profile.host, "192.0.2.2");
    }

    /// Two files that differ only in case (possible on a case-sensitive file system) stay distinct.
    #[test]
    fn case_only_rename_onto_a_distinct_file_is_refused() {
        let dir = tempfile::tempdir().expect("temp dir");
        let store = ProfileStore::new(dir.path());
        store.create("work", &profile("192.0.2.2")).expect("create");
        if store.create("Work", &profile("192.0.2.3")).is_err() {
            return; // case-insensitive file system: there cannot be two such files
        }
        assert!(matches!(store.rename("work", "Work", &test_secrets()), Err(StoreError::AlreadyExists { .. })));
    }

    /// The store owns the id: a new file gets a fresh one, saves and edits keep the file's (whatever the
    /// caller passes), and a later profile of the same name gets another.
    #[test]
    fn ids_are_made_by_create_and_kept_by_every_write() {
        let dir = tempfile::tempdir().expect("temp dir");
        let store = ProfileStore::new(dir.path());
        let mut copied = profile("192.0.2.2");
        copied.id = Some(ProfileId::random().expect("random"));
        let created = store.create("work", &copied).expect("create");
        let id = created.profile.id.expect("an id");
        assert_ne!(Some(id), copied.id, "create never takes the caller's id (a copy is a new profile)");
        let text = fs::read_to_string(store.path_of("work")).expect("read");
        assert!(text.starts_with(&format!("id = \"{id}\"\n")), "{text}");
        assert_eq!(store.load("work").expect("load").profile.id, Some(id));

        let mut form = profile("192.0.2.3");
        form.id = None;
        assert_eq!(store.save("work", &form, Some(created.version)).expect("save").profile.id, Some(id));
        form.id = Some(ProfileId::random().expect("random"));
        assert_eq!(store.save("work", &form, None).expect("save").profile.id, Some(id));
        let updated = store
            .update("work", |p| {
                p.id = None;
                Ok::<(), ()>(())
            })
            .expect("update")
            .expect("change");
        assert_eq!(updated.profile.id, Some(id));
        assert_eq!(store.load("work").expect("load").profile.id, Some(id));
        assert_eq!(store.load("work").expect("load").profile.host, "192.0.2.3");

        let fresh = store.save("other", &form, None).expect("save creates");
        assert!(fresh.profile.id.is_some_and(|other| other != id));

        fs::remove_file(store.path_of("work")).expect("delete by hand");
        let again = store.create("work", &profile("198.51.100.7")).expect("create again");
        assert!(again.profile.id.is_some_and(|other| other != id), "a new profile of an old name is new");
    }

    /// A file written before ids loads, and stays byte for byte as it is until it is migrated; saves keep
    /// it without an id (only a migration, which moves its keys, may give it one).
    #[test]
    fn a_file_without_an_id_loads_and_is_not_given_one_by_a_save() {
        let dir = tempfile::tempdir().expect("temp dir");
        let store = ProfileStore::new(dir.path());
        fs::write(store.path_of("old"), "host = \"192.0.2.2\"\nopen = \"7000\"\n").expect("write");
        let loaded = store.load("old").expect("load");
        assert_eq!(loaded.profile.id, None);
        let saved = store.save("old", &profile("192.0.2.9"), Some(loaded.version)).expect("save");
        assert_eq!(saved.profile.id, None);
        assert!(!fs::read_to_string(store.path_of("old")).expect("read").contains("id ="));
    }

    /// A file copied by hand shares the original's id; `rm` of one keeps the keys the other still uses.
    #[test]
    fn a_copied_file_shares_the_id_and_rm_keeps_the_other_ones_keys() {
        let dir = tempfile::tempdir().expect("temp dir");
        let store = ProfileStore::new(dir.path());
        let original = store.create("work", &profile("192.0.2.2")).expect("create");
        fs::copy(store.path_of("work"), store.path_of("copy")).expect("copy by hand");
        assert_eq!(store.sharing_id("copy", &store.load("copy").expect("load").profile).expect("scan"), ["work"]);
        assert_eq!(store.sharing_id("work", &original.profile).expect("scan"), ["copy"]);
        let other = store.create("other", &profile("192.0.2.3")).expect("create");
        assert!(store.sharing_id("other", &other.profile).expect("scan").is_empty());
    }

    #[test]
    fn other_errors_are_not_retried() {
        let mut calls = 0;
        let err = retry_sharing_violations(|| {
            calls += 1;
            Err(io::Error::from(io::ErrorKind::NotFound))
        })
        .expect_err("fails");
        assert_eq!((err.kind(), calls), (io::ErrorKind::NotFound, 1));
    }

    /// Windows: a reader holding the profile open without FILE_SHARE_DELETE (as the indexer or antivirus
    /// do) makes the replacing rename fail for a while; the save waits for it instead of failing.
    #[cfg(windows)]
    #[test]
    fn save_waits_out_a_sharing_violation() {
        use std::os::windows::fs::OpenOptionsExt;
        let dir = tempfile::tempdir().expect("temp dir");
        let store = ProfileStore::new(dir.path());
        store.create("work", &profile("192.0.2.2")).expect("create");
        // FILE_SHARE_READ only: no delete/rename sharing.
        let holder = fs::OpenOptions::new().read(true).share_mode(1).open(store.path_of("work")).expect("open");
        let release = std::thread::spawn(move || {
            std::thread::sleep(std::time::Duration::from_millis(150));
            drop(holder);
        });
        store.save("work", &profile("192.0.2.9"), None).expect("save retried until the reader let go");
        release.join().expect("join");
        assert_eq!(store.load("work").expect("load").profile.host, "192.0.2.9");
    }
}
