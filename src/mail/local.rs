//! The mail work LMTP and POP3 do, with this process's own credentials: delivering one spooled
//! message for one recipient (detail mailbox or INBOX, copied into tmp/, fsynced, new/) and opening INBOX for a POP3 session (optional
//! `pop3_lock_session` lock, then a snapshot). The server runs these in-process when the user's
//! identity is its own; a mail helper runs the very same functions as the userdb's uid/gid.

use std::fs::File;
use std::io::Write;
use std::os::unix::fs::FileExt;
use std::path::PathBuf;
use std::time::Duration;

use super::maildir::dotlock::{Dotlock, STALE_TIMEOUT};
use super::maildir::{Maildir, Snapshot};
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

/// The mailbox `to`'s copy goes to: the detail mailbox with `save_to_detail` when it exists
/// (or `autocreate`), else INBOX.
pub fn open_target(to: &DeliverTo) -> Result<Maildir, MailError> {
    let store = to.store()?;
    if to.save_to_detail && !to.detail.is_empty() {
        match store.mailbox(&to.detail, to.autocreate) {
            Ok(m) => return Ok(m),
            // As Dovecot: a missing or invalid detail mailbox falls back to INBOX.
            Err(MailError::NoMailbox(_) | MailError::BadMailboxName(_)) => {}
            Err(e) => return Err(e),
        }
    }
    store.mailbox("INBOX", true)
}

/// Copies the first `size` bytes of `spool` (LF line ends) into `maildir`'s tmp/, fsynced
/// (unless `mail_fsync = never`), then into new/; the UID and the new file.
pub fn copy_into(
    maildir: &Maildir,
    spool: &File,
    (size, vsize): (u64, u64),
) -> Result<(u32, PathBuf), MailError> {
    let (base, mut f) = maildir.create_tmp()?;
    let tmp = maildir.tmp_path(&base);
    let copied = copy_at(spool, &mut f, size).and_then(|_| {
        if maildir.fsyncs() {
            f.sync_all()
        } else {
            Ok(())
        }
    });
    drop(f);
    if let Err(e) = copied {
        let _ = std::fs::remove_file(&tmp);
        return Err(MailError::io("write", tmp)(e));
    }
    let uid = maildir.commit_tmp(&base, size, vsize)?;
    Ok((uid, maildir.new_path(&base, size, vsize)))
}

/// Stores the message in `spool` for one recipient; its UID once on disk.
pub fn deliver_file(to: &DeliverTo, spool: &File, sizes: (u64, u64)) -> Result<u32, MailError> {
    copy_into(&open_target(to)?, spool, sizes).map(|(uid, _)| uid)
}

/// Copies `len` bytes from the start of `from` (positional reads: the spool is shared).
fn copy_at(from: &File, to: &mut File, len: u64) -> std::io::Result<()> {
    let mut buf = vec![0u8; 256 * 1024];
    let mut off = 0u64;
    while off < len {
        let want = buf.len().min((len - off) as usize);
        let n = from.read_at(&mut buf[..want], off)?;
        if n == 0 {
            return Err(std::io::Error::new(
                std::io::ErrorKind::UnexpectedEof,
                "spool file shorter than written",
            ));
        }
        to.write_all(&buf[..n])?;
        off += n as u64;
    }
    Ok(())
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
    let snap = inbox.sync_session()?;
    Ok((inbox, lock, snap))
}
