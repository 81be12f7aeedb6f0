//! The profile editor's state: the form as the user types it, validated field by field with the same
//! parsers as the CLI and the profile files, so an error can be shown next to its field and Save stays
//! disabled until every field is valid.
//!
//! A sequence field accepts knockd.conf syntax (`1300,8888:udp,9394`) or `env:VARIABLE` for a secret
//! read from the environment at knock time.
//!
//! The form has the profile's kind ([`EditorKind`]: a sequence, SPA or rotating) and keeps every kind's
//! fields, so switching back and forth loses nothing; Save builds the profile of the selected kind only.
//! A rotating profile is edited with its door's parameters (door, step, length, range, protocols,
//! exclusions); its door key stays in the keyring, as the SPA keys do when their fields are left empty.

use std::collections::BTreeMap;
use std::num::{NonZeroU16, NonZeroU32};

use client_core::StoreVersion;
use client_core::rotating::{RotatingError, Rotation};
use client_core::spa::{HmacKey, SpaKey};
use client_core::{AddressFamily, Method, Protocol, Sequence, TcpFlagSpec};
use client_core::{
    AllowIp, Profile, ProfileKind, RotatingKnock, SequenceKnock, SequenceSource, SpaSettings, Verify, parse_port_range,
    parse_protocols, validate_env_name, validate_host, validate_name, validate_tag,
};

/// The form fields that can carry an error.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum Field {
    Name,
    Host,
    Open,
    Close,
    TcpFlags,
    Delay,
    VerifyPort,
    VerifyTimeout,
    Attempts,
    Backoff,
    Tags,
    Access,
    AllowIp,
    SpaPort,
    SpaUser,
    SpaKeys,
    Door,
    Step,
    Length,
    Range,
    Protocols,
    Exclude,
}

/// The kind of profile the form describes, as [`ProfileKind`] has them.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum EditorKind {
    /// A knockd-style sequence (open, optional close).
    Sequence,
    /// One fwknop SPA datagram.
    Spa,
    /// A sequence derived from a door key and the time.
    Rotating,
}

impl EditorKind {
    pub const ALL: [EditorKind; 3] = [EditorKind::Sequence, EditorKind::Spa, EditorKind::Rotating];

    /// The selector's label.
    pub fn label(self) -> &'static str {
        match self {
            EditorKind::Sequence => "Knock sequence",
            EditorKind::Spa => "SPA (fwknop)",
            EditorKind::Rotating => "Rotating",
        }
    }
}

pub type FieldErrors = BTreeMap<Field, FieldError>;

