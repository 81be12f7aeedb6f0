use super::*;
use crate::sequence::Protocol;

const KEY: &str = "CNmiXzecHgvpYHYfmcRo+B+gUnoIYRQPD7njqnN9LsQ=";
const HMAC: &str = "p1TvXvCS7ameDT1sa0mFfptXKIkHXsBd1ssfXxmbGx72DOJR9jbT5iZ0NmCVHK3phqG6bAE4rhAEGTFCfLd41w==";

fn one(text: &str) -> StanzaImport {
    let (mut stanzas, _) = stanzas(text, None);
    assert_eq!(stanzas.len(), 1, "{stanzas:?}");
    stanzas.remove(0)
}

fn ok(text: &str) -> (SpaProfile, StanzaImport) {
    let mut s = one(text);
    let result = std::mem::replace(&mut s.result, Err(Note { line: None, message: String::new() }));
    match result {
        Ok(spa) => (spa, s),
        Err(e) => panic!("{text:?} should import: {e}"),
    }
}

fn refused(text: &str) -> Note {
    match one(text).result {
        Ok(spa) => panic!("{text:?} should be refused, got {:?}", spa.profile),
        Err(note) => note,
    }
}

fn spa(p: &SpaProfile) -> &SpaSettings {
    p.profile.spa().expect("an SPA profile")
}

#[test]
fn a_default_stanza_alone_is_a_profile_and_defaults_named_stanzas() {
    let text = format!(
        "[default]\nSPA_SERVER 192.0.2.1\nACCESS tcp/22\nALLOW_IP 192.0.2.9\nKEY_BASE64 {KEY}\nHMAC_KEY_BASE64 {HMAC}\n"
    );
    let (p, s) = ok(&text);
    assert_eq!((s.stanza.as_str(), p.profile.host.as_str()), ("default", "192.0.2.1"));
    assert!(p.keys.is_some());
    let with_named = format!("{text}\n[web]\nSPA_SERVER web.example.org\nACCESS tcp/443\n");
    let (all, _) = stanzas(&with_named, None);
    assert_eq!(all.len(), 2, "[default] names a server, so it is a profile too");
    let web = all[1].result.as_ref().expect("web imports");
    assert_eq!(web.profile.host, "web.example.org");
    assert_eq!(spa(web).allow_ip, AllowIp::Address("192.0.2.9".parse().expect("ip")), "from [default]");
    assert!(web.keys.is_some(), "keys from [default]");
    // [default] with only defaults is not a profile of its own.
    let (only_named, _) = stanzas("[default]\nSPA_SERVER_PORT 40000\n[a]\nSPA_SERVER h\nACCESS tcp/22\n", None);
    assert_eq!(only_named.len(), 1);
    assert_eq!(spa(only_named[0].result.as_ref().expect("a")).port.get(), 40000);
}

#[test]
fn trailing_colons_crlf_comments_and_section_case_as_fwknop() {
    let text = format!(
        "# comment\r\n; also a comment\r\n[Lab]\r\nSPA_SERVER:   192.0.2.1   # trailing\r\nACCESS:\ttcp/22;udp/53\r\n\
         KEY_BASE64: {KEY}\r\n\r\nHMAC_KEY_BASE64: {HMAC}\r\n[LAB]\r\nSPOOF_USER: alice\r\n"
    );
    let (p, s) = ok(&text);
    assert_eq!(s.stanza, "Lab");
    assert_eq!(p.profile.host, "192.0.2.1");
    assert_eq!(spa(&p).access.entries(), [(Protocol::Tcp, 22)], "the value ends at ';'");
    assert_eq!(spa(&p).user.as_deref(), Some("alice"), "[LAB] is the same stanza as [Lab]");
    let keys = p.keys.as_ref().expect("keys despite the colons");
    assert_eq!((keys.key.len(), keys.hmac.len()), (32, 64));
}

