//! The HTTP/1.1 server under `/metrics` and the doveadm HTTP API (hyper, `net::http`) on the
//! real binary over raw sockets: keep-alive and pipelined requests on one connection, HEAD
//! with the GET's Content-Length and no body, HTTP/1.0 closing, chunked request bodies,
//! `Expect: 100-continue`, bodies over 1 MiB refused with 413 (declared or chunked), request
//! heads over 16 KiB with 431, wrong methods with 405; and the doveadm API behind a PROXY
//! header (`haproxy = yes`).

mod common;

use std::io::{BufRead, BufReader, Read, Write};
use std::net::TcpStream;
use std::time::Duration;

use common::*;

const KEY: &str = "k3y";

struct Answer {
    status: String,
    headers: Vec<(String, String)>,
    body: Vec<u8>,
}

impl Answer {
    fn header(&self, name: &str) -> Option<&str> {
        self.headers
            .iter()
            .find(|(n, _)| n.eq_ignore_ascii_case(name))
            .map(|(_, v)| v.as_str())
    }
}

fn connect(port: u16) -> BufReader<TcpStream> {
    let s = TcpStream::connect(("127.0.0.1", port)).unwrap();
    s.set_read_timeout(Some(Duration::from_secs(10))).unwrap();
    BufReader::new(s)
}

/// Reads one response (Content-Length bodies; none for HEAD and 1xx).
fn read_answer(r: &mut BufReader<TcpStream>, head_request: bool) -> Answer {
    let mut status = String::new();
    r.read_line(&mut status).unwrap();
    let mut headers = Vec::new();
    loop {
        let mut l = String::new();
        r.read_line(&mut l).unwrap();
        let l = l.trim_end();
        if l.is_empty() {
            break;
        }
        let (n, v) = l.split_once(':').unwrap();
        headers.push((n.to_string(), v.trim().to_string()));
    }
    let mut a = Answer {
        status: status.trim_end().to_string(),
        headers,
        body: Vec::new(),
    };
    if !head_request && !a.status.contains(" 100 ") {
        let len: usize = a.header("content-length").unwrap_or("0").parse().unwrap();
        a.body = vec![0; len];
        r.read_exact(&mut a.body).unwrap();
    }
    a
}

fn send(r: &mut BufReader<TcpStream>, bytes: &[u8]) {
    r.get_mut().write_all(bytes).unwrap();
}

fn closed(r: &mut BufReader<TcpStream>) -> bool {
    let mut b = [0u8; 1];
    matches!(r.read(&mut b), Ok(0))
}

fn start() -> (Server, u16) {
    let http = free_port();
    let s = Launch::new("http-server")
        .config(&format!(
            "doveadm_api_key = \"{KEY}\"\n[service.doveadm.inet_listener.http]\nport = {http}\n"
        ))
        .ready_on(&[http])
        .start();
    (s, http)
}

fn auth() -> String {
    use base64::Engine;
    format!(
        "Authorization: X-Dovecot-API {}\r\n",
        base64::engine::general_purpose::STANDARD.encode(KEY)
    )
}

#[test]
fn keep_alive_pipelining_head_and_http10_on_metrics() {
    let (s, _) = start();
    let mut c = connect(s.metrics_port);
    // Two requests one after the other, then two at once, on the same connection.
    for _ in 0..2 {
        send(&mut c, b"GET /metrics HTTP/1.1\r\nHost: x\r\n\r\n");
        let a = read_answer(&mut c, false);
        assert_eq!(a.status, "HTTP/1.1 200 OK");
        assert!(String::from_utf8_lossy(&a.body).contains("roost_build_info"));
    }
    send(
        &mut c,
        b"GET / HTTP/1.1\r\nHost: x\r\n\r\nHEAD / HTTP/1.1\r\nHost: x\r\n\r\n",
    );
    let get = read_answer(&mut c, false);
    let head = read_answer(&mut c, true);
    assert_eq!(
        (get.status.as_str(), head.status.as_str()),
        ("HTTP/1.1 200 OK", "HTTP/1.1 200 OK")
    );
    assert_eq!(
        head.header("content-length"),
        Some(get.body.len().to_string().as_str()),
        "HEAD carries the GET's length"
    );
    // No body followed the HEAD answer: the next answer starts right away.
    send(
        &mut c,
        b"POST /metrics HTTP/1.1\r\nHost: x\r\nContent-Length: 3\r\n\r\nabc",
    );
    let post = read_answer(&mut c, false);
    assert_eq!(post.status, "HTTP/1.1 405 Method Not Allowed");
    assert_eq!(post.header("allow"), Some("GET, HEAD"));
    send(
        &mut c,
        b"GET /nothing HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n",
    );
    assert_eq!(read_answer(&mut c, false).status, "HTTP/1.1 404 Not Found");
    assert!(closed(&mut c), "Connection: close is honoured");
    // HTTP/1.0 without keep-alive: answered and closed.
    let mut c = connect(s.metrics_port);
    send(&mut c, b"GET /metrics HTTP/1.0\r\n\r\n");
    let a = read_answer(&mut c, false);
    assert!(a.status.ends_with(" 200 OK"), "{}", a.status);
    assert!(closed(&mut c));
}

