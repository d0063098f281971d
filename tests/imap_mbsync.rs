//! mbsync (Debian's isync) against the real roost binary: a 1,000-message account with
//! folders (nested `Work.Projects`, non-ASCII `Café` as `Caf&AOk-`, which isync 1.4 keeps
//! as it is) and every system flag is
//! pulled into mbsync's own Maildir; then both sides change (new mail, flag changes,
//! deletions and expunges, a new folder on each side), a second sync must leave both sides
//! equal — message bodies by hash, flags and folder sets, the roost side read both through
//! IMAP (imaplib) and from its Maildir on disk — and a third sync must change nothing.

mod common;

use std::collections::{BTreeMap, BTreeSet};
use std::fs;
use std::path::{Path, PathBuf};
use std::process::Command;

use common::*;

/// folder → sorted list of (body hash, flags) for each message.
type Side = BTreeMap<String, Vec<(String, String)>>;

const SEED: &str = r#"
import imaplib, sys
m = imaplib.IMAP4("127.0.0.1", int(sys.argv[1]))
m.login("bob", "bobpw")
for f in ["Work", "Work.Projects", "Caf&AOk-"]:
    assert m.create(f)[0] == "OK", f
folders = ["INBOX"] * 6 + ["Work"] * 2 + ["Work.Projects", "Caf&AOk-"]
for i in range(1000):
    flags = []
    if i % 5 == 0: flags.append("\\Seen")
    if i % 7 == 0: flags.append("\\Flagged")
    if i % 11 == 0: flags.append("\\Answered")
    if i % 13 == 0: flags.append("\\Draft")
    if i % 50 == 3: flags.append("\\Deleted")
    body = ("From: sender%d@example.org\r\nTo: bob@example.test\r\nSubject: message %d\r\n"
            "Message-ID: <seed%d@example.org>\r\nDate: Mon, 2 Nov 2026 10:%02d:00 +0000\r\n\r\n"
            % (i, i, i, i % 60)) + ("line %d of a body\r\n" % i) * (1 + i % 40)
    typ, _ = m.append(folders[i % 10], "(" + " ".join(flags) + ")",
                      '"02-Nov-2026 10:%02d:00 +0000"' % (i % 60), body.encode())
    assert typ == "OK"
m.logout()
"#;

/// Changes on roost's side between the first and the second sync.
const ROOST_CHANGES: &str = r#"
import imaplib, sys
m = imaplib.IMAP4("127.0.0.1", int(sys.argv[1]))
m.login("bob", "bobpw")
m.select("INBOX")
assert m.store("1:5", "+FLAGS", "(\\Seen \\Answered)")[0] == "OK"
assert m.store("6:10", "-FLAGS", "(\\Seen \\Flagged \\Draft)")[0] == "OK"
assert m.store("11:13", "+FLAGS", "(\\Deleted)")[0] == "OK"
assert m.expunge()[0] == "OK"
assert m.store("14", "+FLAGS", "(\\Deleted)")[0] == "OK"
for i in range(3):
    m.append("INBOX", "(\\Flagged)", None, b"Subject: new on roost %d\r\n\r\nfresh %d\r\n" % (i, i))
m.select("Work.Projects")
assert m.store("1:3", "+FLAGS", "(\\Flagged)")[0] == "OK"
assert m.create("RoostNew")[0] == "OK"
m.append("RoostNew", "(\\Seen)", None, b"Subject: in a new roost folder\r\n\r\nhello\r\n")
m.append("Caf&AOk-", None, None, b"Subject: caf\xc3\xa9 8bit\r\nContent-Type: text/plain; charset=utf-8\r\n\r\n\xc3\xa9t\xc3\xa9\r\n")
m.logout()
"#;

/// What roost serves over IMAP: every folder's messages as (sha256 of the CRLF body, flags).
const DUMP: &str = r#"
import imaplib, sys, json, hashlib, re
m = imaplib.IMAP4("127.0.0.1", int(sys.argv[1]))
m.login("bob", "bobpw")
out = {}
for line in m.list()[1]:
    name = re.match(rb'\([^)]*\) "." (.*)$', line).group(1).decode().strip('"')
    typ, d = m.select(name, readonly=True)
    assert typ == "OK", name
    msgs = []
    if int(d[0]) > 0:
        typ, data = m.fetch("1:*", "(FLAGS BODY.PEEK[])")
        for item in data:
            if isinstance(item, tuple):
                flags = re.search(rb"FLAGS \(([^)]*)\)", item[0]).group(1).decode().split()
                flags = sorted(f for f in flags if f != "\\Recent")
                body = re.sub(rb"(?m)^X-TUID: [^\r\n]*\r\n", b"", item[1], count=1)
                msgs.append([hashlib.sha256(body).hexdigest(), " ".join(flags)])
    out[name] = sorted(msgs)
