//! SPA profiles against a real fwknopd 2.6.10 (Debian's fwknop-server) in the namespace lab: `knock-cli
//! open` opens a port that fwknopd unblocks (with a CMD_CYCLE_OPEN command, and with fwknopd's own
//! iptables rules), twice in a row, keys from the environment; a wrong HMAC key does not open and exits 3;
//! the real `fwknop` client's packet decodes with our decoder; the SHA3-256 and SHA3-512 HMAC types open a
//! fwknopd configured with them (and a SHA-256 HMAC does not).
#![cfg(target_os = "linux")] // the namespace lab is Linux-only (see knock_e2e's crate docs)

use std::fs;
use std::net::SocketAddr;
use std::path::Path;
use std::process::Output;
use std::time::Duration;

use client_core::spa::{DigestType, HmacKey, HmacType, SpaKey, decode};
use knock_e2e::bins::knock_cli_path;
use knock_e2e::fwknopd::SpaKeys as Keys;
use knock_e2e::keyring_session::in_keyring_session;
use knock_e2e::text;
use knock_e2e::{Fwknopd, Lab, lab_or_skip, wait_until};

const GATED: u16 = 2222;

/// fwknopd gating the lab's port with `keys`, HMAC type `hmac` (fwknop's name: sha256, sha3_256, ...) and
/// `action` (`FW_ACCESS_TIMEOUT 30`, a CMD_CYCLE, ...).
fn start_fwknopd(lab: &Lab, keys: &Keys, action: &str, hmac: &str) -> Fwknopd {
    let access = format!(
        "SOURCE 192.0.2.0/24\nREQUIRE_SOURCE_ADDRESS Y\nOPEN_PORTS tcp/{GATED}\nKEY_BASE64 {}\n\
         HMAC_KEY_BASE64 {}\nHMAC_DIGEST_TYPE {hmac}\n{action}\n",
        keys.key, keys.hmac
    );
    lab.start_fwknopd(&access).expect("fwknopd starts")
}

/// The port gated by iptables with a listener behind it, fresh keys, and fwknopd using them with `action`.
fn gated_fwknopd(lab: &Lab, action: &str) -> (Keys, Fwknopd, knock_e2e::TcpService) {
    lab.server_gate_tcp_port(GATED).expect("gate");
    let service = lab.server_tcp_listener_any(GATED).expect("listener");
    let keys = lab.spa_keygen();
    let fwknopd = start_fwknopd(lab, &keys, action, "sha256");
    (keys, fwknopd, service)
}

fn cli(lab: &Lab, keys: Option<&Keys>, args: &[&str]) -> Output {
    let mut cmd = lab.client_cmd(knock_cli_path());
    cmd.arg("--profiles-dir").arg(lab.dir().join("profiles")).args(args);
    cmd.env_remove("KNOCK_SPA_KEY_BASE64").env_remove("KNOCK_SPA_HMAC_KEY_BASE64");
    // No keyring service is reachable: keys come from the environment only.
    cmd.env_remove("DBUS_SESSION_BUS_ADDRESS");
    if let Some(keys) = keys {
        cmd.env("KNOCK_SPA_KEY_BASE64_FW", &keys.key).env("KNOCK_SPA_HMAC_KEY_BASE64_FW", &keys.hmac);
    }
    cmd.output().expect("knock-cli runs")
}

fn add_spa_profile(lab: &Lab, extra: &[&str]) {
    let server = lab.server_v4().to_string();
    let mut args =
        vec!["profile", "add", "fw", "--spa", "--host", &server, "--access", "tcp/2222", "--verify-port", "2222"];
    args.extend_from_slice(extra);
    let out = cli(lab, None, &args);
    assert_eq!(out.status.code(), Some(0), "{}", text(&out));
}

fn reachable(lab: &Lab) -> bool {
    lab.client_connect(SocketAddr::new(lab.server_v4().into(), GATED), Duration::from_millis(500)).is_ok()
}

