//! Reading messages for FETCH and SEARCH: the CRLF bytes of the messages a batch needs (read
//! off the async runtime), with internal dates from the index and unreadable messages told
//! apart from ones expunged meanwhile.

use std::time::SystemTime;

use super::message::to_crlf;
use super::selected::Selected;
use crate::mail::maildir::MessageEntry;
use crate::mail::{blocking, MailError};

/// What one message's FETCH or SEARCH needs from disk.
#[derive(Default)]
pub(super) struct Loaded {
    /// CRLF form.
    pub(super) data: Option<Vec<u8>>,
    pub(super) mtime: Option<SystemTime>,
    /// The message exists but could not be read (`imap_fetch_failure` decides).
    pub(super) failed: Option<String>,
}

pub(super) async fn load(
    sel: &Selected,
    idx: &[usize],
    data: bool,
    date: bool,
) -> Result<Vec<Loaded>, MailError> {
    // Internal dates come from the index: no stat.
    let dates = |i: usize| date.then(|| sel.msgs[i].internal_date());
    if !data {
        return Ok(idx
            .iter()
            .map(|&i| Loaded {
                data: None,
                mtime: dates(i),
                failed: None,
            })
            .collect());
    }
    let mbox = sel.mbox.clone();
    let entries: Vec<MessageEntry> = idx.iter().map(|&i| sel.msgs[i].entry.clone()).collect();
    let read = blocking(move || {
        Ok(mbox
            .read_many(&entries)
            .into_iter()
            .map(|r| match r {
                Ok(d) => (Some(to_crlf(&d)), None),
                // Expunged meanwhile: skipped, not a failure.
                Err(MailError::Io { source, .. })
                    if source.kind() == std::io::ErrorKind::NotFound =>
                {
                    (None, None)
                }
                // It exists but cannot be read: `imap_fetch_failure` decides.
                Err(err) => (None, Some(err.to_string())),
            })
            .collect::<Vec<_>>())
    })
    .await?;
    Ok(read
        .into_iter()
        .zip(idx)
        .map(|((data, failed), &i)| Loaded {
            data,
            mtime: dates(i),
            failed,
        })
        .collect())
}
