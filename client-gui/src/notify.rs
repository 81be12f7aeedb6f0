//! Desktop notifications of a knock's outcome, shown only while the window is not focused (the window
//! itself shows the result otherwise).
//!
//! Per OS:
//! - Linux/BSD: the freedesktop notification service over D-Bus, spoken by zbus (pure Rust: no libdbus
//!   to link). No session bus or no notification daemon (a bare i3, a server) is an error returned
//!   to the caller, never a hang or a panic: the app keeps the outcome in its window and history.
//!   Daemons that advertise "body-markup" (dunst, GNOME, KDE, mako...) read the body as markup, so there it
//!   is escaped: an outcome quoting outside text with '<' or '&' is shown as typed, not lost.
//! - macOS: the user notification centre through `osascript -e 'display notification ...'` (the script
//!   is one argument, no shell). They are Script Editor's notifications, not knock.app's: macOS drops them
//!   silently (osascript still exits 0) until Script Editor is allowed to notify in System Settings ›
//!   Notifications, which the README's macOS install paragraph tells the user. notify-rust's macOS
//!   backend (mac-notification-sys) would post under the bundle's identifier, but it compiles
//!   Objective-C against Apple's SDK, which no Linux machine has: with it the macOS build could not even
//!   be checked (scripts/check-platforms.sh) outside a Mac.
//! - Windows: a toast (notify-rust's WinRT backend) under the app's AppUserModelID, [`crate::APP_ID`]:
//!   Windows shows a desktop app's toasts under its name and icon only when a Start-menu shortcut carries
//!   that id (Microsoft's "Send a local toast notification from a desktop app" and the AppUserModelID
//!   pages), which the MSI's shortcut does (packaging/windows/knock.wxs). Without that shortcut (the
//!   zip) Windows would drop toasts for an unknown id, so then notify-rust's default, PowerShell's id,
//!   is kept: shown as "Windows PowerShell", but shown.
//! - Linux/BSD and Windows use notify-rust.
//! - Elsewhere: not available; the error says so.
//!
//! Showing a notification is a blocking round trip: the worker calls [`show`] off the UI thread.

use crate::app::DesktopNote;

/// The application name freedesktop notifications are shown under.
#[cfg(any(target_os = "linux", target_os = "freebsd", target_os = "openbsd", target_os = "netbsd", windows))]
const APP_NAME: &str = "knock-gui";

/// Why a notification was not shown. Clone (the sources are shared) because the app keeps the last
/// outcome in its state, which the tests read by cloning.
#[derive(Debug, Clone, thiserror::Error)]
pub enum NotifyError {
    /// The notification service did not take it (no session bus, no daemon, a refused toast).
    #[cfg(any(target_os = "linux", target_os = "freebsd", target_os = "openbsd", target_os = "netbsd", windows))]
    #[error("desktop notification not shown: {0}")]
    Service(#[source] std::sync::Arc<notify_rust::error::Error>),
    #[cfg(target_os = "macos")]
    #[error("desktop notification not shown: cannot run osascript: {0}")]
    Osascript(#[source] std::sync::Arc<std::io::Error>),
    /// osascript ran and failed; its stderr, trimmed.
    #[cfg(target_os = "macos")]
    #[error("desktop notification not shown: osascript: {0}")]
    Refused(String),
    #[cfg(not(any(
        target_os = "linux",
        target_os = "freebsd",
        target_os = "openbsd",
        target_os = "netbsd",
        target_os = "macos",
        windows
    )))]
    #[error("desktop notifications are not available on this OS")]
    Unavailable,
}

#[cfg(any(target_os = "linux", target_os = "freebsd", target_os = "openbsd", target_os = "netbsd", windows))]
impl From<notify_rust::error::Error> for NotifyError {
    fn from(error: notify_rust::error::Error) -> NotifyError {
        NotifyError::Service(std::sync::Arc::new(error))
    }
}

