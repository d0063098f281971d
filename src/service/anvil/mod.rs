//! `anvil`: one per server, never idle-killed. It tracks every post-login session (user,
//! protocol, virtual process, remote and local IP, start, session id, kick handle), enforces
//! `mail_max_userip_connections` atomically for every protocol (the login layer reserves, the
//! post-login session takes the reservation over), and answers `roost who` and `roost kick`
//! through the runtime's `SessionDirectory`. Login services and post-login sessions use it
//! in-process through the hub ([`Anvil::from_hub`]); Dovecot's `anvil` and
//! `anvil-auth-penalty` unix listeners answer the queries of Dovecot's tools (`doveadm who`,
//! `doveadm penalty`; [`socket`]). It also keeps the auth penalty per IP ([`penalty`]), which
//! the auth service reads and updates in-process.

pub mod connections;
pub mod filter;
pub mod format;
pub mod metrics;
pub mod penalty;
pub mod print;
pub mod socket;

use std::sync::Arc;

pub use connections::{Anvil, Connect, Connection, UserIpKey};
pub use filter::Filter;

use crate::net::Conn;
use crate::runtime::{BoxFuture, Hub, Service, ServiceError, Session, SessionDirectoryHandle};
use crate::settings::Settings;

impl Anvil {
    /// The server's anvil, created on first use: it outlives reloads, and sessions started
    /// without the `anvil` service (unit tests) still get one.
    pub fn from_hub(hub: &Hub) -> Arc<Anvil> {
        hub.insert_if_absent(|| Arc::new(Anvil::default()));
        let anvil = hub.get::<Anvil>().expect("just inserted");
        hub.insert_if_absent(|| Arc::new(SessionDirectoryHandle(anvil.clone())));
        anvil
    }
}

/// The `anvil` service: its state is the hub's [`Anvil`]; its listeners answer queries.
pub struct AnvilService {
    anvil: Arc<Anvil>,
}

/// Builds the service (registered as `anvil`) and publishes anvil in the hub.
pub fn factory(
    _name: &str,
    _settings: &Arc<Settings>,
    hub: &Arc<Hub>,
) -> Result<Arc<dyn Service>, ServiceError> {
    metrics::register();
    Ok(Arc::new(AnvilService {
        anvil: Anvil::from_hub(hub),
    }))
}

impl Service for AnvilService {
    fn serve(self: Arc<Self>, conn: Conn, session: Session) -> BoxFuture<()> {
        Box::pin(socket::run(conn, session, self.anvil.clone()))
    }

    fn supported_listeners(&self) -> Option<&'static [&'static str]> {
        Some(&["anvil", "anvil-auth-penalty"])
    }
}
