//! The two hash choices of an SPA packet (fwknop's `lib/fko_digest.c`, `lib/fko_hmac.c`): the digest of the
//! inner fields ([`DigestType`]) and the HMAC over the ciphertext ([`HmacType`]), with fwknop's names.
//!
//! fwknop 2.6.10 also offers SHA3-256 and SHA3-512 for the HMAC (`HMAC_DIGEST_TYPE sha3_256`); they are
//! supported here. SHA3 digests are not offered: fwknopd infers the digest type from its length, which
//! SHA3 shares with SHA-256 / SHA-512, so they would buy nothing.

use std::fmt;
use std::str::FromStr;

use hmac::{Hmac, KeyInit, Mac, SimpleHmac};
use sha2::Digest;

use super::b64;
use super::error::SpaError;

/// The hash of the inner fields (fwknop `DIGEST_TYPE`, `-m`).
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
    /// `sha3_256` in fwknop's files.
    Sha3_256,
    /// `sha3_512` in fwknop's files.
    Sha3_512,
}

const DIGEST_NAMES: &str = "md5, sha1, sha256, sha384, sha512";
const HMAC_NAMES: &str = "md5, sha1, sha256, sha384, sha512, sha3_256, sha3_512";

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
        b64::unpadded_len(match self {
            DigestType::Md5 => 16,
            DigestType::Sha1 => 20,
            DigestType::Sha256 => 32,
            DigestType::Sha384 => 48,
            DigestType::Sha512 => 64,
        })
    }

    /// The type a server infers from a digest's length, as fwknopd does (43 and 86 could also be SHA3).
    pub fn from_b64_len(len: usize) -> Option<DigestType> {
        DigestType::ALL.into_iter().find(|d| d.b64_len() == len)
    }

    /// `B64NP(HASH(data))`.
    pub(crate) fn digest_b64(self, data: &[u8]) -> String {
        match self {
            DigestType::Md5 => b64::encode_unpadded(&md5::Md5::digest(data)),
            DigestType::Sha1 => b64::encode_unpadded(&sha1::Sha1::digest(data)),
            DigestType::Sha256 => b64::encode_unpadded(&sha2::Sha256::digest(data)),
            DigestType::Sha384 => b64::encode_unpadded(&sha2::Sha384::digest(data)),
            DigestType::Sha512 => b64::encode_unpadded(&sha2::Sha512::digest(data)),
        }
    }
}

impl HmacType {
    pub const ALL: [HmacType; 7] = [
        HmacType::Md5,
        HmacType::Sha1,
        HmacType::Sha256,
        HmacType::Sha384,
        HmacType::Sha512,
        HmacType::Sha3_256,
        HmacType::Sha3_512,
    ];

