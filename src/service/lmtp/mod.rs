//! The `lmtp` service: local delivery (RFC 2033) from an MTA into users' Maildirs. Each
//! recipient is looked up in the userdb through the in-process auth API and gets its own reply
//! after DATA/BDAT, sent only once its copy is on disk. The body is streamed to disk as it
//! arrives (`spool`), never held in memory.

pub mod body;
pub mod client;
pub mod deliver;
pub mod headers;
pub mod metrics;
pub mod session;
pub mod spool;
pub mod transaction;

#[cfg(test)]
mod tests;

use std::sync::Arc;

use crate::net::Conn;
use crate::runtime::{BoxFuture, Hub, Service, ServiceError, Session};
use crate::settings::Settings;

/// The LMTP service. Stateless between connections; each session reads the settings it was
/// started with from its `Session`.
pub struct LmtpService {
    pub name: String,
}

impl Service for LmtpService {
    fn serve(self: Arc<Self>, conn: Conn, session: Session) -> BoxFuture<()> {
        Box::pin(session::run(conn, session))
    }
}

/// Builds the service (registered by the master as `lmtp`).
pub fn factory(
    name: &str,
    _settings: &Arc<Settings>,
    _hub: &Arc<Hub>,
) -> Result<Arc<dyn Service>, ServiceError> {
    metrics::register();
    Ok(Arc::new(LmtpService {
        name: name.to_string(),
    }))
}
