//! One authentication request from start to answer, shared by the auth-client socket and the
//! in-process API: the per-IP penalty wait before the first step, the mechanism steps, the
//! userdb lookup and uid check for in-process logins, `auth_failure_delay` (unless `nodelay`),
//! penalty updates, and the request metrics.

use std::net::IpAddr;
use std::sync::Arc;
use std::time::{Duration, Instant};

use super::api::ClientInfo;
use super::engine::{Engine, UserOutcome, Who};
use super::fail_code::FailCode;
use super::mech::{self, MechInfo, Outcome};
use crate::service::anvil::penalty;

/// What the client is told after a step.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Answer {
    Continue(Vec<u8>),
    Ok {
        user: String,
        fields: Vec<(String, String)>,
        final_data: Option<Vec<u8>>,
    },
    Fail {
        user: Option<String>,
        code: FailCode,
        reason: Option<String>,
        fields: Vec<(String, String)>,
        /// Wait this long before sending the FAIL (`auth_failure_delay`).
        delay: Duration,
    },
}

/// Options that come from the auth-client `AUTH` line rather than [`ClientInfo`].
#[derive(Clone, Copy, Debug, Default)]
pub struct Options {
    /// `no-penalty`: the client applies its own penalty.
    pub no_penalty: bool,
    /// In-process logins: resolve the userdb and check the uid before answering OK.
    pub resolve_userdb: bool,
}

/// A request in progress.
pub struct Request {
    state: mech::State,
    engine: Arc<Engine>,
    opts: Options,
    started: Instant,
    /// Penalty found at the first step; `None` until then.
    penalty: Option<u32>,
}

impl Request {
    pub fn new(
        mech: &'static MechInfo,
        info: ClientInfo,
        engine: Arc<Engine>,
        opts: Options,
    ) -> Request {
        Request {
            state: mech::State::new(mech, info, engine.clone()),
            engine,
            opts,
            started: Instant::now(),
            penalty: None,
        }
    }

    /// Time since the request started.
    pub fn age(&self) -> Duration {
        self.started.elapsed()
    }

    pub fn mechanism(&self) -> &'static str {
        self.state.mech.name
    }

    fn rip(&self) -> Option<IpAddr> {
        if self.opts.no_penalty {
            return None;
        }
        self.state.info.remote.map(|a| a.ip())
    }

    /// Feeds one response (`None`: no initial response) and returns the answer.
    pub async fn step(&mut self, resp: Option<Vec<u8>>) -> Answer {
        if self.penalty.is_none() {
            let p = self.engine.penalty_of(self.rip());
            self.penalty = Some(p);
            if p > 0 {
                tokio::time::sleep(Duration::from_secs(penalty::to_secs(p))).await;
            }
        }
        let out = self.state.step(resp).await;
        let answer = match out {
            Outcome::Continue(d) => return Answer::Continue(d),
            Outcome::Success {
                user,
                fields,
                prefetch,
                final_data,
            } => self.success(user, fields, prefetch, final_data).await,
            Outcome::Failure(f) => {
                if let Some(ip) = self.rip() {
                    let sum = penalty::checksum(
                        f.password.as_deref().unwrap_or_default(),
                        f.user.as_deref().unwrap_or(""),
                    );
                    self.engine
                        .penalty
                        .update(ip, sum, self.penalty.unwrap_or(0) + 1);
                }
                Answer::Fail {
                    user: f.user,
                    code: f.code,
                    reason: f.reason,
                    fields: f.fields.0,
                    delay: if f.nodelay {
                        Duration::ZERO
                    } else {
                        self.engine.cfg.auth_failure_delay.as_duration()
                    },
                }
            }
        };
        let result = match &answer {
            Answer::Ok { .. } => "ok",
            Answer::Fail { code, .. } if code.is_temp() => "tempfail",
            _ => "fail",
        };
        self.engine
            .metrics
            .request_done(self.mechanism(), result, self.started.elapsed());
        answer
    }

    async fn success(
        &mut self,
        user: String,
        fields: super::fields::Fields,
        prefetch: super::fields::Fields,
        final_data: Option<Vec<u8>>,
    ) -> Answer {
        if let Some(ip) = self.rip() {
            if self.penalty.unwrap_or(0) > 0 {
                self.engine.penalty.update(ip, 0, 0);
            }
        }
        let mut out: Vec<(String, String)> = fields
            .0
            .into_iter()
            .filter(|(k, _)| !super::fields::INTERNAL_PASSDB_FIELDS.contains(&k.as_str()))
            .collect();
        // No userdb for a proxied login, nor for a `nologin` one the login service refuses.
        if self.opts.resolve_userdb && !out.iter().any(|(k, _)| k == "proxy" || k == "nologin") {
            let info = &self.state.info;
            match self
                .engine
                .userdb_lookup(&user, info, Some(&prefetch), true)
                .await
            {
                UserOutcome::Found { fields: uf, .. } => {
                    if let Err(why) = self.engine.check_uid(&uf) {
                        self.log_userdb_error(&user, &why);
                        return self.temp_fail(user, "Internal login failure");
                    }
                    for (k, v) in uf.0 {
                        match out.iter_mut().find(|(ok, _)| *ok == k) {
                            Some(e) => e.1 = v,
                            None => out.push((k, v)),
                        }
                    }
                }
                UserOutcome::NotFound => {
                    self.log_userdb_error(&user, "user not found from userdb");
                    return self.temp_fail(user, "Internal login failure");
                }
                UserOutcome::Failed(m) => {
                    self.log_userdb_error(&user, &format!("userdb lookup failed: {m}"));
                    return self.temp_fail(user, "Internal login failure");
                }
            }
        }
        Answer::Ok {
            user,
            fields: out,
            final_data,
        }
    }

    /// Dovecot's `passwd-file(user,rip,<session>): …` error line for the userdb step.
    fn log_userdb_error(&self, user: &str, msg: &str) {
        let who = Who {
            name: self.engine.userdb_log_name(),
            user: Some(user),
            info: &self.state.info,
        };
        self.engine.log_error(&who, msg);
    }

    fn temp_fail(&self, user: String, reason: &str) -> Answer {
        Answer::Fail {
            user: Some(user),
            code: FailCode::TempFail,
            reason: Some(reason.into()),
            fields: Vec::new(),
            delay: Duration::ZERO,
        }
    }
}