/// What is wrong with one field, shown next to it. The parsers' own errors are kept (the message is
/// theirs, the type says which parser spoke).
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum FieldError {
    /// Name, host, tag, `env:` variable, allow IP, a door's port range and protocols.
    #[error(transparent)]
    Profile(#[from] client_core::ProfileError),
    /// Open or close sequence, TCP flags.
    #[error(transparent)]
    Sequence(#[from] client_core::SequenceError),
    /// Access list, user name.
    #[error(transparent)]
    Spa(#[from] client_core::spa::SpaError),
    /// A door's parameters, checked together.
    #[error(transparent)]
    Rotating(#[from] RotatingError),
    #[error(transparent)]
    Keys(#[from] KeysError),
    #[error(transparent)]
    Number(#[from] NumberError),
    #[error("enter a sequence, e.g. 1300,8888:udp,9394")]
    NoSequence,
    #[error("a profile named {0:?} already exists")]
    NameTaken(String),
    #[error(
        "discover needs an endpoint: set discover_url in the profile file (Open profiles folder, in the File menu)"
    )]
    DiscoverWithoutUrl,
}

/// Why the typed SPA keys cannot be used.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum KeysError {
    #[error("enter both keys (or neither, to keep the stored ones)")]
    OnlyOne,
    #[error("key: {0}")]
    Key(#[source] client_core::spa::SpaError),
    #[error("HMAC key: {0}")]
    HmacKey(#[source] client_core::spa::SpaError),
    #[error("the HMAC key must differ from the key")]
    SameKeys,
}

/// A number field that does not hold the number wanted; `expected` says which ("a port 1..=65535").
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum NumberError {
    #[error("enter {expected}")]
    Empty { expected: &'static str },
    #[error("{text:?} is not {expected}")]
    NotANumber { text: String, expected: &'static str },
    /// A number that parsed but is out of range; `allowed` says what is ("at least 1").
    #[error("must be {allowed}")]
    OutOfRange { allowed: &'static str },
}

const ENV_PREFIX: &str = "env:";

#[derive(Debug, Clone, PartialEq)]
pub struct Editor {
    /// The profile being edited and the version loaded, or None for a new profile.
    pub original: Option<(String, StoreVersion)>,
    pub name: String,
    pub host: String,
    pub family: AddressFamily,
    pub method: Method,
    pub delay_ms: String,
    pub open: String,
    pub close: String,
    pub tcp_flags: String,
    pub verify: bool,
    pub verify_port: String,
    pub verify_timeout_ms: String,
    pub attempts: String,
    pub backoff_ms: String,
    pub tags: String,
    pub notes: String,
    /// Which kind of profile Save builds.
    pub kind: EditorKind,
    pub access: String,
    pub allow_ip: String,
    pub spa_port: String,
    pub spa_user: String,
    /// Kept from the profile being edited (not editable here yet).
    pub spa_digest: client_core::spa::DigestType,
    pub spa_hmac: client_core::spa::HmacType,
    /// Kept from the profile being edited (set in the file or with knock-cli).
    pub spa_discover_url: Option<String>,
    /// Keys as fwknop's base64; empty when editing means "keep the keys in the keyring".
    pub spa_key: String,
    pub spa_hmac_key: String,
    /// The access.conf lines of keys generated here, shown once so they can go to the server.
    pub generated: Option<String>,
    /// A rotating profile's door: its name on the server, window step (s), hits per sequence, port range
    /// (`LOW-HIGH`), protocol per position (`tcp,udp,...`, empty: all TCP) and excluded ports (`22, 443`).
    pub door: String,
    pub step: String,
    pub length: String,
    pub range: String,
    pub protocols: String,
    pub exclude: String,
}

impl Editor {
    pub fn new_profile() -> Editor {
        let verify = Verify::new(NonZeroU16::new(22).unwrap_or(NonZeroU16::MIN));
        Editor {
            original: None,
            name: String::new(),
            host: String::new(),
            family: AddressFamily::Any,
            method: Method::Auto,
            delay_ms: "0".into(),
            open: String::new(),
            close: String::new(),
            tcp_flags: TcpFlagSpec::default().to_string(),
            verify: false,
            verify_port: verify.port.to_string(),
            verify_timeout_ms: verify.timeout_ms.to_string(),
            attempts: verify.attempts.to_string(),
            backoff_ms: verify.backoff_ms.to_string(),
            tags: String::new(),
            notes: String::new(),
            kind: EditorKind::Sequence,
            access: "tcp/22".into(),
            allow_ip: AllowIp::default().to_string(),
            spa_port: client_core::spa::DEFAULT_PORT.to_string(),
            spa_user: String::new(),
            spa_digest: Default::default(),
            spa_hmac: Default::default(),
            spa_discover_url: None,
            spa_key: String::new(),
            spa_hmac_key: String::new(),
            generated: None,
            door: String::new(),
            step: Rotation::DEFAULT_STEP.to_string(),
            length: Rotation::DEFAULT_LENGTH.to_string(),
            range: range_text(Rotation::DEFAULT_RANGE),
            protocols: String::new(),
            exclude: String::new(),
        }
    }

    /// Fills both key fields with a fresh pair and keeps the access.conf lines to show.
    pub fn generate_keys(&mut self) -> Result<(), client_core::spa::SpaError> {
        let (key, hmac) = client_core::spa::keygen()?;
        self.spa_key = key.to_base64();
        self.spa_hmac_key = hmac.to_base64();
        self.generated = Some(client_core::spa::format_key_lines(&key, &hmac));
        Ok(())
    }

    /// The keys typed or generated, if any; both or neither, valid and different.
    pub fn keys(&self) -> Result<Option<(SpaKey, HmacKey)>, KeysError> {
        match (self.spa_key.trim(), self.spa_hmac_key.trim()) {
            ("", "") => Ok(None),
            ("", _) | (_, "") => Err(KeysError::OnlyOne),
            (key, hmac) => {
                let key = SpaKey::from_base64(key).map_err(KeysError::Key)?;
                let hmac = HmacKey::from_base64(hmac).map_err(KeysError::HmacKey)?;
                if key.as_bytes() == hmac.as_bytes() {
                    return Err(KeysError::SameKeys);
                }
                Ok(Some((key, hmac)))
            }
        }
    }

    pub fn edit(name: &str, profile: &Profile, version: StoreVersion) -> Editor {
        let mut editor = Editor::from_profile(profile);
        editor.original = Some((name.to_owned(), version));
        editor.name = name.to_owned();
        editor
    }

    /// A new profile with `profile`'s settings, named `NAME-copy` (or `-copy-2`, ...) to be free.
    pub fn duplicate(name: &str, profile: &Profile, taken: &[String]) -> Editor {
        let mut editor = Editor::from_profile(profile);
        let mut candidate = format!("{name}-copy");
        let mut n = 2;
        while taken.contains(&candidate) {
            candidate = format!("{name}-copy-{n}");
            n += 1;
        }
        editor.name = candidate;
        editor
    }

    fn from_profile(profile: &Profile) -> Editor {
        let mut editor = Editor::new_profile();
        editor.host = profile.host.clone();
        editor.family = profile.family;
        match &profile.kind {
            ProfileKind::Sequence(knock) => {
                editor.kind = EditorKind::Sequence;
                editor.method = knock.method;
                editor.delay_ms = knock.delay_ms.to_string();
                editor.open = source_text(&knock.open);
                editor.close = knock.close.as_ref().map(source_text).unwrap_or_default();
                editor.tcp_flags = knock.tcp_flags.to_string();
            }
            ProfileKind::Spa(spa) => {
                editor.kind = EditorKind::Spa;
                editor.access = spa.access.to_string();
                editor.allow_ip = spa.allow_ip.to_string();
                editor.spa_port = spa.port.to_string();
                editor.spa_user = spa.user.clone().unwrap_or_default();
                editor.spa_digest = spa.digest;
                editor.spa_hmac = spa.hmac;
                editor.spa_discover_url = spa.discover_url.clone();
            }
            ProfileKind::Rotating(knock) => {
                let rotation = &knock.rotation;
                editor.kind = EditorKind::Rotating;
                editor.method = knock.method;
                editor.delay_ms = knock.delay_ms.to_string();
                editor.door = rotation.door.clone();
                editor.step = rotation.step.to_string();
                editor.length = rotation.length.to_string();
                editor.range = range_text(rotation.range);
                editor.protocols = rotation.protocols.iter().map(|p| p.as_str()).collect::<Vec<_>>().join(",");
                editor.exclude = rotation.exclude.iter().map(u16::to_string).collect::<Vec<_>>().join(", ");
            }
        }
        if let Some(verify) = profile.verify {
            editor.verify = true;
            editor.verify_port = verify.port.to_string();
            editor.verify_timeout_ms = verify.timeout_ms.to_string();
            editor.attempts = verify.attempts.to_string();
            editor.backoff_ms = verify.backoff_ms.to_string();
        }
        editor.tags = profile.tags.join(", ");
        editor.notes = profile.notes.clone();
        editor
    }

    pub fn is_new(&self) -> bool {
        self.original.is_none()
    }

    /// Every field's problem; empty when the form can be saved. `taken` are the names in the store.
    pub fn validate(&self, taken: &[String]) -> FieldErrors {
        match self.build(taken) {
            Ok(_) => FieldErrors::new(),
            Err(errors) => errors,
        }
    }

    /// The profile the form describes (of the selected kind), or every field's problem.
    pub fn build(&self, taken: &[String]) -> Result<Profile, FieldErrors> {
        let mut errors = FieldErrors::new();
        let mut check = |field, result: Result<(), FieldError>| {
            if let Err(error) = result {
                errors.insert(field, error);
            }
        };
        let name = self.name.trim();
        check(Field::Name, validate_name(name).map_err(FieldError::from));
        let renaming = self.original.as_ref().is_some_and(|(original, _)| original != name);
        if (self.is_new() || renaming) && taken.iter().any(|t| t == name) {
            check(Field::Name, Err(FieldError::NameTaken(name.to_owned())));
        }
        let host = self.host.trim();
        check(Field::Host, validate_host(host).map_err(FieldError::from));
        let kind = match self.kind {
            EditorKind::Sequence => self.build_sequence(&mut check),
            EditorKind::Spa => self.build_spa(&mut check),
            EditorKind::Rotating => self.build_rotating(&mut check),
        };
        let tags: Vec<String> =
            self.tags.split(',').map(str::trim).filter(|t| !t.is_empty()).map(str::to_owned).collect();
        for tag in &tags {
            check(Field::Tags, validate_tag(tag).map_err(FieldError::from));
        }
        let verify = if self.verify { self.build_verify(&mut check) } else { None };
        let Some(kind) = kind else { return Err(errors) };
        if !errors.is_empty() {
            return Err(errors);
        }
        let mut profile = Profile::with_kind(host, kind);
        profile.family = self.family;
        profile.tags = tags;
        profile.notes = self.notes.clone();
        profile.verify = verify;
        Ok(profile)
    }

    fn build_sequence(&self, check: &mut impl FnMut(Field, Result<(), FieldError>)) -> Option<ProfileKind> {
        let open = parse_source(&self.open);
        check(Field::Open, open.as_ref().map(drop).map_err(Clone::clone));
        let close = if self.close.trim().is_empty() { Ok(None) } else { parse_source(&self.close).map(Some) };
        check(Field::Close, close.as_ref().map(drop).map_err(Clone::clone));
        let flags = TcpFlagSpec::parse(&self.tcp_flags)
            .and_then(|spec| spec.sendable().map(|_| spec))
            .map_err(FieldError::from);
        check(Field::TcpFlags, flags.as_ref().map(drop).map_err(Clone::clone));
        let delay = number::<u64>(&self.delay_ms, "a number of milliseconds");
        check(Field::Delay, delay.as_ref().map(drop).map_err(Clone::clone));
        let (Ok(open), Ok(close), Ok(flags), Ok(delay)) = (open, close, flags, delay) else { return None };
        let knock = SequenceKnock { open, close, method: self.method, tcp_flags: flags, delay_ms: delay };
        Some(ProfileKind::Sequence(knock))
    }

    fn build_spa(&self, check: &mut impl FnMut(Field, Result<(), FieldError>)) -> Option<ProfileKind> {
        let access = self.access.parse::<client_core::spa::AccessList>().map_err(FieldError::from);
        check(Field::Access, access.as_ref().map(drop).map_err(Clone::clone));
        let allow_ip = self.allow_ip.parse::<AllowIp>().map_err(FieldError::from).and_then(|allow| {
            match (allow, &self.spa_discover_url) {
                (AllowIp::Discover, None) => Err(FieldError::DiscoverWithoutUrl),
                _ => Ok(allow),
            }
        });
        check(Field::AllowIp, allow_ip.as_ref().map(drop).map_err(Clone::clone));
        let port = number::<u16>(&self.spa_port, "a port 1..=65535")
            .and_then(|p| NonZeroU16::new(p).ok_or(NumberError::OutOfRange { allowed: "between 1 and 65535" }.into()));
        check(Field::SpaPort, port.as_ref().map(drop).map_err(Clone::clone));
        let user = self.spa_user.trim();
        if !user.is_empty() {
            check(Field::SpaUser, client_core::spa::validate_username(user).map_err(FieldError::from));
        }
        check(Field::SpaKeys, self.keys().map(drop).map_err(FieldError::from));
        let (Ok(access), Ok(allow_ip), Ok(port)) = (access, allow_ip, port) else { return None };
        let mut settings = SpaSettings::new(access);
        settings.allow_ip = allow_ip;
        settings.port = port;
        settings.user = (!user.is_empty()).then(|| user.to_owned());
        settings.digest = self.spa_digest;
        settings.hmac = self.spa_hmac;
        settings.discover_url = self.spa_discover_url.clone();
        Some(ProfileKind::Spa(settings))
    }

    /// The door's parameters, each parsed as the `[rotating]` table parses it, then checked together
    /// ([`Rotation::validate`]) with the problem shown at the field it is about.
    fn build_rotating(&self, check: &mut impl FnMut(Field, Result<(), FieldError>)) -> Option<ProfileKind> {
        let door = self.door.trim();
        let step = number::<u64>(&self.step, "a number of seconds");
        check(Field::Step, step.as_ref().map(drop).map_err(Clone::clone));
        let length = number::<usize>(&self.length, "a number of hits");
        check(Field::Length, length.as_ref().map(drop).map_err(Clone::clone));
        let range = parse_port_range(&self.range).map_err(FieldError::from);
        check(Field::Range, range.as_ref().map(drop).map_err(Clone::clone));
        let protocols = match self.protocols.trim() {
            "" => Ok(Vec::new()),
            text => parse_protocols(&text.replace(' ', "")).map_err(FieldError::from),
        };
        check(Field::Protocols, protocols.as_ref().map(drop).map_err(Clone::clone));
        let exclude: Result<Vec<u16>, FieldError> = self
            .exclude
            .split(',')
            .map(str::trim)
            .filter(|p| !p.is_empty())
            .map(|p| number::<u16>(p, "a port 1..=65535"))
            .collect();
        check(Field::Exclude, exclude.as_ref().map(drop).map_err(Clone::clone));
        let delay = number::<u64>(&self.delay_ms, "a number of milliseconds");
        check(Field::Delay, delay.as_ref().map(drop).map_err(Clone::clone));
        let (Ok(step), Ok(length), Ok(range), Ok(protocols), Ok(exclude), Ok(delay)) =
            (step, length, range, protocols, exclude, delay)
        else {
            if door.is_empty() {
                check(Field::Door, Err(RotatingError::EmptyDoor.into()));
            }
            return None;
        };
        let rotation = Rotation { door: door.to_owned(), step, length, range, protocols, exclude };
        if let Err(error) = rotation.validate() {
            let field = match error {
                RotatingError::EmptyDoor => Field::Door,
                RotatingError::ZeroStep => Field::Step,
                RotatingError::Length { .. } => Field::Length,
                RotatingError::Template { .. } => Field::Protocols,
                _ => Field::Range,
            };
            check(field, Err(error.into()));
            return None;
        }
        Some(ProfileKind::Rotating(RotatingKnock { rotation, method: self.method, delay_ms: delay }))
    }

    fn build_verify(&self, check: &mut impl FnMut(Field, Result<(), FieldError>)) -> Option<Verify> {
        let port = number::<u16>(&self.verify_port, "a port 1..=65535")
            .and_then(|p| NonZeroU16::new(p).ok_or(NumberError::OutOfRange { allowed: "between 1 and 65535" }.into()));
        let timeout = number::<u64>(&self.verify_timeout_ms, "a number of milliseconds");
        let attempts = number::<u32>(&self.attempts, "a whole number")
            .and_then(|n| NonZeroU32::new(n).ok_or(NumberError::OutOfRange { allowed: "at least 1" }.into()));
        let backoff = number::<u64>(&self.backoff_ms, "a number of milliseconds");
        check(Field::VerifyPort, port.as_ref().map(drop).map_err(Clone::clone));
        check(Field::VerifyTimeout, timeout.as_ref().map(drop).map_err(Clone::clone));
        check(Field::Attempts, attempts.as_ref().map(drop).map_err(Clone::clone));
        check(Field::Backoff, backoff.as_ref().map(drop).map_err(Clone::clone));
        let (Ok(port), Ok(timeout_ms), Ok(attempts), Ok(backoff_ms)) = (port, timeout, attempts, backoff) else {
            return None;
        };
        Some(Verify { port, timeout_ms, attempts, backoff_ms })
    }
}

/// `1024-65535`, as the `[rotating]` table writes a range.
fn range_text((lo, hi): (u16, u16)) -> String {
    format!("{lo}-{hi}")
}

fn source_text(source: &SequenceSource) -> String {
    match source {
        // As the user (or the file) wrote it: `7000,8000:udp` is not rewritten to `7000:tcp,8000:udp`.
        SequenceSource::Inline(sequence) => sequence.as_written().into_owned(),
        SequenceSource::Env(var) => format!("{ENV_PREFIX}{var}"),
    }
}

fn parse_source(text: &str) -> Result<SequenceSource, FieldError> {
    let text = text.trim();
    if text.is_empty() {
        return Err(FieldError::NoSequence);
    }
    if let Some(var) = text.strip_prefix(ENV_PREFIX) {
        let var = var.trim();
        return Ok(validate_env_name(var).map(|()| SequenceSource::Env(var.to_owned()))?);
    }
    Ok(Sequence::parse_as_written(text, Protocol::Tcp).map(SequenceSource::Inline)?)
}

/// `text` as a number; `expected` names what the field holds, for the error.
fn number<T: std::str::FromStr>(text: &str, expected: &'static str) -> Result<T, FieldError> {
    let text = text.trim();
    text.parse().map_err(|_| {
        FieldError::Number(if text.is_empty() {
            NumberError::Empty { expected }
        } else {
            NumberError::NotANumber { text: text.to_owned(), expected }
        })
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Issue 24 item 6: the editor's messages speak of the app, never of knock-cli's flags.
    #[test]
    fn field_errors_use_no_cli_wording() {
        let message = FieldError::DiscoverWithoutUrl.to_string();
        assert!(!message.contains("knock-cli") && !message.contains("--"), "{message}");
    }

    fn valid() -> Editor {
        let mut e = Editor::new_profile();
        e.name = "bastion".into();
        e.host = "192.0.2.2".into();
        e.open = "1300,8888:udp,9394".into();
        e
    }

    #[test]
    fn a_valid_form_builds_the_profile() {
        let mut e = valid();
        e.verify = true;
        e.tags = "prod, eu".into();
        e.close = "env:CLOSE_SEQ".into();
        let profile = e.build(&[]).expect("valid");
        assert_eq!(
            profile.sequence().and_then(|k| k.open.inline()).map(ToString::to_string).as_deref(),
            Some("1300:tcp,8888:udp,9394:tcp")
        );
        assert_eq!(profile.sequence().and_then(|k| k.close.clone()), Some(SequenceSource::Env("CLOSE_SEQ".into())));
        assert_eq!(profile.tags, ["prod", "eu"]);
        assert_eq!(profile.verify.map(|v| v.port.get()), Some(22));
    }

    #[test]
    fn each_bad_field_gets_its_own_message() {
        let mut e = valid();
        e.name = "a/b".into();
        e.host = "no such host".into();
        e.open = "70000".into();
        e.close = "7000:foo".into();
        e.tcp_flags = "syn,ecn".into();
        e.delay_ms = "soon".into();
        e.tags = "ok, not ok".into();
        e.verify = true;
        e.verify_port = "0".into();
        e.attempts = "0".into();
        let errors = e.validate(&[]);
        for (field, needle) in [
            (Field::Name, "invalid profile name"),
            (Field::Host, "invalid host"),
            (Field::Open, "between 1 and 65535"),
            (Field::Close, "unknown protocol"),
            (Field::TcpFlags, "ecn"),
            (Field::Delay, "not a number of milliseconds"),
            (Field::Tags, "invalid tag"),
            (Field::VerifyPort, "between 1 and 65535"),
            (Field::Attempts, "at least 1"),
        ] {
            assert!(errors.get(&field).is_some_and(|m| m.to_string().contains(needle)), "{field:?}: {errors:?}");
        }
        assert!(!errors.contains_key(&Field::Backoff));
    }

    #[test]
    fn new_names_must_be_free_but_an_edit_keeps_its_own() {
        let e = valid();
        assert!(e.validate(&["bastion".into()]).contains_key(&Field::Name));
        let profile = e.build(&[]).expect("valid");
        let edit = Editor::edit("bastion", &profile, client_core::StoreVersion::default());
        assert!(edit.validate(&["bastion".into()]).is_empty());
    }

    #[test]
    fn editing_round_trips_and_duplicates_get_a_free_name() {
        let mut e = valid();
        e.verify = true;
        e.tags = "prod".into();
        let profile = e.build(&[]).expect("valid");
        let again = Editor::edit("bastion", &profile, client_core::StoreVersion::default());
        assert_eq!(again.build(&[]).expect("round trip"), profile);
        let copy = Editor::duplicate("bastion", &profile, &["bastion".into(), "bastion-copy".into()]);
        assert_eq!(copy.name, "bastion-copy-2");
        assert!(copy.is_new());
    }

    #[test]
    fn an_spa_form_builds_an_spa_profile_and_checks_its_keys() {
        let mut e = valid();
        e.kind = EditorKind::Spa;
        e.access = "tcp/22,udp/53".into();
        e.allow_ip = "source".into();
        assert!(e.validate(&[]).is_empty(), "keys may be left empty: {:?}", e.validate(&[]));
        e.generate_keys().expect("keys");
        assert!(e.generated.as_deref().is_some_and(|g| g.contains("KEY_BASE64: ") && g.contains("HMAC_KEY_BASE64: ")));
        let profile = e.build(&[]).expect("valid");
        assert!(profile.sequence().is_none() && profile.spa().is_some_and(|s| s.allow_ip == AllowIp::Source));
        assert!(e.keys().expect("keys").is_some());

        e.spa_hmac_key = e.spa_key.clone();
        assert!(e.validate(&[]).get(&Field::SpaKeys).is_some_and(|m| m.to_string().contains("differ")));
        e.spa_hmac_key.clear();
        assert!(e.validate(&[]).get(&Field::SpaKeys).is_some_and(|m| m.to_string().contains("both")));
        e.spa_key = "not base64!".into();
        e.spa_hmac_key = "x".into();
        assert!(e.validate(&[]).contains_key(&Field::SpaKeys));
        e.access = "sctp/22".into();
        e.spa_port = "0".into();
        let errors = e.validate(&[]);
        assert!(errors.contains_key(&Field::Access) && errors.contains_key(&Field::SpaPort), "{errors:?}");

        let again = Editor::edit("fw", &profile, client_core::StoreVersion::default());
        assert!(again.kind == EditorKind::Spa && again.spa_key.is_empty(), "editing never shows stored keys");
        assert_eq!(again.build(&[]).expect("round trip"), profile);
    }

    fn rotating_profile() -> Profile {
        let text = "host = \"192.0.2.2\"\nmethod = \"connect\"\ndelay_ms = 5\n[rotating]\ndoor = \"ssh\"\nstep = 60\n\
                    length = 3\nrange = \"20000-20999\"\nprotocols = \"tcp,udp,tcp\"\nexclude = [20022, 20023]\n";
        toml::from_str(text).expect("rotating profile")
    }

    /// Issue 26: editing a rotating profile keeps it rotating, with every parameter of its door.
    #[test]
    fn a_rotating_profile_round_trips_through_the_form() {
        let profile = rotating_profile();
        let e = Editor::edit("door", &profile, client_core::StoreVersion::default());
        assert_eq!(e.kind, EditorKind::Rotating);
        assert_eq!(
            (e.door.as_str(), e.step.as_str(), e.length.as_str(), e.range.as_str()),
            ("ssh", "60", "3", "20000-20999")
        );
        assert_eq!((e.protocols.as_str(), e.exclude.as_str()), ("tcp,udp,tcp", "20022, 20023"));
        assert_eq!((e.method, e.delay_ms.as_str()), (Method::Connect, "5"));
        assert_eq!(e.build(&[]).expect("round trip"), profile);
        let minimal: Profile = toml::from_str("host = \"h\"\n[rotating]\ndoor = \"d\"\n").expect("defaults");
        let e = Editor::edit("d", &minimal, client_core::StoreVersion::default());
        assert_eq!(e.build(&[]).expect("defaults round trip"), minimal);
    }

    #[test]
    fn switching_kinds_keeps_each_kinds_fields_and_saves_the_selected_one() {
        let mut e = valid();
        e.kind = EditorKind::Rotating;
        assert!(
            e.validate(&[]).get(&Field::Door).is_some_and(|m| m.to_string().contains("needs a name")),
            "{:?}",
            e.validate(&[])
        );
        e.door = "ssh".into();
        e.protocols = "tcp, udp, tcp, tcp".into();
        let profile = e.build(&[]).expect("valid");
        let knock = profile.rotating().expect("saved as rotating");
        assert_eq!((knock.rotation.door.as_str(), knock.rotation.protocols.len()), ("ssh", 4));
        assert_eq!(knock.rotation.range, Rotation::DEFAULT_RANGE);
        e.kind = EditorKind::Sequence;
        assert!(e.build(&[]).expect("valid").sequence().is_some(), "the open sequence was kept");
        e.kind = EditorKind::Spa;
        assert!(e.build(&[]).expect("valid").spa().is_some());
    }

    #[test]
    fn each_bad_rotating_field_gets_its_own_message() {
        let mut e = Editor::edit("door", &rotating_profile(), client_core::StoreVersion::default());
        e.step = "0".into();
        assert!(e.validate(&[]).get(&Field::Step).is_some_and(|m| m.to_string().contains("at least 1 second")));
        e.step = "soon".into();
        e.length = "x".into();
        e.range = "9-1".into();
        e.protocols = "tcp,sctp,tcp".into();
        e.exclude = "22, http".into();
        let errors = e.validate(&[]);
        for (field, needle) in [
            (Field::Step, "not a number of seconds"),
            (Field::Length, "not a number of hits"),
            (Field::Range, "invalid port range"),
            (Field::Protocols, "sctp"),
            (Field::Exclude, "\"http\" is not a port"),
        ] {
            assert!(errors.get(&field).is_some_and(|m| m.to_string().contains(needle)), "{field:?}: {errors:?}");
        }
        let mut e = Editor::edit("door", &rotating_profile(), client_core::StoreVersion::default());
        e.length = "4".into();
        assert!(e.validate(&[]).get(&Field::Protocols).is_some_and(|m| m.to_string().contains("template has 3")));
        e.protocols.clear();
        e.range = "20000-20002".into();
        assert!(e.validate(&[]).get(&Field::Range).is_some_and(|m| m.to_string().contains("cannot hold 4")));
        e.length = "17".into();
        assert!(e.validate(&[]).contains_key(&Field::Length));
    }
}
