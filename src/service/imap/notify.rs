//! Change notification for IDLE: inotify on the selected folder's new/ and cur/ (files
//! created, moved in or out, deleted: deliveries, flag renames, expunges) and on the folder
//! itself for `dovecot-uidlist` and `dovecot-keywords`, read through tokio's `AsyncFd`.
//! Events are coalesced (a burst of deliveries or renames wakes the session once). When
//! inotify is unavailable (`inotify_init1` fails, or `fs.inotify.max_user_watches` /
//! `max_user_instances` is used up) IDLE falls back to polling; the log says which limit.

use std::ffi::CString;
use std::os::fd::{AsRawFd, FromRawFd, OwnedFd};
use std::os::unix::ffi::OsStrExt;
use std::path::Path;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Duration;

use tokio::io::unix::AsyncFd;

/// How often IDLE looks anyway: a safety net with inotify, the only way without it.
pub const POLL_WITH_INOTIFY: Duration = Duration::from_secs(10);
pub const POLL_WITHOUT_INOTIFY: Duration = Duration::from_millis(300);
/// Events this close together wake the session once.
const COALESCE: Duration = Duration::from_millis(20);

/// Files in the folder itself whose change matters.
const FOLDER_FILES: [&[u8]; 2] = [b"dovecot-uidlist", b"dovecot-keywords"];

static WARNED: AtomicBool = AtomicBool::new(false);

pub struct Notifier {
    fd: Option<AsyncFd<OwnedFd>>,
    /// Watch descriptor of the folder itself (its events are filtered by name).
    folder_wd: i32,
}

fn limit(name: &str) -> String {
    std::fs::read_to_string(format!("/proc/sys/fs/inotify/{name}"))
        .map(|s| s.trim().to_string())
        .unwrap_or_else(|_| "?".into())
}

fn warn_once(what: &str, err: std::io::Error) {
    if !WARNED.swap(true, Ordering::Relaxed) {
        tracing::warn!(
            "IDLE falls back to polling every {} ms: {what}: {err} \
             (fs.inotify.max_user_instances={}, fs.inotify.max_user_watches={})",
            POLL_WITHOUT_INOTIFY.as_millis(),
            limit("max_user_instances"),
            limit("max_user_watches")
        );
    }
}

impl Notifier {
    /// Watches the folder at `dir` (no watch, and polling, if inotify is unavailable).
    pub fn watch(dir: &Path) -> Notifier {
        // SAFETY: plain syscall; the fd is owned right away.
        let raw = unsafe { libc::inotify_init1(libc::IN_NONBLOCK | libc::IN_CLOEXEC) };
        if raw < 0 {
            warn_once("inotify_init1", std::io::Error::last_os_error());
            return Notifier {
                fd: None,
                folder_wd: -1,
            };
        }
        // SAFETY: `raw` is a fresh descriptor nobody else owns.
        let fd = unsafe { OwnedFd::from_raw_fd(raw) };
        let entries = libc::IN_CREATE | libc::IN_MOVED_TO | libc::IN_MOVED_FROM | libc::IN_DELETE;
        let mut folder_wd = -1;
        for (sub, mask) in [
            ("new", entries),
            ("cur", entries),
            (
                "",
                libc::IN_MOVED_TO | libc::IN_CLOSE_WRITE | libc::IN_MODIFY,
            ),
        ] {
            let p = if sub.is_empty() {
                dir.to_path_buf()
            } else {
                dir.join(sub)
            };
            let Ok(c) = CString::new(p.as_os_str().as_bytes()) else {
                return Notifier {
                    fd: None,
                    folder_wd: -1,
                };
            };
            // SAFETY: valid fd and NUL-terminated path.
            let wd = unsafe { libc::inotify_add_watch(fd.as_raw_fd(), c.as_ptr(), mask) };
            if wd < 0 {
                warn_once("inotify_add_watch", std::io::Error::last_os_error());
                return Notifier {
                    fd: None,
                    folder_wd: -1,
                };
            }
            if sub.is_empty() {
                folder_wd = wd;
            }
        }
        // SAFETY: the OwnedFd moves into the AsyncFd and stays open, the same fd, until
        // the AsyncFd is dropped.
        match unsafe { AsyncFd::register_with_interest(fd, tokio::io::Interest::READABLE) } {
            Ok(fd) => Notifier {
                fd: Some(fd),
                folder_wd,
            },
            Err(e) => {
                warn_once("registering the inotify fd", e.into_parts().1);
                Notifier {
                    fd: None,
                    folder_wd: -1,
                }
            }
        }
    }

