//! fwknop Single Packet Authorization (SPA): building and verifying the one UDP datagram that asks an
//! `fwknopd` server to open a port, in fwknop 2.6's default Rijndael + HMAC mode.
//!
//! # The packet, from the inside out
//!
//! 1. **Fields.** `ENC = rand16:B64NP(user):timestamp:3.0.0:type:B64NP(message)[:B64NP(nat)][:timeout]`,
//!    where `B64NP` is standard base64 with the `=` padding cut off, `rand16` is 16 random decimal digits,
//!    `message` is `<allow_ip>,<proto>/<port>[,...]` (for example `10.201.0.2,tcp/22`) and `type` is the
//!    [`MessageType`] number.
//! 2. **Digest.** `PT = ENC:B64NP(HASH(ENC))`. The server guesses the hash from the digest's length, so the
//!    client's [`DigestType`] needs no server setting.
//! 3. **Encryption.** "Rijndael" is AES-256-CBC with OpenSSL's `Salted__` framing: a fresh 8-byte salt, key
//!    and IV from `EVP_BytesToKey(MD5, count 1)` over the key bytes and the salt, PKCS#7 padding, and the blob
//!    `"Salted__" || salt || ciphertext`. Any key of 1..=32 bytes works: the KDF always makes a 256-bit key.
//! 4. **Prefix removal.** `B64NP(blob)` always starts with `U2FsdGVkX1` (base64 of `Salted__`); the client
//!    drops those 10 characters and the server puts them back. fwknopd *drops* packets that still carry them.
//! 5. **HMAC** (encrypt-then-MAC). `HMAC(hmac_key, B64NP(blob))` is computed over the base64 text *with* the
//!    prefix, then `B64NP(mac)` is appended to the prefix-less text with no separator. The server reads the
//!    last N characters as the MAC, N given by its configured [`HmacType`], and checks it before decrypting,
//!    so a wrong HMAC type looks exactly like a wrong HMAC key.
//!
//! # Size budget
//!
//! fwknopd ignores payloads shorter than 140 characters and classifies anything of 400 characters or more as
//! GnuPG, which a Rijndael stanza then silently drops. The C client happily sends such packets; [`build`]
//! refuses them instead and says how much to cut. A typical `ip,tcp/22` request with SHA-256 digest and HMAC
//! is 225 characters; [`wire_length`] gives the exact formula.
//!
//! # Replay protection
//!
//! fwknopd remembers [`replay_digest`] (the SHA-256 of the payload) of every packet that decrypted, even a
//! stale one, across restarts. A resent datagram is therefore always refused: a retry must [`build`] again,
//! which draws a new salt and random value. The server also rejects timestamps more than 120 s (by default)
//! away from its clock, in either direction; [`AccessRequest::time_offset`] corrects a known skew.
//!
//! Keys ([`SpaKey`], [`HmacKey`]) are wiped from memory when dropped and never appear in `Debug` output or
//! in errors; derived keys, IVs and plaintexts are wiped after use.

use std::fmt;
use std::net::Ipv4Addr;
use std::str::FromStr;
use std::time::{SystemTime, UNIX_EPOCH};

use aes::Aes256;
use base64::Engine as _;
use base64::alphabet;
use base64::engine::DecodePaddingMode;
use base64::engine::general_purpose::{GeneralPurpose, GeneralPurposeConfig, STANDARD, STANDARD_NO_PAD};
use cbc::cipher::block_padding::Pkcs7;
use cbc::cipher::{BlockModeDecrypt, BlockModeEncrypt, KeyIvInit};
use hmac::{EagerHash, Hmac, KeyInit, Mac};
use sha2::Digest;
use thiserror::Error;
use zeroize::{Zeroize, Zeroizing};

use crate::sequence::Protocol;

/// The default UDP port fwknopd listens on (`FKO_DEFAULT_PORT`).
pub const DEFAULT_PORT: u16 = 62201;
/// The protocol version the fwknop 2.6 client sends; servers do not check it.
pub const PROTOCOL_VERSION: &str = "3.0.0";
/// fwknopd ignores shorter payloads (`MIN_SPA_DATA_SIZE`).
pub const MIN_WIRE_LEN: usize = 140;
/// Payloads of this length or more are taken for GnuPG and dropped by a Rijndael stanza (`MIN_GNUPG_MSG_SIZE`).
pub const MAX_WIRE_LEN_EXCLUSIVE: usize = 400;
/// Longest encryption key `_rijndael_encrypt` accepts (`RIJNDAEL_MAX_KEYSIZE`).
pub const MAX_KEY_LEN: usize = 32;
/// Longest HMAC key fwknop accepts (`MAX_DIGEST_BLOCK_LEN`).
pub const MAX_HMAC_KEY_LEN: usize = 128;
/// Longest raw username: its base64 form must fit in 64 characters.
pub const MAX_USERNAME_LEN: usize = 48;
/// Characters fwknop's username check refuses (besides non-printable ones).
pub const USERNAME_FORBIDDEN: &str = "\"/\\[]:;|=,+*?<>";

/// The base64 of `Salted__`, the 10 characters the client strips and the server re-adds.
const SALTED_PREFIX_B64: &str = "U2FsdGVkX1";
const SALTED_MAGIC: &[u8; 8] = b"Salted__";
const RAND_DIGITS: usize = 16;
const MAX_USER_B64: usize = 64;
const MAX_TIMESTAMP_CHARS: usize = 12;
const MAX_VERSION_CHARS: usize = 8;
const MAX_MESSAGE_B64: usize = 256;
const MAX_SERVER_AUTH_LEN: usize = 63;
const MAX_CLIENT_TIMEOUT: u32 = 65535;
const MIN_PLAINTEXT_LEN: usize = 36;
const MAX_PLAINTEXT_LEN: usize = 1500;
/// Field count including the digest: 6 to 9 `:` separators.
const MIN_FIELDS: usize = 7;
const MAX_FIELDS: usize = 10;

/// `B64NP` decoding as fwknop does it: padding optional, unused trailing bits ignored.
const LENIENT_B64: GeneralPurpose = GeneralPurpose::new(
    &alphabet::STANDARD,
    GeneralPurposeConfig::new()
        .with_encode_padding(false)
        .with_decode_padding_mode(DecodePaddingMode::Indifferent)
        .with_decode_allow_trailing_bits(true),
);

fn b64np(bytes: &[u8]) -> String {
    STANDARD_NO_PAD.encode(bytes)
}

// ---------------------------------------------------------------------------------------------------------
// Keys
// ---------------------------------------------------------------------------------------------------------

/// A key newtype: raw bytes of a bounded length, wiped on drop, never printed, with fwknop's base64 form.
macro_rules! key_type {
    ($(#[$doc:meta])* $name:ident, max: $max:expr, error: $error:ident, variable: $variable:literal) => {
        $(#[$doc])*
        #[derive(Clone)]
        pub struct $name(Zeroizing<Vec<u8>>);

        impl $name {
            #[doc = concat!("Wraps raw key bytes, which must be 1..=", stringify!($max), " long.")]
            pub fn new(bytes: impl Into<Vec<u8>>) -> Result<$name, SpaError> {
                let bytes = Zeroizing::new(bytes.into());
                if bytes.is_empty() || bytes.len() > $max {
                    return Err(SpaError::$error { len: bytes.len() });
                }
                Ok($name(bytes))
            }

            #[doc = concat!("Decodes a `", $variable, "` value (padded or not, surrounding whitespace ignored).")]
            pub fn from_base64(text: &str) -> Result<$name, SpaError> {
                $name::new(decode_key_base64(text, $variable)?.to_vec())
            }

            /// The raw key bytes. Handle with care: they are the secret.
            pub fn as_bytes(&self) -> &[u8] {
                &self.0
            }

            pub fn len(&self) -> usize {
                self.0.len()
            }

            /// Always false: an empty key cannot be constructed.
            pub fn is_empty(&self) -> bool {
                self.0.is_empty()
            }

            #[doc = concat!("The padded base64 form fwknop's `", $variable, "` uses.")]
            pub fn to_base64(&self) -> String {
                STANDARD.encode(self.as_bytes())
            }
        }

        impl fmt::Debug for $name {
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                write!(f, concat!(stringify!($name), "(<{} bytes redacted>)"), self.0.len())
            }
        }
    };
}

key_type!(
    /// The Rijndael encryption key: the raw passphrase bytes (1..=32) that feed the KDF.
    ///
    /// fwknop's `KEY_BASE64` holds them base64-encoded ([`SpaKey::from_base64`]); `KEY` holds them as literal
    /// text (`SpaKey::new(text.as_bytes())`). The bytes are wiped on drop and never printed.
    SpaKey, max: MAX_KEY_LEN, error: KeyLength, variable: "KEY_BASE64"
);

key_type!(
    /// The HMAC key: raw bytes (1..=128), from `HMAC_KEY_BASE64` or `HMAC_KEY`. Wiped on drop, never printed.
    HmacKey, max: MAX_HMAC_KEY_LEN, error: HmacKeyLength, variable: "HMAC_KEY_BASE64"
);

fn decode_key_base64(text: &str, what: &'static str) -> Result<Zeroizing<Vec<u8>>, SpaError> {
    let trimmed = text.trim();
    // The error must not quote the text: it is the key. Positions are fine.
    let reason = match LENIENT_B64.decode(trimmed) {
        Ok(bytes) => return Ok(Zeroizing::new(bytes)),
        Err(base64::DecodeError::InvalidByte(offset, _)) => format!("invalid character at position {}", offset + 1),
        Err(base64::DecodeError::InvalidLastSymbol { offset, .. }) => {
            format!("invalid last character at position {}", offset + 1)
        }
        Err(base64::DecodeError::InvalidLength(len)) => format!("{len} characters is not a possible base64 length"),
        Err(base64::DecodeError::InvalidPadding) => "misplaced = padding".to_owned(),
    };
    Err(SpaError::KeyBase64 { what, reason })
}

/// Generates a fresh key pair as `fwknop --key-gen` does: 32 random bytes for Rijndael, 64 for the HMAC.
///
/// # Panics
/// Only if the operating system's random source fails; [`try_keygen`] reports that as an error instead.
pub fn keygen() -> (SpaKey, HmacKey) {
    try_keygen().unwrap_or_else(|err| panic!("{err}"))
}

/// [`keygen`], reporting a failure of the operating system's random source.
pub fn try_keygen() -> Result<(SpaKey, HmacKey), SpaError> {
    let mut key = Zeroizing::new(vec![0u8; 32]);
    let mut hmac = Zeroizing::new(vec![0u8; 64]);
    fill_random(&mut key)?;
    fill_random(&mut hmac)?;
    Ok((SpaKey(key), HmacKey(hmac)))
}

/// The two lines `fwknop --key-gen` prints, ready for `~/.fwknoprc` or `access.conf`:
///
/// ```text
/// KEY_BASE64: <44 characters>
/// HMAC_KEY_BASE64: <88 characters>
/// ```
///
/// The result contains the keys in clear.
pub fn format_key_lines(key: &SpaKey, hmac_key: &HmacKey) -> String {
    format!("KEY_BASE64: {}\nHMAC_KEY_BASE64: {}\n", key.to_base64(), hmac_key.to_base64())
}

// ---------------------------------------------------------------------------------------------------------
// Digest, HMAC and message types
// ---------------------------------------------------------------------------------------------------------

/// The hash of the inner fields (fwknop `DIGEST_TYPE`, `-m`). SHA3 variants are not offered.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default)]
pub enum DigestType {
    Md5,
    Sha1,
    #[default]
    Sha256,
    Sha384,
    Sha512,
}

/// The HMAC hash (fwknop `HMAC_DIGEST_TYPE`, `--hmac-digest-type`); it must match the server stanza's.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default)]
pub enum HmacType {
    Md5,
    Sha1,
    #[default]
    Sha256,
    Sha384,
    Sha512,
}

const HASH_NAMES: &str = "md5, sha1, sha256, sha384, sha512";

impl DigestType {
    pub const ALL: [DigestType; 5] =
        [DigestType::Md5, DigestType::Sha1, DigestType::Sha256, DigestType::Sha384, DigestType::Sha512];

    /// fwknop's name, as in `DIGEST_TYPE sha256`.
    pub fn as_str(self) -> &'static str {
        match self {
            DigestType::Md5 => "md5",
            DigestType::Sha1 => "sha1",
            DigestType::Sha256 => "sha256",
            DigestType::Sha384 => "sha384",
            DigestType::Sha512 => "sha512",
        }
    }

    /// Length of the digest in the packet (unpadded base64).
    pub fn b64_len(self) -> usize {
        b64np_len(self.output_len())
    }

    fn output_len(self) -> usize {
        match self {
            DigestType::Md5 => 16,
            DigestType::Sha1 => 20,
            DigestType::Sha256 => 32,
            DigestType::Sha384 => 48,
            DigestType::Sha512 => 64,
        }
    }

    /// The type a server infers from a digest's length, as fwknopd does (43 and 86 could also be SHA3).
    pub fn from_b64_len(len: usize) -> Option<DigestType> {
        DigestType::ALL.into_iter().find(|d| d.b64_len() == len)
    }

    /// `B64NP(HASH(data))`.
    fn digest_b64(self, data: &[u8]) -> String {
        match self {
            DigestType::Md5 => b64np(&md5::Md5::digest(data)),
            DigestType::Sha1 => b64np(&sha1::Sha1::digest(data)),
            DigestType::Sha256 => b64np(&sha2::Sha256::digest(data)),
            DigestType::Sha384 => b64np(&sha2::Sha384::digest(data)),
            DigestType::Sha512 => b64np(&sha2::Sha512::digest(data)),
        }
    }
}

