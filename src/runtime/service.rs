//! What a service is to the master: the [`Service`] trait (start a virtual process, serve one
//! `Conn`, take fifo lines) and the [`ServiceFactory`] that builds one from settings, with the
//! typed [`ServiceError`] both return.

use std::sync::Arc;

use super::{BoxFuture, Hub, Session};
use crate::net::Conn;
use crate::settings::Settings;

/// Why a service could not be built or a virtual process could not start.
#[derive(Debug, thiserror::Error)]
pub enum ServiceError {
    /// A setting the service needs is wrong or missing; names the setting.
    #[error("{setting}: {message}")]
    Setting { setting: String, message: String },
    /// Another service it depends on is not there (e.g. pop3-login without auth).
    #[error("needs {0}")]
    Missing(String),
    #[error("{what}: {source}")]
    Io {
        what: String,
        #[source]
        source: std::io::Error,
    },
    /// Anything else, worded for the admin.
    #[error("{0}")]
    Other(String),
}

impl ServiceError {
    pub fn setting(setting: impl Into<String>, message: impl std::fmt::Display) -> ServiceError {
        ServiceError::Setting {
            setting: setting.into(),
            message: message.to_string(),
        }
    }

    pub fn io(what: impl Into<String>, source: std::io::Error) -> ServiceError {
        ServiceError::Io {
            what: what.into(),
            source,
        }
    }
}

impl From<String> for ServiceError {
    fn from(s: String) -> Self {
        ServiceError::Other(s)
    }
}

/// A service implementation. The master knows no protocol: it calls these.
pub trait Service: Send + Sync + 'static {
    /// Serves one connection until it ends. A panic ends only this connection.
    fn serve(self: Arc<Self>, conn: Conn, session: Session) -> BoxFuture<()>;

    /// Runs when a virtual process starts. An error is a start-up failure: the pool throttles
    /// (2 s doubling to 60 s) as Dovecot does for processes that die before initialising.
    fn start_process(&self) -> BoxFuture<Result<(), ServiceError>> {
        Box::pin(async { Ok(()) })
    }

    /// Listener names this implementation speaks on; others stay closed with a warning.
    /// `None`: every listener.
    fn supported_listeners(&self) -> Option<&'static [&'static str]> {
        None
    }

    /// A line that arrived on one of the service's `fifo_listener`s.
    fn fifo_line(&self, _listener: &str, _line: String) {}
}

/// How the master builds a service from settings.
pub type ServiceFactory = fn(
    name: &str,
    settings: &Arc<Settings>,
    hub: &Arc<Hub>,
) -> Result<Arc<dyn Service>, ServiceError>;
