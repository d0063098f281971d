//! Snapshots of a pool for `roost ps`, the control socket's `SERVICE-STATUS` and the metrics
//! gauges, read from the state machine at a given time.

use std::time::Instant;

use super::state::PoolState;

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
#[derive(Clone, Debug)]
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

impl PoolStatus {
    pub fn of(service: &str, st: &PoolState, now: Instant) -> PoolStatus {
        PoolStatus {
            service: service.to_string(),
            processes: st.procs().count(),
            available: st.available_count(),
            clients: st.clients(),
            process_limit: st.eff().process_limit,
            client_limit: st.eff().client_limit,
            throttle_secs: st
                .throttled_until(now)
                .map(|u| u.saturating_duration_since(now).as_secs())
                .unwrap_or(0),
            processes_total: st.processes_total(),
        }
    }
}

impl ProcessStatus {
    /// One row per virtual process.
    pub fn all(service: &str, st: &PoolState, now: Instant) -> Vec<ProcessStatus> {
        st.procs()
            .map(|p| ProcessStatus {
                service: service.to_string(),
                vproc: p.id,
                clients: p.clients,
                served: p.served,
                idle_secs: p
                    .idle_since
                    .map(|t| now.saturating_duration_since(t).as_secs()),
                age_secs: now.saturating_duration_since(p.created).as_secs(),
                retiring: p.retiring.is_some(),
            })
            .collect()
    }
}
