//! `knock-cli doctor NAME [--json]`: "did it open, and if not, why?". Runs client-core's checks
//! (`client_core::diagnose`) and prints them as text or as one JSON document:
//! `{"profile", "checks": [{"name", "status", "detail", "advice"}], "conclusion", "exit_code"}`. With
//! `family = "both"`, each per-address check also has `"family"` (`ipv4`/`ipv6`), and `"families"` lists
//! `{"family", "address", "conclusion"}` per address knocked (both absent otherwise).
//!
//! Exit codes: 0 the door opened (`opened`, `already_open`, `opened_late`); 3 it did not (also
//! `wrong_family`); 1 the knock could not be made (unresolvable, missing privilege, a send failure); 2
//! invalid input (also `no_address_in_family`, as `open` exits for it).

use client_core::ProfileStore;
use client_core::block_on_cancellable;
use client_core::{CheckStatus, Conclusion, Diagnosis, diagnose};
use serde::Serialize;

use crate::cli::DoctorArgs;
use crate::exit::ExitCode;
use crate::fail::Failure;
use crate::report_json::print_json;

pub fn run(store: &ProfileStore, args: &DoctorArgs) -> Result<ExitCode, Failure> {
    let stored = crate::open_cmd::load_profile(store, &args.name)?;
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
        // As `open` says for it: invalid input (the profile asks for a family the host does not have).
        Conclusion::NoAddressInFamily => ExitCode::InvalidInput,
        Conclusion::Unverified => ExitCode::Success,
        _ => ExitCode::NotOpened,
    }
}

fn print_text(diagnosis: &Diagnosis) {
    outln!("doctor {}:", diagnosis.profile);
    for check in &diagnosis.checks {
        let family = check.family.map_or(String::new(), |f| format!("[{f}] "));
        outln!("  {:<4}  {:<11}  {family}{}", check.status.as_str(), check.name, check.detail);
        if check.status != CheckStatus::Ok && !check.advice.is_empty() {
            outln!("  {:<4}  {:<11}  -> {}", "", "", check.advice);
        }
    }
    for family in &diagnosis.families {
        outln!("conclusion {} ({}): {}", family.family, family.address, family.conclusion.as_str());
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
    #[serde(skip_serializing_if = "Vec::is_empty")]
    families: Vec<FamilyDocument>,
}

#[derive(Serialize)]
struct FamilyDocument {
    family: &'static str,
    address: String,
    conclusion: &'static str,
}

#[derive(Serialize)]
struct CheckDocument<'a> {
    name: &'static str,
    status: &'static str,
    detail: &'a str,
    advice: &'a str,
    #[serde(skip_serializing_if = "Option::is_none")]
    family: Option<&'static str>,
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
                    family: c.family.map(|f| f.as_str()),
                })
                .collect(),
            conclusion: diagnosis.conclusion.as_str(),
            exit_code: code as u8,
            families: diagnosis
                .families
                .iter()
                .map(|f| FamilyDocument {
                    family: f.family.as_str(),
                    address: f.address.to_string(),
                    conclusion: f.conclusion.as_str(),
                })
                .collect(),
        }
    }
}
