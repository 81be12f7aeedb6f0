//! knock-gui: opens the window on the user's profile store (`--profiles-dir DIR` or $KNOCK_PROFILES_DIR
//! override the platform's config directory, as for knock-cli).
//!
//! Per OS:
//! - Windows: release builds use the GUI subsystem, so no console window opens beside the app (debug builds
//!   keep the console for their messages). Renderers are tried in order, glow (OpenGL, as on the other
//!   OSes) then wgpu (Direct3D 12, which also runs on Microsoft's software adapter), so a VM or remote
//!   desktop without an OpenGL 2 driver still starts the app. wgpu is linked on Windows only. An error that
//!   stops the app at start is also shown in a message box (no console to print it to).
//! - Linux, macOS: glow only (OpenGL; Mesa's software GL where there is no GPU).
//! - The window icon (src/icon.rs) on Linux and Windows. Not on macOS: eframe would set it as the
//!   application's icon at run time (`setApplicationIconImage`), replacing knock.app's .icns in the Dock
//!   and the app switcher; given an empty icon eframe leaves the bundle's alone (and given none it would
//!   show egui's own: eframe's NativeOptions::viewport docs).
#![cfg_attr(all(windows, not(debug_assertions)), windows_subsystem = "windows")]

use std::ffi::OsString;
use std::path::PathBuf;
use std::process::ExitCode;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};

use client_core::ProfileStore;
use client_gui::KnockGui;

const USAGE: &str = "usage: knock-gui [--profiles-dir DIR]";

/// Parses the command line and runs; the one place a failure becomes a message and an exit code.
fn main() -> ExitCode {
    let started = std::time::Instant::now();
    match Command::parse(std::env::args_os().skip(1)).and_then(|command| run(command, started)) {
        Ok(()) => ExitCode::SUCCESS,
        Err(err) => {
            startup_error(&err.to_string());
            err.exit_code()
        }
    }
}

/// What the command line asks for.
#[derive(Debug, PartialEq)]
enum Command {
    Help,
    Open { profiles_dir: Option<PathBuf> },
}

impl Command {
    fn parse(mut args: impl Iterator<Item = OsString>) -> Result<Command, StartupError> {
        let mut profiles_dir: Option<PathBuf> = None;
        while let Some(arg) = args.next() {
            match arg.to_str() {
                Some("--profiles-dir") => profiles_dir = args.next().map(PathBuf::from),
                Some("--help" | "-h") => return Ok(Command::Help),
                _ => return Err(StartupError::Usage(arg)),
            }
        }
        Ok(Command::Open { profiles_dir })
    }
}

