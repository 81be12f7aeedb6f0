//! Encrypted backups: profiles together with their keys (SPA key pair, rotating door key), sealed with a
//! passphrase, for moving to a new machine or keeping a copy. The only file this toolkit writes that holds
//! keys, and it holds them encrypted: an [age](https://age-encryption.org) file with a passphrase (scrypt)
//! recipient, ASCII-armoured (`-----BEGIN AGE ENCRYPTED FILE-----`), so it survives mail and clipboards.
//!
//! Inside (never on disk in the clear) is a TOML document, `format = "knock-backup 1"` and one
//! `[[profiles]]` table per profile: its name, its profile file's text, and its keys as the keyring holds
//! them (base64, base32). The plaintext lives in wiped buffers ([`Zeroizing`]).
//!
//! Import detects a backup by its armour ([`is_backup`]); [`crate::import_path`] then answers
//! [`ImportError::PassphraseNeeded`] and the front end asks for the passphrase (a no-echo prompt, or
//! [`BACKUP_PASSPHRASE_VAR`]; never argv) and calls [`import_backup`], whose report goes through
//! [`crate::write_import`] like any other: new ids, keys to the keyring under them.
//!
//! A wrong passphrase is [`BackupError::WrongPassphrase`], a damaged or foreign file another variant; no
//! error carries a key or the passphrase.

use std::io::{Read, Write};
use std::path::Path;

use age::secrecy::SecretString;
use serde::{Deserialize, Serialize};
use zeroize::{Zeroize, Zeroizing};

use crate::import::{Format, ImportEntry, ImportError, ImportReport, Mapped, SpaKeys};
use crate::profile::{Profile, validate_name};
use crate::rotating::DoorKey;
use crate::secrets::{KeyOwner, Secret, SecretKind, SecretStore};
use crate::spa::{HmacKey, SpaKey};
use crate::store::ProfileStore;

/// The environment variable a front end may read the passphrase from (scripts, tests); never argv.
pub const BACKUP_PASSPHRASE_VAR: &str = "KNOCK_BACKUP_PASSPHRASE";

/// The first line of every backup (age's ASCII armour).
const ARMOR_BEGIN: &str = "-----BEGIN AGE ENCRYPTED FILE-----";

/// The plaintext's format line: a later version can tell what it reads.
const FORMAT: &str = "knock-backup 1";

/// A passphrase shorter than this is refused when exporting: the file may travel.
pub const MIN_PASSPHRASE_CHARS: usize = 8;

/// One profile in a backup, with whatever keys it has (printed masked: the key types mask themselves).
#[derive(Debug, Clone)]
pub struct BackupProfile {
    pub name: String,
    pub profile: Profile,
    /// An SPA profile's key and HMAC key.
    pub spa_keys: Option<(SpaKey, HmacKey)>,
    /// A rotating profile's door key.
    pub door_key: Option<DoorKey>,
}

/// Why a backup cannot be made or read. Never carries a key or the passphrase.
#[derive(Debug, thiserror::Error)]
pub enum BackupError {
    #[error("the passphrase is too short: at least {MIN_PASSPHRASE_CHARS} characters")]
    PassphraseTooShort,
    #[error("wrong passphrase: the backup could not be decrypted with it")]
    WrongPassphrase,
    #[error("not a knock backup: {0}")]
    NotABackup(String),
    #[error("the backup is damaged: {0}")]
    Damaged(String),
    #[error("profile {name:?}: {message}")]
    Profile { name: String, message: String },
    #[error("profile {name:?}: its keys cannot be read from the keyring: {message}")]
    Keys { name: String, message: String },
    #[error("cannot write {path}: {source}")]
    Write {
        path: String,
        #[source]
        source: std::io::Error,
    },
}

#[derive(Serialize, Deserialize)]
struct Plain {
    format: String,
    #[serde(default)]
    profiles: Vec<Record>,
}

/// One profile as the plaintext holds it; its key strings are wiped on drop.
#[derive(Serialize, Deserialize)]
struct Record {
    name: String,
    /// The profile file's text (without its id: the importing store gives a new one).
    profile: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    spa_key: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    spa_hmac_key: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    rotating_key: Option<String>,
}

impl Drop for Record {
    fn drop(&mut self) {
        self.spa_key.zeroize();
        self.spa_hmac_key.zeroize();
        self.rotating_key.zeroize();
    }
}

/// True when `text` is a backup (by its content: age's armour), whatever the file is called.
pub fn is_backup(text: &str) -> bool {
    text.trim_start().starts_with(ARMOR_BEGIN)
}

