//! Every command example in the user documentation runs in CI (issue 23, item 15).
//!
//! The examples are read from the code blocks of README.md and the user pages of docs/ (a line that
//! starts with `knock-cli`, `knock`, `knock-server`, `ssh`, `sudo`, `cargo`, `export` or `printf`, after a
//! `$ ` prompt, a YAML `- ` or `run: ` is stripped; `\` continues a line; a `  # comment` is dropped).
//! [`EXAMPLES`] says how each one runs:
//! - `Offline`: in [`the_offline_examples_run_as_documented`], in a scratch directory, exit status 0;
//! - `Lab`: in [`the_quick_start_and_the_ci_recipes_run_in_the_lab_twice`]: `bastion.example.org`
//!   resolves to a lab server whose knock-server gates port 22 behind 7000,8000,9000, with a real sshd;
//! - `By(file, test)`: a lab test that runs that command against the real server it needs (fwknopd,
//!   knock-server, a keyring), checked to exist;
//! - `Synopsis`: a grammar or placeholder line (`HOST`, `...`), not a command.
//!
//! A new example that is in no list fails [`every_command_in_the_user_docs_is_run_somewhere`], and so
//! does a listed one the docs no longer show. Documented JSON documents are compared, key for key, with
//! what the same commands print ([`the_documented_json_has_the_keys_knock_cli_prints`]).
//!
//! Substitutions, and why: `/etc/knockd.conf` and `/etc/fwknop/access.conf` are files of the scratch directory (nothing outside the test
//! changes); the CI recipes' `deploy@` user and `./deploy.sh` become `root@` and `echo deployed` (the lab's
//! sshd lets root in with the lab's key, which the client namespace's ssh_config names).

#![cfg(target_os = "linux")] // the namespace lab is Linux-only (see knock_e2e's crate docs)

use std::collections::BTreeSet;
use std::net::IpAddr;
use std::path::{Path, PathBuf};
use std::process::{Command, Output};

use knock_e2e::bins::knock_cli_path;
use knock_e2e::knock_server::knock_server_path;
use knock_e2e::{Lab, text};

#[derive(Debug, Clone, Copy, PartialEq)]
enum How {
    Offline,
    Lab,
    By(&'static str, &'static str),
    Synopsis,
}

use How::{By, Lab as InLab, Offline, Synopsis};

