//! The application model without a window: what the UI draws and what its buttons call.

use std::net::UdpSocket;
use std::path::Path;
use std::time::{Duration, Instant};

use client_core::ProfileStore;
use client_core::{Action, Profile, SequenceSource};
use client_core::{Protocol, Sequence};
use client_gui::app::{AppState, HitState, LastResult, Leave, Notice, Persisted, Pick, Resolution, Status};

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
        if !state.runs.any_running() {
            return;
        }
        assert!(Instant::now() < deadline, "knock did not finish");
        std::thread::sleep(Duration::from_millis(5));
    }
}

/// Waits for an import (written in the worker) to finish.
fn wait_imported(s: &mut AppState) {
    let deadline = Instant::now() + Duration::from_secs(10);
    while s.import_dialog().is_some_and(|d| d.importing) {
        s.poll();
        assert!(Instant::now() < deadline, "the import never finished");
        std::thread::sleep(Duration::from_millis(5));
    }
}

fn listed(s: &AppState) -> Vec<String> {
    s.list.visible().iter().map(|e| e.name.clone()).collect()
}

#[test]
fn one_row_per_profile_filtered_by_search_and_tag_with_favourites_on_top() {
    let dir = tempfile::tempdir().expect("dir");
    let store = ProfileStore::new(dir.path());
    store.create("web", &profile("192.0.2.2", "7000", &["prod", "eu"])).expect("web");
    store.create("db", &profile("192.0.2.3", "7000", &["prod"])).expect("db");
    store.create("lab", &profile("lab.example.org", "7000", &[])).expect("lab");
    let mut s = state(dir.path());
    assert_eq!(listed(&s), ["db", "web", "lab"], "grouped by first tag; a profile with two tags is listed once");
    assert_eq!(*s.list.tags(), ["eu", "prod"]);
    s.list.tag_filter = Some("prod".into());
    assert_eq!(listed(&s), ["db", "web"]);
    s.list.tag_filter = None;
    s.list.toggle_favourite("web");
    assert_eq!(listed(&s), ["web", "db", "lab"], "favourites are pinned on top");
    s.list.search = "EXAMPLE".into();
    assert_eq!(listed(&s), ["lab"], "matches the host");
    s.list.search = "eu".into();
    assert_eq!(listed(&s), ["web"], "matches a tag");
}

/// Group headers by tag: pinned first, each first tag, then untagged; a collapsed group hides its
/// rows, the collapsed set is part of the persisted state, and the keyboard opens the selection's group.
#[test]
fn collapsed_groups_hide_their_rows_survive_a_restart_and_open_for_the_keyboard() {
    use client_gui::app::{Group, ListRow};
    let dir = tempfile::tempdir().expect("dir");
    let store = ProfileStore::new(dir.path());
    store.create("web", &profile("192.0.2.2", "7000", &["prod"])).expect("web");
    store.create("db", &profile("192.0.2.3", "7000", &["prod"])).expect("db");
    store.create("lab", &profile("192.0.2.4", "7000", &[])).expect("lab");
    let mut s = state(dir.path());
    let headers = |s: &AppState| -> Vec<(Group, usize, bool)> {
        s.list
            .rows()
            .iter()
            .filter_map(|r| match r.clone() {
                ListRow::Header { group, count, collapsed } => Some((group, count, collapsed)),
                ListRow::Profile(_) => None,
            })
            .collect()
    };
    assert_eq!(headers(&s), [(Group::Tag("prod".into()), 2, false), (Group::Untagged, 1, false)]);
    s.select("db");
    s.list.toggle_group(&Group::Tag("prod".into()));
    assert_eq!(listed(&s), ["lab"]);
    let again = AppState::new(ProfileStore::new(dir.path()), s.persisted()).expect("state");
    assert_eq!(headers(&again), [(Group::Tag("prod".into()), 2, true), (Group::Untagged, 1, false)]);
    assert_eq!(listed(&again), ["lab"]);
    // The keyboard still acts on the selection, after showing it (issue 24 item 4): its group opens.
    assert_eq!(s.list.highlighted().as_deref(), Some("db"));
    s.list.reveal_selection();
    assert_eq!(listed(&s), ["db", "web", "lab"], "the selection's group is expanded");
}

