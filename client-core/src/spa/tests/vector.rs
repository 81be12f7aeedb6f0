//! The packet captured from the real fwknop 2.6.10 client (spec section 2), layer by layer.

use aes::Aes256;
use cbc::cipher::{BlockModeDecrypt, KeyIvInit};
use sha2::Digest;

use super::*;

#[test]
fn vector_decodes_to_every_field() {
    let (key, hmac_key) = vector_keys();
    assert_eq!(WIRE.len(), 225);
    let d = decode(WIRE, &key, &hmac_key, HmacType::Sha256, DigestType::Sha256).expect("vector decodes");
    assert_eq!(d.rand, "1695767333156155");
    assert_eq!(d.user, "spauser");
    assert_eq!(d.timestamp, VECTOR_TIME);
    assert_eq!(d.version, "3.0.0");
    assert_eq!(d.message_type, MessageType::Access);
    assert_eq!(d.message_type.code(), 1);
    assert_eq!(d.message, "10.201.0.2,tcp/22");
    assert_eq!(d.nat, None);
    assert_eq!(d.server_auth, None);
    assert_eq!(d.client_timeout, None);
    assert_eq!(d.digest_type, DigestType::Sha256);
    assert_eq!(d.digest, VECTOR_DIGEST);
    assert_eq!(d.access(), Ok((Ipv4Addr::new(10, 201, 0, 2), vec![(Protocol::Tcp, 22)].into())));
}

#[test]
fn vector_intermediate_values_match_the_spec() {
    let (key, hmac_key) = vector_keys();
    assert_eq!(key.len(), 32);
    assert_eq!(hmac_key.len(), 64);
    assert!(WIRE.ends_with(VECTOR_MAC));
    let body = format!("{SALTED_PREFIX_B64}{}", &WIRE[..WIRE.len() - 43]);
    assert_eq!(body.len(), 192);
    let blob = b64::decode_strict_unpadded(&body).expect("body is base64");
    assert_eq!(blob.len(), 144);
    assert_eq!(&blob[..8], b"Salted__");
    assert_eq!(hex(&blob[8..16]), VECTOR_SALT);
    assert_eq!(blob.len() - 16, 128, "ciphertext bytes");

    let salt: [u8; 8] = blob[8..16].try_into().expect("8 bytes");
    let (aes_key, iv) = evp_bytes_to_key_md5(key.as_bytes(), &salt);
    assert_eq!(hex(&*aes_key), VECTOR_KEY);
    assert_eq!(hex(&*iv), VECTOR_IV);

    // Raw decryption without unpadding shows the 14 bytes of PKCS#7 padding.
    let raw = cbc::Decryptor::<Aes256>::new((&*aes_key).into(), (&*iv).into())
        .decrypt_padded_vec::<cbc::cipher::block_padding::NoPadding>(&blob[16..])
        .expect("whole blocks");
    assert_eq!(raw.len(), 128);
    assert_eq!(&raw[114..], &[0x0e; 14]);
    assert_eq!(&raw[..114], vector_plaintext().as_bytes());

    let opened = open(WIRE, &key, &hmac_key, HmacType::Sha256).expect("opens");
    assert_eq!(opened.as_slice(), vector_plaintext().as_bytes());
    assert_eq!(opened.len(), 114);
    assert_eq!(wire_length(114, HmacType::Sha256), 225);
    assert_eq!(
        b64::encode_unpadded(&HmacType::Sha256.mac(hmac_key.as_bytes(), body.as_bytes()).expect("mac")),
        VECTOR_MAC
    );
}

#[test]
fn kdf_is_evp_bytes_to_key_md5() {
    let (key, _) = vector_keys();
    let salt: [u8; 8] = unhex(VECTOR_SALT).try_into().expect("8 bytes");
    let (aes_key, iv) = evp_bytes_to_key_md5(key.as_bytes(), &salt);
    assert_eq!(hex(&*aes_key), VECTOR_KEY);
    assert_eq!(hex(&*iv), VECTOR_IV);
    // The three MD5 rounds, spelled out.
    let d1 = md5::Md5::new().chain_update(key.as_bytes()).chain_update(salt).finalize();
    let d2 = md5::Md5::new().chain_update(d1).chain_update(key.as_bytes()).chain_update(salt).finalize();
    let d3 = md5::Md5::new().chain_update(d2).chain_update(key.as_bytes()).chain_update(salt).finalize();
    assert_eq!(format!("{}{}", hex(&d1), hex(&d2)), VECTOR_KEY);
    assert_eq!(hex(&d3), VECTOR_IV);
    // A one-byte passphrase still yields a full 256-bit key.
    let (short_key, short_iv) = evp_bytes_to_key_md5(b"k", &salt);
    assert_eq!(short_key.len(), 32);
    assert_ne!(hex(&*short_key), VECTOR_KEY);
    assert_ne!(hex(&*short_iv), VECTOR_IV);
}

