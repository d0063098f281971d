//! Dovecot's dotlock: the lock on `FILE` is the file `FILE.lock`, created only if absent. A lock
//! older than the stale timeout (2 minutes for `dovecot-uidlist`, Dovecot's
//! `MAILDIR_UIDLIST_LOCK_STALE_TIMEOUT`) is taken over. A new version of `FILE` is written to a
//! temp file and renamed over `FILE` while the lock is held. The lock file holds
//! `<pid>:<host>` from the moment it exists (it is linked into place complete); a lock whose
//! process is gone on this host (roost was killed) is taken over at once instead of after the
//! stale timeout.

use std::fs::{self, File, OpenOptions};
use std::io::{self, Write};
use std::os::unix::fs::OpenOptionsExt;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant, SystemTime};

use crate::mail::MailError;

/// How old a lock may get before it is considered left behind by a crash.
pub const STALE_TIMEOUT: Duration = Duration::from_secs(120);
/// How long to wait for a lock before giving up (the caller answers with a temporary error).
pub const WAIT_TIMEOUT: Duration = Duration::from_secs(30);

/// A held dotlock. Dropping it removes the lock file.
#[derive(Debug)]
pub struct Dotlock {
    target: PathBuf,
    lock: PathBuf,
}

static TEMP_COUNTER: AtomicU64 = AtomicU64::new(0);

/// A unique temp path next to `base` (same directory, so link/rename stay atomic).
fn temp_path(base: &Path, what: &str) -> PathBuf {
    let mut p = base.as_os_str().to_owned();
    p.push(format!(
        ".{what}.{}.{}",
        std::process::id(),
        TEMP_COUNTER.fetch_add(1, Ordering::Relaxed)
    ));
    PathBuf::from(p)
}

impl Dotlock {
    /// Takes the lock on `target`, waiting up to `wait`. The lock file is born complete: its
    /// owner line is written to a temp file that is then hard-linked into place (`link` fails
    /// if the lock exists), so a crash never leaves an anonymous lock behind.
    pub fn acquire(target: &Path, stale: Duration, wait: Duration) -> Result<Dotlock, MailError> {
        let mut lock = target.as_os_str().to_owned();
        lock.push(".lock");
        let lock = PathBuf::from(lock);
        let tmp = temp_path(&lock, "tmp");
        {
            let mut f = OpenOptions::new()
                .write(true)
                .create_new(true)
                .mode(0o600)
                .open(&tmp)
                .map_err(MailError::io("create", &tmp))?;
            f.write_all(owner().as_bytes())
                .map_err(MailError::io("write", &tmp))?;
        }
        let start = Instant::now();
        let mut pause = Duration::from_millis(1);
        let result = loop {
            match fs::hard_link(&tmp, &lock) {
                Ok(()) => {
                    break Ok(Dotlock {
                        target: target.to_path_buf(),
                        lock: lock.clone(),
                    })
                }
                Err(e) if e.kind() == io::ErrorKind::AlreadyExists => {
                    if is_stale(&lock, stale) {
                        tracing::warn!(lock = %lock.display(), "taking over a stale lock");
                        let _ = fs::remove_file(&lock);
                        continue;
                    }
                    if start.elapsed() >= wait {
                        break Err(MailError::LockTimeout(lock.clone()));
                    }
                    std::thread::sleep(pause);
                    pause = (pause * 2).min(Duration::from_millis(50));
                }
                Err(e) => break Err(MailError::io("create lock", &lock)(e)),
            }
        };
        let _ = fs::remove_file(&tmp);
        if let Ok(held) = &result {
            sweep_leftovers(&held.target, &held.lock, stale);
        }
        result
    }

    /// Writes `content` as the new version of the target (a temp file, fsynced when asked,
    /// renamed over the target), then releases the lock.
    pub fn replace(self, content: &[u8], fsync: bool) -> Result<(), MailError> {
        let tmp = temp_path(&self.target, "new");
        let written = OpenOptions::new()
            .write(true)
            .create_new(true)
            .mode(0o600)
            .open(&tmp)
            .and_then(|mut f| {
                f.write_all(content)?;
                if fsync {
                    f.sync_all()?;
                }
                Ok(())
            });
        if let Err(e) = written.and_then(|_| fs::rename(&tmp, &self.target)) {
            let _ = fs::remove_file(&tmp);
            return Err(MailError::io("replace", &self.target)(e));
        }
        Ok(())
    }

    /// Refreshes the lock's mtime so that others do not take it over as stale (for locks held
    /// for a whole session, such as `pop3_lock_session`).
    pub fn touch(&self) {
        if let Ok(f) = File::options().write(true).open(&self.lock) {
            let _ = f.set_modified(SystemTime::now());
        }
    }

    pub fn target(&self) -> &Path {
        &self.target
    }
}

impl Drop for Dotlock {
    fn drop(&mut self) {
        let _ = fs::remove_file(&self.lock);
    }
}

/// `<pid>:<host>` of this process.
fn owner() -> String {
    format!(
        "{}:{}",
        std::process::id(),
        crate::mail::settings::system_hostname()
    )
}

