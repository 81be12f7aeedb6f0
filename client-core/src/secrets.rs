//! Per-profile secrets (SPA keys, rotating door keys) in the OS keyring.
//!
//! **Never in files or logs.** A profile file holds no secret: the keys of a profile live in the OS
//! keyring under service `knock-toolkit` and a user named after the profile's **id**, not its name:
//! `profile-id:<id>:spa-key` (see [`entry_user`], [`KeyOwner`]). So keys follow a rename (the id does not
//! change), and a profile created later under a former name (after `profile rm`, or after its file was
//! deleted by hand) never inherits keys left in the keyring: it has a new id. [`Secret`] prints as
//! `Secret(***)` in `Debug` and `Display` and is not `Serialize`; errors carry the keyring's message,
//! never a value. This module writes nothing to disk and logs nothing.
//!
//! Profiles written before ids (no `id` line) keep their keys under `profile:<name>:<kind>`
//! ([`KeyOwner::Legacy`]) until the store migrates them ([`crate::store::ProfileStore::migrate`]: a new
//! id in the file, the entries copied under it, then the old entries deleted).
//!
//! Where the OS keeps the entries:
//! - **Linux / BSD**: the Secret Service over the D-Bus session bus (GNOME Keyring, KWallet 5.97+,
//!   KeePassXC): an item with the attributes `service`, `username` and `target=default` in the default
//!   collection (usually "Login"), encrypted at rest by the keyring daemon. Seahorse shows it as
//!   `profile-id:<id>:spa-key@knock-toolkit:default`. The kernel keyring (keyutils) is not used: it does
//!   not survive a reboot and is refused in sandboxes.
//! - **macOS**: a generic password in the login Keychain (service `knock-toolkit`, account
//!   `profile-id:<id>:spa-key`).
//! - **Windows**: a generic credential in Credential Manager, target `profile-id:<id>:spa-key.knock-toolkit`.
//!
//! - **Any other OS**: no keyring backend is built; every call answers [`SecretError::Unavailable`] and
//!   keys come from the environment only.
//!
//! Every call is a blocking round trip to the keyring (milliseconds, but the OS may show an unlock
//! prompt): call it from a worker thread, not from the UI code of a frame.
//!
//! An SPA profile's keys, in one API for every front end: [`spa_keys`] (the environment, then the
//! keyring), [`SecretStore::store_spa_keys`], [`SecretStore::copy_all`] (the migration's first step) and
//! [`SecretStore::delete_all`] (keys are forgotten with their profile).

use std::fmt;

use zeroize::Zeroizing;

use crate::profile::{Profile, ProfileError, ProfileId, env_suffix, validate_name};
use crate::rotating::DoorKey;
use crate::spa::{HmacKey, SpaKey};

/// The keyring service of the app's entries.
pub const SERVICE: &str = "knock-toolkit";

/// The keyring user that [`SecretStore::availability`] reads; outside the `profile:` namespace.
const PROBE_USER: &str = "probe:availability";

/// What a secret is for; one keyring entry per profile and kind.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum SecretKind {
    /// The fwknop SPA encryption key (Rijndael key or GPG passphrase).
    SpaKey,
    /// The fwknop SPA HMAC key.
    SpaHmacKey,
    /// A rotating door's key (base32).
    RotatingKey,
}

impl SecretKind {
    /// Every kind, for operations on all of a profile's secrets.
    pub const ALL: [SecretKind; 3] = [SecretKind::SpaKey, SecretKind::SpaHmacKey, SecretKind::RotatingKey];

    /// The id in the keyring entry name. Stable: changing it orphans stored secrets.
    pub fn id(self) -> &'static str {
        match self {
            SecretKind::SpaKey => "spa-key",
            SecretKind::SpaHmacKey => "spa-hmac-key",
            SecretKind::RotatingKey => "rotating-key",
        }
    }

    /// A label for the UI.
    pub fn label(self) -> &'static str {
        match self {
            SecretKind::SpaKey => "SPA key",
            SecretKind::SpaHmacKey => "SPA HMAC key",
            SecretKind::RotatingKey => "rotating door key",
        }
    }
}

/// Whose secrets an entry holds: a profile's id, or (a profile written before ids) its name.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub enum KeyOwner {
    /// The profile with this id, whatever its name: `profile-id:<id>:<kind>`.
    Id(ProfileId),
    /// A profile file without an id (written by an earlier version), until it is migrated:
    /// `profile:<name>:<kind>`, the entries of that version.
    Legacy(String),
}