/// Reads the named profiles and their keys from the keyring (`secrets`), for [`encrypt`]. A profile
/// whose kind has keys but has none stored is backed up without them (its entry says so: `None`).
pub fn collect(
    store: &ProfileStore,
    names: &[String],
    secrets: &SecretStore,
) -> Result<Vec<BackupProfile>, BackupError> {
    names
        .iter()
        .map(|name| {
            let stored =
                store.load(name).map_err(|e| BackupError::Profile { name: name.clone(), message: e.to_string() })?;
            let owner = KeyOwner::of(name, &stored.profile);
            let keys_error = |message: String| BackupError::Keys { name: name.clone(), message };
            let spa_keys = if stored.profile.is_spa() {
                secrets.spa_keys(name, &owner).map_err(|e| keys_error(e.to_string()))?.map(|k| (k.key, k.hmac))
            } else {
                None
            };
            let door_key = if stored.profile.rotating().is_some() {
                match secrets.get(&owner, SecretKind::RotatingKey).map_err(|e| keys_error(e.to_string()))? {
                    Some(secret) => Some(DoorKey::from_base32(secret.expose()).map_err(|e| keys_error(e.to_string()))?),
                    None => None,
                }
            } else {
                None
            };
            Ok(BackupProfile { name: name.clone(), profile: stored.profile, spa_keys, door_key })
        })
        .collect()
}

/// The armoured, encrypted backup of `profiles`, sealed with `passphrase`.
pub fn encrypt(profiles: &[BackupProfile], passphrase: &Secret) -> Result<String, BackupError> {
    encrypt_with_work(profiles, passphrase, None)
}

/// [`encrypt`] with scrypt's work factor (log2 N) fixed, for fast tests; `None` lets age pick about a
/// second of work on this machine.
pub(crate) fn encrypt_with_work(
    profiles: &[BackupProfile],
    passphrase: &Secret,
    log_n: Option<u8>,
) -> Result<String, BackupError> {
    if passphrase.expose().chars().count() < MIN_PASSPHRASE_CHARS {
        return Err(BackupError::PassphraseTooShort);
    }
    let mut records = Vec::with_capacity(profiles.len());
    for p in profiles {
        let mut profile = p.profile.clone();
        profile.id = None;
        let text = toml::to_string(&profile)
            .map_err(|e| BackupError::Profile { name: p.name.clone(), message: e.to_string() })?;
        records.push(Record {
            name: p.name.clone(),
            profile: text,
            spa_key: p.spa_keys.as_ref().map(|(key, _)| key.to_base64()),
            spa_hmac_key: p.spa_keys.as_ref().map(|(_, hmac)| hmac.to_base64()),
            rotating_key: p.door_key.as_ref().map(DoorKey::to_base32),
        });
    }
    let plain = Plain { format: FORMAT.to_owned(), profiles: records };
    let text = Zeroizing::new(toml::to_string(&plain).map_err(|e| BackupError::Damaged(e.to_string()))?);

    let mut recipient = age::scrypt::Recipient::new(SecretString::from(passphrase.expose().to_owned()));
    if let Some(log_n) = log_n {
        recipient.set_work_factor(log_n);
    }
    let encryptor = age::Encryptor::with_recipients(std::iter::once(&recipient as &dyn age::Recipient))
        .map_err(|e| BackupError::Damaged(e.to_string()))?;
    let io = |e: std::io::Error| BackupError::Damaged(e.to_string());
    let mut out = Vec::new();
    let armor = age::armor::ArmoredWriter::wrap_output(&mut out, age::armor::Format::AsciiArmor).map_err(io)?;
    let mut writer = encryptor.wrap_output(armor).map_err(io)?;
    writer.write_all(text.as_bytes()).map_err(io)?;
    writer.finish().and_then(age::armor::ArmoredWriter::finish).map_err(io)?;
    String::from_utf8(out).map_err(|e| BackupError::Damaged(e.to_string()))
}

