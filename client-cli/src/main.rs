//! knock-cli: a thin binary over client-core. Parses arguments, runs the command, maps the outcome to an
//! exit code that scripts can rely on (see [`exit::ExitCode`]).
//!
//! Invoked through a link named `knock`, it behaves as `knock-cli knock`, a drop-in for knock(1).

#[macro_use]
mod output;

mod cli;
mod completion;
mod doctor_cmd;
mod exit;
mod fail;
mod import_cmd;
mod knock_cmd;
#[cfg(all(target_os = "linux", target_env = "gnu"))]
mod libm_pow;
mod man_page;
mod open_cmd;
mod profile_cmd;
mod progress;
mod report_json;
mod rotating_cmd;
mod ssh_cmd;

use std::ffi::OsString;
use std::path::Path;

use clap::CommandFactory;
use client_core::Action;
use client_core::ProfileStore;

use crate::cli::{Cli, Command};
use crate::exit::ExitCode;
use crate::fail::Failure;

fn main() -> std::process::ExitCode {
    let args: Vec<OsString> = std::env::args_os().collect();
    let as_knock = called_as_knock(&args);
    // A shell's TAB (COMPLETE=bash knock-cli -- WORDS): answered and exited before anything is printed.
    completion::answer_if_asked(as_knock);
    if as_knock {
        output::set_program("knock");
        // knock(1) with no arguments prints its usage and exits 1; scripts may test for that.
        if args.len() <= 1 {
            errln!("{}", cli::KnockLinkCli::command().render_usage());
            errln!("Try 'knock --help' for more information.");
            return ExitCode::Failure.into();
        }
    }
    let parsed = if as_knock { Cli::parse_knock_link(args) } else { Cli::parse_arguments(args) };
    let cli = match parsed {
        Ok(cli) => cli,
        Err(err) => {
            // --help and --version are not errors; clap prints them itself.
            let code = if err.use_stderr() { ExitCode::InvalidInput } else { ExitCode::Success };
            let _ = err.print();
            return code.into();
        }
    };
    // One place decides the exit status: the command's, unless stdout could not take its output.
    output::finish(run(&cli)).into()
}

/// Runs the parsed command; every failure is reported here, on stderr, once.
fn run(cli: &Cli) -> ExitCode {
    let store = || ProfileStore::locate(cli.profiles_dir.as_deref()).map_err(Failure::from);
    let result = match &cli.command {
        Command::Knock(args) => Ok(knock_cmd::run(args)),
        Command::Spa(cli::SpaCommand::Keygen) => match client_core::spa::keygen() {
            Ok((key, hmac_key)) => {
                out!("{}", client_core::spa::format_key_lines(&key, &hmac_key));
                Ok(ExitCode::Success)
            }
            Err(err) => Err(Failure::failed(format!("cannot generate keys: {err}"))),
        },
        Command::Completions { shell, bin } => match completion::registration(*shell, bin) {
            Ok(script) => {
                out!("{}", String::from_utf8_lossy(&script));
                Ok(ExitCode::Success)
            }
            Err(err) => Err(Failure::failed(format!("cannot write the {shell} completion script: {err}"))),
        },
        Command::Man { out: None } => match man_page::main_page() {
            Ok(page) => {
                out!("{}", String::from_utf8_lossy(&page));
                Ok(ExitCode::Success)
            }
            Err(err) => Err(Failure::failed(format!("cannot render the man page: {err}"))),
        },
        Command::Man { out: Some(dir) } => match man_page::write_all(dir) {
            Ok(written) => {
                out!("{} pages written to {}", written.len(), dir.display());
                Ok(ExitCode::Success)
            }
            Err(err) => Err(Failure::failed(format!("{}: cannot write the man pages: {err}", dir.display()))),
        },
        Command::Rotating(cli::RotatingCommand::Now { name, reveal }) => {
            store().and_then(|store| rotating_cmd::now(&store, name, *reveal))
        }
        Command::Profile(command) => store().and_then(|store| profile_cmd::run(&store, command)),
        Command::Open(args) => store().map(|store| open_cmd::run(&store, args, Action::Open)),
        Command::Close(args) => store().map(|store| open_cmd::run(&store, args, Action::Close)),
        Command::Ssh(args) => store().and_then(|store| ssh_cmd::ssh(&store, args)),
        Command::Proxy(args) => store().and_then(|store| ssh_cmd::proxy(&store, args)),
        Command::Doctor(args) => store().and_then(|store| doctor_cmd::run(&store, args)),
    };
    result.unwrap_or_else(Failure::report)
}

/// Whether the binary was called through a link named `knock` (the knock(1) drop-in).
fn called_as_knock(args: &[OsString]) -> bool {
    args.first().and_then(|argv0| Path::new(argv0).file_stem()).is_some_and(|stem| stem == "knock")
}
