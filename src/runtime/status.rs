//! Read-only views of the pools, for the stats service's scrape-time gauges and `roost ps`:
//! snapshot rows ([`PoolStatus`], [`ProcessStatus`]), what roost does with each configured
//! service ([`ServiceState`]), and the [`StatusView`] the master publishes in the hub.

use std::sync::Arc;

/// What roost does with an enabled service block.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum ServiceState {
    Running,
    /// Not implemented in roost yet: its listeners stay closed.
    NotImplemented,
    /// Disabled by `protocols` or an empty `executable`.
    Disabled,
}

impl ServiceState {
    /// The word `SERVICE-STATUS` and `roost ps` print.
    pub fn as_str(&self) -> &'static str {
        match self {
            ServiceState::Running => "running",
            ServiceState::NotImplemented => "not-implemented",
            ServiceState::Disabled => "disabled",
        }
    }
}

/// A snapshot row for `roost ps` and the control socket.
#[derive(Clone, Debug)]
pub struct ProcessStatus {
    pub service: String,
    pub vproc: u64,
    pub clients: u32,
    pub served: u64,
    pub idle_secs: Option<u64>,
    pub age_secs: u64,
    pub retiring: bool,
}

/// A snapshot of the whole pool for metrics and `SERVICE-STATUS`.
#[derive(Clone, Debug, Default)]
pub struct PoolStatus {
    pub service: String,
    pub processes: usize,
    pub available: usize,
    pub clients: u64,
    pub process_limit: u32,
    pub client_limit: u32,
    pub throttle_secs: u64,
    pub processes_total: u64,
}

/// What the master shows of its pools (current and draining generations added up).
pub trait StatusView: Send + Sync {
    fn service_status(&self) -> Vec<(PoolStatus, ServiceState)>;
    fn process_status(&self) -> Vec<ProcessStatus>;
    /// Sets the scrape-time gauges (pool sizes) just before a `/metrics` render.
    fn refresh_metrics(&self);
}

/// The handle stored in the `Hub`.
#[derive(Clone)]
pub struct StatusHandle(pub Arc<dyn StatusView>);
