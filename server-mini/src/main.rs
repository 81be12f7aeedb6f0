//! knock-server: parses the arguments, runs, maps the outcome to an exit code (see `server_mini::ExitStatus`).
//! On Windows it only says that it runs on Linux and macOS (see the per-OS decisions in `lib.rs`).

use std::process::ExitCode;

#[cfg(unix)]
fn main() -> ExitCode {
    use clap::Parser;
    use server_mini::{Args, ExitStatus, run};

    match run(Args::parse()) {
        Ok(()) => ExitStatus::Success.into(),
        Err(failure) => {
            eprintln!("knock-server: {failure}");
            failure.status.into()
        }
    }
}

#[cfg(not(unix))]
fn main() -> ExitCode {
    eprintln!(
        "knock-server runs on Linux and macOS only (it needs libpcap, Unix signals and process groups); \
         on Windows use knock-cli and knock-gui as clients"
    );
    server_mini::ExitStatus::Runtime.into()
}
