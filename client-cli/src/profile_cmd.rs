//! `knock-cli profile ...`: list, show, add, edit, rm, rename, import.
//!
//! `list` never prints sequences (they are the secret); `show` does, because it was asked for by name.

use std::num::{NonZeroU16, NonZeroU32};
use std::str::FromStr;

use client_core::import::profiles_from_knockd_conf;
use client_core::knockd_conf;
use client_core::profile::{
    AllowIp, Profile, SequenceSource, SpaAccess, SpaSettings, Verify, validate_env_name, validate_host, validate_tag,
};
use client_core::store::ProfileStore;
use client_core::{Protocol, Sequence};
use serde::Serialize;

use crate::cli::{ProfileCommand, ProfileFields, ProfileRemovals};
use crate::exit::ExitCode;
use crate::fail::Failure;
use crate::report_json::print_json;

pub fn run(store: &ProfileStore, command: &ProfileCommand) -> Result<ExitCode, Failure> {
    match command {
        ProfileCommand::List { json } => list(store, *json),
        ProfileCommand::Show { name, json } => show(store, name, *json),
        ProfileCommand::Add { name, fields } => add(store, name, fields),
        ProfileCommand::Edit { name, fields, removals } => edit(store, name, fields, removals),
        ProfileCommand::Rm { name } => {
            let was_spa = store.load(name)?.profile.spa.is_some();
            let path = store.remove(name)?;
            println!("removed {name} ({})", path.display());
            if was_spa {
                forget_keys(name);
            }
            Ok(ExitCode::Success)
        }
        ProfileCommand::Rename { old, new } => {
            let path = store.rename(old, new)?;
            println!("renamed {old} to {new} ({})", path.display());
            Ok(ExitCode::Success)
        }
        ProfileCommand::Import { file, host, dry_run } => import(store, file, host.as_deref(), *dry_run),
        ProfileCommand::SetKey { name } => set_key(store, name),
    }
}

#[derive(Serialize)]
struct ListEntry<'a> {
    name: &'a str,
    path: String,
    host: Option<&'a str>,
    family: Option<&'static str>,
    method: Option<&'static str>,
    hits: Option<usize>,
    has_close: Option<bool>,
    verify_port: Option<u16>,
    tags: &'a [String],
    error: Option<String>,
}

fn list(store: &ProfileStore, json: bool) -> Result<ExitCode, Failure> {
    let listed = store.list()?;
    let mut code = ExitCode::Success;
    let entries: Vec<ListEntry> = listed
        .iter()
        .map(|entry| {
            let ok = entry.profile.as_ref().ok();
            if let Err(err) = &entry.profile {
                eprintln!("knock-cli: {err}");
                code = ExitCode::InvalidInput;
            }
            ListEntry {
                name: &entry.name,
                path: entry.path.display().to_string(),
                host: ok.map(|p| p.host.as_str()),
                family: ok.map(|p| p.family.as_str()),
                method: ok.map(|p| p.method.as_str()),
                hits: ok.and_then(|p| p.open.as_ref().and_then(SequenceSource::inline).map(Sequence::len)),
                has_close: ok.map(|p| p.close.is_some()),
                verify_port: ok.and_then(|p| p.verify.map(|v| v.port.get())),
                tags: ok.map_or(&[], |p| p.tags.as_slice()),
                error: entry.profile.as_ref().err().map(ToString::to_string),
            }
        })
        .collect();
    if json {
        print_json(&entries);
    } else if entries.is_empty() {
        eprintln!(
            "no profiles in {} (add one with `knock-cli profile add NAME --host H --open SEQ`)",
            store.dir().display()
        );
    } else {
        let width = entries.iter().map(|e| e.name.len()).max().unwrap_or(4).max(4);
        println!("{:<width$}  {:<28}  {:<6}  {:<6}  TAGS", "NAME", "HOST", "HITS", "VERIFY");
        for e in entries.iter().filter(|e| e.error.is_none()) {
            println!(
                "{:<width$}  {:<28}  {:<6}  {:<6}  {}",
                e.name,
                e.host.unwrap_or(""),
                e.hits.map_or(String::new(), |h| h.to_string()),
                e.verify_port.map_or("-".to_owned(), |p| p.to_string()),
                e.tags.join(",")
            );
        }
    }
    Ok(code)
}