/// Why the app did not start.
#[derive(Debug, thiserror::Error)]
enum StartupError {
    #[error("unexpected argument {0:?} ({USAGE})")]
    Usage(OsString),
    #[error(transparent)]
    Store(#[from] client_core::StoreError),
    /// No renderer could open the window, or the app failed in it (the last renderer's error).
    #[error(transparent)]
    Window(#[from] eframe::Error),
}

impl StartupError {
    /// 2: the command line or the profile store is wrong (the user can fix it); 1: the window failed.
    fn exit_code(&self) -> ExitCode {
        match self {
            StartupError::Usage(_) | StartupError::Store(_) => ExitCode::from(2),
            StartupError::Window(_) => ExitCode::FAILURE,
        }
    }
}

fn run(command: Command, started: std::time::Instant) -> Result<(), StartupError> {
    let profiles_dir = match command {
        Command::Help => {
            println!("{USAGE}");
            return Ok(());
        }
        Command::Open { profiles_dir } => profiles_dir,
    };
    let store = ProfileStore::locate(profiles_dir.as_deref())?;
    let app_started = Arc::new(AtomicBool::new(false));
    let mut result = Ok(());
    for (attempt, &renderer) in RENDERERS.iter().enumerate() {
        if attempt > 0 {
            eprintln!("knock-gui: trying the {renderer:?} renderer instead");
        }
        result = open_window(renderer, store.clone(), started, Arc::clone(&app_started));
        // Fall back only when the renderer never got as far as creating the app.
        match &result {
            Err(err) if !app_started.load(Ordering::SeqCst) => {
                eprintln!("knock-gui: the {renderer:?} renderer could not start: {err}");
            }
            _ => break,
        }
    }
    Ok(result?)
}

/// Says why the app cannot start: on stderr, and on Windows also in a message box when stderr is no terminal
/// (the release build has no console, so a double-clicked knock-gui.exe would otherwise vanish silently).
fn startup_error(message: &str) {
    eprintln!("knock-gui: {message}");
    #[cfg(windows)]
    if !std::io::IsTerminal::is_terminal(&std::io::stderr()) {
        rfd::MessageDialog::new()
            .set_level(rfd::MessageLevel::Error)
            .set_title("knock-gui cannot start")
            .set_description(message)
            .set_buttons(rfd::MessageButtons::Ok)
            .show();
    }
}

/// The renderers to try, best first (see the module docs).
#[cfg(not(windows))]
const RENDERERS: &[eframe::Renderer] = &[eframe::Renderer::Glow];
#[cfg(windows)]
const RENDERERS: &[eframe::Renderer] = &[eframe::Renderer::Glow, eframe::Renderer::Wgpu];

/// The window's icon; on macOS the empty one (see the module docs).
fn window_icon() -> egui::IconData {
    if cfg!(target_os = "macos") { egui::IconData::default() } else { client_gui::icon::window_icon() }
}

fn open_window(
    renderer: eframe::Renderer,
    store: ProfileStore,
    started: std::time::Instant,
    app_started: Arc<AtomicBool>,
) -> eframe::Result {
    // Before eframe reads or writes it: the saved state is for this user only.
    if let Some(dir) = eframe::storage_dir("knock-gui")
        && let Err(err) = client_gui::gui::protect_saved_state(&dir)
    {
        eprintln!("knock-gui: cannot make {} private: {err}", dir.display());
    }
    let options = eframe::NativeOptions {
        viewport: egui::ViewportBuilder::default()
            .with_title("knock")
            .with_inner_size([1000.0, 680.0])
            .with_min_inner_size([640.0, 400.0])
            .with_app_id("knock-gui")
            .with_icon(window_icon()),
        renderer,
        ..Default::default()
    };
    eframe::run_native(
        "knock-gui",
        options,
        Box::new(move |cc| {
            app_started.store(true, Ordering::SeqCst);
            // KNOCK_GUI_BENCH=N: timing output for scripts/gui-bench.sh (see gui.rs): where start-up goes.
            let bench: Option<usize> = std::env::var("KNOCK_GUI_BENCH").ok().and_then(|n| n.parse().ok());
            if bench.is_some() {
                println!("window_and_gl_ms {:.1}", started.elapsed().as_secs_f64() * 1000.0);
            }
            let ctx = cc.egui_ctx.clone();
            let tray = client_gui::tray::Tray::start(std::sync::Arc::new(move || ctx.request_repaint()));
            let mut app = KnockGui::new(cc, store)?.with_tray(tray);
            if let Some(frames) = bench {
                println!("app_state_ms {:.1}", started.elapsed().as_secs_f64() * 1000.0);
                app = app.with_bench(started, frames);
            }
            Ok(Box::new(app) as Box<dyn eframe::App>)
        }),
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parse(args: &[&str]) -> Result<Command, StartupError> {
        Command::parse(args.iter().map(OsString::from))
    }

    #[test]
    fn arguments_are_parsed_and_a_bad_one_is_a_usage_error_with_exit_code_2() {
        assert_eq!(parse(&[]).expect("no arguments"), Command::Open { profiles_dir: None });
        assert_eq!(
            parse(&["--profiles-dir", "/p"]).expect("a directory"),
            Command::Open { profiles_dir: Some(PathBuf::from("/p")) }
        );
        assert_eq!(parse(&["--profiles-dir", "/p", "-h"]).expect("help"), Command::Help);
        let err = parse(&["--bogus"]).expect_err("an unknown argument");
        assert_eq!(err.to_string(), "unexpected argument \"--bogus\" (usage: knock-gui [--profiles-dir DIR])");
        assert_eq!(err.exit_code(), ExitCode::from(2));
    }
}