impl HmacType {
    pub const ALL: [HmacType; 5] =
        [HmacType::Md5, HmacType::Sha1, HmacType::Sha256, HmacType::Sha384, HmacType::Sha512];

    /// fwknop's name, as in `HMAC_DIGEST_TYPE sha256`.
    pub fn as_str(self) -> &'static str {
        match self {
            HmacType::Md5 => "md5",
            HmacType::Sha1 => "sha1",
            HmacType::Sha256 => "sha256",
            HmacType::Sha384 => "sha384",
            HmacType::Sha512 => "sha512",
        }
    }

    /// Length of the MAC at the end of the packet (unpadded base64).
    pub fn b64_len(self) -> usize {
        b64np_len(match self {
            HmacType::Md5 => 16,
            HmacType::Sha1 => 20,
            HmacType::Sha256 => 32,
            HmacType::Sha384 => 48,
            HmacType::Sha512 => 64,
        })
    }

    fn mac(self, key: &[u8], data: &[u8]) -> Result<Vec<u8>, SpaError> {
        match self {
            HmacType::Md5 => mac_of::<md5::Md5>(key, data),
            HmacType::Sha1 => mac_of::<sha1::Sha1>(key, data),
            HmacType::Sha256 => mac_of::<sha2::Sha256>(key, data),
            HmacType::Sha384 => mac_of::<sha2::Sha384>(key, data),
            HmacType::Sha512 => mac_of::<sha2::Sha512>(key, data),
        }
    }

    /// Constant-time check of `tag` against `HMAC(key, data)`.
    fn verify(self, key: &[u8], data: &[u8], tag: &[u8]) -> bool {
        match self {
            HmacType::Md5 => mac_verify::<md5::Md5>(key, data, tag),
            HmacType::Sha1 => mac_verify::<sha1::Sha1>(key, data, tag),
            HmacType::Sha256 => mac_verify::<sha2::Sha256>(key, data, tag),
            HmacType::Sha384 => mac_verify::<sha2::Sha384>(key, data, tag),
            HmacType::Sha512 => mac_verify::<sha2::Sha512>(key, data, tag),
        }
    }
}

fn mac_of<D: EagerHash>(key: &[u8], data: &[u8]) -> Result<Vec<u8>, SpaError>
where
    Hmac<D>: KeyInit + Mac,
{
    // HMAC takes keys of any length; the error arm only satisfies the API.
    let mut mac = <Hmac<D> as KeyInit>::new_from_slice(key).map_err(|_| SpaError::HmacKeyLength { len: key.len() })?;
    mac.update(data);
    Ok(mac.finalize().into_bytes().to_vec())
}

fn mac_verify<D: EagerHash>(key: &[u8], data: &[u8], tag: &[u8]) -> bool
where
    Hmac<D>: KeyInit + Mac,
{
    match <Hmac<D> as KeyInit>::new_from_slice(key) {
        Ok(mut mac) => {
            mac.update(data);
            mac.verify_slice(tag).is_ok()
        }
        Err(_) => false,
    }
}

/// Length of unpadded base64 for `n` bytes.
const fn b64np_len(n: usize) -> usize {
    (4 * n).div_ceil(3)
}

macro_rules! hash_type_parsing {
    ($ty:ident, $what:literal) => {
        impl fmt::Display for $ty {
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str(self.as_str())
            }
        }

        impl FromStr for $ty {
            type Err = SpaError;
            /// Accepts fwknop's names case-insensitively, with or without a dash (`SHA256`, `sha-256`).
            fn from_str(s: &str) -> Result<$ty, SpaError> {
                let wanted = s.trim().replace('-', "");
                $ty::ALL
                    .into_iter()
                    .find(|t| t.as_str().eq_ignore_ascii_case(&wanted))
                    .ok_or_else(|| SpaError::UnknownHashType { what: $what, name: s.to_owned(), valid: HASH_NAMES })
            }
        }
    };
}

hash_type_parsing!(DigestType, "digest type");
hash_type_parsing!(HmacType, "HMAC digest type");

/// The SPA message type, the decimal number in the fifth field.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default)]
pub enum MessageType {
    /// 0: `<allow_ip>,<command>` for `ENABLE_CMD_EXEC` servers (decoded only; [`build`] does not send it).
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

// ---------------------------------------------------------------------------------------------------------
// The request
// ---------------------------------------------------------------------------------------------------------

/// What one SPA packet asks for. The message type follows from `nat` and `client_timeout`
/// ([`AccessRequest::message_type`]).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AccessRequest {
    /// The username (`SPOOF_USER`); servers check it only with `REQUIRE_USERNAME`. See [`validate_username`].
    pub user: String,
    /// The address to open the ports for; `0.0.0.0` means "the packet's source" (fwknop `-s`), which servers
    /// with `REQUIRE_SOURCE_ADDRESS Y` refuse.
    pub allow_ip: Ipv4Addr,
    /// `tcp/22`, `udp/53`, ...: at least one entry, ports 1..=65535. See [`parse_access_list`].
    pub access: Vec<(Protocol, u16)>,
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
    pub fn new(user: impl Into<String>, allow_ip: Ipv4Addr, access: Vec<(Protocol, u16)>) -> AccessRequest {
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
        format!("{},{}", self.allow_ip, format_access_list(&self.access))
    }

    /// Checks everything [`build`] checks that does not depend on the keys or the clock, except the packet
    /// length.
    pub fn validate(&self) -> Result<(), SpaError> {
        validate_username(&self.user)?;
        if self.access.is_empty() {
            return Err(SpaError::EmptyAccess);
        }
        if let Some((proto, port)) = self.access.iter().find(|(_, port)| *port == 0) {
            return Err(SpaError::InvalidAccess {
                token: format!("{proto}/{port}"),
                reason: AccessProblem::PortOutOfRange,
            });
        }
        if let Some((host, port)) = &self.nat {
            validate_nat_host(host)?;
            if *port == 0 {
                return Err(SpaError::InvalidNat { nat: format!("{host},{port}"), reason: NatProblem::PortOutOfRange });
            }
        }
        if let Some(timeout) = self.client_timeout
            && !(1..=MAX_CLIENT_TIMEOUT).contains(&timeout)
        {
            return Err(SpaError::ClientTimeout { timeout });
        }
        Ok(())
    }
}

/// Checks a username against fwknop's rules: 1..=48 bytes of printable ASCII without
/// `" / \ [ ] : ; | = , + * ? < >`.
pub fn validate_username(user: &str) -> Result<(), SpaError> {
    if user.is_empty() {
        return Err(SpaError::UsernameEmpty);
    }
    if let Some(ch) = user.chars().find(|&c| !(' '..='~').contains(&c) || USERNAME_FORBIDDEN.contains(c)) {
        return Err(SpaError::UsernameChar { user: user.to_owned(), ch });
    }
    if user.len() > MAX_USERNAME_LEN {
        return Err(SpaError::UsernameTooLong { user: user.to_owned(), len: user.len() });
    }
    Ok(())
}

/// Where the username comes from, first set and non-empty wins: as the fwknop client on Unix; Windows
/// sets `USERNAME` instead of `LOGNAME`/`USER`, so it is read there (else every Windows user is `NO_USER`).
#[cfg(not(windows))]
const USERNAME_VARIABLES: [&str; 3] = ["SPOOF_USER", "LOGNAME", "USER"];
#[cfg(windows)]
const USERNAME_VARIABLES: [&str; 4] = ["SPOOF_USER", "LOGNAME", "USER", "USERNAME"];

/// The username the fwknop client would send: `$SPOOF_USER`, `$LOGNAME`, `$USER` (and `%USERNAME%` on
/// Windows), then `NO_USER`.
pub fn default_username() -> String {
    USERNAME_VARIABLES
        .into_iter()
        .filter_map(|var| std::env::var(var).ok())
        .find(|value| !value.is_empty())
        .unwrap_or_else(|| "NO_USER".to_owned())
}

fn validate_nat_host(host: &str) -> Result<(), SpaError> {
    let problem = if host.is_empty() {
        Some(NatProblem::EmptyHost)
    } else {
        host.chars().find(|&c| !('!'..='~').contains(&c) || "/?\"'\\,".contains(c)).map(NatProblem::ForbiddenChar)
    };
    match problem {
        Some(reason) => Err(SpaError::InvalidNat { nat: host.to_owned(), reason }),
        None => Ok(()),
    }
}