fn show(store: &ProfileStore, name: &str, json: bool) -> Result<ExitCode, Failure> {
    let stored = store.load(name)?;
    if json {
        #[derive(Serialize)]
        struct Shown<'a> {
            name: &'a str,
            path: String,
            #[serde(flatten)]
            profile: &'a Profile,
        }
        print_json(&Shown { name, path: stored.path.display().to_string(), profile: &stored.profile });
    } else {
        let text = toml::to_string(&stored.profile).map_err(|e| Failure::failed(e.to_string()))?;
        println!("# {}\n{text}", stored.path.display());
    }
    Ok(ExitCode::Success)
}

fn add(store: &ProfileStore, name: &str, fields: &ProfileFields) -> Result<ExitCode, Failure> {
    let host = fields.host.as_deref().ok_or_else(|| Failure::invalid("profile add needs --host HOST"))?;
    if fields.spa {
        let access = fields
            .access
            .as_deref()
            .ok_or_else(|| Failure::invalid("profile add --spa needs --access (e.g. tcp/22)"))?;
        let access = parse_option::<SpaAccess>("--access", access)?;
        let mut profile = Profile::new_spa(host, SpaSettings::new(access));
        apply(&mut profile, fields, &ProfileRemovals::default())?;
        let stored = store.create(name, &profile)?;
        println!(
            "added SPA profile {name} ({}); give its keys in the environment, see `knock-cli spa keygen`",
            stored.path.display()
        );
        return Ok(ExitCode::Success);
    }
    let open = match (&fields.open, &fields.open_env) {
        (Some(open), _) => SequenceSource::Inline(parse_sequence("--open", open)?),
        (None, Some(var)) => env_source("--open-env", var)?,
        (None, None) => {
            return Err(Failure::invalid(
                "profile add needs --open SEQUENCE (e.g. 7000,8000:udp,9000) or --open-env VAR",
            ));
        }
    };
    let mut profile = Profile::new(host, Sequence::default());
    profile.open = Some(open);
    apply(&mut profile, fields, &ProfileRemovals::default())?;
    let stored = store.create(name, &profile)?;
    println!("added {name} ({})", stored.path.display());
    Ok(ExitCode::Success)
}

fn edit(
    store: &ProfileStore,
    name: &str,
    fields: &ProfileFields,
    removals: &ProfileRemovals,
) -> Result<ExitCode, Failure> {
    let stored = store.update(name, |profile| apply(profile, fields, removals))??;
    println!("updated {name} ({})", stored.path.display());
    Ok(ExitCode::Success)
}

/// Applies the given options to a profile; each error names its option.
fn apply(profile: &mut Profile, fields: &ProfileFields, removals: &ProfileRemovals) -> Result<(), Failure> {
    if let Some(host) = &fields.host {
        validate_host(host.trim()).map_err(|e| Failure::invalid(format!("--host: {e}")))?;
        profile.host = host.trim().to_owned();
    }
    if let Some(open) = &fields.open {
        profile.open = Some(SequenceSource::Inline(parse_sequence("--open", open)?));
    }
    if let Some(var) = &fields.open_env {
        profile.open = Some(env_source("--open-env", var)?);
    }
    if let Some(close) = &fields.close {
        profile.close = Some(SequenceSource::Inline(parse_sequence("--close", close)?));
    }
    if let Some(var) = &fields.close_env {
        profile.close = Some(env_source("--close-env", var)?);
    }
    if removals.no_close {
        profile.close = None;
    }
    if let Some(family) = &fields.family {
        profile.family = parse_option("--family", family)?;
    }
    if let Some(method) = &fields.method {
        profile.method = parse_option("--method", method)?;
    }
    if let Some(delay) = fields.delay {
        profile.delay_ms = delay;
    }
    if let Some(flags) = &fields.tcp_flags {
        profile.tcp_flags = parse_option("--tcp-flags", flags)?;
    }
    apply_spa(profile, fields)?;
    apply_verify(profile, fields, removals)?;
    for tag in &fields.tags {
        validate_tag(tag).map_err(|e| Failure::invalid(format!("--tag: {e}")))?;
        if !profile.has_tag(tag) {
            profile.tags.push(tag.clone());
        }
    }
    profile.tags.retain(|t| !removals.untags.iter().any(|u| u.eq_ignore_ascii_case(t)));
    if let Some(notes) = &fields.notes {
        profile.notes = notes.clone();
    }
    Ok(())
}

