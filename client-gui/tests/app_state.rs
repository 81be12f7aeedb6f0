//! The application model without a window: what the UI draws and what its buttons call.

use std::net::UdpSocket;
use std::path::Path;
use std::time::{Duration, Instant};

use client_core::profile::{Action, Profile, SequenceSource};
use client_core::store::ProfileStore;
use client_core::{Protocol, Sequence};
use client_gui::app::{AppState, HitState, LastResult, Notice, Persisted, UNTAGGED};

fn profile(host: &str, sequence: &str, tags: &[&str]) -> Profile {
    let mut p = Profile::new(host, Sequence::parse(sequence, Protocol::Tcp).expect("sequence"));
    p.tags = tags.iter().map(|t| (*t).to_owned()).collect();
    p
}

fn state(dir: &Path) -> AppState {
    AppState::new(ProfileStore::new(dir), Persisted::default()).expect("state")
}

fn wait_idle(state: &mut AppState) {
    let deadline = Instant::now() + Duration::from_secs(10);
    loop {
        state.poll();
        if !state.any_running() {
            return;
        }
        assert!(Instant::now() < deadline, "knock did not finish");
        std::thread::sleep(Duration::from_millis(5));
    }
}

#[test]
fn search_filters_and_tags_group_the_list() {
    let dir = tempfile::tempdir().expect("dir");
    let store = ProfileStore::new(dir.path());
    store.create("web", &profile("192.0.2.2", "7000", &["prod", "eu"])).expect("web");
    store.create("db", &profile("192.0.2.3", "7000", &["prod"])).expect("db");
    store.create("lab", &profile("lab.example.org", "7000", &[])).expect("lab");
    let mut s = state(dir.path());
    let groups = s.groups();
    let names = |tag: &str| groups[tag].iter().map(|e| e.name.clone()).collect::<Vec<_>>();
    assert_eq!(names("prod"), ["db", "web"]);
    assert_eq!(names("eu"), ["web"]);
    assert_eq!(names(UNTAGGED), ["lab"]);
    s.search = "EXAMPLE".into();
    assert_eq!(s.visible().iter().map(|e| e.name.as_str()).collect::<Vec<_>>(), ["lab"], "matches the host");
    s.search = "eu".into();
    assert_eq!(s.visible().iter().map(|e| e.name.as_str()).collect::<Vec<_>>(), ["web"], "matches a tag");
}

#[test]
fn an_unreadable_file_is_listed_and_explained_not_dropped() {
    let dir = tempfile::tempdir().expect("dir");
    std::fs::write(dir.path().join("broken.toml"), "host = \"h\"\nopen = \"7000:icmp\"\n").expect("write");
    let mut s = state(dir.path());
    let entry = s.entry("broken").expect("listed");
    let err = entry.profile.as_ref().expect_err("unreadable");
    assert_eq!(err.line, 2);
    s.knock("broken", Action::Open);
    assert!(matches!(&s.notice, Some(Notice::Error(m)) if m.contains("broken.toml:2")), "{:?}", s.notice);
    assert!(s.runs.is_empty());
}

#[test]
fn a_knock_reports_progress_and_a_failure_says_why() {
    let dir = tempfile::tempdir().expect("dir");
    let socket = UdpSocket::bind("127.0.0.1:0").expect("udp");
    let port = socket.local_addr().expect("addr").port();
    let store = ProfileStore::new(dir.path());
    store.create("ok", &profile("127.0.0.1", &format!("{port}:udp,{port}:udp"), &[])).expect("ok");
    let mut unset = profile("127.0.0.1", "1", &[]);
    if let Some(knock) = unset.sequence_mut() {
        knock.open = SequenceSource::Env("KNOCK_GUI_TEST_UNSET_VAR".into());
    }
    store.create("secret", &unset).expect("secret");
    let mut no_route = profile("127.0.0.1", "7000:udp", &[]);
    no_route.family = client_core::AddressFamily::V6;
    store.create("v6only", &no_route).expect("v6only");
    let mut s = state(dir.path());

    s.knock("ok", Action::Open);
    wait_idle(&mut s);
    let run = &s.runs["ok"];
    assert!(run.hits.iter().all(|(_, h)| *h == HitState::Sent), "{:?}", run.hits);
    assert!(matches!(s.last_result("ok"), LastResult::Sent { .. }));

    s.knock("secret", Action::Open);
    assert!(matches!(&s.notice, Some(Notice::Error(m)) if m.contains("KNOCK_GUI_TEST_UNSET_VAR")), "{:?}", s.notice);

    s.knock("v6only", Action::Open);
    wait_idle(&mut s);
    assert!(matches!(s.last_result("v6only"), LastResult::Failed { why, .. } if why.contains("no ipv6 address")));
    assert_eq!(s.history.len(), 2);

    s.knock("ok", Action::Close);
    assert!(matches!(&s.notice, Some(Notice::Error(m)) if m.contains("no close sequence")));
}

