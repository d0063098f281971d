//! Login metrics: `roost_login_total{service,result}`.

use std::sync::Once;

pub const LOGINS: &str = "roost_login_total";

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