fn apply_spa(profile: &mut Profile, fields: &ProfileFields) -> Result<(), Failure> {
    let given = fields.access.is_some()
        || fields.allow_ip.is_some()
        || fields.allow_source
        || fields.spa_port.is_some()
        || fields.spa_user.is_some()
        || fields.discover_url.is_some();
    let Some(spa) = profile.spa.as_mut() else {
        return if given {
            Err(Failure::invalid(
                "--access, --allow-ip, --allow-source, --spa-port and --spa-user are for SPA profiles (add one with --spa)",
            ))
        } else {
            Ok(())
        };
    };
    if let Some(access) = &fields.access {
        spa.access = parse_option("--access", access)?;
    }
    if let Some(allow) = &fields.allow_ip {
        spa.allow_ip = parse_option("--allow-ip", allow)?;
    }
    if fields.allow_source {
        spa.allow_ip = AllowIp::Source;
    }
    if let Some(url) = &fields.discover_url {
        spa.discover_url = Some(url.clone());
    }
    if let Some(port) = fields.spa_port {
        spa.port = std::num::NonZeroU16::new(port).ok_or_else(|| Failure::invalid("--spa-port: must be 1..=65535"))?;
    }
    if let Some(user) = &fields.spa_user {
        client_core::spa::validate_username(user).map_err(|e| Failure::invalid(format!("--spa-user: {e}")))?;
        spa.user = Some(user.clone());
    }
    Ok(())
}

fn apply_verify(profile: &mut Profile, fields: &ProfileFields, removals: &ProfileRemovals) -> Result<(), Failure> {
    if removals.no_verify {
        profile.verify = None;
        return Ok(());
    }
    let mut verify = match (profile.verify, fields.verify_port) {
        (_, Some(port)) => {
            let port = NonZeroU16::new(port).ok_or_else(|| Failure::invalid("--verify-port: must be 1..=65535"))?;
            let mut v = profile.verify.unwrap_or_else(|| Verify::new(port));
            v.port = port;
            v
        }
        (Some(existing), None) => existing,
        (None, None) => {
            if fields.verify_timeout.is_some() || fields.attempts.is_some() || fields.backoff.is_some() {
                return Err(Failure::invalid(
                    "--verify-timeout, --attempts and --backoff need --verify-port (the profile has no verify block)",
                ));
            }
            return Ok(());
        }
    };
    if let Some(ms) = fields.verify_timeout {
        verify.timeout_ms = ms;
    }
    if let Some(n) = fields.attempts {
        verify.attempts = NonZeroU32::new(n).ok_or_else(|| Failure::invalid("--attempts: must be at least 1"))?;
    }
    if let Some(ms) = fields.backoff {
        verify.backoff_ms = ms;
    }
    profile.verify = Some(verify);
    Ok(())
}

fn env_source(option: &str, var: &str) -> Result<SequenceSource, Failure> {
    validate_env_name(var).map_err(|e| Failure::invalid(format!("{option}: {e}")))?;
    Ok(SequenceSource::Env(var.to_owned()))
}

/// Removes a deleted SPA profile's keys from the keyring (best effort: say so if it fails).
fn forget_keys(name: &str) {
    #[cfg(any(target_os = "linux", target_os = "macos", target_os = "windows"))]
    if let Err(err) = client_core::secrets::SecretStore::new().delete_all(name) {
        eprintln!("knock-cli: warning: {name}'s keys may remain in the OS keyring: {err}");
    }
    #[cfg(not(any(target_os = "linux", target_os = "macos", target_os = "windows")))]
    let _ = name;
}

