//! The per-connection handle a session loop receives: shutdown and "all full" kick signals,
//! the authenticated mark that exempts it from the kick, post-login handoff data, the
//! settings of its generation and the hub.

use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;

use tokio_util::sync::CancellationToken;

use super::{Handoff, Hub};
use crate::settings::Settings;

/// Per-connection handle given to `Service::serve`.
#[derive(Clone)]
pub struct Session {
    /// Service name and virtual process id, for log lines.
    pub service: Arc<str>,
    pub vproc: u64,
    /// Cancelled on stop, or on reload with `shutdown_clients = yes`: send the protocol's
    /// shutdown message and return.
    pub shutdown: CancellationToken,
    /// Cancelled when a login service is full and this is the oldest pre-auth client: send the
    /// protocol's "connection queue full" goodbye and return.
    pub kicked: CancellationToken,
    pub authenticated: Arc<AtomicBool>,
    /// Present when the connection was handed over by a login service.
    pub handoff: Option<Arc<Handoff>>,
    /// The settings this session runs with (old sessions keep old settings after a reload).
    pub settings: Arc<Settings>,
    pub hub: Arc<Hub>,
}

impl Session {
    /// Marks the client as past authentication: it is no longer a candidate for the login
    /// "all full" kick.
    pub fn set_authenticated(&self) {
        self.authenticated.store(true, Ordering::Relaxed);
    }

    pub fn is_authenticated(&self) -> bool {
        self.authenticated.load(Ordering::Relaxed)
    }

    /// Resolves when the session should end: shutdown or kick. Returns which one.
    pub async fn ended(&self) -> EndReason {
        tokio::select! {
            _ = self.shutdown.cancelled() => EndReason::Shutdown,
            _ = self.kicked.cancelled() => EndReason::Kicked,
        }
    }

    /// A standalone session for unit tests and benches.
    pub fn detached(service: &str, settings: Arc<Settings>) -> Session {
        Session {
            service: Arc::from(service),
            vproc: 0,
            shutdown: CancellationToken::new(),
            kicked: CancellationToken::new(),
            authenticated: Arc::new(AtomicBool::new(false)),
            handoff: None,
            settings,
            hub: Arc::new(Hub::default()),
        }
    }
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum EndReason {
    Shutdown,
    Kicked,
}
