//! One Maildir folder: delivery (tmp/ → fsync → new/ → fsync dir → UID under the uidlist lock),
//! synchronisation (every file in new/ and cur/ gets a UID, in Dovecot's file), reading, and
//! flag changes and expunges as a POP3 session commits them.

use std::collections::HashMap;
use std::fs::{self, File, OpenOptions};
use std::io::{self, Write};
use std::os::unix::fs::{DirBuilderExt, OpenOptionsExt};
use std::path::{Path, PathBuf};
use std::time::SystemTime;

use super::dotlock::{Dotlock, STALE_TIMEOUT, WAIT_TIMEOUT};
use super::filename::{self, Flags};
pub use super::syncpair::fsync_dir;
use super::uidlist::Uidlist;
use super::virtual_size;
use crate::mail::MailError;

pub const UIDLIST: &str = "dovecot-uidlist";

/// A message as a snapshot saw it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct MessageEntry {
    pub uid: u32,
    /// Base name (the uidlist key).
    pub base: String,
    /// Dovecot's message GUID for Maildir: the uidlist `G` field, else the base name.
    pub guid: String,
    /// Current file name (base plus any `:2,` info).
    pub name: String,
    pub in_new: bool,
    pub flags: Flags,
    /// Bytes on disk (LF line ends).
    pub size: u64,
    /// Bytes with CRLF line ends (what POP3 and IMAP report).
    pub vsize: u64,
}

/// The messages of a mailbox at one moment, in UID order.
#[derive(Clone, Debug)]
pub struct Snapshot {
    pub uid_validity: u32,
    pub next_uid: u32,
    pub messages: Vec<MessageEntry>,
}

/// Where a stored message enters the folder: new/ without flags, cur/ (with its `:2,` info)
/// when it has any, as Dovecot's maildir save does. \Recent does not depend on it: the
/// index gives it by UID.
fn arrival_dir(flags: &Flags) -> &'static str {
    if flags.is_empty() {
        "new"
    } else {
        "cur"
    }
}

/// A change a session commits.
#[derive(Clone, Debug)]
pub enum Change {
    Expunge,
    SetFlags(Flags),
}

/// An opened Maildir folder.
#[derive(Clone, Debug)]
pub struct Maildir {
    dir: PathBuf,
    /// The mailbox-list root, where `dovecot-uidvalidity` lives.
    root: PathBuf,
    fsync: bool,
    host: String,
}

impl Maildir {
    /// Opens the folder at `dir` of a Maildir++ store; creates it when `create` is set.
    pub fn open(
        dir: &Path,
        root: &Path,
        create: bool,
        fsync: bool,
        host: &str,
    ) -> Result<Maildir, MailError> {
        Maildir::open_in(dir, root, create, fsync, host, true)
    }

    /// Opens the folder at `dir`. With `create`, a missing `cur/ new/ tmp/` is created, and a
    /// folder created from nothing gets the empty `maildirfolder` file when `maildir_plus_plus`
    /// (Dovecot's maildir_mailbox_create() does this for every mailbox it creates under the
    /// Maildir++ layout, INBOX included, and never for an existing directory or `LAYOUT=fs`).
    pub fn open_in(
        dir: &Path,
        root: &Path,
        create: bool,
        fsync: bool,
        host: &str,
        maildir_plus_plus: bool,
    ) -> Result<Maildir, MailError> {
        // cur/ is what marks a folder; it is made last, so a session that sees it also finds
        // new/ and tmp/ (racing first logins listed a new/ not made yet). With `create`, a
        // folder missing new/ or tmp/ (its creator stopped half way) is completed, as Dovecot
        // recreates them.
        let whole = if create {
            ["cur", "new", "tmp"].iter().all(|s| dir.join(s).is_dir())
        } else {
            dir.join("cur").is_dir()
        };
        if !whole {
            if !create {
                return Err(MailError::NoMailbox(dir.display().to_string()));
            }
            let fresh = !dir.exists();
            let mut b = fs::DirBuilder::new();
            b.recursive(true).mode(0o700);
            for sub in ["new", "tmp", "cur"] {
                let p = dir.join(sub);
                b.create(&p).map_err(MailError::io("mkdir", &p))?;
            }
            if fresh && maildir_plus_plus {
                let p = dir.join("maildirfolder");
                if let Err(e) = OpenOptions::new()
                    .create(true)
                    .truncate(false)
                    .write(true)
                    .mode(0o600)
                    .open(&p)
                {
                    return Err(MailError::io("create", p)(e));
                }
            }
        }
        Ok(Maildir {
            dir: dir.to_path_buf(),
            root: root.to_path_buf(),
            fsync,
            host: host.to_string(),
        })
    }

