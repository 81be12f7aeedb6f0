//! knock-server's state and defaults (issue 21, section 3), by running the built binary: one-time
//! sequences stay used however `-c` is spelled (absolute, relative, through a symlinked directory) and a
//! repeated line opens once; `--check` reads the One_Time_Sequences file, counts every warning it prints
//! and refuses the published sample sequences, and `new-sequence` makes one it accepts; `rotating keygen`
//! never prints the key where the shell's umask decides who reads it; started as root, knock-server runs
//! as the system user `knock-server`; a failing nft update logs nft's reason. Offline replays and
//! `--check` need no namespace; the read-only mount, the system user and the live tests need root.

#![cfg(target_os = "linux")]

use std::fs;
use std::os::unix::fs::PermissionsExt;
use std::path::{Path, PathBuf};
use std::process::{Command, Output};
use std::time::Duration;

use knock_e2e::knock_server::knock_server_path;
use knock_e2e::{PCAP_MACS, PcapWriter, lab_or_skip, syn_frame, text, wait_until};

const OPEN_WAIT: Duration = Duration::from_secs(5);
const OPEN: &str = "otp: OPEN SESAME";

fn knock_server(args: &[&str], cwd: Option<&Path>) -> Output {
    let mut cmd = Command::new(knock_server_path().unwrap_or_else(|e| panic!("{e}")));
    cmd.args(args);
    if let Some(dir) = cwd {
        cmd.current_dir(dir);
    }
    cmd.output().expect("knock-server runs")
}

/// A pcap of one source knocking each of `sequences` (TCP SYNs), a second apart.
fn knocks(path: &Path, sequences: &[&[u16]]) {
    let mut pcap = PcapWriter::create(path).unwrap_or_else(|e| panic!("{e}"));
    let mut ts = Duration::from_secs(1_700_000_000);
    for sequence in sequences {
        for port in *sequence {
            pcap.push(ts, &syn_frame(PCAP_MACS, [192, 0, 2, 1].into(), [192, 0, 2, 2].into(), *port));
            ts += Duration::from_millis(10);
        }
        ts += Duration::from_secs(1);
    }
    pcap.finish().unwrap_or_else(|e| panic!("{e}"));
}

const DOOR: &str = "  Seq_Timeout = 10\n  TCPFlags = syn\n  Start_Command = true\n";

/// A read-only bind mount of a directory, undone on drop.
struct ReadOnly(PathBuf);

impl ReadOnly {
    fn mount(dir: &Path) -> ReadOnly {
        let d = dir.display().to_string();
        let ok = |args: &[&str]| Command::new("mount").args(args).status().is_ok_and(|s| s.success());
        assert!(ok(&["--bind", &d, &d]) && ok(&["-o", "remount,bind,ro", &d]), "cannot make {d} read-only");
        ReadOnly(dir.to_owned())
    }
}

impl Drop for ReadOnly {
    fn drop(&mut self) {
        let _ = Command::new("umount").arg(&self.0).status();
    }
}

// ---- one-time sequences ---------------------------------------------------------------------------------