#[test]
fn digest_covers_the_exact_field_text() {
    assert_eq!(DigestType::Sha256.digest_b64(VECTOR_ENC.as_bytes()), VECTOR_DIGEST);
    let fields = SpaMessage {
        rand: "1695767333156155".into(),
        user: "spauser".into(),
        timestamp: VECTOR_TIME,
        version: "3.0.0".into(),
        message_type: MessageType::Access,
        message: "10.201.0.2,tcp/22".into(),
        nat: None,
        server_auth: None,
        client_timeout: None,
        digest_type: DigestType::Sha256,
        digest: String::new(),
    };
    assert_eq!(fields.enc_text().as_str(), VECTOR_ENC);
    for d in DigestType::ALL {
        assert_eq!(d.digest_b64(b"x").len(), d.b64_len(), "{d}");
    }
    assert_eq!(
        DigestType::ALL.map(DigestType::b64_len),
        [22, 27, 43, 64, 86],
        "md5, sha1, sha256, sha384, sha512 per the spec"
    );
    assert_eq!(HmacType::ALL.map(HmacType::b64_len), [22, 27, 43, 64, 86, 43, 86], "... sha3_256, sha3_512");
}

#[test]
fn sealing_the_vector_plaintext_with_its_salt_reproduces_the_capture_byte_for_byte() {
    let (key, hmac_key) = vector_keys();
    let salt: [u8; 8] = unhex(VECTOR_SALT).try_into().expect("8 bytes");
    let wire = seal(vector_plaintext().as_bytes(), &salt, &key, &hmac_key, HmacType::Sha256).expect("seal");
    assert_eq!(wire, WIRE);
}

#[test]
fn replay_digest_is_fwknopds_cache_entry() {
    assert_eq!(replay_digest(WIRE), VECTOR_REPLAY);
}

#[test]
fn observed_field_layouts_for_other_message_types() {
    let base = SpaMessage {
        rand: "1695767333156155".into(),
        user: "spauser".into(),
        timestamp: VECTOR_TIME,
        version: "3.0.0".into(),
        message_type: MessageType::ClientTimeoutAccess,
        message: "10.201.0.2,tcp/22".into(),
        nat: None,
        server_auth: None,
        client_timeout: Some(30),
        digest_type: DigestType::Sha256,
        digest: String::new(),
    };
    assert!(base.enc_text().ends_with(":3.0.0:3:MTAuMjAxLjAuMix0Y3AvMjI:30"));
    let nat = SpaMessage {
        message_type: MessageType::NatAccess,
        nat: Some("192.168.10.5,22".into()),
        client_timeout: None,
        ..base.clone()
    };
    assert!(nat.enc_text().ends_with(":3.0.0:2:MTAuMjAxLjAuMix0Y3AvMjI:MTkyLjE2OC4xMC41LDIy"));
    let nat_timeout = SpaMessage { message_type: MessageType::ClientTimeoutNatAccess, client_timeout: Some(45), ..nat };
    assert!(nat_timeout.enc_text().ends_with(":3.0.0:4:MTAuMjAxLjAuMix0Y3AvMjI:MTkyLjE2OC4xMC41LDIy:45"));
    let mut request = lab_request();
    request.nat = Some(("192.168.10.5".into(), 22));
    request.client_timeout = Some(45);
    assert_eq!(request.message_type(), MessageType::ClientTimeoutNatAccess);
}

/// docs/spa-server.md's IPv6 decision: an IPv6 allow address inside the message is refused, as fwknopd
/// 2.6.10 refuses it (upstream fwknop has no IPv6 message format); SPA over IPv6 uses `0.0.0.0`.
#[test]
fn an_ipv6_allow_address_inside_the_message_is_refused() {
    let (key, hmac_key) = vector_keys();
    let mut d = decode(WIRE, &key, &hmac_key, HmacType::Sha256, DigestType::Sha256).expect("vector decodes");
    d.message = "2001:db8::7,tcp/22".to_owned();
    let refused = d.access().expect_err("an IPv6 allow address");
    assert!(refused.to_string().contains("does not start with a dotted IPv4 address"), "{refused}");
    d.message = "0.0.0.0,tcp/22".to_owned();
    assert_eq!(d.access(), Ok((Ipv4Addr::UNSPECIFIED, vec![(Protocol::Tcp, 22)].into())));
}
