//! The command-line grammar (clap). Values that client-core parses more strictly than clap could (hits,
//! flags) stay strings here, so their errors can also be reported in `--json` output. A plain `knock` line
//! is read first without clap ([`fast_knock`], lexopt), because knock(1)'s drop-in runs in tight loops;
//! whatever that reader does not accept is clap's to parse.

use std::ffi::OsString;
use std::net::IpAddr;
use std::path::PathBuf;

use clap::{Args, Parser, Subcommand, ValueEnum};
use clap_complete::engine::ArgValueCandidates;

#[derive(Debug, Parser)]
#[command(name = "knock-cli", version, about = "Port knocking: send a sequence of TCP/UDP hits to a host")]
pub struct Cli {
    /// Directory of saved profiles (default: $KNOCK_PROFILES_DIR, else the platform's config directory).
    #[arg(long, global = true, value_name = "DIR")]
    pub profiles_dir: Option<PathBuf>,

    #[command(subcommand)]
    pub command: Command,
}

impl Cli {
    /// Parses the command line. `knock` (the knock(1) drop-in, the one command run in tight loops) is
    /// first read by [`fast_knock`], which touches none of clap: parsing with clap took 0.18 ms of the
    /// 0.40 ms knock-cli spent after `main` began. Anything the fast path does not accept as a knock
    /// (errors, `--help`, `--version`, anything unusual) goes to the full clap grammar, so results, messages
    /// and help stay exactly clap's.
    pub fn parse_arguments(args: Vec<OsString>) -> Result<Cli, clap::Error> {
        match fast_knock(&args) {
            Some(cli) => Ok(cli),
            None => Cli::try_parse_from(args),
        }
    }

    /// Parses the command line of knock-cli run as `knock` (knock(1)'s drop-in): the fast path as for
    /// `knock-cli knock`, else [`KnockLinkCli`]'s grammar, so usage, help and `-V` name `knock`.
    pub fn parse_knock_link(args: Vec<OsString>) -> Result<Cli, clap::Error> {
        let mut as_subcommand = args.clone();
        as_subcommand.insert(as_subcommand.len().min(1), OsString::from("knock"));
        let mut cli = match fast_knock(&as_subcommand) {
            Some(cli) => cli,
            None => {
                let link = KnockLinkCli::try_parse_from(args)?;
                Cli { profiles_dir: link.profiles_dir, command: Command::Knock(link.knock) }
            }
        };
        if let Command::Knock(knock) = &mut cli.command {
            knock.udp_for_every_hit = true;
        }
        Ok(cli)
    }
}

