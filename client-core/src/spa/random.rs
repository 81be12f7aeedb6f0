//! Randomness for keys, salts and the random value, from the operating system's source.

use super::error::SpaError;

/// Digits in the random value that opens every SPA message.
pub(crate) const RAND_DIGITS: usize = 16;

pub(crate) fn fill_random(buf: &mut [u8]) -> Result<(), SpaError> {
    getrandom::fill(buf).map_err(|err| SpaError::Random { reason: err.to_string() })
}

/// 16 uniformly random decimal digits (rejection sampling keeps them unbiased).
pub(crate) fn random_digits() -> Result<String, SpaError> {
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
