//! The profile store: one `NAME.toml` per profile in a directory, shared by the CLI and the GUI.
//!
//! Where: `--profiles-dir`, else `$KNOCK_PROFILES_DIR`, else the platform's config directory
//! (`~/.config/knock/profiles` on Linux, `~/Library/Application Support/knock/profiles` on macOS,
//! `%APPDATA%\knock\config\profiles` on Windows).
//!
//! Nothing is ever lost:
//! - every write goes to a temp file in the same directory, is flushed, and is renamed into place, so a
//!   reader sees the old or the new file, never half of one;
//! - writers take an exclusive lock on `DIR/.lock` (an OS file lock, released if the process dies), so
//!   concurrent read-modify-write cycles (the GUI and the CLI, or 20 parallel `profile add`) serialise;
//! - a file that does not parse is reported with its path, line and column and is never overwritten,
//!   renamed or deleted by the store: the user fixes it by hand;
//! - [`ProfileStore::save`] refuses to overwrite a file that changed since the caller loaded it.

use std::collections::hash_map::DefaultHasher;
use std::fmt;
use std::fs::{self, File};
use std::hash::{Hash, Hasher};
use std::io::{self, Write};
use std::path::{Path, PathBuf};

use thiserror::Error;

use crate::profile::{Profile, ProfileError, env_suffix, validate_name};
use crate::secrets::{SecretError, SecretStore};

/// The environment variable that overrides the default profiles directory.
pub const PROFILES_DIR_ENV: &str = "KNOCK_PROFILES_DIR";
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

    /// The store the user means: `explicit` (a command-line flag), else [`PROFILES_DIR_ENV`], else the
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
            Err(source) => {
                return Err(StoreError::Io { action: "read", path, source });
            }
        };
        let profile = parse(&path, &bytes).map_err(StoreError::Unreadable)?;
        Ok(StoredProfile { name: name.to_owned(), path, profile, version: Version::of(&bytes) })
    }

    /// Adds a new profile; an existing file of that name (readable or not) is never replaced.
    pub fn create(&self, name: &str, profile: &Profile) -> Result<StoredProfile, StoreError> {
        validate_name(name)?;
        let _lock = self.lock()?;
        let path = self.path_of(name);
        if path.exists() {
            return Err(StoreError::AlreadyExists { name: name.to_owned(), path });
        }
        self.refuse_env_clash(name, None)?;
        self.write(name, profile, false)
    }

    /// Where a rotating profile's last completed window is remembered (`DIR/.state/NAME.window`), so a
    /// second open in the same window waits for the next one instead of being refused as a replay.
    pub fn window_state_path(&self, name: &str) -> PathBuf {
        self.dir.join(".state").join(format!("{name}.window"))
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

    /// Replaces a profile. With `expected`, refuses if the file changed since that version was loaded;
    /// a file that does not parse is never replaced. Creates the profile if it does not exist.
    pub fn save(&self, name: &str, profile: &Profile, expected: Option<Version>) -> Result<StoredProfile, StoreError> {
        validate_name(name)?;
        let _lock = self.lock()?;
        match self.load(name) {
            Ok(current) => {
                if expected.is_some_and(|v| v != current.version) {
                    return Err(StoreError::Conflict { name: name.to_owned(), path: current.path });
                }
            }
            Err(StoreError::NotFound { .. }) => {}
            Err(err) => return Err(err),
        }
        self.write(name, profile, true)
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
        if let Err(err) = change(&mut profile) {
            return Ok(Err(err));
        }
        self.write(name, &profile, true).map(Ok)
    }

    /// Deletes a profile and forgets its keyring secrets (a later profile of the same name must never
    /// inherit them); refuses a file that does not parse (it may be a hand edit in progress). Returns the
    /// removed path and, when the keyring could not be cleaned, why (the file is gone either way).
    pub fn remove(&self, name: &str, secrets: &SecretStore) -> Result<(PathBuf, Option<SecretError>), StoreError> {
        let _lock = self.lock()?;
        let path = self.load(name)?.path;
        fs::remove_file(&path).map_err(|source| StoreError::Io { action: "remove", path: path.clone(), source })?;
        let _ = fs::remove_file(self.window_state_path(name));
        let forgotten = match secrets.delete_all(name) {
            Ok(()) | Err(SecretError::Unavailable { .. }) => None,
            Err(error) => Some(error),
        };
        Ok((path, forgotten))
    }

    /// Renames a profile and moves its keyring secrets with it; the new name must be free. The secrets
    /// move first: if that fails nothing is renamed, and if the file rename then fails they move back.
    /// Without a keyring service there is nothing to move.
    pub fn rename(&self, old: &str, new: &str, secrets: &SecretStore) -> Result<PathBuf, StoreError> {
        validate_name(new)?;
        let _lock = self.lock()?;
        let from = self.load(old)?.path;
        let to = self.path_of(new);
        if to.exists() {
            return Err(StoreError::AlreadyExists { name: new.to_owned(), path: to });
        }
        self.refuse_env_clash(new, Some(old))?;
        let moved = match secrets.rename(old, new) {
            Ok(()) => true,
            Err(SecretError::Unavailable { .. }) => false,
            Err(source) => return Err(StoreError::Secrets { name: old.to_owned(), source }),
        };
        if let Err(source) = fs::rename(&from, &to) {
            if moved {
                let _ = secrets.rename(new, old);
            }
            return Err(StoreError::Io { action: "rename", path: from, source });
        }
        sync_dir(&self.dir);
        Ok(to)
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
        let mut temp = tempfile::Builder::new()
            .prefix(&format!(".{name}."))
            .suffix(".tmp")
            .tempfile_in(&self.dir)
            .map_err(io_err("create a temp file for"))?;
        temp.write_all(text.as_bytes()).map_err(io_err("write"))?;
        temp.as_file().sync_all().map_err(io_err("flush"))?;
        if replace {
            temp.persist(&path).map_err(|e| io_err("replace")(e.error))?;
        } else {
            temp.persist_noclobber(&path).map_err(|e| io_err("create")(e.error))?;
        }
        sync_dir(&self.dir);
        Ok(StoredProfile {
            name: name.to_owned(),
            path,
            profile: profile.clone(),
            version: Version::of(text.as_bytes()),
        })
    }
}

/// Parses a profile file, locating errors by line and column.
pub fn parse(path: &Path, bytes: &[u8]) -> Result<Profile, UnreadableFile> {
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
pub fn closest(name: &str, candidates: &[String]) -> Vec<String> {
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
