//! `knock-cli open|close|ssh|proxy` against a real knockd whose doors really gate a port with iptables in
//! the server namespace: verify reports the port open, close shuts it, a failed first sequence is retried,
//! a door that never opens exits 3, `--group` knocks several hosts at once, and ssh gets through.
#![cfg(target_os = "linux")] // the namespace lab is Linux-only (see knock_e2e's crate docs)

use std::net::{IpAddr, SocketAddr};
use std::path::Path;
use std::process::Output;
use std::time::Duration;

use knock_e2e::bins::knock_cli_path;
use knock_e2e::text;
use knock_e2e::{Knockd, Lab, lab_or_skip};

const GATED: u16 = 2222;

fn cli(lab: &Lab, args: &[&str]) -> Output {
    let mut full = vec!["--profiles-dir".to_owned(), profiles_dir(lab)];
    full.extend(args.iter().map(|a| (*a).to_owned()));
    lab.run_client(knock_cli_path(), &full).expect("knock-cli runs in the client namespace")
}

fn parse_json(out: &Output) -> serde_json::Value {
    serde_json::from_slice(&out.stdout).unwrap_or_else(|e| panic!("stdout is one JSON document ({e}): {}", text(out)))
}

fn profiles_dir(lab: &Lab) -> String {
    lab.dir().join("profiles").display().to_string()
}

/// knockd with an open door (7000,8000,9000) and a close door (9000,8000,7000) for the gated port.
fn gated_knockd(lab: &Lab) -> Knockd {
    lab.server_gate_tcp_port(GATED).expect("gate");
    let door = |name: &str, sequence: &str, v4: String, v6: String| {
        format!(
            "[{name}]\n  sequence = {sequence}\n  seq_timeout = 10\n  tcpflags = syn\n  \
             start_command = {v4}\n  start_command_6 = {v6}\n"
        )
    };
    let conf = door("openSSH", "7000,8000,9000", Lab::gate_open_command(GATED), Lab::gate_open_command_v6(GATED))
        + &door("closeSSH", "9000,8000,7000", Lab::gate_close_command(GATED), Lab::gate_close_command_v6(GATED));
    lab.start_knockd(&conf).expect("knockd starts")
}

fn add_profile(lab: &Lab, name: &str, host: &str, extra: &[&str]) {
    let mut args =
        vec!["profile", "add", name, "--host", host, "--open", "7000,8000,9000", "--close", "9000,8000,7000"];
    args.extend_from_slice(extra);
    let out = cli(lab, &args);
    assert_eq!(out.status.code(), Some(0), "{}", text(&out));
}

fn port_reachable(lab: &Lab, server: IpAddr) -> bool {
    lab.client_connect(SocketAddr::new(server, GATED), Duration::from_millis(500)).is_ok()
}

fn open_verify_close(lab: &Lab, server: IpAddr, family: &str) {
    let knockd = gated_knockd(lab);
    let _service = lab.server_tcp_listener_any(GATED).expect("listener");
    add_profile(
        lab,
        "bastion",
        &server.to_string(),
        &["--family", family, "--verify-port", "2222", "--verify-timeout", "3000"],
    );
    assert!(!port_reachable(lab, server), "the gate is closed before knocking");

    let out = cli(lab, &["open", "bastion", "--json"]);
    assert_eq!(out.status.code(), Some(0), "{}\n{}", text(&out), knockd.diagnostics());
    let json = parse_json(&out);
    let profile = &json["profiles"][0];
    assert_eq!((&json["action"], &json["outcome"], &json["exit_code"]), (&"open".into(), &"ok".into(), &0.into()));
    assert_eq!(profile["outcome"], "opened", "{json:#}");
    assert_eq!(profile["address"], server.to_string(), "{json:#}");
    assert_eq!(profile["attempts"][0]["verify"]["open"], true, "{json:#}");
    assert_eq!(profile["attempts"][0]["verify"]["port"], 2222, "{json:#}");
    assert_eq!(profile["attempts"][0]["knock"]["hits"][2]["status"], "sent", "{json:#}");
    assert!(port_reachable(lab, server), "verified open means open");

    let out = cli(lab, &["close", "bastion"]);
    assert_eq!(out.status.code(), Some(0), "{}", text(&out));
    assert!(String::from_utf8_lossy(&out.stdout).contains("bastion: closed"), "{}", text(&out));
    assert!(knockd.wait_for_log("closeSSH: OPEN SESAME", Duration::from_secs(5)), "{}", knockd.diagnostics());
    assert!(
        knock_e2e::wait_until(Duration::from_secs(5), || !port_reachable(lab, server)),
        "the close door shut the port again"
    );
}