/// A knock command line read without clap (with lexopt, as ripgrep reads its arguments), or `None` when
/// the line is anything but a plain, valid knock. It only ever accepts lines that clap parses to the same
/// [`Cli`] (`cli::tests` holds it to that); when in doubt it declines: a repeated option, a value that
/// starts with `-`, `-4` with `-6`, a value clap would refuse.
fn fast_knock(args: &[OsString]) -> Option<Cli> {
    use lexopt::Arg::{Long, Short, Value};

    let mut parser = lexopt::Parser::from_args(args.iter().skip(1));
    let mut profiles_dir: Option<PathBuf> = None;
    let mut set_profiles_dir = |value: OsString| {
        let fresh = profiles_dir.is_none() && !value.as_encoded_bytes().starts_with(b"-");
        profiles_dir = Some(PathBuf::from(value));
        fresh.then_some(())
    };
    // Before the subcommand only the global --profiles-dir may appear.
    loop {
        match parser.next().ok()?? {
            Long("profiles-dir") => set_profiles_dir(parser.value().ok()?)?,
            Value(command) if command == "knock" => break,
            _ => return None,
        }
    }
    let mut positionals: Vec<String> = Vec::new();
    let (mut udp, mut ipv4, mut ipv6, mut verbose, mut json) = (false, false, false, false, false);
    let (mut delay, mut method, mut tcp_flags, mut udp_payload, mut bind, mut source_port) =
        (None, None, None, None, None, None);
    // Sets a flag that must not repeat (clap refuses a repeated flag).
    fn flag(seen: &mut bool) -> Option<()> {
        (!std::mem::replace(seen, true)).then_some(())
    }
    // The value of an option that must not repeat, as UTF-8 that does not start with `-`.
    fn value<T>(slot: &mut Option<T>, parser: &mut lexopt::Parser, read: impl FnOnce(&str) -> Option<T>) -> Option<()> {
        let text = parser.value().ok()?.into_string().ok()?;
        if slot.is_some() || text.starts_with('-') {
            return None;
        }
        *slot = Some(read(&text)?);
        Some(())
    }
    while let Some(arg) = parser.next().ok()? {
        match arg {
            Short('u') | Long("udp") => flag(&mut udp)?,
            Short('4') | Long("ipv4") => flag(&mut ipv4)?,
            Short('6') | Long("ipv6") => flag(&mut ipv6)?,
            Short('v') | Long("verbose") => flag(&mut verbose)?,
            Long("json") => flag(&mut json)?,
            Short('d') | Long("delay") => value(&mut delay, &mut parser, |t| t.parse::<u64>().ok())?,
            Short('m') | Long("method") => value(&mut method, &mut parser, |t| match t {
                "auto" => Some(MethodArg::Auto),
                "raw" => Some(MethodArg::Raw),
                "connect" => Some(MethodArg::Connect),
                _ => None,
            })?,
            Long("tcp-flags") => value(&mut tcp_flags, &mut parser, |t| Some(t.to_owned()))?,
            Long("udp-payload") => value(&mut udp_payload, &mut parser, |t| Some(t.to_owned()))?,
            Long("bind") => value(&mut bind, &mut parser, |t| t.parse::<IpAddr>().ok())?,
            Long("source-port") => {
                value(&mut source_port, &mut parser, |t| t.parse::<u16>().ok().filter(|&port| port > 0))?
            }
            Long("profiles-dir") => set_profiles_dir(parser.value().ok()?)?,
            Value(text) => positionals.push(text.into_string().ok()?),
            _ => return None,
        }
    }
    if (ipv4 && ipv6) || positionals.len() < 2 {
        return None;
    }
    let host = positionals.remove(0);
    let knock = KnockArgs {
        host,
        hits: positionals,
        udp,
        delay: delay.unwrap_or(0),
        ipv4,
        ipv6,
        verbose,
        method: method.unwrap_or(MethodArg::Auto),
        tcp_flags: tcp_flags.unwrap_or_else(|| "syn".to_owned()),
        udp_payload,
        bind,
        source_port,
        json,
        bare_syn: false,
        udp_for_every_hit: false,
    };
    Some(Cli { profiles_dir, command: Command::Knock(knock) })
}

#[derive(Debug, Subcommand)]
pub enum Command {
    /// Send a knock sequence to a host (a drop-in for knock(1)).
    #[command(after_help = KNOCK_AFTER_HELP)]
    Knock(KnockArgs),
    /// Manage saved host profiles.
    #[command(subcommand)]
    Profile(Box<ProfileCommand>),
    /// Knock the open sequence of saved profiles, verify the service answered, retry if not.
    #[command(after_help = OPEN_AFTER_HELP)]
    Open(OpenArgs),
    /// Knock the close sequence of saved profiles.
    Close(OpenArgs),
    /// Open a profile (with verification), then run ssh to its host.
    #[command(after_help = SSH_AFTER_HELP)]
    Ssh(SshArgs),
    /// Open a profile, then relay stdin/stdout to a TCP port (an OpenSSH ProxyCommand).
    #[command(after_help = PROXY_AFTER_HELP)]
    Proxy(ProxyArgs),
    /// Diagnose a profile: resolution, path, privilege, the verify port before and after one knock,
    /// and the likely cause when the door does not open.
    #[command(after_help = DOCTOR_AFTER_HELP)]
    Doctor(DoctorArgs),
    /// Single Packet Authorization (fwknop) helpers.
    #[command(subcommand)]
    Spa(SpaCommand),
    /// Rotating-sequence helpers.
    #[command(subcommand)]
    Rotating(RotatingCommand),
    /// Print a shell completion script (bash, zsh, fish, elvish, powershell) that completes subcommands,
    /// options and saved profiles' names and tags. Install it once, e.g.
    /// `knock-cli completions bash > ~/.local/share/bash-completion/completions/knock-cli`.
    Completions {
        #[arg(value_enum)]
        shell: clap_complete::Shell,
        /// The command to complete: knock-cli, or knock for a `knock` link to knock-cli (the knock(1)
        /// drop-in).
        #[arg(long, value_name = "NAME", default_value = "knock-cli", value_parser = ["knock-cli", "knock"])]
        bin: String,
    },
    /// Print the knock-cli(1) man page (roff) on stdout, or with --out DIR write knock-cli.1 and one page
    /// per subcommand (knock-cli-open.1, knock-cli-profile-add.1, ...) into DIR; the .deb installs them.
    #[command(hide = true)]
    Man {
        /// Write every page into this directory instead of printing the main page.
        #[arg(long, value_name = "DIR")]
        out: Option<PathBuf>,
    },
}

