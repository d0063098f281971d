//! Front-door costs: PROXY header parsing (v1, v2 with TLVs) and full TLS handshakes (1.2 and
//! 1.3, ECDSA P-256 certificate) between in-memory rustls endpoints, so the figures are CPU per
//! handshake without socket noise (session resumption off: every handshake is a full one). Handshakes per second per core = 1 / the reported time.
//! Run with `cargo bench --bench net`.

use std::sync::Arc;

use proxy_header::{ProxiedAddress, ProxyHeader, SslInfo, Tlv};
use roost::net::proxy;
use roost::net::settings::NetSettings;
use roost::net::tls::{self, devcerts::TestCa};
use rustls_pki_types::{CertificateDer, ServerName};
use tokio_rustls::rustls::{self, ClientConfig, ClientConnection, RootCertStore, ServerConfig};

fn main() {
    divan::main();
}

#[divan::bench]
fn proxy_v1(b: divan::Bencher) {
    let h = b"PROXY TCP4 198.51.100.7 192.0.2.1 51234 143\r\n";
    b.bench(|| proxy::parse(divan::black_box(h)).unwrap().unwrap());
}

#[divan::bench]
fn proxy_v2_with_tlvs(b: divan::Bencher) {
    let mut ssl = SslInfo::new(true, false, false, 0);
    ssl.append_tlv(Tlv::SslVersion("TLSv1.3".into()));
    ssl.append_tlv(Tlv::SslCn("alice".into()));
    let mut h = Vec::new();
    ProxyHeader::with_tlvs(
        Some(ProxiedAddress::stream(
            "[2001:db8::7]:40000".parse().unwrap(),
            "[2001:db8::1]:993".parse().unwrap(),
        )),
        [Tlv::Authority("imap.example.test".into()), Tlv::Ssl(ssl)],
    )
    .encode_v2(&mut h)
    .unwrap();
    b.bench(|| proxy::parse(divan::black_box(&h)).unwrap().unwrap());
}

struct Endpoints {
    server: Arc<ServerConfig>,
    client12: Arc<ClientConfig>,
    client13: Arc<ClientConfig>,
}

fn endpoints() -> Endpoints {
    let ca = TestCa::new("bench CA");
    let pair = ca.server(&["localhost"]);
    let dir = std::env::temp_dir().join(format!("roost-bench-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    std::fs::write(dir.join("c.pem"), &pair.cert_pem).unwrap();
    std::fs::write(dir.join("k.pem"), &pair.key_pem).unwrap();
    let net = NetSettings {
        ssl_cert: format!("<{}", dir.join("c.pem").display()),
        ssl_key: format!("<{}", dir.join("k.pem").display()),
        ..Default::default()
    };
    let ctx = tls::build(&net, &dir).unwrap();
    let _ = std::fs::remove_dir_all(&dir);
    let client = |v: &'static rustls::SupportedProtocolVersion| {
        let mut roots = RootCertStore::empty();
        roots
            .add(CertificateDer::from(ca.cert_der.clone()))
            .unwrap();
        let mut cfg =
            ClientConfig::builder_with_provider(Arc::new(rustls::crypto::ring::default_provider()))
                .with_protocol_versions(&[v])
                .unwrap()
                .with_root_certificates(roots)
                .with_no_client_auth();
        // Full handshakes every time: no session resumption.
        cfg.resumption = rustls::client::Resumption::disabled();
        Arc::new(cfg)
    };
    Endpoints {
        server: ctx.config,
        client12: client(&rustls::version::TLS12),
        client13: client(&rustls::version::TLS13),
    }
}

/// One complete handshake between fresh connections, bytes moved in memory.
fn handshake(server: &Arc<ServerConfig>, client: &Arc<ClientConfig>) {
    let mut c =
        ClientConnection::new(client.clone(), ServerName::try_from("localhost").unwrap()).unwrap();
    let mut s = rustls::ServerConnection::new(server.clone()).unwrap();
    let mut buf = Vec::with_capacity(8192);
    while c.is_handshaking() || s.is_handshaking() {
        buf.clear();
        while c.wants_write() {
            c.write_tls(&mut buf).unwrap();
        }
        let mut rd = &buf[..];
        while !rd.is_empty() {
            s.read_tls(&mut rd).unwrap();
            s.process_new_packets().unwrap();
        }
        buf.clear();
        while s.wants_write() {
            s.write_tls(&mut buf).unwrap();
        }
        let mut rd = &buf[..];
        while !rd.is_empty() {
            c.read_tls(&mut rd).unwrap();
            c.process_new_packets().unwrap();
        }
    }
}

#[divan::bench(sample_count = 50)]
fn tls12_handshake(b: divan::Bencher) {
    let e = endpoints();
    b.bench(|| handshake(&e.server, &e.client12));
}

#[divan::bench(sample_count = 50)]
fn tls13_handshake(b: divan::Bencher) {
    let e = endpoints();
    b.bench(|| handshake(&e.server, &e.client13));
}
