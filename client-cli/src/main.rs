//! knock-cli: a thin binary over client-core. Parses arguments, runs the command, maps the outcome to an
//! exit code that scripts can rely on (see [`exit::ExitCode`]).
//!
//! Invoked through a link named `knock`, it behaves as `knock-cli knock`, a drop-in for knock(1).

mod cli;
mod exit;
mod knock_cmd;
mod report_json;

use std::ffi::OsString;
use std::path::Path;

use clap::Parser;

use crate::cli::{Cli, Command};
use crate::exit::ExitCode;

fn main() -> std::process::ExitCode {
    let cli = match Cli::try_parse_from(arguments()) {
        Ok(cli) => cli,
        Err(err) => {
            // --help and --version are not errors; clap prints them itself.
            let code = if err.use_stderr() {
                ExitCode::InvalidInput
            } else {
                ExitCode::Success
            };
            let _ = err.print();
            return code.into();
        }
    };
    let code = match cli.command {
        Command::Knock(args) => knock_cmd::run(&args),
    };
    code.into()
}

/// The command line, with `knock` inserted when the binary was called as `knock` (knock(1) drop-in).
fn arguments() -> Vec<OsString> {
    let mut args: Vec<OsString> = std::env::args_os().collect();
    let called_as_knock = args
        .first()
        .and_then(|argv0| Path::new(argv0).file_stem())
        .is_some_and(|stem| stem == "knock");
    if called_as_knock {
        args.insert(1, OsString::from("knock"));
    }
    args
}
