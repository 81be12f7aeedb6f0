//! Building: every request type round-trips, packets are fresh, lengths follow the formula and the limits.

use super::*;

fn requests_of_every_type() -> Vec<AccessRequest> {
    let plain =
        AccessRequest::new("alice", Ipv4Addr::new(192, 0, 2, 7), vec![(Protocol::Tcp, 22), (Protocol::Udp, 53)].into());
    let nat = AccessRequest { nat: Some(("10.0.0.5".into(), 2222)), ..plain.clone() };
    let timeout = AccessRequest { client_timeout: Some(30), ..plain.clone() };
    let nat_timeout = AccessRequest { client_timeout: Some(65535), ..nat.clone() };
    let source = AccessRequest { allow_ip: Ipv4Addr::UNSPECIFIED, time_offset: -60, ..plain.clone() };
    vec![plain, nat, timeout, nat_timeout, source]
}

/// Rebuilds the plaintext from the decoded fields: its length must give the wire length.
fn plaintext_len(d: &SpaMessage) -> usize {
    d.enc_text().len() + 1 + d.digest.len()
}

#[test]
fn every_type_digest_and_hmac_round_trips() {
    let (key, hmac_key) = test_keys();
    let now = at(VECTOR_TIME);
    let mut seen_types = Vec::new();
    for base in requests_of_every_type() {
        for digest in DigestType::ALL {
            for hmac in HmacType::ALL {
                let request = AccessRequest { digest, hmac, ..base.clone() };
                let wire = build(&request, &key, &hmac_key, now).expect("builds");
                let d = decode(&wire, &key, &hmac_key, hmac, digest).expect("decodes");
                assert_eq!(d.user, request.user);
                assert_eq!(d.timestamp, (VECTOR_TIME as i64 + request.time_offset) as u64);
                assert_eq!(d.version, PROTOCOL_VERSION);
                assert_eq!(d.message_type, request.message_type());
                assert_eq!(d.message, request.message());
                assert_eq!(d.access(), Ok((request.allow_ip, request.access.clone())));
                assert_eq!(d.nat, request.nat.as_ref().map(|(h, p)| format!("{h},{p}")));
                assert_eq!(d.client_timeout, request.client_timeout);
                assert_eq!(d.server_auth, None);
                assert_eq!(d.digest_type, digest);
                assert_eq!(d.rand.len(), 16);
                assert!(d.rand.bytes().all(|b| b.is_ascii_digit()));
                assert!(wire.is_ascii() && !wire.starts_with(SALTED_PREFIX_B64));
                assert!((MIN_WIRE_LEN..MAX_WIRE_LEN_EXCLUSIVE).contains(&wire.len()), "{}", wire.len());
                assert_eq!(wire.len(), wire_length(plaintext_len(&d), hmac), "spec's length formula");
                seen_types.push(d.message_type);
            }
        }
    }
    for t in [
        MessageType::Access,
        MessageType::NatAccess,
        MessageType::ClientTimeoutAccess,
        MessageType::ClientTimeoutNatAccess,
    ] {
        assert!(seen_types.contains(&t), "{t}");
    }
}

#[test]
fn the_lab_request_is_225_characters_like_the_c_client() {
    let (key, hmac_key) = vector_keys();
    let wire = build(&lab_request(), &key, &hmac_key, at(VECTOR_TIME)).expect("builds");
    assert_eq!(wire.len(), 225);
}

#[test]
fn every_build_is_fresh() {
    let (key, hmac_key) = test_keys();
    let request = lab_request();
    let now = at(VECTOR_TIME);
    let first = build(&request, &key, &hmac_key, now).expect("first");
    let second = build(&request, &key, &hmac_key, now).expect("second");
    assert_ne!(first, second);
    assert_ne!(replay_digest(&first), replay_digest(&second));
    let salt = |wire: &str| {
        let blob =
            b64::decode_strict_unpadded(&format!("{SALTED_PREFIX_B64}{}", &wire[..wire.len() - 43])).expect("b64");
        blob[8..16].to_vec()
    };
    assert_ne!(salt(&first), salt(&second), "a fresh salt per build");
    let a = decode(&first, &key, &hmac_key, HmacType::Sha256, DigestType::Sha256).expect("a");
    let b = decode(&second, &key, &hmac_key, HmacType::Sha256, DigestType::Sha256).expect("b");
    assert_ne!(a.rand, b.rand);
    assert_eq!((a.user, a.timestamp, a.message), (b.user, b.timestamp, b.message));
    let many: std::collections::HashSet<String> =
        (0..50).map(|_| build(&request, &key, &hmac_key, now).expect("build")).collect();
    assert_eq!(many.len(), 50);
}

#[test]
fn random_digits_are_sixteen_digits_and_vary() {
    let all: std::collections::HashSet<String> = (0..200).map(|_| random_digits().expect("rng")).collect();
    assert_eq!(all.len(), 200);
    assert!(all.iter().all(|r| r.len() == 16 && r.bytes().all(|b| b.is_ascii_digit())));
    // Every digit shows up in every position across 200 draws with overwhelming probability.
    let counts = all.iter().flat_map(|r| r.bytes()).fold([0usize; 10], |mut c, b| {
        c[usize::from(b - b'0')] += 1;
        c
    });
    assert!(counts.iter().all(|&c| c > 200), "{counts:?}");
}

