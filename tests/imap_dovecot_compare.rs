//! The same IMAP session, byte for byte, against a throw-away Dovecot 2.3 and the real roost
//! binary: mailbox commands and their errors (`[ALREADYEXISTS]`, `[NONEXISTENT]`,
//! `[TRYCREATE]`), LIST/LSUB with Maildir++ children, STATUS, APPEND with a LITERAL+ message,
//! EXAMINE/SELECT data, FETCH of header, text and partial body, ENVELOPE, BODY[STRUCTURE] and
//! part sections, STORE with a new keyword (the
//! FLAGS/PERMANENTFLAGS re-announcement), SEARCH, COPY, EXPUNGE with the RECENT change, an
//! invalid message set, CLOSE, NAMESPACE, ID, RENAME and DELETE must read the same once
//! Dovecot's timings and UIDVALIDITY values are masked. Only the capability lines differ
//! (roost announces what it implements).

mod common;

use common::*;

const SESSION: &str = r#"
import socket, sys, re
s = socket.create_connection(("127.0.0.1", int(sys.argv[1]))); s.settimeout(10)
f = s.makefile("rb")
out = [f.readline().decode()]
msg = b"From: a@b\r\nSubject: hi\r\n\r\nbody line\r\n"
cmds = [
 b"a LOGIN bob pass\r\n",
 b"b CREATE Work\r\n", b"c CREATE Work\r\n", b"d CREATE Work.Sub\r\n", b"e LIST \"\" *\r\n",
 b"f LIST \"\" %\r\n", b"g SUBSCRIBE Work\r\n", b"h LSUB \"\" *\r\n",
 b"i STATUS Work (MESSAGES UIDNEXT UNSEEN)\r\n", b"j DELETE nope\r\n", b"k RENAME nope x\r\n",
 b"l SELECT nope\r\n",
 b"m APPEND Work (\\Seen) {%d+}\r\n%s\r\n" % (len(msg), msg), b"n APPEND nope {3+}\r\nabc\r\n",
 b"o EXAMINE Work\r\n",
 b"p FETCH 1 (FLAGS RFC822.SIZE BODY.PEEK[HEADER] BODY.PEEK[TEXT] BODY.PEEK[]<2.5>)\r\n",
 b"p2 FETCH 1 (ENVELOPE BODYSTRUCTURE BODY BODY.PEEK[1] BODY.PEEK[1.MIME] BODY.PEEK[2] BODY.PEEK[HEADER.FIELDS (SUBJECT TO)])\r\n",
 b"q SELECT Work\r\n", b"r STORE 1 +FLAGS (\\Flagged $Label1)\r\n", b"s SEARCH FLAGGED\r\n",
 b"t SEARCH UNSEEN\r\n", b"u UID SEARCH ALL\r\n", b"v FETCH 1 (UID FLAGS)\r\n",
 b"w COPY 1 INBOX\r\n", b"w2 COPY 1 nope\r\n", b"x STORE 1 +FLAGS.SILENT (\\Deleted)\r\n",
 b"y EXPUNGE\r\n", b"z NOOP\r\n", b"z1 FETCH 5 FLAGS\r\n", b"z2 UID FETCH 5 FLAGS\r\n",
 b"A CLOSE\r\n", b"A2 CLOSE\r\n", b"B NAMESPACE\r\n", b"D ID NIL\r\n", b"F RENAME Work Job\r\n",
 b"G DELETE Job.Sub\r\n", b"H LIST \"\" *\r\n", b"E LOGOUT\r\n",
]
for c in cmds:
    tag = c.split(b" ")[0].decode()
    s.sendall(c)
    while True:
        l = f.readline().decode()
        if not l:
            break
        out.append(l)
        if l.startswith(tag + " "):
            break
for l in out:
    l = re.sub(r" \(\d+\.\d+ \+ \d+\.\d+( \+ \d+\.\d+)? secs\)", "", l)
    l = re.sub(r"UIDVALIDITY \d+", "UIDVALIDITY X", l)
    l = re.sub(r"(APPENDUID|COPYUID) \d+", r"\1 X", l)
    print(l.rstrip("\r\n"))
"#;

#[test]
fn an_imap_session_reads_like_dovecots() {
    let ddir = TempDir::new("imapcmp-dovecot");
    let dovecot = Dovecot::start(ddir.path());
    dovecot.chown_mail();
    let theirs = python_transcript(SESSION, dovecot.imap_port);

    let roost = roost_imap("imapcmp-roost", "");
    let ours = python_transcript(SESSION, roost.port);

    assert!(
        theirs.len() > 60,
        "Dovecot's session was cut short:\n{}",
        theirs.join("\n")
    );
    // Line 0 is the greeting, line 1 the login reply: both list capabilities.
    assert!(
        ours[0].starts_with("* OK [CAPABILITY IMAP4rev1 "),
        "{}",
        ours[0]
    );
    assert!(ours[1].starts_with("a OK [CAPABILITY IMAP4rev1 ") && ours[1].ends_with("] Logged in"));
    assert!(
        ours.iter()
            .any(|l| l.starts_with("* 1 FETCH (ENVELOPE (") && l.contains(" BODYSTRUCTURE (")),
        "{}",
        ours.join("\n")
    );
    assert_eq!(ours[2..].join("\n"), theirs[2..].join("\n"));
}