impl KeyOwner {
    /// The owner of `profile`'s secrets (`name` is its name in the store, used only without an id).
    pub fn of(name: &str, profile: &Profile) -> KeyOwner {
        profile.id.map_or_else(|| KeyOwner::Legacy(name.to_owned()), KeyOwner::Id)
    }

    fn validate(&self) -> Result<(), SecretError> {
        match self {
            KeyOwner::Id(_) => Ok(()),
            KeyOwner::Legacy(name) => validate_profile(name),
        }
    }
}

impl fmt::Display for KeyOwner {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            KeyOwner::Id(id) => write!(f, "profile id {id}"),
            KeyOwner::Legacy(name) => write!(f, "profile {name:?}"),
        }
    }
}

/// The keyring "user" of a profile's secret: `profile-id:<id>:<kind>`, or for a profile without an id
/// `profile:<name>:<kind>`.
///
/// Unambiguous: profile names never contain `:` (see [`validate_name`]), and the two prefixes differ
/// before the first `:`, so an id never reads a name's entries (a name may be 32 hex digits).
pub(crate) fn entry_user(owner: &KeyOwner, kind: SecretKind) -> String {
    match owner {
        KeyOwner::Id(id) => format!("profile-id:{id}:{}", kind.id()),
        KeyOwner::Legacy(name) => format!("profile:{name}:{}", kind.id()),
    }
}

/// A secret value. `Debug` and `Display` print `Secret(***)`; read it with [`Secret::expose`]. The
/// memory is wiped when it is dropped.
#[derive(Clone)]
pub struct Secret(Zeroizing<String>);

impl Secret {
    pub fn new(value: impl Into<String>) -> Secret {
        Secret(Zeroizing::new(value.into()))
    }

    /// The value, for the one place that needs it (building the SPA packet). Never log or store it.
    pub fn expose(&self) -> &str {
        &self.0
    }

    pub fn is_empty(&self) -> bool {
        self.0.is_empty()
    }
}

impl From<String> for Secret {
    fn from(value: String) -> Secret {
        Secret::new(value)
    }
}

impl From<&str> for Secret {
    fn from(value: &str) -> Secret {
        Secret::new(value)
    }
}

impl fmt::Debug for Secret {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("Secret(***)")
    }
}

impl fmt::Display for Secret {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("Secret(***)")
    }
}

/// Why a keyring operation failed. Messages never contain a secret.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum SecretError {
    /// There is no usable keyring: no service, locked, or access refused. The message says what to do.
    #[error("{message}")]
    Unavailable { message: String },
    /// A profile name or a secret the keyring cannot take (empty, too long).
    #[error("{message}")]
    Invalid { message: String },
    /// Any other failure of the keyring, with its message.
    #[error("keyring error: {message}")]
    Keyring { message: String },
}

/// Whether the keyring can be used, for the UI to show before the user types a key.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Availability {
    Available,
    /// The keyring is there but locked (Linux: the Secret Service's default collection): reading a key
    /// needs it unlocked first ([`SecretStore::unlock`] shows the desktop's unlock prompt). A key that
    /// "is missing" from a locked keyring may well be in it.
    Locked,
    /// The message of [`SecretError::Unavailable`]: what is missing and what to do.
    Unavailable(String),
}

/// The app's secrets in the OS keyring. Cheap to clone; holds no secret.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SecretStore {
    service: String,
}

impl Default for SecretStore {
    fn default() -> SecretStore {
        SecretStore::new()
    }
}

impl SecretStore {
    /// The app's store (service [`SERVICE`]).
    pub fn new() -> SecretStore {
        SecretStore::with_service(SERVICE)
    }

    /// A store under another service name (tests use a unique one).
    pub fn with_service(service: impl Into<String>) -> SecretStore {
        SecretStore { service: service.into() }
    }

    pub fn service(&self) -> &str {
        &self.service
    }

    /// Stores (or replaces) a profile's secret. An empty secret is refused: use [`SecretStore::delete`].
    pub fn set(&self, owner: &KeyOwner, kind: SecretKind, secret: &Secret) -> Result<(), SecretError> {
        if secret.is_empty() {
            return Err(SecretError::Invalid {
                message: format!("the {} of {owner} is empty: nothing to store", kind.label()),
            });
        }
        owner.validate()?;
        backend::set(&self.service, &entry_user(owner, kind), secret.expose())
    }

