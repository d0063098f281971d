//! Giving a just-delivered message its UID: one record appended to `dovecot-uidlist` under its
//! dotlock, reading only the header and the tail of the file (what was appended since the
//! caller looked at it just before moving the message into new/), so a delivery costs the same
//! in a folder of 100 messages and of 100,000, as Dovecot's partial uidlist reads do. When the
//! file was replaced or shrank meanwhile, is damaged, or is in Dovecot's old version 1, the
//! whole file is read instead, and a full resynchronisation repairs what cannot be appended to.

use std::fs::{self, File, OpenOptions};
use std::io::{self, Write};
use std::os::unix::fs::{FileExt, MetadataExt};
use std::path::Path;

use super::{fsync_dir, Maildir, UIDLIST};
use crate::mail::maildir::dotlock::{Dotlock, STALE_TIMEOUT, WAIT_TIMEOUT};
use crate::mail::maildir::uidlist::{self, Record, Uidlist};
use crate::mail::MailError;

/// How much of the file before the caller's mark is read to find the last record (a record
/// line is about 60 bytes; a longer one makes this read the whole file instead).
const TAIL_BEFORE_MARK: u64 = 1024;
/// The header line must fit in this many bytes for the short path.
const HEADER_MAX: u64 = 1024;

/// A delivered message's UID and its folder's UIDVALIDITY (for APPENDUID and COPYUID).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Assigned {
    pub uid: u32,
    pub uid_validity: u32,
}

/// The uidlist as the deliverer saw it before moving its message into new/: the file, held
/// open (so its inode number cannot be reused by a replacement while we wait for the lock),
/// and its size then. A record naming that message can only have been written after it.
#[derive(Debug)]
pub struct Mark {
    file: File,
    ino: u64,
    len: u64,
}

impl Maildir {
    /// Opens the uidlist and notes its size; call before the rename into new/.
    pub(super) fn uidlist_mark(&self) -> Option<Mark> {
        let file = OpenOptions::new()
            .read(true)
            .append(true)
            .open(self.dir.join(UIDLIST))
            .ok()?;
        let m = file.metadata().ok()?;
        Some(Mark {
            ino: m.ino(),
            len: m.len(),
            file,
        })
    }

    /// Gives a message just renamed into `sub` (new/ or cur/) its UID, then makes both durable:
    /// that directory and the uidlist are fsynced together after the line is written (outside
    /// the lock), so one journal commit can carry the rename and the line. Returns once both
    /// are on disk (unless `mail_fsync = never`).
    pub(super) fn assign_uid(
        &self,
        base: &str,
        mark: Option<Mark>,
        sub: &str,
    ) -> Result<Assigned, MailError> {
        let (assigned, appended) = self.assign_uid_unsynced(base, mark)?;
        if !self.fsync {
            return Ok(assigned);
        }
        let dir = self.dir.join(sub);
        let Some(f) = appended else {
            fsync_dir(&dir)?;
            return Ok(assigned);
        };
        // Both at once: the file system can put them in one journal commit.
        crate::mail::maildir::syncpair::fsync_dir_and_data(&dir, &f, &self.dir.join(UIDLIST))?;
        Ok(assigned)
    }

    /// The UID of `base`: appended to `dovecot-uidlist` under its lock (the file is returned
    /// for the caller to fsync), or found by a full sync when the list is missing or damaged.
    fn assign_uid_unsynced(
        &self,
        base: &str,
        mark: Option<Mark>,
    ) -> Result<(Assigned, Option<File>), MailError> {
        let path = self.dir.join(UIDLIST);
        let lock = Dotlock::acquire(&path, STALE_TIMEOUT, WAIT_TIMEOUT)?;
        if let Some(mark) = mark {
            if let Some(done) = append_after_mark(&path, base, mark)? {
                drop(lock);
                return Ok(done);
            }
        }
        let raw = match fs::read(&path) {
            Ok(d) => Some(d),
            Err(e) if e.kind() == io::ErrorKind::NotFound => None,
            Err(e) => return Err(MailError::io("read", &path)(e)),
        };
        if let Some(raw) = raw.filter(|d| d.ends_with(b"\n")) {
            if let Ok(list) = Uidlist::parse(&raw) {
                let uid_validity = list.uid_validity;
                if let Some(r) = list.find(base) {
                    return Ok((
                        Assigned {
                            uid: r.uid,
                            uid_validity,
                        },
                        None,
                    ));
                }
                let uid = list.next_uid();
                let mut f = OpenOptions::new()
                    .append(true)
                    .open(&path)
                    .map_err(MailError::io("open", &path))?;
                append_record(&mut f, &path, uid, base)?;
                drop(lock);
                return Ok((Assigned { uid, uid_validity }, Some(f)));
            }
        }
        let (list, _) = self.sync_locked(lock, false)?;
        list.find(base)
            .map(|r| {
                let a = Assigned {
                    uid: r.uid,
                    uid_validity: list.uid_validity,
                };
                (a, None)
            })
            .ok_or_else(|| MailError::Internal(format!("{base} vanished during delivery")))
    }
}

