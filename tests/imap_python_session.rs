//! One scripted imaplib session (plus imapclient for IDLE) through every command of RFC 3501
//! and the extensions roost announces, run against the real roost binary and a throw-away
//! Dovecot 2.3; the printed results must be the same once timings, UIDVALIDITY values and
//! `\Recent` (which session gets it) are masked. Covered: SEARCH keys (sequence sets, `*`,
//! OR/NOT/parentheses, HEADER, BODY, TEXT, dates, sizes, flags, keywords, UID, CHARSET UTF-8
//! with a literal), FETCH of every item and macro (ENVELOPE, BODY, BODYSTRUCTURE, RFC822.*,
//! BODY[1.2.MIME], nested message parts, HEADER.FIELDS(.NOT), partials), STORE forms,
//! COPY/MOVE/EXPUNGE with their UID variants and UIDPLUS codes, STATUS, CHECK, UNSELECT, CLOSE,
//! NAMESPACE, ID, ENABLE, LIST/LSUB, RENAME, DELETE, MULTIAPPEND; and two sessions on one
//! mailbox seeing each other's appends, flag changes and expunges only when RFC 3501 allows
//! (an EXPUNGE waits out FETCH, STORE and SEARCH, and arrives with NOOP), and IDLE hearing
//! another session's APPEND.

mod common;

use std::process::Command;

use common::*;

const SESSION: &str = r#"
import imaplib, sys, re, time
from imapclient import IMAPClient
port = int(sys.argv[1])
A = imaplib.IMAP4("127.0.0.1", port)
B = imaplib.IMAP4("127.0.0.1", port)
out = []
def clean(x):
    s = repr(x)
    s = re.sub(r" \(\d+\.\d+ \+ \d+\.\d+( \+ \d+\.\d+)? secs\)", "", s)
    s = re.sub(r"(UIDVALIDITY|APPENDUID|COPYUID) \d+", r"\1 X", s)
    s = re.sub(r"\b1\d{9}\b", "X", s)  # UIDVALIDITY values elsewhere (unix times)
    s = re.sub(r" ?\\\\Recent", "", s).replace("( ", "(")
    return s
def p(name, r):
    out.append(name + ": " + clean(r))
def tried(f, *a):
    # A BAD or NO is an answer to compare too.
    try:
        return f(*a)
    except imaplib.IMAP4.error as e:
        return ("error", str(e))
def pending(c, name):
    # The untagged responses a command brought (RECENT counts depend on who selected first).
    r = {k: v for k, v in c.untagged_responses.items() if k not in ("RECENT", "READ-WRITE", "READ-ONLY")}
    c.untagged_responses.clear()
    out.append(name + " untagged: " + clean(sorted(r.items())))

p("login", (A.login("bob", "pass")[0], B.login("bob", "pass")[0]))
p("namespace", A.namespace())
p("id", A.xatom("ID", '("name" "imaplib")'))
A.untagged_responses.pop("ID", None)
p("enable", A._simple_command("ENABLE", "X-NONE"))
A.untagged_responses.clear()
for f in ["Dest", "Dest.Sub", "Caf&AOk-", "Old"]:
    p("create " + f, A.create(f))
p("rename", A.rename("Old", "New"))
p("subscribe", A.subscribe("Dest"))
p("subscribe", A.subscribe("Caf&AOk-"))
p("unsubscribe", A.unsubscribe("Caf&AOk-"))
p("list", sorted(A.list()[1]))
p("list %", sorted(A.list('""', "%")[1]))
p("list Dest*", sorted(A.list('""', "Dest*")[1]))
p("lsub", sorted(A.lsub()[1]))
p("delete", A.delete("New"))

mixed = (b"From: Ann Example <ann@example.org>\r\nTo: bob@example.test, \"C, D\" <cd@example.org>\r\n"
 b"Cc: team: x@example.org, y@example.org;\r\nSubject: quarterly report\r\n"
 b"Date: Tue, 3 Feb 2026 10:00:00 +0100\r\nMessage-ID: <m1@example.org>\r\nX-Custom: marker-42\r\n"
 b"MIME-Version: 1.0\r\nContent-Type: multipart/mixed; boundary=\"outer\"\r\n\r\npreamble\r\n"
 b"--outer\r\nContent-Type: multipart/alternative; boundary=\"inner\"\r\n\r\n"
 b"--inner\r\nContent-Type: text/plain; charset=us-ascii\r\n\r\nplain numbers 12345\r\n"
 b"--inner\r\nContent-Type: text/html; charset=utf-8\r\nContent-Transfer-Encoding: quoted-printable\r\n\r\n<p>html =C3=A9</p>\r\n"
 b"--inner--\r\n"
 b"--outer\r\nContent-Type: message/rfc822\r\n\r\nFrom: inner@example.org\r\nSubject: forwarded\r\n\r\nforwarded body\r\n"
 b"--outer\r\nContent-Type: application/octet-stream; name=\"data.bin\"\r\nContent-Disposition: attachment; filename=\"data.bin\"\r\nContent-Transfer-Encoding: base64\r\n\r\nAAECAwQFBgcICQ==\r\n"
 b"--outer--\r\nepilogue\r\n")
