//! The mail and user doveadm commands: user, auth test/lookup/cache flush, mailbox
//! list/status/create/delete, fetch, search, expunge, flags add/remove/replace, quota get/recalc, pw.

use super::spec::CommandSpec;

/// The mail and user commands.
pub fn commands() -> Vec<CommandSpec> {
    Vec::new()
}