fn append_record(f: &mut File, path: &Path, uid: u32, base: &str) -> Result<(), MailError> {
    let rec = Record {
        uid,
        ext: Vec::new(),
        base: base.to_string(),
    };
    f.write_all(uidlist::record_line(&rec).as_bytes())
        .map_err(MailError::io("append", path))
}

/// The short path, under the lock: when the uidlist is still the file the mark holds (the
/// path names the same inode, not shorter) and in version 3, reads its header and its tail
/// from a little before the mark, finds `base` among the records appended since (another
/// process's sync may have numbered it already) or appends the next UID. `Ok(None)` sends the
/// caller down the full path.
fn append_after_mark(
    path: &Path,
    base: &str,
    mark: Mark,
) -> Result<Option<(Assigned, Option<File>)>, MailError> {
    match fs::metadata(path) {
        Ok(m) if m.ino() == mark.ino => {}
        Ok(_) => return Ok(None),
        Err(e) if e.kind() == io::ErrorKind::NotFound => return Ok(None),
        Err(e) => return Err(MailError::io("stat", path)(e)),
    }
    let mut f = mark.file;
    let len = f.metadata().map_err(MailError::io("stat", path))?.len();
    if len < mark.len || len == 0 {
        return Ok(None);
    }
    let read = |from: u64, n: u64| -> Result<Vec<u8>, MailError> {
        let mut buf = vec![0u8; n as usize];
        f.read_exact_at(&mut buf, from)
            .map_err(MailError::io("read", path))?;
        Ok(buf)
    };
    let head = read(0, len.min(HEADER_MAX))?;
    let Some(head_end) = head.iter().position(|&b| b == b'\n') else {
        return Ok(None);
    };
    if !head.starts_with(b"3 ") {
        return Ok(None);
    }
    let Ok(header) = Uidlist::parse(&head[..=head_end]) else {
        return Ok(None);
    };
    let from = mark.len.saturating_sub(TAIL_BEFORE_MARK);
    let tail = read(from, len - from)?;
    if !tail.ends_with(b"\n") {
        return Ok(None);
    }
    // Whole lines only: from the start of the file, after the header; otherwise after the
    // first newline (the line cut by `from`).
    let skip = if from == 0 {
        head_end + 1
    } else {
        match tail.iter().position(|&b| b == b'\n') {
            Some(i) => i + 1,
            None => return Ok(None),
        }
    };
    let Ok(text) = std::str::from_utf8(&tail[skip..]) else {
        return Ok(None);
    };
    let mut last = 0u32;
    for line in text.lines().filter(|l| !l.is_empty()) {
        let Ok(rec) = uidlist::parse_v3_record(line) else {
            return Ok(None);
        };
        if rec.uid <= last {
            return Ok(None);
        }
        last = rec.uid;
        if rec.base == base {
            let a = Assigned {
                uid: rec.uid,
                uid_validity: header.uid_validity,
            };
            return Ok(Some((a, None)));
        }
    }
    if last == 0 && from > 0 {
        // No record in the tail although the file has more than its header: read it all.
        return Ok(None);
    }
    let uid = header.header_next_uid.max(last + 1);
    append_record(&mut f, path, uid, base)?;
    let a = Assigned {
        uid,
        uid_validity: header.uid_validity,
    };
    Ok(Some((a, Some(f))))
}
