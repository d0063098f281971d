//! Roost's IMAP codec answers bad input the way Dovecot 2.3 does: the same bytes go to a
//! throw-away Dovecot over a real socket and through roost's receiver and parser, and the
//! first line each answers must be the same (Dovecot's timing suffix removed). Covers
//! over-long lines and literals before and after login, a 100 MB APPEND literal, and
//! unknown or malformed commands.

mod common;

use std::io::{Read, Write};
use std::net::TcpStream;
use std::path::Path;
use std::time::Duration;

use common::*;
use roost::protocol::imap::receiver::{Event, Receiver};
use roost::protocol::imap::{parse, DEFAULT_MAX_LINE_LENGTH};

/// A throw-away Dovecot (tests/common) without its auth failure delay, so failed logins in
/// the inputs answer at once.
struct Reference(Dovecot);

impl Reference {
    fn start(dir: &Path) -> Reference {
        Reference(Dovecot::start_with(dir, "auth_failure_delay = 0"))
    }

    /// A connection past the greeting; logged in and with INBOX selected if `login`.
    fn connect(&self, login: bool) -> TcpStream {
        let mut s = connect_port(self.0.imap_port);
        s.set_read_timeout(Some(Duration::from_secs(10))).unwrap();
        read_line(&mut s);
        if login {
            s.write_all(b"l LOGIN bob pass\r\n").unwrap();
            read_until_tag(&mut s, "l ");
            // Message 1 must exist, or FETCH 1 is an "Invalid messageset".
            s.write_all(b"p APPEND INBOX {9+}\r\nSubject: \r\n")
                .unwrap();
            read_until_tag(&mut s, "p ");
            s.write_all(b"s SELECT INBOX\r\n").unwrap();
            read_until_tag(&mut s, "s ");
        }
        s
    }
}

fn read_line(s: &mut TcpStream) -> String {
    let mut line = Vec::new();
    let mut b = [0u8; 1];
    while let Ok(1) = s.read(&mut b) {
        line.push(b[0]);
        if b[0] == b'\n' {
            break;
        }
    }
    String::from_utf8_lossy(&line).into_owned()
}

fn read_until_tag(s: &mut TcpStream, tag: &str) -> String {
    loop {
        let l = read_line(s);
        assert!(!l.is_empty(), "connection closed while waiting for {tag}");
        if l.starts_with(tag) {
            return l;
        }
    }
}

/// The first line that answers the input (untagged data such as `* OK [CLOSED]` skipped).
fn first_answer(s: &mut TcpStream) -> String {
    loop {
        let l = read_line(s);
        if !l.starts_with("* ") || l.starts_with("* BAD") || l.starts_with("* BYE") {
            return l;
        }
    }
}

/// Dovecot's line without its ` (0.001 + 0.000 secs)` timing.
fn untimed(line: &str) -> String {
    match (line.rfind(" ("), line.ends_with(" secs).\r\n")) {
        (Some(p), true) => format!("{}.\r\n", &line[..p]),
        _ => line.to_string(),
    }
}

/// The first line roost's codec would answer to `input`.
fn roost_answer(mut rx: Receiver, input: &[u8]) -> String {
    let mut pos = 0;
    loop {
        let (used, ev) = rx.receive(&input[pos..]);
        pos += used;
        match ev {
            Event::NeedMore => panic!("roost wants more input after {pos} bytes"),
            Event::Literal { sync: true, .. } | Event::MessageStart { sync: true, .. } => {
                return "+ OK\r\n".into()
            }
            Event::Literal { .. } | Event::MessageStart { .. } | Event::MessageData(_) => {}
            Event::Error(e) => return String::from_utf8(e.response()).unwrap(),
            Event::Command(frame) => {
                return match parse(&frame) {
                    Err(e) => String::from_utf8(e.response()).unwrap(),
                    Ok(t) => format!("parsed {}", t.command.name()),
                }
            }
        }
    }
}

fn repeat(prefix: &[u8], unit: &[u8], n: usize, suffix: &[u8]) -> Vec<u8> {
    let mut v = prefix.to_vec();
    for _ in 0..n {
        v.extend_from_slice(unit);
    }
    v.extend_from_slice(suffix);
    v
}

#[test]
fn roost_answers_bad_input_like_dovecot() {
    let dir = TempDir::new("imap-codec-dovecot");
    let dovecot = Reference::start(dir.path());
    dovecot.0.chown_mail();
    let after_login: Vec<Vec<u8>> = vec![
        repeat(b"b SELECT ", b"x", 70_000, b"\r\n"),
        repeat(b"b SELECT \"", b"x", 70_000, b"\"\r\n"),
        repeat(b"b STATUS INBOX (", b"MESSAGES ", 9000, b")\r\n"),
        repeat(b"", b"x", 70_000, b" NOOP\r\n"),
        b"b SELECT {65535}\r\n".to_vec(),
        b"b SELECT {70000+}\r\n".to_vec(),
        b"b SELECT {99999999999999999999}\r\n".to_vec(),
        b"b SELECT {60000}\r\n".to_vec(),
        b"b APPEND INBOX {104857600}\r\n".to_vec(),
        b"b SELECT {abc}\r\n".to_vec(),
        b"\r\n".to_vec(),
        b"b\r\n".to_vec(),
        b"b FOO\r\n".to_vec(),
        b"b UID FOO 1\r\n".to_vec(),
        b"b SELECT\r\n".to_vec(),
        b"b FETCH 1 (FOO)\r\n".to_vec(),
        b"b FETCH x FLAGS\r\n".to_vec(),
        b"b FETCH 1 BODY[FOO]\r\n".to_vec(),
        b"b SEARCH FOO\r\n".to_vec(),
        b"b SEARCH\r\n".to_vec(),
        b"b SEARCH BEFORE 1-Foo-2000\r\n".to_vec(),
        b"b SEARCH RETURN (FOO) ALL\r\n".to_vec(),
        b"b STORE 1 FOO (\\Seen)\r\n".to_vec(),
        b"b LIST (FOO) \"\" *\r\n".to_vec(),
        b"b LIST \"\" * RETURN (FOO)\r\n".to_vec(),
        b"b STATUS INBOX (FOO)\r\n".to_vec(),
        b"b STATUS INBOX ()\r\n".to_vec(),
    ];
    let before_login: Vec<Vec<u8>> = vec![
        repeat(b"b LOGIN ", b"x", 1030, b" y\r\n"),
        b"b LOGIN {8192}\r\n".to_vec(),
        b"b APPEND INBOX {104857600}\r\n".to_vec(),
        b"b LOGIN {8170}\r\n".to_vec(),
        b"b LOGIN {5}\r\n".to_vec(),
    ];
    let cases = after_login
        .iter()
        .map(|c| (true, c))
        .chain(before_login.iter().map(|c| (false, c)));
    for (login, input) in cases {
        let mut s = dovecot.connect(login);
        // A read error (reset after BYE) just ends what Dovecot said.
        let _ = s.write_all(input);
        let theirs = untimed(&first_answer(&mut s));
        let rx = if login {
            Receiver::new(DEFAULT_MAX_LINE_LENGTH)
        } else {
            Receiver::login()
        };
        let ours = roost_answer(rx, input);
        let shown = String::from_utf8_lossy(&input[..input.len().min(60)]);
        assert_eq!(ours, theirs, "input {shown:?} (logged in: {login})");
    }
}
