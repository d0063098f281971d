//! Roost and Dovecot 2.3 share one Maildir: what roost delivers (UIDs, flags, mailbox GUID)
//! Dovecot's `doveadm` sees identically, and what Dovecot saves and flags roost reads with the
//! same UIDs and the UIDL values Dovecot's POP3 would give. A throw-away Dovecot
//! ([`common::Dovecot`]) runs in a temp dir for doveadm's userdb lookups and its POP3.

mod common;

use std::fs;
use std::os::unix::process::CommandExt;
use std::path::PathBuf;
use std::process::{Command, Stdio};

use common::*;
use roost::mail::maildir::mailbox::Change;
use roost::mail::maildir::{Flags, Maildir};
use roost::protocol::pop3::uidl::{expand, UidlVars};

/// `uid flags` pairs from `doveadm fetch`.
fn fetch_uid_flags(d: &Dovecot) -> Vec<(u32, String)> {
    let out = d.doveadm(
        &["fetch", "-u", "bob", "uid flags", "mailbox", "INBOX", "all"],
        None,
    );
    let mut v = Vec::new();
    let mut uid = 0;
    for line in out.lines() {
        if let Some(u) = line.strip_prefix("uid: ") {
            uid = u.trim().parse().unwrap();
        } else if let Some(f) = line.strip_prefix("flags:") {
            v.push((uid, f.trim().to_string()));
        }
    }
    v
}

#[test]
fn dovecot_and_roost_agree_on_uids_flags_and_uidls() {
    let dir = TempDir::new("compat-share");
    let dovecot = Dovecot::start(dir.path());
    let inbox_dir = dir.join("mail/bob");
    let roost = Maildir::open(&inbox_dir, &inbox_dir, true, true, "roost.test").unwrap();

    // 1. Roost delivers three messages and flags two of them.
    for i in 1..=3 {
        let uid = roost
            .deliver(
                format!("Subject: roost {i}\n\nbody {i}\n").as_bytes(),
                &Flags::default(),
            )
            .unwrap();
        assert_eq!(uid, i);
    }
    let snap = roost.sync().unwrap();
    let mut seen = Flags::default();
    seen.insert(Flags::SEEN);
    let mut flagged = Flags::default();
    flagged.insert(Flags::FLAGGED);
    roost
        .apply(&[
            (snap.messages[1].clone(), Change::SetFlags(seen)),
            (snap.messages[2].clone(), Change::SetFlags(flagged)),
        ])
        .unwrap();
    dovecot.chown_mail();

    // 2. Dovecot sees the same UIDs, flags, UIDVALIDITY and mailbox GUID.
    assert_eq!(
        fetch_uid_flags(&dovecot),
        [
            (1, String::new()),
            (2, "\\Seen".to_string()),
            (3, "\\Flagged".to_string())
        ]
    );
    let status = dovecot.doveadm(
        &[
            "mailbox",
            "status",
            "-u",
            "bob",
            "uidvalidity uidnext",
            "INBOX",
        ],
        None,
    );
    assert_eq!(
        status.trim(),
        format!("INBOX uidnext=4 uidvalidity={}", snap.uid_validity)
    );
    let text = dovecot.doveadm(
        &["fetch", "-u", "bob", "text", "mailbox", "INBOX", "uid", "2"],
        None,
    );
    assert!(text.contains("Subject: roost 2\n\nbody 2\n"), "{text}");
    let uidlist = roost::mail::maildir::uidlist::Uidlist::read(&inbox_dir.join("dovecot-uidlist"))
        .unwrap()
        .unwrap();
    let search = dovecot.doveadm(&["search", "-u", "bob", "mailbox", "INBOX", "all"], None);
    assert!(
        search.starts_with(&format!("{} 1\n", uidlist.guid)),
        "{search}"
    );

    // 3. Dovecot saves a message and changes flags; roost reads both.
    dovecot.doveadm(
        &["save", "-u", "bob"],
        Some(b"Subject: from dovecot\n\nhi\n"),
    );
    dovecot.doveadm(
        &[
            "flags",
            "add",
            "-u",
            "bob",
            "\\Answered",
            "mailbox",
            "INBOX",
            "uid",
            "1",
        ],
        None,
    );
    let snap = roost.sync().unwrap();
    let got: Vec<(u32, String)> = snap
        .messages
        .iter()
        .map(|m| (m.uid, m.flags.letters()))
        .collect();
    assert_eq!(
        got,
        [
            (1, "R".to_string()),
            (2, "S".to_string()),
            (3, "F".to_string()),
            (4, String::new())
        ]
    );
    assert_eq!(
        roost.read(&snap.messages[3]).unwrap(),
        b"Subject: from dovecot\n\nhi\n"
    );

    // 4. Roost delivers after Dovecot has built its index: Dovecot picks up UID 5.
    assert_eq!(
        roost
            .deliver(b"Subject: roost 5\n\n5\n", &Flags::default())
            .unwrap(),
        5
    );
    dovecot.chown_mail();
    let uids: Vec<u32> = fetch_uid_flags(&dovecot).iter().map(|(u, _)| *u).collect();
    assert_eq!(uids, [1, 2, 3, 4, 5]);

    // 5. UIDLs: roost's default format gives exactly what Dovecot's own POP3 server answers.
    let script = "import poplib,sys\np=poplib.POP3('127.0.0.1',int(sys.argv[1]))\n\
p.user('bob');p.pass_('pass')\nprint('\\n'.join(u.decode() for u in p.uidl()[1]))\np.quit()";
    let out = Command::new("python3")
        .args(["-c", script, &dovecot.pop3_port.to_string()])
        .output()
        .expect("python3 must be installed for this test");
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let dovecot_uidls: Vec<String> = String::from_utf8(out.stdout)
        .unwrap()
        .lines()
        .map(|l| l.split_once(' ').unwrap().1.to_string())
        .collect();
    let snap = roost.sync().unwrap();
    let uidls: Vec<String> = snap
        .messages
        .iter()
        .map(|m| {
            expand(
                "%08Xu%08Xv",
                &UidlVars {
                    uid: m.uid,
                    uid_validity: snap.uid_validity,
                    base: &m.base,
                    guid: &m.guid,
                },
            )
        })
        .collect();
    assert_eq!(uidls, dovecot_uidls);
    assert_eq!(uidls[0], format!("00000001{:08x}", snap.uid_validity));
}

