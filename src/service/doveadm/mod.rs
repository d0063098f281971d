//! `doveadm`: the admin command service. `command.rs` is the command table every transport
//! runs; `ops/` the operational commands (who, kick, reload, …); `mail/` the mail and user
//! commands (mailbox, fetch, search, flags, user, auth, pw, quota). Transports: `api.rs`
//! (Dovecot's request and answer shapes), `http.rs` (the HTTP API on `inet_listener http`),
//! `socket.rs` (the `doveadm-server` unix socket of the `roost` CLI, whose client is
//! `client.rs`). `spec.rs` holds the table's types (command modules import them from there, so
//! they and `command.rs` do not import each other); `settings.rs` `doveadm_api_key` and
//! `doveadm_password`.

pub mod api;
pub mod client;
pub mod command;
pub mod http;
pub mod mail;
pub mod ops;
pub mod settings;
pub mod socket;
pub mod spec;

use std::sync::Arc;

use crate::net::http::Limits;
use crate::net::Conn;
use crate::runtime::{BoxFuture, Hub, Service, ServiceError, Session};
use crate::settings::Settings;
use command::Context;

/// The `doveadm` service: the HTTP API on inet listeners named `http`, the CLI's line protocol
/// on its unix listeners.
pub struct Doveadm {
    hub: Arc<Hub>,
}

/// Builds the service (registered as `doveadm`).
pub fn factory(
    _name: &str,
    _settings: &Arc<Settings>,
    hub: &Arc<Hub>,
) -> Result<Arc<dyn Service>, ServiceError> {
    Ok(Arc::new(Doveadm { hub: hub.clone() }))
}

impl Service for Doveadm {
    fn serve(self: Arc<Self>, conn: Conn, session: Session) -> BoxFuture<()> {
        let ctx = Arc::new(Context::new(self.hub.clone(), session.settings.clone()));
        if &*conn.listener == "http" {
            let handler: crate::net::http::Handler = Arc::new(move |req| {
                let ctx = ctx.clone();
                Box::pin(http::handle(ctx, req))
            });
            Box::pin(crate::net::http::serve(
                conn,
                session,
                Limits::default(),
                handler,
            ))
        } else {
            Box::pin(socket::run(conn, session, ctx))
        }
    }
}
