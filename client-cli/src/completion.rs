//! Shell completion, dynamic: the shell asks the binary itself (`COMPLETE=bash knock-cli -- WORDS...`), so
//! `knock-cli open <TAB>` offers the saved profiles' names and `open --group <TAB>` their tags, as they are
//! now. clap_complete's `CompleteEnv` does the protocol for bash, zsh, fish, elvish and PowerShell; this
//! module only says which names to offer and prints the registration scripts.
//!
//! `knock-cli completions SHELL` prints the script a shell sources once (the .deb installs them); it calls
//! back `knock-cli` on PATH at each TAB. `--bin knock` prints the script for a `knock` link to knock-cli (the
//! knock(1) drop-in: its options; a host and ports have nothing to complete).
//!
//! Profiles are listed from `--profiles-dir` when the command line being completed gives one, else from
//! `$KNOCK_PROFILES_DIR` or the platform's directory, exactly as the command itself would look. Completing
//! never prints a sequence or a key: only names, tags and hosts.

use std::ffi::OsString;
use std::path::PathBuf;

use clap::CommandFactory;
use clap_complete::engine::CompletionCandidate;
use clap_complete::env::{CompleteEnv, Shells};
use client_core::ProfileStore;

use crate::cli::Cli;

/// The environment variable that turns a run into a completion request (clap_complete's default).
const VAR: &str = "COMPLETE";

/// Answers a completion request and exits, when the shell made one; otherwise returns at once (one
/// environment lookup: the knock(1) drop-in's start-up stays as it was).
pub fn answer_if_asked(called_as_knock: bool) {
    // CompleteEnv reads the arguments and the working directory before it looks at the variable.
    if std::env::var_os(VAR).is_none_or(|value| value.is_empty()) {
        return;
    }
    let factory: fn() -> clap::Command = if called_as_knock { knock_command } else { Cli::command };
    let env = CompleteEnv::with_factory(factory).var(VAR);
    if called_as_knock {
        env.bin("knock").completer("knock").complete();
    } else {
        env.complete();
    }
}

/// The grammar of the `knock` link (knock(1)'s options, named `knock`).
fn knock_command() -> clap::Command {
    crate::cli::KnockLinkCli::command()
}

/// The registration script of `shell` for `bin` (`knock-cli`, or `knock` for the link), calling back
/// the binary of that name on PATH.
pub fn registration(shell: clap_complete::Shell, bin: &str) -> Result<Vec<u8>, std::io::Error> {
    let shell_name = shell.to_string();
    let shells = Shells::builtins();
    let completer = shells.completer(&shell_name).ok_or_else(|| {
        std::io::Error::new(std::io::ErrorKind::Unsupported, format!("no dynamic completion for {shell_name}"))
    })?;
    let mut script = Vec::new();
    completer.write_registration(VAR, bin, bin, bin, &mut script)?;
    Ok(script)
}

/// The saved profiles' names, each with its host as the description.
pub fn profile_names() -> Vec<CompletionCandidate> {
    listed_profiles()
        .into_iter()
        .map(|(name, host, _)| match host {
            Some(host) => CompletionCandidate::new(name).help(Some(host.into())),
            None => CompletionCandidate::new(name),
        })
        .collect()
}

/// The tags of the saved profiles (for `--group`), each once.
pub fn profile_tags() -> Vec<CompletionCandidate> {
    let mut tags: Vec<String> = listed_profiles().into_iter().flat_map(|(_, _, tags)| tags).collect();
    tags.sort();
    tags.dedup();
    tags.into_iter().map(CompletionCandidate::new).collect()
}

/// (name, host, tags) of every profile file; an unreadable one is still offered by name. Nothing at all
/// when the directory cannot be read: a TAB must never print an error into the user's command line.
fn listed_profiles() -> Vec<(String, Option<String>, Vec<String>)> {
    let Ok(store) = ProfileStore::locate(profiles_dir_being_completed().as_deref()) else {
        return Vec::new();
    };
    let Ok(listed) = store.list() else {
        return Vec::new();
    };
    listed
        .into_iter()
        .map(|listed| match listed.profile {
            Ok(profile) => (listed.name, Some(profile.host), profile.tags),
            Err(_) => (listed.name, None, Vec::new()),
        })
        .collect()
}

/// The `--profiles-dir DIR` (or `--profiles-dir=DIR`) of the command line being completed: the words
/// after `--` in this process's arguments.
fn profiles_dir_being_completed() -> Option<PathBuf> {
    profiles_dir_in(std::env::args_os().skip_while(|arg| arg != "--").skip(1))
}

fn profiles_dir_in(words: impl Iterator<Item = OsString>) -> Option<PathBuf> {
    let mut words = words.peekable();
    let mut found = None;
    while let Some(word) = words.next() {
        if word == "--profiles-dir" {
            found = words.next().map(PathBuf::from);
        } else if let Some(value) = word.to_str().and_then(|w| w.strip_prefix("--profiles-dir=")) {
            found = Some(PathBuf::from(value));
        }
    }
    found.filter(|dir| !dir.as_os_str().is_empty())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn words(text: &str) -> impl Iterator<Item = OsString> {
        text.split(' ').map(OsString::from).collect::<Vec<_>>().into_iter()
    }

    #[test]
    fn the_profiles_dir_of_the_line_being_completed_is_used() {
        assert_eq!(profiles_dir_in(words("knock-cli --profiles-dir /p open ba")), Some(PathBuf::from("/p")));
        assert_eq!(profiles_dir_in(words("knock-cli open --profiles-dir=/q ba")), Some(PathBuf::from("/q")));
        assert_eq!(profiles_dir_in(words("knock-cli open ba")), None);
        // Being typed: no value yet.
        assert_eq!(profiles_dir_in(words("knock-cli --profiles-dir")), None);
    }

    #[test]
    fn every_shell_has_a_registration_that_calls_the_binary_back() {
        for shell in [
            clap_complete::Shell::Bash,
            clap_complete::Shell::Zsh,
            clap_complete::Shell::Fish,
            clap_complete::Shell::Elvish,
            clap_complete::Shell::PowerShell,
        ] {
            let script = String::from_utf8(registration(shell, "knock-cli").expect("registration")).expect("utf-8");
            assert!(script.contains("knock-cli"), "{shell}: {script}");
            assert!(script.contains(VAR), "{shell}: {script}");
        }
    }
}
