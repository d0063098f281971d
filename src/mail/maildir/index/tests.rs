//! Unit tests of the mailbox index: it matches the Maildir after every kind of damage
//! (missing, truncated at every length, garbage, torn appends, leftover temp files, an older
//! copy), sees flags changed and files expunged behind its back, skips the scan when nothing
//! changed, keeps cached values across processes, and hands \Recent to one session only.

use std::path::{Path, PathBuf};
use std::time::{Duration, SystemTime};

use super::log::{Field, Record};
use super::*;
use crate::mail::maildir::{filename, Flags};

fn dir(name: &str) -> PathBuf {
    let d = std::env::temp_dir().join(format!("roost-index-{name}-{}", std::process::id()));
    let _ = fs::remove_dir_all(&d);
    d
}

fn mailbox(d: &Path, n: usize) -> Maildir {
    let m = Maildir::open(d, d, true, false, "h").unwrap();
    for i in 0..n {
        let mut f = Flags::default();
        if i % 2 == 0 {
            f.insert(Flags::SEEN);
        }
        m.deliver(format!("Subject: m{i}\n\nbody {i}\n").as_bytes(), &f)
            .unwrap();
    }
    m
}

/// Puts the directories' and uidlist's mtimes in the past, as for a mailbox nobody touched
/// lately (within a second of a change the index rescans anyway).
fn age(d: &Path) {
    let old = SystemTime::now() - Duration::from_secs(30);
    for p in ["new", "cur", "dovecot-uidlist"] {
        if let Ok(f) = File::open(d.join(p)) {
            f.set_modified(old).unwrap();
        }
    }
}

/// (uid, file name) of the Maildir itself, what the index must agree with.
fn truth(m: &Maildir) -> Vec<(u32, String)> {
    m.sync()
        .unwrap()
        .messages
        .into_iter()
        .map(|e| (e.uid, e.name))
        .collect()
}

fn indexed(ix: &MailboxIndex) -> Vec<(u32, String)> {
    ix.msgs.values().map(|m| (m.uid, m.name.clone())).collect()
}

#[test]
fn a_fresh_index_matches_the_maildir_and_an_unchanged_one_is_not_rescanned() {
    let d = dir("fresh");
    let m = mailbox(&d, 20);
    age(&d);
    let mut ix = MailboxIndex::open(&m);
    ix.refresh(false, false).unwrap();
    assert_eq!(indexed(&ix), truth(&m));
    assert_eq!(ix.scans, 1);
    assert!(d.join(INDEX_FILE).exists());
    assert!(!d.join("dovecot.index").exists());
    // Another process opening it reads the file and needs no scan.
    let mut other = MailboxIndex::open(&m);
    assert_eq!(indexed(&other), truth(&m));
    other.refresh(false, false).unwrap();
    ix.refresh(false, false).unwrap();
    assert_eq!((ix.scans, other.scans), (1, 0));
    let sizes: Vec<(u64, u64)> = other.msgs.values().map(|m| (m.size, m.vsize)).collect();
    let want: Vec<(u64, u64)> = m
        .sync()
        .unwrap()
        .messages
        .iter()
        .map(|e| (e.size, e.vsize))
        .collect();
    assert_eq!(sizes, want);
    let _ = fs::remove_dir_all(&d);
}

