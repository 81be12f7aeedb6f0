//! Issue 24 item 14, in the window (egui_kittest): where no tray can be shown (here: no D-Bus session bus,
//! the real ksni start failing) the app says so once, in a notice, and greys out the keep-in-tray
//! setting; the setting is off by default and saved states from before it load with it off.
//! The tray over a real bus and watcher, with the real app: tests/tray.rs.

#![cfg(target_os = "linux")]
#![expect(unsafe_code, reason = "std::env::set_var of the session bus address, which edition 2024 marks unsafe")]

mod stepping;

use std::sync::Arc;

use client_core::ProfileStore;
use client_gui::KnockGui;
use client_gui::app::{Notice, Persisted};
use client_gui::tray::Tray;
use egui_kittest::Harness;
use egui_kittest::kittest::{NodeT, Queryable};
use stepping::step_until;

const SETTING: &str = "Keep running in the tray when the window is closed";

#[test]
fn without_a_session_bus_the_window_says_once_there_is_no_tray_and_greys_out_keep_in_tray() {
    let dir = tempfile::tempdir().expect("dir");
    // SAFETY: set before the app (and any thread that reads the environment) starts; the other test of
    // this binary reads no environment.
    unsafe { std::env::set_var("DBUS_SESSION_BUS_ADDRESS", format!("unix:path={}/no-bus", dir.path().display())) };
    let store = ProfileStore::new(dir.path());
    let mut harness: Harness<'static, KnockGui> =
        Harness::builder().with_size(egui::vec2(1000.0, 680.0)).build_eframe(move |cc| {
            let ctx = cc.egui_ctx.clone();
            let tray = Tray::start(Arc::new(move || ctx.request_repaint()));
            KnockGui::new(cc, store).expect("the app starts").with_tray(tray)
        });
    step_until(&mut harness, |app| app.state.notices.current.is_some());
    let Some(Notice::Info(message)) = harness.state().state.notices.current.clone() else {
        panic!("an information notice: {:?}", harness.state().state.notices.current)
    };
    assert!(message.starts_with("no tray icon: no D-Bus session bus"), "{message}");
    assert!(message.ends_with("closing the window quits"), "{message}");
    assert!(harness.query_by_label_contains("no tray icon").is_some(), "the notice is on screen");

    // Said once: cleared, it does not come back.
    harness.state_mut().state.notices.current = None;
    harness.run_steps(5);
    assert_eq!(harness.state().state.notices.current, None);

    // The setting cannot be turned on with no tray (it would hide the window with no way back).
    harness.get_by_label("View").click();
    harness.run_steps(2);
    assert!(harness.get_by_label(SETTING).accesskit_node().is_disabled(), "greyed out");
}

#[test]
fn keep_in_tray_is_off_by_default_and_in_saved_states_from_before_it() {
    assert!(!Persisted::default().keep_in_tray);
    // A saved state written before the setting existed.
    let old: Persisted = serde_json::from_str(r#"{"selected": "web", "last_results": {}, "favourites": ["web"]}"#)
        .expect("an old saved state loads");
    assert!(!old.keep_in_tray);
    assert!(old.favourites.contains("web"));
    // It is saved and read back.
    let saved = serde_json::to_string(&Persisted { keep_in_tray: true, ..Persisted::default() }).expect("json");
    assert!(serde_json::from_str::<Persisted>(&saved).expect("reads back").keep_in_tray);
}