    /// A profile's secret; `None` when there is none.
    pub fn get(&self, owner: &KeyOwner, kind: SecretKind) -> Result<Option<Secret>, SecretError> {
        owner.validate()?;
        Ok(backend::get(&self.service, &entry_user(owner, kind))?.map(Secret::new))
    }

    /// Deletes a profile's secret; deleting one that does not exist is fine.
    pub fn delete(&self, owner: &KeyOwner, kind: SecretKind) -> Result<(), SecretError> {
        owner.validate()?;
        backend::delete(&self.service, &entry_user(owner, kind))
    }

    /// Stores an SPA profile's key pair (replacing any former pair).
    pub fn store_spa_keys(&self, owner: &KeyOwner, key: &SpaKey, hmac: &HmacKey) -> Result<(), SecretError> {
        self.set(owner, SecretKind::SpaKey, &Secret::new(key.to_base64()))?;
        self.set(owner, SecretKind::SpaHmacKey, &Secret::new(hmac.to_base64()))
    }

    /// Stores a rotating profile's door key.
    pub fn store_rotating_key(&self, owner: &KeyOwner, key: &DoorKey) -> Result<(), SecretError> {
        self.set(owner, SecretKind::RotatingKey, &Secret::new(key.to_base32()))
    }

    /// Both of a profile's SPA keys from the keyring, or None when either is missing (`name` only shapes
    /// the error).
    pub fn spa_keys(&self, name: &str, owner: &KeyOwner) -> Result<Option<SpaKeys>, KeyError> {
        let key = self.get(owner, SecretKind::SpaKey).map_err(KeyError::Keyring)?;
        let hmac = self.get(owner, SecretKind::SpaHmacKey).map_err(KeyError::Keyring)?;
        let (Some(key), Some(hmac)) = (key, hmac) else { return Ok(None) };
        let invalid = |what: &str, why: String| KeyError::Invalid {
            name: name.to_owned(),
            origin: format!("the keyring's {what}"),
            why,
        };
        Ok(Some(SpaKeys {
            key: SpaKey::from_base64(key.expose()).map_err(|e| invalid("SPA key", e.to_string()))?,
            hmac: HmacKey::from_base64(hmac.expose()).map_err(|e| invalid("HMAC key", e.to_string()))?,
        }))
    }

    /// Deletes every secret of a profile (when the profile is deleted). Tries every kind and returns the
    /// first error.
    pub fn delete_all(&self, owner: &KeyOwner) -> Result<(), SecretError> {
        owner.validate()?;
        let mut first_error = None;
        for kind in SecretKind::ALL {
            if let Err(err) = self.delete(owner, kind) {
                first_error.get_or_insert(err);
            }
        }
        first_error.map_or(Ok(()), Err)
    }

    /// Copies every secret of `from` to `to`: afterwards `to` has exactly the secrets `from` has (stale
    /// entries of `to` are removed); `from` keeps its own. Reads everything first, then writes; on an
    /// error part of `to` may be written (the caller deletes it: `from` is untouched). Returns how many
    /// secrets were copied.
    pub fn copy_all(&self, from: &KeyOwner, to: &KeyOwner) -> Result<usize, SecretError> {
        from.validate()?;
        to.validate()?;
        if from == to {
            return Ok(0);
        }
        let mut found = Vec::with_capacity(SecretKind::ALL.len());
        for kind in SecretKind::ALL {
            found.push((kind, self.get(from, kind)?));
        }
        for (kind, secret) in &found {
            match secret {
                Some(secret) => self.set(to, *kind, secret)?,
                None => self.delete(to, *kind)?,
            }
        }
        Ok(found.iter().filter(|(_, secret)| secret.is_some()).count())
    }

    /// Moves every secret of `from` to `to` ([`SecretStore::copy_all`], then `from`'s are deleted): on an
    /// error while copying, `from` keeps its secrets.
    pub fn move_all(&self, from: &KeyOwner, to: &KeyOwner) -> Result<(), SecretError> {
        if from == to {
            return Ok(());
        }
        self.copy_all(from, to)?;
        self.delete_all(from)
    }

