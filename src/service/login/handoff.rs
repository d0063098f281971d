//! [`DirectPostLogin`]: a `PostLogin` that starts the post-login session at once on a new
//! task, with no pool and no limits (tests and single-service setups). The real one is the
//! master's, over its pools; both live behind the runtime's `PostLoginHandle`.

use std::collections::HashMap;
use std::sync::Arc;

use crate::net::Conn;
use crate::runtime::{BoxFuture, Handoff, HandoffError, Hub, PostLogin, Service, Session};
use crate::settings::Settings;

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
