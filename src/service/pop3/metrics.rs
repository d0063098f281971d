//! POP3 metrics: commands by name and message bytes sent.

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

/// Counts one command. Unknown names are counted as `unknown` to bound label values.
pub fn command(name: &str) {
    let name: &'static str = match name {
        "CAPA" => "CAPA",
        "STAT" => "STAT",
        "LIST" => "LIST",
        "UIDL" => "UIDL",
        "RETR" => "RETR",
        "TOP" => "TOP",
        "DELE" => "DELE",
        "RSET" => "RSET",
        "NOOP" => "NOOP",
        "QUIT" => "QUIT",
        _ => "unknown",
    };
    metrics::counter!(COMMANDS, "command" => name).increment(1);
}

pub fn sent(bytes: usize) {
    metrics::counter!(BYTES_SENT).increment(bytes as u64);
}
