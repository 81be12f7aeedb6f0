//! `doctor`'s clock check for SPA (issue 13, part 3: "the local clock against a trusted time source ...
//! the HTTPS `Date` header of `discover_url`, since fwknopd rejects packets older than 120 s"): a real
//! HTTPS server in the lab's server namespace (`openssl s_server -HTTP`, a certificate from a test CA that
//! knock-cli trusts through `SSL_CERT_FILE`) answers with a `Date` the test chooses, in front of a real
//! fwknopd.
#![cfg(target_os = "linux")] // the namespace lab is Linux-only (see knock_e2e's crate docs)

mod doctor_support;

use std::fs;
use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use doctor_support::{GATED, assert_check, check, doctor_spa, start_fwknopd};
use knock_e2e::door_lab::text;
use knock_e2e::{Lab, lab_or_skip, wait_until};
use serde_json::Value;

/// `openssl s_server` in the server namespace, killed on drop.
struct HttpsServer {
    child: Child,
    dir: PathBuf,
    ca: PathBuf,
}

impl Drop for HttpsServer {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

fn openssl(dir: &Path, args: &[&str]) {
    let out = Command::new("openssl").args(args).current_dir(dir).output().expect("openssl runs");
    assert!(out.status.success(), "openssl {args:?}: {}", text(&out));
}

/// A test CA, a certificate for the server's lab address signed by it, and `s_server -HTTP` on port 443
/// serving the files of its directory as complete HTTP responses.
fn start_https(lab: &Lab) -> HttpsServer {
    let dir = lab.dir().join("https");
    fs::create_dir_all(&dir).expect("https dir");
    let ec = ["-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:P-256", "-nodes"];
    openssl(
        &dir,
        &[
            &["req", "-x509"],
            &ec[..],
            &["-keyout", "ca.key", "-out", "ca.pem", "-days", "2", "-subj", "/CN=knock lab test CA"],
        ]
        .concat(),
    );
    openssl(&dir, &[&["req"], &ec[..], &["-keyout", "leaf.key", "-out", "leaf.csr", "-subj", "/CN=lab"]].concat());
    let ext =
        format!("subjectAltName=IP:{}\nbasicConstraints=CA:FALSE\nextendedKeyUsage=serverAuth\n", lab.server_v4());
    fs::write(dir.join("ext.cnf"), ext).expect("ext.cnf");
    openssl(
        &dir,
        &[
            "x509",
            "-req",
            "-in",
            "leaf.csr",
            "-CA",
            "ca.pem",
            "-CAkey",
            "ca.key",
            "-CAcreateserial",
            "-out",
            "leaf.pem",
            "-days",
            "2",
            "-extfile",
            "ext.cnf",
        ],
    );
    let child = lab
        .server_cmd("openssl")
        .args(["s_server", "-accept", "443", "-cert", "leaf.pem", "-key", "leaf.key", "-HTTP", "-quiet"])
        .current_dir(&dir)
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .expect("s_server starts");
    let server = HttpsServer { child, ca: dir.join("ca.pem"), dir };
    let at = SocketAddr::new(lab.server_v4().into(), 443);
    assert!(
        wait_until(Duration::from_secs(10), || lab.client_connect(at, Duration::from_millis(200)).is_ok()),
        "s_server listens"
    );
    server
}

/// Serves `/ip` with a `Date` header `offset_s` seconds from now (RFC 9110's IMF-fixdate).
fn serve_date(server: &HttpsServer, offset_s: i64) {
    let now = SystemTime::now().duration_since(UNIX_EPOCH).expect("after 1970").as_secs() as i64;
    let out = Command::new("date")
        .env("LC_ALL", "C")
        .args(["-u", "-d", &format!("@{}", now + offset_s), "+%a, %d %b %Y %H:%M:%S GMT"])
        .output()
        .expect("date runs");
    let date = String::from_utf8_lossy(&out.stdout).trim().to_owned();
    let body = "192.0.2.1\n";
    let reply =
        format!("HTTP/1.1 200 OK\r\nDate: {date}\r\nContent-Length: {}\r\nConnection: close\r\n\r\n{body}", body.len());
    fs::write(server.dir.join("ip"), reply).expect("reply file");
}

/// The seconds in `the local clock is N s behind` of the clock check.
fn seconds_behind(json: &Value) -> i64 {
    let detail = check(json, "clock")["detail"].as_str().unwrap_or_default().to_owned();
    detail
        .strip_prefix("the local clock is ")
        .and_then(|rest| rest.split(" s behind").next())
        .and_then(|n| n.parse().ok())
        .unwrap_or_else(|| panic!("no 'N s behind' in {detail:?}"))
}

#[test]
fn a_clock_beyond_fwknopds_window_is_warned_about_with_how_far() {
    let lab = lab_or_skip!();
    doctor_support::no_icmp_rate_limit(&lab);
    lab.server_gate_tcp_port(GATED).expect("gate");
    let _service = lab.server_tcp_listener_any(GATED).expect("listener");
    let (fwknopd, key, hmac) = start_fwknopd(&lab);
    let https = start_https(&lab);
    let url = format!("https://{}/ip", lab.server_v4());
    let server = lab.server_v4().to_string();
    let args = ["profile", "add", "fw", "--spa", "--host", &server, "--access", "tcp/2222", "--verify-port", "2222"];
    let out = lab.knock_cli(&[&args[..], &["--allow-source", "--discover-url", &url]].concat());
    assert_eq!(out.status.code(), Some(0), "{}", text(&out));
    let ca = https.ca.display().to_string();

    // The trusted source says it is 5 minutes later than our clock.
    serve_date(&https, 300);
    let (out, json) = doctor_spa(&lab, &key, &hmac, &[("SSL_CERT_FILE", &ca)]);
    assert_check(&json, "clock", "warn", &format!("behind the Date of {url}"), "time_offset_s = ");
    assert_check(&json, "clock", "warn", "beyond fwknopd's 120 s window", "set this computer's clock");
    let behind = seconds_behind(&json);
    assert!((295..=300).contains(&behind), "about 300 s behind, not {behind}: {json:#}");
    // The lab's fwknopd shares our clock, so the door opens all the same.
    assert_eq!(json["conclusion"], "opened", "{json:#}\n{}\n{}", text(&out), fwknopd.log());

    // In step: ok.
    serve_date(&https, 0);
    let (_, json) = doctor_spa(&lab, &key, &hmac, &[("SSL_CERT_FILE", &ca)]);
    assert_check(&json, "clock", "ok", "within fwknopd's 120 s window", "");

    // Only HTTPS the client trusts counts: without the test CA, nothing is compared.
    let (_, json) = doctor_spa(&lab, &key, &hmac, &[]);
    assert_check(&json, "clock", "warn", "cannot compare the clock with", "check discover_url answers over HTTPS");
}
