//! LMTP metrics: deliveries per result and how long each took until it was on disk, registered
//! at 0 when the service starts.

use std::sync::Once;
use std::time::Duration;

pub const DELIVERIES: &str = "roost_lmtp_deliveries_total";
pub const DELIVERY_SECONDS: &str = "roost_lmtp_delivery_duration_seconds";

/// `result` label values of [`DELIVERIES`].
pub const RESULTS: &[&str] = &["ok", "tempfail", "permfail"];

/// Describes the metrics and registers every series at 0.
pub fn register() {
    describe();
    for result in RESULTS {
        metrics::counter!(DELIVERIES, "result" => *result).increment(0);
    }
    let _ = metrics::histogram!(DELIVERY_SECONDS);
}

/// Registers HELP texts (idempotent).
pub fn describe() {
    static ONCE: Once = Once::new();
    ONCE.call_once(|| {
        metrics::describe_counter!(
            DELIVERIES,
            "LMTP recipient deliveries by result: ok, tempfail (4xx), permfail (5xx)"
        );
        metrics::describe_histogram!(
            DELIVERY_SECONDS,
            metrics::Unit::Seconds,
            "Time from the end of DATA/BDAT until one recipient's copy was fsynced"
        );
    });
}

pub fn delivered(result: &'static str, took: Duration) {
    metrics::counter!(DELIVERIES, "result" => result).increment(1);
    metrics::histogram!(DELIVERY_SECONDS).record(took.as_secs_f64());
}
