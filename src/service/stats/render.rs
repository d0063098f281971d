//! Builds one `/metrics` answer: refreshes the scrape-time gauges (per-service pool state through
//! the master's status view, and the roost process's memory, fds, threads and start time),
//! renders the recorder, adds the `dovecot_` aliases when `metrics_dovecot_aliases` is on, and
//! writes the format the scraper's `Accept` asks for ([`exposition`]).

use std::sync::atomic::{AtomicBool, Ordering};

use metrics::gauge;

use super::negotiate::{negotiate, Format};
use super::{aliases, exposition as om};
use crate::runtime::{Hub, StatusHandle};

/// Scrapes answered, by format.
pub const SCRAPES: &str = "roost_stats_scrapes_total";

/// `metrics_dovecot_aliases` of the running configuration (set when the stats service starts).
static DOVECOT_ALIASES: AtomicBool = AtomicBool::new(false);

pub fn set_dovecot_aliases(on: bool) {
    DOVECOT_ALIASES.store(on, Ordering::Relaxed);
}

/// Registers HELP texts and the per-format scrape counters at 0.
pub fn describe() {
    metrics::describe_counter!(
        SCRAPES,
        "/metrics requests answered, by exposition format (text, openmetrics)."
    );
    for f in [Format::Text, Format::OpenMetrics { version: "1.0.0" }] {
        metrics::counter!(SCRAPES, "format" => f.label()).increment(0);
    }
}

/// One `/metrics` answer for a request with this `Accept` value: its content type and body.
pub fn exposition(accept: Option<&str>, hub: &Hub) -> (&'static str, String) {
    let format = negotiate(accept);
    metrics::counter!(SCRAPES, "format" => format.label()).increment(1);
    let text = render(hub);
    let aliases = DOVECOT_ALIASES.load(Ordering::Relaxed);
    if format == Format::Text && !aliases {
        return (format.content_type(), text);
    }
    let mut families = om::parse(&text);
    if aliases {
        let extra = aliases::dovecot(&families);
        families.extend(extra);
    }
    let body = match format {
        Format::Text => om::write_text(&families),
        Format::OpenMetrics { .. } => om::write_openmetrics(&families),
    };
    (format.content_type(), body)
}

/// The recorder's Prometheus text, scrape-time gauges refreshed.
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
