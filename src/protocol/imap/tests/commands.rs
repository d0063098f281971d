//! Every RFC 3501 command and each extension's syntax parses into the expected value; known
//! bad inputs get the BAD text the reference Dovecot 2.3 sends (checked against it).

use super::{bad, cmd};
use crate::protocol::imap::command::*;

fn set(s: &str) -> SequenceSet {
    crate::protocol::imap::parse::parse_seqset(s).unwrap()
}

fn r(a: u32, b: u32) -> SeqRange {
    SeqRange {
        start: SeqNum::Value(a),
        end: SeqNum::Value(b),
    }
}

#[test]
fn any_state_commands() {
    assert_eq!(cmd(b"a CAPABILITY\r\n"), Command::Capability);
    assert_eq!(cmd(b"a noop\r\n"), Command::Noop);
    assert_eq!(cmd(b"a Logout\n"), Command::Logout);
}

#[test]
fn not_authenticated_commands_with_sasl_ir_and_literals() {
    assert_eq!(cmd(b"a STARTTLS\r\n"), Command::StartTls);
    assert_eq!(
        cmd(b"a AUTHENTICATE plain\r\n"),
        Command::Authenticate {
            mechanism: "PLAIN".into(),
            initial: None
        }
    );
    assert_eq!(
        cmd(b"a AUTHENTICATE PLAIN AHVzZXIAcGFzcw==\r\n"),
        Command::Authenticate {
            mechanism: "PLAIN".into(),
            initial: Some(b"AHVzZXIAcGFzcw==".to_vec())
        }
    );
    assert_eq!(
        cmd(b"a LOGIN user1 \"p a\\\"ss\"\r\n"),
        Command::Login {
            username: b"user1".to_vec(),
            password: b"p a\"ss".to_vec()
        }
    );
    // A synchronising and a LITERAL+ literal.
    assert_eq!(
        cmd(b"a LOGIN {5}\r\nuser1 {4+}\r\np\r\nw\r\n"),
        Command::Login {
            username: b"user1".to_vec(),
            password: b"p\r\nw".to_vec()
        }
    );
}

#[test]
fn authenticated_mailbox_commands() {
    let mb = |m: &str| m.as_bytes().to_vec();
    assert_eq!(
        cmd(b"a SELECT INBOX\r\n"),
        Command::Select {
            mailbox: mb("INBOX")
        }
    );
    assert_eq!(
        cmd(b"a EXAMINE \"Sent Items\"\r\n"),
        Command::Examine {
            mailbox: mb("Sent Items")
        }
    );
    assert_eq!(
        cmd(b"a CREATE Drafts\r\n"),
        Command::Create {
            mailbox: mb("Drafts"),
            special_use: vec![]
        }
    );
    assert_eq!(cmd(b"a DELETE x\r\n"), Command::Delete { mailbox: mb("x") });
    assert_eq!(
        cmd(b"a RENAME a b\r\n"),
        Command::Rename {
            from: mb("a"),
            to: mb("b")
        }
    );
    assert_eq!(
        cmd(b"a SUBSCRIBE x\r\n"),
        Command::Subscribe { mailbox: mb("x") }
    );
    assert_eq!(
        cmd(b"a UNSUBSCRIBE x\r\n"),
        Command::Unsubscribe { mailbox: mb("x") }
    );
    assert_eq!(
        cmd(b"a LSUB \"\" %\r\n"),
        Command::Lsub {
            reference: vec![],
            pattern: mb("%")
        }
    );
    assert_eq!(
        cmd(b"a STATUS INBOX (MESSAGES UIDNEXT UIDVALIDITY UNSEEN RECENT)\r\n"),
        Command::Status {
            mailbox: mb("INBOX"),
            items: vec![
                StatusItem::Messages,
                StatusItem::UidNext,
                StatusItem::UidValidity,
                StatusItem::Unseen,
                StatusItem::Recent
            ]
        }
    );
}

#[test]
fn plain_list() {
    assert_eq!(
        cmd(b"a LIST \"\" *\r\n"),
        Command::List(List {
            patterns: vec![b"*".to_vec()],
            ..List::default()
        })
    );
    assert_eq!(
        cmd(b"a LIST ~/Mail/ %\r\n"),
        Command::List(List {
            reference: b"~/Mail/".to_vec(),
            patterns: vec![b"%".to_vec()],
            ..List::default()
        })
    );
}

