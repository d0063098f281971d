//! Recipients and delivery: `user+detail@domain` is split at `recipient_delimiter`, the user is
//! looked up in the userdb, and the message is stored in INBOX or, with
//! `lmtp_save_to_detail_mailbox`, in the detail mailbox: committed from the single recipient's
//! tmp/ file, or from the spool file (hard-linked to the first recipient's copy when the
//! file system allows, as Dovecot).

use std::fs::File;
use std::io::Write;
use std::os::unix::fs::FileExt;
use std::path::PathBuf;
use std::sync::Arc;

use crate::mail::maildir::Maildir;
use crate::mail::{blocking, MailError, UserStore};
use crate::protocol::lmtp::Reply;
use crate::service::auth::api::{AuthHandle, ClientInfo, UserLookup};
use crate::settings::Settings;

/// An accepted recipient.
#[derive(Clone, Debug)]
pub struct Recipient {
    /// As the client wrote it (for replies and Delivered-To).
    pub address: String,
    /// userdb name (detail removed), as auth returned it.
    pub user: String,
    pub detail: String,
    pub fields: Vec<(String, String)>,
    /// Dovecot's forward fields from `XRCPTFORWARD=` (TAB-separated `key=value`).
    pub forward: Option<String>,
}

/// Splits `bob+box@example.test` into (`bob@example.test`, `box`).
pub fn split_detail(address: &str, delimiters: &str) -> (String, String) {
    let (local, domain) = match address.rsplit_once('@') {
        Some((l, d)) => (l, Some(d)),
        None => (address, None),
    };
    let cut = if delimiters.is_empty() {
        None
    } else {
        local.find(|c| delimiters.contains(c))
    };
    let (base, detail) = match cut {
        Some(i) => {
            let d = &local[i..];
            let first = d.chars().next().map(char::len_utf8).unwrap_or(0);
            (&local[..i], &d[first..])
        }
        None => (local, ""),
    };
    let user = match domain {
        Some(d) => format!("{base}@{d}"),
        None => base.to_string(),
    };
    (user, detail.to_string())
}

/// Looks the recipient up. The error is the RCPT reply to send.
pub async fn resolve(
    auth: Option<Arc<AuthHandle>>,
    settings: &Settings,
    address: &str,
    info: ClientInfo,
) -> Result<Recipient, Reply> {
    let (user, detail) = split_detail(address, &settings.mail.recipient_delimiter);
    let Some(auth) = auth else {
        return Err(Reply::new(
            451,
            "4.3.0",
            &format!("<{address}> Temporary user lookup failure"),
        ));
    };
    match auth.0.lookup_user(&user, info).await {
        UserLookup::Found { user, fields } => Ok(Recipient {
            address: address.to_string(),
            user,
            detail,
            fields,
            forward: None,
        }),
        UserLookup::NotFound => Err(Reply::new(
            550,
            "5.1.1",
            &format!("<{address}> User doesn't exist: {address}"),
        )),
        UserLookup::Failed(why) => {
            tracing::warn!(rcpt = address, error = %why, "userdb lookup failed");
            Err(Reply::new(
                451,
                "4.3.0",
                &format!("<{address}> Temporary user lookup failure"),
            ))
        }
    }
}

/// Opens the mailbox `rcpt`'s copy goes to: the detail mailbox with
/// `lmtp_save_to_detail_mailbox` when it exists (or `lda_mailbox_autocreate`), else INBOX.
pub fn open_target(
    settings: &Settings,
    rcpt: &Recipient,
    host: &str,
) -> Result<Maildir, MailError> {
    let store = UserStore::new(&settings.mail, &rcpt.user, &rcpt.fields, host)?;
    if settings.mail.lmtp_save_to_detail_mailbox && !rcpt.detail.is_empty() {
        match store.mailbox(&rcpt.detail, settings.mail.lda_mailbox_autocreate) {
            Ok(m) => return Ok(m),
            // As Dovecot: a missing or invalid detail mailbox falls back to INBOX.
            Err(MailError::NoMailbox(_) | MailError::BadMailboxName(_)) => {}
            Err(e) => return Err(e),
        }
    }
    store.mailbox("INBOX", true)
}

/// Moves the single recipient's message, written and fsynced in `tmp/<base>`, into new/.
pub async fn commit(
    maildir: Maildir,
    base: String,
    size: u64,
    vsize: u64,
) -> Result<u32, MailError> {
    blocking(move || maildir.commit_tmp(&base, size, vsize)).await
}

/// Stores the spooled message (LF line ends, trace headers included) in `rcpt`'s mailbox:
/// a hard link to `link_from` (an earlier recipient's copy) when possible, as Dovecot, else a
/// copy of the spool file into tmp/, fsynced; then new/. Returns the UID and the new file,
/// once the copy is on disk.
pub async fn copy_spooled(
    settings: Arc<Settings>,
    rcpt: Recipient,
    spool: Arc<File>,
    (size, vsize): (u64, u64),
    link_from: Option<PathBuf>,
    host: Arc<str>,
) -> Result<(u32, PathBuf), MailError> {
    blocking(move || {
        let maildir = open_target(&settings, &rcpt, &host)?;
        if let Some(src) = link_from {
            if let Ok(base) = maildir.link_tmp(&src) {
                let uid = maildir.commit_tmp(&base, size, vsize)?;
                return Ok((uid, maildir.new_path(&base, size, vsize)));
            }
        }
        let (base, mut f) = maildir.create_tmp()?;
        let tmp = maildir.tmp_path(&base);
        let copied = copy_at(&spool, &mut f, size).and_then(|_| {
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
    })
    .await
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

#[cfg(test)]
mod tests;
