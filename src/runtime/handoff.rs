//! Handing an authenticated connection from a login service to its post-login service (spec
//! §4): the [`Handoff`] data that travels with the stream, and the [`PostLogin`] interface the
//! master implements over its pools (a full post-login pool makes the login wait, as Dovecot's
//! login processes wait for the post-login process). No bytes are copied: the stream moves.

use std::sync::Arc;

use super::BoxFuture;
use crate::net::Conn;

/// What a login service hands to a post-login service with the connection (spec §4).
#[derive(Clone, Debug, Default)]
pub struct Handoff {
    pub user: String,
    /// userdb fields (`uid`, `gid`, `home`, `mail`, …) in the order auth returned them.
    pub fields: Vec<(String, String)>,
    /// Authentication mechanism, for the `Login:` log line.
    pub mechanism: String,
    /// The login session id (`session=<…>` in the log lines; anvil lists it).
    pub session_id: String,
    /// Protocol-specific data (IMAP: the command tag of the login command).
    pub protocol_data: Vec<u8>,
}

impl Handoff {
    pub fn field(&self, key: &str) -> Option<&str> {
        self.fields
            .iter()
            .find(|(k, _)| k == key)
            .map(|(_, v)| v.as_str())
    }
}

#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum HandoffError {
    #[error("no such post-login service '{0}'")]
    NoService(String),
    #[error("post-login service '{0}' is not accepting connections")]
    Unavailable(String),
}

/// What a login service calls to pass a connection on.
pub trait PostLogin: Send + Sync {
    /// Gives `conn` to service `service` (`pop3`, `imap`, …). Resolves when the post-login
    /// side has taken the connection; on failure the connection comes back when possible so
    /// the login service can answer the client.
    fn hand_over(
        &self,
        service: &str,
        conn: Conn,
        handoff: Handoff,
    ) -> BoxFuture<Result<(), (HandoffError, Option<Conn>)>>;
}

/// The handle stored in the `Hub`: the master puts its pooled implementation there at start;
/// tests may put their own first.
#[derive(Clone)]
pub struct PostLoginHandle(pub Arc<dyn PostLogin>);
