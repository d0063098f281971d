//! POP3 metrics: commands by name and message bytes sent, registered at 0 when the service
//! starts.

use std::sync::Once;

pub const COMMANDS: &str = "roost_pop3_commands_total";
pub const BYTES_SENT: &str = "roost_pop3_bytes_sent_total";

/// Registers HELP texts (idempotent).
pub fn describe() {
    static ONCE: Once = Once::new();
    ONCE.call_once(|| {
        metrics::describe_counter!(
            COMMANDS,
            "POP3 commands received in the transaction state, by command name"
        );
        metrics::describe_counter!(
            BYTES_SENT,
            metrics::Unit::Bytes,
            "Bytes of responses sent by post-login POP3 sessions"
        );
    });
}

/// `command` label values of [`COMMANDS`]; anything else counts as `unknown`.
pub const COMMAND_NAMES: &[&str] = &[
    "CAPA", "STAT", "LIST", "UIDL", "RETR", "TOP", "DELE", "RSET", "NOOP", "QUIT",
];

/// Describes the metrics and registers every series at 0.
pub fn register() {
    describe();
    for name in COMMAND_NAMES.iter().chain(&["unknown"]) {
        metrics::counter!(COMMANDS, "command" => *name).increment(0);
    }
    metrics::counter!(BYTES_SENT).increment(0);
}

/// Counts one command. Unknown names are counted as `unknown` to bound label values.
pub fn command(name: &str) {
    let name: &'static str = COMMAND_NAMES
        .iter()
        .find(|c| **c == name)
        .copied()
        .unwrap_or("unknown");
    metrics::counter!(COMMANDS, "command" => name).increment(1);
}

pub fn sent(bytes: usize) {
    metrics::counter!(BYTES_SENT).increment(bytes as u64);
}
