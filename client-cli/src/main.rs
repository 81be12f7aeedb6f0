//! knock-cli: a thin binary over client-core. Parses arguments, runs the command, maps the outcome to an
//! exit code that scripts can rely on (see [`exit::ExitCode`]).
//!
//! Invoked through a link named `knock`, it behaves as `knock-cli knock`, a drop-in for knock(1).

mod cli;
mod doctor_cmd;
mod exit;
mod fail;
mod knock_cmd;
mod open_cmd;
mod profile_cmd;
mod progress;
mod report_json;
mod ssh_cmd;

use std::ffi::OsString;
use std::path::Path;

use clap::{CommandFactory, Parser};
use client_core::profile::Action;
use client_core::store::ProfileStore;

use crate::cli::{Cli, Command};
use crate::exit::ExitCode;
use crate::fail::Failure;

fn main() -> std::process::ExitCode {
    let cli = match Cli::try_parse_from(arguments()) {
        Ok(cli) => cli,
        Err(err) => {
            // --help and --version are not errors; clap prints them itself.
            let code = if err.use_stderr() { ExitCode::InvalidInput } else { ExitCode::Success };
            let _ = err.print();
            return code.into();
        }
    };
    let code = match &cli.command {
        Command::Knock(args) => knock_cmd::run(args),
        Command::Spa(cli::SpaCommand::Keygen) => match client_core::spa::keygen() {
            Ok((key, hmac_key)) => {
                print!("{}", client_core::spa::format_key_lines(&key, &hmac_key));
                ExitCode::Success
            }
            Err(err) => Failure::failed(format!("cannot generate keys: {err}")).report(),
        },
        Command::Completions { shell } => {
            clap_complete::generate(*shell, &mut Cli::command(), "knock-cli", &mut std::io::stdout());
            ExitCode::Success
        }
        command => match ProfileStore::locate(cli.profiles_dir.as_deref()) {
            Err(err) => Failure::from(err).report(),
            Ok(store) => with_store(&store, command),
        },
    };
    code.into()
}

fn with_store(store: &ProfileStore, command: &Command) -> ExitCode {
    let result = match command {
        Command::Profile(command) => profile_cmd::run(store, command),
        Command::Open(args) => Ok(open_cmd::run(store, args, Action::Open)),
        Command::Close(args) => Ok(open_cmd::run(store, args, Action::Close)),
        Command::Ssh(args) => ssh_cmd::ssh(store, args),
        Command::Proxy(args) => ssh_cmd::proxy(store, args),
        Command::Doctor(args) => doctor_cmd::run(store, args),
        Command::Knock(_) | Command::Spa(_) | Command::Completions { .. } => Ok(ExitCode::Success),
    };
    result.unwrap_or_else(Failure::report)
}

/// The command line, with `knock` inserted when the binary was called as `knock` (knock(1) drop-in).
fn arguments() -> Vec<OsString> {
    let mut args: Vec<OsString> = std::env::args_os().collect();
    let called_as_knock =
        args.first().and_then(|argv0| Path::new(argv0).file_stem()).is_some_and(|stem| stem == "knock");
    if called_as_knock {
        args.insert(1, OsString::from("knock"));
    }
    args
}
