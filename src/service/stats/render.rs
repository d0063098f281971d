//! Builds one `/metrics` body: refreshes the scrape-time gauges (per-service pool state summed
//! over generations, and the roost process's memory, fds, threads and start time) and renders
//! the recorder in Prometheus text format.

use std::collections::BTreeMap;

use metrics::gauge;

use crate::master::metrics as m;
use crate::master::run::MasterState;
use crate::master::Hub;

pub fn render(hub: &Hub) -> String {
    let Some(handle) = m::handle() else {
        return String::new();
    };
    if let Some(state) = hub.get::<MasterState>() {
        let mut sums: BTreeMap<String, [f64; 5]> = BTreeMap::new();
        for (st, _) in state.service_status() {
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
    process_gauges();
    handle.render()
}

/// Reads the process's own figures from /proc.
fn process_gauges() {
    gauge!("roost_build_info", "version" => env!("CARGO_PKG_VERSION")).set(1.0);
    if let Ok(status) = std::fs::read_to_string("/proc/self/status") {
        for line in status.lines() {
            if let Some(v) = line.strip_prefix("VmRSS:") {
                let kb: f64 = v
                    .trim()
                    .trim_end_matches("kB")
                    .trim()
                    .parse()
                    .unwrap_or(0.0);
                gauge!("roost_process_resident_memory_bytes").set(kb * 1024.0);
            } else if let Some(v) = line.strip_prefix("Threads:") {
                gauge!("roost_process_threads").set(v.trim().parse().unwrap_or(0.0));
            }
        }
    }
    if let Ok(dir) = std::fs::read_dir("/proc/self/fd") {
        gauge!("roost_process_open_fds").set(dir.count() as f64);
    }
    if let Some(start) = start_time_secs() {
        gauge!("roost_process_start_time_seconds").set(start);
    }
}

/// Process start time since the epoch: boot time + starttime ticks.
fn start_time_secs() -> Option<f64> {
    let stat = std::fs::read_to_string("/proc/self/stat").ok()?;
    let after = stat.rsplit_once(')')?.1;
    let ticks: f64 = after.split_whitespace().nth(19)?.parse().ok()?;
    let btime: f64 = std::fs::read_to_string("/proc/stat")
        .ok()?
        .lines()
        .find_map(|l| l.strip_prefix("btime "))?
        .trim()
        .parse()
        .ok()?;
    // SAFETY: sysconf has no preconditions.
    let hz = unsafe { libc::sysconf(libc::_SC_CLK_TCK) } as f64;
    Some(btime + ticks / hz.max(1.0))
}
