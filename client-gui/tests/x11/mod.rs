//! A private X server (Xvfb) for the tests that need a real one, the X tools they drive it with, and the
//! real knock-gui started on it with HOME and the XDG dirs in a temp dir. Everything started is killed
//! when the test ends, however it ends.
#![allow(dead_code, reason = "each test binary uses the part it needs")]

use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::atomic::{AtomicU32, Ordering};
use std::time::{Duration, Instant};

/// Kills the processes it holds when the test ends, however it ends.
pub struct Children(pub Vec<Child>);

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

/// Whether every tool is installed. Without one the test says so and returns false (it then passes),
/// except under `CI=true`, where it fails: CI installs them.
pub fn tools_present(tools: &[&str], install: &str) -> bool {
    let missing: Vec<_> = tools.iter().filter(|t| !have(t)).copied().collect();
    if missing.is_empty() {
        return true;
    }
    let message = format!("needs {} (apt-get install {install})", missing.join(", "));
    assert!(std::env::var("CI").as_deref() != Ok("true"), "{message}");
    eprintln!("SKIPPED: {message}");
    false
}

/// Runs a tool on `display`, returning its stdout when it succeeded.
pub fn run_on(display: &str, tool: &str, args: &[&str]) -> Option<String> {
    let out = Command::new(tool).args(args).env("DISPLAY", display).stderr(Stdio::null()).output().ok()?;
    out.status.success().then(|| String::from_utf8_lossy(&out.stdout).into_owned())
}

/// Polls `probe` every 200 ms until it gives a value; fails the test after `limit`.
pub fn wait_for<T>(what: &str, limit: Duration, mut probe: impl FnMut() -> Option<T>) -> T {
    let start = Instant::now();
    loop {
        if let Some(value) = probe() {
            return value;
        }
        assert!(start.elapsed() < limit, "{what}: not within {limit:?}");
        std::thread::sleep(Duration::from_millis(200));
    }
}

/// Starts Xvfb with a screen of `size` ("1280x800") on a free display number from `first` on, added to
/// `children`, and waits until a client (xdpyinfo) can talk to it. Returns the display (":N").
/// Test binaries pass different `first` numbers; the process id varies it too (an X server of the last
/// run may still be going away), a counter keeps two tests of one binary apart, and a number another X
/// server took meanwhile (Xvfb exits) is skipped.
pub fn start_xvfb(first: u32, size: &str, children: &mut Children) -> String {
    static NEXT: AtomicU32 = AtomicU32::new(0);
    let base = first + std::process::id() % 100;
    loop {
        let number = base + NEXT.fetch_add(1, Ordering::SeqCst);
        assert!(number < base + 100, "no free X display number from {base}");
        if Path::new(&format!("/tmp/.X11-unix/X{number}")).exists()
            || Path::new(&format!("/tmp/.X{number}-lock")).exists()
        {
            continue;
        }
        let display = format!(":{number}");
        let mut xvfb = Command::new("Xvfb")
            // -noreset: without it the server resets when its last client (the readiness probe below)
            // disconnects, and a client connecting during the reset is refused ("Failed to open
            // connection to X server", seen in a CI run); scripts/xvfb.sh starts it the same way.
            .args([display.as_str(), "-screen", "0", &format!("{size}x24"), "-nolisten", "tcp", "-noreset"])
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .expect("Xvfb starts");
        let started = Instant::now();
        let answers = loop {
            if xvfb.try_wait().ok().flatten().is_some() {
                break false;
            }
            let answered = Command::new("xdpyinfo")
                .env("DISPLAY", &display)
                .stdout(Stdio::null())
                .stderr(Stdio::null())
                .status()
                .is_ok_and(|s| s.success());
            if answered {
                break true;
            }
            assert!(started.elapsed() < Duration::from_secs(40), "Xvfb on {display} did not answer within 40 s");
            std::thread::sleep(Duration::from_millis(100));
        };
        children.0.push(xvfb);
        if answers {
            return display;
        }
    }
}

/// The real knock-gui on `display`, reading `profiles`, with HOME and the XDG dirs under `temp`; its
/// stderr goes to the returned file. The process is the last of `children`.
pub fn launch_knock_gui(display: &str, profiles: &Path, temp: &Path, children: &mut Children) -> PathBuf {
    let home = temp.join("home");
    let stderr_path = temp.join("knock-gui.stderr");
    children.0.push(
        Command::new(env!("CARGO_BIN_EXE_knock-gui"))
            .arg("--profiles-dir")
            .arg(profiles)
            .env("DISPLAY", display)
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
    stderr_path
}
