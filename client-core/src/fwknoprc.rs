//! `~/.fwknoprc` stanzas turned into SPA profiles, so fwknop users bring their servers over in one step.
//!
//! The format: `[name]` stanzas of `VARIABLE value` lines (`#` comments); `[default]` supplies values the
//! named stanzas lack. Keys (`KEY_BASE64`, `KEY`, `HMAC_KEY_BASE64`, `HMAC_KEY`) are returned separately,
//! for the caller to put in the OS keyring: they never go into a profile file.

use std::num::NonZeroU16;

use thiserror::Error;

use crate::profile::{AllowIp, Profile, SpaSettings, validate_host, validate_name};
use crate::spa::{HmacKey, SpaKey};

/// One stanza as an SPA profile, with its keys and what could not be carried over.
#[derive(Debug)]
pub struct ImportedSpa {
    pub name: String,
    pub stanza: String,
    pub profile: Profile,
    pub key: Option<SpaKey>,
    pub hmac_key: Option<HmacKey>,
    pub warnings: Vec<String>,
}

#[derive(Debug, Error, PartialEq, Eq)]
pub enum FwknoprcError {
    #[error("line {line}: {message}")]
    Line { line: usize, message: String },
    #[error("stanza [{stanza}]: {message}")]
    Stanza { stanza: String, message: String },
    #[error("no stanza with an SPA_SERVER: nothing to import")]
    Empty,
}

struct Stanza {
    name: String,
    values: Vec<(String, String, usize)>,
}

impl Stanza {
    fn get<'a>(&'a self, fallback: Option<&'a Stanza>, key: &str) -> Option<&'a str> {
        let find = |s: &'a Stanza| {
            s.values.iter().rev().find(|(k, _, _)| k.eq_ignore_ascii_case(key)).map(|(_, v, _)| v.as_str())
        };
        find(self).or_else(|| fallback.and_then(find))
    }
}

/// Parses a fwknoprc and converts every stanza that names an SPA_SERVER.
pub fn profiles_from_fwknoprc(text: &str) -> Result<Vec<ImportedSpa>, FwknoprcError> {
    let stanzas = parse(text)?;
    let default = stanzas.iter().find(|s| s.name.eq_ignore_ascii_case("default"));
    let mut imported = Vec::new();
    for stanza in stanzas.iter().filter(|s| !s.name.eq_ignore_ascii_case("default")) {
        if stanza.get(default, "SPA_SERVER").is_none() {
            continue;
        }
        imported.push(convert(stanza, default)?);
    }
    if imported.is_empty() {
        return Err(FwknoprcError::Empty);
    }
    Ok(imported)
}

fn parse(text: &str) -> Result<Vec<Stanza>, FwknoprcError> {
    let mut stanzas: Vec<Stanza> = Vec::new();
    for (index, raw) in text.lines().enumerate() {
        let line = raw.trim();
        if line.is_empty() || line.starts_with('#') {
            continue;
        }
        if let Some(name) = line.strip_prefix('[').and_then(|l| l.strip_suffix(']')) {
            stanzas.push(Stanza { name: name.trim().to_owned(), values: Vec::new() });
            continue;
        }
        let (key, value) = line.split_once(char::is_whitespace).unwrap_or((line, ""));
        let Some(stanza) = stanzas.last_mut() else {
            return Err(FwknoprcError::Line { line: index + 1, message: format!("{key} outside a [stanza]") });
        };
        stanza.values.push((key.to_owned(), value.trim().to_owned(), index + 1));
    }
    Ok(stanzas)
}

fn convert(stanza: &Stanza, default: Option<&Stanza>) -> Result<ImportedSpa, FwknoprcError> {
    let err = |message: String| FwknoprcError::Stanza { stanza: stanza.name.clone(), message };
    let get = |key: &str| stanza.get(default, key);
    let mut warnings = Vec::new();
    let host = get("SPA_SERVER").unwrap_or_default().to_owned();
    validate_host(&host).map_err(|e| err(e.to_string()))?;
    let access: crate::spa::AccessList = get("ACCESS")
        .ok_or_else(|| err("no ACCESS (e.g. ACCESS tcp/22)".to_owned()))?
        .parse()
        .map_err(|e| err(format!("ACCESS: {e}")))?;
    let mut settings = SpaSettings::new(access);
    if let Some(port) = get("SPA_SERVER_PORT") {
        settings.port =
            port.parse::<NonZeroU16>().map_err(|_| err(format!("SPA_SERVER_PORT {port:?} is not a port")))?;
    }
    if let Some(proto) = get("SPA_SERVER_PROTO").filter(|p| !p.eq_ignore_ascii_case("udp")) {
        warnings.push(format!("SPA_SERVER_PROTO {proto} is not supported: the packet goes over UDP"));
    }
    settings.allow_ip = match get("ALLOW_IP") {
        None => AllowIp::Local,
        Some(v) if v.eq_ignore_ascii_case("source") => AllowIp::Source,
        Some(v) if v.eq_ignore_ascii_case("resolve") => {
            warnings
                .push("ALLOW_IP resolve (an external lookup) is not supported: using this host's address".to_owned());
            AllowIp::Local
        }
        Some(v) => v.parse().map_err(|e: String| err(format!("ALLOW_IP: {e}")))?,
    };
    settings.user = get("SPOOF_USER").map(str::to_owned);
    if let Some(digest) = get("DIGEST_TYPE") {
        settings.digest = digest.parse().map_err(|e| err(format!("DIGEST_TYPE: {e}")))?;
    }
    if let Some(hmac) = get("HMAC_DIGEST_TYPE") {
        settings.hmac = hmac.parse().map_err(|e| err(format!("HMAC_DIGEST_TYPE: {e}")))?;
    }
    if let Some(timeout) = get("FW_TIMEOUT") {
        settings.client_timeout_s =
            Some(timeout.parse().map_err(|_| err(format!("FW_TIMEOUT {timeout:?} is not a number of seconds")))?);
    }
    let key = match (get("KEY_BASE64"), get("KEY")) {
        (Some(b64), _) => Some(SpaKey::from_base64(b64).map_err(|e| err(format!("KEY_BASE64: {e}")))?),
        (None, Some(text)) => Some(SpaKey::new(text.as_bytes().to_vec()).map_err(|e| err(format!("KEY: {e}")))?),
        (None, None) => None,
    };
    let hmac_key = match (get("HMAC_KEY_BASE64"), get("HMAC_KEY")) {
        (Some(b64), _) => Some(HmacKey::from_base64(b64).map_err(|e| err(format!("HMAC_KEY_BASE64: {e}")))?),
        (None, Some(text)) => Some(HmacKey::new(text.as_bytes().to_vec()).map_err(|e| err(format!("HMAC_KEY: {e}")))?),
        (None, None) => None,
    };
    if key.is_none() || hmac_key.is_none() {
        warnings.push("no KEY_BASE64/HMAC_KEY_BASE64 pair: give the keys later (knock-cli profile set-key)".to_owned());
    }
    let name = profile_name(&stanza.name);
    Ok(ImportedSpa {
        name,
        stanza: stanza.name.clone(),
        profile: Profile::new_spa(host, settings),
        key,
        hmac_key,
        warnings,
    })
}

