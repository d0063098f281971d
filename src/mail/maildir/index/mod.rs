//! roost's own per-mailbox index and cache (`roost.index` in the Maildir folder; Dovecot's
//! `dovecot.index*` files are never read or written). Per message it keeps the UID, the file
//! name (base and flags), the `S=`/`W=` sizes, the internal date and a modseq bumped on every
//! change; per mailbox the UIDVALIDITY, the next UID, HIGHESTMODSEQ, the first UID still
//! \Recent for the next read-write session, and stamps (inode, size, mtime) of new/, cur/ and
//! `dovecot-uidlist` at the last scan, so a SELECT of an unchanged mailbox neither lists the
//! directories nor opens a message. It also caches ENVELOPE, BODYSTRUCTURE, BODY and the
//! header fields clients fetch ([`CACHED_HEADERS`]), filled on first fetch.
//!
//! The file names and dovecot-uidlist stay the truth: the index is a cache, rebuilt from the
//! Maildir whenever it is missing, garbage or stale (flags come from the file names, so
//! nothing is lost). It is an append-only log of checksummed frames (`log.rs`): a crash
//! mid-append leaves a torn tail that readers ignore and the next writer cuts off; compaction
//! writes a temp file, fsyncs and renames it. Writers hold the `roost.index.lock` dotlock
//! (the same dotlock code as `dovecot-uidlist.lock`); readers need no lock. Several roost
//! sessions and processes share one file; `scan.rs` brings it up to date with the Maildir.

pub mod log;
mod scan;
#[cfg(test)]
mod tests;

use std::collections::{BTreeMap, HashMap};
use std::fs::{self, File};
use std::io::{self, Read, Seek, SeekFrom, Write};
use std::os::unix::fs::{FileExt, MetadataExt};
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex, OnceLock, Weak};

use self::log::{frames, Field, Header, IndexMsg, Record, MAGIC};
use super::dotlock::{Dotlock, STALE_TIMEOUT, WAIT_TIMEOUT};
use super::Maildir;
use crate::mail::MailError;

pub use self::log::Field as CacheField;

/// The index file in the Maildir folder.
pub const INDEX_FILE: &str = "roost.index";

/// Header fields whose lines are cached: the union of what Thunderbird and K-9 Mail ask in
/// their `BODY.PEEK[HEADER.FIELDS (…)]` message-list fetch (lowercase).
pub const CACHED_HEADERS: &[&str] = &[
    "from",
    "to",
    "cc",
    "bcc",
    "subject",
    "date",
    "message-id",
    "priority",
    "x-priority",
    "references",
    "newsgroups",
    "in-reply-to",
    "content-type",
    "reply-to",
    "x-k9mail-identity",
    "chat-version",
    "list-post",
    "sender",
];

/// Whether every name is in [`CACHED_HEADERS`].
pub fn headers_cached(names: &[String]) -> bool {
    names
        .iter()
        .all(|n| CACHED_HEADERS.iter().any(|c| c.eq_ignore_ascii_case(n)))
}

/// Compaction runs when superseded records are more than half of a file at least this big.
const COMPACT_MIN: u64 = 256 * 1024;

/// One mailbox's index as loaded in memory.
pub struct MailboxIndex {
    mbox: Maildir,
    path: PathBuf,
    /// The file as opened (follows the path's inode).
    file: Option<File>,
    ino: u64,
    /// Bytes of whole frames read (the offset the next append goes to).
    valid_len: u64,
    /// The file exists with the right magic.
    valid: bool,
    pub header: Header,
    pub msgs: BTreeMap<u32, IndexMsg>,
    /// (uid, field) → (offset of the data in `file`, length).
    cache: HashMap<(u32, Field), (u64, u32)>,
    /// Bytes of records later ones superseded.
    dead: u64,
    /// Bumped whenever `msgs` or `header` change (sessions compare it to skip work).
    pub generation: u64,
    /// Folder scans this instance ran (listing new/ and cur/).
    pub scans: u64,
}

impl MailboxIndex {
    /// Loads the index of `mbox` (an empty one when the file is missing or garbage; the
    /// next [`MailboxIndex::refresh`] rebuilds it).
    pub fn open(mbox: &Maildir) -> MailboxIndex {
        let mut ix = MailboxIndex {
            mbox: mbox.clone(),
            path: mbox.dir().join(INDEX_FILE),
            file: None,
            ino: 0,
            valid_len: 0,
            valid: false,
            header: Header::default(),
            msgs: BTreeMap::new(),
            cache: HashMap::new(),
            dead: 0,
            generation: 0,
            scans: 0,
        };
        if let Err(e) = ix.catch_up() {
            tracing::warn!(path = %ix.path.display(), error = %e, "mailbox index unreadable, rebuilding");
            ix.reset();
        }
        ix
    }

    pub fn mailbox(&self) -> &Maildir {
        &self.mbox
    }

    pub fn path(&self) -> &Path {
        &self.path
    }

    fn reset(&mut self) {
        self.file = None;
        self.ino = 0;
        self.valid_len = 0;
        self.valid = false;
        self.header = Header::default();
        self.msgs.clear();
        self.cache.clear();
        self.dead = 0;
        self.generation += 1;
    }