/// Every example line of the user docs (as extracted, comments dropped) and how it runs.
const EXAMPLES: &[(&str, How)] = &[
    // README.md
    ("cargo run --release -p client-cli -- knock -v HOST 7000 8000 9000:udp", Synopsis),
    ("sudo scripts/test-all.sh", By(".ci/run", "scripts/test-all.sh")),
    ("knock-cli knock -v bastion.example.org 7000 8000 9000:udp", InLab),
    (
        "knock-cli profile add bastion --host bastion.example.org --open 7000,8000,9000 --close 9000,8000,7000 --verify-port 22",
        InLab,
    ),
    ("knock-cli open bastion", InLab),
    ("knock-cli ssh bastion", InLab),
    ("knock-cli close bastion", InLab),
    ("knock-cli doctor bastion", InLab),
    ("knock-server --check -c /etc/knockd.conf", Offline),
    ("sudo knock-server -c /etc/knockd.conf -i eth0", By("tests/tests/server.rs", "knock_ipv4_opens")),
    (
        "knock-server --read capture.pcap --dry-run -c /etc/knockd.conf",
        By("tests/tests/server_state.rs", "a_used_one_time_sequence_stays_refused_however_the_config_path_is_spelled"),
    ),
    ("knock-server new-sequence", Offline),
    (
        "knock-server rotating keygen -c /etc/knockd.conf ssh alice --host bastion.example.org --verify-port 22 --out alice.uri",
        Offline,
    ),
    (
        "knock-cli --profiles-dir .knock profile add bastion --replace --host bastion.example.org --open-env BASTION_SEQUENCE --verify-port 22 --attempts 3",
        InLab,
    ),
    ("knock-cli --profiles-dir .knock open bastion --quiet", InLab),
    ("ssh deploy@bastion.example.org ./deploy.sh", InLab),
    // docs/ci.md (GitLab)
    (
        "knock-cli --profiles-dir .knock profile add bastion --replace --host \"$BASTION_HOST\" --open-env BASTION_SEQUENCE --verify-port 22",
        InLab,
    ),
    ("knock-cli --profiles-dir .knock open bastion --json > knock.json || { cat knock.json; exit 1; }", InLab),
    ("ssh deploy@\"$BASTION_HOST\" ./deploy.sh", InLab),
    // docs/cli.md
    ("knock-cli knock [OPTIONS] HOST PORT[:PROTO]...", Synopsis),
    (
        "knock-cli profile add bastion --host bastion.example.org --open 7000,8000,9000 --close 9000,8000,7000 --verify-port 22 --tag prod",
        Offline,
    ),
    ("knock-cli profile edit bastion --delay 50 --attempts 5", Offline),
    ("knock-cli profile list [--json]", Offline),
    ("knock-cli profile show bastion [--json]", Offline),
    ("knock-cli profile rename bastion jump && knock-cli profile rm jump", Offline),
    ("knock-cli profile import /etc/knockd.conf --host bastion.example.org", Offline),
    ("knock-cli open --group prod", InLab),
    ("knock-cli open --profile-file ci/bastion.toml", InLab),
    ("knock-cli profile add bastion --replace ...", Synopsis),
    ("knock-cli completions bash > /etc/bash_completion.d/knock-cli", Offline),
    ("knock-cli ssh bastion -- -l deploy uptime", InLab),
    // docs/doctor.md
    (
        "knock-cli doctor fw",
        By("tests/tests/doctor_clock.rs", "a_clock_beyond_fwknopds_window_is_warned_about_with_how_far"),
    ),
    // docs/rotating-sequences.md
    (
        "printf 'knock-rotating-v1\\0ssh\\0\\0\\0\\0\\0\\003\\223\\207\\000\\0\\0\\0\\0' | openssl dgst -sha256 -mac HMAC -macopt hexkey:$(echo JBSWY3DPEHPK3PXPJBSWY3DPEHPK3PXP | base32 -d | xxd -p)",
        Offline,
    ),
    (
        "knock-cli profile import-uri - --name bastion < alice.uri",
        By("tests/tests/spa.rs", "a_rotating_provisioning_uri_imports_with_its_key_in_a_real_keyring"),
    ),
    (
        "knock bastion.example.org $(knock-cli rotating now bastion --reveal)",
        By("tests/tests/rotating_client.rs", "a_rotating_profile_knocks_this_windows_sequence_and_never_a_spent_one"),
    ),
    // docs/spa.md
    ("knock-cli spa keygen", Offline),
    ("knock-cli profile add fw --spa --host fw.example.org --access tcp/22 --verify-port 22", Offline),
    ("export KNOCK_SPA_KEY_BASE64_FW=... KNOCK_SPA_HMAC_KEY_BASE64_FW=...", Synopsis),
    ("knock-cli open fw", By("tests/tests/spa.rs", "spa_opens_a_cmd_cycle_door_of_a_real_fwknopd_twice_in_a_row")),
    // docs/spa-server.md (the lab tests give the access.conf as `Fwknop_Access` in the config, the same
    // setting as --fwknop-access)
    ("knock-server --fwknop-access /etc/fwknop/access.conf --fwknop-nft-set \"inet knock spa4\" --check", Offline),
    (
        "knock-server --fwknop-access /etc/fwknop/access.conf --fwknopd-conf /etc/fwknop/fwknopd.conf --fwknop-nft-set \"inet knock spa4\" --fwknop-nft-set-6 \"inet knock spa6\" --state-dir /var/lib/knock-server -i eth0",
        By("tests/tests/server_spa.rs", "knock_cli_opens_over_ipv6_with_the_packets_source"),
    ),
    (
        "knock-server -c /etc/knock-server.conf --fwknop-nft-set \"inet knock spa4\" --state-dir /var/lib/knock-server",
        By(
            "tests/tests/server_spa.rs",
            "the_real_fwknop_client_opens_the_nft_door_with_each_hmac_type_and_a_replay_is_refused_even_after_a_restart",
        ),
    ),
    (
        "knock-server --fwknop-access /etc/fwknop/access.conf --read capture.pcap --dry-run",
        By(
            "tests/tests/server_spa.rs",
            "an_offline_replay_of_a_pcap_opens_once_and_refuses_forgeries_replays_and_stale_packets",
        ),
    ),
];

