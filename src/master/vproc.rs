//! A virtual process: Dovecot's process reduced to its bookkeeping. It has an id (shown like a
//! pid), a client-slot counter bounded by `client_limit`, a lifetime connection counter bounded
//! by `service_count`, and the sessions it currently serves (with their kick handles).

use std::collections::BTreeMap;
use std::sync::atomic::AtomicBool;
use std::sync::Arc;
use std::time::Instant;

use tokio::task::AbortHandle;
use tokio_util::sync::CancellationToken;

/// One session held by a virtual process.
pub struct SessionEntry {
    pub started: Instant,
    pub kicked: CancellationToken,
    pub authenticated: Arc<AtomicBool>,
    pub abort: Option<AbortHandle>,
}

/// Why a virtual process ended (the `reason` label of `roost_service_processes_exited_total`).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum ExitReason {
    IdleKill,
    ServiceCount,
    Shutdown,
    Crash,
}

impl ExitReason {
    pub fn as_str(&self) -> &'static str {
        match self {
            ExitReason::IdleKill => "idle_kill",
            ExitReason::ServiceCount => "service_count",
            ExitReason::Shutdown => "shutdown",
            ExitReason::Crash => "crash",
        }
    }
}

pub struct VProc {
    pub id: u64,
    pub created: Instant,
    /// Clients now (reserved slots included).
    pub clients: u32,
    /// Connections handed to this process over its lifetime.
    pub served: u64,
    /// Set when `clients` dropped to 0.
    pub idle_since: Option<Instant>,
    /// No longer accepts; exits when its last client leaves.
    pub retiring: Option<ExitReason>,
    pub sessions: BTreeMap<u64, SessionEntry>,
}

impl VProc {
    pub fn new(id: u64) -> VProc {
        let now = Instant::now();
        VProc {
            id,
            created: now,
            clients: 0,
            served: 0,
            idle_since: Some(now),
            retiring: None,
            sessions: BTreeMap::new(),
        }
    }

    /// Can take one more connection now (Dovecot's `available_count > 0`).
    pub fn available(&self, client_limit: u32, service_count: u32) -> bool {
        self.retiring.is_none()
            && self.clients < client_limit
            && (service_count == 0 || self.served < service_count as u64)
    }

    pub fn is_idle(&self) -> bool {
        self.clients == 0 && self.retiring.is_none()
    }

    /// Its `service_count` is used up: it takes nothing new and exits when empty.
    pub fn exhausted(&self, service_count: u32) -> bool {
        service_count > 0 && self.served >= service_count as u64
    }
}
