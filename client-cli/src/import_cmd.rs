//! `knock-cli profile import FILE [--host H] [--dry-run] [--json]`: a knockd.conf, fwknoprc or profile
//! file into profiles (client_core::import_path does the work; this module prints it). An encrypted
//! backup (the desktop app's Export with keys, detected by its content) needs its passphrase: from
//! `$KNOCK_BACKUP_PASSPHRASE`, else asked on the terminal without echo; never from the command line.
//!
//! Exit codes: 0 when at least one profile was created (or would be, with --dry-run), even if other doors
//! or stanzas were skipped; 2 when nothing could be imported, the file or --host is invalid, or the
//! format cannot be told. Keys are never printed; sequences neither (only their hit counts).

use std::path::Path;

use client_core::ProfileStore;
use client_core::SecretStore;
use client_core::{
    BACKUP_PASSPHRASE_VAR, ImportEntry, ImportError, ImportNote, ImportReport, ImportWritten, Secret, import_backup,
    import_path, write_import,
};
use serde::Serialize;

use crate::exit::ExitCode;
use crate::fail::Failure;
use crate::report_json::print_json;

pub fn run(
    store: &ProfileStore,
    file: &Path,
    host: Option<&str>,
    dry_run: bool,
    json: bool,
) -> Result<ExitCode, Failure> {
    let report = match import_path(file, host) {
        Err(ImportError::PassphraseNeeded { file: name }) => {
            if host.is_some() {
                return Err(Failure::invalid(format!(
                    "{name}: --host does not apply to a backup: its profiles keep their hosts (change one with \
                     `knock-cli profile edit` afterwards)"
                )));
            }
            import_backup(file, &backup_passphrase(&name)?)
        }
        other => other,
    };
    let report = match report {
        Ok(report) => report,
        Err(err) if json => {
            print_json(&InvalidDocument::new(file, &err));
            return Ok(ExitCode::InvalidInput);
        }
        Err(err) => return Err(Failure::invalid(err.to_string())),
    };
    let written = if dry_run { Vec::new() } else { write_import(&report, store, &SecretStore::new()) };
    let created =
        if dry_run { report.importable().count() } else { written.iter().filter(|w| w.profile.is_ok()).count() };
    let code = if created == 0 { ExitCode::InvalidInput } else { ExitCode::Success };
    if json {
        print_json(&Document::new(&report, &written, dry_run, created, code));
    } else {
        print_text(&report, &written, dry_run, created);
    }
    Ok(code)
}

/// A backup's passphrase: `$KNOCK_BACKUP_PASSPHRASE`, else asked on the terminal (no echo).
fn backup_passphrase(file: &str) -> Result<Secret, Failure> {
    use std::io::IsTerminal;

    if let Ok(value) = std::env::var(BACKUP_PASSPHRASE_VAR) {
        return Ok(Secret::new(value));
    }
    if !std::io::stdin().is_terminal() {
        return Err(Failure::invalid(format!(
            "{file} is an encrypted backup: give its passphrase at the prompt (run it in a terminal) or in \
             ${BACKUP_PASSPHRASE_VAR}"
        )));
    }
    rpassword::prompt_password(format!("passphrase of {file}: "))
        .map(Secret::new)
        .map_err(|e| Failure::failed(format!("cannot read the passphrase: {e}")))
}