    pub fn dir(&self) -> &Path {
        &self.dir
    }

    pub fn path_of(&self, e: &MessageEntry) -> PathBuf {
        self.dir
            .join(if e.in_new { "new" } else { "cur" })
            .join(&e.name)
    }

    /// Stores a message (already LF line ends) and returns its UID. When this returns, the
    /// message file and its directory entry are on disk (unless `mail_fsync = never`).
    pub fn deliver(&self, data: &[u8], flags: &Flags) -> Result<u32, MailError> {
        Ok(self.deliver_dated(data, flags, None)?.uid)
    }

    /// [`Maildir::deliver`] with an internal date (the file's mtime, set before the rename).
    pub fn deliver_dated(
        &self,
        data: &[u8],
        flags: &Flags,
        date: Option<SystemTime>,
    ) -> Result<Assigned, MailError> {
        let size = data.len() as u64;
        let base = filename::generate(&self.host, size, virtual_size(data));
        let tmp = self.dir.join("tmp").join(&base);
        let mut f = OpenOptions::new()
            .write(true)
            .create_new(true)
            .mode(0o600)
            .open(&tmp)
            .map_err(MailError::io("create", &tmp))?;
        let written = f
            .write_all(data)
            .and_then(|_| date.map_or(Ok(()), |t| f.set_modified(t)))
            .and_then(|_| if self.fsync { f.sync_all() } else { Ok(()) });
        drop(f);
        if let Err(e) = written {
            let _ = fs::remove_file(&tmp);
            return Err(MailError::io("write", &tmp)(e));
        }
        let name = if flags.is_empty() {
            base.clone()
        } else {
            filename::with_flags(&base, flags)
        };
        let sub = arrival_dir(flags);
        let dest = self.dir.join(sub).join(&name);
        let mark = self.uidlist_mark();
        if let Err(e) = fs::rename(&tmp, &dest) {
            let _ = fs::remove_file(&tmp);
            return Err(MailError::io("rename", dest)(e));
        }
        self.assign_uid(&base, mark, sub)
    }

    /// Creates an empty message file in tmp/ for a writer that does not know the size yet
    /// (LMTP streaming DATA). Returns its base name and the open file; finish with
    /// [`Maildir::commit_tmp`], or remove `tmp/<base>` on failure.
    pub fn create_tmp(&self) -> Result<(String, File), MailError> {
        let base = filename::unique(&self.host);
        let tmp = self.dir.join("tmp").join(&base);
        let f = OpenOptions::new()
            .write(true)
            .create_new(true)
            .mode(0o600)
            .open(&tmp)
            .map_err(MailError::io("create", &tmp))?;
        Ok((base, f))
    }

    /// Hard-links an already stored, fsynced message (another mailbox's copy) into tmp/
    /// under a fresh name, for [`Maildir::commit_tmp`] (Dovecot's
    /// `maildir_copy_with_hardlinks`). Fails across file systems; the caller then copies.
    pub fn link_tmp(&self, src: &Path) -> Result<String, MailError> {
        let base = filename::unique(&self.host);
        let tmp = self.dir.join("tmp").join(&base);
        fs::hard_link(src, &tmp).map_err(MailError::io("link", &tmp))?;
        Ok(base)
    }

    /// Where [`Maildir::commit_tmp`] puts `base` of these sizes.
    pub fn new_path(&self, base: &str, size: u64, vsize: u64) -> PathBuf {
        self.dir
            .join("new")
            .join(filename::with_sizes(base, size, vsize))
    }

    /// The path of a file [`Maildir::create_tmp`] made.
    pub fn tmp_path(&self, base: &str) -> PathBuf {
        self.dir.join("tmp").join(base)
    }

    /// Moves `tmp/<base>` (written and, unless `mail_fsync = never`, fsynced by the caller)
    /// into new/ as `<base>,S=size,W=vsize`, fsyncs new/ and returns the UID. On failure the
    /// tmp file is removed.
    pub fn commit_tmp(&self, base: &str, size: u64, vsize: u64) -> Result<u32, MailError> {
        Ok(self
            .commit_tmp_flagged(base, size, vsize, &Flags::default(), None)?
            .uid)
    }