/// The pages a user reads (the others are for maintainers: architecture, testing, performance, specs).
const USER_DOCS: &[&str] = &[
    "README.md",
    "docs/cli.md",
    "docs/ci.md",
    "docs/json.md",
    "docs/doctor.md",
    "docs/spa.md",
    "docs/rotating-sequences.md",
    "docs/server.md",
    "docs/spa-server.md",
    "docs/choosing.md",
    "docs/gui.md",
    "docs/platforms.md",
];

const COMMANDS: &[&str] = &["knock-cli", "knock", "knock-server", "ssh", "sudo", "cargo", "export", "printf"];

fn repo() -> &'static Path {
    Path::new(env!("CARGO_MANIFEST_DIR")).parent().expect("repository root")
}

/// (file, line, example) for every command line in the code blocks of `file`.
fn examples_of(file: &str) -> Vec<(String, usize, String)> {
    let text = std::fs::read_to_string(repo().join(file)).unwrap_or_else(|e| panic!("{file}: {e}"));
    let mut found = Vec::new();
    let (mut in_block, mut pending, mut start) = (false, String::new(), 0);
    for (index, raw) in text.lines().enumerate() {
        if raw.trim_start().starts_with("```") {
            in_block = !in_block;
            continue;
        }
        if !in_block {
            continue;
        }
        let mut line = raw.trim();
        line = line.strip_prefix("$ ").unwrap_or(line);
        line = line.strip_prefix("- ").unwrap_or(line);
        line = line.strip_prefix("run: ").filter(|rest| *rest != "|").unwrap_or(line);
        let line = line.split("  #").next().unwrap_or(line).trim_end();
        if pending.is_empty() {
            start = index + 1;
        }
        let joined = if pending.is_empty() { line.to_owned() } else { format!("{pending} {}", line.trim_start()) };
        if let Some(open) = joined.strip_suffix('\\') {
            pending = open.trim_end().to_owned();
            continue;
        }
        let is_command = COMMANDS.contains(&joined.split_whitespace().next().unwrap_or_default());
        if is_command && joined.ends_with('|') {
            pending = joined;
            continue;
        }
        pending.clear();
        let normalised = joined.split_whitespace().collect::<Vec<_>>().join(" ");
        if COMMANDS.contains(&normalised.split(' ').next().unwrap_or_default()) {
            found.push((file.to_owned(), start, normalised));
        }
    }
    found
}

fn all_examples() -> Vec<(String, usize, String)> {
    USER_DOCS.iter().flat_map(|file| examples_of(file)).collect()
}

fn how(example: &str) -> Option<How> {
    EXAMPLES.iter().find(|(text, _)| *text == example).map(|(_, how)| *how)
}

#[test]
fn every_command_in_the_user_docs_is_run_somewhere() {
    let examples = all_examples();
    assert!(examples.len() >= 30, "only {} examples found: is the extraction broken?", examples.len());
    let mut missing = Vec::new();
    for (file, line, example) in &examples {
        if how(example).is_none() {
            missing.push(format!("{file}:{line}: {example}"));
        }
    }
    assert!(missing.is_empty(), "examples no test runs (add them to EXAMPLES):\n{}", missing.join("\n"));
    for (example, how) in EXAMPLES {
        assert!(examples.iter().any(|(_, _, e)| e == example), "EXAMPLES lists `{example}`, which no user doc shows");
        if let By(file, test) = how {
            let source = std::fs::read_to_string(repo().join(file)).unwrap_or_else(|e| panic!("{file}: {e}"));
            let named = if file.ends_with(".rs") { format!("fn {test}(") } else { (*test).to_owned() };
            assert!(source.contains(&named), "`{example}` is said to be run by {file}::{test}, which does not exist");
        }
    }
}

