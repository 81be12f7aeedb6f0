//! Asking a profile's `discover_url` over HTTPS: this host's public IPv4 address for an SPA packet
//! (`allow_ip = "discover"`), and the one HTTP client that doctor's clock check also uses. HTTPS only, on
//! every hop: over plain HTTP (or a redirect to it) an on-path attacker would choose the address the
//! packet lets in.

use std::net::Ipv4Addr;
use std::sync::Arc;
use std::time::Duration;

use thiserror::Error;

/// Why the public address (or an HTTPS client for it) could not be had. Cheap to clone.
#[derive(Debug, Clone, Error)]
pub enum DiscoverError {
    #[error("cannot read SSL_CERT_FILE {path}: {source}")]
    CertFileUnreadable {
        path: String,
        #[source]
        source: Arc<std::io::Error>,
    },
    #[error("SSL_CERT_FILE {path} is not a PEM file: {source}")]
    CertFileNotPem {
        path: String,
        #[source]
        source: Arc<ureq::Error>,
    },
    #[error("SSL_CERT_FILE {path} holds no PEM certificate (-----BEGIN CERTIFICATE-----)")]
    CertFileEmpty { path: String },
    #[error(
        "discover_url {url:?} is not an https:// URL: plain HTTP would let anyone on the path choose the address \
         the packet lets in"
    )]
    NotHttps { url: String },
    #[error("cannot ask {url} for the public address: {source}")]
    Request {
        url: String,
        #[source]
        source: Arc<ureq::Error>,
    },
    #[error("cannot read the answer of {url}: {source}")]
    Answer {
        url: String,
        #[source]
        source: Arc<ureq::Error>,
    },
    #[error("{url} answered {shown:?}, not an IPv4 address")]
    NotIpv4 { url: String, shown: String },
    #[error("the lookup stopped: {0}")]
    Stopped(Arc<tokio::task::JoinError>),
}

/// Asks `url` for this host's public IPv4 address (an endpoint answering with the address as text, such
/// as `https://api.ipify.org`). Blocking; bounded by `timeout`. Used only when a profile asks for it.
pub(crate) fn discover_public_ipv4(url: &str, timeout: Duration) -> Result<Ipv4Addr, DiscoverError> {
    discover_with(&discovery_agent(timeout)?, url)
}

/// The one HTTP client for a profile's `discover_url` (the public address here, the clock check of
/// `doctor`): HTTPS only, on every hop, because over plain HTTP (or a redirect to it) an on-path attacker
/// would choose the address the SPA packet lets in. It trusts the bundled Mozilla roots, or, when
/// `SSL_CERT_FILE` names a PEM file, the certificates in that file instead (as OpenSSL and curl do: a
/// private CA).
pub(crate) fn discovery_agent(timeout: Duration) -> Result<ureq::Agent, DiscoverError> {
    let mut tls = ureq::tls::TlsConfig::builder();
    if let Some(path) = std::env::var_os("SSL_CERT_FILE").filter(|p| !p.is_empty()) {
        let shown = std::path::Path::new(&path).display().to_string();
        let pem = std::fs::read(&path)
            .map_err(|source| DiscoverError::CertFileUnreadable { path: shown.clone(), source: Arc::new(source) })?;
        let mut roots = Vec::new();
        for item in ureq::tls::parse_pem(&pem) {
            if let ureq::tls::PemItem::Certificate(cert) =
                item.map_err(|source| DiscoverError::CertFileNotPem { path: shown.clone(), source: Arc::new(source) })?
            {
                roots.push(cert.to_owned());
            }
        }
        if roots.is_empty() {
            return Err(DiscoverError::CertFileEmpty { path: shown });
        }
        tls = tls.root_certs(ureq::tls::RootCerts::Specific(Arc::new(roots)));
    }
    Ok(ureq::Agent::config_builder()
        .timeout_global(Some(timeout))
        .https_only(true)
        .tls_config(tls.build())
        .build()
        .into())
}

