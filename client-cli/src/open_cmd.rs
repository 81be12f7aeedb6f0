//! `knock-cli open|close NAME... [--group TAG]`: knock saved profiles concurrently (bounded), verify and
//! retry (open), then print a per-host summary or one JSON document.

use std::sync::Arc;

use client_core::ErrorKind;
use client_core::{Action, Profile};
use client_core::{Outcome, Plan, ProfileReport, run_plan};
use client_core::{ProfileStore, StoreError, StoredProfile};
use client_core::{SecretStore, keys_from_environment};
use serde::Serialize;
use tokio::sync::Semaphore;

use crate::cli::{OpenArgs, OutputArgs};
use crate::exit::ExitCode;
use crate::fail::Failure;
use crate::progress::Progress;
use crate::report_json::{ErrorDocument, KnockDocument, knock_document, millis, print_json};

pub fn run(store: &ProfileStore, args: &OpenArgs, action: Action) -> ExitCode {
    let selected = match select(store, args, action) {
        Ok(selected) => selected,
        Err(failure) => {
            if args.output.json {
                print_json(&RunDocument::rejected(action, &failure));
            }
            return failure.report();
        }
    };
    // Profiles that cannot be planned (a sequence from an unset variable, ...) are reported on their own;
    // the others are knocked all the same.
    let mut ready = Vec::new();
    let mut order = Vec::new();
    for entry in selected {
        match entry {
            Selected::Ready(ready_one) => {
                let (mut plan, profile) = *ready_one;
                if !args.force {
                    plan = plan.unless_open();
                    plan.already_open_check = Some(std::time::Duration::from_millis(args.open_check_ms));
                }
                ready.push((plan, profile));
                order.push(None);
            }
            Selected::Rejected(rejected) => order.push(Some(rejected)),
        }
    }
    let reports = match knock_all(ready, args.parallel as usize, args.per_host as usize, &args.output) {
        Ok(reports) => reports,
        Err(err) => {
            return Failure::failed(format!("cannot start the async runtime: {err}")).report();
        }
    };
    let mut reports = reports.into_iter();
    let entries: Vec<Entry> = order
        .into_iter()
        .filter_map(|slot| match slot {
            Some(rejected) => Some(Entry::Rejected(rejected)),
            None => reports.next().map(|knocked| Entry::Knocked(Box::new(knocked))),
        })
        .collect();
    let code = overall(entries.iter().map(Entry::exit_code));
    if args.output.json {
        print_json(&RunDocument::new(action, &entries, code));
    } else {
        for entry in &entries {
            match entry {
                Entry::Knocked(knocked) => print_summary(&knocked.0, args.output.quiet),
                Entry::Rejected(rejected) => errln!("knock-cli: {}: {}", rejected.name, rejected.message),
            }
        }
    }
    code
}

/// A profile of the run: ready to knock, or rejected before anything was sent to it.
enum Selected {
    Ready(Box<(Plan, Profile)>),
    Rejected(Rejected),
}

/// A profile that could not be planned: invalid input, for this profile only.
struct Rejected {
    name: String,
    host: String,
    message: String,
}

/// A profile's result: knocked (with its report), or rejected.
enum Entry {
    Knocked(Box<Knocked>),
    Rejected(Rejected),
}

impl Entry {
    fn exit_code(&self) -> ExitCode {
        match self {
            Entry::Knocked(knocked) => exit_code(&knocked.0.outcome),
            Entry::Rejected(_) => ExitCode::InvalidInput,
        }
    }
}

/// The profiles to knock, in the order given (group members by name), each checked to describe the
/// action. A name that is not a readable profile, or a group no profile has, rejects the whole run before
/// anything is sent; a profile that cannot describe the action (e.g. its sequence comes from an unset
/// variable) is rejected on its own, and the others are knocked.
fn select(store: &ProfileStore, args: &OpenArgs, action: Action) -> Result<Vec<Selected>, Failure> {
    let plan = |name: String, profile: Profile, stored: bool| match Plan::new(&name, &profile, action) {
        // A profile from --profile-file is in no store: nothing of it is remembered.
        Ok(plan) => Selected::Ready(Box::new((if stored { plan.remembering_in(store) } else { plan }, profile))),
        Err(err) => Selected::Rejected(Rejected { name, host: profile.host, message: err.to_string() }),
    };
    let mut selected = Vec::new();
    if let Some(path) = &args.profile_file {
        let (name, profile) = read_profile_file(path)?;
        selected.push(plan(name, profile, false));
    }
    let profiles = select_profiles(store, &args.names, args.group.as_deref())?;
    selected.extend(profiles.into_iter().map(|(name, profile)| plan(name, profile, true)));
    Ok(selected)
}

