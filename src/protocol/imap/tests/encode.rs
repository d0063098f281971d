//! Response encoder output, byte for byte in the forms Dovecot sends, and round trips: what
//! the encoder writes as a string, the tokenizer reads back unchanged.

use crate::protocol::imap::command::{SeqNum, SeqRange, SequenceSet, StatusItem};
use crate::protocol::imap::parse::parse_seqset;
use crate::protocol::imap::receiver::Frame;
use crate::protocol::imap::response::*;
use crate::protocol::imap::token::{tokenize, Arg};

fn s(f: impl FnOnce(&mut Vec<u8>)) -> String {
    let mut out = Vec::new();
    f(&mut out);
    String::from_utf8(out).unwrap()
}

#[test]
fn status_lines_with_codes() {
    assert_eq!(
        s(|o| status(
            o,
            Some("a"),
            Status::Ok,
            Some(&Code::ReadWrite),
            "Select completed"
        )),
        "a OK [READ-WRITE] Select completed\r\n"
    );
    assert_eq!(
        s(|o| status(
            o,
            None,
            Status::Ok,
            Some(&Code::PermanentFlags(vec!["\\Seen".into(), "\\*".into()])),
            "Flags permitted."
        )),
        "* OK [PERMANENTFLAGS (\\Seen \\*)] Flags permitted.\r\n"
    );
    let uids = SequenceSet::Ranges(vec![SeqRange {
        start: SeqNum::Value(9),
        end: SeqNum::Value(9),
    }]);
    assert_eq!(
        s(|o| status(
            o,
            Some("b"),
            Status::Ok,
            Some(&Code::AppendUid {
                uid_validity: 1796018642,
                uids
            }),
            "Append completed."
        )),
        "b OK [APPENDUID 1796018642 9] Append completed.\r\n"
    );
    assert_eq!(
        s(|o| status(
            o,
            Some("c"),
            Status::Ok,
            Some(&Code::CopyUid {
                uid_validity: 7,
                source: parse_seqset("1:3").unwrap(),
                dest: parse_seqset("10:12").unwrap()
            }),
            "Moved"
        )),
        "c OK [COPYUID 7 1:3 10:12] Moved\r\n"
    );
    assert_eq!(
        s(|o| status(o, None, Status::Bye, None, "Logging out")),
        "* BYE Logging out\r\n"
    );
    assert_eq!(s(|o| continuation(o, "OK")), "+ OK\r\n");
    assert_eq!(
        s(|o| status(
            o,
            None,
            Status::Ok,
            Some(&Code::Capability(vec!["IMAP4rev1".into(), "IDLE".into()])),
            "ready."
        )),
        "* OK [CAPABILITY IMAP4rev1 IDLE] ready.\r\n"
    );
}

