//! Host profiles: one saved host, what to knock and how to tell that it worked.
//!
//! A profile is stored as `NAME.toml` (see [`crate::store`]); the name is the file name, so renaming is a
//! file rename and a profile never disagrees with its file about who it is. Every value is parsed with the
//! same strict parsers as the command line, and unknown keys are errors, so a typo in a hand-edited file
//! is reported with its line and column instead of being ignored.
//!
//! ```toml
//! id = "4f1c0a9e8b7d6c5e4f3a2b1c0d9e8f7a" # written by the store: the profile's identity (see ProfileId)
//! host = "bastion.example.org"
//! family = "ipv4"          # any (default) | ipv4 | ipv6 | both (each family knocked and verified)
//! method = "auto"          # auto (default) | raw | connect
//! delay_ms = 100           # between hits
//! open = "7000,8000:udp,9000"
//! close = "9000,8000:udp,7000"
//! tcp_flags = "syn"        # knockd.conf syntax, e.g. "syn,!ack"
//! tags = ["prod"]
//! notes = "jump host"
//!
//! [verify]                 # optional: check the service after knocking
//! port = 22
//! timeout_ms = 5000        # how long to wait for it per attempt
//! attempts = 3             # knocks in all, each a fresh sequence
//! backoff_ms = 1000        # pause before the 2nd attempt, doubled after each
//! ```
//!
//! A sequence is a secret. Where it must not sit in a file (CI), a profile names an environment variable
//! instead: `open = { env = "BASTION_SEQUENCE" }`. It is read at knock time, its value never appears in
//! an error, and front ends mask the ports of such a knock ((`KnockRequest::secret_ports`)). Keys (SPA,
//! rotating) live in the OS keyring under the profile's [`ProfileId`], never in the file.

use std::fmt;
use std::num::{NonZeroU16, NonZeroU32};
use std::str::FromStr;
use std::time::Duration;

use serde::{Deserialize, Deserializer, Serialize, Serializer};
use thiserror::Error;

use crate::rotating::Rotation;
use crate::sequence::{Sequence, TcpFlagSpec};
use crate::settings::{AddressFamily, Method};
use crate::spa::AccessList;

/// A saved host: where it is, what kind of knock opens it, and how to tell that it worked.
///
/// The kind is a type ([`ProfileKind`]): a profile is a sequence knock or an SPA knock, never both or
/// neither, and only a sequence knock has a close sequence, TCP flags, a send method or a delay. The file
/// keeps its flat, knockd-like layout (`ProfileFile`); combinations that do not make sense are refused
/// when it is read.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(try_from = "ProfileFile", into = "ProfileFile")]
pub struct Profile {
    /// Who the profile is, whatever its name: its keyring secrets are stored under this id, so they
    /// follow renames and are never inherited by a later profile of the same name. The store manages it
    /// ([`crate::store::ProfileStore::create`] gives a new profile a fresh one, saves keep the file's);
    /// `None` only for a file written before profiles had ids, until the store migrates it.
    pub id: Option<ProfileId>,
    /// DNS name or IP address.
    pub host: String,
    pub family: AddressFamily,
    pub kind: ProfileKind,
    pub tags: Vec<String>,
    pub notes: String,
    pub verify: Option<Verify>,
}

/// A profile's identity: 128 random bits, written in its file as `id = "<32 hex digits>"`. Not a
/// secret (it names keyring entries, it unlocks nothing); unique with overwhelming probability, so a
/// profile made later, even under the same name, never finds the keys of an earlier one.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct ProfileId([u8; 16]);

impl ProfileId {
    /// A fresh id from the OS's random source.
    pub fn random() -> Result<ProfileId, ProfileError> {
        let mut bytes = [0u8; 16];
        getrandom::fill(&mut bytes).map_err(|err| ProfileError::NoRandomId { why: err.to_string() })?;
        Ok(ProfileId(bytes))
    }
}

impl fmt::Display for ProfileId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        self.0.iter().try_for_each(|byte| write!(f, "{byte:02x}"))
    }
}

impl FromStr for ProfileId {
    type Err = ProfileError;

    /// 32 hexadecimal digits (either case; written back in lower case).
    fn from_str(text: &str) -> Result<ProfileId, ProfileError> {
        let invalid = || ProfileError::InvalidId { id: text.to_owned() };
        if text.len() != 32 || !text.bytes().all(|b| b.is_ascii_hexdigit()) {
            return Err(invalid());
        }
        let mut bytes = [0u8; 16];
        for (byte, pair) in bytes.iter_mut().zip(text.as_bytes().chunks_exact(2)) {
            let pair = std::str::from_utf8(pair).map_err(|_| invalid())?;
            *byte = u8::from_str_radix(pair, 16).map_err(|_| invalid())?;
        }
        Ok(ProfileId(bytes))
    }
}

/// What is sent to open the door.
#[derive(Debug, Clone, PartialEq)]
pub enum ProfileKind {
    /// A knockd-style sequence of TCP/UDP hits.
    Sequence(SequenceKnock),
    /// One fwknop Single Packet Authorization datagram (keys are never in the file).
    Spa(SpaSettings),
    /// A sequence derived from a door key and the time ([`crate::rotating`]); the key is never in the file.
    Rotating(RotatingKnock),
}

impl ProfileKind {
    /// `sequence`, `spa` or `rotating`: the kind as JSON documents and front ends name it.
    pub fn as_str(&self) -> &'static str {
        match self {
            ProfileKind::Sequence(_) => "sequence",
            ProfileKind::Spa(_) => "spa",
            ProfileKind::Rotating(_) => "rotating",
        }
    }
}

/// A rotating profile's knock: the door's parameters (they must match the server's) and how hits are sent.
#[derive(Debug, Clone, PartialEq)]
pub struct RotatingKnock {
    pub rotation: Rotation,
    pub method: Method,
    /// Pause between hits.
    pub delay_ms: u64,
}

/// The `[rotating]` table as written: `door`, `step`, `length`, `range = "1024-65535"`,
/// `protocols = "tcp,udp,tcp,tcp"`, `exclude = [22]`.
#[derive(Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
struct RotatingTable {
    door: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    step: Option<u64>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    length: Option<usize>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    range: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    protocols: Option<String>,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    exclude: Vec<u16>,
}

impl TryFrom<RotatingTable> for Rotation {
    type Error = ProfileError;

