//! The real knock-gui window in a real X server (Xvfb): its WM_CLASS names both the instance and the class
//! ("knock-gui", "knock-gui"; egui-winit leaves the instance empty), read back with xprop as a window
//! manager reads it (issue 24 item 12).
//!
//! Linux only (X11). Needs Xvfb, xdotool and xprop: without them the test says so and passes, except under
//! `CI=true`, where it fails.
#![cfg(target_os = "linux")]

use std::path::Path;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

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

#[test]
fn the_window_class_names_instance_and_class() {
    let missing: Vec<_> = ["Xvfb", "xdotool", "xprop"].into_iter().filter(|t| !have(t)).collect();
    if !missing.is_empty() {
        let message = format!("needs {} (apt-get install xvfb xdotool x11-utils)", missing.join(", "));
        assert!(std::env::var("CI").as_deref() != Ok("true"), "{message}");
        eprintln!("SKIPPED: {message}");
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
    // Not the same number run after run: an X server of the last run may still be going away.
    let start = 400 + std::process::id() % 400;
    let number = (start..start + 100)
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
    let stderr_path = temp.path().join("knock-gui.stderr");
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
            .stderr(std::fs::File::create(&stderr_path).expect("stderr file"))
            .spawn()
            .expect("knock-gui starts"),
    );
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
