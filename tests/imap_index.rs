//! roost's mailbox index through the real binary: `\Recent` goes where Dovecot 2.3 gives it
//! (the same three-session script with LMTP deliveries against a throw-away Dovecot and roost
//! must read the same: the first read-write session to look holds it, EXAMINE sees it
//! without taking it), and FETCH ENVELOPE/BODYSTRUCTURE/BODY/the usual HEADER.FIELDS and SEARCH
//! on those headers answer from `roost.index` without reading the message file again, while
//! Dovecot's `dovecot.index*` files are never written; Dovecot delivering, flagging and
//! expunging in a folder a roost session has selected (and IDLEs on) is seen by it.

mod common;

use std::process::Command;

use common::*;

const RECENT: &str = r#"
import socket, sys, re, smtplib, time
imap, lmtp = int(sys.argv[1]), int(sys.argv[2])
out = []
class S:
    def __init__(self, name):
        self.name = name
        self.s = socket.create_connection(("127.0.0.1", imap)); self.s.settimeout(10)
        self.f = self.s.makefile("rb"); self.f.readline(); self.n = 0
        self.cmd("LOGIN bob pass", quiet=True)
    def cmd(self, c, quiet=False):
        self.n += 1
        tag = "t%d" % self.n
        self.s.sendall(("%s %s\r\n" % (tag, c)).encode())
        while True:
            l = self.f.readline().decode()
            if not l:
                raise SystemExit("connection closed")
            l = re.sub(r" \(\d+\.\d+ \+ \d+\.\d+( \+ \d+\.\d+)? secs\)", "", l)
            l = re.sub(r"UIDVALIDITY \d+", "UIDVALIDITY X", l)
            l = re.sub(r"CAPABILITY [^\]]*", "CAPABILITY", l)
            if not quiet:
                out.append("%s: %s" % (self.name, l.rstrip("\r\n")))
            if l.startswith(tag + " "):
                return
def deliver(n):
    c = smtplib.LMTP("127.0.0.1", lmtp)
    c.sendmail("s@example.org", ["bob"], ("Subject: m%d\r\n\r\nbody %d\r\n" % (n, n)).encode())
    c.quit()
deliver(0)
a, b, e = S("A"), S("B"), S("E")
e.cmd("EXAMINE INBOX")
a.cmd("SELECT INBOX")
b.cmd("SELECT INBOX")
deliver(1)
time.sleep(0.3)
for x in (a, b, e):
    x.cmd("NOOP")
for x in (a, b, e):
    x.cmd("FETCH 1:* (UID FLAGS)")
deliver(2)
time.sleep(0.3)
for x in (e, b, a):
    x.cmd("NOOP")
    x.cmd("FETCH 1:* (UID FLAGS)")
    x.cmd("SEARCH RECENT")
f = S("F")
f.cmd("EXAMINE INBOX")
f.cmd("FETCH 1:* (FLAGS)")
b.cmd("CLOSE")
g = S("G")
g.cmd("SELECT INBOX")
for x in (a, e, f, g):
    x.cmd("LOGOUT")
print("\n".join(out))
"#;

fn roost(tag: &str) -> (Server, std::path::PathBuf, u16, u16) {
    let launch = Launch::new(tag);
    let users = launch
        .dir()
        .write("users", "bob:{PLAIN}pass:1000:1000::/nonexistent\n");
    let mail = launch.dir().join("mail");
    let (lmtp, imap) = (free_port(), free_port());
    let extra = format!(
        "protocols = [\"lmtp\", \"imap\"]\nmail_location = \"maildir:{m}/%n\"\n\
auth_mechanisms = \"plain login\"\ndisable_plaintext_auth = \"no\"\n\n\
[[passdb]]\ndriver = \"passwd-file\"\nargs = \"{u}\"\n\n\
[[userdb]]\ndriver = \"passwd-file\"\nargs = \"{u}\"\n\n\
[service.lmtp.inet_listener.lmtp]\nport = {lmtp}\n\n\
[service.imap-login.inet_listener.imap]\nport = {imap}\n\n\
[service.imap-login.inet_listener.imaps]\nport = {imaps}\nssl = true\n",
        imaps = free_port(),
        m = mail.display(),
        u = users.display()
    );
    let server = launch.config(&extra).ready_on(&[imap, lmtp]).start();
    (server, mail, imap, lmtp)
}

fn transcript(script: &str, imap: u16, lmtp: u16) -> String {
    run(Command::new("python3").args(["-c", script, &imap.to_string(), &lmtp.to_string()]))
        .stdout_ok("python3")
}

