//! The SPA door (issue 25): the first byte picks what the rest is. 0: an access.conf, read as the server
//! reads it (written to a private temp file). Otherwise: a UDP payload to the SPA port, decided against a
//! fixed access.conf with one stanza (forged packets must be refused; none may panic).
#![no_main]

use std::os::unix::fs::PermissionsExt;
use std::path::PathBuf;
use std::sync::OnceLock;

use libfuzzer_sys::fuzz_target;

const ACCESS: &str = "SOURCE ANY\nOPEN_PORTS tcp/22\nKEY_BASE64 wDMbC+I1w0nHkp2nCOAUkQp8nL1AYqClUvTM+XYcfA0=\n\
HMAC_KEY_BASE64 C2GZ4O5TUYhbrxFAT1u+sNjxfHBRwHJI6Yc8X1Rvnn6rKZ6B3AyrbVmYs8rJhpmPfKyJkDGY/d3cpRmWYJv4Iw==\n";

fn private_file(name: &str, content: &[u8]) -> PathBuf {
    static DIR: OnceLock<tempfile::TempDir> = OnceLock::new();
    let dir = DIR.get_or_init(|| tempfile::tempdir().expect("temp dir"));
    let path = dir.path().join(name);
    std::fs::write(&path, content).expect("write");
    std::fs::set_permissions(&path, std::fs::Permissions::from_mode(0o600)).expect("chmod");
    path
}

fuzz_target!(|data: &[u8]| {
    let Some((&mode, rest)) = data.split_first() else { return };
    if mode == 0 {
        let path = private_file("fuzzed.conf", rest);
        let _ = server_mini::spa_fuzz_verdict(&path, b"", 1_900_000_000);
        return;
    }
    static FIXED: OnceLock<PathBuf> = OnceLock::new();
    let path = FIXED.get_or_init(|| private_file("access.conf", ACCESS.as_bytes()));
    let verdict = server_mini::spa_fuzz_verdict(path, rest, 1_900_000_000).expect("the fixed access.conf loads");
    assert!(!verdict.starts_with("open"), "a forged packet opened: {verdict}");
});