#[test]
fn flags_renamed_and_files_expunged_behind_its_back_are_seen_with_new_modseqs() {
    let d = dir("behind");
    let m = mailbox(&d, 5);
    age(&d);
    let mut ix = MailboxIndex::open(&m);
    ix.refresh(true, false).unwrap();
    let before = ix.header.highest_modseq;
    let m3 = ix.msgs[&3].clone();
    // As Dovecot or another session does: rename for a flag, unlink to expunge.
    let cur = d.join("cur");
    let mut f = m3.flags();
    f.insert(Flags::FLAGGED);
    fs::rename(
        cur.join(&m3.name),
        cur.join(filename::with_flags(m3.base(), &f)),
    )
    .unwrap();
    fs::remove_file(cur.join(&ix.msgs[&4].name)).unwrap();
    ix.refresh(true, false).unwrap();
    assert_eq!(indexed(&ix), truth(&m));
    assert!(ix.msgs[&3].flags().has(Flags::FLAGGED));
    assert!(!ix.msgs.contains_key(&4));
    assert!(ix.msgs[&3].modseq > before);
    assert_eq!(ix.header.highest_modseq, before + 2);
    assert_eq!(ix.msgs[&1].modseq, ix.msgs[&1].modseq.min(before));
    let _ = fs::remove_dir_all(&d);
}

#[test]
fn a_truncated_index_at_every_length_is_rebuilt_without_losing_flags() {
    let d = dir("truncated");
    let m = mailbox(&d, 6);
    let mut ix = MailboxIndex::open(&m);
    ix.refresh(true, false).unwrap();
    ix.store_cache(vec![(2, Field::Envelope, b"(NIL)".to_vec())])
        .unwrap();
    let whole = fs::read(d.join(INDEX_FILE)).unwrap();
    let want = truth(&m);
    for cut in 0..whole.len() {
        fs::write(d.join(INDEX_FILE), &whole[..cut]).unwrap();
        let mut ix = MailboxIndex::open(&m);
        ix.refresh(true, false).unwrap();
        assert_eq!(indexed(&ix), want, "cut at {cut}");
        // And the file is whole again for the next reader.
        let again = MailboxIndex::open(&m);
        assert_eq!(indexed(&again), want, "reread after cut at {cut}");
    }
    let _ = fs::remove_dir_all(&d);
}

#[test]
fn a_garbage_or_foreign_index_is_replaced() {
    let d = dir("garbage");
    let m = mailbox(&d, 4);
    for junk in [
        &b"not an index at all"[..],
        b"",
        b"ROOSTIX1\xff\xff\xff\x7f garbage frame",
        &[0u8; 4096][..],
    ] {
        fs::write(d.join(INDEX_FILE), junk).unwrap();
        let mut ix = MailboxIndex::open(&m);
        ix.refresh(false, false).unwrap();
        assert_eq!(indexed(&ix), truth(&m));
        assert!(fs::read(d.join(INDEX_FILE)).unwrap().starts_with(MAGIC));
    }
    let _ = fs::remove_dir_all(&d);
}

#[test]
fn a_writer_killed_mid_append_or_mid_rewrite_leaves_a_usable_index() {
    let d = dir("killed");
    let m = mailbox(&d, 3);
    let mut ix = MailboxIndex::open(&m);
    ix.refresh(true, false).unwrap();
    // A torn append: half a frame at the end.
    let frame = Record::Cache {
        uid: 1,
        field: Field::Body,
        data: vec![b'x'; 100],
    }
    .encode();
    let mut f = fs::OpenOptions::new()
        .append(true)
        .open(d.join(INDEX_FILE))
        .unwrap();
    f.write_all(&frame[..frame.len() / 2]).unwrap();
    drop(f);
    // A rewrite that never got renamed, and a lock its dead owner left.
    fs::write(
        d.join(format!("{INDEX_FILE}.new.999999.0")),
        b"ROOSTIX1 partial",
    )
    .unwrap();
    let dead = format!("999999:{}", crate::mail::settings::system_hostname());
    fs::write(d.join(format!("{INDEX_FILE}.lock")), dead).unwrap();
    let mut other = MailboxIndex::open(&m);
    assert_eq!(indexed(&other), truth(&m));
    m.deliver(b"Subject: later\n\n", &Flags::default()).unwrap();
    other.refresh(true, false).unwrap();
    other
        .store_cache(vec![(4, Field::Envelope, b"(E)".to_vec())])
        .unwrap();
    assert_eq!(indexed(&other), truth(&m));
    // The torn half is gone; everything parses to the end.
    let data = fs::read(d.join(INDEX_FILE)).unwrap();
    let (_, valid) = log::frames(&data[MAGIC.len()..], MAGIC.len() as u64);
    assert_eq!(valid + MAGIC.len(), data.len());
    assert!(!d.join(format!("{INDEX_FILE}.new.999999.0")).exists());
    let reread = MailboxIndex::open(&m);
    assert_eq!(reread.cached(4, Field::Envelope).unwrap(), b"(E)");
    let _ = fs::remove_dir_all(&d);
}

