//! fwknop's base64 (`lib/base64.c`): the standard alphabet, encoded with the `=` padding cut off ("B64NP"),
//! decoded leniently (padding optional, unused trailing bits ignored), as fwknop's decoder does.

use base64::Engine as _;
use base64::alphabet;
use base64::engine::DecodePaddingMode;
use base64::engine::general_purpose::{GeneralPurpose, GeneralPurposeConfig, STANDARD, STANDARD_NO_PAD};
use zeroize::Zeroizing;

/// `B64NP` decoding as fwknop does it: padding optional, unused trailing bits ignored.
const LENIENT: GeneralPurpose = GeneralPurpose::new(
    &alphabet::STANDARD,
    GeneralPurposeConfig::new()
        .with_encode_padding(false)
        .with_decode_padding_mode(DecodePaddingMode::Indifferent)
        .with_decode_allow_trailing_bits(true),
);

/// `B64NP(bytes)`: standard base64 without `=` padding.
pub(crate) fn encode_unpadded(bytes: &[u8]) -> String {
    STANDARD_NO_PAD.encode(bytes)
}

/// Standard base64 with `=` padding, the form `fwknop --key-gen` prints.
pub(crate) fn encode_padded(bytes: &[u8]) -> String {
    STANDARD.encode(bytes)
}

/// Decodes fwknop base64 with or without padding.
pub(crate) fn decode_lenient(text: &str) -> Result<Vec<u8>, base64::DecodeError> {
    LENIENT.decode(text)
}

/// Decodes base64 that must be unpadded and exact (a MAC at the end of a packet).
pub(crate) fn decode_strict_unpadded(text: &str) -> Result<Vec<u8>, base64::DecodeError> {
    STANDARD_NO_PAD.decode(text)
}

/// Decodes secret base64 (a key) straight into memory that is wiped on drop. The decoder sizes its
/// buffer before writing, so no unwiped copy is left behind by a reallocation.
pub(crate) fn decode_secret(text: &str) -> Result<Zeroizing<Vec<u8>>, base64::DecodeError> {
    let mut bytes = Zeroizing::new(Vec::with_capacity(text.len().div_ceil(4) * 3 + 3));
    LENIENT.decode_vec(text, &mut bytes)?;
    Ok(bytes)
}

/// Length of unpadded base64 for `n` bytes.
pub(crate) const fn unpadded_len(n: usize) -> usize {
    (4 * n).div_ceil(3)
}