#[test]
fn a_used_one_time_sequence_stays_refused_however_the_config_path_is_spelled() {
    // The sequence file cannot be written (read-only mount), so only the state file keeps the used
    // sequence refused; the door's file is named relative to the config, so its spelling follows -c's.
    let lab = lab_or_skip!();
    let real = lab.dir().join("real");
    let ro = real.join("ro");
    fs::create_dir_all(&ro).expect("dirs");
    std::os::unix::fs::symlink(&real, lab.dir().join("link")).expect("symlink");
    fs::write(ro.join("one-time"), "7000,8000,9000\n7100,8100,9100\n").expect("one-time file");
    fs::write(real.join("knock.conf"), format!("[otp]\n  One_Time_Sequences = ro/one-time\n{DOOR}")).expect("conf");
    let _read_only = ReadOnly::mount(&ro);
    let state = lab.dir().join("state");
    fs::create_dir(&state).expect("state dir");
    let state = state.display().to_string();
    let pcap = lab.dir().join("first.pcap");
    knocks(&pcap, &[&[7000, 8000, 9000]]);
    let pcap = pcap.display().to_string();
    let absolute = real.join("knock.conf").display().to_string();
    let through_link = lab.dir().join("link/knock.conf").display().to_string();
    for (n, (config, cwd)) in
        [(absolute.as_str(), None), ("knock.conf", Some(real.as_path())), (through_link.as_str(), None)]
            .into_iter()
            .enumerate()
    {
        let out = knock_server(&["-c", config, "--read", &pcap, "--dry-run", "--state-dir", &state], cwd);
        let log = text(&out);
        assert!(out.status.success(), "-c {config}: {log}");
        let opened = log.lines().filter(|l| l.contains(OPEN)).count();
        if n == 0 {
            assert_eq!(opened, 1, "the first run uses the sequence: {log}");
            assert!(log.contains("it stays refused (recorded in"), "{log}");
        } else {
            assert_eq!(opened, 0, "-c {config} (from {cwd:?}) opened a used sequence again: {log}");
        }
    }
    let recorded = fs::read_to_string(Path::new(&state).join("one-time-used")).expect("state file");
    assert_eq!(recorded.lines().count(), 1, "one entry, by the canonical path: {recorded}");
    assert!(recorded.starts_with(&format!("{}\t", fs::canonicalize(ro.join("one-time")).expect("canon").display())));
}

#[test]
fn a_repeated_one_time_line_opens_once_and_check_reports_it_and_a_bad_line() {
    let dir = tempfile::tempdir().expect("dir");
    let file = dir.path().join("one-time");
    fs::write(&file, "7000,8000,9000\n7100,8100,9100\n7000,8000,9000\n").expect("A,B,A");
    let conf = dir.path().join("knock.conf");
    fs::write(&conf, format!("[otp]\n  One_Time_Sequences = {}\n{DOOR}", file.display())).expect("conf");
    let conf = conf.display().to_string();
    let pcap = dir.path().join("abaa.pcap");
    knocks(&pcap, &[&[7000, 8000, 9000], &[7100, 8100, 9100], &[7000, 8000, 9000]]);
    let out = knock_server(&["-c", &conf, "--read", &pcap.display().to_string(), "--dry-run"], None);
    let log = text(&out);
    assert!(out.status.success(), "{log}");
    assert_eq!(log.lines().filter(|l| l.contains(OPEN)).count(), 2, "A and B open, A again does not: {log}");
    assert!(log.contains("no more sequences left"), "{log}");
    assert_eq!(fs::read_to_string(&file).expect("read"), "#7000,8000,9000\n#7100,8100,9100\n#7000,8000,9000\n");

    // --check reads the file: the repeat is a counted warning...
    fs::write(&file, "7000,8000,9000\n7100,8100,9100\n7000,8000,9000\n").expect("A,B,A");
    let out = knock_server(&["--check", "-c", &conf], None);
    let report = text(&out);
    assert!(out.status.success(), "{report}");
    let repeat = format!("{}:3: [otp]: warning: repeats the sequence of line 1", file.display());
    assert!(report.contains(&repeat), "{report}");
    assert!(report.contains("one-time door, 2 sequence(s)"), "{report}");
    assert_warnings_counted(&report);
    // ...and a bad line is the error that would stop the server (which refuses to start on it).
    fs::write(&file, "7000,8000,9000\n7100,99999,9100\n").expect("bad line");
    let out = knock_server(&["--check", "-c", &conf], None);
    let report = text(&out);
    assert_eq!(out.status.code(), Some(1), "{report}");
    assert!(report.contains(&format!("{}:2", file.display())) && report.contains("1 error(s)"), "{report}");
    let start = knock_server(&["-c", &conf, "--read", &pcap.display().to_string(), "--dry-run"], None);
    assert_eq!(start.status.code(), Some(2), "the server refuses it too: {}", text(&start));
}

