//! Import and export, as functions that take paths: the native file dialogs (rfd) are a thin layer over
//! these, and tests call them directly. Reading and writing an import is client-core's
//! ([`client_core::import_path`], [`client_core::import_backup`], [`client_core::write_import`], as
//! `knock-cli profile import` uses them): this module never parses a profile file itself.

use std::fs;
use std::path::{Path, PathBuf};

pub use client_core::ImportFormat;
use client_core::Profile;
use client_core::import_path;
use client_core::rotating::DoorKey;
use client_core::spa::{HmacKey, SpaKey};
use client_core::{BackupError, Secret, SecretStore};
use client_core::{ProfileStore, StoreError};

/// One profile an import would create; `name` is editable in the preview.
#[derive(Debug, Clone)]
pub struct Candidate {
    pub name: String,
    /// Where in the file it comes from (`[openSSH] + [closeSSH]`, `[lab]`, the file name) and its line.
    pub source: String,
    pub line: usize,
    pub profile: Profile,
    /// SPA keys found in the file: they go to the keyring, never to the profile file.
    pub keys: Option<(SpaKey, HmacKey)>,
    /// A rotating profile's door key (from an encrypted backup): to the keyring too.
    pub door_key: Option<DoorKey>,
    /// Things to check (warnings of the importer).
    pub notes: Vec<String>,
}

/// What importing a file would do, before anything is written.
#[derive(Debug, Clone)]
pub struct Preview {
    pub path: PathBuf,
    pub format: ImportFormat,
    pub candidates: Vec<Candidate>,
    /// Parts of the file that give no profile, and why.
    pub skipped: Vec<String>,
}

/// Why a file gives no import preview.
#[derive(Debug, thiserror::Error)]
pub enum PreviewError {
    #[error("enter the path of a profile .toml, an .fwknoprc or a knockd.conf")]
    NoPath,
    /// The core's HostNeeded in the dialog's terms: it has a host field, not a --host option. The core's
    /// import errors are boxed: unboxed, their size would make every `Result` here that large.
    #[error("{} is a knockd.conf: enter the host its doors belong to", .path.display())]
    HostNeeded {
        path: PathBuf,
        #[source]
        source: Box<client_core::ImportError>,
    },
    #[error(transparent)]
    Import(Box<client_core::ImportError>),
    /// Every part of the file was skipped; `skipped` says why, part by part.
    #[error("{} (read as {format}) holds no profile: {}", .path.display(), .skipped.join("; "))]
    NoProfile { path: PathBuf, format: ImportFormat, skipped: Vec<String> },
}

