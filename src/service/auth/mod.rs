//! The auth service: passdb/userdb lookups, password schemes, SASL mechanisms, and the
//! auth-client / auth-master socket protocols. Login services use it in-process through
//! [`api::AuthApi`], found in the master's `Hub`; [`factory`] builds the service and puts the
//! [`api::AuthHandle`] there.

pub mod api;
pub mod cache;
pub mod db;
pub mod engine;
pub mod fields;
pub mod handle;
pub mod mech;
pub mod metrics;
pub mod penalty;
pub mod request;
pub mod schemes;
pub mod session;
pub mod settings;
pub mod vars;

use std::sync::Arc;

use crate::master::{BoxFuture, Hub, Service, Session};
use crate::net::Conn;
use crate::settings::Settings;

pub use handle::AuthCore;
pub use schemes::{pw_command, pw_command_full};

/// The `auth` service: every listener speaks the protocol its name selects.
pub struct AuthService {
    pub core: Arc<AuthCore>,
}

impl Service for AuthService {
    fn serve(self: Arc<Self>, conn: Conn, session: Session) -> BoxFuture<()> {
        Box::pin(session::serve(self.core.clone(), conn, session))
    }
}

/// `ServiceFactory` for service `auth`: validates `auth_mechanisms` and the passdb/userdb
/// blocks, and publishes an [`api::AuthHandle`] in the hub.
pub fn factory(
    _name: &str,
    settings: &Arc<Settings>,
    hub: &Arc<Hub>,
) -> Result<Arc<dyn Service>, String> {
    metrics::describe();
    let core = Arc::new(AuthCore::new(&settings.auth).map_err(|e| e.to_string())?);
    if settings.auth.passdb.is_empty() {
        tracing::warn!("auth: no [[passdb]] configured; every authentication will fail");
    }
    hub.insert(Arc::new(api::AuthHandle(core.clone())));
    Ok(Arc::new(AuthService { core }))
}
