//! The eframe application: owns the [`AppState`], wires the worker's wake-ups to repaints, persists the
//! selection and last results, and decides when to repaint: every ~100 ms only while a knock runs (for
//! progress and countdowns), otherwise only when something happens or the store is due for a re-scan.

#![expect(unsafe_code, reason = "glFinish through glow, whose every GL call is unsafe")]

use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use client_core::ProfileStore;

use crate::app::{AppState, Command, Notice, Persisted, Quit, WindowRequest};
use crate::tray::{Tray, TrayRequest};
use crate::ui::{self, ViewState};

/// Makes the app's saved state private before eframe reads or writes it: its folder 0700 and its file
/// (`app.ron`, created empty when missing) 0600, so other users cannot read which hosts were knocked and
/// when. eframe writes the file with `File::create`, which keeps the mode of an existing file. Unix only:
/// on Windows the folder is in the user's own AppData.
pub fn protect_saved_state(dir: &std::path::Path) -> std::io::Result<()> {
    #[cfg(unix)]
    {
        use std::os::unix::fs::{OpenOptionsExt, PermissionsExt};
        std::fs::create_dir_all(dir)?;
        std::fs::set_permissions(dir, std::fs::Permissions::from_mode(0o700))?;
        let file = dir.join("app.ron");
        if !file.exists() {
            // An empty map: what eframe would have written with nothing saved yet.
            let mut created = std::fs::OpenOptions::new().write(true).create_new(true).mode(0o600).open(&file)?;
            std::io::Write::write_all(&mut created, b"{}")?;
        }
        std::fs::set_permissions(&file, std::fs::Permissions::from_mode(0o600))?;
    }
    #[cfg(not(unix))]
    let _ = dir;
    Ok(())
}

/// The key of the app's state in eframe's storage.
pub const STORAGE_KEY: &str = "knock-gui";
const RUNNING_REPAINT: Duration = Duration::from_millis(100);

/// How many frames (300 ms apart) set the X11 WM_CLASS after the window appeared.
const WM_CLASS_SETS: u8 = 5;

/// The window never gets smaller than this: the list, the detail view's buttons and a dialog fit.
pub const MIN_WINDOW: egui::Vec2 = egui::vec2(640.0, 400.0);

pub struct KnockGui {
    pub state: AppState,
    pub view: ViewState,
    bench: Option<Bench>,
    first_frame: bool,
    /// How many times the X11 WM_CLASS was set (see [`WM_CLASS_SETS`]).
    wm_class_sets: u8,
    /// The tray icon (none until [`KnockGui::with_tray`]: test harnesses run without one).
    tray: Tray,
    /// The user asked to quit (File > Quit, Ctrl+Q, the tray's Quit: [`WindowRequest::Close`]), not only
    /// closed the window: then the window is not kept in the tray.
    quit_asked: bool,
}

/// Measurements for the benchmark script, enabled by `KNOCK_GUI_BENCH=N` (N frames to time): prints
/// `first_frame_ms` (process start to the end of the first frame's UI pass), then paints N frames paced
/// at 60 Hz, as a display's vsync paces them (Xvfb has none; unpaced, on 2 cores, the frames mostly
/// measure Mesa's rasterizer threads competing with each other), and prints, as p50/p99 over the frames:
/// - `ui_pass_ms`: the app's own `ui()` (layout of every widget);
/// - `frame_submitted_ms`: frame start until the GL driver has every primitive (UI pass, tessellation,
///   GL calls): the app's CPU cost of a frame, all a GPU leaves to the CPU;
/// - `frame_ready_ms`: frame start until every pixel is drawn (Mesa's software rasterization included).
///
/// Both frame times come from a paint callback added as the frame's last primitive: it notes the time,
/// waits for the GL pipeline (`glFinish`) and notes the time again. Then the app goes back to idle.
struct Bench {
    started: Instant,
    frames_wanted: usize,
    ui_times: Vec<Duration>,
    submitted_times: Vec<Duration>,
    ready_times: Vec<Duration>,
    /// The previous frame's start, and what its paint callback noted (submitted, drawn).
    previous: Option<(Instant, Noted)>,
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
        Ok(KnockGui {
            state,
            view: ViewState::default(),
            bench: None,
            first_frame: true,
            wm_class_sets: 0,
            tray: Tray::not_started(),
            quit_asked: false,
        })
    }

    /// Shows `tray` (see [`crate::tray`]), started with [`Tray::start`] on the main thread.
    pub fn with_tray(mut self, tray: Tray) -> KnockGui {
        self.tray = tray;
        self
    }

    /// The tray's requests, once per frame, as commands (the window's own buttons give the same ones):
    /// submitted here, applied with the others by [`AppState::apply_submitted`]; returns the favourites
    /// knocked, for [`Tray::knocked`] once their commands are applied.
    fn submit_tray_requests(&mut self) -> Vec<String> {
        self.view.tray_shown = self.tray.is_shown();
        let mut knocked = Vec::new();
        for request in self.tray.requests(&self.state) {
            match request {
                TrayRequest::Knock(name) => {
                    self.state.submit(Command::Knock { profile: name.clone(), action: client_core::Action::Open });
                    knocked.push(name);
                }
                TrayRequest::ShowWindow => self.state.submit(Command::ShowWindow),
                TrayRequest::Quit => {
                    // Shown first: quitting may ask about doors opened here.
                    self.state.submit(Command::ShowWindow);
                    self.state.submit(Command::Quit);
                }
                TrayRequest::Unavailable(message) => {
                    self.state.notices.current = Some(Notice::Info(message));
                    self.state.submit(Command::ShowWindow);
                }
            }
        }
        knocked
    }

    /// Turns on the benchmark output (the first frames' times and the idle repaints, on stdout); `started`
    /// is when the process started.
    pub fn with_bench(mut self, started: Instant, frames: usize) -> KnockGui {
        self.bench = Some(Bench {
            started,
            frames_wanted: frames,
            ui_times: Vec::new(),
            submitted_times: Vec::new(),
            ready_times: Vec::new(),
            previous: None,
        });
        self
    }
}

