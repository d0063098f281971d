//! Where log lines go: stderr, a log file that `log reopen` can swap for a freshly opened one
//! (logrotate renames the file, then roost opens a new one under the old name), or syslog.
//!
//! Nothing is lost or torn across a reopen: a line is written with one `write_all` while the
//! file's lock is held, and the new file replaces the old one under the same lock, so every
//! line lands whole in the renamed file or in the new one.

use std::fs::{File, OpenOptions};
use std::io::Write;
use std::os::unix::fs::OpenOptionsExt;
use std::sync::{Arc, Mutex};

use super::syslog::Syslog;

/// The mode of a log file roost creates (Dovecot creates its log files 0600 too).
pub const LOG_FILE_MODE: u32 = 0o600;

/// Opens `path` for appending, creating it with [`LOG_FILE_MODE`]. `no_follow`: refuse a
/// symlink as the last component (the launcher's opens on behalf of the server).
pub fn open_log_file(path: &str, no_follow: bool) -> std::io::Result<File> {
    let mut o = OpenOptions::new();
    o.create(true).append(true).mode(LOG_FILE_MODE);
    if no_follow {
        o.custom_flags(libc::O_NOFOLLOW);
    }
    o.open(path)
}

/// Whether a log path value means stderr.
pub fn is_stderr(path: &str) -> bool {
    path.is_empty() || path == "/dev/stderr"
}

/// Whether a log path value means syslog.
pub fn is_syslog(path: &str) -> bool {
    path == "syslog"
}

/// One open log file, by the path it was opened under.
pub struct LogFile {
    pub path: String,
    file: Mutex<File>,
}

impl LogFile {
    pub fn new(path: &str, file: File) -> LogFile {
        LogFile {
            path: path.to_string(),
            file: Mutex::new(file),
        }
    }

    /// Writes one whole line.
    pub fn write_line(&self, line: &[u8]) {
        let mut f = self.file.lock().unwrap_or_else(|e| e.into_inner());
        let _ = f.write_all(line);
    }

    /// Starts writing to `fresh` (opened under [`LogFile::path`]); the old file is closed.
    pub fn replace(&self, fresh: File) {
        let old = std::mem::replace(
            &mut *self.file.lock().unwrap_or_else(|e| e.into_inner()),
            fresh,
        );
        drop(old);
    }
}

/// Where one severity band goes.
#[derive(Clone)]
pub enum Sink {
    Stderr,
    File(Arc<LogFile>),
    Syslog(Arc<Syslog>),
}
