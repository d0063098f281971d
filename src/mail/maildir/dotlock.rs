//! Dovecot's dotlock: the lock on `FILE` is the file `FILE.lock`, created with `O_EXCL`. A lock
//! older than the stale timeout (2 minutes for `dovecot-uidlist`, Dovecot's
//! `MAILDIR_UIDLIST_LOCK_STALE_TIMEOUT`) is taken over. A new version of `FILE` is written into
//! the lock file and renamed over `FILE`, which replaces the file and releases the lock in one
//! atomic step, exactly as Dovecot's `file_dotlock_replace` does.

use std::fs::{self, File, OpenOptions};
use std::io::{self, Write};
use std::os::unix::fs::OpenOptionsExt;
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant, SystemTime};

use crate::mail::MailError;

/// How old a lock may get before it is considered left behind by a crash.
pub const STALE_TIMEOUT: Duration = Duration::from_secs(120);
/// How long to wait for a lock before giving up (the caller answers with a temporary error).
pub const WAIT_TIMEOUT: Duration = Duration::from_secs(30);

/// A held dotlock. Dropping it without [`Dotlock::replace`] removes the lock file.
#[derive(Debug)]
pub struct Dotlock {
    target: PathBuf,
    lock: PathBuf,
    file: Option<File>,
}

impl Dotlock {
    /// Takes the lock on `target`, waiting up to `wait`.
    pub fn acquire(target: &Path, stale: Duration, wait: Duration) -> Result<Dotlock, MailError> {
        let mut lock = target.as_os_str().to_owned();
        lock.push(".lock");
        let lock = PathBuf::from(lock);
        let start = Instant::now();
        let mut pause = Duration::from_millis(1);
        loop {
            match OpenOptions::new()
                .write(true)
                .create_new(true)
                .mode(0o600)
                .open(&lock)
            {
                Ok(file) => {
                    return Ok(Dotlock {
                        target: target.to_path_buf(),
                        lock,
                        file: Some(file),
                    })
                }
                Err(e) if e.kind() == io::ErrorKind::AlreadyExists => {
                    if is_stale(&lock, stale) {
                        tracing::warn!(lock = %lock.display(), "taking over a stale lock");
                        let _ = fs::remove_file(&lock);
                        continue;
                    }
                    if start.elapsed() >= wait {
                        return Err(MailError::LockTimeout(lock));
                    }
                    std::thread::sleep(pause);
                    pause = (pause * 2).min(Duration::from_millis(50));
                }
                Err(e) => return Err(MailError::io("create lock", &lock)(e)),
            }
        }
    }

    /// Writes `content` as the new version of the target, fsyncs it when asked, and renames it
    /// over the target (releasing the lock).
    pub fn replace(mut self, content: &[u8], fsync: bool) -> Result<(), MailError> {
        let mut file = self.file.take().expect("lock file open until replaced");
        file.write_all(content)
            .map_err(MailError::io("write", &self.lock))?;
        if fsync {
            file.sync_all()
                .map_err(MailError::io("fsync", &self.lock))?;
        }
        drop(file);
        fs::rename(&self.lock, &self.target).map_err(MailError::io("rename", &self.target))?;
        // The rename is done: nothing left to remove on drop.
        self.lock = PathBuf::new();
        Ok(())
    }

    /// Refreshes the lock's mtime so that others do not take it over as stale (for locks held
    /// for a whole session, such as `pop3_lock_session`).
    pub fn touch(&self) {
        if let Some(f) = &self.file {
            let _ = f.set_modified(SystemTime::now());
        }
    }

    pub fn target(&self) -> &Path {
        &self.target
    }
}

impl Drop for Dotlock {
    fn drop(&mut self) {
        if !self.lock.as_os_str().is_empty() {
            let _ = fs::remove_file(&self.lock);
        }
    }
}

fn is_stale(lock: &Path, stale: Duration) -> bool {
    match fs::metadata(lock).and_then(|m| m.modified()) {
        Ok(mtime) => SystemTime::now()
            .duration_since(mtime)
            .map(|age| age > stale)
            .unwrap_or(false),
        // Vanished in between: not stale, just retry.
        Err(_) => false,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn tmpdir(tag: &str) -> PathBuf {
        let d = std::env::temp_dir().join(format!("roost-dotlock-{tag}-{}", std::process::id()));
        let _ = fs::remove_dir_all(&d);
        fs::create_dir_all(&d).unwrap();
        d
    }

    #[test]
    fn second_locker_waits_then_times_out() {
        let d = tmpdir("wait");
        let t = d.join("dovecot-uidlist");
        let held = Dotlock::acquire(&t, STALE_TIMEOUT, WAIT_TIMEOUT).unwrap();
        assert!(d.join("dovecot-uidlist.lock").exists());
        let e = Dotlock::acquire(&t, STALE_TIMEOUT, Duration::from_millis(30)).unwrap_err();
        assert!(matches!(e, MailError::LockTimeout(_)));
        drop(held);
        assert!(!d.join("dovecot-uidlist.lock").exists());
        Dotlock::acquire(&t, STALE_TIMEOUT, WAIT_TIMEOUT).unwrap();
    }

    #[test]
    fn replace_renames_lock_over_target() {
        let d = tmpdir("replace");
        let t = d.join("f");
        fs::write(&t, b"old").unwrap();
        let l = Dotlock::acquire(&t, STALE_TIMEOUT, WAIT_TIMEOUT).unwrap();
        l.replace(b"new", true).unwrap();
        assert_eq!(fs::read(&t).unwrap(), b"new");
        assert!(!d.join("f.lock").exists());
    }

    #[test]
    fn stale_lock_is_taken_over() {
        let d = tmpdir("stale");
        let t = d.join("f");
        fs::write(d.join("f.lock"), b"").unwrap();
        let l = Dotlock::acquire(&t, Duration::ZERO, Duration::from_millis(100));
        // mtime resolution: the lock is at least 0 s old, so with a zero stale timeout it goes.
        std::thread::sleep(Duration::from_millis(10));
        let l = l.or_else(|_| Dotlock::acquire(&t, Duration::ZERO, Duration::from_millis(100)));
        assert!(l.is_ok());
    }
}
