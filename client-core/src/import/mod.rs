//! Import by file: what people already have (a knockd.conf, a `~/.fwknoprc`, a profile TOML) turned into
//! profiles, with a report that says, per door or stanza, what would be created, what each line became,
//! what to check, and what was left out and why (with its line).
//!
//! The format is detected from the content as a whole, never from the file name: stanza headers with
//! fwknop variables, knockd directives (`Sequence = ...`), or profile keys (`host = ...`), whichever the
//! file has most of; the report says which was assumed and why.
//!
//! Every profile goes through the store's own validation ([`crate::store::parse`] of the text that would
//! be written) before anything is written, so an import never writes a profile that would not load.
//! Both front-ends call [`import_path`] then [`write`]; neither re-implements a step.

pub(crate) mod fwknoprc;
pub(crate) mod knockd;
mod uri;

pub use uri::{UriImport, UriImportError};

use std::collections::HashSet;
use std::fmt;
use std::path::{Path, PathBuf};

use serde::Serialize;
use thiserror::Error;

use crate::knockd_conf::{self, ConfError, DOOR_KEYS, OPTION_KEYS, USE_SYSLOG};
use crate::profile::{Profile, validate_host, validate_name};
use crate::rotating::DoorKey;
use crate::secrets::{KeyOwner, SecretError, SecretStore};
use crate::spa::{HmacKey, SpaKey};
use crate::store::{ProfileStore, StoreError, UnreadableFile};

/// The formats an import reads.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
pub enum Format {
    #[serde(rename = "knockd.conf")]
    KnockdConf,
    #[serde(rename = "fwknoprc")]
    Fwknoprc,
    #[serde(rename = "profile")]
    ProfileToml,
    /// An encrypted backup of profiles with their keys ([`crate::import_backup`]).
    #[serde(rename = "backup")]
    Backup,
}

impl fmt::Display for Format {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Format::KnockdConf => "knockd.conf",
            Format::Fwknoprc => "fwknoprc",
            Format::ProfileToml => "profile TOML",
            Format::Backup => "encrypted backup",
        })
    }
}

/// A line-located remark.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Note {
    pub line: Option<usize>,
    pub message: String,
}

impl fmt::Display for Note {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self.line {
            Some(line) => write!(f, "line {line}: {}", self.message),
            None => f.write_str(&self.message),
        }
    }
}

/// What one directive or variable became (never its value when that is a secret).
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Mapped {
    pub line: Option<usize>,
    pub from: String,
    pub to: String,
}

/// An SPA profile's two keys, bound for the OS keyring; they print masked.
#[derive(Debug, Clone)]
pub struct SpaKeys {
    pub key: SpaKey,
    pub hmac: HmacKey,
}

/// One door (or open/close pair), stanza or profile file, and what the import makes of it.
#[derive(Debug, Serialize)]
pub struct ImportEntry {
    /// `[openSSH] + [closeSSH]`, `[lab]` or the file name.
    pub source: String,
    /// The line of its header (1 for a profile file).
    pub line: usize,
    /// The profile it creates; `None` when skipped.
    pub name: Option<String>,
    /// `sequence`, `spa` or `rotating` ([`crate::profile::ProfileKind::as_str`]).
    pub kind: Option<&'static str>,
    #[serde(skip)]
    pub profile: Option<Profile>,
    #[serde(skip)]
    pub keys: Option<SpaKeys>,
    /// A rotating profile's door key (from a backup), bound for the OS keyring.
    #[serde(skip)]
    pub door_key: Option<DoorKey>,
    /// Whether keys go to the OS keyring with it.
    pub has_keys: bool,
    pub mapped: Vec<Mapped>,
    pub warnings: Vec<Note>,
    /// Why nothing is created from it.
    pub skipped: Option<Note>,
}

impl ImportEntry {
    fn skipped(source: String, line: usize, reason: Note, mapped: Vec<Mapped>, warnings: Vec<Note>) -> ImportEntry {
        ImportEntry {
            source,
            line,
            name: None,
            kind: None,
            profile: None,
            keys: None,
            door_key: None,
            has_keys: false,
            mapped,
            warnings,
            skipped: Some(reason),
        }
    }
}

/// Everything an import found in one file.
#[derive(Debug, Serialize)]
pub struct ImportReport {
    pub file: String,
    pub format: Format,
    /// Why this format was assumed.
    pub format_reason: String,
    pub entries: Vec<ImportEntry>,
    /// Remarks about the file as a whole.
    pub notes: Vec<Note>,
}

