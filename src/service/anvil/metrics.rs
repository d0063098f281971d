//! Anvil metrics: `roost_anvil_sessions{protocol}` (post-login sessions anvil tracks now) and
//! `roost_anvil_kicked_total{protocol}` (sessions ended by `roost kick`), registered at 0 for
//! the post-login protocols when the service starts. (Logins refused by
//! `mail_max_userip_connections` are `roost_login_total{result="userip_limit"}`.)

use std::sync::Once;

pub const SESSIONS: &str = "roost_anvil_sessions";
pub const KICKED: &str = "roost_anvil_kicked_total";

/// `protocol` label values registered at start-up.
pub const PROTOCOLS: &[&str] = &["imap", "pop3"];

pub fn describe() {
    static ONCE: Once = Once::new();
    ONCE.call_once(|| {
        metrics::describe_gauge!(
            SESSIONS,
            "Post-login sessions anvil tracks (what roost who lists), by protocol"
        );
        metrics::describe_counter!(KICKED, "Sessions ended by roost kick, by protocol");
    });
}

/// Describes the metrics and registers every known series at 0.
pub fn register() {
    describe();
    for p in PROTOCOLS {
        metrics::gauge!(SESSIONS, "protocol" => *p).increment(0.0);
        metrics::counter!(KICKED, "protocol" => *p).increment(0);
    }
}

pub fn connected(protocol: &str) {
    metrics::gauge!(SESSIONS, "protocol" => protocol.to_string()).increment(1.0);
}

pub fn disconnected(protocol: &str) {
    metrics::gauge!(SESSIONS, "protocol" => protocol.to_string()).decrement(1.0);
}

pub fn kicked(protocol: &str) {
    metrics::counter!(KICKED, "protocol" => protocol.to_string()).increment(1);
}
