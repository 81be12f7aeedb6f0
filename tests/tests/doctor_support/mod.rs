//! What the `doctor*` lab tests share: running `knock-cli doctor --json`, finding a check, a real fwknopd
//! with fresh keys. (A directory module, so cargo does not build it as a test of its own.)
#![allow(dead_code)] // each test file uses its own part of it

use std::process::Output;

use knock_e2e::bins::knock_cli_path;
use knock_e2e::door_lab::text;
use knock_e2e::{Fwknopd, Lab};
use serde_json::Value;

/// The port the lab's doors gate.
pub const GATED: u16 = 2222;

pub fn json_of(out: &Output) -> Value {
    serde_json::from_slice(&out.stdout).unwrap_or_else(|e| panic!("stdout is one JSON document ({e}): {}", text(out)))
}

/// `profile add NAME --host HOST --open OPEN --verify-port 2222 EXTRA...`, which must succeed.
pub fn add(lab: &Lab, name: &str, host: &str, open: &str, extra: &[&str]) {
    let mut args = vec!["profile", "add", name, "--host", host, "--open", open, "--verify-port", "2222"];
    args.extend_from_slice(extra);
    let out = lab.knock_cli(&args);
    assert_eq!(out.status.code(), Some(0), "{}", text(&out));
}

/// Runs doctor, checks the exit code and conclusion, and returns the document.
pub fn doctor(lab: &Lab, name: &str, code: i32, conclusion: &str) -> Value {
    let out = lab.knock_cli(&["doctor", name, "--json"]);
    let json = json_of(&out);
    assert_eq!(json["conclusion"], conclusion, "{json:#}\n{}", text(&out));
    assert_eq!(out.status.code(), Some(code), "{json:#}");
    assert_eq!(json["exit_code"], code, "{json:#}");
    assert_eq!(json["profile"], name, "{json:#}");
    json
}

/// The first check named `name`.
pub fn check<'a>(json: &'a Value, name: &str) -> &'a Value {
    json["checks"]
        .as_array()
        .and_then(|checks| checks.iter().find(|c| c["name"] == name))
        .unwrap_or_else(|| panic!("no {name} check: {json:#}"))
}

pub fn assert_check(json: &Value, name: &str, status: &str, detail: &str, advice: &str) {
    let c = check(json, name);
    assert_eq!(c["status"], status, "{name}: {json:#}");
    assert!(c["detail"].as_str().is_some_and(|d| d.contains(detail)), "{name} detail lacks {detail:?}: {json:#}");
    assert!(c["advice"].as_str().is_some_and(|a| a.contains(advice)), "{name} advice lacks {advice:?}: {json:#}");
}

/// A real fwknopd gating port 2222 (`FW_ACCESS_TIMEOUT`, any source address) with fresh keys, and the keys.
pub fn start_fwknopd(lab: &Lab) -> (Fwknopd, String, String) {
    start_fwknopd_opening(lab, &format!("tcp/{GATED}"))
}

/// [`start_fwknopd`] letting a packet ask for `open_ports` (access.conf's `OPEN_PORTS`).
pub fn start_fwknopd_opening(lab: &Lab, open_ports: &str) -> (Fwknopd, String, String) {
    let out = lab.run_client(knock_cli_path(), ["spa", "keygen"]).expect("keygen runs");
    let keys = String::from_utf8_lossy(&out.stdout).into_owned();
    let value = |prefix: &str| keys.lines().find_map(|l| l.strip_prefix(prefix)).map(|v| v.trim().to_owned());
    let (key, hmac) = (value("KEY_BASE64: ").expect("key"), value("HMAC_KEY_BASE64: ").expect("hmac"));
    let access = format!(
        "SOURCE ANY\nREQUIRE_SOURCE_ADDRESS N\nOPEN_PORTS {open_ports}\nKEY_BASE64 {key}\nHMAC_KEY_BASE64 {hmac}\n\
         HMAC_DIGEST_TYPE sha256\nFW_ACCESS_TIMEOUT 30\n"
    );
    (lab.start_fwknopd(&access).expect("fwknopd starts"), key, hmac)
}

/// `doctor fw --json` with the SPA keys of profile `fw` in the environment, and `env` set.
pub fn doctor_spa(lab: &Lab, key: &str, hmac: &str, env: &[(&str, &str)]) -> (Output, Value) {
    let mut cmd = lab.client_cmd(knock_cli_path());
    cmd.env_remove("DBUS_SESSION_BUS_ADDRESS")
        .env("KNOCK_SPA_KEY_BASE64_FW", key)
        .env("KNOCK_SPA_HMAC_KEY_BASE64_FW", hmac)
        .args(["--profiles-dir", &lab.dir().join("profiles").display().to_string(), "doctor", "fw", "--json"]);
    for (name, value) in env {
        cmd.env(name, value);
    }
    let out = cmd.output().expect("knock-cli runs");
    let json = json_of(&out);
    (out, json)
}

/// Lifts the server namespace's ICMP rate limit (a peer gets about 6 unreachables at once, then one per
/// second), so a test running doctor several times sees every port unreachable the server would send.
pub fn no_icmp_rate_limit(lab: &Lab) {
    for setting in ["net.ipv4.icmp_ratelimit=0", "net.ipv6.icmp.ratelimit=0"] {
        let out = lab.run_server("sysctl", ["-q", "-w", setting]).expect("sysctl runs");
        assert!(out.status.success(), "{setting}: {}", text(&out));
    }
}