impl ImportReport {
    /// The entries that create a profile.
    pub fn importable(&self) -> impl Iterator<Item = &ImportEntry> {
        self.entries.iter().filter(|e| e.profile.is_some())
    }
}

#[derive(Debug, Error)]
pub enum ImportError {
    #[error("cannot read {path}: {source}")]
    Read {
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },
    #[error(
        "{file}: cannot tell the format: expected a knockd.conf (`Sequence = 7000,8000,9000` in [doors]), a \
         fwknoprc ([stanzas] of `SPA_SERVER host` lines) or a profile (`host = ...`); {counts}"
    )]
    UnknownFormat { file: String, counts: String },
    #[error("{file}: importing a knockd.conf needs --host HOST: it describes the server's doors, not where it is")]
    HostNeeded { file: String },
    #[error("--host: {message}")]
    InvalidHost { message: String },
    /// The syntax layer quotes the line, which may hold a sequence (a secret): only its number is shown.
    #[error(
        "{file}: line {}: not a knockd.conf line knockd accepts (its text is not shown: it may hold a \
         sequence); `knock-server --check -c {file}` says why",
        .source.line().unwrap_or(0)
    )]
    KnockdSyntax {
        file: String,
        #[source]
        source: ConfError,
    },
    #[error("{0}")]
    Profile(UnreadableFile),
    /// The file is an encrypted backup: ask for its passphrase, then call [`crate::import_backup`].
    #[error("{file}: an encrypted backup: its passphrase is needed")]
    PassphraseNeeded { file: String },
    #[error("{file}: {source}")]
    Backup {
        file: String,
        #[source]
        source: crate::backup::BackupError,
    },
}

/// Which format a text is, and why.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Detection {
    pub format: Format,
    pub reason: String,
}

/// Keys of a profile file (top level and its tables), for detection.
const PROFILE_KEYS: &[&str] =
    &["host", "family", "method", "delay_ms", "open", "close", "tcp_flags", "tags", "notes", "spa", "verify"];

/// Detects the format from the content as a whole: the kind of line the file has most of.
pub(crate) fn detect_format(file: &str, text: &str) -> Result<Detection, ImportError> {
    let (mut knockd, mut fwknop, mut profile) = (0usize, 0usize, 0usize);
    let mut fwknop_names: Vec<String> = Vec::new();
    for raw in text.lines() {
        let line = raw.trim();
        if line.is_empty() || line.starts_with(['#', ';']) {
            continue;
        }
        if let Some(name) = line.strip_prefix('[').and_then(|l| l.split(']').next()) {
            if ["spa", "rotating", "verify"].contains(&name.trim()) {
                profile += 1;
            }
            continue;
        }
        if line.eq_ignore_ascii_case(USE_SYSLOG) {
            knockd += 1;
            continue;
        }
        let first = line.split(|c: char| c.is_ascii_whitespace() || c == '=').next().unwrap_or_default();
        let has_equals = line.split_once('=').is_some_and(|(key, _)| key.trim() == first);
        if has_equals {
            if PROFILE_KEYS.contains(&first) {
                profile += 1;
            } else if DOOR_KEYS.iter().chain(OPTION_KEYS).any(|k| k.eq_ignore_ascii_case(first)) {
                knockd += 1;
            }
        } else if fwknoprc::is_variable_name(first) {
            fwknop += 1;
            if fwknop_names.len() < 3 {
                fwknop_names.push(first.trim_end_matches(':').to_owned());
            }
        }
    }
    let counts = format!("{fwknop} line(s) are fwknop variables, {knockd} knockd directives, {profile} profile keys");
    let best = knockd.max(fwknop).max(profile);
    let format = if best == 0 {
        return Err(ImportError::UnknownFormat { file: file.to_owned(), counts });
    } else if profile == best {
        Format::ProfileToml
    } else if fwknop == best && fwknop > knockd {
        Format::Fwknoprc
    } else if knockd > fwknop {
        Format::KnockdConf
    } else {
        return Err(ImportError::UnknownFormat { file: file.to_owned(), counts });
    };
    let reason = match format {
        Format::Fwknoprc => format!("{counts} (e.g. {})", fwknop_names.join(", ")),
        _ => counts,
    };
    Ok(Detection { format, reason })
}