    /// Reads what other writers appended (or the whole file when it was replaced).
    pub fn catch_up(&mut self) -> Result<(), MailError> {
        let meta = match fs::metadata(&self.path) {
            Ok(m) => m,
            Err(e) if e.kind() == io::ErrorKind::NotFound => {
                if self.valid || self.file.is_some() {
                    self.reset();
                }
                return Ok(());
            }
            Err(e) => return Err(MailError::io("stat", &self.path)(e)),
        };
        if self.file.is_none() || meta.ino() != self.ino || meta.len() < self.valid_len {
            return self.reload();
        }
        if meta.len() > self.valid_len {
            let f = self.file.as_ref().expect("checked");
            let mut buf = vec![0u8; (meta.len() - self.valid_len) as usize];
            let n = read_at_most(f, &mut buf, self.valid_len)
                .map_err(MailError::io("read", &self.path))?;
            buf.truncate(n);
            let start = self.valid_len;
            self.apply_frames(&buf, start);
        }
        Ok(())
    }

    fn reload(&mut self) -> Result<(), MailError> {
        self.reset();
        let mut f = match File::open(&self.path) {
            Ok(f) => f,
            Err(e) if e.kind() == io::ErrorKind::NotFound => return Ok(()),
            Err(e) => return Err(MailError::io("open", &self.path)(e)),
        };
        let meta = f.metadata().map_err(MailError::io("stat", &self.path))?;
        let mut data = Vec::with_capacity(meta.len() as usize);
        f.read_to_end(&mut data)
            .map_err(MailError::io("read", &self.path))?;
        self.ino = meta.ino();
        if data.len() < MAGIC.len() || &data[..MAGIC.len()] != MAGIC {
            // Garbage: stays invalid, so the next write replaces it whole.
            self.file = Some(f);
            return Ok(());
        }
        self.valid = true;
        self.valid_len = MAGIC.len() as u64;
        self.file = Some(f);
        self.apply_frames(&data[MAGIC.len()..], MAGIC.len() as u64);
        Ok(())
    }

    /// Applies whole frames of `data` (file offset `start`), advancing `valid_len`.
    fn apply_frames(&mut self, data: &[u8], start: u64) {
        let (fs, used) = frames(data, start);
        for (off, payload) in fs {
            match Record::decode(payload) {
                Some(r) => self.apply(r, off, payload.len() as u64),
                // A whole frame that does not decode: written by a newer format; rebuild.
                None => {
                    self.valid = false;
                    break;
                }
            }
        }
        self.valid_len = start + used as u64;
        self.generation += 1;
    }

    fn apply(&mut self, r: Record, off: u64, len: u64) {
        let len = len + log::FRAME as u64;
        match r {
            Record::Header(h) => {
                self.dead += len;
                self.header = h;
            }
            Record::Msg(m) => {
                if self.msgs.insert(m.uid, m).is_some() {
                    self.dead += len;
                }
            }
            Record::Expunge { uid, .. } => {
                self.dead += len;
                if self.msgs.remove(&uid).is_some() {
                    self.dead += len;
                }
                for f in [
                    Field::Envelope,
                    Field::BodyStructure,
                    Field::Body,
                    Field::Headers,
                ] {
                    if let Some((_, l)) = self.cache.remove(&(uid, f)) {
                        self.dead += u64::from(l);
                    }
                }
            }
            Record::Cache { uid, field, data } => {
                // type, uid, field, length: then the data.
                let at = off + 10;
                if self.msgs.contains_key(&uid) {
                    if self
                        .cache
                        .insert((uid, field), (at, data.len() as u32))
                        .is_some()
                    {
                        self.dead += len;
                    }
                } else {
                    self.dead += len;
                }
            }
        }
    }

    /// A cached value.
    pub fn cached(&self, uid: u32, field: Field) -> Option<Vec<u8>> {
        let &(off, len) = self.cache.get(&(uid, field))?;
        let mut buf = vec![0u8; len as usize];
        let f = self.file.as_ref()?;
        f.read_exact_at(&mut buf, off).ok()?;
        Some(buf)
    }

    /// Stores values in the cache (those of messages no longer indexed are dropped).
    pub fn store_cache(&mut self, items: Vec<(u32, Field, Vec<u8>)>) -> Result<(), MailError> {
        if items.is_empty() {
            return Ok(());
        }
        self.locked(|ix| {
            items
                .into_iter()
                .filter(|(uid, f, d)| {
                    ix.msgs.contains_key(uid)
                        && !ix.cache.contains_key(&(*uid, *f))
                        && d.len() < log::MAX_RECORD
                })
                .map(|(uid, field, data)| Record::Cache { uid, field, data })
                .collect()
        })
    }

