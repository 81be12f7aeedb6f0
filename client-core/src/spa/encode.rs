//! Building a packet (fwknop's `lib/fko_encode.c` and `fko_spa_data_final`): fields, digest, encryption,
//! prefix removal, HMAC, in that order, refusing packets fwknopd would drop for their length.

use std::time::{SystemTime, UNIX_EPOCH};

use zeroize::Zeroizing;

use super::PROTOCOL_VERSION;
use super::b64;
use super::cipher::{self, AES_BLOCK, SALT_LEN, SALTED_MAGIC, SALTED_PREFIX_B64};
use super::error::SpaError;
use super::fields::{AccessRequest, SpaMessage};
use super::hash::HmacType;
use super::keys::{HmacKey, SpaKey};
use super::random::{fill_random, random_digits};
use super::validate::{MAX_WIRE_LEN_EXCLUSIVE, MIN_WIRE_LEN, check_keys};

/// The wire length for a plaintext (`ENC:digest`) of `plaintext_len` bytes:
/// `ceil(4 * (16 + 16 * (floor(PT / 16) + 1)) / 3) - 10 + hmac.b64_len()`.
pub fn wire_length(plaintext_len: usize, hmac: HmacType) -> usize {
    let blob = SALTED_MAGIC.len() + SALT_LEN + AES_BLOCK * (plaintext_len / AES_BLOCK + 1);
    b64::unpadded_len(blob) - SALTED_PREFIX_B64.len() + hmac.b64_len()
}

/// Builds the ASCII payload of one SPA datagram (send it as is, to UDP port [`DEFAULT_PORT`](super::DEFAULT_PORT)
/// by default).
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
    let mut message = SpaMessage {
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
    let enc = message.enc_text();
    message.digest = request.digest.digest_b64(enc.as_bytes());
    let plaintext = Zeroizing::new(format!("{}:{}", *enc, message.digest));
    message.zeroize_text();

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
    let mut salt = [0u8; SALT_LEN];
    fill_random(&mut salt)?;
    seal(plaintext.as_bytes(), &salt, key, hmac_key, request.hmac)
}

/// Encrypts, frames, strips the prefix and appends the HMAC: layers 3 to 5 of the module docs.
pub(crate) fn seal(
    plaintext: &[u8],
    salt: &[u8; SALT_LEN],
    key: &SpaKey,
    hmac_key: &HmacKey,
    hmac: HmacType,
) -> Result<String, SpaError> {
    let body = b64::encode_unpadded(&cipher::encrypt(plaintext, salt, key));
    let mac = hmac.mac(hmac_key.as_bytes(), body.as_bytes())?;
    let stripped = body.strip_prefix(SALTED_PREFIX_B64).ok_or(SpaError::Ciphertext { reason: "no Salted__ prefix" })?;
    Ok(format!("{stripped}{}", b64::encode_unpadded(&mac)))
}