fn profile_name(stanza: &str) -> String {
    let cleaned: String = stanza
        .chars()
        .map(|c| if c.is_ascii_alphanumeric() || matches!(c, '.' | '_' | '-') { c } else { '-' })
        .collect();
    let cleaned = cleaned.trim_start_matches(['.', '-']).to_owned();
    if validate_name(&cleaned).is_ok() { cleaned } else { format!("spa-{}", cleaned.len()) }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::sequence::Protocol;

    const RC: &str = "# fwknop client file\n[default]\nDIGEST_TYPE sha256\nHMAC_DIGEST_TYPE sha256\nSPA_SERVER_PORT 62201\n\n\
        [spalab]\nSPA_SERVER 10.201.0.1\nACCESS tcp/22\nALLOW_IP 10.201.0.2\nSPOOF_USER spauser\n\
        KEY_BASE64 CNmiXzecHgvpYHYfmcRo+B+gUnoIYRQPD7njqnN9LsQ=\n\
        HMAC_KEY_BASE64 p1TvXvCS7ameDT1sa0mFfptXKIkHXsBd1ssfXxmbGx72DOJR9jbT5iZ0NmCVHK3phqG6bAE4rhAEGTFCfLd41w==\n\
        USE_HMAC Y\n\n[web server]\nSPA_SERVER web.example.org\nACCESS tcp/443,udp/53\nALLOW_IP source\nFW_TIMEOUT 30\n";

    #[test]
    fn stanzas_become_spa_profiles_with_keys_apart() {
        let imported = profiles_from_fwknoprc(RC).expect("imports");
        assert_eq!(imported.len(), 2);
        let lab = &imported[0];
        assert_eq!((lab.name.as_str(), lab.profile.host.as_str()), ("spalab", "10.201.0.1"));
        let spa = lab.profile.spa().expect("spa");
        assert_eq!(spa.allow_ip, AllowIp::Address("10.201.0.2".parse().expect("ip")));
        assert_eq!(spa.user.as_deref(), Some("spauser"));
        assert_eq!(spa.access.entries(), [(Protocol::Tcp, 22)]);
        assert_eq!(lab.key.as_ref().map(SpaKey::len), Some(32));
        assert_eq!(lab.hmac_key.as_ref().map(HmacKey::len), Some(64));
        assert!(lab.warnings.is_empty(), "{:?}", lab.warnings);
        let text = toml::to_string(&lab.profile).expect("ser");
        assert!(!text.contains("CNmiXz") && !text.contains("p1TvX"), "keys never in the profile: {text}");

        let web = &imported[1];
        assert_eq!(web.name, "web-server", "names are made valid");
        let spa = web.profile.spa().expect("spa");
        assert_eq!((spa.allow_ip, spa.client_timeout_s), (AllowIp::Source, Some(30)));
        assert_eq!(spa.port.get(), 62201, "from [default]");
        assert!(web.key.is_none() && web.warnings.iter().any(|w| w.contains("set-key")));
    }

    #[test]
    fn errors_name_the_stanza_or_line() {
        assert!(matches!(profiles_from_fwknoprc("# nothing\n"), Err(FwknoprcError::Empty)));
        let e = profiles_from_fwknoprc("SPA_SERVER x\n").expect_err("outside").to_string();
        assert!(e.contains("line 1"), "{e}");
        let e = profiles_from_fwknoprc("[s]\nSPA_SERVER h\nACCESS sctp/22\n").expect_err("access").to_string();
        assert!(e.contains("[s]") && e.contains("ACCESS"), "{e}");
        let e =
            profiles_from_fwknoprc("[s]\nSPA_SERVER h\nACCESS tcp/22\nKEY_BASE64 ***\n").expect_err("key").to_string();
        assert!(e.contains("KEY_BASE64") && !e.contains("***"), "no key material in errors: {e}");
    }
}
