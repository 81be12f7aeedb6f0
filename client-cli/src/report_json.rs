//! The `--json` document: one object per run on stdout, documented in docs/json.md. Fields are only ever
//! added, never renamed or removed, so scripts can rely on them.

use std::time::{Duration, UNIX_EPOCH};

use client_core::{ErrorKind, HitOutcome, KnockReport};
use serde::Serialize;

use crate::exit::ExitCode;

#[derive(Debug, Serialize)]
pub struct KnockDocument<'a> {
    host: &'a str,
    family: &'static str,
    address: Option<String>,
    method: &'static str,
    tcp_method: Option<&'static str>,
    tcp_flags: String,
    delay_ms: u128,
    started_at_unix_ms: u128,
    elapsed_ms: f64,
    hits: Vec<HitDocument>,
    outcome: &'static str,
    error: Option<ErrorDocument>,
    #[serde(skip_serializing_if = "Option::is_none")]
    exit_code: Option<u8>,
}

#[derive(Debug, Serialize)]
struct HitDocument {
    index: usize,
    /// null when the sequence is a secret from the environment.
    port: Option<u16>,
    protocol: &'static str,
    status: &'static str,
    method: Option<&'static str>,
    at_ms: Option<f64>,
    error: Option<String>,
}

#[derive(Debug, Serialize)]
pub struct ErrorDocument {
    kind: &'static str,
    message: String,
}

impl ErrorDocument {
    pub fn new(kind: ErrorKind, message: impl Into<String>) -> ErrorDocument {
        ErrorDocument { kind: kind_name(kind), message: message.into() }
    }
}

pub fn millis(d: Duration) -> f64 {
    d.as_secs_f64() * 1000.0
}

fn kind_name(kind: ErrorKind) -> &'static str {
    match kind {
        ErrorKind::InvalidInput => "invalid_input",
        ErrorKind::Network => "network",
        ErrorKind::Permission => "permission",
        ErrorKind::Cancelled => "cancelled",
    }
}

pub fn print_report(report: &KnockReport, exit: ExitCode) {
    print_json(&knock_document(report, Some(exit)));
}

/// The document of one knock; `exit` is set for a top-level document only.
pub fn knock_document(report: &KnockReport, exit: Option<ExitCode>) -> KnockDocument<'_> {
    let request = &report.request;
    KnockDocument {
        host: &request.host,
        family: request.family.as_str(),
        address: report.address.map(|a| a.ip().to_string()),
        method: request.method.as_str(),
        tcp_method: report.tcp_method.map(|m| m.as_str()),
        tcp_flags: request.tcp_flags.to_string(),
        delay_ms: request.delay.as_millis(),
        started_at_unix_ms: report.started_at.duration_since(UNIX_EPOCH).map_or(0, |d| d.as_millis()),
        elapsed_ms: millis(report.elapsed),
        hits: report
            .hits
            .iter()
            .map(|record| {
                let (status, method, at_ms, error) = match &record.outcome {
                    HitOutcome::Sent { method, at } => ("sent", Some(method.as_str()), Some(millis(*at)), None),
                    HitOutcome::Failed { error } => ("failed", None, None, Some(error.clone())),
                    HitOutcome::NotSent => ("not_sent", None, None, None),
                };
                HitDocument {
                    index: record.index,
                    port: record.hit.port(),
                    protocol: record.hit.protocol().as_str(),
                    status,
                    method,
                    at_ms,
                    error,
                }
            })
            .collect(),
        outcome: match report.error.as_ref().map(|e| e.kind()) {
            None => "sent",
            Some(ErrorKind::InvalidInput) => "invalid",
            Some(ErrorKind::Cancelled) => "cancelled",
            Some(ErrorKind::Network | ErrorKind::Permission) => "failed",
        },
        error: report.error.as_ref().map(|e| ErrorDocument::new(e.kind(), e.to_string())),
        exit_code: exit.map(|e| e as u8),
    }
}

/// The document for arguments rejected before a knock could start.
pub fn print_invalid(host: &str, message: &str) {
    #[derive(Serialize)]
    struct Invalid<'a> {
        host: &'a str,
        hits: [(); 0],
        outcome: &'static str,
        error: ErrorDocument,
        exit_code: u8,
    }
    print_json(&Invalid {
        host,
        hits: [],
        outcome: "invalid",
        error: ErrorDocument::new(ErrorKind::InvalidInput, message),
        exit_code: ExitCode::InvalidInput as u8,
    });
}

pub fn print_json(document: &impl Serialize) {
    match serde_json::to_string_pretty(document) {
        Ok(text) => outln!("{text}"),
        Err(err) => errln!("knock-cli: cannot encode the JSON report: {err}"),
    }
}
