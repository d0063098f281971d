//! Bringing the index up to date with the Maildir. A scan is skipped when new/, cur/ and
//! `dovecot-uidlist` still have the inode, size and mtime recorded at the last one and those
//! mtimes were at least a second older than that scan (a change within the file system's
//! timestamp granularity could otherwise hide, as Dovecot's maildir sync also assumes).
//! Otherwise the folder is synchronised with its uidlist (`Maildir::sync`, or
//! `sync_session` which also moves new/ to cur/), and the difference is written under the
//! index lock: new messages (with their internal date from one stat), changed file names
//! (flags) and expunges, each with the next modseq. A scan that started before the one the
//! file already holds is dropped: that one saw more. Read-write sessions also claim
//! \Recent here: the UIDs from `first_recent_uid` on are theirs, and it moves past them.

use std::collections::HashSet;
use std::os::unix::fs::MetadataExt;
use std::path::Path;
use std::time::{SystemTime, UNIX_EPOCH};

use super::log::{Header, IndexMsg, Record, Stamps};
use super::MailboxIndex;
use crate::mail::maildir::mailbox::UIDLIST;
use crate::mail::maildir::Snapshot;
use crate::mail::MailError;

/// A mtime this close to the scan's start is not trusted to reveal later changes.
const GRANULARITY_NS: i64 = 1_000_000_000;

fn now_ns() -> i64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|d| d.as_nanos() as i64)
        .unwrap_or(0)
}

fn stamp(p: &Path) -> (u64, u64, i64) {
    match std::fs::metadata(p) {
        Ok(m) => (
            m.ino(),
            m.size(),
            m.mtime() * 1_000_000_000 + m.mtime_nsec(),
        ),
        Err(_) => (0, 0, 0),
    }
}

pub fn read_stamps(dir: &Path) -> Stamps {
    Stamps {
        new: stamp(&dir.join("new")),
        cur: stamp(&dir.join("cur")),
        uidlist: stamp(&dir.join(UIDLIST)),
    }
}

/// Whether a scan started long enough after the last change it stamped to have seen it.
fn trusted(h: &Header) -> bool {
    let s = &h.stamps;
    s.new.2.max(s.cur.2).max(s.uidlist.2) + GRANULARITY_NS <= h.scan_started
}

/// What a refresh found.
#[derive(Debug, Default)]
pub struct Refreshed {
    /// UIDs this (read-write) caller now holds as \Recent.
    pub claimed: Vec<u32>,
}

impl MailboxIndex {
    /// Whether the recorded stamps still describe the folder.
    fn current(&self, now: &Stamps) -> bool {
        let h = &self.header;
        self.valid && h.uid_validity != 0 && h.stamps == *now && trusted(h)
    }

    /// Brings the index up to date. `take_new`: move new/ mail to cur/ (a read-write
    /// session, as Dovecot's maildir sync); `claim_recent`: take the \Recent UIDs.
    pub fn refresh(&mut self, take_new: bool, claim_recent: bool) -> Result<Refreshed, MailError> {
        self.catch_up()?;
        let now = read_stamps(self.mbox.dir());
        let current = self.current(&now) && !(take_new && self.header.in_new > 0);
        let claimable = claim_recent
            && self
                .msgs
                .range(self.header.first_recent_uid.max(1)..)
                .next()
                .is_some();
        if current && !claimable {
            return Ok(Refreshed::default());
        }
        let fresh_build = !self.valid || self.header.uid_validity == 0;
        let scan = if current {
            None
        } else {
            self.scans += 1;
            let started = now_ns();
            let stamps = read_stamps(self.mbox.dir());
            // A first build looks before taking new/ in: what is there is \Recent.
            let snap = if take_new && !fresh_build {
                self.mbox.sync_session()?
            } else {
                self.mbox.sync()?
            };
            Some((started, stamps, snap))
        };
        let mut claimed = Vec::new();
        self.locked(|ix| {
            let mut recs = Vec::new();
            let mut h = ix.header.clone();
            if let Some((started, stamps, snap)) = scan {
                if started > h.scan_started || !ix.valid {
                    ix.diff(&snap, &mut h, &mut recs);
                    h.scan_started = started;
                    h.stamps = stamps;
                }
            }
            if claim_recent {
                let first = h.first_recent_uid.max(1);
                claimed = ix
                    .msgs
                    .range(first..)
                    .map(|(u, _)| *u)
                    .chain(recs.iter().filter_map(|r| match r {
                        Record::Msg(m) if m.uid >= first && !ix.msgs.contains_key(&m.uid) => {
                            Some(m.uid)
                        }
                        _ => None,
                    }))
                    .collect();
                claimed.sort_unstable();
                if let Some(&last) = claimed.last() {
                    h.first_recent_uid = last + 1;
                }
            }
            // A rescan that found nothing new is written only when it makes the stamps
            // trusted (so later refreshes skip the scan).
            let mut same = ix.header.clone();
            same.scan_started = h.scan_started;
            if !recs.is_empty() || same != h || trusted(&h) != trusted(&ix.header) || !ix.valid {
                recs.push(Record::Header(h));
            }
            recs
        })?;
        if fresh_build && take_new && self.header.in_new > 0 && self.header.uid_validity != 0 {
            let more = self.refresh(take_new, claim_recent)?;
            claimed.extend(more.claimed);
        }
        Ok(Refreshed { claimed })
    }

    /// Records turning the index into `snap`; updates `h`.
    fn diff(&self, snap: &Snapshot, h: &mut Header, recs: &mut Vec<Record>) {
        let mut modseq = h.highest_modseq;
        if snap.uid_validity != h.uid_validity && h.uid_validity != 0 {
            // The uidlist was recreated: every UID changed meaning.
            for &uid in self.msgs.keys() {
                modseq += 1;
                recs.push(Record::Expunge { uid, modseq });
            }
        }
        let same_validity = snap.uid_validity == h.uid_validity;
        let mut seen = HashSet::with_capacity(snap.messages.len());
        let mut in_new = 0;
        for e in &snap.messages {
            seen.insert(e.uid);
            in_new += u32::from(e.in_new);
            let old = self.msgs.get(&e.uid).filter(|_| same_validity);
            if let Some(o) = old {
                if o.name == e.name && o.in_new == e.in_new && o.base() == e.base {
                    continue;
                }
            }
            let date = old
                .filter(|o| o.base() == e.base)
                .map(|o| o.date)
                .unwrap_or_else(|| {
                    std::fs::metadata(self.mbox.path_of(e))
                        .map(|m| m.mtime())
                        .unwrap_or(0)
                });
            modseq += 1;
            recs.push(Record::Msg(IndexMsg {
                uid: e.uid,
                modseq,
                size: e.size,
                vsize: e.vsize,
                date,
                in_new: e.in_new,
                name: e.name.clone(),
                guid: if e.guid == e.base {
                    String::new()
                } else {
                    e.guid.clone()
                },
            }));
        }
        if same_validity {
            for &uid in self.msgs.keys() {
                if !seen.contains(&uid) {
                    modseq += 1;
                    recs.push(Record::Expunge { uid, modseq });
                }
            }
        }
        if !same_validity {
            // A new (or rebuilt) index: mail still in new/ is \Recent, the rest is not.
            h.first_recent_uid = snap
                .messages
                .iter()
                .filter(|m| m.in_new)
                .map(|m| m.uid)
                .min()
                .unwrap_or(snap.next_uid);
        }
        h.uid_validity = snap.uid_validity;
        h.next_uid = snap.next_uid;
        h.highest_modseq = modseq;
        h.in_new = in_new;
    }
}
