//! The command line and what it does: parse the configuration, then `--check`, `--read` (replay) or
//! live capture. `main` only parses the arguments, calls [`run`] and maps the result to an exit code.

use std::io::{IsTerminal, Write};
use std::os::unix::fs::OpenOptionsExt;
use std::path::{Path, PathBuf};

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
    pub(crate) command: Option<Command>,
    /// The knockd.conf to read.
    #[arg(short, long, value_name = "FILE", default_value = "/etc/knockd.conf", global = true)]
    pub(crate) config: PathBuf,
    /// Interface to capture on (overrides Interface in [options]).
    #[arg(short, long, value_name = "IFACE")]
    pub(crate) interface: Option<String>,
    /// Check the configuration, print errors and warnings for weak doors, and exit.
    #[arg(long)]
    pub(crate) check: bool,
    /// Replay a capture file through the same code path instead of capturing live.
    #[arg(long, value_name = "FILE.pcap")]
    pub(crate) read: Option<PathBuf>,
    /// Log the commands instead of running them.
    #[arg(long)]
    pub(crate) dry_run: bool,
    /// Most attempts in progress at once (oldest evicted beyond); about 87 bytes each. Rotating doors have
    /// their own table with the same cap (about 162 bytes each).
    #[arg(long, value_name = "N", default_value_t = DEFAULT_MAX_ATTEMPTS,
          value_parser = clap::builder::RangedU64ValueParser::<usize>::new().range(1..=100_000_000))]
    pub(crate) max_attempts: usize,
    /// Most commands (and nftables updates) running at once; openings beyond are refused and counted.
    #[arg(long, value_name = "N", default_value_t = DEFAULT_MAX_COMMANDS,
          value_parser = clap::builder::RangedU64ValueParser::<usize>::new().range(1..=4096))]
    pub(crate) max_commands: usize,
    /// Directory for state that survives restarts (used one-time sequences); the unit's StateDirectory.
    #[arg(long, value_name = "DIR")]
    pub(crate) state_dir: Option<PathBuf>,
    /// Switch to this user once the capture is open (keeping only the capabilities the doors need).
    /// Started as root, knock-server switches to the system user `knock-server` unless told otherwise.
    #[arg(long, value_name = "NAME")]
    pub(crate) user: Option<String>,
    /// Started as root, stay uid 0 instead of switching to the user `knock-server` (capabilities are
    /// still dropped to what the doors need): door commands then run as root.
    #[arg(long, conflicts_with = "user")]
    pub(crate) run_as_root: bool,
    /// Keep every privilege the server was started with, uid 0 included (for door commands that need
    /// more than CAP_NET_ADMIN); by default only what the doors need is kept once the capture is open.
    #[arg(long, conflicts_with = "user")]
    pub(crate) keep_capabilities: bool,
    /// Do not log to stderr (only LogFile / syslog).
    #[arg(short, long)]
    pub(crate) quiet: bool,
    /// Accept fwknop SPA packets as fwknopd's access.conf FILE says (also `Fwknop_Access = FILE` in
    /// [options]); without a knockd.conf, the SPA door runs alone.
    #[arg(long, value_name = "FILE")]
    pub(crate) fwknop_access: Option<PathBuf>,
    /// fwknopd.conf to read PCAP_FILTER (the SPA port), MAX_SPA_PACKET_AGE, ENABLE_SPA_PACKET_AGING,
    /// ENABLE_DIGEST_PERSISTENCE and FIREWALL_TYPE from (fwknopd's defaults otherwise: UDP 62201, 120 s).
    #[arg(long, value_name = "FILE")]
    pub(crate) fwknopd_conf: Option<PathBuf>,
    /// The nft set ("FAMILY TABLE SET", e.g. "inet knock spa4") an SPA opening puts an IPv4 address into,
    /// with the granted timeout (stanzas with CMD_CYCLE_OPEN run their commands instead).
    #[arg(long, value_name = "SET")]
    pub(crate) fwknop_nft_set: Option<String>,
    /// The same for IPv6 addresses ("inet knock spa6").
    #[arg(long, value_name = "SET")]
    pub(crate) fwknop_nft_set_6: Option<String>,
    /// Load access.conf stanzas without an HMAC key (refused by default), with a warning each: their
    /// packets are decrypted before anything authenticates them, as fwknopd does (also
    /// `Fwknop_Allow_No_Hmac = yes` in [options]).
    #[arg(long)]
    pub(crate) fwknop_allow_no_hmac: bool,
}

