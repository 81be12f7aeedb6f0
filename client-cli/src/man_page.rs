//! knock-cli's manual pages, from the clap grammar (clap_mangen) plus the sections a man page reader
//! looks for and clap does not know: EXIT STATUS, ENVIRONMENT, FILES, EXAMPLES, SEE ALSO.
//!
//! `knock-cli man` prints knock-cli(1); `knock-cli man --out DIR` writes knock-cli.1 and one page per
//! subcommand, nested ones included (knock-cli-open.1, knock-cli-profile-add.1, ...): the main page's
//! SUBCOMMANDS section names them as `knock-cli-open(1)`, so each must exist. The .deb installs them all.

use std::io::Write;
use std::path::{Path, PathBuf};

use clap::CommandFactory;
use clap_mangen::roff::{Roff, bold, roman};

use crate::cli::Cli;

/// knock-cli(1), the main page.
pub fn main_page() -> Result<Vec<u8>, std::io::Error> {
    let mut command = Cli::command().disable_help_subcommand(true);
    command.build();
    render(&command, true)
}

/// Writes knock-cli.1 and every (visible) subcommand's page into `dir`; returns the files written.
pub fn write_all(dir: &Path) -> Result<Vec<PathBuf>, std::io::Error> {
    std::fs::create_dir_all(dir)?;
    let mut command = Cli::command().disable_help_subcommand(true);
    command.build();
    let mut written = Vec::new();
    write_tree(&command, true, dir, &mut written)?;
    Ok(written)
}

fn write_tree(command: &clap::Command, is_main: bool, dir: &Path, written: &mut Vec<PathBuf>) -> std::io::Result<()> {
    let path = dir.join(format!("{}.1", page_name(command)));
    std::fs::File::create(&path)?.write_all(&render(command, is_main)?)?;
    written.push(path);
    for sub in command.get_subcommands().filter(|sub| !sub.is_hide_set()) {
        write_tree(sub, false, dir, written)?;
    }
    Ok(())
}

/// `knock-cli-profile-add`: the name clap_mangen's SUBCOMMANDS section refers to.
fn page_name(command: &clap::Command) -> String {
    command.get_display_name().unwrap_or_else(|| command.get_name()).to_owned()
}

fn render(command: &clap::Command, is_main: bool) -> Result<Vec<u8>, std::io::Error> {
    let man = clap_mangen::Man::new(command.clone())
        .title(page_name(command).to_uppercase())
        .manual("knock toolkit")
        .source(format!("knock-cli {}", env!("CARGO_PKG_VERSION")));
    let mut page = Vec::new();
    man.render_title(&mut page)?;
    man.render_name_section(&mut page)?;
    man.render_synopsis_section(&mut page)?;
    man.render_description_section(&mut page)?;
    if command.get_arguments().any(|arg| !arg.is_hide_set()) {
        man.render_options_section(&mut page)?;
    }
    if command.get_subcommands().any(|sub| !sub.is_hide_set()) {
        man.render_subcommands_section(&mut page)?;
    }
    let mut roff = Roff::default();
    if let Some(after) = command.get_after_long_help().or_else(|| command.get_after_help()) {
        roff.control("SH", ["NOTES"]);
        for paragraph in after.to_string().split("\n\n") {
            roff.text([roman(paragraph.replace('\n', " "))]);
            roff.control("PP", []);
        }
    }
    let name = command.get_name();
    if is_main || EXIT_STATUS_COMMANDS.contains(&name) {
        exit_status(&mut roff);
    }
    if is_main {
        environment(&mut roff);
        files(&mut roff);
    }
    let examples: Vec<&(&str, &str, &str)> =
        EXAMPLES.iter().filter(|(command_name, _, _)| is_main || *command_name == page_name(command)).collect();
    if !examples.is_empty() {
        roff.control("SH", ["EXAMPLES"]);
        for (_, line, what) in examples {
            roff.control("TP", []);
            roff.text([bold(*line)]);
            roff.text([roman(*what)]);
        }
    }
    roff.control("SH", ["SEE ALSO"]);
    let see_also = if is_main {
        "knock(1), knockd(1), fwknop(8), ssh(1); the documentation in /usr/share/doc/knock-cli and \
         https://example.org/knock"
    } else {
        "knock-cli(1)"
    };
    roff.text([roman(see_also)]);
    roff.to_writer(&mut page)?;
    Ok(page)
}

/// Subcommands whose page repeats the exit-status table (the ones scripts run).
const EXIT_STATUS_COMMANDS: &[&str] = &["knock", "open", "close", "ssh", "proxy", "doctor"];

fn exit_status(roff: &mut Roff) {
    roff.control("SH", ["EXIT STATUS"]);
    for (code, meaning) in [
        ("0", "success: every hit was sent; open/ssh/proxy: the verify port answered (or already did)"),
        (
            "1",
            "a network or permission failure: the host did not resolve, a send failed, raw sockets were needed but not permitted",
        ),
        (
            "2",
            "invalid input: bad arguments, hit, flags or payload; no address of the requested family; an unknown or unreadable profile",
        ),
        ("3", "open/ssh/proxy/doctor: knocked, but the verify port never answered, after every attempt"),
        ("130", "interrupted (SIGINT); nothing more is sent; --json still prints a complete cancelled document"),
        ("143", "cancelled by SIGTERM (a cancelled CI job, timeout); as for 130"),
    ] {
        roff.control("TP", []);
        roff.text([bold(code)]);
        roff.text([roman(meaning)]);
    }
    roff.text([roman("With several profiles the most severe code wins: 130 or 143, then 2, then 1, then 3, then 0.")]);
}

