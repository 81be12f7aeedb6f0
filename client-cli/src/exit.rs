//! Exit codes: the contract with scripts. Documented in docs/cli.md ("Exit codes"); never renumber.

use client_core::{CancelSignal, ErrorKind};

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ExitCode {
    /// Every hit was sent (and, for `open` with a verify port, the port answered).
    Success = 0,
    /// A network or permission failure (including a host name that does not resolve).
    Failure = 1,
    /// Invalid input: bad arguments, sequence, flags, a method that cannot send them, an unknown or
    /// unreadable profile.
    InvalidInput = 2,
    /// Knocked, but the verify port never answered (after every attempt).
    NotOpened = 3,
    /// Interrupted (Ctrl-C), as shells report SIGINT.
    Interrupted = 130,
    /// Cancelled by SIGTERM (a CI job cancelled, `timeout`), as shells report it.
    Terminated = 143,
}

impl ExitCode {
    pub fn for_error(kind: ErrorKind) -> ExitCode {
        match kind {
            ErrorKind::InvalidInput => ExitCode::InvalidInput,
            ErrorKind::Network | ErrorKind::Permission => ExitCode::Failure,
            ErrorKind::Cancelled => ExitCode::cancelled(),
        }
    }

    /// The code of a cancelled run: 143 when SIGTERM cancelled it, else 130 (Ctrl-C).
    pub fn cancelled() -> ExitCode {
        match client_core::cancelled_by() {
            Some(CancelSignal::Terminate) => ExitCode::Terminated,
            Some(CancelSignal::Interrupt) | None => ExitCode::Interrupted,
        }
    }
}

impl ExitCode {
    /// How bad it is, for "the most severe code wins": interrupted, invalid input, failure, not opened,
    /// success.
    pub fn severity(self) -> u8 {
        match self {
            ExitCode::Success => 0,
            ExitCode::NotOpened => 1,
            ExitCode::Failure => 2,
            ExitCode::InvalidInput => 3,
            ExitCode::Interrupted | ExitCode::Terminated => 4,
        }
    }

    /// The more severe of the two.
    pub fn max_severity(self, other: ExitCode) -> ExitCode {
        if other.severity() > self.severity() { other } else { self }
    }
}

impl From<ExitCode> for std::process::ExitCode {
    fn from(code: ExitCode) -> Self {
        std::process::ExitCode::from(code as u8)
    }
}
