//! The in-process auth interface that login services (pop3-login, imap-login, …) and the LMTP
//! service use. The auth service puts an `Arc<AuthHandle>` in the master's `Hub`; consumers
//! call `hub.get::<AuthHandle>()`.

use std::net::SocketAddr;
use std::sync::Arc;

use crate::runtime::BoxFuture;

/// Who is authenticating, as the auth-client protocol's `AUTH` fields describe it.
#[derive(Clone, Debug, Default)]
pub struct ClientInfo {
    /// `service=` (imap, pop3, smtp, …).
    pub service: String,
    pub remote: Option<SocketAddr>,
    pub local: Option<SocketAddr>,
    pub real_remote: Option<SocketAddr>,
    pub real_local: Option<SocketAddr>,
    /// TLS or otherwise secured (plaintext mechanisms allowed under `disable_plaintext_auth`).
    pub secured: bool,
    /// Common name of a verified TLS client certificate (for EXTERNAL).
    pub cert_username: Option<String>,
    pub session_id: String,
    /// Answer what an auth-client connection gets: the passdb's fields only, no userdb lookup
    /// (`doveadm auth test`). Logins leave it false and get the userdb fields with success.
    pub passdb_only: bool,
}

/// One step's outcome of a SASL exchange.
#[derive(Clone, Debug)]
pub enum Step {
    /// Send this challenge to the client and wait for its response.
    Continue(Vec<u8>),
    /// Authenticated. `fields` are the passdb extra fields plus the userdb fields (`uid`, `gid`,
    /// `home`, `mail`, …) already resolved.
    Success {
        user: String,
        fields: Vec<(String, String)>,
        /// Final server data (SCRAM), if any.
        final_data: Option<Vec<u8>>,
    },
    /// Failed. The auth service has already applied `auth_failure_delay` and the penalty.
    Fail {
        user: Option<String>,
        /// Why, when more than "wrong credentials" (`temp_fail`, `authz_fail`, … on the wire).
        code: super::fail_code::FailCode,
        reason: Option<String>,
    },
}

/// An ongoing SASL exchange.
pub trait Exchange: Send {
    /// Feeds the client's response (already base64-decoded; `None` = no initial response).
    fn step(&mut self, response: Option<Vec<u8>>) -> BoxFuture<Step>;
}

/// Why a mechanism cannot start.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum BeginError {
    /// Not in `auth_mechanisms` or unknown.
    UnknownMechanism,
    /// Plaintext mechanism on an unsecured connection with `disable_plaintext_auth = yes`.
    PlaintextDisabled,
}

/// A userdb lookup result.
#[derive(Clone, Debug)]
pub enum UserLookup {
    Found {
        user: String,
        fields: Vec<(String, String)>,
    },
    NotFound,
    Failed(String),
}

/// What the auth service offers in-process.
pub trait AuthApi: Send + Sync {
    /// Mechanisms offered to a client with this security state (for CAPABILITY/CAPA).
    fn mechanisms(&self, secured: bool) -> Vec<String>;
    /// Starts a SASL exchange.
    fn begin(&self, mechanism: &str, info: ClientInfo) -> Result<Box<dyn Exchange>, BeginError>;
    /// userdb lookup (LMTP RCPT, post-login).
    fn lookup_user(&self, user: &str, info: ClientInfo) -> BoxFuture<UserLookup>;
}

/// The handle stored in the `Hub`.
#[derive(Clone)]
pub struct AuthHandle(pub Arc<dyn AuthApi>);
