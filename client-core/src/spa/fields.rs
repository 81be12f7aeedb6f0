//! The fields of an SPA message (fwknop's `lib/fko_encode.c` / `lib/fko_decode.c` field list): the access
//! list, the message type, what a packet asks for ([`AccessRequest`]) and every field of one message
//! ([`SpaMessage`]), with the `ENC` text they form.

use std::fmt;
use std::net::Ipv4Addr;
use std::str::FromStr;

use zeroize::{Zeroize, Zeroizing};

use super::b64;
use super::error::{AccessProblem, SpaError};
use super::hash::{DigestType, HmacType};
use crate::sequence::Protocol;

/// The ports an SPA packet asks for, fwknop's `ACCESS` / `-A` syntax: `tcp/22` or `tcp/22,udp/53`.
///
/// Parsing ([`FromStr`], [`AccessList::new`]) refuses an empty list and port 0; a list converted from a bare
/// `Vec` is checked when a packet is built.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AccessList(Vec<(Protocol, u16)>);

impl AccessList {
    /// A list of `(protocol, port)` entries: at least one, ports 1..=65535.
    pub fn new(entries: Vec<(Protocol, u16)>) -> Result<AccessList, SpaError> {
        let list = AccessList(entries);
        super::validate::validate_access_list(&list)?;
        Ok(list)
    }

    pub fn entries(&self) -> &[(Protocol, u16)] {
        &self.0
    }

    pub fn into_entries(self) -> Vec<(Protocol, u16)> {
        self.0
    }

    pub fn len(&self) -> usize {
        self.0.len()
    }

    /// True only for a list converted from an empty `Vec`; parsing never yields one.
    pub fn is_empty(&self) -> bool {
        self.0.is_empty()
    }
}

/// Unchecked, for tests of [`build`](super::build)'s own refusal of an empty list or port 0.
#[cfg(test)]
impl From<Vec<(Protocol, u16)>> for AccessList {
    fn from(entries: Vec<(Protocol, u16)>) -> AccessList {
        AccessList(entries)
    }
}

impl FromStr for AccessList {
    type Err = SpaError;
    /// Comma-separated `PROTO/PORT` entries, protocol `tcp` or `udp` (case-insensitive), port 1..=65535,
    /// whitespace around entries ignored.
    fn from_str(text: &str) -> Result<AccessList, SpaError> {
        if text.trim().is_empty() {
            return Err(SpaError::EmptyAccess);
        }
        text.split(',').map(parse_access_entry).collect::<Result<Vec<_>, _>>().map(AccessList)
    }
}

impl fmt::Display for AccessList {
    /// `tcp/22,udp/53`, the form [`FromStr`] reads.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        for (i, (proto, port)) in self.0.iter().enumerate() {
            if i > 0 {
                f.write_str(",")?;
            }
            write!(f, "{proto}/{port}")?;
        }
        Ok(())
    }
}

fn parse_access_entry(token: &str) -> Result<(Protocol, u16), SpaError> {
    let invalid = |reason| SpaError::InvalidAccess { token: token.to_owned(), reason };
    let trimmed = token.trim();
    if trimmed.is_empty() {
        return Err(invalid(AccessProblem::Empty));
    }
    let Some((proto_text, port_text)) = trimmed.split_once('/') else {
        return Err(invalid(AccessProblem::MissingSlash));
    };
    let proto = if proto_text.eq_ignore_ascii_case("tcp") {
        Protocol::Tcp
    } else if proto_text.eq_ignore_ascii_case("udp") {
        Protocol::Udp
    } else {
        return Err(invalid(AccessProblem::UnknownProtocol(proto_text.to_owned())));
    };
    if port_text.is_empty() || !port_text.bytes().all(|b| b.is_ascii_digit()) {
        return Err(invalid(AccessProblem::NotAPort));
    }
    match port_text.parse::<u32>().ok().and_then(|p| u16::try_from(p).ok()) {
        Some(port) if port > 0 => Ok((proto, port)),
        _ => Err(invalid(AccessProblem::PortOutOfRange)),
    }
}

