//! `AuthCore`: the shared state of one auth service (engine, configured mechanisms, pid and
//! connection counter) and its [`AuthApi`] implementation for in-process consumers.

use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;

use super::api::{AuthApi, BeginError, ClientInfo, Exchange, Step, UserLookup};
use super::engine::{Engine, UserOutcome};
use super::mech::{self, MechInfo};
use super::request::{Answer, Options, Request};
use crate::runtime::BoxFuture;

/// What the auth service shares between its listeners and the in-process API.
pub struct AuthCore {
    pub engine: Arc<Engine>,
    /// `auth_mechanisms`, in configured order.
    pub mechanisms: Vec<&'static MechInfo>,
    pub pid: u32,
    next_cuid: AtomicU64,
    /// Client pids of live login-socket connections (must be unique there).
    login_pids: std::sync::Mutex<std::collections::HashSet<u32>>,
}

/// Why the auth settings are unusable.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum SetupError {
    #[error("auth_mechanisms: unknown mechanism '{0}' (supported: PLAIN LOGIN CRAM-MD5 SCRAM-SHA-1 SCRAM-SHA-256 EXTERNAL ANONYMOUS)")]
    UnknownMechanism(String),
    #[error(transparent)]
    Db(#[from] super::db::DbError),
    #[error("{0}")]
    VerbosePasswords(String),
}

impl AuthCore {
    pub fn new(cfg: &super::settings::AuthSettings) -> Result<AuthCore, SetupError> {
        Self::with_context(cfg, &super::db::DbContext::default())
    }

    pub fn with_context(
        cfg: &super::settings::AuthSettings,
        ctx: &super::db::DbContext,
    ) -> Result<AuthCore, SetupError> {
        Self::with_penalty(cfg, ctx, Default::default())
    }

    /// As [`AuthCore::with_context`], with the penalty table of the server's anvil.
    pub fn with_penalty(
        cfg: &super::settings::AuthSettings,
        ctx: &super::db::DbContext,
        penalty: Arc<crate::service::anvil::penalty::Penalty>,
    ) -> Result<AuthCore, SetupError> {
        super::engine::VerbosePasswords::parse(&cfg.auth_verbose_passwords)
            .map_err(SetupError::VerbosePasswords)?;
        let mut mechanisms = Vec::new();
        for m in &cfg.auth_mechanisms {
            let info = mech::find(m).ok_or_else(|| SetupError::UnknownMechanism(m.clone()))?;
            if !mechanisms.contains(&info) {
                mechanisms.push(info);
            }
        }
        Ok(AuthCore {
            engine: Arc::new({
                let mut engine = Engine::with_context(cfg, ctx)?;
                engine.penalty = penalty;
                engine
            }),
            mechanisms,
            pid: std::process::id(),
            next_cuid: AtomicU64::new(1),
            login_pids: Default::default(),
        })
    }

    /// A configured mechanism by name.
    pub fn mechanism(&self, name: &str) -> Option<&'static MechInfo> {
        self.mechanisms
            .iter()
            .copied()
            .find(|m| m.name.eq_ignore_ascii_case(name))
    }

    /// Registers a login-socket CPID; `false` if a live connection already uses it.
    pub fn claim_login_pid(&self, pid: u32) -> bool {
        self.login_pids.lock().expect("login pids lock").insert(pid)
    }

    pub fn release_login_pid(&self, pid: u32) {
        self.login_pids
            .lock()
            .expect("login pids lock")
            .remove(&pid);
    }

    pub fn next_cuid(&self) -> u64 {
        self.next_cuid.fetch_add(1, Ordering::Relaxed)
    }
}

struct ApiExchange {
    req: Arc<tokio::sync::Mutex<Request>>,
}

impl Exchange for ApiExchange {
    fn step(&mut self, response: Option<Vec<u8>>) -> BoxFuture<Step> {
        let req = self.req.clone();
        Box::pin(async move {
            let answer = req.lock().await.step(response).await;
            match answer {
                Answer::Continue(d) => Step::Continue(d),
                Answer::Ok {
                    user,
                    fields,
                    final_data,
                } => Step::Success {
                    user,
                    fields,
                    final_data,
                },
                Answer::Fail {
                    user,
                    code,
                    reason,
                    delay,
                    ..
                } => {
                    tokio::time::sleep(delay).await;
                    Step::Fail { user, code, reason }
                }
            }
        })
    }
}

impl AuthApi for AuthCore {
    fn mechanisms(&self, secured: bool) -> Vec<String> {
        let hide_plain = self.engine.cfg.disable_plaintext_auth && !secured;
        self.mechanisms
            .iter()
            .filter(|m| !(hide_plain && m.plaintext))
            .map(|m| m.name.to_string())
            .collect()
    }

    fn begin(&self, mechanism: &str, info: ClientInfo) -> Result<Box<dyn Exchange>, BeginError> {
        let m = self
            .mechanism(mechanism)
            .ok_or(BeginError::UnknownMechanism)?;
        if m.plaintext && self.engine.cfg.disable_plaintext_auth && !info.secured {
            return Err(BeginError::PlaintextDisabled);
        }
        let resolve_userdb = !info.passdb_only;
        let req = Request::new(
            m,
            info,
            self.engine.clone(),
            Options {
                no_penalty: false,
                resolve_userdb,
            },
        );
        Ok(Box::new(ApiExchange {
            req: Arc::new(tokio::sync::Mutex::new(req)),
        }))
    }

    fn lookup_user(&self, user: &str, info: ClientInfo) -> BoxFuture<UserLookup> {
        let engine = self.engine.clone();
        let user = user.to_string();
        Box::pin(async move {
            match engine.userdb_lookup(&user, &info, None, false).await {
                UserOutcome::Found { user, fields } => match engine.check_uid(&fields) {
                    Ok(()) => UserLookup::Found {
                        user,
                        fields: fields.0,
                    },
                    Err(why) => UserLookup::Failed(why),
                },
                UserOutcome::NotFound => UserLookup::NotFound,
                UserOutcome::Failed(m) => UserLookup::Failed(m),
            }
        })
    }
}

#[cfg(test)]
mod tests;
