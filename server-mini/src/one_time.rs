//! One-time sequences (`One_Time_Sequences = FILE`): each sequence of the file opens once.
//!
//! A used sequence is refused for good, in two places, in this order:
//! 1. the state file (`STATE_DIR/one-time-used`, under the unit's `StateDirectory=`), one line per used
//!    sequence: `FILE<TAB>SEQUENCE`, written crash-safely (temp file + rename), read at every load, so a
//!    used sequence stays refused across reloads and restarts even when the sequence file cannot be
//!    written (read-only file system);
//! 2. the sequence file itself, as knockd does: the line holding that sequence is commented out. It is
//!    found by its content, whatever happened to the file since it was loaded (lines added or removed).

use std::collections::HashSet;
use std::fs;
use std::path::{Path, PathBuf};

use client_core::Sequence;

use crate::state_file::{self, write_atomically};

/// The name of the state file inside the state directory.
pub const STATE_FILE: &str = "one-time-used";

/// The used sequences, as recorded in the state file.
#[derive(Debug, Default)]
pub struct UsedSequences {
    /// None: no state directory (each use is still marked in its sequence file).
    path: Option<PathBuf>,
    used: HashSet<(PathBuf, String)>,
}

impl UsedSequences {
    /// Reads `STATE_DIR/one-time-used` (absent: nothing used yet).
    pub fn load(state_dir: Option<&Path>) -> std::io::Result<UsedSequences> {
        let Some((path, text)) = state_file::read(state_dir, STATE_FILE)? else {
            return Ok(UsedSequences::default());
        };
        let used = text
            .lines()
            .filter_map(|line| line.split_once('\t'))
            .map(|(file, sequence)| (PathBuf::from(file), sequence.to_owned()))
            .collect();
        Ok(UsedSequences { path: Some(path), used })
    }

    pub fn path(&self) -> Option<&Path> {
        self.path.as_deref()
    }

    pub fn contains(&self, file: &Path, sequence: &Sequence) -> bool {
        self.used.contains(&(file.to_owned(), sequence.to_string()))
    }

    /// Records a used sequence durably (temp file + rename + fsync). In memory it is refused even if
    /// the write fails.
    pub fn record(&mut self, file: &Path, sequence: &Sequence) -> std::io::Result<()> {
        self.used.insert((file.to_owned(), sequence.to_string()));
        let Some(path) = &self.path else { return Ok(()) };
        let mut lines: Vec<String> =
            self.used.iter().map(|(file, sequence)| format!("{}\t{sequence}\n", file.display())).collect();
        lines.sort();
        write_atomically(path, lines.concat().as_bytes(), 0o600)
    }
}

/// The sequences of a one-time file that are not used yet, in file order: every line that is not blank,
/// does not start with `#` (a used sequence is commented out), and is not recorded as used.
pub fn read_remaining(file: &Path, used: &UsedSequences) -> Result<Vec<Sequence>, client_core::knockd_conf::ConfError> {
    Ok(crate::config::read_one_time(file)?
        .into_iter()
        .map(|(_, sequence)| sequence)
        .filter(|sequence| !used.contains(file, sequence))
        .collect())
}

/// Comments out the first active line of `file` that holds `sequence`, crash-safely. Ok(false) when no
/// such line is left (already marked, or removed by an edit).
pub fn mark_used(file: &Path, sequence: &Sequence) -> std::io::Result<bool> {
    let text = fs::read_to_string(file)?;
    let mut out = String::with_capacity(text.len() + 2);
    let mut marked = false;
    for current in text.split_inclusive('\n') {
        let trimmed = current.trim();
        if !marked
            && !trimmed.is_empty()
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
