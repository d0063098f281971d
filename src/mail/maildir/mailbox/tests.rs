//! Maildir behaviour: UIDs, file names, the uidlist Dovecot reads, concurrency, crash leftovers.

use std::collections::BTreeSet;
use std::fs;
use std::os::unix::fs::PermissionsExt;
use std::path::PathBuf;
use std::sync::Arc;

use super::*;

fn fresh(tag: &str) -> PathBuf {
    let d = std::env::temp_dir().join(format!("roost-maildir-{tag}-{}", std::process::id()));
    let _ = fs::remove_dir_all(&d);
    d
}

fn open(d: &Path) -> Maildir {
    Maildir::open(d, d, true, true, "host.example").unwrap()
}

#[test]
fn delivery_writes_new_file_with_sizes_and_a_uidlist_record() {
    let d = fresh("deliver");
    let m = open(&d);
    let uid1 = m
        .deliver(b"Subject: a\n\nhello\n", &Flags::default())
        .unwrap();
    let uid2 = m.deliver(b"Subject: b\n\nx\n", &Flags::default()).unwrap();
    assert_eq!((uid1, uid2), (1, 2));
    // No message file left behind; only this process's uidlist lock template.
    let left: Vec<String> = fs::read_dir(d.join("tmp"))
        .unwrap()
        .flatten()
        .map(|e| e.file_name().to_string_lossy().into_owned())
        .collect();
    let template = format!("dovecot-uidlist.lock.tmp.{}", std::process::id());
    assert_eq!(left, [template], "tmp/ must hold no message");
    let names: Vec<String> = fs::read_dir(d.join("new"))
        .unwrap()
        .map(|e| e.unwrap().file_name().into_string().unwrap())
        .collect();
    assert_eq!(names.len(), 2);
    assert!(names.iter().any(|n| n.ends_with(",S=18,W=21")), "{names:?}");
    let text = fs::read_to_string(d.join(UIDLIST)).unwrap();
    let list = Uidlist::parse(text.as_bytes()).unwrap();
    assert!(text.starts_with("3 V"), "{text}");
    assert_eq!(list.guid.len(), 32);
    assert_eq!(list.next_uid(), 3);
    assert!(!d.join("dovecot-uidlist.lock").exists());
    let snap = m.sync().unwrap();
    assert_eq!(
        snap.messages.iter().map(|e| e.uid).collect::<Vec<_>>(),
        [1, 2]
    );
    assert_eq!(snap.messages[0].size, 18);
    assert_eq!(snap.messages[0].vsize, 21);
    assert_eq!(m.read(&snap.messages[1]).unwrap(), b"Subject: b\n\nx\n");
    assert_eq!(snap.uid_validity, list.uid_validity);
}

#[test]
fn foreign_files_get_the_next_uids_and_keep_existing_ones() {
    let d = fresh("foreign");
    fs::create_dir_all(d.join("cur")).unwrap();
    fs::create_dir_all(d.join("new")).unwrap();
    fs::create_dir_all(d.join("tmp")).unwrap();
    fs::write(
        d.join(UIDLIST),
        "3 V1795902517 N1 G30bfaa20354c0b6b2a2f000083ecc375\n7 :old.vm,S=3,W=4\n",
    )
    .unwrap();
    fs::write(d.join("cur/old.vm,S=3,W=4:2,S"), b"ab\n").unwrap();
    fs::write(d.join("new/zz.other"), b"a\nb\n").unwrap();
    let m = open(&d);
    let s = m.sync().unwrap();
    assert_eq!(s.uid_validity, 1795902517);
    let got: Vec<(u32, &str, bool)> = s
        .messages
        .iter()
        .map(|e| (e.uid, e.base.as_str(), e.flags.has(Flags::SEEN)))
        .collect();
    assert_eq!(got, [(7, "old.vm,S=3,W=4", true), (8, "zz.other", false)]);
    assert_eq!(s.messages[1].vsize, 6);
    // As Dovecot does: the new record is appended, the header stays.
    let text = fs::read_to_string(d.join(UIDLIST)).unwrap();
    assert_eq!(
        text,
        "3 V1795902517 N1 G30bfaa20354c0b6b2a2f000083ecc375\n7 :old.vm,S=3,W=4\n8 :zz.other\n"
    );
    // A delivery after that continues the sequence.
    assert_eq!(m.deliver(b"x\n", &Flags::default()).unwrap(), 9);
}

