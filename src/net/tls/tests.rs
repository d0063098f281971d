//! Loopback handshakes between the server configuration built here and rustls clients.

use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;

use rustls_pki_types::pem::PemObject;
use rustls_pki_types::{CertificateDer, PrivateKeyDer, ServerName};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpListener, TcpStream};
use tokio_rustls::rustls::{self, ClientConfig, RootCertStore};
use tokio_rustls::TlsConnector;

use super::devcerts::{Pair, TestCa};
use super::*;
use crate::net::settings::{LocalName, NetSettings};

struct TempDir(PathBuf);
impl TempDir {
    fn new(tag: &str) -> TempDir {
        static N: std::sync::atomic::AtomicU32 = std::sync::atomic::AtomicU32::new(0);
        let n = N.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
        let p = std::env::temp_dir().join(format!("roost-tls-{tag}-{}-{n}", std::process::id()));
        let _ = std::fs::remove_dir_all(&p);
        std::fs::create_dir_all(&p).unwrap();
        TempDir(p)
    }
    fn write(&self, name: &str, text: &str) -> String {
        let p = self.0.join(name);
        std::fs::write(&p, text).unwrap();
        format!("<{}", p.display())
    }
}
impl Drop for TempDir {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}

fn settings_with(dir: &TempDir, pair: &Pair) -> NetSettings {
    NetSettings {
        ssl_cert: dir.write("cert.pem", &pair.cert_pem),
        ssl_key: dir.write("key.pem", &pair.key_pem),
        ..Default::default()
    }
}