/// The SPA message type, the decimal number in the fifth field.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default)]
pub enum MessageType {
    /// 0: `<allow_ip>,<command>` for `ENABLE_CMD_EXEC` servers (decoded only; [`build`](super::build) does not send it).
    Command,
    /// 1: open `<proto>/<port>` entries for `<allow_ip>`.
    #[default]
    Access,
    /// 2: access forwarded to an internal host (`-N host:port`).
    NatAccess,
    /// 3: access with the client's firewall timeout (`-f N`).
    ClientTimeoutAccess,
    /// 4: NAT access with a client timeout.
    ClientTimeoutNatAccess,
    /// 5: NAT to a port on the server itself (`--nat-local`; decoded only).
    LocalNatAccess,
    /// 6: local NAT with a client timeout (decoded only).
    ClientTimeoutLocalNatAccess,
}

impl MessageType {
    pub const ALL: [MessageType; 7] = [
        MessageType::Command,
        MessageType::Access,
        MessageType::NatAccess,
        MessageType::ClientTimeoutAccess,
        MessageType::ClientTimeoutNatAccess,
        MessageType::LocalNatAccess,
        MessageType::ClientTimeoutLocalNatAccess,
    ];

    /// The number on the wire.
    pub fn code(self) -> u8 {
        match self {
            MessageType::Command => 0,
            MessageType::Access => 1,
            MessageType::NatAccess => 2,
            MessageType::ClientTimeoutAccess => 3,
            MessageType::ClientTimeoutNatAccess => 4,
            MessageType::LocalNatAccess => 5,
            MessageType::ClientTimeoutLocalNatAccess => 6,
        }
    }

    pub fn from_code(code: u8) -> Option<MessageType> {
        MessageType::ALL.into_iter().find(|t| t.code() == code)
    }

    /// Whether a NAT field follows the message (types 2, 4, 5, 6).
    pub fn has_nat(self) -> bool {
        matches!(
            self,
            MessageType::NatAccess
                | MessageType::ClientTimeoutNatAccess
                | MessageType::LocalNatAccess
                | MessageType::ClientTimeoutLocalNatAccess
        )
    }

    /// Whether the last field is a client timeout (types 3, 4, 6).
    pub fn has_client_timeout(self) -> bool {
        matches!(
            self,
            MessageType::ClientTimeoutAccess
                | MessageType::ClientTimeoutNatAccess
                | MessageType::ClientTimeoutLocalNatAccess
        )
    }
}

impl fmt::Display for MessageType {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let name = match self {
            MessageType::Command => "command",
            MessageType::Access => "access",
            MessageType::NatAccess => "NAT access",
            MessageType::ClientTimeoutAccess => "client-timeout access",
            MessageType::ClientTimeoutNatAccess => "client-timeout NAT access",
            MessageType::LocalNatAccess => "local NAT access",
            MessageType::ClientTimeoutLocalNatAccess => "client-timeout local NAT access",
        };
        write!(f, "{name} ({})", self.code())
    }
}

/// What one SPA packet asks for. The message type follows from `nat` and `client_timeout`
/// ([`AccessRequest::message_type`]); [`AccessRequest::validate`] checks it against fwknop's limits.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AccessRequest {
    /// The username (`SPOOF_USER`); servers check it only with `REQUIRE_USERNAME`. See
    /// [`validate_username`](super::validate_username).
    pub user: String,
    /// The address to open the ports for; `0.0.0.0` means "the packet's source" (fwknop `-s`), which servers
    /// with `REQUIRE_SOURCE_ADDRESS Y` refuse.
    pub allow_ip: Ipv4Addr,
    /// `tcp/22`, `udp/53`, ...: at least one entry, ports 1..=65535.
    pub access: AccessList,
    /// Forward to an internal `(host, port)` (fwknop `-N host:port`).
    pub nat: Option<(String, u16)>,
    /// Ask for this firewall timeout in seconds, 1..=65535 (fwknop `-f`); `None` keeps the server's.
    pub client_timeout: Option<u32>,
    /// Seconds added to the clock for the timestamp (fwknop `--time-offset-plus/minus`).
    pub time_offset: i64,
    pub digest: DigestType,
    /// Must match the server stanza's `HMAC_DIGEST_TYPE`.
    pub hmac: HmacType,
}

