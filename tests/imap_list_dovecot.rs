//! Namespaces, LIST-EXTENDED, LIST-STATUS, SPECIAL-USE and `auto` mailboxes as Dovecot 2.3
//! answers them: the same sessions against a throw-away Dovecot configured with the same
//! `namespace` block and the real roost binary, byte for byte once timings and UIDVALIDITY
//! are masked, the order of the `* LIST`/`* LSUB` lines in one reply is normalised (Dovecot
//! sends them in its list index's order) and `\Marked`/`\UnMarked` (Dovecot's new/-vs-cur/
//! hint, which roost does not send) are dropped. Between commands the sessions also print the
//! Maildir++ folder directories and the `subscriptions` file, which must match too.
//! Four namespaces: the reference's (`/`, special-use and auto mailboxes), one with prefix
//! `INBOX/`, Dovecot's implicit one and Debian's default (`.`, five special-use mailboxes).
//! Also: RENAME INBOX (RFC 3501: the messages move, INBOX stays empty) against Dovecot with
//! a separate INBOX directory, and roost's namespace settings (`roost config -n`, errors).

mod common;

use std::process::Command;

use common::*;

/// Runs `cmds` (one IMAP command each; `DISK` prints the folders and the subscriptions file
/// under `root`; `MSG` in a command is a small literal message) and prints the masked
/// transcript.
const SESSION: &str = r#"
import socket, sys, re, os, json
port, root, cmds = int(sys.argv[1]), sys.argv[2], json.loads(sys.argv[3])
s = socket.create_connection(("127.0.0.1", port)); s.settimeout(10)
f = s.makefile("rb")
out = []
f.readline()
msg = b"From: a@b\r\nSubject: hi\r\n\r\nbody\r\n"
def disk():
    dirs = sorted(d for d in os.listdir(root) if d.startswith(".")) if os.path.isdir(root) else []
    subs = open(os.path.join(root, "subscriptions")).read() if os.path.exists(os.path.join(root, "subscriptions")) else None
    out.append("DISK %s subscriptions=%r" % (dirs, subs))
for c in ["a LOGIN bob pass"] + cmds + ["Z LOGOUT"]:
    if c == "DISK":
        disk(); continue
    c = c.encode().replace(b"MSG", b"{%d+}\r\n%s" % (len(msg), msg))
    tag = c.split(b" ")[0]
    s.sendall(c + b"\r\n")
    block = []
    while True:
        l = f.readline().decode()
        if not l:
            break
        l = l.rstrip("\r\n")
        l = re.sub(r" \(\d+\.\d+ \+ \d+\.\d+( \+ \d+\.\d+)? secs\)", "", l)
        l = re.sub(r"UIDVALIDITY \d+", "UIDVALIDITY X", l)
        l = re.sub(r"(APPENDUID|COPYUID) \d+", r"\1 X", l)
        l = re.sub(r" ?\\(Un)?Marked", "", l).replace("( ", "(")
        if l.startswith("* STATUS") and block and block[-1][0].startswith(("* LIST", "* LSUB")):
            block[-1].append(l)
        else:
            block.append([l])
        if l.startswith(tag.decode() + " "):
            break
    # LIST/LSUB lines (each with its STATUS) sorted; everything else in place
    lists = sorted(b for b in block if b[0].startswith(("* LIST", "* LSUB")))
    it = iter(lists)
    for b in block:
        if b[0].startswith(("* LIST", "* LSUB")):
            b = next(it)
        if b[0].startswith(("a OK", "Z OK")) or b[0].startswith("* CAPABILITY"):
            continue
        out.extend(b)
for l in out:
    print(l)
"#;