const CHILD_ENV: &str = "ROOST_COMPAT_DELIVER_INTO";
const CONCURRENT: &str = "concurrent_roost_and_dovecot_deliveries_get_one_uid_sequence";

#[test]
fn concurrent_roost_and_dovecot_deliveries_get_one_uid_sequence() {
    if let Ok(inbox) = std::env::var(CHILD_ENV) {
        // Child: roost delivering as Dovecot's mail user, while Dovecot delivers too.
        let inbox = PathBuf::from(inbox);
        let m = Maildir::open(&inbox, &inbox, true, true, "roost.test").unwrap();
        for i in 0..40 {
            m.deliver(
                format!("Subject: roost {i}\n\nr\n").as_bytes(),
                &Flags::default(),
            )
            .unwrap();
        }
        return;
    }
    let dir = TempDir::new("compat-concurrent");
    let dovecot = Dovecot::start(dir.path());
    let inbox = dir.join("mail/bob");
    fs::create_dir_all(&inbox).unwrap();
    dovecot.chown_mail();
    let roost = Command::new(std::env::current_exe().unwrap())
        .args(["--exact", CONCURRENT, "--test-threads", "1"])
        .env(CHILD_ENV, &inbox)
        .uid(65534)
        .gid(65534)
        .stdout(Stdio::null())
        .spawn()
        .expect("re-running the test binary as nobody");
    for i in 0..20 {
        dovecot.doveadm(
            &["save", "-u", "bob"],
            Some(format!("Subject: dovecot {i}\n\nd\n").as_bytes()),
        );
    }
    let out = roost.wait_with_output().unwrap();
    assert!(out.status.success(), "roost child failed");

    // Both agree on one UID per message, 1..=60, and on which file has which UID.
    let fetched = dovecot.doveadm(
        &["fetch", "-u", "bob", "uid guid", "mailbox", "INBOX", "all"],
        None,
    );
    let mut dovecot_map = Vec::new();
    let mut uid = 0u32;
    for line in fetched.lines() {
        if let Some(u) = line.strip_prefix("uid: ") {
            uid = u.trim().parse().unwrap();
        } else if let Some(g) = line.strip_prefix("guid: ") {
            dovecot_map.push((uid, g.trim().to_string()));
        }
    }
    let m = Maildir::open(&inbox, &inbox, false, true, "roost.test").unwrap();
    let snap = m.sync().unwrap();
    let roost_map: Vec<(u32, String)> = snap
        .messages
        .iter()
        .map(|e| (e.uid, e.guid.clone()))
        .collect();
    assert_eq!(roost_map.len(), 60);
    assert_eq!(
        roost_map.iter().map(|(u, _)| *u).collect::<Vec<_>>(),
        (1..=60).collect::<Vec<_>>()
    );
    assert_eq!(roost_map, dovecot_map);
}