impl AccessRequest {
    /// A plain access request with the defaults: no NAT, no client timeout, no time offset, SHA-256 digest
    /// and HMAC.
    pub fn new(user: impl Into<String>, allow_ip: Ipv4Addr, access: AccessList) -> AccessRequest {
        AccessRequest {
            user: user.into(),
            allow_ip,
            access,
            nat: None,
            client_timeout: None,
            time_offset: 0,
            digest: DigestType::default(),
            hmac: HmacType::default(),
        }
    }

    /// Access, NatAccess, ClientTimeoutAccess or ClientTimeoutNatAccess.
    pub fn message_type(&self) -> MessageType {
        match (self.nat.is_some(), self.client_timeout.is_some()) {
            (false, false) => MessageType::Access,
            (true, false) => MessageType::NatAccess,
            (false, true) => MessageType::ClientTimeoutAccess,
            (true, true) => MessageType::ClientTimeoutNatAccess,
        }
    }

    /// The access message, `<allow_ip>,<proto>/<port>[,...]`.
    pub fn message(&self) -> String {
        format!("{},{}", self.allow_ip, self.access)
    }
}

/// Every field of one SPA message: what [`build`](super::build) encrypts and [`decode`](super::decode)
/// returns after verifying it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SpaMessage {
    /// The 16 random digits.
    pub rand: String,
    pub user: String,
    /// Unix seconds as sent (clock plus the client's time offset).
    pub timestamp: u64,
    /// Protocol version text, `3.0.0` from fwknop 2.6 clients.
    pub version: String,
    pub message_type: MessageType,
    /// `<allow_ip>,<proto>/<port>[,...]` for access types (see [`SpaMessage::access`]),
    /// `<allow_ip>,<command>` for [`MessageType::Command`].
    pub message: String,
    /// `<host>,<port>` for the NAT types.
    pub nat: Option<String>,
    /// The optional server-auth field, which fwknop 2.6 never sends and fwknopd ignores.
    pub server_auth: Option<String>,
    pub client_timeout: Option<u32>,
    pub digest_type: DigestType,
    /// The digest as sent (unpadded base64); verified in a decoded message, empty before [`build`](super::build)
    /// computes it.
    pub digest: String,
}

impl SpaMessage {
    /// Splits an access message `<allow_ip>,<proto>/<port>[,...]` into its address and entries.
    pub fn access(&self) -> Result<(Ipv4Addr, AccessList), SpaError> {
        parse_access_message(&self.message)
    }

    /// `ENC`: the fields joined with `:`, without the digest.
    pub(crate) fn enc_text(&self) -> Zeroizing<String> {
        let mut enc = Zeroizing::new(format!(
            "{}:{}:{}:{}:{}:{}",
            self.rand,
            b64::encode_unpadded(self.user.as_bytes()),
            self.timestamp,
            self.version,
            self.message_type.code(),
            b64::encode_unpadded(self.message.as_bytes())
        ));
        if let Some(nat) = &self.nat {
            enc.push(':');
            enc.push_str(&b64::encode_unpadded(nat.as_bytes()));
        }
        if let Some(auth) = &self.server_auth {
            enc.push(':');
            enc.push_str(&b64::encode_unpadded(auth.as_bytes()));
        }
        if let Some(timeout) = self.client_timeout {
            enc.push(':');
            enc.push_str(&timeout.to_string());
        }
        enc
    }

    /// Wipes the fields an observer could use to link packets (the random value, what was asked for).
    pub(crate) fn zeroize_text(&mut self) {
        self.rand.zeroize();
        self.message.zeroize();
        if let Some(nat) = self.nat.as_mut() {
            nat.zeroize();
        }
    }
}

fn parse_access_message(message: &str) -> Result<(Ipv4Addr, AccessList), SpaError> {
    let malformed = |reason: &str| SpaError::Malformed { reason: format!("access message {message:?} {reason}") };
    let (ip_text, list) = message.split_once(',').ok_or_else(|| malformed("has no comma after the address"))?;
    let ip = ip_text.parse::<Ipv4Addr>().map_err(|_| malformed("does not start with a dotted IPv4 address"))?;
    Ok((ip, list.parse()?))
}
