//! The mail and user doveadm commands: user, auth test/lookup/cache flush, mailbox
//! list/status/create/delete, fetch, search, expunge, flags add/remove/replace, quota get/recalc, pw.
//!
//! Parameters are named as Dovecot 2.3's HTTP API names them (doveadm's long options in
//! camelCase) and the values returned are what its HTTP API answers: arrays of objects keyed by
//! doveadm's print headers, every value a string (`user` answers an object keyed by user, as
//! Dovecot's server-side `user` does). `target.rs` finds a user's mail, `common.rs` holds what
//! the command files share; one file per command family.

mod auth;
mod common;
mod fetch;
mod flags;
mod mailbox;
mod messages;
mod pw;
mod query;
mod quota;
mod target;
mod time;
mod user;

use super::spec::CommandSpec;

/// The mail and user commands.
pub fn commands() -> Vec<CommandSpec> {
    vec![
        user::USER,
        auth::AUTH_TEST,
        auth::AUTH_LOOKUP,
        auth::AUTH_CACHE_FLUSH,
        mailbox::LIST,
        mailbox::STATUS,
        mailbox::CREATE,
        mailbox::DELETE,
        fetch::FETCH,
        messages::SEARCH,
        messages::EXPUNGE,
        flags::ADD,
        flags::REMOVE,
        flags::REPLACE,
        quota::GET,
        quota::RECALC,
        pw::PW,
    ]
}