const OPEN_AFTER_HELP: &str = "\
Exit codes: 0 opened (the verify port answered; without a verify block: every hit sent);
1 network or permission failure; 2 invalid input (bad arguments, unknown or unreadable profile);
3 knocked, but the verify port never answered; 130 interrupted (Ctrl-C); 143 cancelled by SIGTERM
(nothing more is sent; --json still prints a complete `cancelled` document). With several profiles the
most severe wins: 130/143, then 2, then 1, then 3. Each profile succeeds or fails on its own: one that cannot
be knocked (e.g. its sequence comes from an unset variable) does not stop the others.
With a verify port, the port is probed first (--open-check-ms, 300): when it already answers, nothing is sent
and the outcome is `already_open` (exit 0); --force knocks anyway.";

const SSH_AFTER_HELP: &str = "\
Runs `ssh -4|-6 HOST SSH_ARGS...` once the door is open, in the family that was knocked (so ssh
cannot pick an address family the server did not open). Without a verify block the profile is
verified on port 22. Example: knock-cli ssh bastion -- -l deploy uptime";

const PROXY_AFTER_HELP: &str = "\
Use as an OpenSSH ProxyCommand:
  ssh -o ProxyCommand='knock-cli proxy bastion %h %p' bastion.example.org
HOST and PORT default to the knocked address and the verify port (or 22). Only relayed bytes go
to stdout; errors go to stderr. -q (or KNOCK_QUIET=1 in the environment) prints nothing but
errors, not even `already open`.";

const DOCTOR_AFTER_HELP: &str = "\
Knocks at most once (not at all when the verify port already answers). Conclusions: opened,
already_open, not_acted_on, not_listening, refused_before_and_after, opened_late,
server_unreachable, unresolvable, needs_raw_privilege, nat_for_spa, knock_failed, unverified.
Exit codes: 0 the door opened; 3 it did not; 1 the knock could not be made; 2 invalid input.";

#[derive(Debug, Args)]
pub struct DoctorArgs {
    /// The profile to diagnose.
    #[arg(add = ArgValueCandidates::new(crate::completion::profile_names))]
    pub name: String,
    /// Print one JSON document: {profile, checks: [{name, status, detail, advice}], conclusion, exit_code}.
    #[arg(long)]
    pub json: bool,
}

#[derive(Debug, Subcommand)]
pub enum SpaCommand {
    /// Print a new key pair in fwknop's form (KEY_BASE64: / HMAC_KEY_BASE64:), for access.conf and for
    /// the environment variables an SPA profile reads (KNOCK_SPA_KEY_BASE64, KNOCK_SPA_HMAC_KEY_BASE64).
    Keygen,
}

