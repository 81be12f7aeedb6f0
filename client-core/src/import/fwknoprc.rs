//! `~/.fwknoprc` stanzas turned into SPA profiles, read exactly as the fwknop 2.6.10 client reads them
//! (client/config_init.c), so what fwknop accepts is imported and what fwknop refuses is not.
//!
//! How fwknop reads the file, and so how this module does:
//! - A line whose *first character* is `#`, `;`, CR or nothing is skipped. Anything else, inside a stanza
//!   that is used, must be `VARIABLE value`: an indented comment or a line of spaces is an error that
//!   makes fwknop exit, so such a stanza is refused here with its line.
//! - `[name]` (leading blanks allowed) starts a stanza; the name is everything up to the first `]`, and
//!   stanzas are matched case-insensitively, so two `[lab]` sections add up to one stanza.
//! - Lines before the first stanza are never read.
//! - The variable is the first word, cut at its last `:` (`KEY_BASE64: ...` is `KEY_BASE64`); names are
//!   case-sensitive (`spa_server` is an unknown variable, which fwknop refuses). The value is the second
//!   word, ending at a blank, `;` or `#`.
//! - `[default]` is read before the named stanza, which overrides it; with no `-n`, fwknop uses
//!   `[default]` alone, so a `[default]` with an SPA_SERVER is a profile of its own.
//! - Yes/no variables are yes only for `Y` (any case); anything else is no.
//!
//! Every variable of `man fwknop` is mapped to a profile field, reported as not needed, warned about, or
//! makes the stanza refused, by name and line. Keys are returned apart, for the OS keyring: they never go
//! into a profile file, a message or the report.

use std::collections::HashMap;
use std::num::NonZeroU16;

use crate::profile::{AllowIp, Profile, SpaSettings, validate_host};
use crate::spa::{AccessList, DigestType, HmacKey, HmacType, SpaKey};
use crate::target::AddressFamily;

use super::{Mapped, Note, SpaKeys};

/// fwknop's default when ALLOW_IP is `resolve` and no RESOLVE_URL is given.
pub(crate) const FWKNOP_RESOLVE_URL: &str = "https://www.cipherdyne.org/cgi-bin/myip";

const DEFAULT_STANZA: &str = "default";

/// One `VARIABLE value` line.
#[derive(Debug, Clone)]
struct Param {
    var: String,
    value: String,
    line: usize,
}

/// The lines of every section with one name (case-insensitive), in file order.
#[derive(Debug, Default)]
struct Stanza {
    name: String,
    line: usize,
    params: Vec<Param>,
    /// The first line fwknop cannot read as `VARIABLE value`.
    bad_line: Option<(usize, String)>,
}

/// One stanza turned into a profile, or refused.
#[derive(Debug)]
pub(crate) struct StanzaImport {
    pub stanza: String,
    pub line: usize,
    pub result: Result<SpaProfile, Note>,
    pub mapped: Vec<Mapped>,
    pub warnings: Vec<Note>,
}

/// A profile with its keys (both or none).
#[derive(Debug)]
pub(crate) struct SpaProfile {
    pub profile: Profile,
    pub keys: Option<SpaKeys>,
}

/// The stanzas of `text` as fwknop would use them, each made into a profile or refused; plus notes about
/// the file as a whole. `host` (from `--host`) replaces every SPA_SERVER.
pub(crate) fn stanzas(text: &str, host: Option<&str>) -> (Vec<StanzaImport>, Vec<Note>) {
    let (sections, notes) = read_sections(text);
    let default = sections.iter().find(|s| s.name.eq_ignore_ascii_case(DEFAULT_STANZA));
    let named: Vec<&Stanza> = sections.iter().filter(|s| !s.name.eq_ignore_ascii_case(DEFAULT_STANZA)).collect();
    let mut imports = Vec::new();
    // [default] is a profile when fwknop can use it alone: it names a server, or it is all there is.
    if let Some(default) = default
        && (default.params.iter().any(|p| p.var == "SPA_SERVER") || named.is_empty())
    {
        imports.push(convert(default, None, host));
    }
    for stanza in named {
        imports.push(convert(stanza, default, host));
    }
    (imports, notes)
}

