//! One mail transaction (MAIL … DATA/BDAT LAST) and Dovecot's ids for it: the transaction id
//! is the session id, then `<session>:T2`, `:T3`, … for later transactions of a session; each
//! RCPT command (accepted or not) takes the next recipient number, and the second and later
//! recipients carry `:R<n>` (`<session>:T2:R3`). A recipient whose path and parameters equal an
//! earlier one's is a duplicate: it is answered as that one and not stored again.

use super::deliver::Recipient;
use super::spool::Sink;

/// An accepted recipient.
pub struct Accepted {
    pub rcpt: Recipient,
    /// The id in its DATA reply and log line.
    pub id: String,
    /// The index of the earlier recipient it repeats.
    pub dup_of: Option<usize>,
    params: String,
}

#[derive(Default)]
pub struct Transaction {
    pub mail_from: Option<String>,
    /// `<session>` or `<session>:T<n>`.
    pub id: String,
    /// RCPT commands so far.
    rcpt_seq: u32,
    pub rcpts: Vec<Accepted>,
    /// The body being received by BDAT chunks.
    pub sink: Option<Sink>,
}

impl Transaction {
    /// Starts transaction number `seq` (1-based) of session `session_id`.
    pub fn start(session_id: &str, seq: u32, mail_from: String) -> Transaction {
        Transaction {
            mail_from: Some(mail_from),
            id: if seq <= 1 {
                session_id.to_string()
            } else {
                format!("{session_id}:T{seq}")
            },
            ..Transaction::default()
        }
    }

    /// The id of the recipient of the RCPT command being handled.
    pub fn next_rcpt_id(&mut self) -> String {
        self.rcpt_seq += 1;
        if self.rcpt_seq == 1 {
            self.id.clone()
        } else {
            format!("{}:R{}", self.id, self.rcpt_seq)
        }
    }

    /// Adds an accepted recipient; `params` are its RCPT parameters (see
    /// [`crate::protocol::lmtp::params::Checked::params`]).
    pub fn add(&mut self, rcpt: Recipient, id: String, params: String) {
        let dup_of = self.rcpts.iter().position(|a| {
            a.dup_of.is_none() && same_path(&a.rcpt.address, &rcpt.address) && a.params == params
        });
        self.rcpts.push(Accepted {
            rcpt,
            id,
            dup_of,
            params,
        });
    }

    /// The recipients that get a copy.
    pub fn unique(&self) -> impl Iterator<Item = &Accepted> {
        self.rcpts.iter().filter(|a| a.dup_of.is_none())
    }
}

/// lib-smtp's `smtp_address_equals`: the local part exactly, the domain in any case.
fn same_path(a: &str, b: &str) -> bool {
    match (a.rsplit_once('@'), b.rsplit_once('@')) {
        (Some((la, da)), Some((lb, db))) => la == lb && da.eq_ignore_ascii_case(db),
        (None, None) => a == b,
        _ => false,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn rcpt(a: &str) -> Recipient {
        Recipient {
            address: a.into(),
            user: a.into(),
            detail: String::new(),
            fields: Vec::new(),
            forward: None,
        }
    }

    #[test]
    fn ids_and_duplicates_follow_dovecot() {
        let mut t = Transaction::start("S", 2, "a@b".into());
        assert_eq!(t.id, "S:T2");
        let failed = t.next_rcpt_id();
        assert_eq!(failed, "S:T2");
        let id = t.next_rcpt_id();
        t.add(rcpt("u@EXAMPLE.test"), id, String::new());
        let id = t.next_rcpt_id();
        t.add(rcpt("u@example.test"), id, String::new());
        let id = t.next_rcpt_id();
        t.add(rcpt("U@example.test"), id, String::new());
        let id = t.next_rcpt_id();
        t.add(rcpt("u@example.test"), id, "ORCPT=rfc822;x@y".into());
        assert_eq!(t.rcpts[0].id, "S:T2:R2");
        assert_eq!(t.rcpts[3].id, "S:T2:R5");
        let dups: Vec<_> = t.rcpts.iter().map(|a| a.dup_of).collect();
        assert_eq!(dups, [None, Some(0), None, None]);
        assert_eq!(t.unique().count(), 3);
        assert_eq!(Transaction::start("S", 1, String::new()).id, "S");
    }
}