    /// A cheap probe for the UI: reads an entry that normally does not exist. "Not found" means the
    /// keyring answered; then, on Linux, whether its default collection is locked ([`Availability::Locked`];
    /// macOS and Windows prompt on first use, so there it counts as available).
    pub fn availability(&self) -> Availability {
        match backend::get(&self.service, PROBE_USER) {
            Ok(_) | Err(SecretError::Keyring { .. } | SecretError::Invalid { .. }) => {
                // The keyring answered: it is there.
                if backend::is_locked() { Availability::Locked } else { Availability::Available }
            }
            Err(SecretError::Unavailable { message }) => Availability::Unavailable(message),
        }
    }

    /// Asks the OS to unlock the keyring (Linux: the Secret Service shows its unlock prompt, the user
    /// types the password there, never here). Blocking until the prompt is answered; an error says why
    /// it stayed locked (the prompt was dismissed, no prompt can be shown).
    pub fn unlock(&self) -> Result<(), SecretError> {
        backend::unlock()
    }
}

/// An SPA profile's key pair, in memory only (wiped on drop, printed masked).
#[derive(Debug, Clone)]
pub struct SpaKeys {
    pub key: SpaKey,
    pub hmac: HmacKey,
}

/// Why a profile's SPA keys cannot be had. Names the variable or entry, never a value.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum KeyError {
    #[error(transparent)]
    Missing(#[from] ProfileError),
    #[error("SPA profile {name:?}: {origin} is not a usable key: {why}")]
    Invalid { name: String, origin: String, why: String },
    #[error("SPA profile {0}")]
    Keyring(SecretError),
}

/// The environment variables that hold a rotating profile's door key, most specific first:
/// `KNOCK_ROTATING_KEY_<NAME>` then `KNOCK_ROTATING_KEY`.
pub fn rotating_key_variables(name: &str) -> [String; 2] {
    [format!("KNOCK_ROTATING_KEY_{}", env_suffix(name)), "KNOCK_ROTATING_KEY".to_owned()]
}

/// A rotating profile's door key: from the environment (CI) first, else from the OS keyring (the entry of
/// `owner`, see [`KeyOwner::of`]). Blocking.
pub fn rotating_key(name: &str, owner: &KeyOwner) -> Result<DoorKey, KeyError> {
    let variables = rotating_key_variables(name);
    for var in &variables {
        if let Ok(value) = std::env::var(var) {
            let value = Zeroizing::new(value);
            return DoorKey::from_base32(&value).map_err(|e| KeyError::Invalid {
                name: name.to_owned(),
                origin: format!("${var}"),
                why: e.to_string(),
            });
        }
    }
    if let Ok(Some(secret)) = SecretStore::new().get(owner, SecretKind::RotatingKey) {
        return DoorKey::from_base32(secret.expose()).map_err(|e| KeyError::Invalid {
            name: name.to_owned(),
            origin: "the keyring's rotating door key".to_owned(),
            why: e.to_string(),
        });
    }
    Err(ProfileError::RotatingKeyMissing { name: name.to_owned(), var: variables[0].clone() }.into())
}

/// True when `profile`'s keys are given in the environment (CI), so the keyring is not read for them:
/// the rotating key variables of a rotating profile, a pair of SPA key variables of an SPA profile.
pub fn keys_from_environment(name: &str, profile: &Profile) -> bool {
    let set = |var: &str| std::env::var_os(var).is_some();
    if profile.rotating().is_some() {
        rotating_key_variables(name).iter().any(|var| set(var))
    } else if profile.is_spa() {
        spa_key_variables(name).iter().any(|(key, hmac)| set(key) && set(hmac))
    } else {
        false
    }
}

/// The environment variables that hold an SPA profile's keys, most specific first:
/// `KNOCK_SPA_KEY_BASE64_<NAME>` then `KNOCK_SPA_KEY_BASE64` (likewise `KNOCK_SPA_HMAC_KEY_BASE64`),
/// where NAME is the profile name upper-cased, every character other than a letter or digit as `_`.
pub fn spa_key_variables(name: &str) -> [(String, String); 2] {
    let suffix = env_suffix(name);
    [
        (format!("KNOCK_SPA_KEY_BASE64_{suffix}"), format!("KNOCK_SPA_HMAC_KEY_BASE64_{suffix}")),
        ("KNOCK_SPA_KEY_BASE64".to_owned(), "KNOCK_SPA_HMAC_KEY_BASE64".to_owned()),
    ]
}

