//! Backups: a round trip keeps profiles and keys, a wrong passphrase is a clear error, the file never
//! holds a key or the passphrase in the clear, and an import reads it through the importer.

use super::*;
use crate::{Protocol, Sequence};

/// scrypt's smallest sensible work: the tests stay fast; real backups take about a second.
const FAST: Option<u8> = Some(10);

fn passphrase() -> Secret {
    Secret::new("correct horse battery staple")
}

fn profiles() -> Vec<BackupProfile> {
    let web = Profile::new("192.0.2.2", Sequence::parse("7000,8000:udp,9000", Protocol::Tcp).expect("seq"));
    let fw: Profile = toml::from_str("host = \"192.0.2.5\"\n[spa]\naccess = \"tcp/22\"\n").expect("spa");
    let door: Profile = toml::from_str("host = \"192.0.2.4\"\n[rotating]\ndoor = \"ssh\"\nlength = 4\n").expect("rot");
    vec![
        BackupProfile { name: "web".into(), profile: web, spa_keys: None, door_key: None },
        BackupProfile {
            name: "fw".into(),
            profile: fw,
            spa_keys: Some((SpaKey::new(vec![0x11; 32]).expect("key"), HmacKey::new(vec![0x22; 64]).expect("hmac"))),
            door_key: None,
        },
        BackupProfile {
            name: "door".into(),
            profile: door,
            spa_keys: None,
            door_key: Some(DoorKey::from_bytes(vec![0x33; 20]).expect("door key")),
        },
    ]
}

#[test]
fn a_backup_round_trips_profiles_and_keys() {
    let original = profiles();
    let text = encrypt_with_work(&original, &passphrase(), FAST).expect("encrypt");
    assert!(is_backup(&text), "armoured: {}", &text[..40]);
    let back = decrypt(text.as_bytes(), &passphrase()).expect("decrypt");
    assert_eq!(back.len(), 3);
    for (a, b) in original.iter().zip(&back) {
        assert_eq!(a.name, b.name);
        assert_eq!(a.profile.host, b.profile.host);
        assert_eq!(a.profile.kind, b.profile.kind);
        assert_eq!(b.profile.id, None, "the importing store gives a new id");
    }
    assert_eq!(toml::to_string(&back[0].profile).ok(), toml::to_string(&original[0].profile).ok());
    let (key, hmac) = back[1].spa_keys.as_ref().expect("SPA keys");
    assert_eq!((key.as_bytes(), hmac.as_bytes()), (&[0x11; 32][..], &[0x22; 64][..]));
    assert_eq!(back[2].door_key, original[2].door_key);
}

#[test]
fn a_wrong_passphrase_is_a_clear_error() {
    let text = encrypt_with_work(&profiles(), &passphrase(), FAST).expect("encrypt");
    let err = decrypt(text.as_bytes(), &Secret::new("not the passphrase")).expect_err("wrong passphrase");
    assert!(matches!(err, BackupError::WrongPassphrase), "{err:?}");
    assert_eq!(err.to_string(), "wrong passphrase: the backup could not be decrypted with it");
}

#[test]
fn keys_and_the_passphrase_are_never_in_the_file_in_the_clear() {
    let original = profiles();
    let text = encrypt_with_work(&original, &passphrase(), FAST).expect("encrypt");
    let (key, hmac) = original[1].spa_keys.as_ref().expect("keys");
    let door = original[2].door_key.as_ref().expect("door key").to_base32();
    for secret in [key.to_base64(), hmac.to_base64(), door, passphrase().expose().to_owned()] {
        assert!(!text.contains(&secret), "a secret is in the file in the clear");
    }
    // Texts that cannot occur in base64 by chance (dots, brackets, quotes).
    for visible in ["192.0.2.2", "192.0.2.5", "[spa]", "access = \"tcp/22\"", "knock-backup"] {
        assert!(!text.contains(visible), "{visible:?} is in the file in the clear");
    }
    let dir = tempfile::tempdir().expect("dir");
    let path = dir.path().join("knock.backup");
    write_file(&path, &text).expect("write");
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        let mode = std::fs::metadata(&path).expect("meta").permissions().mode() & 0o777;
        assert_eq!(mode, 0o600, "readable by its owner only");
    }
    assert!(write_file(&path, &text).is_err(), "an existing file is never replaced");
}

#[test]
fn a_short_passphrase_is_refused_and_bad_input_is_named() {
    let err = encrypt_with_work(&profiles(), &Secret::new("short"), FAST).expect_err("short");
    assert!(matches!(err, BackupError::PassphraseTooShort));
    assert!(matches!(decrypt(b"host = \"h\"\n", &passphrase()), Err(BackupError::NotABackup(_))));
    let text = encrypt_with_work(&profiles(), &passphrase(), FAST).expect("encrypt");
    let cut = &text.as_bytes()[..text.len() / 2];
    assert!(matches!(decrypt(cut, &passphrase()), Err(BackupError::Damaged(_) | BackupError::WrongPassphrase)));
}

#[test]
fn an_import_detects_a_backup_and_asks_for_its_passphrase() {
    let dir = tempfile::tempdir().expect("dir");
    let path = dir.path().join("anything.txt");
    write_file(&path, &encrypt_with_work(&profiles(), &passphrase(), FAST).expect("encrypt")).expect("write");
    let err = crate::import_path(&path, None).expect_err("needs the passphrase");
    assert!(matches!(err, ImportError::PassphraseNeeded { .. }), "{err:?}");
    let report = import_backup(&path, &passphrase()).expect("import");
    assert_eq!(report.format, Format::Backup);
    let names: Vec<_> = report.importable().filter_map(|e| e.name.clone()).collect();
    assert_eq!(names, ["web", "fw", "door"]);
    assert!(report.entries[1].keys.is_some() && report.entries[2].door_key.is_some());
    assert!(!report.entries[0].has_keys && report.entries[1].has_keys && report.entries[2].has_keys);
    let err = import_backup(&path, &Secret::new("not the passphrase")).expect_err("wrong");
    assert!(err.to_string().contains("wrong passphrase"), "{err}");
}