/// Parses an access list, `tcp/22,udp/53` (fwknop's `-A`/`ACCESS`): comma-separated `PROTO/PORT` entries,
/// protocol `tcp` or `udp` (case-insensitive), port 1..=65535, whitespace around entries ignored.
pub fn parse_access_list(text: &str) -> Result<Vec<(Protocol, u16)>, SpaError> {
    if text.trim().is_empty() {
        return Err(SpaError::EmptyAccess);
    }
    text.split(',').map(parse_access_entry).collect()
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

/// Prints an access list as `tcp/22,udp/53`, the form [`parse_access_list`] reads.
pub fn format_access_list(access: &[(Protocol, u16)]) -> String {
    access.iter().map(|(proto, port)| format!("{proto}/{port}")).collect::<Vec<_>>().join(",")
}

/// Splits an access message `<allow_ip>,<proto>/<port>[,...]` (what [`DecodedSpa::message`] holds for the
/// access types) into its address and entries.
pub fn parse_access_message(message: &str) -> Result<(Ipv4Addr, Vec<(Protocol, u16)>), SpaError> {
    let malformed = |reason: &str| SpaError::Malformed { reason: format!("access message {message:?} {reason}") };
    let (ip_text, list) = message.split_once(',').ok_or_else(|| malformed("has no comma after the address"))?;
    let ip = ip_text.parse::<Ipv4Addr>().map_err(|_| malformed("does not start with a dotted IPv4 address"))?;
    Ok((ip, parse_access_list(list)?))
}

// ---------------------------------------------------------------------------------------------------------
// Errors
// ---------------------------------------------------------------------------------------------------------

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

// ---------------------------------------------------------------------------------------------------------
// Building
// ---------------------------------------------------------------------------------------------------------

/// The wire length for a plaintext (`ENC:digest`) of `plaintext_len` bytes:
/// `ceil(4 * (16 + 16 * (floor(PT / 16) + 1)) / 3) - 10 + hmac.b64_len()`.
pub fn wire_length(plaintext_len: usize, hmac: HmacType) -> usize {
    let blob = SALTED_MAGIC.len() + 8 + 16 * (plaintext_len / 16 + 1);
    b64np_len(blob) - SALTED_PREFIX_B64.len() + hmac.b64_len()
}

/// Builds the ASCII payload of one SPA datagram (send it as is, to UDP port [`DEFAULT_PORT`] by default).
///
/// Every call draws a fresh salt and random value, so a retry never repeats bytes (fwknopd would refuse a
/// repeat as a replay). `now` is the clock to stamp, before [`AccessRequest::time_offset`].
pub fn build(request: &AccessRequest, key: &SpaKey, hmac_key: &HmacKey, now: SystemTime) -> Result<String, SpaError> {
    check_keys(key, hmac_key)?;
    request.validate()?;
    let since_epoch = match now.duration_since(UNIX_EPOCH) {
        Ok(d) => i128::from(d.as_secs()),
        Err(e) => -i128::from(e.duration().as_secs()),
    };
    let timestamp = since_epoch + i128::from(request.time_offset);
    let timestamp = u32::try_from(timestamp).map_err(|_| SpaError::Timestamp { timestamp })?;
    let mut fields = DecodedSpa {
        rand: random_digits()?,
        user: request.user.clone(),
        timestamp: u64::from(timestamp),
        version: PROTOCOL_VERSION.to_owned(),
        message_type: request.message_type(),
        message: request.message(),
        nat: request.nat.as_ref().map(|(host, port)| format!("{host},{port}")),
        server_auth: None,
        client_timeout: request.client_timeout,
        digest_type: request.digest,
        digest: String::new(),
    };
    let enc = fields.enc_text();
    fields.digest = request.digest.digest_b64(enc.as_bytes());
    let plaintext = Zeroizing::new(format!("{}:{}", *enc, fields.digest));
    fields.zeroize_text();

    let len = wire_length(plaintext.len(), request.hmac);
    if len >= MAX_WIRE_LEN_EXCLUSIVE {
        let max_plaintext_len =
            (0..plaintext.len()).rev().find(|&pt| wire_length(pt, request.hmac) < MAX_WIRE_LEN_EXCLUSIVE).unwrap_or(0);
        return Err(SpaError::PacketTooLong {
            len,
            plaintext_len: plaintext.len(),
            max_plaintext_len,
            hmac: request.hmac,
        });
    }
    if len < MIN_WIRE_LEN {
        return Err(SpaError::PacketTooShort { len });
    }
    let mut salt = [0u8; 8];
    fill_random(&mut salt)?;
    seal(plaintext.as_bytes(), &salt, key, hmac_key, request.hmac)
}

fn check_keys(key: &SpaKey, hmac_key: &HmacKey) -> Result<(), SpaError> {
    // Constructors enforce the lengths; re-checked because the packet is worthless with a bad key.
    if key.is_empty() || key.len() > MAX_KEY_LEN {
        return Err(SpaError::KeyLength { len: key.len() });
    }
    if hmac_key.is_empty() || hmac_key.len() > MAX_HMAC_KEY_LEN {
        return Err(SpaError::HmacKeyLength { len: hmac_key.len() });
    }
    if key.as_bytes() == hmac_key.as_bytes() {
        return Err(SpaError::KeysEqual);
    }
    Ok(())
}

/// Encrypts, frames, strips the prefix and appends the HMAC: layers 3 to 5 of the module docs.
fn seal(
    plaintext: &[u8],
    salt: &[u8; 8],
    key: &SpaKey,
    hmac_key: &HmacKey,
    hmac: HmacType,
) -> Result<String, SpaError> {
    let (aes_key, iv) = evp_bytes_to_key_md5(key.as_bytes(), salt);
    let ciphertext =
        cbc::Encryptor::<Aes256>::new((&*aes_key).into(), (&*iv).into()).encrypt_padded_vec::<Pkcs7>(plaintext);
    let mut blob = Vec::with_capacity(16 + ciphertext.len());
    blob.extend_from_slice(SALTED_MAGIC);
    blob.extend_from_slice(salt);
    blob.extend_from_slice(&ciphertext);
    let body = b64np(&blob);
    let mac = hmac.mac(hmac_key.as_bytes(), body.as_bytes())?;
    let stripped = body.strip_prefix(SALTED_PREFIX_B64).ok_or(SpaError::Ciphertext { reason: "no Salted__ prefix" })?;
    Ok(format!("{stripped}{}", b64np(&mac)))
}

/// OpenSSL's `EVP_BytesToKey(aes-256-cbc, md5, salt, pass, count 1)`: `D1 = MD5(pass||salt)`,
/// `Dn = MD5(Dn-1||pass||salt)`, key = `D1||D2`, iv = `D3`.
fn evp_bytes_to_key_md5(pass: &[u8], salt: &[u8; 8]) -> (Zeroizing<[u8; 32]>, Zeroizing<[u8; 16]>) {
    let mut material = Zeroizing::new([0u8; 48]);
    let mut previous: Option<[u8; 16]> = None;
    for chunk in material.chunks_exact_mut(16) {
        let mut hasher = md5::Md5::new();
        if let Some(prev) = &previous {
            hasher.update(prev);
        }
        hasher.update(pass);
        hasher.update(salt);
        let mut digest = hasher.finalize();
        chunk.copy_from_slice(&digest);
        let mut block = [0u8; 16];
        block.copy_from_slice(&digest);
        digest.as_mut_slice().zeroize();
        if let Some(prev) = previous.as_mut() {
            prev.zeroize();
        }
        previous = Some(block);
        block.zeroize();
    }
    if let Some(prev) = previous.as_mut() {
        prev.zeroize();
    }
    let mut key = Zeroizing::new([0u8; 32]);
    let mut iv = Zeroizing::new([0u8; 16]);
    key.copy_from_slice(&material[..32]);
    iv.copy_from_slice(&material[32..]);
    (key, iv)
}

fn fill_random(buf: &mut [u8]) -> Result<(), SpaError> {
    getrandom::fill(buf).map_err(|err| SpaError::Random { reason: err.to_string() })
}

/// 16 uniformly random decimal digits (rejection sampling keeps them unbiased).
fn random_digits() -> Result<String, SpaError> {
    let mut digits = String::with_capacity(RAND_DIGITS);
    while digits.len() < RAND_DIGITS {
        let mut bytes = [0u8; 32];
        fill_random(&mut bytes)?;
        for b in bytes.into_iter().filter(|&b| b < 250).take(RAND_DIGITS - digits.len()) {
            digits.push(char::from(b'0' + b % 10));
        }
    }
    Ok(digits)
}

/// fwknopd's replay-cache key for a payload: `B64NP(SHA-256(payload))`, HMAC included.
pub fn replay_digest(wire: &str) -> String {
    b64np(&sha2::Sha256::digest(wire.as_bytes()))
}

// ---------------------------------------------------------------------------------------------------------
// Decoding
// ---------------------------------------------------------------------------------------------------------

/// Every field of a verified SPA packet.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DecodedSpa {
    /// The 16 random digits.
    pub rand: String,
    pub user: String,
    /// Unix seconds as sent (clock plus the client's time offset).
    pub timestamp: u64,
    /// Protocol version text, `3.0.0` from fwknop 2.6 clients.
    pub version: String,
    pub message_type: MessageType,
    /// `<allow_ip>,<proto>/<port>[,...]` for access types (see [`parse_access_message`]),
    /// `<allow_ip>,<command>` for [`MessageType::Command`].
    pub message: String,
    /// `<host>,<port>` for the NAT types.
    pub nat: Option<String>,
    /// The optional server-auth field, which fwknop 2.6 never sends and fwknopd ignores.
    pub server_auth: Option<String>,
    pub client_timeout: Option<u32>,
    pub digest_type: DigestType,
    /// The digest as sent (unpadded base64), already verified.
    pub digest: String,
}

impl DecodedSpa {
    /// `ENC`: the fields joined with `:`, without the digest.
    fn enc_text(&self) -> Zeroizing<String> {
        let mut enc = Zeroizing::new(format!(
            "{}:{}:{}:{}:{}:{}",
            self.rand,
            b64np(self.user.as_bytes()),
            self.timestamp,
            self.version,
            self.message_type.code(),
            b64np(self.message.as_bytes())
        ));
        if let Some(nat) = &self.nat {
            enc.push(':');
            enc.push_str(&b64np(nat.as_bytes()));
        }
        if let Some(auth) = &self.server_auth {
            enc.push(':');
            enc.push_str(&b64np(auth.as_bytes()));
        }
        if let Some(timeout) = self.client_timeout {
            enc.push(':');
            enc.push_str(&timeout.to_string());
        }
        enc
    }

    fn zeroize_text(&mut self) {
        self.rand.zeroize();
        self.message.zeroize();
        if let Some(nat) = self.nat.as_mut() {
            nat.zeroize();
        }
    }
}

/// Verifies and decrypts an SPA payload the way fwknopd does: length and character checks, the HMAC (in
/// constant time, before anything is decrypted), the prefix put back, AES-256-CBC with PKCS#7, the
/// "16 digits and a colon" check, the fields, and the digest, which must be of type `digest`.
///
/// It does not check the timestamp's age, the replay cache or the server's access rules.
pub fn decode(
    wire: &str,
    key: &SpaKey,
    hmac_key: &HmacKey,
    hmac: HmacType,
    digest: DigestType,
) -> Result<DecodedSpa, SpaError> {
    let plaintext = open(wire, key, hmac_key, hmac)?;
    parse_plaintext(&plaintext, digest)
}