/// Defect 1: Enter knocked a host hidden by the search, or the first host with nothing selected.
#[test]
fn keyboard_actions_follow_the_search_and_never_reach_a_hidden_host() {
    let dir = tempfile::tempdir().expect("dir");
    let store = ProfileStore::new(dir.path());
    store.create("fin-knock", &profile("192.0.2.2", "7000", &[])).expect("a");
    store.create("v6-door", &profile("2001:db8::2", "7000", &[])).expect("b");
    store.create("web", &profile("192.0.2.4", "7000", &[])).expect("c");
    let mut s = state(dir.path());
    assert_eq!(s.list.highlighted(), None, "nothing selected: nothing to act on");
    s.select("fin-knock");
    s.list.search = "v6".into();
    s.filter_changed();
    assert_eq!(s.list.selected.as_deref(), Some("v6-door"), "the selection follows the search");
    assert_eq!(s.list.highlighted().as_deref(), Some("v6-door"));
    s.list.search = "nothing matches".into();
    s.filter_changed();
    assert_eq!(s.list.highlighted(), None, "no row listed: no target");
    s.list.search.clear();
    s.filter_changed();
    s.select("fin-knock");
    s.move_selection(1);
    assert_eq!(s.list.selected.as_deref(), Some("v6-door"));
    s.move_selection(1);
    s.move_selection(1);
    assert_eq!(s.list.selected.as_deref(), Some("web"), "stops at the last row");
    s.move_selection(-5);
    assert_eq!(s.list.selected.as_deref(), Some("fin-knock"));
}

/// Defect 2: Ctrl+N, Cancel and selecting another host threw away unsaved edits.
#[test]
fn unsaved_edits_are_never_dropped_without_asking() {
    let dir = tempfile::tempdir().expect("dir");
    let store = ProfileStore::new(dir.path());
    store.create("web", &profile("192.0.2.2", "7000", &[])).expect("web");
    store.create("db", &profile("192.0.2.3", "7000", &[])).expect("db");
    let mut s = state(dir.path());
    s.select("web");
    s.edit("web");
    s.new_profile();
    assert!(s.pending_discard().is_none(), "nothing typed yet: nothing to lose, no question");
    assert!(s.editing.form.as_ref().is_some_and(|e| e.is_new()));
    if let Some(editor) = s.editing.form.as_mut() {
        editor.name = "typed".into();
    }
    for leave in [Leave::New, Leave::Close, Leave::Select("db".into())] {
        match &leave {
            Leave::New => s.new_profile(),
            Leave::Close => s.cancel_editor(),
            Leave::Select(name) => s.select(name),
            _ => unreachable!(),
        }
        assert_eq!(s.pending_discard(), Some(&leave), "asked first");
        assert_eq!(s.editing.form.as_ref().map(|e| e.name.as_str()), Some("typed"), "the edits are still there");
        s.keep_editing();
    }
    s.select("db");
    s.discard_changes();
    assert!(s.editing.form.is_none());
    assert_eq!(s.list.selected.as_deref(), Some("db"));
}

fn wait_resolution(s: &mut AppState, name: &str) -> Resolution {
    let deadline = Instant::now() + Duration::from_secs(10);
    loop {
        s.poll();
        if let Some(done @ Resolution::Done { .. }) = s.resolution.get(name) {
            return done.clone();
        }
        assert!(Instant::now() < deadline, "no address for {name}: {:?}", s.resolution.get(name));
        std::thread::sleep(Duration::from_millis(5));
    }
}