    /// fwknop's name, as in `HMAC_DIGEST_TYPE sha256`.
    pub fn as_str(self) -> &'static str {
        match self {
            HmacType::Md5 => "md5",
            HmacType::Sha1 => "sha1",
            HmacType::Sha256 => "sha256",
            HmacType::Sha384 => "sha384",
            HmacType::Sha512 => "sha512",
            HmacType::Sha3_256 => "sha3_256",
            HmacType::Sha3_512 => "sha3_512",
        }
    }

    /// Length of the MAC at the end of the packet (unpadded base64).
    pub fn b64_len(self) -> usize {
        b64::unpadded_len(match self {
            HmacType::Md5 => 16,
            HmacType::Sha1 => 20,
            HmacType::Sha256 | HmacType::Sha3_256 => 32,
            HmacType::Sha384 => 48,
            HmacType::Sha512 | HmacType::Sha3_512 => 64,
        })
    }

    /// `HMAC(key, data)`.
    pub(crate) fn mac(self, key: &[u8], data: &[u8]) -> Result<Vec<u8>, SpaError> {
        match self {
            HmacType::Md5 => mac_of::<Hmac<md5::Md5>>(key, data),
            HmacType::Sha1 => mac_of::<Hmac<sha1::Sha1>>(key, data),
            HmacType::Sha256 => mac_of::<Hmac<sha2::Sha256>>(key, data),
            HmacType::Sha384 => mac_of::<Hmac<sha2::Sha384>>(key, data),
            HmacType::Sha512 => mac_of::<Hmac<sha2::Sha512>>(key, data),
            HmacType::Sha3_256 => mac_of::<SimpleHmac<sha3::Sha3_256>>(key, data),
            HmacType::Sha3_512 => mac_of::<SimpleHmac<sha3::Sha3_512>>(key, data),
        }
    }

    /// Constant-time check of `tag` against `HMAC(key, data)`.
    pub(crate) fn verify(self, key: &[u8], data: &[u8], tag: &[u8]) -> bool {
        match self {
            HmacType::Md5 => mac_verify::<Hmac<md5::Md5>>(key, data, tag),
            HmacType::Sha1 => mac_verify::<Hmac<sha1::Sha1>>(key, data, tag),
            HmacType::Sha256 => mac_verify::<Hmac<sha2::Sha256>>(key, data, tag),
            HmacType::Sha384 => mac_verify::<Hmac<sha2::Sha384>>(key, data, tag),
            HmacType::Sha512 => mac_verify::<Hmac<sha2::Sha512>>(key, data, tag),
            HmacType::Sha3_256 => mac_verify::<SimpleHmac<sha3::Sha3_256>>(key, data, tag),
            HmacType::Sha3_512 => mac_verify::<SimpleHmac<sha3::Sha3_512>>(key, data, tag),
        }
    }
}

// `Hmac` needs an eagerly buffered hash; SHA3's sponge is not one, so SHA3 uses `SimpleHmac` (same result).
fn mac_of<M: KeyInit + Mac>(key: &[u8], data: &[u8]) -> Result<Vec<u8>, SpaError> {
    // HMAC takes keys of any length; the error arm only satisfies the API.
    let mut mac = <M as KeyInit>::new_from_slice(key).map_err(|_| SpaError::HmacKeyLength { len: key.len() })?;
    mac.update(data);
    Ok(mac.finalize().into_bytes().to_vec())
}

fn mac_verify<M: KeyInit + Mac>(key: &[u8], data: &[u8], tag: &[u8]) -> bool {
    match <M as KeyInit>::new_from_slice(key) {
        Ok(mut mac) => {
            mac.update(data);
            mac.verify_slice(tag).is_ok()
        }
        Err(_) => false,
    }
}

/// Compares fwknop hash names ignoring case, `-` and `_`: `SHA256`, `sha-256`, `sha3_256`, `SHA3-256`.
fn same_hash_name(name: &str, wanted: &str) -> bool {
    let significant =
        |s: &str| s.chars().filter(|c| !matches!(c, '-' | '_')).map(|c| c.to_ascii_lowercase()).collect::<String>();
    significant(name) == significant(wanted)
}

macro_rules! hash_type_parsing {
    ($ty:ident, $what:literal, $names:ident) => {
        impl fmt::Display for $ty {
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str(self.as_str())
            }
        }

        impl FromStr for $ty {
            type Err = SpaError;
            /// Accepts fwknop's names case-insensitively, with or without a dash or underscore (`SHA256`,
            /// `sha-256`, `sha3_256`).
            fn from_str(s: &str) -> Result<$ty, SpaError> {
                let wanted = s.trim();
                $ty::ALL
                    .into_iter()
                    .find(|t| same_hash_name(t.as_str(), wanted))
                    .ok_or_else(|| SpaError::UnknownHashType { what: $what, name: s.to_owned(), valid: $names })
            }
        }
    };
}

hash_type_parsing!(DigestType, "digest type", DIGEST_NAMES);
hash_type_parsing!(HmacType, "HMAC digest type", HMAC_NAMES);