/// Splits the file into stanzas, merging sections of the same name as fwknop does.
fn read_sections(text: &str) -> (Vec<Stanza>, Vec<Note>) {
    let text = text.strip_prefix('\u{feff}').unwrap_or(text);
    let mut stanzas: Vec<Stanza> = Vec::new();
    let mut current: Option<usize> = None;
    let mut notes = Vec::new();
    for (index, raw) in text.split('\n').enumerate() {
        let line = index + 1;
        if raw.is_empty() || raw.starts_with(['#', ';', '\r']) {
            continue;
        }
        if let Some(name) = section_name(raw) {
            let found = stanzas.iter().position(|s| s.name.eq_ignore_ascii_case(name));
            current = Some(found.unwrap_or_else(|| {
                stanzas.push(Stanza { name: name.to_owned(), line, ..Stanza::default() });
                stanzas.len() - 1
            }));
            continue;
        }
        let Some(stanza) = current.and_then(|i| stanzas.get_mut(i)) else {
            notes.push(Note {
                line: Some(line),
                message: "outside any [stanza]: fwknop never reads this line".to_owned(),
            });
            continue;
        };
        match param(raw) {
            Some((var, value)) => stanza.params.push(Param { var, value, line }),
            None => {
                if stanza.bad_line.is_none() {
                    // The text is not quoted: a malformed line may be a pasted key.
                    stanza.bad_line = Some((
                        line,
                        "this line is not `VARIABLE value`, so fwknop refuses the stanza here (only lines starting \
                         with # or ; are comments, and blank lines must be empty)"
                            .to_owned(),
                    ));
                }
            }
        }
    }
    (stanzas, notes)
}

/// `[name]` after optional blanks: the text up to the first `]`.
fn section_name(raw: &str) -> Option<&str> {
    let rest = raw.trim_start().strip_prefix('[')?;
    rest.find(']').map(|end| &rest[..end])
}

/// `VARIABLE value` as fwknop's `sscanf("%s %[^ ;\t\n\r#]")` reads it, the variable cut at its last `:`.
fn param(raw: &str) -> Option<(String, String)> {
    let rest = raw.trim_start();
    let var_end = rest.find(|c: char| c.is_ascii_whitespace()).unwrap_or(rest.len());
    let (var, rest) = rest.split_at(var_end);
    let rest = rest.trim_start_matches(|c: char| c.is_ascii_whitespace());
    let value_end = rest.find([' ', ';', '\t', '\n', '\r', '#']).unwrap_or(rest.len());
    let value = rest[..value_end].trim_matches(|c: char| c.is_ascii_whitespace());
    if var.is_empty() || value.is_empty() {
        return None;
    }
    let var = var.rfind(':').map_or(var, |colon| &var[..colon]);
    Some((var.to_owned(), value.to_owned()))
}

/// The variables of fwknop 2.6.10's rc file (client/config_init.c), with what this importer does with
/// each; a name not listed is refused, as fwknop refuses it.
const VARIABLES: &[&str] = &[
    "DIGEST_TYPE",
    "SPA_SERVER_PROTO",
    "SPA_SERVER_PORT",
    "SPA_SOURCE_PORT",
    "FW_TIMEOUT",
    "ALLOW_IP",
    "TIME_OFFSET",
    "ENCRYPTION_MODE",
    "USE_GPG",
    "USE_GPG_AGENT",
    "GPG_RECIPIENT",
    "GPG_SIGNER",
    "GPG_HOMEDIR",
    "GPG_EXE",
    "GPG_SIGNING_PW",
    "GPG_SIGNING_PW_BASE64",
    "GPG_NO_SIGNING_PW",
    "SPOOF_USER",
    "SPOOF_SOURCE_IP",
    "ACCESS",
    "SPA_SERVER",
    "RAND_PORT",
    "KEY",
    "KEY_BASE64",
    "HMAC_DIGEST_TYPE",
    "HMAC_KEY_BASE64",
    "HMAC_KEY",
    "USE_HMAC",
    "USE_WGET_USER_AGENT",
    "KEY_FILE",
    "HMAC_KEY_FILE",
    "NAT_ACCESS",
    "HTTP_USER_AGENT",
    "RESOLVE_URL",
    "SERVER_RESOLVE_IPV4",
    "NAT_LOCAL",
    "NAT_RAND_PORT",
    "NAT_PORT",
    "VERBOSE",
    "RESOLVE_IP_HTTP",
    "RESOLVE_IP_HTTPS",
    "RESOLVE_HTTP_ONLY",
    "WGET_CMD",
    "NO_SAVE_ARGS",
];

