//! Recipients and delivery: `user+detail@domain` is split at `recipient_delimiter`, the user is
//! looked up in the userdb, and the message is stored in INBOX or, with
//! `lmtp_save_to_detail_mailbox`, in the detail mailbox.

use std::sync::Arc;

use crate::mail::access::{self, MailAccess};
use crate::mail::{blocking, MailError};
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

/// Stores `message` (LF line ends, trace headers included) for one recipient; returns the UID
/// once the copy is on disk. The work runs with the userdb's uid/gid (see [`MailAccess`]).
pub async fn store(
    settings: Arc<Settings>,
    access: Arc<MailAccess>,
    rcpt: Recipient,
    message: Arc<Vec<u8>>,
    host: Arc<str>,
) -> Result<u32, MailError> {
    blocking(move || {
        let mut to = access::target(&settings.mail, &rcpt.user, &rcpt.fields, &host);
        to.detail = rcpt.detail.clone();
        to.save_to_detail = settings.mail.lmtp_save_to_detail_mailbox;
        to.autocreate = settings.mail.lda_mailbox_autocreate;
        access.deliver(&settings.mail, &to, &message)
    })
    .await
}

#[cfg(test)]
mod tests;