#[test]
fn lines_fwknop_refuses_refuse_their_stanza_by_line() {
    let e = refused("[a]\nSPA_SERVER h\n   \nACCESS tcp/22\n");
    assert_eq!(e.line, Some(3), "{e}");
    let e = refused("[a]\nSPA_SERVER h\n  # indented\nACCESS tcp/22\n");
    assert_eq!(e.line, Some(3), "an indented comment is a variable named # to fwknop: {e}");
    let e = refused("[a]\nspa_server h\nACCESS tcp/22\n");
    assert!(e.message.contains("write SPA_SERVER"), "{e}");
    assert_eq!(e.line, Some(2));
    let e = refused("[a]\nSPA_SERVER h\nACCESS\n");
    assert_eq!(e.line, Some(3), "a variable without a value: {e}");
    // A bad line in [default] refuses every stanza, as fwknop reads [default] for each.
    let (all, _) = stanzas("[default]\nFROB 1\n[a]\nSPA_SERVER h\nACCESS tcp/22\n", None);
    assert!(all[0].result.as_ref().is_err_and(|e| e.line == Some(2)));
    // Lines before the first stanza are never read, but noted.
    let (_, notes) = stanzas("junk here\n[a]\nSPA_SERVER h\nACCESS tcp/22\n", None);
    assert_eq!(notes[0].line, Some(1));
}

#[test]
fn every_mappable_variable_lands_in_its_field() {
    let (p, s) = ok(&format!(
        "[a]\nSPA_SERVER h.example.org\nSPA_SERVER_PORT 40001\nSPA_SERVER_PROTO udp\nACCESS tcp/22,udp/53\n\
         ALLOW_IP source\nSPOOF_USER bob\nDIGEST_TYPE sha512\nHMAC_DIGEST_TYPE sha384\nFW_TIMEOUT 45\n\
         TIME_OFFSET -2M\nENCRYPTION_MODE cbc\nSERVER_RESOLVE_IPV4 Y\nUSE_HMAC Y\nVERBOSE Y\nNO_SAVE_ARGS Y\n\
         USE_GPG N\nRAND_PORT N\nNAT_LOCAL N\nNAT_RAND_PORT N\nKEY_BASE64 {KEY}\nHMAC_KEY_BASE64 {HMAC}\n"
    ));
    let settings = spa(&p);
    assert_eq!(settings.port.get(), 40001);
    assert_eq!(settings.access.to_string(), "tcp/22,udp/53");
    assert_eq!(settings.allow_ip, AllowIp::Source);
    assert_eq!(settings.user.as_deref(), Some("bob"));
    assert_eq!((settings.digest, settings.hmac), (DigestType::Sha512, HmacType::Sha384));
    assert_eq!(settings.client_timeout_s, Some(45));
    assert_eq!(settings.time_offset_s, -120);
    assert_eq!(p.profile.family, AddressFamily::V4);
    assert!(s.warnings.is_empty(), "{:?}", s.warnings);
    assert_eq!(s.mapped.len(), 21, "every line is accounted for: {:?}", s.mapped);
    let text = format!("{:?}{:?}", s.mapped, p.profile);
    assert!(!text.contains("CNmiX") && !text.contains("p1TvX"), "no key material: {text}");
}

#[test]
fn time_offsets_read_as_fwknop_reads_them() {
    for (text, seconds) in [("-1M", -60), ("+1H", 3600), ("-1D", -86_400), ("30", 30), ("2h", 7200), ("-0", 0)] {
        assert_eq!(time_offset(text), Some(seconds), "{text}");
    }
    assert_eq!(time_offset("M"), None);
    assert_eq!(time_offset("99999"), None);
}