/// Whether `word` (any case, trailing colon cut) names a fwknop variable: for format detection.
pub(super) fn is_variable_name(word: &str) -> bool {
    let word = word.rfind(':').map_or(word, |colon| &word[..colon]);
    VARIABLES.iter().any(|v| v.eq_ignore_ascii_case(word))
}

/// The effective values of one stanza: [default] first, then the stanza, the last line winning.
struct Values<'a> {
    by_var: HashMap<&'a str, &'a Param>,
}

impl<'a> Values<'a> {
    fn get(&self, var: &str) -> Option<&'a Param> {
        self.by_var.get(var).copied()
    }

    fn yes(&self, var: &str) -> bool {
        self.get(var).is_some_and(|p| p.value.eq_ignore_ascii_case("Y"))
    }
}

type Refusal = Note;

fn refuse(param: &Param, message: impl Into<String>) -> Refusal {
    Note { line: Some(param.line), message: format!("{} {}: {}", param.var, shown(param), message.into()) }
}

/// An unknown variable's name, unless it does not look like one (a pasted key would be shown otherwise).
fn printable_name(var: &str) -> String {
    let identifier = (1..=32).contains(&var.len())
        && var.starts_with(|c: char| c.is_ascii_alphabetic() || c == '_' || c == '#')
        && var.chars().skip(1).all(|c| c.is_ascii_alphanumeric() || c == '_');
    if identifier { var.to_owned() } else { "a word that is not a variable name (not shown)".to_owned() }
}

/// The value as it may be shown: key material never is.
fn shown(param: &Param) -> String {
    if matches!(
        param.var.as_str(),
        "KEY" | "KEY_BASE64" | "HMAC_KEY" | "HMAC_KEY_BASE64" | "GPG_SIGNING_PW" | "GPG_SIGNING_PW_BASE64"
    ) {
        "(value hidden)".to_owned()
    } else {
        format!("{:?}", param.value)
    }
}

fn convert(stanza: &Stanza, default: Option<&Stanza>, host: Option<&str>) -> StanzaImport {
    let mut mapped = Vec::new();
    let mut warnings = Vec::new();
    let result = convert_values(stanza, default, host, &mut mapped, &mut warnings);
    if result.is_ok() {
        account_for_every_line(stanza, default, &mut mapped, &warnings);
    }
    StanzaImport { stanza: stanza.name.clone(), line: stanza.line, result, mapped, warnings }
}

/// Every line of the stanza (and of [default]) appears in the report: lines that set nothing are
/// listed as such, and a [default] value a stanza replaces says by which line.
fn account_for_every_line(stanza: &Stanza, default: Option<&Stanza>, mapped: &mut Vec<Mapped>, warnings: &[Note]) {
    let params: Vec<&Param> =
        default.into_iter().chain(std::iter::once(stanza)).flat_map(|l| l.params.iter()).collect();
    for (i, param) in params.iter().enumerate() {
        let covered = |line: Option<usize>| line == Some(param.line);
        if mapped.iter().any(|m| covered(m.line)) || warnings.iter().any(|w| covered(w.line)) {
            continue;
        }
        let later = params[i + 1..].iter().rev().find(|p| p.var == param.var);
        let to = match later {
            Some(p) => format!("overridden by line {}", p.line),
            None => "nothing to set".to_owned(),
        };
        mapped.push(Mapped { line: Some(param.line), from: param.var.clone(), to });
    }
    mapped.sort_by_key(|m| m.line);
}