#[test]
fn list_extended_status_and_special_use() {
    let Command::List(l) = cmd(
        b"a LIST (SUBSCRIBED RECURSIVEMATCH) \"\" (INBOX \"Sent*\") RETURN (CHILDREN SPECIAL-USE STATUS (MESSAGES UNSEEN))\r\n",
    ) else {
        panic!()
    };
    assert_eq!(l.selection, vec!["SUBSCRIBED", "RECURSIVEMATCH"]);
    assert_eq!(l.patterns, vec![b"INBOX".to_vec(), b"Sent*".to_vec()]);
    assert!(l.extended && l.returns.children && l.returns.special_use);
    assert!(!l.returns.subscribed);
    assert_eq!(
        l.returns.status,
        Some(vec![StatusItem::Messages, StatusItem::Unseen])
    );
    let Command::List(l) = cmd(b"a list (special-use) \"\" *\r\n") else {
        panic!()
    };
    assert_eq!(l.selection, vec!["SPECIAL-USE"]);
    assert_eq!(
        cmd(b"a CREATE MySent (USE (\\Sent))\r\n"),
        Command::Create {
            mailbox: b"MySent".to_vec(),
            special_use: vec!["\\Sent".into()]
        }
    );
}

#[test]
fn append_streams_messages_and_keeps_flags_and_dates() {
    let seen = super::run(
        b"a APPEND INBOX (\\Seen) \" 7-Feb-1994 21:52:25 -0800\" {5}\r\nhello \"17-Jul-1996 02:44:25 -0700\" {3+}\r\nbye\r\n",
    );
    use super::Seen;
    assert_eq!(seen[0], Seen::Message(5, true));
    assert_eq!(seen[1], Seen::Data(b"hello".to_vec()));
    assert_eq!(seen[2], Seen::Message(3, false));
    assert_eq!(seen[3], Seen::Data(b"bye".to_vec()));
    let Seen::Command(Ok((tag, c))) = &seen[4] else {
        panic!("{seen:?}")
    };
    assert_eq!(tag, "a");
    assert_eq!(
        *c,
        Command::Append {
            mailbox: b"INBOX".to_vec(),
            messages: vec![
                AppendMessage {
                    flags: vec!["\\Seen".into()],
                    date: Some(" 7-Feb-1994 21:52:25 -0800".into()),
                    size: 5
                },
                AppendMessage {
                    flags: vec![],
                    date: Some("17-Jul-1996 02:44:25 -0700".into()),
                    size: 3
                }
            ]
        }
    );
    // The mailbox name itself is a bounded literal, not a message.
    let seen = super::run(b"a APPEND {5}\r\nINBOX {2}\r\nhi\r\n");
    assert_eq!(seen[0], Seen::Literal(5, true));
    assert_eq!(seen[1], Seen::Message(2, true));
}

#[test]
fn idle_namespace_enable_id_unselect() {
    assert_eq!(cmd(b"a IDLE\r\n"), Command::Idle);
    assert_eq!(cmd(b"a NAMESPACE\r\n"), Command::Namespace);
    assert_eq!(cmd(b"a UNSELECT\r\n"), Command::Unselect);
    assert_eq!(
        cmd(b"a ENABLE condstore utf8=accept\r\n"),
        Command::Enable {
            capabilities: vec!["CONDSTORE".into(), "UTF8=ACCEPT".into()]
        }
    );
    assert_eq!(cmd(b"a ID NIL\r\n"), Command::Id { fields: None });
    assert_eq!(
        cmd(b"a ID (\"name\" \"Thunderbird\" \"version\" NIL)\r\n"),
        Command::Id {
            fields: Some(vec![
                (b"name".to_vec(), Some(b"Thunderbird".to_vec())),
                (b"version".to_vec(), None)
            ])
        }
    );
}

#[test]
fn selected_state_commands() {
    assert_eq!(cmd(b"a CHECK\r\n"), Command::Check);
    assert_eq!(cmd(b"a CLOSE\r\n"), Command::Close);
    assert_eq!(cmd(b"a EXPUNGE\r\n"), Command::Expunge);
    assert_eq!(
        cmd(b"a UID EXPUNGE 3:5,9\r\n"),
        Command::UidExpunge {
            set: SequenceSet::Ranges(vec![r(3, 5), r(9, 9)])
        }
    );
    assert_eq!(
        cmd(b"a STORE 1:* +FLAGS.SILENT (\\Deleted $Junk)\r\n"),
        Command::Store {
            uid: false,
            set: SequenceSet::Ranges(vec![SeqRange {
                start: SeqNum::Value(1),
                end: SeqNum::Last
            }]),
            mode: StoreMode::Add,
            silent: true,
            flags: vec!["\\Deleted".into(), "$Junk".into()]
        }
    );
    assert_eq!(
        cmd(b"a UID STORE 4 -FLAGS \\Seen\r\n"),
        Command::Store {
            uid: true,
            set: set("4"),
            mode: StoreMode::Remove,
            silent: false,
            flags: vec!["\\Seen".into()]
        }
    );
    assert_eq!(
        cmd(b"a COPY 2:4 Archive\r\n"),
        Command::Copy {
            uid: false,
            set: set("2:4"),
            mailbox: b"Archive".to_vec()
        }
    );
    assert_eq!(
        cmd(b"a UID MOVE $ Trash\r\n"),
        Command::Move {
            uid: true,
            set: SequenceSet::Saved,
            mailbox: b"Trash".to_vec()
        }
    );
    assert_eq!(
        cmd(b"a MOVE 1 Trash\r\n"),
        Command::Move {
            uid: false,
            set: set("1"),
            mailbox: b"Trash".to_vec()
        }
    );
}

