//! End to end: a fwknoprc whose settings all live in `[default]` (what fwknop uses when no -n is given)
//! is imported by `knock-cli profile import`, and the profile opens a real fwknopd 2.6.10 in the lab.
//! Also: `--dry-run --json` of that file writes nothing, and a bad `--host` writes nothing and exits 2.
#![cfg(target_os = "linux")] // the namespace lab is Linux-only (see knock_e2e's crate docs)

use std::fs;
use std::net::SocketAddr;
use std::process::Command;
use std::time::Duration;

use knock_e2e::bins::knock_cli_path;
use knock_e2e::text;
use knock_e2e::{Fwknopd, Lab, lab_or_skip};

const GATED: u16 = 2222;

/// fwknopd gating the lab's port with these keys and HMAC type (fwknop's name).
fn start_fwknopd(lab: &Lab, key: &str, hmac: &str, hmac_type: &str) -> Fwknopd {
    let access = format!(
        "SOURCE 192.0.2.0/24\nREQUIRE_SOURCE_ADDRESS Y\nOPEN_PORTS tcp/{GATED}\nKEY_BASE64 {key}\n\
         HMAC_KEY_BASE64 {hmac}\nHMAC_DIGEST_TYPE {hmac_type}\nDIGEST_TYPE sha384\nFW_ACCESS_TIMEOUT 30\n"
    );
    lab.start_fwknopd(&access).expect("fwknopd starts")
}

fn cli(lab: &Lab, args: &[&str]) -> Command {
    let mut cmd = lab.client_cmd(knock_cli_path());
    cmd.arg("--profiles-dir").arg(lab.dir().join("profiles")).args(args);
    cmd.env_remove("DBUS_SESSION_BUS_ADDRESS")
        .env_remove("KNOCK_SPA_KEY_BASE64")
        .env_remove("KNOCK_SPA_HMAC_KEY_BASE64");
    cmd
}

fn keygen(lab: &Lab) -> (String, String) {
    let out = cli(lab, &["spa", "keygen"]).output().expect("keygen");
    let text = String::from_utf8_lossy(&out.stdout).into_owned();
    let value = |prefix: &str| text.lines().find_map(|l| l.strip_prefix(prefix)).map(|v| v.trim().to_owned());
    (value("KEY_BASE64: ").expect("key"), value("HMAC_KEY_BASE64: ").expect("hmac"))
}

#[test]
fn a_fwknoprc_with_its_settings_in_default_imports_and_opens_a_real_fwknopd() {
    let lab = lab_or_skip!();
    lab.server_gate_tcp_port(GATED).expect("gate");
    let _service = lab.server_tcp_listener_any(GATED).expect("listener");
    let (key, hmac) = keygen(&lab);
    let fwknopd = start_fwknopd(&lab, &key, &hmac, "sha512");
    let rc = lab.dir().join("fwknoprc");
    fs::write(
        &rc,
        format!(
            "# everything in [default]: fwknop uses it when run without -n\r\n[default]\r\nSPA_SERVER: {}\r\n\
             ACCESS: tcp/{GATED}\r\nALLOW_IP: {}\r\nDIGEST_TYPE: sha384\r\nHMAC_DIGEST_TYPE: sha512\r\n\
             KEY_BASE64: {key}\r\nHMAC_KEY_BASE64: {hmac}\r\nUSE_HMAC: Y\r\n",
            lab.server_v4(),
            lab.client_v4()
        ),
    )
    .expect("fwknoprc");
    let rc_arg = rc.display().to_string();

    // A hostile --host writes nothing and exits 2.
    let out = cli(&lab, &["profile", "import", &rc_arg, "--host=-oProxyCommand=id"]).output().expect("import");
    assert_eq!(out.status.code(), Some(2), "{}", text(&out));
    assert!(!lab.dir().join("profiles/default.toml").exists());

    // --dry-run --json shows what would be created and mapped, and writes nothing.
    let out = cli(&lab, &["profile", "import", &rc_arg, "--dry-run", "--json"]).output().expect("dry run");
    assert_eq!(out.status.code(), Some(0), "{}", text(&out));
    let json: serde_json::Value = serde_json::from_slice(&out.stdout).expect("JSON");
    assert_eq!(json["entries"][0]["status"], "would_create", "{json:#}");
    assert_eq!(json["entries"][0]["name"], "default", "{json:#}");
    assert_eq!(json["entries"][0]["keys"], "keyring", "{json:#}");
    let mapped: Vec<&str> =
        json["entries"][0]["mapped"].as_array().into_iter().flatten().filter_map(|m| m["from"].as_str()).collect();
    for var in ["SPA_SERVER", "ACCESS", "ALLOW_IP", "DIGEST_TYPE", "HMAC_DIGEST_TYPE", "KEY_BASE64", "HMAC_KEY_BASE64"]
    {
        assert!(mapped.contains(&var), "{var} mapped: {mapped:?}");
    }
    assert!(!String::from_utf8_lossy(&out.stdout).contains(&key), "no key in the report");
    assert!(!lab.dir().join("profiles/default.toml").exists(), "a dry run writes nothing");

    // The real import (no keyring here: the keys are then given in the environment) and the knock.
    let out = cli(&lab, &["profile", "import", &rc_arg]).output().expect("import");
    assert_eq!(out.status.code(), Some(0), "{}", text(&out));
    assert!(
        String::from_utf8_lossy(&out.stdout).contains("added SPA profile default from [default]"),
        "{}",
        text(&out)
    );
    let out = cli(&lab, &["profile", "edit", "default", "--verify-port", &GATED.to_string()]).output().expect("edit");
    assert_eq!(out.status.code(), Some(0), "{}", text(&out));
    let out = cli(&lab, &["open", "default", "--json"])
        .env("KNOCK_SPA_KEY_BASE64_DEFAULT", &key)
        .env("KNOCK_SPA_HMAC_KEY_BASE64_DEFAULT", &hmac)
        .output()
        .expect("open");
    assert_eq!(out.status.code(), Some(0), "{}\n{}", text(&out), fwknopd.log());
    let json: serde_json::Value = serde_json::from_slice(&out.stdout).expect("JSON");
    assert_eq!(json["profiles"][0]["outcome"], "opened", "{json:#}");
    assert!(
        lab.client_connect(SocketAddr::new(lab.server_v4().into(), GATED), Duration::from_millis(500)).is_ok(),
        "the gated port answers"
    );
    assert!(fwknopd.log().contains("Added access rule"), "fwknopd opened it:\n{}", fwknopd.log());
    let profile = fs::read_to_string(lab.dir().join("profiles/default.toml")).expect("profile");
    assert!(!profile.contains(&key) && !profile.contains(&hmac), "keys never in the file: {profile}");
}

