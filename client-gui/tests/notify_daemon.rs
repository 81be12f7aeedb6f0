//! Issue 14 against a real notification daemon: the app's desktop notifications (src/notify.rs, notify-rust
//! over zbus) reach dunst, a real org.freedesktop.Notifications server, on a private D-Bus session and
//! Xvfb display (scripts/with-notifyd.sh). The real app is driven through its UI (egui_kittest) to knock a
//! loopback door whose sequence is secret: with the window focused no notification arrives; unfocused,
//! exactly one arrives, with the app's title and body, and no secret port in anything dunst received.
//! Without dunst/Xvfb/dbus the test prints SKIPPED, and fails when CI is set.

#![cfg(target_os = "linux")]
#![expect(unsafe_code, reason = "std::env::set_var of the test's own variable, which edition 2024 marks unsafe")]

mod session;
mod stepping;

use std::net::UdpSocket;
use std::process::Command;
use std::time::Duration;

use client_core::ProfileStore;
use client_core::{Profile, SequenceSource};
use client_core::{Protocol, Sequence};
use client_gui::KnockGui;
use client_gui::app::DesktopNote;
use egui_kittest::Harness;
use egui_kittest::kittest::Queryable;
use stepping::step_until;

/// Set in the child (the test binary re-run under scripts/with-notifyd.sh).
const CHILD: &str = "KNOCK_GUI_NOTIFYD_CHILD";
/// The secret sequence the profile reads (a variable name only this test uses).
const SECRET_VAR: &str = "KNOCK_GUI_NOTIFYD_SECRET_SEQ";
const CHILD_TEST: &str = "knock_outcomes_reach_dunst_under_with_notifyd";

/// Runs [`knock_outcomes_reach_dunst_under_with_notifyd`] (only it) in this test binary under
/// scripts/with-notifyd.sh; the child is killed (its process group: Xvfb, dbus, dunst) if it overruns.
#[test]
fn outcomes_reach_a_real_notification_daemon_only_when_the_window_is_not_focused() {
    session::Rerun {
        script: "with-notifyd.sh",
        test: CHILD_TEST,
        test_args: &["--ignored", "--nocapture"],
        marker: CHILD,
        needs: "dunst, xvfb, x11-utils and dbus",
    }
    .run();
}