/// The namespace under test, in Dovecot's syntax and roost's.
const DOVECOT_NS: &str = "namespace inbox {\n  inbox = yes\n  separator = /\n  \
mailbox Drafts {\n    special_use = \\Drafts\n  }\n  mailbox Sent {\n    special_use = \\Sent\n  }\n  \
mailbox Trash {\n    special_use = \\Trash\n    auto = subscribe\n  }\n  \
mailbox Junk {\n    special_use = \\Junk\n    auto = create\n  }\n}\n";
const ROOST_NS: &str = "[namespace.inbox]\ninbox = true\nseparator = \"/\"\n\
[namespace.inbox.mailbox.Drafts]\nspecial_use = \"\\\\Drafts\"\n\
[namespace.inbox.mailbox.Sent]\nspecial_use = \"\\\\Sent\"\n\
[namespace.inbox.mailbox.Trash]\nspecial_use = \"\\\\Trash\"\nauto = \"subscribe\"\n\
[namespace.inbox.mailbox.Junk]\nspecial_use = \"\\\\Junk\"\nauto = \"create\"\n";

fn transcript(port: u16, root: &std::path::Path, cmds: &[&str]) -> Vec<String> {
    let json = format!(
        "[{}]",
        cmds.iter()
            .map(|c| format!("{:?}", c))
            .collect::<Vec<_>>()
            .join(",")
    );
    run(Command::new("python3").args([
        "-c",
        SESSION,
        &port.to_string(),
        &root.display().to_string(),
        &json,
    ]))
    .stdout_ok("python3")
    .lines()
    .map(str::to_string)
    .collect()
}

/// roost for `bob` with `extra` (`roost_imap` closes the imaps listener, so several run at once).
fn start_roost(tag: &str, extra: &str) -> RoostImap {
    roost_imap(tag, extra)
}

/// Runs `cmds` against Dovecot (with `dovecot_extra`) and roost (with `roost_extra`) and
/// asserts the transcripts are equal; returns roost's.
fn compare(tag: &str, dovecot_extra: &str, roost_extra: &str, cmds: &[&str]) -> Vec<String> {
    let ddir = TempDir::new(&format!("{tag}-dovecot"));
    let dovecot = Dovecot::start_with(ddir.path(), dovecot_extra);
    dovecot.chown_mail();
    let theirs = transcript(dovecot.imap_port, &ddir.join("mail/bob"), cmds);
    let roost = start_roost(&format!("{tag}-roost"), roost_extra);
    let ours = transcript(roost.port, &roost.mail.join("bob"), cmds);
    assert!(
        theirs.len() > cmds.len(),
        "Dovecot's session was cut short:\n{}",
        theirs.join("\n")
    );
    for (i, (a, b)) in theirs.iter().zip(&ours).enumerate() {
        assert_eq!(
            b,
            a,
            "line {i} differs (roost, then Dovecot).\nDovecot:\n{}\n\nroost:\n{}",
            theirs.join("\n"),
            ours.join("\n")
        );
    }
    assert_eq!(ours.len(), theirs.len(), "roost:\n{}", ours.join("\n"));
    ours
}