/// Reads fwknop-style key lines from stdin and stores them in the OS keyring under the profile.
/// The key that ends terminal input: Ctrl-D on Unix; on a Windows console, Ctrl-Z then Enter.
#[cfg(not(windows))]
const END_OF_INPUT: &str = "Ctrl-D";
#[cfg(windows)]
const END_OF_INPUT: &str = "Ctrl-Z, then Enter";

#[cfg(any(target_os = "linux", target_os = "macos", target_os = "windows"))]
fn set_key(store: &ProfileStore, name: &str) -> Result<ExitCode, Failure> {
    use std::io::{IsTerminal, Read};

    use client_core::secrets::{Secret, SecretKind, SecretStore};
    use client_core::spa::{HmacKey, SpaKey};

    let stored = store.load(name)?;
    if stored.profile.spa.is_none() {
        return Err(Failure::invalid(format!("{name} is not an SPA profile: only SPA profiles have keys")));
    }
    if std::io::stdin().is_terminal() {
        eprintln!("paste the KEY_BASE64: and HMAC_KEY_BASE64: lines, then press {END_OF_INPUT}");
    }
    let mut text = String::new();
    std::io::stdin().read_to_string(&mut text).map_err(|e| Failure::failed(format!("cannot read stdin: {e}")))?;
    let value = |prefix: &str| text.lines().find_map(|l| l.trim().strip_prefix(prefix)).map(str::trim);
    let (Some(key), Some(hmac)) = (value("KEY_BASE64:"), value("HMAC_KEY_BASE64:")) else {
        return Err(Failure::invalid(
            "stdin must hold a KEY_BASE64: line and an HMAC_KEY_BASE64: line (as `knock-cli spa keygen` prints)",
        ));
    };
    let spa_key = SpaKey::from_base64(key).map_err(|e| Failure::invalid(format!("KEY_BASE64: {e}")))?;
    let hmac_key = HmacKey::from_base64(hmac).map_err(|e| Failure::invalid(format!("HMAC_KEY_BASE64: {e}")))?;
    if spa_key.as_bytes() == hmac_key.as_bytes() {
        return Err(Failure::invalid("the HMAC key must differ from the encryption key (fwknopd refuses equal keys)"));
    }
    let secrets = SecretStore::new();
    for (kind, value) in [(SecretKind::SpaKey, spa_key.to_base64()), (SecretKind::SpaHmacKey, hmac_key.to_base64())] {
        secrets.set(name, kind, &Secret::new(value)).map_err(|e| Failure::failed(e.to_string()))?;
    }
    println!("stored the SPA keys of {name} in the OS keyring");
    Ok(ExitCode::Success)
}

#[cfg(not(any(target_os = "linux", target_os = "macos", target_os = "windows")))]
fn set_key(_store: &ProfileStore, _name: &str) -> Result<ExitCode, Failure> {
    Err(Failure::failed("no OS keyring on this platform: give SPA keys in KNOCK_SPA_KEY_BASE64_<NAME> variables"))
}

fn parse_sequence(option: &str, text: &str) -> Result<Sequence, Failure> {
    Sequence::parse(text, Protocol::Tcp).map_err(|e| Failure::invalid(format!("{option}: {e}")))
}

fn parse_option<T: FromStr>(option: &str, text: &str) -> Result<T, Failure>
where
    T::Err: std::fmt::Display,
{
    text.parse().map_err(|e| Failure::invalid(format!("{option}: {e}")))
}

fn import(
    store: &ProfileStore,
    file: &std::path::Path,
    host: Option<&str>,
    dry_run: bool,
) -> Result<ExitCode, Failure> {
    let text =
        std::fs::read_to_string(file).map_err(|e| Failure::invalid(format!("cannot read {}: {e}", file.display())))?;
    let is_fwknoprc = text.lines().any(|l| l.trim_start().to_ascii_uppercase().starts_with("SPA_SERVER"));
    if is_fwknoprc {
        return import_fwknoprc(store, file, &text, dry_run);
    }
    import_knockd_conf(store, file, host, dry_run)
}

