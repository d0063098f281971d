//! Over-long command lines never run their tail as a command (roost issue 9 point 3), through
//! the real `roost serve` binary, with Dovecot 2.3's answers (checked against the reference
//! instance): LMTP answers `500 5.5.2 Line too long` once, discards the rest of the line and
//! goes on; pop3-login answers `-ERR Input buffer full, aborting` and closes; pop3 (after
//! login) answers `-ERR Input line too long.` and closes.

mod common;

use std::io::{Read, Write};
use std::net::TcpStream;
use std::time::Duration;

use common::{free_port, Server, TempDir};

struct Ports {
    _server: Server,
    _dir: TempDir,
    lmtp: u16,
    pop3: u16,
}

fn start(tag: &str) -> Ports {
    let dir = TempDir::new(&format!("{tag}-long"));
    let users = dir.0.join("users");
    std::fs::write(&users, "bob:{PLAIN}bobpw:1000:1000::/nonexistent\n").unwrap();
    let mail = dir.0.join("mail");
    let (lmtp, pop3) = (free_port(), free_port());
    let extra = format!(
        "protocols = [\"lmtp\", \"pop3\"]\nmail_location = \"maildir:{m}/%n\"\n\
hostname = \"mx.roost.test\"\nauth_mechanisms = \"plain\"\ndisable_plaintext_auth = \"no\"\n\n\
[[passdb]]\ndriver = \"passwd-file\"\nargs = \"{u}\"\n\n\
[[userdb]]\ndriver = \"passwd-file\"\nargs = \"{u}\"\n\n\
[service.lmtp.inet_listener.lmtp]\nport = {lmtp}\n\n\
[service.pop3-login.inet_listener.pop3]\nport = {pop3}\n\n\
[service.pop3-login.inet_listener.pop3s]\nport = 0\n",
        m = mail.display(),
        u = users.display()
    );
    Ports {
        _server: Server::start(tag, &extra),
        _dir: dir,
        lmtp,
        pop3,
    }
}

/// `NOOP ` + 16,379 × `X` (16 KiB) and then `tail` on the same line.
fn attack(tail: &[u8]) -> Vec<u8> {
    let mut v = b"NOOP ".to_vec();
    v.extend(std::iter::repeat_n(b'X', 16_379));
    v.extend_from_slice(tail);
    v
}

/// Sends `bytes`, then reads until `until` shows up or the connection closes (or 10 s pass).
fn exchange(c: &mut TcpStream, bytes: &[u8], until: &str) -> String {
    c.write_all(bytes).unwrap();
    let mut got = Vec::new();
    let mut buf = [0u8; 4096];
    c.set_read_timeout(Some(Duration::from_secs(10))).unwrap();
    while !String::from_utf8_lossy(&got).contains(until) {
        match c.read(&mut buf) {
            Ok(n) if n > 0 => got.extend_from_slice(&buf[..n]),
            _ => break,
        }
    }
    String::from_utf8_lossy(&got).into_owned()
}

#[test]
fn over_long_lines_run_no_command_from_their_tail() {
    let p = start("longlines");

    // LMTP: one error for the line, the QUIT at its end is not run, the session goes on.
    let mut c = TcpStream::connect(("127.0.0.1", p.lmtp)).unwrap();
    let greeting = exchange(&mut c, b"LHLO client.test\r\n", "\r\n250 ");
    assert!(greeting.starts_with("220 mx.roost.test"), "{greeting}");
    let got = exchange(&mut c, &attack(b"QUIT\r\nNOOP\r\n"), "250 2.0.0 OK");
    assert_eq!(got, "500 5.5.2 Line too long\r\n250 2.0.0 OK\r\n");

    // pop3-login: Dovecot's answer, then the connection closes; USER/PASS in the tail and
    // the line after it never run.
    let mut c = TcpStream::connect(("127.0.0.1", p.pop3)).unwrap();
    let got = exchange(
        &mut c,
        &attack(b"USER bob\r\nUSER bob\r\nPASS bobpw\r\n"),
        "<never>",
    );
    assert_eq!(
        got, "+OK Dovecot ready.\r\n-ERR Input buffer full, aborting\r\n",
        "pop3-login"
    );

    // pop3-login's edge is Dovecot's 1 KiB input buffer: a 1,024-byte USER line is read (and
    // the user refused as Dovecot refuses an unknown one later), 1,100 bytes are too many.
    let mut c = TcpStream::connect(("127.0.0.1", p.pop3)).unwrap();
    let mut line = b"USER ".to_vec();
    line.extend(std::iter::repeat_n(b'u', 1019));
    line.extend_from_slice(b"\r\n");
    let got = exchange(&mut c, &line, "\r\n+OK\r\n");
    assert_eq!(got, "+OK Dovecot ready.\r\n+OK\r\n", "1,024-byte USER line");
    let mut c = TcpStream::connect(("127.0.0.1", p.pop3)).unwrap();
    let mut line = b"USER ".to_vec();
    line.extend(std::iter::repeat_n(b'u', 1095));
    line.extend_from_slice(b"\r\n");
    let got = exchange(&mut c, &line, "<never>");
    assert_eq!(
        got, "+OK Dovecot ready.\r\n-ERR Input buffer full, aborting\r\n",
        "1,100-byte USER line"
    );

    // pop3 after login: `-ERR Input line too long.` and the end; no DELE from the tail.
    let mut c = TcpStream::connect(("127.0.0.1", p.pop3)).unwrap();
    let got = exchange(&mut c, b"USER bob\r\nPASS bobpw\r\n", "Logged in.");
    assert!(got.ends_with("+OK Logged in.\r\n"), "{got}");
    let got = exchange(&mut c, &attack(b"DELE 1\r\nQUIT\r\n"), "<never>");
    assert_eq!(got, "-ERR Input line too long.\r\n", "pop3");
}