/// Reads `path`, detects its format and makes the report; `host` is the host to knock (needed for a
/// knockd.conf; for the other formats it replaces the file's host). The desktop app and the CLI both
/// call this, then [`write()`](crate::write_import).
pub fn import_path(path: &Path, host: Option<&str>) -> Result<ImportReport, ImportError> {
    let text = std::fs::read_to_string(path).map_err(|source| ImportError::Read { path: path.to_owned(), source })?;
    let stem = path.file_stem().and_then(|s| s.to_str()).unwrap_or("imported");
    import_text(&path.display().to_string(), stem, &text, host)
}

/// [`import_path`] on text already read: `file` names it in messages, `stem` names a profile TOML.
pub(crate) fn import_text(file: &str, stem: &str, text: &str, host: Option<&str>) -> Result<ImportReport, ImportError> {
    let host = host.map(str::trim);
    if let Some(host) = host {
        validate_host(host).map_err(|e| ImportError::InvalidHost { message: e.to_string() })?;
    }
    if crate::backup::is_backup(text) {
        return Err(ImportError::PassphraseNeeded { file: file.to_owned() });
    }
    let detection = detect_format(file, text)?;
    let (entries, notes) = match detection.format {
        Format::KnockdConf => {
            let host = host.ok_or_else(|| ImportError::HostNeeded { file: file.to_owned() })?;
            let conf = knockd_conf::parse(text)
                .map_err(|source| ImportError::KnockdSyntax { file: file.to_owned(), source })?;
            (knockd_entries(&conf, host), knockd::option_notes(&conf))
        }
        Format::Fwknoprc => fwknoprc_entries(text, host),
        Format::ProfileToml => (vec![profile_entry(file, stem, text, host)?], Vec::new()),
        Format::Backup => return Err(ImportError::PassphraseNeeded { file: file.to_owned() }),
    };
    let mut report = ImportReport {
        file: file.to_owned(),
        format: detection.format,
        format_reason: detection.reason,
        entries,
        notes,
    };
    for entry in &mut report.entries {
        check_loads(entry);
    }
    Ok(report)
}

fn knockd_entries(conf: &knockd_conf::KnockdConf, host: &str) -> Vec<ImportEntry> {
    let imported = knockd::profiles_from_knockd_conf(conf, host);
    let mut entries: Vec<(usize, ImportEntry)> = Vec::new();
    for p in imported.profiles {
        let source = p.doors.iter().map(|d| format!("[{d}]")).collect::<Vec<_>>().join(" + ");
        let warnings = p.warnings.into_iter().map(|message| Note { line: None, message }).collect();
        entries.push((
            p.line,
            ImportEntry {
                source,
                line: p.line,
                name: Some(p.name),
                kind: Some("sequence"),
                profile: Some(p.profile),
                keys: None,
                door_key: None,
                has_keys: false,
                mapped: p.mapped,
                warnings,
                skipped: None,
            },
        ));
    }
    for s in imported.skipped {
        let reason = Note { line: s.at.or(Some(s.line)), message: s.reason };
        entries.push((s.line, ImportEntry::skipped(format!("[{}]", s.door), s.line, reason, Vec::new(), Vec::new())));
    }
    entries.sort_by_key(|(line, _)| *line);
    entries.into_iter().map(|(_, e)| e).collect()
}

fn fwknoprc_entries(text: &str, host: Option<&str>) -> (Vec<ImportEntry>, Vec<Note>) {
    let (stanzas, notes) = fwknoprc::stanzas(text, host);
    let mut taken = HashSet::new();
    let entries = stanzas
        .into_iter()
        .map(|s| {
            let source = format!("[{}]", s.stanza);
            match s.result {
                Ok(spa) => {
                    let base = knockd::profile_name(&s.stanza).unwrap_or_else(|| "spa".to_owned());
                    ImportEntry {
                        source,
                        line: s.line,
                        name: Some(knockd::unique_name(base, &mut taken)),
                        kind: Some("spa"),
                        profile: Some(spa.profile),
                        has_keys: spa.keys.is_some(),
                        keys: spa.keys,
                        door_key: None,
                        mapped: s.mapped,
                        warnings: s.warnings,
                        skipped: None,
                    }
                }
                Err(reason) => ImportEntry::skipped(source, s.line, reason, s.mapped, s.warnings),
            }
        })
        .collect();
    (entries, notes)
}

