//! `config`: Dovecot's configuration service on its `config` unix listener (base_dir/config,
//! 0600 root:root as in Dovecot, so only root reaches it). It answers config requests with the
//! settings of the running generation, unhidden: see `session.rs` for the protocol.
//!
//! roost's own privileged side does not ask it: the launcher reads the configuration file
//! itself and gives each helper its settings in the helper's spec, because this socket is
//! served by the unprivileged server, whose answers root must not trust (see
//! `crate::privsep`). It is there for root tools and scripts that speak Dovecot's config
//! protocol.

mod session;

use std::sync::Arc;

use crate::net::Conn;
use crate::runtime::{BoxFuture, Hub, Service, ServiceError, Session};
use crate::settings::Settings;

pub struct Config {
    settings: Arc<Settings>,
}

pub fn factory(
    _name: &str,
    settings: &Arc<Settings>,
    _hub: &Arc<Hub>,
) -> Result<Arc<dyn Service>, ServiceError> {
    Ok(Arc::new(Config {
        settings: settings.clone(),
    }))
}

impl Service for Config {
    fn serve(self: Arc<Self>, conn: Conn, session: Session) -> BoxFuture<()> {
        Box::pin(session::run(conn, session, self.settings.clone()))
    }
}
