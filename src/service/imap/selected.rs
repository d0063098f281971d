//! The selected mailbox as one session sees it: its messages in sequence order with their
//! flags and \Recent, the IMAP flag names of Maildir's letters (`dovecot-keywords` for
//! keywords), sequence-set resolution, and the untagged EXPUNGE/EXISTS/RECENT/FETCH updates a
//! refreshed index yields (sent only where RFC 3501 allows: after commands other than FETCH,
//! STORE and SEARCH, and during IDLE). The messages come from the folder's index
//! (`mail::maildir::index`), so a SELECT of an unchanged mailbox opens no message file.
//! \Recent as Dovecot gives it: the first read-write session that sees a message holds it;
//! read-only (EXAMINE) sessions see it as \Recent too while nobody has taken it.

use std::collections::{HashMap, HashSet};
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use crate::mail::maildir::index::log::IndexMsg;
use crate::mail::maildir::index::{MailboxIndex, Shared};
use crate::mail::maildir::keywords::Keywords;
use crate::mail::maildir::{filename, Flags, Maildir, MessageEntry};
use crate::mail::{blocking, MailError};
use crate::protocol::imap::command::{SeqNum, SequenceSet};
use crate::protocol::imap::response::{FetchValue, Untagged};

/// System flags in Dovecot's order, with their Maildir letters.
pub const SYSTEM_FLAGS: [(&str, u8); 5] = [
    ("\\Answered", Flags::ANSWERED),
    ("\\Flagged", Flags::FLAGGED),
    ("\\Deleted", Flags::DELETED),
    ("\\Seen", Flags::SEEN),
    ("\\Draft", Flags::DRAFT),
];

pub struct Msg {
    pub entry: MessageEntry,
    pub recent: bool,
    /// Internal date (the file's mtime), seconds since the epoch, from the index.
    pub date: i64,
}

impl Msg {
    fn from_index(m: &IndexMsg, recent: bool) -> Msg {
        let (base, flags) = filename::split(&m.name);
        Msg {
            entry: MessageEntry {
                uid: m.uid,
                base: base.to_string(),
                guid: if m.guid.is_empty() {
                    base.to_string()
                } else {
                    m.guid.clone()
                },
                name: m.name.clone(),
                in_new: m.in_new,
                flags: flags.unwrap_or_default(),
                size: m.size,
                vsize: m.vsize,
            },
            recent,
            date: m.date,
        }
    }

    pub fn internal_date(&self) -> SystemTime {
        UNIX_EPOCH + Duration::from_secs(self.date.max(0) as u64)
    }
}

pub struct Selected {
    /// Wire form of the name.
    pub name: String,
    pub mbox: Arc<Maildir>,
    pub readonly: bool,
    pub uid_validity: u32,
    pub next_uid: u32,
    pub msgs: Vec<Msg>,
    pub keywords: Keywords,
    /// The folder's index (shared with the process's other sessions on it).
    pub index: Arc<Mutex<MailboxIndex>>,
    /// The index generation `msgs` reflects.
    generation: u64,
    /// UIDs this session considers \Recent.
    recent: HashSet<u32>,
    /// SEARCHRES (RFC 5182): the UIDs `SEARCH RETURN (SAVE)` kept, which `$` names; empty
    /// after SELECT, as Dovecot starts it.
    pub saved: Vec<u32>,
}

/// What a refresh of the index brought, for [`Selected::apply`].
struct Fresh {
    /// The index's messages (not \\Recent yet), when they changed since `generation`.
    msgs: Option<Vec<Msg>>,
    generation: u64,
    uid_validity: u32,
    next_uid: u32,
    first_recent_uid: u32,
    claimed: Vec<u32>,
    keywords: Option<Keywords>,
}

/// Locks an index (a panic elsewhere does not make it unusable: it is re-read from disk).
pub fn lock(ix: &Mutex<MailboxIndex>) -> MutexGuard<'_, MailboxIndex> {
    ix.lock().unwrap_or_else(|p| p.into_inner())
}

/// Refreshes the index (blocking) and returns what changed since `generation`.
fn refresh(
    ix: &Mutex<MailboxIndex>,
    readonly: bool,
    generation: u64,
    keywords: &Keywords,
) -> Result<Fresh, MailError> {
    let mut g = lock(ix);
    let r = g.refresh(!readonly, !readonly)?;
    let kw = Keywords::read(g.mailbox().dir()).unwrap_or_else(|_| keywords.clone());
    Ok(Fresh {
        msgs: (g.generation != generation)
            .then(|| g.msgs.values().map(|m| Msg::from_index(m, false)).collect()),
        generation: g.generation,
        uid_validity: g.header.uid_validity,
        next_uid: g.header.next_uid,
        first_recent_uid: g.header.first_recent_uid,
        claimed: r.claimed,
        keywords: (kw != *keywords).then_some(kw),
    })
}