#[test]
fn a_child_killed_while_writing_leaves_a_usable_index() {
    // A real writer process (a shell loop appending copies of valid frames), killed -9
    // at an arbitrary point: whatever it left, the index reads and refreshes.
    let d = dir("kill9");
    let m = mailbox(&d, 3);
    let mut ix = MailboxIndex::open(&m);
    ix.refresh(true, false).unwrap();
    let frame = Record::Cache {
        uid: 2,
        field: Field::Body,
        data: vec![b'y'; 50_000],
    }
    .encode();
    let src = d.join("frame");
    fs::write(&src, &frame).unwrap();
    let mut child = std::process::Command::new("sh")
        .arg("-c")
        .arg(format!(
            "while :; do dd if={} bs=7 status=none >> {}; done",
            src.display(),
            d.join(INDEX_FILE).display()
        ))
        .spawn()
        .unwrap();
    std::thread::sleep(Duration::from_millis(150));
    nix::sys::signal::kill(
        nix::unistd::Pid::from_raw(child.id() as i32),
        nix::sys::signal::Signal::SIGKILL,
    )
    .unwrap();
    child.wait().unwrap();
    let mut after = MailboxIndex::open(&m);
    assert_eq!(indexed(&after), truth(&m));
    let mut f = Flags::default();
    f.insert(Flags::DELETED);
    let e = m.sync().unwrap().messages[0].clone();
    m.apply(&[(e, crate::mail::maildir::mailbox::Change::SetFlags(f))])
        .unwrap();
    after.refresh(true, false).unwrap();
    assert_eq!(indexed(&after), truth(&m));
    assert_eq!(indexed(&MailboxIndex::open(&m)), truth(&m));
    let _ = fs::remove_dir_all(&d);
}

#[test]
fn an_older_copy_of_the_index_catches_up() {
    let d = dir("stale");
    let m = mailbox(&d, 4);
    let mut ix = MailboxIndex::open(&m);
    ix.refresh(true, false).unwrap();
    let old = fs::read(d.join(INDEX_FILE)).unwrap();
    let e = m.sync().unwrap().messages;
    let mut f = Flags::default();
    f.insert(Flags::ANSWERED);
    m.apply(&[
        (
            e[0].clone(),
            crate::mail::maildir::mailbox::Change::SetFlags(f),
        ),
        (e[1].clone(), crate::mail::maildir::mailbox::Change::Expunge),
    ])
    .unwrap();
    m.deliver(b"Subject: new\n\n", &Flags::default()).unwrap();
    ix.refresh(true, false).unwrap();
    // Restored from a backup: stamps no longer match, so it rescans.
    fs::write(d.join(INDEX_FILE), &old).unwrap();
    let mut back = MailboxIndex::open(&m);
    back.refresh(true, false).unwrap();
    assert_eq!(indexed(&back), truth(&m));
    assert!(back.msgs[&1].flags().has(Flags::ANSWERED));
    let _ = fs::remove_dir_all(&d);
}

