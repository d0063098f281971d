//! The `imap-login` service: IMAP's not-authenticated state (greeting with `[CAPABILITY …]`,
//! CAPABILITY, STARTTLS, LOGIN, AUTHENTICATE with SASL-IR, ID, NOOP, LOGOUT) on the shared
//! login layer; a successful login hands the connection, with the login command's tag, to the
//! `imap` service, which answers `tag OK [CAPABILITY …] Logged in`. Like pop3-login it is a
//! thin adapter: `session.rs` implements the layer's `LoginProtocol`, and
//! `login::session::run` runs the loop.

pub mod session;

#[cfg(test)]
pub(crate) mod tests;

use std::sync::Arc;

use crate::net::Conn;
use crate::runtime::{BoxFuture, Hub, Service, ServiceError, Session};
use crate::settings::Settings;

pub struct ImapLoginService;

impl Service for ImapLoginService {
    fn serve(self: Arc<Self>, conn: Conn, session: Session) -> BoxFuture<()> {
        Box::pin(crate::service::login::session::run(
            session::ImapLogin::default(),
            conn,
            session,
        ))
    }
}

/// Builds the service (registered by the master as `imap-login`).
pub fn factory(
    _name: &str,
    _settings: &Arc<Settings>,
    hub: &Arc<Hub>,
) -> Result<Arc<dyn Service>, ServiceError> {
    crate::service::login::metrics::register(session::SERVICE);
    crate::service::anvil::Anvil::from_hub(hub);
    Ok(Arc::new(ImapLoginService))
}