/// Why [`import_profile_file`] created nothing.
#[derive(Debug, thiserror::Error)]
pub enum ImportFileError {
    #[error(transparent)]
    Preview(#[from] PreviewError),
    /// The profile was not created (its name is taken...): the import's problems, as [`Applied`] has them.
    #[error("{}", .problems.join("; "))]
    NotCreated { problems: Vec<String> },
}

/// Why an export stopped (files written before it stay).
#[derive(Debug, thiserror::Error)]
pub enum ExportError {
    #[error("tick at least one profile to export")]
    NothingChosen,
    #[error("{:?} is not a folder: enter an existing folder to export into", .dir.display().to_string())]
    NotAFolder { dir: PathBuf },
    #[error(transparent)]
    Load(#[from] StoreError),
    #[error(transparent)]
    Serialize(#[from] toml::ser::Error),
    #[error("cannot create {}: {source}", .path.display())]
    Create {
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },
    #[cfg(unix)]
    #[error("cannot restrict {}: {source}", .path.display())]
    Restrict {
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },
    #[error("cannot write {}: {source}", .path.display())]
    Write {
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },
    #[error("the two passphrases differ: type the same one twice")]
    PassphrasesDiffer,
    #[error(transparent)]
    Backup(#[from] BackupError),
}

/// A passphrase being typed: wiped on drop, printed masked (the dialogs derive Debug).
#[derive(Clone, Default)]
pub struct Passphrase(pub zeroize::Zeroizing<String>);

impl std::fmt::Debug for Passphrase {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("Passphrase(***)")
    }
}

impl Passphrase {
    pub fn new(text: &str) -> Passphrase {
        Passphrase(zeroize::Zeroizing::new(text.to_owned()))
    }

    pub fn is_empty(&self) -> bool {
        self.0.is_empty()
    }

    pub fn secret(&self) -> Secret {
        Secret::new(self.0.as_str())
    }
}

/// The file name of an export with keys (an armoured age file; the import detects it by its content).
pub const BACKUP_FILE: &str = "knock-backup.age";

/// The one import entry point of the app (the dialog and the tests call it): the core's import by file
/// (format detected from the content as a whole, as `knock-cli profile import` does) turned into a
/// preview. `host` is needed for a knockd.conf only.
/// A typed path with `~` (alone or as `~/…`) expanded to the home folder, as a shell would; other paths as
/// typed (trimmed).
pub fn expand_home(typed: &str) -> PathBuf {
    let typed = typed.trim();
    let home = std::env::home_dir();
    match (typed.strip_prefix('~'), home) {
        (Some(""), Some(home)) => home,
        (Some(rest), Some(home)) if rest.starts_with('/') || rest.starts_with(std::path::MAIN_SEPARATOR) => {
            home.join(rest.trim_start_matches(['/', std::path::MAIN_SEPARATOR]))
        }
        _ => PathBuf::from(typed),
    }
}

pub fn preview_import(path: &Path, host: &str) -> Result<Preview, PreviewError> {
    if path.as_os_str().is_empty() {
        return Err(PreviewError::NoPath);
    }
    let host = Some(host.trim()).filter(|h| !h.is_empty());
    let report = import_path(path, host).map_err(|source| match source {
        client_core::ImportError::HostNeeded { .. } => {
            PreviewError::HostNeeded { path: path.to_owned(), source: Box::new(source) }
        }
        other => PreviewError::Import(Box::new(other)),
    })?;
    preview_of(path, &report)
}

/// An encrypted backup's preview (Export with keys); the passphrase asked for after
/// [`preview_import`] said the file is one ([`client_core::ImportError::PassphraseNeeded`]).
pub fn preview_backup(path: &Path, passphrase: &Secret) -> Result<Preview, PreviewError> {
    let report = client_core::import_backup(path, passphrase).map_err(|e| PreviewError::Import(Box::new(e)))?;
    preview_of(path, &report)
}

/// True when `err` says the file is an encrypted backup that needs its passphrase.
pub fn needs_passphrase(err: &PreviewError) -> bool {
    matches!(err, PreviewError::Import(e) if matches!(**e, client_core::ImportError::PassphraseNeeded { .. }))
}

fn preview_of(path: &Path, report: &client_core::ImportReport) -> Result<Preview, PreviewError> {
    let mut preview =
        Preview { path: path.to_owned(), format: report.format, candidates: Vec::new(), skipped: Vec::new() };
    for entry in &report.entries {
        let notes: Vec<String> = entry.warnings.iter().map(ToString::to_string).collect();
        match (&entry.skipped, &entry.profile, &entry.name) {
            (None, Some(profile), Some(name)) => preview.candidates.push(Candidate {
                name: name.clone(),
                source: entry.source.clone(),
                line: entry.line,
                profile: profile.clone(),
                keys: entry.keys.as_ref().map(|k| (k.key.clone(), k.hmac.clone())),
                door_key: entry.door_key.clone(),
                notes,
            }),
            (Some(reason), _, _) => preview.skipped.push(format!("{}: {reason}", entry.source)),
            _ => preview.skipped.push(format!("{}: nothing to import", entry.source)),
        }
    }
    if preview.candidates.is_empty() {
        return Err(PreviewError::NoProfile { path: path.to_owned(), format: report.format, skipped: preview.skipped });
    }
    Ok(preview)
}

/// What [`write_import`] did.
#[derive(Debug, Default)]
pub struct Applied {
    pub added: Vec<String>,
    /// What was not imported, and why (the parts of the file the preview skipped, names taken, ...).
    pub problems: Vec<String>,
    /// Profiles created whose keys could not go to the OS keyring, and where to give them instead.
    pub keys_not_stored: Vec<String>,
}

/// The preview as client-core's import report, under the names as edited.
fn report_of(preview: &Preview) -> client_core::ImportReport {
    let entries = preview
        .candidates
        .iter()
        .map(|candidate| client_core::ImportEntry {
            source: candidate.source.clone(),
            line: candidate.line,
            name: Some(candidate.name.trim().to_owned()),
            kind: Some(candidate.profile.kind.as_str()),
            profile: Some(candidate.profile.clone()),
            keys: candidate.keys.clone().map(|(key, hmac)| client_core::ImportSpaKeys { key, hmac }),
            door_key: candidate.door_key.clone(),
            has_keys: candidate.keys.is_some() || candidate.door_key.is_some(),
            mapped: Vec::new(),
            warnings: Vec::new(),
            skipped: None,
        })
        .collect();
    client_core::ImportReport {
        file: preview.path.display().to_string(),
        format: preview.format,
        format_reason: String::new(),
        entries,
        notes: Vec::new(),
    }
}

/// Creates the preview's profiles under their (edited) names, never replacing an existing one, and puts
/// their keys in `secrets` (the OS keyring, never a file): client-core's import
/// ([`client_core::write_import`]), as `knock-cli profile import` writes it. Blocking (the keyring): the
/// app runs it in its worker.
pub fn write_import(store: &ProfileStore, secrets: &SecretStore, preview: &Preview) -> Applied {
    let mut applied = Applied { problems: preview.skipped.clone(), ..Applied::default() };
    for written in client_core::write_import(&report_of(preview), store, secrets) {
        let name = written.name;
        match written.profile {
            Ok(_) => applied.added.push(name.clone()),
            Err(err @ StoreError::AlreadyExists { .. }) => applied.problems.push(format!("{name}: {err} (rename it)")),
            Err(err) => applied.problems.push(format!("{name}: {err}")),
        }
        if let Some(Err(err)) = written.keys {
            applied.keys_not_stored.push(format!("{name}: {err}"));
        }
    }
    applied
}

/// Copies one profile file into the store under its file name; never replaces an existing profile.
pub fn import_profile_file(store: &ProfileStore, path: &Path) -> Result<String, ImportFileError> {
    let preview = preview_import(path, "")?;
    // A profile file carries no keys: the keyring is not touched.
    let applied = write_import(store, &SecretStore::new(), &preview);
    applied.added.into_iter().next().ok_or(ImportFileError::NotCreated { problems: applied.problems })
}

/// Export with keys: the named profiles and their keys (read from `secrets`, the OS keyring) in one
/// encrypted file, [`BACKUP_FILE`] in `dir`, sealed with `passphrase` (typed twice: `confirm`). Blocking
/// (the keyring, and about a second of scrypt). The file is 0600 and never replaces another.
pub fn export_backup(
    store: &ProfileStore,
    secrets: &SecretStore,
    names: &[String],
    dir: &Path,
    passphrase: &Passphrase,
    confirm: &Passphrase,
) -> Result<PathBuf, ExportError> {
    if names.is_empty() {
        return Err(ExportError::NothingChosen);
    }
    if dir.as_os_str().is_empty() || !dir.is_dir() {
        return Err(ExportError::NotAFolder { dir: dir.to_owned() });
    }
    if *passphrase.0 != *confirm.0 {
        return Err(ExportError::PassphrasesDiffer);
    }
    let profiles = client_core::collect_backup(store, names, secrets)?;
    let text = client_core::encrypt_backup(&profiles, &passphrase.secret())?;
    let path = dir.join(BACKUP_FILE);
    client_core::write_backup(&path, &text)?;
    Ok(path)
}

/// The files an export of `names` into `dir` would replace.
pub fn existing_exports(names: &[String], dir: &Path) -> Vec<PathBuf> {
    names.iter().map(|n| dir.join(format!("{n}.toml"))).filter(|p| p.exists()).collect()
}

/// Writes the named profiles as `NAME.toml` into `dir`, readable by the user only (0600 on Unix: a
/// profile holds its sequences). Existing files are replaced only with `overwrite`.
pub fn export_profiles(
    store: &ProfileStore,
    names: &[String],
    dir: &Path,
    overwrite: bool,
) -> Result<Vec<PathBuf>, ExportError> {
    if names.is_empty() {
        return Err(ExportError::NothingChosen);
    }
    if dir.as_os_str().is_empty() || !dir.is_dir() {
        return Err(ExportError::NotAFolder { dir: dir.to_owned() });
    }
    let mut written = Vec::new();
    for name in names {
        let stored = store.load(name)?;
        let text = toml::to_string(&stored.profile)?;
        let path = dir.join(format!("{name}.toml"));
        let mut options = fs::OpenOptions::new();
        options.write(true);
        if overwrite {
            options.create(true).truncate(true);
        } else {
            options.create_new(true);
        }
        #[cfg(unix)]
        std::os::unix::fs::OpenOptionsExt::mode(&mut options, 0o600);
        let mut file = options.open(&path).map_err(|source| ExportError::Create { path: path.clone(), source })?;
        // A replaced file keeps its old mode: tighten it too.
        #[cfg(unix)]
        file.set_permissions(std::os::unix::fs::PermissionsExt::from_mode(0o600))
            .map_err(|source| ExportError::Restrict { path: path.clone(), source })?;
        std::io::Write::write_all(&mut file, text.as_bytes())
            .map_err(|source| ExportError::Write { path: path.clone(), source })?;
        written.push(path);
    }
    Ok(written)
}

#[cfg(test)]
mod tests {
    use super::*;
    use client_core::{Protocol, Sequence};

    fn store(dir: &Path) -> ProfileStore {
        ProfileStore::new(dir.join("profiles"))
    }

    #[test]
    fn export_then_import_round_trips_asks_before_replacing_and_is_private() {
        let dir = tempfile::tempdir().expect("dir");
        let a = store(dir.path());
        let profile = Profile::new("192.0.2.2", Sequence::parse("7000,8000:udp", Protocol::Tcp).expect("seq"));
        a.create("bastion", &profile).expect("create");
        a.create("db", &profile).expect("create");
        let out = dir.path().join("export");
        fs::create_dir(&out).expect("mkdir");
        let names = ["bastion".to_owned(), "db".to_owned()];
        let written = export_profiles(&a, &names, &out, false).expect("export");
        assert_eq!(written, [out.join("bastion.toml"), out.join("db.toml")]);
        assert_eq!(existing_exports(&names, &out).len(), 2);
        assert!(export_profiles(&a, &names, &out, false).is_err(), "never replaces a file unasked");
        export_profiles(&a, &names, &out, true).expect("replaced when the user said so");
        #[cfg(unix)]
        for path in &written {
            use std::os::unix::fs::PermissionsExt;
            let mode = fs::metadata(path).expect("meta").permissions().mode() & 0o777;
            assert_eq!(mode, 0o600, "{} is readable by its owner only", path.display());
        }

        // The export carries the profile's id; an import is a new profile, with an id of its own (keys
        // never travel in these files, and a copy must not share the original's).
        let id = a.load("bastion").expect("load").profile.id.expect("an id");
        assert!(fs::read_to_string(&written[0]).expect("read").starts_with(&format!("id = \"{id}\"\n")));
        let b = ProfileStore::new(dir.path().join("other"));
        assert_eq!(import_profile_file(&b, &written[0]).expect("import"), "bastion");
        let imported = b.load("bastion").expect("load").profile;
        assert!(imported.id.is_some_and(|other| other != id), "{imported:?}");
        assert_eq!(Profile { id: None, ..imported }, profile);
        assert!(import_profile_file(&b, &written[0]).expect_err("twice").to_string().contains("already exists"));
    }

    #[test]
    fn knockd_conf_import_needs_a_host_and_reports_what_it_did() {
        let dir = tempfile::tempdir().expect("dir");
        let conf = dir.path().join("knockd.conf");
        fs::write(&conf, "[openSSH]\n sequence = 7000,8000,9000\n[closeSSH]\n sequence = 9000,8000,7000\n")
            .expect("write");
        let s = store(dir.path());
        assert!(preview_import(&conf, "").expect_err("no host").to_string().contains("host"));
        let preview = preview_import(&conf, "192.0.2.2").expect("preview");
        assert_eq!(preview.format, ImportFormat::KnockdConf);
        let applied = write_import(&s, &SecretStore::new(), &preview);
        assert_eq!(applied.added, ["ssh"]);
        assert!(s.load("ssh").expect("ssh").profile.sequence().is_some_and(|k| k.close.is_some()));
    }
}
