//! Writing to stdout and stderr without ever panicking.
//!
//! `println!` and `eprintln!` panic when the stream is closed or full (`knock-cli spa keygen >/dev/full`,
//! `knock-cli profile list | true`), which would end the process with Rust's 101. Every line knock-cli
//! prints goes through [`outln!`] / [`out!`] / [`errln!`] instead (clippy forbids the std macros in this
//! crate, see `client-cli/clippy.toml`): a failed write to stdout is remembered, later writes are skipped,
//! and [`finish`] turns it into the exit status: 1 with a message on stderr when stdout is full or
//! unwritable, 1 without a word on a broken pipe (the reader went away, as with other Unix tools). A
//! failed write to stderr is ignored: there is nowhere left to report it.

use std::io::{self, Write};
use std::sync::Mutex;

use crate::exit::ExitCode;

/// The name error messages start with: `knock-cli`, or `knock` when run through that link.
static PROGRAM: std::sync::OnceLock<&'static str> = std::sync::OnceLock::new();

/// Sets the name error messages start with (once, before anything is printed).
pub fn set_program(name: &'static str) {
    let _ = PROGRAM.set(name);
}

/// The name error messages start with (`knock-cli: ...`, or `knock: ...` when run as `knock`).
pub fn program() -> &'static str {
    PROGRAM.get().copied().unwrap_or("knock-cli")
}

/// The first error writing to stdout, if any.
static STDOUT_ERROR: Mutex<Option<io::ErrorKind>> = Mutex::new(None);

/// Writes `text` to stdout unless an earlier write failed; remembers the first failure.
pub fn write_stdout(text: &str) {
    let mut failed = STDOUT_ERROR.lock().unwrap_or_else(|p| p.into_inner());
    if failed.is_some() {
        return;
    }
    let mut stdout = io::stdout().lock();
    if let Err(err) = stdout.write_all(text.as_bytes()).and_then(|()| stdout.flush()) {
        *failed = Some(err.kind());
    }
}

/// Writes `text` to stderr; a failure is ignored (nowhere left to report it).
pub fn write_stderr(text: &str) {
    let _ = io::stderr().lock().write_all(text.as_bytes());
}

/// The exit code once everything is printed: `code`, unless stdout could not take the output.
pub fn finish(code: ExitCode) -> ExitCode {
    let failed = *STDOUT_ERROR.lock().unwrap_or_else(|p| p.into_inner());
    match failed {
        None => code,
        Some(io::ErrorKind::BrokenPipe) => code.max_severity(ExitCode::Failure),
        Some(kind) => {
            write_stderr(&format!("knock-cli: cannot write to stdout: {}\n", io::Error::from(kind)));
            code.max_severity(ExitCode::Failure)
        }
    }
}

/// `println!` that never panics.
macro_rules! outln {
    () => { $crate::output::write_stdout("\n") };
    ($($arg:tt)*) => { $crate::output::write_stdout(&format!("{}\n", format_args!($($arg)*))) };
}

/// `print!` that never panics.
macro_rules! out {
    ($($arg:tt)*) => { $crate::output::write_stdout(&format!($($arg)*)) };
}

/// `eprintln!` that never panics.
macro_rules! errln {
    ($($arg:tt)*) => { $crate::output::write_stderr(&format!("{}\n", format_args!($($arg)*))) };
}