#[test]
fn cancel_stops_a_knock_that_waits() {
    let dir = tempfile::tempdir().expect("dir");
    let mut slow = profile("127.0.0.1", "7000:udp,7001:udp,7002:udp", &[]);
    if let Some(knock) = slow.sequence_mut() {
        knock.delay_ms = 60_000;
    }
    ProfileStore::new(dir.path()).create("slow", &slow).expect("create");
    let mut s = state(dir.path());
    s.knock("slow", Action::Open);
    std::thread::sleep(Duration::from_millis(100));
    s.poll();
    assert!(s.any_running());
    s.cancel("slow");
    wait_idle(&mut s);
    assert!(matches!(s.last_result("slow"), LastResult::Failed { why, .. } if why.contains("cancelled")));
}

#[test]
fn reload_theirs_replaces_my_edits_with_the_file() {
    let dir = tempfile::tempdir().expect("dir");
    let cli = ProfileStore::new(dir.path());
    cli.create("web", &profile("192.0.2.2", "7000", &[])).expect("create");
    let mut s = state(dir.path());
    s.edit("web");
    if let Some(editor) = s.editor.as_mut() {
        editor.notes = "mine".into();
    }
    cli.update("web", |p| -> Result<(), ()> {
        p.notes = "theirs".into();
        Ok(())
    })
    .expect("update")
    .expect("change");
    s.save_editor();
    assert!(s.conflict.is_some());
    s.conflict_reload();
    assert_eq!(s.editor.as_ref().map(|e| e.notes.as_str()), Some("theirs"));
    assert_eq!(cli.load("web").expect("load").profile.notes, "theirs");
}

#[test]
fn a_knockd_conf_import_waits_for_its_host() {
    let dir = tempfile::tempdir().expect("dir");
    let conf = dir.path().join("knockd.conf");
    std::fs::write(&conf, "[openSSH]\n sequence = 7000,8000,9000\n[closeSSH]\n sequence = 9000,8000,7000\n")
        .expect("write");
    let mut s = state(&dir.path().join("profiles"));
    s.import_files(std::slice::from_ref(&conf));
    assert_eq!(s.pending_import.as_deref(), Some(conf.as_path()));
    s.import_host = "192.0.2.2".into();
    s.finish_import();
    assert!(s.entry("ssh").is_some(), "{:?}", s.notice);
    assert!(matches!(&s.notice, Some(Notice::Info(m)) if m.contains("imported ssh")));
}

#[test]
fn persisted_selection_and_results_survive_a_restart() {
    let dir = tempfile::tempdir().expect("dir");
    ProfileStore::new(dir.path()).create("web", &profile("192.0.2.2", "7000", &[])).expect("create");
    let mut s = state(dir.path());
    s.select("web");
    s.last_results.insert("web".into(), LastResult::Failed { at: std::time::SystemTime::now(), why: "x".into() });
    let saved = s.persisted();
    let again = AppState::new(ProfileStore::new(dir.path()), saved).expect("state");
    assert_eq!(again.selected.as_deref(), Some("web"));
    assert!(matches!(again.last_result("web"), LastResult::Failed { .. }));
}