fn convert_values(
    stanza: &Stanza,
    default: Option<&Stanza>,
    host: Option<&str>,
    mapped: &mut Vec<Mapped>,
    warnings: &mut Vec<Note>,
) -> Result<SpaProfile, Refusal> {
    let layers: Vec<&Stanza> = default.into_iter().chain(std::iter::once(stanza)).collect();
    for layer in &layers {
        if let Some((line, message)) = &layer.bad_line {
            return Err(Note { line: Some(*line), message: format!("[{}]: {message}", layer.name) });
        }
        if let Some(unknown) = layer.params.iter().find(|p| !VARIABLES.contains(&p.var.as_str())) {
            let hint = VARIABLES
                .iter()
                .find(|v| v.eq_ignore_ascii_case(&unknown.var))
                .map(|v| format!(" (fwknop matches names case-sensitively: write {v})"))
                .unwrap_or_default();
            return Err(Note {
                line: Some(unknown.line),
                message: format!(
                    "[{}]: {} is not a fwknop variable, so fwknop refuses it{hint}",
                    layer.name,
                    printable_name(&unknown.var)
                ),
            });
        }
    }
    let values = Values { by_var: layers.iter().flat_map(|l| l.params.iter()).map(|p| (p.var.as_str(), p)).collect() };
    let mut map = |param: &Param, to: &str| {
        mapped.push(Mapped { line: Some(param.line), from: param.var.clone(), to: to.to_owned() });
    };
    let mut warn = |param: &Param, message: String| {
        warnings.push(Note { line: Some(param.line), message: format!("{} {}: {message}", param.var, shown(param)) });
    };

    // Refused first: what the profile model cannot express, or would express wrongly.
    for var in ["USE_GPG", "USE_GPG_AGENT"] {
        if let Some(p) = values.get(var).filter(|_| values.yes(var)) {
            return Err(refuse(p, "a GPG stanza: knock-cli sends Rijndael (AES) SPA packets only"));
        }
    }
    // GPG_SIGNING_PW(_BASE64) without USE_GPG is the Rijndael key (see `keys`), not a sign of GPG.
    for var in ["GPG_RECIPIENT", "GPG_SIGNER"] {
        if let Some(p) = values.get(var) {
            return Err(refuse(p, "a GPG stanza: knock-cli sends Rijndael (AES) SPA packets only"));
        }
    }
    if let Some(p) = values.get("ENCRYPTION_MODE") {
        if !p.value.eq_ignore_ascii_case("cbc") {
            return Err(refuse(p, "only CBC (fwknop's default) is supported"));
        }
        map(p, "nothing to set: CBC is the only mode");
    }
    if let Some(p) = values.get("SPOOF_SOURCE_IP") {
        return Err(refuse(p, "a spoofed source address needs raw packets, which knock-cli does not send for SPA"));
    }
    if let Some(p) = values.get("NAT_ACCESS") {
        return Err(refuse(p, "NAT access requests cannot be expressed by a profile"));
    }
    for var in ["NAT_LOCAL", "NAT_RAND_PORT"] {
        if let Some(p) = values.get(var) {
            if values.yes(var) {
                return Err(refuse(p, "NAT access requests cannot be expressed by a profile"));
            }
            map(p, "nothing to set (no)");
        }
    }
    if let Some(p) = values.get("NAT_PORT") {
        return Err(refuse(p, "NAT access requests cannot be expressed by a profile"));
    }
    if let Some(p) = values.get("SPA_SERVER_PROTO") {
        match p.value.to_ascii_lowercase().as_str() {
            "udp" | "udpraw" => map(p, "nothing to set: the packet goes over UDP"),
            "tcp" | "tcpraw" | "icmp" | "http" => {
                return Err(refuse(
                    p,
                    "knock-cli sends SPA over UDP only; with SPA_SERVER_PROTO udp (and fwknopd's default \
                     PCAP_FILTER) the stanza imports",
                ));
            }
            _ => return Err(refuse(p, "not a protocol fwknop knows (udp, tcp, udpraw, tcpraw, icmp, http)")),
        }
    }
    // The server and what to open.
    let server = match (host, values.get("SPA_SERVER")) {
        (Some(host), given) => {
            if let Some(p) = given {
                map(p, "replaced by --host");
            }
            host.to_owned()
        }
        (None, Some(p)) => {
            validate_host(&p.value).map_err(|e| refuse(p, e.to_string()))?;
            map(p, "host");
            p.value.clone()
        }
        (None, None) => {
            return Err(Note {
                line: Some(stanza.line),
                message: "no SPA_SERVER (fwknop would need -D HOST): add one, or give --host".to_owned(),
            });
        }
    };
    let access_param = values.get("ACCESS").ok_or_else(|| Note {
        line: Some(stanza.line),
        message: "no ACCESS (fwknop would need -A): add e.g. ACCESS tcp/22".to_owned(),
    })?;
    let access: AccessList = access_param.value.parse().map_err(|e| refuse(access_param, format!("{e}")))?;
    map(access_param, "spa.access");
    let mut settings = SpaSettings::new(access);
    let mut family = AddressFamily::Any;

    if let Some(p) = values.get("SPA_SERVER_PORT") {
        settings.port = p.value.parse::<NonZeroU16>().map_err(|_| refuse(p, "not a port (1-65535)"))?;
        map(p, "spa.port");
    }
    if let Some(p) = values.get("DIGEST_TYPE") {
        settings.digest = p.value.parse::<DigestType>().map_err(|e| refuse(p, e.to_string()))?;
        map(p, "spa.digest");
    }
    if let Some(p) = values.get("HMAC_DIGEST_TYPE") {
        settings.hmac = p.value.parse::<HmacType>().map_err(|e| refuse(p, e.to_string()))?;
        map(p, "spa.hmac");
    }
    if let Some(p) = values.get("FW_TIMEOUT") {
        let seconds: u32 = p
            .value
            .parse()
            .ok()
            .filter(|s| *s <= 65_535)
            .ok_or_else(|| refuse(p, "not a number of seconds (0-65535)"))?;
        // 0 is fwknop's "no client timeout": the packet carries none and the server's own applies.
        if seconds == 0 {
            map(p, "nothing to set: 0 keeps the server's timeout");
        } else {
            settings.client_timeout_s = Some(seconds);
            map(p, "spa.client_timeout_s");
        }
    }
    if let Some(p) = values.get("TIME_OFFSET") {
        settings.time_offset_s = time_offset(&p.value).ok_or_else(|| {
            refuse(p, "not a time offset: digits with an optional leading - and unit m, h or d (e.g. -1M, 2H)")
        })?;
        map(p, "spa.time_offset_s");
    }
    if let Some(p) = values.get("SPOOF_USER") {
        crate::spa::validate_username(&p.value).map_err(|e| refuse(p, e.to_string()))?;
        settings.user = Some(p.value.clone());
        map(p, "spa.user");
    }
    settings.allow_ip = allow_ip(&values, &mut settings.discover_url, &mut map, &mut warn, stanza)?;
    if let Some(p) = values.get("SERVER_RESOLVE_IPV4") {
        if values.yes("SERVER_RESOLVE_IPV4") {
            family = AddressFamily::V4;
            map(p, "family = v4");
        } else {
            map(p, "nothing to set (no)");
        }
    }
    for var in ["HTTP_USER_AGENT", "USE_WGET_USER_AGENT", "WGET_CMD"] {
        if let Some(p) = values.get(var) {
            warn(p, "not carried: knock-cli asks discover_url itself, with its own HTTPS client".to_owned());
        }
    }
    if let Some(p) = values.get("SPA_SOURCE_PORT") {
        warn(p, "not carried: the packet leaves from a port the OS chooses (fwknopd does not look at it)".to_owned());
    }
    if let Some(p) = values.get("RAND_PORT") {
        if values.yes("RAND_PORT") {
            warn(
                p,
                format!(
                    "not carried: knock-cli always sends to port {} (SPA_SERVER_PORT), so fwknopd's PCAP_FILTER \
                     must include it",
                    settings.port
                ),
            );
        } else {
            map(p, "nothing to set (no)");
        }
    }
    for var in ["GPG_HOMEDIR", "GPG_EXE", "GPG_NO_SIGNING_PW"] {
        if let Some(p) = values.get(var) {
            warn(p, "ignored: this stanza does not use GPG (USE_GPG is not Y)".to_owned());
        }
    }
    if let Some(p) = values.get("USE_GPG") {
        map(p, "nothing to set (no)");
    }
    for var in ["VERBOSE", "NO_SAVE_ARGS"] {
        if let Some(p) = values.get(var) {
            map(p, "nothing to set: an option of the fwknop program itself");
        }
    }
    let keys = keys(&values, &mut map, &mut warn, stanza)?;
    let mut profile = Profile::new_spa(server, settings);
    profile.family = family;
    profile.notes = format!("imported from fwknoprc stanza [{}]", stanza.name);
    Ok(SpaProfile { profile, keys })
}

