//! Shell completion in the real shells: the script `knock-cli completions SHELL` prints is sourced by bash
//! and fish, which then complete `knock-cli open b<TAB>` to the saved profiles' names by calling the
//! binary back; zsh's script is checked by zsh and its request answered as zsh makes it. The `knock` link
//! (the knock(1) drop-in) completes its own options. Under CI=true a missing shell fails the test.

#![cfg(unix)] // the scripts are for Unix shells; the fixture links the binary with a Unix symlink

use std::path::{Path, PathBuf};
use std::process::Command;

const BIN: &str = env!("CARGO_BIN_EXE_knock-cli");

/// A profiles directory with bastion (tag prod), backup (tag prod, nightly) and web; and a directory on
/// PATH with `knock-cli` and a `knock` link to it.
struct Fixture {
    _dir: tempfile::TempDir,
    profiles: PathBuf,
    bin_dir: PathBuf,
}

fn fixture() -> Fixture {
    let dir = tempfile::tempdir().expect("tempdir");
    let profiles = dir.path().join("profiles");
    for (name, tags) in [("bastion", vec!["prod"]), ("backup", vec!["prod", "nightly"]), ("web", vec![])] {
        let mut add = Command::new(BIN);
        add.args(["--profiles-dir"]).arg(&profiles).args(["profile", "add", name, "--host"]);
        add.arg(format!("{name}.example.org")).args(["--open", "7000,8000,9000"]);
        for tag in tags {
            add.args(["--tag", tag]);
        }
        let output = add.output().expect("knock-cli runs");
        assert!(output.status.success(), "profile add {name}: {}", String::from_utf8_lossy(&output.stderr));
    }
    let bin_dir = dir.path().join("bin");
    std::fs::create_dir(&bin_dir).expect("bin dir");
    std::os::unix::fs::symlink(BIN, bin_dir.join("knock-cli")).expect("link knock-cli");
    std::os::unix::fs::symlink(BIN, bin_dir.join("knock")).expect("link knock");
    Fixture { _dir: dir, profiles, bin_dir }
}

impl Fixture {
    fn path_env(&self) -> String {
        format!("{}:{}", self.bin_dir.display(), std::env::var("PATH").unwrap_or_default())
    }

    fn script(&self, shell: &str, bin: &str) -> PathBuf {
        let output = Command::new(BIN).args(["completions", shell, "--bin", bin]).output().expect("runs");
        assert!(output.status.success(), "{}", String::from_utf8_lossy(&output.stderr));
        let path = self.bin_dir.join(format!("{bin}.{shell}"));
        std::fs::write(&path, output.stdout).expect("write script");
        path
    }

    /// Runs `shell` with `args` and the fixture's PATH and profiles directory; its stdout's lines.
    fn run(&self, shell: &str, args: &[&str]) -> Option<Vec<String>> {
        let output = match Command::new(shell)
            .args(args)
            .env("PATH", self.path_env())
            .env("KNOCK_PROFILES_DIR", &self.profiles)
            .env_remove("COMPLETE")
            .output()
        {
            Ok(output) => output,
            Err(err) => {
                assert!(std::env::var_os("CI").is_none(), "{shell} is needed under CI=true: {err}");
                // Not eprintln!: clippy forbids it in this crate (it panics on a closed stderr).
                use std::io::Write;
                let _ = writeln!(std::io::stderr(), "skipped: {shell} is not installed ({err})");
                return None;
            }
        };
        assert!(output.status.success(), "{shell} {args:?}: {}", String::from_utf8_lossy(&output.stderr));
        Some(
            String::from_utf8_lossy(&output.stdout)
                .lines()
                .map(|l| l.split('\t').next().unwrap_or(l).to_owned())
                .collect(),
        )
    }
}

fn bash_complete(fixture: &Fixture, script: &Path, function: &str, line: &[&str]) -> Option<Vec<String>> {
    let words = line.iter().map(|w| format!("'{w}'")).collect::<Vec<_>>().join(" ");
    let current = line.last().copied().unwrap_or_default();
    let program = format!(
        "source '{}'; COMP_WORDS=({words}); COMP_CWORD={}; COMP_TYPE=9; {function} '{}' '{current}' '{}'; \
         printf '%s\\n' \"${{COMPREPLY[@]}}\"",
        script.display(),
        line.len() - 1,
        line[0],
        line[line.len().saturating_sub(2)]
    );
    fixture.run("bash", &["--norc", "--noprofile", "-c", &program])
}

/// The candidates that are not options (with an empty word clap offers the options too).
fn values(candidates: Vec<String>) -> Vec<String> {
    candidates.into_iter().filter(|c| !c.starts_with('-')).collect()
}