#[derive(Debug, Subcommand)]
pub(crate) enum Command {
    /// Rotating doors (docs/rotating-sequences.md).
    #[command(subcommand)]
    Rotating(RotatingCommand),
    /// Prints a random static sequence for a door's `Sequence =` (ports 1024-65535, all different, TCP
    /// and UDP mixed, so no port scan completes it). It is the door's secret: keep it private.
    NewSequence {
        /// Hits in the sequence.
        #[arg(long, default_value_t = NEW_SEQUENCE_LENGTH,
              value_parser = clap::builder::RangedU64ValueParser::<usize>::new().range(3..=32))]
        length: usize,
    },
}

#[derive(Debug, Subcommand)]
pub(crate) enum RotatingCommand {
    /// Adds USER to rotating door DOOR: generates a 160-bit key, appends `USER KEY` to the door's
    /// Rotating_Keys file (created 0600) and writes the import URI for `knock-cli profile import-uri` to
    /// `--out FILE` (created 0600), or prints it on a terminal. The URI holds the key: hand it over
    /// privately. Reload the server (SIGHUP) to let USER in.
    Keygen {
        /// The rotating door (its [name] in the config).
        door: String,
        /// The new user's name (A-Z a-z 0-9 . _ @ + -, up to 64).
        user: String,
        /// The host name or address clients knock on (goes into the URI).
        #[arg(long)]
        host: String,
        /// The TCP service port behind the door (e.g. 22): goes into the URI (`verify=`), so the client's
        /// profile probes it after knocking and retries when it stays closed.
        #[arg(long, value_name = "PORT")]
        verify_port: Option<std::num::NonZeroU16>,
        /// Write the URI to FILE, created with mode 0600 (an existing FILE is refused).
        #[arg(long, value_name = "FILE", conflicts_with = "stdout")]
        out: Option<PathBuf>,
        /// Print the URI on stdout even when it is not a terminal (a pipe, or a file the shell creates
        /// with your umask, often readable by others).
        #[arg(long)]
        stdout: bool,
    },
}

/// Key bytes `rotating keygen` generates: 160 bits (RFC 4226's recommended HMAC key size; at least 128).
pub(crate) const KEYGEN_BYTES: usize = 20;

/// Hits `new-sequence` draws by default.
pub(crate) const NEW_SEQUENCE_LENGTH: usize = 4;