    fn try_from(table: RotatingTable) -> Result<Rotation, ProfileError> {
        let mut rotation = Rotation::new(table.door);
        rotation.step = table.step.unwrap_or(Rotation::DEFAULT_STEP);
        rotation.length = table.length.unwrap_or(Rotation::DEFAULT_LENGTH);
        if let Some(range) = &table.range {
            rotation.range =
                parse_port_range(range).map_err(|e| ProfileError::InvalidRotating { why: e.to_string() })?;
        }
        if let Some(protocols) = &table.protocols {
            rotation.protocols =
                parse_protocols(protocols).map_err(|e| ProfileError::InvalidRotating { why: e.to_string() })?;
        }
        rotation.exclude = table.exclude;
        rotation.validate().map_err(|e| ProfileError::InvalidRotating { why: e.to_string() })?;
        Ok(rotation)
    }
}

impl From<&Rotation> for RotatingTable {
    fn from(rotation: &Rotation) -> RotatingTable {
        let (lo, hi) = rotation.range;
        RotatingTable {
            door: rotation.door.clone(),
            step: Some(rotation.step).filter(|s| *s != Rotation::DEFAULT_STEP),
            length: Some(rotation.length).filter(|l| *l != Rotation::DEFAULT_LENGTH),
            range: Some(format!("{lo}-{hi}")).filter(|_| rotation.range != Rotation::DEFAULT_RANGE),
            protocols: (!rotation.protocols.is_empty())
                .then(|| rotation.protocols.iter().map(|p| p.as_str()).collect::<Vec<_>>().join(",")),
            exclude: rotation.exclude.clone(),
        }
    }
}

/// `1024-65535`: two ports, low to high.
pub fn parse_port_range(text: &str) -> Result<(u16, u16), ProfileError> {
    let invalid = || ProfileError::InvalidPortRange { range: text.to_owned() };
    let (lo, hi) = text.trim().split_once('-').ok_or_else(invalid)?;
    let (lo, hi): (u16, u16) = (lo.trim().parse().map_err(|_| invalid())?, hi.trim().parse().map_err(|_| invalid())?);
    if lo == 0 || lo > hi {
        return Err(invalid());
    }
    Ok((lo, hi))
}

/// `tcp,udp,tcp,tcp`: one protocol per position.
pub fn parse_protocols(text: &str) -> Result<Vec<crate::sequence::Protocol>, ProfileError> {
    text.split(',').map(|p| p.parse().map_err(ProfileError::Protocols)).collect()
}

/// A sequence profile's knock: the hits that open (and optionally close) the door, and how they are sent.
#[derive(Debug, Clone, PartialEq)]
pub struct SequenceKnock {
    /// The sequence that opens the door.
    pub open: SequenceSource,
    /// The sequence that closes it again, if the server has one.
    pub close: Option<SequenceSource>,
    pub method: Method,
    pub tcp_flags: TcpFlagSpec,
    /// Pause between hits.
    pub delay_ms: u64,
}

impl SequenceKnock {
    pub fn new(open: impl Into<SequenceSource>) -> SequenceKnock {
        SequenceKnock {
            open: open.into(),
            close: None,
            method: Method::Auto,
            tcp_flags: TcpFlagSpec::default(),
            delay_ms: 0,
        }
    }

    /// True when sending it needs raw sockets (anything but a plain SYN, or `method = "raw"`).
    pub fn needs_raw(&self) -> bool {
        crate::knock::needs_raw(self.method, self.tcp_flags)
    }
}

/// The file layout of a profile: flat keys, as written since the first release. Only [`Profile`]'s
/// serde goes through it.
#[derive(Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
struct ProfileFile {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    id: Option<ProfileId>,
    #[serde(deserialize_with = "host")]
    host: String,
    #[serde(default, skip_serializing_if = "is_default")]
    family: AddressFamily,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    method: Option<Method>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    delay_ms: Option<u64>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    open: Option<SequenceSource>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    close: Option<SequenceSource>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    tcp_flags: Option<TcpFlagSpec>,
    #[serde(default, skip_serializing_if = "Vec::is_empty", deserialize_with = "tags")]
    tags: Vec<String>,
    #[serde(default, skip_serializing_if = "String::is_empty")]
    notes: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    spa: Option<SpaSettings>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    rotating: Option<RotatingTable>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    verify: Option<Verify>,
}

impl TryFrom<ProfileFile> for Profile {
    type Error = ProfileError;

    fn try_from(file: ProfileFile) -> Result<Profile, ProfileError> {
        let kind = match (file.open, file.spa, file.rotating) {
            (None, None, Some(table)) => {
                if file.close.is_some() || file.tcp_flags.is_some() {
                    return Err(ProfileError::RotatingWithSequenceKeys);
                }
                let rotation = Rotation::try_from(table)?;
                ProfileKind::Rotating(RotatingKnock {
                    rotation,
                    method: file.method.unwrap_or_default(),
                    delay_ms: file.delay_ms.unwrap_or_default(),
                })
            }
            (Some(open), None, None) => ProfileKind::Sequence(SequenceKnock {
                open,
                close: file.close,
                method: file.method.unwrap_or_default(),
                tcp_flags: file.tcp_flags.unwrap_or_default(),
                delay_ms: file.delay_ms.unwrap_or_default(),
            }),
            (None, Some(spa), None) => {
                if file.close.is_some() {
                    return Err(ProfileError::SpaWithClose);
                }
                if file.method.is_some() || file.tcp_flags.is_some() || file.delay_ms.is_some() {
                    return Err(ProfileError::SpaWithSequenceKeys);
                }
                ProfileKind::Spa(spa)
            }
            (None, None, None) => return Err(ProfileError::NeitherKind),
            _ => return Err(ProfileError::BothKinds),
        };
        let profile = Profile {
            id: file.id,
            host: file.host,
            family: file.family,
            kind,
            tags: file.tags,
            notes: file.notes,
            verify: file.verify,
        };
        profile.validate()?;
        Ok(profile)
    }
}