fn opens_twice(lab: &Lab, fwknopd: &Fwknopd, keys: &Keys, opened_line: &str) {
    assert!(!reachable(lab), "the gate is closed before the SPA packet");
    for round in 1..=2 {
        // --force: the second round meets the open door, and must still send a fresh packet.
        let out = cli(lab, Some(keys), &["open", "fw", "--json", "--force"]);
        assert_eq!(out.status.code(), Some(0), "open #{round}: {}\n{}", text(&out), fwknopd.log());
        let json: serde_json::Value = serde_json::from_slice(&out.stdout).expect("one JSON document");
        assert_eq!(json["profiles"][0]["outcome"], "opened", "{json:#}");
        assert!(reachable(lab));
    }
    // The second open verifies at once (the port is still open), so fwknopd may log a moment later.
    // A successful decode is fwknopd accepting the packet (a second request for an existing rule may
    // not add another one).
    let both = wait_until(Duration::from_secs(5), || fwknopd.log().matches("SPA Decode (res=0)").count() >= 2);
    let log = fwknopd.log();
    assert!(both, "fwknopd accepted both packets:\n{log}");
    assert!(log.contains(opened_line), "fwknopd opened the port ({opened_line}):\n{log}");
    assert!(!log.contains("Replay detected"), "every attempt is a fresh packet:\n{log}");
}

#[test]
fn spa_opens_a_cmd_cycle_door_of_a_real_fwknopd_twice_in_a_row() {
    let lab = lab_or_skip!();
    let action = format!(
        "CMD_CYCLE_OPEN /usr/sbin/iptables -w 5 -I INPUT -s $IP -p tcp --dport {GATED} -j ACCEPT\n\
         CMD_CYCLE_CLOSE /usr/sbin/iptables -w 5 -D INPUT -s $IP -p tcp --dport {GATED} -j ACCEPT\nCMD_CYCLE_TIMER 60"
    );
    let (keys, fwknopd, _service) = gated_fwknopd(&lab, &action);
    add_spa_profile(&lab, &[]);
    opens_twice(&lab, &fwknopd, &keys, "Running CMD_CYCLE_OPEN command");
}

#[test]
fn spa_opens_with_fwknopds_own_iptables_rules() {
    let lab = lab_or_skip!();
    let (keys, fwknopd, _service) = gated_fwknopd(&lab, "FW_ACCESS_TIMEOUT 30");
    add_spa_profile(&lab, &[]);
    opens_twice(&lab, &fwknopd, &keys, "Added access rule to FWKNOP_INPUT");
}

#[test]
fn a_wrong_hmac_key_does_not_open_and_exits_3() {
    let lab = lab_or_skip!();
    let (keys, fwknopd, _service) = gated_fwknopd(&lab, "FW_ACCESS_TIMEOUT 30");
    add_spa_profile(&lab, &["--verify-timeout", "700", "--attempts", "1"]);
    let wrong = Keys { key: keys.key.clone(), hmac: lab.spa_keygen().hmac };
    let out = cli(&lab, Some(&wrong), &["open", "fw"]);
    assert_eq!(out.status.code(), Some(3), "{}", text(&out));
    assert!(
        fwknopd.wait_for("HMAC_COMPAREFAIL", Duration::from_secs(5)),
        "fwknopd rejected it for its HMAC:\n{}",
        fwknopd.log()
    );
    assert!(!reachable(&lab));
    // No keys at all: invalid input, naming the variables to set.
    let out = cli(&lab, None, &["open", "fw"]);
    assert_eq!(out.status.code(), Some(2), "{}", text(&out));
    assert!(String::from_utf8_lossy(&out.stderr).contains("KNOCK_SPA_KEY_BASE64_FW"), "{}", text(&out));
}

/// A packet built by the real `fwknop` client (saved with `-B`) for an ALLOW_IP of 192.0.2.1, user spauser,
/// `tcp/22`, SHA-256 digest and the given HMAC type.
fn real_client_packet(lab: &Lab, keys: &Keys, hmac: &str) -> String {
    let home = lab.dir().join(format!("home-{hmac}"));
    fs::create_dir_all(&home).expect("home");
    let rc = home.join("fwknoprc");
    fs::write(
        &rc,
        format!(
            "[lab]\nSPA_SERVER {}\nSPA_SERVER_PORT 62201\nSPA_SERVER_PROTO udp\nACCESS tcp/22\nALLOW_IP 192.0.2.1\n\
             SPOOF_USER spauser\nKEY_BASE64 {}\nHMAC_KEY_BASE64 {}\nUSE_HMAC Y\nHMAC_DIGEST_TYPE {hmac}\n\
             DIGEST_TYPE sha256\n",
            lab.server_v4(),
            keys.key,
            keys.hmac
        ),
    )
    .expect("fwknoprc");
    let packet = home.join("packet.txt");
    let out = lab
        .client_cmd("fwknop")
        .env("HOME", &home)
        .arg("--rc-file")
        .arg(&rc)
        .args(["-n", "lab", "--no-save-args", "-B"])
        .arg(&packet)
        .output()
        .expect("fwknop runs");
    assert!(out.status.success(), "{}", text(&out));
    assert!(Path::new(&packet).exists());
    fs::read_to_string(&packet).expect("saved packet").trim().to_owned()
}

