//! A pre-login client: its addresses and security state, its absolute deadline
//! (`login_timeout`, Dovecot's 3-minute `CLIENT_LOGIN_TIMEOUT_MSECS`, counted from the accept
//! so the PROXY header and the TLS handshake count too), the [`Watch`] every one of its waits
//! runs under, and the handoff once authenticated.

use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

use base64::Engine;
use tokio::time::Instant;

use crate::net::Conn;
use crate::runtime::{Handoff, PostLoginHandle, Session};
use crate::service::anvil::{Anvil, UserIpKey};
use crate::service::auth::api::{AuthHandle, ClientInfo};
use crate::service::wire::{Watch, Wire};
/// How long a handoff may wait for a full post-login service (Dovecot's login → post-login
/// request timeout).
pub const HANDOFF_TIMEOUT: Duration = Duration::from_secs(90);

/// Why a handoff did not happen (the caller sends the protocol's wording).
#[derive(Debug, PartialEq, Eq)]
pub enum LoginRefused {
    /// `mail_max_userip_connections` reached; carries the limit.
    UserIpLimit(u32),
    /// No post-login service or it failed.
    Internal,
}

pub struct LoginClient {
    pub protocol: &'static str,
    pub session: Session,
    pub remote: Option<SocketAddr>,
    pub local: Option<SocketAddr>,
    /// TLS, loopback-to-self, or a trusted network.
    pub secured: bool,
    /// From `login_trusted_networks` (may send XCLIENT).
    pub trusted: bool,
    pub deadline: Instant,
    pub session_id: String,
    pub auth: Option<Arc<AuthHandle>>,
}

impl LoginClient {
    pub fn new(protocol: &'static str, conn: &Conn, session: Session) -> LoginClient {
        let trusted = conn
            .remote
            .map(|a| session.settings.mail.is_trusted(a.ip()))
            .unwrap_or(false);
        let id = crate::random::random_bytes(12);
        let login_timeout = session.settings.mail.login_timeout.as_duration();
        LoginClient {
            protocol,
            remote: conn.remote,
            local: conn.local,
            secured: conn.secured || trusted,
            trusted,
            deadline: Instant::from_std(conn.accepted_at) + login_timeout,
            session_id: base64::engine::general_purpose::STANDARD.encode(id),
            auth: session.hub.get::<AuthHandle>(),
            session,
        }
    }

    /// Recomputes security after STARTTLS.
    pub fn after_starttls(&mut self, conn: &Conn) {
        self.secured = conn.secured || self.trusted;
    }

    /// Mechanisms auth offers this client.
    pub fn mechanisms(&self) -> Vec<String> {
        self.auth
            .as_ref()
            .map(|a| a.0.mechanisms(self.secured))
            .unwrap_or_default()
    }

    /// Whether plaintext authentication (USER/PASS, PLAIN, LOGIN) is allowed now: auth offers
    /// PLAIN to this client (it withholds it under `disable_plaintext_auth` when unsecured).
    pub fn plaintext_allowed(&self) -> bool {
        self.mechanisms()
            .iter()
            .any(|m| m.eq_ignore_ascii_case("PLAIN"))
    }

    pub fn client_info(&self, conn: &Conn) -> ClientInfo {
        ClientInfo {
            service: self.protocol.to_string(),
            remote: self.remote,
            local: self.local,
            real_remote: conn.real_remote,
            real_local: conn.real_local,
            secured: self.secured,
            cert_username: conn.client_cert_cn.clone(),
            session_id: self.session_id.clone(),
            passdb_only: false,
        }
    }

