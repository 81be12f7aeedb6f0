//! Decoding failures: wrong keys or types, tampering, malformed but authentic plaintexts, garbage.

use super::*;

fn decode_vector(wire: &str) -> Result<SpaMessage, SpaError> {
    let (key, hmac_key) = vector_keys();
    decode(wire, &key, &hmac_key, HmacType::Sha256, DigestType::Sha256)
}

#[test]
fn wrong_hmac_key_or_type_is_an_hmac_mismatch() {
    let (key, _) = vector_keys();
    let other_hmac = HmacKey::new(vec![1; 64]).expect("hmac");
    let err = decode(WIRE, &key, &other_hmac, HmacType::Sha256, DigestType::Sha256).expect_err("wrong key");
    assert_eq!(err, SpaError::HmacMismatch);
    assert_eq!(err.to_string(), "HMAC does not match (wrong HMAC key or HMAC type)");
    let (_, hmac_key) = vector_keys();
    for hmac in
        [HmacType::Md5, HmacType::Sha1, HmacType::Sha384, HmacType::Sha512, HmacType::Sha3_256, HmacType::Sha3_512]
    {
        assert_eq!(decode(WIRE, &key, &hmac_key, hmac, DigestType::Sha256), Err(SpaError::HmacMismatch));
    }
}

#[test]
fn wrong_encryption_key_fails_decryption() {
    let (_, hmac_key) = vector_keys();
    for wrong in [vec![0u8; 32], b"short".to_vec(), vec![0xff; 1]] {
        let key = SpaKey::new(wrong).expect("key");
        let err = decode(WIRE, &key, &hmac_key, HmacType::Sha256, DigestType::Sha256).expect_err("wrong key");
        assert_eq!(err, SpaError::DecryptionFailed);
        assert!(err.to_string().contains("wrong encryption key"));
    }
    // Many keys: padding sometimes passes by chance, the 16-digit check still catches it.
    for i in 0..300u16 {
        let key = SpaKey::new(i.to_be_bytes().to_vec()).expect("key");
        assert_eq!(
            decode(WIRE, &key, &hmac_key, HmacType::Sha256, DigestType::Sha256),
            Err(SpaError::DecryptionFailed)
        );
    }
}

#[test]
fn truncated_or_extended_wire_fails() {
    for cut in [1, 2, 4, 16, 43, 85, 100] {
        let err = decode_vector(&WIRE[..WIRE.len() - cut]).expect_err("truncated");
        assert!(
            matches!(err, SpaError::HmacMismatch | SpaError::WireLength { .. } | SpaError::CiphertextLength { .. }),
            "{cut}: {err:?}"
        );
        let err = decode_vector(&WIRE[cut..]).expect_err("front cut");
        assert!(
            matches!(err, SpaError::HmacMismatch | SpaError::WireLength { .. } | SpaError::CiphertextLength { .. }),
            "{cut}: {err:?}"
        );
    }
    assert_eq!(decode_vector(&WIRE[..139]), Err(SpaError::WireLength { len: 139 }));
    assert_eq!(decode_vector(""), Err(SpaError::WireLength { len: 0 }));
    assert_eq!(decode_vector(&format!("{WIRE}A")), Err(SpaError::HmacMismatch));
    let long = "A".repeat(400);
    let err = decode_vector(&long).expect_err("long");
    assert_eq!(err, SpaError::WireLength { len: 400 });
    assert!(err.to_string().contains("GnuPG"));
}

#[test]
fn every_single_character_change_is_caught() {
    let alphabet = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
    for position in 0..WIRE.len() {
        let mut bytes = WIRE.as_bytes().to_vec();
        let old = bytes[position];
        let idx = alphabet.iter().position(|&c| c == old).expect("b64 char");
        bytes[position] = alphabet[(idx + 1 + position % 60) % 64];
        let tampered = String::from_utf8(bytes).expect("ascii");
        assert_eq!(decode_vector(&tampered), Err(SpaError::HmacMismatch), "position {position}");
    }
}

#[test]
fn pre_checks_reject_bad_characters_and_the_prefix() {
    let mut with_space = WIRE.to_owned();
    with_space.replace_range(5..6, " ");
    assert_eq!(decode_vector(&with_space), Err(SpaError::WireChar { position: 5, ch: ' ' }));
    let mut with_dash = WIRE.to_owned();
    with_dash.replace_range(200..201, "-");
    assert_eq!(decode_vector(&with_dash), Err(SpaError::WireChar { position: 200, ch: '-' }));
    let unicode = format!("é{}", &WIRE[2..]);
    assert_eq!(decode_vector(&unicode), Err(SpaError::WireChar { position: 0, ch: 'é' }));
    let newline = format!("{WIRE}\n");
    assert!(matches!(decode_vector(&newline), Err(SpaError::WireChar { ch: '\n', .. })));
    let prefixed = format!("{SALTED_PREFIX_B64}{WIRE}");
    assert_eq!(decode_vector(&prefixed), Err(SpaError::WirePrefix));
    assert!(SpaError::WirePrefix.to_string().contains("remove those 10 characters"));
}

