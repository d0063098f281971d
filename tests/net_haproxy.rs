//! PROXY protocol on the real binary: Debian's haproxy with `send-proxy`, `send-proxy-v2` and
//! `send-proxy-v2-ssl` in front of a `haproxy = yes` listener, and refused headers (untrusted
//! peer, too slow, garbage) closed silently and counted in `/metrics`.

mod net_support;

use std::io::Write;
use std::process::{Child, Command, Stdio};
use std::time::Duration;

use net_support::*;
use roost::net::tls::devcerts::TestCa;
use tokio_rustls::rustls;

struct Haproxy(Child);

impl Drop for Haproxy {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

/// health-check behind a `haproxy = yes` listener trusted from 127.0.0.1, and plain metrics.
fn start_roost(tag: &str) -> (Server, u16, u16) {
    let dir = tempdir(tag);
    let (proxied, metrics) = (free_port(), free_port());
    let cfg = format!(
        r#"haproxy_trusted_networks = "127.0.0.1"
haproxy_timeout = "1 s"
metrics_remote_ip = true

[service.health-check.inet_listener.proxied]
port = {proxied}
haproxy = true

[service.stats.inet_listener.http]
port = {metrics}
"#
    );
    let server = Server::start(&dir, &cfg, &[proxied, metrics]);
    (server, proxied, metrics)
}

/// The "connection accepted" debug lines of listener `proxied` for client address `rip`.
fn accepted_lines(server: &Server, rip: &str) -> Vec<String> {
    server
        .log_text()
        .lines()
        .filter(|l| {
            l.contains("connection accepted")
                && l.contains("listener=proxied")
                && l.contains(&format!(" rip={rip} "))
        })
        .map(str::to_string)
        .collect()
}

#[test]
fn haproxy_send_proxy_v1_v2_and_v2_ssl_pass_the_original_client_address() {
    let haproxy_bin = require_tool("haproxy");
    let (server, proxied, metrics) = start_roost("haproxy");
    let dir = &server.dir;
    let ca = TestCa::new("haproxy test CA");
    let front = ca.server(&["localhost"]);
    let pem = dir.join("haproxy.pem");
    std::fs::write(&pem, format!("{}{}", front.cert_pem, front.key_pem)).unwrap();
    let (p1, p2, p3) = (free_port(), free_port(), free_port());
    let cfg = format!(
        r#"global
    maxconn 100
defaults
    mode tcp
    timeout connect 5s
    timeout client 30s
    timeout server 30s
frontend v1
    bind 127.0.0.1:{p1}
    default_backend v1
backend v1
    server roost 127.0.0.1:{proxied} send-proxy
frontend v2
    bind 127.0.0.1:{p2}
    default_backend v2
backend v2
    server roost 127.0.0.1:{proxied} send-proxy-v2
frontend v2ssl
    bind 127.0.0.1:{p3} ssl crt {pem}
    default_backend v2ssl
backend v2ssl
    server roost 127.0.0.1:{proxied} send-proxy-v2-ssl
"#,
        pem = pem.display()
    );
    let cfg_path = dir.join("haproxy.cfg");
    std::fs::write(&cfg_path, cfg).unwrap();
    let _h = Haproxy(
        Command::new(haproxy_bin)
            .args(["-db", "-f"])
            .arg(&cfg_path)
            .stdin(Stdio::null())
            .stdout(std::fs::File::create(dir.join("haproxy.out")).unwrap())
            .stderr(std::fs::File::create(dir.join("haproxy.err")).unwrap())
            .spawn()
            .expect("start haproxy"),
    );
    for p in [p1, p2, p3] {
        let deadline = std::time::Instant::now() + Duration::from_secs(10);
        while std::net::TcpStream::connect(("127.0.0.1", p)).is_err() {
            assert!(
                std::time::Instant::now() < deadline,
                "haproxy did not open {p}: {}",
                std::fs::read_to_string(dir.join("haproxy.err")).unwrap_or_default()
            );
            std::thread::sleep(Duration::from_millis(50));
        }
    }
    // The probes above reached roost as proxied connections from 127.0.0.1; from here on the
    // client is 127.0.0.2 and haproxy talks to roost from 127.0.0.1.
    let mut s = connect_from("127.0.0.2", p1);
    ping(&mut s);
    let mut s = connect_from("127.0.0.2", p2);
    ping(&mut s);
    assert!(server.wait_log(" rip=127.0.0.2 ", Duration::from_secs(5)));
    let plain = accepted_lines(&server, "127.0.0.2");
    assert!(plain.len() >= 2, "{}", server.log_text());
    assert!(
        plain
            .iter()
            .all(|l| l.contains("real_rip=127.0.0.1") && l.contains("secured=false")),
        "{plain:?}"
    );

    // TLS to haproxy, which tells roost with the SSL TLV: the session counts as secured.
    let tcp = connect_from("127.0.0.3", p3);
    let mut s = tls_connect(tls_client(&ca, rustls::ALL_VERSIONS), "localhost", tcp);
    ping(&mut s);
    let ssl = accepted_lines(&server, "127.0.0.3");
    assert!(
        ssl.iter()
            .any(|l| l.contains("secured=true") && l.contains("tls=true")),
        "{}",
        server.log_text()
    );
    // The accepted headers show in the metrics, by version.
    let text = http_get(metrics, "/metrics");
    for version in ["v1", "v2"] {
        let key = format!(
            "roost_listener_proxy_accepted_total{{service=\"health-check\",listener=\"proxied\",version=\"{version}\",command=\"proxy\"}}"
        );
        assert!(metric(&text, &key) >= 1.0, "{key} missing:\n{text}");
    }
    // The original client addresses, not haproxy's, label the per-client counter.
    for rip in ["127.0.0.2", "127.0.0.3"] {
        let key = format!(
            "roost_service_client_connections_total{{service=\"health-check\",listener=\"proxied\",remote_ip=\"{rip}\"}}"
        );
        assert!(metric(&text, &key) >= 1.0, "{key} missing:\n{text}");
    }
}

#[test]
fn untrusted_slow_and_garbage_headers_are_closed_silently_and_counted() {
    let (server, proxied, metrics) = start_roost("refused");

    // 127.0.0.5 is not in haproxy_trusted_networks.
    let mut s = connect_from("127.0.0.5", proxied);
    s.write_all(b"PROXY TCP4 198.51.100.7 192.0.2.1 1 2\r\nPING\n")
        .unwrap();
    assert_closed_silently(&mut s, Duration::from_secs(5));

    // A trusted peer that stops half-way through the header: closed after haproxy_timeout.
    let mut s = connect_from("127.0.0.1", proxied);
    s.write_all(b"PROXY TCP4 198.51").unwrap();
    let took = assert_closed_silently(&mut s, Duration::from_secs(5));
    assert!(took >= Duration::from_millis(800), "closed after {took:?}");

    // A client that speaks the protocol directly.
    let mut s = connect_from("127.0.0.1", proxied);
    s.write_all(b"PING\n").unwrap();
    assert_closed_silently(&mut s, Duration::from_secs(5));

    // A header split across segments is fine (Dovecot would refuse it).
    let mut s = connect_from("127.0.0.1", proxied);
    s.write_all(b"PROXY TCP4 198.51.100.9 ").unwrap();
    std::thread::sleep(Duration::from_millis(100));
    s.write_all(b"192.0.2.1 4000 143\r\n").unwrap();
    ping(&mut s);

    let text = http_get(metrics, "/metrics");
    for reason in ["untrusted", "timeout", "invalid"] {
        let key = format!(
            "roost_listener_proxy_rejected_total{{service=\"health-check\",listener=\"proxied\",reason=\"{reason}\"}}"
        );
        assert!(metric(&text, &key) >= 1.0, "{key} missing:\n{text}");
    }
    let log = server.log_text();
    assert!(log.contains("Client not trusted (rip=127.0.0.5)"), "{log}");
    assert!(!accepted_lines(&server, "198.51.100.9").is_empty(), "{log}");
}