#[test]
fn concurrent_deliveries_get_distinct_consecutive_uids() {
    let d = fresh("concurrent");
    let m = Arc::new(open(&d));
    let handles: Vec<_> = (0..6)
        .map(|t| {
            let m = m.clone();
            std::thread::spawn(move || {
                (0..15)
                    .map(|i| {
                        m.deliver(format!("t{t} m{i}\n").as_bytes(), &Flags::default())
                            .unwrap()
                    })
                    .collect::<Vec<u32>>()
            })
        })
        .collect();
    let mut all = BTreeSet::new();
    for h in handles {
        for uid in h.join().unwrap() {
            assert!(all.insert(uid), "UID {uid} given twice");
        }
    }
    assert_eq!(all, (1..=90).collect());
    assert_eq!(m.sync().unwrap().messages.len(), 90);
}

#[test]
fn a_held_lock_makes_delivery_wait_not_fail() {
    let d = fresh("lockwait");
    let m = open(&d);
    m.deliver(b"first\n", &Flags::default()).unwrap();
    let lock = Dotlock::acquire(&d.join(UIDLIST), STALE_TIMEOUT, WAIT_TIMEOUT).unwrap();
    let m2 = m.clone();
    let h = std::thread::spawn(move || m2.deliver(b"second\n", &Flags::default()).unwrap());
    std::thread::sleep(std::time::Duration::from_millis(150));
    assert!(!h.is_finished(), "delivery must wait for the uidlist lock");
    drop(lock);
    assert_eq!(h.join().unwrap(), 2);
}

#[test]
fn partial_files_in_tmp_are_never_listed() {
    let d = fresh("crash");
    let m = open(&d);
    m.deliver(b"kept\n", &Flags::default()).unwrap();
    // What a crash mid-write leaves behind.
    fs::write(d.join("tmp/1.M1P1.host,S=100,W=102"), b"partial").unwrap();
    let s = m.sync().unwrap();
    assert_eq!(s.messages.len(), 1);
    assert_eq!(m.read(&s.messages[0]).unwrap(), b"kept\n");
}

#[test]
fn old_tmp_leftovers_are_removed_on_resync_recent_ones_kept() {
    let d = fresh("tmpclean");
    let m = open(&d);
    let old = d.join("tmp/old.partial");
    let new = d.join("tmp/new.partial");
    fs::write(&old, b"x").unwrap();
    fs::write(&new, b"x").unwrap();
    let f = fs::File::options().write(true).open(&old).unwrap();
    f.set_modified(SystemTime::now() - std::time::Duration::from_secs(37 * 3600))
        .unwrap();
    drop(f);
    // A file without a UID forces the locked resync that cleans tmp/.
    fs::write(d.join("new/foreign"), b"y\n").unwrap();
    m.sync().unwrap();
    assert!(!old.exists());
    assert!(new.exists());
}

#[test]
fn apply_sets_flags_into_cur_and_expunges() {
    let d = fresh("apply");
    let m = open(&d);
    for i in 0..3 {
        m.deliver(format!("m{i}\n").as_bytes(), &Flags::default())
            .unwrap();
    }
    let s = m.sync().unwrap();
    let mut seen = Flags::default();
    seen.insert(Flags::SEEN);
    m.apply(&[
        (s.messages[0].clone(), Change::Expunge),
        (s.messages[1].clone(), Change::SetFlags(seen)),
    ])
    .unwrap();
    let s2 = m.sync().unwrap();
    assert_eq!(
        s2.messages.iter().map(|e| e.uid).collect::<Vec<_>>(),
        [2, 3]
    );
    assert!(s2.messages[0].flags.has(Flags::SEEN));
    assert!(!s2.messages[0].in_new);
    assert!(d
        .join("cur")
        .join(format!("{}:2,S", s2.messages[0].base))
        .exists());
    // Reading still works with a snapshot taken before the rename.
    assert_eq!(m.read(&s.messages[1]).unwrap(), b"m1\n");
}

#[test]
fn delivered_flags_go_into_the_name() {
    let d = fresh("flags");
    let m = open(&d);
    let mut f = Flags::default();
    f.insert(Flags::FLAGGED);
    f.insert(Flags::SEEN);
    m.deliver(b"x\n", &f).unwrap();
    let s = m.sync().unwrap();
    assert!(
        s.messages[0].name.ends_with(":2,FS"),
        "{}",
        s.messages[0].name
    );
}

