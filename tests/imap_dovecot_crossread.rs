//! roost and a private Dovecot 2.3 serve the SAME Maildir (same `mail_location`, the same
//! `inbox` namespace: no prefix, `.` separator; both run as `nobody`):
//! (a) what roost writes over IMAP (folders, a non-ASCII one, keywords, flags, subscriptions,
//! internal dates, UIDs) reads identically in `doveadm -f json fetch` / `doveadm mailbox list
//! -s` and through Dovecot's IMAP (the same LIST/LSUB/STATUS/EXAMINE/FETCH answers);
//! (b) what Dovecot's IMAP writes (APPEND with keywords, STORE, COPY, EXPUNGE, CREATE,
//! SUBSCRIBE) reads identically through roost;
//! (c) both deliver at once over LMTP (200 messages each, four connections) and afterwards both
//! list the same messages under the same UIDs, no UID twice, none lost, and `dovecot-uidlist`
//! and `dovecot-keywords` are still read alike by both.

mod common;

use std::collections::BTreeSet;
use std::fs;
use std::os::unix::fs::PermissionsExt;
use std::process::Command;

use common::*;
use serde_json::Value;

/// The same namespace roost uses by default.
const NAMESPACE: &str = "namespace inbox {\n  inbox = yes\n  separator = .\n  prefix =\n}\n";

/// Everything a client sees of the store, as one JSON document: LIST, LSUB, and for every
/// mailbox STATUS, EXAMINE's FLAGS and a FETCH of every message (\Recent dropped: which
/// session gets it is not the store's state; keywords sorted: their order is each index's own).
const DUMP: &str = r#"
import imaplib, sys, json, re
m = imaplib.IMAP4("127.0.0.1", int(sys.argv[1]))
m.login("bob", "pass")
def norm(b):
    b = re.sub(rb" ?\\Recent", b"", b).replace(b"( ", b"(")
    # Keyword order in FLAGS follows each server's own index history: compare them as sets.
    b = re.sub(rb"^\(([^()]*)\)$|(?<=FLAGS )\(([^()]*)\)",
               lambda m: b"(" + b" ".join(sorted((m.group(1) or m.group(2) or b"").split())) + b")", b)
    return b.decode("latin-1")
out = {}
listed = m.list()[1]
# Dovecot's Maildir LIST adds \Marked/\UnMarked from new/'s atime < mtime (UW-IMAP's guess,
# depends on the mount's atime updates); roost does not guess.
unmark = lambda x: re.sub(r" \\(Un)?Marked", "", norm(x))
out["list"] = sorted(unmark(x) for x in listed)
out["lsub"] = sorted(norm(x) for x in m.lsub()[1])
names = sorted(re.match(rb'\([^)]*\) "." (.*)$', l).group(1).strip(b'"').decode() for l in listed)
for n in names:
    box = {}
    box["status"] = norm(m.status(n, "(MESSAGES UIDNEXT UIDVALIDITY UNSEEN)")[1][0])
    typ, d = m.select(n, readonly=True)
    assert typ == "OK", n
    box["flags"] = [norm(x) for x in m.response("FLAGS")[1]]
    parts = []
    if int(d[0]):
        typ, data = m.fetch("1:*", "(UID FLAGS INTERNALDATE RFC822.SIZE ENVELOPE BODYSTRUCTURE "
                                   "BODY.PEEK[HEADER] BODY.PEEK[TEXT])")
        for item in data:
            for p in (item if isinstance(item, tuple) else (item,)):
                parts.append(norm(p))
    box["fetch"] = parts
    out[n] = box
m.logout()
print(json.dumps(out, indent=1, sort_keys=True))
"#;

/// What `doveadm fetch 'uid flags mailbox date.received hdr' all` reports, read through an
/// IMAP server instead: the same fields, normalised as below.
const AS_DOVEADM: &str = r#"
import imaplib, sys, json, re, email.utils, datetime
from imapclient import imap_utf7
m = imaplib.IMAP4("127.0.0.1", int(sys.argv[1]))
m.login("bob", "pass")
out = []
for l in m.list()[1]:
    n = re.match(rb'\([^)]*\) "." (.*)$', l).group(1).strip(b'"')
    typ, d = m.select(n.decode(), readonly=True)
    if not int(d[0]):
        continue
    typ, data = m.fetch("1:*", "(UID FLAGS INTERNALDATE BODY.PEEK[HEADER])")
    for item in data:
        if not isinstance(item, tuple):
            continue
        head = item[0].decode()
        uid = re.search(r"UID (\d+)", head).group(1)
        flags = " ".join(sorted(f for f in re.search(r"FLAGS \(([^)]*)\)", head).group(1).split() if f != "\\Recent"))
        date = re.search(r'INTERNALDATE "([^"]*)"', head).group(1)
        t = datetime.datetime.strptime(date, "%d-%b-%Y %H:%M:%S %z")
        out.append({"mailbox": imap_utf7.decode(n), "uid": uid, "flags": flags,
                    "date.received": t.astimezone().strftime("%Y-%m-%d %H:%M:%S"),
                    "hdr": item[1].decode("latin-1").replace("\r\n", "\n")})
