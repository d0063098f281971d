//! Every buffer has a limit and every wait a deadline, on the real binary: a 300 MB line on
//! the control socket, and 1,000 idle or slow connections to `/metrics`, leave the server's
//! memory bounded and each offender gets an error or is closed.

mod common;

use std::io::{Read, Write};
use std::net::TcpStream;
use std::os::unix::net::UnixStream;
use std::time::{Duration, Instant};

use common::*;

/// Bound documented in README ("Limits"): the server stays within tens of MB under these
/// attacks; 64 MB leaves room for the allocator's slack on a debug build.
const RSS_BOUND: u64 = 64 << 20;

#[test]
fn control_socket_refuses_a_300_mb_line_without_buffering_it() {
    let s = Server::start("limits-control", "");
    let before = rss_bytes(s.pid());
    let mut c = UnixStream::connect(s.base_dir.join("master")).unwrap();
    c.set_read_timeout(Some(Duration::from_secs(10))).unwrap();
    c.set_write_timeout(Some(Duration::from_secs(10))).unwrap();
    c.write_all(b"VERSION\tmaster-client\t1\t0\n").unwrap();
    let chunk = vec![b'A'; 1 << 20];
    let mut sent = 0usize;
    while sent < 300 << 20 {
        match c.write(&chunk) {
            Ok(n) => sent += n,
            Err(_) => break,
        }
    }
    assert!(
        sent < 300 << 20,
        "the server kept reading a 300 MB line ({sent} bytes taken)"
    );
    let mut reply = Vec::new();
    let _ = c.read_to_end(&mut reply);
    let reply = String::from_utf8_lossy(&reply);
    assert!(
        reply.contains("-Line too long"),
        "no clear error for the over-long line: {reply:?}"
    );
    let after = rss_bytes(s.pid());
    assert!(
        after < before + RSS_BOUND,
        "RSS grew from {before} to {after} bytes"
    );
    // The control socket still works for the next client.
    let r = s.cli(&["ps"]);
    assert!(r.ok, "roost ps after the attack: {}", r.all());
}

#[test]
fn idle_and_slow_metrics_connections_are_closed_and_memory_stays_bounded() {
    let s = Server::start("limits-metrics", "");
    let before = rss_bytes(s.pid());
    // A request head over the size limit is refused at once.
    let mut big = TcpStream::connect(("127.0.0.1", s.metrics_port)).unwrap();
    big.set_read_timeout(Some(Duration::from_secs(10))).unwrap();
    let mut head = b"GET /metrics HTTP/1.1\r\nX-Big: ".to_vec();
    head.extend(std::iter::repeat_n(b'x', 64 * 1024));
    let _ = big.write_all(&head);
    let mut answer = String::new();
    let _ = big.read_to_string(&mut answer);
    assert!(
        answer.starts_with("HTTP/1.1 431"),
        "over-long head: {answer:?}"
    );
    // One connection that starts a head and never finishes it, and 999 that never send a
    // request: together they take every slot of stats (process_limit 1 × client_limit 1000).
    let mut slow = TcpStream::connect(("127.0.0.1", s.metrics_port)).unwrap();
    slow.set_read_timeout(Some(Duration::from_secs(45)))
        .unwrap();
    slow.write_all(b"GET /metrics HTTP/1.1\r\nX-Slow: ")
        .unwrap();
    let mut idle = Vec::new();
    for _ in 0..999 {
        let c = TcpStream::connect(("127.0.0.1", s.metrics_port)).unwrap();
        c.set_read_timeout(Some(Duration::from_secs(45))).unwrap();
        idle.push(c);
    }
    let held = Instant::now();
    while s.ps("stats").iter().map(|r| r.1).sum::<u32>() < 1000 {
        assert!(
            held.elapsed() < Duration::from_secs(15),
            "stats never held the 1,000 connections: {:?}",
            s.ps("stats")
        );
        std::thread::sleep(Duration::from_millis(100));
    }
    let during = rss_bytes(s.pid());
    assert!(
        during < before + RSS_BOUND,
        "RSS grew from {before} to {during} bytes with 1,000 idle connections"
    );
    // Every offender is closed by the request timeout (30 s), the slow one told so.
    let start = Instant::now();
    for (i, c) in idle.iter_mut().enumerate() {
        let mut b = [0u8; 64];
        match c.read(&mut b) {
            Ok(0) => {}
            Ok(n) => panic!(
                "idle connection {i} got data: {:?}",
                String::from_utf8_lossy(&b[..n])
            ),
            Err(e) => {
                let reset = e.kind() == std::io::ErrorKind::ConnectionReset;
                assert!(
                    reset,
                    "idle connection {i} still open after {:?}: {e}",
                    start.elapsed()
                );
            }
        }
    }
    let mut answer = String::new();
    let _ = slow.read_to_string(&mut answer);
    assert!(answer.starts_with("HTTP/1.1 408"), "slow head: {answer:?}");
    assert!(
        start.elapsed() < Duration::from_secs(40),
        "closing took {:?}",
        start.elapsed()
    );
    // Scrapes work again once the slots are free.
    assert!(http_get(s.metrics_port, "/metrics").contains("roost_"));
}
