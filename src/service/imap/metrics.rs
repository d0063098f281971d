//! IMAP metrics: post-login commands by name (`UID FETCH` and friends as Dovecot names them;
//! unparsable lines as `unknown`) and response bytes sent, registered at 0 when the service
//! starts.

use std::sync::Once;

pub const COMMANDS: &str = "roost_imap_commands_total";
pub const BYTES_SENT: &str = "roost_imap_bytes_sent_total";

/// `command` label values of [`COMMANDS`] registered at start (the rest appear when used;
/// names come from a fixed set, so label values stay bounded).
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

/// Registers HELP texts and every common series at 0 (idempotent).
pub fn register() {
    static ONCE: Once = Once::new();
    ONCE.call_once(|| {
        metrics::describe_counter!(
            COMMANDS,
            "IMAP commands received after login, by command name"
        );
        metrics::describe_counter!(
            BYTES_SENT,
            metrics::Unit::Bytes,
            "Bytes of responses sent by post-login IMAP sessions"
        );
    });
    for name in COMMON {
        metrics::counter!(COMMANDS, "command" => *name).increment(0);
    }
    metrics::counter!(BYTES_SENT).increment(0);
}

/// Counts one command (`name` is `Command::name()` or `unknown`).
pub fn command(name: &'static str) {
    metrics::counter!(COMMANDS, "command" => name).increment(1);
}

pub fn sent(bytes: u64) {
    metrics::counter!(BYTES_SENT).increment(bytes);
}
