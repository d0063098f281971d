//! Dovecot's `stats-reader` unix listener (base_dir/stats-reader, 0600), for Dovecot's own
//! `doveadm stats dump` pointed at roost's base_dir. Roost greets with
//! `VERSION\tstats-reader-server\t2\t0` and expects `VERSION\tstats-reader-client\t2\t…`.
//! `DUMP\tFIELD…` answers one line per row of [`super::dump::rows`] — the tab-escaped
//! `metric_name`, then a value per requested field — and an empty line. Known fields: `count`,
//! `sum` (microseconds for `_seconds` histograms, as Dovecot counts durations), `avg`
//! (`%.02f`, same unit); roost keeps no `min`, `max`, `median`, `variance` or `%N` for its
//! Prometheus series, and those are empty, as Dovecot answers a field it does not know.
//! `DUMP-RESET` answers the dump and resets nothing (Prometheus counters only grow; logged);
//! `METRICS-ADD`/`METRICS-REMOVE` are refused with `-` (roost's metrics are fixed); `REOPEN`
//! answers `+`. A line is at most [`MAX_LINE`] bytes (Dovecot's limit); a client idle for
//! [`IDLE_TIMEOUT`] or not reading for [`WRITE_TIMEOUT`] is closed.

use std::sync::Arc;
use std::time::Duration;

use serde_json::Value;
use tokio::time::Instant;

use super::dump::rows;
use crate::log::escape_controls;
use crate::net::Conn;
use crate::protocol::auth::tab_escape;
use crate::protocol::version;
use crate::runtime::{Hub, Session};
use crate::service::wire::{Watch, Wire};

/// Longest request line (Dovecot's stats-reader input limit).
pub const MAX_LINE: usize = 1024;
/// A client silent this long is closed.
pub const IDLE_TIMEOUT: Duration = Duration::from_secs(60);
/// How long a client may take to read an answer.
pub const WRITE_TIMEOUT: Duration = Duration::from_secs(10);

fn num(v: Option<&Value>) -> Option<f64> {
    v.and_then(Value::as_f64)
}

/// One value of a row for a requested field.
fn field(row: &serde_json::Map<String, Value>, f: &str) -> String {
    let micro = if row.get("field").and_then(Value::as_str) == Some("duration") {
        1e6
    } else {
        1.0
    };
    match f {
        "count" => num(row.get("count"))
            .map(|c| format!("{c}"))
            .unwrap_or_default(),
        "sum" => num(row.get("sum"))
            .map(|s| format!("{}", (s * micro).round()))
            .unwrap_or_default(),
        "avg" => num(row.get("avg"))
            .map(|a| format!("{:.2}", a * micro))
            .unwrap_or_default(),
        _ => String::new(),
    }
}

/// The `DUMP` answer for `fields`, from a Prometheus text scrape.
pub fn dump(scrape: &str, fields: &[&str]) -> String {
    let mut out = String::new();
    for r in rows(scrape) {
        let name = r.get("metric_name").and_then(Value::as_str).unwrap_or("");
        out.push_str(&tab_escape(name));
        for f in fields {
            out.push('\t');
            out.push_str(&field(&r, f));
        }
        out.push('\n');
    }
    out.push('\n');
    out
}

pub async fn run(conn: Conn, session: Session, hub: Arc<Hub>) {
    let mut wire = Wire::new(conn);
    wire.queue(b"VERSION\tstats-reader-server\t2\t0\n");
    let mut version = false;
    loop {
        let idle = Watch::new(&session, Some(Instant::now() + IDLE_TIMEOUT));
        let line = match wire.next_line(MAX_LINE, &idle).await {
            Ok(Ok(l)) => String::from_utf8_lossy(&l).into_owned(),
            _ => return,
        };
        let args: Vec<&str> = line.split('\t').collect();
        if !version {
            if !version::matches(&line, "stats-reader-client", 2) {
                tracing::error!(
                    service = "stats",
                    "stats-reader client not compatible with this server: {}",
                    escape_controls(&line)
                );
                return;
            }
            version = true;
            continue;
        }
        let out = match args[0] {
            "DUMP" | "DUMP-RESET" => {
                if args[0] == "DUMP-RESET" {
                    tracing::info!(
                        service = "stats",
                        "DUMP-RESET: answered without a reset (roost's counters only grow)"
                    );
                }
                dump(&super::render(&hub), &args[1..])
            }
            "METRICS-ADD" | "METRICS-REMOVE" => format!(
                "-{}: roost's metrics are fixed Prometheus series\n",
                args[0]
            ),
            "REOPEN" => "+\n".to_string(),
            "" => continue,
            other => {
                tracing::error!(
                    service = "stats",
                    "stats-reader client sent unknown command {}",
                    escape_controls(other)
                );
                return;
            }
        };
        let w = Watch::new(&session, Some(Instant::now() + WRITE_TIMEOUT));
        if wire.send(out.as_bytes(), &w).await.is_err() {
            return;
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn dump_lines_carry_the_asked_fields_in_dovecots_units() {
        let scrape = "# TYPE roost_x_seconds histogram\nroost_x_seconds_bucket{le=\"1\"} 2\nroost_x_seconds_sum 3\nroost_x_seconds_count 2\n# TYPE roost_y_total counter\nroost_y_total{a=\"b\"} 5\n";
        assert_eq!(
            dump(scrape, &["count", "sum", "min", "avg"]),
            "roost_y_total{a=\"b\"}\t5\t\t\t\nroost_x_seconds\t2\t3000000\t\t1500000.00\n\n"
        );
    }
}