/// The profiles and keys of a backup, or why not ([`BackupError::WrongPassphrase`] for a wrong one).
pub fn decrypt(text: &[u8], passphrase: &Secret) -> Result<Vec<BackupProfile>, BackupError> {
    if !std::str::from_utf8(text).is_ok_and(is_backup) {
        return Err(BackupError::NotABackup(format!("it does not start with {ARMOR_BEGIN}")));
    }
    let reader = age::armor::ArmoredReader::new(text);
    let decryptor = age::Decryptor::new(reader).map_err(|e| BackupError::Damaged(e.to_string()))?;
    if !decryptor.is_scrypt() {
        return Err(BackupError::NotABackup("it is an age file for a key, not a passphrase".to_owned()));
    }
    let identity = age::scrypt::Identity::new(SecretString::from(passphrase.expose().to_owned()));
    let mut reader = decryptor.decrypt(std::iter::once(&identity as &dyn age::Identity)).map_err(|e| match e {
        age::DecryptError::DecryptionFailed
        | age::DecryptError::KeyDecryptionFailed
        | age::DecryptError::NoMatchingKeys
        | age::DecryptError::InvalidMac => BackupError::WrongPassphrase,
        other => BackupError::Damaged(other.to_string()),
    })?;
    let mut plain = Zeroizing::new(Vec::new());
    reader.read_to_end(&mut plain).map_err(|e| BackupError::Damaged(e.to_string()))?;
    let plain = std::str::from_utf8(&plain).map_err(|_| BackupError::Damaged("not UTF-8 inside".to_owned()))?;
    let plain: Plain =
        toml::from_str(plain).map_err(|e| BackupError::Damaged(format!("its contents: {}", e.message())))?;
    if plain.format != FORMAT {
        return Err(BackupError::NotABackup(format!("format {:?}, this version reads {FORMAT:?}", plain.format)));
    }
    plain.profiles.iter().map(read_record).collect()
}

fn read_record(record: &Record) -> Result<BackupProfile, BackupError> {
    let name = record.name.clone();
    let bad = |message: String| BackupError::Profile { name: name.clone(), message };
    validate_name(&name).map_err(|e| bad(e.to_string()))?;
    let profile = crate::store::parse(Path::new(&format!("{name}.toml")), record.profile.as_bytes())
        .map_err(|e| bad(e.message))?;
    let spa_keys = match (&record.spa_key, &record.spa_hmac_key) {
        (Some(key), Some(hmac)) => Some((
            SpaKey::from_base64(key).map_err(|e| bad(format!("its SPA key: {e}")))?,
            HmacKey::from_base64(hmac).map_err(|e| bad(format!("its HMAC key: {e}")))?,
        )),
        (None, None) => None,
        _ => return Err(bad("it has one SPA key of the two".to_owned())),
    };
    let door_key = match &record.rotating_key {
        Some(key) => Some(DoorKey::from_base32(key).map_err(|e| bad(format!("its rotating door key: {e}")))?),
        None => None,
    };
    Ok(BackupProfile { name, profile, spa_keys, door_key })
}

/// Writes a backup readable by its owner only (0600 on Unix), never replacing a file (the caller asks).
pub fn write_file(path: &Path, backup: &str) -> Result<(), BackupError> {
    let failed = |source| BackupError::Write { path: path.display().to_string(), source };
    let mut options = std::fs::OpenOptions::new();
    options.write(true).create_new(true);
    #[cfg(unix)]
    std::os::unix::fs::OpenOptionsExt::mode(&mut options, 0o600);
    let mut file = options.open(path).map_err(failed)?;
    file.write_all(backup.as_bytes()).and_then(|()| file.sync_all()).map_err(failed)
}

/// A backup file read as an import: each profile an entry with its keys, for [`crate::write_import`].
pub fn import_backup(path: &Path, passphrase: &Secret) -> Result<ImportReport, ImportError> {
    let file = path.display().to_string();
    let text = std::fs::read(path).map_err(|source| ImportError::Read { path: path.to_owned(), source })?;
    let profiles = decrypt(&text, passphrase).map_err(|source| ImportError::Backup { file: file.clone(), source })?;
    let entries = profiles
        .into_iter()
        .map(|p| {
            let mut mapped = vec![Mapped { line: None, from: p.name.clone(), to: "the profile, as it was".to_owned() }];
            if p.spa_keys.is_some() || p.door_key.is_some() {
                mapped.push(Mapped { line: None, from: "its keys".to_owned(), to: "the OS keyring".to_owned() });
            }
            ImportEntry {
                source: format!("[{}]", p.name),
                line: 1,
                kind: Some(p.profile.kind.as_str()),
                has_keys: p.spa_keys.is_some() || p.door_key.is_some(),
                name: Some(p.name),
                profile: Some(p.profile),
                keys: p.spa_keys.map(|(key, hmac)| SpaKeys { key, hmac }),
                door_key: p.door_key,
                mapped,
                warnings: Vec::new(),
                skipped: None,
            }
        })
        .collect();
    Ok(ImportReport {
        file,
        format: Format::Backup,
        format_reason: "an age-encrypted knock backup (its first line)".to_owned(),
        entries,
        notes: Vec::new(),
    })
}

#[cfg(test)]
#[path = "backup_tests.rs"]
mod tests;
