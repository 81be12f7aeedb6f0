//! fwknop's limits, checked on both sides: packet sizes fwknopd accepts, key lengths, username characters,
//! NAT hosts, client timeouts, and the field sizes of a decrypted message (`lib/fko_limits.h`,
//! `lib/fko_user.c`, `server/incoming_spa.c`).

use super::error::{AccessProblem, NatProblem, SpaError};
use super::fields::{AccessList, AccessRequest};
use super::keys::{HmacKey, SpaKey};

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

pub(crate) const MAX_USER_B64: usize = 64;
pub(crate) const MAX_TIMESTAMP_CHARS: usize = 12;
pub(crate) const MAX_VERSION_CHARS: usize = 8;
pub(crate) const MAX_MESSAGE_B64: usize = 256;
/// Longest base64 server-auth field the decoder reads (its text must then be under 64 bytes).
pub(crate) const MAX_SERVER_AUTH_B64: usize = 88;
pub(crate) const MAX_SERVER_AUTH_LEN: usize = 63;
pub(crate) const MAX_CLIENT_TIMEOUT: u32 = 65535;
/// The largest client timeout fwknopd's decoder reads (one more than a client may send).
pub(crate) const MAX_DECODED_CLIENT_TIMEOUT: u32 = 65536;
pub(crate) const MIN_PLAINTEXT_LEN: usize = 36;
pub(crate) const MAX_PLAINTEXT_LEN: usize = 1500;
/// Field count besides the digest: 6 to 9 (`MIN_SPA_FIELDS`..`MAX_SPA_FIELDS` minus the digest).
pub(crate) const MIN_FIELDS_BEFORE_DIGEST: usize = 6;
pub(crate) const MAX_FIELDS_BEFORE_DIGEST: usize = 9;

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

/// A NAT host: printable, no spaces, none of `/ ? " ' \` or a comma.
pub(crate) fn validate_nat_host(host: &str) -> Result<(), SpaError> {
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

/// The key pair a packet is sealed with: lengths within fwknop's limits, and two different keys.
pub(crate) fn check_keys(key: &SpaKey, hmac_key: &HmacKey) -> Result<(), SpaError> {
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

/// At least one entry, no port 0 (fwknopd rejects the C client's `none/0`).
pub(crate) fn validate_access_list(access: &AccessList) -> Result<(), SpaError> {
    if access.is_empty() {
        return Err(SpaError::EmptyAccess);
    }
    if let Some((proto, port)) = access.entries().iter().find(|(_, port)| *port == 0) {
        return Err(SpaError::InvalidAccess {
            token: format!("{proto}/{port}"),
            reason: AccessProblem::PortOutOfRange,
        });
    }
    Ok(())
}

/// The payload checks fwknopd makes before any cryptography: base64 characters only, 140..400 characters
/// (longer is GnuPG), and no `U2FsdGVkX1` prefix.
/// fwknop's payload alphabet: base64 with its padding.
pub(crate) fn is_base64_byte(b: u8) -> bool {
    b.is_ascii_alphanumeric() || matches!(b, b'+' | b'/' | b'=')
}

pub(crate) fn check_wire(wire: &str, salted_prefix: &str) -> Result<(), SpaError> {
    // Bytes first (the common case, and a flood's: fast); the character's position only on a failure.
    if !wire.bytes().all(is_base64_byte)
        && let Some((position, ch)) = wire.chars().enumerate().find(|&(_, c)| !c.is_ascii() || !is_base64_byte(c as u8))
    {
        return Err(SpaError::WireChar { position, ch });
    }
    if !(MIN_WIRE_LEN..MAX_WIRE_LEN_EXCLUSIVE).contains(&wire.len()) {
        return Err(SpaError::WireLength { len: wire.len() });
    }
    if wire.starts_with(salted_prefix) {
        return Err(SpaError::WirePrefix);
    }
    Ok(())
}

impl AccessRequest {
    /// Checks everything [`build`](super::build) checks that does not depend on the keys or the clock, except
    /// the packet length.
    pub fn validate(&self) -> Result<(), SpaError> {
        validate_username(&self.user)?;
        validate_access_list(&self.access)?;
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
