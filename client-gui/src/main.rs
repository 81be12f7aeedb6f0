//! knock-gui: opens the window on the user's profile store (`--profiles-dir DIR` or $KNOCK_PROFILES_DIR
//! override the platform's config directory, as for knock-cli).

use std::path::PathBuf;

use client_core::store::ProfileStore;
use client_gui::KnockGui;

fn main() -> std::process::ExitCode {
    let started = std::time::Instant::now();
    let mut args = std::env::args_os().skip(1);
    let mut explicit: Option<PathBuf> = None;
    while let Some(arg) = args.next() {
        match arg.to_str() {
            Some("--profiles-dir") => explicit = args.next().map(PathBuf::from),
            Some("--help" | "-h") => {
                println!("usage: knock-gui [--profiles-dir DIR]");
                return std::process::ExitCode::SUCCESS;
            }
            _ => {
                eprintln!("knock-gui: unexpected argument {arg:?} (usage: knock-gui [--profiles-dir DIR])");
                return std::process::ExitCode::from(2);
            }
        }
    }
    let store = match ProfileStore::locate(explicit.as_deref()) {
        Ok(store) => store,
        Err(err) => {
            eprintln!("knock-gui: {err}");
            return std::process::ExitCode::from(2);
        }
    };
    let options = eframe::NativeOptions {
        viewport: egui::ViewportBuilder::default().with_title("knock").with_inner_size([1000.0, 680.0]),
        ..Default::default()
    };
    let result = eframe::run_native(
        "knock-gui",
        options,
        Box::new(move |cc| {
            let mut app = KnockGui::new(cc, store)?;
            // KNOCK_GUI_BENCH=N: timing output for scripts/gui-bench.sh (see gui.rs).
            if let Some(frames) = std::env::var("KNOCK_GUI_BENCH").ok().and_then(|n| n.parse().ok()) {
                app = app.with_bench(started, frames);
            }
            Ok(Box::new(app) as Box<dyn eframe::App>)
        }),
    );
    match result {
        Ok(()) => std::process::ExitCode::SUCCESS,
        Err(err) => {
            eprintln!("knock-gui: {err}");
            std::process::ExitCode::FAILURE
        }
    }
}