m.logout()
print(json.dumps(sorted(out, key=lambda x: (x["mailbox"], int(x["uid"])))))
"#;

/// Phase (a): roost writes.
const ROOST_WRITES: &str = r#"
import imaplib, sys
m = imaplib.IMAP4("127.0.0.1", int(sys.argv[1]))
m.login("bob", "pass")
for f in ["Work", "Work.Sub", "Caf&AOk-", "Unsubscribed"]:
    assert m.create(f)[0] == "OK", f
for f in ["Work", "Caf&AOk-", "Work.Sub"]:
    assert m.subscribe(f)[0] == "OK"
assert m.unsubscribe("Work.Sub")[0] == "OK"
msgs = [
  ("INBOX", r"(\Seen)", '"01-Feb-2026 08:00:00 +0000"', b"From: Ann <ann@example.org>\r\nTo: bob@example.test\r\nSubject: first\r\nDate: Sun, 1 Feb 2026 08:00:00 +0000\r\nMessage-ID: <r1@x>\r\n\r\nhello\r\n"),
  ("INBOX", r"(\Flagged $Label1 Project)", '"02-Feb-2026 09:30:00 +0100"', b"From: b@example.org\r\nSubject: multipart\r\nMIME-Version: 1.0\r\nContent-Type: multipart/mixed; boundary=zz\r\n\r\n--zz\r\nContent-Type: text/plain; charset=utf-8\r\n\r\nsee attachment\r\n--zz\r\nContent-Type: application/octet-stream; name=a.bin\r\nContent-Transfer-Encoding: base64\r\n\r\nAAECAw==\r\n--zz--\r\n"),
  ("INBOX", r"(\Answered \Draft)", None, b"Subject: draft\r\n\r\ndraft body\r\n"),
  ("Work", r"($Label2 \Deleted)", '"03-Mar-2026 23:59:59 -0500"', b"Subject: work item\r\n\r\nwork\r\n"),
  ("Caf&AOk-", None, None, b"Subject: =?utf-8?q?caf=C3=A9?=\r\n\r\n\xc3\xa9t\xc3\xa9\r\n"),
]
for box, flags, date, body in msgs:
    assert m.append(box, flags, date, body)[0] == "OK"
m.select("INBOX")
assert m.store("1", "+FLAGS", r"(Important)")[0] == "OK"
assert m.store("3", "-FLAGS", r"(\Draft)")[0] == "OK"
assert m.copy("1:2", "Work.Sub")[0] == "OK"
m.logout()
"#;

/// Phase (b): Dovecot writes.
const DOVECOT_WRITES: &str = r#"
import imaplib, sys
m = imaplib.IMAP4("127.0.0.1", int(sys.argv[1]))
m.login("bob", "pass")
for f in ["Dove", "Dove.Nest", "Bj&APY-rk"]:
    assert m.create(f)[0] == "OK", f
assert m.subscribe("Dove")[0] == "OK"
assert m.subscribe("Bj&APY-rk")[0] == "OK"
assert m.unsubscribe("Work")[0] == "OK"
assert m.append("Dove", r"(\Seen $DoveKw)", '"04-Apr-2026 04:04:04 +0400"', b"From: d@example.org\r\nSubject: from dovecot\r\n\r\nd\r\n")[0] == "OK"
assert m.append("INBOX", r"(NonJunk)", None, b"Subject: dovecot in inbox\r\n\r\nx\r\n")[0] == "OK"
assert m.append("Bj&APY-rk", None, '"05-May-2026 05:05:05 +0000"', b"Subject: bjork\r\n\r\ny\r\n")[0] == "OK"
m.select("INBOX")
assert m.store("1", "+FLAGS", r"(\Answered $Label3)")[0] == "OK"
assert m.store("2", "-FLAGS", r"($Label1)")[0] == "OK"
assert m.copy("1", "Dove.Nest")[0] == "OK"
m.select("Work")
assert m.expunge()[0] == "OK"
m.logout()
"#;