/// Layers 5 to 3: checks the payload and its HMAC, decrypts, and returns the plaintext.
fn open(wire: &str, key: &SpaKey, hmac_key: &HmacKey, hmac: HmacType) -> Result<Zeroizing<Vec<u8>>, SpaError> {
    if let Some((position, ch)) =
        wire.chars().enumerate().find(|&(_, c)| !(c.is_ascii_alphanumeric() || matches!(c, '+' | '/' | '=')))
    {
        return Err(SpaError::WireChar { position, ch });
    }
    // All ASCII from here on: byte offsets are character offsets.
    if !(MIN_WIRE_LEN..MAX_WIRE_LEN_EXCLUSIVE).contains(&wire.len()) {
        return Err(SpaError::WireLength { len: wire.len() });
    }
    if wire.starts_with(SALTED_PREFIX_B64) {
        return Err(SpaError::WirePrefix);
    }
    let (stripped, mac_text) = wire.split_at(wire.len() - hmac.b64_len());
    let body = format!("{SALTED_PREFIX_B64}{stripped}");
    // A MAC that is not even base64 of the right size cannot match.
    let tag = STANDARD_NO_PAD.decode(mac_text).map_err(|_| SpaError::HmacMismatch)?;
    if !hmac.verify(hmac_key.as_bytes(), body.as_bytes(), &tag) {
        return Err(SpaError::HmacMismatch);
    }

    let blob = LENIENT_B64.decode(&body).map_err(|_| SpaError::Ciphertext { reason: "it is not valid base64" })?;
    let (magic, rest) =
        blob.split_at_checked(SALTED_MAGIC.len()).ok_or(SpaError::Ciphertext { reason: "too short" })?;
    if magic != SALTED_MAGIC {
        return Err(SpaError::Ciphertext { reason: "it does not start with Salted__" });
    }
    let (salt, ciphertext) = rest.split_first_chunk::<8>().ok_or(SpaError::Ciphertext { reason: "too short" })?;
    if ciphertext.is_empty() || ciphertext.len() % 16 != 0 {
        return Err(SpaError::Ciphertext { reason: "its length is not a positive multiple of the 16-byte AES block" });
    }
    let (aes_key, iv) = evp_bytes_to_key_md5(key.as_bytes(), salt);
    let plaintext = cbc::Decryptor::<Aes256>::new((&*aes_key).into(), (&*iv).into())
        .decrypt_padded_vec::<Pkcs7>(ciphertext)
        .map(Zeroizing::new)
        .map_err(|_| SpaError::DecryptionFailed)?;
    // fwknopd's own "did decryption work" test: 16 digits, then a colon.
    let looks_right = plaintext.len() > RAND_DIGITS
        && plaintext[..RAND_DIGITS].iter().all(u8::is_ascii_digit)
        && plaintext[RAND_DIGITS] == b':';
    if !looks_right {
        return Err(SpaError::DecryptionFailed);
    }
    Ok(plaintext)
}

fn malformed(reason: impl Into<String>) -> SpaError {
    SpaError::Malformed { reason: reason.into() }
}

/// Layers 2 and 1: verifies the digest and splits the fields.
fn parse_plaintext(plaintext: &[u8], digest_type: DigestType) -> Result<DecodedSpa, SpaError> {
    if !(MIN_PLAINTEXT_LEN..=MAX_PLAINTEXT_LEN).contains(&plaintext.len()) {
        return Err(malformed(format!("it is {} bytes, not 36 to 1500", plaintext.len())));
    }
    if let Some(position) = plaintext.iter().position(|b| !(b' '..=b'~').contains(b)) {
        return Err(malformed(format!("byte {position} is not printable ASCII")));
    }
    let text = std::str::from_utf8(plaintext).map_err(|_| malformed("it is not text"))?;
    let (enc, digest) = text.rsplit_once(':').ok_or_else(|| malformed("it has no field separators"))?;
    if digest.len() != digest_type.b64_len() {
        let found = match DigestType::from_b64_len(digest.len()) {
            Some(other) => format!("the length of {other}"),
            None => "no known digest's length".to_owned(),
        };
        return Err(SpaError::DigestLength {
            len: digest.len(),
            found,
            expected: digest_type,
            expected_len: digest_type.b64_len(),
        });
    }
    if digest_type.digest_b64(enc.as_bytes()) != digest {
        return Err(SpaError::DigestMismatch { digest: digest_type });
    }

    let fields: Vec<&str> = enc.split(':').collect();
    if !(MIN_FIELDS - 1..=MAX_FIELDS - 1).contains(&fields.len()) {
        return Err(malformed(format!("it has {} fields besides the digest, not 6 to 9", fields.len())));
    }
    let rand = fields[0];
    if rand.len() != RAND_DIGITS || !rand.bytes().all(|b| b.is_ascii_digit()) {
        return Err(malformed("the random value is not 16 digits"));
    }
    let user = b64_field(fields[1], "username", MAX_USER_B64)?;
    validate_username(&user).map_err(|err| malformed(err.to_string()))?;
    let timestamp_text = fields[2];
    if timestamp_text.is_empty()
        || timestamp_text.len() > MAX_TIMESTAMP_CHARS
        || !timestamp_text.bytes().all(|b| b.is_ascii_digit())
    {
        return Err(malformed(format!("the timestamp {timestamp_text:?} is not 1 to 12 digits")));
    }
    let timestamp = timestamp_text.parse::<u64>().map_err(|_| malformed("the timestamp does not fit"))?;
    let version = fields[3];
    if version.is_empty() || version.len() > MAX_VERSION_CHARS {
        return Err(malformed(format!("the version {version:?} is not 1 to 8 characters")));
    }
    let message_type = fields[4]
        .parse::<u8>()
        .ok()
        .filter(|_| fields[4].bytes().all(|b| b.is_ascii_digit()))
        .and_then(MessageType::from_code)
        .ok_or_else(|| malformed(format!("the message type {:?} is not 0 to 6", fields[4])))?;
    let message = b64_field(fields[5], "message", MAX_MESSAGE_B64)?;

    let rest = &fields[6..];
    let needed = usize::from(message_type.has_nat()) + usize::from(message_type.has_client_timeout());
    let has_server_auth = match rest.len() {
        n if n == needed => false,
        n if n == needed + 1 => true,
        n => {
            return Err(malformed(format!(
                "message type {message_type} has {n} fields after the message, expected {needed} or {}",
                needed + 1
            )));
        }
    };
    let mut rest = rest.iter();
    let mut next = || rest.next().copied().ok_or_else(|| malformed("a field is missing"));
    let nat = if message_type.has_nat() {
        let nat = b64_field(next()?, "NAT", MAX_MESSAGE_B64)?;
        match nat.split_once(',') {
            Some((host, port)) if !port.contains(',') => {
                validate_nat_host(host).map_err(|err| malformed(err.to_string()))?;
                if port.parse::<u16>().ok().filter(|&p| p > 0).is_none() {
                    return Err(malformed(format!("the NAT port in {nat:?} is not 1 to 65535")));
                }
            }
            _ => return Err(malformed(format!("the NAT field {nat:?} is not <host>,<port>"))),
        }
        Some(nat)
    } else {
        None
    };
    let server_auth = if has_server_auth { Some(b64_field(next()?, "server auth", 88)?) } else { None };
    if server_auth.as_ref().is_some_and(|auth| auth.len() > MAX_SERVER_AUTH_LEN) {
        return Err(malformed("the server auth field is 64 bytes or more"));
    }
    let client_timeout = if message_type.has_client_timeout() {
        let text = next()?;
        let timeout = Some(text)
            .filter(|t| !t.is_empty() && t.len() <= 5 && t.bytes().all(|b| b.is_ascii_digit()))
            .and_then(|t| t.parse::<u32>().ok())
            .filter(|&t| t <= 65536)
            .ok_or_else(|| malformed(format!("the client timeout {text:?} is not 0 to 65536")))?;
        Some(timeout)
    } else {
        None
    };

    Ok(DecodedSpa {
        rand: rand.to_owned(),
        user,
        timestamp,
        version: version.to_owned(),
        message_type,
        message,
        nat,
        server_auth,
        client_timeout,
        digest_type,
        digest: digest.to_owned(),
    })
}

