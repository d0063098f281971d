//! The receiver's bounds and the texts Dovecot 2.3 sends for them (observed on the reference
//! Dovecot, `imap_max_line_length = 64k`, after LOGIN): over-long lines are skipped and
//! answered BAD, literals that do not fit are refused with `* BYE` before any of their bytes
//! are read, APPEND messages are streamed whatever their size.

use super::{run, run_chunked, Seen};
use crate::protocol::imap::receiver::{Event, Receiver};
use crate::protocol::imap::Command;

const LIMIT: usize = 64 * 1024;

fn last_error(seen: &[Seen]) -> String {
    match seen.iter().rev().find(|s| matches!(s, Seen::Error(_))) {
        Some(Seen::Error(r)) => String::from_utf8(r.clone()).unwrap(),
        _ => panic!("no error in {seen:?}"),
    }
}

#[test]
fn one_argument_over_the_limit_is_too_long_argument() {
    let mut line = b"b SELECT ".to_vec();
    line.extend(std::iter::repeat_n(b'x', 70_000));
    line.extend_from_slice(b"\r\nc NOOP\r\n");
    let seen = run_chunked(&line, LIMIT, 4096);
    assert_eq!(
        last_error(&seen),
        "b BAD Error in IMAP command SELECT: Too long argument.\r\n"
    );
    // The connection goes on with the next command.
    assert_eq!(
        seen.last(),
        Some(&Seen::Command(Ok(("c".into(), Command::Noop))))
    );
    let mut quoted = b"b SELECT \"".to_vec();
    quoted.extend(std::iter::repeat_n(b'x', 70_000));
    quoted.extend_from_slice(b"\"\r\n");
    assert_eq!(
        last_error(&run_chunked(&quoted, LIMIT, 1000)),
        "b BAD Error in IMAP command SELECT: Too long argument.\r\n"
    );
}

#[test]
fn many_arguments_over_the_limit_are_line_too_large() {
    let mut line = b"b STATUS INBOX (".to_vec();
    for _ in 0..9000 {
        line.extend_from_slice(b"MESSAGES ");
    }
    line.extend_from_slice(b")\r\n");
    assert_eq!(
        last_error(&run_chunked(&line, LIMIT, 1500)),
        "b BAD Error in IMAP command STATUS: IMAP command line too large.\r\n"
    );
}

#[test]
fn a_long_tag_is_an_error_in_the_tag() {
    let mut line = vec![b'x'; 70_000];
    line.extend_from_slice(b" NOOP\r\n");
    assert_eq!(
        last_error(&run(&line)),
        "* BAD Error in IMAP tag: Too long argument.\r\n"
    );
}

#[test]
fn literals_that_do_not_fit_are_refused_before_reading() {
    // Dovecot: 65535 and 65536 are refused after "b SELECT ", 60000 gets "+ OK".
    for literal in [
        b"{65536}".as_slice(),
        b"{65535}",
        b"{70000+}",
        b"{99999999999999999999}",
    ] {
        let mut rx = Receiver::new(LIMIT);
        let mut input = b"b SELECT ".to_vec();
        input.extend_from_slice(literal);
        input.extend_from_slice(b"\r\n");
        let (used, ev) = rx.receive(&input);
        assert_eq!(used, input.len());
        let Event::Error(e) = ev else {
            panic!("{ev:?}")
        };
        assert!(e.is_fatal());
        assert_eq!(e.response(), b"* BYE Literal size too large\r\n");
        assert!(rx.buffered() == 0);
    }
    let mut rx = Receiver::new(LIMIT);
    assert_eq!(
        rx.receive(b"b SELECT {60000}\r\n"),
        (
            18,
            Event::Literal {
                size: 60000,
                sync: true
            }
        )
    );
}

