//! The selected mailbox as one session sees it: its messages in sequence order with their
//! flags and \Recent, the IMAP flag names of Maildir's letters (`dovecot-keywords` for
//! keywords), sequence-set resolution, and the untagged EXPUNGE/EXISTS/RECENT/FETCH updates a
//! fresh snapshot yields (sent only where RFC 3501 allows: after commands other than FETCH,
//! STORE and SEARCH, and during IDLE).

use std::collections::HashSet;
use std::sync::Arc;

use crate::mail::maildir::keywords::Keywords;
use crate::mail::maildir::{Flags, Maildir, MessageEntry, Snapshot};
use crate::mail::MailError;
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
    /// UIDs this session considers \Recent.
    recent: HashSet<u32>,
    /// SEARCHRES (RFC 5182): the UIDs `SEARCH RETURN (SAVE)` kept, which `$` names; empty
    /// after SELECT, as Dovecot starts it.
    pub saved: Vec<u32>,
}

impl Selected {
    /// Opens `mbox` (blocking): a read-write open takes new/ mail in (it is \Recent for this
    /// session only), as Dovecot's maildir sync does.
    pub fn open(mbox: Maildir, name: String, readonly: bool) -> Result<Selected, MailError> {
        let before = mbox.sync()?;
        let snap = if readonly {
            before.clone()
        } else {
            mbox.sync_session()?
        };
        let recent: HashSet<u32> = before
            .messages
            .iter()
            .filter(|m| m.in_new)
            .map(|m| m.uid)
            .collect();
        let keywords = Keywords::read(mbox.dir())?;
        let mut s = Selected {
            name,
            mbox: Arc::new(mbox),
            readonly,
            uid_validity: snap.uid_validity,
            next_uid: snap.next_uid,
            msgs: Vec::new(),
            keywords,
            recent,
            saved: Vec::new(),
        };
        s.msgs = snap
            .messages
            .into_iter()
            .map(|entry| Msg {
                recent: s.recent.contains(&entry.uid),
                entry,
            })
            .collect();
        Ok(s)
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

    /// Applies a fresh snapshot and writes the untagged updates: `n EXPUNGE` (highest first
    /// is not required; each number is as of after the previous ones), `FETCH (FLAGS …)` for
    /// changed flags, `EXISTS`/`RECENT` for new mail. `expunges`: whether EXPUNGE may be sent
    /// now (not during FETCH/STORE/SEARCH); when false, vanished messages stay listed.
    pub fn apply_snapshot(&mut self, snap: Snapshot, expunges: bool, out: &mut Vec<u8>) {
        let recent_before = self.recent_count();
        let keywords = Keywords::read(self.mbox.dir()).unwrap_or_else(|_| self.keywords.clone());
        if keywords != self.keywords {
            self.keywords = keywords;
            self.announce_flags(out);
        }
        let fresh: std::collections::HashMap<u32, MessageEntry> =
            snap.messages.into_iter().map(|m| (m.uid, m)).collect();
        if expunges {
            let mut i = 0;
            while i < self.msgs.len() {
                if fresh.contains_key(&self.msgs[i].entry.uid) {
                    i += 1;
                } else {
                    self.msgs.remove(i);
                    Untagged::Expunge(i as u32 + 1).encode(out);
                }
            }
        }
        let known_max = self.msgs.last().map(|m| m.entry.uid).unwrap_or(0);
        for i in 0..self.msgs.len() {
            let uid = self.msgs[i].entry.uid;
            if let Some(f) = fresh.get(&uid) {
                if f.flags != self.msgs[i].entry.flags || f.name != self.msgs[i].entry.name {
                    let changed = f.flags != self.msgs[i].entry.flags;
                    self.msgs[i].entry = f.clone();
                    if changed {
                        let flags = self.flags(&self.msgs[i]);
                        Untagged::Fetch {
                            seq: i as u32 + 1,
                            items: vec![FetchValue::Flags(flags)],
                        }
                        .encode(out);
                    }
                }
            }
        }
        let mut added: Vec<MessageEntry> =
            fresh.into_values().filter(|m| m.uid > known_max).collect();
        added.sort_by_key(|m| m.uid);
        if !added.is_empty() {
            for e in added {
                // New mail is \Recent for the first session that sees it.
                let recent = e.in_new || self.recent.contains(&e.uid);
                if recent {
                    self.recent.insert(e.uid);
                }
                self.msgs.push(Msg { entry: e, recent });
            }
            Untagged::Exists(self.exists()).encode(out);
            Untagged::Recent(self.recent_count()).encode(out);
        } else if self.recent_count() != recent_before {
            Untagged::Recent(self.recent_count()).encode(out);
        }
        self.next_uid = self.next_uid.max(snap.next_uid);
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
