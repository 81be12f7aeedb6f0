//! The window's X11 class, `WM_CLASS = "knock-gui", "knock-gui"` (instance and class): window managers,
//! docks and `.desktop` files (StartupWMClass) match windows by it. egui-winit names only the class (the
//! instance stays empty), so the property is set once more after the window exists.
//!
//! Per OS: X11 only (on Wayland the app id, set by eframe, does this job; macOS and Windows have no
//! WM_CLASS), over a connection of its own (x11rb, pure Rust: no libX11 is linked for it).

/// The instance and the class.
pub const WM_CLASS: &str = "knock-gui";

/// Sets WM_CLASS on the window behind `handle`, when it is an X11 window; anything else is left alone.
#[cfg(all(unix, not(any(target_os = "macos", target_os = "ios", target_os = "android"))))]
pub fn set(handle: raw_window_handle::RawWindowHandle) -> Result<(), String> {
    use x11rb::connection::Connection;
    use x11rb::protocol::xproto::{AtomEnum, PropMode};
    use x11rb::wrapper::ConnectionExt;
    let window = match handle {
        raw_window_handle::RawWindowHandle::Xlib(h) => u32::try_from(h.window).map_err(|e| e.to_string())?,
        raw_window_handle::RawWindowHandle::Xcb(h) => h.window.get(),
        _ => return Ok(()),
    };
    let (connection, _) = x11rb::connect(None).map_err(|e| e.to_string())?;
    // Two NUL-terminated strings: the instance, then the class.
    let value = format!("{WM_CLASS}\0{WM_CLASS}\0");
    connection
        .change_property8(PropMode::REPLACE, window, AtomEnum::WM_CLASS, AtomEnum::STRING, value.as_bytes())
        .map_err(|e| e.to_string())?;
    connection.flush().map_err(|e| e.to_string())?;
    Ok(())
}

#[cfg(not(all(unix, not(any(target_os = "macos", target_os = "ios", target_os = "android")))))]
pub fn set(_handle: raw_window_handle::RawWindowHandle) -> Result<(), String> {
    Ok(())
}
