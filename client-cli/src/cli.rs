//! The command-line grammar (clap). Values that client-core parses more strictly than clap could (hits,
//! flags) stay strings here, so their errors can also be reported in `--json` output.

use std::net::IpAddr;

use clap::{Args, Parser, Subcommand, ValueEnum};

#[derive(Debug, Parser)]
#[command(
    name = "knock-cli",
    version,
    about = "Port knocking: send a sequence of TCP/UDP hits to a host"
)]
pub struct Cli {
    #[command(subcommand)]
    pub command: Command,
}

#[derive(Debug, Subcommand)]
pub enum Command {
    /// Send a knock sequence to a host (a drop-in for knock(1)).
    #[command(after_help = KNOCK_AFTER_HELP)]
    Knock(KnockArgs),
}

const KNOCK_AFTER_HELP: &str = "\
Examples:
  knock-cli knock bastion.example.org 7000 8000 9000:udp
  knock-cli knock -6 -d 100 bastion.example.org 7000,8000,9000
  knock-cli knock --method raw --tcp-flags fin,!ack 192.0.2.2 7000 8000

Exit codes: 0 every hit sent; 1 network or permission failure (including an unknown host);
2 invalid input; 130 interrupted.";

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
}

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
