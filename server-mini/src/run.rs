//! The command line and what it does: parse the configuration, then `--check`, `--read` (replay) or
//! live capture. `main` only parses the arguments, calls [`run`] and maps the result to an exit code.

use std::path::PathBuf;

use clap::{Parser, Subcommand};
use client_core::knockd_conf;
use client_core::rotating::{self, DoorKey};

use crate::actions::DEFAULT_MAX_COMMANDS;
use crate::capture::{self, Live};
use crate::check;
use crate::config::{self, SequenceSource};
use crate::doors::DEFAULT_MAX_ATTEMPTS;
use crate::exit::Failure;
use crate::log::Logger;
use crate::privileges::{self, User};
use crate::rotating_keys;
use crate::server::{Server, ServerOptions};

#[derive(Debug, Parser)]
#[command(name = "knock-server", version, about = "A knockd.conf-compatible port-knock server")]
pub struct Args {
    #[command(subcommand)]
    pub command: Option<Command>,
    /// The knockd.conf to read.
    #[arg(short, long, value_name = "FILE", default_value = "/etc/knockd.conf", global = true)]
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
    /// Most attempts in progress at once (oldest evicted beyond); about 87 bytes each. Rotating doors have
    /// their own table with the same cap (about 162 bytes each).
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

#[derive(Debug, Subcommand)]
pub enum Command {
    /// Rotating doors (docs/rotating-sequences.md).
    #[command(subcommand)]
    Rotating(RotatingCommand),
}

#[derive(Debug, Subcommand)]
pub enum RotatingCommand {
    /// Adds USER to rotating door DOOR: generates a 160-bit key, appends `USER KEY` to the door's
    /// Rotating_Keys file (created 0600) and prints the import URI for `knock-cli profile import-uri` on
    /// stdout. The URI holds the key: hand it over privately. Reload the server (SIGHUP) to let USER in.
    Keygen {
        /// The rotating door (its [name] in the config).
        door: String,
        /// The new user's name (A-Z a-z 0-9 . _ @ + -, up to 64).
        user: String,
        /// The host name or address clients knock on (goes into the URI).
        #[arg(long)]
        host: String,
    },
}

/// Key bytes `rotating keygen` generates: 160 bits (RFC 4226's recommended HMAC key size; at least 128).
pub const KEYGEN_BYTES: usize = 20;

/// Runs knock-server as the arguments say.
pub fn run(args: Args) -> Result<(), Failure> {
    let conf = knockd_conf::parse_file(&args.config).map_err(|e| Failure::invalid(e.to_string()))?;
    let config =
        config::from_conf(&conf, &args.config).map_err(|e| Failure::invalid(e.in_file(&args.config).to_string()))?;
    if let Some(Command::Rotating(RotatingCommand::Keygen { door, user, host })) = &args.command {
        return keygen(&config, door, user, host);
    }
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

/// `rotating keygen`: see [`RotatingCommand::Keygen`].
fn keygen(config: &config::ServerConfig, door: &str, user: &str, host: &str) -> Result<(), Failure> {
    let file = config.path.display();
    let rotating_doors: Vec<&str> = config
        .doors
        .iter()
        .filter(|d| matches!(d.sequence, SequenceSource::Rotating(_)))
        .map(|d| d.name.as_str())
        .collect();
    let Some(found) = config.doors.iter().find(|d| d.name == door) else {
        return Err(Failure::invalid(format!(
            "{file} has no door [{door}] (rotating doors: {})",
            if rotating_doors.is_empty() { "none".to_owned() } else { rotating_doors.join(", ") }
        )));
    };
    let SequenceSource::Rotating(settings) = &found.sequence else {
        return Err(Failure::invalid(format!(
            "{file}:{}: door [{door}] is not rotating (it has no Rotating_Keys = FILE)",
            found.line
        )));
    };
    if host.is_empty() || host.contains(|c: char| c.is_whitespace() || c == '/' || c == '?' || c == '#') {
        return Err(Failure::invalid(format!(
            "--host {host:?}: expected the host name or address clients knock on, e.g. --host bastion.example.org"
        )));
    }
    if !rotating_keys::valid_user(user) {
        return Err(Failure::invalid(format!(
            "user {user:?}: expected 1 to {} of A-Z a-z 0-9 . _ @ + -",
            rotating_keys::MAX_USER_LEN
        )));
    }
    let mut bytes = vec![0u8; KEYGEN_BYTES];
    getrandom::fill(&mut bytes).map_err(|e| Failure::runtime(format!("no random numbers from the OS: {e}")))?;
    let key = DoorKey::from_bytes(bytes).map_err(|e| Failure::runtime(e.to_string()))?;
    rotating_keys::append(&settings.keys, user, &key).map_err(|e| Failure::invalid(e.to_string()))?;
    println!("{}", rotating::format_uri(host, &settings.rotation, &key));
    eprintln!(
        "added user {user} to {} (door [{door}]); the line above holds the key: give it to {user} privately, to \
         import with `knock-cli profile import-uri - < FILE`; reload knock-server (SIGHUP) to let {user} in",
        settings.keys.display()
    );
    Ok(())
}