fn assert_decodes_as_the_lab_request(wire: &str, keys: &Keys, hmac: HmacType) {
    let decoded = decode(
        wire,
        &SpaKey::from_base64(&keys.key).expect("key"),
        &HmacKey::from_base64(&keys.hmac).expect("hmac key"),
        hmac,
        DigestType::Sha256,
    )
    .expect("our decoder accepts the real client's packet");
    assert_eq!(decoded.user, "spauser");
    assert_eq!(decoded.message, "192.0.2.1,tcp/22");
    assert_eq!(decoded.version, "3.0.0");
    let now = std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).expect("clock").as_secs();
    assert!(decoded.timestamp.abs_diff(now) < 60, "timestamp {} vs now {now}", decoded.timestamp);
}

#[test]
fn the_real_fwknop_clients_packet_decodes_with_our_decoder() {
    let lab = lab_or_skip!();
    let keys = lab.spa_keygen();
    let wire = real_client_packet(&lab, &keys, "sha256");
    assert_decodes_as_the_lab_request(&wire, &keys, HmacType::Sha256);
}

#[test]
fn the_real_fwknop_clients_sha3_packets_decode_with_our_decoder() {
    let lab = lab_or_skip!();
    let keys = lab.spa_keygen();
    for hmac in [HmacType::Sha3_256, HmacType::Sha3_512] {
        let wire = real_client_packet(&lab, &keys, hmac.as_str());
        assert_decodes_as_the_lab_request(&wire, &keys, hmac);
        let sha2 = if hmac == HmacType::Sha3_256 { HmacType::Sha256 } else { HmacType::Sha512 };
        let as_sha2 = decode(
            &wire,
            &SpaKey::from_base64(&keys.key).expect("key"),
            &HmacKey::from_base64(&keys.hmac).expect("hmac key"),
            sha2,
            DigestType::Sha256,
        );
        assert!(as_sha2.is_err(), "a {hmac} packet must not verify as {sha2}");
    }
}

/// knock-cli with `hmac = "<name>"` in the profile opens a fwknopd whose stanza says `HMAC_DIGEST_TYPE <name>`;
/// the profile's default SHA-256 HMAC is refused by that fwknopd first.
fn opens_with_hmac(lab: Lab, hmac: HmacType) {
    lab.server_gate_tcp_port(GATED).expect("gate");
    let _service = lab.server_tcp_listener_any(GATED).expect("listener");
    let keys = lab.spa_keygen();
    let fwknopd = start_fwknopd(&lab, &keys, "FW_ACCESS_TIMEOUT 30", hmac.as_str());
    add_spa_profile(&lab, &["--verify-timeout", "700", "--attempts", "1"]);

    let out = cli(&lab, Some(&keys), &["open", "fw"]);
    assert_eq!(out.status.code(), Some(3), "a sha256 HMAC against a {hmac} stanza: {}", text(&out));
    assert!(
        fwknopd.wait_for("HMAC_COMPAREFAIL", Duration::from_secs(5)),
        "fwknopd rejected the sha256 HMAC:\n{}",
        fwknopd.log()
    );
    assert!(!reachable(&lab));

    // The profile file is the documented place for the HMAC type.
    let path = lab.dir().join("profiles").join("fw.toml");
    let profile = fs::read_to_string(&path).expect("profile");
    let with_hmac = profile.replacen("[spa]\n", &format!("[spa]\nhmac = \"{hmac}\"\n"), 1);
    assert_ne!(profile, with_hmac, "{profile}");
    fs::write(&path, with_hmac).expect("profile written");
    let out = cli(&lab, None, &["profile", "edit", "fw", "--verify-timeout", "5000", "--attempts", "3"]);
    assert_eq!(out.status.code(), Some(0), "{}", text(&out));
    let out = cli(&lab, None, &["profile", "show", "fw"]);
    assert!(String::from_utf8_lossy(&out.stdout).contains(hmac.as_str()), "{}", text(&out));

    opens_twice(&lab, &fwknopd, &keys, "Added access rule to FWKNOP_INPUT");
    let log = fwknopd.log();
    let fwknop_name = hmac.as_str().to_uppercase();
    assert!(log.contains(&format!("({fwknop_name})")), "fwknopd decoded a {fwknop_name} HMAC:\n{log}");
}

#[test]
fn spa_with_a_sha3_256_hmac_opens_a_real_fwknopd_configured_for_it() {
    opens_with_hmac(lab_or_skip!(), HmacType::Sha3_256);
}