/// Phase (c): `n` messages to each of two LMTP servers, two connections each, all at once.
const DELIVER: &str = r#"
import smtplib, sys, threading
ports = [int(sys.argv[1]), int(sys.argv[2])]
n = int(sys.argv[3])
errors = []
def run(port, who, k):
    try:
        c = smtplib.LMTP("127.0.0.1", port)
        for i in range(n // 2):
            mid = "<%s-%d-%d@lmtp>" % (who, k, i)
            c.sendmail("s@example.org", ["bob"], ("Subject: %s %d %d\r\nMessage-ID: %s\r\n\r\nbody\r\n" % (who, k, i, mid)).encode())
        c.quit()
    except Exception as e:
        errors.append(repr(e))
ts = [threading.Thread(target=run, args=(p, w, k)) for p, w in zip(ports, ["roost", "dovecot"]) for k in range(2)]
for t in ts: t.start()
for t in ts: t.join()
assert not errors, errors
"#;

/// INBOX as (UID, Message-ID) lines.
const UIDS: &str = r#"
import imaplib, sys, re
m = imaplib.IMAP4("127.0.0.1", int(sys.argv[1]))
m.login("bob", "pass")
typ, d = m.select("INBOX", readonly=True)
typ, data = m.fetch("1:*", "(UID BODY.PEEK[HEADER.FIELDS (MESSAGE-ID)])")
for item in data:
    if isinstance(item, tuple):
        uid = re.search(rb"UID (\d+)", item[0]).group(1).decode()
        mid = item[1].decode().strip().split(":", 1)[-1].strip()
        print(uid, mid)
m.logout()
"#;

fn py(script: &str, args: &[&str]) -> String {
    run(Command::new("timeout")
        .args(["300", "python3", "-c", script])
        .args(args))
    .stdout_ok("python3")
}

/// doveadm's view, normalised as [`AS_DOVEADM`] normalises an IMAP server's.
fn doveadm_view(d: &Dovecot) -> Value {
    let out = d.doveadm(
        &[
            "-f",
            "json",
            "fetch",
            "-u",
            "bob",
            "uid flags mailbox date.received hdr",
            "all",
        ],
        None,
    );
    let mut v: Vec<Value> = serde_json::from_str(&out).unwrap();
    for m in &mut v {
        let flags = m["flags"].as_str().unwrap_or("");
        let mut f: Vec<&str> = flags
            .split_whitespace()
            .filter(|f| *f != "\\Recent")
            .collect();
        f.sort();
        m["flags"] = Value::from(f.join(" "));
    }
    v.sort_by_key(|m| {
        (
            m["mailbox"].as_str().unwrap().to_string(),
            m["uid"].as_str().unwrap().parse::<u32>().unwrap(),
        )
    });
    Value::from(v)
}

fn subscribed(d: &Dovecot) -> BTreeSet<String> {
    d.doveadm(&["mailbox", "list", "-s", "-u", "bob"], None)
        .lines()
        .map(str::to_string)
        .collect()
}

/// Fields drop in order: roost and Dovecot stop before Dovecot's temp dir goes.
struct Pair {
    _roost: Server,
    dovecot: Dovecot,
    _dovecot_dir: TempDir,
    roost_imap: u16,
    roost_lmtp: u16,
    mail: std::path::PathBuf,
}

fn start() -> Pair {
    assert!(nix::unistd::geteuid().is_root(), "this test needs root");
    let ddir = TempDir::new("crossread-dovecot");
    let dovecot = Dovecot::start_with(ddir.path(), NAMESPACE);
    dovecot.chown_mail();
    let nobody = nix::unistd::User::from_name("nobody").unwrap().unwrap();
    let launch = Launch::new("crossread-roost");
    let users = launch.dir().write(
        "users",
        format!(
            "bob:{{PLAIN}}pass:{}:{}::/nonexistent\n",
            nobody.uid, nobody.gid
        ),
    );
    fs::set_permissions(&users, fs::Permissions::from_mode(0o644)).unwrap();
    let (imap, lmtp) = (free_port(), free_port());
    let mail = dovecot.dir.join("mail");
    let extra = format!(
        "protocols = [\"imap\", \"lmtp\"]\nmail_location = \"maildir:{m}/%n\"\n\
auth_mechanisms = \"plain login\"\ndisable_plaintext_auth = \"no\"\n\n\
[[passdb]]\ndriver = \"passwd-file\"\nargs = \"{u}\"\n\n\
[[userdb]]\ndriver = \"passwd-file\"\nargs = \"{u}\"\n\n\
[service.imap-login.inet_listener.imap]\nport = {imap}\n\n\
[service.imap-login.inet_listener.imaps]\nport = 0\n\n\
[service.lmtp.inet_listener.lmtp]\nport = {lmtp}\n",
        m = mail.display(),
        u = users.display()
    );
    let roost = launch
        .config(&extra)
        .run_as(nobody.uid.as_raw(), nobody.gid.as_raw())
        .ready_on(&[imap, lmtp])
        .start();
    Pair {
        _roost: roost,
        dovecot,
        _dovecot_dir: ddir,
        roost_imap: imap,
        roost_lmtp: lmtp,
        mail: mail.join("bob"),
    }
}

/// Both IMAP servers give the same answers, and doveadm agrees with roost.
fn assert_same(p: &Pair, what: &str) -> String {
    let ours = py(DUMP, &[&p.roost_imap.to_string()]);
    let theirs = py(DUMP, &[&p.dovecot.imap_port.to_string()]);
    if ours != theirs {
        let diff: Vec<String> = ours
            .lines()
            .zip(theirs.lines())
            .filter(|(a, b)| a != b)
            .take(20)
            .map(|(a, b)| format!("roost:   {a}\ndovecot: {b}"))
            .collect();
        panic!(
            "{what}: roost and Dovecot answer differently:\n{}",
            diff.join("\n")
        );
    }
    let roost_as_doveadm: Value =
        serde_json::from_str(&py(AS_DOVEADM, &[&p.roost_imap.to_string()])).unwrap();
    assert_eq!(
        doveadm_view(&p.dovecot),
        roost_as_doveadm,
        "{what}: doveadm fetch and roost differ"
    );
    ours
}

#[test]
fn roost_and_dovecot_read_each_others_maildir_identically() {
    let p = start();

    // (a) roost writes; Dovecot reads it as roost does.
    py(ROOST_WRITES, &[&p.roost_imap.to_string()]);
    let a = assert_same(&p, "written by roost");
    assert!(
        a.contains("$Label1 Project") || a.contains("Project $Label1"),
        "{a}"
    );
    assert!(a.contains("Caf&AOk-"), "{a}");
    assert_eq!(
        subscribed(&p.dovecot),
        ["Café", "Work"].iter().map(|s| s.to_string()).collect()
    );
    let kw = fs::read_to_string(p.mail.join("dovecot-keywords")).unwrap();
    assert!(kw.contains("$Label1") && kw.contains("Project"), "{kw}");

    // (b) Dovecot writes; roost reads it as Dovecot does.
    py(DOVECOT_WRITES, &[&p.dovecot.imap_port.to_string()]);
    let b = assert_same(&p, "written by Dovecot");
    assert!(b.contains("$DoveKw") && b.contains("$Label3"), "{b}");
    assert!(b.contains("Bj&APY-rk"), "{b}");
    assert_eq!(
        subscribed(&p.dovecot),
        ["Björk", "Café", "Dove"]
            .iter()
            .map(|s| s.to_string())
            .collect()
    );

    // (c) Both deliver into INBOX at once.
    let before = py(UIDS, &[&p.roost_imap.to_string()]).lines().count();
    py(
        DELIVER,
        &[
            &p.roost_lmtp.to_string(),
            &p.dovecot.lmtp_port.to_string(),
            "200",
        ],
    );
    let ours = py(UIDS, &[&p.roost_imap.to_string()]);
    let theirs = py(UIDS, &[&p.dovecot.imap_port.to_string()]);
    assert_eq!(ours, theirs, "roost and Dovecot list INBOX differently");
    let lines: Vec<(u32, String)> = ours
        .lines()
        .map(|l| {
            let (u, m) = l.split_once(' ').unwrap_or((l, ""));
            (u.parse().unwrap(), m.to_string())
        })
        .collect();
    assert_eq!(lines.len(), before + 400, "a message was lost or doubled");
    let uids: BTreeSet<u32> = lines.iter().map(|(u, _)| *u).collect();
    assert_eq!(uids.len(), lines.len(), "a UID was given twice");
    let ids: BTreeSet<&str> = lines
        .iter()
        .map(|(_, m)| m.as_str())
        .filter(|m| m.ends_with("@lmtp>"))
        .collect();
    assert_eq!(ids.len(), 400, "every delivered Message-ID once");
    // The shared index files still read alike.
    assert_same(&p, "after concurrent delivery");
}