fn client_config(
    ca_der: &[u8],
    versions: &[&'static rustls::SupportedProtocolVersion],
    client: Option<&Pair>,
) -> Arc<ClientConfig> {
    let mut roots = RootCertStore::empty();
    roots.add(CertificateDer::from(ca_der.to_vec())).unwrap();
    let b = ClientConfig::builder_with_provider(Arc::new(rustls::crypto::ring::default_provider()))
        .with_protocol_versions(versions)
        .unwrap()
        .with_root_certificates(roots);
    Arc::new(match client {
        None => b.with_no_client_auth(),
        Some(p) => b
            .with_client_auth_cert(
                vec![CertificateDer::from(p.cert_der.clone())],
                PrivateKeyDer::from_pem_slice(p.key_pem.as_bytes()).unwrap(),
            )
            .unwrap(),
    })
}

/// Runs one handshake: server side with `ctx`, client side with `cfg` asking for `name`.
/// Returns the server's result and the client's negotiated version and peer leaf certificate.
async fn run(
    ctx: &TlsContext,
    cfg: Arc<ClientConfig>,
    name: &str,
) -> (
    Result<Option<String>, String>,
    Result<(rustls::ProtocolVersion, Vec<u8>), String>,
) {
    let l = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = l.local_addr().unwrap();
    let acceptor = ctx.acceptor.clone();
    let server = tokio::spawn(async move {
        let (tcp, _) = l.accept().await.unwrap();
        let mut s = handshake(&acceptor, tcp, Duration::from_secs(5))
            .await
            .map_err(|e| e.to_string())?;
        let cn = peer_common_name(s.get_ref().1);
        let mut b = [0u8; 4];
        s.read_exact(&mut b).await.map_err(|e| e.to_string())?;
        s.write_all(b"PONG").await.map_err(|e| e.to_string())?;
        s.flush().await.map_err(|e| e.to_string())?;
        Ok::<_, String>(cn)
    });
    let client = async {
        let tcp = TcpStream::connect(addr).await.map_err(|e| e.to_string())?;
        let sn = ServerName::try_from(name.to_string()).unwrap();
        let mut s = TlsConnector::from(cfg)
            .connect(sn, tcp)
            .await
            .map_err(|e| e.to_string())?;
        s.write_all(b"PING").await.map_err(|e| e.to_string())?;
        let mut b = [0u8; 4];
        s.read_exact(&mut b).await.map_err(|e| e.to_string())?;
        assert_eq!(&b, b"PONG");
        let c = s.get_ref().1;
        let v = c.protocol_version().unwrap();
        let leaf = c.peer_certificates().unwrap()[0].to_vec();
        Ok::<_, String>((v, leaf))
    }
    .await;
    let server = tokio::time::timeout(Duration::from_secs(10), server)
        .await
        .expect("server task hung")
        .unwrap();
    (server, client)
}

#[tokio::test]
async fn tls12_and_tls13_complete_with_the_configured_certificate() {
    let ca = TestCa::new("Test CA");
    let srv = ca.server(&["localhost"]);
    let dir = TempDir::new("versions");
    let ctx = build(&settings_with(&dir, &srv), &dir.0).unwrap();
    for (v, want) in [
        (&rustls::version::TLS12, rustls::ProtocolVersion::TLSv1_2),
        (&rustls::version::TLS13, rustls::ProtocolVersion::TLSv1_3),
    ] {
        let (s, c) = run(&ctx, client_config(&ca.cert_der, &[v], None), "localhost").await;
        assert_eq!(s.unwrap(), None);
        let (got, leaf) = c.unwrap();
        assert_eq!(got, want);
        assert_eq!(leaf, srv.cert_der);
    }
}

#[tokio::test]
async fn sni_name_gets_its_local_name_certificate() {
    let ca = TestCa::new("Test CA");
    let default = ca.server(&["localhost"]);
    let mail = ca.server(&["mail.example.test"]);
    let dir = TempDir::new("sni");
    let mut net = settings_with(&dir, &default);
    net.local_name.insert(
        "mail.example.test imap.example.test".into(),
        LocalName {
            ssl_cert: dir.write("mail.pem", &mail.cert_pem),
            ssl_key: dir.write("mail.key", &mail.key_pem),
        },
    );
    let ctx = build(&net, &dir.0).unwrap();
    let cfg = client_config(&ca.cert_der, rustls::ALL_VERSIONS, None);
    let (_, c) = run(&ctx, cfg.clone(), "mail.example.test").await;
    assert_eq!(c.unwrap().1, mail.cert_der);
    let (_, c) = run(&ctx, cfg, "localhost").await;
    assert_eq!(c.unwrap().1, default.cert_der);
}

#[tokio::test]
async fn min_protocol_tls13_refuses_a_tls12_only_client() {
    let ca = TestCa::new("Test CA");
    let dir = TempDir::new("min13");
    let mut net = settings_with(&dir, &ca.server(&["localhost"]));
    net.ssl_min_protocol = "TLSv1.3".into();
    let ctx = build(&net, &dir.0).unwrap();
    let cfg = client_config(&ca.cert_der, &[&rustls::version::TLS12], None);
    let (s, c) = run(&ctx, cfg, "localhost").await;
    assert!(s.is_err() && c.is_err());
}

#[tokio::test]
async fn verified_client_certificate_gives_its_common_name_and_no_certificate_is_allowed() {
    let ca = TestCa::new("Test CA");
    let clients = TestCa::new("Client CA");
    let dir = TempDir::new("clientcert");
    let mut net = settings_with(&dir, &ca.server(&["localhost"]));
    net.ssl_verify_client_cert = true;
    net.ssl_client_ca_file = dir.write("clients.pem", &clients.cert_pem);
    let ctx = build(&net, &dir.0).unwrap();

    let alice = clients.client("alice@example.test");
    let cfg = client_config(&ca.cert_der, rustls::ALL_VERSIONS, Some(&alice));
    let (s, _) = run(&ctx, cfg, "localhost").await;
    assert_eq!(s.unwrap().as_deref(), Some("alice@example.test"));

    let cfg = client_config(&ca.cert_der, rustls::ALL_VERSIONS, None);
    let (s, c) = run(&ctx, cfg, "localhost").await;
    assert_eq!(s.unwrap(), None);
    assert!(c.is_ok());

    let stranger = TestCa::new("Other CA").client("mallory");
    let cfg = client_config(&ca.cert_der, rustls::ALL_VERSIONS, Some(&stranger));
    let (s, _) = run(&ctx, cfg, "localhost").await;
    assert!(
        s.is_err(),
        "a certificate from an unknown CA must fail the handshake"
    );
}

#[tokio::test]
async fn silent_client_times_out_the_handshake() {
    let ca = TestCa::new("Test CA");
    let dir = TempDir::new("timeout");
    let ctx = build(&settings_with(&dir, &ca.server(&["localhost"])), &dir.0).unwrap();
    let l = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let _client = TcpStream::connect(l.local_addr().unwrap()).await.unwrap();
    let (tcp, _) = l.accept().await.unwrap();
    let t0 = std::time::Instant::now();
    let e = handshake(&ctx.acceptor, tcp, Duration::from_millis(200))
        .await
        .err()
        .unwrap();
    assert_eq!(e.reason(), "tls_timeout");
    assert!(t0.elapsed() < Duration::from_secs(2));
}

#[tokio::test]
async fn empty_ssl_cert_uses_a_generated_self_signed_certificate() {
    let dir = TempDir::new("selfsigned");
    let ctx = build(&NetSettings::default(), &dir.0).unwrap();
    let cert = std::fs::read(dir.0.join(selfsigned::CERT_FILE)).unwrap();
    let der = CertificateDer::from_pem_slice(&cert).unwrap();
    // Trust the generated certificate itself, as `curl --cacert` would.
    let mut roots = RootCertStore::empty();
    roots.add(der.clone()).unwrap();
    let cfg = Arc::new(
        ClientConfig::builder_with_provider(Arc::new(rustls::crypto::ring::default_provider()))
            .with_safe_default_protocol_versions()
            .unwrap()
            .with_root_certificates(roots)
            .with_no_client_auth(),
    );
    let (s, c) = run(&ctx, cfg, "localhost").await;
    s.unwrap();
    assert_eq!(c.unwrap().1, der.to_vec());
}

#[test]
fn setting_errors_name_the_setting_and_file() {
    let ca = TestCa::new("Test CA");
    let dir = TempDir::new("errors");
    let a = ca.server(&["a"]);
    let b = ca.server(&["b"]);

    let mut net = settings_with(&dir, &a);
    net.ssl_key = dir.write("other.key", &b.key_pem);
    let e = build(&net, &dir.0).unwrap_err().to_string();
    assert!(e.starts_with("ssl_key:") && e.contains("other.key"), "{e}");

    let mut net = settings_with(&dir, &a);
    net.ssl_cert = "</nonexistent/roost/cert.pem".into();
    let e = build(&net, &dir.0).unwrap_err().to_string();
    assert!(
        e.contains("ssl_cert") && e.contains("/nonexistent/roost/cert.pem"),
        "{e}"
    );

    let mut net = settings_with(&dir, &a);
    net.ssl_min_protocol = "TLSv1".into();
    let e = build(&net, &dir.0).unwrap_err().to_string();
    assert!(
        e.starts_with("ssl_min_protocol:") && e.contains("TLSv1.2"),
        "{e}"
    );

    let mut net = settings_with(&dir, &a);
    net.ssl_key = String::new();
    let e = build(&net, &dir.0).unwrap_err().to_string();
    assert!(e.starts_with("ssl_key:"), "{e}");

    let mut net = settings_with(&dir, &a);
    net.ssl_cipher_list = "RC4-SHA".into();
    let e = build(&net, &dir.0).unwrap_err().to_string();
    assert!(e.starts_with("ssl_cipher_list:"), "{e}");
}

#[test]
fn prefer_server_ciphers_makes_the_server_order_win() {
    let ca = TestCa::new("Test CA");
    let dir = TempDir::new("prefer");
    let mut net = settings_with(&dir, &ca.server(&["localhost"]));
    assert!(!build(&net, &dir.0).unwrap().config.ignore_client_order);
    net.ssl_prefer_server_ciphers = true;
    assert!(build(&net, &dir.0).unwrap().config.ignore_client_order);
}
