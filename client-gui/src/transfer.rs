//! Import and export, as functions that take paths: the native file dialogs (rfd) are a thin layer over
//! these, and tests call them directly.

use std::fs;
use std::path::{Path, PathBuf};

use client_core::import::{import_path, write};
use client_core::secrets::SecretStore;
use client_core::store::{ProfileStore, parse};

/// Copies one profile file into the store under its file name; never replaces an existing profile.
pub fn import_profile_file(store: &ProfileStore, path: &Path) -> Result<String, String> {
    let name = path
        .file_stem()
        .and_then(|s| s.to_str())
        .ok_or_else(|| format!("{}: not a profile file name", path.display()))?
        .to_owned();
    let bytes = fs::read(path).map_err(|e| format!("cannot read {}: {e}", path.display()))?;
    let profile = parse(path, &bytes).map_err(|e| e.to_string())?;
    store.create(&name, &profile).map_err(|e| e.to_string())?;
    Ok(name)
}

/// Turns a knockd.conf's doors into profiles for `host`; says what was added and what was skipped.
pub fn import_knockd_conf(store: &ProfileStore, path: &Path, host: &str) -> Result<String, String> {
    if host.is_empty() {
        return Err("enter the host the knockd.conf doors belong to".to_owned());
    }
    let report = import_path(path, Some(host)).map_err(|e| e.to_string())?;
    let mut added = Vec::new();
    let mut problems: Vec<String> = report
        .entries
        .iter()
        .filter_map(|entry| entry.skipped.as_ref().map(|reason| format!("{}: {reason}", entry.source)))
        .collect();
    for written in write(&report, store, &SecretStore::new()) {
        match written.profile {
            Ok(_) => added.push(written.name),
            Err(err) => problems.push(format!("{}: {err}", written.name)),
        }
    }
    if added.is_empty() {
        return Err(format!("nothing imported from {}: {}", path.display(), problems.join("; ")));
    }
    let mut report = format!("imported {} from {}", added.join(", "), path.display());
    if !problems.is_empty() {
        report.push_str(&format!(" (not imported: {})", problems.join("; ")));
    }
    Ok(report)
}

/// Writes the named profiles as `NAME.toml` into `dir`; refuses to replace files already there.
pub fn export_profiles(store: &ProfileStore, names: &[String], dir: &Path) -> Result<Vec<PathBuf>, String> {
    if names.is_empty() {
        return Err("select a profile to export".to_owned());
    }
    let mut written = Vec::new();
    for name in names {
        let stored = store.load(name).map_err(|e| e.to_string())?;
        let text = toml::to_string(&stored.profile).map_err(|e| e.to_string())?;
        let path = dir.join(format!("{name}.toml"));
        let mut file = fs::OpenOptions::new()
            .write(true)
            .create_new(true)
            .open(&path)
            .map_err(|e| format!("cannot create {}: {e}", path.display()))?;
        std::io::Write::write_all(&mut file, text.as_bytes())
            .map_err(|e| format!("cannot write {}: {e}", path.display()))?;
        written.push(path);
    }
    Ok(written)
}

#[cfg(test)]
mod tests {
    use super::*;
    use client_core::profile::Profile;
    use client_core::{Protocol, Sequence};

    fn store(dir: &Path) -> ProfileStore {
        ProfileStore::new(dir.join("profiles"))
    }

    #[test]
    fn export_then_import_round_trips_and_never_overwrites() {
        let dir = tempfile::tempdir().expect("dir");
        let a = store(dir.path());
        let profile = Profile::new("192.0.2.2", Sequence::parse("7000,8000:udp", Protocol::Tcp).expect("seq"));
        a.create("bastion", &profile).expect("create");
        let out = dir.path().join("export");
        fs::create_dir(&out).expect("mkdir");
        let written = export_profiles(&a, &["bastion".into()], &out).expect("export");
        assert_eq!(written, [out.join("bastion.toml")]);
        assert!(export_profiles(&a, &["bastion".into()], &out).is_err(), "export never replaces a file");

        let b = ProfileStore::new(dir.path().join("other"));
        assert_eq!(import_profile_file(&b, &written[0]).expect("import"), "bastion");
        assert_eq!(b.load("bastion").expect("load").profile, profile);
        assert!(import_profile_file(&b, &written[0]).expect_err("twice").contains("already exists"));
    }

    #[test]
    fn knockd_conf_import_needs_a_host_and_reports_what_it_did() {
        let dir = tempfile::tempdir().expect("dir");
        let conf = dir.path().join("knockd.conf");
        fs::write(&conf, "[openSSH]\n sequence = 7000,8000,9000\n[closeSSH]\n sequence = 9000,8000,7000\n")
            .expect("write");
        let s = store(dir.path());
        assert!(import_knockd_conf(&s, &conf, "").is_err());
        let report = import_knockd_conf(&s, &conf, "192.0.2.2").expect("import");
        assert!(report.contains("imported ssh"), "{report}");
        assert!(s.load("ssh").expect("ssh").profile.sequence().is_some_and(|k| k.close.is_some()));
    }
}