/// Runs knock-server as the arguments say.
pub fn run(args: Args) -> Result<(), Failure> {
    if let Some(Command::NewSequence { length }) = &args.command {
        let sequence = new_sequence(*length, &mut random_u16)?;
        // knock(1)'s and knockd.conf's short form: a TCP hit is its port alone.
        let sequence: Vec<String> = sequence
            .hits()
            .iter()
            .map(|h| if h.protocol == client_core::Protocol::Tcp { h.port.to_string() } else { h.to_string() })
            .collect();
        let sequence = sequence.join(",");
        println!("{sequence}");
        eprintln!(
            "a door's Sequence = {sequence}: it is the door's secret (whoever has it opens the door); put it in the \
             config and give it to your users privately"
        );
        return Ok(());
    }
    // With --fwknop-access the SPA door may run alone: a missing knockd.conf is then an empty one.
    let spa_only = args.fwknop_access.is_some() && args.command.is_none() && !args.config.exists();
    let conf = if spa_only {
        knockd_conf::parse("").map_err(|e| Failure::invalid(e.to_string()))?
    } else {
        knockd_conf::parse_file(&args.config).map_err(|e| Failure::invalid(e.to_string()))?
    };
    let config = if args.fwknop_access.is_some() {
        config::from_conf_with_spa(&conf, &args.config)
    } else {
        config::from_conf(&conf, &args.config)
    }
    .map_err(|e| Failure::invalid(e.in_file(&args.config).to_string()))?;
    let spa_settings = match args.fwknop_access.clone().or_else(|| config.options.fwknop_access.clone()) {
        Some(access) => Some(spa_settings(&args, &access, config.options.fwknop_allow_no_hmac)?),
        None => None,
    };
    if let Some(Command::Rotating(RotatingCommand::Keygen { door, user, host, verify_port, out, stdout })) =
        &args.command
    {
        let target = match out {
            Some(file) => UriTarget::File(file),
            None if *stdout || std::io::stdout().is_terminal() => UriTarget::Stdout,
            None => {
                return Err(Failure::invalid(
                    "rotating keygen: stdout is not a terminal, and the URI holds the user's key: a file made by the \
                     shell (`> alice.uri`) gets your umask, often readable by others; use --out FILE (created 0600), \
                     or --stdout to print it anyway (e.g. into a pipe)",
                ));
            }
        };
        return keygen(&config, door, user, host, *verify_port, target);
    }
    if args.check {
        let doors = if spa_only || config.doors.is_empty() { Ok(()) } else { check::check(&config, &conf) };
        if let Some(settings) = spa_settings {
            let spa = crate::spa::SpaDoor::new(settings, args.state_dir.as_deref())
                .map_err(|e| Failure::invalid(format!("the SPA replay cache: {e}")))?;
            check::spa(&spa);
        }
        return doors;
    }
    let log = Logger::new(config.options.log_file.as_deref(), config.options.use_syslog, !args.quiet)
        .map_err(|e| Failure::runtime(format!("cannot open the log file: {e}")))?;
    let options = ServerOptions {
        max_attempts: args.max_attempts,
        max_commands: args.max_commands,
        dry_run: args.dry_run,
        state_dir: args.state_dir.clone(),
    };
    let mut server = Server::new(config, options, log).map_err(|e| Failure::invalid(e.to_string()))?;
    if let Some(settings) = spa_settings {
        server.enable_spa(settings).map_err(|e| Failure::invalid(format!("the SPA replay cache: {e}")))?;
    }
    // After the configuration (its errors come first), before the capture opens.
    let user = if args.read.is_none() { live_user(&args)? } else { None };
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
                    let line =
                        privileges::drop_privileges(server.config(), server.spa_runs_something(), user.as_ref())?;
                    server.log.important(&line);
                    Ok(())
                },
            },
        ),
    }
}

/// The SPA door's settings: access.conf (errors name file and line), fwknopd.conf, the nft sets.
fn spa_settings(args: &Args, access: &Path, allow_no_hmac: bool) -> Result<crate::spa::SpaSettings, Failure> {
    use crate::fwknop_access::NoHmac;
    use crate::nft::{NftFamilyUse, NftSet};
    let no_hmac = if args.fwknop_allow_no_hmac || allow_no_hmac { NoHmac::Allow } else { NoHmac::Refuse };
    let access_conf = crate::fwknop_access::load(access, no_hmac).map_err(|e| Failure::invalid(e.to_string()))?;
    let fwknopd = match &args.fwknopd_conf {
        Some(path) => crate::fwknopd_conf::load(path).map_err(|e| Failure::invalid(e.to_string()))?,
        None => crate::fwknopd_conf::FwknopdConf::default(),
    };
    let set = |text: &Option<String>, family: NftFamilyUse, flag: &str| match text {
        Some(text) => {
            NftSet::parse(text, family).map(Some).map_err(|e| Failure::invalid(format!("{flag} {text:?}: {e}")))
        }
        None => Ok(None),
    };
    let mut access_conf = access_conf;
    if let Some(firewall) = fwknopd.firewall_type.as_deref().filter(|f| !f.eq_ignore_ascii_case("nftables")) {
        access_conf.warnings.push(format!(
            "FIREWALL_TYPE {firewall}: knock-server opens through --fwknop-nft-set or CMD_CYCLE_OPEN, never {firewall} rules"
        ));
    }
    Ok(crate::spa::SpaSettings {
        access_file: access.to_owned(),
        access: access_conf,
        no_hmac,
        port: fwknopd.port,
        age: crate::spa_door::AgeRule { max_age: fwknopd.aging.then_some(fwknopd.max_age) },
        persist_digests: fwknopd.digest_persistence,
        nft4: set(&args.fwknop_nft_set, NftFamilyUse::Ipv4, "--fwknop-nft-set")?,
        nft6: set(&args.fwknop_nft_set_6, NftFamilyUse::Ipv6, "--fwknop-nft-set-6")?,
    })
}

