//! The two secrets of an SPA exchange (fwknop's `KEY`/`KEY_BASE64` and `HMAC_KEY`/`HMAC_KEY_BASE64`), key
//! generation as `fwknop --key-gen` does it, and its output lines.
//!
//! Key bytes live only in memory that is wiped on drop; `Debug` and `Display` show the length, never the
//! bytes; errors about a bad base64 key give positions, never the text.

use std::fmt;

use zeroize::Zeroizing;

use super::b64;
use super::error::SpaError;
use super::random::fill_random;
use super::validate::{MAX_HMAC_KEY_LEN, MAX_KEY_LEN};

/// Bytes `fwknop --key-gen` draws for the encryption key.
const GENERATED_KEY_LEN: usize = 32;
/// Bytes `fwknop --key-gen` draws for the HMAC key.
const GENERATED_HMAC_KEY_LEN: usize = 64;

/// A key newtype: raw bytes of a bounded length, wiped on drop, never printed, with fwknop's base64 form.
macro_rules! key_type {
    ($(#[$doc:meta])* $name:ident, max: $max:expr, error: $error:ident, variable: $variable:literal) => {
        $(#[$doc])*
        #[derive(Clone)]
        pub struct $name(Zeroizing<Vec<u8>>);

        impl $name {
            #[doc = concat!("Wraps raw key bytes, which must be 1..=", stringify!($max), " long.")]
            pub fn new(bytes: impl Into<Vec<u8>>) -> Result<$name, SpaError> {
                $name::from_secret_bytes(Zeroizing::new(bytes.into()))
            }

            fn from_secret_bytes(bytes: Zeroizing<Vec<u8>>) -> Result<$name, SpaError> {
                if bytes.is_empty() || bytes.len() > $max {
                    return Err(SpaError::$error { len: bytes.len() });
                }
                Ok($name(bytes))
            }

            #[doc = concat!("Decodes a `", $variable, "` value (padded or not, surrounding whitespace ignored).")]
            pub fn from_base64(text: &str) -> Result<$name, SpaError> {
                $name::from_secret_bytes(decode_key_base64(text, $variable)?)
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

            #[doc = concat!("The padded base64 form fwknop's `", $variable, "` uses. The result is the secret in")]
            /// clear: hand it straight to the keyring or the user.
            pub fn to_base64(&self) -> String {
                b64::encode_padded(self.as_bytes())
            }
        }

        impl fmt::Debug for $name {
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                write!(f, concat!(stringify!($name), "(<{} bytes redacted>)"), self.0.len())
            }
        }

        impl fmt::Display for $name {
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                fmt::Debug::fmt(self, f)
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
    // The error must not quote the text: it is the key. Positions are fine.
    let reason = match b64::decode_secret(text.trim()) {
        Ok(bytes) => return Ok(bytes),
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
/// Fails only if the operating system's random source does.
pub fn keygen() -> Result<(SpaKey, HmacKey), SpaError> {
    let mut key = Zeroizing::new(vec![0u8; GENERATED_KEY_LEN]);
    let mut hmac = Zeroizing::new(vec![0u8; GENERATED_HMAC_KEY_LEN]);
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
    let (key_text, hmac_text) = (Zeroizing::new(key.to_base64()), Zeroizing::new(hmac_key.to_base64()));
    format!("KEY_BASE64: {}\nHMAC_KEY_BASE64: {}\n", *key_text, *hmac_text)
}
