//! Property-based fuzzing of receiver + parser: on any bytes, cut into any chunks, with any
//! line limit, nothing panics, every input byte is used, and the receiver never holds more
//! than the limit. Inputs mix random bytes with IMAP fragments (literal markers, quotes,
//! lists, command names) so the interesting paths are reached.
//!
//! The case count is bounded for CI (256); `ROOST_IMAP_FUZZ_CASES=1000000 cargo test --lib
//! protocol::imap::tests::fuzz` runs a long session. (A nightly toolchain is installed but
//! cargo-fuzz is not; this keeps fuzzing on stable and in the normal test run.)

use proptest::prelude::*;

use super::run_chunked;
use crate::protocol::imap::receiver::Frame;

fn cases() -> u32 {
    std::env::var("ROOST_IMAP_FUZZ_CASES")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(256)
}

const FRAGMENTS: &[&[u8]] = &[
    b"a ",
    b"b1 ",
    b"APPEND ",
    b"INBOX ",
    b"UID ",
    b"FETCH ",
    b"SEARCH ",
    b"LIST ",
    b"STORE ",
    b"LOGIN ",
    b"STATUS ",
    b"SELECT ",
    b"RETURN ",
    b"(",
    b")",
    b"\"",
    b"\\",
    b" ",
    b"\r\n",
    b"\n",
    b"\r",
    b"{5}\r\n",
    b"{3+}\r\n",
    b"{0}\r\n",
    b"{70000}\r\n",
    b"{99999999999999999999}\r\n",
    b"{",
    b"}",
    b"+",
    b"NIL",
    b"BODY[",
    b"BODY.PEEK[HEADER.FIELDS (",
    b"]<0.10>",
    b"1:*",
    b"$",
    b"*",
    b"%",
    b"&AGE-",
    b"OR ",
    b"NOT ",
    b"\xff",
    b"\x00",
];

fn piece() -> impl Strategy<Value = Vec<u8>> {
    prop_oneof![
        3 => proptest::sample::select(FRAGMENTS).prop_map(|f| f.to_vec()),
        1 => proptest::collection::vec(any::<u8>(), 0..16),
        1 => (0usize..300).prop_map(|n| vec![b'x'; n]),
    ]
}

fn input() -> impl Strategy<Value = Vec<u8>> {
    proptest::collection::vec(piece(), 0..60).prop_map(|p| p.concat())
}

proptest! {
    #![proptest_config(ProptestConfig { cases: cases(), ..ProptestConfig::default() })]

    #[test]
    fn receiver_and_parser_never_panic_and_stay_bounded(
        data in input(),
        limit in 16usize..600,
        chunk in 1usize..64,
    ) {
        // run_chunked asserts the bound and that all input is used.
        let _ = run_chunked(&data, limit, chunk);
    }

    #[test]
    fn login_receiver_never_panics_and_stays_within_its_buffer(data in input(), chunk in 1usize..64) {
        let rx = crate::protocol::imap::receiver::Receiver::login();
        let _ = super::run_with(rx, crate::protocol::imap::receiver::LOGIN_MAX_INBUF_SIZE, &data, chunk);
    }

    #[test]
    fn chunking_never_changes_the_outcome(data in input(), chunk in 1usize..32) {
        let whole = run_chunked(&data, 256, data.len().max(1));
        let pieces = run_chunked(&data, 256, chunk);
        prop_assert_eq!(whole, pieces);
    }

    #[test]
    fn parser_alone_never_panics(data in input(), streamed in proptest::collection::vec(0usize..200, 0..3)) {
        let _ = crate::protocol::imap::parse(&Frame { bytes: data, streamed });
    }
}
