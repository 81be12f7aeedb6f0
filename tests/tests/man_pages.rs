//! The manual pages the .deb installs, rendered by the real man(1): knock-cli(1) and one page per
//! subcommand (every page the SUBCOMMANDS sections name exists), knock-server.conf(5) (it names every key
//! knock-server reads), and knock-server(8)'s extra sections. `man --warnings` must print no warning. knock-server(8) (help2man with
//! server-mini/man/knock-server.8.h2m) is checked installed, in scripts/test-packages.sh.

#![cfg(target_os = "linux")] // man-db and the .deb's pages are Linux's

use std::path::Path;
use std::process::Command;

use knock_e2e::bins;

fn repo() -> &'static Path {
    Path::new(env!("CARGO_MANIFEST_DIR")).parent().expect("repository root")
}

/// `man -l PAGE` as text, failing on any groff warning.
fn render(page: &Path) -> Option<String> {
    let output = match Command::new("man")
        .args(["--warnings", "-l"])
        .arg(page)
        .env("MANPAGER", "cat")
        .env("MANWIDTH", "100")
        .output()
    {
        Ok(output) => output,
        Err(err) => {
            assert!(std::env::var_os("CI").is_none(), "man (man-db) is needed under CI=true: {err}");
            eprintln!("skipped: man is not installed ({err})");
            return None;
        }
    };
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(output.status.success() && stderr.trim().is_empty(), "{}: {stderr}", page.display());
    // man(1) writing to a pipe still marks bold and underline by overstriking (`X\bX`, `_\bX`): undo it.
    let mut plain = String::new();
    for c in String::from_utf8_lossy(&output.stdout).chars() {
        if c == '\u{8}' {
            plain.pop();
        } else {
            plain.push(c);
        }
    }
    Some(plain)
}

#[test]
fn knock_cli_has_a_page_per_subcommand_with_exit_status_environment_files_and_examples() {
    let dir = tempfile::tempdir().expect("tempdir");
    let status = Command::new(bins::knock_cli_path()).args(["man", "--out"]).arg(dir.path()).status().expect("runs");
    assert!(status.success());
    let mut pages: Vec<String> = std::fs::read_dir(dir.path())
        .expect("dir")
        .map(|e| e.expect("entry").file_name().to_string_lossy().into_owned())
        .collect();
    pages.sort();
    for expected in
        ["knock-cli.1", "knock-cli-knock.1", "knock-cli-open.1", "knock-cli-profile.1", "knock-cli-profile-add.1"]
    {
        assert!(pages.iter().any(|p| p == expected), "{expected} not in {pages:?}");
    }
    let Some(main) = render(&dir.path().join("knock-cli.1")) else {
        return;
    };
    for section in ["EXIT STATUS", "ENVIRONMENT", "FILES", "EXAMPLES", "SUBCOMMANDS"] {
        assert!(main.lines().any(|l| l.trim() == section), "knock-cli(1) has no {section}:\n{main}");
    }
    for page in &pages {
        let text = render(&dir.path().join(page)).expect("man");
        // Every knock-cli-X(1) a page names is a page of its own.
        for word in text.split(|c: char| c.is_whitespace() || c == ',') {
            if let Some(name) = word.strip_suffix("(1)")
                && name.starts_with("knock-cli")
            {
                assert!(pages.contains(&format!("{name}.1")), "{page} names {name}(1), which is not written");
            }
        }
    }
    let open = render(&dir.path().join("knock-cli-open.1")).expect("man");
    assert!(open.contains("EXIT STATUS") && open.contains("EXAMPLES"), "{open}");
}

#[test]
fn knock_server_conf_5_names_every_key_the_server_reads() {
    let page_path = repo().join("server-mini/man/knock-server.conf.5");
    let Some(page) = render(&page_path) else {
        return;
    };
    let config = std::fs::read_to_string(repo().join("server-mini/src/config.rs")).expect("config.rs");
    // Keys are read as `text("LogFile")`, `number("Rotating_Step")`, `set("Nft_Set_6")`, ...
    let mut keys: Vec<&str> = config
        .split("(\"")
        .skip(1)
        .filter_map(|rest| rest.split('"').next())
        .filter(|key| key.chars().next().is_some_and(|c| c.is_ascii_uppercase()))
        .filter(|key| key.chars().all(|c| c.is_ascii_alphanumeric() || c == '_') && key.len() > 3)
        .collect();
    keys.extend(["Sequence", "Cmd_Timeout", "Rotating_Keys", "Sweep_Penalty", "UseSyslog"]);
    keys.sort();
    keys.dedup();
    for key in keys {
        assert!(page.contains(key), "knock-server.conf(5) does not name {key}");
    }
    for section in ["OPTIONS SECTION", "EXAMPLES", "FILES", "SEE ALSO"] {
        assert!(page.contains(section), "{section}");
    }
}