/// Runs `line` with `sh -c` in `dir`, the workspace's knock-cli and knock-server first on PATH.
fn shell(dir: &Path, bin_dir: &Path, line: &str) -> Output {
    Command::new("sh")
        .args(["-c", line])
        .current_dir(dir)
        .env("PATH", format!("{}:{}", bin_dir.display(), std::env::var("PATH").unwrap_or_default()))
        .env("XDG_CONFIG_HOME", dir.join("config"))
        .env_remove("KNOCK_PROFILES_DIR")
        .env_remove("DBUS_SESSION_BUS_ADDRESS")
        .output()
        .expect("sh runs")
}

/// A directory holding `knock-cli`, `knock` and `knock-server` links to the workspace's binaries.
fn bin_dir(under: &Path) -> PathBuf {
    let dir = under.join("bin");
    std::fs::create_dir_all(&dir).expect("bin dir");
    let server = knock_server_path().expect("knock-server built");
    for (name, target) in [("knock-cli", knock_cli_path()), ("knock", knock_cli_path()), ("knock-server", server)] {
        std::os::unix::fs::symlink(target, dir.join(name)).expect("link");
    }
    dir
}

/// `knock-cli profile list [--json]` runs as both forms.
fn expand_optional(example: &str) -> Vec<String> {
    match (example.find(" ["), example.find(']')) {
        (Some(open), Some(close)) if close > open && !example.starts_with("printf") => {
            let inner = &example[open + 2..close];
            let rest = &example[close + 1..];
            vec![format!("{}{rest}", &example[..open]), format!("{} {inner}{rest}", &example[..open])]
        }
        _ => vec![example.to_owned()],
    }
}

#[test]
fn the_offline_examples_run_as_documented() {
    let scratch = tempfile::tempdir().expect("tempdir");
    let bin = bin_dir(scratch.path());
    for file in USER_DOCS {
        let dir = scratch.path().join(file.replace('/', "_"));
        std::fs::create_dir_all(&dir).expect("dir");
        // The knockd.conf the examples name: a door pair for `profile import`, a rotating door `ssh` for
        // `rotating keygen`, and nothing --check refuses.
        std::fs::write(
            dir.join("knockd.conf"),
            "[openSSH]\n  sequence = 3157,2241:udp,6093\n  seq_timeout = 10\n  tcpflags = syn\n  \
             start_command = /bin/true %IP%\n  cmd_timeout = 10\n  stop_command = /bin/true %IP%\n\
             [closeSSH]\n  sequence = 6093,2241:udp,3157\n  seq_timeout = 10\n  tcpflags = syn\n  \
             start_command = /bin/true %IP%\n\
             [ssh]\n  rotating_keys = ssh.keys\n  seq_timeout = 10\n  tcpflags = syn\n  start_command = /bin/true %IP%\n",
        )
        .expect("knockd.conf");
        // The rotating door's key file (0600), with one user; `rotating keygen` adds alice.
        let keys = dir.join("ssh.keys");
        std::fs::write(&keys, "bob JBSWY3DPEHPK3PXPJBSWY3DPEHPK3PXP\n").expect("ssh.keys");
        std::fs::set_permissions(&keys, std::os::unix::fs::PermissionsExt::from_mode(0o600)).expect("chmod");
        // An fwknopd access.conf (0600, as fwknopd wants it) with one stanza.
        let access = dir.join("access.conf");
        std::fs::write(
            &access,
            "SOURCE ANY\nOPEN_PORTS tcp/22\nKEY_BASE64 wDqz5PFLxNI4rhV6wYfphcP7HHWEJiOPeLeHGx7HbiE=\n\
             HMAC_KEY_BASE64 ifYuuTlaZcMBvVNKbATqjmgwL/3E3Mk/PuOeLVFRxsqMd1P9WT9PmnNZuD0ZXxvnQsjWqs+QHMoF2vL0ecMFKQ==\n",
        )
        .expect("access.conf");
        std::fs::set_permissions(&access, std::os::unix::fs::PermissionsExt::from_mode(0o600)).expect("chmod");
        for (_, line, example) in examples_of(file) {
            if how(&example) != Some(Offline) {
                continue;
            }
            for command in expand_optional(&example) {
                let command = command
                    .replace("/etc/knockd.conf", "knockd.conf")
                    .replace("/etc/fwknop/access.conf", "access.conf")
                    .replace("/etc/bash_completion.d/knock-cli", "knock-cli.bash");
                let out = shell(&dir, &bin, &command);
                assert_eq!(out.status.code(), Some(0), "{file}:{line}: `{command}`\n{}", text(&out));
                check_output(&dir, &command, &out);
            }
        }
    }
}

