//! The mail and user doveadm commands: user, auth test/lookup/cache flush, mailbox
//! list/status/create/delete, fetch, search, expunge, flags add/remove/replace, quota get/recalc, pw.
//!
//! Parameters are named as Dovecot 2.3's HTTP API names them (doveadm's long options in
//! camelCase) and the values returned are what its HTTP API answers: arrays of objects keyed by
//! doveadm's print headers, every value a string (`user` answers an object keyed by user, as
//! Dovecot's server-side `user` does). `target.rs` finds the users, `work.rs` runs a command's per-user
//! part where the user's mail may be touched (here or in a mail helper of the user's uid),
//! `common.rs` holds what the command files share; one file per command family.

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
pub mod time;
mod user;
pub mod work;

use super::spec::CommandSpec;
use work::Work;

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

/// The per-user part of each mail command, by the command's name (what a mail helper runs).
const WORKS: &[(&str, Work)] = &[
    (mailbox::LIST.name, mailbox::list_work),
    (mailbox::STATUS.name, mailbox::status_work),
    (mailbox::CREATE.name, mailbox::create_work),
    (mailbox::DELETE.name, mailbox::delete_work),
    (fetch::FETCH.name, fetch::work),
    (messages::SEARCH.name, messages::search_work),
    (messages::EXPUNGE.name, messages::expunge_work),
    (flags::ADD.name, flags::add_work),
    (flags::REMOVE.name, flags::remove_work),
    (flags::REPLACE.name, flags::replace_work),
    (quota::GET.name, quota::get_work),
    (quota::RECALC.name, quota::recalc_work),
];

/// A mail helper's answer to one `DOVEADM` request body (see `work.rs`).
pub fn serve_in_helper(body: &[u8]) -> Vec<u8> {
    work::serve(body, |name| {
        WORKS.iter().find(|(n, _)| *n == name).map(|(_, w)| *w)
    })
}
