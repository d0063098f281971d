//! Handing an authenticated connection from a login service to its post-login service (spec
//! §4): the stream moves, no bytes are copied. The master implements [`PostLogin`] over its
//! pools (a full post-login pool makes the login wait, as Dovecot's login processes wait for
//! the post-login process): [`PoolsPostLogin`] uses the master's `Pools` from the hub, and is
//! what the login layer falls back to when no [`PostLoginHandle`] was registered.
//! [`DirectPostLogin`] starts the session at once with no pool (tests).

use std::collections::HashMap;
use std::sync::Arc;

use crate::master::generation::Pools;
use crate::master::{BoxFuture, Handoff, Hub, Service, Session};
use crate::net::Conn;
use crate::settings::Settings;

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

/// The handle stored in the `Hub`.
#[derive(Clone)]
pub struct PostLoginHandle(pub Arc<dyn PostLogin>);

/// Hands over through the master's pools (`WorkerPool::hand_over` waits while the pool is
/// full).
pub struct PoolsPostLogin(pub Arc<Pools>);

impl PostLogin for PoolsPostLogin {
    fn hand_over(
        &self,
        service: &str,
        conn: Conn,
        handoff: Handoff,
    ) -> BoxFuture<Result<(), (HandoffError, Option<Conn>)>> {
        let pool = self.0.get(service);
        let service = service.to_string();
        Box::pin(async move {
            let Some(pool) = pool else {
                return Err((HandoffError::NoService(service), Some(conn)));
            };
            pool.hand_over(conn, handoff)
                .await
                .map_err(|conn| (HandoffError::Unavailable(service), Some(conn)))
        })
    }
}

/// Starts the post-login session directly on a new task (no pool, no limits). For tests and
/// single-service setups; the master's pooled implementation replaces it.
pub struct DirectPostLogin {
    pub services: HashMap<String, Arc<dyn Service>>,
    pub settings: Arc<Settings>,
    pub hub: Arc<Hub>,
}

impl PostLogin for DirectPostLogin {
    fn hand_over(
        &self,
        service: &str,
        conn: Conn,
        handoff: Handoff,
    ) -> BoxFuture<Result<(), (HandoffError, Option<Conn>)>> {
        let Some(svc) = self.services.get(service).cloned() else {
            let e = HandoffError::NoService(service.to_string());
            return Box::pin(async move { Err((e, Some(conn))) });
        };
        let session = Session {
            hub: self.hub.clone(),
            handoff: Some(Arc::new(handoff)),
            ..Session::detached(service, self.settings.clone())
        };
        tokio::spawn(svc.serve(conn, session));
        Box::pin(async { Ok(()) })
    }
}
