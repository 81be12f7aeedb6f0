//! The eframe application: owns the [`AppState`], wires the worker's wake-ups to repaints, persists the
//! selection and last results, and decides when to repaint: every ~100 ms only while a knock runs (for
//! progress and countdowns), otherwise only when something happens or the store is due for a re-scan.

use std::sync::Arc;
use std::time::{Duration, Instant};

use client_core::store::ProfileStore;

use crate::app::{AppState, Persisted, Quit};
use crate::ui::{self, ViewState};

/// The key of the app's state in eframe's storage.
pub const STORAGE_KEY: &str = "knock-gui";
const RUNNING_REPAINT: Duration = Duration::from_millis(100);

/// The window never gets smaller than this: the list, the detail view's buttons and a dialog fit.
pub const MIN_WINDOW: egui::Vec2 = egui::vec2(640.0, 400.0);

pub struct KnockGui {
    pub state: AppState,
    pub view: ViewState,
    bench: Option<Bench>,
    first_frame: bool,
}

/// Measurements for the benchmark script, enabled by `KNOCK_GUI_BENCH=N` (N frames to time): prints
/// `first_frame_ms` (process start to the end of the first frame's UI pass), then forces N repaints and
/// prints the UI pass and frame-to-frame times (p50/p99), then goes back to idle.
struct Bench {
    started: Instant,
    frames_wanted: usize,
    ui_times: Vec<Duration>,
    intervals: Vec<Duration>,
    last_frame: Option<Instant>,
}

impl KnockGui {
    pub fn new(cc: &eframe::CreationContext<'_>, store: ProfileStore) -> std::io::Result<KnockGui> {
        let persisted: Persisted = cc.storage.and_then(|s| eframe::get_value(s, STORAGE_KEY)).unwrap_or_default();
        KnockGui::with_persisted(cc, store, persisted)
    }

    /// The app as it was saved by [`eframe::App::save`] under [`STORAGE_KEY`] (tests restart with it).
    pub fn with_persisted(
        cc: &eframe::CreationContext<'_>,
        store: ProfileStore,
        persisted: Persisted,
    ) -> std::io::Result<KnockGui> {
        // The theme follows the system; View > Theme overrides it (kept by egui), and so does
        // KNOCK_GUI_THEME=light|dark|system (X11 reports no system theme, so egui would pick dark).
        match std::env::var("KNOCK_GUI_THEME").as_deref() {
            Ok("light") => cc.egui_ctx.set_theme(egui::ThemePreference::Light),
            Ok("dark") => cc.egui_ctx.set_theme(egui::ThemePreference::Dark),
            Ok("system") => cc.egui_ctx.set_theme(egui::ThemePreference::System),
            _ => {}
        }
        let mut state = AppState::new(store, persisted)?;
        let ctx = cc.egui_ctx.clone();
        state.worker_mut().set_waker(Arc::new(move || ctx.request_repaint()));
        Ok(KnockGui { state, view: ViewState::default(), bench: None, first_frame: true })
    }

    /// Turns on the benchmark output (see [`Bench`]); `started` is when the process started.
    pub fn with_bench(mut self, started: Instant, frames: usize) -> KnockGui {
        self.bench = Some(Bench {
            started,
            frames_wanted: frames,
            ui_times: Vec::new(),
            intervals: Vec::new(),
            last_frame: None,
        });
        self
    }
}

impl Bench {
    /// Records one frame; true while more frames are wanted.
    fn record(&mut self, frame_started: Instant, ui_time: Duration) -> bool {
        if self.last_frame.is_none() {
            println!("first_ui_pass_ms {:.1}", ui_time.as_secs_f64() * 1000.0);
            println!("first_frame_ms {:.1}", self.started.elapsed().as_secs_f64() * 1000.0);
        } else if let Some(last) = self.last_frame {
            self.intervals.push(frame_started.duration_since(last));
        }
        self.last_frame = Some(frame_started);
        self.ui_times.push(ui_time);
        if self.ui_times.len() == self.frames_wanted + 1 {
            let ms = |mut v: Vec<Duration>, p: f64| {
                v.sort();
                let i = ((p * v.len() as f64).ceil() as usize).clamp(1, v.len()) - 1;
                v[i].as_secs_f64() * 1000.0
            };
            let ui = self.ui_times[1..].to_vec();
            println!("ui_pass_ms p50 {:.2} p99 {:.2}", ms(ui.clone(), 0.5), ms(ui, 0.99));
            println!(
                "frame_interval_ms p50 {:.2} p99 {:.2}",
                ms(self.intervals.clone(), 0.5),
                ms(self.intervals.clone(), 0.99)
            );
            println!("bench_done");
        }
        self.ui_times.len() <= self.frames_wanted
    }
}

impl eframe::App for KnockGui {
    /// Runs every frame, also while the window is minimized or hidden (when `ui` does not): the
    /// worker's news, the store re-scan, quitting, and notifications (which matter most then).
    fn logic(&mut self, ctx: &egui::Context, _frame: &mut eframe::Frame) {
        self.state.poll();
        self.state.rescan_if_due(Instant::now());
        // Quitting: doors opened here may want their close sequences first (ask, or send and wait).
        if ctx.input(|i| i.viewport().close_requested()) && !self.state.request_quit() {
            ctx.send_viewport_cmd(egui::ViewportCommand::CancelClose);
        }
        if matches!(self.state.quit, Quit::Closing(_)) && self.state.ready_to_quit() {
            ctx.send_viewport_cmd(egui::ViewportCommand::Close);
        }
        self.state.deliver_notes(ctx.input(|i| i.focused));
    }

    fn ui(&mut self, ui: &mut egui::Ui, _frame: &mut eframe::Frame) {
        let frame_started = Instant::now();
        if std::mem::take(&mut self.first_frame) {
            let ctx = ui.ctx();
            ctx.send_viewport_cmd(egui::ViewportCommand::MinInnerSize(MIN_WINDOW));
        }
        let ctx = ui.ctx().clone();
        ui::draw(&mut self.state, &mut self.view, ui);
        if self.state.quit == Quit::Ready {
            ctx.send_viewport_cmd(egui::ViewportCommand::Close);
        }
        let benchmarking = self.bench.as_mut().is_some_and(|b| b.record(frame_started, frame_started.elapsed()));
        if benchmarking {
            ctx.request_repaint();
        } else if self.state.any_busy() {
            ctx.request_repaint_after(RUNNING_REPAINT);
        } else if self.view.countdown_shown {
            // A rotating window's countdown is on screen: repaint at the next whole second, only then.
            let into_second = std::time::SystemTime::now()
                .duration_since(std::time::UNIX_EPOCH)
                .map_or(Duration::ZERO, |d| Duration::from_nanos(u64::from(d.subsec_nanos())));
            ctx.request_repaint_after(
                Duration::from_secs(1).saturating_sub(into_second).min(self.state.rescan_interval()),
            );
        } else {
            ctx.request_repaint_after(self.state.rescan_interval());
        }
    }

    fn save(&mut self, storage: &mut dyn eframe::Storage) {
        eframe::set_value(storage, STORAGE_KEY, &self.state.persisted());
    }
}