#[test]
fn chunked_and_continued_bodies_are_read_and_big_ones_refused() {
    let (_s, http) = start();
    let body = r#"[["who",{},"t"]]"#;
    // Chunked, in three chunks.
    let mut c = connect(http);
    let (a, b) = body.split_at(5);
    let (b, d) = b.split_at(4);
    let req = format!(
        "POST /doveadm/v1 HTTP/1.1\r\nHost: x\r\n{}Transfer-Encoding: chunked\r\n\r\n{:x}\r\n{a}\r\n{:x}\r\n{b}\r\n{:x}\r\n{d}\r\n0\r\n\r\n",
        auth(),
        a.len(),
        b.len(),
        d.len()
    );
    send(&mut c, req.as_bytes());
    let ans = read_answer(&mut c, false);
    assert_eq!(ans.status, "HTTP/1.1 200 OK");
    assert_eq!(ans.body, br#"[["doveadmResponse",[],"t"]]"#);
    // Expect: 100-continue: the interim answer, then the real one, same connection.
    let req = format!(
        "POST /doveadm/v1 HTTP/1.1\r\nHost: x\r\n{}Content-Length: {}\r\nExpect: 100-continue\r\n\r\n",
        auth(),
        body.len()
    );
    send(&mut c, req.as_bytes());
    assert_eq!(read_answer(&mut c, false).status, "HTTP/1.1 100 Continue");
    send(&mut c, body.as_bytes());
    assert_eq!(read_answer(&mut c, false).status, "HTTP/1.1 200 OK");
    // A declared 2 MiB body: 413 before it is sent, and the connection closes.
    let req = format!(
        "POST /doveadm/v1 HTTP/1.1\r\nHost: x\r\n{}Content-Length: {}\r\n\r\n",
        auth(),
        2 << 20
    );
    send(&mut c, req.as_bytes());
    assert_eq!(
        read_answer(&mut c, false).status,
        "HTTP/1.1 413 Payload Too Large"
    );
    assert!(closed(&mut c));
    // A chunked body growing past 1 MiB: 413.
    let mut c = connect(http);
    let req = format!(
        "POST /doveadm/v1 HTTP/1.1\r\nHost: x\r\n{}Transfer-Encoding: chunked\r\n\r\n",
        auth()
    );
    send(&mut c, req.as_bytes());
    let chunk = format!("{:x}\r\n{}\r\n", 64 << 10, "x".repeat(64 << 10));
    for _ in 0..20 {
        if c.get_mut().write_all(chunk.as_bytes()).is_err() {
            break;
        }
    }
    assert_eq!(
        read_answer(&mut c, false).status,
        "HTTP/1.1 413 Payload Too Large"
    );
    // A request head over 16 KiB: 431.
    let mut c = connect(http);
    let req = format!(
        "GET /doveadm/v1 HTTP/1.1\r\nX-Big: {}\r\n\r\n",
        "y".repeat(20 << 10)
    );
    let _ = c.get_mut().write_all(req.as_bytes());
    assert_eq!(
        read_answer(&mut c, false).status,
        "HTTP/1.1 431 Request Header Fields Too Large"
    );
}

/// The doveadm HTTP listener behind `haproxy = yes`: a request after a PROXY v1 header is
/// served, one without the header is refused by the front door.
#[test]
fn the_doveadm_api_works_behind_a_proxy_header() {
    let http = free_port();
    let _s = Launch::new("http-proxy")
        .config(&format!(
            "doveadm_api_key = \"{KEY}\"\nhaproxy_trusted_networks = \"127.0.0.1\"\n\
[service.doveadm.inet_listener.http]\nport = {http}\nhaproxy = true\n"
        ))
        .ready_on(&[http])
        .start();
    let body = r#"[["who",{},"p"]]"#;
    let request = format!(
        "POST /doveadm/v1 HTTP/1.1\r\nHost: x\r\n{}Content-Length: {}\r\n\r\n{body}",
        auth(),
        body.len()
    );
    let mut c = connect(http);
    send(&mut c, b"PROXY TCP4 192.0.2.9 127.0.0.1 5555 80\r\n");
    send(&mut c, request.as_bytes());
    let a = read_answer(&mut c, false);
    assert_eq!(a.status, "HTTP/1.1 200 OK");
    assert_eq!(a.body, br#"[["doveadmResponse",[],"p"]]"#);
    let mut c = connect(http);
    let _ = c.get_mut().write_all(request.as_bytes());
    let mut rest = Vec::new();
    let _ = c.read_to_end(&mut rest);
    assert!(
        !String::from_utf8_lossy(&rest).contains("200 OK"),
        "served without a PROXY header"
    );
}