/// Runs once `client_core::spa::HmacType` has SHA3 (branch `spa`): a stanza with `HMAC_DIGEST_TYPE
/// sha3_256` imports and opens a real fwknopd configured the same. Until then the import refuses it by
/// name (checked here too), so nothing is imported under another HMAC type.
#[test]
fn a_fwknoprc_with_a_sha3_hmac_imports_and_opens_a_real_fwknopd() {
    let lab = lab_or_skip!();
    let (key, hmac) = keygen(&lab);
    let rc = lab.dir().join("fwknoprc");
    fs::write(
        &rc,
        format!(
            "[sha3]\nSPA_SERVER {}\nACCESS tcp/{GATED}\nALLOW_IP {}\nDIGEST_TYPE sha384\nHMAC_DIGEST_TYPE sha3_256\n\
             KEY_BASE64 {key}\nHMAC_KEY_BASE64 {hmac}\n",
            lab.server_v4(),
            lab.client_v4()
        ),
    )
    .expect("fwknoprc");
    let rc_arg = rc.display().to_string();
    if "sha3_256".parse::<client_core::spa::HmacType>().is_err() {
        let out = cli(&lab, &["profile", "import", &rc_arg, "--json"]).output().expect("import");
        assert_eq!(out.status.code(), Some(2), "{}", text(&out));
        let json: serde_json::Value = serde_json::from_slice(&out.stdout).expect("JSON");
        assert!(
            json["entries"][0]["skipped"]["message"].as_str().is_some_and(|m| m.starts_with("HMAC_DIGEST_TYPE")),
            "{json:#}"
        );
        eprintln!("NOT YET: the SPA codec has no sha3 HMAC; the stanza is refused by name until it does");
        return;
    }
    lab.server_gate_tcp_port(GATED).expect("gate");
    let _service = lab.server_tcp_listener_any(GATED).expect("listener");
    let fwknopd = start_fwknopd(&lab, &key, &hmac, "sha3_256");
    let out = cli(&lab, &["profile", "import", &rc_arg]).output().expect("import");
    assert_eq!(out.status.code(), Some(0), "{}", text(&out));
    let out = cli(&lab, &["profile", "edit", "sha3", "--verify-port", &GATED.to_string()]).output().expect("edit");
    assert_eq!(out.status.code(), Some(0), "{}", text(&out));
    let out = cli(&lab, &["open", "sha3", "--json"])
        .env("KNOCK_SPA_KEY_BASE64_SHA3", &key)
        .env("KNOCK_SPA_HMAC_KEY_BASE64_SHA3", &hmac)
        .output()
        .expect("open");
    assert_eq!(out.status.code(), Some(0), "{}\n{}", text(&out), fwknopd.log());
}