/// fwknoprc stanzas become SPA profiles; their keys go to the OS keyring, never to the profile files.
fn import_fwknoprc(
    store: &ProfileStore,
    file: &std::path::Path,
    text: &str,
    dry_run: bool,
) -> Result<ExitCode, Failure> {
    let imported = client_core::fwknoprc::profiles_from_fwknoprc(text)
        .map_err(|e| Failure::invalid(format!("{}: {e}", file.display())))?;
    let mut code = ExitCode::Success;
    for entry in imported {
        for warning in &entry.warnings {
            eprintln!("knock-cli: {}: [{}]: {warning}", file.display(), entry.stanza);
        }
        if dry_run {
            println!("would add SPA profile {} from [{}]", entry.name, entry.stanza);
            continue;
        }
        if let Err(err) = store.create(&entry.name, &entry.profile) {
            eprintln!("knock-cli: {}: not imported: {err}", entry.name);
            code = ExitCode::InvalidInput;
            continue;
        }
        println!("added SPA profile {} from [{}]", entry.name, entry.stanza);
        if let (Some(key), Some(hmac)) = (&entry.key, &entry.hmac_key) {
            store_keys(&entry.name, key, hmac);
        }
    }
    Ok(code)
}

/// Puts imported keys into the keyring, or says how to give them otherwise.
fn store_keys(name: &str, key: &client_core::spa::SpaKey, hmac: &client_core::spa::HmacKey) {
    #[cfg(any(target_os = "linux", target_os = "macos", target_os = "windows"))]
    {
        use client_core::secrets::{Secret, SecretKind, SecretStore};
        let secrets = SecretStore::new();
        let stored = secrets
            .set(name, SecretKind::SpaKey, &Secret::new(key.to_base64()))
            .and_then(|()| secrets.set(name, SecretKind::SpaHmacKey, &Secret::new(hmac.to_base64())));
        match stored {
            Ok(()) => println!("  its keys are in the OS keyring"),
            Err(err) => {
                let [(key_var, hmac_var), _] = client_core::verify::spa_key_variables(name);
                eprintln!("knock-cli: {name}: keys not stored ({err}); give them in ${key_var} and ${hmac_var}");
            }
        }
    }
    #[cfg(not(any(target_os = "linux", target_os = "macos", target_os = "windows")))]
    {
        let _ = (key, hmac);
        let [(key_var, hmac_var), _] = client_core::verify::spa_key_variables(name);
        eprintln!("knock-cli: {name}: no OS keyring here; give the keys in ${key_var} and ${hmac_var}");
    }
}

fn import_knockd_conf(
    store: &ProfileStore,
    file: &std::path::Path,
    host: Option<&str>,
    dry_run: bool,
) -> Result<ExitCode, Failure> {
    let host = host.ok_or_else(|| {
        Failure::invalid("importing a knockd.conf needs --host HOST: it describes the server's doors, not where it is")
    })?;
    let conf = knockd_conf::parse_file(file).map_err(|e| Failure::invalid(e.to_string()))?;
    let imported =
        profiles_from_knockd_conf(&conf, host).map_err(|e| Failure::invalid(format!("{}: {e}", file.display())))?;
    let mut code = ExitCode::Success;
    for warning in &imported.skipped {
        eprintln!("knock-cli: {}: {warning}", file.display());
    }
    for entry in &imported.profiles {
        for warning in &entry.warnings {
            eprintln!("knock-cli: {}: {}: {warning}", file.display(), entry.name);
        }
        let doors = entry.doors.iter().map(|d| format!("[{d}]")).collect::<Vec<_>>().join(" + ");
        if dry_run {
            println!("would add {} from {doors}", entry.name);
            continue;
        }
        match store.create(&entry.name, &entry.profile) {
            Ok(stored) => println!("added {} from {doors} ({})", entry.name, stored.path.display()),
            Err(err) => {
                eprintln!("knock-cli: {}: not imported: {err}", entry.name);
                code = ExitCode::InvalidInput;
            }
        }
    }
    Ok(code)
}
