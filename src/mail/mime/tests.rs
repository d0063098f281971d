//! Unit tests of the MIME library: section paths, part limits, size bounds and a property
//! test that arbitrary bytes never panic. `tests/mime_dovecot.rs` holds the byte-for-byte
//! comparison with Dovecot.

use proptest::prelude::*;

use super::*;

fn crlf(s: &str) -> Vec<u8> {
    s.replace('\n', "\r\n").into_bytes()
}

const NESTED: &str = "Content-Type: multipart/mixed; boundary=o

--o
Content-Type: text/plain

one
--o
Content-Type: message/rfc822

Subject: inner
Content-Type: multipart/alternative; boundary=i

--i
Content-Type: text/plain

two-one
--i
Content-Type: text/html

two-two
--i--
--o
Content-Type: message/rfc822

Subject: plain inner

three-body
--o--
";

#[test]
fn section_paths_nest_message_rfc822_parts_as_imap_defines() {
    let raw = crlf(NESTED);
    let m = scan(&raw);
    let paths = m.section_paths();
    let by_path = |p: &str| paths.iter().position(|x| x == p);
    for p in ["1", "2", "2.1", "2.2", "3", "3.1"] {
        let idx = by_path(p).unwrap_or_else(|| panic!("no part {p} in {paths:?}"));
        let path: Vec<u32> = p.split('.').map(|n| n.parse().unwrap()).collect();
        assert_eq!(m.find_part(&path), Some(idx), "find_part({p})");
    }
    let body = |p: &[u32]| m.section(p, &SectionText::Full).unwrap().into_owned();
    assert_eq!(body(&[1]), b"one");
    assert_eq!(body(&[2, 1]), b"two-one");
    assert_eq!(body(&[2, 2]), b"two-two");
    assert_eq!(body(&[3, 1]), b"three-body");
    assert_eq!(m.section(&[4], &SectionText::Full), None);
    assert_eq!(m.section(&[1, 1, 1], &SectionText::Full), None);
    let hdr = m.section(&[3], &SectionText::Header).unwrap();
    assert_eq!(&*hdr, b"Subject: plain inner\r\n\r\n");
    let mime = m.section(&[3], &SectionText::Mime).unwrap();
    assert_eq!(&*mime, b"Content-Type: message/rfc822\r\n\r\n");
    // HEADER of a part that is not message/rfc822 does not exist.
    assert_eq!(m.section(&[1], &SectionText::Header), None);
}

#[test]
fn byte_ranges_are_the_raw_header_and_body() {
    let raw = crlf(NESTED);
    let m = scan(&raw);
    let one = m.find_part(&[1]).unwrap();
    assert_eq!(
        &raw[m.parts[one].header.clone()],
        b"Content-Type: text/plain\r\n\r\n"
    );
    assert_eq!(&raw[m.parts[one].body.clone()], b"one");
    assert_eq!((m.body_size(one), m.body_lines(one)), (3, 0));
    let lf = NESTED.as_bytes();
    let m_lf = scan(lf);
    assert_eq!(m_lf.virtual_size(), raw.len() as u64);
    assert_eq!(m.virtual_size(), raw.len() as u64);
    assert_eq!(m.parts[0].body.end, raw.len());
    for p in &m.parts {
        assert!(p.header.start <= p.header.end && p.header.end <= p.body.start);
        assert!(p.body.start <= p.body.end && p.body.end <= raw.len());
    }
}

#[test]
fn ten_thousand_parts_stop_at_dovecots_part_limit() {
    let mut s = String::from("Content-Type: multipart/mixed; boundary=x\r\n\r\n");
    for i in 0..12_000 {
        s.push_str(&format!(
            "--x\r\nContent-Type: text/plain\r\n\r\npart {i}\r\n"
        ));
    }
    s.push_str("--x--\r\n");
    let m = scan(s.as_bytes());
    assert_eq!(m.parts.len(), MAX_TOTAL_MIME_PARTS);
    // The last part swallows the rest and is marked as cut off by the limit.
    let last = m.parts.last().unwrap();
    assert!(last.flags.has(Flags::OVERFLOW));
    assert!(m.raw[last.body.clone()].ends_with(b"part 11999\r\n--x--\r\n"));
    let bs = m.bodystructure();
    assert!(bs.starts_with(b"((\"text\" \"plain\""));
}

