//! The driver interface: the [`Passdb`] and [`Userdb`] traits, their raw lookup results, and
//! [`DbError`] for an unusable `[[passdb]]`/`[[userdb]]` block.

use std::sync::Arc;

use crate::runtime::BoxFuture;
use crate::service::auth::fields::Fields;
use crate::service::auth::vars::Vars;

/// A passdb lookup's raw result.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum PassLookup {
    /// The user exists. `password` is `None` when the db has none (only `nopassword` logins).
    Found {
        password: Option<String>,
        fields: Fields,
    },
    NotFound,
    InternalFail(String),
}

/// A userdb lookup's raw result.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum UserLookupRaw {
    Found(Fields),
    NotFound,
    InternalFail(String),
}

/// A passdb driver.
pub trait Passdb: Send + Sync {
    fn lookup(&self, vars: Arc<Vars>) -> BoxFuture<PassLookup>;
    /// Scheme for stored passwords without a `{SCHEME}` prefix.
    fn default_scheme(&self) -> &str;
    /// Whether lookups may be cached (static dbs answer faster than the cache).
    fn cacheable(&self) -> bool {
        true
    }
}

/// A userdb driver.
pub trait Userdb: Send + Sync {
    fn lookup(&self, vars: Arc<Vars>) -> BoxFuture<UserLookupRaw>;
    /// All usernames (`LIST`); `None` when the driver cannot iterate.
    fn iterate(&self) -> BoxFuture<Option<Vec<String>>> {
        Box::pin(async { None })
    }
    fn cacheable(&self) -> bool {
        true
    }
    /// `static` without `allow_all_users`: the user must also exist in a passdb.
    fn requires_passdb_lookup(&self) -> bool {
        false
    }
}

/// Why a db block is unusable.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum DbError {
    #[error("{kind} driver '{driver}' is not supported (supported: passwd-file, static, shadow, passwd, prefetch)")]
    UnknownDriver { kind: &'static str, driver: String },
    #[error("{kind} {driver}: {message}")]
    BadArgs {
        kind: &'static str,
        driver: String,
        message: String,
    },
}