#[derive(Debug, Subcommand)]
pub enum ProfileCommand {
    /// List saved profiles (sequences are not shown; use `show`).
    List {
        #[arg(long)]
        json: bool,
    },
    /// Show one profile, as its TOML file or as JSON.
    Show {
        #[arg(add = ArgValueCandidates::new(crate::completion::profile_names))]
        name: String,
        #[arg(long)]
        json: bool,
    },
    /// Add a profile.
    Add {
        name: String,
        /// Replace a profile of that name, if there is one, with exactly the options given (its id, and so
        /// its keyring keys, are kept): for CI steps that run again in the same workspace.
        #[arg(long)]
        replace: bool,
        #[command(flatten)]
        fields: ProfileFields,
    },
    /// Change fields of a profile (only the options given).
    Edit {
        #[arg(add = ArgValueCandidates::new(crate::completion::profile_names))]
        name: String,
        #[command(flatten)]
        fields: ProfileFields,
        #[command(flatten)]
        removals: ProfileRemovals,
    },
    /// Delete a profile.
    #[command(alias = "remove")]
    Rm {
        #[arg(add = ArgValueCandidates::new(crate::completion::profile_names))]
        name: String,
    },
    /// Rename a profile.
    #[command(alias = "mv")]
    Rename {
        #[arg(add = ArgValueCandidates::new(crate::completion::profile_names))]
        old: String,
        new: String,
    },
    /// Store an SPA profile's keys in the OS keyring, read from stdin (never from the command line):
    /// the KEY_BASE64: and HMAC_KEY_BASE64: lines of `knock-cli spa keygen` or fwknop --key-gen.
    #[command(after_help = "Example: knock-cli spa keygen | tee keys.txt | knock-cli profile set-key fw")]
    SetKey {
        #[arg(add = ArgValueCandidates::new(crate::completion::profile_names))]
        name: String,
    },
    /// Create a rotating profile from the knock+rotating:// line that `knock-server rotating keygen`
    /// prints; its key goes to the OS keyring. The URI carries the key: give a file holding it, or `-` to
    /// read it from stdin (keeps it out of the shell history and the process list; a URI given here is
    /// still imported, with a warning).
    #[command(after_help = "Example: knock-cli profile import-uri - --name bastion < alice.uri")]
    ImportUri {
        /// A file holding the URI, `-` for stdin, or (with a warning) the URI itself.
        uri: String,
        /// The profile's name (default: the door's name).
        #[arg(long)]
        name: Option<String>,
        /// The TCP service port behind the door (e.g. 22) to probe after knocking, so `open` verifies and
        /// retries; default: the URI's `verify=` (keygen --verify-port), else no verify.
        #[arg(long, value_name = "PORT")]
        verify_port: Option<std::num::NonZeroU16>,
    },
    /// Create profiles from a knockd.conf (pairs openX/closeX doors into one profile), a fwknoprc (one SPA
    /// profile per stanza, keys to the OS keyring) or a profile file; the format is read from the content.
    Import {
        /// The knockd.conf, fwknoprc or profile TOML to read.
        file: PathBuf,
        /// The host to knock: needed for a knockd.conf (it describes only the server); replaces the
        /// host of a fwknoprc or profile file.
        #[arg(long)]
        host: Option<String>,
        /// Print what would be created and what each line maps to; write nothing.
        #[arg(long)]
        dry_run: bool,
        /// Print one JSON document: per door or stanza, what is created, mapped, warned or skipped.
        #[arg(long)]
        json: bool,
    },
}

