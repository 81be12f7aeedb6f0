//! "Rijndael" as fwknop means it (`lib/cipher_funcs.c`): AES-256-CBC with PKCS#7 padding in OpenSSL's
//! `Salted__` framing, key and IV from `EVP_BytesToKey(MD5, count 1)` over the key bytes and a salt.
//! Derived keys and IVs are wiped after use.

use aes::Aes256;
use cbc::cipher::block_padding::Pkcs7;
use cbc::cipher::{BlockModeDecrypt, BlockModeEncrypt, KeyIvInit};
use sha2::Digest;
use zeroize::{Zeroize, Zeroizing};

use super::error::SpaError;
use super::keys::SpaKey;

/// The base64 of `Salted__`, the 10 characters the client strips and the server re-adds.
pub(crate) const SALTED_PREFIX_B64: &str = "U2FsdGVkX1";
pub(crate) const SALTED_MAGIC: &[u8; 8] = b"Salted__";
pub(crate) const SALT_LEN: usize = 8;
pub(crate) const AES_BLOCK: usize = 16;

/// `"Salted__" || salt || AES-256-CBC(PKCS#7(plaintext))`.
pub(crate) fn encrypt(plaintext: &[u8], salt: &[u8; SALT_LEN], key: &SpaKey) -> Vec<u8> {
    let (aes_key, iv) = evp_bytes_to_key_md5(key.as_bytes(), salt);
    let ciphertext =
        cbc::Encryptor::<Aes256>::new((&*aes_key).into(), (&*iv).into()).encrypt_padded_vec::<Pkcs7>(plaintext);
    let mut blob = Vec::with_capacity(SALTED_MAGIC.len() + SALT_LEN + ciphertext.len());
    blob.extend_from_slice(SALTED_MAGIC);
    blob.extend_from_slice(salt);
    blob.extend_from_slice(&ciphertext);
    blob
}

/// Undoes [`encrypt`]. A framing error is [`SpaError::Ciphertext`]; a wrong key is usually caught by the
/// padding ([`SpaError::DecryptionFailed`]), otherwise by the caller's check of the plaintext.
pub(crate) fn decrypt(blob: &[u8], key: &SpaKey) -> Result<Zeroizing<Vec<u8>>, SpaError> {
    let (magic, rest) =
        blob.split_at_checked(SALTED_MAGIC.len()).ok_or(SpaError::Ciphertext { reason: "too short" })?;
    if magic != SALTED_MAGIC {
        return Err(SpaError::Ciphertext { reason: "it does not start with Salted__" });
    }
    let (salt, ciphertext) =
        rest.split_first_chunk::<SALT_LEN>().ok_or(SpaError::Ciphertext { reason: "too short" })?;
    if ciphertext.is_empty() || ciphertext.len() % AES_BLOCK != 0 {
        return Err(SpaError::Ciphertext { reason: "its length is not a positive multiple of the 16-byte AES block" });
    }
    let (aes_key, iv) = evp_bytes_to_key_md5(key.as_bytes(), salt);
    cbc::Decryptor::<Aes256>::new((&*aes_key).into(), (&*iv).into())
        .decrypt_padded_vec::<Pkcs7>(ciphertext)
        .map(Zeroizing::new)
        .map_err(|_| SpaError::DecryptionFailed)
}

/// OpenSSL's `EVP_BytesToKey(aes-256-cbc, md5, salt, pass, count 1)`: `D1 = MD5(pass||salt)`,
/// `Dn = MD5(Dn-1||pass||salt)`, key = `D1||D2`, iv = `D3`.
pub(crate) fn evp_bytes_to_key_md5(pass: &[u8], salt: &[u8; SALT_LEN]) -> (Zeroizing<[u8; 32]>, Zeroizing<[u8; 16]>) {
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
