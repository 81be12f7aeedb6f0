//! knock-gui: the desktop app for saved knock profiles, on eframe/egui, for Windows, macOS and Linux.
//!
//! - [`app`]: the application state as plain Rust that tests drive without a window, one part per
//!   concern (list and selection, runs, editor session, modal, settings, notices, ...), and
//!   [`app::Command`], all the user can ask, applied by [`app::AppState::apply`] only.
//! - [`editor`]: the profile form and its per-field validation.
//! - [`worker`]: a background tokio runtime for knocks and lookups; it wakes the UI on every event.
//! - [`transfer`]: import and export as functions of paths; [`pick`]: the native file dialogs, async.
//! - [`clipboard`]: copied keys are cleared from the clipboard after 30 s.
//! - [`wm_class`]: the X11 window class (instance and class).
//! - [`tray`]: the tray icon (menu-bar item on macOS): favourites to knock, Open knock, Quit; it submits
//!   commands.
//! - [`ui`]: drawing only (it reads the state and returns commands); [`gui`]: the eframe app
//!   (applies the frame's commands, persistence, repaint policy).
//!
//! The app shares the profile store with `knock-cli`: it re-scans the directory for changes, and never
//! overwrites a profile that changed on disk since it was loaded.

pub mod app;
pub mod clipboard;
pub mod desktop;
pub mod editor;
pub mod gui;
pub mod icon;
pub mod notify;
pub mod pick;
pub mod transfer;
pub mod tray;
pub mod ui;
pub mod wm_class;
pub mod worker;

pub use gui::KnockGui;

/// The app's one identifier on Windows and macOS, never to change (a new one orphans what the OS keyed
/// to the old: the Start-menu shortcut's toasts, macOS' notification and privacy grants): the
/// AppUserModelID of toasts and of the MSI's Start-menu shortcut (scripts/package-windows.sh adds it to the
/// shortcut, as wixl cannot: see packaging/windows/knock.wxs), and the
/// CFBundleIdentifier of knock.app (.github/workflows/release.yml). A test keeps the three equal.
pub const APP_ID: &str = "io.github.knock-toolkit.knock-gui";

#[cfg(test)]
mod tests {
    /// The MSI's shortcut and the macOS bundle name [`super::APP_ID`] literally (neither script can import it).
    #[test]
    fn the_msi_shortcut_and_the_macos_bundle_carry_the_app_id() {
        let root = concat!(env!("CARGO_MANIFEST_DIR"), "/..");
        for (file, expected) in [
            ("scripts/package-windows.sh", format!("\napp_id={}\n", super::APP_ID)),
            (".github/workflows/release.yml", format!("BUNDLE_ID: {}", super::APP_ID)),
        ] {
            let text = std::fs::read_to_string(format!("{root}/{file}")).expect(file);
            assert!(text.contains(&expected), "{file} does not contain {expected}");
        }
    }
}
