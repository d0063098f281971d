//! [`SchemeError`]: why a stored password could not be checked or a hash not made.

/// Why a stored password could not be checked or a hash not made.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum SchemeError {
    #[error("Unknown scheme: {0}")]
    UnknownScheme(String),
    #[error("{scheme}: input isn't valid {encoding} encoded data")]
    BadEncoding {
        scheme: String,
        encoding: &'static str,
    },
    #[error("{scheme}: input length isn't valid ({got} instead of {want})")]
    BadLength {
        scheme: String,
        got: usize,
        want: usize,
    },
    #[error("{scheme}: malformed hash: {why}")]
    Malformed { scheme: String, why: String },
    #[error("reverse password verification check failed: Password mismatch")]
    Mismatch,
}