/// ALLOW_IP (with RESOLVE_URL and RESOLVE_IP_HTTP(S)) as fwknop combines them: an address or `source`
/// wins; `resolve`, or a RESOLVE_URL alone, asks a web service for the public address.
fn allow_ip(
    values: &Values<'_>,
    discover_url: &mut Option<String>,
    map: &mut impl FnMut(&Param, &str),
    warn: &mut impl FnMut(&Param, String),
    stanza: &Stanza,
) -> Result<AllowIp, Refusal> {
    let resolve_flag = ["RESOLVE_IP_HTTPS", "RESOLVE_IP_HTTP"].into_iter().find(|v| values.yes(v));
    let url = values.get("RESOLVE_URL");
    // RESOLVE_HTTP_ONLY only changes how a lookup is made: where no lookup happens (ALLOW_IP gives the
    // address or `source`, or nothing asks for one) it is ignored, as fwknop ignores it and RESOLVE_URL.
    let http_only = values.get("RESOLVE_HTTP_ONLY").filter(|_| values.yes("RESOLVE_HTTP_ONLY"));
    let explicit = values.get("ALLOW_IP");
    let resolve = match explicit {
        Some(p) if p.value.eq_ignore_ascii_case("source") => {
            map(p, "spa.allow_ip = source");
            for ignored in [url, http_only].into_iter().flatten() {
                warn(ignored, "ignored, as fwknop ignores it: ALLOW_IP source needs no lookup".to_owned());
            }
            return Ok(AllowIp::Source);
        }
        Some(p) if p.value.eq_ignore_ascii_case("resolve") => Some(p),
        Some(p) => {
            let ip = p.value.parse().map_err(|_| refuse(p, "not an IPv4 address, `source` or `resolve`"))?;
            map(p, "spa.allow_ip");
            for ignored in [url, resolve_flag.and_then(|v| values.get(v)), http_only].into_iter().flatten() {
                warn(ignored, "ignored, as fwknop ignores it: ALLOW_IP gives the address".to_owned());
            }
            return Ok(AllowIp::Address(ip));
        }
        None => resolve_flag.and_then(|v| values.get(v)).or(url),
    };
    let Some(resolve) = resolve else {
        if let Some(ignored) = http_only {
            warn(ignored, "ignored, as fwknop ignores it: nothing asks for an address lookup".to_owned());
        }
        warnings_for_no_allow_ip(warn, stanza);
        return Ok(AllowIp::Local);
    };
    if let Some(p) = http_only {
        return Err(refuse(p, "plain-HTTP address discovery lets anyone on the path choose the address to open"));
    }
    let address = url.map_or(FWKNOP_RESOLVE_URL, |p| p.value.as_str());
    if !address.starts_with("https://") {
        let p = url.unwrap_or(resolve);
        return Err(refuse(p, "address discovery must use HTTPS (an on-path attacker chooses a plain-HTTP answer)"));
    }
    if let Some(p) = url {
        map(p, "spa.discover_url");
    }
    map(resolve, "spa.allow_ip = discover");
    if url.is_none() {
        warn(resolve, format!("discover_url is fwknop's own default, {FWKNOP_RESOLVE_URL}: asked before each knock"));
    }
    *discover_url = Some(address.to_owned());
    Ok(AllowIp::Discover)
}

