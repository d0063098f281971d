//! Streaming a DATA/BDAT body to disk as it arrives, never holding the message in memory: with
//! one recipient straight into the Maildir's `tmp/` file, with several into an unlinked file in
//! `mail_temp_dir` that is then copied into each Maildir (Dovecot spools the same way). CRLF
//! becomes LF on the way (as stored), the sizes for `S=`/`W=` are counted, and
//! `lmtp_max_mail_size` is enforced (the rest of the body is read and discarded).

use std::fs::File;
use std::path::PathBuf;
use std::sync::Arc;

use tokio::io::AsyncWriteExt;

use crate::mail::maildir::Maildir;
use crate::mail::{blocking, MailError};
use crate::settings::Settings;

use super::deliver::{self, Recipient};

/// Bytes gathered before one write to the file.
const WRITE_CHUNK: usize = 256 * 1024;

/// CRLF → LF across chunk boundaries (as [`crate::mail::maildir::crlf_to_lf`]), counting the
/// stored size and the CRLF size (Dovecot's `W=`).
#[derive(Default)]
pub struct LfConverter {
    pending_cr: bool,
    last: u8,
    pub size: u64,
    pub vsize: u64,
}

impl LfConverter {
    fn emit(&mut self, bytes: &[u8], out: &mut Vec<u8>) {
        if bytes.is_empty() {
            return;
        }
        let mut prev = self.last;
        let mut bare = 0u64;
        for i in memchr::memchr_iter(b'\n', bytes) {
            let before = if i == 0 { prev } else { bytes[i - 1] };
            if before != b'\r' {
                bare += 1;
            }
        }
        prev = bytes[bytes.len() - 1];
        self.last = prev;
        self.size += bytes.len() as u64;
        self.vsize += bytes.len() as u64 + bare;
        out.extend_from_slice(bytes);
    }

    pub fn push(&mut self, input: &[u8], out: &mut Vec<u8>) {
        if input.is_empty() {
            return;
        }
        let mut data = input;
        if self.pending_cr {
            self.pending_cr = false;
            if data[0] == b'\n' {
                self.emit(b"\n", out);
                data = &data[1..];
            } else {
                self.emit(b"\r", out);
            }
        }
        let mut seg = 0;
        for i in memchr::memchr_iter(b'\n', data) {
            let end = if i > seg && data[i - 1] == b'\r' {
                i - 1
            } else {
                i
            };
            self.emit(&data[seg..end], out);
            self.emit(b"\n", out);
            seg = i + 1;
        }
        let rest = &data[seg..];
        if rest.last() == Some(&b'\r') {
            self.emit(&rest[..rest.len() - 1], out);
            self.pending_cr = true;
        } else {
            self.emit(rest, out);
        }
    }

    pub fn finish(&mut self, out: &mut Vec<u8>) {
        if std::mem::take(&mut self.pending_cr) {
            self.emit(b"\r", out);
        }
    }
}

/// Where the message goes.
enum Target {
    /// `tmp/<base>` of the single recipient's mailbox.
    Maildir { maildir: Maildir, base: String },
    /// An unlinked file in `mail_temp_dir`.
    Spool,
}

/// A message being received.
pub struct Sink {
    target: Option<Target>,
    file: Option<tokio::fs::File>,
    buf: Vec<u8>,
    conv: LfConverter,
    /// Body bytes received (unstuffed, as sent).
    received: u64,
    limit: u64,
    too_big: bool,
    error: Option<String>,
}

/// How receiving ended.
pub enum Received {
    /// In the single recipient's tmp/, fsynced.
    InMaildir {
        maildir: Maildir,
        base: String,
        size: u64,
        vsize: u64,
    },
    /// In the spool file, to be copied to every recipient.
    Spooled {
        file: Arc<File>,
        size: u64,
        vsize: u64,
    },
    /// Over `lmtp_max_mail_size`.
    TooBig,
    /// A disk error (logged); every recipient gets a temporary failure.
    Failed,
}

impl Sink {
    fn new(target: Result<(Target, File), MailError>, settings: &Settings) -> Sink {
        let limit = settings.mail.lmtp_max_mail_size.0;
        let (target, file, error) = match target {
            Ok((t, f)) => (Some(t), Some(tokio::fs::File::from_std(f)), None),
            Err(e) => (None, None, Some(e.to_string())),
        };
        Sink {
            target,
            file,
            buf: Vec::with_capacity(WRITE_CHUNK + 32 * 1024),
            conv: LfConverter::default(),
            received: 0,
            limit,
            too_big: false,
            error,
        }
    }

