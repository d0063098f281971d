//! The contract between the master and a service implementation: the `Service` trait (start a
//! virtual process, serve one `Conn`), the `Session` handle a session loop receives (shutdown
//! and "all full" kick signals, the authenticated mark, post-login handoff data), and the
//! `Hub` through which services reach each other in-process (login → auth, login → pop3).

use std::any::{Any, TypeId};
use std::collections::HashMap;
use std::future::Future;
use std::pin::Pin;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};

use tokio_util::sync::CancellationToken;

use crate::net::Conn;
use crate::settings::Settings;

pub type BoxFuture<T> = Pin<Box<dyn Future<Output = T> + Send + 'static>>;

/// What a login service hands to a post-login service with the connection (spec §4).
#[derive(Clone, Debug, Default)]
pub struct Handoff {
    pub user: String,
    /// userdb fields (`uid`, `gid`, `home`, `mail`, …) in the order auth returned them.
    pub fields: Vec<(String, String)>,
    /// Authentication mechanism, for the `Login:` log line.
    pub mechanism: String,
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
    pub(crate) authenticated: Arc<AtomicBool>,
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

/// A service implementation. The master knows no protocol: it calls these.
pub trait Service: Send + Sync + 'static {
    /// Serves one connection until it ends. A panic ends only this connection.
    fn serve(self: Arc<Self>, conn: Conn, session: Session) -> BoxFuture<()>;

    /// Runs when a virtual process starts. An error is a start-up failure: the pool throttles
    /// (2 s doubling to 60 s) as Dovecot does for processes that die before initialising.
    fn start_process(&self) -> BoxFuture<Result<(), String>> {
        Box::pin(async { Ok(()) })
    }

    /// Listener names this implementation speaks on; others stay closed with a warning.
    /// `None`: every listener.
    fn supported_listeners(&self) -> Option<&'static [&'static str]> {
        None
    }

    /// A line that arrived on one of the service's `fifo_listener`s.
    fn fifo_line(&self, _listener: &str, _line: String) {}
}

/// How the master builds a service from settings.
pub type ServiceFactory =
    fn(name: &str, settings: &Arc<Settings>, hub: &Arc<Hub>) -> Result<Arc<dyn Service>, String>;

/// In-process registry of shared handles (auth, anvil, post-login pools), keyed by type.
#[derive(Default)]
pub struct Hub {
    items: Mutex<HashMap<TypeId, Arc<dyn Any + Send + Sync>>>,
}

impl Hub {
    pub fn insert<T: Any + Send + Sync>(&self, value: Arc<T>) {
        self.items
            .lock()
            .unwrap()
            .insert(TypeId::of::<T>(), value as Arc<dyn Any + Send + Sync>);
    }

    pub fn get<T: Any + Send + Sync>(&self) -> Option<Arc<T>> {
        let v = self
            .items
            .lock()
            .unwrap()
            .get(&TypeId::of::<T>())
            .cloned()?;
        v.downcast::<T>().ok()
    }
}
