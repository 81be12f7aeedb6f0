//! `knock-cli ssh NAME [-- ARGS]` and `knock-cli proxy NAME [HOST PORT]`: open a door, make sure the
//! service answers, then hand over to ssh, or relay stdin/stdout as an OpenSSH ProxyCommand.
//!
//! Both always verify: without a verify block in the profile they check the port they are about to use
//! (22 for `ssh`, PORT for `proxy`). Both use the address family that was knocked, because a door opened
//! over IPv4 stays shut for an ssh that picks the host's IPv6 address.

use std::net::{IpAddr, SocketAddr};
use std::num::NonZeroU16;
use std::process::Command;

use client_core::ProfileStore;
use client_core::block_on_cancellable;
use client_core::{Action, Verify};
use client_core::{AddressFamily, CancellationToken};
use client_core::{Outcome, Plan, ProfileReport, run_plan};

use crate::cli::{ProxyArgs, SshArgs};
use crate::exit::ExitCode;
use crate::fail::Failure;
use crate::progress::Progress;

const SSH_PORT: NonZeroU16 = NonZeroU16::new(22).expect("22 is not zero");

pub fn ssh(store: &ProfileStore, args: &SshArgs) -> Result<ExitCode, Failure> {
    let stored = crate::open_cmd::load_profile(store, &args.name)?;
    let plan =
        plan_with_verify(store, &args.name, &stored.profile, SSH_PORT, (!args.force).then_some(args.open_check_ms))?;
    let quiet = args.quiet || quiet_from_env()?;
    let report = block_on_cancellable(|cancel| open(&plan, quiet, !quiet, cancel)).map_err(runtime_failure)?;
    let address = opened_address(&report)?;
    let mut command = Command::new("ssh");
    command.arg(if address.is_ipv4() { "-4" } else { "-6" }).arg(&stored.profile.host).args(&args.ssh_args);
    exec(command)
}

pub fn proxy(store: &ProfileStore, args: &ProxyArgs) -> Result<ExitCode, Failure> {
    let stored = crate::open_cmd::load_profile(store, &args.name)?;
    let port = match args.port {
        Some(port) => NonZeroU16::new(port).ok_or_else(|| Failure::invalid("PORT must be 1..=65535"))?,
        None => stored.profile.verify.map_or(SSH_PORT, |v| v.port),
    };
    let plan = plan_with_verify(store, &args.name, &stored.profile, port, (!args.force).then_some(args.open_check_ms))?;
    let quiet = args.quiet || quiet_from_env()?;
    block_on_cancellable(|cancel| async move {
        // stdout carries the relayed bytes only: progress stays off, problems go to stderr (and, unless
        // quiet, the one line saying the door was already open).
        let report = open(&plan, true, !quiet, cancel.clone()).await;
        let knocked = opened_address(&report)?;
        let target = match args.host.as_deref() {
            // The host ssh asked for is the profile's: use the address that was knocked, not a fresh lookup.
            None => SocketAddr::new(knocked, port.get()),
            Some(host) if host.eq_ignore_ascii_case(&stored.profile.host) => SocketAddr::new(knocked, port.get()),
            Some(host) => {
                let family = if knocked.is_ipv4() { AddressFamily::V4 } else { AddressFamily::V6 };
                let mut address =
                    client_core::resolve(host, family).await.map_err(|e| Failure::failed(e.to_string()))?;
                address.set_port(port.get());
                address
            }
        };
        relay(target, &cancel).await
    })
    .map_err(runtime_failure)?
}

/// The profile's plan, verifying `default_port` when the profile has no verify block. With `open_check_ms`
/// (none with --force), a port that already answers within it is not knocked again (each knock of an
/// `iptables -I` door adds a rule).
fn plan_with_verify(
    store: &ProfileStore,
    name: &str,
    profile: &client_core::Profile,
    default_port: NonZeroU16,
    open_check_ms: Option<u64>,
) -> Result<Plan, Failure> {
    let mut plan =
        Plan::new(name, profile, Action::Open).map_err(|e| Failure::invalid(e.to_string()))?.remembering_in(store);
    plan.verify.get_or_insert_with(|| Verify::new(default_port));
    plan.already_open_check = open_check_ms.map(std::time::Duration::from_millis);
    Ok(plan)
}