/// The user a live server runs as once the capture is open (see [`privileges::target_user`]), looked
/// up and checked before anything starts. A replay (`--read`) opens no capture and keeps its user.
fn live_user(args: &Args) -> Result<Option<User>, Failure> {
    let euid = rustix::process::geteuid().as_raw();
    let user = match privileges::target_user(euid, args.user.as_deref(), args.run_as_root, args.keep_capabilities) {
        privileges::Target::Stay => None,
        privileges::Target::Switch(name) => Some(User::lookup(name)?),
        privileges::Target::Default(name) => Some(User::lookup(name).map_err(|_| {
            Failure::invalid(format!(
                "started as root: knock-server switches to the system user {name} once the capture is open (door \
                 commands must not run as root), and there is no user {name}: create it (useradd --system \
                 --no-create-home --shell /usr/sbin/nologin {name}; the Debian package does), name another with \
                 --user NAME, or keep uid 0 with --run-as-root"
            ))
        })?),
    };
    if let (Some(user), Some(dir)) = (&user, &args.state_dir) {
        privileges::check_writable(dir, user).map_err(|why| {
            Failure::runtime(format!(
                "--state-dir {}: {why}, and knock-server runs as user {} once the capture is open, so it could not \
                 record used sequences and windows: chown {} {}, or choose the user with --user NAME / --run-as-root",
                dir.display(),
                user.name,
                user.name,
                dir.display()
            ))
        })?;
    }
    Ok(user)
}

/// Where `rotating keygen` puts the URI.
#[derive(Debug, Clone, Copy)]
enum UriTarget<'a> {
    /// A new file, created 0600.
    File(&'a Path),
    Stdout,
}

/// A random u16 from the OS.
fn random_u16() -> Result<u16, Failure> {
    let mut bytes = [0u8; 2];
    getrandom::fill(&mut bytes).map_err(|e| Failure::runtime(format!("no random numbers from the OS: {e}")))?;
    Ok(u16::from_le_bytes(bytes))
}

/// A random static sequence of `length` hits (see [`Command::NewSequence`]): distinct ports in
/// 1024-65535, each TCP or UDP at random with both present, so it neither rises nor falls in one protocol
/// (what a port scan completes), and none of [`check::PUBLISHED_SEQUENCES`].
pub(crate) fn new_sequence(
    length: usize,
    random: &mut dyn FnMut() -> Result<u16, Failure>,
) -> Result<client_core::Sequence, Failure> {
    loop {
        let mut hits: Vec<(u16, bool)> = Vec::with_capacity(length);
        while hits.len() < length {
            let port = random()?;
            if port >= 1024 && !hits.iter().any(|(p, _)| *p == port) {
                hits.push((port, random()? & 1 == 1));
            }
        }
        if hits.iter().all(|(_, udp)| *udp) || hits.iter().all(|(_, udp)| !*udp) {
            let index = usize::from(random()?) % length.max(1);
            if let Some(hit) = hits.get_mut(index) {
                hit.1 = !hit.1;
            }
        }
        let text: Vec<String> =
            hits.iter().map(|(port, udp)| if *udp { format!("{port}:udp") } else { port.to_string() }).collect();
        let sequence = knockd_conf::parse_sequence(&text.join(","))
            .map_err(|e| Failure::runtime(format!("generated an invalid sequence: {e}")))?;
        if !check::is_published(&sequence) {
            return Ok(sequence);
        }
    }
}

/// A key file keygen created as root gets the owner and group of its directory: under the unit's
/// `/var/lib/knock-server` that is the service user, who must read it at every SIGHUP.
fn give_to_directory_owner(file: &Path) -> Result<(), Failure> {
    use std::os::unix::fs::MetadataExt;
    if !rustix::process::geteuid().is_root() {
        return Ok(());
    }
    let dir = file.parent().filter(|p| !p.as_os_str().is_empty()).unwrap_or(Path::new("."));
    let owner = std::fs::metadata(dir).map_err(|e| Failure::runtime(format!("{}: {e}", dir.display())))?;
    std::os::unix::fs::chown(file, Some(owner.uid()), Some(owner.gid())).map_err(|e| {
        Failure::runtime(format!(
            "{}: cannot give it to the owner of {} (uid {}): {e}; chown it to the user knock-server runs as",
            file.display(),
            dir.display(),
            owner.uid()
        ))
    })
}

