//! The state of one LMTP client connection that outlives a transaction (Dovecot's
//! `struct client` in lmtp-client.c): settings, host name, session id, HELO, the address the
//! session sees (XCLIENT may replace it) and whether the peer is trusted.

use std::net::SocketAddr;
use std::sync::Arc;

use crate::runtime::Session;
use crate::service::auth::api::AuthHandle;

pub(super) struct Ctx {
    pub session: Session,
    pub host: Arc<str>,
    /// Dovecot's session id, or the one XCLIENT passed.
    pub session_id: String,
    pub auth: Option<Arc<AuthHandle>>,
    pub helo: String,
    /// The client as the session sees it (XCLIENT ADDR/PORT replace it).
    pub remote: Option<SocketAddr>,
    /// The real peer is in `login_trusted_networks`.
    pub trusted: bool,
    /// Transactions started (MAIL accepted).
    pub trans_seq: u32,
}

/// The client's address for log lines (`local` on a unix socket, as Dovecot).
pub(super) fn rip(ctx: &Ctx) -> String {
    ctx.remote
        .map(|a| a.ip().to_string())
        .unwrap_or_else(|| "local".into())
}
