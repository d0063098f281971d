//! The end of a transaction: the trace headers and the sink for DATA/BDAT, then one copy per
//! distinct recipient and one reply per RCPT, in RCPT order (a duplicate gets the reply of the
//! recipient it repeats, as in Dovecot). Over `lmtp_max_mail_size`, every recipient gets
//! lib-smtp's `552 5.2.3`. A recipient whose uid/gid is not roost's own is stored by a mail
//! helper (`crate::mail::access`); one that cannot be gets `451 4.3.0`.

use std::time::{Instant, SystemTime};

use super::client::{rip, Ctx};
use super::deliver;
use super::headers::{trace_headers, Trace};
use super::metrics;
use super::spool::{Received, Sink};
use super::transaction::Transaction;
use crate::mail::access::MailAccess;
use crate::mail::MailError;
use crate::protocol::lmtp::params::too_big;
use crate::protocol::lmtp::Reply;

/// Opens the sink with the trace headers written (`Delivered-To` and `for` only when the
/// transaction has one RCPT, duplicates counted, as Dovecot).
pub(super) async fn open_sink(ctx: &Ctx, tx: &Transaction, tls: bool) -> Sink {
    let mail_from = tx.mail_from.clone().unwrap_or_default();
    let single = (tx.rcpts.len() == 1).then(|| &tx.rcpts[0].rcpt);
    let headers = trace_headers(
        &Trace {
            helo: &ctx.helo,
            ip: ctx.remote.map(|a| a.ip().to_string()),
            hostname: &ctx.host,
            session_id: &tx.id,
            mail_from: &mail_from,
            single_rcpt: single.map(|r| r.address.as_str()),
            tls,
        },
        SystemTime::now(),
    );
    let mut unique = tx.unique();
    let only = match (unique.next(), unique.next()) {
        (Some(a), None) => Some(&a.rcpt),
        _ => None,
    };
    // Straight into tmp/ only when this process may write the recipient's Maildir; a mail
    // helper (another uid/gid) copies from the spool file.
    let access = MailAccess::from_hub(&ctx.session.hub);
    let only = only.filter(|r| {
        access
            .is_local(&ctx.session.settings.mail, &r.fields)
            .unwrap_or(false)
    });
    Sink::open(&ctx.session.settings, &ctx.host, only, &headers).await
}

/// Stores the received message for every distinct recipient; one reply per RCPT.
pub(super) async fn deliver_all(ctx: &Ctx, tx: &Transaction, sink: Sink) -> Vec<Reply> {
    let started = Instant::now();
    let received = sink.finish().await;
    let mut replies: Vec<Reply> = Vec::with_capacity(tx.rcpts.len());
    let mut in_maildir = None;
    // The first stored copy, which later recipients hard-link.
    let mut first_copy = None;
    let spool = match received {
        Received::TooBig => return tx.rcpts.iter().map(|_| too_big()).collect(),
        Received::InMaildir {
            maildir,
            base,
            size,
            vsize,
        } => {
            in_maildir = Some((maildir, base, size, vsize));
            None
        }
        Received::Spooled { file, size, vsize } => Some((file, size, vsize)),
        Received::Failed => None,
    };
    for a in &tx.rcpts {
        if let Some(i) = a.dup_of {
            let r = replies[i].clone();
            replies.push(r);
            continue;
        }
        let rcpt = &a.rcpt;
        let stored = if let Some((maildir, base, size, vsize)) = in_maildir.take() {
            deliver::commit(maildir, base, size, vsize).await
        } else if let Some((file, size, vsize)) = &spool {
            deliver::copy_spooled(
                ctx.session.settings.clone(),
                MailAccess::from_hub(&ctx.session.hub),
                rcpt.clone(),
                file.clone(),
                (*size, *vsize),
                first_copy.clone(),
                ctx.host.clone(),
            )
            .await
            .map(|(uid, path)| {
                if first_copy.is_none() {
                    first_copy = path;
                }
                uid
            })
        } else {
            Err(crate::mail::MailError::Internal(
                "the message could not be received".into(),
            ))
        };
        let reply = match stored {
            Ok(uid) => {
                metrics::delivered("ok", started.elapsed());
                tracing::info!(
                    user = %rcpt.user,
                    session = %a.id,
                    rip = %rip(ctx),
                    uid,
                    "saved mail to INBOX"
                );
                Reply::new(250, "2.0.0", &format!("<{}> {} Saved", rcpt.address, a.id))
            }
            Err(e) => {
                metrics::delivered("tempfail", started.elapsed());
                tracing::error!(user = %rcpt.user, session = %a.id, rip = %rip(ctx), error = %e, "delivery failed");
                // As Dovecot: a user whose mail cannot be accessed (uid) is 4.3.0, a failed
                // save 4.2.0.
                let code = match e {
                    MailError::Identity(_) => "4.3.0",
                    _ => "4.2.0",
                };
                Reply::new(
                    451,
                    code,
                    &format!("<{}> Temporary internal error", rcpt.address),
                )
            }
        };
        replies.push(reply);
    }
    replies
}