/// The real work, in the private session the test above starts (ignored when run on its own: it needs
/// that session's dunst, and would otherwise talk to the desktop's own notification daemon).
#[test]
#[ignore = "run by outcomes_reach_a_real_notification_daemon_only_when_the_window_is_not_focused under scripts/with-notifyd.sh"]
fn knock_outcomes_reach_dunst_under_with_notifyd() {
    assert!(
        std::env::var_os(CHILD).is_some() && std::env::var_os("KNOCK_NOTIFYD_SANDBOX").is_some(),
        "run through outcomes_reach_a_real_notification_daemon_only_when_the_window_is_not_focused \
         (it starts scripts/with-notifyd.sh), never against your own desktop's notification daemon"
    );
    assert_eq!(daemon_count(), 0, "dunst starts empty");

    let dir = tempfile::tempdir().expect("dir");
    let sockets: Vec<UdpSocket> = (0..2).map(|_| UdpSocket::bind("127.0.0.1:0").expect("udp")).collect();
    let ports: Vec<String> = sockets.iter().map(|s| s.local_addr().expect("addr").port().to_string()).collect();
    // SAFETY: a variable name only this test uses, set before any thread reads it (the app is not built yet).
    unsafe { std::env::set_var(SECRET_VAR, format!("{}:udp,{}:udp", ports[0], ports[1])) };
    let mut web = Profile::new("127.0.0.1", Sequence::parse("1", Protocol::Tcp).expect("sequence"));
    if let Some(knock) = web.sequence_mut() {
        knock.open = SequenceSource::Env(SECRET_VAR.into());
    }
    ProfileStore::new(dir.path()).create("web", &web).expect("create");
    let store = ProfileStore::new(dir.path());
    let mut harness: Harness<'static, KnockGui> = Harness::builder()
        .with_size(egui::vec2(1200.0, 800.0))
        .build_eframe(move |cc| KnockGui::new(cc, store).expect("the app starts"));

    // Focused: the window shows the outcome; nothing goes to the desktop.
    harness.input_mut().focused = true;
    harness.get_by_label("Knock web").click();
    harness.run_steps(2);
    step_until(&mut harness, |app| !app.state.runs.any_running());
    assert!(each_socket_got_a_hit(&sockets), "the focused knock sent its hits");
    harness.run_steps(3);
    assert!(harness.state().state.notices.last_note.is_none(), "focused: the app sent no notification");
    assert_eq!(daemon_count(), 0, "focused: dunst received nothing");

    // Not focused: exactly one notification, the app's, reaches dunst.
    harness.input_mut().focused = false;
    harness.get_by_label("Knock web").click();
    harness.run_steps(2);
    step_until(&mut harness, |app| app.state.notices.last_note.is_some());
    assert!(each_socket_got_a_hit(&sockets), "the unfocused knock sent its hits");
    let (note, result) = harness.state().state.notices.last_note.clone().expect("a notification");
    if let Err(err) = result {
        panic!("dunst did not accept the notification: {err}");
    }
    assert_eq!(note.title, "web: knocked");
    assert!(note.body.starts_with("knocked 127.0.0.1 (2 hits sent"), "{}", note.body);

    // Displayed notifications reach dunst's history when closed; the history is what dunst received.
    dunstctl(&["close-all"]);
    let history: serde_json::Value = serde_json::from_str(&dunstctl(&["history"])).expect("dunstctl history is JSON");
    let received = history["data"][0].as_array().expect("a list of notifications");
    assert_eq!(received.len(), 1, "exactly one notification arrived (the unfocused knock's): {history:#}");
    let notification = &received[0];
    let text = |field: &str| notification[field]["data"].as_str().unwrap_or_default().to_owned();
    assert_eq!(text("appname"), "knock-gui");
    assert_eq!(text("summary"), note.title);
    assert_eq!(text("body"), note.body);
    assert_eq!(notification["timeout"]["data"].as_i64(), Some(8_000_000), "8 s, in microseconds");
    // Every text dunst received (summary, body, its formatted message, app name, icon, category...).
    for (field, value) in notification.as_object().expect("an object") {
        let Some(value) = value["data"].as_str() else { continue };
        for port in &ports {
            assert!(!value.contains(port.as_str()), "secret port {port} reached dunst in {field}");
        }
    }

    // An outcome can quote outside text (a server's answer, an OS error) with '<' or '&' in it. dunst, like
    // most daemons, reads bodies as markup: the body must arrive escaped, or the text is lost.
    let quoted =
        DesktopNote { title: "web: failed".to_owned(), body: "failed: the server answered <html> & closed".to_owned() };
    if let Err(err) = client_gui::notify::show(&quoted) {
        panic!("dunst did not accept the quoted notification: {err}");
    }
    dunstctl(&["close-all"]);
    let history: serde_json::Value = serde_json::from_str(&dunstctl(&["history"])).expect("dunstctl history is JSON");
    let received = history["data"][0].as_array().expect("a list of notifications");
    let failed = received.iter().find(|n| n["summary"]["data"] == "web: failed").expect("the quoted note arrived");
    assert_eq!(failed["message"]["data"], "failed: the server answered &lt;html&gt; &amp; closed", "shown as typed");
}

/// Receives one datagram on each socket (within 5 s).
fn each_socket_got_a_hit(sockets: &[UdpSocket]) -> bool {
    let mut buf = [0u8; 64];
    sockets.iter().all(|s| {
        s.set_read_timeout(Some(Duration::from_secs(5))).expect("timeout");
        s.recv_from(&mut buf).is_ok()
    })
}

/// Runs dunstctl (dunst's own client, on this session's bus) and returns its output.
fn dunstctl(args: &[&str]) -> String {
    let output = Command::new("dunstctl").args(args).output().expect("dunstctl runs");
    let stdout = String::from_utf8_lossy(&output.stdout).into_owned();
    assert!(output.status.success(), "dunstctl {args:?}: {stdout}{}", String::from_utf8_lossy(&output.stderr));
    stdout
}

/// Every notification dunst holds: waiting, displayed and in its history.
fn daemon_count() -> u64 {
    ["waiting", "displayed", "history"]
        .iter()
        .map(|which| dunstctl(&["count", which]).trim().parse::<u64>().expect("a count"))
        .sum()
}