#[test]
fn list_extended_special_use_and_auto_mailboxes_read_like_dovecots() {
    let cmds = [
        "n NAMESPACE",
        "l1 LIST \"\" *",
        "DISK",
        "l2 LSUB \"\" *",
        "c1 CREATE Work",
        "c2 CREATE Work/Sub",
        "c3 CREATE a.b",
        "c4 CREATE \"\"",
        "c5 CREATE a//b",
        "c6 CREATE /a",
        "c7 CREATE x/y/z",
        "c8 CREATE &Jjo",
        "c9 CREATE \"x y\"",
        "c10 CREATE &Jjo-",
        "DISK",
        "s1 SUBSCRIBE Work/Sub",
        "s2 SUBSCRIBE x/y/z",
        "s3 SUBSCRIBE nothere",
        "s4 SUBSCRIBE Work",
        "s5 SUBSCRIBE INBOX",
        "DISK",
        "l3 LIST \"\" %",
        "l4 LIST \"\" Work/%",
        "l5 LIST \"\" *",
        "l6 LSUB \"\" *",
        "l7 LSUB \"\" %",
        "l8 LSUB \"\" x/%",
        "e1 LIST (SUBSCRIBED) \"\" *",
        "e2 LIST (SUBSCRIBED) \"\" %",
        "e3 LIST (SUBSCRIBED RECURSIVEMATCH) \"\" %",
        "e4 LIST (RECURSIVEMATCH) \"\" %",
        "e5 LIST \"\" % RETURN (SUBSCRIBED)",
        "e6 LIST \"\" * RETURN (CHILDREN)",
        "e7 LIST (REMOTE) \"\" %",
        "e8 LIST \"\" (\"INBOX\" \"x*\")",
        "e9 LIST (SPECIAL-USE) \"\" *",
        "e10 LIST \"\" * RETURN (SPECIAL-USE)",
        "e11 LIST (SPECIAL-USE SUBSCRIBED) \"\" *",
        "e12 LIST (SUBSCRIBED) \"\" * RETURN (CHILDREN SPECIAL-USE)",
        "e13 LIST (SUBSCRIBED RECURSIVEMATCH) \"\" * RETURN (CHILDREN)",
        "e14 LIST \"\" \"\"",
        "e15 LIST \"Work/\" %",
        "e16 LIST \"\" Inbox",
        "DISK",
        "a1 APPEND Work (\\Seen) MSG",
        "a2 APPEND Work MSG",
        "e17 LIST \"\" * RETURN (STATUS (MESSAGES UIDNEXT UNSEEN RECENT))",
        "DISK",
        "e18 LIST (SUBSCRIBED) \"\" * RETURN (STATUS (MESSAGES))",
        "st1 STATUS Junk (MESSAGES)",
        "u1 UNSUBSCRIBE Trash",
        "l9 LSUB \"\" *",
        "d1 DELETE INBOX",
        "d2 DELETE a.b",
        "d3 DELETE x/y",
        "r1 RENAME Work Job",
        "r2 RENAME nope x",
        "r3 RENAME Job Junk",
        "sel SELECT Job",
        "cp1 COPY 1 Job/Sub",
        "cp2 COPY 1 Job/Nope",
        "cp3 COPY 1:2 Trash",
        "cp4 MOVE 2 Drafts",
        "cp5 COPY 1 a.b",
        "un UNSELECT",
        "st2 STATUS Job/Sub (MESSAGES)",
        "l10 LIST \"\" *",
        "DISK",
        "d4 DELETE x/y/z",
        "l11 LSUB \"\" *",
        "l12 LSUB \"\" %",
        "l13 LIST (SUBSCRIBED) \"\" *",
        "l14 LIST (SUBSCRIBED RECURSIVEMATCH) \"\" % RETURN (CHILDREN STATUS (MESSAGES))",
        "l15 LIST \"\" *",
        "DISK",
    ];
    let ours = compare("imaplist", DOVECOT_NS, ROOST_NS, &cmds);
    // What the comparison covered actually happened.
    assert!(
        ours.iter()
            .any(|l| l == "* LIST (\\HasNoChildren \\Trash) \"/\" Trash"),
        "{ours:?}"
    );
    assert!(ours
        .iter()
        .any(|l| l.ends_with(" x (CHILDINFO (\"SUBSCRIBED\"))")));
    assert!(ours
        .iter()
        .any(|l| l.starts_with("* STATUS Work (MESSAGES 2 ")));
}

#[test]
fn a_prefixed_namespace_reads_like_dovecots() {
    let dovecot = "namespace inbox {\n  inbox = yes\n  separator = /\n  prefix = INBOX/\n  \
mailbox Sent {\n    special_use = \\Sent\n    auto = subscribe\n  }\n}\n";
    let roost = "[namespace.inbox]\ninbox = true\nseparator = \"/\"\nprefix = \"INBOX/\"\n\
[namespace.inbox.mailbox.Sent]\nspecial_use = \"\\\\Sent\"\nauto = \"subscribe\"\n";
    let cmds = [
        "n NAMESPACE",
        "l1 LIST \"\" *",
        "l2 LIST \"\" %",
        "l3 LIST \"\" INBOX/%",
        "c1 CREATE foo",
        "c2 CREATE INBOX/foo",
        "c3 CREATE INBOX/foo/bar",
        "c4 CREATE INBOX",
        "c5 CREATE INBOX/INBOX",
        "DISK",
        "l4 LIST \"\" *",
        "l5 LSUB \"\" *",
        "s1 SELECT INBOX/foo",
        "s2 SELECT foo",
        "st STATUS INBOX/Sent (MESSAGES)",
        "DISK",
        "l6 LIST \"\" \"\"",
        "l7 LIST \"INBOX/\" %",
        "l8 LIST (SUBSCRIBED) \"\" *",
        "l9 LIST \"\" * RETURN (CHILDREN)",
        "r RENAME INBOX/foo INBOX/baz",
        "su SUBSCRIBE INBOX/baz/bar",
        "DISK",
    ];
    compare("imaplistpfx", dovecot, roost, &cmds);
}