#[test]
fn a_100_mb_append_is_streamed_not_buffered() {
    let mut rx = Receiver::new(LIMIT);
    let head = b"b APPEND INBOX {104857600}\r\n";
    assert_eq!(
        rx.receive(head),
        (
            head.len(),
            Event::MessageStart {
                size: 104_857_600,
                sync: true
            }
        )
    );
    let chunk = vec![b'a'; 1 << 20];
    let mut total = 0u64;
    for _ in 0..100 {
        let (used, ev) = rx.receive(&chunk);
        assert_eq!(used, chunk.len());
        assert_eq!(ev, Event::MessageData(&chunk[..]));
        total += used as u64;
        assert!(rx.buffered() <= LIMIT);
    }
    assert_eq!(total, 104_857_600);
    let (_, ev) = rx.receive(b"\r\n");
    let Event::Command(frame) = ev else {
        panic!("{ev:?}")
    };
    assert!(frame.bytes.len() < 64);
    let t = crate::protocol::imap::parse(&frame).unwrap();
    assert!(
        matches!(t.command, Command::Append { ref messages, .. } if messages[0].size == 104_857_600)
    );
    // LITERAL+ form: no continuation wanted.
    let mut rx = Receiver::new(LIMIT);
    assert_eq!(
        rx.receive(b"b APPEND INBOX {104857600+}\r\n").1,
        Event::MessageStart {
            size: 104_857_600,
            sync: false
        }
    );
}

#[test]
fn literal_markers_inside_quotes_or_atoms_are_not_literals() {
    assert_eq!(
        run(b"a LOGIN \"x {3}\" y\r\n"),
        vec![Seen::Command(Ok((
            "a".into(),
            Command::Login {
                username: b"x {3}".to_vec(),
                password: b"y".to_vec()
            }
        )))]
    );
    // `{3}` glued to an atom is not a literal; the tokenizer rejects the brace.
    assert_eq!(
        super::bad(b"a SELECT x{3}\r\n"),
        "a BAD Error in IMAP command SELECT: Invalid characters in atom.\r\n"
    );
}

fn login_run(input: &[u8]) -> Vec<Seen> {
    use crate::protocol::imap::receiver::LOGIN_MAX_INBUF_SIZE;
    super::run_with(Receiver::login(), LOGIN_MAX_INBUF_SIZE, input, 100)
}

#[test]
fn imap_login_ends_the_connection_when_its_buffer_fills() {
    // Dovecot imap-login: a 911-byte LOGIN is read, a 1041-byte one is not.
    let line = |n: usize| [b"b LOGIN ".as_slice(), &vec![b'x'; n], b" y\r\n"].concat();
    assert!(matches!(
        login_run(&line(900)).as_slice(),
        [Seen::Command(Ok(_))]
    ));
    assert_eq!(
        login_run(&line(1030)),
        vec![Seen::Error(
            b"* BYE Input buffer full, aborting\r\n".to_vec()
        )]
    );
    // A literal within the parser limit gets "+ OK"; its data then overflows the buffer.
    let seen = login_run(&[b"b LOGIN {2000}\r\n".as_slice(), &[b'x'; 2000], b" y\r\n"].concat());
    assert_eq!(
        seen,
        vec![
            Seen::Literal(2000, true),
            Seen::Error(b"* BYE Input buffer full, aborting\r\n".to_vec())
        ]
    );
    // 8170 fits the 8192-byte parser limit, 8192 does not; APPEND is not streamed pre-login.
    for (marker, ok) in [("{8170}", true), ("{8192}", false), ("{104857600}", false)] {
        let mut rx = Receiver::login();
        let input = format!("b APPEND {marker}\r\n");
        let (_, ev) = rx.receive(input.as_bytes());
        match ev {
            Event::Literal { sync: true, .. } => assert!(ok, "{marker}"),
            Event::Error(e) => {
                assert!(!ok, "{marker}");
                assert_eq!(e.response(), b"* BYE Literal size too large\r\n");
            }
            other => panic!("{other:?}"),
        }
    }
    let mut rx = Receiver::login();
    let (_, ev) = rx.receive(b"b APPEND INBOX {100}\r\n");
    assert_eq!(
        ev,
        Event::Literal {
            size: 100,
            sync: true
        }
    );
}

#[test]
fn lines_outside_the_grammar_come_as_frames() {
    // IDLE's DONE and an AUTHENTICATE response are plain lines.
    let mut rx = Receiver::new(LIMIT);
    let input = b"DONE\r\nAHVzZXIxAHBhc3M=\n";
    let (used, ev) = rx.receive(input);
    let Event::Command(f) = ev else {
        panic!("{ev:?}")
    };
    assert_eq!(f.line(), b"DONE");
    let (_, ev) = rx.receive(&input[used..]);
    let Event::Command(f) = ev else {
        panic!("{ev:?}")
    };
    assert_eq!(f.line(), b"AHVzZXIxAHBhc3M=");
}