/// The summary's `N warning(s)` is the number of `warning:` lines printed.
fn assert_warnings_counted(report: &str) {
    let printed = report.lines().filter(|l| l.contains(": warning: ")).count();
    assert!(report.contains(&format!("{printed} warning(s)")), "{printed} warnings printed:\n{report}");
}

// ---- --check -------------------------------------------------------------------------------------------

#[test]
fn check_counts_every_warning_it_prints() {
    // A set in a table that does not exist: "does not exist" as root, "cannot verify" otherwise; both
    // are warnings, and both are counted.
    let dir = tempfile::tempdir().expect("dir");
    let conf = dir.path().join("knock.conf");
    fs::write(&conf, format!("[nft]\n  Sequence = 8000,7000:udp,9000\n{DOOR}  Nft_Set = inet knock_e2e_none allow4\n"))
        .expect("conf");
    let out = knock_server(&["--check", "-c", &conf.display().to_string()], None);
    let report = text(&out);
    assert!(out.status.success(), "{report}");
    assert!(report.contains("nft set inet knock_e2e_none allow4"), "{report}");
    assert!(!report.contains(" 0 warning(s)"), "{report}");
    assert_warnings_counted(&report);
}

#[test]
fn check_refuses_the_published_sample_sequences_and_accepts_a_new_one() {
    let dir = tempfile::tempdir().expect("dir");
    let sample = Path::new(env!("CARGO_MANIFEST_DIR")).join("../server-mini/knock-server.conf.sample");
    let sample = fs::read_to_string(sample).expect("the sample config");
    let conf = dir.path().join("knock.conf");
    let conf_arg = conf.display().to_string();
    // As shipped: every door commented out, which the server refuses ("no doors"), saying what to do.
    fs::write(&conf, sample.replace("/var/log/knock-server/", &format!("{}/", dir.path().display()))).expect("conf");
    let out = knock_server(&["--check", "-c", &conf_arg], None);
    let report = text(&out);
    assert_eq!(out.status.code(), Some(2), "{report}");
    assert!(report.contains("no doors") && report.contains("knock-server new-sequence"), "{report}");
    // Its doors uncommented as they are: the published sequences are refused.
    let mut uncommented = String::new();
    let mut in_door = false;
    for line in sample.replace("/var/log/knock-server/", &format!("{}/", dir.path().display())).lines() {
        if line == "# [openSSH]" || line == "# [openSSHiptables]" {
            in_door = true;
        } else if line.trim().is_empty() {
            in_door = false;
        }
        let line = if in_door { line.trim_start_matches('#').trim_start_matches(' ') } else { line };
        uncommented.push_str(line);
        uncommented.push('\n');
    }
    fs::write(&conf, &uncommented).expect("conf");
    let out = knock_server(&["--check", "-c", &conf_arg], None);
    let report = text(&out);
    assert_eq!(out.status.code(), Some(1), "{report}\n{uncommented}");
    assert!(report.contains("[openSSH]: Sequence = 8471:tcp,2947:udp,6302:tcp is published"), "{report}");
    assert!(report.contains("[openSSHiptables]: Sequence = 5713:tcp,1389:udp,4426:tcp is published"), "{report}");
    // new-sequence: a random one, which --check accepts without a warning.
    let out = knock_server(&["new-sequence"], None);
    assert!(out.status.success(), "{}", text(&out));
    let sequence = String::from_utf8_lossy(&out.stdout).trim().to_owned();
    assert_eq!(sequence.split(',').count(), 4, "{sequence}");
    let again = String::from_utf8_lossy(&knock_server(&["new-sequence"], None).stdout).trim().to_owned();
    assert_ne!(sequence, again, "random");
    fs::write(&conf, format!("[ssh]\n  Sequence = {sequence}\n{DOOR}")).expect("conf");
    let out = knock_server(&["--check", "-c", &conf_arg], None);
    assert!(text(&out).contains("1 door(s), 0 warning(s), no errors"), "{}", text(&out));
    let long = knock_server(&["new-sequence", "--length", "33"], None);
    assert_eq!(long.status.code(), Some(2), "{}", text(&long));
}

// ---- rotating keygen -----------------------------------------------------------------------------------

