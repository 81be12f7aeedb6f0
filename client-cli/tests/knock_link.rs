//! knock-cli run through a link named `knock`, as knock(1)'s drop-in (issue 23, item 13): `-V` and
//! `--version` work, no arguments exit 1 as knock(1) does, usage and help say `knock [OPTIONS] ...`, its
//! own errors start with `knock:`, and `-u` makes every hit UDP, an explicit `:tcp` included, as knock(1)
//! (knock-cli knock keeps `:tcp`, documented in docs/cli.md). Hits go to loopback only.
#![cfg(unix)]
// A test's own output goes through libtest's captured stderr, not knock-cli's output.rs.
#![allow(clippy::disallowed_macros)]

use std::path::PathBuf;
use std::process::{Command, Output, Stdio};

/// A directory holding a `knock` link to the knock-cli under test (removed on drop).
struct Link(PathBuf);

impl Link {
    fn new(test: &str) -> Link {
        let nanos = std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).map_or(0, |d| d.as_nanos());
        let dir = std::env::temp_dir().join(format!("knock-link-{test}-{}-{nanos}", std::process::id()));
        std::fs::create_dir_all(&dir).expect("a temporary directory");
        std::os::unix::fs::symlink(env!("CARGO_BIN_EXE_knock-cli"), dir.join("knock")).expect("the knock link");
        Link(dir)
    }

    fn run(&self, args: &[&str]) -> Output {
        Command::new(self.0.join("knock"))
            .args(args)
            .env("KNOCK_PROFILES_DIR", self.0.join("profiles"))
            .stdin(Stdio::null())
            .output()
            .expect("knock runs")
    }
}

impl Drop for Link {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}

fn text(out: &Output) -> String {
    format!(
        "status {:?}\n--- stdout\n{}\n--- stderr\n{}",
        out.status,
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    )
}

#[test]
fn version_help_and_no_arguments_are_knock1s() {
    let link = Link::new("version");
    for flag in ["-V", "--version"] {
        let out = link.run(&[flag]);
        assert_eq!(out.status.code(), Some(0), "{flag}: {}", text(&out));
        let stdout = String::from_utf8_lossy(&out.stdout);
        assert!(stdout.starts_with("knock ") && stdout.contains(env!("CARGO_PKG_VERSION")), "{flag}: {}", text(&out));
    }
    let out = link.run(&[]);
    assert_eq!(out.status.code(), Some(1), "no arguments: 1, as knock(1): {}", text(&out));
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(stderr.contains("Usage: knock [OPTIONS] <HOST> <PORT[:PROTO]>..."), "{}", text(&out));
    assert!(!stderr.contains("knock knock") && !stderr.contains("knock-cli"), "{}", text(&out));
    let out = link.run(&["--help"]);
    assert_eq!(out.status.code(), Some(0), "{}", text(&out));
    let help = String::from_utf8_lossy(&out.stdout);
    assert!(help.contains("Usage: knock [OPTIONS] <HOST> <PORT[:PROTO]>..."), "{help}");
    assert!(!help.contains("knock knock"), "{help}");
    // A missing port is still invalid input (2), and clap's usage names `knock`.
    let out = link.run(&["127.0.0.1"]);
    assert_eq!(out.status.code(), Some(2), "{}", text(&out));
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(stderr.contains("Usage: knock <HOST>") && !stderr.contains("knock knock"), "{}", text(&out));
}

#[test]
fn its_own_errors_start_with_knock() {
    let link = Link::new("errors");
    let out = link.run(&["127.0.0.1", "7000:foo"]);
    assert_eq!(out.status.code(), Some(2), "{}", text(&out));
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(stderr.starts_with("knock: ") && stderr.contains("7000:foo"), "{}", text(&out));
    // knock-cli itself keeps its name.
    let out = Command::new(env!("CARGO_BIN_EXE_knock-cli"))
        .args(["knock", "127.0.0.1", "7000:foo"])
        .stdin(Stdio::null())
        .output()
        .expect("knock-cli runs");
    assert!(String::from_utf8_lossy(&out.stderr).starts_with("knock-cli: "), "{}", text(&out));
}

#[test]
fn dash_u_makes_every_hit_udp_as_knock1_does() {
    let link = Link::new("udp");
    let out = link.run(&["--json", "-u", "127.0.0.1", "7000", "8000:tcp"]);
    assert_eq!(out.status.code(), Some(0), "{}", text(&out));
    let json: serde_json::Value = serde_json::from_slice(&out.stdout).expect("one JSON document");
    assert_eq!(json["hits"][0]["protocol"], "udp", "{json:#}");
    assert_eq!(json["hits"][1]["protocol"], "udp", "-u: 8000:tcp goes as UDP, as knock(1) sends it: {json:#}");
    // knock-cli knock: an explicit :tcp wins over -u (documented difference of knock-cli's own syntax).
    let out = Command::new(env!("CARGO_BIN_EXE_knock-cli"))
        .args(["knock", "--json", "-u", "--method", "connect", "127.0.0.1", "7000", "8000:tcp"])
        .stdin(Stdio::null())
        .output()
        .expect("knock-cli runs");
    let json: serde_json::Value = serde_json::from_slice(&out.stdout).expect("one JSON document");
    assert_eq!(json["hits"][1]["protocol"], "tcp", "{json:#}");
}