m.logout()
print(json.dumps(out))
"#;

struct Account {
    server: Server,
    imap: u16,
    /// roost's Maildir of bob.
    roost: PathBuf,
    /// mbsync's Maildir.
    local: PathBuf,
    config: PathBuf,
}

fn start() -> Account {
    let launch = Launch::new("imap-mbsync");
    let users = launch
        .dir()
        .write("users", "bob:{PLAIN}bobpw:1000:1000::/nonexistent\n");
    let mail = launch.dir().join("mail");
    let local = launch.dir().join("local");
    fs::create_dir_all(&local).unwrap();
    let imap = free_port();
    let extra = format!(
        "protocols = [\"imap\"]\nmail_location = \"maildir:{m}/%n\"\n\
auth_mechanisms = \"plain login\"\nmail_fsync = \"never\"\n\n\
[[passdb]]\ndriver = \"passwd-file\"\nargs = \"{u}\"\n\n\
[[userdb]]\ndriver = \"passwd-file\"\nargs = \"{u}\"\n\n\
[service.imap-login.inet_listener.imap]\nport = {imap}\n\n\
[service.imap-login.inet_listener.imaps]\nport = 0\n",
        m = mail.display(),
        u = users.display()
    );
    let config = launch.dir().write(
        "mbsyncrc",
        format!(
            "IMAPAccount roost\nHost 127.0.0.1\nPort {imap}\nUser bob\nPass bobpw\n\
SSLType None\nAuthMechs LOGIN\nTimeout 60\n\n\
IMAPStore far\nAccount roost\n\n\
MaildirStore near\nPath {l}/\nInbox {l}/INBOX\nSubFolders Verbatim\n\n\
Channel all\nFar :far:\nNear :near:\nPatterns *\nCreate Both\nExpunge Both\n\
SyncState *\nSync All\nCopyArrivalDate yes\n",
            l = local.display()
        ),
    );
    let server = launch.config(&extra).ready_on(&[imap]).start();
    Account {
        server,
        imap,
        roost: mail.join("bob"),
        local,
        config,
    }
}

fn python(script: &str, port: u16) -> String {
    run(Command::new("timeout").args(["900", "python3", "-c", script, &port.to_string()]))
        .stdout_ok("python3")
}

/// `mbsync -a`, bounded; returns its output.
fn mbsync(a: &Account) -> String {
    require_tool("mbsync");
    let r = run(Command::new("timeout")
        .arg("300")
        .arg("mbsync")
        .arg("-c")
        .arg(&a.config)
        .arg("-a"));
    assert!(
        r.ok,
        "mbsync failed ({:?}):\n{}\nroost log:\n{}",
        r.code,
        r.all(),
        a.server.log_text()
    );
    r.all()
}

/// `S`/`F`/… of a Maildir file name as IMAP flags (keywords, lowercase letters, ignored).
fn maildir_flags(name: &str) -> String {
    let info = name.rsplit_once(":2,").map(|(_, f)| f).unwrap_or("");
    let mut v: Vec<&str> = info
        .chars()
        .filter_map(|c| match c {
            'D' => Some("\\Draft"),
            'F' => Some("\\Flagged"),
            'R' => Some("\\Answered"),
            'S' => Some("\\Seen"),
            'T' => Some("\\Deleted"),
            _ => None,
        })
        .collect();
    v.sort();
    v.join(" ")
}

/// The `X-TUID:` header mbsync adds to the copies it makes (to find them again) is not part of
/// the message.
fn without_tuid(data: &[u8]) -> Vec<u8> {
    let mut out = Vec::with_capacity(data.len());
    let mut in_header = true;
    for line in data.split_inclusive(|&b| b == b'\n') {
        if in_header && line.starts_with(b"X-TUID: ") {
            continue;
        }
        if line == b"\n" || line == b"\r\n" {
            in_header = false;
        }
        out.extend_from_slice(line);
    }
    out
}

fn sha256_crlf(data: &[u8]) -> String {
    let data = without_tuid(data);
    // Both stores keep LF line ends on disk; IMAP serves CRLF.
    let mut crlf = Vec::with_capacity(data.len() + data.len() / 20);
    for (i, &b) in data.iter().enumerate() {
        if b == b'\n' && (i == 0 || data[i - 1] != b'\r') {
            crlf.push(b'\r');
        }
        crlf.push(b);
    }
    let d = ring::digest::digest(&ring::digest::SHA256, &crlf);
    d.as_ref().iter().map(|b| format!("{b:02x}")).collect()
}

