//! A rotating door's key file (`Rotating_Keys = FILE`): one `USER BASE32KEY` per line, `#` comments and
//! blank lines allowed. Each user has their own key, so the log names who opened and one user can be
//! revoked (remove the line, SIGHUP) without touching the others.
//!
//! The file holds secrets: it is refused when its group or others have any permission (it must be 0600
//! or stricter), and no error ever quotes a key. Every error names the file and line.

use std::fs;
use std::io::Write;
use std::os::unix::fs::{OpenOptionsExt, PermissionsExt};
use std::path::Path;

use client_core::knockd_conf::ConfError;
use client_core::rotating::DoorKey;

/// The longest user name (it goes into log lines and the state file).
pub(crate) const MAX_USER_LEN: usize = 64;

/// One user of a rotating door.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct UserKey {
    pub(crate) user: String,
    pub(crate) key: DoorKey,
    /// The line in the key file.
    pub(crate) line: usize,
}

/// Whether `name` is a valid user name: 1 to 64 of `A-Z a-z 0-9 . _ @ + -` (no spaces, tabs or `#`).
pub(crate) fn valid_user(name: &str) -> bool {
    (1..=MAX_USER_LEN).contains(&name.len())
        && name.chars().all(|c| c.is_ascii_alphanumeric() || matches!(c, '.' | '_' | '@' | '+' | '-'))
}

fn error(path: &Path, line: usize, message: impl Into<String>) -> ConfError {
    ConfError::at_line(line, message).in_file(path)
}

/// Refuses a key file that its group or others may access.
fn check_mode(path: &Path, metadata: &fs::Metadata) -> Result<(), ConfError> {
    let mode = metadata.permissions().mode() & 0o777;
    if mode & 0o077 != 0 {
        return Err(error(
            path,
            1,
            format!(
                "the key file is mode {mode:04o}: group or others can read it, and it holds every user's key; \
                 run chmod 600 {}",
                path.display()
            ),
        ));
    }
    Ok(())
}

/// Reads and checks a key file: the mode, then every line (malformed key, too short a key, a bad or
/// repeated user name: file:line errors that never quote the key).
pub(crate) fn read(path: &Path) -> Result<Vec<UserKey>, ConfError> {
    let read_error = |source| ConfError::Read { path: path.to_owned(), source };
    let file = fs::File::open(path).map_err(read_error)?;
    check_mode(path, &file.metadata().map_err(read_error)?)?;
    let text = std::io::read_to_string(file).map_err(read_error)?;
    parse(path, &text)
}

/// The users of a key file's text (`path` only names the file in errors).
pub(crate) fn parse(path: &Path, text: &str) -> Result<Vec<UserKey>, ConfError> {
    let mut users: Vec<UserKey> = Vec::new();
    for (index, raw) in text.lines().enumerate() {
        let line = index + 1;
        let trimmed = raw.trim();
        if trimmed.is_empty() || trimmed.starts_with('#') {
            continue;
        }
        let mut words = trimmed.split_whitespace();
        let user = words.next().unwrap_or_default();
        let key_text: String = words.collect();
        if !valid_user(user) {
            return Err(error(
                path,
                line,
                format!(
                    "the user name is not valid: expected 1 to {MAX_USER_LEN} of A-Z a-z 0-9 . _ @ + - (a line is \
                     USER BASE32KEY)"
                ),
            ));
        }
        if key_text.is_empty() {
            return Err(error(path, line, format!("user {user} has no key: a line is USER BASE32KEY")));
        }
        let key = DoorKey::from_base32(&key_text)
            .map_err(|why| error(path, line, format!("the key of user {user} is not usable: {why}")))?;
        if let Some(first) = users.iter().find(|u| u.user == user) {
            return Err(error(
                path,
                line,
                format!("user {user} is already listed at line {}: one key per user; remove one line", first.line),
            ));
        }
        users.push(UserKey { user: user.to_owned(), key, line });
    }
    Ok(users)
}