/// `--profile-file FILE` (`-`: stdin): the profile, named after the file (`stdin` for `-`).
fn read_profile_file(path: &std::path::Path) -> Result<(String, Profile), Failure> {
    use std::io::Read;
    let stdin = path.as_os_str() == "-";
    let bytes = if stdin {
        let mut bytes = Vec::new();
        std::io::stdin()
            .read_to_end(&mut bytes)
            .map_err(|e| Failure::invalid(format!("--profile-file -: cannot read stdin: {e}")))?;
        bytes
    } else {
        std::fs::read(path)
            .map_err(|e| Failure::invalid(format!("--profile-file {}: cannot read it: {e}", path.display())))?
    };
    let shown = if stdin { std::path::Path::new("<stdin>") } else { path };
    let profile = client_core::parse_profile(shown, &bytes).map_err(|e| {
        Failure::invalid(format!("--profile-file: {}:{}:{}: {}", e.path.display(), e.line, e.column, e.message))
    })?;
    let name = if stdin {
        "stdin".to_owned()
    } else {
        path.file_stem().map_or_else(|| "profile".to_owned(), |s| s.to_string_lossy().into_owned())
    };
    Ok((name, profile))
}

fn select_profiles(
    store: &ProfileStore,
    names: &[String],
    group: Option<&str>,
) -> Result<Vec<(String, Profile)>, Failure> {
    let mut selected = Vec::new();
    for name in names {
        let stored = load_profile(store, name)?;
        selected.push((stored.name, stored.profile));
    }
    if let Some(tag) = group {
        let mut tags_in_use: Vec<String> = Vec::new();
        for entry in store.list()? {
            match entry.profile {
                Ok(profile) if profile.has_tag(tag) => {
                    if !selected.iter().any(|(n, _)| *n == entry.name) {
                        let profile = migrated(store, &entry.name, profile);
                        selected.push((entry.name, profile));
                    }
                }
                Ok(profile) => tags_in_use.extend(profile.tags),
                // Its tags are unknown: say so rather than silently skipping a host of the group.
                Err(err) => errln!("knock-cli: warning: not knocked, unreadable: {err}"),
            }
        }
        if selected.is_empty() {
            tags_in_use.sort();
            tags_in_use.dedup();
            return Err(Failure::invalid(format!(
                "no profile in {} has the tag {tag:?} (tags in use: {})",
                store.dir().display(),
                if tags_in_use.is_empty() { "none".to_owned() } else { tags_in_use.join(", ") }
            )));
        }
    }
    Ok(selected)
}

/// Loads a profile to knock: one with keys (SPA, rotating) written before profiles had ids is migrated
/// first (client-core's `ProfileStore::load_for_keys`: its keys move under its new id; if that cannot be
/// done it keeps working with its keys where they are). Not when its keys come from the environment
/// (CI): the keyring is not read for them, so it is left alone.
pub fn load_profile(store: &ProfileStore, name: &str) -> Result<StoredProfile, StoreError> {
    let stored = store.load(name)?;
    if !needs_migration(name, &stored.profile) {
        return Ok(stored);
    }
    store.load_for_keys(name, &SecretStore::new())
}

fn migrated(store: &ProfileStore, name: &str, profile: Profile) -> Profile {
    if !needs_migration(name, &profile) {
        return profile;
    }
    store.load_for_keys(name, &SecretStore::new()).map_or(profile, |stored| stored.profile)
}

fn needs_migration(name: &str, profile: &Profile) -> bool {
    profile.id.is_none() && profile.sequence().is_none() && !keys_from_environment(name, profile)
}

type Knocked = (ProfileReport, Profile);

/// Above this many profiles a terminal shows one bar for the group instead of a line per host.
const GROUP_BAR_FROM: usize = 12;

fn knock_all(
    selected: Vec<(Plan, Profile)>,
    parallel: usize,
    per_host_limit: usize,
    output: &OutputArgs,
) -> std::io::Result<Vec<Knocked>> {
    let group_bar = group_bar(selected.len(), output);
    // With the group bar, per-host lines stay off (verbose hit lines still print).
    let progress = Progress::new(output.quiet || group_bar.is_some(), output.json, output.verbose);
    client_core::block_on_cancellable(|cancel| async move {
        let limit = Arc::new(Semaphore::new(parallel));
        let mut per_host: std::collections::HashMap<String, Arc<Semaphore>> = std::collections::HashMap::new();
        let mut tasks = Vec::new();
        for (plan, profile) in selected {
            let host_limit = Arc::clone(
                per_host
                    .entry(profile.host.to_ascii_lowercase())
                    .or_insert_with(|| Arc::new(Semaphore::new(per_host_limit))),
            );
            let mut host = progress.host(&plan.name);
            let (cancel, limit, bar) = (cancel.clone(), Arc::clone(&limit), group_bar.clone());
            tasks.push(tokio::spawn(async move {
                // The host's slot first, so a busy host does not hold fleet slots while it waits.
                let _host_permit = host_limit.acquire_owned().await;
                let _permit = limit.acquire_owned().await;
                let report = run_plan(&plan, &cancel, |event| host.event(event)).await;
                host.finish();
                if let Some(bar) = bar {
                    bar.inc(1);
                }
                (report, profile)
            }));
        }
        let mut reports = Vec::new();
        let bar = group_bar;
        for task in tasks {
            // A task only fails to join if it panicked: a bug, so let it surface.
            reports.push(task.await.unwrap_or_else(|join| std::panic::resume_unwind(join.into_panic())));
        }
        if let Some(bar) = bar {
            bar.finish_and_clear();
        }
        reports
    })
}

