//! What the master shares with the control socket and, through the hub, with the services:
//! the current and draining generations ([`MasterState`], which implements the runtime's
//! `StatusView`) and the requests that reach the master loop ([`Command`]).

use std::collections::BTreeMap;
use std::sync::{Arc, Mutex};

use super::generation::Generation;
use super::metrics as m;
use crate::runtime::{PoolStatus, ProcessStatus, Registry, ServiceState, StatusView};

/// Requests that reach the master loop from signals and the control socket.
pub enum Command {
    Reload(tokio::sync::oneshot::Sender<Result<(), String>>),
    Stop,
}

/// State shared with the control socket.
pub struct MasterState {
    pub current: Mutex<Arc<Generation>>,
    /// Generations that stopped accepting but still have sessions.
    pub draining: Mutex<Vec<Arc<Generation>>>,
    /// The services roost implements, for every generation.
    pub registry: Registry,
}

impl MasterState {
    pub fn service_status(&self) -> Vec<(PoolStatus, ServiceState)> {
        let cur = self.current.lock().unwrap().clone();
        let draining = self.draining.lock().unwrap().clone();
        let mut out = Vec::new();
        for (name, state) in &cur.states {
            let mut status = match cur.pools.get(name) {
                Some(p) => p.status(),
                None => PoolStatus {
                    service: name.clone(),
                    processes: 0,
                    available: 0,
                    clients: 0,
                    process_limit: 0,
                    client_limit: 0,
                    throttle_secs: 0,
                    processes_total: 0,
                },
            };
            for g in &draining {
                if let Some(p) = g.pools.get(name) {
                    let s = p.status();
                    status.processes += s.processes;
                    status.clients += s.clients;
                    status.processes_total += s.processes_total;
                }
            }
            out.push((status, state.clone()));
        }
        out
    }

    pub fn process_status(&self) -> Vec<ProcessStatus> {
        let cur = self.current.lock().unwrap().clone();
        let draining = self.draining.lock().unwrap().clone();
        let mut out: Vec<ProcessStatus> = cur.pools.values().flat_map(|p| p.processes()).collect();
        for g in draining {
            out.extend(g.pools.values().flat_map(|p| p.processes()));
        }
        out.sort_by(|a, b| a.service.cmp(&b.service).then(a.vproc.cmp(&b.vproc)));
        out
    }
}

impl StatusView for MasterState {
    fn service_status(&self) -> Vec<(PoolStatus, ServiceState)> {
        MasterState::service_status(self)
    }

    fn process_status(&self) -> Vec<ProcessStatus> {
        MasterState::process_status(self)
    }

    /// Per-service pool gauges, summed over the current and draining generations.
    fn refresh_metrics(&self) {
        let mut sums: BTreeMap<String, [f64; 5]> = BTreeMap::new();
        for (st, _) in self.service_status() {
            if st.process_limit == 0 {
                continue;
            }
            let e = sums.entry(st.service.clone()).or_default();
            e[0] += st.processes as f64;
            e[1] += st.available as f64;
            e[2] += st.clients as f64;
            e[3] = st.process_limit as f64;
            e[4] = st.client_limit as f64;
        }
        for (svc, v) in sums {
            m::set_pool_gauges(&svc, v[0], v[1], v[2], v[3], v[4]);
        }
    }
}