/// `rotating keygen`: see [`RotatingCommand::Keygen`].
fn keygen(
    config: &config::ServerConfig,
    door: &str,
    user: &str,
    host: &str,
    verify_port: Option<std::num::NonZeroU16>,
    target: UriTarget,
) -> Result<(), Failure> {
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
    // The URI file is created before the user is added: a bad --out adds nobody.
    let mut out_file = match target {
        UriTarget::File(path) => Some((
            path,
            std::fs::OpenOptions::new().write(true).create_new(true).mode(0o600).open(path).map_err(|e| {
                Failure::invalid(format!(
                    "--out {}: cannot create it ({e}); give a new file name (keygen creates it with mode 0600, \
                     never into an existing file)",
                    path.display()
                ))
            })?,
        )),
        UriTarget::Stdout => None,
    };
    let new_key_file = !settings.keys.exists();
    if let Err(err) = rotating_keys::append(&settings.keys, user, &key) {
        if let Some((path, _)) = &out_file {
            let _ = std::fs::remove_file(path);
        }
        return Err(Failure::invalid(err.to_string()));
    }
    if new_key_file {
        give_to_directory_owner(&settings.keys)?;
    }
    let uri = rotating::format_uri(host, &settings.rotation, &key, verify_port);
    let (written_to, where_) = match &mut out_file {
        Some((path, file)) => {
            file.write_all(format!("{uri}\n").as_bytes()).and_then(|()| file.sync_all()).map_err(|e| {
                Failure::runtime(format!(
                    "user {user} was added to {}, but writing the URI to --out {} failed ({e}): remove {user}'s \
                     line from the key file and run keygen again",
                    settings.keys.display(),
                    path.display()
                ))
            })?;
            (format!("{} (mode 0600)", path.display()), format!("knock-cli profile import-uri - < {}", path.display()))
        }
        None => {
            println!("{uri}");
            ("the line above".to_owned(), "knock-cli profile import-uri - < FILE".to_owned())
        }
    };
    eprintln!(
        "added user {user} to {} (door [{door}]); {written_to} holds the key: give it to {user} privately, to \
         import with `{where_}`; reload knock-server (SIGHUP) to let {user} in",
        settings.keys.display()
    );
    if verify_port.is_none() {
        eprintln!(
            "note: the URI names no service port, so {user}'s profile cannot tell whether the door opened: \
             give --verify-port PORT (e.g. 22) to keygen, or `knock-cli profile import-uri --verify-port PORT`"
        );
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn new_sequences_are_distinct_high_ports_mixing_protocols_that_check_accepts() {
        let mut state = 0x9e37_79b9_u32;
        let mut lcg = || -> Result<u16, Failure> {
            state = state.wrapping_mul(1_664_525).wrapping_add(1_013_904_223);
            Ok((state >> 16) as u16)
        };
        for length in [3, 4, 8, 32] {
            for _ in 0..50 {
                let sequence = new_sequence(length, &mut lcg).expect("sequence");
                let hits = sequence.hits();
                assert_eq!(hits.len(), length);
                assert!(hits.iter().all(|h| h.port >= 1024), "{sequence}");
                let mut ports: Vec<u16> = hits.iter().map(|h| h.port).collect();
                ports.sort_unstable();
                ports.dedup();
                assert_eq!(ports.len(), length, "distinct ports: {sequence}");
                assert!(hits.iter().any(|h| h.protocol == client_core::Protocol::Udp), "{sequence}");
                assert!(hits.iter().any(|h| h.protocol == client_core::Protocol::Tcp), "{sequence}");
                let text =
                    format!("[d]\n Sequence = {sequence}\n Seq_Timeout = 5\n TCPFlags = syn\n Start_Command = x\n");
                let conf = knockd_conf::parse(&text).expect("parse");
                let config = config::from_conf(&conf, Path::new("k.conf")).expect("valid");
                assert_eq!(config::lint(&config, &conf), [], "{sequence}");
            }
        }
        // A source that only ever gives one protocol bit and low ports still ends in a valid sequence.
        let mut counter = 0u16;
        let mut stuck = || -> Result<u16, Failure> {
            counter = counter.wrapping_add(2);
            Ok(counter.wrapping_mul(977) | 0x400)
        };
        let sequence = new_sequence(4, &mut stuck).expect("sequence");
        assert!(sequence.hits().iter().any(|h| h.protocol == client_core::Protocol::Udp), "{sequence}");
        assert!(!check::is_published(&sequence));
        let published = knockd_conf::parse_sequence(check::PUBLISHED_SEQUENCES[0]).expect("published");
        assert!(check::is_published(&published));
    }
}
