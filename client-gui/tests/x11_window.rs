//! The real knock-gui window in a real X server (Xvfb): its WM_CLASS names both the instance and the class
//! ("knock-gui", "knock-gui"; egui-winit leaves the instance empty), read back with xprop as a window
//! manager reads it (issue 24 item 12).
//!
//! Linux only (X11). Needs Xvfb, xdotool and xprop: without them the test says so and passes, except under
//! `CI=true`, where it fails.
#![cfg(target_os = "linux")]

mod x11;

use std::time::{Duration, Instant};
use x11::{Children, launch_knock_gui, run_on, start_xvfb, tools_present};

#[test]
fn the_window_class_names_instance_and_class() {
    if !tools_present(&["Xvfb", "xdotool", "xprop", "xdpyinfo"], "xvfb xdotool x11-utils") {
        return;
    }
    // Seen once in a full CI run: no window with both names within 30 s. A second launch (a new X server,
    // a new app) tells a slow start from a missing WM_CLASS, and knock-gui's stderr says what happened.
    let mut failures = Vec::new();
    for _ in 0..2 {
        match launch_and_read_classes() {
            Ok(classes) => {
                assert!(!classes.iter().any(|c| c.contains("\"\", ")), "an empty instance: {classes:?}");
                if !failures.is_empty() {
                    println!("the first launch failed: {failures:?}");
                }
                return;
            }
            Err(failure) => failures.push(failure),
        }
    }
    panic!("WM_CLASS with both names: {failures:#?}");
}

/// Starts Xvfb and knock-gui; the WM_CLASS of every window named "knock", once each has both names.
fn launch_and_read_classes() -> Result<Vec<String>, String> {
    let temp = tempfile::tempdir().expect("temp dir");
    let profiles = temp.path().join("profiles");
    std::fs::create_dir_all(&profiles).expect("profiles dir");
    let mut children = Children(Vec::new());
    let display = start_xvfb(400, "1280x800", &mut children);
    let stderr_path = launch_knock_gui(&display, &profiles, temp.path(), &mut children);
    // Every window named "knock" (winit may create more than one): each has both names.
    let started = Instant::now();
    let mut last = Vec::new();
    while started.elapsed() < Duration::from_secs(30) {
        if let Ok(Some(status)) = children.0[1].try_wait() {
            let stderr = std::fs::read_to_string(&stderr_path).unwrap_or_default();
            return Err(format!("knock-gui exited ({status}): {stderr}"));
        }
        let ids = run_on(&display, "xdotool", &["search", "--name", "^knock"]).unwrap_or_default();
        last = ids
            .lines()
            .filter(|id| !id.trim().is_empty())
            .filter_map(|id| run_on(&display, "xprop", &["-id", id.trim(), "WM_CLASS"]))
            .collect();
        if !last.is_empty() && last.iter().all(|c| c.contains("\"knock-gui\", \"knock-gui\"")) {
            return Ok(last);
        }
        std::thread::sleep(Duration::from_millis(200));
    }
    let stderr = std::fs::read_to_string(&stderr_path).unwrap_or_default();
    Err(format!("not within 30 s; windows' WM_CLASS: {last:?}; knock-gui's stderr: {stderr}"))
}