/// Decodes one base64 field of at most `max` characters into text.
fn b64_field(text: &str, name: &str, max: usize) -> Result<String, SpaError> {
    if text.is_empty() || text.len() > max {
        return Err(malformed(format!("the {name} field is {} base64 characters, not 1 to {max}", text.len())));
    }
    let bytes = LENIENT_B64.decode(text).map_err(|_| malformed(format!("the {name} field is not base64")))?;
    String::from_utf8(bytes).map_err(|_| malformed(format!("the {name} field is not UTF-8 text")))
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::time::Duration;

    // Section 2 of the spec: a packet captured from the real fwknop 2.6.10 client, with throwaway lab keys.
    const KEY_B64: &str = "CNmiXzecHgvpYHYfmcRo+B+gUnoIYRQPD7njqnN9LsQ=";
    const HMAC_B64: &str = "p1TvXvCS7ameDT1sa0mFfptXKIkHXsBd1ssfXxmbGx72DOJR9jbT5iZ0NmCVHK3phqG6bAE4rhAEGTFCfLd41w==";
    const WIRE: &str = "+Qz9rSbjFcWE7+rL9hVxvevOlA1DiW6eWFrtS6TH+2+822XJhRaUuwnsB0KRXb0uo+ze2o/oBLBcxsWiZ2pJ8kDoR7ApEEPX+TLyszepHPh2hLmM7rjPdboIoaaGHAfCuFSHtycmlGr1BbwkFKDQ6ZWIluGERGGzhQr58gk6IwhdCz0Qg99X0acrY2cmvuh29OrWHGHgU58GzNs2noLRU38XDqNMM1e98";
    const VECTOR_MAC: &str = "crY2cmvuh29OrWHGHgU58GzNs2noLRU38XDqNMM1e98";
    const VECTOR_SALT: &str = "90cfdad26e315c58";
    const VECTOR_KEY: &str = "120d6835728e72546c8fdb04e41aa6b521502c2cb6252f4331239817690d5e7a";
    const VECTOR_IV: &str = "b7a6c51b9de999687afc34dd1a055cff";
    const VECTOR_ENC: &str = "1695767333156155:c3BhdXNlcg:1795562722:3.0.0:1:MTAuMjAxLjAuMix0Y3AvMjI";
    const VECTOR_DIGEST: &str = "dcCUZEek7OAHzntA9l1hNpnruYb1bnOJkSU18/h+GoI";
    const VECTOR_REPLAY: &str = "9y5GG9CaYQwAf0TG0m1QAlA9I/LH9HPBgmSoWjjSles";
    const VECTOR_TIME: u64 = 1795562722;

    fn vector_keys() -> (SpaKey, HmacKey) {
        (SpaKey::from_base64(KEY_B64).expect("key"), HmacKey::from_base64(HMAC_B64).expect("hmac key"))
    }

    fn hex(bytes: &[u8]) -> String {
        bytes.iter().map(|b| format!("{b:02x}")).collect()
    }

    fn unhex(text: &str) -> Vec<u8> {
        (0..text.len()).step_by(2).map(|i| u8::from_str_radix(&text[i..i + 2], 16).expect("hex")).collect()
    }

    fn vector_plaintext() -> String {
        format!("{VECTOR_ENC}:{VECTOR_DIGEST}")
    }

    fn at(secs: u64) -> SystemTime {
        UNIX_EPOCH + Duration::from_secs(secs)
    }

    fn lab_request() -> AccessRequest {
        AccessRequest::new("spauser", Ipv4Addr::new(10, 201, 0, 2), vec![(Protocol::Tcp, 22)])
    }

    fn test_keys() -> (SpaKey, HmacKey) {
        keygen()
    }

    /// Seals an arbitrary plaintext with the given keys (for decoder tests of hand-made field sets).
    fn seal_text(plaintext: &str, key: &SpaKey, hmac_key: &HmacKey, hmac: HmacType) -> String {
        seal(plaintext.as_bytes(), &[7u8; 8], key, hmac_key, hmac).expect("seal")
    }

    fn with_digest(enc: &str, digest: DigestType) -> String {
        format!("{enc}:{}", digest.digest_b64(enc.as_bytes()))
    }

    // ----- the captured test vector --------------------------------------------------------------------

    #[test]
    fn vector_decodes_to_every_field() {
        let (key, hmac_key) = vector_keys();
        assert_eq!(WIRE.len(), 225);
        let d = decode(WIRE, &key, &hmac_key, HmacType::Sha256, DigestType::Sha256).expect("vector decodes");
        assert_eq!(d.rand, "1695767333156155");
        assert_eq!(d.user, "spauser");
        assert_eq!(d.timestamp, VECTOR_TIME);
        assert_eq!(d.version, "3.0.0");
        assert_eq!(d.message_type, MessageType::Access);
        assert_eq!(d.message_type.code(), 1);
        assert_eq!(d.message, "10.201.0.2,tcp/22");
        assert_eq!(d.nat, None);
        assert_eq!(d.server_auth, None);
        assert_eq!(d.client_timeout, None);
        assert_eq!(d.digest_type, DigestType::Sha256);
        assert_eq!(d.digest, VECTOR_DIGEST);
        assert_eq!(parse_access_message(&d.message), Ok((Ipv4Addr::new(10, 201, 0, 2), vec![(Protocol::Tcp, 22)])));
    }

    #[test]
    fn vector_intermediate_values_match_the_spec() {
        let (key, hmac_key) = vector_keys();
        assert_eq!(key.len(), 32);
        assert_eq!(hmac_key.len(), 64);
        assert!(WIRE.ends_with(VECTOR_MAC));
        let body = format!("{SALTED_PREFIX_B64}{}", &WIRE[..WIRE.len() - 43]);
        assert_eq!(body.len(), 192);
        let blob = STANDARD_NO_PAD.decode(&body).expect("body is base64");
        assert_eq!(blob.len(), 144);
        assert_eq!(&blob[..8], b"Salted__");
        assert_eq!(hex(&blob[8..16]), VECTOR_SALT);
        assert_eq!(blob.len() - 16, 128, "ciphertext bytes");

        let salt: [u8; 8] = blob[8..16].try_into().expect("8 bytes");
        let (aes_key, iv) = evp_bytes_to_key_md5(key.as_bytes(), &salt);
        assert_eq!(hex(&*aes_key), VECTOR_KEY);
        assert_eq!(hex(&*iv), VECTOR_IV);

        // Raw decryption without unpadding shows the 14 bytes of PKCS#7 padding.
        let raw = cbc::Decryptor::<Aes256>::new((&*aes_key).into(), (&*iv).into())
            .decrypt_padded_vec::<cbc::cipher::block_padding::NoPadding>(&blob[16..])
            .expect("whole blocks");
        assert_eq!(raw.len(), 128);
        assert_eq!(&raw[114..], &[0x0e; 14]);
        assert_eq!(&raw[..114], vector_plaintext().as_bytes());

        let opened = open(WIRE, &key, &hmac_key, HmacType::Sha256).expect("opens");
        assert_eq!(opened.as_slice(), vector_plaintext().as_bytes());
        assert_eq!(opened.len(), 114);
        assert_eq!(wire_length(114, HmacType::Sha256), 225);
        assert_eq!(b64np(&HmacType::Sha256.mac(hmac_key.as_bytes(), body.as_bytes()).expect("mac")), VECTOR_MAC);
    }

    #[test]
    fn kdf_is_evp_bytes_to_key_md5() {
        let (key, _) = vector_keys();
        let salt: [u8; 8] = unhex(VECTOR_SALT).try_into().expect("8 bytes");
        let (aes_key, iv) = evp_bytes_to_key_md5(key.as_bytes(), &salt);
        assert_eq!(hex(&*aes_key), VECTOR_KEY);
        assert_eq!(hex(&*iv), VECTOR_IV);
        // The three MD5 rounds, spelled out.
        let d1 = md5::Md5::new().chain_update(key.as_bytes()).chain_update(salt).finalize();
        let d2 = md5::Md5::new().chain_update(d1).chain_update(key.as_bytes()).chain_update(salt).finalize();
        let d3 = md5::Md5::new().chain_update(d2).chain_update(key.as_bytes()).chain_update(salt).finalize();
        assert_eq!(format!("{}{}", hex(&d1), hex(&d2)), VECTOR_KEY);
        assert_eq!(hex(&d3), VECTOR_IV);
        // A one-byte passphrase still yields a full 256-bit key.
        let (short_key, short_iv) = evp_bytes_to_key_md5(b"k", &salt);
        assert_eq!(short_key.len(), 32);
        assert_ne!(hex(&*short_key), VECTOR_KEY);
        assert_ne!(hex(&*short_iv), VECTOR_IV);
    }

    #[test]
    fn digest_covers_the_exact_field_text() {
        assert_eq!(DigestType::Sha256.digest_b64(VECTOR_ENC.as_bytes()), VECTOR_DIGEST);
        let fields = DecodedSpa {
            rand: "1695767333156155".into(),
            user: "spauser".into(),
            timestamp: VECTOR_TIME,
            version: "3.0.0".into(),
            message_type: MessageType::Access,
            message: "10.201.0.2,tcp/22".into(),
            nat: None,
            server_auth: None,
            client_timeout: None,
            digest_type: DigestType::Sha256,
            digest: String::new(),
        };
        assert_eq!(fields.enc_text().as_str(), VECTOR_ENC);
        for d in DigestType::ALL {
            assert_eq!(d.digest_b64(b"x").len(), d.b64_len(), "{d}");
        }
        assert_eq!(
            DigestType::ALL.map(DigestType::b64_len),
            [22, 27, 43, 64, 86],
            "md5, sha1, sha256, sha384, sha512 per the spec"
        );
        assert_eq!(HmacType::ALL.map(HmacType::b64_len), [22, 27, 43, 64, 86]);
    }

    #[test]
    fn sealing_the_vector_plaintext_with_its_salt_reproduces_the_capture_byte_for_byte() {
        let (key, hmac_key) = vector_keys();
        let salt: [u8; 8] = unhex(VECTOR_SALT).try_into().expect("8 bytes");
        let wire = seal(vector_plaintext().as_bytes(), &salt, &key, &hmac_key, HmacType::Sha256).expect("seal");
        assert_eq!(wire, WIRE);
    }

    #[test]
    fn replay_digest_is_fwknopds_cache_entry() {
        assert_eq!(replay_digest(WIRE), VECTOR_REPLAY);
    }

    #[test]
    fn observed_field_layouts_for_other_message_types() {
        let base = DecodedSpa {
            rand: "1695767333156155".into(),
            user: "spauser".into(),
            timestamp: VECTOR_TIME,
            version: "3.0.0".into(),
            message_type: MessageType::ClientTimeoutAccess,
            message: "10.201.0.2,tcp/22".into(),
            nat: None,
            server_auth: None,
            client_timeout: Some(30),
            digest_type: DigestType::Sha256,
            digest: String::new(),
        };
        assert!(base.enc_text().ends_with(":3.0.0:3:MTAuMjAxLjAuMix0Y3AvMjI:30"));
        let nat = DecodedSpa {
            message_type: MessageType::NatAccess,
            nat: Some("192.168.10.5,22".into()),
            client_timeout: None,
            ..base.clone()
        };
        assert!(nat.enc_text().ends_with(":3.0.0:2:MTAuMjAxLjAuMix0Y3AvMjI:MTkyLjE2OC4xMC41LDIy"));
        let nat_timeout =
            DecodedSpa { message_type: MessageType::ClientTimeoutNatAccess, client_timeout: Some(45), ..nat };
        assert!(nat_timeout.enc_text().ends_with(":3.0.0:4:MTAuMjAxLjAuMix0Y3AvMjI:MTkyLjE2OC4xMC41LDIy:45"));
        let mut request = lab_request();
        request.nat = Some(("192.168.10.5".into(), 22));
        request.client_timeout = Some(45);
        assert_eq!(request.message_type(), MessageType::ClientTimeoutNatAccess);
    }

    // ----- build -> decode ----------------------------------------------------------------------------

    fn requests_of_every_type() -> Vec<AccessRequest> {
        let plain =
            AccessRequest::new("alice", Ipv4Addr::new(192, 0, 2, 7), vec![(Protocol::Tcp, 22), (Protocol::Udp, 53)]);
        let nat = AccessRequest { nat: Some(("10.0.0.5".into(), 2222)), ..plain.clone() };
        let timeout = AccessRequest { client_timeout: Some(30), ..plain.clone() };
        let nat_timeout = AccessRequest { client_timeout: Some(65535), ..nat.clone() };
        let source = AccessRequest { allow_ip: Ipv4Addr::UNSPECIFIED, time_offset: -60, ..plain.clone() };
        vec![plain, nat, timeout, nat_timeout, source]
    }

    /// Rebuilds the plaintext from the decoded fields: its length must give the wire length.
    fn plaintext_len(d: &DecodedSpa) -> usize {
        d.enc_text().len() + 1 + d.digest.len()
    }

    #[test]
    fn every_type_digest_and_hmac_round_trips() {
        let (key, hmac_key) = test_keys();
        let now = at(VECTOR_TIME);
        let mut seen_types = Vec::new();
        for base in requests_of_every_type() {
            for digest in DigestType::ALL {
                for hmac in HmacType::ALL {
                    let request = AccessRequest { digest, hmac, ..base.clone() };
                    let wire = build(&request, &key, &hmac_key, now).expect("builds");
                    let d = decode(&wire, &key, &hmac_key, hmac, digest).expect("decodes");
                    assert_eq!(d.user, request.user);
                    assert_eq!(d.timestamp, (VECTOR_TIME as i64 + request.time_offset) as u64);
                    assert_eq!(d.version, PROTOCOL_VERSION);
                    assert_eq!(d.message_type, request.message_type());
                    assert_eq!(d.message, request.message());
                    assert_eq!(parse_access_message(&d.message), Ok((request.allow_ip, request.access.clone())));
                    assert_eq!(d.nat, request.nat.as_ref().map(|(h, p)| format!("{h},{p}")));
                    assert_eq!(d.client_timeout, request.client_timeout);
                    assert_eq!(d.server_auth, None);
                    assert_eq!(d.digest_type, digest);
                    assert_eq!(d.rand.len(), 16);
                    assert!(d.rand.bytes().all(|b| b.is_ascii_digit()));
                    assert!(wire.is_ascii() && !wire.starts_with(SALTED_PREFIX_B64));
                    assert!((MIN_WIRE_LEN..MAX_WIRE_LEN_EXCLUSIVE).contains(&wire.len()), "{}", wire.len());
                    assert_eq!(wire.len(), wire_length(plaintext_len(&d), hmac), "spec's length formula");
                    seen_types.push(d.message_type);
                }
            }
        }
        for t in [
            MessageType::Access,
            MessageType::NatAccess,
            MessageType::ClientTimeoutAccess,
            MessageType::ClientTimeoutNatAccess,
        ] {
            assert!(seen_types.contains(&t), "{t}");
        }
    }

    #[test]
    fn the_lab_request_is_225_characters_like_the_c_client() {
        let (key, hmac_key) = vector_keys();
        let wire = build(&lab_request(), &key, &hmac_key, at(VECTOR_TIME)).expect("builds");
        assert_eq!(wire.len(), 225);
    }

    #[test]
    fn every_build_is_fresh() {
        let (key, hmac_key) = test_keys();
        let request = lab_request();
        let now = at(VECTOR_TIME);
        let first = build(&request, &key, &hmac_key, now).expect("first");
        let second = build(&request, &key, &hmac_key, now).expect("second");
        assert_ne!(first, second);
        assert_ne!(replay_digest(&first), replay_digest(&second));
        let salt = |wire: &str| {
            let blob = STANDARD_NO_PAD.decode(format!("{SALTED_PREFIX_B64}{}", &wire[..wire.len() - 43])).expect("b64");
            blob[8..16].to_vec()
        };
        assert_ne!(salt(&first), salt(&second), "a fresh salt per build");
        let a = decode(&first, &key, &hmac_key, HmacType::Sha256, DigestType::Sha256).expect("a");
        let b = decode(&second, &key, &hmac_key, HmacType::Sha256, DigestType::Sha256).expect("b");
        assert_ne!(a.rand, b.rand);
        assert_eq!((a.user, a.timestamp, a.message), (b.user, b.timestamp, b.message));
        let many: std::collections::HashSet<String> =
            (0..50).map(|_| build(&request, &key, &hmac_key, now).expect("build")).collect();
        assert_eq!(many.len(), 50);
    }

    #[test]
    fn random_digits_are_sixteen_digits_and_vary() {
        let all: std::collections::HashSet<String> = (0..200).map(|_| random_digits().expect("rng")).collect();
        assert_eq!(all.len(), 200);
        assert!(all.iter().all(|r| r.len() == 16 && r.bytes().all(|b| b.is_ascii_digit())));
        // Every digit shows up in every position across 200 draws with overwhelming probability.
        let counts = all.iter().flat_map(|r| r.bytes()).fold([0usize; 10], |mut c, b| {
            c[usize::from(b - b'0')] += 1;
            c
        });
        assert!(counts.iter().all(|&c| c > 200), "{counts:?}");
    }

    #[test]
    fn length_formula_matches_sealing_for_every_plaintext_size() {
        let (key, hmac_key) = test_keys();
        for hmac in HmacType::ALL {
            for pt_len in 36..=300 {
                let pt = format!("1234567890123456:{}", "A".repeat(pt_len - 17));
                let wire = seal(pt.as_bytes(), &[1; 8], &key, &hmac_key, hmac).expect("seal");
                assert_eq!(wire.len(), wire_length(pt_len, hmac), "PT {pt_len} {hmac}");
            }
        }
    }

    #[test]
    fn time_offset_shifts_the_timestamp() {
        let (key, hmac_key) = test_keys();
        for offset in [-300i64, 0, 7200] {
            let request = AccessRequest { time_offset: offset, ..lab_request() };
            let wire = build(&request, &key, &hmac_key, at(VECTOR_TIME)).expect("builds");
            let d = decode(&wire, &key, &hmac_key, HmacType::Sha256, DigestType::Sha256).expect("decodes");
            assert_eq!(d.timestamp as i64, VECTOR_TIME as i64 + offset);
        }
    }

    #[test]
    fn openssl_decrypts_a_built_packet() {
        let passphrase = "correct horse battery staple";
        let key = SpaKey::new(passphrase.as_bytes()).expect("key");
        let hmac_key = HmacKey::new(b"another secret".to_vec()).expect("hmac");
        let wire = build(&lab_request(), &key, &hmac_key, at(VECTOR_TIME)).expect("builds");
        let mut body = format!("{SALTED_PREFIX_B64}{}", &wire[..wire.len() - 43]);
        while body.len() % 4 != 0 {
            body.push('=');
        }
        let child = std::process::Command::new("openssl")
            .args(["enc", "-d", "-aes-256-cbc", "-md", "md5", "-a", "-A", "-pass"])
            .arg(format!("pass:{passphrase}"))
            .stdin(std::process::Stdio::piped())
            .stdout(std::process::Stdio::piped())
            .stderr(std::process::Stdio::piped())
            .spawn();
        let Ok(mut child) = child else {
            eprintln!("openssl not installed: skipping the cross-check");
            return;
        };
        {
            use std::io::Write as _;
            let mut stdin = child.stdin.take().expect("stdin");
            stdin.write_all(body.as_bytes()).expect("write");
        }
        let out = child.wait_with_output().expect("openssl runs");
        assert!(out.status.success(), "openssl: {}", String::from_utf8_lossy(&out.stderr));
        let text = String::from_utf8(out.stdout).expect("ascii");
        let (enc, digest) = text.rsplit_once(':').expect("digest");
        assert_eq!(DigestType::Sha256.digest_b64(enc.as_bytes()), digest);
        assert!(enc.ends_with(":c3BhdXNlcg:1795562722:3.0.0:1:MTAuMjAxLjAuMix0Y3AvMjI"), "{enc}");
    }

    // ----- keys ---------------------------------------------------------------------------------------

    #[test]
    fn key_lengths_are_enforced() {
        assert_eq!(SpaKey::new(Vec::new()).expect_err("empty"), SpaError::KeyLength { len: 0 });
        assert_eq!(SpaKey::new(vec![1; 33]).expect_err("33"), SpaError::KeyLength { len: 33 });
        assert!(SpaKey::new(vec![1; 1]).is_ok() && SpaKey::new(vec![1; 32]).is_ok());
        assert_eq!(HmacKey::new(Vec::new()).expect_err("empty"), SpaError::HmacKeyLength { len: 0 });
        assert_eq!(HmacKey::new(vec![1; 129]).expect_err("129"), SpaError::HmacKeyLength { len: 129 });
        assert!(HmacKey::new(vec![1; 1]).is_ok() && HmacKey::new(vec![1; 128]).is_ok());
        let e = SpaKey::new(vec![1; 33]).expect_err("33").to_string();
        assert!(e.contains("33 bytes") && e.contains("1 to 32"), "{e}");
        let e = HmacKey::new(vec![1; 200]).expect_err("200").to_string();
        assert!(e.contains("200 bytes") && e.contains("1 to 128"), "{e}");
        // 48 bytes of base64 key: too long for Rijndael.
        assert_eq!(SpaKey::from_base64(&STANDARD.encode([9u8; 48])).expect_err("48"), SpaError::KeyLength { len: 48 });
        assert!(SpaKey::from_base64("").is_err());
    }

    #[test]
    fn base64_keys_decode_padded_or_not() {
        let (key, hmac_key) = vector_keys();
        let unpadded = SpaKey::from_base64(KEY_B64.trim_end_matches('=')).expect("unpadded");
        assert_eq!(unpadded.as_bytes(), key.as_bytes());
        let spaced = HmacKey::from_base64(&format!("  {}\n", HMAC_B64.trim_end_matches('='))).expect("spaced");
        assert_eq!(spaced.as_bytes(), hmac_key.as_bytes());
        assert_eq!(key.to_base64(), KEY_B64);
        assert_eq!(hmac_key.to_base64(), HMAC_B64);
    }

    #[test]
    fn bad_base64_keys_are_explained_without_quoting_them() {
        let secret = "CNmiXzecHgvpYHYf!cRo+B+gUnoIYRQPD7njqnN9LsQ=";
        let err = SpaKey::from_base64(secret).expect_err("bad char");
        let text = err.to_string();
        assert!(text.contains("KEY_BASE64") && text.contains("position 17"), "{text}");
        assert!(!text.contains("CNmi") && !format!("{err:?}").contains("CNmi"), "{text}");
        assert!(!text.contains('!') || text.contains("position"), "{text}");
        let err = HmacKey::from_base64("abcde").expect_err("length").to_string();
        assert!(err.contains("HMAC_KEY_BASE64") && err.contains("not a possible base64 length"), "{err}");
        assert!(!err.contains("abcde"), "{err}");
    }

    #[test]
    fn debug_never_prints_key_bytes() {
        let key = SpaKey::new(vec![0xAB; 32]).expect("key");
        let hmac_key = HmacKey::new(vec![0xCD; 64]).expect("hmac");
        let shown = format!("{key:?} {hmac_key:?} {:#?}", (&key, &hmac_key));
        assert_eq!(format!("{key:?}"), "SpaKey(<32 bytes redacted>)");
        assert_eq!(format!("{hmac_key:?}"), "HmacKey(<64 bytes redacted>)");
        for leak in ["171", "205", "ab", "AB", "cd", "CD", &key.to_base64()[..8], &hmac_key.to_base64()[..8]] {
            assert!(!shown.contains(leak), "{leak:?} in {shown}");
        }
    }

    #[test]
    fn equal_keys_are_refused() {
        let key = SpaKey::new(b"same secret".to_vec()).expect("key");
        let hmac_key = HmacKey::new(b"same secret".to_vec()).expect("hmac");
        let err = build(&lab_request(), &key, &hmac_key, at(VECTOR_TIME)).expect_err("equal keys");
        assert_eq!(err, SpaError::KeysEqual);
        assert!(err.to_string().contains("two different keys"));
    }

    #[test]
    fn keygen_makes_fwknop_sized_distinct_keys_and_prints_key_gen_lines() {
        let (key, hmac_key) = keygen();
        assert_eq!((key.len(), hmac_key.len()), (32, 64));
        let (key2, hmac_key2) = keygen();
        assert_ne!(key.as_bytes(), key2.as_bytes());
        assert_ne!(hmac_key.as_bytes(), hmac_key2.as_bytes());
        assert_ne!(key.as_bytes(), &hmac_key.as_bytes()[..32]);
        let lines = format_key_lines(&key, &hmac_key);
        let mut it = lines.lines();
        let k = it.next().and_then(|l| l.strip_prefix("KEY_BASE64: ")).expect("key line");
        let h = it.next().and_then(|l| l.strip_prefix("HMAC_KEY_BASE64: ")).expect("hmac line");
        assert_eq!(it.next(), None);
        assert_eq!((k.len(), h.len()), (44, 88));
        assert!(k.ends_with('=') && h.ends_with("=="), "padded like fwknop --key-gen");
        assert_eq!(SpaKey::from_base64(k).expect("k").as_bytes(), key.as_bytes());
        assert_eq!(HmacKey::from_base64(h).expect("h").as_bytes(), hmac_key.as_bytes());
        let (vk, vh) = vector_keys();
        assert_eq!(format_key_lines(&vk, &vh), format!("KEY_BASE64: {KEY_B64}\nHMAC_KEY_BASE64: {HMAC_B64}\n"));
    }

    // ----- request validation -------------------------------------------------------------------------

    fn build_err(request: &AccessRequest) -> SpaError {
        let (key, hmac_key) = test_keys();
        build(request, &key, &hmac_key, at(VECTOR_TIME)).expect_err("must be refused")
    }

    #[test]
    fn usernames_follow_fwknops_charset_and_length() {
        for ok in ["spauser", "a", "john.doe-1_x", "user@example", "Mixed Case", &"u".repeat(48)] {
            assert_eq!(validate_username(ok), Ok(()), "{ok:?}");
        }
        for ch in USERNAME_FORBIDDEN.chars() {
            let user = format!("bad{ch}user");
            let err = build_err(&AccessRequest { user: user.clone(), ..lab_request() });
            assert_eq!(err, SpaError::UsernameChar { user, ch });
            assert!(err.to_string().contains("printable ASCII except"), "{err}");
        }
        for (user, ch) in [("tab\tuser", '\t'), ("jösé", 'ö'), ("nul\0", '\0'), ("del\x7f", '\x7f')] {
            assert_eq!(validate_username(user), Err(SpaError::UsernameChar { user: user.into(), ch }));
        }
        assert_eq!(build_err(&AccessRequest { user: String::new(), ..lab_request() }), SpaError::UsernameEmpty);
        let long = "u".repeat(49);
        let err = build_err(&AccessRequest { user: long.clone(), ..lab_request() });
        assert_eq!(err, SpaError::UsernameTooLong { user: long, len: 49 });
        assert!(err.to_string().contains("at most 48"));
    }

    #[test]
    fn default_username_is_never_empty() {
        let user = default_username();
        assert!(!user.is_empty());
    }

    #[test]
    fn access_lists_parse_and_print() {
        assert_eq!(parse_access_list("tcp/22"), Ok(vec![(Protocol::Tcp, 22)]));
        assert_eq!(
            parse_access_list(" tcp/22 , UDP/53,Tcp/65535,udp/1"),
            Ok(vec![(Protocol::Tcp, 22), (Protocol::Udp, 53), (Protocol::Tcp, 65535), (Protocol::Udp, 1)])
        );
        let list = parse_access_list("tcp/22,udp/53").expect("list");
        assert_eq!(format_access_list(&list), "tcp/22,udp/53");
        assert_eq!(parse_access_list(&format_access_list(&list)), Ok(list));
    }

    #[test]
    fn bad_access_tokens_name_the_token() {
        let cases = [
            ("tcp/0", "tcp/0", "between 1 and 65535"),
            ("sctp/22", "sctp/22", "unknown protocol \"sctp\""),
            ("tcp/99999", "tcp/99999", "between 1 and 65535"),
            ("tcp/22,tcp/65536", "tcp/65536", "between 1 and 65535"),
            ("tcp/99999999999999999999", "tcp/99999999999999999999", "between 1 and 65535"),
            ("tcp22", "tcp22", "no /"),
            ("tcp/", "tcp/", "not a number"),
            ("tcp/-1", "tcp/-1", "not a number"),
            ("tcp/2 2", "tcp/2 2", "not a number"),
            ("/22", "/22", "unknown protocol \"\""),
            ("none/0", "none/0", "unknown protocol \"none\""),
            ("tcp/22,", "", "empty"),
            ("tcp/22,,udp/53", "", "empty"),
        ];
        for (text, token, reason) in cases {
            let err = parse_access_list(text).expect_err(text);
            let SpaError::InvalidAccess { token: got, .. } = &err else { panic!("{text}: {err:?}") };
            assert_eq!(got, token, "{text}");
            let message = err.to_string();
            assert!(message.contains(&format!("{token:?}")) && message.contains(reason), "{text}: {message}");
            assert!(message.contains("tcp/PORT or udp/PORT"), "{message}");
        }
        assert_eq!(parse_access_list(""), Err(SpaError::EmptyAccess));
        assert_eq!(parse_access_list("  "), Err(SpaError::EmptyAccess));
    }

    #[test]
    fn requests_need_valid_access_nat_and_timeout() {
        assert_eq!(build_err(&AccessRequest { access: vec![], ..lab_request() }), SpaError::EmptyAccess);
        assert!(build_err(&AccessRequest { access: vec![], ..lab_request() }).to_string().contains("none/0"));
        let err = build_err(&AccessRequest { access: vec![(Protocol::Tcp, 22), (Protocol::Udp, 0)], ..lab_request() });
        assert_eq!(err, SpaError::InvalidAccess { token: "udp/0".into(), reason: AccessProblem::PortOutOfRange });
        for timeout in [0, 65536, u32::MAX] {
            let err = build_err(&AccessRequest { client_timeout: Some(timeout), ..lab_request() });
            assert_eq!(err, SpaError::ClientTimeout { timeout });
            assert!(err.to_string().contains("1..=65535"));
        }
        for (host, port, reason) in [
            ("", 22, NatProblem::EmptyHost),
            ("10.0.0.5", 0, NatProblem::PortOutOfRange),
            ("a,b", 22, NatProblem::ForbiddenChar(',')),
            ("host/x", 22, NatProblem::ForbiddenChar('/')),
            ("it's", 22, NatProblem::ForbiddenChar('\'')),
            ("sp ace", 22, NatProblem::ForbiddenChar(' ')),
        ] {
            let err = build_err(&AccessRequest { nat: Some((host.into(), port)), ..lab_request() });
            let SpaError::InvalidNat { reason: got, .. } = &err else { panic!("{host}: {err:?}") };
            assert_eq!(got, &reason, "{host}");
        }
    }

    #[test]
    fn timestamps_must_fit_fwknops_unsigned_seconds() {
        let err = build_err(&AccessRequest { time_offset: -(VECTOR_TIME as i64) - 1, ..lab_request() });
        assert_eq!(err, SpaError::Timestamp { timestamp: -1 });
        assert!(err.to_string().contains("time offset"));
        let err = build_err(&AccessRequest { time_offset: i64::MAX, ..lab_request() });
        assert!(matches!(err, SpaError::Timestamp { .. }), "{err:?}");
        let (key, hmac_key) = test_keys();
        let before_epoch = UNIX_EPOCH - Duration::from_secs(10);
        assert_eq!(build(&lab_request(), &key, &hmac_key, before_epoch), Err(SpaError::Timestamp { timestamp: -10 }));
    }

    #[test]
    fn packets_of_400_characters_or_more_are_refused_with_advice() {
        let ports: Vec<(Protocol, u16)> = (0..12).map(|i| (Protocol::Tcp, 10000 + i)).collect();
        let request = AccessRequest { access: ports.clone(), ..lab_request() };
        let err = build_err(&request);
        let SpaError::PacketTooLong { len, plaintext_len, max_plaintext_len, hmac } = err.clone() else {
            panic!("{err:?}")
        };
        assert!(len >= 400, "{len}");
        assert_eq!(hmac, HmacType::Sha256);
        assert_eq!(len, wire_length(plaintext_len, hmac));
        assert!(wire_length(max_plaintext_len, hmac) < 400 && wire_length(max_plaintext_len + 1, hmac) >= 400);
        let text = err.to_string();
        assert!(text.contains("400") && text.contains("silently drops") && text.contains("fewer ports"), "{text}");

        // The same ports minus a few fit; the biggest digest and HMAC push a smaller request over.
        let (key, hmac_key) = test_keys();
        let fewer = AccessRequest { access: ports[..8].to_vec(), ..lab_request() };
        let wire = build(&fewer, &key, &hmac_key, at(VECTOR_TIME)).expect("8 ports fit with sha256");
        assert!(wire.len() < 400);
        let big = AccessRequest {
            digest: DigestType::Sha512,
            hmac: HmacType::Sha512,
            nat: Some(("192.168.100.100".into(), 22)),
            client_timeout: Some(600),
            ..fewer
        };
        assert!(matches!(build_err(&big), SpaError::PacketTooLong { hmac: HmacType::Sha512, .. }));

        // Every request that builds is under 400, whatever its size.
        for n in 1..=40u16 {
            let request =
                AccessRequest { access: (1..=n).map(|p| (Protocol::Udp, 60000 + p)).collect(), ..lab_request() };
            match build(&request, &key, &hmac_key, at(VECTOR_TIME)) {
                Ok(wire) => assert!((140..400).contains(&wire.len()), "{n}: {}", wire.len()),
                Err(err) => assert!(matches!(err, SpaError::PacketTooLong { .. }), "{n}: {err:?}"),
            }
        }
    }

    #[test]
    fn hash_type_names_parse() {
        assert_eq!("sha256".parse::<DigestType>(), Ok(DigestType::Sha256));
        assert_eq!("SHA-512".parse::<HmacType>(), Ok(HmacType::Sha512));
        assert_eq!(" Md5 ".parse::<DigestType>(), Ok(DigestType::Md5));
        for t in HmacType::ALL {
            assert_eq!(t.to_string().parse::<HmacType>(), Ok(t));
        }
        let err = "sha3_256".parse::<HmacType>().expect_err("sha3").to_string();
        assert!(err.contains("\"sha3_256\"") && err.contains("md5, sha1, sha256, sha384, sha512"), "{err}");
        assert_eq!(DigestType::default(), DigestType::Sha256);
        assert_eq!(HmacType::default(), HmacType::Sha256);
        assert_eq!(DigestType::from_b64_len(43), Some(DigestType::Sha256));
        assert_eq!(DigestType::from_b64_len(42), None);
    }

    #[test]
    fn message_type_codes() {
        for (code, t) in MessageType::ALL.into_iter().enumerate() {
            assert_eq!(usize::from(t.code()), code);
            assert_eq!(MessageType::from_code(t.code()), Some(t));
        }
        assert_eq!(MessageType::from_code(7), None);
        assert!(MessageType::NatAccess.has_nat() && !MessageType::NatAccess.has_client_timeout());
        assert!(MessageType::ClientTimeoutLocalNatAccess.has_nat());
        assert!(MessageType::ClientTimeoutLocalNatAccess.has_client_timeout());
        assert!(!MessageType::Access.has_nat() && !MessageType::Command.has_client_timeout());
    }

    // ----- decode failures ----------------------------------------------------------------------------

    fn decode_vector(wire: &str) -> Result<DecodedSpa, SpaError> {
        let (key, hmac_key) = vector_keys();
        decode(wire, &key, &hmac_key, HmacType::Sha256, DigestType::Sha256)
    }

    #[test]
    fn wrong_hmac_key_or_type_is_an_hmac_mismatch() {
        let (key, _) = vector_keys();
        let other_hmac = HmacKey::new(vec![1; 64]).expect("hmac");
        let err = decode(WIRE, &key, &other_hmac, HmacType::Sha256, DigestType::Sha256).expect_err("wrong key");
        assert_eq!(err, SpaError::HmacMismatch);
        assert_eq!(err.to_string(), "HMAC does not match (wrong HMAC key or HMAC type)");
        let (_, hmac_key) = vector_keys();
        for hmac in [HmacType::Md5, HmacType::Sha1, HmacType::Sha384, HmacType::Sha512] {
            assert_eq!(decode(WIRE, &key, &hmac_key, hmac, DigestType::Sha256), Err(SpaError::HmacMismatch));
        }
    }

    #[test]
    fn wrong_encryption_key_fails_decryption() {
        let (_, hmac_key) = vector_keys();
        for wrong in [vec![0u8; 32], b"short".to_vec(), vec![0xff; 1]] {
            let key = SpaKey::new(wrong).expect("key");
            let err = decode(WIRE, &key, &hmac_key, HmacType::Sha256, DigestType::Sha256).expect_err("wrong key");
            assert_eq!(err, SpaError::DecryptionFailed);
            assert!(err.to_string().contains("wrong encryption key"));
        }
        // Many keys: padding sometimes passes by chance, the 16-digit check still catches it.
        for i in 0..300u16 {
            let key = SpaKey::new(i.to_be_bytes().to_vec()).expect("key");
            assert_eq!(
                decode(WIRE, &key, &hmac_key, HmacType::Sha256, DigestType::Sha256),
                Err(SpaError::DecryptionFailed)
            );
        }
    }

    #[test]
    fn truncated_or_extended_wire_fails() {
        for cut in [1, 2, 4, 16, 43, 85, 100] {
            let err = decode_vector(&WIRE[..WIRE.len() - cut]).expect_err("truncated");
            assert!(matches!(err, SpaError::HmacMismatch | SpaError::WireLength { .. }), "{cut}: {err:?}");
            let err = decode_vector(&WIRE[cut..]).expect_err("front cut");
            assert!(matches!(err, SpaError::HmacMismatch | SpaError::WireLength { .. }), "{cut}: {err:?}");
        }
        assert_eq!(decode_vector(&WIRE[..139]), Err(SpaError::WireLength { len: 139 }));
        assert_eq!(decode_vector(""), Err(SpaError::WireLength { len: 0 }));
        assert_eq!(decode_vector(&format!("{WIRE}A")), Err(SpaError::HmacMismatch));
        let long = "A".repeat(400);
        let err = decode_vector(&long).expect_err("long");
        assert_eq!(err, SpaError::WireLength { len: 400 });
        assert!(err.to_string().contains("GnuPG"));
    }

    #[test]
    fn every_single_character_change_is_caught() {
        let alphabet = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
        for position in 0..WIRE.len() {
            let mut bytes = WIRE.as_bytes().to_vec();
            let old = bytes[position];
            let idx = alphabet.iter().position(|&c| c == old).expect("b64 char");
            bytes[position] = alphabet[(idx + 1 + position % 60) % 64];
            let tampered = String::from_utf8(bytes).expect("ascii");
            assert_eq!(decode_vector(&tampered), Err(SpaError::HmacMismatch), "position {position}");
        }
    }

    #[test]
    fn pre_checks_reject_bad_characters_and_the_prefix() {
        let mut with_space = WIRE.to_owned();
        with_space.replace_range(5..6, " ");
        assert_eq!(decode_vector(&with_space), Err(SpaError::WireChar { position: 5, ch: ' ' }));
        let mut with_dash = WIRE.to_owned();
        with_dash.replace_range(200..201, "-");
        assert_eq!(decode_vector(&with_dash), Err(SpaError::WireChar { position: 200, ch: '-' }));
        let unicode = format!("é{}", &WIRE[2..]);
        assert_eq!(decode_vector(&unicode), Err(SpaError::WireChar { position: 0, ch: 'é' }));
        let newline = format!("{WIRE}\n");
        assert!(matches!(decode_vector(&newline), Err(SpaError::WireChar { ch: '\n', .. })));
        let prefixed = format!("{SALTED_PREFIX_B64}{WIRE}");
        assert_eq!(decode_vector(&prefixed), Err(SpaError::WirePrefix));
        assert!(SpaError::WirePrefix.to_string().contains("remove those 10 characters"));
    }

    #[test]
    fn wrong_digest_type_names_both() {
        let err = decode_vector_with_digest(DigestType::Sha512);
        assert_eq!(
            err,
            SpaError::DigestLength {
                len: 43,
                found: "the length of sha256".into(),
                expected: DigestType::Sha512,
                expected_len: 86
            }
        );
        assert!(err.to_string().contains("sha256") && err.to_string().contains("sha512"), "{err}");
    }

    fn decode_vector_with_digest(digest: DigestType) -> SpaError {
        let (key, hmac_key) = vector_keys();
        decode(WIRE, &key, &hmac_key, HmacType::Sha256, digest).expect_err("digest type")
    }

    #[test]
    fn authentic_but_inconsistent_plaintexts_are_rejected() {
        let (key, hmac_key) = test_keys();
        let open_text = |pt: &str| {
            let wire = seal_text(pt, &key, &hmac_key, HmacType::Sha256);
            decode(&wire, &key, &hmac_key, HmacType::Sha256, DigestType::Sha256)
        };
        // A digest that does not match the fields.
        let other = DigestType::Sha256.digest_b64(b"something else");
        assert_eq!(
            open_text(&format!("{VECTOR_ENC}:{other}")),
            Err(SpaError::DigestMismatch { digest: DigestType::Sha256 })
        );
        // Not 16 digits then a colon: what a wrong key usually produces.
        let enc = VECTOR_ENC.replacen("1695767333156155", "169576733315615x", 1);
        assert_eq!(open_text(&with_digest(&enc, DigestType::Sha256)), Err(SpaError::DecryptionFailed));
        let malformed_cases = [
            // Type out of range.
            VECTOR_ENC.replacen(":1:", ":7:", 1),
            // Timestamp too long.
            VECTOR_ENC.replacen("1795562722", "1795562722000", 1),
            // Username with a forbidden character (base64 of "a:b").
            VECTOR_ENC.replacen("c3BhdXNlcg", "YTpi", 1),
            // Message that is not base64.
            VECTOR_ENC.replacen("MTAuMjAxLjAuMix0Y3AvMjI", "!!!!", 1),
            // A NAT type without its NAT field.
            VECTOR_ENC.replacen(":1:", ":2:", 1),
            // A timeout type with a non-numeric timeout.
            format!("{}:abc", VECTOR_ENC.replacen(":1:", ":3:", 1)),
            // Too many fields.
            format!("{VECTOR_ENC}:a:b:c:d"),
            // A NAT field without a comma (base64 of "hostonly").
            format!("{}:aG9zdG9ubHk", VECTOR_ENC.replacen(":1:", ":2:", 1)),
        ];
        for enc in malformed_cases {
            let result = open_text(&with_digest(&enc, DigestType::Sha256));
            assert!(matches!(result, Err(SpaError::Malformed { .. })), "{enc}: {result:?}");
        }
    }

    #[test]
    fn decoder_reads_server_auth_command_and_local_nat_fields() {
        let (key, hmac_key) = test_keys();
        let open_enc = |enc: &str| {
            let wire = seal_text(&with_digest(enc, DigestType::Sha256), &key, &hmac_key, HmacType::Sha256);
            decode(&wire, &key, &hmac_key, HmacType::Sha256, DigestType::Sha256).expect("decodes")
        };
        // Command: "10.201.0.2,id".
        let d = open_enc("1695767333156155:c3BhdXNlcg:1795562722:3.0.0:0:MTAuMjAxLjAuMixpZA");
        assert_eq!((d.message_type, d.message.as_str()), (MessageType::Command, "10.201.0.2,id"));
        // Local NAT, as the C client sends with --nat-local --nat-port 2222.
        let d =
            open_enc("1695767333156155:c3BhdXNlcg:1795562722:3.0.0:5:MTAuMjAxLjAuMix0Y3AvMjIyMg:MTAuMjAxLjAuMSwyMg");
        assert_eq!(d.message_type, MessageType::LocalNatAccess);
        assert_eq!(d.message, "10.201.0.2,tcp/2222");
        assert_eq!(d.nat.as_deref(), Some("10.201.0.1,22"));
        // NAT + server auth ("secret") + client timeout.
        let d = open_enc(
            "1695767333156155:c3BhdXNlcg:1795562722:3.0.0:4:MTAuMjAxLjAuMix0Y3AvMjI:MTkyLjE2OC4xMC41LDIy:c2VjcmV0:45",
        );
        assert_eq!(d.message_type, MessageType::ClientTimeoutNatAccess);
        assert_eq!(d.nat.as_deref(), Some("192.168.10.5,22"));
        assert_eq!(d.server_auth.as_deref(), Some("secret"));
        assert_eq!(d.client_timeout, Some(45));
        // The fields re-encode to the same text (what the length formula relies on).
        assert_eq!(
            d.enc_text().as_str(),
            "1695767333156155:c3BhdXNlcg:1795562722:3.0.0:4:MTAuMjAxLjAuMix0Y3AvMjI:MTkyLjE2OC4xMC41LDIy:c2VjcmV0:45"
        );
    }

    #[test]
    fn random_garbage_never_panics_and_never_verifies() {
        let (key, hmac_key) = vector_keys();
        let alphabet: Vec<char> = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/=".chars().collect();
        let mut rng = fastrand::Rng::with_seed(0x5ba);
        for round in 0..3000 {
            let len = rng.usize(0..520);
            let garbage: String = match round % 3 {
                0 => (0..len).map(|_| alphabet[rng.usize(..alphabet.len())]).collect(),
                1 => (0..len).map(|_| rng.char(..)).collect(),
                _ => {
                    // The real packet with a random slice replaced: structure intact, content not.
                    let start = rng.usize(..WIRE.len());
                    let end = rng.usize(start..=WIRE.len());
                    let filler: String = (0..rng.usize(0..40)).map(|_| alphabet[rng.usize(..64)]).collect();
                    format!("{}{filler}{}", &WIRE[..start], &WIRE[end..])
                }
            };
            if garbage == WIRE {
                continue;
            }
            for hmac in [HmacType::Sha256, HmacType::Md5] {
                assert!(decode(&garbage, &key, &hmac_key, hmac, DigestType::Sha256).is_err(), "{garbage}");
            }
        }
        // Garbage that does authenticate (we hold the keys) but decrypts to noise.
        let (k, h) = test_keys();
        for _ in 0..300 {
            let len = rng.usize(1..200);
            let noise: Vec<u8> = (0..len).map(|_| rng.u8(..)).collect();
            let wire = seal(&noise, &[3; 8], &k, &h, HmacType::Sha256).expect("seal");
            if (MIN_WIRE_LEN..MAX_WIRE_LEN_EXCLUSIVE).contains(&wire.len()) {
                assert!(decode(&wire, &k, &h, HmacType::Sha256, DigestType::Sha256).is_err());
            }
        }
    }

    #[test]
    fn errors_never_contain_key_material() {
        let (key, hmac_key) = vector_keys();
        let errors = [
            decode(WIRE, &key, &HmacKey::new(vec![1; 64]).expect("k"), HmacType::Sha256, DigestType::Sha256),
            decode(WIRE, &SpaKey::new(vec![2; 32]).expect("k"), &hmac_key, HmacType::Sha256, DigestType::Sha256),
            decode(WIRE, &key, &hmac_key, HmacType::Sha256, DigestType::Md5),
        ];
        for err in errors {
            let err = err.expect_err("fails");
            let text = format!("{err} {err:?}");
            for secret in [&KEY_B64[..12], &HMAC_B64[..12], VECTOR_KEY, VECTOR_IV] {
                assert!(!text.contains(secret), "{text}");
            }
        }
    }
}
