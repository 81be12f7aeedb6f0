//! One-time sequences (`One_Time_Sequences = FILE`): each sequence of the file opens once.
//!
//! A used sequence is refused for good, in two places, in this order:
//! 1. the state file (`STATE_DIR/one-time-used`, under the unit's `StateDirectory=`), one line per used
//!    sequence: `FILE<TAB>SEQUENCE`, written crash-safely (temp file + rename), read at every load, so a
//!    used sequence stays refused across reloads and restarts even when the sequence file cannot be
//!    written (read-only file system);
//! 2. the sequence file itself, as knockd does: every line holding that sequence is commented out. It is
//!    found by its content, whatever happened to the file since it was loaded (lines added or removed).
//!
//! The state file names the sequence file by its canonical path (symlinks resolved, absolute), so one
//! file is one key however the configuration spells it: `-c /etc/k.conf`, `-c k.conf` from `/etc`, or
//! a path through a symlinked directory all find the same used sequences. Entries written by earlier
//! versions with another spelling are canonicalized when the state file is read.
//!
//! A sequence listed twice in the file opens once: the repeats are dropped when the file is read (and
//! `--check` warns about them, see [`duplicates`]), and every line holding a used sequence is marked.

use std::collections::HashSet;
use std::fs;
use std::path::{Path, PathBuf};

use client_core::Sequence;

use crate::state_file::{self, write_atomically};

/// The name of the state file inside the state directory.
pub(crate) const STATE_FILE: &str = "one-time-used";

/// The used sequences, as recorded in the state file.
#[derive(Debug, Default)]
pub(crate) struct UsedSequences {
    /// None: no state directory (each use is still marked in its sequence file).
    path: Option<PathBuf>,
    /// (canonical path of the sequence file, sequence)
    used: HashSet<(PathBuf, String)>,
}

/// How the state file names a sequence file: its canonical path (symlinks resolved), or, when it cannot
/// be resolved (the file is gone), the absolute path as spelled.
pub(crate) fn canonical(file: &Path) -> PathBuf {
    fs::canonicalize(file).or_else(|_| std::path::absolute(file)).unwrap_or_else(|_| file.to_owned())
}

impl UsedSequences {
    /// Reads `STATE_DIR/one-time-used` (absent: nothing used yet).
    pub(crate) fn load(state_dir: Option<&Path>) -> std::io::Result<UsedSequences> {
        let Some((path, text)) = state_file::read(state_dir, STATE_FILE)? else {
            return Ok(UsedSequences::default());
        };
        let used = text
            .lines()
            .filter_map(|line| line.split_once('\t'))
            .map(|(file, sequence)| (canonical(Path::new(file)), sequence.to_owned()))
            .collect();
        Ok(UsedSequences { path: Some(path), used })
    }

    pub(crate) fn path(&self) -> Option<&Path> {
        self.path.as_deref()
    }

    #[cfg(test)]
    pub(crate) fn contains(&self, file: &Path, sequence: &Sequence) -> bool {
        self.used.contains(&(canonical(file), sequence.to_string()))
    }

    /// Records a used sequence durably (temp file + rename + fsync). In memory it is refused even if
    /// the write fails.
    pub(crate) fn record(&mut self, file: &Path, sequence: &Sequence) -> std::io::Result<()> {
        self.used.insert((canonical(file), sequence.to_string()));
        let Some(path) = &self.path else { return Ok(()) };
        let mut lines: Vec<String> =
            self.used.iter().map(|(file, sequence)| format!("{}\t{sequence}\n", file.display())).collect();
        lines.sort();
        write_atomically(path, lines.concat().as_bytes(), 0o600)
    }
}

/// The sequences of a one-time file that are not used yet, in file order: every line that is not blank,
/// does not start with `#` (a used sequence is commented out), and is not recorded as used. A sequence
/// listed twice is kept once (at its first line): it opens once.
pub(crate) fn read_remaining(
    file: &Path,
    used: &UsedSequences,
) -> Result<Vec<Sequence>, client_core::knockd_conf::ConfError> {
    let key = canonical(file);
    let mut seen: HashSet<String> = HashSet::new();
    let mut remaining: Vec<Sequence> = Vec::new();
    for (_, sequence) in crate::config::read_one_time(file)? {
        let text = sequence.to_string();
        if seen.insert(text.clone()) && !used.used.contains(&(key.clone(), text)) {
            remaining.push(sequence);
        }
    }
    Ok(remaining)
}

/// A line that repeats an earlier line's sequence: (its line, the first line), for `--check`.
pub(crate) fn duplicates(sequences: &[(usize, Sequence)]) -> Vec<(usize, usize)> {
    let mut first: std::collections::HashMap<String, usize> = std::collections::HashMap::new();
    let mut repeats = Vec::new();
    for (line, sequence) in sequences {
        match first.entry(sequence.to_string()) {
            std::collections::hash_map::Entry::Occupied(earlier) => repeats.push((*line, *earlier.get())),
            std::collections::hash_map::Entry::Vacant(slot) => {
                slot.insert(*line);
            }
        }
    }
    repeats
}

