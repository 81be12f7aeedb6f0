//! Running client steps against a real keyring: `scripts/with-keyring.sh` starts a private D-Bus session
//! with GNOME Keyring in the lab's client namespace, and the steps (sh) run inside it.

use std::path::Path;
use std::process::Output;

use crate::lab::Lab;
use crate::text;

/// Runs `steps` (sh) in the client namespace inside a private D-Bus session with GNOME Keyring, with no
/// key variables of the toolkit in the environment. None (after saying so) when the machine has no
/// gnome-keyring/dbus (exit 77 of the script), which CI (`CI=true`) must have: there it panics.
pub fn in_keyring_session(lab: &Lab, steps: &str) -> Option<Output> {
    let script = Path::new(env!("CARGO_MANIFEST_DIR")).join("../scripts/with-keyring.sh");
    let out = lab
        .client_cmd("bash")
        .arg(&script)
        .args(["sh", "-c", steps])
        .env_remove("KNOCK_SPA_KEY_BASE64")
        .env_remove("KNOCK_SPA_HMAC_KEY_BASE64")
        .env_remove("KNOCK_ROTATING_KEY")
        .output()
        .expect("with-keyring runs");
    if out.status.code() == Some(77) {
        let ci = std::env::var("CI").is_ok_and(|v| v == "true" || v == "1");
        assert!(!ci, "CI must have gnome-keyring and dbus: {}", text(&out));
        eprintln!("SKIPPED (needs gnome-keyring + dbus): {}", text(&out));
        return None;
    }
    Some(out)
}
