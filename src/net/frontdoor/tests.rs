//! The front door over real loopback sockets: PROXY then TLS, addresses rewritten, `secured`,
//! refusals counted.

use std::net::SocketAddr;
use std::path::PathBuf;
use std::sync::Arc;
use std::time::{Duration, Instant};

use proxy_header::{ProxiedAddress, ProxyHeader, SslInfo, Tlv};
use rustls_pki_types::{CertificateDer, ServerName};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;
use tokio_rustls::rustls::{self, ClientConfig, RootCertStore};

use super::*;
use crate::net::listener::BoundListener;
use crate::net::tls::devcerts::TestCa;
use crate::settings::Time;

struct Fixture {
    door: FrontDoor,
    ca: TestCa,
    dir: PathBuf,
}

impl Drop for Fixture {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.dir);
    }
}

fn fixture(trusted: &[&str], haproxy_timeout_ms: u64) -> Fixture {
    static N: std::sync::atomic::AtomicU32 = std::sync::atomic::AtomicU32::new(0);
    let n = N.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
    let dir = std::env::temp_dir().join(format!("roost-fd-{}-{n}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let ca = TestCa::new("Test CA");
    let srv = ca.server(&["localhost"]);
    std::fs::write(dir.join("c.pem"), &srv.cert_pem).unwrap();
    std::fs::write(dir.join("k.pem"), &srv.key_pem).unwrap();
    let mut s = Settings::default();
    s.core.base_dir = dir.clone();
    s.net.ssl_cert = format!("<{}", dir.join("c.pem").display());
    s.net.ssl_key = format!("<{}", dir.join("k.pem").display());
    s.net.haproxy_trusted_networks = trusted.iter().map(|s| s.to_string()).collect();
    s.net.haproxy_timeout = Time::from_millis(haproxy_timeout_ms);
    let mut door = FrontDoor::new(Arc::new(s)).unwrap();
    door.handshake_timeout = Duration::from_secs(2);
    Fixture { door, ca, dir }
}

fn spec(ssl: bool, haproxy: bool) -> ListenerSpec {
    ListenerSpec {
        service: "health-check".into(),
        name: "test".into(),
        kind: ListenerKind::Inet {
            addr: "127.0.0.1:0".parse().unwrap(),
            ssl,
            haproxy,
            reuse_port: false,
        },
    }
}

/// Binds, connects with `client`, and runs `open` on the accepted socket.
async fn open_with<F, Fut, T>(
    f: &Fixture,
    spec: ListenerSpec,
    client: F,
) -> (Result<Conn, Rejected>, T)
where
    F: FnOnce(SocketAddr) -> Fut,
    Fut: std::future::Future<Output = T>,
{
    let l = BoundListener::bind(spec.clone(), 16).unwrap();
    let addr = l.local_addr().unwrap();
    let server = async {
        let a = l.accept().await.unwrap();
        f.door.open(a, &spec).await
    };
    tokio::join!(server, client(addr))
}

fn client_tls(ca: &TestCa) -> tokio_rustls::TlsConnector {
    let mut roots = RootCertStore::empty();
    roots
        .add(CertificateDer::from(ca.cert_der.clone()))
        .unwrap();
    let cfg =
        ClientConfig::builder_with_provider(Arc::new(rustls::crypto::ring::default_provider()))
            .with_safe_default_protocol_versions()
            .unwrap()
            .with_root_certificates(roots)
            .with_no_client_auth();
    tokio_rustls::TlsConnector::from(Arc::new(cfg))
}

#[tokio::test]
async fn plain_loopback_connection_is_secured_with_real_addresses() {
    let f = fixture(&[], 3000);
    let (conn, _c) = open_with(&f, spec(false, false), |a| async move {
        TcpStream::connect(a).await.unwrap()
    })
    .await;
    let conn = conn.unwrap();
    assert!(conn.secured && !conn.tls);
    assert_eq!(conn.remote, conn.real_remote);
    assert_eq!(conn.remote.unwrap().ip().to_string(), "127.0.0.1");
    assert!(conn.starttls.is_some(), "STARTTLS acceptor is offered");
}

#[tokio::test]
async fn proxy_v1_then_tls_rewrites_addresses_and_keeps_the_real_ones() {
    let f = fixture(&["127.0.0.0/8"], 3000);
    let connector = client_tls(&f.ca);
    let (conn, client) = open_with(&f, spec(true, true), |a| async move {
        let mut tcp = TcpStream::connect(a).await.unwrap();
        // Header in two segments: Dovecot would refuse this; roost buffers.
        tcp.write_all(b"PROXY TCP4 198.51.100.7 192.0.2.1 ")
            .await
            .unwrap();
        tcp.flush().await.unwrap();
        tokio::time::sleep(Duration::from_millis(20)).await;
        tcp.write_all(b"51234 993\r\n").await.unwrap();
        let mut tls = connector
            .connect(ServerName::try_from("localhost").unwrap(), tcp)
            .await
            .unwrap();
        tls.write_all(b"PING\r\n").await.unwrap();
        tls.flush().await.unwrap();
        tls
    })
    .await;
    let mut conn = conn.unwrap();
    let _keep = client;
    assert_eq!(conn.remote, Some("198.51.100.7:51234".parse().unwrap()));
    assert_eq!(conn.local, Some("192.0.2.1:993".parse().unwrap()));
    assert_eq!(conn.real_remote.unwrap().ip().to_string(), "127.0.0.1");
    assert!(conn.tls && conn.secured);
    assert_eq!(conn.local_name.as_deref(), Some("localhost"));
    let mut b = [0u8; 6];
    conn.stream.read_exact(&mut b).await.unwrap();
    assert_eq!(&b, b"PING\r\n");
}

#[tokio::test]
async fn proxy_v2_ssl_tlv_marks_secured_and_bytes_after_the_header_reach_the_service() {
    let f = fixture(&["127.0.0.1"], 3000);
    let mut ssl = SslInfo::new(true, true, true, 0);
    ssl.append_tlv(Tlv::SslCn("alice".into()));
    let mut h = Vec::new();
    ProxyHeader::with_tlvs(
        Some(ProxiedAddress::stream(
            "198.51.100.7:40000".parse().unwrap(),
            "192.0.2.1:143".parse().unwrap(),
        )),
        [Tlv::Authority("imap.example.test".into()), Tlv::Ssl(ssl)],
    )
    .encode_v2(&mut h)
    .unwrap();
    h.extend_from_slice(b"a1 NOOP\r\n");
    let (conn, _c) = open_with(&f, spec(false, true), |a| async move {
        let mut tcp = TcpStream::connect(a).await.unwrap();
        tcp.write_all(&h).await.unwrap();
        tcp
    })
    .await;
    let mut conn = conn.unwrap();
    assert!(conn.secured && conn.tls);
    assert_eq!(conn.client_cert_cn.as_deref(), Some("alice"));
    assert_eq!(conn.local_name.as_deref(), Some("imap.example.test"));
    assert_eq!(conn.remote_ip(), "198.51.100.7");
    let mut b = [0u8; 9];
    conn.stream.read_exact(&mut b).await.unwrap();
    assert_eq!(&b, b"a1 NOOP\r\n");
}

#[tokio::test]
async fn proxied_client_without_tls_is_not_secured_even_from_loopback() {
    let f = fixture(&["127.0.0.1"], 3000);
    let (conn, _c) = open_with(&f, spec(false, true), |a| async move {
        let mut tcp = TcpStream::connect(a).await.unwrap();
        tcp.write_all(b"PROXY TCP4 127.0.0.1 127.0.0.1 5 143\r\n")
            .await
            .unwrap();
        tcp
    })
    .await;
    assert!(!conn.unwrap().secured);
}

#[tokio::test]
async fn v2_local_keeps_the_socket_addresses() {
    let f = fixture(&["127.0.0.1"], 3000);
    let mut h = Vec::new();
    ProxyHeader::with_local().encode_v2(&mut h).unwrap();
    let (conn, _c) = open_with(&f, spec(false, true), |a| async move {
        let mut tcp = TcpStream::connect(a).await.unwrap();
        tcp.write_all(&h).await.unwrap();
        tcp
    })
    .await;
    let conn = conn.unwrap();
    assert_eq!(conn.remote, conn.real_remote);
    assert!(conn.secured, "loopback to loopback");
}

fn rejected_reason(r: Result<Conn, Rejected>) -> &'static str {
    match r {
        Ok(_) => panic!("connection was accepted"),
        Err(e) => e.reason.as_str(),
    }
}

#[tokio::test]
async fn empty_trusted_networks_reject_every_peer() {
    let f = fixture(&[], 3000);
    let (conn, _c) = open_with(&f, spec(false, true), |a| async move {
        let mut tcp = TcpStream::connect(a).await.unwrap();
        tcp.write_all(b"PROXY UNKNOWN\r\n").await.unwrap();
        tcp
    })
    .await;
    assert_eq!(rejected_reason(conn), "untrusted");
}

#[tokio::test]
async fn garbage_and_slow_headers_are_refused() {
    let f = fixture(&["127.0.0.1"], 200);
    let (conn, _c) = open_with(&f, spec(false, true), |a| async move {
        let mut tcp = TcpStream::connect(a).await.unwrap();
        tcp.write_all(b"a1 LOGIN user pass\r\n").await.unwrap();
        tcp
    })
    .await;
    assert_eq!(rejected_reason(conn), "invalid");

    let t0 = Instant::now();
    let (conn, _c) = open_with(&f, spec(false, true), |a| async move {
        let mut tcp = TcpStream::connect(a).await.unwrap();
        tcp.write_all(b"PROXY TCP4 1.2.3.4").await.unwrap();
        tcp
    })
    .await;
    assert_eq!(rejected_reason(conn), "timeout");
    let took = t0.elapsed();
    assert!(
        took >= Duration::from_millis(190) && took < Duration::from_secs(2),
        "{took:?}"
    );
}

#[tokio::test]
async fn plaintext_on_an_ssl_listener_fails_the_handshake() {
    let f = fixture(&[], 3000);
    let (conn, _c) = open_with(&f, spec(true, false), |a| async move {
        let mut tcp = TcpStream::connect(a).await.unwrap();
        tcp.write_all(b"a1 CAPABILITY\r\n").await.unwrap();
        tcp
    })
    .await;
    assert_eq!(rejected_reason(conn), "tls_handshake");
}

#[test]
fn completed_handshakes_are_counted_by_version() {
    let recorder = metrics_exporter_prometheus::PrometheusBuilder::new().build_recorder();
    let handle = recorder.handle();
    metrics::with_local_recorder(&recorder, || {
        let rt = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .unwrap();
        rt.block_on(async {
            let f = fixture(&[], 3000);
            let connector = client_tls(&f.ca);
            let (conn, _c) = open_with(&f, spec(true, false), |a| async move {
                let tcp = TcpStream::connect(a).await.unwrap();
                connector
                    .connect(ServerName::try_from("localhost").unwrap(), tcp)
                    .await
                    .unwrap()
            })
            .await;
            assert!(conn.is_ok());
        });
    });
    let text = handle.render();
    assert!(
        text.contains(
            r#"roost_listener_tls_handshakes_total{service="health-check",listener="test",version="TLSv1.3"} 1"#
        ),
        "{text}"
    );
}

#[tokio::test]
async fn refusal_details_name_the_real_client_address() {
    let f = fixture(&["127.0.0.1"], 3000);
    let (conn, _c) = open_with(&f, spec(false, true), |a| async move {
        let mut tcp = TcpStream::connect(a).await.unwrap();
        tcp.write_all(b"GET / HTTP/1.0\r\n").await.unwrap();
        tcp
    })
    .await;
    let e = conn.err().unwrap();
    assert_eq!(e.reason, "invalid");
    assert!(
        e.detail.contains("rip=127.0.0.1") && e.detail.starts_with("haproxy:"),
        "{}",
        e.detail
    );
}

#[test]
fn global_ssl_no_builds_no_tls_and_bad_trusted_networks_are_an_error() {
    let mut s = Settings::default();
    s.core.ssl = crate::settings::WrappedSsl(SslMode::No);
    s.core.base_dir = "/nonexistent/roost".into();
    let door = FrontDoor::new(Arc::new(s.clone())).unwrap();
    assert!(door.tls().is_none());
    s.net.haproxy_trusted_networks = vec!["not-a-net".into()];
    let e = FrontDoor::new(Arc::new(s)).err().unwrap();
    assert!(e.to_string().contains("haproxy_trusted_networks"), "{e}");
}

#[tokio::test]
async fn starttls_upgrades_a_plain_connection_and_drops_pipelined_plaintext() {
    let f = fixture(&[], 3000);
    let connector = client_tls(&f.ca);
    let (conn, tcp) = open_with(&f, spec(false, false), |a| async move {
        let mut tcp = TcpStream::connect(a).await.unwrap();
        // Plaintext pipelined after the STARTTLS command must not reach the TLS layer.
        tcp.write_all(b"a1 STARTTLS\r\na2 INJECTED\r\n")
            .await
            .unwrap();
        tcp
    })
    .await;
    let mut conn = conn.unwrap();
    let mut line = [0u8; 13];
    conn.stream.read_exact(&mut line).await.unwrap();
    assert_eq!(&line, b"a1 STARTTLS\r\n");
    // The service has read ahead (as a line reader would) and hands the rest back.
    let mut ahead = [0u8; 13];
    conn.stream.read_exact(&mut ahead).await.unwrap();
    conn.stream.unread(&ahead);
    assert!(!conn.secured || conn.remote.unwrap().ip().is_loopback());
    let server = tokio::spawn(async move {
        let mut c = conn.starttls().await.unwrap();
        let mut b = [0u8; 4];
        c.stream.read_exact(&mut b).await.unwrap();
        (c, b)
    });
    let mut tls = connector
        .connect(ServerName::try_from("localhost").unwrap(), tcp)
        .await
        .unwrap();
    tls.write_all(b"PING").await.unwrap();
    tls.flush().await.unwrap();
    let (c, b) = server.await.unwrap();
    assert_eq!(&b, b"PING");
    assert!(c.tls && c.secured && c.stream.is_tls());
    assert_eq!(c.local_name.as_deref(), Some("localhost"));
    let again = c.starttls().await.err().unwrap();
    assert_eq!(again.kind(), std::io::ErrorKind::InvalidInput);
}

/// Random bytes at a `haproxy = yes` + `ssl = yes` listener: `open` never panics and always
/// ends within the PROXY timeout plus the handshake timeout.
#[test]
fn random_bytes_at_the_front_door_end_within_the_timeouts() {
    use proptest::prelude::*;
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap();
    let mut f = fixture(&["127.0.0.1"], 100);
    f.door.handshake_timeout = Duration::from_millis(200);
    let mut runner = proptest::test_runner::TestRunner::new(ProptestConfig::with_cases(48));
    let strategy = (
        any::<bool>(),
        any::<bool>(),
        proptest::collection::vec(any::<u8>(), 0..400),
    );
    runner
        .run(&strategy, |(haproxy, tls_prefix, tail)| {
            // Half the cases start like a real PROXY v2 header or a TLS record to get deeper.
            let mut bytes = Vec::new();
            if haproxy && tls_prefix {
                bytes.extend_from_slice(b"PROXY TCP4 127.0.0.1 127.0.0.1 1 2\r\n\x16\x03\x01");
            } else if tls_prefix {
                bytes.extend_from_slice(b"\x16\x03\x01\x00\x40\x01");
            }
            bytes.extend_from_slice(&tail);
            rt.block_on(async {
                let t0 = Instant::now();
                let (conn, _c) = open_with(&f, spec(true, haproxy), |a| async move {
                    let mut tcp = TcpStream::connect(a).await.unwrap();
                    let _ = tcp.write_all(&bytes).await;
                    tcp
                })
                .await;
                assert!(conn.is_err(), "random bytes must not produce a TLS session");
                assert!(t0.elapsed() < Duration::from_secs(2), "{:?}", t0.elapsed());
            });
            Ok(())
        })
        .unwrap();
}

#[tokio::test]
#[allow(clippy::async_yields_async)]
async fn proxy_header_and_client_hello_in_one_segment() {
    let f = fixture(&["127.0.0.1"], 3000);
    let ca_der = f.ca.cert_der.clone();
    let (conn, client) = open_with(&f, spec(true, true), |a| async move {
        // The blocking client runs on its own thread; its handle is awaited at the end.
        tokio::task::spawn_blocking(move || {
            use std::io::{Read, Write};
            let mut roots = RootCertStore::empty();
            roots.add(CertificateDer::from(ca_der)).unwrap();
            let cfg = ClientConfig::builder_with_provider(Arc::new(
                rustls::crypto::ring::default_provider(),
            ))
            .with_safe_default_protocol_versions()
            .unwrap()
            .with_root_certificates(roots)
            .with_no_client_auth();
            let mut c = rustls::ClientConnection::new(
                Arc::new(cfg),
                ServerName::try_from("localhost").unwrap(),
            )
            .unwrap();
            // The PROXY header and the ClientHello leave in a single write.
            let mut first = b"PROXY TCP6 2001:db8::7 2001:db8::1 40000 993\r\n".to_vec();
            c.write_tls(&mut first).unwrap();
            let mut sock = std::net::TcpStream::connect(a).unwrap();
            sock.write_all(&first).unwrap();
            while c.is_handshaking() {
                c.complete_io(&mut sock).unwrap();
            }
            let mut s = rustls::StreamOwned::new(c, sock);
            s.write_all(b"PING").unwrap();
            s.flush().unwrap();
            let mut b = [0u8; 4];
            s.read_exact(&mut b).unwrap();
            b
        })
    })
    .await;
    let mut conn = conn.unwrap();
    assert_eq!(conn.remote, Some("[2001:db8::7]:40000".parse().unwrap()));
    assert!(conn.tls && conn.secured);
    let mut b = [0u8; 4];
    conn.stream.read_exact(&mut b).await.unwrap();
    assert_eq!(&b, b"PING");
    conn.stream.write_all(b"PONG").await.unwrap();
    conn.stream.flush().await.unwrap();
    assert_eq!(&client.await.unwrap(), b"PONG");
}
