//! Re-running one test of the current test binary inside a private session that a script sets up
//! (scripts/with-keyring.sh: D-Bus + GNOME Keyring; scripts/with-notifyd.sh: Xvfb + D-Bus + dunst), so
//! the real service is used and never the desktop's own. The child is killed with its process group
//! (the script's daemons) if it overruns.

use std::os::unix::process::CommandExt;
use std::path::Path;
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

/// How long the child may take.
const CHILD_TIMEOUT: Duration = Duration::from_secs(120);

/// One re-run: `script` (under scripts/) runs this test binary with only `test` (and `test_args`),
/// with `marker` set in its environment so the child knows it is the child.
pub struct Rerun<'a> {
    pub script: &'a str,
    pub test: &'a str,
    pub test_args: &'a [&'a str],
    pub marker: &'a str,
    /// The Debian packages the script needs, for the skip message.
    pub needs: &'a str,
}

impl Rerun<'_> {
    /// Runs the child and asserts it passed its one test. A script exit of 77 (a tool is missing)
    /// prints SKIPPED and returns, except under `CI=true`, where it fails.
    pub fn run(&self) {
        let script = Path::new(env!("CARGO_MANIFEST_DIR")).join("../scripts").join(self.script);
        let logs = tempfile::tempdir().expect("dir");
        let mut child = Command::new("bash")
            .arg(&script)
            .arg(std::env::current_exe().expect("test binary"))
            .args(["--exact", self.test, "--test-threads=1"])
            .args(self.test_args)
            .env(self.marker, "1")
            .env("TMPDIR", logs.path())
            .env_remove("DISPLAY")
            .env_remove("WAYLAND_DISPLAY")
            .stdin(Stdio::null())
            .stdout(std::fs::File::create(logs.path().join("out")).expect("log"))
            .stderr(std::fs::File::create(logs.path().join("err")).expect("log"))
            .process_group(0)
            .spawn()
            .expect("bash runs");
        let started = Instant::now();
        let status = loop {
            if let Some(status) = child.try_wait().expect("wait") {
                break Some(status);
            }
            if started.elapsed() > CHILD_TIMEOUT {
                let _ = Command::new("kill").args(["-KILL", "--", &format!("-{}", child.id())]).status();
                let _ = child.wait();
                break None;
            }
            std::thread::sleep(Duration::from_millis(50));
        };
        let read = |name: &str| std::fs::read_to_string(logs.path().join(name)).unwrap_or_default();
        let (out, err) = (read("out"), read("err"));
        if status.and_then(|s| s.code()) == Some(77) {
            let in_ci = std::env::var("CI").is_ok_and(|v| matches!(v.trim(), "true" | "1"));
            assert!(!in_ci, "CI is set: install {} (scripts/install-deps.sh)\n{err}", self.needs);
            eprintln!("SKIPPED (needs {}): {err}", self.needs);
            return;
        }
        let script = self.script;
        assert!(status.is_some_and(|s| s.success()), "{} under {script} failed: {status:?}\n{out}\n{err}", self.test);
        assert!(out.contains("1 passed"), "the child ran {}: {out}", self.test);
    }
}