#[test]
fn bash_completes_profile_names_tags_and_subcommands() {
    let fixture = fixture();
    let script = fixture.script("bash", "knock-cli");
    let Some(names) = bash_complete(&fixture, &script, "_clap_complete_knock_cli", &["knock-cli", "open", "b"]) else {
        return;
    };
    assert_eq!(names, ["backup", "bastion"], "open b<TAB>");
    let doctor = values(
        bash_complete(&fixture, &script, "_clap_complete_knock_cli", &["knock-cli", "doctor", ""]).expect("bash"),
    );
    assert_eq!(doctor, ["backup", "bastion", "web"], "doctor <TAB>");
    let tags = values(
        bash_complete(&fixture, &script, "_clap_complete_knock_cli", &["knock-cli", "open", "--group", ""])
            .expect("bash"),
    );
    assert_eq!(tags, ["nightly", "prod"], "open --group <TAB>");
    let subcommands =
        bash_complete(&fixture, &script, "_clap_complete_knock_cli", &["knock-cli", "pro"]).expect("bash");
    assert!(
        subcommands.contains(&"profile".to_owned()) && subcommands.contains(&"proxy".to_owned()),
        "{subcommands:?}"
    );
    let nested = bash_complete(&fixture, &script, "_clap_complete_knock_cli", &["knock-cli", "profile", "show", "w"])
        .expect("bash");
    assert_eq!(nested, ["web"], "profile show w<TAB>");
}

#[test]
fn the_profiles_dir_on_the_line_being_completed_wins() {
    let fixture = fixture();
    let other = tempfile::tempdir().expect("tempdir");
    let status = Command::new(BIN)
        .args(["--profiles-dir"])
        .arg(other.path())
        .args(["profile", "add", "elsewhere", "--host", "192.0.2.9", "--open", "1,2,3"])
        .status()
        .expect("runs");
    assert!(status.success());
    let script = fixture.script("bash", "knock-cli");
    let dir = other.path().to_string_lossy().into_owned();
    let Some(names) = bash_complete(
        &fixture,
        &script,
        "_clap_complete_knock_cli",
        &["knock-cli", "--profiles-dir", &dir, "open", ""],
    ) else {
        return;
    };
    assert_eq!(values(names), ["elsewhere"]);
}

#[test]
fn the_knock_link_completes_knock1_options() {
    let fixture = fixture();
    let script = fixture.script("bash", "knock");
    let Some(options) = bash_complete(&fixture, &script, "_clap_complete_knock", &["knock", "--u"]) else {
        return;
    };
    assert!(options.iter().any(|o| o == "--udp"), "{options:?}");
    assert!(options.iter().all(|o| !o.contains("profile")), "{options:?}");
}

#[test]
fn fish_completes_profile_names() {
    let fixture = fixture();
    let script = fixture.script("fish", "knock-cli");
    let program = format!("source '{}'; complete -C 'knock-cli open b'", script.display());
    let Some(names) = fixture.run("fish", &["--no-config", "-c", &program]) else {
        return;
    };
    assert_eq!(names, ["backup", "bastion"]);
}

#[test]
fn zsh_reads_the_script_and_gets_profile_names_as_zsh_asks() {
    let fixture = fixture();
    let script = fixture.script("zsh", "knock-cli");
    let text = std::fs::read_to_string(&script).expect("script");
    assert!(text.starts_with("#compdef knock-cli"), "{text}");
    let Some(_) = fixture.run("zsh", &["-n", &script.to_string_lossy()]) else {
        return;
    };
    // The request the script makes: _CLAP_COMPLETE_INDEX is $CURRENT - 1, words are zsh's $words.
    let program = "_CLAP_IFS=$'\\n' _CLAP_COMPLETE_INDEX=2 COMPLETE=zsh knock-cli -- knock-cli open b";
    let names = fixture.run("zsh", &["-f", "-c", program]).expect("zsh");
    let values: Vec<String> = names.iter().map(|n| n.split(':').next().unwrap_or(n).to_owned()).collect();
    assert_eq!(values, ["backup", "bastion"]);
}

#[test]
fn completion_never_prints_a_sequence() {
    let fixture = fixture();
    let output = Command::new(BIN)
        .args(["--", "knock-cli", "open", ""])
        .env("COMPLETE", "fish")
        .env("KNOCK_PROFILES_DIR", &fixture.profiles)
        .output()
        .expect("runs");
    let text = String::from_utf8_lossy(&output.stdout);
    assert!(text.contains("bastion") && text.contains("bastion.example.org"), "{text}");
    for port in ["7000", "8000", "9000"] {
        assert!(!text.contains(port), "{text}");
    }
}