/// Comments out every active line of `file` that holds `sequence` (a repeated line too), crash-safely.
/// Ok(false) when no such line is left (already marked, or removed by an edit).
pub(crate) fn mark_used(file: &Path, sequence: &Sequence) -> std::io::Result<bool> {
    let text = fs::read_to_string(file)?;
    let mut out = String::with_capacity(text.len() + 2);
    let mut marked = false;
    for current in text.split_inclusive('\n') {
        let trimmed = current.trim();
        if !trimmed.is_empty()
            && !trimmed.starts_with('#')
            && client_core::knockd_conf::parse_sequence(trimmed).is_ok_and(|s| &s == sequence)
        {
            out.push('#');
            marked = true;
        }
        out.push_str(current);
    }
    if !marked {
        return Ok(false);
    }
    let mode = fs::metadata(file).map(|m| std::os::unix::fs::PermissionsExt::mode(&m.permissions())).unwrap_or(0o600);
    write_atomically(file, out.as_bytes(), mode)?;
    Ok(true)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn seq(text: &str) -> Sequence {
        client_core::knockd_conf::parse_sequence(text).expect("sequence")
    }

    #[test]
    fn the_used_line_is_found_by_its_content_after_an_edit() {
        let dir = tempfile::tempdir().expect("dir");
        let file = dir.path().join("otp");
        fs::write(&file, "# comment\n7000,8000\n9000:udp,9100\n").expect("write");
        let used = UsedSequences::default();
        let remaining = read_remaining(&file, &used).expect("read");
        assert_eq!(remaining, [seq("7000,8000"), seq("9000:udp,9100")]);
        // The operator removes the comment line after the load: line numbers shift.
        fs::write(&file, "7000,8000\n9000:udp,9100\n").expect("edit");
        assert!(mark_used(&file, &seq("7000,8000")).expect("mark"));
        assert_eq!(fs::read_to_string(&file).expect("read"), "#7000,8000\n9000:udp,9100\n");
        assert!(!mark_used(&file, &seq("7000,8000")).expect("mark"), "already marked");
    }

    #[test]
    fn a_repeated_sequence_opens_once_and_every_line_holding_it_is_marked() {
        let dir = tempfile::tempdir().expect("dir");
        let file = dir.path().join("otp");
        fs::write(&file, "7000,8000\n9000,9100\n7000, 8000\n").expect("write");
        let remaining = read_remaining(&file, &UsedSequences::default()).expect("read");
        assert_eq!(remaining, [seq("7000,8000"), seq("9000,9100")], "A,B,A is A,B");
        let listed = crate::config::read_one_time(&file).expect("read");
        assert_eq!(duplicates(&listed), [(3, 1)]);
        assert!(mark_used(&file, &seq("7000,8000")).expect("mark"));
        assert_eq!(fs::read_to_string(&file).expect("read"), "#7000,8000\n9000,9100\n#7000, 8000\n");
        assert_eq!(read_remaining(&file, &UsedSequences::default()).expect("read"), [seq("9000,9100")]);
    }

    #[test]
    fn the_state_file_keys_a_sequence_file_by_its_canonical_path() {
        let dir = tempfile::tempdir().expect("dir");
        let real = dir.path().join("real");
        fs::create_dir(&real).expect("dir");
        std::os::unix::fs::symlink(&real, dir.path().join("link")).expect("symlink");
        let file = real.join("otp");
        fs::write(&file, "7000,8000\n9000,9100\n").expect("write");
        let state = dir.path().join("state");
        fs::create_dir(&state).expect("state");
        let mut used = UsedSequences::load(Some(&state)).expect("load");
        used.record(&file, &seq("7000,8000")).expect("record");
        let again = UsedSequences::load(Some(&state)).expect("load");
        // The same file through a symlinked directory, and with `..` in it.
        for spelling in [dir.path().join("link/otp"), real.join("../real/otp"), file.clone()] {
            assert_eq!(read_remaining(&spelling, &again).expect("read"), [seq("9000,9100")], "{}", spelling.display());
        }
        // A relative spelling, resolved against the working directory (as a relative -c is).
        let relative = pathdiff(&file);
        assert!(again.contains(&relative, &seq("7000,8000")), "{}", relative.display());
        // An entry an earlier version wrote with another spelling is canonicalized on load.
        fs::write(state.join(STATE_FILE), format!("{}\t{}\n", dir.path().join("link/otp").display(), seq("9000,9100")))
            .expect("old state");
        let old = UsedSequences::load(Some(&state)).expect("load");
        assert!(old.contains(&file, &seq("9000,9100")));
    }

    /// `file` relative to the working directory (`../../x/y` style).
    fn pathdiff(file: &Path) -> PathBuf {
        let cwd = std::env::current_dir().expect("cwd");
        let ups = cwd.components().count().saturating_sub(1);
        let mut relative = PathBuf::new();
        for _ in 0..ups {
            relative.push("..");
        }
        relative.join(file.strip_prefix("/").expect("absolute"))
    }

    #[test]
    fn the_state_file_keeps_a_sequence_refused_across_loads() {
        let dir = tempfile::tempdir().expect("dir");
        let file = dir.path().join("otp");
        fs::write(&file, "7000,8000\n9000,9100\n").expect("write");
        let mut used = UsedSequences::load(Some(dir.path())).expect("load");
        used.record(&file, &seq("7000,8000")).expect("record");
        let again = UsedSequences::load(Some(dir.path())).expect("load");
        assert_eq!(read_remaining(&file, &again).expect("read"), [seq("9000,9100")]);
        use std::os::unix::fs::PermissionsExt;
        let mode = fs::metadata(dir.path().join(STATE_FILE)).expect("meta").permissions().mode() & 0o777;
        assert_eq!(mode, 0o600);
    }
}