/// `ssh -q` and `proxy -q` from the environment, for a ProxyCommand line shared by many hosts or a CI job.
const QUIET_ENV: &str = "KNOCK_QUIET";

/// `KNOCK_QUIET`: 1/true/yes is quiet, 0/false/no or unset or empty is not; anything else is invalid input.
fn quiet_from_env() -> Result<bool, Failure> {
    let Some(value) = std::env::var_os(QUIET_ENV) else { return Ok(false) };
    match value.to_string_lossy().trim().to_ascii_lowercase().as_str() {
        "1" | "true" | "yes" => Ok(true),
        "" | "0" | "false" | "no" => Ok(false),
        _ => Err(Failure::invalid(format!(
            "${QUIET_ENV}={:?} is not valid: use 1, true or yes (quiet) or 0, false, no (not quiet)",
            value.to_string_lossy()
        ))),
    }
}

fn runtime_failure(err: std::io::Error) -> Failure {
    Failure::failed(format!("cannot start the async runtime: {err}"))
}

/// `announce_already_open`: say on stderr that nothing was sent because the port already answered.
async fn open(plan: &Plan, quiet: bool, announce_already_open: bool, cancel: CancellationToken) -> ProfileReport {
    let progress = Progress::new(quiet, false, false);
    let mut host = progress.host(&plan.name);
    let report = run_plan(plan, &cancel, |e| host.event(e)).await;
    host.finish();
    if announce_already_open && report.was_already_open() {
        // One line on stderr (stdout is ssh's, or the relayed bytes): says why nothing was sent.
        errln!("knock-cli: {}: {}", report.name, report.summary());
    }
    report
}

/// The knocked address once the door is verified open; otherwise the failure with its exit code.
fn opened_address(report: &ProfileReport) -> Result<IpAddr, Failure> {
    // With family "both", any family that verified will do, even when the other did not open.
    if let Some(address) = report.opened_address() {
        return Ok(address);
    }
    let code = match &report.outcome {
        Outcome::Failed(err) => ExitCode::for_error(err.kind()),
        _ => ExitCode::NotOpened,
    };
    Err(Failure { code, message: format!("{}: {}", report.name, report.summary()) })
}

/// Relays stdin/stdout to `target` until either side closes, or until SIGINT/SIGTERM (`cancel`): a
/// cancelled job must not leave a proxy behind (the runtime does not wait for the blocked stdin read).
async fn relay(target: SocketAddr, cancel: &CancellationToken) -> Result<ExitCode, Failure> {
    let mut stream = tokio::select! {
        _ = cancel.cancelled() => return Ok(ExitCode::cancelled()),
        connected = tokio::net::TcpStream::connect(target) => {
            connected.map_err(|e| Failure::failed(format!("cannot connect to {target}: {e}")))?
        }
    };
    let mut stdio = tokio::io::join(tokio::io::stdin(), tokio::io::stdout());
    tokio::select! {
        _ = cancel.cancelled() => Ok(ExitCode::cancelled()),
        relayed = tokio::io::copy_bidirectional(&mut stdio, &mut stream) => match relayed {
            Ok(_) => Ok(ExitCode::Success),
            Err(e) => Err(Failure::failed(format!("relay to {target} failed: {e}"))),
        },
    }
}

/// Replaces this process with `command` (Unix), or runs it and passes its exit status on (elsewhere).
#[cfg(unix)]
fn exec(mut command: Command) -> Result<ExitCode, Failure> {
    use std::os::unix::process::CommandExt;
    let err = command.exec();
    Err(Failure::failed(format!("cannot run ssh: {err}")))
}

#[cfg(not(unix))]
fn exec(mut command: Command) -> Result<ExitCode, Failure> {
    let status = command.status().map_err(|e| Failure::failed(format!("cannot run ssh: {e}")))?;
    // ssh's own status cannot be expressed in our enum; exit with it directly, like exec would.
    std::process::exit(status.code().unwrap_or(1));
}