#[test]
fn keygen_writes_the_uri_to_a_new_0600_file_and_refuses_a_pipe_without_stdout() {
    let dir = tempfile::tempdir().expect("dir");
    let conf = dir.path().join("knock.conf");
    fs::write(&conf, "[ssh]\n  Rotating_Keys = ssh.keys\n  Seq_Timeout = 10\n  TCPFlags = syn\n").expect("conf");
    let conf = conf.display().to_string();
    let keys = dir.path().join("ssh.keys");
    let keygen = |user: &str, extra: &[&str]| {
        let mut args = vec!["rotating", "keygen", "-c", &conf, "ssh", user, "--host", "bastion.example.org"];
        args.extend_from_slice(extra);
        knock_server(&args, Some(dir.path()))
    };
    // stdout is a pipe here (as `> alice.uri` is a file): refused, and nobody is added.
    let out = keygen("alice", &[]);
    assert_eq!(out.status.code(), Some(2), "{}", text(&out));
    assert!(text(&out).contains("--out FILE") && text(&out).contains("--stdout"), "{}", text(&out));
    assert!(out.stdout.is_empty() && !keys.exists(), "{}", text(&out));
    // --out: a new file, 0600, whatever the umask; the URI is nowhere else.
    let out = keygen("alice", &["--out", "alice.uri"]);
    assert!(out.status.success(), "{}", text(&out));
    assert!(out.stdout.is_empty(), "{}", text(&out));
    let uri = dir.path().join("alice.uri");
    assert_eq!(fs::metadata(&uri).expect("uri file").permissions().mode() & 0o777, 0o600);
    assert!(fs::read_to_string(&uri).expect("uri").starts_with("knock+rotating://bastion.example.org/ssh?"));
    // An existing --out file is refused before the user is added.
    let out = keygen("bob", &["--out", "alice.uri"]);
    assert_eq!(out.status.code(), Some(2), "{}", text(&out));
    assert!(text(&out).contains("--out alice.uri"), "{}", text(&out));
    assert!(!fs::read_to_string(&keys).expect("keys").contains("bob "), "bob was not added");
    // --stdout prints it anyway (for a pipe into knock-cli).
    let out = keygen("bob", &["--stdout"]);
    assert!(out.status.success(), "{}", text(&out));
    assert!(String::from_utf8_lossy(&out.stdout).starts_with("knock+rotating://"), "{}", text(&out));
}

#[test]
fn a_key_file_keygen_creates_as_root_belongs_to_its_directorys_owner() {
    use std::os::unix::fs::MetadataExt;
    if !rustix::process::geteuid().is_root() {
        return;
    }
    // As under the unit: the state directory is the service user's (nobody here), keygen runs as root.
    let dir = tempfile::tempdir().expect("dir");
    let state = dir.path().join("state");
    fs::create_dir(&state).expect("dir");
    std::os::unix::fs::chown(&state, Some(65534), Some(65534)).expect("chown");
    let conf = dir.path().join("knock.conf");
    fs::write(&conf, "[ssh]\n  Rotating_Keys = state/ssh.keys\n  Seq_Timeout = 10\n  TCPFlags = syn\n").expect("conf");
    let conf = conf.display().to_string();
    let args = ["rotating", "keygen", "-c", &conf, "ssh", "alice", "--host", "h.example.org", "--stdout"];
    let out = knock_server(&args, None);
    assert!(out.status.success(), "{}", text(&out));
    let meta = fs::metadata(state.join("ssh.keys")).expect("key file");
    assert_eq!((meta.uid(), meta.gid(), meta.mode() & 0o777), (65534, 65534, 0o600));
}

// ---- privileges ----------------------------------------------------------------------------------------

/// The system user `knock-server`, created for the test when missing and then removed again.
struct SystemUser {
    created: bool,
}

impl SystemUser {
    fn ensure() -> SystemUser {
        if user_exists() {
            return SystemUser { created: false };
        }
        let ok = Command::new("useradd")
            .args(["--system", "--no-create-home", "--shell", "/usr/sbin/nologin", "knock-server"])
            .status()
            .is_ok_and(|s| s.success());
        assert!(ok, "useradd --system knock-server failed");
        SystemUser { created: true }
    }
}

