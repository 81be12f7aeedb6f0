//! The tray icon (menu-bar item on macOS): a quick knock without the window. Its menu lists the favourite
//! (pinned) profiles with their last outcome; clicking one knocks it through the same path as the Knock
//! button ([`crate::app::AppState::knock`]) and its result is shown as a desktop notification, whether the
//! window is focused or not. "Open knock" shows and raises the window, "Quit" quits as File > Quit does
//! (asking about doors opened here, by the quit setting). With the setting "Keep running in the tray when
//! the window is closed" (off by default) closing the window hides it; the tray's "Open knock" brings it
//! back.
//!
//! Per OS (one backend file each):
//! - Linux/BSD (`sni.rs`): a StatusNotifierItem with a com.canonical.dbusmenu menu on the session bus
//!   (ksni: pure Rust over zbus; no GTK and no libappindicator, which tray-icon's Linux backend needs beside
//!   winit's loop). It is shown by whatever hosts StatusNotifierItems: KDE Plasma, GNOME with the
//!   AppIndicator extension (Ubuntu's default), XFCE/MATE/Cinnamon panels, waybar, … . It is started on its
//!   own thread, so the window never waits for D-Bus. Without a session bus, or with no
//!   org.kde.StatusNotifierWatcher on it (a bare window manager, GNOME without the extension), there is
//!   no tray: the app says so once and runs as without one.
//! - Windows (`native.rs`): an icon in the notification area (tauri's tray-icon, Shell_NotifyIcon) whose
//!   right-click menu is the menu above; a left click opens the window. It lives in the message loop
//!   winit already pumps on the main thread.
//! - macOS (`native.rs`): a menu-bar item (tray-icon, NSStatusItem) whose click opens the menu, as
//!   menu-bar items do; created on the main thread once the event loop runs (eframe's creation closure).
//! - Elsewhere: no tray; the app says so once.
//!
//! Where no tray can be shown the keep-in-tray setting is ignored and closing the window quits: a hidden
//! window with no tray would leave a process nobody can reach. If the tray host goes away later (a panel
//! restarted), the hidden window is shown again and the app says so.
//!
//! `gui.rs` turns [`TrayRequest`]s into the app's commands (`Command::Knock`, `ShowWindow`, `Quit`),
//! submitted and applied with the window's own; this module only owns the icon, its menu and what it
//! asked for.

mod menu;

#[cfg(any(target_os = "linux", target_os = "freebsd", target_os = "openbsd", target_os = "netbsd"))]
mod sni;
#[cfg(any(target_os = "linux", target_os = "freebsd", target_os = "openbsd", target_os = "netbsd"))]
use sni as backend;

#[cfg(any(windows, target_os = "macos"))]
mod native;
#[cfg(any(windows, target_os = "macos"))]
use native as backend;

#[cfg(not(any(
    target_os = "linux",
    target_os = "freebsd",
    target_os = "openbsd",
    target_os = "netbsd",
    windows,
    target_os = "macos"
)))]
mod backend {
    //! No tray on this OS: said once, like a desktop without a tray host.
    pub(super) struct Backend;

    impl Backend {
        pub(super) fn start(events: std::sync::mpsc::Sender<super::Event>, waker: super::Waker) -> Backend {
            let _ = events.send(super::Event::Unavailable("no tray icon on this OS".to_owned()));
            waker();
            Backend
        }

        pub(super) fn set_menu(&mut self, _menu: &super::Menu) {}
    }
}

use std::collections::BTreeSet;
use std::sync::Arc;
use std::sync::mpsc::{Receiver, Sender, TryRecvError};

pub use menu::{FavouriteLine, Menu, NO_FAVOURITES_LABEL, OPEN_LABEL, QUIT_LABEL, outcome_word};

use crate::app::AppState;

/// Wakes the UI when the tray asks for something (the window may be hidden: nothing else would).
pub type Waker = Arc<dyn Fn() + Send + Sync>;

/// What the tray asks the app to do.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum TrayRequest {
    /// Knock (open) this favourite, as its Knock button does; its result becomes a notification.
    Knock(String),
    /// Show and raise the window ("Open knock", or a click on the icon where that opens the window).
    ShowWindow,
    /// Quit as File > Quit does.
    Quit,
    /// There is no tray (at start), or it went away: tell the user (once) and show the window if hidden.
    Unavailable(String),
}

/// What a backend tells the app, from its own thread or event handler.
#[derive(Debug)]
enum Event {
    /// The icon is shown (again).
    Shown,
    /// The icon cannot be shown (or no longer is), and why.
    Unavailable(String),
    Request(TrayRequest),
}

/// Where the tray is.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Availability {
    /// Not started: the app runs without a tray and says nothing (tests, `KnockGui::new`).
    NotStarted,
    /// Being set up (Linux: registering with the StatusNotifierWatcher).
    Starting,
    Shown,
    /// No tray can be shown here, and why.
    Unavailable(String),
}

/// The app's tray icon: its backend, the menu it shows and what it asked for.
pub struct Tray {
    backend: Option<backend::Backend>,
    events: Receiver<Event>,
    /// The backend's end of the channel (kept, so the channel never closes while the app runs).
    sender: Sender<Event>,
    availability: Availability,
    /// The menu the backend shows (sent again only when it changes).
    shown_menu: Option<Menu>,
    /// Favourites knocked from the tray whose result is still to come (then notified whatever the focus).
    awaiting: BTreeSet<String>,
    /// A tray knock ended or did not start: its note goes to the desktop whatever the focus.
    notify_now: bool,
}