    /// What every wait of this client watches: kick, shutdown and the login deadline.
    pub fn watch(&self) -> Watch<'_> {
        Watch::new(&self.session, Some(self.deadline))
    }

    /// A login log line (`Login`, `Aborted login`, …) in `login_log_format`.
    pub fn log_line(&self, message: &str, user: &str, method: &str, tls: bool) -> String {
        let ip = |a: Option<SocketAddr>| a.map(|a| a.ip().to_string()).unwrap_or_default();
        let port = |a: Option<SocketAddr>| a.map(|a| a.port().to_string()).unwrap_or_default();
        let m = &self.session.settings.mail;
        let state = if tls {
            "TLS"
        } else if self.secured {
            "secured"
        } else {
            ""
        };
        super::logline::format(
            &m.login_log_format,
            &m.login_log_format_elements,
            message,
            &super::logline::LogVars {
                user,
                method,
                rip: ip(self.remote),
                lip: ip(self.local),
                rport: port(self.remote),
                lport: port(self.local),
                mpid: "",
                conn_state: state,
                session: &self.session_id,
            },
        )
    }

    /// Reserves the user's `mail_max_userip_connections` slot and hands the connection to the
    /// post-login service `target`, with the protocol's `protocol_data`. On refusal the wire
    /// comes back so the caller can answer.
    pub async fn hand_over(
        &self,
        mut wire: Wire,
        target: &str,
        user: String,
        fields: Vec<(String, String)>,
        mechanism: &str,
        protocol_data: Vec<u8>,
    ) -> Result<(), (LoginRefused, Option<Wire>)> {
        let limit = self.session.settings.mail.mail_max_userip_connections;
        let limits = Anvil::from_hub(&self.session.hub);
        let key = self.remote.map(|r| UserIpKey {
            protocol: self.protocol.to_string(),
            ip: r.ip(),
            user: user.clone(),
        });
        if let Some(k) = &key {
            if !limits.try_reserve(k, limit) {
                return Err((LoginRefused::UserIpLimit(limit), Some(wire)));
            }
        }
        let release = || {
            if let Some(k) = &key {
                limits.release(k);
            }
        };
        let Some(post) = self.session.hub.get::<PostLoginHandle>() else {
            release();
            tracing::error!("{}: no post-login service to hand over to", self.protocol);
            return Err((LoginRefused::Internal, Some(wire)));
        };
        if wire.flush_watched(&self.watch()).await.is_err() {
            release();
            return Err((LoginRefused::Internal, None));
        }
        self.session.set_authenticated();
        let handoff = Handoff {
            user: user.clone(),
            fields,
            mechanism: mechanism.to_string(),
            session_id: self.session_id.clone(),
            protocol_data,
        };
        let tls = wire.conn.stream.is_tls();
        let waiting = post.0.hand_over(target, wire.into_conn(), handoff);
        // Authenticated now: no longer kickable, but shutdown still ends the wait.
        let watch = Watch::new(&self.session, Some(Instant::now() + HANDOFF_TIMEOUT));
        let result = match watch.guard(waiting).await {
            Ok(r) => r,
            Err(crate::service::wire::End::Shutdown) => {
                release();
                return Err((LoginRefused::Internal, None));
            }
            Err(_) => {
                // The connection went with the dropped request; the client sees a close.
                release();
                tracing::error!(
                    service = %self.session.service,
                    vproc = self.session.vproc,
                    "{} (timed out waiting for {target}: its process_limit may have been reached)",
                    self.log_line("Internal login failure", &user, mechanism, tls)
                );
                return Err((LoginRefused::Internal, None));
            }
        };
        match result {
            Ok(()) => {
                tracing::info!(
                    service = %self.session.service,
                    vproc = self.session.vproc,
                    "{}",
                    self.log_line("Login", &user, mechanism, tls)
                );
                Ok(())
            }
            Err((e, conn)) => {
                release();
                tracing::error!(
                    service = %self.session.service,
                    vproc = self.session.vproc,
                    "{} (the service's process_limit may have been reached)",
                    self.log_line(
                        &format!("Internal login failure: {e}"),
                        &user,
                        mechanism,
                        tls
                    )
                );
                Err((LoginRefused::Internal, conn.map(Wire::new)))
            }
        }
    }
}