#[test]
fn fetch_items_macros_and_sections() {
    use FetchAttr::*;
    let items = |c: Command| match c {
        Command::Fetch { items, .. } => items,
        other => panic!("{other:?}"),
    };
    let all = items(cmd(b"a FETCH 1 all\r\n"));
    assert_eq!(all.macro_used, Some("ALL"));
    assert_eq!(all.items, vec![Flags, InternalDate, Rfc822Size, Envelope]);
    assert_eq!(items(cmd(b"a FETCH 1 FAST\r\n")).items.len(), 3);
    assert_eq!(items(cmd(b"a FETCH 1 FULL\r\n")).items.len(), 5);
    assert_eq!(items(cmd(b"a FETCH 1 UID\r\n")).items, vec![Uid]);
    let got = items(cmd(
        b"a UID FETCH 1:* (FLAGS RFC822 RFC822.HEADER RFC822.TEXT RFC822.SIZE BODY BODYSTRUCTURE ENVELOPE INTERNALDATE BODY[] BODY.PEEK[1.2.MIME]<0.100> BODY[HEADER.FIELDS (From to)] BODY.PEEK[2.HEADER.FIELDS.NOT (X-Spam)]<5.10> BODY[TEXT] BODY[1.HEADER])\r\n",
    ));
    let sec = |peek, part: Vec<u32>, text, partial| BodySection {
        peek,
        section: Section { part, text },
        partial,
    };
    assert_eq!(
        got.items,
        vec![
            Flags,
            Rfc822,
            Rfc822Header,
            Rfc822Text,
            Rfc822Size,
            Body,
            BodyStructure,
            Envelope,
            InternalDate,
            sec(false, vec![], None, None),
            sec(true, vec![1, 2], Some(SectionText::Mime), Some((0, 100))),
            sec(
                false,
                vec![],
                Some(SectionText::HeaderFields(vec!["FROM".into(), "TO".into()])),
                None
            ),
            sec(
                true,
                vec![2],
                Some(SectionText::HeaderFieldsNot(vec!["X-SPAM".into()])),
                Some((5, 10))
            ),
            sec(false, vec![], Some(SectionText::Text), None),
            sec(false, vec![1], Some(SectionText::Header), None),
        ]
    );
    assert!(matches!(
        cmd(b"a UID FETCH 5 BODY.PEEK[HEADER.FIELDS (Subject)]\r\n"),
        Command::Fetch { uid: true, .. }
    ));
}

#[test]
fn search_keys_esearch_searchres_and_within() {
    let s = |b: &[u8]| match cmd(b) {
        Command::Search(s) => s,
        other => panic!("{other:?}"),
    };
    let plain = s(b"a SEARCH FLAGGED SINCE 1-Feb-1994 NOT FROM \"Smith\"\r\n");
    assert_eq!(plain.returns, None);
    assert_eq!(
        plain.keys,
        vec![
            SearchKey::Flagged,
            SearchKey::Since(Date {
                year: 1994,
                month: 2,
                day: 1
            }),
            SearchKey::Not(Box::new(SearchKey::From(b"Smith".to_vec())))
        ]
    );
    let all_keys = s(b"a UID SEARCH CHARSET UTF-8 ALL ANSWERED BCC b BEFORE 1-Jan-2000 BODY x CC c DELETED DRAFT FROM f HEADER X-A v KEYWORD $k LARGER 10 NEW OLD ON 2-Mar-2001 OR SEEN RECENT SENTBEFORE 1-Jan-2000 SENTON 1-Jan-2000 SENTSINCE 1-Jan-2000 SMALLER 5 SUBJECT s TEXT t TO t UID 1:3 UNANSWERED UNDELETED UNDRAFT UNFLAGGED UNKEYWORD $k UNSEEN 1,3:* (SEEN FLAGGED) OLDER 3600 YOUNGER 60 $\r\n");
    assert!(all_keys.uid);
    assert_eq!(all_keys.charset.as_deref(), Some("UTF-8"));
    assert_eq!(all_keys.keys.len(), 35);
    assert_eq!(all_keys.keys[32], SearchKey::Older(3600));
    assert_eq!(all_keys.keys[33], SearchKey::Younger(60));
    assert_eq!(
        all_keys.keys[34],
        SearchKey::SequenceSet(SequenceSet::Saved)
    );
    assert_eq!(
        all_keys.keys[15],
        SearchKey::Or(Box::new(SearchKey::Seen), Box::new(SearchKey::Recent))
    );
    assert_eq!(
        all_keys.keys[31],
        SearchKey::And(vec![SearchKey::Seen, SearchKey::Flagged])
    );
    let e = s(b"a SEARCH RETURN (MIN MAX COUNT ALL SAVE) UNSEEN\r\n");
    assert_eq!(
        e.returns,
        Some(vec![
            SearchReturn::Min,
            SearchReturn::Max,
            SearchReturn::Count,
            SearchReturn::All,
            SearchReturn::Save
        ])
    );
    assert_eq!(s(b"a SEARCH RETURN () ALL\r\n").returns, Some(vec![]));
}

