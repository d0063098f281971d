//! Mail storage: Dovecot-compatible Maildir (`maildir/`), where a user's mail lives
//! (`location`), the mail side's global settings, whom mail is accessed as (`identity`) and
//! the layer that runs mail work with that identity (`access`). Everything here is blocking file work;
//! async callers run it in `spawn_blocking` (see [`blocking`]).

pub mod access;
pub mod error;
pub mod identity;
pub mod local;
pub mod location;
pub mod maildir;
pub mod mime;
pub mod namespace;
pub mod settings;
pub mod store;

pub use error::MailError;
pub use location::MailLocation;
pub use store::UserStore;

/// Runs blocking mail work on tokio's blocking pool; a panic in it becomes an error.
pub async fn blocking<T, F>(f: F) -> Result<T, MailError>
where
    F: FnOnce() -> Result<T, MailError> + Send + 'static,
    T: Send + 'static,
{
    match tokio::task::spawn_blocking(f).await {
        Ok(r) => r,
        Err(e) => Err(MailError::Internal(format!("mail task failed: {e}"))),
    }
}
