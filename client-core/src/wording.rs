//! Wording shared by every front end (the CLI, the desktop app, doctor's checks), so a count reads the
//! same everywhere.

/// `1 hit`, `2 hits`: a count with its noun, plural when it is not one.
pub fn plural(n: usize, noun: &str) -> String {
    if n == 1 { format!("1 {noun}") } else { format!("{n} {noun}s") }
}
