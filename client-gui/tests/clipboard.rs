//! The system clipboard, end to end: the real knock-gui in a real X server (Xvfb) copies a profile's ssh
//! command when its "Copy ssh command" button is clicked (xdotool, real pointer input), and another
//! program (xclip) reads it from the X clipboard. This fails if eframe's `clipboard` feature is lost, which
//! would keep copies inside the app (as it once did).
//!
//! Linux only (X11). Needs Xvfb, xdotool and xclip: without them the test says so and passes, except under
//! `CI=true`, where it fails. The knock-gui process, with HOME and XDG dirs in a temp dir, sees one profile
//! whose host is 127.0.0.1 and is never asked to knock.
#![cfg(target_os = "linux")]

use std::path::Path;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

/// Where the "Copy ssh command" button of the selected profile is, in screen pixels: the window opens at
/// 0,0 with its fixed default size (1000x680, client-gui/src/main.rs) on a fresh HOME and draws with egui's
/// bundled fonts, so the place is fixed. If the detail view's layout changes, take a screenshot
/// (scripts/gui-screenshot.sh, or `import -window root` on the test's display) and update these.
const PROFILE_ROW: (u32, u32) = (60, 66);
/// client-gui/tests/layout.rs::connect_is_offered_after_the_door_opens checks both places in kittest.
const COPY_SSH_COMMAND: (u32, u32) = (399, 275);
const EXPECTED: &str = "ssh -4 127.0.0.1";

/// Kills the processes it holds when the test ends, however it ends.
struct Children(Vec<Child>);

impl Drop for Children {
    fn drop(&mut self) {
        for child in &mut self.0 {
            let _ = child.kill();
            let _ = child.wait();
        }
    }
}

fn have(tool: &str) -> bool {
    Command::new("sh")
        .args(["-c", &format!("command -v {tool}")])
        .stdout(Stdio::null())
        .status()
        .is_ok_and(|s| s.success())
}

/// Runs a tool on `display`, returning its stdout when it succeeded.
fn run_on(display: &str, tool: &str, args: &[&str]) -> Option<String> {
    let out = Command::new(tool).args(args).env("DISPLAY", display).stderr(Stdio::null()).output().ok()?;
    out.status.success().then(|| String::from_utf8_lossy(&out.stdout).into_owned())
}

fn wait_for<T>(what: &str, limit: Duration, mut probe: impl FnMut() -> Option<T>) -> T {
    let start = Instant::now();
    loop {
        if let Some(value) = probe() {
            return value;
        }
        assert!(start.elapsed() < limit, "{what}: not within {limit:?}");
        std::thread::sleep(Duration::from_millis(200));
    }
}

fn click(display: &str, (x, y): (u32, u32)) {
    let (x, y) = (x.to_string(), y.to_string());
    run_on(display, "xdotool", &["mousemove", &x, &y, "click", "1"]).expect("xdotool clicks");
}

#[test]
fn copy_ssh_command_reaches_the_x_clipboard() {
    let missing: Vec<_> = ["Xvfb", "xdotool", "xclip"].into_iter().filter(|t| !have(t)).collect();
    if !missing.is_empty() {
        let message = format!("clipboard test needs {} (apt-get install xvfb xdotool xclip)", missing.join(", "));
        assert!(std::env::var("CI").as_deref() != Ok("true"), "{message}");
        eprintln!("SKIPPED: {message}");
        return;
    }
    let temp = tempfile::tempdir().expect("temp dir");
    let profiles = temp.path().join("profiles");
    std::fs::create_dir_all(&profiles).expect("profiles dir");
    std::fs::write(profiles.join("clip.toml"), "host = \"127.0.0.1\"\nopen = \"7000,8000\"\n").expect("profile");

    let number = (120..200)
        .find(|n| {
            !Path::new(&format!("/tmp/.X11-unix/X{n}")).exists() && !Path::new(&format!("/tmp/.X{n}-lock")).exists()
        })
        .expect("a free X display number");
    let display = format!(":{number}");
    let mut children = Children(Vec::new());
    children.0.push(
        Command::new("Xvfb")
            .args([display.as_str(), "-screen", "0", "1280x800x24", "-nolisten", "tcp"])
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .expect("Xvfb starts"),
    );
    wait_for("Xvfb answers", Duration::from_secs(10), || run_on(&display, "xdotool", &["getdisplaygeometry"]));

    let home = temp.path().join("home");
    children.0.push(
        Command::new(env!("CARGO_BIN_EXE_knock-gui"))
            .arg("--profiles-dir")
            .arg(&profiles)
            .env("DISPLAY", &display)
            .env_remove("WAYLAND_DISPLAY")
            .env("HOME", &home)
            .env("XDG_CONFIG_HOME", home.join(".config"))
            .env("XDG_DATA_HOME", home.join(".local/share"))
            .env("XDG_CACHE_HOME", home.join(".cache"))
            .stdout(Stdio::null())
            .stderr(std::fs::File::create(temp.path().join("knock-gui.stderr")).expect("stderr file"))
            .spawn()
            .expect("knock-gui starts"),
    );
    let app_stderr = || std::fs::read_to_string(temp.path().join("knock-gui.stderr")).unwrap_or_default();
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
