//! Keys: lengths, base64 forms, masking, generation.

use super::*;

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
    assert_eq!(SpaKey::from_base64(&b64::encode_padded(&[9u8; 48])).expect_err("48"), SpaError::KeyLength { len: 48 });
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
fn debug_and_display_never_print_key_bytes() {
    let key = SpaKey::new(vec![0xAB; 32]).expect("key");
    let hmac_key = HmacKey::new(vec![0xCD; 64]).expect("hmac");
    let shown = format!("{key:?} {hmac_key:?} {:#?} {key} {hmac_key} {key:>80}", (&key, &hmac_key));
    assert_eq!(format!("{key:?}"), "SpaKey(<32 bytes redacted>)");
    assert_eq!(format!("{hmac_key:?}"), "HmacKey(<64 bytes redacted>)");
    assert_eq!(format!("{key}"), "SpaKey(<32 bytes redacted>)", "Display masks too");
    assert_eq!(format!("{hmac_key}"), "HmacKey(<64 bytes redacted>)");
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
    let (key, hmac_key) = keygen().expect("keygen");
    assert_eq!((key.len(), hmac_key.len()), (32, 64));
    let (key2, hmac_key2) = keygen().expect("keygen");
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

#[test]
fn keys_read_from_text_keep_their_bytes_in_wiped_memory_only() {
    // A key decoded from base64 is the decoder's own wiped buffer: nothing is copied out of it.
    let key = SpaKey::from_base64(&format!(" {KEY_B64}\n")).expect("key");
    assert_eq!(key.to_base64(), KEY_B64);
    let hmac_key = HmacKey::from_base64(HMAC_B64.trim_end_matches('=')).expect("hmac");
    assert_eq!(hmac_key.to_base64(), HMAC_B64);
    // Every key length fwknop allows decodes, padded or not, into exactly its bytes.
    for len in 1..=MAX_HMAC_KEY_LEN {
        let bytes: Vec<u8> = (0..len).map(|i| i as u8 ^ 0x5a).collect();
        let text = b64::encode_padded(&bytes);
        for form in [text.as_str(), text.trim_end_matches('=')] {
            assert_eq!(HmacKey::from_base64(form).expect("hmac").as_bytes(), bytes.as_slice(), "{len}");
            if len <= MAX_KEY_LEN {
                assert_eq!(SpaKey::from_base64(form).expect("key").as_bytes(), bytes.as_slice(), "{len}");
            }
        }
    }
}
