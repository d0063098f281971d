//! The mail and user doveadm commands: user, auth test/lookup/cache flush, mailbox
//! list/status/create/delete, fetch, search, expunge, flags add/remove/replace, quota get/recalc, pw.
//!
//! Parameters are named as Dovecot 2.3's HTTP API names them (doveadm's long options in
//! camelCase) and the values returned are what its HTTP API answers: arrays of objects keyed by
//! doveadm's print headers, every value a string (`user` answers an object keyed by user, as
//! Dovecot's server-side `user` does). `target.rs` finds a user's mail; one file per family.

mod auth;
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

use super::spec::{CommandSpec, Param, ParamKind};

/// The mail commands' common parameters, in doveadm's order (`-A`, `-S`, `-u`, `-F`).
macro_rules! mail_params {
    ($($extra:expr),* $(,)?) => {
        &[
            $crate::service::doveadm::mail::param("allUsers", $crate::service::doveadm::spec::ParamKind::Bool, false, Some('A')),
            $crate::service::doveadm::mail::param("socketPath", $crate::service::doveadm::spec::ParamKind::String, false, Some('S')),
            $crate::service::doveadm::mail::param("user", $crate::service::doveadm::spec::ParamKind::String, false, Some('u')),
            $crate::service::doveadm::mail::param("transFlags", $crate::service::doveadm::spec::ParamKind::Integer, false, None),
            $crate::service::doveadm::mail::param("userFile", $crate::service::doveadm::spec::ParamKind::String, false, Some('F')),
            $($extra),*
        ]
    };
}
pub(crate) use mail_params;

/// A parameter (a `const fn` so the tables stay `'static`).
pub(crate) const fn param(
    name: &'static str,
    kind: ParamKind,
    positional: bool,
    short: Option<char>,
) -> Param {
    Param {
        name,
        kind,
        positional,
        short,
    }
}

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

/// One row of doveadm's printer: header → value, in header order.
pub(crate) type Row = serde_json::Map<String, serde_json::Value>;

/// A row from `(header, value)` pairs.
pub(crate) fn row<K: Into<String>, V: Into<String>>(
    pairs: impl IntoIterator<Item = (K, V)>,
) -> Row {
    pairs
        .into_iter()
        .map(|(k, v)| (k.into(), serde_json::Value::String(v.into())))
        .collect()
}

/// The rows as the response value.
pub(crate) fn rows(r: Vec<Row>) -> serde_json::Value {
    serde_json::Value::Array(r.into_iter().map(serde_json::Value::Object).collect())
}