fn warnings_for_no_allow_ip(warn: &mut impl FnMut(&Param, String), stanza: &Stanza) {
    let header = Param { var: format!("[{}]", stanza.name), value: String::new(), line: stanza.line };
    warn(
        &header,
        "no ALLOW_IP (fwknop would need -a, -s or -R): the profile asks for this host's own address \
         (allow_ip = local)"
            .to_owned(),
    );
}

/// The keys: both, or none (then `profile set-key` gives them later). A key without an HMAC key is
/// refused: knock-cli always authenticates its packets, and fwknopd only checks an HMAC it was given.
fn keys(
    values: &Values<'_>,
    map: &mut impl FnMut(&Param, &str),
    warn: &mut impl FnMut(&Param, String),
    stanza: &Stanza,
) -> Result<Option<SpaKeys>, Refusal> {
    // fwknop's client (config_init.c) reads GPG_SIGNING_PW into the same field as KEY and
    // GPG_SIGNING_PW_BASE64 into KEY_BASE64's: without USE_GPG (refused above when Y) it is the Rijndael key.
    let mut given: Vec<&Param> = ["KEY_BASE64", "GPG_SIGNING_PW_BASE64", "KEY", "GPG_SIGNING_PW"]
        .into_iter()
        .filter_map(|var| values.get(var))
        .collect();
    given.sort_by_key(|p| p.line);
    if let [first, second, ..] = given.as_slice() {
        return Err(refuse(
            second,
            format!(
                "given together with {} (line {}): both set the one Rijndael key; keep the one the server uses",
                first.var, first.line
            ),
        ));
    }
    let key = match given.first() {
        Some(&p) if p.var.ends_with("_BASE64") => {
            Some((p, SpaKey::from_base64(&p.value).map_err(|e| refuse(p, e.to_string()))?))
        }
        Some(&p) => Some((p, SpaKey::new(p.value.as_bytes().to_vec()).map_err(|e| refuse(p, e.to_string()))?)),
        None => None,
    };
    let hmac = match (values.get("HMAC_KEY_BASE64"), values.get("HMAC_KEY")) {
        (Some(p), None) => Some((p, HmacKey::from_base64(&p.value).map_err(|e| refuse(p, e.to_string()))?)),
        (None, Some(p)) => Some((p, HmacKey::new(p.value.as_bytes().to_vec()).map_err(|e| refuse(p, e.to_string()))?)),
        (Some(_), Some(p)) => {
            return Err(refuse(p, "given together with HMAC_KEY_BASE64: keep the one the server uses"));
        }
        (None, None) => None,
    };
    for var in ["KEY_FILE", "HMAC_KEY_FILE"] {
        if let Some(p) = values.get(var) {
            warn(
                p,
                "not read: keys from a separate file are not imported; give them with `knock-cli profile set-key`"
                    .to_owned(),
            );
        }
    }
    if let Some(p) = values.get("USE_HMAC") {
        map(p, "nothing to set: knock-cli always adds an HMAC");
    }
    match (key, hmac) {
        (Some((kp, key)), Some((hp, hmac))) => {
            if key.as_bytes() == hmac.as_bytes() {
                return Err(refuse(
                    hp,
                    "equals the encryption key, which fwknop refuses: generate a pair with `knock-cli spa keygen`",
                ));
            }
            if kp.var.starts_with("GPG_SIGNING_PW") {
                map(kp, "OS keyring (SPA key: without USE_GPG, fwknop uses it as the Rijndael key)");
            } else {
                map(kp, "OS keyring (SPA key)");
            }
            map(hp, "OS keyring (HMAC key)");
            Ok(Some(SpaKeys { key, hmac }))
        }
        (Some((kp, _)), None) => Err(refuse(
            kp,
            "an encryption key without an HMAC key: knock-cli always authenticates its packets (HMAC), which \
             a server without HMAC_KEY_BASE64 in access.conf rejects; enable HMAC on the server \
             (`knock-cli spa keygen`, add HMAC_KEY_BASE64 to access.conf and to this stanza), then import",
        )),
        (None, Some((hp, _))) => {
            warn(
                hp,
                "an HMAC key without an encryption key: no key is stored; give both with `knock-cli profile set-key`"
                    .to_owned(),
            );
            Ok(None)
        }
        (None, None) => {
            let header = Param { var: format!("[{}]", stanza.name), value: String::new(), line: stanza.line };
            warn(
                &header,
                "no keys in the stanza (fwknop would ask for them): give them with `knock-cli profile set-key`"
                    .to_owned(),
            );
            Ok(None)
        }
    }
}

/// fwknop's TIME_OFFSET: an optional leading `-`, then the digits up to the first `m`, `h` or `d` (any
/// case; other characters are skipped, as fwknop skips them), at most 65536 units.
fn time_offset(text: &str) -> Option<i64> {
    let (negative, rest) = match text.strip_prefix('-') {
        Some(rest) => (true, rest),
        None => (false, text),
    };
    let mut digits = String::new();
    let mut unit = 1i64;
    for c in rest.chars() {
        match c.to_ascii_lowercase() {
            d if d.is_ascii_digit() => digits.push(d),
            'm' => {
                unit = 60;
                break;
            }
            'h' => {
                unit = 3600;
                break;
            }
            'd' => {
                unit = 86_400;
                break;
            }
            _ => {}
        }
    }
    let count: i64 = digits.parse().ok().filter(|n| *n <= 65_536)?;
    Some(if negative { -count * unit } else { count * unit })
}

#[cfg(test)]
#[path = "fwknoprc_tests.rs"]
mod tests;