/// Defect 3: the address stuck at "resolving…" after a save or a restart, and stayed stale (with the
/// old result) after the host changed.
#[test]
fn the_address_follows_restarts_saves_and_host_changes() {
    let dir = tempfile::tempdir().expect("dir");
    ProfileStore::new(dir.path()).create("local", &profile("127.0.0.1", "7000:udp", &[])).expect("create");
    // A restart with "local" selected: the detail view asks for the address, and gets it.
    let persisted = Persisted { selected: Some("local".into()), ..Persisted::default() };
    let mut s = AppState::new(ProfileStore::new(dir.path()), persisted).expect("state");
    s.ensure_resolution("local");
    assert!(
        matches!(wait_resolution(&mut s, "local"), Resolution::Done { result: Ok(a), .. } if a.ip().to_string() == "127.0.0.1")
    );
    s.knock("local", Action::Open);
    wait_idle(&mut s);
    assert!(matches!(s.runs.last_result("local"), LastResult::Sent { .. }));

    s.edit("local");
    if let Some(editor) = s.editing.form.as_mut() {
        editor.host = "::1".into();
    }
    s.save_editor();
    assert!(s.editing.form.is_none(), "saved: {:?}", s.editing.errors);
    assert!(matches!(s.runs.last_result("local"), LastResult::Never), "the old host's result is gone");
    s.ensure_resolution("local");
    assert!(
        matches!(wait_resolution(&mut s, "local"), Resolution::Done { result: Ok(a), .. } if a.ip().to_string() == "::1"),
        "the new host's address"
    );

    // A new profile is selected after its save and resolves too.
    s.new_profile();
    if let Some(editor) = s.editing.form.as_mut() {
        editor.name = "fresh".into();
        editor.host = "127.0.0.1".into();
        editor.open = "7000".into();
    }
    s.save_editor();
    assert_eq!(s.list.selected.as_deref(), Some("fresh"));
    s.ensure_resolution("fresh");
    assert!(matches!(wait_resolution(&mut s, "fresh"), Resolution::Done { result: Ok(_), .. }));
}

#[test]
fn a_rename_in_the_editor_renames_the_profile_and_keeps_its_result() {
    let dir = tempfile::tempdir().expect("dir");
    ProfileStore::new(dir.path()).create("old", &profile("192.0.2.2", "7000", &[])).expect("create");
    let mut s = state(dir.path());
    s.select("old");
    s.runs.last_results.insert("old".into(), LastResult::Failed { at: std::time::SystemTime::now(), why: "x".into() });
    s.edit("old");
    if let Some(editor) = s.editing.form.as_mut() {
        editor.name = "new".into();
    }
    s.save_editor();
    let deadline = Instant::now() + Duration::from_secs(10);
    while s.list.entry("new").is_none() {
        assert!(Instant::now() < deadline, "not renamed: {:?}", s.notices.current);
        s.poll();
        std::thread::sleep(Duration::from_millis(5));
    }
    assert!(s.list.entry("old").is_none());
    assert!(!dir.path().join("old.toml").exists());
    assert_eq!(s.list.selected.as_deref(), Some("new"));
    assert!(matches!(s.runs.last_result("new"), LastResult::Failed { .. }));
}

#[test]
fn an_unreadable_file_is_listed_and_explained_not_dropped() {
    let dir = tempfile::tempdir().expect("dir");
    std::fs::write(dir.path().join("broken.toml"), "host = \"h\"\nopen = \"7000:icmp\"\n").expect("write");
    let mut s = state(dir.path());
    let entry = s.list.entry("broken").expect("listed");
    let err = entry.profile.as_ref().expect_err("unreadable");
    assert_eq!(err.line, 2);
    s.knock("broken", Action::Open);
    assert!(
        matches!(&s.notices.current, Some(Notice::Error(m)) if m.contains("broken.toml:2")),
        "{:?}",
        s.notices.current
    );
    assert!(s.runs.knocks.is_empty());
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
    let run = &s.runs.knocks["ok"];
    assert!(run.hits.iter().all(|(_, h)| *h == HitState::Sent), "{:?}", run.hits);
    assert!(matches!(s.runs.last_result("ok"), LastResult::Sent { .. }));

    s.knock("secret", Action::Open);
    assert!(
        matches!(&s.notices.current, Some(Notice::Error(m)) if m.contains("KNOCK_GUI_TEST_UNSET_VAR")),
        "{:?}",
        s.notices.current
    );

    s.knock("v6only", Action::Open);
    wait_idle(&mut s);
    assert!(matches!(s.runs.last_result("v6only"), LastResult::Failed { why, .. } if why.contains("no ipv6 address")));
    assert_eq!(s.runs.history.len(), 2);

    s.knock("ok", Action::Close);
    assert!(matches!(&s.notices.current, Some(Notice::Error(m)) if m.contains("no close sequence")));
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
    assert!(s.runs.any_running());
    assert_eq!(s.runs.status("slow"), Status::Knocking);
    s.cancel("slow");
    wait_idle(&mut s);
    assert!(s.runs.knocks["slow"].cancelled, "cancelled is its own state");
    assert!(matches!(s.runs.last_result("slow"), LastResult::Never), "and does not replace the last result");
    assert_eq!(s.runs.status("slow"), Status::Never);
    assert!(matches!(s.runs.history.last().map(|h| &h.result), Some(LastResult::Cancelled { .. })));
}

