//! APPEND messages on their way in: each message literal is taken as it arrives, with CRLF
//! turned into LF (Dovecot's `mail_save_crlf = no`) and the stored and virtual sizes counted
//! for the `S=`/`W=` name fields. The first [`SPOOL_BUFFER`] bytes stay in memory; beyond
//! that the message is streamed into a file in INBOX's tmp/ (so its size is bounded only by
//! the disk, as in Dovecot). The APPEND then finishes it (written and fsynced) and commits it
//! into the target mailbox (`Maildir::commit_tmp`, or a hard link for another mailbox), both
//! in one blocking call. A spool that is never committed is removed when dropped.

use std::fs::File;
use std::io::Write;
use std::path::PathBuf;

use crate::mail::maildir::{Assigned, Flags, Maildir};
use crate::mail::{blocking, MailError};

/// Bytes of a message held in memory before it goes to a tmp/ file: a usual APPEND is
/// written, fsynced and committed in one go.
pub const SPOOL_BUFFER: usize = 64 * 1024;

pub struct Spool {
    /// Whose tmp/ holds the file: INBOX for a message that outgrew memory, else the target
    /// mailbox (set when the APPEND finishes it).
    pub inbox: Maildir,
    /// Base name in that tmp/ (empty until the file exists).
    pub base: String,
    file: Option<File>,
    /// Converted bytes not written to the file yet (at most about [`SPOOL_BUFFER`]).
    buf: Vec<u8>,
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
    /// A new, empty spool; its tmp/ file is made when the message outgrows memory or when it
    /// is finished.
    pub fn new(inbox: Maildir) -> Spool {
        Spool {
            inbox,
            base: String::new(),
            file: None,
            buf: Vec::new(),
            size: 0,
            vsize: 0,
            pending_cr: false,
            last: 0,
            error: None,
            committed: false,
        }
    }

    pub fn path(&self) -> PathBuf {
        self.inbox.tmp_path(&self.base)
    }

    /// Appends a piece of the message.
    pub async fn write(&mut self, data: &[u8]) {
        self.buf.reserve(data.len() + 1);
        for &b in data {
            if self.pending_cr {
                self.pending_cr = false;
                if b != b'\n' {
                    self.push(b'\r');
                }
            }
            if b == b'\r' {
                self.pending_cr = true;
            } else {
                self.push(b);
            }
        }
        if self.buf.len() >= SPOOL_BUFFER {
            self.spill().await;
        }
    }

    fn push(&mut self, b: u8) {
        self.size += 1;
        self.vsize += 1;
        if b == b'\n' && self.last != b'\r' {
            self.vsize += 1;
        }
        self.last = b;
        self.buf.push(b);
    }

    /// Moves the buffered bytes to the tmp/ file (off the async runtime).
    pub async fn spill(&mut self) {
        let buf = std::mem::take(&mut self.buf);
        let mut parts = SpillParts {
            inbox: self.inbox.clone(),
            base: std::mem::take(&mut self.base),
            file: self.file.take(),
            error: self.error.take(),
        };
        let joined = blocking(move || {
            parts.write(&buf);
            Ok(parts)
        })
        .await;
        match joined {
            Ok(p) => {
                self.base = p.base;
                self.file = p.file;
                self.error = p.error;
            }
            Err(e) => self.error = Some(e.to_string()),
        }
    }

    /// Writes what is pending and closes the file, fsynced when the store fsyncs. A message
    /// still wholly in memory gets its file in `dest`'s tmp/, so the commit is one rename.
    /// Blocking: called from the APPEND's blocking commit.
    pub fn finish(&mut self, dest: &Maildir) -> Result<(), MailError> {
        if self.file.is_none() && self.base.is_empty() {
            self.inbox = dest.clone();
        }
        if self.pending_cr {
            self.pending_cr = false;
            self.push(b'\r');
        }
        let mut parts = SpillParts {
            inbox: self.inbox.clone(),
            base: std::mem::take(&mut self.base),
            file: self.file.take(),
            error: self.error.take(),
        };
        parts.write(&std::mem::take(&mut self.buf));
        if let (Some(f), None) = (parts.file.take(), &parts.error) {
            if self.inbox.fsyncs() {
                if let Err(e) = f.sync_all() {
                    parts.error = Some(format!(
                        "fsync {}: {e}",
                        self.inbox.tmp_path(&parts.base).display()
                    ));
                }
            }
        }
        self.base = parts.base;
        self.error = parts.error;
        match &self.error {
            Some(e) => Err(MailError::Internal(e.clone())),
            None => Ok(()),
        }
    }

