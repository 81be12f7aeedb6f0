use super::*;

fn detect(text: &str) -> Format {
    detect_format("f", text).expect("detected").format
}

#[test]
fn the_format_comes_from_the_content_as_a_whole() {
    assert_eq!(detect("[openSSH]\nsequence = 1,2,3\ncommand = x\n"), Format::KnockdConf);
    assert_eq!(detect("[lab]\nSPA_SERVER_PROTO udp\nACCESS tcp/22\n"), Format::Fwknoprc, "no SPA_SERVER needed");
    assert_eq!(detect("[lab]\nHMAC_KEY_BASE64: x\nspa_server h\n"), Format::Fwknoprc);
    assert_eq!(detect("host = \"h\"\nopen = \"1,2\"\n[verify]\nport = 22\n"), Format::ProfileToml);
    assert_eq!(detect("host = \"h\"\n[spa]\naccess = \"tcp/22\"\n"), Format::ProfileToml);
    let e = detect_format("f", "# nothing\nhello world\n").expect_err("unknown");
    assert!(e.to_string().contains("cannot tell the format"), "{e}");
    let reason = detect_format("f", "[a]\nSPA_SERVER h\nACCESS tcp/22\n").expect("fwknoprc").reason;
    assert!(reason.contains("SPA_SERVER"), "{reason}");
}

#[test]
fn an_import_never_proposes_a_profile_that_would_not_load() {
    let e = import_text("k.conf", "k", "[d]\nsequence = 1,2\n", Some("-oProxyCommand=id")).expect_err("bad host");
    assert!(matches!(e, ImportError::InvalidHost { .. }), "{e}");
    assert!(matches!(import_text("k.conf", "k", "[d]\nsequence = 1,2\n", None), Err(ImportError::HostNeeded { .. })));
    // discover without HTTPS is refused by the fwknoprc layer; a hostile SPA_SERVER by the one host validator.
    let report = import_text("rc", "rc", "[a]\nSPA_SERVER -oProxyCommand=id\nACCESS tcp/22\n", None).expect("report");
    assert!(report.entries[0].skipped.is_some(), "{:?}", report.entries[0]);
    assert_eq!(report.importable().count(), 0);
}

#[test]
fn a_profile_file_imports_under_its_name() {
    let report =
        import_text("bastion.toml", "bastion", "host = \"h\"\nopen = \"1,2\"\n", Some("192.0.2.4")).expect("toml");
    let entry = &report.entries[0];
    assert_eq!(entry.name.as_deref(), Some("bastion"));
    assert_eq!(entry.profile.as_ref().map(|p| p.host.as_str()), Some("192.0.2.4"));
    let e = import_text("b.toml", "b", "host = \"h\"\nopen = \"1,x\"\n", None).expect_err("bad");
    assert!(e.to_string().contains("b.toml:2"), "{e}");
}

/// Issue 26: a profile file is imported (and named in `--json`) as its own kind, a rotating one included.
#[test]
fn a_profile_file_keeps_its_kind() {
    for (text, kind) in [
        ("host = \"h\"\nopen = \"1,2\"\n", "sequence"),
        ("host = \"h\"\n[spa]\naccess = \"tcp/22\"\n", "spa"),
        ("host = \"h\"\n[rotating]\ndoor = \"ssh\"\nstep = 60\nlength = 3\n", "rotating"),
    ] {
        assert_eq!(detect(text), Format::ProfileToml, "{text}");
        let report = import_text("p.toml", "p", text, None).expect("toml");
        let entry = &report.entries[0];
        assert_eq!(entry.kind, Some(kind), "{text}");
        assert_eq!(entry.profile.as_ref().map(|p| p.kind.as_str()), Some(kind));
    }
}

#[test]
fn fwknoprc_stanzas_get_unique_valid_names() {
    let report = import_text(
        "rc",
        "rc",
        "[web server]\nSPA_SERVER h\nACCESS tcp/22\n[web-server]\nSPA_SERVER h\nACCESS tcp/22\n",
        None,
    )
    .expect("report");
    let names: Vec<_> = report.entries.iter().filter_map(|e| e.name.as_deref()).collect();
    assert_eq!(names, ["web-server", "web-server-2"]);
}

#[test]
fn knockd_syntax_errors_name_the_line_never_the_sequence() {
    let e =
        import_text("k.conf", "k", "[openSSH]\nsequence = 1,2\nsequence 7000,8000\n", Some("h")).expect_err("syntax");
    let text = e.to_string();
    assert!(text.starts_with("k.conf: line 3: ") && !text.contains("7000"), "{text}");
}

/// A deterministic sweep of hostile fragments: every combination is read without a panic.
#[test]
fn no_input_makes_the_importer_panic() {
    let fragments = [
        "[",
        "]",
        "[default]",
        "[openSSH]",
        "[a]\n",
        "\r\n",
        "\n",
        "SPA_SERVER",
        " h",
        " -x",
        ":",
        "::",
        "KEY_BASE64:",
        " ===",
        "sequence = ",
        "7000:udp,",
        "70000",
        ",,",
        "tcpflags = !syn",
        "ALLOW_IP resolve",
        "TIME_OFFSET -",
        "99999999999999999999",
        "é",
        "\u{feff}",
        "#",
        ";",
        "\t",
        "host = \"h\"",
        "[spa]",
        "=",
        "UseSyslog",
        "HMAC_DIGEST_TYPE sha3_512",
        "ACCESS tcp/",
        "one_time_sequences = /x",
        "RESOLVE_URL http://x",
    ];
    let mut seed: u64 = 0x9e37_79b9_7f4a_7c15;
    for _ in 0..4000 {
        let mut text = String::new();
        for _ in 0..(seed % 12) {
            seed ^= seed << 13;
            seed ^= seed >> 7;
            seed ^= seed << 17;
            text.push_str(fragments[(seed % fragments.len() as u64) as usize]);
            if seed.is_multiple_of(3) {
                text.push('\n');
            }
        }
        for host in [None, Some("192.0.2.1")] {
            let _ = import_text("fuzz", "fuzz", &text, host).map(|r| r.entries.len());
        }
    }
}