/// Dovecot 2.3.19.1 (Maildir++) left `maildirfolder` (0600, empty) in an INBOX that LMTP
/// created from nothing, as in every folder it creates; not in a directory that existed.
#[test]
fn created_folders_get_maildirfolder_existing_dirs_and_layout_fs_do_not() {
    let root = fresh("sub");
    open(&root);
    let mf = root.join("maildirfolder");
    assert!(mf.exists());
    assert_eq!(
        fs::metadata(&mf).unwrap().permissions().mode() & 0o777,
        0o600
    );
    assert!(Maildir::open(&root.join(".Sent"), &root, false, true, "h").is_err());
    Maildir::open(&root.join(".Sent"), &root, true, true, "h").unwrap();
    assert!(root.join(".Sent/maildirfolder").exists());

    let existing = fresh("sub-existing");
    fs::create_dir_all(&existing).unwrap();
    open(&existing);
    assert!(existing.join("cur").is_dir());
    assert!(!existing.join("maildirfolder").exists());

    let fs_layout = fresh("sub-fs");
    Maildir::open_in(&fs_layout, &fs_layout, true, true, "h", false).unwrap();
    assert!(fs_layout.join("cur").is_dir());
    assert!(!fs_layout.join("maildirfolder").exists());
    for d in [root, existing, fs_layout] {
        fs::remove_dir_all(d).unwrap();
    }
}

fn names(d: &Path, sub: &str) -> Vec<String> {
    let mut v: Vec<String> = fs::read_dir(d.join(sub))
        .unwrap()
        .map(|e| e.unwrap().file_name().into_string().unwrap())
        .collect();
    v.sort();
    v
}

/// Dovecot's POP3 login renamed `new/<base>` to `cur/<base>:2,` and kept the UIDs.
#[test]
fn a_session_moves_new_mail_to_cur_with_empty_info() {
    let d = fresh("session-move");
    let m = open(&d);
    let a = m.deliver(b"Subject: a\n\na\n", &Flags::default()).unwrap();
    let mut seen = Flags::default();
    seen.insert(Flags::SEEN);
    m.deliver(b"Subject: b\n\nb\n", &seen).unwrap();
    let s = m.sync_session().unwrap();
    assert!(names(&d, "new").is_empty());
    let cur = names(&d, "cur");
    assert_eq!(cur.len(), 2);
    assert!(cur.iter().any(|n| n.ends_with(":2,")), "{cur:?}");
    assert!(cur.iter().any(|n| n.ends_with(":2,S")), "{cur:?}");
    assert_eq!(s.messages[0].uid, a);
    assert!(s.messages.iter().all(|e| !e.in_new));
    assert_eq!(m.read(&s.messages[0]).unwrap(), b"Subject: a\n\na\n");
    fs::remove_dir_all(d).unwrap();
}

fn uidlist_text(d: &Path) -> String {
    fs::read_to_string(d.join(UIDLIST)).unwrap()
}

/// Dovecot keeps stale records until the kept ones are at most 75 % of those read, then
/// rewrites the file (header N = next UID); a file without `W=` gets `W<vsize>`.
#[test]
fn stale_records_go_by_dovecots_compress_rule_and_vsizes_are_recorded() {
    let d = fresh("session-compress");
    let m = open(&d);
    for i in 0..4 {
        m.deliver(
            format!("Subject: {i}\n\n{i}\n").as_bytes(),
            &Flags::default(),
        )
        .unwrap();
    }
    let s = m.sync_session().unwrap();
    // One of four gone: 3 > 4 * 75 / 100 = 3? No: 3 >= 3, so the file is rewritten.
    m.apply(&[(s.messages[0].clone(), Change::Expunge)])
        .unwrap();
    let before = uidlist_text(&d);
    assert_eq!(before.lines().count(), 5);
    m.sync_session().unwrap();
    let after = uidlist_text(&d);
    assert_eq!(after.lines().count(), 4, "{after}");
    assert!(after.lines().next().unwrap().contains(" N5 "), "{after}");

    // Three records, one stale, one new file: 3 * 75 / 100 = 2 < 2 + 1, so the record is
    // appended and the stale one stays (the header too).
    let s = m.sync_session().unwrap();
    m.apply(&[(s.messages[0].clone(), Change::Expunge)])
        .unwrap();
    fs::write(
        d.join("new/1700000000.foreign.host,S=14,W=17"),
        "Subject: f\n\nf\n",
    )
    .unwrap();
    m.sync_session().unwrap();
    let text = uidlist_text(&d);
    let lines: Vec<&str> = text.lines().skip(1).collect();
    assert!(text.lines().next().unwrap().contains(" N5 "), "{text}");
    assert_eq!(lines.len(), 4, "{text}");
    assert_eq!(lines[3], "5 :1700000000.foreign.host,S=14,W=17");

    // A file without W= in its name: its record gets W<vsize>, and the file is rewritten
    // (the stale record goes with it).
    fs::write(d.join("new/1700000001.plain.host"), "Subject: f\n\nf\n").unwrap();
    let s = m.sync_session().unwrap();
    let text = uidlist_text(&d);
    let lines: Vec<&str> = text.lines().skip(1).collect();
    assert!(text.lines().next().unwrap().contains(" N7 "), "{text}");
    assert_eq!(lines.len(), 4, "{text}");
    assert_eq!(lines[3], "6 W17 :1700000001.plain.host");
    assert_eq!(s.messages.last().unwrap().vsize, 17);
    assert_eq!(s.messages.len(), 4);
    fs::remove_dir_all(d).unwrap();
}