#[test]
fn spa_with_a_sha3_512_hmac_opens_a_real_fwknopd_configured_for_it() {
    opens_with_hmac(lab_or_skip!(), HmacType::Sha3_512);
}

#[test]
fn keys_stored_with_set_key_in_a_real_keyring_open_the_door() {
    let lab = lab_or_skip!();
    let (keys, fwknopd, _service) = gated_fwknopd(&lab, "FW_ACCESS_TIMEOUT 30");
    add_spa_profile(&lab, &[]);
    let key_file = lab.dir().join("keys.txt");
    fs::write(&key_file, format!("KEY_BASE64: {}\nHMAC_KEY_BASE64: {}\n", keys.key, keys.hmac)).expect("keys");
    let dir = lab.dir().join("profiles");
    let cli = knock_cli_path();
    let steps = format!(
        "set -e; {cli} --profiles-dir {dir} profile set-key fw < {keys}; {cli} --profiles-dir {dir} open fw --json",
        cli = cli.display(),
        dir = dir.display(),
        keys = key_file.display()
    );
    let Some(out) = in_keyring_session(&lab, &steps) else { return };
    assert_eq!(out.status.code(), Some(0), "{}\n{}", text(&out), fwknopd.log());
    assert!(String::from_utf8_lossy(&out.stdout).contains("stored the SPA keys of fw"), "{}", text(&out));
    assert!(String::from_utf8_lossy(&out.stdout).contains("\"outcome\": \"opened\""), "{}", text(&out));
    let profile = fs::read_to_string(dir.join("fw.toml")).expect("profile");
    assert!(!profile.contains(&keys.key) && !profile.contains(&keys.hmac), "keys never in the file: {profile}");
}

#[test]
fn a_fwknoprc_stanza_imports_with_its_keys_in_the_keyring_and_opens() {
    let lab = lab_or_skip!();
    let (keys, fwknopd, _service) = gated_fwknopd(&lab, "FW_ACCESS_TIMEOUT 30");
    let rc = lab.dir().join("fwknoprc");
    fs::write(
        &rc,
        format!(
            "[default]\nHMAC_DIGEST_TYPE sha256\n\n[lab]\nSPA_SERVER {}\nACCESS tcp/{GATED}\nKEY_BASE64 {}\nHMAC_KEY_BASE64 {}\nUSE_HMAC Y\n",
            lab.server_v4(),
            keys.key,
            keys.hmac
        ),
    )
    .expect("fwknoprc");
    let dir = lab.dir().join("profiles");
    let cli = knock_cli_path();
    let steps = format!(
        "set -e; {cli} --profiles-dir {dir} profile import {rc}; {cli} --profiles-dir {dir} profile edit lab --verify-port {GATED}; \
         {cli} --profiles-dir {dir} open lab --json",
        cli = cli.display(),
        dir = dir.display(),
        rc = rc.display()
    );
    let Some(out) = in_keyring_session(&lab, &steps) else { return };
    assert_eq!(out.status.code(), Some(0), "{}\n{}", text(&out), fwknopd.log());
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(
        stdout.contains("added SPA profile lab from [lab]") && stdout.contains("keys are in the OS keyring"),
        "{}",
        text(&out)
    );
    assert!(stdout.contains("\"outcome\": \"opened\""), "{}", text(&out));
    let profile = fs::read_to_string(dir.join("lab.toml")).expect("profile");
    assert!(!profile.contains(&keys.key) && !profile.contains(&keys.hmac), "keys never in the file: {profile}");
}

