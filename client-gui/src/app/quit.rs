//! Quitting: doors this session opened that have a close sequence are closed first, left open, or
//! asked about, as the user's [`super::QuitPolicy`] says; the window closes when nothing holds it.

use client_core::Action;

use super::AppState;

/// Where quitting is.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub enum Quit {
    #[default]
    No,
    /// The window was asked to close: "Close these doors before quitting?"
    Asking(Vec<String>),
    /// Sending these doors' close sequences; quits when they are done.
    Closing(Vec<String>),
    /// Nothing holds the quit any more.
    Ready,
}

impl AppState {
    /// The doors this session opened whose profile has a close sequence, by name.
    pub fn doors_to_close(&self) -> Vec<String> {
        self.runs
            .opened_here
            .iter()
            .filter(|name| self.list.profile(name).and_then(|p| p.sequence()).is_some_and(|k| k.close.is_some()))
            .cloned()
            .collect()
    }

    /// The window was asked to close: true when it may close now. With doors to close, by the
    /// [`super::QuitPolicy`]: ask first ([`Quit::Asking`]), or send their close sequences and quit after them.
    pub fn request_quit(&mut self) -> bool {
        match &self.quit {
            Quit::Ready => return true,
            Quit::Asking(_) | Quit::Closing(_) => return false,
            Quit::No => {}
        }
        let doors = self.doors_to_close();
        if doors.is_empty() {
            self.quit = Quit::Ready;
            return true;
        }
        match self.settings.quit_policy {
            super::QuitPolicy::Ask => self.quit = Quit::Asking(doors),
            super::QuitPolicy::CloseDoors => self.close_doors_and_quit(),
            super::QuitPolicy::LeaveOpen => self.quit = Quit::Ready,
        }
        matches!(self.quit, Quit::Ready)
    }

    /// "Close them and quit": sends each door's close sequence; the window closes when they are done.
    pub fn close_doors_and_quit(&mut self) {
        let doors = self.doors_to_close();
        for name in &doors {
            self.cancel(name);
        }
        for name in &doors {
            // A running open of the same door was cancelled above; its end arrives later and is ignored.
            self.runs.knocks.remove(name);
            self.knock(name, Action::Close);
        }
        self.quit = Quit::Closing(doors);
    }

    /// "Quit, leave them open".
    pub fn quit_leaving_doors_open(&mut self) {
        self.quit = Quit::Ready;
    }

    /// "Cancel": stay.
    pub fn cancel_quit(&mut self) {
        self.quit = Quit::No;
    }

    /// True once a quit may proceed: nothing asked, and every close sequence sent (or failed).
    pub fn ready_to_quit(&mut self) -> bool {
        if let Quit::Closing(doors) = &self.quit
            && doors.iter().all(|name| !self.runs.is_running(name))
        {
            self.quit = Quit::Ready;
        }
        self.quit == Quit::Ready
    }
}