#[test]
fn the_default_namespace_reads_like_dovecots() {
    let cmds = [
        "n NAMESPACE",
        "c1 CREATE a.b",
        "c2 CREATE a/b",
        "c3 CREATE a..b",
        "l1 LIST \"\" *",
        "l2 LIST (SPECIAL-USE) \"\" *",
        "l3 LIST \"\" % RETURN (CHILDREN STATUS (MESSAGES))",
        // Folders on disk, none subscribed (no auto-subscribe mailbox here either).
        "l4 LSUB \"\" *",
        "l5 LIST (SUBSCRIBED) \"\" *",
        "l6 LIST (SUBSCRIBED RECURSIVEMATCH) \"\" %",
        "s1 SUBSCRIBE a.b",
        "l7 LSUB \"\" *",
        "DISK",
    ];
    compare("imaplistdef", "", "", &cmds);
}

/// Debian's dovecot-core default (`namespace inbox { inbox = yes }` and the special-use
/// mailboxes of 15-mailboxes.conf, no separator: Maildir++'s `.`).
#[test]
fn debians_default_namespace_reads_like_dovecots() {
    let dovecot = "namespace inbox {\n  inbox = yes\n  mailbox Drafts {\n    special_use = \\Drafts\n  }\n  \
mailbox Junk {\n    special_use = \\Junk\n  }\n  mailbox Trash {\n    special_use = \\Trash\n  }\n  \
mailbox Sent {\n    special_use = \\Sent\n  }\n  mailbox \"Sent Messages\" {\n    special_use = \\Sent\n  }\n}\n";
    let roost = "[namespace.inbox]\ninbox = true\n\
[namespace.inbox.mailbox.Drafts]\nspecial_use = '\\Drafts'\n\
[namespace.inbox.mailbox.Junk]\nspecial_use = '\\Junk'\n\
[namespace.inbox.mailbox.Trash]\nspecial_use = '\\Trash'\n\
[namespace.inbox.mailbox.Sent]\nspecial_use = '\\Sent'\n\
[namespace.inbox.mailbox.\"Sent Messages\"]\nspecial_use = '\\Sent'\n";
    let cmds = [
        "n NAMESPACE",
        "l1 LIST \"\" *",
        "c1 CREATE \"Sent Messages\"",
        "c2 CREATE Sent",
        "c3 CREATE Junk.Old",
        "c4 CREATE a/b",
        "l2 LIST \"\" *",
        "l3 LIST (SPECIAL-USE) \"\" *",
        "l4 LIST \"\" % RETURN (SPECIAL-USE CHILDREN)",
        "s1 SUBSCRIBE \"Sent Messages\"",
        "l5 LSUB \"\" *",
        "DISK",
    ];
    let ours = compare("imaplistdeb", dovecot, roost, &cmds);
    assert!(
        ours.iter()
            .any(|l| l == "* LIST (\\HasNoChildren \\Sent) \".\" \"Sent Messages\""),
        "{ours:?}"
    );
}