/// Profile fields settable by `add` and `edit`.
#[derive(Debug, Args, Default)]
pub struct ProfileFields {
    /// DNS name or IP address to knock.
    #[arg(long)]
    pub host: Option<String>,
    /// Open sequence, e.g. 1300,8888:udp,9394.
    #[arg(long, value_name = "SEQUENCE")]
    pub open: Option<String>,
    /// Read the open sequence from this environment variable at knock time (for CI secrets; the
    /// sequence is then never stored, printed or logged).
    #[arg(long, value_name = "VAR", conflicts_with = "open")]
    pub open_env: Option<String>,
    /// Close sequence.
    #[arg(long, value_name = "SEQUENCE")]
    pub close: Option<String>,
    /// Read the close sequence from this environment variable at knock time.
    #[arg(long, value_name = "VAR", conflicts_with = "close")]
    pub close_env: Option<String>,
    /// Address family: any, ipv4, ipv6, or both (the host's IPv4 and IPv6 addresses each knocked and
    /// verified; `ssh` then uses a family that opened).
    #[arg(long)]
    pub family: Option<String>,
    /// Send method: auto, raw or connect.
    #[arg(long)]
    pub method: Option<String>,
    /// Milliseconds between hits.
    #[arg(long, value_name = "MS")]
    pub delay: Option<u64>,
    /// TCP flags, e.g. syn or fin,!ack.
    #[arg(long, value_name = "FLAGS")]
    pub tcp_flags: Option<String>,
    /// TCP port to check after knocking.
    #[arg(long, value_name = "PORT")]
    pub verify_port: Option<u16>,
    /// How long to wait for the verify port after each knock.
    #[arg(long, value_name = "MS")]
    pub verify_timeout: Option<u64>,
    /// Knocks in all when the port does not open.
    #[arg(long, value_name = "N")]
    pub attempts: Option<u32>,
    /// Pause before the second attempt (doubled after each).
    #[arg(long, value_name = "MS")]
    pub backoff: Option<u64>,
    /// Add a tag (repeatable).
    #[arg(long = "tag", value_name = "TAG")]
    pub tags: Vec<String>,
    /// Free notes.
    #[arg(long)]
    pub notes: Option<String>,
    /// Make this an SPA profile (fwknop Single Packet Authorization) instead of a knock sequence.
    #[arg(long, conflicts_with_all = ["open", "open_env", "close", "close_env"])]
    pub spa: bool,
    /// SPA: what to open, fwknop's ACCESS syntax (tcp/22 or tcp/22,udp/53).
    #[arg(long, value_name = "LIST")]
    pub access: Option<String>,
    /// SPA: the address to let in: an IPv4 address, `local` (this host's, the default), `source`, or
    /// `discover` (ask --discover-url; for clients behind NAT).
    #[arg(long, value_name = "IP")]
    pub allow_ip: Option<String>,
    /// SPA: let in whatever address the packet comes from (fwknop -s; needs REQUIRE_SOURCE_ADDRESS N).
    #[arg(long, conflicts_with = "allow_ip")]
    pub allow_source: bool,
    /// SPA with --allow-ip discover: an HTTPS endpoint answering with this host's public IPv4 address.
    #[arg(long, value_name = "URL")]
    pub discover_url: Option<String>,
    /// SPA: fwknopd's UDP port (default 62201).
    #[arg(long, value_name = "PORT")]
    pub spa_port: Option<u16>,
    /// SPA: the username in the packet (default: your login name).
    #[arg(long, value_name = "USER")]
    pub spa_user: Option<String>,
    /// Make this a rotating profile: its sequence is derived from a door key and the time
    /// (docs/rotating-sequences.md); the key goes to the keyring with `profile set-key`.
    #[arg(long, conflicts_with_all = ["open", "open_env", "close", "close_env", "spa", "tcp_flags"])]
    pub rotating: bool,
    /// Rotating: the door's name on the server.
    #[arg(long, value_name = "DOOR")]
    pub door: Option<String>,
    /// Rotating: the window length in seconds (default 30).
    #[arg(long, value_name = "SECONDS")]
    pub step: Option<u64>,
    /// Rotating: hits per sequence (default 4).
    #[arg(long, value_name = "N")]
    pub length: Option<usize>,
    /// Rotating: the port range, LOW-HIGH (default 1024-65535).
    #[arg(long, value_name = "LOW-HIGH")]
    pub range: Option<String>,
    /// Rotating: the protocol of each position, e.g. tcp,udp,tcp,tcp (default all tcp).
    #[arg(long, value_name = "LIST")]
    pub protocols: Option<String>,
}

/// What `edit` can remove.
#[derive(Debug, Args, Default)]
pub struct ProfileRemovals {
    /// Remove the close sequence.
    #[arg(long, conflicts_with_all = ["close", "close_env"])]
    pub no_close: bool,
    /// Remove the verify block.
    #[arg(long, conflicts_with_all = ["verify_port", "verify_timeout", "attempts", "backoff"])]
    pub no_verify: bool,
    /// Remove a tag (repeatable).
    #[arg(long = "untag", value_name = "TAG")]
    pub untags: Vec<String>,
}

/// Profiles knocked at once by default: 100 hosts open with verify in one round (well under a second on
/// a LAN). File descriptors stay bounded: verify probes share a process-wide cap of 512 sockets, and each
/// host being knocked holds a few more (its knock), under the common 1024 open-file limit. Profiles of
/// one host are knocked at most [`DEFAULT_PER_HOST`] at once unless `--per-host` says otherwise.
pub const DEFAULT_PARALLEL: u32 = 100;
/// By default at most this many profiles of the same host are knocked at once: 50 doors of one server open
/// in one round (well under a second when the server keeps up), and a larger fleet on one host does not
/// flood it; `--per-host 1` knocks one door of a host at a time (a server that mixes concurrent sequences).
pub const DEFAULT_PER_HOST: u32 = 64;

