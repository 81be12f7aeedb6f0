//! Opening a packet the way fwknopd does (`server/incoming_spa.c`, `lib/fko_decode.c`): payload checks, the
//! HMAC in constant time before anything is decrypted, decryption, the "16 digits and a colon" check, the
//! digest, then the fields.

use sha2::Digest;
use zeroize::Zeroizing;

use super::b64;
use super::cipher::{self, SALTED_PREFIX_B64};
use super::error::SpaError;
use super::fields::{MessageType, SpaMessage};
use super::hash::{DigestType, HmacType};
use super::keys::{HmacKey, SpaKey};
use super::random::RAND_DIGITS;
use super::validate::{
    MAX_DECODED_CLIENT_TIMEOUT, MAX_FIELDS_BEFORE_DIGEST, MAX_MESSAGE_B64, MAX_PLAINTEXT_LEN, MAX_SERVER_AUTH_B64,
    MAX_SERVER_AUTH_LEN, MAX_TIMESTAMP_CHARS, MAX_USER_B64, MAX_VERSION_CHARS, MIN_FIELDS_BEFORE_DIGEST,
    MIN_PLAINTEXT_LEN, check_wire, validate_nat_host, validate_username,
};

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
) -> Result<SpaMessage, SpaError> {
    let plaintext = open(wire, key, hmac_key, hmac)?;
    parse_plaintext(&plaintext, digest)
}

/// As [`decode`], with the digest type taken from the digest's length, as fwknopd infers it (the server
/// has no digest setting): what a server decodes with.
pub fn decode_any_digest(wire: &str, key: &SpaKey, hmac_key: &HmacKey, hmac: HmacType) -> Result<SpaMessage, SpaError> {
    let plaintext = open(wire, key, hmac_key, hmac)?;
    parse_any_digest(&plaintext)
}

/// As [`decode_any_digest`], for an fwknopd stanza without an HMAC key (fwknop's mode before 2.5): the
/// whole payload is the ciphertext, decrypted with nothing authenticating it first; only the "16 digits
/// and a colon" check and the (unkeyed) digest inside catch a wrong key or an altered packet.
///
/// Weak by design: every payload costs a decryption, and an altered copy of a captured packet is not
/// the same payload (a replay cache keyed by the payload does not see it). A server offers it only on
/// an explicit opt-in.
pub fn decode_without_hmac(wire: &str, key: &SpaKey) -> Result<SpaMessage, SpaError> {
    check_wire(wire, SALTED_PREFIX_B64)?;
    check_ciphertext_len(wire.len())?;
    let plaintext = decrypt_body(&format!("{SALTED_PREFIX_B64}{wire}"), key)?;
    parse_any_digest(&plaintext)
}

/// The digest type taken from the digest's length, as fwknopd infers it, then the fields.
fn parse_any_digest(plaintext: &[u8]) -> Result<SpaMessage, SpaError> {
    let digest_len = plaintext.iter().rposition(|b| *b == b':').map_or(0, |at| plaintext.len() - at - 1);
    let digest = DigestType::from_b64_len(digest_len)
        .ok_or_else(|| malformed(format!("its digest is {digest_len} characters, no known digest's length")))?;
    parse_plaintext(plaintext, digest)
}

/// fwknopd's replay-cache key for a payload: `B64NP(SHA-256(payload))`, HMAC included.
pub fn replay_digest(wire: &str) -> String {
    b64::encode_unpadded(&sha2::Sha256::digest(wire.as_bytes()))
}

