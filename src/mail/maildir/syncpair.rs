//! fsyncs of directories, and two fsyncs at once: a delivery makes its new/ entry and its
//! `dovecot-uidlist` line durable together, so the file system can carry both in one journal
//! commit instead of two in a row.
//! The directory's fsync goes to tokio's blocking pool when there is a runtime (its threads
//! are parked, not spawned); whichever of the helper and the caller gets to it first does it,
//! so a full pool can delay but never deadlock it. Without a runtime (helper subprocesses)
//! both run in turn.

use std::fs::File;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU8, Ordering};
use std::sync::{mpsc, Arc};

use crate::mail::MailError;

const PENDING: u8 = 0;
const HELPER: u8 = 1;
const CALLER: u8 = 2;

/// fsyncs a directory so a rename into it survives a crash.
pub fn fsync_dir(dir: &Path) -> Result<(), MailError> {
    File::open(dir)
        .and_then(|d| d.sync_all())
        .map_err(MailError::io("fsync", dir))
}

/// fsyncs directory `dir` and fdatasyncs `file` (`path` names it in errors); returns once
/// both are on disk.
pub fn fsync_dir_and_data(dir: &Path, file: &File, path: &Path) -> Result<(), MailError> {
    let data = || file.sync_data().map_err(MailError::io("fsync", path));
    let Ok(rt) = tokio::runtime::Handle::try_current() else {
        fsync_dir(dir)?;
        return data();
    };
    let claim = Arc::new(AtomicU8::new(PENDING));
    let (tx, rx) = mpsc::sync_channel(1);
    let (c, d): (_, PathBuf) = (claim.clone(), dir.to_path_buf());
    rt.spawn_blocking(move || {
        if c.compare_exchange(PENDING, HELPER, Ordering::AcqRel, Ordering::Acquire)
            .is_ok()
        {
            let _ = tx.send(fsync_dir(&d));
        }
    });
    let data = data();
    let dir = if claim
        .compare_exchange(PENDING, CALLER, Ordering::AcqRel, Ordering::Acquire)
        .is_ok()
    {
        // The helper has not started (the pool is busy): do it here.
        fsync_dir(dir)
    } else {
        rx.recv()
            .unwrap_or_else(|_| Err(MailError::Internal("directory fsync lost".into())))
    };
    dir.and(data)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn setup(tag: &str) -> (PathBuf, File) {
        let d = std::env::temp_dir().join(format!("roost-syncpair-{tag}-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&d);
        std::fs::create_dir_all(&d).unwrap();
        let f = File::create(d.join("f")).unwrap();
        (d, f)
    }

    #[test]
    fn without_a_runtime_both_run_in_turn() {
        let (d, f) = setup("plain");
        fsync_dir_and_data(&d, &f, &d.join("f")).unwrap();
        let err = fsync_dir_and_data(&d.join("missing"), &f, &d.join("f")).unwrap_err();
        assert!(err.to_string().contains("missing"), "{err}");
        let _ = std::fs::remove_dir_all(&d);
    }

    /// Many at once on a pool of one blocking thread, each caller holding a pool thread of
    /// its own: the callers take over what the helper cannot start, and all finish.
    #[test]
    fn a_full_blocking_pool_never_deadlocks() {
        // A deadlock fails the test instead of hanging it.
        let (tx, rx) = mpsc::channel();
        std::thread::spawn(move || {
            full_pool();
            let _ = tx.send(());
        });
        rx.recv_timeout(std::time::Duration::from_secs(60))
            .expect("deadlocked (or panicked) with a full blocking pool");
    }

    fn full_pool() {
        let (d, _) = setup("pool");
        let rt = tokio::runtime::Builder::new_multi_thread()
            .worker_threads(1)
            .max_blocking_threads(1)
            .build()
            .unwrap();
        rt.block_on(async {
            let mut tasks = Vec::new();
            for i in 0..8 {
                let d = d.clone();
                tasks.push(tokio::task::spawn_blocking(move || {
                    let p = d.join(format!("f{i}"));
                    let f = File::create(&p).unwrap();
                    fsync_dir_and_data(&d, &f, &p)
                }));
            }
            for t in tasks {
                t.await.unwrap().unwrap();
            }
        });
        let err = rt
            .block_on(rt.spawn_blocking({
                let d = d.clone();
                move || {
                    let p = d.join("g");
                    let f = File::create(&p).unwrap();
                    fsync_dir_and_data(&d.join("missing"), &f, &p)
                }
            }))
            .unwrap()
            .unwrap_err();
        assert!(err.to_string().contains("missing"), "{err}");
        let _ = std::fs::remove_dir_all(&d);
    }
}
