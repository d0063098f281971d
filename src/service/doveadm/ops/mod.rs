//! The operational doveadm commands: who, kick, reload, stop, service status, process status,
//! log reopen, stats dump.

use super::command::CommandSpec;

pub mod log;

/// The operational commands.
pub fn commands() -> Vec<CommandSpec> {
    vec![log::LOG_REOPEN]
}
