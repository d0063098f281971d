//! The POP3 view of INBOX: messages numbered from 1 as the session started, their octet counts
//! and UIDLs, deletion and retrieval marks, and what QUIT commits.

use crate::mail::maildir::mailbox::Change;
use crate::mail::maildir::{Flags, MessageEntry, Snapshot};
use crate::protocol::pop3::uidl::{expand, UidlVars};

pub struct Maildrop {
    pub messages: Vec<MessageEntry>,
    pub uidls: Vec<String>,
    pub deleted: Vec<bool>,
    pub retrieved: Vec<bool>,
}

/// Why a message number is not usable; the text is the `-ERR` line.
pub type NumError = String;

impl Maildrop {
    pub fn new(snap: Snapshot, uidl_format: &str) -> Maildrop {
        let uidls = snap
            .messages
            .iter()
            .map(|m| {
                expand(
                    uidl_format,
                    &UidlVars {
                        uid: m.uid,
                        uid_validity: snap.uid_validity,
                        base: &m.base,
                        guid: &m.guid,
                    },
                )
            })
            .collect();
        let n = snap.messages.len();
        Maildrop {
            messages: snap.messages,
            uidls,
            deleted: vec![false; n],
            retrieved: vec![false; n],
        }
    }

    /// Count and total octets of messages not marked deleted.
    pub fn stat(&self) -> (usize, u64) {
        self.live()
            .fold((0, 0), |(n, s), i| (n + 1, s + self.messages[i].vsize))
    }

    /// Indexes of messages not marked deleted.
    pub fn live(&self) -> impl Iterator<Item = usize> + '_ {
        (0..self.messages.len()).filter(|&i| !self.deleted[i])
    }

    /// Resolves a 1-based message number argument to an index.
    pub fn index(&self, arg: &str) -> Result<usize, NumError> {
        let n: u32 = arg
            .parse()
            .map_err(|_| format!("Invalid message number: {arg}"))?;
        if n == 0 || n as usize > self.messages.len() {
            return Err(format!("There's no message {n}."));
        }
        let i = n as usize - 1;
        if self.deleted[i] {
            return Err("Message is deleted.".into());
        }
        Ok(i)
    }

    /// What QUIT applies: expunges, and \Seen on retrieved messages unless disabled.
    pub fn changes(&self, flag_updates: bool) -> Vec<(MessageEntry, Change)> {
        let mut out = Vec::new();
        for (i, m) in self.messages.iter().enumerate() {
            if self.deleted[i] {
                out.push((m.clone(), Change::Expunge));
            } else if flag_updates && self.retrieved[i] && !m.flags.has(Flags::SEEN) {
                let mut f = m.flags.clone();
                f.insert(Flags::SEEN);
                out.push((m.clone(), Change::SetFlags(f)));
            }
        }
        out
    }

    pub fn deleted_count(&self) -> usize {
        self.deleted.iter().filter(|&&d| d).count()
    }
}
