//! Login metrics: `roost_login_total{service,result}`, registered at 0 for every result when
//! the login service starts.

use std::sync::Once;

pub const LOGINS: &str = "roost_login_total";

/// `result` label values of [`LOGINS`].
pub const RESULTS: &[&str] = &[
    "success",
    "failed",
    "aborted",
    "userip_limit",
    "internal_error",
];

/// Registers `service`'s login counters at 0 (describing them first).
pub fn register(service: &'static str) {
    describe();
    for result in RESULTS {
        metrics::counter!(LOGINS, "service" => service, "result" => *result).increment(0);
    }
}

pub fn describe() {
    static ONCE: Once = Once::new();
    ONCE.call_once(|| {
        metrics::describe_counter!(
            LOGINS,
            "Login attempts by login service and result: success, failed, aborted, \
             userip_limit, internal_error"
        );
    });
}

pub fn login(service: &'static str, result: &'static str) {
    metrics::counter!(LOGINS, "service" => service, "result" => result).increment(1);
}