/// RENAME INBOX as RFC 3501 has it. Dovecot does it when INBOX is a directory of its own
/// (`INBOX=`); with INBOX at the Maildir++ root it answers `NO [CANNOT] Renaming INBOX isn't
/// supported`, where roost moves the messages all the same.
#[test]
fn rename_inbox_moves_the_messages() {
    let cmds = [
        "a1 APPEND INBOX (\\Seen) MSG",
        "a2 APPEND INBOX (\\Flagged $Work) MSG",
        "c1 CREATE INBOX/kid",
        "r1 RENAME INBOX Old",
        "st1 STATUS Old (MESSAGES UNSEEN)",
        "st2 STATUS INBOX (MESSAGES)",
        "r2 RENAME INBOX Old",
        "s1 EXAMINE Old",
        "f1 FETCH 1:* (FLAGS RFC822.SIZE)",
        "l1 LIST \"\" *",
    ];
    let ddir = TempDir::new("imaprenin-dovecot");
    let extra = format!(
        "{DOVECOT_NS}mail_location = maildir:{d}/mail/%n:INBOX={d}/mail/%n/inbox\n",
        d = ddir.path().display()
    );
    let dovecot = Dovecot::start_with(ddir.path(), &extra);
    dovecot.chown_mail();
    let theirs = transcript(dovecot.imap_port, &ddir.join("mail/bob"), &cmds);

    // roost with INBOX at the Maildir++ root, the layout Dovecot refuses.
    let roost = start_roost("imaprenin-roost", ROOST_NS);
    let root = roost.mail.join("bob");
    let ours = transcript(roost.port, &root, &cmds);
    assert_eq!(ours.join("\n"), theirs.join("\n"));
    assert!(
        ours.iter().any(|l| l.starts_with("r1 OK Rename completed")),
        "{ours:?}"
    );
    assert!(
        ours.iter()
            .any(|l| l.starts_with("* 2 FETCH (FLAGS (\\Flagged \\Recent $Work) ")),
        "{ours:?}"
    );

    // On disk: the messages are files of .Old with their flags; INBOX holds none.
    let files = |d: &std::path::Path| -> Vec<String> {
        ["cur", "new"]
            .iter()
            .flat_map(|s| std::fs::read_dir(d.join(s)).unwrap())
            .map(|e| e.unwrap().file_name().into_string().unwrap())
            .collect()
    };
    assert!(files(&root).is_empty(), "{:?}", files(&root));
    let old = files(&root.join(".Old"));
    assert_eq!(old.len(), 2, "{old:?}");
    assert!(old.iter().any(|n| n.ends_with(":2,S")), "{old:?}");
    // INBOX's child moved along, as Dovecot moves it.
    assert!(root.join(".Old.kid/cur").is_dir());
    assert!(!root.join(".INBOX.kid").exists());
    let kw = std::fs::read_to_string(root.join(".Old/dovecot-keywords")).unwrap();
    assert!(kw.contains("$Work"), "{kw}");
}

#[test]
fn namespace_settings_are_checked_and_printed() {
    let dir = TempDir::new("nsconf");
    let good = dir.write(
        "good.toml",
        format!("mail_location = \"maildir:~/Maildir\"\n{ROOST_NS}"),
    );
    let out = roost_ok(&["config", "-n", "-c", good.to_str().unwrap()]);
    for want in [
        "[namespace.inbox]",
        "inbox = true",
        "separator = \"/\"",
        "[namespace.inbox.mailbox.Junk]",
        "auto = \"create\"",
        "special_use = '\\Trash'",
    ] {
        assert!(out.contains(want), "{want}:\n{out}");
    }
    // Only what differs from Dovecot's defaults.
    assert!(!out.contains("subscriptions = "), "{out}");
    assert!(!out.contains("auto = \"no\""), "{out}");
    // The printed configuration loads again.
    let again = dir.write("again.toml", &out);
    let body = |t: &str| t.lines().skip(1).collect::<Vec<_>>().join("\n");
    assert_eq!(
        body(&roost_ok(&["config", "-n", "-c", again.to_str().unwrap()])),
        body(&out)
    );

    for (text, setting, line, message) in [
        (
            "[namespace.inbox]\ninbox = true\n[namespace.inbox.mailbox.Sent]\nspecial_use = \"\\\\Outbox\"\n",
            "namespace.inbox.mailbox.Sent.special_use",
            4,
            "mailbox Sent: unknown special_use: \\Outbox",
        ),
        (
            "[namespace.inbox]\ninbox = true\nseparator = \"::\"\n",
            "namespace.inbox.separator",
            3,
            "Hierarchy separator must be only one character long",
        ),
        (
            "[namespace.inbox]\ninbox = true\n[namespace.inbox.mailbox.Sent]\nauto = \"sometimes\"\n",
            "namespace.inbox.mailbox.Sent.auto",
            4,
            "sometimes",
        ),
        (
            "[namespace.inbox]\ninbox = true\n\n[namespace.shared]\ninbox = false\ntype = \"shared\"\n",
            "namespace.shared",
            4,
            "roost supports one namespace",
        ),
        (
            "[namespace.inbox]\ninbox = true\nprefix = \"Mail\"\nseparator = \"/\"\n",
            "namespace.inbox.prefix",
            3,
            "to end with separator /",
        ),
        (
            "[namespace.inbox]\nseparator = \"/\"\n",
            "namespace.inbox.inbox",
            1,
            "inbox=yes namespace missing",
        ),
    ] {
        let p = dir.write("bad.toml", text);
        let r = roost(&["config", "-c", p.to_str().unwrap()]);
        assert!(!r.ok, "{text}");
        let want = format!("bad.toml line {line}: {setting}: ");
        assert!(r.stderr.contains(&want), "{want} in:\n{}", r.stderr);
        assert!(r.stderr.contains(message), "{message} in:\n{}", r.stderr);
    }
}