/// An SPA profile's keys: from the environment (CI) first, else from the OS keyring (`knock-cli profile
/// set-key`; the entries of `owner`, see [`KeyOwner::of`]). Blocking (the keyring): call it off the UI and
/// async threads.
pub(crate) fn spa_keys(name: &str, owner: &KeyOwner) -> Result<SpaKeys, KeyError> {
    if let Some(keys) = spa_keys_from_env(name)? {
        return Ok(keys);
    }
    // A keyring that is not there is not an error here: the message says how to give the keys.
    match SecretStore::new().spa_keys(name, owner) {
        Ok(Some(keys)) => return Ok(keys),
        Ok(None) | Err(KeyError::Keyring(_)) => {}
        Err(invalid) => return Err(invalid),
    }
    let [(key_var, hmac_var), _] = spa_key_variables(name);
    Err(ProfileError::SpaKeysMissing { name: name.to_owned(), key_var, hmac_var }.into())
}

fn spa_keys_from_env(name: &str) -> Result<Option<SpaKeys>, KeyError> {
    for (key_var, hmac_var) in spa_key_variables(name) {
        let (Ok(key), Ok(hmac)) = (std::env::var(&key_var), std::env::var(&hmac_var)) else { continue };
        let (key, hmac) = (Zeroizing::new(key), Zeroizing::new(hmac));
        // The values are secrets: errors name the variable, never the value.
        let invalid =
            |var: &str, why: String| KeyError::Invalid { name: name.to_owned(), origin: format!("${var}"), why };
        return Ok(Some(SpaKeys {
            key: SpaKey::from_base64(&key).map_err(|e| invalid(&key_var, e.to_string()))?,
            hmac: HmacKey::from_base64(&hmac).map_err(|e| invalid(&hmac_var, e.to_string()))?,
        }));
    }
    Ok(None)
}

fn validate_profile(profile: &str) -> Result<(), SecretError> {
    validate_name(profile).map_err(|err| SecretError::Invalid { message: err.to_string() })
}

/// The OS keyring through the `keyring` crate, where this OS has a backend (see Cargo.toml).
#[cfg(any(target_os = "linux", target_os = "freebsd", target_os = "macos", target_os = "windows"))]
mod backend {
    use super::SecretError;

    pub(super) fn get(service: &str, user: &str) -> Result<Option<String>, SecretError> {
        match keyring::Entry::new(service, user).and_then(|entry| entry.get_password()) {
            Ok(value) => Ok(Some(value)),
            Err(keyring::Error::NoEntry) => Ok(None),
            Err(err) => Err(map_error(err)),
        }
    }

    pub(super) fn set(service: &str, user: &str, value: &str) -> Result<(), SecretError> {
        keyring::Entry::new(service, user).and_then(|entry| entry.set_password(value)).map_err(map_error)
    }

    pub(super) fn delete(service: &str, user: &str) -> Result<(), SecretError> {
        match keyring::Entry::new(service, user).and_then(|entry| entry.delete_credential()) {
            Ok(()) | Err(keyring::Error::NoEntry) => Ok(()),
            Err(err) => Err(map_error(err)),
        }
    }

    /// Whether the Secret Service's default collection (where the entries live) is locked. Any error
    /// reading it: not known to be locked.
    #[cfg(any(target_os = "linux", target_os = "freebsd"))]
    pub(super) fn is_locked() -> bool {
        use secret_service::{EncryptionType, blocking::SecretService};
        SecretService::connect(EncryptionType::Plain)
            .and_then(|service| service.get_default_collection().and_then(|c| c.is_locked()))
            .unwrap_or(false)
    }

    /// Unlocks the default collection: the Secret Service prompts the user.
    #[cfg(any(target_os = "linux", target_os = "freebsd"))]
    pub(super) fn unlock() -> Result<(), SecretError> {
        use secret_service::{EncryptionType, blocking::SecretService};
        let service = SecretService::connect(EncryptionType::Plain)
            .map_err(|err| SecretError::Unavailable { message: format!("{NO_SERVICE} ({err})") })?;
        let collection = service
            .get_default_collection()
            .map_err(|err| SecretError::Keyring { message: format!("no default keyring: {err}") })?;
        collection.unlock().map_err(|err| SecretError::Keyring { message: format!("it stayed locked: {err}") })
    }