#[test]
fn recent_goes_to_the_session_dovecot_gives_it_to() {
    let ddir = TempDir::new("imaprecent-dovecot");
    let dovecot = Dovecot::start(ddir.path());
    dovecot.chown_mail();
    let theirs = transcript(RECENT, dovecot.imap_port, dovecot.lmtp_port);
    let (_server, mail, imap, lmtp) = roost("imaprecent-roost");
    let ours = transcript(RECENT, imap, lmtp);
    assert!(
        theirs.contains("A: * 1 RECENT") && theirs.contains("\\Recent"),
        "Dovecot's transcript lacks what the test relies on:\n{theirs}"
    );
    assert_eq!(ours, theirs);
    // Roost kept its own index and never wrote Dovecot's.
    let inbox = mail.join("bob");
    assert!(inbox.join("roost.index").is_file());
    let dovecot_files: Vec<String> = std::fs::read_dir(&inbox)
        .unwrap()
        .filter_map(|e| e.ok()?.file_name().into_string().ok())
        .filter(|n| n.starts_with("dovecot.index"))
        .collect();
    assert!(dovecot_files.is_empty(), "{dovecot_files:?}");
}

const CACHED: &str = r#"
import socket, sys, re, smtplib, os, glob
imap, lmtp, maildir = int(sys.argv[1]), int(sys.argv[2]), sys.argv[3]
msg = (b"From: Ann <ann@example.org>\r\nTo: bob@example.org\r\nSubject: cached subject\r\n"
       b"Message-ID: <1@x>\r\nX-Other: not cached\r\nContent-Type: text/plain\r\n\r\nthe body\r\n")
c = smtplib.LMTP("127.0.0.1", lmtp); c.sendmail("ann@example.org", ["bob"], msg); c.quit()
s = socket.create_connection(("127.0.0.1", imap)); s.settimeout(10)
f = s.makefile("rb"); f.readline()
def cmd(tag, c):
    s.sendall(("%s %s\r\n" % (tag, c)).encode())
    out = b""
    while True:
        l = f.readline()
        out += l
        if l.startswith(tag.encode() + b" "):
            return re.sub(rb" \(\d+\.\d+ \+ \d+\.\d+ secs\)", b"", out).decode()
cmd("a", "LOGIN bob pass")
cmd("b", "SELECT INBOX")
TB = "BODY.PEEK[HEADER.FIELDS (From To Cc Bcc Subject Date Message-ID Priority X-Priority References Newsgroups In-Reply-To Content-Type Reply-To)]"
first = cmd("c", "UID FETCH 1 (UID RFC822.SIZE FLAGS ENVELOPE BODYSTRUCTURE %s)" % TB)
# Rewrite the file in place behind roost's back (same name, other content): what comes
# from the cache stays, what needs the file shows the change.
path = glob.glob(os.path.join(maildir, "cur", "*"))[0]
other = open(path, "rb").read().replace(b"cached subject", b"CHANGED subjec").replace(b"ann@", b"zed@")
open(path, "wb").write(other)
second = cmd("d", "UID FETCH 1 (UID RFC822.SIZE FLAGS ENVELOPE BODYSTRUCTURE %s)" % TB)
print(first == second.replace("d OK", "c OK"))
print(first)
print(cmd("e", "SEARCH SUBJECT \"cached subject\" FROM ann"))
print(cmd("f", "SEARCH SUBJECT CHANGED"))
print(cmd("g", "SEARCH TEXT CHANGED"))
print(cmd("h", "FETCH 1 (BODY.PEEK[HEADER.FIELDS (X-Other Subject)])"))
cmd("z", "LOGOUT")
"#;

#[test]
fn envelope_bodystructure_usual_headers_and_header_search_come_from_the_index() {
    let (_server, mail, imap, lmtp) = roost("imapcache");
    let inbox = mail.join("bob");
    let out = run(Command::new("python3").args([
        "-c",
        CACHED,
        &imap.to_string(),
        &lmtp.to_string(),
        &inbox.display().to_string(),
    ]))
    .stdout_ok("python3");
    let l: Vec<&str> = out.lines().collect();
    assert_eq!(
        l[0], "True",
        "the second FETCH must repeat the first:\n{out}"
    );
    assert!(
        out.contains("ENVELOPE (NIL \"cached subject\" ((\"Ann\" NIL \"ann\" \"example.org\"))"),
        "{out}"
    );
    // SEARCH on cached header fields sees the cached values, TEXT reads the file.
    assert!(
        out.contains("* SEARCH 1\r\ne OK Search completed."),
        "{out}"
    );
    assert!(out.contains("* SEARCH\r\nf OK Search completed."), "{out}");
    assert!(
        out.contains("* SEARCH 1\r\ng OK Search completed."),
        "{out}"
    );
    // X-Other is not cached: this FETCH reads the (changed) file.
    assert!(
        out.contains("Subject: CHANGED subjec\r\nX-Other: not cached\r\n\r\n"),
        "{out}"
    );
}

/// A raw IMAP client: commands one at a time, answers up to the tagged line.
struct Raw {
    w: std::net::TcpStream,
    r: std::io::BufReader<std::net::TcpStream>,
    n: u32,
}

impl Raw {
    fn connect(port: u16) -> Raw {
        let s = std::net::TcpStream::connect(("127.0.0.1", port)).unwrap();
        s.set_read_timeout(Some(std::time::Duration::from_secs(10)))
            .unwrap();
        let mut c = Raw {
            w: s.try_clone().unwrap(),
            r: std::io::BufReader::new(s),
            n: 0,
        };
        c.line();
        c
    }