/// One `[12/100] knocked` bar for a large group on a terminal (never in JSON, quiet or piped output).
fn group_bar(count: usize, output: &OutputArgs) -> Option<indicatif::ProgressBar> {
    use std::io::IsTerminal;
    if count < GROUP_BAR_FROM || output.quiet || output.json || !std::io::stdout().is_terminal() {
        return None;
    }
    let bar = indicatif::ProgressBar::new(count as u64);
    let style = indicatif::ProgressStyle::with_template("{bar:30} {pos}/{len} hosts done ({elapsed})")
        .unwrap_or_else(|_| indicatif::ProgressStyle::default_bar());
    bar.set_style(style);
    bar.enable_steady_tick(std::time::Duration::from_millis(100));
    Some(bar)
}

fn exit_code(outcome: &Outcome) -> ExitCode {
    match outcome {
        Outcome::Opened | Outcome::Sent => ExitCode::Success,
        Outcome::NotOpened => ExitCode::NotOpened,
        Outcome::Failed(err) => ExitCode::for_error(err.kind()),
    }
}

/// The most severe code wins: interrupted, invalid input, failure, not opened, success.
fn overall(codes: impl Iterator<Item = ExitCode>) -> ExitCode {
    codes.fold(ExitCode::Success, ExitCode::max_severity)
}

/// One line per host, in the wording every front end shares ([`ProfileReport::summary`]): successes on
/// stdout (unless quiet), the rest on stderr.
fn print_summary(report: &ProfileReport, quiet: bool) {
    match &report.outcome {
        Outcome::Opened | Outcome::Sent if !quiet => outln!("{}: {}", report.name, report.summary()),
        Outcome::Opened | Outcome::Sent => {}
        Outcome::NotOpened | Outcome::Failed(_) => errln!("knock-cli: {}: {}", report.name, report.summary()),
    }
}

#[derive(Serialize)]
struct RunDocument<'a> {
    action: &'static str,
    profiles: Vec<ProfileDocument<'a>>,
    outcome: &'static str,
    #[serde(skip_serializing_if = "Option::is_none")]
    error: Option<ErrorDocument>,
    exit_code: u8,
}

#[derive(Serialize)]
struct ProfileDocument<'a> {
    name: &'a str,
    host: &'a str,
    address: Option<String>,
    tcp_method: Option<&'static str>,
    outcome: &'static str,
    error: Option<ErrorDocument>,
    exit_code: u8,
    elapsed_ms: f64,
    /// The probe before knocking (`answers` means nothing was sent), when one was made.
    #[serde(skip_serializing_if = "Option::is_none")]
    already_open_check: Option<CheckDocument>,
    /// With family "both": each family's address and whether it opened.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    families: Vec<FamilyDocument>,
    attempts: Vec<AttemptDocument<'a>>,
}

#[derive(Serialize)]
struct FamilyDocument {
    family: &'static str,
    address: String,
    opened: bool,
    /// This family's outcome, in the words of `profiles[].outcome` (a close says `closed`).
    outcome: &'static str,
    /// This family's attempts (its entries in `attempts`).
    attempts: usize,
}

#[derive(Serialize)]
struct CheckDocument {
    port: u16,
    state: &'static str,
    elapsed_ms: f64,
}

#[derive(Serialize)]
struct AttemptDocument<'a> {
    knock: KnockDocument<'a>,
    verify: Option<VerifyDocument>,
}

#[derive(Serialize)]
struct VerifyDocument {
    port: u16,
    open: bool,
    elapsed_ms: f64,
    probes: u32,
    error: Option<String>,
}