#[test]
fn reload_theirs_replaces_my_edits_with_the_file() {
    let dir = tempfile::tempdir().expect("dir");
    let cli = ProfileStore::new(dir.path());
    cli.create("web", &profile("192.0.2.2", "7000", &[])).expect("create");
    let mut s = state(dir.path());
    s.edit("web");
    if let Some(editor) = s.editing.form.as_mut() {
        editor.notes = "mine".into();
    }
    cli.update("web", |p| -> Result<(), ()> {
        p.notes = "theirs".into();
        Ok(())
    })
    .expect("update")
    .expect("change");
    s.save_editor();
    assert!(matches!(s.modal, Some(client_gui::app::Modal::Conflict(_))));
    s.conflict_reload();
    assert_eq!(s.editing.form.as_ref().map(|e| e.notes.as_str()), Some("theirs"));
    assert_eq!(cli.load("web").expect("load").profile.notes, "theirs");
}

/// Defect 4: without a file-dialog portal, Import did nothing. The dialog's path field is the same
/// path whatever dialog backend exists.
#[test]
fn a_knockd_conf_import_through_the_dialog_path_field_asks_for_its_host() {
    let dir = tempfile::tempdir().expect("dir");
    let conf = dir.path().join("knockd.conf");
    std::fs::write(&conf, "[openSSH]\n sequence = 7000,8000,9000\n[closeSSH]\n sequence = 9000,8000,7000\n")
        .expect("write");
    let mut s = state(&dir.path().join("profiles"));
    s.open_import();
    if let Some(d) = s.import_dialog_mut() {
        d.path = conf.display().to_string();
    }
    s.preview_import();
    let error = s.import_dialog().and_then(|d| d.error.clone()).expect("asks for the host");
    assert!(error.contains("enter the host"), "{error}");
    if let Some(d) = s.import_dialog_mut() {
        d.host = "192.0.2.2".into();
    }
    s.preview_import();
    if let Some(c) = s.import_dialog_mut().and_then(|d| d.preview.as_mut()).and_then(|p| p.candidates.first_mut()) {
        c.name = "bastion-ssh".into();
    }
    s.finish_import();
    wait_imported(&mut s);
    assert!(s.import_dialog().is_none());
    assert!(s.list.entry("bastion-ssh").is_some(), "imported under the edited name: {:?}", s.notices.current);
    assert!(matches!(&s.notices.current, Some(Notice::Info(m)) if m.contains("imported bastion-ssh")));
    assert_eq!(s.list.selected.as_deref(), Some("bastion-ssh"), "what was imported is selected (issue 24 item 10)");
}

