//! Maildir behaviour: UIDs, file names, the uidlist Dovecot reads, concurrency, crash leftovers.

use std::collections::BTreeSet;
use std::fs;
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
    assert_eq!(
        fs::read_dir(d.join("tmp")).unwrap().count(),
        0,
        "tmp/ must be empty"
    );
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
    let text = fs::read_to_string(d.join(UIDLIST)).unwrap();
    assert!(
        text.starts_with("3 V1795902517 N9 G30bfaa20354c0b6b2a2f000083ecc375\n"),
        "{text}"
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

#[test]
fn subfolders_get_maildirfolder_and_open_without_create_fails() {
    let root = fresh("sub");
    open(&root);
    assert!(Maildir::open(&root.join(".Sent"), &root, false, true, "h").is_err());
    Maildir::open(&root.join(".Sent"), &root, true, true, "h").unwrap();
    assert!(root.join(".Sent/maildirfolder").exists());
    assert!(!root.join("maildirfolder").exists());
}