/// Where a bench frame's paint callback notes when GL had every primitive and when every pixel was drawn.
type Noted = Arc<Mutex<Option<(Instant, Instant)>>>;

/// A 60 Hz display's frame budget: the pace of the benchmark's frames, and the target for each.
const FRAME_BUDGET: Duration = Duration::from_micros(16_667);

impl Bench {
    /// Records one frame (started at `frame_started`; its UI pass took `ui_time`) and what the previous
    /// frame's paint callback noted; true while more frames are wanted.
    fn record(&mut self, ui: &egui::Ui, frame_started: Instant, ui_time: Duration) -> bool {
        match self.previous.take() {
            None => {
                println!("first_ui_pass_ms {:.1}", ui_time.as_secs_f64() * 1000.0);
                println!("first_frame_ms {:.1}", self.started.elapsed().as_secs_f64() * 1000.0);
            }
            Some((previous_start, noted)) => {
                if let Some((submitted, drawn)) = noted.lock().ok().and_then(|n| *n) {
                    self.submitted_times.push(submitted.duration_since(previous_start));
                    self.ready_times.push(drawn.duration_since(previous_start));
                }
                self.ui_times.push(ui_time);
            }
        }
        let noted = Arc::new(Mutex::new(None));
        note_when_drawn(ui.ctx(), Arc::clone(&noted));
        self.previous = Some((frame_started, noted));
        if self.ui_times.len() < self.frames_wanted {
            return true;
        }
        let ms = |times: &[Duration], p: f64| {
            let mut sorted = times.to_vec();
            sorted.sort();
            let rank = ((p * sorted.len() as f64).ceil() as usize).clamp(1, sorted.len().max(1));
            sorted.get(rank - 1).map_or(f64::NAN, |d| d.as_secs_f64() * 1000.0)
        };
        for (name, times) in [
            ("ui_pass_ms", &self.ui_times),
            ("frame_submitted_ms", &self.submitted_times),
            ("frame_ready_ms", &self.ready_times),
        ] {
            println!("{name} p50 {:.2} p99 {:.2} n {}", ms(times, 0.5), ms(times, 0.99), times.len());
        }
        println!("bench_done");
        false
    }
}

/// Adds, as the frame's last primitive (on the topmost layer), a paint callback that notes when the GL
/// driver reached it and when the pipeline has drawn everything before it (`glFinish`).
fn note_when_drawn(ctx: &egui::Context, noted: Noted) {
    use eframe::glow::HasContext;
    let layer = egui::LayerId::new(egui::Order::Debug, egui::Id::unique("knock-gui-bench"));
    let callback = eframe::egui_glow::CallbackFn::new(move |_info, painter| {
        let submitted = Instant::now();
        // SAFETY: glFinish only waits for the commands issued so far; it changes no GL state.
        unsafe { painter.gl().finish() };
        if let Ok(mut noted) = noted.lock() {
            *noted = Some((submitted, Instant::now()));
        }
    });
    ctx.layer_painter(layer).add(egui::PaintCallback { rect: ctx.content_rect(), callback: Arc::new(callback) });
}