/// Issue 24 item 10: a knockd.conf import offers a verify port; the imported doors check it.
#[test]
fn a_knockd_conf_import_takes_a_verify_port() {
    let dir = tempfile::tempdir().expect("dir");
    let conf = dir.path().join("knockd.conf");
    std::fs::write(&conf, "[openSSH]\n sequence = 7000,8000,9000\n").expect("write");
    let mut s = state(&dir.path().join("profiles"));
    s.open_import();
    if let Some(d) = s.import_dialog_mut() {
        d.path = conf.display().to_string();
        d.host = "192.0.2.2".into();
    }
    s.preview_import();
    if let Some(d) = s.import_dialog_mut() {
        d.verify_port = "70000".into();
    }
    s.finish_import();
    wait_imported(&mut s);
    let error = s.import_dialog().and_then(|d| d.error.clone()).expect("a bad port is refused");
    assert!(error.contains("1 to 65535"), "{error}");
    if let Some(d) = s.import_dialog_mut() {
        d.verify_port = "22".into();
    }
    s.finish_import();
    wait_imported(&mut s);
    let name = s.list.selected.clone().expect("imported and selected");
    let profile = s.list.entry(&name).and_then(|e| e.profile.clone().ok()).expect("imported");
    assert_eq!(profile.verify.map(|v| v.port.get()), Some(22));
}

/// Issue 24 item 10: typed paths take `~` as the home folder (the path field is the way in where no
/// file-dialog portal runs); a changed path clears the last error.
#[test]
fn typed_paths_expand_the_home_folder() {
    let home = std::env::home_dir().expect("a home folder");
    assert_eq!(client_gui::transfer::expand_home("~"), home);
    assert_eq!(client_gui::transfer::expand_home(" ~/exports/knock "), home.join("exports/knock"));
    assert_eq!(client_gui::transfer::expand_home("/tmp/x"), std::path::PathBuf::from("/tmp/x"));
    assert_eq!(client_gui::transfer::expand_home("~other/x"), std::path::PathBuf::from("~other/x"));
}

/// Defect 5: an .fwknoprc was read as a knockd.conf.
#[test]
fn an_fwknoprc_is_detected_and_imported_as_spa_profiles() {
    let dir = tempfile::tempdir().expect("dir");
    let rc = dir.path().join("fwknoprc");
    let (key, hmac) = client_core::spa::keygen().expect("keys");
    std::fs::write(
        &rc,
        format!(
            "[fw]\nSPA_SERVER 192.0.2.7\nSPA_SERVER_PORT 62201\nACCESS tcp/22\nALLOW_IP 192.0.2.50\nKEY_BASE64 {}\nHMAC_KEY_BASE64 {}\nUSE_HMAC Y\n",
            key.to_base64(),
            hmac.to_base64()
        ),
    )
    .expect("write");
    let mut s = state(&dir.path().join("profiles"));
    s.open_import();
    if let Some(d) = s.import_dialog_mut() {
        d.path = rc.display().to_string();
    }
    s.preview_import();
    let preview = s.import_dialog().and_then(|d| d.preview.clone()).expect("a preview, not an error");
    assert_eq!(preview.format, client_core::ImportFormat::Fwknoprc);
    assert_eq!(preview.candidates.len(), 1);
    assert!(preview.candidates[0].keys.is_some(), "its keys are carried to the keyring");
    s.finish_import();
    wait_imported(&mut s);
    let name = preview.candidates[0].name.clone();
    let saved = std::fs::read_to_string(dir.path().join("profiles").join(format!("{name}.toml"))).expect("saved");
    assert!(saved.contains("[spa]") && saved.contains("192.0.2.7"), "{saved}");
    assert!(!saved.contains(&key.to_base64()), "keys never reach the file");
}

#[test]
fn persisted_selection_and_results_survive_a_restart() {
    let dir = tempfile::tempdir().expect("dir");
    ProfileStore::new(dir.path()).create("web", &profile("192.0.2.2", "7000", &[])).expect("create");
    let mut s = state(dir.path());
    s.select("web");
    s.runs.last_results.insert("web".into(), LastResult::Failed { at: std::time::SystemTime::now(), why: "x".into() });
    let saved = s.persisted();
    let again = AppState::new(ProfileStore::new(dir.path()), saved).expect("state");
    assert_eq!(again.list.selected.as_deref(), Some("web"));
    assert!(matches!(again.runs.last_result("web"), LastResult::Failed { .. }));
}