#[test]
fn open_verifies_and_close_closes_over_ipv4() {
    let lab = lab_or_skip!();
    open_verify_close(&lab, lab.server_v4().into(), "ipv4");
}

#[test]
fn open_verifies_and_close_closes_over_ipv6() {
    let lab = lab_or_skip!();
    open_verify_close(&lab, lab.server_v6().into(), "ipv6");
}

#[test]
fn a_lost_first_hit_is_retried_with_a_fresh_sequence() {
    let lab = lab_or_skip!();
    // Only an open door: with knockd's classic close door (9000,8000,7000) the stray 9000 of the broken
    // attempt would start a close attempt, and knockd consumes the next 7000 to kill it instead of
    // starting the open door (docs/knockd-behaviour.md 2.4), so no retry could succeed within seq_timeout.
    lab.server_gate_tcp_port(GATED).expect("gate");
    let conf = format!(
        "[openSSH]\n  sequence = 7000,8000,9000\n  seq_timeout = 10\n  tcpflags = syn\n  start_command = {}\n",
        Lab::gate_open_command(GATED)
    );
    let knockd = lab.start_knockd(&conf).expect("knockd starts");
    let _service = lab.server_tcp_listener_any(GATED).expect("listener");
    // The client's own firewall eats the first SYN to 7000 and lets the next one through. With the connect
    // method the kernel loses it silently, as a lossy link would (a raw send would get EPERM instead).
    let rule = [
        "-A",
        "OUTPUT",
        "-p",
        "tcp",
        "--dport",
        "7000",
        "-m",
        "statistic",
        "--mode",
        "nth",
        "--every",
        "2",
        "--packet",
        "0",
        "-j",
        "DROP",
    ];
    let out = lab.run_client("iptables", rule).expect("iptables");
    assert!(out.status.success(), "{}", text(&out));
    let server = lab.server_v4().to_string();
    add_profile(
        &lab,
        "bastion",
        &server,
        &[
            "--method",
            "connect",
            "--verify-port",
            "2222",
            "--verify-timeout",
            "1000",
            "--attempts",
            "3",
            "--backoff",
            "200",
        ],
    );

    let out = cli(&lab, &["open", "bastion", "--json"]);
    assert_eq!(out.status.code(), Some(0), "{}\n{}", text(&out), knockd.diagnostics());
    let json = parse_json(&out);
    let attempts = json["profiles"][0]["attempts"].as_array().expect("attempts");
    assert_eq!(attempts.len(), 2, "{json:#}");
    assert_eq!(attempts[0]["verify"]["open"], false, "the first did not open: {json:#}");
    assert_eq!(attempts[1]["verify"]["open"], true, "the fresh sequence did: {json:#}");
    assert_eq!(attempts[1]["knock"]["hits"].as_array().map(Vec::len), Some(3), "a whole new sequence");
    assert_eq!(knockd.count_in_log("openSSH: OPEN SESAME"), 1, "{}", knockd.diagnostics());
}

#[test]
fn a_door_that_never_opens_exits_3() {
    let lab = lab_or_skip!();
    let _knockd = gated_knockd(&lab);
    let _service = lab.server_tcp_listener_any(GATED).expect("listener");
    let server = lab.server_v4().to_string();
    let out = cli(
        &lab,
        &[
            "profile",
            "add",
            "wrong",
            "--host",
            &server,
            "--open",
            "7001,8000,9000",
            "--verify-port",
            "2222",
            "--verify-timeout",
            "400",
            "--attempts",
            "2",
            "--backoff",
            "100",
        ],
    );
    assert!(out.status.success(), "{}", text(&out));
    let out = cli(&lab, &["open", "wrong"]);
    assert_eq!(out.status.code(), Some(3), "{}", text(&out));
    assert!(String::from_utf8_lossy(&out.stderr).contains("not opened"), "{}", text(&out));
    let out = cli(&lab, &["open", "wrong", "--json"]);
    assert_eq!(out.status.code(), Some(3));
    let json = parse_json(&out);
    assert_eq!((&json["outcome"], &json["exit_code"]), (&"not_opened".into(), &3.into()), "{json:#}");
    assert_eq!(json["profiles"][0]["attempts"].as_array().map(Vec::len), Some(2), "{json:#}");
}

