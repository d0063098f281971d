//! [`State`], the per-request state machine that drives a mechanism against the
//! [`Engine`], and what each step produced ([`Outcome`], [`Failure`]).

use std::sync::Arc;

use super::info::MechInfo;
use super::{cram_md5, plain, scram};
use crate::service::auth::api::ClientInfo;
use crate::service::auth::engine::{CredOutcome, Engine, FailKind, PassOutcome, Who};
use crate::service::auth::fail_code::FailCode;
use crate::service::auth::fields::Fields;

/// What one step produced.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Outcome {
    Continue(Vec<u8>),
    Success {
        user: String,
        /// passdb fields for the client.
        fields: Fields,
        /// `userdb_*` fields from the passdb.
        prefetch: Fields,
        final_data: Option<Vec<u8>>,
    },
    Failure(Failure),
}

/// A failed authentication, with what the caller needs for the reply, the delay and the penalty.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Failure {
    pub user: Option<String>,
    pub code: FailCode,
    pub reason: Option<String>,
    /// Extra passdb fields sent with the FAIL (`nologin`, `proxy`, …).
    pub fields: Fields,
    /// The password tried, for the penalty checksum.
    pub password: Option<Vec<u8>>,
    /// Skip `auth_failure_delay` (passdb `nodelay`).
    pub nodelay: bool,
}

impl Failure {
    pub fn plain(user: Option<String>) -> Failure {
        Failure {
            user,
            code: FailCode::None,
            reason: None,
            fields: Fields::default(),
            password: None,
            nodelay: false,
        }
    }

    fn from_pass(o: PassOutcome, password: Option<Vec<u8>>) -> Failure {
        match o {
            PassOutcome::Fail {
                user,
                kind,
                reason,
                fields,
            } => Failure {
                user,
                code: match kind {
                    FailKind::Internal => FailCode::TempFail,
                    FailKind::Authz => FailCode::AuthzFail,
                    FailKind::Disabled if reason.is_none() && !fields.has("nologin") => {
                        FailCode::UserDisabled
                    }
                    _ => FailCode::None,
                },
                nodelay: fields.has("nodelay"),
                reason,
                fields,
                password,
            },
            PassOutcome::Ok { user, .. } => Failure::plain(Some(user)),
        }
    }
}

enum Stage {
    Start,
    LoginPassword { user: String },
    CramMd5 { challenge: String },
    ScramFinal(Box<scram::ServerState>),
    Done,
}

/// One SASL exchange in progress.
pub struct State {
    pub mech: &'static MechInfo,
    pub info: ClientInfo,
    engine: Arc<Engine>,
    stage: Stage,
}

fn ok_from(o: PassOutcome, password: Option<Vec<u8>>, final_data: Option<Vec<u8>>) -> Outcome {
    match o {
        PassOutcome::Ok {
            user,
            fields,
            prefetch,
        } => Outcome::Success {
            user,
            fields,
            prefetch,
            final_data,
        },
        fail => Outcome::Failure(Failure::from_pass(fail, password)),
    }
}

impl State {
    pub fn new(mech: &'static MechInfo, info: ClientInfo, engine: Arc<Engine>) -> State {
        State {
            mech,
            info,
            engine,
            stage: Stage::Start,
        }
    }

    /// Feeds one client response (`None`: no initial response).
    pub async fn step(&mut self, resp: Option<Vec<u8>>) -> Outcome {
        let stage = std::mem::replace(&mut self.stage, Stage::Done);
        let out = self.run(stage, resp).await;
        if !matches!(out, Outcome::Continue(_)) {
            self.stage = Stage::Done;
        }
        out
    }

