//! The auth service's metrics: names, labels and HELP text, and [`Metrics`], the handles
//! registered once per service (looking a labelled counter up on every request costs more
//! than the PLAIN check it counts).

use std::time::Duration;

use metrics::{Counter, Histogram};

pub const REQUESTS: &str = "roost_auth_requests_total";
pub const CACHE_HITS: &str = "roost_auth_cache_hits_total";
pub const CACHE_MISSES: &str = "roost_auth_cache_misses_total";
pub const DURATION: &str = "roost_auth_request_duration_seconds";

/// Result labels of [`REQUESTS`].
pub const RESULTS: &[&str] = &["ok", "fail", "tempfail"];

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

/// Metric handles of one auth service.
pub struct Metrics {
    requests: Vec<(&'static str, &'static str, Counter)>,
    duration: Histogram,
    hits: Counter,
    misses: Counter,
}

impl Metrics {
    /// Registers the handles with the installed recorder.
    pub fn new() -> Metrics {
        let mut requests = Vec::new();
        for m in super::mech::MECHANISMS {
            for r in RESULTS {
                requests.push((
                    m.name,
                    *r,
                    metrics::counter!(REQUESTS, "mechanism" => m.name, "result" => *r),
                ));
            }
        }
        Metrics {
            requests,
            duration: metrics::histogram!(DURATION),
            hits: metrics::counter!(CACHE_HITS),
            misses: metrics::counter!(CACHE_MISSES),
        }
    }

    pub fn cache_lookup(&self, hit: bool) {
        if hit {
            self.hits.increment(1);
        } else {
            self.misses.increment(1);
        }
    }

    pub fn request_done(&self, mechanism: &'static str, result: &'static str, took: Duration) {
        if let Some((_, _, c)) = self
            .requests
            .iter()
            .find(|(m, r, _)| *m == mechanism && *r == result)
        {
            c.increment(1);
        }
        self.duration.record(took.as_secs_f64());
    }
}

impl Default for Metrics {
    fn default() -> Self {
        Self::new()
    }
}