impl From<Profile> for ProfileFile {
    fn from(profile: Profile) -> ProfileFile {
        let mut file = ProfileFile {
            id: profile.id,
            host: profile.host,
            family: profile.family,
            method: None,
            delay_ms: None,
            open: None,
            close: None,
            tcp_flags: None,
            tags: profile.tags,
            notes: profile.notes,
            spa: None,
            rotating: None,
            verify: profile.verify,
        };
        match profile.kind {
            ProfileKind::Sequence(knock) => {
                file.open = Some(knock.open);
                file.close = knock.close;
                file.method = Some(knock.method).filter(|m| *m != Method::default());
                file.tcp_flags = Some(knock.tcp_flags).filter(|f| *f != TcpFlagSpec::default());
                file.delay_ms = Some(knock.delay_ms).filter(|d| *d != 0);
            }
            ProfileKind::Spa(spa) => file.spa = Some(spa),
            ProfileKind::Rotating(knock) => {
                file.rotating = Some(RotatingTable::from(&knock.rotation));
                file.method = Some(knock.method).filter(|m| *m != Method::default());
                file.delay_ms = Some(knock.delay_ms).filter(|d| *d != 0);
            }
        }
        file
    }
}

/// An SPA profile's settings: what to ask the fwknopd server for, and how.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SpaSettings {
    /// fwknopd's UDP port.
    #[serde(default = "SpaSettings::default_port")]
    pub port: NonZeroU16,
    /// What to open, fwknop's ACCESS syntax: `tcp/22` or `tcp/22,udp/53`.
    pub access: AccessList,
    /// Which address the server should open the ports for.
    #[serde(default, skip_serializing_if = "is_default")]
    pub allow_ip: AllowIp,
    /// The username in the packet (fwknopd can require one); default: the login name.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub user: Option<String>,
    #[serde(default, skip_serializing_if = "is_default")]
    pub digest: crate::spa::DigestType,
    #[serde(default, skip_serializing_if = "is_default")]
    pub hmac: crate::spa::HmacType,
    /// Seconds added to the clock, for a client whose clock is off (fwknopd accepts ±120 s by default).
    #[serde(default, skip_serializing_if = "is_default")]
    pub time_offset_s: i64,
    /// Ask the server to close again after this many seconds (fwknop's client timeout).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub client_timeout_s: Option<u32>,
    /// With `allow_ip = "discover"`: an HTTPS endpoint that answers with the caller's public IPv4
    /// address as text (for clients behind NAT). Nothing is fetched unless this is set.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub discover_url: Option<String>,
}

impl SpaSettings {
    fn default_port() -> NonZeroU16 {
        NonZeroU16::new(crate::spa::DEFAULT_PORT).unwrap_or(NonZeroU16::MIN)
    }

    /// `allow_ip = "discover"` needs an endpoint, and endpoints are HTTPS only: over plain HTTP an on-path
    /// attacker would choose the address the packet lets in.
    pub fn validate(&self) -> Result<(), ProfileError> {
        match &self.discover_url {
            None if self.allow_ip == AllowIp::Discover => Err(ProfileError::DiscoverWithoutUrl),
            Some(url) if !url.get(..8).is_some_and(|scheme| scheme.eq_ignore_ascii_case("https://")) => {
                Err(ProfileError::DiscoverUrl { url: url.clone() })
            }
            _ => Ok(()),
        }
    }

    pub fn new(access: AccessList) -> SpaSettings {
        SpaSettings {
            port: SpaSettings::default_port(),
            access,
            allow_ip: AllowIp::default(),
            user: None,
            digest: Default::default(),
            hmac: Default::default(),
            time_offset_s: 0,
            client_timeout_s: None,
            discover_url: None,
        }
    }
}

/// Which address goes into the SPA packet as the one to let in.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum AllowIp {
    /// This host's own address towards the server (what the server sees when there is no NAT).
    #[default]
    Local,
    /// fwknop's `-s`: 0.0.0.0, "whatever address the packet comes from" (fwknopd refuses it with
    /// REQUIRE_SOURCE_ADDRESS Y, its default).
    Source,
    /// An explicit address (e.g. the NAT's public address).
    Address(std::net::Ipv4Addr),
    /// The public address as seen by `discover_url` (asked before every knock; off unless configured).
    Discover,
}

impl FromStr for AllowIp {
    type Err = ProfileError;
    fn from_str(s: &str) -> Result<AllowIp, ProfileError> {
        match s.trim() {
            "local" => Ok(AllowIp::Local),
            "source" => Ok(AllowIp::Source),
            "discover" => Ok(AllowIp::Discover),
            other => other
                .parse()
                .map(AllowIp::Address)
                .map_err(|_| ProfileError::InvalidAllowIp { allow_ip: other.to_owned() }),
        }
    }
}

impl fmt::Display for AllowIp {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            AllowIp::Local => f.write_str("local"),
            AllowIp::Source => f.write_str("source"),
            AllowIp::Discover => f.write_str("discover"),
            AllowIp::Address(ip) => write!(f, "{ip}"),
        }
    }
}

/// How to tell that knocking worked, and how hard to try.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Verify {
    /// TCP port that should accept connections once the door is open.
    pub port: NonZeroU16,
    /// How long to keep probing after each knock.
    #[serde(default = "Verify::default_timeout_ms")]
    pub timeout_ms: u64,
    /// Knocks in all (the first plus retries), each a fresh sequence.
    #[serde(default = "Verify::default_attempts")]
    pub attempts: NonZeroU32,
    /// Pause before the second attempt; doubled before each further one.
    #[serde(default = "Verify::default_backoff_ms")]
    pub backoff_ms: u64,
}

impl Verify {
    pub const MAX_BACKOFF: Duration = Duration::from_secs(30);

    pub fn new(port: NonZeroU16) -> Verify {
        Verify {
            port,
            timeout_ms: Verify::default_timeout_ms(),
            attempts: Verify::default_attempts(),
            backoff_ms: Verify::default_backoff_ms(),
        }
    }

    fn default_timeout_ms() -> u64 {
        5000
    }

    fn default_attempts() -> NonZeroU32 {
        NonZeroU32::MIN.saturating_add(2)
    }

    fn default_backoff_ms() -> u64 {
        1000
    }

    pub fn timeout(&self) -> Duration {
        Duration::from_millis(self.timeout_ms)
    }

    /// The pause before attempt `next` (2, 3, ...): backoff, doubled each time, capped.
    pub fn backoff_before(&self, next: u32) -> Duration {
        let doublings = next.saturating_sub(2).min(16);
        Duration::from_millis(self.backoff_ms.saturating_mul(1 << doublings)).min(Verify::MAX_BACKOFF)
    }
}