    async fn run(&mut self, stage: Stage, resp: Option<Vec<u8>>) -> Outcome {
        let engine = self.engine.clone();
        match (self.mech.name, stage) {
            (_, Stage::Done) => Outcome::Failure(Failure::plain(None)),
            ("PLAIN", Stage::Start) => {
                let Some(data) = resp else {
                    self.stage = Stage::Start;
                    return Outcome::Continue(Vec::new());
                };
                let msg = match plain::parse_plain(&data) {
                    Ok(m) => m,
                    Err(e) => return self.invalid(e.to_string()),
                };
                let o = if !msg.authzid.is_empty() && msg.authzid != msg.authcid {
                    // authzid names the user to become; authcid is the master user.
                    engine
                        .verify_master(
                            &self.log_name(),
                            &msg.authcid,
                            &msg.password,
                            &msg.authzid,
                            &self.info,
                        )
                        .await
                } else {
                    self.plain_login(&msg.authcid, &msg.password).await
                };
                ok_from(o, Some(msg.password), None)
            }
            ("LOGIN", Stage::Start) => match resp {
                None => self.stage_login_user(),
                Some(user) => self.login_user(user),
            },
            ("LOGIN", Stage::LoginPassword { user }) if user.is_empty() => {
                self.login_user(resp.unwrap_or_default())
            }
            ("LOGIN", Stage::LoginPassword { user }) => {
                let pw = resp.unwrap_or_default();
                let o = self.plain_login(&user, &pw).await;
                ok_from(o, Some(pw), None)
            }
            ("CRAM-MD5", Stage::Start) => {
                let challenge = cram_md5::challenge();
                self.stage = Stage::CramMd5 {
                    challenge: challenge.clone(),
                };
                Outcome::Continue(challenge.into_bytes())
            }
            ("CRAM-MD5", Stage::CramMd5 { challenge }) => {
                let (user, digest) = match cram_md5::parse_response(&resp.unwrap_or_default()) {
                    Ok(v) => v,
                    Err(e) => return self.invalid(e.to_string()),
                };
                match engine
                    .lookup_credentials(&user, "CRAM-MD5", &self.info)
                    .await
                {
                    CredOutcome::Ok {
                        user,
                        credential,
                        fields,
                        prefetch,
                    } => {
                        if cram_md5::verify(&credential, challenge.as_bytes(), &digest) {
                            ok_from(
                                PassOutcome::Ok {
                                    user,
                                    fields,
                                    prefetch,
                                },
                                None,
                                None,
                            )
                        } else {
                            self.log_mismatch(&user);
                            Outcome::Failure(Failure::plain(Some(user)))
                        }
                    }
                    CredOutcome::Fail(o) => {
                        self.log_bad_username(&user, &o);
                        Outcome::Failure(Failure::from_pass(o, None))
                    }
                }
            }
            (name @ ("SCRAM-SHA-1" | "SCRAM-SHA-256"), Stage::Start) => {
                let Some(data) = resp else {
                    self.stage = Stage::Start;
                    return Outcome::Continue(Vec::new());
                };
                let first = match scram::ClientFirst::parse(&data) {
                    Ok(f) => f,
                    Err(e) => return self.invalid(e.to_string()),
                };
                if !first.authzid.is_empty() && first.authzid != first.user {
                    // Master-user logins need the password, which SCRAM never reveals.
                    let mut f = Failure::plain(Some(first.user));
                    f.code = FailCode::AuthzFail;
                    return Outcome::Failure(f);
                }
                let alg = scram::alg_for(name);
                match engine
                    .lookup_credentials(&first.user, name, &self.info)
                    .await
                {
                    CredOutcome::Ok {
                        user,
                        credential,
                        fields,
                        prefetch,
                    } => {
                        let Some(keys) = scram::Keys::from_credential(alg, &credential) else {
                            return Outcome::Failure(Failure::from_pass(
                                PassOutcome::Fail {
                                    user: Some(user),
                                    kind: FailKind::Internal,
                                    reason: None,
                                    fields: Fields::default(),
                                },
                                None,
                            ));
                        };
                        let st = scram::ServerState::new(alg, first, keys, user, fields, prefetch);
                        let msg = st.server_first.clone().into_bytes();
                        self.stage = Stage::ScramFinal(Box::new(st));
                        Outcome::Continue(msg)
                    }
                    CredOutcome::Fail(o) => {
                        self.log_bad_username(&first.user, &o);
                        Outcome::Failure(Failure::from_pass(o, None))
                    }
                }
            }
            (_, Stage::ScramFinal(st)) => match st.finish(&resp.unwrap_or_default()) {
                Ok(server_final) => ok_from(
                    PassOutcome::Ok {
                        user: st.user.clone(),
                        fields: st.fields.clone(),
                        prefetch: st.prefetch.clone(),
                    },
                    None,
                    Some(server_final.into_bytes()),
                ),
                Err(scram::ScramError::Mismatch) => {
                    self.log_mismatch(&st.user);
                    Outcome::Failure(Failure::plain(Some(st.user.clone())))
                }
                Err(e) => self.invalid(e.to_string()),
            },
            ("EXTERNAL", Stage::Start) => {
                let Some(cert_user) = self.info.cert_username.clone() else {
                    let mut f = Failure::plain(None);
                    f.reason = Some("Client didn't present a valid SSL certificate".into());
                    return Outcome::Failure(f);
                };
                let authzid = String::from_utf8_lossy(&resp.unwrap_or_default()).into_owned();
                if !authzid.is_empty() && authzid != cert_user {
                    let mut f = Failure::plain(Some(cert_user));
                    f.code = FailCode::AuthzFail;
                    return Outcome::Failure(f);
                }
                let o = engine.lookup_pass(&cert_user, &self.info).await;
                self.log_bad_username(&cert_user, &o);
                ok_from(o, None, None)
            }
            ("ANONYMOUS", Stage::Start) => {
                // The response is trace information only.
                Outcome::Success {
                    user: engine.cfg.auth_anonymous_username.clone(),
                    fields: Fields::default(),
                    prefetch: Fields::default(),
                    final_data: None,
                }
            }
            (_, _) => self.invalid("unexpected state".into()),
        }
    }

