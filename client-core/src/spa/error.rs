//! Everything that can go wrong building or verifying an SPA packet. Messages say what would be valid and
//! never contain key material.

use std::fmt;

use thiserror::Error;

use super::hash::{DigestType, HmacType};

/// Why an access entry was rejected.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum AccessProblem {
    Empty,
    MissingSlash,
    UnknownProtocol(String),
    NotAPort,
    PortOutOfRange,
}

impl fmt::Display for AccessProblem {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            AccessProblem::Empty => f.write_str("the entry is empty"),
            AccessProblem::MissingSlash => f.write_str("there is no / between protocol and port"),
            AccessProblem::UnknownProtocol(p) => write!(f, "unknown protocol {p:?}"),
            AccessProblem::NotAPort => f.write_str("the port is not a number"),
            AccessProblem::PortOutOfRange => f.write_str("the port must be between 1 and 65535"),
        }
    }
}

/// Why a NAT destination was rejected.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum NatProblem {
    EmptyHost,
    ForbiddenChar(char),
    PortOutOfRange,
}

impl fmt::Display for NatProblem {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            NatProblem::EmptyHost => f.write_str("the host is empty"),
            NatProblem::ForbiddenChar(c) => write!(f, "the host contains {c:?}"),
            NatProblem::PortOutOfRange => f.write_str("the port must be between 1 and 65535"),
        }
    }
}

/// Everything that can go wrong building or verifying an SPA packet. Messages never contain key material.
#[derive(Debug, Clone, PartialEq, Eq, Error)]
pub enum SpaError {
    #[error(
        "the encryption key is {len} bytes; fwknop Rijndael keys must be 1 to 32 bytes (fwknop --key-gen makes 32)"
    )]
    KeyLength { len: usize },
    #[error("the HMAC key is {len} bytes; fwknop HMAC keys must be 1 to 128 bytes (fwknop --key-gen makes 64)")]
    HmacKeyLength { len: usize },
    #[error(
        "{what} is not valid base64: {reason} (expected what fwknop --key-gen prints: A-Z, a-z, 0-9, + and /, \
         with or without = padding)"
    )]
    KeyBase64 { what: &'static str, reason: String },
    #[error(
        "the HMAC key equals the encryption key, which fwknop refuses on both sides: use two different keys \
         (fwknop --key-gen makes a pair)"
    )]
    KeysEqual,
    #[error("unknown {what} {name:?} (valid: {valid})")]
    UnknownHashType { what: &'static str, name: String, valid: &'static str },
    #[error("the username is empty: give 1 to 48 printable ASCII characters (fwknop sends NO_USER when it has none)")]
    UsernameEmpty,
    #[error("username {user:?} contains {ch:?}; fwknop allows printable ASCII except \" / \\ [ ] : ; | = , + * ? < >")]
    UsernameChar { user: String, ch: char },
    #[error("username {user:?} is {len} bytes; fwknop allows at most 48")]
    UsernameTooLong { user: String, len: usize },
    #[error("no access entries: give at least one PROTO/PORT such as tcp/22 (fwknopd rejects the C client's none/0)")]
    EmptyAccess,
    #[error("invalid access entry {token:?}: {reason} (expected tcp/PORT or udp/PORT, PORT in 1..=65535)")]
    InvalidAccess { token: String, reason: AccessProblem },
    #[error(
        "invalid NAT destination {nat:?}: {reason} (expected a host name or IPv4 address without / ? \" ' \\ or \
         comma, and a port in 1..=65535)"
    )]
    InvalidNat { nat: String, reason: NatProblem },
    #[error("client timeout {timeout} s is out of range: use 1..=65535 seconds, or none to keep the server's timeout")]
    ClientTimeout { timeout: u32 },
    #[error(
        "the SPA timestamp would be {timestamp} (clock plus time offset), outside fwknop's 0..=4294967295 Unix \
         seconds: check the system clock and the time offset"
    )]
    Timestamp { timestamp: i128 },
    #[error(
        "the SPA packet would be {len} characters, but fwknopd takes packets of 400 characters or more for GnuPG \
         and silently drops them; the encrypted fields are {plaintext_len} bytes and at most {max_plaintext_len} \
         fit with a {hmac} HMAC: request fewer ports, shorten the username, drop the NAT or client timeout, or \
         use sha256 for the digest and HMAC"
    )]
    PacketTooLong { len: usize, plaintext_len: usize, max_plaintext_len: usize, hmac: HmacType },
    #[error("the SPA packet would be {len} characters, but fwknopd ignores packets shorter than 140")]
    PacketTooShort { len: usize },
    #[error("the operating system's random number generator failed: {reason}")]
    Random { reason: String },
    #[error(
        "an SPA packet of {len} characters is not a Rijndael SPA packet: fwknopd needs at least 140 characters \
         and takes 400 or more for GnuPG"
    )]
    WireLength { len: usize },
    /// Checked before any cryptography: the length says it cannot be authentic.
    #[error(
        "an SPA packet whose ciphertext part is {len} characters cannot be fwknop's (the salt and whole AES blocks, \
         in unpadded base64 without its 10-character prefix)"
    )]
    CiphertextLength { len: usize },
    #[error(
        "an SPA packet may contain only base64 characters (A-Z a-z 0-9 + / =), but position {position} holds {ch:?}"
    )]
    WireChar { position: usize, ch: char },
    #[error(
        "the packet starts with U2FsdGVkX1, which fwknop clients strip and fwknopd refuses (anti-replay): remove \
         those 10 characters"
    )]
    WirePrefix,
    #[error("HMAC does not match (wrong HMAC key or HMAC type)")]
    HmacMismatch,
    #[error("the HMAC matches but the ciphertext is malformed: {reason}")]
    Ciphertext { reason: &'static str },
    #[error("decryption failed: wrong encryption key (the HMAC matched, so the HMAC key is right)")]
    DecryptionFailed,
    #[error("the decrypted SPA data is malformed: {reason}")]
    Malformed { reason: String },
    #[error(
        "the SPA digest is {len} characters, which is {found}, not the expected {expected} ({expected_len} \
         characters)"
    )]
    DigestLength { len: usize, found: String, expected: DigestType, expected_len: usize },
    #[error("the SPA digest does not match the {digest} hash of the fields: the data was altered")]
    DigestMismatch { digest: DigestType },
}