    /// macOS and Windows unlock on first use, with their own prompt.
    #[cfg(not(any(target_os = "linux", target_os = "freebsd")))]
    pub(super) fn is_locked() -> bool {
        false
    }

    #[cfg(not(any(target_os = "linux", target_os = "freebsd")))]
    pub(super) fn unlock() -> Result<(), SecretError> {
        Ok(())
    }

    /// What to tell the user when the keyring service is missing or broken, per OS.
    #[cfg(any(target_os = "linux", target_os = "freebsd"))]
    const NO_SERVICE: &str = "no Secret Service is running: install and unlock GNOME Keyring or KWallet";
    #[cfg(target_os = "macos")]
    const NO_SERVICE: &str = "the macOS Keychain is not available: open Keychain Access and check that the \
                              login keychain exists and is unlocked";
    #[cfg(target_os = "windows")]
    const NO_SERVICE: &str = "Windows Credential Manager is not available: check that the Credential Manager \
                              service (VaultSvc) is running";

    /// When the keyring is there but refused access (locked, prompt dismissed, access denied).
    #[cfg(any(target_os = "linux", target_os = "freebsd"))]
    pub(super) const NO_ACCESS: &str = "the keyring is locked or refused access: unlock your login keyring (GNOME Keyring \
                             or KWallet) and accept its prompt";
    #[cfg(target_os = "macos")]
    pub(super) const NO_ACCESS: &str = "the macOS Keychain refused access: unlock the login keychain and allow knock-gui \
                             when macOS asks";
    #[cfg(target_os = "windows")]
    pub(super) const NO_ACCESS: &str = "Windows Credential Manager refused access to the saved credential";

    /// When a Secret Service is running but an operation failed for another reason.
    const SERVICE_FAILED: &str = "the keyring service failed";

    /// D-Bus error names (and the backends' messages) that mean no Secret Service can be reached at all.
    const NO_SERVICE_SIGNS: [&str; 10] = [
        "ServiceUnknown",
        "NotSupported",
        "NoServer",
        "FileNotFound",
        "NoReply",
        "Disconnected",
        "Spawn",
        "autolaunch",
        "No DBus session or Secret Service provider found",
        // The pure-Rust backend (secret-service over zbus) words it so.
        "no secret service provider or dbus session found",
    ];

    /// Maps a keyring error to ours. Never includes a secret: `BadEncoding` carries the stored bytes and
    /// `Ambiguous` the matching credentials, so neither is printed.
    pub(super) fn map_error(err: keyring::Error) -> SecretError {
        match err {
            keyring::Error::PlatformFailure(source) => {
                // Display for the reader; Debug also names the D-Bus error (ServiceUnknown...).
                let detail = source.to_string();
                let debug = format!("{source:?}");
                let missing = cfg!(not(any(target_os = "linux", target_os = "freebsd")))
                    || NO_SERVICE_SIGNS.iter().any(|sign| debug.contains(sign) || detail.contains(sign));
                let what = if missing { NO_SERVICE } else { SERVICE_FAILED };
                SecretError::Unavailable { message: format!("{what} (keyring: {detail})") }
            }
            keyring::Error::NoStorageAccess(source) => {
                SecretError::Unavailable { message: format!("{NO_ACCESS} (keyring: {source})") }
            }
            keyring::Error::NoEntry => SecretError::Keyring { message: "no such entry in the keyring".to_owned() },
            keyring::Error::BadEncoding(_) => {
                SecretError::Keyring { message: "the stored secret is not UTF-8 text: store it again".to_owned() }
            }
            keyring::Error::TooLong(attribute, limit) => SecretError::Invalid {
                message: format!("{attribute} is longer than the keyring allows ({limit} characters)"),
            },
            keyring::Error::Invalid(attribute, reason) => {
                SecretError::Invalid { message: format!("the keyring refused {attribute}: {reason}") }
            }
            keyring::Error::Ambiguous(matches) => SecretError::Keyring {
                message: format!(
                    "{} keyring entries match one secret: delete the duplicates (e.g. in Seahorse) and store it again",
                    matches.len()
                ),
            },
            other => SecretError::Keyring { message: other.to_string() },
        }
    }
}

/// No keyring on this OS: every call says so, and keys come from the environment only.
#[cfg(not(any(target_os = "linux", target_os = "freebsd", target_os = "macos", target_os = "windows")))]
mod backend {
    use super::SecretError;