/// `knock-cli rotating ...`.
#[derive(Debug, Subcommand)]
pub enum RotatingCommand {
    /// The current window's sequence of a rotating profile, as PORT:PROTO words on stdout (for knock(1) or
    /// hping3: `knock HOST $(knock-cli rotating now NAME --reveal)`), and the seconds left on stderr.
    Now {
        #[arg(add = ArgValueCandidates::new(crate::completion::profile_names))]
        name: String,
        /// Print the ports (they are a secret: without this flag they are masked).
        #[arg(long)]
        reveal: bool,
    },
}

#[derive(Debug, Args)]
pub struct OpenArgs {
    /// Profiles to knock.
    #[arg(value_name = "NAME", required_unless_present_any = ["group", "profile_file"], add = ArgValueCandidates::new(crate::completion::profile_names))]
    pub names: Vec<String>,
    /// Also knock the profile in FILE (TOML, as a saved profile; `-` reads stdin), which is never stored:
    /// for CI, where the job brings its profile.
    #[arg(long, value_name = "FILE")]
    pub profile_file: Option<std::path::PathBuf>,
    /// Knock every profile with this tag.
    #[arg(long, value_name = "TAG", add = ArgValueCandidates::new(crate::completion::profile_tags))]
    pub group: Option<String>,
    /// How many profiles to knock at once.
    #[arg(long, value_name = "N", default_value_t = DEFAULT_PARALLEL, value_parser = clap::value_parser!(u32).range(1..=256))]
    pub parallel: u32,
    /// How many profiles of the same host (its name or address) to knock at once, within --parallel; 1
    /// for a server that cannot follow concurrent sequences from one client.
    #[arg(long, value_name = "N", default_value_t = DEFAULT_PER_HOST, value_parser = clap::value_parser!(u32).range(1..=256))]
    pub per_host: u32,
    /// Knock even when the verify port already answers (by default an open door is not knocked again).
    #[arg(long)]
    pub force: bool,
    /// How long the verify port is probed before knocking (an answer means nothing is sent).
    #[arg(long, value_name = "MS", default_value_t = 300, value_parser = clap::value_parser!(u64).range(1..=10_000))]
    pub open_check_ms: u64,
    #[command(flatten)]
    pub output: OutputArgs,
}

#[derive(Debug, Args)]
pub struct OutputArgs {
    /// Print one JSON document describing the run on stdout.
    #[arg(long, conflicts_with = "quiet")]
    pub json: bool,
    /// Print nothing but errors.
    #[arg(short, long)]
    pub quiet: bool,
    /// Print each hit as it is sent.
    #[arg(short, long)]
    pub verbose: bool,
}

#[derive(Debug, Args)]
pub struct SshArgs {
    /// The profile to open.
    #[arg(add = ArgValueCandidates::new(crate::completion::profile_names))]
    pub name: String,
    /// Arguments for ssh, after `--`.
    #[arg(last = true, value_name = "SSH ARGS")]
    pub ssh_args: Vec<String>,
    /// Print nothing but errors before ssh starts; also KNOCK_QUIET=1.
    #[arg(short, long)]
    pub quiet: bool,
    /// Knock even when the port already answers.
    #[arg(long)]
    pub force: bool,
    /// How long the port is probed before knocking (an answer means nothing is sent).
    #[arg(long, value_name = "MS", default_value_t = 300, value_parser = clap::value_parser!(u64).range(1..=10_000))]
    pub open_check_ms: u64,
}

#[derive(Debug, Args)]
pub struct ProxyArgs {
    /// The profile to open.
    #[arg(add = ArgValueCandidates::new(crate::completion::profile_names))]
    pub name: String,
    /// Host to connect to (OpenSSH's %h).
    #[arg(requires = "port")]
    pub host: Option<String>,
    /// Port to connect to (OpenSSH's %p).
    pub port: Option<u16>,
    /// Print nothing but errors (like ssh -q); also KNOCK_QUIET=1.
    #[arg(short, long)]
    pub quiet: bool,
    /// Knock even when the port already answers.
    #[arg(long)]
    pub force: bool,
    /// How long the port is probed before knocking (an answer means nothing is sent).
    #[arg(long, value_name = "MS", default_value_t = 300, value_parser = clap::value_parser!(u64).range(1..=10_000))]
    pub open_check_ms: u64,
}

