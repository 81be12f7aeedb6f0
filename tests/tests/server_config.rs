//! `knock-server --check` on knockd.conf files as knockd accepts them (issue 16): a second `[options]`
//! is merged and two doors may share a name (both with a warning), and a LogFile the server could not
//! open is reported as what will stop it. Runs the built binary; needs no namespace.
#![cfg(target_os = "linux")]

use std::process::Output;

use knock_e2e::knock_server::knock_server_path;

fn check(text: &str) -> (Output, String) {
    let dir = tempfile::tempdir().expect("dir");
    let conf = dir.path().join("knockd.conf");
    std::fs::write(&conf, text.replace("DIR", &dir.path().display().to_string())).expect("write");
    let binary = knock_server_path().unwrap_or_else(|e| panic!("{e}"));
    let out = std::process::Command::new(binary).arg("--check").arg("-c").arg(&conf).output().expect("runs");
    let text = format!("{}{}", String::from_utf8_lossy(&out.stdout), String::from_utf8_lossy(&out.stderr));
    (out, text)
}

const DOOR: &str = "  Seq_Timeout = 5\n  TCPFlags = syn\n  Start_Command = true\n";

#[test]
fn a_second_options_section_and_a_repeated_door_name_pass_with_warnings() {
    let (out, text) = check(&format!(
        "[options]\n  LogFile = DIR/a.log\n[ssh]\n  Sequence = 8000,7000,9000\n{DOOR}[options]\n  UseSyslog\n\
         [ssh]\n  Sequence = 6000,5000,6100\n{DOOR}"
    ));
    assert!(out.status.success(), "{text}");
    assert!(text.contains(":8: [options]: warning: a second [options] section: merged"), "{text}");
    assert!(text.contains(":10: [ssh]: warning: a door named [ssh] is already defined at line 3"), "{text}");
    assert!(text.contains("2 door(s)"), "{text}");
}

#[test]
fn a_log_file_that_cannot_be_opened_is_an_error() {
    let (out, text) =
        check(&format!("[options]\n  LogFile = DIR/missing/knock.log\n[ssh]\n  Sequence = 8000,7000,9000\n{DOOR}"));
    assert_eq!(out.status.code(), Some(1), "{text}");
    assert!(text.contains("LogFile") && text.contains("does not exist") && text.contains("will not start"), "{text}");
}