fn environment(roff: &mut Roff) {
    roff.control("SH", ["ENVIRONMENT"]);
    for (name, meaning) in [
        ("KNOCK_PROFILES_DIR", "the profile directory when --profiles-dir is not given"),
        ("KNOCK_QUIET", "1: ssh and proxy print nothing but errors (like -q)"),
        (
            "KNOCK_SPA_KEY_BASE64_NAME, KNOCK_SPA_HMAC_KEY_BASE64_NAME",
            "an SPA profile's keys (NAME upper-cased, - as _); without a suffix for every profile; they win over the keyring",
        ),
        (
            "KNOCK_ROTATING_KEY_NAME, KNOCK_ROTATING_KEY",
            "a rotating profile's door key (base32), instead of the keyring",
        ),
        ("COMPLETE", "set by the shell completion scripts (knock-cli completions) to ask for completions"),
    ] {
        roff.control("TP", []);
        roff.text([bold(name)]);
        roff.text([roman(meaning)]);
    }
    roff.text([roman(
        "A profile's open_env/close_env names a variable its sequence is read from at knock time (for CI secrets).",
    )]);
}

fn files(roff: &mut Roff) {
    roff.control("SH", ["FILES"]);
    for (path, meaning) in [
        ("~/.config/knock/profiles/NAME.toml", "saved profiles on Linux ($XDG_CONFIG_HOME); one TOML file each"),
        ("~/Library/Application Support/knock/profiles", "saved profiles on macOS"),
        ("%APPDATA%\\knock\\config\\profiles", "saved profiles on Windows"),
    ] {
        roff.control("TP", []);
        roff.text([bold(path)]);
        roff.text([roman(meaning)]);
    }
    roff.text([roman("Keys are never in these files: they are in the OS keyring or in the environment.")]);
}

/// (page, command line, what it does). Each line also appears in docs/cli.md, whose examples are run by
/// tests/tests/doc_examples.rs.
const EXAMPLES: &[(&str, &str, &str)] = &[
    (
        "knock-cli-knock",
        "knock-cli knock -v bastion.example.org 7000 8000 9000:udp",
        "three hits, the last one UDP, as knock(1) would send them",
    ),
    (
        "knock-cli-profile-add",
        "knock-cli profile add bastion --host bastion.example.org --open 7000,8000,9000 --close 9000,8000,7000 --verify-port 22",
        "save a profile that opens and closes a door in front of port 22",
    ),
    ("knock-cli-open", "knock-cli open bastion", "knock, check that port 22 answers, retry if it does not"),
    (
        "knock-cli-open",
        "knock-cli open --group prod --json",
        "every profile tagged prod, concurrently, as one JSON document",
    ),
    (
        "knock-cli-ssh",
        "knock-cli ssh bastion -- -l deploy uptime",
        "open the door, then run ssh in the family that was knocked",
    ),
    (
        "knock-cli-proxy",
        "ssh -o ProxyCommand='knock-cli proxy -q bastion %h %p' bastion.example.org",
        "open the door for every ssh connection",
    ),
    ("knock-cli-doctor", "knock-cli doctor bastion", "find out why a door does not open"),
    (
        "knock-cli-completions",
        "knock-cli completions bash > ~/.local/share/bash-completion/completions/knock-cli",
        "complete subcommands and profile names in bash",
    ),
];

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_subcommand_named_on_a_page_has_its_own_page() {
        let dir = tempfile::tempdir().expect("tempdir");
        let written = write_all(dir.path()).expect("pages");
        let names: Vec<String> =
            written.iter().map(|p| p.file_name().expect("name").to_string_lossy().into_owned()).collect();
        for page in &written {
            let text = std::fs::read_to_string(page).expect("read");
            // clap_mangen refers to a subcommand as \fBknock-cli-open\fR(1).
            for reference in text.split("\\fB").skip(1) {
                if let Some((name, rest)) = reference.split_once("\\fR(1)")
                    && !rest.is_empty()
                    && name.starts_with("knock-cli")
                {
                    assert!(names.contains(&format!("{name}.1")), "{} names {name}(1), not written", page.display());
                }
            }
        }
        for expected in ["knock-cli.1", "knock-cli-open.1", "knock-cli-profile-add.1", "knock-cli-spa-keygen.1"] {
            assert!(names.iter().any(|n| n == expected), "{expected} missing from {names:?}");
        }
        assert!(!names.iter().any(|n| n == "knock-cli-man.1" || n.contains("help")), "{names:?}");
    }

    #[test]
    fn the_main_page_has_the_sections_a_reader_looks_for() {
        let page = String::from_utf8(main_page().expect("page")).expect("utf-8");
        for section in
            [".SH NAME", ".SH SYNOPSIS", ".SH \"EXIT STATUS\"", ".SH ENVIRONMENT", ".SH FILES", ".SH EXAMPLES"]
        {
            assert!(page.contains(section), "{section} missing");
        }
    }
}
