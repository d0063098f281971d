//! Tests of the IMAP codec that span its files: every command's parse, the receiver's limits
//! with Dovecot's texts, encoder output and round trips, and the property-based fuzzing.

mod commands;
mod encode;
mod fuzz;
mod limits;

use super::receiver::{Event, Receiver};
use super::{parse, Command, ParseError};

/// What a session would see, with message bytes gathered.
#[derive(Debug, PartialEq, Eq)]
pub(super) enum Seen {
    Literal(u64, bool),
    Message(u64, bool),
    Data(Vec<u8>),
    Command(Result<(String, Command), ParseError>),
    Error(Vec<u8>),
}

/// Feeds `input` in chunks of `chunk` bytes through a receiver with `limit`, like a session.
pub(super) fn run_chunked(input: &[u8], limit: usize, chunk: usize) -> Vec<Seen> {
    run_with(Receiver::new(limit), limit, input, chunk)
}

/// Like [`run_chunked`] with a given receiver that must hold at most `limit` bytes.
pub(super) fn run_with(mut rx: Receiver, limit: usize, input: &[u8], chunk: usize) -> Vec<Seen> {
    let mut seen = Vec::new();
    for piece in input.chunks(chunk.max(1)) {
        let mut pos = 0;
        loop {
            let (used, ev) = rx.receive(&piece[pos..]);
            pos += used;
            assert!(rx.buffered() <= limit, "receiver holds more than the limit");
            match ev {
                Event::NeedMore => break,
                Event::Literal { size, sync } => seen.push(Seen::Literal(size, sync)),
                Event::MessageStart { size, sync } => seen.push(Seen::Message(size, sync)),
                Event::MessageData(d) => match seen.last_mut() {
                    Some(Seen::Data(v)) => v.extend_from_slice(d),
                    _ => seen.push(Seen::Data(d.to_vec())),
                },
                Event::Command(f) => {
                    seen.push(Seen::Command(parse(&f).map(|t| (t.tag, t.command))))
                }
                Event::Error(e) => {
                    let fatal = e.is_fatal();
                    seen.push(Seen::Error(e.response()));
                    if fatal {
                        return seen;
                    }
                }
            }
            assert!(pos <= piece.len());
        }
        assert_eq!(pos, piece.len(), "input left unused after NeedMore");
    }
    seen
}

pub(super) fn run(input: &[u8]) -> Vec<Seen> {
    run_chunked(input, super::DEFAULT_MAX_LINE_LENGTH, input.len())
}

/// The single command `input` parses into (in one piece and byte by byte alike).
pub(super) fn cmd(input: &[u8]) -> Command {
    let whole = run(input);
    let bytewise = run_chunked(input, super::DEFAULT_MAX_LINE_LENGTH, 1);
    assert_eq!(whole, bytewise, "chunking changed the outcome");
    let commands: Vec<_> = whole
        .into_iter()
        .filter_map(|s| match s {
            Seen::Command(c) => Some(c),
            _ => None,
        })
        .collect();
    assert_eq!(commands.len(), 1, "{commands:?}");
    commands.into_iter().next().unwrap().expect("parses").1
}

/// The BAD line `input` gets.
pub(super) fn bad(input: &[u8]) -> String {
    match run(input).pop() {
        Some(Seen::Command(Err(e))) => String::from_utf8(e.response()).unwrap(),
        Some(Seen::Error(r)) => String::from_utf8(r).unwrap(),
        other => panic!("{other:?}"),
    }
}