/// Which sequence of a profile to send.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Action {
    Open,
    Close,
}

impl Action {
    pub fn as_str(self) -> &'static str {
        match self {
            Action::Open => "open",
            Action::Close => "close",
        }
    }
}

impl fmt::Display for Action {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

#[derive(Debug, Clone, PartialEq, Eq, Error)]
pub enum ProfileError {
    #[error(
        "invalid profile name {name:?}: use 1 to 64 letters, digits, '.', '_' or '-', not starting with '.' or '-'"
    )]
    InvalidName { name: String },
    #[error("invalid tag {tag:?}: use 1 to 64 letters, digits, '.', '_' or '-'")]
    InvalidTag { tag: String },
    #[error("invalid id {id:?}: 32 hexadecimal digits (the store writes it; delete the line to get a new one)")]
    InvalidId { id: String },
    #[error("invalid port range {range:?}: give LOW-HIGH with ports 1..=65535, e.g. 1024-65535")]
    InvalidPortRange { range: String },
    #[error(transparent)]
    Protocols(crate::sequence::SequenceError),
    #[error("invalid allow_ip {allow_ip:?}: use \"local\", \"source\", \"discover\" or an IPv4 address")]
    InvalidAllowIp { allow_ip: String },
    #[error(
        "allow_ip = \"discover\" needs discover_url = \"https://...\" (an endpoint that answers with your public IPv4 address)"
    )]
    DiscoverWithoutUrl,
    #[error(
        "invalid discover_url {url:?}: give an https:// URL (plain HTTP would let anyone on the path choose the address the packet lets in)"
    )]
    DiscoverUrl { url: String },
    #[error("a profile needs `open = \"7000,8000,9000\"` (a knock sequence), an [spa] table or a [rotating] table")]
    NeitherKind,
    #[error("a profile has one of `open` (a knock sequence), an [spa] table or a [rotating] table, not several")]
    BothKinds,
    #[error("`close` and `tcp_flags` belong to sequence profiles; a rotating profile derives its hits (SYNs)")]
    RotatingWithSequenceKeys,
    #[error("invalid [rotating] table: {why}")]
    InvalidRotating { why: String },
    #[error("an SPA profile has no close sequence: fwknopd closes by itself after its access timeout")]
    SpaWithClose,
    #[error("`method`, `tcp_flags` and `delay_ms` belong to sequence profiles; an SPA profile sends one UDP datagram")]
    SpaWithSequenceKeys,
    #[error(
        "profile {name:?} is an SPA profile: it has no close sequence (fwknopd closes the door by itself after its access timeout)"
    )]
    SpaHasNoClose { name: String },
    #[error("profile {name:?} is not a static knock sequence (it is an SPA or a rotating profile)")]
    NotASequence { name: String },
    #[error(
        "SPA profile {name:?} has no keys: set ${key_var} and ${hmac_var} (fwknop's KEY_BASE64 and \
         HMAC_KEY_BASE64; `knock-cli spa keygen` makes a pair), or the generic KNOCK_SPA_KEY_BASE64 and \
         KNOCK_SPA_HMAC_KEY_BASE64, or store them in the OS keyring with `knock-cli profile set-key {name}`"
    )]
    SpaKeysMissing { name: String, key_var: String, hmac_var: String },
    #[error(
        "rotating profile {name:?} has no door key: store it with `knock-cli profile set-key {name}` (base32 on \
         stdin), or set ${var} (or the generic KNOCK_ROTATING_KEY) for CI"
    )]
    RotatingKeyMissing { name: String, var: String },
    #[error("SPA profile {name:?}: {var} is not a usable key: {why}")]
    SpaKeyInvalid { name: String, var: String, why: String },
    #[error(
        "SPA profile {name:?}: allow_ip \"local\" names this host's IPv4 address, but the profile is IPv6-only; set allow_ip to an IPv4 address or \"source\""
    )]
    SpaLocalNeedsIpv4 { name: String },
    #[error("invalid host {host:?}: give a DNS name (bastion.example.org) or an IP address (192.0.2.2, 2001:db8::2)")]
    InvalidHost { host: String },
    #[error("profile {name:?} has no close sequence (add one with `knock-cli profile edit {name} --close ...`)")]
    NoCloseSequence { name: String },
    #[error("profile {name:?} takes its {action} sequence from ${var}, which is not set")]
    EnvNotSet { name: String, action: Action, var: String },
    // The value is a secret: say what is wrong with it, never what it is.
    #[error(
        "profile {name:?} takes its {action} sequence from ${var}, which does not hold a valid sequence \
         (expected PORT[:tcp|udp],... with ports 1..=65535)"
    )]
    EnvInvalid { name: String, action: Action, var: String },
    #[error("invalid environment variable name {var:?}: use letters, digits and '_', not starting with a digit")]
    InvalidEnvName { var: String },
    #[error("cannot make a profile id: the OS random source failed: {why}")]
    NoRandomId { why: String },
}

/// Where a sequence comes from.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum SequenceSource {
    /// Written in the profile: `open = "7000,8000:udp"`.
    Inline(Sequence),
    /// Read from an environment variable at knock time: `open = { env = "VAR" }`.
    Env(String),
}

impl SequenceSource {
    /// The sequence to send; `name` and `action` only shape the error.
    pub fn resolve(&self, name: &str, action: Action) -> Result<Sequence, ProfileError> {
        let var = match self {
            SequenceSource::Inline(sequence) => return Ok(sequence.clone()),
            SequenceSource::Env(var) => var,
        };
        let (name, var_name) = (name.to_owned(), var.clone());
        let value = std::env::var(var).map_err(|_| ProfileError::EnvNotSet {
            name: name.clone(),
            action,
            var: var_name.clone(),
        })?;
        Sequence::parse(&value, crate::sequence::Protocol::Tcp).map_err(|_| ProfileError::EnvInvalid {
            name,
            action,
            var: var_name,
        })
    }

    /// True when the ports must not be shown (they come from outside the profile file).
    pub fn is_secret(&self) -> bool {
        matches!(self, SequenceSource::Env(_))
    }