utf8 = ("From: =?utf-8?q?J=C3=BCrgen?= <j@example.org>\r\nSubject: =?utf-8?q?Gr=C3=BC=C3=9Fe?= aus Berlin\r\n"
 "Date: Wed, 4 Feb 2026 11:00:00 +0000\r\nContent-Type: text/plain; charset=utf-8\r\nContent-Transfer-Encoding: 8bit\r\n\r\n"
 "Viele Grüße, bis bald\r\n").encode()
small = b"From: z@example.org\r\nSubject: short one\r\n\r\nx\r\n"
p("append", A.append("INBOX", r"(\Seen $Work)", '"03-Feb-2026 10:00:00 +0100"', mixed))
p("append", A.append("INBOX", None, '"04-Feb-2026 11:00:00 +0000"', utf8))
p("append", A.append("INBOX", r"(\Flagged \Draft)", '"10-Feb-2026 12:00:00 +0000"', small))
p("multiappend", A._simple_command("APPEND", "Dest", "{%d+}\r\n%s" % (len(small), small.decode()), "(\\Answered)", "{%d+}\r\n%s" % (len(small), small.decode())))
p("status", A.status("INBOX", "(MESSAGES RECENT UIDNEXT UNSEEN)"))
p("status Dest", A.status("Dest", "(MESSAGES UIDNEXT)"))
p("examine", A.select("INBOX", readonly=True))
pending(A, "examine")
p("select", A.select("INBOX"))
pending(A, "select")

for items in ["(UID FLAGS INTERNALDATE RFC822.SIZE)", "ENVELOPE", "BODY", "BODYSTRUCTURE", "ALL", "FAST", "FULL",
              "RFC822.HEADER", "RFC822.TEXT", "(BODY.PEEK[HEADER.FIELDS (SUBJECT X-CUSTOM)])",
              "(BODY.PEEK[HEADER.FIELDS.NOT (SUBJECT DATE MESSAGE-ID)])", "(BODY.PEEK[1.2.MIME] BODY.PEEK[1.2])",
              "(BODY.PEEK[1] BODY.PEEK[1.MIME] BODY.PEEK[1.1])", "(BODY.PEEK[2] BODY.PEEK[2.HEADER] BODY.PEEK[2.TEXT] BODY.PEEK[2.1])",
              "(BODY.PEEK[3] BODY.PEEK[3]<2.5> BODY.PEEK[3.MIME])", "(BODY.PEEK[TEXT]<0.20> BODY.PEEK[]<100.10>)",
              "(BODY.PEEK[]<0.0> BODY.PEEK[4] BODY.PEEK[1.5])"]:
    p("fetch 1 " + items, tried(A.fetch, "1", items))
p("fetch 2:* BODYSTRUCTURE", A.fetch("2:*", "(BODYSTRUCTURE ENVELOPE)"))
p("fetch 3 RFC822", A.fetch("3", "RFC822"))
p("fetch 3 flags after RFC822", A.fetch("3", "FLAGS"))
p("fetch 2 BODY[TEXT]", A.fetch("2", "BODY[TEXT]"))
p("fetch 2 flags after BODY[]", A.fetch("2", "FLAGS"))
p("uid fetch", A.uid("FETCH", "2:*", "(FLAGS)"))