/// True when the lock names a process on this host that no longer exists.
fn owner_is_gone(lock: &Path) -> bool {
    let Ok(text) = fs::read_to_string(lock) else {
        return false;
    };
    let Some((pid, host)) = text.trim().split_once(':') else {
        return false;
    };
    let Ok(pid) = pid.parse::<i32>() else {
        return false;
    };
    if host != crate::mail::settings::system_hostname() || pid <= 0 {
        return false;
    }
    if pid as u32 == std::process::id() {
        // Held by another task of this process.
        return false;
    }
    !alive(pid)
}

/// Removes temp files a crashed process left next to `target` (run while holding the lock):
/// every `TARGET.new.*` (only a lock holder writes one, and the holder is us), and every
/// `TARGET.lock.tmp.<pid>.*` whose process is gone or that is older than `stale` (another
/// process may be waiting with a fresh one).
fn sweep_leftovers(target: &Path, lock: &Path, stale: Duration) {
    let (Some(dir), Some(t), Some(l)) = (target.parent(), target.file_name(), lock.file_name())
    else {
        return;
    };
    let new_prefix = format!("{}.new.", t.to_string_lossy());
    let tmp_prefix = format!("{}.tmp.", l.to_string_lossy());
    let Ok(entries) = fs::read_dir(dir) else {
        return;
    };
    for entry in entries.flatten() {
        let name = entry.file_name();
        let name = name.to_string_lossy();
        let leftover = if name.starts_with(&new_prefix) {
            true
        } else if let Some(rest) = name.strip_prefix(&tmp_prefix) {
            let pid = rest.split('.').next().and_then(|p| p.parse::<i32>().ok());
            let gone = pid.is_some_and(|p| p > 0 && p as u32 != std::process::id() && !alive(p));
            let old = entry
                .metadata()
                .and_then(|m| m.modified())
                .ok()
                .and_then(|m| SystemTime::now().duration_since(m).ok())
                .is_some_and(|age| age > stale);
            gone || old
        } else {
            false
        };
        if leftover && fs::remove_file(entry.path()).is_ok() {
            tracing::info!(file = %entry.path().display(), "removed a temp file left by a crash");
        }
    }
}

/// Whether process `pid` exists on this host.
fn alive(pid: i32) -> bool {
    // SAFETY: signal 0 only checks that the process exists.
    let r = unsafe { libc::kill(pid, 0) };
    r == 0 || io::Error::last_os_error().raw_os_error() != Some(libc::ESRCH)
}

fn is_stale(lock: &Path, stale: Duration) -> bool {
    if owner_is_gone(lock) {
        return true;
    }
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
    fn lock_of_a_dead_process_is_taken_over_at_once() {
        let d = tmpdir("dead");
        let t = d.join("f");
        // A process id that cannot exist (above the kernel's pid_max).
        let host = crate::mail::settings::system_hostname();
        fs::write(d.join("f.lock"), format!("2147483646:{host}")).unwrap();
        Dotlock::acquire(&t, STALE_TIMEOUT, Duration::from_millis(50)).unwrap();
        // A live foreign owner is respected.
        fs::write(d.join("f.lock"), format!("1:{host}")).unwrap();
        let e = Dotlock::acquire(&t, STALE_TIMEOUT, Duration::from_millis(50)).unwrap_err();
        assert!(matches!(e, MailError::LockTimeout(_)));
    }

    #[test]
    fn held_lock_names_its_owner_and_replace_writes_only_the_content() {
        let d = tmpdir("owner");
        let t = d.join("f");
        let l = Dotlock::acquire(&t, STALE_TIMEOUT, WAIT_TIMEOUT).unwrap();
        let text = fs::read_to_string(d.join("f.lock")).unwrap();
        assert!(
            text.starts_with(&format!("{}:", std::process::id())),
            "{text}"
        );
        l.replace(b"x", false).unwrap();
        assert_eq!(fs::read(&t).unwrap(), b"x");
    }

    #[test]
    fn temp_files_left_by_a_crash_are_removed_by_the_next_holder() {
        let d = tmpdir("leftovers");
        let t = d.join("dovecot-uidlist");
        let dead = "2147483646";
        let me = std::process::id();
        let left = [
            format!("dovecot-uidlist.lock.tmp.{dead}.0"),
            format!("dovecot-uidlist.new.{dead}.3"),
            format!("dovecot-uidlist.new.{me}.99"),
        ];
        // A live waiter's fresh temp file (this process) and unrelated files stay.
        let kept = [
            format!("dovecot-uidlist.lock.tmp.{me}.12345"),
            "dovecot-uidlist".to_string(),
            "dovecot-keywords.new.x".to_string(),
        ];
        for n in left.iter().chain(&kept) {
            fs::write(d.join(n), b"x").unwrap();
        }
        let l = Dotlock::acquire(&t, STALE_TIMEOUT, WAIT_TIMEOUT).unwrap();
        for n in &left {
            assert!(!d.join(n).exists(), "{n} left behind");
        }
        for n in &kept {
            assert!(d.join(n).exists(), "{n} removed");
        }
        drop(l);
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