/// FETCH's batch read: files opened relative to new/ and cur/; one that another session
/// renamed meanwhile is found by its base name; one expunged meanwhile is NotFound.
#[test]
fn read_many_follows_renames_and_reports_expunged_messages() {
    let d = fresh("readmany");
    let m = open(&d);
    for body in [
        "Subject: 1\n\na\n",
        "Subject: 2\n\nbb\n",
        "Subject: 3\n\nccc\n",
    ] {
        m.deliver(body.as_bytes(), &Flags::default()).unwrap();
    }
    let snap = m.sync().unwrap();
    let e = &snap.messages;
    // Another session moves message 2 to cur/ with \Seen and expunges message 3.
    let seen = filename::with_flags(&e[1].base, &Flags::from_info("S"));
    fs::rename(m.path_of(&e[1]), d.join("cur").join(&seen)).unwrap();
    fs::remove_file(m.path_of(&e[2])).unwrap();
    let got = m.read_many(e);
    assert_eq!(got[0].as_deref().unwrap(), b"Subject: 1\n\na\n");
    assert_eq!(got[1].as_deref().unwrap(), b"Subject: 2\n\nbb\n");
    match &got[2] {
        Err(MailError::Io { source, .. }) => {
            assert_eq!(source.kind(), io::ErrorKind::NotFound)
        }
        other => panic!("expected NotFound, got {other:?}"),
    }
    let _ = fs::remove_dir_all(&d);
}

/// The base names in new/ (without flags).
fn new_bases(d: &Path) -> BTreeSet<String> {
    fs::read_dir(d.join("new"))
        .unwrap()
        .map(|e| {
            let n = e.unwrap().file_name().into_string().unwrap();
            filename::split(&n).0.to_string()
        })
        .collect()
}

/// A delivery reads the uidlist's header and tail only: a damaged record far from the end
/// goes unnoticed (it is not read), the UID follows the last record, and UIDVALIDITY comes
/// back with it.
#[test]
fn delivery_reads_only_the_uidlist_tail() {
    let d = fresh("tail");
    let m = open(&d);
    m.deliver(b"a\n", &Flags::default()).unwrap();
    let path = d.join(UIDLIST);
    let mut text = fs::read_to_string(&path).unwrap();
    for uid in 2..=2000 {
        text.push_str(&format!("{uid} :gone.{uid}.host\n"));
    }
    let damaged = "17 :gone.17.host\n";
    let at = text.find(damaged).unwrap();
    text.replace_range(at..at + damaged.len(), "xx yyyyyyyyyyyyy\n");
    fs::write(&path, &text).unwrap();
    let a = m.deliver_dated(b"b\n", &Flags::default(), None).unwrap();
    assert_eq!(a.uid, 2001);
    let header = text.split_inclusive('\n').next().unwrap();
    let uv = Uidlist::parse(header.as_bytes()).unwrap().uid_validity;
    assert_eq!(a.uid_validity, uv);
    let after = fs::read_to_string(&path).unwrap();
    assert!(after.starts_with(&text), "the file was rewritten");
    assert_eq!(after.lines().count(), text.lines().count() + 1);
}

