//! What the mail and user command files share: the mail commands' common parameters
//! ([`mail_params!`]: `allUsers`, `socketPath`, `user`, `transFlags`, `userFile`), a `const`
//! parameter maker, and the rows of doveadm's printer that answers are made of.

use crate::service::doveadm::spec::{Param, ParamKind};

/// The mail commands' common parameters, in doveadm's order (`-A`, `-S`, `-u`, `-F`).
macro_rules! mail_params {
    ($($extra:expr),* $(,)?) => {
        &[
            $crate::service::doveadm::mail::common::param("allUsers", $crate::service::doveadm::spec::ParamKind::Bool, false, Some('A')),
            $crate::service::doveadm::mail::common::param("socketPath", $crate::service::doveadm::spec::ParamKind::String, false, Some('S')),
            $crate::service::doveadm::mail::common::param("user", $crate::service::doveadm::spec::ParamKind::String, false, Some('u')),
            $crate::service::doveadm::mail::common::param("transFlags", $crate::service::doveadm::spec::ParamKind::Integer, false, None),
            $crate::service::doveadm::mail::common::param("userFile", $crate::service::doveadm::spec::ParamKind::String, false, Some('F')),
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