/// What the offline examples must have done, beyond exiting 0.
fn check_output(dir: &Path, command: &str, out: &Output) {
    let stdout = String::from_utf8_lossy(&out.stdout);
    if command.starts_with("printf 'knock-rotating-v1") {
        // The same HMAC from Python's standard library: the documented pipeline computes block 0.
        let python = Command::new("python3")
            .args([
                "-c",
                "import base64,hashlib,hmac;k=base64.b32decode('JBSWY3DPEHPK3PXPJBSWY3DPEHPK3PXP');\
                 m=b'knock-rotating-v1\\0ssh\\0'+(60000000).to_bytes(8,'big')+(0).to_bytes(4,'big');\
                 print(hmac.new(k,m,hashlib.sha256).hexdigest())",
            ])
            .output()
            .expect("python3");
        let expected = String::from_utf8_lossy(&python.stdout).trim().to_owned();
        assert!(expected.len() == 64 && stdout.contains(&expected), "openssl printed {stdout}, python {expected}");
    } else if command.starts_with("knock-cli completions bash") {
        let script = std::fs::read_to_string(dir.join("knock-cli.bash")).expect("script written");
        assert!(script.contains("knock-cli"), "{script}");
    } else if command.starts_with("knock-server rotating keygen") {
        let uri = std::fs::read_to_string(dir.join("alice.uri")).expect("alice.uri written");
        assert!(uri.starts_with("knock+rotating://bastion.example.org/ssh?") && uri.contains("verify=22"), "{uri}");
    } else if command == "knock-cli profile list" {
        assert!(stdout.contains("bastion") && !stdout.contains("7000"), "{stdout}");
    } else if command.starts_with("knock-cli profile import") {
        assert!(dir.join("config/knock/profiles/ssh.toml").is_file(), "{stdout}");
    } else if command == "knock-server new-sequence" {
        assert!(stdout.trim().split(',').count() >= 3, "{stdout}");
    }
}

/// The lab of the quick start: bastion.example.org is the server; knock-server gates port 22 behind
/// 7000,8000,9000 (closed by 9000,8000,7000); sshd listens on 22; the client's ssh logs in as root with
/// the lab's key (an ssh_config in the client namespace's /etc).
struct QuickStartLab {
    lab: Lab,
    _server: knock_e2e::KnockServer,
    _sshd: knock_e2e::Sshd,
    _hosts: knock_e2e::lab_hosts::ClientHosts,
    bin: PathBuf,
}

fn quick_start_lab(name: &str) -> Option<QuickStartLab> {
    let lab = Lab::for_test(name)?;
    lab.server_gate_tcp_port(22).expect("gate");
    let door = |name: &str, sequence: &str, v4: String, v6: String| {
        format!(
            "[{name}]\n  Sequence = {sequence}\n  Seq_Timeout = 10\n  TCPFlags = syn\n  \
             Start_Command = {v4}\n  Start_Command_6 = {v6}\n"
        )
    };
    let config = door("openSSH", "7000,8000,9000", Lab::gate_open_command(22), Lab::gate_open_command_v6(22))
        + &door("closeSSH", "9000,8000,7000", Lab::gate_close_command(22), Lab::gate_close_command_v6(22));
    let server = lab.start_knock_server(&config, &[]).expect("knock-server starts");
    let sshd = lab.start_sshd(22).expect("sshd");
    let hosts = lab.client_hosts_entry("bastion.example.org", &[IpAddr::V4(lab.server_v4())]).expect("hosts");
    // `ip netns exec` bind-mounts /etc/netns/NS/ssh over /etc/ssh for the commands it runs.
    let ssh_dir = PathBuf::from("/etc/netns").join(lab.client_ns()).join("ssh");
    std::fs::create_dir_all(&ssh_dir).expect("ssh dir");
    let options = sshd.client_options();
    let mut config = String::from("Host *\n");
    for pair in options.chunks(2) {
        match pair {
            [flag, value] if flag == "-o" => config.push_str(&format!("    {}\n", value.replacen('=', " ", 1))),
            [flag, value] if flag == "-i" => config.push_str(&format!("    IdentityFile {value}\n")),
            [flag, value] if flag == "-l" => config.push_str(&format!("    User {value}\n")),
            _ => {}
        }
    }
    std::fs::write(ssh_dir.join("ssh_config"), config).expect("ssh_config");
    let bin = bin_dir(lab.dir());
    Some(QuickStartLab { lab, _server: server, _sshd: sshd, _hosts: hosts, bin })
}

