//! Desktop notifications of a knock's outcome, shown only while the window is not focused (the window
//! itself shows the result otherwise).
//!
//! Per OS (one crate, notify-rust, for all three):
//! - Linux/BSD: the freedesktop notification service over D-Bus, spoken by zbus (pure Rust: no libdbus
//!   to link). No session bus or no notification daemon (a bare i3, a server) is an error returned
//!   to the caller, never a hang or a panic: the app keeps the outcome in its window and history.
//!   Daemons that advertise "body-markup" (dunst, GNOME, KDE, mako...) read the body as markup, so there it
//!   is escaped: an outcome quoting outside text with '<' or '&' is shown as typed, not lost.
//! - macOS: the user notification centre (notify-rust's mac-notification-sys backend).
//! - Windows: a toast (notify-rust's WinRT backend), under the app's name.
//! - Elsewhere: not available; the error says so.
//!
//! Showing a notification is a blocking round trip: the worker calls [`show`] off the UI thread.

use crate::app::DesktopNote;

/// The application name notifications are shown under.
const APP_NAME: &str = "knock-gui";

/// Shows `note` on the desktop; the error says why it could not be.
#[cfg(any(
    target_os = "linux",
    target_os = "freebsd",
    target_os = "openbsd",
    target_os = "netbsd",
    target_os = "macos",
    windows
))]
pub fn show(note: &DesktopNote) -> Result<(), String> {
    let mut notification = notify_rust::Notification::new();
    notification.appname(APP_NAME).summary(&note.title).body(&note.body);
    #[cfg(all(unix, not(target_os = "macos")))]
    {
        notification.icon("knock-gui").timeout(notify_rust::Timeout::Milliseconds(8000));
        let reads_markup = notify_rust::get_capabilities()
            .map_err(|e| format!("desktop notification not shown: {e}"))?
            .iter()
            .any(|capability| capability == "body-markup");
        if reads_markup {
            notification.body(&escape_markup(&note.body));
        }
    }
    notification.show().map(drop).map_err(|e| format!("desktop notification not shown: {e}"))
}

/// `text` as freedesktop notification markup that shows it as typed.
#[cfg(any(target_os = "linux", target_os = "freebsd", target_os = "openbsd", target_os = "netbsd"))]
fn escape_markup(text: &str) -> String {
    text.replace('&', "&amp;").replace('<', "&lt;").replace('>', "&gt;")
}

#[cfg(not(any(
    target_os = "linux",
    target_os = "freebsd",
    target_os = "openbsd",
    target_os = "netbsd",
    target_os = "macos",
    windows
)))]
pub fn show(_note: &DesktopNote) -> Result<(), String> {
    Err("desktop notifications are not available on this OS".to_owned())
}