    /// The sequence written in the profile, if it is.
    pub fn inline(&self) -> Option<&Sequence> {
        match self {
            SequenceSource::Inline(sequence) => Some(sequence),
            SequenceSource::Env(_) => None,
        }
    }
}

impl From<Sequence> for SequenceSource {
    fn from(sequence: Sequence) -> Self {
        SequenceSource::Inline(sequence)
    }
}

impl PartialEq<Sequence> for SequenceSource {
    fn eq(&self, other: &Sequence) -> bool {
        self.inline() == Some(other)
    }
}

pub fn validate_env_name(var: &str) -> Result<(), ProfileError> {
    let ok = !var.is_empty()
        && !var.starts_with(|c: char| c.is_ascii_digit())
        && var.chars().all(|c| c.is_ascii_alphanumeric() || c == '_');
    if ok { Ok(()) } else { Err(ProfileError::InvalidEnvName { var: var.to_owned() }) }
}

impl Serialize for SequenceSource {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        match self {
            SequenceSource::Inline(sequence) => sequence.serialize(serializer),
            SequenceSource::Env(var) => {
                use serde::ser::SerializeMap;
                let mut map = serializer.serialize_map(Some(1))?;
                map.serialize_entry("env", var)?;
                map.end()
            }
        }
    }
}

impl<'de> Deserialize<'de> for SequenceSource {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        deserializer.deserialize_any(SourceVisitor)
    }
}

/// Accepts `"7000,8000:udp"` or `{ env = "VAR" }`, with errors that say which forms are valid.
struct SourceVisitor;

impl<'de> serde::de::Visitor<'de> for SourceVisitor {
    type Value = SequenceSource;

    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("a sequence like \"7000,8000:udp,9000\" or { env = \"VARIABLE\" }")
    }

    fn visit_str<E: serde::de::Error>(self, text: &str) -> Result<SequenceSource, E> {
        Sequence::parse_as_written(text, crate::sequence::Protocol::Tcp).map(SequenceSource::Inline).map_err(E::custom)
    }

    fn visit_map<A: serde::de::MapAccess<'de>>(self, mut map: A) -> Result<SequenceSource, A::Error> {
        let mut var: Option<String> = None;
        while let Some(key) = map.next_key::<String>()? {
            if key != "env" || var.is_some() {
                return Err(serde::de::Error::custom(format!(
                    "unexpected key `{key}` in a sequence table: the only key is `env`"
                )));
            }
            let name: String = map.next_value()?;
            validate_env_name(&name).map_err(serde::de::Error::custom)?;
            var = Some(name);
        }
        var.map(SequenceSource::Env).ok_or_else(|| serde::de::Error::missing_field("env"))
    }
}

impl Profile {
    /// A sequence profile for `host` that opens with `open`.
    pub fn new(host: impl Into<String>, open: Sequence) -> Profile {
        Profile::with_kind(host, ProfileKind::Sequence(SequenceKnock::new(open)))
    }

    /// An SPA profile for `host`.
    pub fn new_spa(host: impl Into<String>, settings: SpaSettings) -> Profile {
        Profile::with_kind(host, ProfileKind::Spa(settings))
    }

    pub fn with_kind(host: impl Into<String>, kind: ProfileKind) -> Profile {
        Profile {
            id: None,
            host: host.into(),
            family: AddressFamily::Any,
            kind,
            tags: Vec::new(),
            notes: String::new(),
            verify: None,
        }
    }

    /// The sequence knock, for a sequence profile.
    pub fn sequence(&self) -> Option<&SequenceKnock> {
        match &self.kind {
            ProfileKind::Sequence(knock) => Some(knock),
            _ => None,
        }
    }

    pub fn sequence_mut(&mut self) -> Option<&mut SequenceKnock> {
        match &mut self.kind {
            ProfileKind::Sequence(knock) => Some(knock),
            _ => None,
        }
    }

    /// The SPA settings, for an SPA profile.
    pub fn spa(&self) -> Option<&SpaSettings> {
        match &self.kind {
            ProfileKind::Spa(settings) => Some(settings),
            _ => None,
        }
    }

    pub fn spa_mut(&mut self) -> Option<&mut SpaSettings> {
        match &mut self.kind {
            ProfileKind::Spa(settings) => Some(settings),
            _ => None,
        }
    }

    /// The rotating knock, for a rotating profile.
    pub fn rotating(&self) -> Option<&RotatingKnock> {
        match &self.kind {
            ProfileKind::Rotating(knock) => Some(knock),
            _ => None,
        }
    }

    pub fn rotating_mut(&mut self) -> Option<&mut RotatingKnock> {
        match &mut self.kind {
            ProfileKind::Rotating(knock) => Some(knock),
            _ => None,
        }
    }

    pub fn is_spa(&self) -> bool {
        matches!(self.kind, ProfileKind::Spa(_))
    }

    /// True when knocking it needs raw sockets (the one rule, shared by the engine's callers and the app).
    pub fn needs_raw(&self) -> bool {
        match &self.kind {
            ProfileKind::Sequence(knock) => knock.needs_raw(),
            ProfileKind::Rotating(knock) => knock.method == Method::Raw,
            ProfileKind::Spa(_) => false,
        }
    }

    /// The checks a profile built in code must pass before it is stored, the same ones a file must pass
    /// when it is read: host, tags, and an SPA profile's discovery endpoint.
    pub fn validate(&self) -> Result<(), ProfileError> {
        validate_host(&self.host)?;
        for tag in &self.tags {
            validate_tag(tag)?;
        }
        if let ProfileKind::Spa(spa) = &self.kind {
            spa.validate()?;
        }
        Ok(())
    }

    pub fn has_tag(&self, tag: &str) -> bool {
        self.tags.iter().any(|t| t.eq_ignore_ascii_case(tag))
    }
}

fn is_default<T: Default + PartialEq>(value: &T) -> bool {
    *value == T::default()
}

fn is_name_char(c: char) -> bool {
    c.is_ascii_alphanumeric() || matches!(c, '.' | '_' | '-')
}

/// The profile name as it appears in environment variable names (`KNOCK_SPA_KEY_BASE64_<SUFFIX>`):
/// upper-cased, every character other than a letter or digit as `_`. `fw-a` and `fw.a` share one suffix,
/// so the store refuses the second of them.
pub(crate) fn env_suffix(name: &str) -> String {
    name.chars().map(|c| if c.is_ascii_alphanumeric() { c.to_ascii_uppercase() } else { '_' }).collect()
}