    /// Opens the sink for a transaction and writes the trace `headers` (LF line ends).
    /// `single`: the only recipient, whose Maildir takes the message directly.
    pub async fn open(
        settings: &Arc<Settings>,
        host: &Arc<str>,
        single: Option<&Recipient>,
        headers: &str,
    ) -> Sink {
        let target = match single {
            Some(rcpt) => {
                let (s, r, h) = (settings.clone(), rcpt.clone(), host.clone());
                blocking(move || {
                    let m = deliver::open_target(&s, &r, &h)?;
                    let (base, f) = m.create_tmp()?;
                    Ok((Target::Maildir { maildir: m, base }, f))
                })
                .await
            }
            None => {
                let dir = PathBuf::from(&settings.mail.mail_temp_dir);
                blocking(move || Ok((Target::Spool, spool_file(&dir)?))).await
            }
        };
        let mut sink = Sink::new(target, settings);
        if let Some(e) = &sink.error {
            tracing::error!(error = %e, "lmtp: cannot store the message");
        }
        let mut out = std::mem::take(&mut sink.buf);
        sink.conv.push(headers.as_bytes(), &mut out);
        sink.buf = out;
        sink
    }

    /// Takes the next piece of the body (unstuffed, line ends as sent) and clears `piece`.
    pub async fn write(&mut self, piece: &mut Vec<u8>) {
        self.received += piece.len() as u64;
        if self.limit > 0 && self.received > self.limit && !self.too_big {
            self.too_big = true;
            self.discard();
        }
        if self.file.is_some() {
            let mut out = std::mem::take(&mut self.buf);
            self.conv.push(piece, &mut out);
            self.buf = out;
            if self.buf.len() >= WRITE_CHUNK {
                self.flush().await;
            }
        }
        piece.clear();
    }

    async fn flush(&mut self) {
        let Some(f) = self.file.as_mut() else {
            self.buf.clear();
            return;
        };
        if let Err(e) = f.write_all(&self.buf).await {
            tracing::error!(error = %e, "lmtp: writing the message failed");
            self.error = Some(e.to_string());
            self.discard();
        }
        self.buf.clear();
    }

    /// Stops writing and removes the tmp file.
    fn discard(&mut self) {
        self.file = None;
        self.buf = Vec::new();
        if let Some(Target::Maildir { maildir, base }) = self.target.take() {
            let _ = std::fs::remove_file(maildir.tmp_path(&base));
        }
    }

    /// The body has ended: writes the rest and fsyncs the Maildir file.
    pub async fn finish(mut self) -> Received {
        if self.too_big {
            return Received::TooBig;
        }
        let mut out = std::mem::take(&mut self.buf);
        self.conv.finish(&mut out);
        self.buf = out;
        self.flush().await;
        let (size, vsize) = (self.conv.size, self.conv.vsize);
        let (Some(mut file), Some(target)) = (self.file.take(), self.target.take()) else {
            return Received::Failed;
        };
        let done = file.flush().await;
        let std = file.into_std().await;
        match target {
            Target::Maildir { maildir, base } => {
                let fsync = maildir.fsyncs();
                let synced = match done {
                    Ok(()) if fsync => blocking(move || {
                        std.sync_all()
                            .map_err(MailError::io("fsync", "tmp message"))
                    })
                    .await
                    .map(|_| ()),
                    Ok(()) => Ok(()),
                    Err(e) => Err(MailError::io("write", "tmp message")(e)),
                };
                if let Err(e) = synced {
                    tracing::error!(error = %e, "lmtp: writing the message failed");
                    let _ = std::fs::remove_file(maildir.tmp_path(&base));
                    return Received::Failed;
                }
                Received::InMaildir {
                    maildir,
                    base,
                    size,
                    vsize,
                }
            }
            Target::Spool => match done {
                Ok(()) => Received::Spooled {
                    file: Arc::new(std),
                    size,
                    vsize,
                },
                Err(e) => {
                    tracing::error!(error = %e, "lmtp: writing the spool file failed");
                    Received::Failed
                }
            },
        }
    }
}

impl Drop for Sink {
    fn drop(&mut self) {
        // Not finished (the session ended mid-DATA): nothing partial stays in tmp/.
        self.discard();
    }
}

/// A fresh file in `dir`, unlinked at once (it lives as long as the descriptor).
fn spool_file(dir: &std::path::Path) -> Result<File, MailError> {
    use std::os::unix::fs::OpenOptionsExt;
    let id = crate::random::random_bytes(12);
    let name: String = id.iter().map(|b| format!("{b:02x}")).collect();
    let path = dir.join(format!("roost-lmtp-{name}"));
    let f = std::fs::OpenOptions::new()
        .read(true)
        .write(true)
        .create_new(true)
        .mode(0o600)
        .open(&path)
        .map_err(MailError::io("create", &path))?;
    std::fs::remove_file(&path).map_err(MailError::io("unlink", &path))?;
    Ok(f)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::mail::maildir::{crlf_to_lf, virtual_size};

    #[test]
    fn streaming_conversion_matches_the_whole_buffer_one_at_every_split() {
        let input = b"a\r\nb\nc\rd\r\r\n\r\n.\r";
        let whole = crlf_to_lf(input);
        for split in 0..=input.len() {
            let mut c = LfConverter::default();
            let mut out = Vec::new();
            c.push(&input[..split], &mut out);
            c.push(&input[split..], &mut out);
            c.finish(&mut out);
            assert_eq!(out, whole, "split at {split}");
            assert_eq!(c.size, whole.len() as u64);
            assert_eq!(c.vsize, virtual_size(&whole), "split at {split}");
        }
    }
}
