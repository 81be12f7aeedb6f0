//! Files whose content must survive a crash or a restart (the state directory's records of used one-time
//! sequences and rotating windows, a one-time sequence file): read whole, and replaced whole through a
//! temp file that is synced and renamed into place, so a crash leaves the old or the new content, never a
//! mix.

use std::fs;
use std::io::Write;
use std::path::{Path, PathBuf};

/// `STATE_DIR/NAME` and its text (empty when the file does not exist yet); `None` without a state
/// directory.
pub(crate) fn read(state_dir: Option<&Path>, name: &str) -> std::io::Result<Option<(PathBuf, String)>> {
    let Some(dir) = state_dir else { return Ok(None) };
    let path = dir.join(name);
    match fs::read_to_string(&path) {
        Ok(text) => Ok(Some((path, text))),
        Err(err) if err.kind() == std::io::ErrorKind::NotFound => Ok(Some((path, String::new()))),
        Err(err) => Err(err),
    }
}

/// Writes `path` through a temp file in the same directory, renamed into place, so a crash leaves the
/// old or the new content, never a mix.
pub(crate) fn write_atomically(path: &Path, content: &[u8], mode: u32) -> std::io::Result<()> {
    use std::os::unix::fs::PermissionsExt;
    let dir = path.parent().filter(|p| !p.as_os_str().is_empty()).unwrap_or(Path::new("."));
    let mut temp = tempfile::NamedTempFile::new_in(dir)?;
    temp.write_all(content)?;
    temp.as_file().sync_all()?;
    fs::set_permissions(temp.path(), fs::Permissions::from_mode(mode & 0o7777))?;
    temp.persist(path).map_err(|e| e.error)?;
    if let Ok(handle) = fs::File::open(dir) {
        let _ = handle.sync_all();
    }
    Ok(())
}
