//! A resolver hiccup in CI is retried, a name that does not exist is not, and the report says which it
//! was. knock-cli runs in a network and mount namespace this test makes (root): its resolv.conf points at
//! a DNS server on that namespace's loopback (`dns_retry.py`), so nothing leaves the machine.
#![cfg(target_os = "linux")]

use std::path::Path;
use std::process::{Command, Output};

use knock_e2e::bins::knock_cli_path;
use knock_e2e::text;

/// Runs `knock-cli ARGS` behind the fake resolver; returns its output and the names the resolver was
/// asked for. None when not root (namespaces need it).
fn behind_fake_dns(profiles: &Path, args: &str) -> Option<(Output, Vec<String>)> {
    if !rustix::process::geteuid().is_root() {
        eprintln!("skipped: needs root for a network namespace");
        return None;
    }
    let work = tempfile::tempdir().expect("dir");
    let resolv = work.path().join("resolv.conf");
    std::fs::write(&resolv, "nameserver 127.0.0.1\noptions attempts:1 timeout:1\n").expect("write");
    let log = work.path().join("queries.log");
    let server = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/dns_retry.py");
    let script = format!(
        "set -e; ip link set lo up; mount --bind '{resolv}' /etc/resolv.conf; \
         python3 '{server}' '{log}' > '{ready}' & dns=$!; \
         for _ in $(seq 1 50); do grep -q ready '{ready}' 2>/dev/null && break; sleep 0.1; done; \
         set +e; '{cli}' --profiles-dir '{profiles}' {args}; code=$?; kill $dns; exit $code",
        resolv = resolv.display(),
        server = server.display(),
        log = log.display(),
        ready = work.path().join("ready").display(),
        cli = knock_cli_path().display(),
        profiles = profiles.display(),
    );
    let out = Command::new("unshare").args(["--net", "--mount", "sh", "-c", &script]).output().expect("unshare runs");
    let queries = std::fs::read_to_string(&log).unwrap_or_default().lines().map(str::to_owned).collect();
    Some((out, queries))
}

fn write_profile(dir: &Path, name: &str, host: &str, verify_port: u16) {
    std::fs::write(
        dir.join(format!("{name}.toml")),
        format!(
            "host = \"{host}\"\nfamily = \"ipv4\"\nopen = \"7000:udp\"\n\n[verify]\nport = {verify_port}\n\
             timeout_ms = 300\nattempts = 4\nbackoff_ms = 150\n"
        ),
    )
    .expect("write");
}

#[test]
fn a_temporary_resolver_failure_is_retried_and_nxdomain_is_not() {
    let dir = tempfile::tempdir().expect("dir");
    write_profile(dir.path(), "flaky", "flaky.test", 9);
    write_profile(dir.path(), "gone", "gone.test", 9);

    // SERVFAIL for 0.25 s, then an answer: the backoff (150 ms, then 300 ms) outlasts it, so the name
    // resolves and the knock goes out (nothing listens on the verify port: not opened, exit 3).
    let Some((out, queries)) = behind_fake_dns(dir.path(), "open flaky --json") else { return };
    assert_eq!(out.status.code(), Some(3), "{}\nqueries: {queries:?}", text(&out));
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(stdout.contains("\"outcome\": \"not_opened\""), "{}", text(&out));
    assert!(queries.iter().filter(|q| *q == "flaky.test 1").count() >= 2, "retried: {queries:?}");

    // NXDOMAIN: one lookup, not retried, and the message says the name does not exist.
    let Some((out, queries)) = behind_fake_dns(dir.path(), "open gone --json") else { return };
    assert_eq!(out.status.code(), Some(1), "{}", text(&out));
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(stdout.contains("EAI_NONAME") && stdout.contains("not retried"), "{}", text(&out));
    assert_eq!(queries.iter().filter(|q| *q == "gone.test 1").count(), 1, "one A query: {queries:?}");
}
