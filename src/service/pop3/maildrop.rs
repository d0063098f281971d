//! The POP3 view of INBOX: messages numbered from 1 as the session started, their octet counts
//! and UIDLs, deletion and retrieval marks, and what QUIT commits.

use crate::mail::maildir::mailbox::Change;
use crate::mail::maildir::{Flags, MessageEntry, Snapshot};
use crate::protocol::pop3::args;
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

    /// Resolves the message-number argument that must be all of `args` to an index.
    pub fn index(&self, args: &str) -> Result<usize, NumError> {
        self.index_then(args, false).map(|(i, _)| i)
    }

    /// Resolves a 1-based message number at the start of `args` (Dovecot's checks and texts,
    /// in its order: syntax, range, deleted) to an index and the arguments after it.
    /// `then_space`: another argument must follow (TOP).
    pub fn index_then<'a>(
        &self,
        args: &'a str,
        then_space: bool,
    ) -> Result<(usize, &'a str), NumError> {
        let (n, rest) = args::msgnum(args, then_space).map_err(|e| e.to_string())?;
        if n == 0 || n as usize > self.messages.len() {
            return Err(format!("There's no message {n}."));
        }
        let i = n as usize - 1;
        if self.deleted[i] {
            return Err("Message is deleted.".into());
        }
        Ok((i, rest))
    }

    /// RSET: no message is deleted any more, and retrievals so far will not set \Seen
    /// (Dovecot clears its seen bitmask too).
    pub fn reset(&mut self) {
        self.deleted.iter_mut().for_each(|x| *x = false);
        self.retrieved.iter_mut().for_each(|x| *x = false);
    }

    /// What QUIT applies: expunges, and \Seen on retrieved messages unless disabled.
    pub fn changes(&self, flag_updates: bool) -> Vec<(MessageEntry, Change)> {
        let mut out = Vec::new();
        for (i, m) in self.messages.iter().enumerate() {
            if self.deleted[i] {
                out.push((m.clone(), Change::Expunge));
            } else if let Some(c) = self.seen_change(i, flag_updates) {
                out.push(c);
            }
        }
        out
    }

    /// What a session that ends without QUIT keeps: \Seen on the messages it retrieved
    /// (deleted ones too, since nothing is expunged), as Dovecot's client_destroy() commits
    /// its seen bitmask. Dovecot writes the flag into its index and renames the file at the
    /// next sync; roost has no index and renames it now.
    pub fn changes_without_quit(&self, flag_updates: bool) -> Vec<(MessageEntry, Change)> {
        (0..self.messages.len())
            .filter_map(|i| self.seen_change(i, flag_updates))
            .collect()
    }

    fn seen_change(&self, i: usize, flag_updates: bool) -> Option<(MessageEntry, Change)> {
        let m = &self.messages[i];
        if !flag_updates || !self.retrieved[i] || m.flags.has(Flags::SEEN) {
            return None;
        }
        let mut f = m.flags.clone();
        f.insert(Flags::SEEN);
        Some((m.clone(), Change::SetFlags(f)))
    }

    pub fn deleted_count(&self) -> usize {
        self.deleted.iter().filter(|&&d| d).count()
    }
}
