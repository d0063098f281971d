//! `doveadm`: the admin command service. `command.rs` is the command table every transport
//! runs; `ops/` the operational commands (who, kick, reload, …); `mail/` the mail and user
//! commands (mailbox, fetch, search, flags, user, auth, pw, quota).

pub mod command;
pub mod mail;
pub mod ops;
