//! Builds one `/metrics` body: refreshes the scrape-time gauges (per-service pool state through
//! the master's status view, and the roost process's memory, fds, threads and start time) and
//! renders the recorder in Prometheus text format.

use metrics::gauge;

use crate::runtime::{Hub, StatusHandle};

pub fn render(hub: &Hub) -> String {
    let Some(handle) = crate::runtime::metrics::handle() else {
        return String::new();
    };
    if let Some(status) = hub.get::<StatusHandle>() {
        status.0.refresh_metrics();
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
