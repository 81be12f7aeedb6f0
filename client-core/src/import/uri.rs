//! A rotating profile from a provisioning URI (`knock+rotating://HOST/DOOR?key=...`, what
//! `knock-server rotating keygen` prints): the one flow behind `knock-cli profile import-uri` and the
//! desktop app's "Import from text".
//!
//! Order matters: the URI and the name are checked before anything is written; an existing profile is
//! refused before the key is stored; the key goes into the keyring first, under the new profile's fresh
//! id (when that fails nothing is written, and the user still has the URI); a profile that cannot be
//! created then takes its key back out.
//!
//! Headless (issue 23): when the environment already gives the key (`KNOCK_ROTATING_KEY_<NAME>`, see
//! [`UriImport::key_variable`]) the keyring is never touched, and a front end whose keyring cannot take the
//! key may write the profile alone ([`UriImport::write_without_key`]): the key is then read from the
//! environment, as for any rotating profile in CI.

use thiserror::Error;

use crate::Method;
use crate::profile::{Profile, ProfileError, ProfileId, ProfileKind, RotatingKnock, Verify, validate_name};
use crate::rotating::{DoorKey, RotatingError, parse_uri};
use crate::secrets::{KeyOwner, SecretError, SecretKind, SecretStore, rotating_key_variables};
use crate::store::{ProfileStore, StoreError, StoredProfile};

/// A checked provisioning URI: the profile it makes, under which name, and its door key (masked in
/// every print).
#[derive(Debug)]
pub struct UriImport {
    pub name: String,
    pub profile: Profile,
    key: DoorKey,
}

#[derive(Debug, Error)]
pub enum UriImportError {
    #[error(transparent)]
    Uri(#[from] RotatingError),
    /// The name is not a valid profile name (the front-end says how to give another).
    #[error(transparent)]
    Name(ProfileError),
    #[error(transparent)]
    Profile(ProfileError),
    /// A profile of that name exists (the front-end says how to give another name).
    #[error("profile {0:?} already exists")]
    Exists(String),
    #[error("the door key cannot be stored ({source}); nothing was written (for CI, set ${variable})")]
    Key {
        variable: String,
        #[source]
        source: SecretError,
    },
    #[error(transparent)]
    Store(#[from] StoreError),
}

impl UriImport {
    /// Checks `uri` and the profile name (`name`, else the door's name); writes nothing.
    pub fn prepare(uri: &str, name: Option<&str>) -> Result<UriImport, UriImportError> {
        let provisioning = parse_uri(uri.trim())?;
        let name = name.map(str::trim).filter(|n| !n.is_empty()).unwrap_or(&provisioning.rotation.door).to_owned();
        validate_name(&name).map_err(UriImportError::Name)?;
        let knock = RotatingKnock { rotation: provisioning.rotation, method: Method::Auto, delay_ms: 0 };
        let mut profile = Profile::with_kind(provisioning.host, ProfileKind::Rotating(knock));
        // The service port behind the door (issue 23): the profile verifies and retries like any other.
        profile.verify = provisioning.verify_port.map(Verify::new);
        profile.validate().map_err(UriImportError::Profile)?;
        Ok(UriImport { name, profile, key: provisioning.key })
    }

    /// Stores the key in `secrets`, then creates the profile in `store` (see the module docs for the
    /// order and what is undone on failure).
    pub fn write(&self, store: &ProfileStore, secrets: &SecretStore) -> Result<StoredProfile, UriImportError> {
        if store.file_names()?.contains(&self.name) {
            return Err(UriImportError::Exists(self.name.clone()));
        }
        let id = ProfileId::random().map_err(UriImportError::Profile)?;
        let owner = KeyOwner::Id(id);
        secrets.store_rotating_key(&owner, &self.key).map_err(|source| {
            let [variable, _] = rotating_key_variables(&self.name);
            UriImportError::Key { variable, source }
        })?;
        store.create_with_id(&self.name, &self.profile, id).map_err(|err| {
            let _ = secrets.delete(&owner, SecretKind::RotatingKey);
            err.into()
        })
    }

    /// Sets the service port to verify (a `--verify-port` given beside the URI wins over its `verify=`).
    pub fn set_verify_port(&mut self, port: std::num::NonZeroU16) {
        match &mut self.profile.verify {
            Some(verify) => verify.port = port,
            None => self.profile.verify = Some(Verify::new(port)),
        }
    }

    /// Creates the profile without storing its key (no keyring on a headless box, or the key is given in
    /// the environment): opening it then reads the key from [`rotating_key_variables`].
    pub fn write_without_key(&self, store: &ProfileStore) -> Result<StoredProfile, UriImportError> {
        if store.file_names()?.contains(&self.name) {
            return Err(UriImportError::Exists(self.name.clone()));
        }
        Ok(store.create(&self.name, &self.profile)?)
    }

    /// The variable that gives this profile's door key in the environment, if one is set (most specific
    /// first), and whether it holds the URI's key (an unreadable or other key: false).
    pub fn key_variable(&self) -> Option<(String, bool)> {
        rotating_key_variables(&self.name).into_iter().find_map(|variable| {
            let value = zeroize::Zeroizing::new(std::env::var(&variable).ok()?);
            let same = DoorKey::from_base32(&value).is_ok_and(|key| key == self.key);
            Some((variable, same))
        })
    }
}

#[cfg(test)]
mod tests {
    use super::{UriImport, UriImportError};
    use crate::rotating::{DoorKey, Rotation, format_uri};

    fn uri(door: &str) -> String {
        let key = DoorKey::from_base32("JBSWY3DPEHPK3PXPJBSWY3DPEHPK3PXP").expect("key");
        format_uri("bastion.example", &Rotation::new(door), &key, None)
    }

    #[test]
    fn the_uris_service_port_becomes_the_profiles_verify_and_old_uris_still_import() {
        let key = DoorKey::from_base32("JBSWY3DPEHPK3PXPJBSWY3DPEHPK3PXP").expect("key");
        let uri = format_uri("bastion.example", &Rotation::new("ssh"), &key, std::num::NonZeroU16::new(22));
        let import = UriImport::prepare(&uri, None).expect("prepare");
        assert_eq!(import.profile.verify.map(|v| v.port.get()), Some(22));
        let mut old = UriImport::prepare(&self::uri("ssh"), None).expect("an URI without verify= imports");
        assert_eq!(old.profile.verify, None);
        old.set_verify_port(std::num::NonZeroU16::new(2222).expect("port"));
        assert_eq!(old.profile.verify.map(|v| v.port.get()), Some(2222));
    }

    #[test]
    fn the_name_defaults_to_the_door_and_the_key_never_prints() {
        let import = UriImport::prepare(&format!("  {}\n", uri("ssh")), None).expect("prepare");
        assert_eq!(import.name, "ssh");
        assert_eq!(import.profile.host, "bastion.example");
        assert!(!format!("{import:?}").contains("JBSWY3DP"), "{import:?}");
        let named = UriImport::prepare(&uri("ssh"), Some("work")).expect("prepare");
        assert_eq!(named.name, "work");
    }

    #[test]
    fn bad_input_is_refused_before_anything_is_written() {
        assert!(matches!(UriImport::prepare("https://example.com", None), Err(UriImportError::Uri(_))));
        assert!(matches!(UriImport::prepare(&uri("ssh"), Some("../etc")), Err(UriImportError::Name(_))));
        let err = UriImport::prepare(&uri("ssh").replace("key=", "key=x"), None).expect_err("bad key");
        assert!(!err.to_string().contains("JBSWY3DP"), "{err}");
    }
}
