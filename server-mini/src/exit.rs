//! knock-server's exit codes, decided here and nowhere else: every failure carries its [`ExitStatus`],
//! and `main` only maps it to the process exit code.

use std::fmt;
use std::process::ExitCode;

/// What the process exit code means (scripts and systemd rely on these numbers).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ExitStatus {
    /// 0: clean shutdown, or `--check` found no error.
    Success,
    /// 1: a runtime failure (capture, files, privileges).
    Runtime,
    /// 2: invalid configuration or arguments.
    InvalidConfig,
}

impl ExitStatus {
    pub(crate) fn code(self) -> u8 {
        match self {
            ExitStatus::Success => 0,
            ExitStatus::Runtime => 1,
            ExitStatus::InvalidConfig => 2,
        }
    }
}

impl From<ExitStatus> for ExitCode {
    fn from(status: ExitStatus) -> ExitCode {
        ExitCode::from(status.code())
    }
}

/// Why the server stopped or refused to start: the message for stderr and the exit status.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Failure {
    pub status: ExitStatus,
    pub message: String,
}

impl Failure {
    /// A runtime failure (exit 1).
    pub(crate) fn runtime(message: impl Into<String>) -> Failure {
        Failure { status: ExitStatus::Runtime, message: message.into() }
    }

    /// Invalid configuration or arguments (exit 2).
    pub(crate) fn invalid(message: impl Into<String>) -> Failure {
        Failure { status: ExitStatus::InvalidConfig, message: message.into() }
    }
}

impl fmt::Display for Failure {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.message)
    }
}

impl std::error::Error for Failure {}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_codes_scripts_rely_on() {
        assert_eq!(ExitStatus::Success.code(), 0);
        assert_eq!(Failure::runtime("x").status.code(), 1);
        assert_eq!(Failure::invalid("x").status.code(), 2);
    }
}