/// A login alone leaves the user's mail directory untouched in both servers (roost opens, and
/// creates, INBOX at the first APPEND, not at login); an APPEND to INBOX creates it in both.
#[test]
fn a_login_alone_creates_no_mailbox() {
    const LOGIN: &str = r#"
import imaplib, sys
c = imaplib.IMAP4("127.0.0.1", int(sys.argv[1]))
print(c.login("bob", "pass")[0])
print(c.logout()[0])
"#;
    const APPEND: &str = r#"
import imaplib, sys
c = imaplib.IMAP4("127.0.0.1", int(sys.argv[1]))
c.login("bob", "pass")
print(c.append("INBOX", None, None, b"Subject: x\r\n\r\nhi\r\n")[0])
c.logout()
"#;
    let ddir = TempDir::new("imapcmp-lazy-dovecot");
    let dovecot = Dovecot::start(ddir.path());
    dovecot.chown_mail();
    let roost = roost_imap("imapcmp-lazy-roost", "");
    let theirs_mail = ddir.path().join("mail/bob");
    for (port, mail) in [
        (dovecot.imap_port, theirs_mail.clone()),
        (roost.port, roost.mail.join("bob")),
    ] {
        assert_eq!(python_transcript(LOGIN, port), ["OK", "BYE"]);
        assert!(!mail.exists(), "{} made by a login", mail.display());
        assert_eq!(python_transcript(APPEND, port), ["OK"]);
        let files = std::fs::read_dir(mail.join("new")).unwrap().count()
            + std::fs::read_dir(mail.join("cur")).unwrap().count();
        assert_eq!(files, 1, "{}", mail.display());
    }
}

/// APPEND stores a message with flags in cur/ (with its `:2,` info) and one without in new/,
/// in both servers; either way it is \Recent for the next session, in STATUS and SELECT, and
/// the replies read the same.
#[test]
fn appended_mail_lands_where_dovecot_puts_it_and_stays_recent() {
    const HEAD: &str = r#"
import socket, sys, re
def conn(port):
    s = socket.create_connection(("127.0.0.1", port)); s.settimeout(10)
    f = s.makefile("rb"); f.readline()
    return s, f
def cmd(c, line):
    s, f = c
    s.sendall(line); tag = line.split(b" ")[0]; out = []
    while True:
        l = f.readline().decode().rstrip()
        out.append(re.sub(r" \(\d+\.\d+ \+ \d+\.\d+( \+ \d+\.\d+)? secs\)", "", re.sub(r"(UIDVALIDITY|APPENDUID) \d+", r"\1 X", l)))
        if l.startswith(tag.decode() + " ") or not l: return out
port = int(sys.argv[1])
a, b = conn(port), conn(port)
for c in (a, b): cmd(c, b"l LOGIN bob pass\r\n")
out = []
"#;
    let append = format!(
        "{HEAD}cmd(a, b\"c CREATE R\\r\\n\")\n\
out += cmd(a, b\"p APPEND R (\\\\Seen \\\\Flagged) {{5+}}\\r\\nhello\\r\\n\")\n\
out += cmd(a, b\"q APPEND R {{5+}}\\r\\nworld\\r\\n\")\n\
print(\"\\n\".join(out))\n"
    );
    let look = format!(
        "{HEAD}out += cmd(b, b\"s STATUS R (MESSAGES RECENT UNSEEN UIDNEXT)\\r\\n\")\n\
out += cmd(b, b\"t SELECT R\\r\\n\")\n\
out += cmd(b, b\"u FETCH 1:* (FLAGS)\\r\\n\")\n\
out += cmd(a, b\"v STATUS R (RECENT)\\r\\n\")\n\
print(\"\\n\".join(out))\n"
    );
    let ddir = TempDir::new("imapcmp-place-dovecot");
    let dovecot = Dovecot::start(ddir.path());
    dovecot.chown_mail();
    let roost = roost_imap("imapcmp-place-roost", "");
    let mut transcripts = Vec::new();
    for (port, mail) in [
        (dovecot.imap_port, ddir.path().join("mail/bob/.R")),
        (roost.port, roost.mail.join("bob/.R")),
    ] {
        let mut t = python_transcript(&append, port);
        let names = |sub: &str| -> Vec<String> {
            std::fs::read_dir(mail.join(sub))
                .unwrap()
                .map(|e| e.unwrap().file_name().into_string().unwrap())
                .collect()
        };
        let (new, cur) = (names("new"), names("cur"));
        assert_eq!(
            (new.len(), cur.len()),
            (1, 1),
            "{}: {new:?} {cur:?}",
            mail.display()
        );
        assert!(cur[0].ends_with(":2,FS"), "{cur:?}");
        assert!(!new[0].contains(':'), "{new:?}");
        t.extend(python_transcript(&look, port));
        transcripts.push(t);
    }
    let (theirs, ours) = (&transcripts[0], &transcripts[1]);
    assert_eq!(ours.join("\n"), theirs.join("\n"));
    assert!(
        theirs.contains(&"* STATUS R (MESSAGES 2 RECENT 2 UIDNEXT 3 UNSEEN 1)".to_string()),
        "{}",
        theirs.join("\n")
    );
}
