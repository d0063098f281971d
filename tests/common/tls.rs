//! TLS for tests: certificate files from the dev CA for the config, and blocking rustls
//! clients that trust that CA.

use std::net::TcpStream;
use std::path::Path;
use std::sync::Arc;

use roost::net::tls::devcerts::{Pair, TestCa};
use rustls_pki_types::{CertificateDer, ServerName};
use tokio_rustls::rustls::{self, ClientConfig, RootCertStore};

/// Writes a certificate pair into `dir` as `stem.crt`/`stem.key`; returns the `<path` values
/// for `ssl_cert`/`ssl_key`.
pub fn write_pair(dir: &Path, stem: &str, pair: &Pair) -> (String, String) {
    let c = dir.join(format!("{stem}.crt"));
    let k = dir.join(format!("{stem}.key"));
    std::fs::write(&c, &pair.cert_pem).unwrap();
    std::fs::write(&k, &pair.key_pem).unwrap();
    (format!("<{}", c.display()), format!("<{}", k.display()))
}

/// A rustls client trusting `ca`, for the given protocol versions.
pub fn tls_client(
    ca: &TestCa,
    versions: &[&'static rustls::SupportedProtocolVersion],
) -> Arc<ClientConfig> {
    let mut roots = RootCertStore::empty();
    roots
        .add(CertificateDer::from(ca.cert_der.clone()))
        .unwrap();
    Arc::new(
        ClientConfig::builder_with_provider(Arc::new(rustls::crypto::ring::default_provider()))
            .with_protocol_versions(versions)
            .unwrap()
            .with_root_certificates(roots)
            .with_no_client_auth(),
    )
}

/// Blocking TLS connection for server name `name`; returns the stream with the handshake done.
pub fn tls_connect(
    cfg: Arc<ClientConfig>,
    name: &str,
    tcp: TcpStream,
) -> rustls::StreamOwned<rustls::ClientConnection, TcpStream> {
    let conn = rustls::ClientConnection::new(cfg, ServerName::try_from(name.to_string()).unwrap())
        .unwrap();
    let mut s = rustls::StreamOwned::new(conn, tcp);
    while s.conn.is_handshaking() {
        s.conn.complete_io(&mut s.sock).expect("TLS handshake");
    }
    s
}
