//! The OS keyring the app ships with on macOS (Keychain) and Windows (Credential Manager), for real:
//! a key written through one `SecretStore` (one `keyring::Entry`) is read back through a fresh store (a
//! fresh entry), which keyring's mock store cannot do, so a build that fell back to the mock fails here.
//! Under a unique test service name, deleted at the end: a user's real entries are never touched.
//! Linux has the same test against a private GNOME Keyring in client-core/tests/secrets_keyring.rs.
#![cfg(any(target_os = "macos", target_os = "windows"))]

use client_core::ProfileId;
use client_core::{KEYRING_SERVICE, KeyOwner, Secret, SecretKind, SecretStore};

#[test]
fn a_key_written_through_one_entry_is_read_through_a_fresh_one_and_deleted() {
    let nanos = std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).map_or(0, |d| d.as_nanos());
    let service = format!("knock-toolkit-test-{}-{nanos}", std::process::id());
    assert_ne!(service, KEYRING_SERVICE, "never the production service");
    let writer = SecretStore::with_service(service.clone());
    let work = KeyOwner::Id(ProfileId::random().expect("a random id"));
    let value = format!("test-key-{nanos}");
    writer.set(&work, SecretKind::SpaKey, &Secret::new(value.clone())).expect("the OS keyring stores the key");

    let read = SecretStore::with_service(service.clone()).get(&work, SecretKind::SpaKey);
    // Delete before asserting, so a failed assertion leaves nothing behind.
    let deleted = SecretStore::with_service(service.clone()).delete_all(&work);
    let read = read.expect("read back").expect("a fresh entry finds the key: a real keyring, not the mock");
    assert!(read.expose() == value, "the key read back is the one written");
    deleted.expect("delete");
    assert!(
        SecretStore::with_service(service).get(&work, SecretKind::SpaKey).expect("read after delete").is_none(),
        "nothing is left in the keyring"
    );
}