#[test]
fn untagged_data() {
    let enc = |u: Untagged| s(|o| u.encode(o));
    assert_eq!(
        enc(Untagged::Capability(vec!["IMAP4rev1", "LITERAL+"])),
        "* CAPABILITY IMAP4rev1 LITERAL+\r\n"
    );
    assert_eq!(enc(Untagged::Exists(13)), "* 13 EXISTS\r\n");
    assert_eq!(enc(Untagged::Recent(2)), "* 2 RECENT\r\n");
    assert_eq!(enc(Untagged::Expunge(4)), "* 4 EXPUNGE\r\n");
    assert_eq!(
        enc(Untagged::Flags(vec!["\\Answered".into(), "\\Seen".into()])),
        "* FLAGS (\\Answered \\Seen)\r\n"
    );
    assert_eq!(
        enc(Untagged::List(ListEntry {
            attributes: vec!["\\HasNoChildren", "\\Sent"],
            delimiter: Some('/'),
            mailbox: b"Sent Items",
            child_info_subscribed: false
        })),
        "* LIST (\\HasNoChildren \\Sent) \"/\" \"Sent Items\"\r\n"
    );
    assert_eq!(
        enc(Untagged::Lsub(ListEntry {
            attributes: vec![],
            delimiter: None,
            mailbox: b"INBOX",
            child_info_subscribed: true
        })),
        "* LSUB () NIL INBOX (CHILDINFO (\"SUBSCRIBED\"))\r\n"
    );
    assert_eq!(
        enc(Untagged::Status {
            mailbox: b"INBOX",
            items: vec![(StatusItem::Messages, 13), (StatusItem::Unseen, 2)]
        }),
        "* STATUS INBOX (MESSAGES 13 UNSEEN 2)\r\n"
    );
    assert_eq!(enc(Untagged::Search(vec![2, 5])), "* SEARCH 2 5\r\n");
    assert_eq!(enc(Untagged::Search(vec![])), "* SEARCH\r\n");
    assert_eq!(
        enc(Untagged::ESearch {
            tag: "a1",
            uid: true,
            min: Some(1),
            max: Some(9),
            count: Some(3),
            all: parse_seqset("1,5,9")
        }),
        "* ESEARCH (TAG \"a1\") UID MIN 1 MAX 9 COUNT 3 ALL 1,5,9\r\n"
    );
    assert_eq!(
        enc(Untagged::Fetch {
            seq: 3,
            items: vec![
                FetchValue::Uid(9),
                FetchValue::Flags(vec!["\\Seen".into()]),
                FetchValue::Rfc822Size(5),
                FetchValue::InternalDate("17-Jul-1996 02:44:25 -0700".into()),
                FetchValue::Section("BODY[]".into(), Some(b"hi\r\n")),
                FetchValue::Section("BODY[1.MIME]".into(), None),
                FetchValue::Raw("ENVELOPE", b"(NIL NIL NIL NIL NIL NIL NIL NIL NIL NIL)".to_vec()),
            ]
        }),
        "* 3 FETCH (UID 9 FLAGS (\\Seen) RFC822.SIZE 5 INTERNALDATE \"17-Jul-1996 02:44:25 -0700\" BODY[] {4}\r\nhi\r\n BODY[1.MIME] NIL ENVELOPE (NIL NIL NIL NIL NIL NIL NIL NIL NIL NIL))\r\n"
    );
    assert_eq!(
        enc(Untagged::Namespace([
            vec![("", Some('/'))],
            vec![],
            vec![("Shared/", Some('/'))]
        ])),
        "* NAMESPACE ((\"\" \"/\")) NIL ((\"Shared/\" \"/\"))\r\n"
    );
    assert_eq!(
        enc(Untagged::Enabled(vec!["CONDSTORE"])),
        "* ENABLED CONDSTORE\r\n"
    );
    assert_eq!(
        enc(Untagged::Id(Some(vec![
            ("name", Some("Dovecot")),
            ("x", None)
        ]))),
        "* ID (\"name\" \"Dovecot\" \"x\" NIL)\r\n"
    );
    assert_eq!(enc(Untagged::Id(None)), "* ID NIL\r\n");
}

fn reparse(encoded: &[u8]) -> Arg {
    let mut bytes = b"t X ".to_vec();
    bytes.extend_from_slice(encoded);
    bytes.extend_from_slice(b"\r\n");
    let line = tokenize(&Frame {
        bytes,
        streamed: vec![],
    })
    .unwrap();
    assert_eq!(line.args.len(), 1);
    line.args.into_iter().next().unwrap()
}

proptest::proptest! {
    #[test]
    fn astrings_round_trip(v in proptest::collection::vec(proptest::num::u8::ANY, 0..40)) {
        let mut out = Vec::new();
        astring(&mut out, &v);
        let back = reparse(&out);
        proptest::prop_assert_eq!(back.as_bytes(), Some(&v[..]));
    }

    #[test]
    fn sequence_sets_round_trip(parts in proptest::collection::vec((1u32..5000, proptest::option::of(0u32..5000)), 1..8)) {
        let text: Vec<String> = parts.iter().map(|(a, b)| match b {
            Some(0) => format!("{a}:*"),
            // `5:5` is the single number 5 and is written so.
            Some(b) if b == a => a.to_string(),
            Some(b) => format!("{a}:{b}"),
            None => a.to_string(),
        }).collect();
        let text = text.join(",");
        let set = parse_seqset(&text).unwrap();
        proptest::prop_assert_eq!(set.to_string(), text);
    }

    #[test]
    fn mailbox_names_round_trip_through_utf7_and_astring(name in "\\PC{1,20}") {
        use crate::protocol::imap::utf7;
        let wire = utf7::encode(&name);
        let mut out = Vec::new();
        astring(&mut out, wire.as_bytes());
        let back = reparse(&out);
        proptest::prop_assert_eq!(utf7::decode(back.as_bytes().unwrap()).unwrap(), name);
    }
}
