//! `--check`: what would stop the server or weaken a door, before it runs. Errors (exit 1) are what
//! will stop the server at start (a LogFile it cannot open, a rotating key file or a One_Time_Sequences
//! file it cannot read or parse) or must not run at all (a door whose sequence is published in the
//! sample config or the docs, [`PUBLISHED_SEQUENCES`]); warnings are legal but weak or broken doors
//! ([`config::lint`]; a one-time sequence listed twice; an nftables set that does not exist, so the door
//! cannot open until it does). Every warning printed is counted in the summary line. For nftables
//! doors it asks the kernel whether the sets exist and prints the ruleset lines the door needs.

use client_core::knockd_conf::KnockdConf;

use crate::config::{self, ServerConfig};
use crate::exit::Failure;
use crate::nft::{NftFamilyUse, NftSet};
use crate::one_time;

/// Sequences printed in `server-mini/knock-server.conf.sample` and the docs (`docs/server.md`,
/// `docs/choosing.md`): anyone can read them, so a door using one is open to all. `--check` (and so the
/// unit's ExecStartPre) refuses them.
pub(crate) const PUBLISHED_SEQUENCES: &[&str] = &["8471,2947:udp,6302", "5713,1389:udp,4426"];

/// Whether `sequence` is one of the [`PUBLISHED_SEQUENCES`].
pub(crate) fn is_published(sequence: &client_core::Sequence) -> bool {
    PUBLISHED_SEQUENCES
        .iter()
        .any(|text| client_core::knockd_conf::parse_sequence(text).is_ok_and(|published| &published == sequence))
}

/// Prints the findings on stdout; Err when something will stop the server or a door.
pub(crate) fn check(config: &ServerConfig, conf: &KnockdConf) -> Result<(), Failure> {
    let file = config.path.display();
    let mut errors: Vec<String> = Vec::new();
    if let Some(log_file) = &config.options.log_file
        && let Some(problem) = log_file_problem(log_file)
    {
        errors.push(format!(
            "{file}: LogFile {}: {problem}: the server will not start (exit 1); fix the path or its directory",
            log_file.display()
        ));
    }
    for door in &config.doors {
        if let config::SequenceSource::Rotating(settings) = &door.sequence {
            match crate::rotating_keys::read(&settings.keys) {
                Ok(users) => println!(
                    "{file}:{}: [{}]: rotating door, {} user(s) in {}",
                    settings.keys_line,
                    door.name,
                    users.len(),
                    settings.keys.display()
                ),
                Err(err) => errors.push(format!("{file}:{}: [{}]: {err}", settings.keys_line, door.name)),
            }
        }
    }
    for door in &config.doors {
        println!("{file}:{}: [{}]: {}", door.line, door.name, config::sweep_summary(door, &config.options));
    }
    let warnings = config::lint(config, conf);
    for w in &warnings {
        println!("{file}:{}: [{}]: warning: {}", w.line, w.door, w.message);
    }
    // Every other warning printed is counted here too (the summary line counts them all).
    let mut more_warnings = one_time_files(config, &mut errors);
    published_sequences(config, &mut errors);
    for door in &config.doors {
        let Some(nft) = &door.nft else { continue };
        let sets = nft.sets();
        for (set, _) in &sets {
            match set.exists() {
                Ok(true) => println!("{file}:{}: [{}]: nft set {set} exists", door.line, door.name),
                Ok(false) => {
                    more_warnings += 1;
                    println!(
                        "{file}:{}: [{}]: warning: nft set {set} does not exist: the door cannot open until it does \
                         (ruleset below)",
                        door.line, door.name
                    );
                }
                Err(why) => {
                    more_warnings += 1;
                    println!(
                        "{file}:{}: [{}]: warning: cannot verify nft set {set} ({why}); run --check as root to verify",
                        door.line, door.name
                    );
                }
            }
        }
        println!("# nft ruleset for door [{}] (load with nft -f; the accept rules are examples for SSH):", door.name);
        for line in ruleset(&sets) {
            println!("{line}");
        }
    }
    for error in &errors {
        println!("{error}");
    }
    println!(
        "{file}: {} door(s), {} warning(s), {}",
        config.doors.len(),
        warnings.len() + more_warnings,
        if errors.is_empty() { "no errors".to_owned() } else { format!("{} error(s)", errors.len()) }
    );
    if errors.is_empty() {
        Ok(())
    } else {
        Err(Failure::runtime(format!("{} error(s) found by --check", errors.len())))
    }
}

/// `--check` for the SPA door: what was read and refused (file:line), how each stanza opens, and the nft
/// ruleset its sets need.
pub(crate) fn spa(spa: &crate::spa::SpaDoor) {
    for line in spa.check_lines() {
        println!("{line}");
    }
    let sets = spa.nft_sets();
    if sets.is_empty() {
        return;
    }
    for (set, _) in &sets {
        match set.exists() {
            Ok(true) => println!("SPA: nft set {set} exists"),
            Ok(false) => {
                println!("SPA: warning: nft set {set} does not exist: nothing opens until it does (ruleset below)")
            }
            Err(why) => println!("SPA: warning: cannot verify nft set {set} ({why}); run --check as root to verify"),
        }
    }
    let ports = match spa.open_ports() {
        Some(ports) => ports.iter().map(|(p, n)| format!("{p}/{n}")).collect::<Vec<_>>().join(", "),
        None => "the ports you protect".to_owned(),
    };
    println!("# nft ruleset for the SPA door (load with nft -f; make the accept rules match {ports}):");
    for line in ruleset(&sets) {
        println!("{line}");
    }
}

