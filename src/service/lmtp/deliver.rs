//! Recipients and delivery: `user+detail@domain` is split at `recipient_delimiter`, the user is
//! looked up in the userdb, and the message is stored in INBOX or, with
//! `lmtp_save_to_detail_mailbox`, in the detail mailbox: committed from the single recipient's
//! tmp/ file, or from the spool file (hard-linked to the first recipient's copy when the
//! file system allows, as Dovecot). A recipient whose userdb uid/gid is not roost's own gets
//! its copy from a mail helper running as that uid/gid ([`MailAccess`]), given the spool file.

use std::fs::File;
use std::path::PathBuf;
use std::sync::Arc;

use crate::mail::access::{self, MailAccess};
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
/// copy of the spool file into tmp/, fsynced; then new/. Returns the UID and, for a copy made
/// by this process, the new file, once the copy is on disk. A recipient with another uid/gid is
/// delivered by its mail helper, which copies the spool file itself (never a hard link).
pub async fn copy_spooled(
    settings: Arc<Settings>,
    access: Arc<MailAccess>,
    rcpt: Recipient,
    spool: Arc<File>,
    (size, vsize): (u64, u64),
    link_from: Option<PathBuf>,
    host: Arc<str>,
) -> Result<(u32, Option<PathBuf>), MailError> {
    blocking(move || {
        if !access.is_local(&settings.mail, &rcpt.fields)? {
            let mut to = access::target(&settings.mail, &rcpt.user, &rcpt.fields, &host);
            to.detail = rcpt.detail.clone();
            to.save_to_detail = settings.mail.lmtp_save_to_detail_mailbox;
            to.autocreate = settings.mail.lda_mailbox_autocreate;
            let uid = access.deliver_file(&settings.mail, &to, &spool, (size, vsize))?;
            return Ok((uid, None));
        }
        let maildir = open_target(&settings, &rcpt, &host)?;
        if let Some(src) = link_from {
            if let Ok(base) = maildir.link_tmp(&src) {
                let uid = maildir.commit_tmp(&base, size, vsize)?;
                return Ok((uid, Some(maildir.new_path(&base, size, vsize))));
            }
        }
        let (uid, path) = crate::mail::local::copy_into(&maildir, &spool, (size, vsize))?;
        Ok((uid, Some(path)))
    })
    .await
}

#[cfg(test)]
mod tests;
