//! `stats`: serves `/metrics` (and a small index at `/`) on its `inet_listener http`, in the
//! Prometheus text format or OpenMetrics as the scraper's `Accept` asks, and Dovecot's
//! `stats-reader` socket for `doveadm stats dump` (`reader.rs`). The `stats-writer` listeners
//! (Dovecot processes sending events) stay closed with a warning: roost's services record
//! their metrics in-process.

mod aliases;
pub mod dump;
mod exposition;
mod negotiate;
mod reader;
mod render;
mod session;

use std::sync::Arc;

use crate::net::Conn;
use crate::runtime::{BoxFuture, Hub, Service, ServiceError, Session};
use crate::settings::Settings;

pub use render::{exposition, render};

pub struct Stats {
    hub: Arc<Hub>,
}

pub fn factory(
    _name: &str,
    settings: &Arc<Settings>,
    hub: &Arc<Hub>,
) -> Result<Arc<dyn Service>, ServiceError> {
    crate::runtime::metrics::install();
    render::describe();
    render::set_dovecot_aliases(settings.core.metrics_dovecot_aliases);
    Ok(Arc::new(Stats { hub: hub.clone() }))
}

impl Service for Stats {
    fn serve(self: Arc<Self>, conn: Conn, session: Session) -> BoxFuture<()> {
        if conn.listener.rsplit('/').next() == Some("stats-reader") {
            return Box::pin(reader::run(conn, session, self.hub.clone()));
        }
        Box::pin(session::run(conn, session, self.hub.clone()))
    }

    fn supported_listeners(&self) -> Option<&'static [&'static str]> {
        Some(&["http", "stats-reader"])
    }
}
