//! The operational doveadm commands: who, kick, reload, stop, service status, process status,
//! log reopen, stats dump.

use super::command::CommandSpec;

/// The operational commands.
pub fn commands() -> Vec<CommandSpec> {
    Vec::new()
}