#[test]
fn gpg_nat_spoofing_and_other_transports_are_refused_by_name() {
    for (line, name) in [
        ("USE_GPG Y", "USE_GPG"),
        ("GPG_RECIPIENT 0xABCD", "GPG_RECIPIENT"),
        ("GPG_SIGNER 0xABCD", "GPG_SIGNER"),
        ("USE_GPG_AGENT Y", "USE_GPG_AGENT"),
        ("NAT_ACCESS 192.0.2.5,22", "NAT_ACCESS"),
        ("NAT_LOCAL Y", "NAT_LOCAL"),
        ("NAT_RAND_PORT Y", "NAT_RAND_PORT"),
        ("NAT_PORT 2222", "NAT_PORT"),
        ("SPOOF_SOURCE_IP 192.0.2.77", "SPOOF_SOURCE_IP"),
        ("SPA_SERVER_PROTO tcp", "SPA_SERVER_PROTO"),
        ("SPA_SERVER_PROTO icmp", "SPA_SERVER_PROTO"),
        ("ENCRYPTION_MODE ecb", "ENCRYPTION_MODE"),
        ("DIGEST_TYPE sha3_256", "DIGEST_TYPE"),
        ("ALLOW_IP 300.1.1.1", "ALLOW_IP"),
        ("SPA_SERVER_PORT 0", "SPA_SERVER_PORT"),
    ] {
        let e = refused(&format!("[a]\nSPA_SERVER h\nACCESS tcp/22\n{line}\n"));
        assert_eq!(e.line, Some(4), "{line}: {e}");
        assert!(e.message.starts_with(name), "{line}: {e}");
    }
    assert!(
        refused("[a]\nSPA_SERVER h\nACCESS tcp/22\nUSE_GPG Y\nGPG_SIGNING_PW hunter2\n").message.starts_with("USE_GPG")
    );
}

/// Issue 23, item 17: fwknop 2.6.10's client reads GPG_SIGNING_PW into the Rijndael key (as KEY) and
/// GPG_SIGNING_PW_BASE64 into the base64 one (as KEY_BASE64); without USE_GPG that is the key it uses.
#[test]
fn gpg_signing_pw_without_use_gpg_is_the_rijndael_key_as_fwknop_reads_it() {
    let (p, s) =
        ok(&format!("[a]\nSPA_SERVER h\nACCESS tcp/22\nGPG_SIGNING_PW_BASE64 {KEY}\nHMAC_KEY_BASE64 {HMAC}\n"));
    let keys = p.keys.expect("keys");
    assert_eq!(keys.key.as_bytes(), SpaKey::from_base64(KEY).expect("key").as_bytes());
    let mapped = s.mapped.iter().find(|m| m.line == Some(4)).expect("line 4 mapped");
    assert!(mapped.to.contains("Rijndael"), "{mapped:?}");
    let (p, _) = ok("[a]\nSPA_SERVER h\nACCESS tcp/22\nUSE_GPG N\nGPG_SIGNING_PW passphrase1\nHMAC_KEY otherpass\n");
    assert_eq!(p.keys.expect("keys").key.as_bytes(), b"passphrase1");
    // Two sources of the one key: refused at the later line, naming the earlier, never quoting a key.
    let e = refused(&format!("[a]\nSPA_SERVER h\nACCESS tcp/22\nKEY_BASE64 {KEY}\nGPG_SIGNING_PW x\nHMAC_KEY y\n"));
    assert_eq!(e.line, Some(5), "{e}");
    assert!(e.message.starts_with("GPG_SIGNING_PW (value hidden)") && e.message.contains("KEY_BASE64 (line 4)"), "{e}");
    assert!(!e.message.contains(KEY), "{e}");
}

/// Issue 23, item 17: RESOLVE_HTTP_ONLY is ignored (with a warning), as RESOLVE_URL is, where ALLOW_IP
/// means no lookup happens; refused only where a lookup would go over plain HTTP.
#[test]
fn resolve_http_only_is_ignored_where_no_lookup_happens() {
    for allow in ["ALLOW_IP 192.0.2.3\n", "ALLOW_IP source\n", ""] {
        let (_, s) = ok(&format!("[a]\nSPA_SERVER h\nACCESS tcp/22\n{allow}RESOLVE_HTTP_ONLY Y\n"));
        let line = if allow.is_empty() { 4 } else { 5 };
        assert!(
            s.warnings.iter().any(|w| w.line == Some(line)
                && w.message.starts_with("RESOLVE_HTTP_ONLY")
                && w.message.contains("ignored")),
            "{allow:?}: {:?}",
            s.warnings
        );
    }
    for lookup in ["ALLOW_IP resolve\n", "RESOLVE_IP_HTTPS Y\n", "RESOLVE_URL https://ip.example.org/\n"] {
        let e = refused(&format!("[a]\nSPA_SERVER h\nACCESS tcp/22\n{lookup}RESOLVE_HTTP_ONLY Y\n"));
        assert!(e.message.starts_with("RESOLVE_HTTP_ONLY") && e.message.contains("plain-HTTP"), "{lookup:?}: {e}");
    }
}

