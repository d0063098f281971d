//! Immediate TLS on the real binary: openssl s_client and rustls clients, TLS 1.2 and 1.3, SNI,
//! SIGHUP certificate swap, HTTPS metrics with curl, `ssl = no` dropping ssl listeners.

mod common;

use std::io::Write;
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use common::*;
use roost::net::tls::devcerts::TestCa;
use tokio_rustls::rustls;

struct Tls {
    ca: TestCa,
    server: Server,
    plain: u16,
    tls: u16,
}

/// health-check with a plain and an `ssl = yes` listener; `mail.example.test` has its own cert.
fn start(tag: &str, extra: &str) -> Tls {
    let launch = Launch::new(tag);
    let dir = launch.dir().path();
    let ca = TestCa::new("roost test CA");
    let (c, k) = write_pair(dir, "default", &ca.server(&["localhost"]));
    let (mc, mk) = write_pair(dir, "mail", &ca.server(&["mail.example.test"]));
    let (plain, tls) = (free_port(), free_port());
    let cfg = format!(
        r#"ssl_cert = "{c}"
ssl_key = "{k}"
{extra}
[local_name."mail.example.test"]
ssl_cert = "{mc}"
ssl_key = "{mk}"

[service.health-check.inet_listener.plain]
port = {plain}

[service.health-check.inet_listener.tls]
port = {tls}
ssl = true
"#
    );
    let server = launch.config(&cfg).ready_on(&[plain, tls]).start();
    Tls {
        ca,
        server,
        plain,
        tls,
    }
}

fn s_client(port: u16, args: &[&str]) -> String {
    let openssl = require_tool("openssl");
    let mut child = Command::new(openssl)
        .args(["s_client", "-connect", &format!("127.0.0.1:{port}")])
        .args(args)
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    // Closing stdin ends s_client after the handshake.
    child.stdin.take().unwrap().write_all(b"").unwrap();
    let out = child.wait_with_output().unwrap();
    format!(
        "{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    )
}

#[test]
fn openssl_s_client_completes_tls12_and_tls13_and_sni_selects_the_local_name_certificate() {
    let t = start("sclient", "");
    let out = s_client(t.tls, &["-tls1_2", "-servername", "localhost"]);
    assert!(
        out.contains("Protocol  : TLSv1.2") || out.contains("TLSv1.2,"),
        "{out}"
    );
    assert!(
        out.contains("CN = localhost") || out.contains("CN=localhost"),
        "{out}"
    );
    let out = s_client(t.tls, &["-tls1_3", "-servername", "localhost"]);
    assert!(out.contains("TLSv1.3"), "{out}");
    let out = s_client(t.tls, &["-tls1_3", "-servername", "mail.example.test"]);
    assert!(
        out.contains("CN = mail.example.test") || out.contains("CN=mail.example.test"),
        "{out}"
    );
}

#[test]
fn rustls_client_pings_over_tls12_and_tls13_and_the_plain_listener_stays_plain() {
    let t = start("rustls", "");
    for v in [&rustls::version::TLS12, &rustls::version::TLS13] {
        let cfg = tls_client(&t.ca, &[v]);
        let tcp = connect_port(t.tls);
        let mut s = tls_connect(cfg, "localhost", tcp);
        ping(&mut s);
        assert_eq!(s.conn.protocol_version().unwrap(), v.version);
    }
    let mut plain = connect_port(t.plain);
    ping(&mut plain);
}

#[test]
fn sighup_swaps_the_certificate_for_new_handshakes_while_old_connections_continue() {
    let t = start("sighup", "shutdown_clients = false\n");
    let cfg = tls_client(&t.ca, rustls::ALL_VERSIONS);
    let tcp = connect_port(t.tls);
    let mut old = tls_connect(cfg.clone(), "localhost", tcp);
    ping(&mut old);
    let first = old.conn.peer_certificates().unwrap()[0].to_vec();

    // Replace the files behind ssl_cert/ssl_key, then SIGHUP.
    let renewed = t.ca.server(&["localhost", "renewed.example.test"]);
    write_pair(t.server.path(), "default", &renewed);
    t.server.signal(Signal::SIGHUP);

    let deadline = Instant::now() + Duration::from_secs(15);
    loop {
        let tcp = connect_port(t.tls);
        let mut s = tls_connect(cfg.clone(), "localhost", tcp);
        ping(&mut s);
        let leaf = s.conn.peer_certificates().unwrap()[0].to_vec();
        if leaf == renewed.cert_der {
            break;
        }
        assert_eq!(leaf, first);
        assert!(
            Instant::now() < deadline,
            "new handshakes never got the new certificate:\n{}",
            t.server.log_text()
        );
        std::thread::sleep(Duration::from_millis(100));
    }
    // The connection made before the reload still works.
    ping(&mut old);

    // A key that does not match: the reload is refused and the renewed certificate stays.
    let other = t.ca.server(&["localhost"]);
    std::fs::write(t.server.dir.join("default.key"), &other.key_pem).unwrap();
    t.server.signal(Signal::SIGHUP);
    assert!(
        t.server
            .wait_log("Config reload failed: ssl_key", Duration::from_secs(10)),
        "{}",
        t.server.log_text()
    );
    let tcp = connect_port(t.tls);
    let mut s = tls_connect(cfg, "localhost", tcp);
    ping(&mut s);
    assert_eq!(
        s.conn.peer_certificates().unwrap()[0].to_vec(),
        renewed.cert_der
    );
}

#[test]
fn curl_fetches_https_metrics_from_the_stats_http_listener() {
    let curl = require_tool("curl");
    // No ssl_cert: the self-signed certificate is generated in base_dir.
    let server = Launch::new("curl").metrics_tls().start();
    let port = server.metrics_port;
    let out = Command::new(curl)
        .args(["-sSk", "--max-time", "10"])
        .arg(format!("https://127.0.0.1:{port}/metrics"))
        .output()
        .unwrap();
    let body = String::from_utf8_lossy(&out.stdout);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(body.contains("roost_"), "{body}");
    assert!(server.base_dir.join("ssl-selfsigned-cert.pem").is_file());
    // Plain HTTP on the TLS port is refused.
    let out = Command::new(require_tool("curl"))
        .args(["-sS", "--max-time", "5"])
        .arg(format!("http://127.0.0.1:{port}/metrics"))
        .output()
        .unwrap();
    assert!(!out.status.success());
    drop(server);
}

#[test]
fn global_ssl_no_drops_ssl_listeners_and_port_zero_does_not_fail_start_up() {
    let (plain, tls) = (free_port(), free_port());
    let cfg = format!(
        r#"ssl = false
[service.health-check.inet_listener.plain]
port = {plain}
[service.health-check.inet_listener.tls]
port = {tls}
ssl = true
[service.health-check.inet_listener.off]
port = 0
"#
    );
    let server = Launch::new("sslno").config(&cfg).ready_on(&[plain]).start();
    let mut s = connect_port(plain);
    ping(&mut s);
    assert!(
        std::net::TcpStream::connect(("127.0.0.1", tls)).is_err(),
        "the ssl listener must not exist under ssl = no"
    );
    drop(server);
}
