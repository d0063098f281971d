//! The `pop3` post-login service: receives an authenticated connection from `pop3-login` (the
//! `Handoff` carries the user and userdb fields), opens INBOX and serves the POP3 transaction
//! state; deletions and \Seen flags are applied only on QUIT.

pub mod maildrop;
pub mod metrics;
pub mod session;

#[cfg(test)]
mod tests;

use std::sync::Arc;

use crate::net::Conn;
use crate::runtime::{BoxFuture, Hub, Service, ServiceError, Session};
use crate::settings::Settings;

pub struct Pop3Service;

impl Service for Pop3Service {
    fn serve(self: Arc<Self>, conn: Conn, session: Session) -> BoxFuture<()> {
        Box::pin(session::run(conn, session))
    }
}

/// Builds the service (registered by the master as `pop3`).
pub fn factory(
    _name: &str,
    _settings: &Arc<Settings>,
    hub: &Arc<Hub>,
) -> Result<Arc<dyn Service>, ServiceError> {
    metrics::register();
    crate::service::anvil::Anvil::from_hub(hub);
    Ok(Arc::new(Pop3Service))
}
