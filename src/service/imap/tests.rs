//! The imap service through imap-login with real clients (imaplib, imapclient) and raw
//! bytes, checked against the files on disk: SELECT/EXAMINE data, the mailbox list (Maildir++
//! `.Name` folders, mUTF-7 names, Dovecot's `subscriptions`), APPEND, FETCH, STORE with
//! keywords (`dovecot-keywords`), SEARCH, COPY/MOVE, EXPUNGE, untagged updates from another
//! session, and IDLE announcing new mail.

use std::time::Duration;

use tokio::io::AsyncWriteExt;

use crate::mail::maildir::Flags;
use crate::service::imap_login::tests::{read_until, setup, talk};
use crate::service::login::testkit::python;

/// Drops Dovecot's ` (0.001 + 0.000 secs)` timings.
fn untimed(s: &str) -> String {
    let mut out = String::new();
    let mut rest = s;
    while let Some(k) = rest.find(" secs)") {
        let start = rest[..k].rfind(" (").unwrap_or(k);
        out.push_str(&rest[..start]);
        rest = &rest[k + 6..];
    }
    out.push_str(rest);
    out
}

#[tokio::test]
async fn select_examine_and_status_report_what_is_on_disk() {
    let s = setup("imap-select", |_| {}, false, false).await;
    let uv = s.inbox.sync().unwrap().uid_validity;
    let (_c, t) = talk(
        s.addr,
        b"a LOGIN bob pass\r\nb STATUS INBOX (MESSAGES RECENT UIDNEXT UIDVALIDITY UNSEEN)\r\n\
c EXAMINE INBOX\r\nd SELECT INBOX\r\ne SELECT nope\r\nf LOGOUT\r\n",
        "f OK",
    )
    .await;
    let t = untimed(&t);
    let body = t.split_once("Logged in\r\n").unwrap().1;
    assert_eq!(
        body,
        format!(
            "* STATUS INBOX (MESSAGES 2 RECENT 2 UIDNEXT 3 UIDVALIDITY {uv} UNSEEN 2)\r\n\
b OK Status completed.\r\n\
* FLAGS (\\Answered \\Flagged \\Deleted \\Seen \\Draft)\r\n\
* OK [PERMANENTFLAGS ()] Read-only mailbox.\r\n\
* 2 EXISTS\r\n* 2 RECENT\r\n* OK [UNSEEN 1] First unseen.\r\n\
* OK [UIDVALIDITY {uv}] UIDs valid\r\n* OK [UIDNEXT 3] Predicted next UID\r\n\
c OK [READ-ONLY] Examine completed.\r\n\
* OK [CLOSED] Previous mailbox closed.\r\n\
* FLAGS (\\Answered \\Flagged \\Deleted \\Seen \\Draft)\r\n\
* OK [PERMANENTFLAGS (\\Answered \\Flagged \\Deleted \\Seen \\Draft \\*)] Flags permitted.\r\n\
* 2 EXISTS\r\n* 2 RECENT\r\n* OK [UNSEEN 1] First unseen.\r\n\
* OK [UIDVALIDITY {uv}] UIDs valid\r\n* OK [UIDNEXT 3] Predicted next UID\r\n\
d OK [READ-WRITE] Select completed.\r\n\
* OK [CLOSED] Previous mailbox closed.\r\n\
e NO Mailbox doesn't exist: nope.\r\n\
* BYE Logging out\r\nf OK Logout completed.\r\n"
        )
    );
    // The read-write SELECT took the mail from new/ to cur/; EXAMINE did not.
    assert_eq!(std::fs::read_dir(s.home.join("new")).unwrap().count(), 0);
    assert_eq!(std::fs::read_dir(s.home.join("cur")).unwrap().count(), 2);
}

