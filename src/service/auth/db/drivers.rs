//! Driver selection: [`new_passdb`]/[`new_userdb`] build a `[[passdb]]`/`[[userdb]]` block's
//! driver by name, with the auth-worker helper pool ([`DbContext`]) for those that need one.

use std::sync::Arc;

use super::passwd_file;
use super::shadow;
use super::static_db;
use super::types::{DbError, Passdb, Userdb};
use crate::service::auth::settings::DbSettings;

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
