//! PROXY protocol on the real binary: Debian's haproxy with `send-proxy`, `send-proxy-v2` and
//! `send-proxy-v2-ssl` in front of a `haproxy = yes` listener, and refused headers (untrusted
//! peer, too slow, garbage) closed silently and counted in `/metrics`.

mod common;

use std::io::Write;
use std::process::{Child, Command, Stdio};
use std::time::Duration;

use common::*;
use roost::net::tls::devcerts::TestCa;
use tokio_rustls::rustls;

struct Haproxy(Child);

impl Drop for Haproxy {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

/// health-check behind a `haproxy = yes` listener trusted from 127.0.0.1.
fn start_roost(tag: &str) -> (Server, u16) {
    let proxied = free_port();
    let cfg = format!(
        r#"log_debug = true
haproxy_trusted_networks = "127.0.0.1"
haproxy_timeout = "1 s"
metrics_remote_ip = true

[service.health-check.inet_listener.proxied]
port = {proxied}
haproxy = true
"#
    );
    let server = Launch::new(tag).config(&cfg).ready_on(&[proxied]).start();
    (server, proxied)
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
    let (server, proxied) = start_roost("haproxy");
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
        assert!(
            wait_until(Duration::from_secs(10), || port_open(p)),
            "haproxy did not open {p}: {}",
            read_text(&dir.join("haproxy.err"))
        );
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
    let text = server.scrape();
    let proxied = "service=\"health-check\",listener=\"proxied\"";
    for version in ["v1", "v2"] {
        let labels = format!("{proxied},version=\"{version}\",command=\"proxy\"");
        let v = metric_value(&text, "roost_listener_proxy_accepted_total", &labels);
        assert!(v >= Some(1.0), "{labels}: {v:?}\n{text}");
    }
    // The original client addresses, not haproxy's, label the per-client counter.
    for rip in ["127.0.0.2", "127.0.0.3"] {
        let labels = format!("{proxied},remote_ip=\"{rip}\"");
        let v = metric_value(&text, "roost_service_client_connections_total", &labels);
        assert!(v >= Some(1.0), "{labels}: {v:?}\n{text}");
    }
}

#[test]
fn untrusted_slow_and_garbage_headers_are_closed_silently_and_counted() {
    let (server, proxied) = start_roost("refused");

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

    let text = server.scrape();
    for reason in ["untrusted", "timeout", "invalid"] {
        let labels = format!("service=\"health-check\",listener=\"proxied\",reason=\"{reason}\"");
        let v = metric_value(&text, "roost_listener_proxy_rejected_total", &labels);
        assert!(v >= Some(1.0), "{labels}: {v:?}\n{text}");
    }
    let log = server.log_text();
    assert!(log.contains("Client not trusted (rip=127.0.0.5)"), "{log}");
    assert!(!accepted_lines(&server, "198.51.100.9").is_empty(), "{log}");
}
