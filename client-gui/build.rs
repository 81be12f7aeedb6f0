//! Build decisions for knock-gui, per OS:
//! - **Windows**: the icon, the application manifest (per-monitor DPI awareness v2, common controls v6,
//!   long paths) and version info are compiled into knock-gui.exe as resources
//!   (packaging/windows/resources.rs, shared with knock-cli). Without the manifest Windows would
//!   bitmap-stretch the window on scaled monitors and draw rfd's dialogs in the Windows 95 style.
//! - **Linux, macOS**: nothing. macOS gets its icon from the bundle's .icns (release.yml builds knock.app),
//!   Linux from the .desktop file's icon (scripts/package-deb.sh).

// Cargo reads a build script's instructions from its stdout; println! is how they are written.
#![allow(clippy::disallowed_macros)]

fn main() {
    println!("cargo:rerun-if-changed=build.rs");
    println!("cargo:rerun-if-changed=../packaging/windows/resources.rs");
    windows_resources("knock-gui");
}

include!("../packaging/windows/resources.rs");