/// Appends `USER KEY` to the key file, creating it 0600 when it does not exist. Refuses a user already
/// listed, and a file that is readable by others or malformed (it would not load).
pub(crate) fn append(path: &Path, user: &str, key: &DoorKey) -> Result<(), ConfError> {
    if !valid_user(user) {
        return Err(ConfError::at_line(
            0,
            format!("{user:?} is not a valid user name: expected 1 to {MAX_USER_LEN} of A-Z a-z 0-9 . _ @ + -"),
        ));
    }
    let io_error = |source| ConfError::Read { path: path.to_owned(), source };
    let existing = match fs::metadata(path) {
        Ok(_) => read(path)?,
        Err(err) if err.kind() == std::io::ErrorKind::NotFound => Vec::new(),
        Err(err) => return Err(io_error(err)),
    };
    if let Some(listed) = existing.iter().find(|u| u.user == user) {
        return Err(error(
            path,
            listed.line,
            format!("user {user} already has a key: remove that line first to replace it (revoking the old key)"),
        ));
    }
    let mut file = fs::OpenOptions::new().append(true).create(true).mode(0o600).open(path).map_err(io_error)?;
    // A file not ending in a newline would glue the new user to its last line.
    let needs_newline = fs::read(path).map_err(io_error)?.last().is_some_and(|b| *b != b'\n');
    let line = format!("{}{user} {}\n", if needs_newline { "\n" } else { "" }, key.to_base32());
    file.write_all(line.as_bytes()).map_err(io_error)?;
    file.sync_all().map_err(io_error)?;
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    const K1: &str = "JBSWY3DPEHPK3PXPJBSWY3DPEHPK3PXP";

    fn write(dir: &Path, text: &str, mode: u32) -> std::path::PathBuf {
        let path = dir.join("keys");
        fs::write(&path, text).expect("write");
        fs::set_permissions(&path, fs::Permissions::from_mode(mode)).expect("chmod");
        path
    }

    #[test]
    fn users_comments_and_blank_lines() {
        let dir = tempfile::tempdir().expect("dir");
        let path = write(dir.path(), &format!("# door ssh\n\nalice {K1}\n  bob  {}\n", K1.to_lowercase()), 0o600);
        let users = read(&path).expect("valid");
        assert_eq!(users.iter().map(|u| (u.user.as_str(), u.line)).collect::<Vec<_>>(), [("alice", 3), ("bob", 4)]);
    }

    #[test]
    fn errors_name_file_and_line_and_never_the_key() {
        let dir = tempfile::tempdir().expect("dir");
        let path = write(dir.path(), &format!("alice {K1}\n"), 0o644);
        let e = read(&path).expect_err("0644").to_string();
        assert!(e.contains("keys:1") && e.contains("0644") && e.contains("chmod 600"), "{e}");
        for (text, line, why) in [
            (format!("alice {K1}\nbob not-base32!\n"), 2, "not base32"),
            (format!("alice {K1}\n\nbob JBSWY3DP\n"), 3, "at least 128"),
            (format!("alice {K1}\nalice {K1}\n"), 2, "already listed at line 1"),
            ("alice\n".to_owned(), 1, "no key"),
            (format!("bad#name {K1}\n"), 1, "user name"),
        ] {
            let path = write(dir.path(), &text, 0o600);
            let e = read(&path).expect_err(&text).to_string();
            assert!(e.contains(&format!("keys:{line}")) && e.contains(why), "{text:?}: {e}");
            assert!(!e.contains(K1) && !e.contains("JBSWY3DP"), "the key is never quoted: {e}");
        }
    }

    #[test]
    fn append_creates_0600_and_refuses_a_listed_user() {
        let dir = tempfile::tempdir().expect("dir");
        let path = dir.path().join("new-keys");
        let key = DoorKey::from_base32(K1).expect("key");
        append(&path, "alice", &key).expect("create");
        assert_eq!(fs::metadata(&path).expect("meta").permissions().mode() & 0o777, 0o600);
        fs::write(&path, format!("alice {K1}")).expect("no final newline");
        append(&path, "bob", &key).expect("append");
        assert_eq!(read(&path).expect("read").len(), 2);
        let e = append(&path, "alice", &key).expect_err("listed").to_string();
        assert!(e.contains("new-keys:1") && e.contains("already has a key"), "{e}");
        assert!(append(&path, "no spaces", &key).is_err());
    }
}