#[test]
fn what_cannot_be_carried_is_warned_by_name_and_line() {
    let (p, s) =
        ok("[a]\nSPA_SERVER h\nACCESS tcp/22\nRAND_PORT Y\nSPA_SOURCE_PORT 5000\nGPG_HOMEDIR /x\nKEY_FILE /k\n\
         HTTP_USER_AGENT x\nWGET_CMD /usr/bin/wget\nUSE_WGET_USER_AGENT Y\n");
    let warned: Vec<(Option<usize>, String)> =
        s.warnings.iter().map(|w| (w.line, w.message.split(' ').next().unwrap_or_default().to_owned())).collect();
    for (line, name) in [
        (4, "RAND_PORT"),
        (5, "SPA_SOURCE_PORT"),
        (6, "GPG_HOMEDIR"),
        (7, "KEY_FILE"),
        (8, "HTTP_USER_AGENT"),
        (9, "WGET_CMD"),
        (10, "USE_WGET_USER_AGENT"),
    ] {
        assert!(warned.contains(&(Some(line), name.to_owned())), "{name}: {warned:?}");
    }
    assert!(warned.iter().any(|(_, n)| n == "[a]"), "no ALLOW_IP and no keys are warned: {warned:?}");
    assert_eq!(spa(&p).allow_ip, AllowIp::Local);
    assert!(p.keys.is_none());
}

#[test]
fn allow_ip_resolve_becomes_https_discovery() {
    let (p, s) = ok("[a]\nSPA_SERVER h\nACCESS tcp/22\nALLOW_IP resolve\n");
    assert_eq!((spa(&p).allow_ip, spa(&p).discover_url.as_deref()), (AllowIp::Discover, Some(FWKNOP_RESOLVE_URL)));
    assert!(s.warnings.iter().any(|w| w.message.contains("cipherdyne")), "{:?}", s.warnings);
    let (p, _) = ok("[a]\nSPA_SERVER h\nACCESS tcp/22\nRESOLVE_URL https://ip.example.org/\n");
    assert_eq!(spa(&p).discover_url.as_deref(), Some("https://ip.example.org/"), "RESOLVE_URL alone resolves");
    let e = refused("[a]\nSPA_SERVER h\nACCESS tcp/22\nALLOW_IP resolve\nRESOLVE_URL http://ip.example.org/\n");
    assert_eq!(e.line, Some(5));
    let (p, s) = ok("[a]\nSPA_SERVER h\nACCESS tcp/22\nALLOW_IP 192.0.2.3\nRESOLVE_IP_HTTPS Y\n");
    assert_eq!(spa(&p).allow_ip, AllowIp::Address("192.0.2.3".parse().expect("ip")), "an address wins");
    assert!(s.warnings.iter().any(|w| w.line == Some(5)), "{:?}", s.warnings);
}