impl Selected {
    /// Opens `mbox` (blocking) through its index: a read-write open takes new/ mail in and
    /// claims the mailbox's \Recent messages (no other session gets them); a read-only one
    /// sees them as \Recent without taking them, as Dovecot does.
    pub fn open(mbox: Maildir, name: String, readonly: bool) -> Result<Selected, MailError> {
        let index = Shared::get(&mbox);
        let keywords = Keywords::read(mbox.dir())?;
        let fresh = refresh(&index, readonly, u64::MAX, &keywords)?;
        let mut s = Selected {
            name,
            mbox: Arc::new(mbox),
            readonly,
            uid_validity: fresh.uid_validity,
            next_uid: fresh.next_uid,
            msgs: Vec::new(),
            keywords,
            index,
            generation: fresh.generation,
            recent: HashSet::new(),
            saved: Vec::new(),
        };
        s.take_recent(&fresh);
        s.msgs = fresh.msgs.unwrap_or_default();
        if !s.recent.is_empty() {
            for m in &mut s.msgs {
                m.recent = s.recent.contains(&m.entry.uid);
            }
        }
        Ok(s)
    }

    /// Adds what this session now holds as \Recent: claimed UIDs, or for a read-only
    /// session the not yet seen ones the index still keeps \Recent.
    fn take_recent(&mut self, f: &Fresh) {
        self.recent.extend(f.claimed.iter().copied());
        if self.readonly {
            let known = self.msgs.last().map(|m| m.entry.uid).unwrap_or(0);
            if let Some(msgs) = &f.msgs {
                let from = f.first_recent_uid.max(known + 1).max(1);
                self.recent
                    .extend(msgs.iter().map(|m| m.entry.uid).filter(|&u| u >= from));
            }
        }
    }
    /// `* FLAGS (…)` and `* OK [PERMANENTFLAGS (…)]`: sent by SELECT and again whenever a new
    /// keyword appears, as Dovecot does.
    pub fn announce_flags(&self, out: &mut Vec<u8>) {
        let mut flags: Vec<String> = SYSTEM_FLAGS.iter().map(|(n, _)| n.to_string()).collect();
        flags.extend((b'a'..=b'z').filter_map(|l| self.keywords.name(l).map(str::to_string)));
        Untagged::Flags(flags.clone()).encode(out);
        if self.readonly {
            out.extend_from_slice(b"* OK [PERMANENTFLAGS ()] Read-only mailbox.\r\n");
        } else {
            let mut p = flags.join(" ");
            p.push_str(" \\*");
            out.extend_from_slice(
                format!("* OK [PERMANENTFLAGS ({p})] Flags permitted.\r\n").as_bytes(),
            );
        }
    }

    pub fn exists(&self) -> u32 {
        self.msgs.len() as u32
    }

    pub fn recent_count(&self) -> u32 {
        self.msgs.iter().filter(|m| m.recent).count() as u32
    }

    /// The IMAP flags of a message.
    pub fn flags(&self, m: &Msg) -> Vec<String> {
        flag_names(&m.entry.flags, m.recent, &self.keywords)
    }

    /// The messages (indexes) a set names, in ascending order; `uid` sets name UIDs.
    pub fn resolve(&self, set: &SequenceSet, uid: bool) -> Vec<usize> {
        let SequenceSet::Ranges(ranges) = set else {
            // `$`: the saved UIDs still in the mailbox (expunged ones drop out).
            return (0..self.msgs.len())
                .filter(|&i| self.saved.binary_search(&self.msgs[i].entry.uid).is_ok())
                .collect();
        };
        let last = if uid {
            self.msgs.last().map(|m| m.entry.uid).unwrap_or(0)
        } else {
            self.exists()
        };
        let num = |n: SeqNum| match n {
            SeqNum::Value(v) => v,
            SeqNum::Last => last,
        };
        let mut out: Vec<usize> = Vec::new();
        for (i, m) in self.msgs.iter().enumerate() {
            let key = if uid { m.entry.uid } else { i as u32 + 1 };
            let hit = ranges.iter().any(|r| {
                let (a, b) = (num(r.start), num(r.end));
                let (lo, hi) = if a <= b { (a, b) } else { (b, a) };
                // `n:*` with n above every UID still names the last message (RFC 3501 6.4.8).
                let lo = if uid && matches!(r.end, SeqNum::Last) && lo > last {
                    last
                } else {
                    lo
                };
                key >= lo && key <= hi
            });
            if hit {
                out.push(i);
            }
        }
        out
    }

    /// Whether a sequence set names numbers beyond EXISTS (Dovecot: `BAD Invalid messageset`).
    pub fn seq_out_of_range(&self, set: &SequenceSet) -> bool {
        let SequenceSet::Ranges(ranges) = set else {
            return false;
        };
        ranges.iter().any(|r| {
            [r.start, r.end]
                .iter()
                .any(|n| matches!(n, SeqNum::Value(v) if *v == 0 || *v > self.exists()))
        })
    }

    /// Refreshes the index and writes the untagged updates (see [`Selected::apply`]).
    pub async fn update(&mut self, expunges: bool, out: &mut Vec<u8>) -> Result<(), MailError> {
        let ix = self.index.clone();
        let (ro, generation, kw) = (self.readonly, self.generation, self.keywords.clone());
        let fresh = blocking(move || refresh(&ix, ro, generation, &kw)).await?;
        self.apply(fresh, expunges, out);
        Ok(())
    }