    /// A username/password check; `target<sep>master` with `auth_master_user_separator`
    /// is a master-user login.
    async fn plain_login(&self, user: &str, password: &[u8]) -> PassOutcome {
        let sep = &self.engine.cfg.auth_master_user_separator;
        if !sep.is_empty() {
            if let Some((target, master)) = user.split_once(sep.as_str()) {
                return self
                    .engine
                    .verify_master(&self.log_name(), master, password, target, &self.info)
                    .await;
            }
        }
        let o = self.engine.verify_plain(user, password, &self.info).await;
        self.log_bad_username(user, &o);
        o
    }

    /// The mechanism as it names log lines (`plain`, `cram-md5`).
    fn log_name(&self) -> String {
        self.mech.name.to_ascii_lowercase()
    }

    /// Logs a mechanism-side line about the request (with `auth_verbose`).
    fn log_info(&self, user: Option<&str>, msg: &str) {
        let name = self.log_name();
        let who = Who {
            name: &name,
            user,
            info: &self.info,
        };
        self.engine.log_info(&who, msg);
    }

    /// A password mismatch found by the mechanism itself (CRAM-MD5, SCRAM).
    fn log_mismatch(&self, user: &str) {
        let name = self.log_name();
        let who = Who {
            name: &name,
            user: Some(user),
            info: &self.info,
        };
        self.engine
            .log_login_failure(&who, "Password mismatch", None, false);
    }

    /// Dovecot's line for a username refused by `auth_username_chars`.
    fn log_bad_username(&self, raw: &str, o: &PassOutcome) {
        if let PassOutcome::Fail {
            kind: FailKind::BadUsername,
            ..
        } = o
        {
            if let Some(c) = self.engine.disallowed_char(raw) {
                let code = u32::from(c);
                self.log_info(
                    None,
                    &format!("Username character disallowed by auth_username_chars: 0x{code:02x} (username: {raw})"),
                );
            }
        }
    }

    fn stage_login_user(&mut self) -> Outcome {
        self.stage = Stage::LoginPassword {
            user: String::new(),
        };
        Outcome::Continue(b"Username:".to_vec())
    }

    fn login_user(&mut self, user: Vec<u8>) -> Outcome {
        match String::from_utf8(user) {
            Ok(u) if !u.is_empty() && !u.contains('\0') => {
                self.stage = Stage::LoginPassword { user: u };
                Outcome::Continue(b"Password:".to_vec())
            }
            _ => self.invalid("invalid username".into()),
        }
    }

    /// Input the mechanism cannot parse: PLAIN logs Dovecot's `invalid input`, the others
    /// what was wrong.
    fn invalid(&self, why: String) -> Outcome {
        let msg = if self.mech.name == "PLAIN" {
            "invalid input"
        } else {
            &why
        };
        self.log_info(None, msg);
        Outcome::Failure(Failure::plain(None))
    }
}