#[test]
fn group_knocks_every_tagged_host_at_once() {
    let lab = lab_or_skip!();
    let targets: Vec<IpAddr> =
        ["192.0.2.10", "192.0.2.11", "192.0.2.12"].iter().map(|a| a.parse().expect("ip")).collect();
    for target in &targets {
        lab.add_server_address(*target).expect("extra server address");
    }
    // One door per host (knockd's Target), each leaving its own marker when opened.
    let conf: String = targets
        .iter()
        .map(|t| {
            format!(
                "[door-{t}]\n  sequence = 7000,8000,9000\n  seq_timeout = 10\n  tcpflags = syn\n  target = {t}\n  \
                 command = touch {}\n",
                marker(lab.dir(), *t).display()
            )
        })
        .collect();
    let knockd = lab.start_knockd(&conf).expect("knockd");
    for (i, target) in targets.iter().enumerate() {
        let out = cli(
            &lab,
            &[
                "profile",
                "add",
                &format!("web{i}"),
                "--host",
                &target.to_string(),
                "--open",
                "7000,8000,9000",
                "--tag",
                "prod",
            ],
        );
        assert!(out.status.success(), "{}", text(&out));
    }
    let out =
        cli(&lab, &["profile", "add", "other", "--host", "192.0.2.2", "--open", "7000,8000,9000", "--tag", "dev"]);
    assert!(out.status.success(), "{}", text(&out));

    let out = cli(&lab, &["open", "--group", "prod", "--json"]);
    assert_eq!(out.status.code(), Some(0), "{}\n{}", text(&out), knockd.diagnostics());
    let json = parse_json(&out);
    let profiles = json["profiles"].as_array().expect("profiles");
    let names: Vec<&str> = profiles.iter().filter_map(|p| p["name"].as_str()).collect();
    assert_eq!(names, ["web0", "web1", "web2"], "only the tagged profiles, by name: {json:#}");
    assert!(profiles.iter().all(|p| p["outcome"] == "sent"), "{json:#}");
    for target in &targets {
        assert!(
            knock_e2e::wait_until(Duration::from_secs(5), || marker(lab.dir(), *target).exists()),
            "{target} was not opened\n{}",
            knockd.diagnostics()
        );
    }
    let out = cli(&lab, &["open", "--group", "prod"]);
    assert_eq!(out.status.code(), Some(0));
    let summary = String::from_utf8_lossy(&out.stdout);
    assert_eq!(summary.lines().filter(|l| l.contains(": knocked 192.0.2.1")).count(), 3, "per-host summary: {summary}");
}

fn marker(dir: &Path, target: IpAddr) -> std::path::PathBuf {
    dir.join(format!("group-{target}"))
}

#[test]
fn ssh_and_proxy_command_get_through_the_door() {
    let lab = lab_or_skip!();
    let knockd = gated_knockd(&lab);
    let sshd = lab.start_sshd(GATED).expect("sshd");
    let server = lab.server_v4().to_string();
    add_profile(&lab, "bastion", &server, &["--verify-port", "2222", "--verify-timeout", "3000"]);

    // knock-cli ssh: opens, verifies, then runs `ssh -4 HOST ARGS...`.
    let mut args = vec!["ssh".to_owned(), "bastion".to_owned(), "--".to_owned()];
    args.extend(sshd.client_options());
    args.extend(["echo".to_owned(), "through-the-door".to_owned()]);
    let refs: Vec<&str> = args.iter().map(String::as_str).collect();
    let out = cli(&lab, &refs);
    assert_eq!(out.status.code(), Some(0), "{}\n{}\n{}", text(&out), knockd.diagnostics(), sshd.diagnostics());
    assert_eq!(String::from_utf8_lossy(&out.stdout).trim(), "through-the-door");

    // Close again, then an OpenSSH ProxyCommand opens it on the way in.
    assert!(cli(&lab, &["close", "bastion"]).status.success());
    assert!(knock_e2e::wait_until(Duration::from_secs(5), || { !port_reachable(&lab, lab.server_v4().into()) }));
    let proxy = format!("{} --profiles-dir {} proxy bastion %h %p", knock_cli_path().display(), profiles_dir(&lab));
    let out = lab
        .client_cmd("ssh")
        .args(sshd.client_options())
        .args(["-o", &format!("ProxyCommand={proxy}"), &server, "echo", "via-proxy"])
        .output()
        .expect("ssh runs");
    assert_eq!(out.status.code(), Some(0), "{}\n{}", text(&out), sshd.diagnostics());
    assert_eq!(String::from_utf8_lossy(&out.stdout).trim(), "via-proxy");
}

#[test]
fn proxy_relays_bytes_both_ways() {
    let lab = lab_or_skip!();
    let _knockd = gated_knockd(&lab);
    let service = lab.server_tcp_listener_any(GATED).expect("echo listener");
    let server = lab.server_v4().to_string();
    add_profile(&lab, "bastion", &server, &["--verify-port", "2222"]);
    let script = format!(
        "printf 'ping-through-proxy\\n' | {} --profiles-dir {} proxy bastion",
        knock_cli_path().display(),
        profiles_dir(&lab)
    );
    let out = lab.run_client("sh", ["-c", &script]).expect("proxy runs");
    assert_eq!(out.status.code(), Some(0), "{}", text(&out));
    assert_eq!(String::from_utf8_lossy(&out.stdout), "ping-through-proxy\n", "stdout carries only the relay");
    assert!(service.accepted() >= 2, "the verify probe and the relay both connected");
}