    /// As [`Maildir::commit_tmp`], with `flags` in the name from the start (IMAP APPEND with
    /// flags: one rename and one directory fsync instead of a second pair to add them). A
    /// message with flags goes to cur/, as Dovecot saves it (see [`arrival_dir`]).
    pub fn commit_tmp_flagged(
        &self,
        base: &str,
        size: u64,
        vsize: u64,
        flags: &Flags,
        date: Option<std::time::SystemTime>,
    ) -> Result<Assigned, MailError> {
        let tmp = self.tmp_path(base);
        // The internal date is the file's mtime: set while it is still in tmp/, so no scan is
        // needed to find the file afterwards.
        if let Some(t) = date {
            if let Err(e) = File::options()
                .write(true)
                .open(&tmp)
                .and_then(|f| f.set_modified(t))
            {
                let _ = fs::remove_file(&tmp);
                return Err(MailError::io("utime", &tmp)(e));
            }
        }
        let name = filename::with_sizes(base, size, vsize);
        let file = if flags.is_empty() {
            name.clone()
        } else {
            filename::with_flags(&name, flags)
        };
        let sub = arrival_dir(flags);
        let dest = self.dir.join(sub).join(&file);
        let mark = self.uidlist_mark();
        if let Err(e) = fs::rename(&tmp, &dest) {
            let _ = fs::remove_file(&tmp);
            return Err(MailError::io("rename", dest)(e));
        }
        self.assign_uid(&name, mark, sub)
    }

    /// The folder's UIDVALIDITY from `dovecot-uidlist` (a sync creates it when missing).
    pub fn uid_validity(&self) -> Result<u32, MailError> {
        match Uidlist::read(&self.dir.join(UIDLIST))? {
            Some(list) => Ok(list.uid_validity),
            None => Ok(self.sync()?.uid_validity),
        }
    }

    /// Whether this folder fsyncs (`mail_fsync` is not `never`).
    pub fn fsyncs(&self) -> bool {
        self.fsync
    }

    /// Lists new/ and cur/: base name → (in new/, file name). new/ is read first: a message
    /// another process moves from new/ to cur/ meanwhile is then seen at least once (and its
    /// cur/ name wins), never missed.
    fn list(&self) -> Result<HashMap<String, (bool, String)>, MailError> {
        let mut out = HashMap::new();
        for (sub, in_new) in [("new", true), ("cur", false)] {
            let d = self.dir.join(sub);
            let rd = fs::read_dir(&d).map_err(MailError::io("readdir", &d))?;
            for ent in rd {
                let ent = ent.map_err(MailError::io("readdir", &d))?;
                let Ok(name) = ent.file_name().into_string() else {
                    continue;
                };
                if name.starts_with('.') {
                    continue;
                }
                let base = filename::split(&name).0.to_string();
                out.insert(base, (in_new, name));
            }
        }
        Ok(out)
    }

    /// Removes files left in tmp/ by crashed writers, once they are older than 36 hours (the
    /// age Dovecot uses: no writer takes that long).
    fn clean_tmp(&self) {
        let tmp = self.dir.join("tmp");
        let Ok(rd) = fs::read_dir(&tmp) else {
            return;
        };
        let limit = std::time::Duration::from_secs(36 * 3600);
        for ent in rd.flatten() {
            let old = ent
                .metadata()
                .and_then(|m| m.modified())
                .ok()
                .and_then(|t| SystemTime::now().duration_since(t).ok())
                .is_some_and(|age| age > limit);
            if old {
                let _ = fs::remove_file(ent.path());
            }
        }
    }

    /// Takes a snapshot; files without a UID get one first. new/ stays as it is (LMTP and
    /// tests look without taking the mail in).
    pub fn sync(&self) -> Result<Snapshot, MailError> {
        let path = self.dir.join(UIDLIST);
        let files = self.list()?;
        let current = Uidlist::read(&path).ok().flatten();
        let (list, files) = match current {
            Some(l)
                if {
                    let known: std::collections::HashSet<&str> =
                        l.records.iter().map(|r| r.base.as_str()).collect();
                    files.keys().all(|b| known.contains(b.as_str()))
                } =>
            {
                (l, files)
            }
            _ => {
                let lock = Dotlock::acquire(&path, STALE_TIMEOUT, WAIT_TIMEOUT)?;
                self.sync_locked(lock, false)?
            }
        };
        self.snapshot(&list, &files)
    }