/// Shows `note` on the desktop; the error says why it could not be.
#[cfg(any(target_os = "linux", target_os = "freebsd", target_os = "openbsd", target_os = "netbsd", windows))]
pub fn show(note: &DesktopNote) -> Result<(), NotifyError> {
    let mut notification = notify_rust::Notification::new();
    notification.appname(APP_NAME).summary(&note.title).body(&note.body);
    #[cfg(windows)]
    if let Some(app_id) = toast_app_id() {
        notification.app_id(app_id);
    }
    #[cfg(unix)]
    {
        notification.icon("knock-gui").timeout(notify_rust::Timeout::Milliseconds(8000));
        let reads_markup = notify_rust::get_capabilities()?.iter().any(|capability| capability == "body-markup");
        if reads_markup {
            notification.body(&escape_markup(&note.body));
        }
    }
    notification.show().map(drop).map_err(NotifyError::from)
}

/// [`crate::APP_ID`] when the MSI's Start-menu shortcut (which carries it) is there, else None (see the
/// module docs). The MSI installs per machine, so Windows puts the shortcut in the common Programs folder
/// (%ProgramData%); Wine puts it in the user's (%APPDATA%).
#[cfg(windows)]
fn toast_app_id() -> Option<&'static str> {
    let installed = ["ProgramData", "APPDATA"]
        .iter()
        .filter_map(std::env::var_os)
        .any(|root| std::path::Path::new(&root).join(r"Microsoft\Windows\Start Menu\Programs\knock.lnk").is_file());
    installed.then_some(crate::APP_ID)
}

/// `text` as freedesktop notification markup that shows it as typed.
#[cfg(any(target_os = "linux", target_os = "freebsd", target_os = "openbsd", target_os = "netbsd"))]
fn escape_markup(text: &str) -> String {
    text.replace('&', "&amp;").replace('<', "&lt;").replace('>', "&gt;")
}

/// Shows `note` in the notification centre (see the module docs for why through osascript).
#[cfg(target_os = "macos")]
pub fn show(note: &DesktopNote) -> Result<(), NotifyError> {
    let script = format!(
        "display notification {} with title {}",
        applescript_string(&note.body),
        applescript_string(&note.title)
    );
    let out = std::process::Command::new("/usr/bin/osascript")
        .args(["-e", &script])
        .stdin(std::process::Stdio::null())
        .output()
        .map_err(|e| NotifyError::Osascript(std::sync::Arc::new(e)))?;
    if out.status.success() {
        Ok(())
    } else {
        Err(NotifyError::Refused(String::from_utf8_lossy(&out.stderr).trim().to_owned()))
    }
}

/// `text` as an AppleScript string literal.
#[cfg(any(target_os = "macos", test))]
fn applescript_string(text: &str) -> String {
    let mut quoted = String::with_capacity(text.len() + 2);
    quoted.push('"');
    for c in text.chars() {
        match c {
            '"' | '\\' => {
                quoted.push('\\');
                quoted.push(c);
            }
            // A line break would end the `-e` line for AppleScript; the body is one line anyway.
            '\n' | '\r' => quoted.push(' '),
            c => quoted.push(c),
        }
    }
    quoted.push('"');
    quoted
}

#[cfg(not(any(
    target_os = "linux",
    target_os = "freebsd",
    target_os = "openbsd",
    target_os = "netbsd",
    target_os = "macos",
    windows
)))]
pub fn show(_note: &DesktopNote) -> Result<(), NotifyError> {
    Err(NotifyError::Unavailable)
}

#[cfg(test)]
mod tests {
    use super::applescript_string;

    #[test]
    fn applescript_strings_keep_quotes_and_backslashes_as_typed() {
        assert_eq!(applescript_string(r#"door "ssh" at C:\x"#), r#""door \"ssh\" at C:\\x""#);
        assert_eq!(applescript_string("two\nlines"), "\"two lines\"");
    }
}
