//! `stats`: serves Prometheus text at `/metrics` (and a small index at `/`) on its
//! `inet_listener http`. Dovecot's stats-writer/stats-reader unix protocols are not implemented;
//! those listeners stay closed with a warning.

mod render;
mod session;

use std::sync::Arc;

use crate::net::Conn;
use crate::runtime::{BoxFuture, Hub, Service, ServiceError, Session};
use crate::settings::Settings;

pub use render::render;

pub struct Stats {
    hub: Arc<Hub>,
}

pub fn factory(
    _name: &str,
    _settings: &Arc<Settings>,
    hub: &Arc<Hub>,
) -> Result<Arc<dyn Service>, ServiceError> {
    crate::runtime::metrics::install();
    Ok(Arc::new(Stats { hub: hub.clone() }))
}

impl Service for Stats {
    fn serve(self: Arc<Self>, conn: Conn, session: Session) -> BoxFuture<()> {
        Box::pin(session::run(conn, session, self.hub.clone()))
    }

    fn supported_listeners(&self) -> Option<&'static [&'static str]> {
        Some(&["http"])
    }
}