#[test]
fn cached_values_survive_reopen_and_go_with_the_message() {
    let d = dir("cache");
    let m = mailbox(&d, 3);
    let mut ix = MailboxIndex::open(&m);
    ix.refresh(true, false).unwrap();
    ix.store_cache(vec![
        (1, Field::Envelope, b"(env 1)".to_vec()),
        (2, Field::BodyStructure, b"(bs 2)".to_vec()),
        (99, Field::Envelope, b"no such message".to_vec()),
    ])
    .unwrap();
    let mut other = MailboxIndex::open(&m);
    assert_eq!(other.cached(1, Field::Envelope).unwrap(), b"(env 1)");
    assert_eq!(other.cached(2, Field::BodyStructure).unwrap(), b"(bs 2)");
    assert!(other.cached(99, Field::Envelope).is_none());
    assert!(other.cached(1, Field::Body).is_none());
    let e = m.sync().unwrap().messages[0].clone();
    m.apply(&[(e, crate::mail::maildir::mailbox::Change::Expunge)])
        .unwrap();
    other.refresh(true, false).unwrap();
    assert!(other.cached(1, Field::Envelope).is_none());
    ix.catch_up().unwrap();
    assert!(ix.cached(1, Field::Envelope).is_none());
    assert_eq!(ix.cached(2, Field::BodyStructure).unwrap(), b"(bs 2)");
    let _ = fs::remove_dir_all(&d);
}

#[test]
fn compaction_keeps_messages_and_cache() {
    let d = dir("compact");
    let m = mailbox(&d, 10);
    let mut ix = MailboxIndex::open(&m);
    ix.refresh(true, false).unwrap();
    ix.store_cache(vec![(3, Field::Headers, b"Subject: m2\r\n\r\n".to_vec())])
        .unwrap();
    let msgs = m.sync().unwrap().messages;
    // Flip flags until superseded records outweigh live ones.
    for round in 0..400 {
        let e = m.sync().unwrap().messages[round % msgs.len()].clone();
        let mut f = e.flags.clone();
        if f.has(Flags::FLAGGED) {
            f.remove(Flags::FLAGGED)
        } else {
            f.insert(Flags::FLAGGED)
        }
        m.apply(&[(e, crate::mail::maildir::mailbox::Change::SetFlags(f))])
            .unwrap();
        ix.refresh(true, false).unwrap();
        ix.store_cache(vec![(
            1 + (round % 10) as u32,
            Field::Body,
            vec![b'b'; 2000],
        )])
        .unwrap();
    }
    let size = fs::metadata(d.join(INDEX_FILE)).unwrap().len();
    assert!(size < 200_000, "compacted: {size} bytes");
    let again = MailboxIndex::open(&m);
    assert_eq!(indexed(&again), truth(&m));
    assert_eq!(
        again.cached(3, Field::Headers).unwrap(),
        b"Subject: m2\r\n\r\n"
    );
    let _ = fs::remove_dir_all(&d);
}

#[test]
fn recent_goes_to_the_first_read_write_session_only() {
    let d = dir("recent");
    let m = mailbox(&d, 2);
    // Two processes' worth of index; the read-only one sees without taking.
    let mut a = MailboxIndex::open(&m);
    let mut b = MailboxIndex::open(&m);
    let mut ro = MailboxIndex::open(&m);
    let peek = ro.refresh(false, false).unwrap();
    assert!(peek.claimed.is_empty());
    // Built from the folder: new/ is \Recent, cur/ (message 1, stored \Seen) is not.
    assert_eq!(ro.header.first_recent_uid, 2);
    assert_eq!(a.refresh(true, true).unwrap().claimed, vec![2]);
    assert!(b.refresh(true, true).unwrap().claimed.is_empty());
    m.deliver(b"Subject: 3\n\n", &Flags::default()).unwrap();
    assert_eq!(b.refresh(true, true).unwrap().claimed, vec![3]);
    assert!(a.refresh(true, true).unwrap().claimed.is_empty());
    ro.refresh(false, false).unwrap();
    assert_eq!(ro.header.first_recent_uid, 4);
    // The read-write sessions moved new/ to cur/, as Dovecot's do.
    assert_eq!(fs::read_dir(d.join("new")).unwrap().count(), 0);
    let _ = fs::remove_dir_all(&d);
}
