//! The profile store on a real directory: atomic writes, no lost updates under concurrency, unreadable
//! files reported and never touched, conflicts detected, helpful not-found errors.

use std::fs;
use std::sync::Arc;

use client_core::Profile;
use client_core::{ProfileStore, StoreError};
use client_core::{Protocol, Sequence};

fn profile(host: &str) -> Profile {
    Profile::new(host, Sequence::parse("7000,8000:udp,9000", Protocol::Tcp).expect("sequence"))
}

fn store() -> (tempfile::TempDir, ProfileStore) {
    let dir = tempfile::tempdir().expect("temp dir");
    let store = ProfileStore::new(dir.path().join("profiles"));
    (dir, store)
}

#[test]
fn create_load_list_rename_remove() {
    let (_dir, store) = store();
    assert!(store.list().expect("empty list").is_empty(), "a missing directory is an empty store");
    store.create("bastion", &profile("192.0.2.2")).expect("create");
    store.create("db", &profile("192.0.2.3")).expect("create");
    let loaded = store.load("bastion").expect("load").profile;
    assert!(loaded.id.is_some(), "a created profile has an id");
    assert_eq!(Profile { id: None, ..loaded }, profile("192.0.2.2"));
    let names: Vec<String> = store.list().expect("list").into_iter().map(|p| p.name).collect();
    assert_eq!(names, ["bastion", "db"]);
    assert!(matches!(store.create("db", &profile("x")), Err(StoreError::AlreadyExists { .. })));
    assert!(matches!(store.rename("bastion", "db", &secrets()), Err(StoreError::AlreadyExists { .. })));
    store.rename("bastion", "jump", &secrets()).expect("rename");
    assert_eq!(store.load("jump").expect("renamed").profile.host, "192.0.2.2");
    store.remove("jump", &secrets()).expect("remove");
    assert!(matches!(store.load("jump"), Err(StoreError::NotFound { .. })));
    let leftovers: Vec<_> =
        fs::read_dir(store.dir()).expect("dir").filter_map(Result::ok).map(|e| e.file_name()).collect();
    assert!(leftovers.iter().all(|n| n == "db.toml" || n == ".lock"), "no temp files left behind: {leftovers:?}");
}

#[test]
fn unknown_names_suggest_the_closest() {
    let (_dir, store) = store();
    for name in ["bastion", "bastion-eu", "database"] {
        store.create(name, &profile("h")).expect("create");
    }
    let err = store.load("bastoin").expect_err("typo").to_string();
    assert!(err.contains("no profile named \"bastoin\"") && err.contains("did you mean"), "{err}");
    assert!(err.contains("\"bastion\""), "{err}");
    let err = store.load("zzz").expect_err("nothing close").to_string();
    assert!(!err.contains("did you mean"), "{err}");
    assert!(matches!(store.load("../etc/passwd"), Err(StoreError::InvalidName(_))));
}

#[test]
fn an_unreadable_file_is_reported_with_its_position_and_never_touched() {
    let (_dir, store) = store();
    store.create("good", &profile("h")).expect("create");
    let bad_path = store.path_of("bad");
    let bad_text = "host = \"h\"\nopen = \"7000\"\ndelay_ms = \"soon\"\n# hand edit in progress\n";
    fs::write(&bad_path, bad_text).expect("write bad file");

    let listed = store.list().expect("list");
    let bad = listed.iter().find(|p| p.name == "bad").expect("listed");
    let err = bad.profile.as_ref().expect_err("unreadable");
    assert_eq!((err.line, err.column), (3, 12), "{err}");
    assert!(err.to_string().contains("bad.toml:3:12"), "{err}");
    assert!(listed.iter().any(|p| p.name == "good" && p.profile.is_ok()), "other profiles still load");

    let unreadable = |r: Result<_, StoreError>| matches!(r, Err(StoreError::Unreadable(_)));
    assert!(unreadable(store.load("bad").map(|_| ())));
    assert!(unreadable(
        store
            .update("bad", |p| -> Result<(), ()> {
                p.notes = "changed".into();
                Ok(())
            })
            .map(|_| ())
    ));
    assert!(unreadable(store.save("bad", &profile("h"), None).map(|_| ())));
    assert!(unreadable(store.remove("bad", &secrets()).map(|_| ())));
    assert!(unreadable(store.rename("bad", "fixed", &secrets()).map(|_| ())));
    assert!(matches!(store.create("bad", &profile("h")), Err(StoreError::AlreadyExists { .. })));
    assert_eq!(fs::read_to_string(&bad_path).expect("still there"), bad_text, "byte for byte untouched");
}

#[test]
fn save_detects_changes_made_on_disk_since_loading() {
    let (_dir, store) = store();
    let loaded = store.create("bastion", &profile("192.0.2.2")).expect("create");
    // Someone else (the CLI, an editor) changes the file.
    store
        .update("bastion", |p| -> Result<(), ()> {
            p.notes = "changed elsewhere".into();
            Ok(())
        })
        .expect("update")
        .expect("change");
    let mut mine = loaded.profile.clone();
    mine.notes = "mine".into();
    let err = store.save("bastion", &mine, Some(loaded.version)).expect_err("conflict");
    assert!(matches!(err, StoreError::Conflict { .. }), "{err}");
    assert_eq!(store.load("bastion").expect("load").profile.notes, "changed elsewhere");
    // Reload, then saving works.
    let fresh = store.load("bastion").expect("reload");
    let saved = store.save("bastion", &mine, Some(fresh.version)).expect("save after reload");
    assert_eq!(store.load("bastion").expect("load").version, saved.version);
}

#[test]
fn concurrent_updates_are_never_lost() {
    let (_dir, store) = store();
    store.create("shared", &profile("h")).expect("create");
    let store = Arc::new(store);
    let threads: Vec<_> = (0..20)
        .map(|i| {
            let store = Arc::clone(&store);
            std::thread::spawn(move || {
                // Each thread uses its own handle: the lock is an OS file lock, as between processes.
                let own = ProfileStore::new(store.dir());
                own.update("shared", |p| -> Result<(), ()> {
                    p.tags.push(format!("t{i}"));
                    Ok(())
                })
                .expect("update")
                .expect("change");
            })
        })
        .collect();
    for t in threads {
        t.join().expect("thread");
    }
    let tags = store.load("shared").expect("load").profile.tags;
    assert_eq!(tags.len(), 20, "every update survived: {tags:?}");
}

#[test]
fn the_repository_example_profiles_load() {
    let examples = ProfileStore::new(concat!(env!("CARGO_MANIFEST_DIR"), "/../profiles"));
    let listed = examples.list().expect("list examples");
    assert!(!listed.is_empty(), "profiles/ holds examples");
    for entry in listed {
        assert!(entry.profile.is_ok(), "{}: {:?}", entry.name, entry.profile);
    }
}

/// A keyring store under a test service name, never the user's (these profiles have no secrets; where no
/// Secret Service runs, renames and deletes carry on without one).
fn secrets() -> client_core::SecretStore {
    client_core::SecretStore::with_service(format!("knock-toolkit-test-store-{}", std::process::id()))
}
