//! `knock-cli knock`: one ad-hoc knock, printed like knock(1) (`-v`) or as one JSON document (`--json`).

use std::net::SocketAddr;
use std::time::Duration;

use client_core::{AddressFamily, Hit, KnockEvent, KnockReport, KnockRequest, Protocol, Sequence, TcpFlagSpec, knock};

use crate::cli::KnockArgs;
use crate::exit::ExitCode;
use crate::report_json;

pub fn run(args: &KnockArgs) -> ExitCode {
    let request = match build_request(args) {
        Ok(request) => request,
        Err(message) => {
            if args.json {
                report_json::print_invalid(&args.host, &message);
            }
            errln!("{}: {message}", crate::output::program());
            return ExitCode::InvalidInput;
        }
    };
    let report = match run_knock(&request, args.verbose, args.json) {
        Ok(report) => report,
        Err(err) => {
            errln!("{}: cannot start the async runtime: {err}", crate::output::program());
            return ExitCode::Failure;
        }
    };
    let code = report.error.as_ref().map_or(ExitCode::Success, |e| ExitCode::for_error(e.kind()));
    if args.json {
        report_json::print_report(&report, code);
    }
    if let Some(err) = &report.error {
        errln!("{}: {err}", crate::output::program());
    }
    code
}

/// Turns arguments into a request; the message names the argument that is wrong.
fn build_request(args: &KnockArgs) -> Result<KnockRequest, String> {
    let default_protocol = if args.udp { Protocol::Udp } else { Protocol::Tcp };
    let mut sequence = Sequence::parse_tokens(args.hits.iter().map(String::as_str), default_protocol)
        .map_err(|e| format!("PORT[:PROTO]: {e}"))?;
    if args.udp && args.udp_for_every_hit {
        // knock(1)'s -u: every hit is UDP, whatever its suffix (run as `knock`, we do as knock(1) does).
        let hits = sequence.hits().iter().map(|hit| Hit { protocol: Protocol::Udp, ..*hit }).collect();
        sequence = Sequence::new(hits).map_err(|e| format!("PORT[:PROTO]: {e}"))?;
    }
    let mut request = KnockRequest::new(args.host.clone(), sequence);
    request.family = match (args.ipv4, args.ipv6) {
        (true, _) => AddressFamily::V4,
        (_, true) => AddressFamily::V6,
        _ => AddressFamily::Any,
    };
    request.method = args.method.into();
    request.tcp_flags = TcpFlagSpec::parse(&args.tcp_flags).map_err(|e| format!("--tcp-flags: {e}"))?;
    request.delay = Duration::from_millis(args.delay);
    if let Some(hex) = &args.udp_payload {
        request.udp_payload = parse_hex(hex).map_err(|e| format!("--udp-payload: {e}"))?;
    }
    request.bind_address = args.bind;
    request.source_port = args.source_port;
    request.bare_syn = args.bare_syn;
    Ok(request)
}

fn run_knock(request: &KnockRequest, verbose: bool, json: bool) -> std::io::Result<KnockReport> {
    client_core::block_on_cancellable(|cancel| async move {
        let mut address = None;
        knock(request, &cancel, |event| {
            if let KnockEvent::Resolved { address: resolved, .. } = event {
                address = Some(*resolved);
            }
            if verbose {
                print_progress(event, address, json);
            }
        })
        .await
    })
}

/// knock(1)'s verbose line (`hitting tcp 192.0.2.2:7000`); on stderr when stdout carries JSON.
fn print_progress(event: &KnockEvent, address: Option<SocketAddr>, json: bool) {
    let ip = address.map(|a| a.ip());
    let line = match event {
        KnockEvent::Resolved { .. } => return,
        KnockEvent::HitSent { hit, .. } => format!("hitting {}", hit.target(ip)),
        KnockEvent::HitFailed { hit, error, .. } => format!("failed {}: {error}", hit.target(ip)),
    };
    if json {
        errln!("{line}");
    } else {
        outln!("{line}");
    }
}

/// Decodes an even-length hex string (`00ff`), optionally with a `0x` prefix.
fn parse_hex(text: &str) -> Result<Vec<u8>, String> {
    let digits = text.strip_prefix("0x").unwrap_or(text);
    if digits.is_empty() || !digits.len().is_multiple_of(2) {
        return Err(format!("{text:?} is not an even number of hex digits (e.g. 00 or cafe)"));
    }
    (0..digits.len())
        .step_by(2)
        .map(|i| {
            digits
                .get(i..i + 2)
                .and_then(|pair| u8::from_str_radix(pair, 16).ok())
                .ok_or_else(|| format!("{text:?} is not hex (valid digits: 0-9, a-f)"))
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::parse_hex;

    #[test]
    fn hex_payloads() {
        assert_eq!(parse_hex("00"), Ok(vec![0]));
        assert_eq!(parse_hex("0xCAfe"), Ok(vec![0xca, 0xfe]));
        assert!(parse_hex("").is_err());
        assert!(parse_hex("abc").is_err());
        assert!(parse_hex("zz").expect_err("zz").contains("not hex"));
        assert!(parse_hex("é0").is_err(), "multi-byte characters must not panic");
    }
}