#[tokio::test]
async fn any_state_commands_and_codec_errors() {
    let s = setup("imap-any", |_| {}, false, false).await;
    let (_c, t) = talk(
        s.addr,
        b"a LOGIN bob pass\r\nb CAPABILITY\r\nc NOOP\r\nd ID NIL\r\ne ENABLE CONDSTORE\r\n\
f NAMESPACE\r\ng FOO\r\nh FETCH 1 FLAGS\r\ni APPEND INBOX {3}\r\n",
        "+ OK\r\n",
    )
    .await;
    let t = untimed(&t);
    let body = t.split_once("Logged in\r\n").unwrap().1;
    assert_eq!(
        body,
        format!(
            "* CAPABILITY {}\r\nb OK Capability completed.\r\nc OK NOOP completed.\r\n\
* ID (\"name\" \"Dovecot\")\r\nd OK ID completed.\r\n* ENABLED\r\ne OK Enabled.\r\n\
* NAMESPACE ((\"\" \".\")) NIL NIL\r\nf OK Namespace completed.\r\n\
g BAD Error in IMAP command FOO: Unknown command.\r\n\
h BAD No mailbox selected.\r\n+ OK\r\n",
            super::session::CAPABILITIES
        )
    );
}

const FLOW: &str = r#"
import imaplib, sys, time
m = imaplib.IMAP4("127.0.0.1", int(sys.argv[1]))
m.login("bob", "pass")
out = []
p = lambda *a: out.append(" ".join(str(x) for x in a))
p(m.create("Work"), m.create("Work.Sub"), m.create("Caf&AOk-"), m.create("Work"))
p(m.subscribe("Work"), m.subscribe("Caf&AOk-"))
p(m.list())
p(m.list('""', "%"))
p(m.lsub())
p(m.rename("Work", "Job"))
p(m.list('""', "Job*"))
p(m.delete("Job.Sub"), m.delete("nope"))
p(m.append("Job", r"(\Flagged $Label1)", '"17-Jul-1996 02:44:25 -0700"', b"Subject: app\r\n\r\nappended\r\n"))
p(m.append("missing", None, None, b"x\r\n"))
p(m.select("INBOX"))
p(m.fetch("1:*", "(UID FLAGS RFC822.SIZE)"))
p(m.fetch("1", "(BODY.PEEK[HEADER] BODY.PEEK[TEXT] BODY.PEEK[]<6.7>)"))
p(m.fetch("1", "(BODY.PEEK[HEADER.FIELDS (SUBJECT)])"))
p(m.fetch("1", "(FLAGS)"))
p(m.fetch("2", "(BODY[])"))
p(m.store("1", "+FLAGS", r"(\Deleted Junk)"))
p(m.store("1", "-FLAGS.SILENT", r"(\Deleted)"))
p(m.uid("STORE", "2", "FLAGS", r"(\Answered)"))
p(m.search(None, "ALL"), m.search(None, "SEEN"), m.search(None, "UNSEEN"), m.search(None, "KEYWORD", "Junk"))
p(m.search(None, "LARGER", "30"), m.search(None, "SMALLER", "30"), m.uid("SEARCH", "UID", "2:*"), m.search(None, "NOT", "ANSWERED"))
p(m.search(None, "SUBJECT", "hello"), m.search(None, "BODY", '"line two"'), m.search(None, "OR", "ANSWERED", "KEYWORD", "Junk"))
p(m.copy("1:2", "Job"))
p(m.uid("MOVE", "2", "Job"))
p(m.fetch("1:*", "(UID)"))
p(m.store("1", "+FLAGS", r"(\Deleted)"), m.expunge())
p(m.select("Job", readonly=True))
p(m.fetch("1:*", "(UID FLAGS INTERNALDATE)"))
p(m.close(), m.logout())
print("\n".join(out))
"#;