/// Reads every door's One_Time_Sequences file as the server will: a line that does not parse is an error
/// (the server refuses to start on it), a repeated sequence a warning. Returns the warnings printed.
fn one_time_files(config: &ServerConfig, errors: &mut Vec<String>) -> usize {
    let file = config.path.display();
    let mut warnings = 0;
    for door in &config.doors {
        let config::SequenceSource::OneTime(path) = &door.sequence else { continue };
        match config::read_one_time(path) {
            Ok(sequences) => {
                let repeats = one_time::duplicates(&sequences);
                println!(
                    "{file}:{}: [{}]: one-time door, {} sequence(s) in {}",
                    door.line,
                    door.name,
                    sequences.len() - repeats.len(),
                    path.display()
                );
                for (line, first) in repeats {
                    warnings += 1;
                    println!(
                        "{}:{line}: [{}]: warning: repeats the sequence of line {first}: it opens once (both lines \
                         are marked when it is used); remove one of the two lines",
                        path.display(),
                        door.name
                    );
                }
            }
            Err(err) => errors.push(format!(
                "{file}:{}: [{}]: One_Time_Sequences: {err}: the server will not start (exit 2); fix that line (a \
                 sequence such as 7000,8000:udp,9000, or # to comment it out)",
                door.line, door.name
            )),
        }
    }
    warnings
}

/// A door whose sequence (or one of its one-time sequences) is one of the [`PUBLISHED_SEQUENCES`] is an
/// error: anyone who read the sample or the docs opens it.
fn published_sequences(config: &ServerConfig, errors: &mut Vec<String>) {
    let file = config.path.display();
    for door in &config.doors {
        match &door.sequence {
            config::SequenceSource::Fixed(sequence) if is_published(sequence) => errors.push(format!(
                "{file}:{}: [{}]: Sequence = {sequence} is published in knock-server's sample config and documentation, so \
                 anyone can open this door: replace it with your own (knock-server new-sequence prints a random one)",
                door.line, door.name
            )),
            config::SequenceSource::OneTime(path) => {
                for (line, sequence) in config::read_one_time(path).unwrap_or_default() {
                    if is_published(&sequence) {
                        errors.push(format!(
                            "{}:{line}: [{}]: the sequence {sequence} is published in knock-server's sample config \
                             and documentation, so anyone can open this door: replace it (knock-server new-sequence prints \
                             a random one)",
                            path.display(),
                            door.name
                        ));
                    }
                }
            }
            _ => {}
        }
    }
}

/// Why the server could not open `path` for appending (None: it can), without creating it.
pub(crate) fn log_file_problem(path: &std::path::Path) -> Option<String> {
    if path.exists() {
        return std::fs::OpenOptions::new().append(true).open(path).err().map(|e| format!("cannot be opened: {e}"));
    }
    let dir = path.parent().filter(|p| !p.as_os_str().is_empty()).unwrap_or(std::path::Path::new("."));
    if !dir.is_dir() {
        return Some(format!("its directory {} does not exist", dir.display()));
    }
    if dir.as_os_str().as_encoded_bytes().contains(&0) {
        return Some("the path holds a NUL byte".to_owned());
    }
    use rustix::fs::{Access, access};
    match access(dir, Access::WRITE_OK | Access::EXEC_OK) {
        Ok(()) => None,
        Err(errno) => Some(format!("cannot be created in {}: {}", dir.display(), std::io::Error::from(errno))),
    }
}

/// The nft lines that create the sets (grouped by table) and accept their members.
pub fn ruleset(sets: &[(&NftSet, NftFamilyUse)]) -> Vec<String> {
    let mut tables: Vec<String> = sets.iter().map(|(s, _)| s.table_header()).collect();
    tables.dedup();
    let mut lines = Vec::new();
    for table in tables {
        lines.push(format!("{table} {{"));
        let members: Vec<&(&NftSet, NftFamilyUse)> = sets.iter().filter(|(s, _)| s.table_header() == table).collect();
        for (set, family) in &members {
            lines.push(format!("    {}", set.definition(*family)));
        }
        lines.push("    chain knock_input {".to_owned());
        lines.push("        type filter hook input priority filter; policy accept;".to_owned());
        for (set, family) in &members {
            lines.push(format!("        {}", set.accept_rule(*family)));
        }
        lines.push("        tcp dport 22 drop".to_owned());
        lines.push("    }".to_owned());
        lines.push("}".to_owned());
    }
    lines
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_log_file_that_cannot_be_opened_is_found() {
        let dir = tempfile::tempdir().expect("dir");
        assert_eq!(log_file_problem(&dir.path().join("knock.log")), None);
        let missing = log_file_problem(&dir.path().join("no-such-dir/knock.log")).expect("problem");
        assert!(missing.contains("does not exist"), "{missing}");
        let is_dir = log_file_problem(dir.path()).expect("a directory is no log file");
        assert!(is_dir.contains("cannot be opened"), "{is_dir}");
    }

    #[test]
    fn the_ruleset_lines_define_both_sets_and_accept_their_members() {
        let v4 = NftSet::parse("inet knock allow4", NftFamilyUse::Ipv4).expect("v4");
        let v6 = NftSet::parse("inet knock allow6", NftFamilyUse::Ipv6).expect("v6");
        let text = ruleset(&[(&v4, NftFamilyUse::Ipv4), (&v6, NftFamilyUse::Ipv6)]).join("\n");
        assert_eq!(text.matches("table inet knock {").count(), 1, "{text}");
        assert!(text.contains("set allow4 { type ipv4_addr; flags timeout; }"), "{text}");
        assert!(text.contains("set allow6 { type ipv6_addr; flags timeout; }"), "{text}");
        assert!(text.contains("ip saddr @allow4 accept") && text.contains("ip6 saddr @allow6 accept"), "{text}");
    }
}