/// Defect 6: exporting twice failed with "File exists" and only one profile could be exported.
#[test]
fn export_takes_many_profiles_and_asks_before_replacing() {
    let dir = tempfile::tempdir().expect("dir");
    let store = ProfileStore::new(dir.path().join("p"));
    store.create("web", &profile("192.0.2.2", "7000", &[])).expect("web");
    store.create("db", &profile("192.0.2.3", "7000", &[])).expect("db");
    let out = dir.path().join("out");
    std::fs::create_dir(&out).expect("mkdir");
    let mut s = state(&dir.path().join("p"));
    for round in 0..2 {
        s.open_export();
        if let Some(d) = s.export_dialog_mut() {
            d.chosen = ["web".to_owned(), "db".to_owned()].into();
            d.dir = out.display().to_string();
        }
        s.export(false);
        if round == 1 {
            let asked = s.export_dialog().map(|d| d.existing.len());
            assert_eq!(asked, Some(2), "the second export asks before replacing");
            s.export(true);
        }
        assert!(s.export_dialog().is_none(), "{:?}", s.export_dialog().and_then(|d| d.error.clone()));
        assert!(
            matches!(&s.notices.current, Some(Notice::Info(m)) if m.contains("exported 2 profiles")),
            "{:?}",
            s.notices.current
        );
    }
    #[cfg(unix)]
    for name in ["web", "db"] {
        use std::os::unix::fs::PermissionsExt;
        let mode = std::fs::metadata(out.join(format!("{name}.toml"))).expect("meta").permissions().mode();
        assert_eq!(mode & 0o777, 0o600);
    }
}

/// Issue 26: editing a profile in the app and saving keeps its kind and every parameter of it, for the
/// three kinds (a rotating profile used to come back as a sequence profile, its door lost); what is saved
/// is then planned as that kind, with the door's parameters and no stand-in sequence.
#[test]
fn an_edit_keeps_the_kind_sequence_spa_or_rotating_and_it_plans_as_that_kind() {
    use client_core::{Plan, PlanKind};
    use client_gui::editor::EditorKind;
    let sequence: Profile = toml::from_str(
        "host = \"192.0.2.2\"\nmethod = \"raw\"\ndelay_ms = 7\nopen = \"7000,8000:udp\"\nclose = \"8000:udp\"\n\
         tcp_flags = \"syn,!ack\"\n[verify]\nport = 22\n",
    )
    .expect("sequence");
    let spa: Profile = toml::from_str(
        "host = \"192.0.2.3\"\n[spa]\naccess = \"tcp/22,udp/53\"\nport = 62202\nallow_ip = \"source\"\n\
         user = \"alice\"\nhmac = \"sha512\"\n",
    )
    .expect("spa");
    let rotating: Profile = toml::from_str(
        "host = \"192.0.2.4\"\nmethod = \"connect\"\ndelay_ms = 5\n[rotating]\ndoor = \"ssh\"\nstep = 60\n\
         length = 3\nrange = \"20000-20999\"\nprotocols = \"tcp,udp,tcp\"\nexclude = [20022]\n[verify]\nport = 22\n",
    )
    .expect("rotating");
    let dir = tempfile::tempdir().expect("dir");
    let store = ProfileStore::new(dir.path());
    let cases = [
        ("seq", &sequence, EditorKind::Sequence),
        ("fw", &spa, EditorKind::Spa),
        ("door", &rotating, EditorKind::Rotating),
    ];
    for (name, profile, _) in cases {
        store.create(name, profile).expect("create");
    }
    let mut s = state(dir.path());
    for (name, original, kind) in cases {
        let id_before = store.load(name).expect("load").profile.id;
        s.edit(name);
        let editor = s.editing.form.as_mut().expect("editor open");
        assert_eq!(editor.kind, kind, "{name}: the selector shows the profile's kind");
        editor.notes = "edited".into();
        s.save_editor();
        assert!(s.editing.form.is_none(), "{name} saved: {:?}", s.editing.errors);
        let saved = store.load(name).expect("load").profile;
        let mut expected = original.clone();
        expected.notes = "edited".into();
        // The store gave the profile its id when it was created; the edit kept it.
        expected.id = id_before;
        assert!(saved.id.is_some());
        assert_eq!(saved, expected, "{name}: kind and parameters kept");

        let plan = Plan::new(name, &saved, Action::Open).expect("plan");
        match (&plan.kind, &saved.kind) {
            (PlanKind::Sequence { sequence, tcp_flags, .. }, client_core::ProfileKind::Sequence(knock)) => {
                assert_eq!(Some(sequence), knock.open.inline());
                assert_eq!(*tcp_flags, knock.tcp_flags);
                assert_eq!(plan.hit_labels(), ["7000:tcp", "8000:udp"]);
            }
            (PlanKind::Spa(settings), client_core::ProfileKind::Spa(spa)) => {
                assert_eq!(settings, spa);
                assert_eq!(plan.hit_labels(), ["62202:udp"]);
            }
            (PlanKind::Rotating { knock, .. }, client_core::ProfileKind::Rotating(door)) => {
                assert_eq!(knock, door);
                assert_eq!(plan.hit_labels(), ["*:tcp", "*:udp", "*:tcp"]);
            }
            (planned, kind) => panic!("{name}: a {} profile planned as {planned:?}", kind.as_str()),
        }
    }
    let file = std::fs::read_to_string(dir.path().join("door.toml")).expect("read");
    assert!(file.contains("[rotating]") && file.contains("door = \"ssh\"") && !file.contains("open"), "{file}");
}

