//! A virtual process: Dovecot's process reduced to its bookkeeping. It has an id (shown like a
//! pid), a client-slot counter bounded by `client_limit`, a lifetime connection counter bounded
//! by `service_count`, and the reason it is retiring, if it is. Plain data: the times in it are
//! the ones the state machine was given.

use std::time::Instant;

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
    /// A session has taken on running the service's start-up for this process.
    pub start_up_claimed: bool,
}

impl VProc {
    pub fn new(id: u64, now: Instant) -> VProc {
        VProc {
            id,
            created: now,
            clients: 0,
            served: 0,
            idle_since: Some(now),
            retiring: None,
            start_up_claimed: false,
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

/// A session the pool knows of (it is running the service), for the login kick.
pub struct SessionRec {
    pub started: Instant,
    pub authenticated: bool,
    pub kicked: bool,
}