/// The embedded default configuration has the reference Dovecot's namespace.
#[test]
fn the_embedded_namespace_is_the_reference_dovecots() {
    let out = roost_ok(&["config", "-n"]);
    assert!(
        out.contains("[namespace.inbox]\ninbox = true\nseparator = \"/\"\n"),
        "{out}"
    );
    for m in ["Drafts", "Sent", "Trash"] {
        assert!(
            out.contains(&format!(
                "[namespace.inbox.mailbox.{m}]\nspecial_use = '\\{m}'\n"
            )),
            "{m}:\n{out}"
        );
    }
}

/// A real client library: imapclient's folder listing, special folder lookup and status.
#[test]
fn imapclient_lists_folders_and_finds_special_ones() {
    let roost = start_roost("imaplist-imapclient", ROOST_NS);
    let script = r#"
import sys, imapclient
from imapclient.imapclient import SENT, TRASH, DRAFTS
c = imapclient.IMAPClient("127.0.0.1", port=int(sys.argv[1]), ssl=False, timeout=10)
c.login("bob", "pass")
assert c.has_capability("LIST-EXTENDED") and c.has_capability("SPECIAL-USE"), c.capabilities()
c.create_folder("Sent")
c.create_folder("Work/Sub")
c.append("Work/Sub", b"Subject: x\r\n\r\nhi\r\n", flags=[b"\\Seen"])
c.subscribe_folder("Work/Sub")
print("sep", c.namespace().personal[0][1])
for flags, delim, name in c.list_folders():
    print("list", name, sorted(f.decode() for f in flags))
for flags, delim, name in c.list_sub_folders():
    print("lsub", name, sorted(f.decode() for f in flags))
print("sent", c.find_special_folder(SENT))
print("trash", c.find_special_folder(TRASH))
print("drafts", c.find_special_folder(DRAFTS))
st = c.folder_status("Work/Sub", ["MESSAGES", "UNSEEN", "UIDNEXT"])
print("status", st[b"MESSAGES"], st[b"UNSEEN"], st[b"UIDNEXT"])
c.logout()
"#;
    let out = python_transcript(script, roost.port);
    let expected = [
        "sep /",
        "list Junk ['\\\\HasNoChildren', '\\\\Junk']",
        "list Sent ['\\\\HasNoChildren', '\\\\Sent']",
        "list Trash ['\\\\HasNoChildren', '\\\\Trash']",
        "list Work ['\\\\HasChildren', '\\\\Noselect']",
        "list Work/Sub ['\\\\HasNoChildren']",
        "list INBOX ['\\\\HasNoChildren']",
        "lsub Work/Sub []",
        "lsub Trash ['\\\\Trash']",
        "sent Sent",
        "trash Trash",
        "drafts None",
        "status 1 0 2",
    ];
    let mut sorted_out = out.clone();
    sorted_out.sort();
    let mut sorted_expected: Vec<String> = expected.iter().map(|s| s.to_string()).collect();
    sorted_expected.sort();
    assert_eq!(sorted_out, sorted_expected, "{}", out.join("\n"));
}
