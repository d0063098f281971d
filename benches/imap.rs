//! IMAP codec cost: receiving and parsing typical client commands (a UID FETCH of headers, a
//! SEARCH, a LOGIN with literals), and streaming a 1 MiB APPEND message through the receiver
//! in 16 KiB reads.
//!
//! `cargo bench --bench imap`

use roost::protocol::imap::receiver::{Event, Receiver};
use roost::protocol::imap::{parse, DEFAULT_MAX_LINE_LENGTH};

fn main() {
    divan::main();
}

/// Receives and parses every command in `input`; returns how many were parsed.
fn receive_all(input: &[u8]) -> usize {
    let mut rx = Receiver::new(DEFAULT_MAX_LINE_LENGTH);
    let mut pos = 0;
    let mut n = 0;
    loop {
        let (used, ev) = rx.receive(&input[pos..]);
        pos += used;
        match ev {
            Event::NeedMore => return n,
            Event::Command(f) => {
                n += parse(&f).is_ok() as usize;
            }
            _ => {}
        }
    }
}

#[divan::bench]
fn uid_fetch_headers() -> usize {
    receive_all(divan::black_box(
        b"a1 UID FETCH 1:* (UID RFC822.SIZE FLAGS BODY.PEEK[HEADER.FIELDS (From To Cc Bcc Subject Date Message-ID Priority X-Priority References Newsgroups In-Reply-To Content-Type Reply-To)])\r\n",
    ))
}

#[divan::bench]
fn search() -> usize {
    receive_all(divan::black_box(
        b"a2 UID SEARCH RETURN (MIN COUNT) CHARSET UTF-8 OR FROM \"alice\" SUBJECT \"report\" SINCE 1-Feb-2024 NOT DELETED\r\n",
    ))
}

#[divan::bench]
fn login_with_literals() -> usize {
    receive_all(divan::black_box(b"a3 LOGIN {5+}\r\nuser1 {4+}\r\npass\r\n"))
}

#[divan::bench]
fn append_1mib_in_16kib_reads(bencher: divan::Bencher) {
    let mut input = b"a4 APPEND INBOX (\\Seen) {1048576+}\r\n".to_vec();
    input.extend(std::iter::repeat_n(b'x', 1 << 20));
    input.extend_from_slice(b"\r\n");
    bencher.bench(|| {
        let mut rx = Receiver::new(DEFAULT_MAX_LINE_LENGTH);
        let mut streamed = 0usize;
        for chunk in input.chunks(16 * 1024) {
            let mut pos = 0;
            loop {
                let (used, ev) = rx.receive(&chunk[pos..]);
                pos += used;
                match ev {
                    Event::NeedMore => break,
                    Event::MessageData(d) => streamed += d.len(),
                    Event::Command(f) => assert!(parse(&f).is_ok()),
                    _ => {}
                }
            }
        }
        streamed
    });
}