fn deep_multipart(depth: usize) -> Vec<u8> {
    // Boundaries `b<i>x` are not prefixes of each other (Dovecot matches prefixes).
    let mut s = String::from("Content-Type: multipart/mixed; boundary=b0x\r\n\r\n");
    for i in 1..depth {
        s.push_str(&format!(
            "--b{}x\r\nContent-Type: multipart/mixed; boundary=b{i}x\r\n\r\n",
            i - 1
        ));
    }
    s.push_str(&format!("--b{}x\r\n\r\nleaf\r\n", depth - 1));
    for i in (0..depth).rev() {
        s.push_str(&format!("--b{i}x--\r\n"));
    }
    s.into_bytes()
}

#[test]
fn thousand_deep_nesting_stops_at_depth_100_without_recursing() {
    let raw = deep_multipart(1_000);
    let m = scan(&raw);
    let max_depth = m.parts.iter().map(|p| p.depth).max().unwrap();
    assert_eq!(max_depth, MAX_NESTED_MIME_PARTS - 1);
    assert_eq!(m.parts.len(), MAX_NESTED_MIME_PARTS);
    assert!(m.parts.last().unwrap().flags.has(Flags::OVERFLOW));
    // Output recursion is bounded by the same depth.
    assert!(m.bodystructure().len() > 1_000);

    let mut s = String::new();
    for i in 0..1_000 {
        s.push_str(&format!(
            "Subject: {i}\r\nContent-Type: message/rfc822\r\n\r\n"
        ));
    }
    s.push_str("Subject: last\r\n\r\nbody\r\n");
    let m = scan(s.as_bytes());
    assert_eq!(
        m.parts.iter().map(|p| p.depth).max(),
        Some(MAX_NESTED_MIME_PARTS - 1)
    );
    assert!(m.parts.last().unwrap().flags.has(Flags::OVERFLOW));
    assert!(!m.envelope().to_imap().is_empty());
    assert!(!m.body().is_empty());
}

#[test]
fn fifty_megabyte_message_is_scanned_in_place() {
    let mut raw = crlf("Content-Type: multipart/mixed; boundary=big\n\n--big\nContent-Type: application/octet-stream\nContent-Transfer-Encoding: base64\n\n");
    let line = b"QUJDREVGR0hJSktMTU5PUFFSU1RVVldYWVphYmNkZWZnaGlqa2xtbm9wcXJzdHV2d3h5ejAx\r\n";
    while raw.len() < 50 * 1024 * 1024 {
        raw.extend_from_slice(line);
    }
    raw.extend_from_slice(b"--big--\r\n");
    let m = scan(&raw);
    assert_eq!(m.parts.len(), 2);
    let p = &m.parts[1];
    assert_eq!(p.body.end, raw.len() - b"\r\n--big--\r\n".len());
    // The section of a CRLF message is borrowed, not copied.
    let body = m.section(&[1], &SectionText::Full).unwrap();
    assert!(matches!(body, std::borrow::Cow::Borrowed(_)));
    assert_eq!(body.len(), p.body.len());
}

#[test]
fn header_search_decodes_encoded_words_and_ignores_case() {
    let raw = crlf("From: =?UTF-8?B?SsO2cmcgTcO8bGxlcg==?= <joerg@example.de>\nSubject: =?ISO-8859-1?Q?Caf=E9?=  au   lait\nX-Tag: Alpha\n\nDer Kaffee ist gut.\n");
    let m = scan(&raw);
    assert!(m.search_header("From", "jörg müller", HeaderKind::Address));
    assert!(m.search_header("FROM", "JOERG@EXAMPLE", HeaderKind::Address));
    assert!(m.search_header("Subject", "café au lait", HeaderKind::CompressLwsp));
    assert!(!m.search_header("Subject", "cafe", HeaderKind::CompressLwsp));
    assert!(m.search_header("X-Tag", "", HeaderKind::Plain));
    assert!(!m.search_header("X-Missing", "", HeaderKind::Plain));
    assert!(m.search_body("KAFFEE"));
    assert!(!m.search_body("alpha"));
    assert!(m.search_text("alpha"));
}

