//! `knock-cli profile ...`: list, show, add, edit, rm, rename (import is in import_cmd.rs).
//!
//! `list` never prints sequences (they are the secret); `show` does, because it was asked for by name.

use std::num::{NonZeroU16, NonZeroU32};
use std::str::FromStr;

use client_core::ProfileStore;
use client_core::rotating::{DoorKey, Rotation};
use client_core::{
    AllowIp, Profile, ProfileKind, RotatingKnock, SequenceKnock, SequenceSource, SpaSettings, Verify, parse_port_range,
    parse_protocols, validate_env_name, validate_host, validate_tag,
};
use client_core::{KeyOwner, SecretStore, rotating_key_variables, spa_key_variables};
use client_core::{Method, Protocol, Sequence};
use serde::Serialize;

use crate::cli::{ProfileCommand, ProfileFields, ProfileRemovals};
use crate::exit::ExitCode;
use crate::fail::Failure;
use crate::report_json::print_json;

pub fn run(store: &ProfileStore, command: &ProfileCommand) -> Result<ExitCode, Failure> {
    match command {
        ProfileCommand::List { json } => list(store, *json),
        ProfileCommand::Show { name, json } => show(store, name, *json),
        ProfileCommand::Add { name, replace, fields } => add(store, name, fields, *replace),
        ProfileCommand::Edit { name, fields, removals } => edit(store, name, fields, removals),
        ProfileCommand::Rm { name } => {
            // Its keyring secrets go with it: a later profile of this name must never inherit them.
            let (path, forgotten) = store.remove(name, &SecretStore::new())?;
            outln!("removed {name} ({})", path.display());
            if let Some(err) = forgotten {
                errln!("knock-cli: warning: {name}'s keys may remain in the OS keyring: {err}");
            }
            Ok(ExitCode::Success)
        }
        ProfileCommand::Rename { old, new } => {
            // Its keyring secrets move with it.
            let path = store.rename(old, new, &SecretStore::new())?;
            outln!("renamed {old} to {new} ({})", path.display());
            Ok(ExitCode::Success)
        }
        ProfileCommand::Import { file, host, dry_run, json } => {
            crate::import_cmd::run(store, file, host.as_deref(), *dry_run, *json)
        }
        ProfileCommand::SetKey { name } => set_key(store, name),
        ProfileCommand::ImportUri { uri, name, verify_port } => import_uri(store, uri, name.as_deref(), *verify_port),
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
                errln!("knock-cli: {err}");
                code = ExitCode::InvalidInput;
            }
            ListEntry {
                name: &entry.name,
                path: entry.path.display().to_string(),
                host: ok.map(|p| p.host.as_str()),
                family: ok.map(|p| p.family.as_str()),
                method: ok.and_then(|p| p.sequence()).map(|k| k.method.as_str()),
                hits: ok.and_then(|p| p.sequence()).and_then(|k| k.open.inline()).map(Sequence::len),
                has_close: ok.map(|p| p.sequence().is_some_and(|k| k.close.is_some())),
                verify_port: ok.and_then(|p| p.verify.map(|v| v.port.get())),
                tags: ok.map_or(&[], |p| p.tags.as_slice()),
                error: entry.profile.as_ref().err().map(ToString::to_string),
            }
        })
        .collect();
    if json {
        print_json(&entries);
    } else if entries.is_empty() {
        errln!(
            "no profiles in {} (add one with `knock-cli profile add NAME --host H --open SEQ`)",
            store.dir().display()
        );
    } else {
        let width = entries.iter().map(|e| e.name.len()).max().unwrap_or(4).max(4);
        outln!("{:<width$}  {:<28}  {:<6}  {:<6}  TAGS", "NAME", "HOST", "HITS", "VERIFY");
        for e in entries.iter().filter(|e| e.error.is_none()) {
            outln!(
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
        outln!("# {}\n{text}", stored.path.display());
    }
    Ok(ExitCode::Success)
}

fn add(store: &ProfileStore, name: &str, fields: &ProfileFields, replace: bool) -> Result<ExitCode, Failure> {
    // --replace: the same command may run again (a CI runner's workspace is kept between jobs).
    let create =
        |profile: &Profile| if replace { store.save(name, profile, None) } else { store.create(name, profile) };
    let host = fields.host.as_deref().ok_or_else(|| Failure::invalid("profile add needs --host HOST"))?;
    if fields.rotating {
        let door = fields.door.as_deref().ok_or_else(|| {
            Failure::invalid("profile add --rotating needs --door DOOR (the door's name in the server's knockd.conf)")
        })?;
        let knock = RotatingKnock { rotation: Rotation::new(door), method: Method::Auto, delay_ms: 0 };
        let mut profile = Profile::with_kind(host, ProfileKind::Rotating(knock));
        apply(&mut profile, fields, &ProfileRemovals::default())?;
        let stored = create(&profile)?;
        let [var, _] = rotating_key_variables(name);
        outln!(
            "added rotating profile {name} ({}); store its door key in the OS keyring with \
             `knock-cli profile set-key {name}` (base32 on stdin), or set ${var} for CI",
            stored.path.display()
        );
        return Ok(ExitCode::Success);
    }
    if fields.spa {
        let access = fields
            .access
            .as_deref()
            .ok_or_else(|| Failure::invalid("profile add --spa needs --access (e.g. tcp/22)"))?;
        let access = parse_option::<client_core::spa::AccessList>("--access", access)?;
        let mut profile = Profile::new_spa(host, SpaSettings::new(access));
        apply(&mut profile, fields, &ProfileRemovals::default())?;
        let stored = create(&profile)?;
        let [(key_var, hmac_var), _] = spa_key_variables(name);
        outln!(
            "added SPA profile {name} ({}); store its keys in the OS keyring with \
             `knock-cli spa keygen | knock-cli profile set-key {name}` (or, for CI, set ${key_var} and ${hmac_var})",
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
    let mut profile = Profile::with_kind(host, ProfileKind::Sequence(SequenceKnock::new(open)));
    apply(&mut profile, fields, &ProfileRemovals::default())?;
    let stored = create(&profile)?;
    outln!("added {name} ({})", stored.path.display());
    Ok(ExitCode::Success)
}

fn edit(
    store: &ProfileStore,
    name: &str,
    fields: &ProfileFields,
    removals: &ProfileRemovals,
) -> Result<ExitCode, Failure> {
    let stored = store.update(name, |profile| apply(profile, fields, removals))??;
    outln!("updated {name} ({})", stored.path.display());
    Ok(ExitCode::Success)
}

/// Applies the given options to a profile; each error names its option.
fn apply(profile: &mut Profile, fields: &ProfileFields, removals: &ProfileRemovals) -> Result<(), Failure> {
    if let Some(host) = &fields.host {
        validate_host(host.trim()).map_err(|e| Failure::invalid(format!("--host: {e}")))?;
        profile.host = host.trim().to_owned();
    }
    if let Some(family) = &fields.family {
        profile.family = parse_option("--family", family)?;
    }
    apply_sequence(profile, fields, removals)?;
    apply_spa(profile, fields)?;
    apply_rotating(profile, fields)?;
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

fn apply_sequence(profile: &mut Profile, fields: &ProfileFields, removals: &ProfileRemovals) -> Result<(), Failure> {
    let given = fields.open.is_some()
        || fields.open_env.is_some()
        || fields.close.is_some()
        || fields.close_env.is_some()
        || removals.no_close
        || fields.tcp_flags.is_some()
        || (profile.is_spa() && (fields.method.is_some() || fields.delay.is_some()));
    let Some(knock) = profile.sequence_mut() else {
        return if given {
            Err(Failure::invalid(
                "--open, --close, --no-close and --tcp-flags are for sequence profiles (and --method, --delay \
                 not for SPA profiles, which send one packet; fwknopd closes the door by itself)",
            ))
        } else {
            Ok(())
        };
    };
    if let Some(open) = &fields.open {
        knock.open = SequenceSource::Inline(parse_sequence("--open", open)?);
    }
    if let Some(var) = &fields.open_env {
        knock.open = env_source("--open-env", var)?;
    }
    if let Some(close) = &fields.close {
        knock.close = Some(SequenceSource::Inline(parse_sequence("--close", close)?));
    }
    if let Some(var) = &fields.close_env {
        knock.close = Some(env_source("--close-env", var)?);
    }
    if removals.no_close {
        knock.close = None;
    }
    if let Some(method) = &fields.method {
        knock.method = parse_option("--method", method)?;
    }
    if let Some(delay) = fields.delay {
        knock.delay_ms = delay;
    }
    if let Some(flags) = &fields.tcp_flags {
        knock.tcp_flags = parse_option("--tcp-flags", flags)?;
    }
    Ok(())
}

fn apply_rotating(profile: &mut Profile, fields: &ProfileFields) -> Result<(), Failure> {
    let given = fields.door.is_some()
        || fields.step.is_some()
        || fields.length.is_some()
        || fields.range.is_some()
        || fields.protocols.is_some();
    let Some(knock) = profile.rotating_mut() else {
        return if given {
            Err(Failure::invalid(
                "--door, --step, --length, --range and --protocols are for rotating profiles (add one with --rotating)",
            ))
        } else {
            Ok(())
        };
    };
    let rotation = &mut knock.rotation;
    if let Some(door) = &fields.door {
        rotation.door = door.clone();
    }
    if let Some(step) = fields.step {
        rotation.step = step;
    }
    if let Some(length) = fields.length {
        rotation.length = length;
    }
    if let Some(range) = &fields.range {
        rotation.range = parse_port_range(range).map_err(|e| Failure::invalid(format!("--range: {e}")))?;
    }
    if let Some(protocols) = &fields.protocols {
        rotation.protocols = parse_protocols(protocols).map_err(|e| Failure::invalid(format!("--protocols: {e}")))?;
    }
    if let Some(method) = &fields.method {
        knock.method = parse_option("--method", method)?;
    }
    if let Some(delay) = fields.delay {
        knock.delay_ms = delay;
    }
    knock.rotation.validate().map_err(|e| Failure::invalid(e.to_string()))
}

fn apply_spa(profile: &mut Profile, fields: &ProfileFields) -> Result<(), Failure> {
    let given = fields.access.is_some()
        || fields.allow_ip.is_some()
        || fields.allow_source
        || fields.spa_port.is_some()
        || fields.spa_user.is_some()
        || fields.discover_url.is_some();
    let Some(spa) = profile.spa_mut() else {
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

/// A rotating profile from a provisioning URI (client-core's [`UriImport`]: key first, then the profile).
fn import_uri(
    store: &ProfileStore,
    uri: &str,
    name: Option<&str>,
    verify_port: Option<std::num::NonZeroU16>,
) -> Result<ExitCode, Failure> {
    use std::io::Read;

    use client_core::{UriImport, UriImportError};

    let mut text = zeroize::Zeroizing::new(String::new());
    if uri == "-" {
        std::io::stdin().read_to_string(&mut text).map_err(|e| Failure::failed(format!("cannot read stdin: {e}")))?;
    } else if looks_like_uri(uri) {
        // Still imported (the harm is done once it is typed), but the user must know where it now is.
        errln!("{URI_ON_COMMAND_LINE}");
        text.push_str(uri);
    } else {
        let mut file = std::fs::File::open(uri).map_err(|e| {
            Failure::invalid(format!(
                "cannot read {uri}: {e} (give a file holding the knock+rotating:// line, or - for stdin)"
            ))
        })?;
        file.read_to_string(&mut text).map_err(|e| Failure::invalid(format!("cannot read {uri}: {e}")))?;
    }
    let mut import = match UriImport::prepare(&text, name) {
        Ok(import) => import,
        Err(err) => return Err(uri_import_failure(err)),
    };
    if let Some(port) = verify_port {
        import.set_verify_port(port);
    }
    // The environment gives the key (CI, a headless box): the keyring is not asked for what is given.
    if let Some((variable, same)) = import.key_variable() {
        let stored = import.write_without_key(store).map_err(uri_import_failure)?;
        outln!(
            "added rotating profile {} ({}); its door key is read from ${variable} (not stored in the OS keyring)",
            stored.name,
            stored.path.display()
        );
        if !same {
            errln!(
                "knock-cli: warning: ${variable} does not hold the door key of this URI: set it to the URI's \
                 key= value, or the door will not open"
            );
        }
        return Ok(ExitCode::Success);
    }
    match import.write(store, &SecretStore::new()) {
        Ok(stored) => {
            outln!(
                "added rotating profile {} ({}); its door key is in the OS keyring",
                stored.name,
                stored.path.display()
            );
            Ok(ExitCode::Success)
        }
        // No usable keyring (a server without a desktop session): the profile alone, and where the key goes.
        Err(UriImportError::Key { variable, source }) => {
            let stored = import.write_without_key(store).map_err(uri_import_failure)?;
            outln!("added rotating profile {} ({}) without its door key", stored.name, stored.path.display());
            errln!(
                "knock-cli: the OS keyring cannot hold the door key ({source}): set ${variable} to the URI's \
                 key= value (the base32 text after key=, up to any &) where knock-cli runs, or store it later \
                 with `knock-cli profile set-key {}` (base32 on stdin)",
                stored.name
            );
            Ok(ExitCode::Success)
        }
        Err(err) => Err(uri_import_failure(err)),
    }
}

/// A failed URI import's exit code and message.
fn uri_import_failure(err: client_core::UriImportError) -> Failure {
    use client_core::UriImportError;
    match err {
        err @ (UriImportError::Name(_) | UriImportError::Exists(_)) => {
            Failure::invalid(format!("{err} (choose another name with --name)"))
        }
        err @ (UriImportError::Uri(_) | UriImportError::Profile(_)) => Failure::invalid(err.to_string()),
        UriImportError::Store(err) => err.into(),
        err @ UriImportError::Key { .. } => Failure::failed(err.to_string()),
    }
}

/// What `profile import-uri URI` says when the URI, which holds the door key, is an argument.
const URI_ON_COMMAND_LINE: &str = "knock-cli: warning: the provisioning URI holds the door key, and on the \
    command line it is visible to other users in the process list (ps) and saved in your shell history: \
    give it in a file (knock-cli profile import-uri alice.uri) or on stdin (knock-cli profile import-uri - \
    < alice.uri), and remove it from your shell history";

/// True when `import-uri`'s argument is a URI (`scheme://...`) rather than a file name.
fn looks_like_uri(arg: &str) -> bool {
    let arg = arg.trim_start();
    arg.contains("://") || arg.get(..15).is_some_and(|scheme| scheme.eq_ignore_ascii_case("knock+rotating:"))
}

/// Reads a rotating door key (base32, the first non-empty line of stdin) into the OS keyring.
fn set_rotating_key(name: &str, owner: &KeyOwner, secrets: &SecretStore) -> Result<ExitCode, Failure> {
    use std::io::{IsTerminal, Read};

    if std::io::stdin().is_terminal() {
        errln!("paste the door key (base32), then press {END_OF_INPUT}");
    }
    let mut text = zeroize::Zeroizing::new(String::new());
    std::io::stdin().read_to_string(&mut text).map_err(|e| Failure::failed(format!("cannot read stdin: {e}")))?;
    let line = text.lines().map(str::trim).find(|l| !l.is_empty()).unwrap_or_default();
    let key = DoorKey::from_base32(line).map_err(|e| Failure::invalid(format!("stdin: {e}")))?;
    secrets.store_rotating_key(owner, &key).map_err(|e| Failure::failed(e.to_string()))?;
    outln!("stored the door key of {name} in the OS keyring");
    Ok(ExitCode::Success)
}

/// Reads fwknop-style key lines from stdin and stores them in the OS keyring under the profile.
/// The key that ends terminal input: Ctrl-D on Unix; on a Windows console, Ctrl-Z then Enter.
#[cfg(not(windows))]
const END_OF_INPUT: &str = "Ctrl-D";
#[cfg(windows)]
const END_OF_INPUT: &str = "Ctrl-Z, then Enter";

fn set_key(store: &ProfileStore, name: &str) -> Result<ExitCode, Failure> {
    use std::io::{IsTerminal, Read};

    use client_core::spa::{HmacKey, SpaKey};

    let secrets = SecretStore::new();
    // Under the profile's id (a profile written before ids is migrated first), never its name.
    let stored = crate::open_cmd::load_profile(store, name)?;
    let owner = KeyOwner::of(name, &stored.profile);
    let sharing = store.sharing_id(name, &stored.profile)?;
    if !sharing.is_empty() {
        return Err(Failure::invalid(format!(
            "{name} has the same id as {} (a file copied by hand?), so their keys are one: delete the `id` line \
             of the copy (it becomes a profile of its own) and run set-key again",
            sharing.join(", ")
        )));
    }
    if stored.profile.rotating().is_some() {
        return set_rotating_key(name, &owner, &secrets);
    }
    if !stored.profile.is_spa() {
        return Err(Failure::invalid(format!("{name} is not an SPA profile: only SPA profiles have keys")));
    }
    if std::io::stdin().is_terminal() {
        errln!("paste the KEY_BASE64: and HMAC_KEY_BASE64: lines, then press {END_OF_INPUT}");
    }
    let mut text = zeroize::Zeroizing::new(String::new());
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
    secrets.store_spa_keys(&owner, &spa_key, &hmac_key).map_err(|e| Failure::failed(e.to_string()))?;
    outln!("stored the SPA keys of {name} in the OS keyring");
    Ok(ExitCode::Success)
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