#[test]
fn wrong_digest_type_names_both() {
    let err = decode_vector_with_digest(DigestType::Sha512);
    assert_eq!(
        err,
        SpaError::DigestLength {
            len: 43,
            found: "the length of sha256".into(),
            expected: DigestType::Sha512,
            expected_len: 86
        }
    );
    assert!(err.to_string().contains("sha256") && err.to_string().contains("sha512"), "{err}");
}

fn decode_vector_with_digest(digest: DigestType) -> SpaError {
    let (key, hmac_key) = vector_keys();
    decode(WIRE, &key, &hmac_key, HmacType::Sha256, digest).expect_err("digest type")
}

#[test]
fn authentic_but_inconsistent_plaintexts_are_rejected() {
    let (key, hmac_key) = test_keys();
    let open_text = |pt: &str| {
        let wire = seal_text(pt, &key, &hmac_key, HmacType::Sha256);
        decode(&wire, &key, &hmac_key, HmacType::Sha256, DigestType::Sha256)
    };
    // A digest that does not match the fields.
    let other = DigestType::Sha256.digest_b64(b"something else");
    assert_eq!(
        open_text(&format!("{VECTOR_ENC}:{other}")),
        Err(SpaError::DigestMismatch { digest: DigestType::Sha256 })
    );
    // Not 16 digits then a colon: what a wrong key usually produces.
    let enc = VECTOR_ENC.replacen("1695767333156155", "169576733315615x", 1);
    assert_eq!(open_text(&with_digest(&enc, DigestType::Sha256)), Err(SpaError::DecryptionFailed));
    let malformed_cases = [
        // Type out of range.
        VECTOR_ENC.replacen(":1:", ":7:", 1),
        // Timestamp too long.
        VECTOR_ENC.replacen("1795562722", "1795562722000", 1),
        // Username with a forbidden character (base64 of "a:b").
        VECTOR_ENC.replacen("c3BhdXNlcg", "YTpi", 1),
        // Message that is not base64.
        VECTOR_ENC.replacen("MTAuMjAxLjAuMix0Y3AvMjI", "!!!!", 1),
        // A NAT type without its NAT field.
        VECTOR_ENC.replacen(":1:", ":2:", 1),
        // A timeout type with a non-numeric timeout.
        format!("{}:abc", VECTOR_ENC.replacen(":1:", ":3:", 1)),
        // Too many fields.
        format!("{VECTOR_ENC}:a:b:c:d"),
        // A NAT field without a comma (base64 of "hostonly").
        format!("{}:aG9zdG9ubHk", VECTOR_ENC.replacen(":1:", ":2:", 1)),
    ];
    for enc in malformed_cases {
        let result = open_text(&with_digest(&enc, DigestType::Sha256));
        assert!(matches!(result, Err(SpaError::Malformed { .. })), "{enc}: {result:?}");
    }
}

#[test]
fn decoder_reads_server_auth_command_and_local_nat_fields() {
    let (key, hmac_key) = test_keys();
    let open_enc = |enc: &str| {
        let wire = seal_text(&with_digest(enc, DigestType::Sha256), &key, &hmac_key, HmacType::Sha256);
        decode(&wire, &key, &hmac_key, HmacType::Sha256, DigestType::Sha256).expect("decodes")
    };
    // Command: "10.201.0.2,id".
    let d = open_enc("1695767333156155:c3BhdXNlcg:1795562722:3.0.0:0:MTAuMjAxLjAuMixpZA");
    assert_eq!((d.message_type, d.message.as_str()), (MessageType::Command, "10.201.0.2,id"));
    // Local NAT, as the C client sends with --nat-local --nat-port 2222.
    let d = open_enc("1695767333156155:c3BhdXNlcg:1795562722:3.0.0:5:MTAuMjAxLjAuMix0Y3AvMjIyMg:MTAuMjAxLjAuMSwyMg");
    assert_eq!(d.message_type, MessageType::LocalNatAccess);
    assert_eq!(d.message, "10.201.0.2,tcp/2222");
    assert_eq!(d.nat.as_deref(), Some("10.201.0.1,22"));
    // NAT + server auth ("secret") + client timeout.
    let d = open_enc(
        "1695767333156155:c3BhdXNlcg:1795562722:3.0.0:4:MTAuMjAxLjAuMix0Y3AvMjI:MTkyLjE2OC4xMC41LDIy:c2VjcmV0:45",
    );
    assert_eq!(d.message_type, MessageType::ClientTimeoutNatAccess);
    assert_eq!(d.nat.as_deref(), Some("192.168.10.5,22"));
    assert_eq!(d.server_auth.as_deref(), Some("secret"));
    assert_eq!(d.client_timeout, Some(45));
    // The fields re-encode to the same text (what the length formula relies on).
    assert_eq!(
        d.enc_text().as_str(),
        "1695767333156155:c3BhdXNlcg:1795562722:3.0.0:4:MTAuMjAxLjAuMix0Y3AvMjI:MTkyLjE2OC4xMC41LDIy:c2VjcmV0:45"
    );
}