impl QuickStartLab {
    /// Runs `line` with `sh -c` in the client namespace, in `dir`, as the docs show it (after the
    /// substitutions of the module docs).
    fn run(&self, dir: &Path, line: &str, env: &[(&str, &str)]) -> Output {
        let line =
            line.replace("deploy@", "root@").replace("./deploy.sh", "echo deployed").replace("-l deploy", "-l root");
        let mut command = self.lab.client_cmd("sh");
        command
            .args(["-c", &line])
            .current_dir(dir)
            .env("PATH", format!("{}:{}", self.bin.display(), std::env::var("PATH").unwrap_or_default()))
            .env("XDG_CONFIG_HOME", dir.join("config"))
            .env_remove("KNOCK_PROFILES_DIR")
            .env_remove("DBUS_SESSION_BUS_ADDRESS");
        for (key, value) in env {
            command.env(key, value);
        }
        command.output().expect("sh runs in the client namespace")
    }

    fn door_open(&self) -> bool {
        self.lab.server_accept_rules(22) > 0
    }
}

fn assert_ran(out: &Output, context: &str) {
    assert_eq!(out.status.code(), Some(0), "{context}\n{}", text(out));
}

#[test]
fn the_quick_start_and_the_ci_recipes_run_in_the_lab_twice() {
    let Some(lab) = quick_start_lab("doc_examples_quick_start") else {
        return;
    };
    let examples = all_examples();
    let lab_lines = |file: &str, from: usize, to: usize| -> Vec<String> {
        examples
            .iter()
            .filter(|(f, line, e)| f == file && (from..=to).contains(line) && how(e) == Some(InLab))
            .map(|(_, _, e)| e.clone())
            .collect()
    };
    // The README's quick start, in its order: knock, add, open, ssh, close, doctor.
    let home = lab.lab.dir().join("user");
    std::fs::create_dir_all(&home).expect("home");
    let quick_start = lab_lines("README.md", 1, 100);
    assert_eq!(quick_start.len(), 6, "{quick_start:?}");
    for line in &quick_start {
        let out = lab.run(&home, line, &[]);
        assert_ran(&out, &format!("README: `{line}`"));
        if line == "knock-cli open bastion" {
            assert!(lab.door_open(), "after `{line}` the door is open");
        }
        if line == "knock-cli ssh bastion" {
            assert!(lab.door_open());
        }
    }
    // docs/cli.md's ssh with arguments, --group and --profile-file.
    std::fs::create_dir_all(home.join("ci")).expect("ci dir");
    std::fs::write(
        home.join("ci/bastion.toml"),
        "host = \"bastion.example.org\"\nopen = \"7000,8000,9000\"\n\n[verify]\nport = 22\n",
    )
    .expect("profile file");
    let out = lab.run(&home, "knock-cli profile edit bastion --tag prod", &[]);
    assert_ran(&out, "tagging bastion");
    for line in lab_lines("docs/cli.md", 60, 200) {
        let out = lab.run(&home, &line, &[]);
        assert_ran(&out, &format!("docs/cli.md: `{line}`"));
        if line.contains("uptime") {
            assert!(String::from_utf8_lossy(&out.stdout).contains("load average"), "{}", text(&out));
        }
    }
    // The CI recipes, each run twice in the same workspace (a CI runner that keeps it).
    for (file, from, to, env) in [
        ("README.md", 100, 200, vec![("BASTION_SEQUENCE", "7000,8000,9000")]),
        ("docs/ci.md", 1, 24, vec![("BASTION_SEQUENCE", "7000,8000,9000")]),
        ("docs/ci.md", 25, 40, vec![("BASTION_SEQUENCE", "7000,8000,9000"), ("BASTION_HOST", "bastion.example.org")]),
    ] {
        let recipe = lab_lines(file, from, to);
        assert_eq!(recipe.len(), 3, "{file}: {recipe:?}");
        let workspace = lab.lab.dir().join(format!("ws-{}-{from}", file.replace('/', "_")));
        std::fs::create_dir_all(&workspace).expect("workspace");
        for run in 1..=2 {
            // Closed before each run, so every run has to knock (each opening added one rule). The
            // previous run's ssh connected to port 22 while the open knock's last hit (9000) had begun an
            // attempt of the close door 9000,8000,7000: the sweep guard ended it and holds that door for
            // Sweep_Penalty (2 s), so a close knock sent at once starts nothing; the next one closes.
            for _ in 0..5 {
                if !lab.door_open() {
                    break;
                }
                std::thread::sleep(std::time::Duration::from_millis(2100));
                assert_ran(&lab.run(&home, "knock-cli close bastion", &[]), "closing");
            }
            assert!(!lab.door_open(), "the door is closed before {file} run {run}");
            for line in &recipe {
                let out = lab.run(&workspace, line, &env);
                assert_ran(&out, &format!("{file} run {run}: `{line}`"));
                if line.starts_with("ssh ") {
                    assert!(String::from_utf8_lossy(&out.stdout).contains("deployed"), "{}", text(&out));
                }
            }
        }
    }
}

