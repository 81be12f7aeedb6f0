//! A command's failure: the message for stderr and the exit code it maps to.

use client_core::StoreError;

use crate::exit::ExitCode;

#[derive(Debug)]
pub struct Failure {
    pub code: ExitCode,
    pub message: String,
}

impl Failure {
    pub fn invalid(message: impl Into<String>) -> Failure {
        Failure { code: ExitCode::InvalidInput, message: message.into() }
    }

    pub fn failed(message: impl Into<String>) -> Failure {
        Failure { code: ExitCode::Failure, message: message.into() }
    }

    /// Prints the message and gives the exit code.
    pub fn report(self) -> ExitCode {
        errln!("{}: {}", crate::output::program(), self.message);
        self.code
    }
}

impl From<StoreError> for Failure {
    fn from(err: StoreError) -> Failure {
        let code = match err {
            StoreError::Io { .. } => ExitCode::Failure,
            _ => ExitCode::InvalidInput,
        };
        Failure { code, message: err.to_string() }
    }
}