for crit in [("ALL",), ("1:2",), ("2:*",), ("*",), ("NOT", "1"), ("1,3",), ("SEEN",), ("UNSEEN",), ("FLAGGED",),
             ("DRAFT",), ("UNDRAFT",), ("ANSWERED",), ("UNANSWERED",), ("DELETED",), ("UNDELETED",),
             ("KEYWORD", "$Work"), ("UNKEYWORD", "$Work"), ("NEW",), ("OLD",),
             ("OR", "FLAGGED", "SEEN"), ("OR", "(SUBJECT short)", "(FROM ann)"), ("NOT", "(OR SEEN FLAGGED)"),
             ("HEADER", "X-Custom", "marker-42"), ("HEADER", "Message-ID", "m1@"), ("BODY", "numbers"),
             ("BODY", "forwarded"), ("TEXT", "Berlin"), ("TEXT", "ann@example.org"), ("SUBJECT", "REPORT"),
             ("FROM", "example.org"), ("TO", "cd@"), ("CC", "y@example"), ("BCC", "nobody"),
             ("SINCE", "4-Feb-2026"), ("BEFORE", "4-Feb-2026"), ("ON", "10-Feb-2026"),
             ("LARGER", "500"), ("SMALLER", "100"), ("UID", "2:3"), ("UID", "1", "SEEN"), ("2:3", "UNSEEN")]:
    p("search " + " ".join(crit), tried(A.search, None, *crit))
A.literal = "Grüße".encode()
p("search charset utf-8 literal", A.search("UTF-8", "SUBJECT"))
A.literal = "grüße".encode()
p("search charset utf-8 body", A.search("UTF-8", "BODY"))
p("search bad charset", tried(A._simple_command, "SEARCH", "CHARSET", "X-BOGUS", "ALL"))
p("uid search", A.uid("SEARCH", "OR", "UID", "1", "DRAFT"))

p("store", A.store("1", "+FLAGS", r"(\Answered $Done)"))
p("store silent", A.store("2", "+FLAGS.SILENT", r"(\Flagged)"))
p("store replace", A.store("3", "FLAGS", r"(\Seen)"))
p("store minus", A.store("1", "-FLAGS", r"($Work)"))
p("uid store", A.uid("STORE", "2", "-FLAGS", r"(\Flagged)"))
p("check", A.check())
p("copy", A.copy("1:2", "Dest"))
p("uid copy", A.uid("COPY", "3", "Dest.Sub"))
p("uid move", A.uid("MOVE", "3", "Dest"))
pending(A, "uid move")
p("move", A._simple_command("MOVE", "1", "Dest.Sub"))
pending(A, "move")
p("fetch after moves", A.fetch("1:*", "(UID FLAGS)"))

# Two sessions on Dest.
p("A select Dest", A.select("Dest")[0])
p("B select Dest", B.select("Dest")[0])
A.untagged_responses.clear(); B.untagged_responses.clear()
p("B append", B.append("Dest", r"(\Seen)", None, b"Subject: from B\r\n\r\nb\r\n"))
B.untagged_responses.clear()
p("A noop", A.noop()); pending(A, "A noop after append")
p("B store", B.store("1", "+FLAGS", r"(\Flagged)")); B.untagged_responses.clear()
p("A noop", A.noop()); pending(A, "A noop after store")
p("B flags", B.store("2", "+FLAGS.SILENT", r"(\Deleted)")); B.untagged_responses.clear()
p("A noop", A.noop()); pending(A, "A noop after B's flags")
p("B expunge", B.expunge()); pending(B, "B expunge")
p("A fetch", A.fetch("1:*", "(UID)")); pending(A, "A fetch after expunge")
p("A store", A.store("1", "-FLAGS", r"(\Flagged)")); pending(A, "A store after expunge")
p("A search", A.search(None, "ALL")); pending(A, "A search after expunge")
p("A noop", A.noop()); pending(A, "A noop after expunge")
p("B noop", B.noop()); pending(B, "B noop")

# UID EXPUNGE expunges only the given UIDs.
p("flag two", A.store("1:2", "+FLAGS.SILENT", r"(\Deleted)"))
p("uid expunge", A.uid("EXPUNGE", "1")); pending(A, "uid expunge")
p("unselect", A.unselect())
p("select again", A.select("Dest")); pending(A, "select again")
p("close", A.close())

# IDLE (imapclient) hears B's append.
C = IMAPClient("127.0.0.1", port=port, ssl=False)
C.login("bob", "pass")
C.select_folder("Dest.Sub")
C.idle()
B.append("Dest.Sub", None, None, b"Subject: during idle\r\n\r\ni\r\n")
seen = []
deadline = time.monotonic() + 10
while time.monotonic() < deadline and not any(r[1] == b"EXISTS" for r in seen):
    seen += C.idle_check(timeout=1)
