//! SHA3-256 and SHA3-512 HMACs (fwknop's `HMAC_DIGEST_TYPE sha3_256` / `sha3_512`), against packets made by
//! the real fwknop 2.6.10 client with the spec's lab keys:
//! `fwknop -A tcp/22 -a 10.201.0.2 -D 10.201.0.1 -U spauser --key-base64-rijndael KEY_B64
//! --key-base64-hmac HMAC_B64 --hmac-digest-type sha3_256 --test -v --no-save-args --no-rc-file`.

use super::*;

struct Sha3Vector {
    hmac: HmacType,
    enc: &'static str,
    digest: &'static str,
    mac: &'static str,
    wire: &'static str,
}

const SHA3_TIME: u64 = 1795984751;

const SHA3_256: Sha3Vector = Sha3Vector {
    hmac: HmacType::Sha3_256,
    enc: "1091405286157531:c3BhdXNlcg:1795984751:3.0.0:1:MTAuMjAxLjAuMix0Y3AvMjI",
    digest: "3bIfLgaMV9Go3QzkJHLt7bFZFfpPzeo6mhMwGtzARvQ",
    mac: "NUAgvrHLI/DNAYzDaLGWQ3HtCxHZxqSoRP8/wCUhEl8",
    wire: "9RNMz8NLQIoEykdoD7WsVefBGWpcnIAqs+iL7rT+z+LkvQV9JJXf+wyVZvZ9uS0TyrH1zbYe5knEjpOdXQiWwjYj8TqHb7Zb4ASn23U74sLlWqoS3j02MUTJjGvwai1278kLTeR0uYuawU9tsDq3heM7a8CIZJXYKpUiETqdosxLRRbCWCjey+NUAgvrHLI/DNAYzDaLGWQ3HtCxHZxqSoRP8/wCUhEl8",
};

const SHA3_512: Sha3Vector = Sha3Vector {
    hmac: HmacType::Sha3_512,
    enc: "1505743961564251:c3BhdXNlcg:1795984751:3.0.0:1:MTAuMjAxLjAuMix0Y3AvMjI",
    digest: "UMFRj5V3+F5GSeDhkPEn1SI0ZtpVdd+y/A6x5yK+8iM",
    mac: "5jP6TjlUwdcerhHERzmjLsNXIJA3ylJeg1tWl0kX2WvSN9xmVvOHah9REW87SuKbvNFUzoZzLdmyyRv0b5i88Q",
    wire: "/0Ge4TS7yxVIDdXt8f7/Q9xCcadarLTwwsROcAEqPIImS+BCGlL9prwjqG2PcPvxtg9Em4XsJu/+B3HnxtdAG88CI10ktArF/0IxEJzXcsh66bswpy5N6vrp/QeR8BpIn3H+9wm4ahkJpzQJxnae0tRif67Pado/Pj4L71HNiVDGuonSlkh3Gh5jP6TjlUwdcerhHERzmjLsNXIJA3ylJeg1tWl0kX2WvSN9xmVvOHah9REW87SuKbvNFUzoZzLdmyyRv0b5i88Q",
};

const VECTORS: [Sha3Vector; 2] = [SHA3_256, SHA3_512];

/// The salt the real client drew, read back from the packet.
fn salt_of(v: &Sha3Vector) -> [u8; 8] {
    let body = format!("{SALTED_PREFIX_B64}{}", &v.wire[..v.wire.len() - v.hmac.b64_len()]);
    let blob = b64::decode_lenient(&body).expect("body is base64");
    blob[8..16].try_into().expect("8 bytes")
}

#[test]
fn the_real_clients_sha3_packets_decode_to_every_field() {
    let (key, hmac_key) = vector_keys();
    for v in VECTORS {
        assert!(v.wire.ends_with(v.mac), "{}", v.hmac);
        let d = decode(v.wire, &key, &hmac_key, v.hmac, DigestType::Sha256).expect("the real client's packet decodes");
        assert_eq!(d.user, "spauser");
        assert_eq!(d.timestamp, SHA3_TIME);
        assert_eq!(d.version, "3.0.0");
        assert_eq!(d.message_type, MessageType::Access);
        assert_eq!(d.message, "10.201.0.2,tcp/22");
        assert_eq!(d.digest, v.digest);
        assert_eq!(d.enc_text().as_str(), v.enc);
        assert_eq!(d.access(), Ok((Ipv4Addr::new(10, 201, 0, 2), vec![(Protocol::Tcp, 22)].into())));
    }
}

