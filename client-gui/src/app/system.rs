//! What the system allows: whether the OS keyring can hold secrets (and which keyring service the app
//! uses), and whether this process may send raw packets (TCP hits with any flags).

use client_core::{KeyringAvailability as Availability, Profile, RawPermission, SecretStore, raw_permission};

use super::AppState;
use super::notices::Notice;

#[derive(Debug)]
pub struct System {
    pub raw_permission: RawPermission,
    /// Whether the OS keyring can hold secrets (None until the probe answered).
    pub keyring: Option<Availability>,
    pub(super) secrets: SecretStore,
}

impl System {
    pub(super) fn new() -> System {
        System { raw_permission: raw_permission(), keyring: None, secrets: SecretStore::new() }
    }

    /// Whether this profile needs raw sockets and this process may not use them: the step to grant them.
    pub fn raw_needed_but_denied(&self, profile: &Profile) -> Option<String> {
        match (&self.raw_permission, profile.needs_raw()) {
            (RawPermission::Denied { how_to_grant, .. }, true) => Some(how_to_grant.clone()),
            _ => None,
        }
    }
}

impl AppState {
    /// Keeps secrets under another keyring service from now on (tests use a unique one, so a user's real
    /// entries are never touched), and probes that service.
    pub fn set_secret_store(&mut self, secrets: SecretStore) {
        self.system.secrets = secrets;
        self.system.keyring = None;
        self.worker.check_keyring(self.system.secrets.clone());
    }

    /// Unlock (the keyring is locked): the OS shows its unlock prompt; the state is probed again after.
    pub fn unlock_keyring(&mut self) {
        self.system.keyring = None;
        self.worker.unlock_keyring(self.system.secrets.clone());
    }

    /// A key was copied to the clipboard (the view copied it): it is cleared from there after
    /// [`crate::clipboard::SECRET_LIFETIME`] if still there.
    pub fn copied_secret(&mut self, copied: &str) {
        crate::clipboard::clear_later(zeroize::Zeroizing::new(copied.to_owned()), crate::clipboard::SECRET_LIFETIME);
        self.notices.current = Some(Notice::Info(format!(
            "copied; the clipboard is cleared in {} s",
            crate::clipboard::SECRET_LIFETIME.as_secs()
        )));
    }
}
