//! The auth penalty per IP is anvil's, as in Dovecot: a failed IMAP login from 127.0.0.1
//! still delays that address's next login after a SIGHUP reload rebuilt the auth service
//! (anvil outlives reloads; a table kept by auth was lost with it).

mod common;

use std::io::{BufRead, BufReader, Write};
use std::net::TcpStream;
use std::time::{Duration, Instant};

use common::*;

fn login(stream: TcpStream, password: &str) -> (String, Duration) {
    stream
        .set_read_timeout(Some(Duration::from_secs(30)))
        .unwrap();
    let mut w = stream.try_clone().unwrap();
    let mut r = BufReader::new(stream);
    let mut greeting = String::new();
    r.read_line(&mut greeting).unwrap();
    assert!(greeting.starts_with("* OK"), "{greeting}");
    let started = Instant::now();
    write!(w, "a LOGIN bob {password}\r\n").unwrap();
    let mut line = String::new();
    while !line.starts_with("a ") {
        line.clear();
        assert!(r.read_line(&mut line).unwrap() > 0, "closed");
    }
    (line, started.elapsed())
}

#[test]
fn a_failed_login_still_delays_the_address_after_a_reload() {
    let m = MailServer::start("penalty", "");
    let (answer, _) = login(connect_port(m.imap), "wrong");
    assert!(answer.starts_with("a NO "), "{answer}");

    m.server.rewrite(&m.cfg);
    m.server.signal(Signal::SIGHUP);
    assert!(
        m.server
            .wait_log("configuration reloaded", Duration::from_secs(20)),
        "{}",
        m.server.log_text()
    );

    // Penalty 1 means a 4 s wait before the request is looked at.
    let (answer, took) = login(connect_port(m.imap), "bobpw");
    assert!(answer.starts_with("a OK "), "{answer}");
    assert!(took >= Duration::from_secs(3), "not delayed: {took:?}");
    // Another address has no penalty and logs in too.
    let (answer, _) = login(connect_from("127.0.0.2", m.imap), "bobpw");
    assert!(answer.starts_with("a OK "), "{answer}");
}
