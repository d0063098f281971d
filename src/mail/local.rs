//! The mail work LMTP and POP3 do, with this process's own credentials: delivering one message
//! for one recipient (detail mailbox or INBOX) and opening INBOX for a POP3 session (optional
//! `pop3_lock_session` lock, then a snapshot). The server runs these in-process when the user's
//! identity is its own; a mail helper runs the very same functions as the userdb's uid/gid.

use std::time::Duration;

use super::maildir::dotlock::{Dotlock, STALE_TIMEOUT};
use super::maildir::{Flags, Maildir, Snapshot};
use super::settings::MailSettings;
use super::{MailError, UserStore};

/// Name of the `pop3_lock_session` lock (a dotlock in the INBOX directory).
pub const SESSION_LOCK: &str = "dovecot-pop3-session";

/// Where and how one recipient's copy is saved.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct DeliverTo {
    /// The user's store (as `UserStore::new` takes it).
    pub user: String,
    pub fields: Vec<(String, String)>,
    pub mail_location: String,
    pub fsync: bool,
    pub host: String,
    /// `user+detail`'s detail, saved into that mailbox with `lmtp_save_to_detail_mailbox`.
    pub detail: String,
    pub save_to_detail: bool,
    pub autocreate: bool,
}

impl DeliverTo {
    /// The mail settings the store is built with.
    pub fn settings(&self) -> MailSettings {
        MailSettings {
            mail_location: self.mail_location.clone(),
            mail_fsync: if self.fsync {
                super::settings::MailFsync::Optimized
            } else {
                super::settings::MailFsync::Never
            },
            ..MailSettings::default()
        }
    }

    pub fn store(&self) -> Result<UserStore, MailError> {
        UserStore::new(&self.settings(), &self.user, &self.fields, &self.host)
    }
}

/// Stores `message` (LF line ends) for one recipient; returns its UID once on disk.
pub fn deliver(to: &DeliverTo, message: &[u8]) -> Result<u32, MailError> {
    let store = to.store()?;
    let mut target = None;
    if to.save_to_detail && !to.detail.is_empty() {
        match store.mailbox(&to.detail, to.autocreate) {
            Ok(m) => target = Some(m),
            // As Dovecot: a missing or invalid detail mailbox falls back to INBOX.
            Err(MailError::NoMailbox(_) | MailError::BadMailboxName(_)) => {}
            Err(e) => return Err(e),
        }
    }
    let mailbox = match target {
        Some(m) => m,
        None => store.mailbox("INBOX", true)?,
    };
    mailbox.deliver(message, &Flags::default())
}

/// Opens INBOX for a POP3 session: takes the session lock when `lock` is set (none waiting:
/// another session holding it is `LockTimeout`), then takes a snapshot.
pub fn open_pop3(
    to: &DeliverTo,
    lock: bool,
) -> Result<(Maildir, Option<Dotlock>, Snapshot), MailError> {
    let store = to.store()?;
    let inbox = store.mailbox("INBOX", true)?;
    let lock = if lock {
        Some(Dotlock::acquire(
            &inbox.dir().join(SESSION_LOCK),
            STALE_TIMEOUT,
            Duration::ZERO,
        )?)
    } else {
        None
    };
    let snap = inbox.sync()?;
    Ok((inbox, lock, snap))
}
