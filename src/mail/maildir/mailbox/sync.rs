//! Synchronising a Maildir with its `dovecot-uidlist` the way Dovecot 2.3's maildir-sync.c
//! and maildir-uidlist.c do: a session that opens the mailbox read-write first moves new/
//! mail to cur/ (adding `:2,`; the mail stops being \Recent), every file without a record gets
//! the next UID, a file whose name has no `W=` gets a `W<vsize>` field, and the file is
//! rewritten without the records of vanished messages once they are a quarter of what was read
//! (`UIDLIST_COMPRESS_PERCENTAGE`); otherwise new records are appended and stale ones stay.

use std::collections::HashMap;
use std::fs;
use std::io::{self, Write};

use super::{fsync_dir, Maildir, MessageEntry, Snapshot, UIDLIST};
use crate::mail::maildir::dotlock::{Dotlock, STALE_TIMEOUT, WAIT_TIMEOUT};
use crate::mail::maildir::filename;
use crate::mail::maildir::uidlist::{self, Record, Uidlist};
use crate::mail::maildir::{uidvalidity, virtual_size};
use crate::mail::MailError;

/// Base name → (in new/, file name).
pub(super) type Files = HashMap<String, (bool, String)>;

/// Dovecot rewrites the uidlist when the records kept are at most this share of those read.
const COMPRESS_PERCENTAGE: usize = 75;

impl Maildir {
    /// What a POP3 (or read-write IMAP) session sees when it opens the mailbox: new/ moved to
    /// cur/, every file with a UID and a virtual size in the uidlist, stale records dropped by
    /// Dovecot's rule. Holds the uidlist lock throughout, as Dovecot's full sync does.
    pub fn sync_session(&self) -> Result<Snapshot, MailError> {
        let lock = Dotlock::acquire(&self.dir.join(UIDLIST), STALE_TIMEOUT, WAIT_TIMEOUT)?;
        self.move_new_to_cur()?;
        let (list, files) = self.sync_locked(lock, true)?;
        self.snapshot(&list, &files)
    }

    /// Renames every new/ file to cur/, adding the `:2,` info when the name has none.
    fn move_new_to_cur(&self) -> Result<(), MailError> {
        let new = self.dir.join("new");
        let cur = self.dir.join("cur");
        let rd = fs::read_dir(&new).map_err(MailError::io("readdir", &new))?;
        let mut moved = false;
        for ent in rd {
            let ent = ent.map_err(MailError::io("readdir", &new))?;
            let Ok(name) = ent.file_name().into_string() else {
                continue;
            };
            if name.starts_with('.') {
                continue;
            }
            let dest = if name.contains(':') {
                name.clone()
            } else {
                format!("{name}:2,")
            };
            match fs::rename(new.join(&name), cur.join(&dest)) {
                Ok(()) => moved = true,
                // Another session moved or expunged it meanwhile.
                Err(e) if e.kind() == io::ErrorKind::NotFound => {}
                Err(e) => return Err(MailError::io("rename", new.join(&name))(e)),
            }
        }
        if moved && self.fsync {
            fsync_dir(&cur)?;
            fsync_dir(&new)?;
        }
        Ok(())
    }