/// [`discover_public_ipv4`] with a given agent (tests trust their own loopback certificate).
pub(crate) fn discover_with(agent: &ureq::Agent, url: &str) -> Result<Ipv4Addr, DiscoverError> {
    if !url.get(..8).is_some_and(|scheme| scheme.eq_ignore_ascii_case("https://")) {
        return Err(DiscoverError::NotHttps { url: url.to_owned() });
    }
    let mut response = agent
        .get(url)
        .call()
        .map_err(|source| DiscoverError::Request { url: url.to_owned(), source: Arc::new(source) })?;
    let body = response
        .body_mut()
        .with_config()
        .limit(1024)
        .read_to_string()
        .map_err(|source| DiscoverError::Answer { url: url.to_owned(), source: Arc::new(source) })?;
    let text = body.trim();
    text.parse().map_err(|_| DiscoverError::NotIpv4 { url: url.to_owned(), shown: text.chars().take(40).collect() })
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A one-shot HTTP(S) server on loopback answering `reply` (never an outside endpoint in tests).
    /// With `tls`, it speaks HTTPS with a fresh self-signed certificate for 127.0.0.1, which the returned
    /// agent trusts (and nothing else).
    fn serve_once(reply: String, tls: bool) -> (String, ureq::Agent) {
        use std::io::{Read, Write};
        use std::sync::Arc;
        let listener = std::net::TcpListener::bind("127.0.0.1:0").expect("listener");
        let address = listener.local_addr().expect("addr");
        let scheme = if tls { "https" } else { "http" };
        let url = format!("{scheme}://{address}/ip");
        let cert = rcgen::generate_simple_self_signed(vec!["127.0.0.1".to_owned()]).expect("certificate");
        let der = cert.cert.der().clone();
        let key = rustls::pki_types::PrivateKeyDer::try_from(cert.signing_key.serialize_der()).expect("key");
        let provider = Arc::new(rustls::crypto::ring::default_provider());
        let server = rustls::ServerConfig::builder_with_provider(provider)
            .with_safe_default_protocol_versions()
            .expect("versions")
            .with_no_client_auth()
            .with_single_cert(vec![der.clone()], key)
            .expect("server config");
        let server = Arc::new(server);
        std::thread::spawn(move || {
            let Ok((mut stream, _)) = listener.accept() else { return };
            let mut request = [0u8; 1024];
            if tls {
                let Ok(connection) = rustls::ServerConnection::new(server) else { return };
                let mut tls_stream = rustls::StreamOwned::new(connection, stream);
                let _ = tls_stream.read(&mut request);
                let _ = tls_stream.write_all(reply.as_bytes());
                tls_stream.conn.send_close_notify();
                let _ = tls_stream.flush();
            } else {
                let _ = stream.read(&mut request);
                let _ = stream.write_all(reply.as_bytes());
            }
        });
        let roots =
            ureq::tls::RootCerts::Specific(Arc::new(vec![ureq::tls::Certificate::from_der(der.as_ref()).to_owned()]));
        let agent: ureq::Agent = ureq::Agent::config_builder()
            .timeout_global(Some(std::time::Duration::from_secs(5)))
            .https_only(true)
            .tls_config(ureq::tls::TlsConfig::builder().root_certs(roots).build())
            .build()
            .into();
        (url, agent)
    }

    fn ok(body: &str) -> String {
        format!("HTTP/1.1 200 OK\r\nContent-Length: {}\r\nConnection: close\r\n\r\n{body}", body.len())
    }

    #[test]
    fn the_public_address_is_discovered_from_an_https_endpoint() {
        let (url, agent) = serve_once(ok("203.0.113.7\n"), true);
        assert_eq!(discover_with(&agent, &url).expect("discovered"), std::net::Ipv4Addr::new(203, 0, 113, 7));
        let (url, agent) = serve_once(ok("<html>nope</html>"), true);
        let e = discover_with(&agent, &url).expect_err("not an address");
        assert!(e.to_string().contains("not an IPv4 address"), "{e}");
        let closed = std::net::TcpListener::bind("127.0.0.1:0").expect("bind").local_addr().expect("addr");
        let e = discover_public_ipv4(&format!("https://{closed}/"), std::time::Duration::from_secs(5))
            .expect_err("refused");
        assert!(e.to_string().contains("cannot ask"), "{e}");
    }

    #[test]
    fn discovery_never_uses_plain_http_not_even_after_a_redirect() {
        // A plain HTTP endpoint is refused before anything is sent.
        let (url, _) = serve_once(ok("203.0.113.66"), false);
        let e = discover_public_ipv4(&url, std::time::Duration::from_secs(5)).expect_err("http");
        let e = e.to_string();
        assert!(e.contains("discover_url") && e.contains("https://"), "{e}");
        // An HTTPS endpoint that redirects to plain HTTP (a downgrade) is refused at the redirect.
        let (plain, _) = serve_once(ok("203.0.113.66"), false);
        let redirect =
            format!("HTTP/1.1 302 Found\r\nLocation: {plain}\r\nContent-Length: 0\r\nConnection: close\r\n\r\n");
        let (url, agent) = serve_once(redirect, true);
        let e = discover_with(&agent, &url).expect_err("downgrade");
        let e = e.to_string();
        assert!(e.contains("cannot ask") && e.to_lowercase().contains("https"), "{e}");
    }
}