#[test]
fn keys_both_or_none_never_dropped_silently() {
    let e = refused(&format!("[a]\nSPA_SERVER h\nACCESS tcp/22\nKEY_BASE64 {KEY}\n"));
    assert!(e.message.contains("without an HMAC key") && e.message.contains("HMAC_KEY_BASE64"), "{e}");
    let e = refused(&format!("[a]\nSPA_SERVER h\nACCESS tcp/22\nKEY_BASE64 {KEY}\nHMAC_KEY_BASE64 {KEY}\n"));
    assert_eq!(e.line, Some(5));
    assert!(e.message.contains("fwknop refuses") && !e.message.contains(KEY), "{e}");
    let (p, _) = ok("[a]\nSPA_SERVER h\nACCESS tcp/22\nKEY passphrase1\nHMAC_KEY otherpassphrase\n");
    let keys = p.keys.expect("raw keys");
    assert_eq!(keys.key.as_bytes(), b"passphrase1");
    let (p, s) = ok(&format!("[a]\nSPA_SERVER h\nACCESS tcp/22\nHMAC_KEY_BASE64 {HMAC}\n"));
    assert!(p.keys.is_none() && s.warnings.iter().any(|w| w.message.contains("set-key")), "{:?}", s.warnings);
    let e = refused("[a]\nSPA_SERVER h\nACCESS tcp/22\nKEY_BASE64 ***\nHMAC_KEY x\n");
    assert!(e.message.starts_with("KEY_BASE64 (value hidden)") && !e.message.contains("***"), "{e}");
}

/// Passes once `client_core::spa::HmacType` has SHA3 (branch `spa`); until then the stanza is refused
/// by name, never imported as another type.
#[test]
fn sha3_hmac_types_map_when_the_codec_has_them() {
    for name in ["sha3_256", "sha3_512"] {
        let text = format!("[a]\nSPA_SERVER h\nACCESS tcp/22\nHMAC_DIGEST_TYPE {name}\n");
        match name.parse::<HmacType>() {
            Ok(hmac) => assert_eq!(spa(&ok(&text).0).hmac, hmac),
            Err(_) => assert!(refused(&text).message.starts_with("HMAC_DIGEST_TYPE"), "{name}"),
        }
    }
}

#[test]
fn fw_timeout_zero_keeps_the_servers_timeout_as_fwknop_does() {
    let (p, s) = ok("[a]\nSPA_SERVER h\nACCESS tcp/22\nFW_TIMEOUT 0\n");
    assert_eq!(spa(&p).client_timeout_s, None);
    assert!(s.mapped.iter().any(|m| m.from == "FW_TIMEOUT" && m.to.contains("server's timeout")), "{:?}", s.mapped);
    assert_eq!(refused("[a]\nSPA_SERVER h\nACCESS tcp/22\nFW_TIMEOUT 65536\n").line, Some(4));
}

#[test]
fn a_pasted_key_on_a_line_of_its_own_is_never_quoted() {
    let e = refused(&format!("[a]\nSPA_SERVER h\nACCESS tcp/22\n{KEY}\n"));
    assert!(e.line == Some(4) && !e.message.contains("CNmiX"), "{e}");
    let e = refused(&format!("[a]\nSPA_SERVER h\nACCESS tcp/22\n{KEY} x\n"));
    assert!(e.line == Some(4) && !e.message.contains("CNmiX"), "{e}");
    let e = refused("[a]\nSPA_SERVER h\nACCESS tcp/22\nKEY_BASE64:abc\n");
    assert!(e.line == Some(4) && !e.message.contains("abc"), "{e}");
}

#[test]
fn every_line_is_accounted_for_including_overridden_defaults() {
    let text = format!(
        "[default]\nSPA_SERVER_PORT 40000\nUSE_GPG_AGENT N\nRESOLVE_IP_HTTP N\nRESOLVE_IP_HTTPS N\nRESOLVE_HTTP_ONLY N\n\
         USE_WGET_USER_AGENT N\n[a]\nSPA_SERVER h\nSPA_SERVER_PORT 40001\nACCESS tcp/22\nALLOW_IP 192.0.2.1\n\
         KEY_BASE64 {KEY}\nHMAC_KEY_BASE64 {HMAC}\n"
    );
    let (_, s) = ok(&text);
    for line in (2..=7).chain(9..=14) {
        let covered = s.mapped.iter().any(|m| m.line == Some(line)) || s.warnings.iter().any(|w| w.line == Some(line));
        assert!(covered, "line {line}: {:?} {:?}", s.mapped, s.warnings);
    }
    assert!(s.mapped.iter().any(|m| m.line == Some(2) && m.to == "overridden by line 10"), "{:?}", s.mapped);
}