/// The keys of a JSON value, recursively, as paths (`profiles[].attempts[].verify.port`); an object
/// shown as `{"...": ...}` in the docs stands for a document described elsewhere and is not descended.
fn key_paths(value: &serde_json::Value, prefix: &str, into: &mut BTreeSet<String>) {
    match value {
        serde_json::Value::Object(map) if map.contains_key("...") => {}
        serde_json::Value::Object(map) => {
            for (key, inner) in map {
                let path = format!("{prefix}.{key}");
                into.insert(path.clone());
                key_paths(inner, &path, into);
            }
        }
        serde_json::Value::Array(items) => {
            for item in items {
                key_paths(item, &format!("{prefix}[]"), into);
            }
        }
        _ => {}
    }
}

fn json_blocks(file: &str) -> Vec<serde_json::Value> {
    let text = std::fs::read_to_string(repo().join(file)).expect("doc");
    text.split("```json\n")
        .skip(1)
        .filter_map(|block| block.split("```").next())
        .map(|block| serde_json::from_str(block).unwrap_or_else(|e| panic!("{file}: a JSON block does not parse: {e}")))
        .collect()
}

#[test]
fn the_documented_json_has_the_keys_knock_cli_prints() {
    let Some(lab) = quick_start_lab("doc_examples_json") else {
        return;
    };
    let documented = json_blocks("docs/json.md");
    assert_eq!(documented.len(), 2, "docs/json.md: the knock and the open document");
    let home = lab.lab.dir().join("user");
    std::fs::create_dir_all(&home).expect("home");
    let add = "knock-cli profile add bastion --host bastion.example.org --open 7000,8000,9000 --verify-port 22";
    assert_ran(&lab.run(&home, add, &[]), add);
    for (document, line) in documented
        .iter()
        .zip(["knock-cli knock --json bastion.example.org 7000 7001:udp", "knock-cli open bastion --json --force"])
    {
        let out = lab.run(&home, line, &[]);
        assert_ran(&out, line);
        let printed: serde_json::Value = serde_json::from_slice(&out.stdout).expect("one JSON document");
        let (mut want, mut got) = (BTreeSet::new(), BTreeSet::new());
        key_paths(document, "", &mut want);
        key_paths(&printed, "", &mut got);
        let missing: Vec<_> = want.difference(&got).collect();
        assert!(missing.is_empty(), "`{line}` no longer prints the documented {missing:?}:\n{printed:#}");
        // Keys printed but not documented: only inside a part the docs elide, or the documented top level.
        let undocumented: Vec<_> =
            got.difference(&want).filter(|path| !path.starts_with(".profiles[].attempts[].knock")).collect();
        assert!(undocumented.is_empty(), "docs/json.md does not show {undocumented:?} that `{line}` prints");
    }
}