impl Drop for SystemUser {
    fn drop(&mut self) {
        if self.created {
            let _ = Command::new("userdel").arg("knock-server").status();
        }
    }
}

fn user_exists() -> bool {
    Command::new("getent").args(["passwd", "knock-server"]).output().is_ok_and(|o| o.status.success())
}

#[test]
fn started_as_root_it_runs_as_the_system_user_knock_server() {
    let lab = lab_or_skip!();
    let out_dir = tempfile::tempdir().expect("dir");
    fs::set_permissions(out_dir.path(), fs::Permissions::from_mode(0o1777)).expect("chmod");
    let whoami = out_dir.path().join("opened-by");
    let config = format!(
        "[d]\n  Sequence = 8000,7000:udp,9000\n{}  Start_Command = /bin/sh -c 'id -un > {}'\n",
        DOOR.replace("  Start_Command = true\n", ""),
        whoami.display()
    );
    if !user_exists() {
        // Without the user, it refuses to start rather than keep uid 0, and says what to do.
        let err = lab.start_knock_server_as_given(&config, &[]).expect_err("no user knock-server");
        let err = err.to_string();
        assert!(err.contains("useradd --system") && err.contains("--run-as-root"), "{err}");
    }
    let _user = SystemUser::ensure();
    let server = lab.start_knock_server_as_given(&config, &[]).unwrap_or_else(|e| panic!("{e}"));
    assert!(
        server.wait_for_log("privileges dropped: running as user knock-server", OPEN_WAIT),
        "{}",
        server.diagnostics()
    );
    let status = fs::read_to_string(format!("/proc/{}/status", server.pid())).expect("status");
    let uid = status.lines().find_map(|l| l.strip_prefix("Uid:")).unwrap_or_default().to_owned();
    assert!(!uid.split_whitespace().any(|u| u == "0"), "Uid: {uid}\n{}", server.diagnostics());
    let host = lab.server_v4().to_string();
    let out = lab.run_client("knock", [host.as_str(), "8000", "7000:udp", "9000"]).expect("knock");
    assert!(out.status.success(), "{}", text(&out));
    assert!(
        wait_until(OPEN_WAIT, || fs::read_to_string(&whoami).is_ok_and(|w| w.trim() == "knock-server")),
        "the door command did not run as knock-server: {:?}\n{}",
        fs::read_to_string(&whoami),
        server.diagnostics()
    );
    // A state directory that user cannot write is refused at start, before anything could be lost.
    let state = lab.dir().join("root-only-state");
    fs::create_dir(&state).expect("dir");
    fs::set_permissions(&state, fs::Permissions::from_mode(0o700)).expect("chmod");
    let err = lab
        .start_knock_server_as_given(&config, &["--state-dir", &state.display().to_string()])
        .expect_err("root-owned 0700 state dir");
    assert!(err.to_string().contains("user knock-server cannot write it"), "{err}");
}

// ---- nftables ------------------------------------------------------------------------------------------

#[test]
fn a_missing_nft_set_at_run_time_logs_nfts_reason() {
    let lab = lab_or_skip!();
    let config = format!("[nft]\n  Sequence = 8000,7000:udp,9000\n{DOOR}  Nft_Set = inet knock_e2e_none allow4\n")
        .replace("  Start_Command = true\n", "");
    let server = lab.start_knock_server(&config, &[]).unwrap_or_else(|e| panic!("{e}"));
    let host = lab.server_v4().to_string();
    let out = lab.run_client("knock", [host.as_str(), "8000", "7000:udp", "9000"]).expect("knock");
    assert!(out.status.success(), "{}", text(&out));
    assert!(server.wait_for_log("nft: OPEN SESAME", OPEN_WAIT), "{}", server.diagnostics());
    assert!(server.wait_for_log("No such file or directory", OPEN_WAIT), "nft's reason\n{}", server.diagnostics());
}
