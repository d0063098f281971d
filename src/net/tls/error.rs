//! [`TlsError`]: a TLS setting that cannot be used (unreadable file, bad key, unknown protocol
//! or cipher), naming the setting and, where there is one, the file.

use std::path::PathBuf;

/// A TLS setting that cannot be used, naming the setting (and the file, when there is one).
#[derive(Debug, thiserror::Error)]
pub enum TlsError {
    #[error("{setting}: cannot read {path}: {source}")]
    Read {
        setting: String,
        path: PathBuf,
        source: std::io::Error,
    },
    #[error("{setting}: {message}")]
    Invalid { setting: String, message: String },
}

pub(super) fn invalid(setting: &str, message: impl Into<String>) -> TlsError {
    TlsError::Invalid {
        setting: setting.into(),
        message: message.into(),
    }
}