fn profile_entry(file: &str, stem: &str, text: &str, host: Option<&str>) -> Result<ImportEntry, ImportError> {
    let mut profile = crate::store::parse(Path::new(file), text.as_bytes()).map_err(ImportError::Profile)?;
    let mut mapped = vec![Mapped { line: None, from: file.to_owned(), to: "the profile, as it is".to_owned() }];
    if let Some(host) = host {
        profile.host = host.to_owned();
        mapped.push(Mapped { line: None, from: "--host".to_owned(), to: "host".to_owned() });
    }
    let name = if validate_name(stem).is_ok() {
        stem.to_owned()
    } else {
        knockd::profile_name(stem).unwrap_or_else(|| "imported".to_owned())
    };
    Ok(ImportEntry {
        source: file.to_owned(),
        line: 1,
        name: Some(name),
        kind: Some(profile.kind.as_str()),
        profile: Some(profile),
        keys: None,
        door_key: None,
        has_keys: false,
        mapped,
        warnings: Vec::new(),
        skipped: None,
    })
}

/// The store's own validation of the text that would be written: an entry whose profile would not
/// load is turned into a skipped one, so nothing unloadable is ever written.
fn check_loads(entry: &mut ImportEntry) {
    let (Some(name), Some(profile)) = (&entry.name, &entry.profile) else { return };
    let problem = match toml::to_string(profile) {
        Ok(text) => crate::store::parse(Path::new(&format!("{name}.toml")), text.as_bytes()).err().map(|e| e.message),
        Err(e) => Some(e.to_string()),
    };
    if let Some(problem) = problem {
        entry.skipped = Some(Note { line: None, message: format!("the profile would not load: {problem}") });
        entry.profile = None;
        entry.keys = None;
        entry.door_key = None;
        entry.has_keys = false;
        entry.name = None;
        entry.kind = None;
    }
}

/// What writing one entry did.
#[derive(Debug)]
pub struct Written {
    pub name: String,
    pub source: String,
    /// The file written, or why not.
    pub profile: Result<PathBuf, StoreError>,
    /// `None` when the entry had no keys; else whether they reached the OS keyring.
    pub keys: Option<Result<(), KeysNotStored>>,
}

/// The OS keyring refused an imported profile's SPA keys; the message says where else to give them.
#[derive(Debug, thiserror::Error)]
#[error("keys not stored in the OS keyring ({source}); give them in {variables}")]
pub struct KeysNotStored {
    pub source: SecretError,
    /// The environment variables that can hold them instead (`$KNOCK_SPA_KEY_BASE64_WEB and ...`).
    pub variables: String,
}

/// Creates the report's profiles (never replacing an existing one) and puts their keys in `secrets`.
pub fn write(report: &ImportReport, store: &ProfileStore, secrets: &SecretStore) -> Vec<Written> {
    report
        .entries
        .iter()
        .filter_map(|entry| Some((entry, entry.name.as_ref()?, entry.profile.as_ref()?)))
        .map(|(entry, name, profile)| {
            let created = store.create(name, profile);
            // Under the new profile's id, so they are its own (see crate::secrets).
            let keys = match &created {
                Ok(stored) if entry.keys.is_some() || entry.door_key.is_some() => {
                    Some(store_keys(secrets, name, &KeyOwner::of(name, &stored.profile), entry))
                }
                _ => None,
            };
            Written { name: name.clone(), source: entry.source.clone(), profile: created.map(|s| s.path), keys }
        })
        .collect()
}

fn store_keys(secrets: &SecretStore, name: &str, owner: &KeyOwner, entry: &ImportEntry) -> Result<(), KeysNotStored> {
    if let Some(keys) = &entry.keys {
        secrets.store_spa_keys(owner, &keys.key, &keys.hmac).map_err(|source| {
            let [(key_var, hmac_var), _] = crate::secrets::spa_key_variables(name);
            KeysNotStored { source, variables: format!("${key_var} and ${hmac_var}") }
        })?;
    }
    if let Some(key) = &entry.door_key {
        secrets.store_rotating_key(owner, key).map_err(|source| {
            let [var, _] = crate::secrets::rotating_key_variables(name);
            KeysNotStored { source, variables: format!("${var}") }
        })?;
    }
    Ok(())
}

#[cfg(test)]
#[path = "mod_tests.rs"]
mod tests;
