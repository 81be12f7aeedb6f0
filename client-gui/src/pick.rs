//! The native file dialogs (rfd), asynchronous on every OS: a Browse… button opens one and returns at once,
//! the window keeps drawing, and the picked path arrives later through the worker ([`crate::app::Pick`]).
//!
//! Per OS (why not rfd's synchronous `FileDialog` inside the frame, where the button is handled):
//! - macOS: the synchronous panel runs a nested modal loop inside winit's event handler, which recent
//!   macOS and winit abort ("tried to handle event while another event is currently being handled"). The
//!   async one is a sheet begun on the main thread (where this is called, from the UI's frame) and
//!   answered through the app's own run loop.
//! - Windows: rfd runs the dialog (IFileOpenDialog) on a thread of its own; the window is not blocked.
//! - Linux/BSD: the XDG desktop portal over D-Bus (zenity where no portal answers), on a thread of rfd's.
//!
//! rfd's advice is to create the dialog on the main thread and await it elsewhere: these functions create
//! it (the dialog is up when they return) and the worker awaits the future.

use std::future::Future;
use std::path::PathBuf;

/// A file to import, picked with the system's file dialog; None if the user cancelled (or no dialog could
/// be shown, e.g. no portal runs).
pub fn file() -> impl Future<Output = Option<PathBuf>> + Send + 'static {
    let dialog = rfd::AsyncFileDialog::new().set_title("Import profiles").pick_file();
    async move { dialog.await.map(|picked| picked.path().to_path_buf()) }
}

/// A folder to export into; None as for [`file()`].
pub fn folder() -> impl Future<Output = Option<PathBuf>> + Send + 'static {
    let dialog = rfd::AsyncFileDialog::new().set_title("Export profiles into").pick_folder();
    async move { dialog.await.map(|picked| picked.path().to_path_buf()) }
}