/// Checks a profile name: it becomes a file name on every OS, so it is kept to a portable alphabet.
pub fn validate_name(name: &str) -> Result<(), ProfileError> {
    let ok = (1..=64).contains(&name.len())
        && name.chars().all(is_name_char)
        && !name.starts_with(['.', '-'])
        && !is_reserved_on_windows(name);
    if ok { Ok(()) } else { Err(ProfileError::InvalidName { name: name.to_owned() }) }
}

/// `CON.toml` and friends cannot be created on Windows; refuse them everywhere so stores stay portable.
fn is_reserved_on_windows(name: &str) -> bool {
    let stem = name.split('.').next().unwrap_or(name).to_ascii_uppercase();
    matches!(stem.as_str(), "CON" | "PRN" | "AUX" | "NUL")
        || ((stem.starts_with("COM") || stem.starts_with("LPT"))
            && stem.len() == 4
            && stem.as_bytes()[3].is_ascii_digit())
}

/// Checks that `host` can be a DNS name or an IP literal (`[v6]` and scoped `fe80::1%eth0` included);
/// whether it resolves is for the knock to find out.
pub fn validate_host(host: &str) -> Result<(), ProfileError> {
    let invalid = || ProfileError::InvalidHost { host: host.to_owned() };
    let bare = host.strip_prefix('[').and_then(|h| h.strip_suffix(']')).unwrap_or(host);
    if bare.parse::<std::net::IpAddr>().is_ok() {
        return Ok(());
    }
    if let Some((addr, scope)) = bare.split_once('%') {
        let scope_ok =
            !scope.is_empty() && scope.chars().all(|c| c.is_ascii_alphanumeric() || matches!(c, '.' | '_' | '-'));
        return if addr.parse::<std::net::Ipv6Addr>().is_ok() && scope_ok { Ok(()) } else { Err(invalid()) };
    }
    let name = bare.strip_suffix('.').unwrap_or(bare);
    let label_ok = |label: &str| {
        (1..=63).contains(&label.len())
            && label.chars().all(|c| c.is_ascii_alphanumeric() || c == '-' || c == '_')
            && !label.starts_with('-')
            && !label.ends_with('-')
    };
    if (1..=253).contains(&name.len()) && name.split('.').all(label_ok) { Ok(()) } else { Err(invalid()) }
}

pub fn validate_tag(tag: &str) -> Result<(), ProfileError> {
    if (1..=64).contains(&tag.len()) && tag.chars().all(is_name_char) {
        Ok(())
    } else {
        Err(ProfileError::InvalidTag { tag: tag.to_owned() })
    }
}

fn host<'de, D: Deserializer<'de>>(deserializer: D) -> Result<String, D::Error> {
    let host = String::deserialize(deserializer)?;
    validate_host(&host).map_err(serde::de::Error::custom)?;
    Ok(host)
}

fn tags<'de, D: Deserializer<'de>>(deserializer: D) -> Result<Vec<String>, D::Error> {
    let tags = Vec::<String>::deserialize(deserializer)?;
    for tag in &tags {
        validate_tag(tag).map_err(serde::de::Error::custom)?;
    }
    Ok(tags)
}

/// A sequence is written back as it was written (`7000,8000:udp` stays so), read with the one parser.
impl Serialize for Sequence {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        serializer.serialize_str(&self.as_written())
    }
}

impl<'de> Deserialize<'de> for Sequence {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        let text = String::deserialize(deserializer)?;
        Sequence::parse_as_written(&text, crate::sequence::Protocol::Tcp).map_err(serde::de::Error::custom)
    }
}

/// Serde for the types whose text form is their `Display`/`FromStr` (as written in knockd.conf and on
/// the command line), so files and arguments share one parser and one error message.
macro_rules! serde_as_text {
    ($($ty:ty),*) => {$(
        impl Serialize for $ty {
            fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
                serializer.collect_str(self)
            }
        }

        impl<'de> Deserialize<'de> for $ty {
            fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
                let text = String::deserialize(deserializer)?;
                <$ty>::from_str(&text).map_err(serde::de::Error::custom)
            }
        }
    )*};
}

serde_as_text!(
    ProfileId,
    TcpFlagSpec,
    AddressFamily,
    Method,
    AccessList,
    AllowIp,
    crate::spa::DigestType,
    crate::spa::HmacType
);

#[cfg(test)]
mod tests {
    use super::*;
    use crate::sequence::{Hit, Protocol};

    const FULL: &str = r#"
host = "bastion.example.org"
family = "ipv6"
method = "connect"
delay_ms = 100
open = "7000,8000:udp,9000"
close = "9000,8000:udp,7000"
tcp_flags = "syn,!ack"
tags = ["prod", "eu-west"]
notes = "jump host"

[verify]
port = 22
timeout_ms = 2000
attempts = 5
backoff_ms = 500
"#;

    #[test]
    fn family_both_loads_and_round_trips() {
        let profile: Profile = toml::from_str("host = \"h\"\nopen = \"7000\"\nfamily = \"both\"\n").expect("both");
        assert_eq!(profile.family, AddressFamily::Both);
        let written = toml::to_string(&profile).expect("serialize");
        assert!(written.contains("family = \"both\""), "{written}");
    }

    #[test]
    fn a_full_profile_parses_and_round_trips() {
        let profile: Profile = toml::from_str(FULL).expect("full profile");
        assert_eq!(profile.family, AddressFamily::V6);
        let knock = profile.sequence().expect("a sequence profile");
        assert_eq!(knock.method, Method::Connect);
        assert_eq!(knock.open.inline().map(|s| s.hits()[1]), Some(Hit::udp(8000)));
        assert_eq!(knock.close.as_ref().and_then(SequenceSource::inline).map(Sequence::len), Some(3));
        assert_eq!(knock.tcp_flags.to_string(), "syn,!ack");
        let verify = profile.verify.expect("verify");
        assert_eq!((verify.port.get(), verify.attempts.get(), verify.timeout_ms), (22, 5, 2000));
        let written = toml::to_string(&profile).expect("serialize");
        assert_eq!(toml::from_str::<Profile>(&written).expect("reparse"), profile);
    }

