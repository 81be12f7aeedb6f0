//! fwknop's limits on requests: usernames, access lists, NAT, timeouts; hash and message type names.

use super::*;

/// The entries of a parsed access list (the text form round-trips through [`AccessList`]).
fn parse_access_list(text: &str) -> Result<Vec<(Protocol, u16)>, SpaError> {
    text.parse::<AccessList>().map(AccessList::into_entries)
}

fn format_access_list(entries: &[(Protocol, u16)]) -> String {
    AccessList::from(entries.to_vec()).to_string()
}

#[test]
fn usernames_follow_fwknops_charset_and_length() {
    for ok in ["spauser", "a", "john.doe-1_x", "user@example", "Mixed Case", &"u".repeat(48)] {
        assert_eq!(validate_username(ok), Ok(()), "{ok:?}");
    }
    for ch in USERNAME_FORBIDDEN.chars() {
        let user = format!("bad{ch}user");
        let err = build_err(&AccessRequest { user: user.clone(), ..lab_request() });
        assert_eq!(err, SpaError::UsernameChar { user, ch });
        assert!(err.to_string().contains("printable ASCII except"), "{err}");
    }
    for (user, ch) in [("tab\tuser", '\t'), ("jösé", 'ö'), ("nul\0", '\0'), ("del\x7f", '\x7f')] {
        assert_eq!(validate_username(user), Err(SpaError::UsernameChar { user: user.into(), ch }));
    }
    assert_eq!(build_err(&AccessRequest { user: String::new(), ..lab_request() }), SpaError::UsernameEmpty);
    let long = "u".repeat(49);
    let err = build_err(&AccessRequest { user: long.clone(), ..lab_request() });
    assert_eq!(err, SpaError::UsernameTooLong { user: long, len: 49 });
    assert!(err.to_string().contains("at most 48"));
}

#[test]
fn access_lists_parse_and_print() {
    assert_eq!(parse_access_list("tcp/22"), Ok(vec![(Protocol::Tcp, 22)]));
    assert_eq!(
        parse_access_list(" tcp/22 , UDP/53,Tcp/65535,udp/1"),
        Ok(vec![(Protocol::Tcp, 22), (Protocol::Udp, 53), (Protocol::Tcp, 65535), (Protocol::Udp, 1)])
    );
    let list = parse_access_list("tcp/22,udp/53").expect("list");
    assert_eq!(format_access_list(&list), "tcp/22,udp/53");
    assert_eq!(parse_access_list(&format_access_list(&list)), Ok(list));
}

#[test]
fn bad_access_tokens_name_the_token() {
    let cases = [
        ("tcp/0", "tcp/0", "between 1 and 65535"),
        ("sctp/22", "sctp/22", "unknown protocol \"sctp\""),
        ("tcp/99999", "tcp/99999", "between 1 and 65535"),
        ("tcp/22,tcp/65536", "tcp/65536", "between 1 and 65535"),
        ("tcp/99999999999999999999", "tcp/99999999999999999999", "between 1 and 65535"),
        ("tcp22", "tcp22", "no /"),
        ("tcp/", "tcp/", "not a number"),
        ("tcp/-1", "tcp/-1", "not a number"),
        ("tcp/2 2", "tcp/2 2", "not a number"),
        ("/22", "/22", "unknown protocol \"\""),
        ("none/0", "none/0", "unknown protocol \"none\""),
        ("tcp/22,", "", "empty"),
        ("tcp/22,,udp/53", "", "empty"),
    ];
    for (text, token, reason) in cases {
        let err = parse_access_list(text).expect_err(text);
        let SpaError::InvalidAccess { token: got, .. } = &err else { panic!("{text}: {err:?}") };
        assert_eq!(got, token, "{text}");
        let message = err.to_string();
        assert!(message.contains(&format!("{token:?}")) && message.contains(reason), "{text}: {message}");
        assert!(message.contains("tcp/PORT or udp/PORT"), "{message}");
    }
    assert_eq!(parse_access_list(""), Err(SpaError::EmptyAccess));
    assert_eq!(parse_access_list("  "), Err(SpaError::EmptyAccess));
}