/// The messages of one Maildir (cur/ and new/).
fn read_maildir(dir: &Path) -> Vec<(String, String)> {
    let mut v = Vec::new();
    for sub in ["cur", "new"] {
        let Ok(rd) = fs::read_dir(dir.join(sub)) else {
            continue;
        };
        for e in rd {
            let e = e.unwrap();
            let name = e.file_name().into_string().unwrap();
            v.push((
                sha256_crlf(&fs::read(e.path()).unwrap()),
                maildir_flags(&name),
            ));
        }
    }
    v.sort();
    v
}

/// roost's Maildir++ on disk: INBOX at the root, `.Name` folders (names as IMAP sees them).
fn roost_disk(root: &Path) -> Side {
    let mut side = Side::new();
    side.insert("INBOX".into(), read_maildir(root));
    for e in fs::read_dir(root).unwrap() {
        let e = e.unwrap();
        let name = e.file_name().into_string().unwrap();
        if let Some(folder) = name.strip_prefix('.') {
            if e.path().is_dir() && !folder.is_empty() && folder != "." {
                side.insert(folder.to_string(), read_maildir(&e.path()));
            }
        }
    }
    side
}

/// mbsync's Maildir (`SubFolders Verbatim`: `Work/Projects`; isync 1.4 keeps the modified
/// UTF-7 names as they are), with names mapped back to roost's IMAP names (`.` separator).
fn local_disk(root: &Path) -> Side {
    fn walk(dir: &Path, prefix: &str, side: &mut Side) {
        for e in fs::read_dir(dir).unwrap() {
            let e = e.unwrap();
            let name = e.file_name().into_string().unwrap();
            if !e.path().is_dir() || ["cur", "new", "tmp"].contains(&name.as_str()) {
                continue;
            }
            let full = format!("{prefix}{name}");
            if e.path().join("cur").is_dir() {
                side.insert(full.clone(), read_maildir(&e.path()));
            }
            walk(&e.path(), &format!("{full}."), side);
        }
    }
    let mut side = Side::new();
    walk(root, "", &mut side);
    side
}

fn imap_side(a: &Account) -> Side {
    serde_json::from_str(&python(DUMP, a.imap)).unwrap()
}

/// Message files of both sides as (folder dir, base name, flags): what a sync would change.
/// Whether a file sits in new/ or cur/ is left out: a read-write SELECT moves new/ to cur/,
/// as Dovecot's does.
fn file_names(dir: &Path, out: &mut BTreeSet<(String, String, String)>) {
    for e in fs::read_dir(dir).unwrap() {
        let e = e.unwrap();
        let p = e.path();
        let sub = p.parent().unwrap();
        let parent = sub.file_name().unwrap().to_string_lossy();
        if p.is_dir() {
            file_names(&p, out);
        } else if parent == "cur" || parent == "new" {
            let name = e.file_name().into_string().unwrap();
            let (base, info) = name.split_once(":2,").unwrap_or((&name, ""));
            out.insert((
                sub.parent().unwrap().display().to_string(),
                base.to_string(),
                info.to_string(),
            ));
        }
    }
}

fn snapshot(a: &Account) -> BTreeSet<(String, String, String)> {
    let mut s = BTreeSet::new();
    file_names(&a.roost, &mut s);
    file_names(&a.local, &mut s);
    s
}

fn count(side: &Side) -> usize {
    side.values().map(Vec::len).sum()
}

/// Both sides equal: roost over IMAP, roost on disk and mbsync's Maildir.
fn assert_in_sync(a: &Account) -> Side {
    let over_imap = imap_side(a);
    let on_disk = roost_disk(&a.roost);
    let local = local_disk(&a.local);
    assert_eq!(
        over_imap.keys().collect::<Vec<_>>(),
        local.keys().collect::<Vec<_>>(),
        "folder sets differ"
    );
    assert_eq!(over_imap, on_disk, "roost: IMAP and disk differ");
    for (k, v) in &over_imap {
        assert_eq!(
            v, &local[k],
            "folder {k} differs between roost and mbsync's Maildir"
        );
    }
    over_imap
}

/// Renames a Maildir file to carry `flags` (mbsync's `,U=` part kept).
fn set_flags(path: &Path, flags: &str) {
    let name = path.file_name().unwrap().to_string_lossy().into_owned();
    let base = name.rsplit_once(":2,").map(|(b, _)| b).unwrap_or(&name);
    let cur = path.parent().unwrap().parent().unwrap().join("cur");
    fs::rename(path, cur.join(format!("{base}:2,{flags}"))).unwrap();
}