#[test]
fn sealing_with_the_clients_salt_reproduces_its_sha3_packets_byte_for_byte() {
    let (key, hmac_key) = vector_keys();
    for v in VECTORS {
        let plaintext = format!("{}:{}", v.enc, v.digest);
        assert_eq!(DigestType::Sha256.digest_b64(v.enc.as_bytes()), v.digest);
        let wire = seal(plaintext.as_bytes(), &salt_of(&v), &key, &hmac_key, v.hmac).expect("seal");
        assert_eq!(wire, v.wire, "{}", v.hmac);
        assert_eq!(wire.len(), wire_length(plaintext.len(), v.hmac));
        let body = format!("{SALTED_PREFIX_B64}{}", &v.wire[..v.wire.len() - v.hmac.b64_len()]);
        let mac = v.hmac.mac(hmac_key.as_bytes(), body.as_bytes()).expect("mac");
        assert_eq!(b64::encode_unpadded(&mac), v.mac);
    }
}

#[test]
fn a_sha3_packet_checked_as_sha2_or_the_other_sha3_is_an_hmac_mismatch() {
    let (key, hmac_key) = vector_keys();
    // SHA3-256 and SHA-256 MACs have the same length: only the type tells them apart, as on the server.
    for (v, wrong) in [
        (&SHA3_256, HmacType::Sha256),
        (&SHA3_256, HmacType::Sha3_512),
        (&SHA3_512, HmacType::Sha512),
        (&SHA3_512, HmacType::Sha3_256),
    ] {
        assert_eq!(decode(v.wire, &key, &hmac_key, wrong, DigestType::Sha256), Err(SpaError::HmacMismatch));
    }
    assert_eq!(
        decode(WIRE, &key, &hmac_key, HmacType::Sha3_256, DigestType::Sha256),
        Err(SpaError::HmacMismatch),
        "the SHA-256 vector is not a SHA3-256 packet"
    );
}

#[test]
fn sha3_names_are_fwknops() {
    assert_eq!(HmacType::Sha3_256.to_string(), "sha3_256");
    assert_eq!(HmacType::Sha3_512.to_string(), "sha3_512");
    for name in ["sha3_256", "SHA3_256", "sha3-256", " Sha3_256 "] {
        assert_eq!(name.parse::<HmacType>(), Ok(HmacType::Sha3_256), "{name:?}");
    }
    assert_eq!("SHA3_512".parse::<HmacType>(), Ok(HmacType::Sha3_512));
    assert_eq!((HmacType::Sha3_256.b64_len(), HmacType::Sha3_512.b64_len()), (43, 86));
}

#[test]
fn built_sha3_packets_round_trip_and_are_checked_by_an_independent_sha3() {
    let (key, hmac_key) = vector_keys();
    for hmac in [HmacType::Sha3_256, HmacType::Sha3_512] {
        let request = AccessRequest { hmac, ..lab_request() };
        let wire = build(&request, &key, &hmac_key, at(SHA3_TIME)).expect("builds");
        let d = decode(&wire, &key, &hmac_key, hmac, DigestType::Sha256).expect("decodes");
        assert_eq!((d.user.as_str(), d.message.as_str(), d.timestamp), ("spauser", "10.201.0.2,tcp/22", SHA3_TIME));
        // RFC 2104 spelled out over SHA3 (block sizes 136 and 72 bytes), independent of the hmac crate.
        let body = format!("{SALTED_PREFIX_B64}{}", &wire[..wire.len() - hmac.b64_len()]);
        let expected = match hmac {
            HmacType::Sha3_256 => rfc2104::<sha3::Sha3_256>(136, hmac_key.as_bytes(), body.as_bytes()),
            _ => rfc2104::<sha3::Sha3_512>(72, hmac_key.as_bytes(), body.as_bytes()),
        };
        assert!(wire.ends_with(&b64::encode_unpadded(&expected)), "{hmac}");
    }
}

fn rfc2104<D: sha2::Digest>(block: usize, key: &[u8], data: &[u8]) -> Vec<u8> {
    let mut k = if key.len() > block { D::digest(key).to_vec() } else { key.to_vec() };
    k.resize(block, 0);
    let ipad: Vec<u8> = k.iter().map(|b| b ^ 0x36).collect();
    let opad: Vec<u8> = k.iter().map(|b| b ^ 0x5c).collect();
    let inner = D::new().chain_update(&ipad).chain_update(data).finalize();
    D::new().chain_update(&opad).chain_update(inner).finalize().to_vec()
}