    /// Gives every file a UID under `lock` and writes the uidlist as Dovecot would: a new file
    /// whole, a compressible one rewritten, otherwise only new records appended.
    /// `vsizes`: records of files whose name lacks `W=` get a `W<vsize>` field (Dovecot's
    /// POP3 computes every message's size at login and stores it there).
    pub(super) fn sync_locked(
        &self,
        lock: Dotlock,
        vsizes: bool,
    ) -> Result<(Uidlist, Files), MailError> {
        let path = lock.target().to_path_buf();
        let (mut list, mut rewrite) = match Uidlist::read(&path) {
            Ok(Some(l)) => (l, false),
            Ok(None) => (
                Uidlist::new(uidvalidity::next(&self.root), super::random_guid()),
                true,
            ),
            Err(MailError::Corrupted { reason, .. }) => {
                tracing::warn!(path = %path.display(), %reason, "rebuilding corrupted uidlist");
                (
                    Uidlist::new(uidvalidity::next(&self.root), super::random_guid()),
                    true,
                )
            }
            Err(e) => return Err(e),
        };
        let files = self.list()?;
        self.clean_tmp();
        let read = list.records.len();
        let mut next = list.next_uid();
        list.records.retain(|r| files.contains_key(&r.base));
        let kept = list.records.len();
        let known: std::collections::HashSet<&str> =
            list.records.iter().map(|r| r.base.as_str()).collect();
        let mut new: Vec<String> = files
            .keys()
            .filter(|b| !known.contains(b.as_str()))
            .cloned()
            .collect();
        drop(known);
        new.sort();
        let mut added = Vec::with_capacity(new.len());
        for b in new {
            let rec = Record {
                uid: next,
                ext: Vec::new(),
                base: b,
            };
            next += 1;
            added.push(rec.clone());
            list.records.push(rec);
        }
        if vsizes {
            for r in &mut list.records {
                if filename::field(&r.base, 'W').is_some() || r.ext('W').is_some() {
                    continue;
                }
                let Some((in_new, name)) = files.get(&r.base) else {
                    continue;
                };
                let p = self
                    .dir
                    .join(if *in_new { "new" } else { "cur" })
                    .join(name);
                match fs::read(&p) {
                    Ok(data) => {
                        r.ext.push(('W', virtual_size(&data).to_string()));
                        rewrite = true;
                    }
                    Err(e) if e.kind() == io::ErrorKind::NotFound => {}
                    Err(e) => return Err(MailError::io("read", p)(e)),
                }
            }
        }
        if kept < read && read * COMPRESS_PERCENTAGE / 100 >= list.records.len() {
            rewrite = true;
        }
        list.header_next_uid = next;
        if rewrite {
            lock.replace(list.serialize().as_bytes(), self.fsync)?;
        } else {
            // The header stays as it is on disk; only records are appended.
            if !added.is_empty() {
                self.append_records(&path, &added)?;
            }
            drop(lock);
        }
        Ok((list, files))
    }

    fn append_records(&self, path: &std::path::Path, recs: &[Record]) -> Result<(), MailError> {
        let mut text = String::new();
        for r in recs {
            text.push_str(&uidlist::record_line(r));
        }
        let mut f = fs::OpenOptions::new()
            .append(true)
            .open(path)
            .map_err(MailError::io("open", path))?;
        f.write_all(text.as_bytes())
            .map_err(MailError::io("append", path))?;
        if self.fsync {
            f.sync_data().map_err(MailError::io("fsync", path))?;
        }
        Ok(())
    }

    /// The messages of `list` that have a file, in UID order, with their sizes.
    pub(super) fn snapshot(&self, list: &Uidlist, files: &Files) -> Result<Snapshot, MailError> {
        let mut messages = Vec::with_capacity(list.records.len());
        for r in &list.records {
            let Some((in_new, name)) = files.get(&r.base) else {
                continue;
            };
            let flags = filename::split(name).1.unwrap_or_default();
            let mut e = MessageEntry {
                uid: r.uid,
                base: r.base.clone(),
                guid: r.ext('G').unwrap_or(&r.base).to_string(),
                name: name.clone(),
                in_new: *in_new,
                flags,
                size: 0,
                vsize: 0,
            };
            let size = filename::field(&r.base, 'S');
            let vsize =
                filename::field(&r.base, 'W').or_else(|| r.ext('W').and_then(|v| v.parse().ok()));
            match (size, vsize) {
                (Some(s), Some(v)) => {
                    e.size = s;
                    e.vsize = v;
                }
                _ => {
                    // A file from another MDA without sizes in its name: measure it.
                    let data = match fs::read(self.path_of(&e)) {
                        Ok(d) => d,
                        Err(err) if err.kind() == io::ErrorKind::NotFound => continue,
                        Err(err) => return Err(MailError::io("read", self.path_of(&e))(err)),
                    };
                    e.size = data.len() as u64;
                    e.vsize = virtual_size(&data);
                }
            }
            messages.push(e);
        }
        Ok(Snapshot {
            uid_validity: list.uid_validity,
            next_uid: list.next_uid(),
            messages,
        })
    }
}
