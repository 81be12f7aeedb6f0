//! The system clipboard, end to end: the real knock-gui in a real X server (Xvfb) copies a profile's ssh
//! command when its "Copy ssh command" button is clicked (xdotool, real pointer input), and another
//! program (xclip) reads it from the X clipboard. This fails if eframe's `clipboard` feature is lost, which
//! would keep copies inside the app (as it once did).
//!
//! Linux only (X11). Needs Xvfb, xdotool and xclip: without them the test says so and passes, except under
//! `CI=true`, where it fails. The knock-gui process, with HOME and XDG dirs in a temp dir, sees one profile
//! whose host is 127.0.0.1 and is never asked to knock.
#![cfg(target_os = "linux")]

mod x11;

use std::time::{Duration, Instant};
use x11::{Children, launch_knock_gui, run_on, start_xvfb, tools_present, wait_for};

/// Where the "Copy ssh command" button of the selected profile is, in screen pixels: the window opens at
/// 0,0 with its fixed default size (1000x680, client-gui/src/main.rs) on a fresh HOME and draws with egui's
/// bundled fonts, so the place is fixed. If the detail view's layout changes, take a screenshot
/// (scripts/gui-screenshot.sh, or `import -window root` on the test's display) and update these.
const PROFILE_ROW: (u32, u32) = (60, 66);
/// client-gui/tests/layout.rs::connect_is_offered_after_the_door_opens checks both places in kittest.
const COPY_SSH_COMMAND: (u32, u32) = (399, 275);
const EXPECTED: &str = "ssh -4 127.0.0.1";

fn click(display: &str, (x, y): (u32, u32)) {
    let (x, y) = (x.to_string(), y.to_string());
    run_on(display, "xdotool", &["mousemove", &x, &y, "click", "1"]).expect("xdotool clicks");
}

#[test]
fn copy_ssh_command_reaches_the_x_clipboard() {
    if !tools_present(&["Xvfb", "xdotool", "xclip", "xdpyinfo"], "xvfb xdotool xclip x11-utils") {
        return;
    }
    let temp = tempfile::tempdir().expect("temp dir");
    let profiles = temp.path().join("profiles");
    std::fs::create_dir_all(&profiles).expect("profiles dir");
    std::fs::write(profiles.join("clip.toml"), "host = \"127.0.0.1\"\nopen = \"7000,8000\"\n").expect("profile");

    let mut children = Children(Vec::new());
    let display = start_xvfb(120, "1280x800", &mut children);
    let stderr_path = launch_knock_gui(&display, &profiles, temp.path(), &mut children);
    let app_stderr = || std::fs::read_to_string(&stderr_path).unwrap_or_default();
    let window = Instant::now();
    while run_on(&display, "xdotool", &["search", "--name", "^knock"]).is_none_or(|ids| ids.trim().is_empty()) {
        let exited = children.0.last_mut().and_then(|app| app.try_wait().ok().flatten());
        assert!(exited.is_none(), "knock-gui exited before its window showed ({exited:?}):\n{}", app_stderr());
        assert!(
            window.elapsed() < Duration::from_secs(60),
            "no knock-gui window within 60 s; its stderr:\n{}",
            app_stderr()
        );
        std::thread::sleep(Duration::from_millis(200));
    }
    // The first frames take a moment with software GL.
    std::thread::sleep(Duration::from_secs(2));
    click(&display, PROFILE_ROW);
    std::thread::sleep(Duration::from_millis(500));
    click(&display, COPY_SSH_COMMAND);

    let copied = wait_for("the copied command in the X clipboard (read by xclip)", Duration::from_secs(10), || {
        run_on(&display, "xclip", &["-selection", "clipboard", "-o", "-t", "UTF8_STRING"]).filter(|t| t == EXPECTED)
    });
    assert_eq!(copied, EXPECTED);
}