/// Layers 5 to 3: checks the payload and its HMAC, decrypts, and returns the plaintext.
pub(crate) fn open(
    wire: &str,
    key: &SpaKey,
    hmac_key: &HmacKey,
    hmac: HmacType,
) -> Result<Zeroizing<Vec<u8>>, SpaError> {
    check_wire(wire, SALTED_PREFIX_B64)?;
    // All ASCII from here on: byte offsets are character offsets.
    let (stripped, mac_text) = wire.split_at(wire.len() - hmac.b64_len());
    // Before any cryptography (a flood of random payloads mostly stops here): a length no ciphertext has
    // (also what a wrong HMAC type gives), or a MAC that is not even base64 of the right size, cannot match.
    check_ciphertext_len(stripped.len()).map_err(|_| SpaError::HmacMismatch)?;
    let tag = b64::decode_strict_unpadded(mac_text).map_err(|_| SpaError::HmacMismatch)?;
    let body = format!("{SALTED_PREFIX_B64}{stripped}");
    if !hmac.verify(hmac_key.as_bytes(), body.as_bytes(), &tag) {
        return Err(SpaError::HmacMismatch);
    }
    decrypt_body(&body, key)
}

/// Whether fwknop can send a payload of `len` characters with an HMAC of type `hmac` (None: without an
/// HMAC): its ciphertext part must be the unpadded base64 of the salt and whole AES blocks, less the
/// 10-character prefix (about one length in 21). A server checks it before anything else costs.
pub fn possible_wire_length(len: usize, hmac: Option<HmacType>) -> bool {
    let mac_len = hmac.map_or(0, HmacType::b64_len);
    len >= mac_len && check_ciphertext_len(len - mac_len).is_ok()
}

/// Whether `len` characters (the payload without its HMAC) can be fwknop's ciphertext: the unpadded
/// base64 of `Salted__`, the 8-byte salt and whole AES blocks (at least one), less the 10-character prefix.
/// Any other length would fail decryption anyway; checked first, it costs no HMAC.
fn check_ciphertext_len(len: usize) -> Result<(), SpaError> {
    let text_len = len + SALTED_PREFIX_B64.len();
    let blob_len = text_len * 3 / 4;
    if b64::unpadded_len(blob_len) == text_len && blob_len >= 32 && blob_len.is_multiple_of(16) {
        Ok(())
    } else {
        Err(SpaError::CiphertextLength { len })
    }
}

/// Layer 3: the base64 text with its `Salted__` prefix, decrypted and checked as fwknopd checks it.
fn decrypt_body(body: &str, key: &SpaKey) -> Result<Zeroizing<Vec<u8>>, SpaError> {
    let blob = b64::decode_lenient(body).map_err(|_| SpaError::Ciphertext { reason: "it is not valid base64" })?;
    let plaintext = cipher::decrypt(&blob, key)?;
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
pub(crate) fn parse_plaintext(plaintext: &[u8], digest_type: DigestType) -> Result<SpaMessage, SpaError> {
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
    if !(MIN_FIELDS_BEFORE_DIGEST..=MAX_FIELDS_BEFORE_DIGEST).contains(&fields.len()) {
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
    let server_auth =
        if has_server_auth { Some(b64_field(next()?, "server auth", MAX_SERVER_AUTH_B64)?) } else { None };
    if server_auth.as_ref().is_some_and(|auth| auth.len() > MAX_SERVER_AUTH_LEN) {
        return Err(malformed("the server auth field is 64 bytes or more"));
    }
    let client_timeout = if message_type.has_client_timeout() {
        let text = next()?;
        let timeout = Some(text)
            .filter(|t| !t.is_empty() && t.len() <= 5 && t.bytes().all(|b| b.is_ascii_digit()))
            .and_then(|t| t.parse::<u32>().ok())
            .filter(|&t| t <= MAX_DECODED_CLIENT_TIMEOUT)
            .ok_or_else(|| malformed(format!("the client timeout {text:?} is not 0 to 65536")))?;
        Some(timeout)
    } else {
        None
    };

    Ok(SpaMessage {
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
    let bytes = b64::decode_lenient(text).map_err(|_| malformed(format!("the {name} field is not base64")))?;
    String::from_utf8(bytes).map_err(|_| malformed(format!("the {name} field is not UTF-8 text")))
}