fn print_text(report: &ImportReport, written: &[ImportWritten], dry_run: bool, created: usize) {
    let file = &report.file;
    errln!("knock-cli: {file}: read as a {} ({})", report.format, report.format_reason);
    for note in &report.notes {
        errln!("knock-cli: {file}: {note}");
    }
    for entry in &report.entries {
        for warning in &entry.warnings {
            errln!("knock-cli: {file}: {}: warning: {warning}", entry.source);
        }
        if let Some(reason) = &entry.skipped {
            errln!("knock-cli: {file}: {} skipped: {reason}", entry.source);
            continue;
        }
        let (Some(name), Some(kind)) = (&entry.name, entry.kind) else { continue };
        let what = if kind == "spa" { "SPA profile " } else { "" };
        if dry_run {
            let keys = if entry.has_keys { " (its keys to the OS keyring)" } else { "" };
            outln!("would add {what}{name} from {}{keys}", entry.source);
            for m in &entry.mapped {
                let line = m.line.map(|l| format!("line {l}: ")).unwrap_or_default();
                outln!("  {line}{} -> {}", m.from, m.to);
            }
            continue;
        }
        let Some(done) = written.iter().find(|w| &w.name == name) else { continue };
        match &done.profile {
            Ok(path) => outln!("added {what}{name} from {} ({})", entry.source, path.display()),
            Err(err) => errln!("knock-cli: {name}: not imported: {err}"),
        }
        match &done.keys {
            Some(Ok(())) => outln!("  its keys are in the OS keyring"),
            Some(Err(err)) => errln!("knock-cli: {name}: {err}"),
            None => {}
        }
    }
    if created == 0 {
        errln!("knock-cli: {file}: nothing imported");
    }
}

/// One entry of the JSON document: the report's entry plus what happened to it.
#[derive(Serialize)]
struct EntryDocument<'a> {
    #[serde(flatten)]
    entry: &'a ImportEntry,
    /// `would_create`, `created`, `failed` or `skipped`.
    status: &'static str,
    path: Option<String>,
    /// `keyring`, `not_stored` or `none`.
    keys: &'static str,
    error: Option<String>,
}

#[derive(Serialize)]
struct Document<'a> {
    file: &'a str,
    format: client_core::ImportFormat,
    format_reason: &'a str,
    dry_run: bool,
    entries: Vec<EntryDocument<'a>>,
    notes: &'a [ImportNote],
    created: usize,
    skipped: usize,
    /// `imported` or `nothing_imported`.
    outcome: &'static str,
    exit_code: u8,
}

impl<'a> Document<'a> {
    fn new(
        report: &'a ImportReport,
        written: &'a [ImportWritten],
        dry_run: bool,
        created: usize,
        code: ExitCode,
    ) -> Self {
        let entries = report
            .entries
            .iter()
            .map(|entry| {
                let done = entry.name.as_ref().and_then(|name| written.iter().find(|w| &w.name == name));
                let (status, path, mut error) = match (&entry.skipped, done) {
                    (Some(_), _) => ("skipped", None, None),
                    (None, None) => ("would_create", None, None),
                    (None, Some(w)) => match &w.profile {
                        Ok(path) => ("created", Some(path.display().to_string()), None),
                        Err(err) => ("failed", None, Some(err.to_string())),
                    },
                };
                let keys = match done.and_then(|w| w.keys.as_ref()) {
                    Some(Ok(())) => "keyring",
                    Some(Err(err)) => {
                        error.get_or_insert_with(|| err.to_string());
                        "not_stored"
                    }
                    None if entry.has_keys && dry_run => "keyring",
                    None => "none",
                };
                EntryDocument { entry, status, path, keys, error }
            })
            .collect();
        Document {
            file: &report.file,
            format: report.format,
            format_reason: &report.format_reason,
            dry_run,
            entries,
            notes: &report.notes,
            created,
            skipped: report.entries.iter().filter(|e| e.skipped.is_some()).count(),
            outcome: if created == 0 { "nothing_imported" } else { "imported" },
            exit_code: code as u8,
        }
    }
}

#[derive(Serialize)]
struct InvalidDocument {
    file: String,
    entries: [(); 0],
    created: usize,
    outcome: &'static str,
    error: ErrorDocument,
    exit_code: u8,
}

#[derive(Serialize)]
struct ErrorDocument {
    kind: &'static str,
    message: String,
}

impl InvalidDocument {
    fn new(file: &Path, err: &ImportError) -> InvalidDocument {
        InvalidDocument {
            file: file.display().to_string(),
            entries: [],
            created: 0,
            outcome: "invalid",
            error: ErrorDocument { kind: "invalid_input", message: err.to_string() },
            exit_code: ExitCode::InvalidInput as u8,
        }
    }
}