#[tokio::test]
async fn imaplib_mailboxes_append_fetch_store_search_copy_move_expunge() {
    let s = setup("imap-flow", |_| {}, false, false).await;
    let uv = s.inbox.sync().unwrap().uid_validity;
    let out = python(FLOW, &[&s.addr.port().to_string()]).await;
    let l: Vec<String> = out.lines().map(untimed).collect();
    let mut i = 0;
    let mut next = || {
        i += 1;
        l[i - 1].clone()
    };
    assert_eq!(next(), "('OK', [b'Create completed.']) ('OK', [b'Create completed.']) ('OK', [b'Create completed.']) ('NO', [b'[ALREADYEXISTS] Mailbox already exists.'])");
    assert_eq!(
        next(),
        "('OK', [b'Subscribe completed.']) ('OK', [b'Subscribe completed.'])"
    );
    assert_eq!(
        next(),
        r#"('OK', [b'(\\HasNoChildren) "." Caf&AOk-', b'(\\HasChildren) "." Work', b'(\\HasNoChildren) "." Work.Sub', b'(\\HasNoChildren) "." INBOX'])"#
    );
    assert_eq!(
        next(),
        r#"('OK', [b'(\\HasNoChildren) "." Caf&AOk-', b'(\\HasChildren) "." Work', b'(\\HasNoChildren) "." INBOX'])"#
    );
    assert_eq!(next(), r#"('OK', [b'() "." Work', b'() "." Caf&AOk-'])"#);
    assert_eq!(next(), "('OK', [b'Rename completed.'])");
    assert_eq!(
        next(),
        r#"('OK', [b'(\\HasChildren) "." Job', b'(\\HasNoChildren) "." Job.Sub'])"#
    );
    assert_eq!(
        next(),
        "('OK', [b'Delete completed.']) ('NO', [b\"[NONEXISTENT] Mailbox doesn't exist: nope.\"])"
    );
    // Maildir++ on disk, and Dovecot's subscriptions file.
    assert!(s.home.join(".Job/cur").is_dir() && s.home.join(".Caf&AOk-/maildirfolder").exists());
    assert!(!s.home.join(".Work").exists() && !s.home.join(".Job.Sub").exists());
    assert_eq!(
        std::fs::read_to_string(s.home.join("subscriptions")).unwrap(),
        "V\t2\n\nWork\nCaf&AOk-\n"
    );
    let job_uv =
        crate::mail::maildir::Maildir::open(&s.home.join(".Job"), &s.home, false, false, "h")
            .unwrap()
            .sync()
            .unwrap()
            .uid_validity;
    assert_eq!(
        next(),
        format!("('OK', [b'[APPENDUID {job_uv} 1] Append completed.'])")
    );
    assert_eq!(
        next(),
        "('NO', [b\"[TRYCREATE] Mailbox doesn't exist: missing.\"])"
    );
    assert_eq!(next(), "('OK', [b'2'])");
    assert_eq!(
        next(),
        r"('OK', [b'1 (UID 1 FLAGS (\\Recent) RFC822.SIZE 49)', b'2 (UID 2 FLAGS (\\Recent) RFC822.SIZE 19)'])"
    );
    assert_eq!(
        next(),
        r"('OK', [(b'1 (BODY[HEADER] {29}', b'From: a@b\r\nSubject: hello\r\n\r\n'), (b' BODY[TEXT] {20}', b'line one\r\nline two\r\n'), (b' BODY[]<6> {7}', b'a@b\r\nSu'), b')'])"
    );
    assert_eq!(
        next(),
        r"('OK', [(b'1 (BODY[HEADER.FIELDS (SUBJECT)] {18}', b'Subject: hello\r\n\r\n'), b')'])"
    );
    assert_eq!(next(), r"('OK', [b'1 (FLAGS (\\Recent))'])");
    assert_eq!(
        next(),
        // FLAGS first, as Dovecot orders a \Seen-setting fetch.
        r"('OK', [(b'2 (FLAGS (\\Seen \\Recent) BODY[] {19}', b'Subject: two\r\n\r\n2\r\n'), b')'])"
    );
    assert_eq!(next(), r"('OK', [b'1 (FLAGS (\\Deleted \\Recent Junk))'])");
    assert_eq!(next(), "('OK', [None])");
    assert_eq!(
        next(),
        r"('OK', [b'2 (UID 2 FLAGS (\\Answered \\Recent))'])"
    );
    assert_eq!(
        next(),
        "('OK', [b'1 2']) ('OK', [b'']) ('OK', [b'1 2']) ('OK', [b'1'])"
    );
    assert_eq!(
        next(),
        "('OK', [b'1']) ('OK', [b'2']) ('OK', [b'2']) ('OK', [b'1'])"
    );
    assert_eq!(next(), "('OK', [b'1']) ('OK', [b'1']) ('OK', [b'1 2'])");
    assert_eq!(
        next(),
        format!("('OK', [b'[COPYUID {job_uv} 1:2 2:3] Copy completed.'])")
    );
    assert_eq!(next(), "('OK', [None])"); // imaplib keeps no text for UID MOVE
    assert_eq!(next(), "('OK', [b'1 (UID 1)'])");
    // imaplib collects EXPUNGE responses across commands: 2 came with the MOVE, 1 now.
    assert_eq!(
        next(),
        r"('OK', [b'1 (FLAGS (\\Deleted \\Recent Junk))']) ('OK', [b'2', b'1'])"
    );
    assert_eq!(next(), "('OK', [b'4'])");
    let last = next();
    // Stored mail (with flags: in cur/) is \Recent for the next session.
    assert!(last.starts_with(r#"('OK', [b'1 (UID 1 FLAGS (\\Flagged \\Recent $Label1) INTERNALDATE "17-Jul-1996 09:44:25 +0000")', b'2 (UID 2 FLAGS (\\Recent Junk) INTERNALDATE "#), "{last}");
    assert!(
        last.contains(r"b'4 (UID 4 FLAGS (\\Answered \\Recent) INTERNALDATE "),
        "{last}"
    );
    // Flags and keywords live in the file names and dovecot-keywords, as Dovecot keeps them.
    let kw = std::fs::read_to_string(s.home.join(".Job/dovecot-keywords")).unwrap();
    assert_eq!(kw, "0 $Label1\n1 Junk\n");
    assert_eq!(
        std::fs::read_to_string(s.home.join("dovecot-keywords")).unwrap(),
        "0 Junk\n"
    );
    // INBOX: message 1 expunged, 2 moved away.
    assert!(s.inbox.sync().unwrap().messages.is_empty());
    let _ = uv;
}

#[tokio::test]
async fn another_sessions_changes_arrive_as_untagged_updates_and_idle_sees_new_mail() {
    let s = setup("imap-updates", |_| {}, false, false).await;
    let (mut a, _) = talk(s.addr, b"a LOGIN bob pass\r\nb SELECT INBOX\r\n", "b OK").await;
    let (mut b, _) = talk(s.addr, b"a LOGIN bob pass\r\nb SELECT INBOX\r\n", "b OK").await;
    b.write_all(b"c STORE 1 +FLAGS (\\Deleted)\r\nd EXPUNGE\r\n")
        .await
        .unwrap();
    read_until(&mut b, "d OK").await;
    a.write_all(b"c NOOP\r\n").await.unwrap();
    let t = untimed(&read_until(&mut a, "c OK").await);
    // Message 1 was \Recent here: the count changes, and Dovecot says so.
    assert_eq!(t, "* 1 EXPUNGE\r\n* 1 RECENT\r\nc OK NOOP completed.\r\n");

    a.write_all(b"d IDLE\r\n").await.unwrap();
    assert_eq!(read_until(&mut a, "\r\n").await, "+ idling\r\n");
    let inbox = s.inbox.clone();
    let delivered = tokio::task::spawn_blocking(move || {
        inbox
            .deliver(b"Subject: new\n\nnew\n", &Flags::default())
            .unwrap()
    })
    .await
    .unwrap();
    assert_eq!(delivered, 3);
    let got = tokio::time::timeout(Duration::from_secs(1), read_until(&mut a, "RECENT\r\n"))
        .await
        .expect("IDLE must announce new mail within 1 s");
    // Message 2 is still \\Recent for this session (it selected first), 3 is new.
    assert_eq!(got, "* 2 EXISTS\r\n* 2 RECENT\r\n");
    a.write_all(b"DONE\r\ne FETCH 2 (UID)\r\n").await.unwrap();
    let t = untimed(&read_until(&mut a, "e OK").await);
    assert_eq!(
        t,
        "d OK Idle completed.\r\n* 2 FETCH (UID 3)\r\ne OK Fetch completed.\r\n"
    );
}

#[tokio::test]
async fn imapclient_lists_selects_and_fetches() {
    let s = setup("imap-imapclient", |_| {}, false, false).await;
    let out = python(
        r#"
import sys
from imapclient import IMAPClient
c = IMAPClient("127.0.0.1", port=int(sys.argv[1]), ssl=False)
c.login("bob", "pass")
print(sorted(x.decode() for x in c.capabilities()))
print(c.select_folder("INBOX")[b"EXISTS"])
r = c.fetch([1, 2], ["UID", "RFC822.SIZE", "BODY.PEEK[]"])
print(sorted((k, v[b"RFC822.SIZE"], v[b"BODY[]"]) for k, v in r.items()))
c.add_flags([1], [b"\\Flagged", b"Work"])
print(c.get_flags([1]))
print(c.search(["FLAGGED"]))
print(c.namespace())
c.logout()
"#,
        &[&s.addr.port().to_string()],
    )
    .await;
    let l: Vec<&str> = out.lines().collect();
    assert!(
        l[0].contains("'IDLE'") && l[0].contains("'UIDPLUS'") && l[0].contains("'MOVE'"),
        "{}",
        l[0]
    );
    assert_eq!(l[1], "2");
    assert_eq!(
        l[2],
        r"[(1, 49, b'From: a@b\r\nSubject: hello\r\n\r\nline one\r\nline two\r\n'), (2, 19, b'Subject: two\r\n\r\n2\r\n')]"
    );
    assert_eq!(l[3], r"{1: (b'\\Flagged', b'\\Recent', b'Work')}");
    assert_eq!(l[4], "[1]");
    assert_eq!(l[5], "((('', '.'),), None, None)");
}

#[tokio::test]
async fn append_with_synchronising_literal_is_stored_before_ok() {
    let s = setup("imap-append", |_| {}, false, false).await;
    let (mut c, _) = talk(
        s.addr,
        b"a LOGIN bob pass\r\nb APPEND INBOX (\\Seen) {14}\r\n",
        "+ OK\r\n",
    )
    .await;
    // The message, then the end of the command line.
    c.write_all(b"hello\r\nworld\r\n\r\n").await.unwrap();
    let t = untimed(&read_until(&mut c, "b OK").await);
    let uv = s.inbox.sync().unwrap().uid_validity;
    assert_eq!(t, format!("b OK [APPENDUID {uv} 3] Append completed.\r\n"));
    let snap = s.inbox.sync().unwrap();
    let m = snap.messages.iter().find(|m| m.uid == 3).unwrap();
    assert!(m.flags.has(Flags::SEEN));
    assert_eq!(s.inbox.read(m).unwrap(), b"hello\nworld\n");
    assert_eq!(m.vsize, 14);
    // A literal too large for imap_max_line_length outside APPEND ends the session.
    c.write_all(b"c LOGIN {999999}\r\n").await.unwrap();
    let t = read_until(&mut c, "\r\n").await;
    assert_eq!(t, "* BYE Literal size too large\r\n");
}

#[tokio::test]
async fn copy_hard_links_the_message_file_and_keeps_flags_in_the_name() {
    use std::os::unix::fs::MetadataExt;
    let s = setup("imap-copylink", |_| {}, false, false).await;
    let (_c, t) = talk(
        s.addr,
        b"a LOGIN bob pass\r\nb CREATE Saved\r\nc SELECT INBOX\r\n\
d STORE 1 +FLAGS (\\Seen)\r\ne COPY 1 Saved\r\n",
        "e OK",
    )
    .await;
    assert!(t.contains("e OK [COPYUID "), "{t}");
    let snap = s.inbox.sync().unwrap();
    let src = std::fs::metadata(s.inbox.path_of(&snap.messages[0])).unwrap();
    let saved =
        crate::mail::maildir::Maildir::open(&s.home.join(".Saved"), &s.home, false, false, "h")
            .unwrap();
    let copies = saved.sync().unwrap().messages;
    assert_eq!(copies.len(), 1);
    assert!(copies[0].name.ends_with(":2,S"), "{}", copies[0].name);
    let dst = std::fs::metadata(saved.path_of(&copies[0])).unwrap();
    assert_eq!((src.ino(), src.nlink()), (dst.ino(), 2));
}

/// The imap service alone on a port, every connection handed over as user bob with login tag
/// `L` (what imap-login would hand over).
async fn imap_direct(s: &crate::service::imap_login::tests::Setup) -> std::net::SocketAddr {
    let svc = super::factory("imap", &s.settings, &s.hub).unwrap();
    let handoff = crate::runtime::Handoff {
        user: "bob".into(),
        fields: Vec::new(),
        mechanism: "PLAIN".into(),
        protocol_data: b"L".to_vec(),
        session_id: "test".into(),
    };
    crate::service::login::testkit::serve_tcp_with(
        svc,
        "imap",
        s.settings.clone(),
        s.hub.clone(),
        None,
        Some(std::sync::Arc::new(handoff)),
    )
    .await
}

#[tokio::test(start_paused = true)]
async fn idle_says_still_here_and_a_silent_client_is_logged_out_after_30_minutes() {
    let s = setup("imap-timers", |_| {}, false, false).await;
    let addr = imap_direct(&s).await;
    let (mut c, t) = talk(
        addr,
        b"a SELECT INBOX\r\nb STATUS INBOX (MESSAGES)\r\nc IDLE\r\n",
        "+ idling",
    )
    .await;
    assert!(t.starts_with("L OK [CAPABILITY "), "{t}");
    assert!(
        untimed(&t).contains("* STATUS INBOX (MESSAGES 2)\r\nb OK [CLIENTBUG] Status on selected mailbox completed.\r\n"),
        "{t}"
    );
    tokio::time::sleep(Duration::from_secs(121)).await;
    assert_eq!(read_until(&mut c, "\r\n").await, "* OK Still here\r\n");
    c.write_all(b"DONE\r\n").await.unwrap();
    read_until(&mut c, "c OK").await;
    tokio::time::sleep(Duration::from_secs(30 * 60 + 1)).await;
    assert_eq!(
        read_until(&mut c, "\r\n").await,
        "* BYE Disconnected for inactivity.\r\n"
    );
}

#[tokio::test]
async fn a_fetch_of_more_than_one_batch_returns_every_message_in_order() {
    let s = setup("imap-batches", |_| {}, false, false).await;
    let inbox = s.inbox.clone();
    tokio::task::spawn_blocking(move || {
        for n in 0..300 {
            let body = format!("Subject: m{n}\n\n{}\n", "x".repeat(5000));
            inbox.deliver(body.as_bytes(), &Flags::default()).unwrap();
        }
    })
    .await
    .unwrap();
    let (_c, t) = talk(
        s.addr,
        b"a LOGIN bob pass\r\nb EXAMINE INBOX\r\nc FETCH 1:* (UID BODY.PEEK[HEADER.FIELDS (SUBJECT)])\r\n",
        "c OK",
    )
    .await;
    let uids: Vec<u32> = t
        .lines()
        .filter_map(|l| {
            l.strip_prefix("* ")?
                .split_once(" FETCH (UID ")?
                .1
                .split(' ')
                .next()?
                .parse()
                .ok()
        })
        .collect();
    assert_eq!(uids, (1..=302).collect::<Vec<u32>>());
    assert!(
        t.contains("Subject: m299\r\n"),
        "the last message's header is there"
    );
}