impl Default for Tray {
    fn default() -> Tray {
        Tray::not_started()
    }
}

impl Tray {
    /// No tray: what the app has until [`Tray::start`] (kittest harnesses never start one).
    pub fn not_started() -> Tray {
        let (sender, events) = std::sync::mpsc::channel();
        Tray {
            backend: None,
            events,
            sender,
            availability: Availability::NotStarted,
            shown_menu: None,
            awaiting: BTreeSet::new(),
            notify_now: false,
        }
    }

    /// Starts the OS's tray icon (see the module docs); `waker` wakes the UI when it asks for something.
    /// Never blocks on a desktop service; where there is none, [`Tray::requests`] says so once.
    pub fn start(waker: Waker) -> Tray {
        let mut tray = Tray::not_started();
        tray.availability = Availability::Starting;
        tray.backend = Some(backend::Backend::start(tray.sender.clone(), waker));
        tray
    }

    pub fn availability(&self) -> &Availability {
        &self.availability
    }

    /// True while the icon is shown: only then may closing the window keep the app running.
    pub fn is_shown(&self) -> bool {
        self.availability == Availability::Shown
    }

    /// Once per frame: what the tray asked for since the last call, and its menu brought up to date with
    /// `state` (favourites and their last outcome). A tray that cannot be shown is reported here, once
    /// (also on stderr).
    pub fn requests(&mut self, state: &AppState) -> Vec<TrayRequest> {
        let mut requests = Vec::new();
        loop {
            match self.events.try_recv() {
                Ok(Event::Shown) => {
                    self.availability = Availability::Shown;
                    // Back after being gone: the menu is sent again, whatever changed meanwhile.
                    self.shown_menu = None;
                }
                Ok(Event::Unavailable(why)) => {
                    if !matches!(self.availability, Availability::Unavailable(_)) {
                        let message = format!("{why}: the app runs without a tray icon, and closing the window quits");
                        eprintln!("knock-gui: {message}");
                        requests.push(TrayRequest::Unavailable(message));
                    }
                    self.availability = Availability::Unavailable(why);
                }
                Ok(Event::Request(request)) => requests.push(request),
                Err(TryRecvError::Empty | TryRecvError::Disconnected) => break,
            }
        }
        if matches!(self.availability, Availability::Starting | Availability::Shown) {
            let menu = Menu::of(state);
            if self.shown_menu.as_ref() != Some(&menu) {
                if let Some(backend) = &mut self.backend {
                    backend.set_menu(&menu);
                }
                self.shown_menu = Some(menu);
            }
        }
        requests
    }

    /// `name` was knocked from the tray (after its [`crate::app::Command::Knock`] was applied): its result is notified whatever the
    /// window's focus. A knock that did not start (an unreadable profile, missing keys) is notified now,
    /// with the app's notice as its text, as the window may be hidden.
    pub fn knocked(&mut self, name: &str, state: &mut AppState) {
        if state.runs.is_running(name) {
            self.awaiting.insert(name.to_owned());
            return;
        }
        let why = match &state.notices.current {
            Some(crate::app::Notice::Error(why) | crate::app::Notice::Info(why)) => why.clone(),
            None => "the knock did not start".to_owned(),
        };
        state.notices.outbox.push(crate::app::DesktopNote { title: format!("{name}: not knocked"), body: why });
        self.notify_now = true;
    }

    /// True when a knock started from the tray has ended since the last call: the app then hands its
    /// result to the desktop even while the window is focused (the user asked from the tray).
    pub fn result_arrived(&mut self, state: &AppState) -> bool {
        let before = self.awaiting.len();
        self.awaiting.retain(|name| state.runs.is_running(name));
        std::mem::take(&mut self.notify_now) || self.awaiting.len() != before
    }

    /// Whether a close of the window only hides it: the user's setting is on, the tray is shown, and the
    /// close is not a quit the user asked for (File > Quit, Ctrl+Q, the tray's Quit).
    pub fn keeps_window(&self, keep_in_tray: bool, quit_asked: bool) -> bool {
        keep_in_tray && !quit_asked && self.is_shown()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn with_availability(availability: Availability) -> Tray {
        let mut tray = Tray::not_started();
        tray.availability = availability;
        tray
    }

    /// The window is hidden on close only with the setting on, a tray shown and no quit asked for.
    #[test]
    fn closing_hides_the_window_only_with_the_setting_and_a_tray_and_no_quit() {
        let shown = with_availability(Availability::Shown);
        assert!(shown.keeps_window(true, false));
        assert!(!shown.keeps_window(false, false), "the setting is off");
        assert!(!shown.keeps_window(true, true), "File > Quit, Ctrl+Q and the tray's Quit quit");
        for availability in
            [Availability::NotStarted, Availability::Starting, Availability::Unavailable("no watcher".to_owned())]
        {
            assert!(!with_availability(availability.clone()).keeps_window(true, false), "{availability:?}: quits");
        }
    }
}