    /// A notifier that never fires (nothing selected).
    pub fn none() -> Notifier {
        Notifier {
            fd: None,
            folder_wd: -1,
        }
    }

    /// Whether inotify watches the folder.
    pub fn active(&self) -> bool {
        self.fd.is_some()
    }

    /// How long IDLE may wait without looking.
    pub fn poll_interval(&self) -> Duration {
        if self.active() {
            POLL_WITH_INOTIFY
        } else {
            POLL_WITHOUT_INOTIFY
        }
    }

    /// Waits until something relevant changed (then for the burst to settle). Never returns
    /// without inotify. Cancel-safe.
    pub async fn changed(&mut self) {
        let Some(fd) = self.fd.as_ref() else {
            return std::future::pending().await;
        };
        loop {
            let Ok(mut guard) = fd.readable().await else {
                return std::future::pending().await;
            };
            let relevant = match drain(fd.get_ref(), self.folder_wd) {
                Ok(r) => r,
                Err(e) if e.kind() == std::io::ErrorKind::WouldBlock => {
                    guard.clear_ready();
                    continue;
                }
                Err(_) => return std::future::pending().await,
            };
            guard.clear_ready();
            if relevant {
                break;
            }
        }
        tokio::time::sleep(COALESCE).await;
        let _ = drain(fd.get_ref(), self.folder_wd);
    }
}

/// Reads every queued event; whether one matters (anything in new/ or cur/, a queue
/// overflow, or one of [`FOLDER_FILES`] in the folder). `WouldBlock` when none was queued.
fn drain(fd: &OwnedFd, folder_wd: i32) -> std::io::Result<bool> {
    let mut buf = [0u8; 4096];
    let mut relevant = false;
    let mut any = false;
    loop {
        // SAFETY: reading into a buffer we own, within its length.
        let n = unsafe { libc::read(fd.as_raw_fd(), buf.as_mut_ptr().cast(), buf.len()) };
        if n < 0 {
            let e = std::io::Error::last_os_error();
            if e.kind() == std::io::ErrorKind::WouldBlock && any {
                return Ok(relevant);
            }
            return Err(e);
        }
        if n == 0 {
            return Ok(relevant);
        }
        any = true;
        let data = &buf[..n as usize];
        let mut at = 0;
        // struct inotify_event { int wd; uint32_t mask, cookie, len; char name[]; }
        while at + 16 <= data.len() {
            let wd = i32::from_ne_bytes(data[at..at + 4].try_into().expect("4"));
            let mask = u32::from_ne_bytes(data[at + 4..at + 8].try_into().expect("4"));
            let len = u32::from_ne_bytes(data[at + 12..at + 16].try_into().expect("4")) as usize;
            let name = data.get(at + 16..at + 16 + len).unwrap_or(&[]);
            let name = name.split(|&b| b == 0).next().unwrap_or(&[]);
            if mask & libc::IN_Q_OVERFLOW != 0 || wd != folder_wd || FOLDER_FILES.contains(&name) {
                relevant = true;
            }
            at += 16 + len;
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn a_file_in_new_wakes_and_the_index_file_does_not() {
        let d = std::env::temp_dir().join(format!("roost-notify-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&d);
        for s in ["new", "cur", "tmp"] {
            std::fs::create_dir_all(d.join(s)).unwrap();
        }
        let mut n = Notifier::watch(&d);
        assert!(n.active());
        std::fs::write(d.join("roost.index"), b"x").unwrap();
        let quiet = tokio::time::timeout(Duration::from_millis(200), n.changed()).await;
        assert!(quiet.is_err(), "roost's own index file is not a change");
        std::fs::write(d.join("new/1.M1P1.h"), b"Subject: x\n\n").unwrap();
        tokio::time::timeout(Duration::from_secs(1), n.changed())
            .await
            .expect("a delivery wakes the watcher");
        std::fs::write(d.join("dovecot-uidlist"), b"3 V1 N2\n").unwrap();
        tokio::time::timeout(Duration::from_secs(1), n.changed())
            .await
            .expect("a uidlist change wakes the watcher");
        let _ = std::fs::remove_dir_all(&d);
    }
}