#[test]
fn a_profile_imported_from_knockd_conf_opens_and_closes_its_door() {
    let lab = lab_or_skip!();
    let knockd = gated_knockd(&lab);
    let _service = lab.server_tcp_listener_any(GATED).expect("listener");
    let server = lab.server_v4().to_string();
    let conf = knockd.config_path().display().to_string();

    let out = cli(&lab, &["profile", "import", &conf, "--host", &server]);
    assert_eq!(out.status.code(), Some(0), "{}", text(&out));
    assert!(String::from_utf8_lossy(&out.stdout).contains("added ssh from [openSSH] + [closeSSH]"), "{}", text(&out));
    let out = cli(&lab, &["profile", "edit", "ssh", "--verify-port", "2222"]);
    assert!(out.status.success(), "{}", text(&out));

    let out = cli(&lab, &["open", "ssh"]);
    assert_eq!(out.status.code(), Some(0), "{}\n{}", text(&out), knockd.diagnostics());
    assert!(port_reachable(&lab, lab.server_v4().into()));
    let out = cli(&lab, &["close", "ssh"]);
    assert_eq!(out.status.code(), Some(0), "{}", text(&out));
    assert!(knock_e2e::wait_until(Duration::from_secs(5), || { !port_reachable(&lab, lab.server_v4().into()) }));

    // Importing again does not overwrite what is there.
    let out = cli(&lab, &["profile", "import", &conf, "--host", &server]);
    assert_eq!(out.status.code(), Some(2), "{}", text(&out));
    assert!(String::from_utf8_lossy(&out.stderr).contains("already exists"), "{}", text(&out));
}

#[test]
fn a_sequence_from_the_environment_opens_and_never_shows() {
    let lab = lab_or_skip!();
    let knockd = gated_knockd(&lab);
    let _service = lab.server_tcp_listener_any(GATED).expect("listener");
    let server = lab.server_v4().to_string();
    let dir = profiles_dir(&lab);
    let out = cli(
        &lab,
        &["profile", "add", "ci", "--host", &server, "--open-env", "BASTION_SEQUENCE", "--verify-port", "2222"],
    );
    assert!(out.status.success(), "{}", text(&out));
    let file = std::fs::read_to_string(Path::new(&dir).join("ci.toml")).expect("profile file");
    assert!(file.contains("env = \"BASTION_SEQUENCE\""), "{file}");

    let run = |json: &str| {
        lab.client_cmd(knock_cli_path())
            .env("BASTION_SEQUENCE", "7000,8000,9000")
            // --force: the second run meets the door the first opened, and must knock to show its hits.
            .args(["--profiles-dir", &dir, "open", "ci", "--force", "--verbose", json])
            .output()
            .expect("knock-cli runs")
    };
    for flag in ["--json", "--parallel=1"] {
        let out = run(flag);
        assert_eq!(out.status.code(), Some(0), "{}\n{}", text(&out), knockd.diagnostics());
        let all = text(&out);
        assert_eq!(all.matches(&format!("ci: hitting tcp {server}:*")).count(), 3, "masked verbose lines: {all}");
        if flag == "--json" {
            assert_eq!(
                parse_json(&out)["profiles"][0]["attempts"][0]["knock"]["hits"][0]["port"],
                serde_json::Value::Null
            );
        }
        for port in ["7000", "8000", "9000"] {
            assert!(!has_number(&all, port), "port {port} of the secret sequence leaked with {flag}: {all}");
        }
    }
    assert!(knockd.count_in_log("openSSH: OPEN SESAME") >= 1, "{}", knockd.diagnostics());

    // Without the variable: invalid input, naming the variable, not the value.
    let out = lab
        .client_cmd(knock_cli_path())
        .env_remove("BASTION_SEQUENCE")
        .args(["--profiles-dir", &dir, "open", "ci"])
        .output()
        .expect("knock-cli runs");
    assert_eq!(out.status.code(), Some(2), "{}", text(&out));
    assert!(String::from_utf8_lossy(&out.stderr).contains("$BASTION_SEQUENCE, which is not set"), "{}", text(&out));
}

/// Whether `text` holds `number` as a whole run of digits (not inside a timestamp or a float).
fn has_number(text: &str, number: &str) -> bool {
    text.split(|c: char| !c.is_ascii_digit()).any(|run| run == number)
}
