//! Per-connection limits of the auth-client socket on the real binary: a client that sends
//! 300,000 AUTH requests without finishing them is disconnected at the pending-request cap with
//! an error line and the server's memory stays bounded; a client that never reads its replies
//! stops being read, so the server does not buffer its replies without limit.

mod common;

use std::io::{BufRead, BufReader, ErrorKind, Write};
use std::os::unix::net::UnixStream;
use std::time::Duration;

use common::*;

/// `roost::service::auth::session::MAX_PENDING_REQUESTS`, as README's "Limits" documents it.
const MAX_PENDING: usize = 1000;

/// Bound documented in README ("Limits"): tens of MB; 64 MB leaves room for the allocator's
/// slack on a debug build.
const RSS_BOUND: u64 = 64 << 20;

fn start(tag: &str) -> Server {
    Server::start(
        tag,
        "auth_mechanisms = \"plain login\"\n\n[[passdb]]\ndriver = \"static\"\nargs = \"password=pw\"\n",
    )
}

/// Connects to auth-client, reads the greeting and sends the handshake.
fn handshake(server: &Server) -> (UnixStream, BufReader<UnixStream>) {
    let s = UnixStream::connect(server.base_dir.join("auth-client")).unwrap();
    s.set_read_timeout(Some(Duration::from_secs(30))).unwrap();
    let mut r = BufReader::new(s.try_clone().unwrap());
    let mut line = String::new();
    while line != "DONE\n" {
        line.clear();
        assert!(r.read_line(&mut line).unwrap() > 0, "greeting cut short");
    }
    let mut w = s;
    w.write_all(b"VERSION\t1\t2\nCPID\t4242\n").unwrap();
    (w, r)
}

#[test]
fn pending_auth_requests_are_capped_per_connection() {
    let server = start("auth-pending");
    let (mut w, mut r) = handshake(&server);
    // A reader thread drains the replies (so the cap, not output back-pressure, stops us) and
    // counts the CONTs: one per request that became pending.
    let reader = std::thread::spawn(move || {
        let mut conts = 0usize;
        let mut line = String::new();
        loop {
            line.clear();
            match r.read_line(&mut line) {
                Ok(0) | Err(_) => return conts,
                Ok(_) if line.starts_with("CONT\t") => conts += 1,
                Ok(_) => {}
            }
        }
    });
    let mut sent = 0usize;
    let mut batch = String::new();
    'send: for chunk in 0..300 {
        batch.clear();
        for i in 0..1000 {
            let id = chunk * 1000 + i + 1;
            batch.push_str(&format!("AUTH\t{id}\tPLAIN\tservice=smtp\n"));
        }
        match w.write_all(batch.as_bytes()) {
            Ok(()) => sent += 1000,
            Err(e) => {
                assert!(
                    matches!(e.kind(), ErrorKind::BrokenPipe | ErrorKind::ConnectionReset),
                    "{e}"
                );
                break 'send;
            }
        }
    }
    let conts = reader.join().unwrap();
    // The replies of the batch that hit the cap are dropped with the connection.
    assert!(
        conts > 0 && conts <= MAX_PENDING,
        "{conts} requests became pending before the server closed the connection"
    );
    assert!(
        sent < 300_000,
        "the server closed the connection before all 300,000 requests"
    );
    assert!(
        server.wait_log(
            "auth: Error: Authentication client 4242 sent too many requests: 1000 pending (limit 1000), disconnecting",
            Duration::from_secs(10)
        ),
        "{}",
        server.log_text()
    );
    let rss = rss_bytes(server.pid());
    eprintln!(
        "sent {sent} AUTH lines, {conts} CONTs, RSS {} KiB",
        rss >> 10
    );
    assert!(rss < RSS_BOUND, "RSS {} MB", rss >> 20);
    // The server still serves other connections.
    let (mut w, mut r) = handshake(&server);
    w.write_all(b"AUTH\t1\tPLAIN\tservice=smtp\tresp=AHUAcHc=\n")
        .unwrap();
    let mut line = String::new();
    r.read_line(&mut line).unwrap();
    assert_eq!(line, "OK\t1\tuser=u\n");
}

#[test]
fn a_client_that_never_reads_is_not_buffered_without_limit() {
    let server = start("auth-noread");
    let (mut w, _r) = handshake(&server);
    let before = rss_bytes(server.pid());
    // AUTH + CANCEL pairs: nothing stays pending, but every AUTH is answered with a CONT the
    // client never reads. Once the socket buffers are full the server must stop reading, so
    // our writes stop being accepted.
    w.set_nonblocking(true).unwrap();
    let mut written = 0usize;
    let mut blocked = false;
    let mut batch = Vec::new();
    for id in 1..=600_000u32 {
        batch.extend_from_slice(
            format!("AUTH\t{id}\tPLAIN\tservice=smtp\nCANCEL\t{id}\n").as_bytes(),
        );
        if batch.len() < 64 * 1024 {
            continue;
        }
        let mut off = 0;
        while off < batch.len() {
            match w.write(&batch[off..]) {
                Ok(n) => off += n,
                Err(e) if e.kind() == ErrorKind::WouldBlock => {
                    // Give the server time to drain what it can, then try once more.
                    std::thread::sleep(Duration::from_millis(500));
                    match w.write(&batch[off..]) {
                        Ok(n) => off += n,
                        Err(e) if e.kind() == ErrorKind::WouldBlock => {
                            blocked = true;
                            break;
                        }
                        Err(e) => panic!("{e}"),
                    }
                }
                Err(e) => panic!("{e}"),
            }
        }
        written += off;
        batch.clear();
        if blocked {
            break;
        }
    }
    assert!(
        blocked,
        "server kept reading {written} bytes it could not answer"
    );
    // 600,000 pairs would be about 28 MB of input and 9 MB of CONTs; the server stopped after
    // what fits in the socket buffers and one batch.
    assert!(written < 8 << 20, "server read {written} bytes");
    let after = rss_bytes(server.pid());
    eprintln!(
        "server read {written} bytes, RSS {} KiB before, {} KiB after",
        before >> 10,
        after >> 10
    );
    assert!(
        after < RSS_BOUND,
        "RSS {} MB (before {} MB)",
        after >> 20,
        before >> 20
    );
    // The same connection still works once the client reads.
    w.set_nonblocking(false).unwrap();
    drop(w);
}
