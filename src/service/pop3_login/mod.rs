//! The `pop3-login` service: POP3's pre-authentication state (greeting, CAPA, USER/PASS, AUTH,
//! STLS, XCLIENT, QUIT) on the shared login layer; a successful login hands the connection to
//! the `pop3` service. It is a thin adapter: `session.rs` implements the login layer's
//! `LoginProtocol` (grammar, wording, capabilities, handoff data) and the layer's
//! `login::session::run` runs the loop. imap-login plugs in the same way (see `service::login`).

pub mod session;

#[cfg(test)]
mod tests;

use std::sync::Arc;

use crate::net::Conn;
use crate::runtime::{BoxFuture, Hub, Service, ServiceError, Session};
use crate::settings::Settings;

pub struct Pop3LoginService;

impl Service for Pop3LoginService {
    fn serve(self: Arc<Self>, conn: Conn, session: Session) -> BoxFuture<()> {
        Box::pin(crate::service::login::session::run(
            session::Pop3Login,
            conn,
            session,
        ))
    }
}

/// Builds the service (registered by the master as `pop3-login`).
pub fn factory(
    _name: &str,
    _settings: &Arc<Settings>,
    hub: &Arc<Hub>,
) -> Result<Arc<dyn Service>, ServiceError> {
    crate::service::login::metrics::register(session::SERVICE);
    crate::service::anvil::Anvil::from_hub(hub);
    Ok(Arc::new(Pop3LoginService))
}