    fn line(&mut self) -> String {
        use std::io::BufRead;
        let mut l = String::new();
        assert!(self.r.read_line(&mut l).unwrap() > 0, "server closed");
        l
    }

    fn cmd(&mut self, c: &str) -> String {
        use std::io::Write;
        self.n += 1;
        let tag = format!("t{} ", self.n);
        self.w
            .write_all(format!("{tag}{c}\r\n").as_bytes())
            .unwrap();
        let mut out = String::new();
        loop {
            let l = self.line();
            out.push_str(&l);
            if l.starts_with(&tag) {
                return out;
            }
        }
    }
}

#[test]
fn dovecot_changing_the_same_folder_is_seen_by_a_selected_roost_session() {
    // One Maildir, Dovecot's (its mail user `nobody`) and roost's at once: Dovecot delivers,
    // flags and expunges with its own tools while roost has the folder selected.
    let ddir = TempDir::new("imapshare-dovecot");
    let dovecot = Dovecot::start(ddir.path());
    dovecot.chown_mail();
    let deliver = |n: u32| {
        let out = run(Command::new("python3").args([
            "-c",
            "import smtplib, sys\nc = smtplib.LMTP('127.0.0.1', int(sys.argv[1]))\n\
c.sendmail('s@example.org', ['bob'], ('Subject: d%s\\r\\n\\r\\nx\\r\\n' % sys.argv[2]).encode())\nc.quit()",
            &dovecot.lmtp_port.to_string(),
            &n.to_string(),
        ]));
        out.stdout_ok("python3");
    };
    deliver(1);
    deliver(2);
    let chown = || dovecot.chown_mail();
    let launch = Launch::new("imapshare-roost");
    let users = launch
        .dir()
        .write("users", "bob:{PLAIN}pass:1000:1000::/nonexistent\n");
    let imap = free_port();
    let extra = format!(
        "protocols = [\"imap\"]\nmail_location = \"maildir:{m}/%n\"\n\
auth_mechanisms = \"plain login\"\ndisable_plaintext_auth = \"no\"\n\n\
[[passdb]]\ndriver = \"passwd-file\"\nargs = \"{u}\"\n\n\
[[userdb]]\ndriver = \"passwd-file\"\nargs = \"{u}\"\n\n\
[service.imap-login.inet_listener.imap]\nport = {imap}\n\n\
[service.imap-login.inet_listener.imaps]\nport = {imaps}\nssl = true\n",
        imaps = free_port(),
        m = ddir.path().join("mail").display(),
        u = users.display()
    );
    let _server = launch.config(&extra).ready_on(&[imap]).start();
    let mut c = Raw::connect(imap);
    c.cmd("LOGIN bob pass");
    let sel = c.cmd("SELECT INBOX");
    assert!(
        sel.contains("* 2 EXISTS\r\n") && sel.contains("* 2 RECENT\r\n"),
        "{sel}"
    );
    chown();
    dovecot.doveadm(
        &[
            "flags",
            "add",
            "-u",
            "bob",
            "\\Flagged",
            "mailbox",
            "INBOX",
            "uid",
            "1",
        ],
        None,
    );
    let t = c.cmd("NOOP");
    assert!(
        t.starts_with("* 1 FETCH (FLAGS (\\Flagged \\Recent))\r\n"),
        "{t}"
    );
    dovecot.doveadm(
        &["expunge", "-u", "bob", "mailbox", "INBOX", "uid", "1"],
        None,
    );
    let t = c.cmd("NOOP");
    assert!(t.starts_with("* 1 EXPUNGE\r\n* 1 RECENT\r\n"), "{t}");
    // IDLE, and Dovecot's LMTP delivers.
    use std::io::Write;
    c.w.write_all(b"i IDLE\r\n").unwrap();
    assert_eq!(c.line(), "+ idling\r\n");
    // (Roost runs as root here and rewrote dovecot-uidlist after the expunge: give it back.)
    chown();
    deliver(3);
    assert_eq!(c.line(), "* 2 EXISTS\r\n");
    assert_eq!(c.line(), "* 2 RECENT\r\n");
    c.w.write_all(b"DONE\r\n").unwrap();
    assert!(c.line().starts_with("i OK Idle completed"));
    let t = c.cmd("UID FETCH 1:* (FLAGS)");
    assert!(
        t.starts_with(
            "* 1 FETCH (UID 2 FLAGS (\\Recent))\r\n* 2 FETCH (UID 3 FLAGS (\\Recent))\r\n"
        ),
        "{t}"
    );
    // Dovecot reads what roost left: the same UIDs, and roost's index is its own file.
    chown();
    let listed = dovecot.doveadm(
        &["fetch", "-u", "bob", "uid flags", "mailbox", "INBOX"],
        None,
    );
    assert!(
        listed.contains("uid: 2") && listed.contains("uid: 3") && !listed.contains("uid: 1\n"),
        "{listed}"
    );
    assert!(ddir.path().join("mail/bob/roost.index").is_file());
}
