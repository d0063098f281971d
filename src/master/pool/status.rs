//! The runtime's status rows for one pool (`roost ps`, the control socket's `SERVICE-STATUS`,
//! the metrics gauges), read from the state machine at a given time.

use std::time::Instant;

use super::state::PoolState;
use crate::runtime::{PoolStatus, ProcessStatus};

/// A snapshot of the whole pool.
pub fn pool(service: &str, st: &PoolState, now: Instant) -> PoolStatus {
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

/// One row per virtual process.
pub fn processes(service: &str, st: &PoolState, now: Instant) -> Vec<ProcessStatus> {
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