/// Browse… (import): the file dialog's answer arrives through the worker (the dialog is async on every OS,
/// client-gui/src/pick.rs); a picked file is previewed, a cancelled dialog says so, and Browse… waits while
/// a dialog is open.
#[test]
fn a_picked_import_file_is_previewed_and_a_cancelled_dialog_is_said() {
    let dir = tempfile::tempdir().expect("dir");
    let elsewhere = ProfileStore::new(dir.path().join("elsewhere"));
    elsewhere.create("web", &profile("192.0.2.2", "7000,8000", &[])).expect("web");
    let file = elsewhere.path_of("web");
    let mut s = state(&dir.path().join("profiles"));
    s.open_import();
    s.browse(Pick::ImportFile, std::future::ready(Some(file.clone())));
    assert_eq!(s.picking, Some(Pick::ImportFile), "Browse… waits for the open dialog");
    wait_picked(&mut s);
    let dialog = s.import_dialog().cloned().expect("the dialog stays open");
    assert_eq!(dialog.path, file.display().to_string());
    let preview = dialog.preview.expect("the picked file is previewed");
    assert_eq!(preview.candidates.len(), 1);
    s.browse(Pick::ImportFile, std::future::ready(None));
    wait_picked(&mut s);
    let error = s.import_dialog().and_then(|d| d.error.clone()).expect("a cancelled dialog is said");
    assert!(error.starts_with("no file was picked"), "{error}");
}

/// Browse… (export): the picked folder fills the field.
#[test]
fn a_picked_export_folder_fills_the_field() {
    let dir = tempfile::tempdir().expect("dir");
    let mut s = state(&dir.path().join("profiles"));
    s.open_export();
    s.browse(Pick::ExportFolder, std::future::ready(Some(dir.path().join("out"))));
    wait_picked(&mut s);
    assert_eq!(s.export_dialog().map(|d| d.dir.clone()), Some(dir.path().join("out").display().to_string()));
}

fn wait_picked(s: &mut AppState) {
    let deadline = Instant::now() + Duration::from_secs(10);
    while s.picking.is_some() {
        s.poll();
        assert!(Instant::now() < deadline, "the dialog's answer never arrived");
        std::thread::sleep(Duration::from_millis(5));
    }
}

/// Waits for an export with keys (written in the worker) to end.
fn wait_written(s: &mut AppState) {
    let deadline = Instant::now() + Duration::from_secs(60);
    while s.export_dialog().is_some_and(|d| d.writing) {
        s.poll();
        assert!(Instant::now() < deadline, "the backup was never written");
        std::thread::sleep(Duration::from_millis(10));
    }
}

