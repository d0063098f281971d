//! The operational doveadm commands: who, kick, penalty, reload, stop, service status, process status,
//! log reopen, log errors, stats dump.

mod master;
mod penalty;
mod sessions;
mod stats;
mod status;

use super::spec::CommandSpec;

pub mod log;

/// The operational commands.
pub fn commands() -> Vec<CommandSpec> {
    vec![
        sessions::WHO,
        sessions::KICK,
        penalty::PENALTY,
        master::RELOAD,
        master::STOP,
        status::SERVICE_STATUS,
        status::PROCESS_STATUS,
        stats::STATS_DUMP,
        log::LOG_REOPEN,
        log::LOG_ERRORS,
    ]
}