p("idle heard", sorted(r for r in seen if r[1] == b"EXISTS"))
C.idle_done()
C.logout()
p("logout", (A.logout()[0], B.logout()[0]))
print("\n".join(out))
"#;

fn transcript(port: u16) -> Vec<String> {
    run(Command::new("timeout").args(["120", "python3", "-c", SESSION, &port.to_string()]))
        .stdout_ok("python3")
        .lines()
        .map(str::to_string)
        .collect()
}

#[test]
fn an_imaplib_session_through_every_command_reads_like_dovecots() {
    let ddir = TempDir::new("imappy-dovecot");
    let dovecot = Dovecot::start(ddir.path());
    dovecot.chown_mail();
    let theirs = transcript(dovecot.imap_port);

    let launch = Launch::new("imappy-roost");
    let users = launch
        .dir()
        .write("users", "bob:{PLAIN}pass:1000:1000::/nonexistent\n");
    let mail = launch.dir().join("mail");
    let imap = free_port();
    let extra = format!(
        "protocols = [\"imap\"]\nmail_location = \"maildir:{m}/%n\"\n\
auth_mechanisms = \"plain login\"\ndisable_plaintext_auth = \"no\"\n\n\
[[passdb]]\ndriver = \"passwd-file\"\nargs = \"{u}\"\n\n\
[[userdb]]\ndriver = \"passwd-file\"\nargs = \"{u}\"\n\n\
[service.imap-login.inet_listener.imap]\nport = {imap}\n\n\
[service.imap-login.inet_listener.imaps]\nport = 0\n",
        m = mail.display(),
        u = users.display()
    );
    let _server = launch.config(&extra).ready_on(&[imap]).start();
    let ours = transcript(imap);

    let diff: Vec<String> = ours
        .iter()
        .zip(theirs.iter())
        .filter(|(a, b)| a != b)
        .map(|(a, b)| format!("roost:   {a}\ndovecot: {b}"))
        .collect();
    assert!(
        diff.is_empty() && ours.len() == theirs.len(),
        "{} of {} lines differ:\n{}",
        diff.len(),
        ours.len(),
        diff.join("\n")
    );
    // Sanity: the session got through, with the interesting answers in it.
    assert!(theirs.len() > 100, "{}", theirs.join("\n"));
    let find = |name: &str| -> &str {
        ours.iter()
            .find(|l| l.starts_with(name))
            .unwrap_or_else(|| panic!("{name} missing"))
    };
    assert!(find("search charset utf-8 literal:").contains("[b'2']"));
    assert!(find("A fetch after expunge untagged:") == "A fetch after expunge untagged: []");
    assert!(find("A noop after expunge untagged:").contains("'EXPUNGE'"));
    assert!(find("idle heard:").contains("EXISTS"));
}

/// imaplib writes an APPEND literal and its closing CRLF as two `send`s on a socket without
/// `TCP_NODELAY`, so Nagle holds the CRLF until the server's kernel ACKs the literal. Linux
/// delays that ACK (at least 40 ms) on an interactive connection unless the reader asks for
/// it (`TCP_QUICKACK`, as Dovecot does before its reads): without it every APPEND stalled
/// 40 ms (23 APPENDs/s from imaplib against 735/s for Dovecot). The test counts the APPENDs
/// that took 40 ms or more: with the stall every one does.
#[test]
fn imaplib_appends_do_not_wait_for_delayed_acks() {
    let roost = roost_imap("imappy-quickack", "");
    let script = r#"
import imaplib, sys, time
c = imaplib.IMAP4("127.0.0.1", int(sys.argv[1]))
c.login("bob", "pass")
body = b"Subject: x\r\n\r\n" + b"0123456789 abcdefghijklmnopqrstuvwxyz\r\n" * 100
slow = 0
for i in range(40):
    t = time.monotonic()
    typ, d = c.append("INBOX", None, None, body)
    assert typ == "OK", d
    if time.monotonic() - t >= 0.040:
        slow += 1
c.logout()
print(slow)
"#;
    let out = python_transcript(script, roost.port);
    let slow: usize = out.last().expect("a count").parse().expect("a number");
    assert!(
        slow < 20,
        "{slow} of 40 APPENDs took 40 ms or more: delayed ACKs are stalling the client"
    );
    let delivered = std::fs::read_dir(roost.mail.join("bob/new"))
        .unwrap()
        .count()
        + std::fs::read_dir(roost.mail.join("bob/cur"))
            .unwrap()
            .count();
    assert_eq!(delivered, 40);
}
