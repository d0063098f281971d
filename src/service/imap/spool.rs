//! APPEND messages on their way in: each message literal is streamed into a file in INBOX's
//! tmp/ as it arrives (never held in memory, so its size is bounded only by the disk, as in
//! Dovecot), with CRLF turned into LF (Dovecot's `mail_save_crlf = no`) and the stored and
//! virtual sizes counted for the `S=`/`W=` name fields. The APPEND then commits it into the
//! target mailbox (`Maildir::commit_tmp`, or a hard link for another mailbox). A spool that
//! is never committed is removed when dropped.

use std::path::PathBuf;

use tokio::io::AsyncWriteExt;

use crate::mail::maildir::{Flags, Maildir};
use crate::mail::{blocking, MailError};

pub struct Spool {
    /// INBOX, whose tmp/ holds the file.
    pub inbox: Maildir,
    /// Base name in INBOX's tmp/.
    pub base: String,
    file: Option<tokio::fs::File>,
    /// Bytes stored (LF line ends).
    pub size: u64,
    /// Bytes with CRLF line ends.
    pub vsize: u64,
    /// The last input byte was a CR not yet written (it may start a CRLF).
    pending_cr: bool,
    /// The last byte written (a CR before an LF makes that LF count once).
    last: u8,
    /// A write failed (disk full): the APPEND fails.
    pub error: Option<String>,
    committed: bool,
}

impl Spool {
    /// Creates the file in INBOX's tmp/.
    pub async fn create(inbox: Maildir) -> Result<Spool, MailError> {
        let i = inbox.clone();
        let (base, f) = blocking(move || i.create_tmp()).await?;
        Ok(Spool {
            inbox,
            base,
            file: Some(tokio::fs::File::from_std(f)),
            size: 0,
            vsize: 0,
            pending_cr: false,
            last: 0,
            error: None,
            committed: false,
        })
    }

    pub fn path(&self) -> PathBuf {
        self.inbox.tmp_path(&self.base)
    }

    /// Appends a piece of the message.
    pub async fn write(&mut self, data: &[u8]) {
        let mut out = Vec::with_capacity(data.len() + 1);
        for &b in data {
            if self.pending_cr {
                self.pending_cr = false;
                if b != b'\n' {
                    self.push(&mut out, b'\r');
                }
            }
            if b == b'\r' {
                self.pending_cr = true;
            } else {
                self.push(&mut out, b);
            }
        }
        self.put(&out).await;
    }

    fn push(&mut self, out: &mut Vec<u8>, b: u8) {
        self.size += 1;
        self.vsize += 1;
        if b == b'\n' && self.last != b'\r' {
            self.vsize += 1;
        }
        self.last = b;
        out.push(b);
    }

    async fn put(&mut self, out: &[u8]) {
        if self.error.is_some() || out.is_empty() {
            return;
        }
        if let Some(f) = self.file.as_mut() {
            if let Err(e) = f.write_all(out).await {
                self.error = Some(format!("write {}: {e}", self.path().display()));
            }
        }
    }

    /// Writes what is pending, closes the file (fsynced when the store fsyncs).
    pub async fn finish(&mut self) -> Result<(), MailError> {
        if self.pending_cr {
            self.pending_cr = false;
            let mut out = Vec::new();
            self.push(&mut out, b'\r');
            self.put(&out).await;
        }
        if let Some(mut f) = self.file.take() {
            let r = match f.flush().await {
                Ok(()) if self.inbox.fsyncs() => f.sync_all().await,
                r => r,
            };
            if let Err(e) = r {
                self.error
                    .get_or_insert(format!("fsync {}: {e}", self.path().display()));
            }
        }
        match &self.error {
            Some(e) => Err(MailError::Internal(e.clone())),
            None => Ok(()),
        }
    }

    /// Commits the message into `dest` (blocking): INBOX takes the file itself, another
    /// mailbox a hard link (or a copy across file systems), with its flags in the name and
    /// `date` (the internal date) as its mtime. Returns the UID.
    pub fn commit(
        &mut self,
        dest: &Maildir,
        flags: &Flags,
        date: Option<std::time::SystemTime>,
    ) -> Result<u32, MailError> {
        let uid = if dest.dir() == self.inbox.dir() {
            self.committed = true;
            dest.commit_tmp_flagged(&self.base, self.size, self.vsize, flags, date)?
        } else {
            let src = self.path();
            let base = match dest.link_tmp(&src) {
                Ok(b) => b,
                Err(_) => {
                    let (b, _) = dest.create_tmp()?;
                    let t = dest.tmp_path(&b);
                    std::fs::copy(&src, &t).map_err(MailError::io("copy", &t))?;
                    if dest.fsyncs() {
                        std::fs::File::open(&t)
                            .and_then(|f| f.sync_all())
                            .map_err(MailError::io("fsync", &t))?;
                    }
                    b
                }
            };
            dest.commit_tmp_flagged(&base, self.size, self.vsize, flags, date)?
        };
        Ok(uid)
    }
}

impl Drop for Spool {
    fn drop(&mut self) {
        if !self.committed {
            let _ = std::fs::remove_file(self.path());
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn crlf_becomes_lf_across_pieces_and_sizes_match_dovecots() {
        let d = std::env::temp_dir().join(format!("roost-spool-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&d);
        let inbox = Maildir::open(&d, &d, true, false, "h").unwrap();
        let mut s = Spool::create(inbox.clone()).await.unwrap();
        for piece in [&b"a\r"[..], b"\nb\n\r", b"\r\nc\r"] {
            s.write(piece).await;
        }
        s.finish().await.unwrap();
        let want = b"a\nb\n\r\nc\r";
        assert_eq!(std::fs::read(s.path()).unwrap(), want);
        assert_eq!(s.size, want.len() as u64);
        assert_eq!(s.vsize, crate::mail::maildir::virtual_size(want));
        let path = s.path();
        drop(s);
        assert!(!path.exists(), "an uncommitted spool is removed");
    }
}