#[test]
fn random_garbage_never_panics_and_never_verifies() {
    let (key, hmac_key) = vector_keys();
    let alphabet: Vec<char> = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/=".chars().collect();
    let mut rng = fastrand::Rng::with_seed(0x5ba);
    for round in 0..3000 {
        let len = rng.usize(0..520);
        let garbage: String = match round % 3 {
            0 => (0..len).map(|_| alphabet[rng.usize(..alphabet.len())]).collect(),
            1 => (0..len).map(|_| rng.char(..)).collect(),
            _ => {
                // The real packet with a random slice replaced: structure intact, content not.
                let start = rng.usize(..WIRE.len());
                let end = rng.usize(start..=WIRE.len());
                let filler: String = (0..rng.usize(0..40)).map(|_| alphabet[rng.usize(..64)]).collect();
                format!("{}{filler}{}", &WIRE[..start], &WIRE[end..])
            }
        };
        if garbage == WIRE {
            continue;
        }
        for hmac in [HmacType::Sha256, HmacType::Md5] {
            assert!(decode(&garbage, &key, &hmac_key, hmac, DigestType::Sha256).is_err(), "{garbage}");
        }
    }
    // Garbage that does authenticate (we hold the keys) but decrypts to noise.
    let (k, h) = test_keys();
    for _ in 0..300 {
        let len = rng.usize(1..200);
        let noise: Vec<u8> = (0..len).map(|_| rng.u8(..)).collect();
        let wire = seal(&noise, &[3; 8], &k, &h, HmacType::Sha256).expect("seal");
        if (MIN_WIRE_LEN..MAX_WIRE_LEN_EXCLUSIVE).contains(&wire.len()) {
            assert!(decode(&wire, &k, &h, HmacType::Sha256, DigestType::Sha256).is_err());
        }
    }
}

#[test]
fn errors_never_contain_key_material() {
    let (key, hmac_key) = vector_keys();
    let errors = [
        decode(WIRE, &key, &HmacKey::new(vec![1; 64]).expect("k"), HmacType::Sha256, DigestType::Sha256),
        decode(WIRE, &SpaKey::new(vec![2; 32]).expect("k"), &hmac_key, HmacType::Sha256, DigestType::Sha256),
        decode(WIRE, &key, &hmac_key, HmacType::Sha256, DigestType::Md5),
    ];
    for err in errors {
        let err = err.expect_err("fails");
        let text = format!("{err} {err:?}");
        for secret in [&KEY_B64[..12], &HMAC_B64[..12], VECTOR_KEY, VECTOR_IV] {
            assert!(!text.contains(secret), "{text}");
        }
    }
}

#[test]
fn a_packet_without_hmac_decodes_with_the_key_alone() {
    let (key, _) = vector_keys();
    // fwknop's no-HMAC packet is the HMAC packet without its MAC (encrypt-then-MAC appends it).
    let bare = &WIRE[..WIRE.len() - HmacType::Sha256.b64_len()];
    let with_hmac = decode_vector(WIRE).expect("vector");
    assert_eq!(decode_without_hmac(bare, &key).expect("no-HMAC packet"), with_hmac);
    // A wrong key is caught by the 16-digit check (nothing else authenticates it).
    let wrong = SpaKey::new(vec![0u8; 32]).expect("key");
    assert_eq!(decode_without_hmac(bare, &wrong), Err(SpaError::DecryptionFailed));
    // A packet that carries an HMAC is not a no-HMAC packet: its tail is no ciphertext block.
    assert!(decode_without_hmac(WIRE, &key).is_err());
}

#[test]
fn a_length_no_ciphertext_has_is_refused_before_any_cryptography() {
    let (key, hmac_key) = vector_keys();
    // The lengths the encoder makes without an HMAC (what fwknop sends with USE_HMAC N).
    let made: Vec<usize> = (0..400).map(|pt| wire_length(pt, HmacType::Sha256) - HmacType::Sha256.b64_len()).collect();
    let mut passed = 0;
    for len in 140..400 {
        let wire = "A".repeat(len);
        let err = decode_without_hmac(&wire, &key).expect_err("garbage");
        if made.contains(&len) {
            assert!(!matches!(err, SpaError::CiphertextLength { .. }), "{len}: {err:?}");
            passed += 1;
        } else {
            assert_eq!(err, SpaError::CiphertextLength { len }, "{len}");
        }
        // With an HMAC the same check comes first; to the caller it is a MAC that cannot match.
        for hmac in [HmacType::Md5, HmacType::Sha256, HmacType::Sha512, HmacType::Sha3_256] {
            assert_eq!(decode(&wire, &key, &hmac_key, hmac, DigestType::Sha256), Err(SpaError::HmacMismatch));
        }
    }
    // About one length in 21 is fwknop's: a flood of random lengths mostly costs no cryptography.
    assert!((10..=14).contains(&passed), "{passed} lengths pass");
}