    /// Reads a message's bytes (as stored: LF line ends). Follows a rename by another process.
    pub fn read(&self, e: &MessageEntry) -> Result<Vec<u8>, MailError> {
        let p = self.path_of(e);
        match fs::read(&p) {
            Ok(d) => Ok(d),
            Err(err) if err.kind() == io::ErrorKind::NotFound => {
                let files = self.list()?;
                let (in_new, name) = files
                    .get(&e.base)
                    .ok_or_else(|| MailError::io("read", &p)(err))?;
                let sub = if *in_new { "new" } else { "cur" };
                let p2 = self.dir.join(sub).join(name);
                fs::read(&p2).map_err(MailError::io("read", p2))
            }
            Err(err) => Err(MailError::io("read", p)(err)),
        }
    }

    /// Reads several messages (a FETCH batch): new/ and cur/ are opened once and each file is
    /// opened relative to them (no walk of the whole path per message) and read into a buffer
    /// of its known size (no stat). A message that moved or cannot be opened so is read as
    /// [`Maildir::read`] reads it.
    pub fn read_many(&self, entries: &[MessageEntry]) -> Vec<Result<Vec<u8>, MailError>> {
        let new = File::open(self.dir.join("new")).ok();
        let cur = File::open(self.dir.join("cur")).ok();
        entries
            .iter()
            .map(|e| {
                let dir = if e.in_new { &new } else { &cur };
                match dir.as_ref().map(|d| read_at(d, &e.name, e.size)) {
                    Some(Ok(data)) => Ok(data),
                    _ => self.read(e),
                }
            })
            .collect()
    }

    /// Applies flag changes and expunges. A message already gone counts as done.
    pub fn apply(&self, changes: &[(MessageEntry, Change)]) -> Result<(), MailError> {
        if changes.is_empty() {
            return Ok(());
        }
        // The names the caller knows are tried first; the folder is listed only when one
        // moved meanwhile (another session renamed it), so a STORE in a big folder does not
        // read the whole directory.
        let mut files: Option<HashMap<String, (bool, String)>> = None;
        for (e, change) in changes {
            let known = self.path_of(e);
            let src = if fs::symlink_metadata(&known).is_ok() {
                known
            } else {
                if files.is_none() {
                    files = Some(self.list()?);
                }
                let Some((in_new, name)) = files.as_ref().and_then(|f| f.get(&e.base)) else {
                    continue;
                };
                self.dir
                    .join(if *in_new { "new" } else { "cur" })
                    .join(name)
            };
            let r = match change {
                Change::Expunge => fs::remove_file(&src),
                Change::SetFlags(flags) => {
                    let dst = self
                        .dir
                        .join("cur")
                        .join(filename::with_flags(&e.base, flags));
                    if dst == src {
                        Ok(())
                    } else {
                        fs::rename(&src, &dst)
                    }
                }
            };
            match r {
                Ok(()) => {}
                Err(err) if err.kind() == io::ErrorKind::NotFound => {}
                Err(err) => return Err(MailError::io("update", src)(err)),
            }
        }
        if self.fsync {
            fsync_dir(&self.dir.join("cur"))?;
            fsync_dir(&self.dir.join("new"))?;
        }
        Ok(())
    }
}

/// Reads `name` in directory `dir` (opened relative to it), expecting about `size` bytes.
fn read_at(dir: &File, name: &str, size: u64) -> io::Result<Vec<u8>> {
    use nix::fcntl::{openat, OFlag};
    use nix::sys::stat::Mode;
    use std::io::Read;
    let fd = openat(dir, name, OFlag::O_RDONLY | OFlag::O_CLOEXEC, Mode::empty())
        .map_err(io::Error::from)?;
    let mut buf = Vec::with_capacity(usize::try_from(size).unwrap_or(0).saturating_add(1));
    File::from(fd).read_to_end(&mut buf)?;
    Ok(buf)
}

/// 128 random bits in hex, for the uidlist's mailbox GUID.
pub fn random_guid() -> String {
    crate::random::random_bytes(16)
        .iter()
        .map(|x| format!("{x:02x}"))
        .collect()
}

mod assign;
mod sync;

pub use assign::Assigned;

#[cfg(test)]
mod tests;