fn outcome_name(report: &ProfileReport, action: Action) -> &'static str {
    if report.was_already_open() {
        return "already_open";
    }
    match &report.outcome {
        Outcome::Opened => "opened",
        Outcome::Sent if action == Action::Close => "closed",
        Outcome::Sent => "sent",
        Outcome::NotOpened => "not_opened",
        Outcome::Failed(err) => match err.kind() {
            ErrorKind::InvalidInput => "invalid",
            ErrorKind::Cancelled => "cancelled",
            ErrorKind::Network | ErrorKind::Permission => "failed",
        },
    }
}

/// One family's outcome in JSON, in the words of [`outcome_name`].
fn family_outcome_name(family: &client_core::FamilyResult, action: Action) -> &'static str {
    use client_core::FamilyOutcome;
    match (family.outcome, action) {
        (FamilyOutcome::Opened, Action::Open) if family.attempts == 0 => "already_open",
        (FamilyOutcome::Opened, _) => "opened",
        (FamilyOutcome::Sent, Action::Close) => "closed",
        (FamilyOutcome::Sent, Action::Open) => "sent",
        (FamilyOutcome::NotOpened, _) => "not_opened",
        (FamilyOutcome::Failed, _) => "failed",
    }
}

impl<'a> ProfileDocument<'a> {
    /// A profile rejected before anything was sent to it: invalid input, with why.
    fn rejected(rejected: &'a Rejected) -> ProfileDocument<'a> {
        ProfileDocument {
            name: &rejected.name,
            host: &rejected.host,
            address: None,
            tcp_method: None,
            outcome: "invalid",
            error: Some(ErrorDocument::new(ErrorKind::InvalidInput, rejected.message.clone())),
            exit_code: ExitCode::InvalidInput as u8,
            elapsed_ms: 0.0,
            already_open_check: None,
            families: Vec::new(),
            attempts: Vec::new(),
        }
    }
}

impl<'a> RunDocument<'a> {
    fn new(action: Action, entries: &'a [Entry], code: ExitCode) -> RunDocument<'a> {
        let profiles: Vec<ProfileDocument> = entries
            .iter()
            .map(|entry| {
                let (report, profile) = match entry {
                    Entry::Knocked(knocked) => (&knocked.0, &knocked.1),
                    Entry::Rejected(rejected) => return ProfileDocument::rejected(rejected),
                };
                let last = report.last_knock();
                let error = match &report.outcome {
                    Outcome::Failed(err) => Some(ErrorDocument::new(err.kind(), err.to_string())),
                    _ => None,
                };
                ProfileDocument {
                    name: &report.name,
                    host: &profile.host,
                    address: report.address().map(|a| a.ip().to_string()),
                    tcp_method: last.and_then(|k| k.tcp_method).map(|m| m.as_str()),
                    outcome: outcome_name(report, action),
                    error,
                    exit_code: exit_code(&report.outcome) as u8,
                    elapsed_ms: millis(report.elapsed),
                    already_open_check: report.already_open.as_ref().map(|c| CheckDocument {
                        port: c.address.port(),
                        state: c.state.as_str(),
                        elapsed_ms: millis(c.elapsed),
                    }),
                    families: report
                        .families
                        .iter()
                        .map(|f| FamilyDocument {
                            family: if f.address.is_ipv4() { "ipv4" } else { "ipv6" },
                            address: f.address.to_string(),
                            opened: f.opened,
                            outcome: family_outcome_name(f, action),
                            attempts: f.attempts,
                        })
                        .collect(),
                    attempts: report
                        .attempts
                        .iter()
                        .map(|a| AttemptDocument {
                            knock: knock_document(&a.knock, None),
                            verify: a.verify.as_ref().map(|v| VerifyDocument {
                                port: v.address.port(),
                                open: v.open,
                                elapsed_ms: millis(v.elapsed),
                                probes: v.probes,
                                error: v.last_error.clone(),
                            }),
                        })
                        .collect(),
                }
            })
            .collect();
        let outcome = match code {
            ExitCode::Success => "ok",
            ExitCode::NotOpened => "not_opened",
            ExitCode::Failure => "failed",
            ExitCode::InvalidInput => "invalid",
            ExitCode::Interrupted | ExitCode::Terminated => "cancelled",
        };
        RunDocument { action: action.as_str(), profiles, outcome, error: None, exit_code: code as u8 }
    }

    fn rejected(action: Action, failure: &Failure) -> RunDocument<'static> {
        RunDocument {
            action: action.as_str(),
            profiles: Vec::new(),
            outcome: if failure.code == ExitCode::InvalidInput { "invalid" } else { "failed" },
            error: Some(ErrorDocument::new(
                if failure.code == ExitCode::InvalidInput { ErrorKind::InvalidInput } else { ErrorKind::Network },
                failure.message.clone(),
            )),
            exit_code: failure.code as u8,
        }
    }
}
