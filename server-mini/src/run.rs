//! The command line and what it does: parse the configuration, then `--check`, `--read` (replay) or
//! live capture. `main` only parses the arguments, calls [`run`] and maps the result to an exit code.

use std::path::PathBuf;

use clap::Parser;
use client_core::knockd_conf;

use crate::actions::DEFAULT_MAX_COMMANDS;
use crate::capture::{self, Live};
use crate::check;
use crate::config;
use crate::doors::DEFAULT_MAX_ATTEMPTS;
use crate::exit::Failure;
use crate::log::Logger;
use crate::privileges::{self, User};
use crate::server::{Server, ServerOptions};

#[derive(Debug, Parser)]
#[command(name = "knock-server", version, about = "A knockd.conf-compatible port-knock server")]
pub struct Args {
    /// The knockd.conf to read.
    #[arg(short, long, value_name = "FILE", default_value = "/etc/knockd.conf")]
    pub config: PathBuf,
    /// Interface to capture on (overrides Interface in [options]).
    #[arg(short, long, value_name = "IFACE")]
    pub interface: Option<String>,
    /// Check the configuration, print errors and warnings for weak doors, and exit.
    #[arg(long)]
    pub check: bool,
    /// Replay a capture file through the same code path instead of capturing live.
    #[arg(long, value_name = "FILE.pcap")]
    pub read: Option<PathBuf>,
    /// Log the commands instead of running them.
    #[arg(long)]
    pub dry_run: bool,
    /// Most attempts in progress at once (oldest evicted beyond); about 87 bytes each.
    #[arg(long, value_name = "N", default_value_t = DEFAULT_MAX_ATTEMPTS,
          value_parser = clap::builder::RangedU64ValueParser::<usize>::new().range(1..=100_000_000))]
    pub max_attempts: usize,
    /// Most commands (and nftables updates) running at once; openings beyond are refused and counted.
    #[arg(long, value_name = "N", default_value_t = DEFAULT_MAX_COMMANDS,
          value_parser = clap::builder::RangedU64ValueParser::<usize>::new().range(1..=4096))]
    pub max_commands: usize,
    /// Directory for state that survives restarts (used one-time sequences); the unit's StateDirectory.
    #[arg(long, value_name = "DIR")]
    pub state_dir: Option<PathBuf>,
    /// Switch to this user once the capture is open (keeping only the capabilities the doors need).
    #[arg(long, value_name = "NAME")]
    pub user: Option<String>,
    /// Keep every privilege the server was started with (for door commands that need more than
    /// CAP_NET_ADMIN); by default only what the doors need is kept once the capture is open.
    #[arg(long, conflicts_with = "user")]
    pub keep_capabilities: bool,
    /// Do not log to stderr (only LogFile / syslog).
    #[arg(short, long)]
    pub quiet: bool,
}

/// Runs knock-server as the arguments say.
pub fn run(args: Args) -> Result<(), Failure> {
    let conf = knockd_conf::parse_file(&args.config).map_err(|e| Failure::invalid(e.to_string()))?;
    let config =
        config::from_conf(&conf, &args.config).map_err(|e| Failure::invalid(e.in_file(&args.config).to_string()))?;
    if args.check {
        return check::check(&config, &conf);
    }
    let user = args.user.as_deref().map(User::lookup).transpose()?;
    let log = Logger::new(config.options.log_file.as_deref(), config.options.use_syslog, !args.quiet)
        .map_err(|e| Failure::runtime(format!("cannot open the log file: {e}")))?;
    let options = ServerOptions {
        max_attempts: args.max_attempts,
        max_commands: args.max_commands,
        dry_run: args.dry_run,
        state_dir: args.state_dir.clone(),
    };
    let mut server = Server::new(config, options, log).map_err(|e| Failure::invalid(e.to_string()))?;
    match &args.read {
        Some(file) => capture::replay(&mut server, file),
        None => capture::live(
            &mut server,
            Live {
                interface: args.interface,
                config_path: &args.config,
                after_open: &mut |server: &mut Server| {
                    if args.keep_capabilities {
                        return Ok(());
                    }
                    let line = privileges::drop_privileges(server.config(), user.as_ref())?;
                    server.log.important(&line);
                    Ok(())
                },
            },
        ),
    }
}
