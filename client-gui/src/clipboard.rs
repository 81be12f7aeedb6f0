//! Copied secrets do not stay in the system clipboard: 30 s after a key was copied, the clipboard is
//! cleared if it still holds that key (something the user copied since is left alone).
//!
//! egui copies through eframe (arboard); this reads it back with arboard too. Per OS: X11 and Wayland
//! (data-control where the compositor has it), macOS' pasteboard and Windows' clipboard, all through
//! arboard; where no clipboard can be opened nothing is cleared (and nothing else changes).

use std::time::Duration;

use zeroize::Zeroizing;

/// How long a copied key stays in the clipboard.
pub const SECRET_LIFETIME: Duration = Duration::from_secs(30);

/// Clears the clipboard if it still holds `copied`; true when it did. Blocking (a clipboard round trip).
pub fn clear_if_unchanged(copied: &str) -> Result<bool, arboard::Error> {
    let mut clipboard = arboard::Clipboard::new()?;
    let now = Zeroizing::new(clipboard.get_text().unwrap_or_default());
    if now.as_str() != copied {
        return Ok(false);
    }
    clipboard.clear()?;
    Ok(true)
}

/// After `after`, clears the clipboard if it still holds `copied` (on a thread of its own that only
/// waits: never on the UI thread's time).
pub fn clear_later(copied: Zeroizing<String>, after: Duration) {
    let spawned = std::thread::Builder::new().name("clipboard-clear".into()).spawn(move || {
        std::thread::sleep(after);
        let _ = clear_if_unchanged(&copied);
    });
    // No thread: the key stays until the user copies something else (nothing else to do).
    drop(spawned);
}
