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
//! Keys ([`SpaKey`], [`HmacKey`]) are wiped from memory when dropped and never appear in `Debug` or
//! `Display` output or in errors; derived keys, IVs and plaintexts are wiped after use.
//!
//! # Where each concern lives (split as fwknop's `lib/` is)
//!
//! | file | concern |
//! |---|---|
//! | `keys.rs` | [`SpaKey`], [`HmacKey`], [`keygen`], the `--key-gen` lines |
//! | `b64.rs` | fwknop's unpadded base64 (`B64NP`) and lenient decoding |
//! | `hash.rs` | [`DigestType`], [`HmacType`] (including SHA3-256/512 HMACs) |
//! | `fields.rs` | [`AccessList`], [`MessageType`], [`AccessRequest`], [`SpaMessage`] and its `ENC` text |
//! | `cipher.rs` | AES-256-CBC in `Salted__` framing, `EVP_BytesToKey` |
//! | `encode.rs` | [`build`]: fields → digest → encryption → prefix removal → HMAC |
//! | `decode.rs` | [`decode`]: checks → HMAC → decryption → digest → fields |
//! | `validate.rs` | fwknop's limits: packet sizes, key lengths, usernames, NAT hosts, field sizes |
//! | `random.rs` | salts, keys and the random value from the OS |
//!
//! The codec knows nothing of profiles, the keyring or the network: one attempt's packet for a profile (the
//! address to let in, sealed fresh) is made beside the open flow, in `open/spa_attempt.rs`.
//!
mod b64;
mod cipher;
mod decode;
mod encode;
mod error;
mod fields;
mod hash;
mod keys;
mod random;
mod validate;

#[cfg(test)]
mod tests;

pub use decode::{decode, decode_any_digest, decode_without_hmac, possible_wire_length, replay_digest};
pub use encode::{build, wire_length};
pub use error::{AccessProblem, NatProblem, SpaError};
pub use fields::{AccessList, AccessRequest, MessageType, SpaMessage};
pub use hash::{DigestType, HmacType};
pub use keys::{HmacKey, SpaKey, format_key_lines, keygen};
pub use validate::{
    MAX_HMAC_KEY_LEN, MAX_KEY_LEN, MAX_USERNAME_LEN, MAX_WIRE_LEN_EXCLUSIVE, MIN_WIRE_LEN, USERNAME_FORBIDDEN,
    validate_username,
};

/// The default UDP port fwknopd listens on (`FKO_DEFAULT_PORT`).
pub const DEFAULT_PORT: u16 = 62201;
/// The protocol version the fwknop 2.6 client sends; servers do not check it.
pub const PROTOCOL_VERSION: &str = "3.0.0";