const KNOCK_AFTER_HELP: &str = "\
Examples:
  knock-cli knock bastion.example.org 7000 8000 9000:udp
  knock-cli knock -6 -d 100 bastion.example.org 7000,8000,9000
  knock-cli knock --method raw --tcp-flags fin,!ack 192.0.2.2 7000 8000

Exit codes: 0 every hit sent; 1 network or permission failure (including an unknown host);
2 invalid input; 130 interrupted; 143 cancelled by SIGTERM.";

#[derive(Debug, Args)]
pub struct KnockArgs {
    /// Host name or IP address to knock on (resolved once; every hit goes to that one address).
    pub host: String,

    /// Hits, PORT[:tcp|udp], as separate arguments or comma-separated (e.g. 7000 8000:udp,9000).
    #[arg(value_name = "PORT[:PROTO]", required = true, num_args = 1..)]
    pub hits: Vec<String>,

    /// Make UDP the default protocol for hits without a suffix.
    #[arg(short = 'u', long)]
    pub udp: bool,

    /// Wait this many milliseconds between hits (not after the last one).
    #[arg(short = 'd', long, value_name = "MS", default_value_t = 0)]
    pub delay: u64,

    /// Use IPv4 only.
    #[arg(short = '4', long = "ipv4", conflicts_with = "ipv6")]
    pub ipv4: bool,

    /// Use IPv6 only.
    #[arg(short = '6', long = "ipv6")]
    pub ipv6: bool,

    /// Print each hit as it is sent (`hitting tcp 192.0.2.2:7000`).
    #[arg(short = 'v', long)]
    pub verbose: bool,

    /// How TCP hits are sent: raw sockets where permitted (auto), always raw, or connect().
    #[arg(short = 'm', long, value_enum, default_value_t = MethodArg::Auto)]
    pub method: MethodArg,

    /// TCP flags of each TCP hit, e.g. `syn` (default), `fin,psh,urg`, `syn,!ack`. Anything but a plain
    /// SYN needs the raw method.
    #[arg(long, value_name = "FLAGS", default_value = "syn")]
    pub tcp_flags: String,

    /// Payload of each UDP hit, in hex (default: one zero byte, as knock(1) sends).
    #[arg(long, value_name = "HEX")]
    pub udp_payload: Option<String>,

    /// Local address to send from.
    #[arg(long, value_name = "ADDR")]
    pub bind: Option<IpAddr>,

    /// Fixed source port for every hit (default: a fresh ephemeral port per hit).
    #[arg(long, value_name = "PORT", value_parser = clap::value_parser!(u16).range(1..))]
    pub source_port: Option<u16>,

    /// Print one JSON document describing the knock and each hit on stdout.
    #[arg(long)]
    pub json: bool,

    /// Send raw SYNs without TCP options. By default a raw SYN carries the options of Linux's connect()
    /// SYN (MSS, SACK permitted, timestamps, window scale), so it does not look like a scanner's bare SYN.
    #[arg(long)]
    pub bare_syn: bool,

    /// Run as `knock` (the knock(1) drop-in): `-u` makes every hit UDP, an explicit `:tcp` included, as
    /// knock(1) does.
    #[arg(skip)]
    pub udp_for_every_hit: bool,
}

/// knock-cli run through a link named `knock`: knock(1)'s own command line, `knock [OPTIONS] HOST
/// PORT[:PROTO]...`, with `knock` as the name in usage, help, version and errors.
#[derive(Debug, Parser)]
#[command(
    name = "knock",
    version,
    about = "Port knocking: send a sequence of TCP/UDP hits to a host (knock-cli, run as knock(1)'s drop-in)",
    after_help = KNOCK_LINK_AFTER_HELP
)]
pub struct KnockLinkCli {
    /// Directory of saved profiles (unused by a knock; accepted as knock-cli accepts it).
    #[arg(long, value_name = "DIR", hide = true)]
    pub profiles_dir: Option<PathBuf>,

    #[command(flatten)]
    pub knock: KnockArgs,
}

const KNOCK_LINK_AFTER_HELP: &str = "\
Examples:
  knock bastion.example.org 7000 8000 9000:udp
  knock -u bastion.example.org 7000 8000      (-u: every hit UDP, as knock(1))

