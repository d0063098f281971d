//! The auth service's metrics: names, labels and HELP text.

use std::time::Duration;

pub const REQUESTS: &str = "roost_auth_requests_total";
pub const CACHE_HITS: &str = "roost_auth_cache_hits_total";
pub const CACHE_MISSES: &str = "roost_auth_cache_misses_total";
pub const DURATION: &str = "roost_auth_request_duration_seconds";

/// Registers HELP texts (idempotent).
pub fn describe() {
    metrics::describe_counter!(
        REQUESTS,
        "Finished SASL authentications by mechanism and result (ok, fail, tempfail)."
    );
    metrics::describe_counter!(CACHE_HITS, "Auth cache lookups answered from the cache.");
    metrics::describe_counter!(
        CACHE_MISSES,
        "Auth cache lookups that went to the passdb/userdb."
    );
    metrics::describe_histogram!(
        DURATION,
        metrics::Unit::Seconds,
        "Time from AUTH to the final OK/FAIL, failure delay included."
    );
}

pub fn cache_lookup(hit: bool) {
    if hit {
        metrics::counter!(CACHE_HITS).increment(1);
    } else {
        metrics::counter!(CACHE_MISSES).increment(1);
    }
}

pub fn request_done(mechanism: &'static str, result: &'static str, took: Duration) {
    metrics::counter!(REQUESTS, "mechanism" => mechanism, "result" => result).increment(1);
    metrics::histogram!(DURATION).record(took.as_secs_f64());
}