/// The header's next UID wins over the last record's, and a last record longer than the
/// short read (the whole file is read then) still gives the next UID.
#[test]
fn delivery_respects_the_header_and_long_records() {
    let d = fresh("header");
    let m = open(&d);
    m.deliver(b"a\n", &Flags::default()).unwrap();
    let path = d.join(UIDLIST);
    let text = fs::read_to_string(&path).unwrap();
    fs::write(&path, text.replacen(" N2 ", " N50 ", 1)).unwrap();
    assert_eq!(m.deliver(b"b\n", &Flags::default()).unwrap(), 50);
    let mut text = fs::read_to_string(&path).unwrap();
    text.push_str(&format!("70 X{} :long.host\n", "z".repeat(3000)));
    fs::write(&path, &text).unwrap();
    assert_eq!(m.deliver(b"c\n", &Flags::default()).unwrap(), 71);
    assert_eq!(m.sync().unwrap().messages.len(), 3);
}

/// Between a delivery's rename into new/ and its uidlist lock, another process may number the
/// file (its sync saw it in new/) or replace the uidlist: the delivery keeps that UID, or
/// reads the new file, and never writes a second record.
#[test]
fn delivery_honours_what_another_process_wrote_before_it_locked() {
    let d = fresh("race");
    let m = open(&d);
    m.deliver(b"first\n", &Flags::default()).unwrap();
    let path = d.join(UIDLIST);

    // Numbered by someone else meanwhile.
    let lock = Dotlock::acquire(&path, STALE_TIMEOUT, WAIT_TIMEOUT).unwrap();
    let before = new_bases(&d);
    let m2 = m.clone();
    let h = std::thread::spawn(move || m2.deliver(b"second\n", &Flags::default()).unwrap());
    let base = loop {
        let now = new_bases(&d);
        if let Some(b) = now.difference(&before).next() {
            break b.clone();
        }
        std::thread::sleep(std::time::Duration::from_millis(5));
    };
    let mut f = fs::OpenOptions::new().append(true).open(&path).unwrap();
    std::io::Write::write_all(&mut f, format!("7 :{base}\n").as_bytes()).unwrap();
    drop(lock);
    assert_eq!(h.join().unwrap(), 7);
    let text = fs::read_to_string(&path).unwrap();
    assert_eq!(text.matches(base.as_str()).count(), 1, "{text}");

    // The file replaced meanwhile (a rewrite: new inode, here with a higher next UID).
    let lock = Dotlock::acquire(&path, STALE_TIMEOUT, WAIT_TIMEOUT).unwrap();
    let m2 = m.clone();
    let h = std::thread::spawn(move || m2.deliver(b"third\n", &Flags::default()).unwrap());
    while new_bases(&d).len() < 3 {
        std::thread::sleep(std::time::Duration::from_millis(5));
    }
    let replaced = text.replacen(" N2 ", " N40 ", 1);
    assert_ne!(replaced, text);
    lock.replace(replaced.as_bytes(), false).unwrap();
    assert_eq!(h.join().unwrap(), 40);
    let snap = m.sync().unwrap();
    assert_eq!(
        snap.messages.iter().map(|e| e.uid).collect::<Vec<_>>(),
        [1, 7, 40]
    );
}

/// Sessions opening a folder that does not exist yet all at once (a POP3 login race) each
/// find it whole: the `cur/` they test for is made last, after `new/` and `tmp/` (it was made
/// first, and a session that saw it listed a `new/` not made yet).
#[test]
fn racing_first_opens_all_find_the_folder_whole() {
    for round in 0..40 {
        let d = fresh(&format!("race-open-{round}"));
        let barrier = Arc::new(std::sync::Barrier::new(8));
        let handles: Vec<_> = (0..8)
            .map(|_| {
                let (d, barrier) = (d.clone(), barrier.clone());
                std::thread::spawn(move || {
                    barrier.wait();
                    Maildir::open(&d, &d, true, false, "host.example")
                        .and_then(|m| m.sync_session())
                        .map(|s| s.messages.len())
                })
            })
            .collect();
        for h in handles {
            assert_eq!(h.join().unwrap().unwrap(), 0, "round {round}");
        }
        let _ = fs::remove_dir_all(&d);
    }
    // The state such a race (or a creator that stopped) leaves: only cur/. Opening with
    // create completes the folder.
    let d = fresh("half-made");
    fs::create_dir_all(d.join("cur")).unwrap();
    let m = Maildir::open(&d, &d, true, false, "host.example").unwrap();
    assert!(d.join("new").is_dir() && d.join("tmp").is_dir());
    assert_eq!(m.sync_session().unwrap().messages.len(), 0);
    let _ = fs::remove_dir_all(&d);
}