#[test]
fn body_search_undoes_transfer_encodings_and_latin1() {
    let raw = crlf("Content-Type: multipart/mixed; boundary=q\n\n--q\nContent-Type: text/plain; charset=iso-8859-1\nContent-Transfer-Encoding: quoted-printable\n\nK=E4se und Br=\not\n--q\nContent-Type: text/plain; charset=utf-8\nContent-Transfer-Encoding: base64\n\nR3LDvMOfZQ==\n--q\nContent-Type: application/octet-stream\nContent-Transfer-Encoding: base64\n\nc2VjcmV0\n--q--\n");
    let m = scan(&raw);
    assert!(m.search_body("käse und brot"));
    assert!(m.search_body("GRÜßE"));
    // Only text parts are searched.
    assert!(!m.search_body("secret"));
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(
        std::env::var("ROOST_MIME_FUZZ_CASES").ok().and_then(|v| v.parse().ok()).unwrap_or(512)
    ))]

    #[test]
    fn arbitrary_bytes_never_panic(raw in proptest::collection::vec(any::<u8>(), 0..2048)) {
        exercise(&raw);
    }

    #[test]
    fn mime_shaped_bytes_never_panic(pieces in proptest::collection::vec(prop_oneof![
        Just(&b"--b\r\n"[..]), Just(&b"--b--\r\n"[..]), Just(&b"--c\n"[..]), Just(&b"\r\n"[..]),
        Just(&b"\n"[..]), Just(&b"Content-Type: multipart/mixed; boundary=c\r\n"[..]),
        Just(&b"Content-Type: message/rfc822\r\n"[..]), Just(&b"Content-Type: multipart/digest; boundary=b\r\n"[..]),
        Just(&b"From: a <b@c>, g: x@y;, (c) \"q\\\" <@r:m@d>\r\n"[..]), Just(&b"Subject: =?utf-8?q?x_y?= z\r\n"[..]),
        Just(&b" folded\r\n"[..]), Just(&b"text\r"[..]), Just(&b"=?x?b?====?="[..]), Just(&b"\0"[..]),
        Just(&b"Content-Type: text/plain; a*0=x; a*1*=y; b*=z\r\n"[..]),
    ], 0..64)) {
        let mut raw = b"Content-Type: multipart/mixed; boundary=b\r\n\r\n".to_vec();
        for p in pieces {
            raw.extend_from_slice(p);
        }
        exercise(&raw);
    }
}

fn exercise(raw: &[u8]) {
    let m = scan(raw);
    for p in &m.parts {
        assert!(p.header.start <= p.header.end && p.header.end <= p.body.start);
        assert!(p.body.start <= p.body.end && p.body.end <= raw.len());
    }
    let _ = m.envelope().to_imap();
    let _ = m.bodystructure();
    let _ = m.body();
    let fields = ["From".to_string(), "Subject".to_string()];
    for path in m.section_paths() {
        let path: Vec<u32> = path.split('.').filter_map(|n| n.parse().ok()).collect();
        for t in [
            SectionText::Full,
            SectionText::Header,
            SectionText::Text,
            SectionText::Mime,
            SectionText::HeaderFields(&fields),
            SectionText::HeaderFieldsNot(&fields),
        ] {
            let _ = m.section(&path, &t);
        }
    }
    let _ = m.search_header("From", "a", HeaderKind::Address);
    let _ = m.search_header("Subject", "x y", HeaderKind::CompressLwsp);
    let _ = m.search_text("z");
}
