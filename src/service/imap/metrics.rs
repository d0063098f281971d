//! IMAP metrics: post-login commands by name (`UID FETCH` and friends as Dovecot names them;
//! unparsable lines as `unknown`) and result (`ok`, `no`, `bad`), their duration by name,
//! the logged-in sessions, and the bytes sessions received and sent; registered at 0 when the
//! service starts.

use std::sync::Once;
use std::time::Duration;

pub const COMMANDS: &str = "roost_imap_commands_total";
pub const DURATION: &str = "roost_imap_command_duration_seconds";
pub const SESSIONS: &str = "roost_imap_sessions";
pub const BYTES_SENT: &str = "roost_imap_bytes_sent_total";
pub const BYTES_RECEIVED: &str = "roost_imap_bytes_received_total";

/// `command` label values registered at start (the rest appear when used; names come from a
/// fixed set, so label values stay bounded).
const COMMON: &[&str] = &[
    "CAPABILITY",
    "NOOP",
    "LOGOUT",
    "SELECT",
    "EXAMINE",
    "LIST",
    "STATUS",
    "APPEND",
    "FETCH",
    "UID FETCH",
    "STORE",
    "UID STORE",
    "SEARCH",
    "UID SEARCH",
    "IDLE",
    "EXPUNGE",
    "unknown",
];

/// `result` label values.
pub const RESULTS: &[&str] = &["ok", "no", "bad"];

/// Registers HELP texts and every common series at 0 (idempotent).
pub fn register() {
    static ONCE: Once = Once::new();
    ONCE.call_once(|| {
        metrics::describe_counter!(
            COMMANDS,
            "IMAP commands received after login, by command name and tagged result"
        );
        metrics::describe_histogram!(
            DURATION,
            metrics::Unit::Seconds,
            "Time from an IMAP command's arrival to its tagged reply, by command name"
        );
        metrics::describe_gauge!(SESSIONS, "Logged-in IMAP sessions");
        metrics::describe_counter!(
            BYTES_SENT,
            metrics::Unit::Bytes,
            "Bytes of responses sent by post-login IMAP sessions"
        );
        metrics::describe_counter!(
            BYTES_RECEIVED,
            metrics::Unit::Bytes,
            "Bytes received from clients by post-login IMAP sessions"
        );
    });
    for name in COMMON {
        let _ = metrics::histogram!(DURATION, "command" => *name);
        for result in RESULTS {
            metrics::counter!(COMMANDS, "command" => *name, "result" => *result).increment(0);
        }
    }
    metrics::gauge!(SESSIONS).increment(0.0);
    metrics::counter!(BYTES_SENT).increment(0);
    metrics::counter!(BYTES_RECEIVED).increment(0);
}

/// Counts one command (`name` is `Command::name()` or `unknown`) with its result and time.
pub fn command(name: &'static str, result: &'static str, took: Duration) {
    metrics::counter!(COMMANDS, "command" => name, "result" => result).increment(1);
    metrics::histogram!(DURATION, "command" => name).record(took.as_secs_f64());
}

pub fn sent(bytes: u64) {
    metrics::counter!(BYTES_SENT).increment(bytes);
}

pub fn received(bytes: u64) {
    metrics::counter!(BYTES_RECEIVED).increment(bytes);
}

/// One logged-in session, counted in [`SESSIONS`] while it lives.
pub struct SessionGauge;

impl SessionGauge {
    pub fn new() -> SessionGauge {
        metrics::gauge!(SESSIONS).increment(1.0);
        SessionGauge
    }
}

impl Default for SessionGauge {
    fn default() -> Self {
        Self::new()
    }
}

impl Drop for SessionGauge {
    fn drop(&mut self) {
        metrics::gauge!(SESSIONS).decrement(1.0);
    }
}