Exit codes: 0 every hit sent; 1 network or permission failure (including an unknown host), or no
arguments at all (as knock(1)); 2 invalid input; 130 interrupted; 143 cancelled by SIGTERM.
Profiles, open/verify, doctor and the rest: knock-cli --help.";

#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum MethodArg {
    Auto,
    Raw,
    Connect,
}

impl From<MethodArg> for client_core::Method {
    fn from(m: MethodArg) -> Self {
        match m {
            MethodArg::Auto => client_core::Method::Auto,
            MethodArg::Raw => client_core::Method::Raw,
            MethodArg::Connect => client_core::Method::Connect,
        }
    }
}

#[cfg(test)]
mod tests {
    use std::ffi::OsString;

    use clap::Parser;

    use super::{Cli, fast_knock};

    fn argv(line: &str) -> Vec<OsString> {
        line.split_whitespace().map(OsString::from).collect()
    }

    /// The knock fast path must parse exactly as the full grammar does, and leave to it every case it
    /// does not accept (so errors and help are the full parser's).
    #[test]
    fn the_knock_fast_path_parses_as_the_full_grammar() {
        // Lines the fast path reads itself.
        const KNOCKS: [&str; 13] = [
            "knock-cli knock 192.0.2.1 7000 8000 9000",
            "knock-cli knock -v -u -d 200 host.example 7000,8000:udp 9000:tcp",
            "knock-cli knock --json -4 --method connect --tcp-flags syn,ack 192.0.2.1 1",
            "knock-cli --profiles-dir /tmp/p knock 192.0.2.1 7000",
            "knock-cli knock 192.0.2.1 7000 --profiles-dir /tmp/p",
            "knock-cli knock --udp-payload cafe --bind 127.0.0.1 --source-port 4000 h 1",
            "knock-cli knock 192.0.2.1 7000 extra",
            "knock-cli knock -vud200 -6 -m raw h 1",
            "knock-cli knock -d=5 h 1",
            "knock-cli knock --delay=7 --method=raw --tcp-flags=fin,!ack h 1 2",
            "knock-cli knock -- h 1 2",
            "knock-cli knock h -- 1 -2",
            "knock-cli knock --bind ::1 --source-port=65535 --verbose --ipv6 --udp h 1",
        ];
        // Lines it leaves to clap: errors, help, and anything unusual.
        const NOT_KNOCKS: [&str; 18] = [
            "knock-cli knock 192.0.2.1",
            "knock-cli knock",
            "knock-cli knock --help",
            "knock-cli knock --version",
            "knock-cli knock --no-such-flag h 1",
            "knock-cli knock -d notanumber h 1",
            "knock-cli knock -4 -6 h 1",
            "knock-cli knock -u -u h 1",
            "knock-cli knock -d 1 -d 2 h 1",
            "knock-cli knock --method RAW h 1",
            "knock-cli knock --source-port 0 h 1",
            "knock-cli knock --source-port 65536 h 1",
            "knock-cli knock --bind 999.0.0.1 h 1",
            "knock-cli knock --tcp-flags -x h 1",
            "knock-cli knock --tcp-flags=-x h 1",
            "knock-cli knock --udp=yes h 1",
            "knock-cli knock h 1 -2",
            "knock-cli --profiles-dir a --profiles-dir b knock h 1",
        ];
        for line in KNOCKS {
            assert!(fast_knock(&argv(line)).is_some(), "{line}: the fast path should read it");
        }
        for line in NOT_KNOCKS {
            assert!(fast_knock(&argv(line)).is_none(), "{line}: the fast path should leave it to clap");
        }
        for line in KNOCKS {
            assert!(Cli::parse_arguments(argv(line)).is_ok(), "{line} should parse");
        }
        for line in KNOCKS.into_iter().chain(NOT_KNOCKS).chain(["knock-cli open bastion"]) {
            let fast = Cli::parse_arguments(argv(line));
            let full = Cli::try_parse_from(argv(line));
            match (fast, full) {
                (Ok(fast), Ok(full)) => assert_eq!(format!("{fast:?}"), format!("{full:?}"), "{line}"),
                (Err(fast), Err(full)) => {
                    assert_eq!(fast.kind(), full.kind(), "{line}");
                    assert_eq!(fast.to_string(), full.to_string(), "{line}");
                }
                (fast, full) => panic!("{line}: fast path {fast:?}, full grammar {full:?}"),
            }
        }
    }
}