    /// Runs `f` under the index lock on an up-to-date index and appends the records it
    /// returns (or rewrites the file when it is invalid or mostly superseded).
    pub(super) fn locked(
        &mut self,
        f: impl FnOnce(&mut MailboxIndex) -> Vec<Record>,
    ) -> Result<(), MailError> {
        let lock = Dotlock::acquire(&self.path, STALE_TIMEOUT, WAIT_TIMEOUT)?;
        self.catch_up()?;
        let recs = f(self);
        if recs.is_empty() && self.valid {
            return Ok(());
        }
        let mut tail = Vec::new();
        for r in &recs {
            tail.extend(r.encode());
        }
        let size = self.valid_len + tail.len() as u64;
        if !self.valid || (size > COMPACT_MIN && self.dead > size / 2) {
            self.rewrite(lock, &tail)?;
        } else {
            self.append(&tail)?;
            drop(lock);
        }
        self.catch_up()
    }

    fn append(&mut self, tail: &[u8]) -> Result<(), MailError> {
        let mut f = fs::OpenOptions::new()
            .write(true)
            .open(&self.path)
            .map_err(MailError::io("open", &self.path))?;
        // Cuts a torn tail a crashed writer left.
        let len = f
            .metadata()
            .map_err(MailError::io("stat", &self.path))?
            .len();
        if len > self.valid_len {
            f.set_len(self.valid_len)
                .map_err(MailError::io("truncate", &self.path))?;
        }
        // Not fsynced: the index is a cache (file names and dovecot-uidlist are the truth, as
        // Dovecot does not fsync its index under mail_fsync = optimized). After a power loss a
        // lost or garbled tail is a checksum mismatch or stale stamps, and the next open
        // rescans; what must survive is fsynced where the mail and the uidlist are written.
        f.seek(SeekFrom::Start(self.valid_len))
            .and_then(|_| f.write_all(tail))
            .map_err(MailError::io("append", &self.path))?;
        Ok(())
    }

    /// Writes the live state plus `tail` as a new file: temp, fsync, rename.
    fn rewrite(&mut self, lock: Dotlock, tail: &[u8]) -> Result<(), MailError> {
        let mut out = Vec::with_capacity(self.msgs.len() * 100 + tail.len() + 64);
        out.extend_from_slice(MAGIC);
        out.extend(Record::Header(self.header.clone()).encode());
        for m in self.msgs.values() {
            out.extend(Record::Msg(m.clone()).encode());
        }
        if self.valid {
            let mut keys: Vec<(u32, Field)> = self.cache.keys().copied().collect();
            keys.sort_by_key(|(u, f)| (*u, *f as u8));
            for (uid, field) in keys {
                if let Some(data) = self.cached(uid, field) {
                    out.extend(Record::Cache { uid, field, data }.encode());
                }
            }
        }
        out.extend_from_slice(tail);
        lock.replace(&out, self.mbox.fsyncs())?;
        self.file = None;
        Ok(())
    }
}

/// Reads up to `buf.len()` bytes at `off`.
fn read_at_most(f: &File, buf: &mut [u8], off: u64) -> io::Result<usize> {
    let mut n = 0;
    while n < buf.len() {
        match f.read_at(&mut buf[n..], off + n as u64) {
            Ok(0) => break,
            Ok(k) => n += k,
            Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
            Err(e) => return Err(e),
        }
    }
    Ok(n)
}

/// Indexes shared by the sessions of this process: one in memory per folder while any
/// session has it selected, and the last few used kept for a quick re-SELECT.
pub struct Shared;

/// Folders kept loaded after their last session let go.
const KEEP_RECENT: usize = 4;

type Registry = (
    HashMap<PathBuf, Weak<Mutex<MailboxIndex>>>,
    Vec<Arc<Mutex<MailboxIndex>>>,
);

fn registry() -> &'static Mutex<Registry> {
    static R: OnceLock<Mutex<Registry>> = OnceLock::new();
    R.get_or_init(|| Mutex::new((HashMap::new(), Vec::new())))
}

impl Shared {
    /// The index of `mbox`, loaded once per process.
    pub fn get(mbox: &Maildir) -> Arc<Mutex<MailboxIndex>> {
        let key = mbox.dir().to_path_buf();
        let mut r = registry().lock().unwrap_or_else(|p| p.into_inner());
        let ix = match r.0.get(&key).and_then(Weak::upgrade) {
            Some(ix) => ix,
            None => {
                let ix = Arc::new(Mutex::new(MailboxIndex::open(mbox)));
                r.0.retain(|_, w| w.strong_count() > 0);
                r.0.insert(key, Arc::downgrade(&ix));
                ix
            }
        };
        r.1.retain(|x| !Arc::ptr_eq(x, &ix));
        r.1.push(ix.clone());
        if r.1.len() > KEEP_RECENT {
            r.1.remove(0);
        }
        ix
    }
}

/// Builds the index of `mbox` if it has none yet; called before a message is stored with
/// flags (it goes to cur/, where a freshly built index would not count it \Recent: a fresh
/// index takes only new/ as \Recent, as Dovecot does without its index). With the index
/// there first, the stored message's UID is at or past its `first_recent_uid`.
pub fn ensure_index(mbox: &Maildir) -> Result<(), MailError> {
    if mbox.dir().join(INDEX_FILE).exists() {
        return Ok(());
    }
    let ix = Shared::get(mbox);
    let mut g = ix.lock().unwrap_or_else(|p| p.into_inner());
    g.refresh(false, false).map(|_| ())
}