#[test]
fn keys_follow_their_profile_on_rename_and_delete_in_a_real_keyring() {
    let lab = lab_or_skip!();
    let (keys, fwknopd, _service) = gated_fwknopd(&lab, "FW_ACCESS_TIMEOUT 30");
    add_spa_profile(&lab, &[]);
    let key_file = lab.dir().join("keys.txt");
    fs::write(&key_file, format!("KEY_BASE64: {}\nHMAC_KEY_BASE64: {}\n", keys.key, keys.hmac)).expect("keys");
    let dir = lab.dir().join("profiles");
    let server = lab.server_v4();
    // Each step prints a marker with its exit status, so the assertions below see every step.
    let steps = format!(
        "k() {{ {cli} --profiles-dir {dir} \"$@\"; }}; \
         k profile set-key fw < {keys} >/dev/null; \
         k profile rename fw fw2; echo \"rename=$?\"; cp {dir}/fw2.toml {dir}/fw2.saved; \
         k open fw2 --json > {dir}/open.json; echo \"open-renamed=$?\"; \
         echo \"entries-after-rename:\"; secret-tool search --all service knock-toolkit 2>&1 | grep username; \
         k profile add fw --spa --host {server} --access tcp/{GATED} --verify-port {GATED} --attempts 1 >/dev/null; \
         k open fw --force 2>{dir}/fw.err; echo \"open-new-fw=$?\"; \
         k profile rm fw2 >/dev/null; echo \"rm=$?\"; \
         echo \"entries-after-rm:\"; secret-tool search --all service knock-toolkit 2>&1 | grep username; echo end",
        cli = knock_cli_path().display(),
        dir = dir.display(),
        keys = key_file.display(),
    );
    let Some(out) = in_keyring_session(&lab, &steps) else { return };
    let stdout = String::from_utf8_lossy(&out.stdout).into_owned();
    let diag = format!("{}\n{}", text(&out), fwknopd.log());
    assert!(stdout.contains("rename=0") && stdout.contains("open-renamed=0"), "{diag}");
    let opened = fs::read_to_string(dir.join("open.json")).expect("open.json");
    assert!(opened.contains("\"outcome\": \"opened\""), "the renamed profile opens with its moved keys: {opened}");
    let (after_rename, after_rm) = stdout.split_once("entries-after-rm:").expect("markers");
    // The keys are the profile's id's, which the rename kept: nothing is keyed by a name.
    let id = profile_id(&dir.join("fw2.saved"));
    assert!(!after_rename.contains("profile:fw"), "no entry keyed by a name: {diag}");
    assert!(after_rename.contains(&format!("profile-id:{id}:spa-key")), "the keys stay with the profile: {diag}");
    // A new profile that takes the old name is another identity and does not inherit the keys: exit 2.
    assert_ne!(profile_id(&dir.join("fw.toml")), id);
    assert!(stdout.contains("open-new-fw=2"), "{diag}");
    let err = fs::read_to_string(dir.join("fw.err")).expect("fw.err");
    assert!(err.contains("has no keys"), "{err}");
    assert!(
        stdout.contains("rm=0") && !after_rm.contains(&format!("profile-id:{id}:")),
        "delete leaves no entry: {diag}"
    );
}

#[test]
fn a_rotating_provisioning_uri_imports_with_its_key_in_a_real_keyring() {
    let lab = lab_or_skip!();
    let dir = lab.dir().join("profiles");
    let key = "GEZDGNBVGY3TQOJQGEZDGNBVGY3TQOJQGEZDGNBVGY3TQOJQGEZA";
    let uri = format!("knock+rotating://192.0.2.1/ssh?key={key}&step=60&length=3&range=20000-20999");
    let uri_file = lab.dir().join("uri.txt");
    fs::write(&uri_file, &uri).expect("uri");
    let steps = format!(
        "k() {{ {cli} --profiles-dir {dir} \"$@\"; }}; \
         k profile import-uri - --name door < {uri}; echo \"import=$?\"; \
         k rotating now door --reveal; echo \"now=$?\"; \
         k profile import-uri - --name door < {uri}; echo \"again=$?\"; \
         secret-tool search --all service knock-toolkit 2>&1 | grep username",
        cli = knock_cli_path().display(),
        dir = dir.display(),
        uri = uri_file.display(),
    );
    let Some(out) = in_keyring_session(&lab, &steps) else { return };
    let stdout = String::from_utf8_lossy(&out.stdout).into_owned();
    assert!(stdout.contains("import=0") && stdout.contains("now=0"), "{}", text(&out));
    assert!(stdout.contains("again=2"), "a second import of the same name is refused: {}", text(&out));
    let id = profile_id(&dir.join("door.toml"));
    assert!(stdout.contains(&format!("profile-id:{id}:rotating-key")), "the key is in the keyring: {}", text(&out));
    let profile = fs::read_to_string(dir.join("door.toml")).expect("profile");
    assert!(!profile.contains(key), "the key is never in the file: {profile}");
    assert!(profile.contains("[rotating]") && profile.contains("door = \"ssh\""), "{profile}");
    // The revealed sequence is three ports of the range.
    let words = stdout.lines().find(|l| l.contains(":tcp")).expect("sequence line");
    assert_eq!(words.split_whitespace().count(), 3, "{words}");
}

/// The `id = "..."` of a profile file (the name of its keyring entries: `profile-id:<id>:<kind>`).
fn profile_id(path: &std::path::Path) -> String {
    let text = fs::read_to_string(path).expect("profile file");
    text.lines()
        .find_map(|line| line.strip_prefix("id = \"")?.strip_suffix('"'))
        .unwrap_or_else(|| panic!("no id in {}: {text}", path.display()))
        .to_owned()
}