fn files_of(dir: &Path) -> Vec<PathBuf> {
    let mut v: Vec<PathBuf> = ["cur", "new"]
        .iter()
        .flat_map(|s| fs::read_dir(dir.join(s)).unwrap())
        .map(|e| e.unwrap().path())
        .collect();
    v.sort();
    v
}

/// Changes in mbsync's Maildir between the first and the second sync.
fn local_changes(local: &Path) {
    let inbox = local.join("INBOX");
    let files = files_of(&inbox);
    // Flags: files near the end (roost changes the first messages).
    set_flags(&files[files.len() - 1], "FS");
    set_flags(&files[files.len() - 2], "R");
    set_flags(&files[files.len() - 3], "DS");
    // A deletion: the file goes; another message is trashed (\Deleted, expunged by the sync).
    fs::remove_file(&files[files.len() - 4]).unwrap();
    set_flags(&files[files.len() - 5], "ST");
    // New mail, in new/ and cur/.
    for (i, sub) in ["new", "cur"].iter().enumerate() {
        let name = format!("1800000000.local{i}.near");
        let name = if *sub == "cur" {
            format!("{name}:2,F")
        } else {
            name
        };
        fs::write(
            inbox.join(sub).join(name),
            format!("Subject: new on the near side {i}\n\nlocal {i}\n"),
        )
        .unwrap();
    }
    let work = local.join("Work");
    let wf = files_of(&work);
    fs::remove_file(&wf[wf.len() - 1]).unwrap();
    set_flags(&wf[wf.len() - 2], "S");
    // A new folder, nested under an existing one.
    let nf = local.join("Work").join("NearNew");
    for s in ["cur", "new", "tmp"] {
        fs::create_dir_all(nf.join(s)).unwrap();
    }
    fs::write(
        nf.join("new").join("1800000001.nf.near"),
        "Subject: in a new near folder\n\nhi\n",
    )
    .unwrap();
}

#[test]
fn mbsync_two_way_sync_of_a_thousand_message_account() {
    let a = start();
    let t = std::time::Instant::now();
    python(SEED, a.imap);
    eprintln!("seeded 1,000 messages over IMAP in {:?}", t.elapsed());

    // 1. The initial pull; \Deleted messages are expunged on both sides (Expunge Both).
    mbsync(&a);
    let first = assert_in_sync(&a);
    assert_eq!(
        first.keys().collect::<Vec<_>>(),
        ["Caf&AOk-", "INBOX", "Work", "Work.Projects"]
    );
    assert_eq!(count(&first), 980, "1,000 seeded, 20 \\Deleted expunged");
    assert!(a.local.join("Caf&AOk-").join("cur").is_dir());
    assert!(a.roost.join(".Caf&AOk-").join("cur").is_dir());
    let flags: BTreeSet<&str> = first
        .values()
        .flatten()
        .flat_map(|(_, f)| f.split(' '))
        .collect();
    for f in ["\\Seen", "\\Flagged", "\\Answered", "\\Draft"] {
        assert!(flags.contains(f), "{f} missing after the pull: {flags:?}");
    }

    // 2. Changes on both sides, then a sync.
    python(ROOST_CHANGES, a.imap);
    local_changes(&a.local);
    mbsync(&a);
    let second = assert_in_sync(&a);
    assert_eq!(
        second.keys().collect::<Vec<_>>(),
        [
            "Caf&AOk-",
            "INBOX",
            "RoostNew",
            "Work",
            "Work.NearNew",
            "Work.Projects"
        ]
    );
    // roost: −3 expunged −1 \Deleted +3 new +1 RoostNew +1 Café; near: −1 removed −1 trashed
    // +2 new in INBOX, −1 in Work, +1 in Work/NearNew.
    assert_eq!(count(&second), 980 - 3 - 1 + 3 + 1 + 1 - 1 - 1 + 2 - 1 + 1);
    assert!(!second
        .values()
        .flatten()
        .any(|(_, f)| f.contains("\\Deleted")));
    assert!(a.roost.join(".Work.NearNew").join("maildirfolder").exists());

    // 3. Nothing left to do: no message file changes on either side.
    let before = snapshot(&a);
    mbsync(&a);
    let after = snapshot(&a);
    let gone: Vec<_> = before.difference(&after).collect();
    let came: Vec<_> = after.difference(&before).collect();
    assert!(
        gone.is_empty() && came.is_empty(),
        "the third sync changed files: gone {gone:?}, new {came:?}"
    );
    assert_eq!(assert_in_sync(&a), second);
}
