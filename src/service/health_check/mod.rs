//! `health-check`: Dovecot's liveness service. Given an `inet_listener`, it answers `PING` with
//! `PONG`. It is also the simplest service on the pool's code paths, so the pool's
//! integration tests and the container `HEALTHCHECK` use it.

mod session;

use std::sync::Arc;

use crate::net::Conn;
use crate::runtime::{BoxFuture, Hub, Service, ServiceError, Session};
use crate::settings::Settings;

pub struct HealthCheck;

pub fn factory(
    _name: &str,
    _settings: &Arc<Settings>,
    _hub: &Arc<Hub>,
) -> Result<Arc<dyn Service>, ServiceError> {
    Ok(Arc::new(HealthCheck))
}

impl Service for HealthCheck {
    fn serve(self: Arc<Self>, conn: Conn, session: Session) -> BoxFuture<()> {
        Box::pin(session::run(conn, session))
    }

    /// A `fifo_listener` of health-check logs what it receives (a liveness probe for fifos).
    fn fifo_line(&self, listener: &str, line: String) {
        tracing::info!(service = "health-check", "fifo {listener}: {line}");
    }
}
