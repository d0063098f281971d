//! Dovecot's dotlock: the lock on `FILE` is the file `FILE.lock`, created only if absent. A lock
//! older than the stale timeout (2 minutes for `dovecot-uidlist`, Dovecot's
//! `MAILDIR_UIDLIST_LOCK_STALE_TIMEOUT`) is taken over. A new version of `FILE` is written to a
//! temp file and renamed over `FILE` while the lock is held. The lock file holds
//! `<pid>:<host>` from the moment it exists (it is a hard link to the process's template
//! `FILE.lock.tmp.<pid>`, kept in the Maildir's tmp/, so no inode is made per lock); a lock
//! whose process is gone on this host (roost was killed) is taken over at once instead of
//! after the stale timeout.

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
    /// The stale timeout it was taken with (also the age of leftovers swept).
    stale: Duration,
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
    /// Takes the lock on `target`, waiting up to `wait`. The lock file is born complete: it is
    /// a hard link to this process's template (`LOCK.tmp.<pid>`, holding `<pid>:<host>`), so a
    /// crash never leaves an anonymous lock behind, and taking a lock allocates no inode (on
    /// a busy file system a new inode can cost a millisecond; a delivery takes one lock).
    pub fn acquire(target: &Path, stale: Duration, wait: Duration) -> Result<Dotlock, MailError> {
        let mut lock = target.as_os_str().to_owned();
        lock.push(".lock");
        let lock = PathBuf::from(lock);
        let mut tmp = template(&lock)?;
        let start = Instant::now();
        let mut pause = Duration::from_millis(1);
        let mut took_over = false;
        let result = loop {
            match fs::hard_link(&tmp, &lock) {
                Ok(()) => {
                    break Ok(Dotlock {
                        target: target.to_path_buf(),
                        lock: lock.clone(),
                        stale,
                    })
                }
                // Swept by another holder meanwhile (it looked old): made again.
                Err(e) if e.kind() == io::ErrorKind::NotFound => tmp = template(&lock)?,
                Err(e) if e.kind() == io::ErrorKind::AlreadyExists => {
                    if is_stale(&lock, stale) {
                        tracing::warn!(lock = %lock.display(), "taking over a stale lock");
                        let _ = fs::remove_file(&lock);
                        took_over = true;
                        continue;
                    }
                    if start.elapsed() >= wait {
                        break Err(MailError::LockTimeout(lock.clone()));
                    }
                    std::thread::sleep(pause);
                    pause = (pause * 2).min(Duration::from_millis(50));
                    // The lock will be this inode: its mtime must be fresh when it is taken.
                    tmp = template(&lock)?;
                }
                Err(e) => break Err(MailError::io("create lock", &lock)(e)),
            }
        };
        // A lock left by a crash may have left temp files too (the directory is read only then
        // and before a rewrite, not on every lock: a delivery takes one).
        if let (Ok(held), true) = (&result, took_over) {
            sweep_leftovers(&held.target, &held.lock, stale);
        }
        result
    }

    /// Writes `content` as the new version of the target (a temp file, fsynced when asked,
    /// renamed over the target), then releases the lock. Temp files a crashed holder left
    /// next to the target are removed first.
    pub fn replace(self, content: &[u8], fsync: bool) -> Result<(), MailError> {
        sweep_leftovers(&self.target, &self.lock, self.stale);
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

/// This process's lock template for `lock`, `LOCK.tmp.<pid>` holding `<pid>:<host>`:
/// made once (written to a temp name and renamed, so it is never seen incomplete), then only
/// its mtime is refreshed: the lock about to be linked from it is the same inode, and others
/// judge a lock's age by its mtime.
fn template(lock: &Path) -> Result<PathBuf, MailError> {
    let name = format!(
        "{}.tmp.{}",
        lock.file_name().unwrap_or_default().to_string_lossy(),
        std::process::id()
    );
    // In a Maildir it lives in tmp/ (same file system, so it can be linked; not a file of
    // the folder; tmp/'s 36-hour clean-up takes it once its process stops using it).
    let dir = lock.parent().unwrap_or(Path::new("."));
    let tmp = dir.join("tmp");
    let p = if tmp.is_dir() { tmp } else { dir.to_path_buf() }.join(name);
    match touch_now(&p) {
        Ok(()) => return Ok(p),
        Err(e) if e.kind() == io::ErrorKind::NotFound => {}
        Err(e) => return Err(MailError::io("touch", &p)(e)),
    }
    let part = temp_path(&p, "part");
    let made = OpenOptions::new()
        .write(true)
        .create_new(true)
        .mode(0o600)
        .open(&part)
        .and_then(|mut f| f.write_all(owner().as_bytes()))
        .and_then(|_| fs::rename(&part, &p));
    if let Err(e) = made {
        let _ = fs::remove_file(&part);
        return Err(MailError::io("create", &p)(e));
    }
    Ok(p)
}

/// Sets a file's atime and mtime to now (one `utimensat`, no open).
fn touch_now(p: &Path) -> io::Result<()> {
    use std::os::unix::ffi::OsStrExt;
    let c = std::ffi::CString::new(p.as_os_str().as_bytes())?;
    // SAFETY: `c` is a valid NUL-terminated path; NULL times mean "now" for both.
    let r = unsafe { libc::utimensat(libc::AT_FDCWD, c.as_ptr(), std::ptr::null(), 0) };
    if r == 0 {
        Ok(())
    } else {
        Err(io::Error::last_os_error())
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
/// lock template `TARGET.lock.tmp.<pid>` (and its `.part.*`) whose process is gone or that is
/// older than `stale` (a live process refreshes its own before each lock, and makes it again
/// if it was swept).
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

    /// Leftovers of a crashed holder go when the next holder rewrites the file, or when it
    /// takes over the crashed holder's lock; a plain lock does not read the directory.
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
            "dovecot-keywords.new.x".to_string(),
        ];
        let plant = || {
            for n in left.iter().chain(&kept) {
                fs::write(d.join(n), b"x").unwrap();
            }
        };
        let check = |when: &str| {
            for n in &left {
                assert!(!d.join(n).exists(), "{n} left behind {when}");
            }
            for n in &kept {
                assert!(d.join(n).exists(), "{n} removed {when}");
            }
        };
        plant();
        let l = Dotlock::acquire(&t, STALE_TIMEOUT, WAIT_TIMEOUT).unwrap();
        assert!(d.join(&left[1]).exists(), "a plain lock swept");
        l.replace(b"3 V1 N1\n", false).unwrap();
        check("by a rewrite");

        plant();
        let host = crate::mail::settings::system_hostname();
        fs::write(d.join("dovecot-uidlist.lock"), format!("{dead}:{host}")).unwrap();
        let l = Dotlock::acquire(&t, STALE_TIMEOUT, Duration::from_millis(50)).unwrap();
        check("by a takeover");
        drop(l);
    }

    /// Every lock is the same inode (this process's template), taken with a fresh mtime even
    /// when the template is old, and a template swept away meanwhile is made again.
    #[test]
    fn locks_reuse_the_process_template_with_a_fresh_mtime() {
        use std::os::unix::fs::MetadataExt;
        let d = tmpdir("template");
        let t = d.join("dovecot-uidlist");
        fs::create_dir(d.join("tmp")).unwrap();
        let tpl = d.join(format!(
            "tmp/dovecot-uidlist.lock.tmp.{}",
            std::process::id()
        ));
        let first = Dotlock::acquire(&t, STALE_TIMEOUT, WAIT_TIMEOUT).unwrap();
        let lock = fs::metadata(d.join("dovecot-uidlist.lock")).unwrap();
        assert_eq!(lock.ino(), fs::metadata(&tpl).unwrap().ino());
        assert_eq!(lock.nlink(), 2);
        drop(first);
        assert!(tpl.exists(), "the template outlives the lock");
        let hour_ago = SystemTime::now() - Duration::from_secs(3600);
        File::options()
            .write(true)
            .open(&tpl)
            .unwrap()
            .set_modified(hour_ago)
            .unwrap();
        let second = Dotlock::acquire(&t, STALE_TIMEOUT, WAIT_TIMEOUT).unwrap();
        let lock2 = fs::metadata(d.join("dovecot-uidlist.lock")).unwrap();
        assert_eq!(lock2.ino(), lock.ino(), "no new inode per lock");
        let age = SystemTime::now()
            .duration_since(lock2.modified().unwrap())
            .unwrap_or_default();
        assert!(
            age < Duration::from_secs(60),
            "lock taken with an old mtime: {age:?}"
        );
        drop(second);
        fs::remove_file(&tpl).unwrap();
        let third = Dotlock::acquire(&t, STALE_TIMEOUT, WAIT_TIMEOUT).unwrap();
        let text = fs::read_to_string(d.join("dovecot-uidlist.lock")).unwrap();
        assert!(
            text.starts_with(&format!("{}:", std::process::id())),
            "{text}"
        );
        drop(third);
        let _ = fs::remove_dir_all(&d);
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