    const NONE: &str = "this platform has no supported keyring: give the keys through the environment";

    fn unavailable() -> SecretError {
        SecretError::Unavailable { message: NONE.to_owned() }
    }

    pub(super) fn get(_service: &str, _user: &str) -> Result<Option<String>, SecretError> {
        Err(unavailable())
    }

    pub(super) fn set(_service: &str, _user: &str, _value: &str) -> Result<(), SecretError> {
        Err(unavailable())
    }

    pub(super) fn delete(_service: &str, _user: &str) -> Result<(), SecretError> {
        Err(unavailable())
    }

    pub(super) fn is_locked() -> bool {
        false
    }

    pub(super) fn unlock() -> Result<(), SecretError> {
        Err(unavailable())
    }
}

#[cfg(test)]
mod tests {
    #[cfg(any(target_os = "linux", target_os = "freebsd", target_os = "macos", target_os = "windows"))]
    use super::backend::{NO_ACCESS, map_error};
    use super::*;

    const VALUE: &str = "hunter2-Zq7";

    #[cfg(any(target_os = "linux", target_os = "freebsd", target_os = "macos", target_os = "windows"))]
    fn boxed(message: &str) -> Box<dyn std::error::Error + Send + Sync> {
        Box::new(std::io::Error::other(message.to_owned()))
    }

    #[test]
    fn debug_and_display_never_show_the_value() {
        let secret = Secret::new(VALUE);
        assert_eq!(format!("{secret:?}"), "Secret(***)");
        assert_eq!(format!("{secret}"), "Secret(***)");
        assert_eq!(format!("{secret:#?}"), "Secret(***)");
        assert_eq!(format!("{:?}", Some(secret.clone())), "Some(Secret(***))");
        assert_eq!(format!("{:?}", (SecretKind::SpaKey, Secret::from(VALUE.to_owned()))), "(SpaKey, Secret(***))");
        assert_eq!(secret.expose(), VALUE);
    }

    fn legacy(name: &str) -> KeyOwner {
        KeyOwner::Legacy(name.to_owned())
    }

    #[test]
    fn entry_names_are_the_profile_id_and_kind() {
        let id: ProfileId = "0123456789abcdef0123456789ABCDEF".parse().expect("id");
        assert_eq!(
            entry_user(&KeyOwner::Id(id), SecretKind::SpaKey),
            "profile-id:0123456789abcdef0123456789abcdef:spa-key"
        );
        // Profiles written before ids keep the entries of that version until they are migrated.
        assert_eq!(entry_user(&legacy("work"), SecretKind::SpaKey), "profile:work:spa-key");
        assert_eq!(entry_user(&legacy("home-lab.v2"), SecretKind::SpaHmacKey), "profile:home-lab.v2:spa-hmac-key");
        assert_eq!(SecretStore::new().service(), "knock-toolkit");
        assert_eq!(SecretStore::with_service("knock-test-1").service(), "knock-test-1");
        // Distinct (owner, kind) pairs never share an entry, not even a name that looks like an id.
        let owners: Vec<KeyOwner> = ["a", "a-spa", "spa-key", "a.b", "0123456789abcdef0123456789abcdef"]
            .iter()
            .map(|p| legacy(p))
            .chain([KeyOwner::Id(id), KeyOwner::Id(ProfileId::random().expect("random"))])
            .collect();
        let names: Vec<String> = owners.iter().flat_map(|o| SecretKind::ALL.map(|k| entry_user(o, k))).collect();
        let unique: std::collections::HashSet<&String> = names.iter().collect();
        assert_eq!(unique.len(), names.len());
        assert!(PROBE_USER.split(':').next() != Some("profile"));
        assert!(PROBE_USER.split(':').next() != Some("profile-id"));
    }

    #[test]
    fn the_owner_is_the_id_when_the_profile_has_one() {
        let mut profile = Profile::new("h", "7000".parse().expect("sequence"));
        assert_eq!(KeyOwner::of("work", &profile), legacy("work"));
        let id = ProfileId::random().expect("random");
        profile.id = Some(id);
        assert_eq!(KeyOwner::of("work", &profile), KeyOwner::Id(id));
        assert_eq!(KeyOwner::of("other", &profile), KeyOwner::Id(id), "the name plays no part");
    }