    /// Commits the finished message into `dest` (blocking): the mailbox whose tmp/ holds the
    /// file takes it itself, another mailbox a hard link (or a copy across file systems), with its flags in the
    /// name and `date` (the internal date) as its mtime. Returns the UID and UIDVALIDITY.
    pub fn commit(
        &mut self,
        dest: &Maildir,
        flags: &Flags,
        date: Option<std::time::SystemTime>,
    ) -> Result<Assigned, MailError> {
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

/// The file half of a spool, moved into a blocking call and back.
struct SpillParts {
    inbox: Maildir,
    base: String,
    file: Option<File>,
    error: Option<String>,
}

impl SpillParts {
    /// Creates the tmp/ file if there is none yet, then writes `buf` (the first failure is
    /// kept; later writes are skipped).
    fn write(&mut self, buf: &[u8]) {
        if self.error.is_some() {
            return;
        }
        if self.file.is_none() {
            match self.inbox.create_tmp() {
                Ok((base, f)) => {
                    self.base = base;
                    self.file = Some(f);
                }
                Err(e) => {
                    self.error = Some(e.to_string());
                    return;
                }
            }
        }
        if let Some(f) = self.file.as_mut() {
            if let Err(e) = f.write_all(buf) {
                self.error = Some(format!(
                    "write {}: {e}",
                    self.inbox.tmp_path(&self.base).display()
                ));
            }
        }
    }
}

impl Drop for Spool {
    fn drop(&mut self) {
        if !self.committed && !self.base.is_empty() {
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
        let mut s = Spool::new(inbox.clone());
        for piece in [&b"a\r"[..], b"\nb\n\r", b"\r\nc\r"] {
            s.write(piece).await;
        }
        s.finish(&inbox).unwrap();
        let want = b"a\nb\n\r\nc\r";
        assert_eq!(std::fs::read(s.path()).unwrap(), want);
        assert_eq!(s.size, want.len() as u64);
        assert_eq!(s.vsize, crate::mail::maildir::virtual_size(want));
        let path = s.path();
        drop(s);
        assert!(!path.exists(), "an uncommitted spool is removed");
        let _ = std::fs::remove_dir_all(&d);
    }

    /// A small message is written straight into the target's tmp/ (one rename to commit); a
    /// big one goes to INBOX's tmp/ while it streams in and is linked into the target.
    #[tokio::test]
    async fn small_messages_stay_in_memory_big_ones_stream_to_inbox() {
        let d = std::env::temp_dir().join(format!("roost-spool-big-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&d);
        let inbox = Maildir::open(&d, &d, true, false, "h").unwrap();
        let work = Maildir::open(&d.join(".Work"), &d, true, false, "h").unwrap();
        // Message files (the uidlist lock's template also lives in tmp/).
        let tmp_files = |m: &Maildir| {
            std::fs::read_dir(m.dir().join("tmp"))
                .unwrap()
                .flatten()
                .filter(|e| !e.file_name().to_string_lossy().contains(".lock.tmp."))
                .count()
        };

        let mut small = Spool::new(inbox.clone());
        small.write(b"Subject: s\r\n\r\nhi\r\n").await;
        assert_eq!(
            tmp_files(&inbox),
            0,
            "nothing on disk before the APPEND finishes"
        );
        small.finish(&work).unwrap();
        assert_eq!((tmp_files(&inbox), tmp_files(&work)), (0, 1));
        let uid = small.commit(&work, &Flags::default(), None).unwrap();
        assert_eq!(uid.uid, 1);
        assert_eq!(tmp_files(&work), 0, "committed by a rename");

        let line = [b'x'; 1000];
        let mut big = Spool::new(inbox.clone());
        big.write(b"Subject: b\r\n\r\n").await;
        for _ in 0..100 {
            big.write(&line).await;
            big.write(b"\r\n").await;
        }
        assert_eq!(
            tmp_files(&inbox),
            1,
            "a big message streams to INBOX's tmp/"
        );
        big.finish(&work).unwrap();
        let uid = big.commit(&work, &Flags::default(), None).unwrap();
        assert_eq!(uid.uid, 2);
        let snap = work.sync().unwrap();
        let stored = work.read(&snap.messages[1]).unwrap();
        assert_eq!(stored.len() as u64, big.size);
        assert_eq!(stored.len(), 12 + 100 * 1001, "LF line ends on disk");
        drop(big);
        assert_eq!(tmp_files(&inbox), 0, "INBOX's link is removed");

        // A MULTIAPPEND spills each message when the next one starts: a small one then
        // lives in INBOX's tmp/ and is linked into the target like a big one.
        let mut earlier = Spool::new(inbox.clone());
        earlier.write(b"Subject: e\r\n\r\nearlier\r\n").await;
        earlier.spill().await;
        assert_eq!(tmp_files(&inbox), 1, "spilled to INBOX's tmp/");
        earlier.finish(&work).unwrap();
        assert_eq!(
            earlier.commit(&work, &Flags::default(), None).unwrap().uid,
            3
        );
        drop(earlier);
        assert_eq!(tmp_files(&inbox), 0);
        let _ = std::fs::remove_dir_all(&d);
    }
}
