//! Notices: the one-line notice of the last action (shown as a toast), and the outcomes waiting to be
//! shown as desktop notifications (only while the window is not focused).

use super::AppState;
use super::runs::LastResult;

#[derive(Debug, Clone, PartialEq)]
pub enum Notice {
    Info(String),
    Error(String),
}

/// A desktop notification of a knock's outcome (sent only while the window is not focused).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DesktopNote {
    pub title: String,
    pub body: String,
}

/// The notices' state.
#[derive(Debug, Default)]
pub struct Notices {
    /// The notice the window shows (information goes away by itself; errors stay until dismissed).
    pub current: Option<Notice>,
    /// Outcomes waiting to be shown as desktop notifications (the window decides: only when unfocused).
    pub outbox: Vec<DesktopNote>,
    /// The last notification handed to the desktop and how that went (for the tests and the curious).
    pub last_note: Option<(DesktopNote, Result<(), crate::notify::NotifyError>)>,
}

impl AppState {
    /// Hands the outcomes waiting in [`Notices::outbox`] to the desktop when the window is not
    /// focused (`focused` false); while it is focused they are dropped: the window shows them.
    pub fn deliver_notes(&mut self, focused: bool) {
        for note in std::mem::take(&mut self.notices.outbox) {
            if !focused {
                self.worker.notify(note);
            }
        }
    }
}

/// The desktop notification of a result: the profile and the answer as the title, the shared wording of
/// the outcome as the body (which never names a secret port).
pub(super) fn note_of(name: &str, result: &LastResult) -> DesktopNote {
    let (what, body) = match result {
        LastResult::Opened { detail, .. } => ("door open", detail.clone()),
        LastResult::AlreadyOpen { detail, .. } => ("already open", detail.clone()),
        LastResult::Sent { detail, .. } => ("knocked", detail.clone()),
        LastResult::NotOpened { why, .. } => ("not opened", why.clone()),
        LastResult::Unreachable { why, .. } => ("unreachable", why.clone()),
        LastResult::Closed { detail, .. } => ("closed", detail.clone()),
        LastResult::StillOpen { why, .. } => ("still open", why.clone()),
        LastResult::Failed { why, .. } => ("failed", why.clone()),
        LastResult::Never | LastResult::Cancelled { .. } => ("cancelled", String::new()),
    };
    DesktopNote { title: format!("{name}: {what}"), body }
}