    #[test]
    fn a_minimal_profile_gets_defaults_and_writes_back_minimal() {
        let profile: Profile = toml::from_str("host = \"192.0.2.2\"\nopen = \"7000\"\n").expect("minimal");
        assert_eq!(profile, Profile::new("192.0.2.2", Sequence::parse("7000", Protocol::Tcp).expect("seq")));
        assert_eq!(toml::to_string(&profile).expect("ser"), "host = \"192.0.2.2\"\nopen = \"7000\"\n");
        let verify: Verify = toml::from_str("port = 22").expect("verify defaults");
        assert_eq!((verify.timeout_ms, verify.attempts.get(), verify.backoff_ms), (5000, 3, 1000));
    }

    fn error_of(text: &str) -> String {
        toml::from_str::<Profile>(text).expect_err(text).to_string()
    }

    #[test]
    fn errors_name_the_key_the_value_and_the_line() {
        let e = error_of("host = \"h\"\nopen = \"7000:foo\"\n");
        assert!(e.contains("line 2") && e.contains("\"7000:foo\""), "{e}");
        let e = error_of("host = \"h\"\nopen = \"7000\"\nhots = \"x\"\n");
        assert!(e.contains("line 3") && e.contains("hots") && e.contains("host"), "unknown key lists valid: {e}");
        let e = error_of("host = \"h\"\nopen = \"7000\"\n[verify]\nport = 0\n");
        assert!(e.contains("line 4") && e.contains("nonzero"), "{e}");
        let e = error_of("host = \"h\"\nopen = \"7000\"\n[verify]\nport = 22\nattempt = 3\n");
        assert!(e.contains("attempt") && e.contains("attempts"), "{e}");
        let e = error_of("host = \"h\"\nopen = \"7000\"\nfamily = \"ipx\"\n");
        assert!(e.contains("valid: any, ipv4, ipv6"), "{e}");
        let e = error_of("host = \"h\"\nopen = \"7000\"\ntags = [\"a b\"]\n");
        assert!(e.contains("invalid tag"), "{e}");
        assert!(error_of("open = \"7000\"\n").contains("host"), "host is required");
    }

    #[test]
    fn names_are_portable_file_names() {
        for ok in ["bastion", "prod-db.eu_1", "a", "A9"] {
            assert_eq!(validate_name(ok), Ok(()), "{ok}");
        }
        for bad in ["", ".hidden", "-x", "a/b", "a\\b", "..", "con", "COM1", "lpt9.x", "a b", "ü", &"x".repeat(65)] {
            assert!(validate_name(bad).is_err(), "{bad:?} must be refused");
        }
        assert!(validate_name("console").is_ok());
    }

    #[test]
    fn backoff_doubles_and_is_capped() {
        let mut verify = Verify::new(NonZeroU16::MIN);
        verify.backoff_ms = 1000;
        assert_eq!(verify.backoff_before(2), Duration::from_secs(1));
        assert_eq!(verify.backoff_before(3), Duration::from_secs(2));
        assert_eq!(verify.backoff_before(4), Duration::from_secs(4));
        assert_eq!(verify.backoff_before(40), Verify::MAX_BACKOFF);
    }

    #[test]
    #[expect(unsafe_code, reason = "std::env::set_var of the test's own variable, which edition 2024 marks unsafe")]
    fn sequences_can_come_from_the_environment_without_leaking() {
        let text = "host = \"h\"\nopen = { env = \"KNOCK_TEST_SEQ_A\" }\nclose = \"9000\"\n";
        let profile: Profile = toml::from_str(text).expect("env source");
        assert_eq!(profile.sequence().map(|k| &k.open), Some(&SequenceSource::Env("KNOCK_TEST_SEQ_A".into())));
        let written = toml::to_string(&profile).expect("ser");
        assert_eq!(toml::from_str::<Profile>(&written).expect("reparse"), profile);

        let knock = profile.sequence().expect("a sequence profile");
        assert!(knock.open.is_secret() && !knock.close.as_ref().expect("close").is_secret());
        let e = knock.open.resolve("p", Action::Open).expect_err("unset").to_string();
        assert!(e.contains("$KNOCK_TEST_SEQ_A, which is not set"), "{e}");
        // SAFETY: set_var is unsafe in edition 2024 (other threads may read the environment); this
        // variable is read by this test only.
        unsafe { std::env::set_var("KNOCK_TEST_SEQ_A", "31337,31338:udp") };
        assert_eq!(knock.open.resolve("p", Action::Open).expect("set").hits()[1], Hit::udp(31338));
        unsafe { std::env::set_var("KNOCK_TEST_SEQ_A", "31337,31338:bogus") };
        let e = knock.open.resolve("p", Action::Open).expect_err("invalid").to_string();
        assert!(e.contains("does not hold a valid sequence"), "{e}");
        assert!(!e.contains("31337") && !e.contains("bogus"), "the secret must not leak: {e}");

        for bad in ["open = { env = \"1X\" }", "open = { env = \"A\", keyring = \"x\" }", "open = {}", "open = 7000"] {
            let e = toml::from_str::<Profile>(&format!("host = \"h\"\n{bad}\n")).expect_err(bad).to_string();
            assert!(e.contains("line 2"), "{bad}: {e}");
        }
    }

    #[test]
    fn hosts_are_names_or_addresses() {
        for ok in [
            "bastion",
            "bastion.example.org",
            "bastion.example.org.",
            "192.0.2.2",
            "2001:db8::2",
            "[2001:db8::2]",
            "fe80::1%eth0",
            "xn--bcher-kva.example",
            "_srv.example",
        ] {
            assert_eq!(validate_host(ok), Ok(()), "{ok}");
        }
        for bad in [
            "",
            " ",
            "bastion example",
            "-bad.example",
            "a..b",
            "http://x",
            "x/y",
            "fe80::1%",
            "1.2.3.4:22",
            &"a".repeat(64),
        ] {
            assert!(validate_host(bad).is_err(), "{bad:?} must be refused");
        }
    }

