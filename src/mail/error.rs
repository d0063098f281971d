//! The mail store's error type: what failed, on which path, so a log line can be acted on.

use std::io;
use std::path::PathBuf;

#[derive(Debug, thiserror::Error)]
pub enum MailError {
    #[error("{op} {path}: {source}")]
    Io {
        op: &'static str,
        path: PathBuf,
        #[source]
        source: io::Error,
    },
    #[error("invalid mail_location '{0}': {1}")]
    Location(String, String),
    #[error("mailbox '{0}' does not exist")]
    NoMailbox(String),
    #[error("invalid mailbox name '{0}'")]
    BadMailboxName(String),
    #[error("timed out waiting for lock {0}")]
    LockTimeout(PathBuf),
    #[error("corrupted {path}: {reason}")]
    Corrupted { path: PathBuf, reason: String },
    #[error("{0}")]
    Internal(String),
    /// The user's mail cannot be accessed with the uid/gid the userdb asks for.
    #[error("mail identity: {0}")]
    Identity(String),
}

impl MailError {
    /// Wraps an I/O error with the operation and path it concerns.
    pub fn io(op: &'static str, path: impl Into<PathBuf>) -> impl FnOnce(io::Error) -> MailError {
        let path = path.into();
        move |source| MailError::Io { op, path, source }
    }

    /// True when a retry later may succeed (disk full, lock contention): LMTP answers 4xx.
    pub fn is_temporary(&self) -> bool {
        !matches!(self, MailError::BadMailboxName(_))
    }
}