    #[test]
    fn invalid_profile_names_are_refused_before_the_keyring() {
        let store = SecretStore::with_service("knock-test-never-used");
        for bad in ["", "a:b", "../x", ".hidden", "CON", "with space"] {
            let err = store.get(&legacy(bad), SecretKind::SpaKey).expect_err(bad);
            assert!(matches!(err, SecretError::Invalid { .. }), "{bad:?}: {err:?}");
            assert!(matches!(store.delete_all(&legacy(bad)), Err(SecretError::Invalid { .. })), "{bad:?}");
            assert!(matches!(store.move_all(&legacy("ok"), &legacy(bad)), Err(SecretError::Invalid { .. })), "{bad:?}");
        }
        let err = store.set(&legacy("ok"), SecretKind::SpaKey, &Secret::new("")).expect_err("empty secret");
        assert!(matches!(err, SecretError::Invalid { .. }), "{err:?}");
    }

    #[cfg(any(target_os = "linux", target_os = "freebsd"))]
    #[test]
    fn missing_secret_service_is_unavailable_with_an_actionable_message() {
        let cases = [
            "The name org.freedesktop.secrets was not provided by any .service files \
             (org.freedesktop.DBus.Error.ServiceUnknown)",
            "Unable to autolaunch a dbus-daemon without a $DISPLAY for X11 (org.freedesktop.DBus.Error.NotSupported)",
            "Failed to connect to socket /run/user/1000/bus: No such file or directory \
             (org.freedesktop.DBus.Error.FileNotFound)",
            "No DBus session or Secret Service provider found",
            "no secret service provider or dbus session found",
        ];
        for detail in cases {
            let err = map_error(keyring::Error::PlatformFailure(boxed(detail)));
            let SecretError::Unavailable { message } = &err else { panic!("{detail}: {err:?}") };
            assert!(
                message.starts_with("no Secret Service is running: install and unlock GNOME Keyring or KWallet"),
                "{message}"
            );
            assert!(message.contains(detail), "the keyring's detail is kept: {message}");
            assert_eq!(err.to_string(), *message);
        }
        // Running, but failing: still unusable, without claiming nothing runs.
        let err = map_error(keyring::Error::PlatformFailure(boxed("Crypto error: bad padding")));
        assert_eq!(
            err,
            SecretError::Unavailable {
                message: "the keyring service failed (keyring: Crypto error: bad padding)".into()
            }
        );
    }

    #[cfg(any(target_os = "linux", target_os = "freebsd", target_os = "macos", target_os = "windows"))]
    #[test]
    fn refused_access_is_unavailable_with_an_actionable_message() {
        let err = map_error(keyring::Error::NoStorageAccess(boxed("Secret Service: unlock prompt was dismissed")));
        let SecretError::Unavailable { message } = err else { panic!("not Unavailable") };
        assert!(message.starts_with(NO_ACCESS), "{message}");
        assert!(message.ends_with("(keyring: Secret Service: unlock prompt was dismissed)"), "{message}");
        #[cfg(target_os = "linux")]
        assert!(message.contains("unlock your login keyring"), "{message}");
    }

    #[cfg(any(target_os = "linux", target_os = "freebsd", target_os = "macos", target_os = "windows"))]
    #[test]
    fn other_errors_keep_the_keyring_message_but_never_the_secret() {
        let err = map_error(keyring::Error::BadEncoding(VALUE.as_bytes().to_vec()));
        assert!(matches!(err, SecretError::Keyring { .. }), "{err:?}");
        let shown = format!("{err} {err:?}");
        assert!(!shown.contains(VALUE) && !shown.contains("104, 117"), "{shown}");

        let err = map_error(keyring::Error::Ambiguous(Vec::new()));
        assert!(err.to_string().contains("0 keyring entries match"), "{err}");

        let err = map_error(keyring::Error::TooLong("username".into(), 255));
        assert_eq!(
            err,
            SecretError::Invalid { message: "username is longer than the keyring allows (255 characters)".into() }
        );
        let err = map_error(keyring::Error::Invalid("target".into(), "cannot be empty".into()));
        assert_eq!(err.to_string(), "the keyring refused target: cannot be empty");
        let err = map_error(keyring::Error::NoEntry);
        assert_eq!(err.to_string(), "keyring error: no such entry in the keyring");
    }
}