#[test]
fn bad_commands_get_dovecots_texts() {
    assert_eq!(bad(b"\r\n"), "* BAD Error in IMAP tag: Invalid tag.\r\n");
    assert_eq!(
        bad(b"b\r\n"),
        "b BAD Error in IMAP command: Invalid command name.\r\n"
    );
    assert_eq!(
        bad(b"b FOO\r\n"),
        "b BAD Error in IMAP command FOO: Unknown command.\r\n"
    );
    assert_eq!(
        bad(b"u1 UID FOO 1\r\n"),
        "u1 BAD Error in IMAP command UID FOO: Unknown command.\r\n"
    );
    assert_eq!(
        bad(b"b SELECT\r\n"),
        "b BAD Error in IMAP command SELECT: Invalid arguments.\r\n"
    );
    assert_eq!(
        bad(b"f1 FETCH 1 (FOO)\r\n"),
        "f1 BAD Error in IMAP command FETCH: Unknown parameter: FOO.\r\n"
    );
    assert_eq!(
        bad(b"f2 FETCH x FLAGS\r\n"),
        "f2 BAD Error in IMAP command FETCH: Invalid messageset.\r\n"
    );
    assert_eq!(
        bad(b"f3 FETCH 1 BODY[FOO]\r\n"),
        "f3 BAD Error in IMAP command FETCH: Invalid BODY[..] section.\r\n"
    );
    assert_eq!(
        bad(b"s1 SEARCH FOO\r\n"),
        "s1 BAD Error in IMAP command SEARCH: Unknown argument FOO.\r\n"
    );
    assert_eq!(
        bad(b"s2 SEARCH\r\n"),
        "s2 BAD Error in IMAP command SEARCH: Missing search parameters.\r\n"
    );
    assert_eq!(
        bad(b"s3 SEARCH BEFORE 1-Foo-2000\r\n"),
        "s3 BAD Error in IMAP command SEARCH: Invalid search date parameter.\r\n"
    );
    assert_eq!(
        bad(b"s4 SEARCH RETURN (FOO) ALL\r\n"),
        "s4 BAD Error in IMAP command SEARCH: Unknown SEARCH return option.\r\n"
    );
    assert_eq!(
        bad(b"st STORE 1 FOO (\\Seen)\r\n"),
        "st BAD Error in IMAP command STORE: Invalid arguments.\r\n"
    );
    assert_eq!(
        bad(b"l1 LIST (FOO) \"\" *\r\n"),
        "l1 BAD Error in IMAP command LIST: Unknown select options.\r\n"
    );
    assert_eq!(
        bad(b"l2 LIST \"\" * RETURN (FOO)\r\n"),
        "l2 BAD Error in IMAP command LIST: Unknown return options.\r\n"
    );
    assert_eq!(
        bad(b"l3 STATUS INBOX (FOO)\r\n"),
        "l3 BAD Error in IMAP command STATUS: Invalid status item FOO.\r\n"
    );
    assert_eq!(
        bad(b"l4 STATUS INBOX ()\r\n"),
        "l4 BAD Error in IMAP command STATUS: Empty status list.\r\n"
    );
    assert_eq!(
        bad(b"a1 APPEND INBOX (\\Seen) \"bad date\" {1+}\r\nx\r\n"),
        "a1 BAD Error in IMAP command APPEND: Invalid internal date.\r\n"
    );
    assert_eq!(
        bad(b"b SELECT {abc}\r\n"),
        "b BAD Error in IMAP command SELECT: Invalid literal size.\r\n"
    );
}