    #[test]
    fn spa_profiles_parse_validate_and_round_trip() {
        let text =
            "host = \"fw.example.org\"\n[spa]\naccess = \"tcp/22,udp/53\"\nallow_ip = \"source\"\nhmac = \"sha512\"\n";
        let profile: Profile = toml::from_str(text).expect("spa profile");
        profile.validate().expect("valid");
        let spa = profile.spa().expect("spa");
        assert_eq!(
            (spa.port.get(), spa.allow_ip, spa.access.to_string().as_str()),
            (62201, AllowIp::Source, "tcp/22,udp/53")
        );
        assert_eq!(spa.hmac, crate::spa::HmacType::Sha512);
        let written = toml::to_string(&profile).expect("ser");
        assert_eq!(toml::from_str::<Profile>(&written).expect("reparse"), profile);
        assert!(profile.sequence().is_none());

        // The kind is a type: the invalid combinations are refused when the file is read.
        let refused = |text: &str| toml::from_str::<Profile>(text).expect_err(text).to_string();
        assert!(refused("host = \"h\"\n").contains(&ProfileError::NeitherKind.to_string()));
        let both = refused("host = \"h\"\nopen = \"1\"\n[spa]\naccess = \"tcp/22\"\n");
        assert!(both.contains(&ProfileError::BothKinds.to_string()), "{both}");
        let close = refused("host = \"h\"\nclose = \"1\"\n[spa]\naccess = \"tcp/22\"\n");
        assert!(close.contains(&ProfileError::SpaWithClose.to_string()), "{close}");
        let flags = refused("host = \"h\"\ntcp_flags = \"syn\"\n[spa]\naccess = \"tcp/22\"\n");
        assert!(flags.contains(&ProfileError::SpaWithSequenceKeys.to_string()), "{flags}");
        for bad in [
            "access = \"sctp/22\"",
            "access = \"tcp/22\"\nallow_ip = \"10.0.0.300\"",
            "access = \"tcp/22\"\nkey = \"x\"",
        ] {
            let e = toml::from_str::<Profile>(&format!("host = \"h\"\n[spa]\n{bad}\n")).expect_err(bad).to_string();
            assert!(e.contains("line"), "{bad}: {e}");
        }
    }

    #[test]
    fn rotating_profiles_parse_validate_and_round_trip() {
        let text = "host = \"h\"\ndelay_ms = 5\n[rotating]\ndoor = \"ssh\"\nstep = 60\nlength = 3\n\
                    range = \"20000-20999\"\nprotocols = \"tcp,udp,tcp\"\nexclude = [20022]\n";
        let profile: Profile = toml::from_str(text).expect("rotating profile");
        let knock = profile.rotating().expect("rotating");
        assert_eq!((knock.rotation.step, knock.rotation.length, knock.rotation.range), (60, 3, (20000, 20999)));
        assert_eq!(knock.delay_ms, 5);
        let written = toml::to_string(&profile).expect("ser");
        assert_eq!(toml::from_str::<Profile>(&written).expect("reparse"), profile);
        let minimal: Profile = toml::from_str("host = \"h\"\n[rotating]\ndoor = \"d\"\n").expect("defaults");
        assert_eq!(minimal.rotating().map(|k| k.rotation.clone()), Some(Rotation::new("d")));
        let refused = |text: &str| toml::from_str::<Profile>(text).expect_err(text).to_string();
        for (bad, why) in [
            ("[rotating]\ndoor = \"d\"\nlength = 4\nrange = \"7000-7002\"\n", "cannot hold 4"),
            ("[rotating]\ndoor = \"d\"\nprotocols = \"tcp,udp\"\n", "template has 2"),
            ("[rotating]\ndoor = \"d\"\nrange = \"9-1\"\n", "invalid port range"),
            ("[rotating]\ndoor = \"d\"\nprotocols = \"tcp,sctp,tcp,tcp\"\n", "invalid protocol"),
            ("[rotating]\ndoor = \"d\"\nkey = \"x\"\n", "unknown field"),
            ("close = \"1\"\n[rotating]\ndoor = \"d\"\n", "belong to sequence profiles"),
            ("open = \"1\"\n[rotating]\ndoor = \"d\"\n", "not several"),
        ] {
            let e = refused(&format!("host = \"h\"\n{bad}"));
            assert!(e.contains(why), "{bad}: {e}");
        }
    }

    #[test]
    fn ids_are_128_bit_hex_written_first_and_checked() {
        let text = "id = \"00112233445566778899AABBCCDDEEFF\"\nhost = \"h\"\nopen = \"7000\"\n";
        let profile: Profile = toml::from_str(text).expect("an id");
        let id = profile.id.expect("id");
        assert_eq!(id.to_string(), "00112233445566778899aabbccddeeff");
        let written = toml::to_string(&profile).expect("ser");
        assert!(written.starts_with("id = \"00112233445566778899aabbccddeeff\"\nhost"), "{written}");
        assert_eq!(toml::from_str::<Profile>(&written).expect("reparse"), profile);
        for bad in
            ["\"\"", "\"0011\"", "\"00112233445566778899aabbccddeefg\"", "\"+0112233445566778899aabbccddeeff\"", "7"]
        {
            let e = toml::from_str::<Profile>(&format!("host = \"h\"\nid = {bad}\nopen = \"7000\"\n"))
                .expect_err(bad)
                .to_string();
            assert!(e.contains("line 2"), "{bad}: {e}");
        }
        let (a, b) = (ProfileId::random().expect("random"), ProfileId::random().expect("random"));
        assert_ne!(a, b);
        assert_eq!(a.to_string().parse::<ProfileId>(), Ok(a));
    }

    #[test]
    fn discovery_needs_an_endpoint() {
        let mut settings = SpaSettings::new("tcp/22".parse().expect("access"));
        settings.allow_ip = AllowIp::Discover;
        let mut profile = Profile::new_spa("h", settings);
        assert_eq!(profile.validate(), Err(ProfileError::DiscoverWithoutUrl));
        if let Some(spa) = profile.spa_mut() {
            spa.discover_url = Some("ftp://x".into());
        }
        assert!(matches!(profile.validate(), Err(ProfileError::DiscoverUrl { .. })));
        // Plain HTTP is refused too: an on-path attacker would choose the address the packet lets in.
        if let Some(spa) = profile.spa_mut() {
            spa.discover_url = Some("http://api.example.org/ip".into());
        }
        let e = profile.validate().expect_err("http").to_string();
        assert!(e.contains("discover_url") && e.contains("https://"), "{e}");
        if let Some(spa) = profile.spa_mut() {
            spa.discover_url = Some("https://api.example.org/ip".into());
        }
        assert_eq!(profile.validate(), Ok(()));
    }
}