#[test]
fn length_formula_matches_sealing_for_every_plaintext_size() {
    let (key, hmac_key) = test_keys();
    for hmac in HmacType::ALL {
        for pt_len in 36..=300 {
            let pt = format!("1234567890123456:{}", "A".repeat(pt_len - 17));
            let wire = seal(pt.as_bytes(), &[1; 8], &key, &hmac_key, hmac).expect("seal");
            assert_eq!(wire.len(), wire_length(pt_len, hmac), "PT {pt_len} {hmac}");
        }
    }
}

#[test]
fn time_offset_shifts_the_timestamp() {
    let (key, hmac_key) = test_keys();
    for offset in [-300i64, 0, 7200] {
        let request = AccessRequest { time_offset: offset, ..lab_request() };
        let wire = build(&request, &key, &hmac_key, at(VECTOR_TIME)).expect("builds");
        let d = decode(&wire, &key, &hmac_key, HmacType::Sha256, DigestType::Sha256).expect("decodes");
        assert_eq!(d.timestamp as i64, VECTOR_TIME as i64 + offset);
    }
}

#[test]
fn openssl_decrypts_a_built_packet() {
    let passphrase = "correct horse battery staple";
    let key = SpaKey::new(passphrase.as_bytes()).expect("key");
    let hmac_key = HmacKey::new(b"another secret".to_vec()).expect("hmac");
    let wire = build(&lab_request(), &key, &hmac_key, at(VECTOR_TIME)).expect("builds");
    let mut body = format!("{SALTED_PREFIX_B64}{}", &wire[..wire.len() - 43]);
    while body.len() % 4 != 0 {
        body.push('=');
    }
    let child = std::process::Command::new("openssl")
        .args(["enc", "-d", "-aes-256-cbc", "-md", "md5", "-a", "-A", "-pass"])
        .arg(format!("pass:{passphrase}"))
        .stdin(std::process::Stdio::piped())
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped())
        .spawn();
    let Ok(mut child) = child else {
        eprintln!("openssl not installed: skipping the cross-check");
        return;
    };
    {
        use std::io::Write as _;
        let mut stdin = child.stdin.take().expect("stdin");
        stdin.write_all(body.as_bytes()).expect("write");
    }
    let out = child.wait_with_output().expect("openssl runs");
    assert!(out.status.success(), "openssl: {}", String::from_utf8_lossy(&out.stderr));
    let text = String::from_utf8(out.stdout).expect("ascii");
    let (enc, digest) = text.rsplit_once(':').expect("digest");
    assert_eq!(DigestType::Sha256.digest_b64(enc.as_bytes()), digest);
    assert!(enc.ends_with(":c3BhdXNlcg:1795562722:3.0.0:1:MTAuMjAxLjAuMix0Y3AvMjI"), "{enc}");
}

#[test]
fn timestamps_must_fit_fwknops_unsigned_seconds() {
    let err = build_err(&AccessRequest { time_offset: -(VECTOR_TIME as i64) - 1, ..lab_request() });
    assert_eq!(err, SpaError::Timestamp { timestamp: -1 });
    assert!(err.to_string().contains("time offset"));
    let err = build_err(&AccessRequest { time_offset: i64::MAX, ..lab_request() });
    assert!(matches!(err, SpaError::Timestamp { .. }), "{err:?}");
    let (key, hmac_key) = test_keys();
    let before_epoch = UNIX_EPOCH - Duration::from_secs(10);
    assert_eq!(build(&lab_request(), &key, &hmac_key, before_epoch), Err(SpaError::Timestamp { timestamp: -10 }));
}

#[test]
fn packets_of_400_characters_or_more_are_refused_with_advice() {
    let ports: Vec<(Protocol, u16)> = (0..12).map(|i| (Protocol::Tcp, 10000 + i)).collect();
    let request = AccessRequest { access: ports.clone().into(), ..lab_request() };
    let err = build_err(&request);
    let SpaError::PacketTooLong { len, plaintext_len, max_plaintext_len, hmac } = err.clone() else {
        panic!("{err:?}")
    };
    assert!(len >= 400, "{len}");
    assert_eq!(hmac, HmacType::Sha256);
    assert_eq!(len, wire_length(plaintext_len, hmac));
    assert!(wire_length(max_plaintext_len, hmac) < 400 && wire_length(max_plaintext_len + 1, hmac) >= 400);
    let text = err.to_string();
    assert!(text.contains("400") && text.contains("silently drops") && text.contains("fewer ports"), "{text}");

    // The same ports minus a few fit; the biggest digest and HMAC push a smaller request over.
    let (key, hmac_key) = test_keys();
    let fewer = AccessRequest { access: ports[..8].to_vec().into(), ..lab_request() };
    let wire = build(&fewer, &key, &hmac_key, at(VECTOR_TIME)).expect("8 ports fit with sha256");
    assert!(wire.len() < 400);
    let big = AccessRequest {
        digest: DigestType::Sha512,
        hmac: HmacType::Sha512,
        nat: Some(("192.168.100.100".into(), 22)),
        client_timeout: Some(600),
        ..fewer
    };
    assert!(matches!(build_err(&big), SpaError::PacketTooLong { hmac: HmacType::Sha512, .. }));

    // Every request that builds is under 400, whatever its size.
    for n in 1..=40u16 {
        let request = AccessRequest {
            access: (1..=n).map(|p| (Protocol::Udp, 60000 + p)).collect::<Vec<_>>().into(),
            ..lab_request()
        };
        match build(&request, &key, &hmac_key, at(VECTOR_TIME)) {
            Ok(wire) => assert!((140..400).contains(&wire.len()), "{n}: {}", wire.len()),
            Err(err) => assert!(matches!(err, SpaError::PacketTooLong { .. }), "{n}: {err:?}"),
        }
    }
}
