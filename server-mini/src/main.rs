//! knock-server: parses the arguments, runs, maps the outcome to an exit code (see `server_mini::exit`).

use std::process::ExitCode;

use clap::Parser;
use server_mini::exit::ExitStatus;
use server_mini::run::{Args, run};

fn main() -> ExitCode {
    match run(Args::parse()) {
        Ok(()) => ExitStatus::Success.into(),
        Err(failure) => {
            eprintln!("knock-server: {failure}");
            failure.status.into()
        }
    }
}