impl eframe::App for KnockGui {
    /// Runs every frame, also while the window is minimized or hidden (when `ui` does not): the
    /// worker's news, the store re-scan, quitting, and notifications (which matter most then).
    fn logic(&mut self, ctx: &egui::Context, _frame: &mut eframe::Frame) {
        self.state.poll();
        let tray_knocks = self.submit_tray_requests();
        // Commands from other input sources (a tray menu), as the window's own would be.
        if self.state.apply_submitted() {
            ctx.request_repaint();
        }
        for name in &tray_knocks {
            self.tray.knocked(name, &mut self.state);
        }
        self.window_requests(ctx);
        self.state.rescan_if_due(Instant::now());
        if ctx.input(|i| i.viewport().close_requested()) {
            // A quit under way (the doors' question answered, close sequences sent) closes, never hides.
            let quit_asked = std::mem::take(&mut self.quit_asked) || self.state.quit != Quit::No;
            if self.tray.keeps_window(self.state.settings.keep_in_tray, quit_asked) {
                // Kept in the tray: hidden, not closed; the tray's "Open knock" shows it again.
                ctx.send_viewport_cmd(egui::ViewportCommand::CancelClose);
                ctx.send_viewport_cmd(egui::ViewportCommand::Visible(false));
            } else if !self.state.request_quit() {
                // Quitting: doors opened here may want their close sequences first (ask, or send and wait).
                ctx.send_viewport_cmd(egui::ViewportCommand::CancelClose);
            }
        }
        if matches!(self.state.quit, Quit::Closing(_)) && self.state.ready_to_quit() {
            ctx.send_viewport_cmd(egui::ViewportCommand::Close);
        }
        // A knock asked for from the tray is answered on the desktop even while the window is focused.
        let tray_result = self.tray.result_arrived(&self.state);
        self.state.deliver_notes(ctx.input(|i| i.focused) && !tray_result);
    }

    fn ui(&mut self, ui: &mut egui::Ui, frame: &mut eframe::Frame) {
        let frame_started = Instant::now();
        if std::mem::take(&mut self.first_frame) {
            let ctx = ui.ctx();
            ctx.send_viewport_cmd(egui::ViewportCommand::MinInnerSize(MIN_WINDOW));
        }
        // X11: both parts of WM_CLASS (egui-winit leaves the instance empty). The handle may not be
        // there in the first frames, and the window is still being set up while it maps: set in the first
        // frames that have the handle, a few times, then left alone.
        if self.wm_class_sets < WM_CLASS_SETS {
            use raw_window_handle::HasWindowHandle;
            if let Ok(handle) = frame.window_handle() {
                self.wm_class_sets += 1;
                if let Err(err) = crate::wm_class::set(handle.as_raw()) {
                    self.wm_class_sets = WM_CLASS_SETS;
                    eprintln!("knock-gui: cannot set the window's WM_CLASS: {err}");
                }
                ui.ctx().request_repaint_after(Duration::from_millis(300));
            }
        }
        let ctx = ui.ctx().clone();
        // The UI reads the state and says what the user asked for; it is applied here, in order, and the
        // next frame shows the result.
        let commands = ui::draw(&self.state, &mut self.view, ui);
        if !commands.is_empty() {
            self.state.apply_all(commands);
            ctx.request_repaint();
        }
        self.window_requests(&ctx);
        if self.state.quit == Quit::Ready {
            ctx.send_viewport_cmd(egui::ViewportCommand::Close);
        }
        let ui_time = frame_started.elapsed();
        // The benchmark ends once its numbers are printed (then the app idles as usual).
        let benchmarking = match self.bench.as_mut().map(|b| b.record(ui, frame_started, ui_time)) {
            Some(true) => true,
            Some(false) => {
                self.bench = None;
                false
            }
            None => false,
        };
        if benchmarking {
            ctx.request_repaint_after(FRAME_BUDGET.saturating_sub(frame_started.elapsed()));
        } else if self.state.runs.any_busy() {
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

impl KnockGui {
    /// What the commands asked of the window: to close (quitting then asks about open doors), or to
    /// come to the front.
    fn window_requests(&mut self, ctx: &egui::Context) {
        for request in self.state.take_window_requests() {
            match request {
                WindowRequest::Close => {
                    self.quit_asked = true;
                    ctx.send_viewport_cmd(egui::ViewportCommand::Close);
                }
                WindowRequest::Show => {
                    ctx.send_viewport_cmd(egui::ViewportCommand::Visible(true));
                    ctx.send_viewport_cmd(egui::ViewportCommand::Minimized(false));
                    ctx.send_viewport_cmd(egui::ViewportCommand::Focus);
                }
            }
        }
    }
}

#[cfg(all(test, unix))]
mod tests {
    use std::os::unix::fs::PermissionsExt;

    /// Issue 24 item 11: the saved state's folder is 0700 and its file 0600, also when they existed.
    #[test]
    fn the_saved_state_is_private() {
        let root = tempfile::tempdir().expect("dir");
        let dir = root.path().join("knock-gui");
        super::protect_saved_state(&dir).expect("protect");
        let mode = |p: &std::path::Path| std::fs::metadata(p).expect("metadata").permissions().mode() & 0o777;
        assert_eq!(mode(&dir), 0o700);
        assert_eq!(mode(&dir.join("app.ron")), 0o600);
        assert_eq!(std::fs::read_to_string(dir.join("app.ron")).expect("read"), "{}");
        std::fs::set_permissions(dir.join("app.ron"), std::fs::Permissions::from_mode(0o644)).expect("chmod");
        std::fs::write(dir.join("app.ron"), "{\"knock-gui\": \"()\"}").expect("write");
        super::protect_saved_state(&dir).expect("again");
        assert_eq!(mode(&dir.join("app.ron")), 0o600);
        assert!(std::fs::read_to_string(dir.join("app.ron")).expect("read").contains("knock-gui"), "kept");
    }
}