#[test]
fn requests_need_valid_access_nat_and_timeout() {
    assert_eq!(build_err(&AccessRequest { access: vec![].into(), ..lab_request() }), SpaError::EmptyAccess);
    assert!(build_err(&AccessRequest { access: vec![].into(), ..lab_request() }).to_string().contains("none/0"));
    let err =
        build_err(&AccessRequest { access: vec![(Protocol::Tcp, 22), (Protocol::Udp, 0)].into(), ..lab_request() });
    assert_eq!(err, SpaError::InvalidAccess { token: "udp/0".into(), reason: AccessProblem::PortOutOfRange });
    for timeout in [0, 65536, u32::MAX] {
        let err = build_err(&AccessRequest { client_timeout: Some(timeout), ..lab_request() });
        assert_eq!(err, SpaError::ClientTimeout { timeout });
        assert!(err.to_string().contains("1..=65535"));
    }
    for (host, port, reason) in [
        ("", 22, NatProblem::EmptyHost),
        ("10.0.0.5", 0, NatProblem::PortOutOfRange),
        ("a,b", 22, NatProblem::ForbiddenChar(',')),
        ("host/x", 22, NatProblem::ForbiddenChar('/')),
        ("it's", 22, NatProblem::ForbiddenChar('\'')),
        ("sp ace", 22, NatProblem::ForbiddenChar(' ')),
    ] {
        let err = build_err(&AccessRequest { nat: Some((host.into(), port)), ..lab_request() });
        let SpaError::InvalidNat { reason: got, .. } = &err else { panic!("{host}: {err:?}") };
        assert_eq!(got, &reason, "{host}");
    }
}

#[test]

fn hash_type_names_parse() {
    assert_eq!("sha256".parse::<DigestType>(), Ok(DigestType::Sha256));
    assert_eq!("SHA-512".parse::<HmacType>(), Ok(HmacType::Sha512));
    assert_eq!(" Md5 ".parse::<DigestType>(), Ok(DigestType::Md5));
    for t in HmacType::ALL {
        assert_eq!(t.to_string().parse::<HmacType>(), Ok(t));
    }
    // SHA3 is an HMAC type only (fwknopd tells digests apart by length, which SHA3 shares with SHA-2).
    assert_eq!("sha3_256".parse::<HmacType>(), Ok(HmacType::Sha3_256));
    let err = "sha3_256".parse::<DigestType>().expect_err("sha3 digest").to_string();
    assert!(err.contains("\"sha3_256\"") && err.contains("(valid: md5, sha1, sha256, sha384, sha512)"), "{err}");
    let err = "sha3_384".parse::<HmacType>().expect_err("no sha3_384").to_string();
    assert!(err.contains("md5, sha1, sha256, sha384, sha512, sha3_256, sha3_512"), "{err}");
    assert_eq!(DigestType::default(), DigestType::Sha256);
    assert_eq!(HmacType::default(), HmacType::Sha256);
    assert_eq!(DigestType::from_b64_len(43), Some(DigestType::Sha256));
    assert_eq!(DigestType::from_b64_len(42), None);
}

#[test]
fn message_type_codes() {
    for (code, t) in MessageType::ALL.into_iter().enumerate() {
        assert_eq!(usize::from(t.code()), code);
        assert_eq!(MessageType::from_code(t.code()), Some(t));
    }
    assert_eq!(MessageType::from_code(7), None);
    assert!(MessageType::NatAccess.has_nat() && !MessageType::NatAccess.has_client_timeout());
    assert!(MessageType::ClientTimeoutLocalNatAccess.has_nat());
    assert!(MessageType::ClientTimeoutLocalNatAccess.has_client_timeout());
    assert!(!MessageType::Access.has_nat() && !MessageType::Command.has_client_timeout());
}

#[test]
fn the_access_list_type_parses_prints_and_refuses_what_fwknopd_refuses() {
    let list: AccessList = " tcp/22 , UDP/53".parse().expect("list");
    assert_eq!(list.entries(), [(Protocol::Tcp, 22), (Protocol::Udp, 53)]);
    assert_eq!((list.len(), list.is_empty()), (2, false));
    assert_eq!(list.to_string(), "tcp/22,udp/53");
    assert_eq!(list.to_string().parse::<AccessList>(), Ok(list.clone()));
    assert_eq!(AccessList::new(vec![(Protocol::Tcp, 22), (Protocol::Udp, 53)]), Ok(list.clone()));
    assert_eq!(AccessList::new(Vec::new()), Err(SpaError::EmptyAccess));
    assert_eq!(
        AccessList::new(vec![(Protocol::Udp, 0)]),
        Err(SpaError::InvalidAccess { token: "udp/0".into(), reason: AccessProblem::PortOutOfRange })
    );
    // The bare-entry functions kept for profile::SpaAccess agree with the type.
    assert_eq!(parse_access_list("tcp/22,udp/53"), Ok(list.clone().into_entries()));
    assert_eq!(format_access_list(list.entries()), list.to_string());
    assert_eq!(AccessRequest::new("u", Ipv4Addr::LOCALHOST, list.clone()).message(), "127.0.0.1,tcp/22,udp/53");
}