/// Issue 24 item 10: Export with keys writes one encrypted file (no host or sequence in the clear, 0600)
/// once the passphrase is typed twice the same; the import dialog detects it by its content, asks for
/// the passphrase, says a wrong one is wrong, and imports the profiles with the right one.
#[test]
fn export_with_keys_round_trips_through_the_import_dialog_with_its_passphrase() {
    use client_gui::transfer::{BACKUP_FILE, Passphrase};

    let dir = tempfile::tempdir().expect("dir");
    let store = ProfileStore::new(dir.path().join("p"));
    store.create("web", &profile("192.0.2.2", "7000,8000:udp", &[])).expect("web");
    let out = dir.path().join("out");
    std::fs::create_dir(&out).expect("mkdir");
    let mut s = state(&dir.path().join("p"));
    s.open_export();
    let set = |s: &mut AppState, pass: &str, confirm: &str| {
        if let Some(d) = s.export_dialog_mut() {
            d.chosen = ["web".to_owned()].into();
            d.dir = out.display().to_string();
            d.with_keys = true;
            d.passphrase = Passphrase::new(pass);
            d.confirm = Passphrase::new(confirm);
        }
    };
    set(&mut s, "correct horse battery", "correct horse battery!");
    s.export(false);
    wait_written(&mut s);
    let error = s.export_dialog().and_then(|d| d.error.clone()).unwrap_or_default();
    assert!(error.contains("passphrases differ"), "{error}");
    assert!(!out.join(BACKUP_FILE).exists());
    set(&mut s, "correct horse battery", "correct horse battery");
    s.export(false);
    wait_written(&mut s);
    assert!(s.export_dialog().is_none(), "{:?}", s.export_dialog().and_then(|d| d.error.clone()));
    assert!(
        matches!(&s.notices.current, Some(Notice::Info(m)) if m.contains("with their keys, encrypted")),
        "{:?}",
        s.notices.current
    );
    let file = out.join(BACKUP_FILE);
    let text = std::fs::read_to_string(&file).expect("the backup");
    assert!(text.starts_with("-----BEGIN AGE ENCRYPTED FILE-----"));
    assert!(!text.contains("192.0.2.2") && !text.contains("8000:udp") && !text.contains("correct horse"));
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        assert_eq!(std::fs::metadata(&file).expect("meta").permissions().mode() & 0o777, 0o600);
    }

    // Into another store, through the import dialog.
    let mut t = state(&dir.path().join("q"));
    t.open_import();
    if let Some(d) = t.import_dialog_mut() {
        d.path = file.display().to_string();
    }
    t.preview_import();
    let d = t.import_dialog().expect("dialog");
    assert!(d.encrypted && d.preview.is_none(), "asks for the passphrase: {:?}", d.error);
    for (typed, wrong) in [("not the passphrase", true), ("correct horse battery", false)] {
        if let Some(d) = t.import_dialog_mut() {
            d.passphrase = Passphrase::new(typed);
        }
        t.preview_import();
        let deadline = Instant::now() + Duration::from_secs(60);
        while t.import_dialog().is_some_and(|d| d.decrypting) {
            t.poll();
            assert!(Instant::now() < deadline, "the backup was never decrypted");
            std::thread::sleep(Duration::from_millis(10));
        }
        let d = t.import_dialog().expect("dialog");
        if wrong {
            assert!(d.error.as_deref().is_some_and(|e| e.contains("wrong passphrase")), "{:?}", d.error);
        } else {
            assert_eq!(d.preview.as_ref().map(|p| p.candidates.len()), Some(1), "{:?}", d.error);
        }
    }
    t.finish_import();
    wait_imported(&mut t);
    assert!(t.import_dialog().is_none());
    let back = ProfileStore::new(dir.path().join("q")).load("web").expect("imported");
    assert_eq!(back.profile.host, "192.0.2.2");
    let mut original = store.load("web").expect("web").profile;
    original.id = back.profile.id;
    assert_eq!(toml::to_string(&back.profile).ok(), toml::to_string(&original).ok(), "the same profile, a new id");
}
