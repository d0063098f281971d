//! passdb and userdb drivers. Each `[[passdb]]`/`[[userdb]]` block becomes one [`Passdb`] or
//! [`Userdb`]; the engine tries them in order. Drivers return raw lookups; password checking,
//! `default_fields`/`override_fields` and `result_*` handling are the engine's.

pub mod passwd_file;
pub mod shadow;
pub mod static_db;

use std::sync::Arc;

use super::fields::Fields;
use super::settings::DbSettings;
use super::vars::Vars;
use crate::runtime::BoxFuture;

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

/// What drivers may need besides their block: the auth-worker helper pool.
#[derive(Clone, Default)]
pub struct DbContext {
    pub workers: Option<Arc<crate::privsep::worker::WorkerPool>>,
}

/// Drivers that run in an auth-worker helper.
pub const WORKER_DRIVERS: &[&str] = &["shadow", "passwd"];

fn workers(
    ctx: &DbContext,
    kind: &'static str,
    driver: &str,
) -> Result<Arc<crate::privsep::worker::WorkerPool>, DbError> {
    ctx.workers.clone().ok_or_else(|| DbError::BadArgs {
        kind,
        driver: driver.into(),
        message: "needs the auth-worker helper, which is not available here".into(),
    })
}

/// Builds a passdb from its block.
pub fn new_passdb(cfg: &DbSettings, ctx: &DbContext) -> Result<Arc<dyn Passdb>, DbError> {
    match cfg.driver.as_str() {
        "shadow" => Ok(Arc::new(shadow::Shadow::new(
            &cfg.args,
            workers(ctx, "passdb", "shadow")?,
        )?)),
        "passwd-file" => Ok(Arc::new(passwd_file::PasswdFile::new(&cfg.args, "passdb")?)),
        "static" => Ok(Arc::new(static_db::StaticPassdb::new(&cfg.args)?)),
        other => Err(DbError::UnknownDriver {
            kind: "passdb",
            driver: other.to_string(),
        }),
    }
}

/// Builds a userdb from its block.
pub fn new_userdb(cfg: &DbSettings, ctx: &DbContext) -> Result<Arc<dyn Userdb>, DbError> {
    match cfg.driver.as_str() {
        "passwd" => Ok(Arc::new(shadow::Passwd::new(workers(
            ctx, "userdb", "passwd",
        )?))),
        "passwd-file" => Ok(Arc::new(passwd_file::PasswdFile::new(&cfg.args, "userdb")?)),
        "static" => Ok(Arc::new(static_db::StaticUserdb::new(&cfg.args))),
        // Dovecot's prefetch userdb: the fields already came from the passdb (`userdb_*`).
        "prefetch" => Ok(Arc::new(static_db::Prefetch)),
        other => Err(DbError::UnknownDriver {
            kind: "userdb",
            driver: other.to_string(),
        }),
    }
}