    /// Applies a refreshed index and writes the untagged updates: `n EXPUNGE` (each number
    /// as of after the previous ones), `FETCH (FLAGS …)` for changed flags, `EXISTS` for new
    /// mail and `RECENT` when the count changed (as Dovecot words it). `expunges`: whether
    /// EXPUNGE may be sent now (not during FETCH/STORE/SEARCH); when false, vanished
    /// messages stay listed.
    fn apply(&mut self, mut fresh: Fresh, expunges: bool, out: &mut Vec<u8>) {
        let recent_before = self.recent_count();
        if let Some(kw) = fresh.keywords.take() {
            self.keywords = kw;
            self.announce_flags(out);
        }
        self.next_uid = self.next_uid.max(fresh.next_uid);
        self.take_recent(&fresh);
        let Some(msgs) = fresh.msgs.take() else {
            if !fresh.claimed.is_empty() {
                for m in &mut self.msgs {
                    m.recent = self.recent.contains(&m.entry.uid);
                }
            }
            if self.recent_count() != recent_before {
                Untagged::Recent(self.recent_count()).encode(out);
            }
            return;
        };
        let mut msgs = msgs;
        let fresh_by_uid: HashMap<u32, usize> = msgs
            .iter()
            .enumerate()
            .map(|(k, m)| (m.entry.uid, k))
            .collect();
        if expunges {
            let mut kept = Vec::with_capacity(self.msgs.len());
            let mut seq = 0u32;
            for m in std::mem::take(&mut self.msgs) {
                seq += 1;
                if fresh_by_uid.contains_key(&m.entry.uid) {
                    kept.push(m);
                } else {
                    Untagged::Expunge(seq).encode(out);
                    seq -= 1;
                    self.recent.remove(&m.entry.uid);
                }
            }
            self.msgs = kept;
        }
        if self
            .msgs
            .iter()
            .all(|m| fresh_by_uid.contains_key(&m.entry.uid))
        {
            self.generation = fresh.generation;
        }
        let known_max = self.msgs.last().map(|m| m.entry.uid).unwrap_or(0);
        for i in 0..self.msgs.len() {
            let uid = self.msgs[i].entry.uid;
            self.msgs[i].recent = self.recent.contains(&uid);
            let Some(&k) = fresh_by_uid.get(&uid) else {
                continue;
            };
            let f = &msgs[k].entry;
            if f.name != self.msgs[i].entry.name || f.in_new != self.msgs[i].entry.in_new {
                let old_flags = self.msgs[i].entry.flags.clone();
                self.msgs[i].entry = f.clone();
                if self.msgs[i].entry.flags != old_flags {
                    let flags = self.flags(&self.msgs[i]);
                    Untagged::Fetch {
                        seq: i as u32 + 1,
                        items: vec![FetchValue::Flags(flags)],
                    }
                    .encode(out);
                }
            }
        }
        let before = self.msgs.len();
        for mut m in msgs.drain(..).filter(|m| m.entry.uid > known_max) {
            m.recent = self.recent.contains(&m.entry.uid);
            self.msgs.push(m);
        }
        if self.msgs.len() != before {
            Untagged::Exists(self.exists()).encode(out);
        }
        if self.recent_count() != recent_before {
            Untagged::Recent(self.recent_count()).encode(out);
        }
    }
}

/// IMAP flag names for Maildir letters (system flags, `\Recent`, then keywords).
pub fn flag_names(flags: &Flags, recent: bool, keywords: &Keywords) -> Vec<String> {
    let mut out: Vec<String> = SYSTEM_FLAGS
        .iter()
        .filter(|(_, l)| flags.has(*l))
        .map(|(n, _)| n.to_string())
        .collect();
    if recent {
        out.push("\\Recent".into());
    }
    for l in flags.keyword_letters() {
        if let Some(n) = keywords.name(l) {
            out.push(n.to_string());
        }
    }
    out
}

/// Maildir letters for IMAP flags; unknown keywords get a letter (and `keywords` changes).
/// `\Recent` is not settable and is dropped. Returns `None` when a keyword has no free letter.
pub fn letters_for(names: &[String], keywords: &mut Keywords) -> Option<Flags> {
    let mut f = Flags::default();
    for n in names {
        if let Some((_, l)) = SYSTEM_FLAGS.iter().find(|(s, _)| s.eq_ignore_ascii_case(n)) {
            f.insert(*l);
        } else if n.starts_with('\\') {
            continue;
        } else {
            f.insert(keywords.add(n)?);
        }
    }
    Some(f)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn flags_map_both_ways() {
        let mut kw = Keywords::parse("0 Junk\n");
        let f = letters_for(
            &[
                "\\Seen".into(),
                "\\deleted".into(),
                "Junk".into(),
                "Work".into(),
            ],
            &mut kw,
        )
        .unwrap();
        assert_eq!(f.letters(), "STab");
        assert_eq!(
            flag_names(&f, true, &kw),
            ["\\Deleted", "\\Seen", "\\Recent", "Junk", "Work"]
        );
    }
}
