//! knock-gui: the desktop app for saved knock profiles, on eframe/egui, for Windows, macOS and Linux.
//!
//! - [`app`]: the application state (profiles, selection, runs, history, editor, dialogs) as plain Rust
//!   that tests drive without a window.
//! - [`editor`]: the profile form and its per-field validation.
//! - [`worker`]: a background tokio runtime for knocks and lookups; it wakes the UI on every event.
//! - [`transfer`]: import and export as functions of paths (the file dialogs are a thin layer).
//! - [`ui`]: drawing only; [`gui`]: the eframe app (persistence, repaint policy).
//!
//! The app shares the profile store with `knock-cli`: it re-scans the directory for changes, and never
//! overwrites a profile that changed on disk since it was loaded.

pub mod app;
pub mod desktop;
pub mod editor;
pub mod gui;
pub mod icon;
pub mod notify;
pub mod transfer;
pub mod ui;
pub mod worker;

pub use gui::KnockGui;
