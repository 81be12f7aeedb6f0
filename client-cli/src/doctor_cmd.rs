//! `knock-cli doctor NAME [--json]`: "did it open, and if not, why?". Runs client-core's checks
//! ([`client_core::doctor`]) and prints them as text or as one JSON document:
//! `{"profile", "checks": [{"name", "status", "detail", "advice"}], "conclusion", "exit_code"}`.
//!
//! Exit codes: 0 the door opened (`opened`, `already_open`, `opened_late`); 3 it did not; 1 the knock
//! could not be made (unresolvable, missing privilege, a send failure); 2 invalid input.

use client_core::doctor::{Conclusion, Diagnosis, Status, diagnose};
use client_core::runtime::block_on_cancellable;
use client_core::store::ProfileStore;
use serde::Serialize;

use crate::cli::DoctorArgs;
use crate::exit::ExitCode;
use crate::fail::Failure;
use crate::report_json::print_json;

pub fn run(store: &ProfileStore, args: &DoctorArgs) -> Result<ExitCode, Failure> {
    let stored = store.load(&args.name)?;
    let found = block_on_cancellable(|cancel| async move { diagnose(&stored.name, &stored.profile, &cancel).await })
        .map_err(|e| Failure::failed(format!("cannot start the async runtime: {e}")))?;
    let diagnosis = found.map_err(|e| Failure::invalid(e.to_string()))?;
    let code = exit_code(diagnosis.conclusion);
    if args.json {
        print_json(&DoctorDocument::new(&diagnosis, code));
    } else {
        print_text(&diagnosis);
    }
    Ok(code)
}

fn exit_code(conclusion: Conclusion) -> ExitCode {
    match conclusion {
        c if c.door_opened() => ExitCode::Success,
        Conclusion::Unresolvable | Conclusion::NeedsRawPrivilege | Conclusion::KnockFailed => ExitCode::Failure,
        Conclusion::Unverified => ExitCode::Success,
        _ => ExitCode::NotOpened,
    }
}

fn print_text(diagnosis: &Diagnosis) {
    outln!("doctor {}:", diagnosis.profile);
    for check in &diagnosis.checks {
        outln!("  {:<4}  {:<10}  {}", check.status.as_str(), check.name, check.detail);
        if check.status != Status::Ok && !check.advice.is_empty() {
            outln!("  {:<4}  {:<10}  -> {}", "", "", check.advice);
        }
    }
    match diagnosis.advice() {
        Some(advice) if !diagnosis.conclusion.door_opened() => {
            outln!("conclusion: {} ({advice})", diagnosis.conclusion.as_str());
        }
        _ => outln!("conclusion: {}", diagnosis.conclusion.as_str()),
    }
}

#[derive(Serialize)]
struct DoctorDocument<'a> {
    profile: &'a str,
    checks: Vec<CheckDocument<'a>>,
    conclusion: &'static str,
    exit_code: u8,
}

#[derive(Serialize)]
struct CheckDocument<'a> {
    name: &'static str,
    status: &'static str,
    detail: &'a str,
    advice: &'a str,
}

impl<'a> DoctorDocument<'a> {
    fn new(diagnosis: &'a Diagnosis, code: ExitCode) -> DoctorDocument<'a> {
        DoctorDocument {
            profile: &diagnosis.profile,
            checks: diagnosis
                .checks
                .iter()
                .map(|c| CheckDocument {
                    name: c.name,
                    status: c.status.as_str(),
                    detail: &c.detail,
                    advice: &c.advice,
                })
                .collect(),
            conclusion: diagnosis.conclusion.as_str(),
            exit_code: code as u8,
        }
    }
}
