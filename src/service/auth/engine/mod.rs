//! The auth engine: username normalisation (`auth_username_chars`, `auth_default_realm`,
//! `auth_username_format`), the passdb chain with `result_*`/`skip`/`deny` handling and password
//! verification off the async threads, credential lookups for non-plaintext mechanisms, the
//! userdb chain (with `prefetch` and `static` existence checks), the cache, and the uid checks
//! (`first_valid_uid`/`last_valid_uid`) applied for in-process consumers. Log lines about a
//! request go through [`log`] (Dovecot's `passwd-file(user,rip,<session>): …` shape).

use std::net::IpAddr;
use std::sync::Arc;

use super::api::ClientInfo;
use super::cache::{Cache, Cached};
use super::db::{self, DbError, PassLookup, Passdb, Userdb};
use super::fields::Fields;
use super::schemes::{self, Credential};
use super::settings::{AuthSettings, DbSettings};
use super::vars::Vars;
use crate::service::anvil::penalty::Penalty;
pub use log::{VerbosePasswords, Who};

/// Why an authentication failed.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum FailKind {
    /// Wrong password (or user unknown, which clients cannot tell apart).
    Mismatch,
    UnknownUser,
    /// A db or scheme failed: `code=temp_fail`.
    Internal,
    /// `deny` passdb matched or `allow_nets` refused: `code=user_disabled` or a reason.
    Disabled,
    /// Username has characters outside `auth_username_chars`.
    BadUsername,
    /// A master-user login that is not allowed: `code=authz_fail`.
    Authz,
}

/// The end of a passdb chain.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum PassOutcome {
    Ok {
        user: String,
        /// passdb extra fields for the client (`proxy`, `host`, `nologin`, …).
        fields: Fields,
        /// `userdb_*` fields with the prefix removed (for `prefetch`).
        prefetch: Fields,
    },
    Fail {
        user: Option<String>,
        kind: FailKind,
        reason: Option<String>,
        /// passdb fields that travel with a failure (`nodelay`, `proxy`, …).
        fields: Fields,
    },
}

/// A credentials lookup for CRAM-MD5/SCRAM.
#[derive(Clone, Debug)]
pub enum CredOutcome {
    Ok {
        user: String,
        credential: Credential,
        fields: Fields,
        prefetch: Fields,
    },
    Fail(PassOutcome),
}

/// userdb chain result.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum UserOutcome {
    Found { user: String, fields: Fields },
    NotFound,
    Failed(String),
}

struct DbEntry<T: ?Sized> {
    cfg: DbSettings,
    db: Arc<T>,
}

/// The engine one auth service runs.
pub struct Engine {
    pub cfg: AuthSettings,
    passdbs: Vec<DbEntry<dyn Passdb>>,
    /// `master = yes` passdbs: who may log in as another user.
    master_passdbs: Vec<DbEntry<dyn Passdb>>,
    userdbs: Vec<DbEntry<dyn Userdb>>,
    pub cache: Cache,
    /// The penalty per IP: anvil's table when the server runs, a private one otherwise.
    pub penalty: Arc<Penalty>,
    pub metrics: Arc<super::metrics::Metrics>,
    /// `auth_verbose_passwords`, parsed (an invalid value is refused by `AuthCore`).
    verbose_passwords: VerbosePasswords,
}

/// What the request is for: affects `skip` and whether the password is checked.
#[derive(Clone, Copy, PartialEq, Eq)]
enum Mode {
    Verify,
    Credentials,
    /// Only whether the user exists (EXTERNAL, static userdb checks, `PASS` lookups).
    Lookup,
}

impl Engine {
    pub fn new(cfg: &AuthSettings) -> Result<Engine, DbError> {
        Self::with_context(cfg, &db::DbContext::default())
    }

    /// As [`Engine::new`], with helpers for drivers that need them (`shadow`, `passwd`).
    pub fn with_context(cfg: &AuthSettings, ctx: &db::DbContext) -> Result<Engine, DbError> {
        let build = |master: bool| {
            cfg.passdb
                .iter()
                .filter(|c| c.master == master)
                .map(|c| {
                    Ok(DbEntry {
                        cfg: c.clone(),
                        db: db::new_passdb(c, ctx)?,
                    })
                })
                .collect::<Result<Vec<_>, DbError>>()
        };
        let passdbs = build(false)?;
        let master_passdbs = build(true)?;
        let userdbs = cfg
            .userdb
            .iter()
            .map(|c| {
                Ok(DbEntry {
                    cfg: c.clone(),
                    db: db::new_userdb(c, ctx)?,
                })
            })
            .collect::<Result<Vec<_>, DbError>>()?;
        let metrics = Arc::new(super::metrics::Metrics::new());
        Ok(Engine {
            cache: Cache::new(
                cfg.auth_cache_size.0,
                cfg.auth_cache_ttl.as_duration(),
                cfg.auth_cache_negative_ttl.as_duration(),
                metrics.clone(),
            ),
            cfg: cfg.clone(),
            passdbs,
            master_passdbs,
            userdbs,
            penalty: Arc::default(),
            metrics,
            verbose_passwords: VerbosePasswords::parse(&cfg.auth_verbose_passwords)
                .unwrap_or(VerbosePasswords::No),
        })
    }

    /// The first character of `user` outside `auth_username_chars`, if any.
    pub fn disallowed_char(&self, user: &str) -> Option<char> {
        let chars = &self.cfg.auth_username_chars;
        if chars.is_empty() {
            return None;
        }
        user.chars().find(|c| !chars.contains(*c))
    }

    /// Applies `auth_username_chars`, `auth_default_realm` and `auth_username_format`.
    pub fn normalize_user(&self, user: &str) -> Result<String, FailKind> {
        if user.is_empty() {
            return Err(FailKind::BadUsername);
        }
        let chars = &self.cfg.auth_username_chars;
        if !chars.is_empty() && !user.chars().all(|c| chars.contains(c)) {
            return Err(FailKind::BadUsername);
        }
        let mut u = user.to_string();
        if !self.cfg.auth_default_realm.is_empty() && !u.contains('@') {
            u = format!("{u}@{}", self.cfg.auth_default_realm);
        }
        if !self.cfg.auth_username_format.is_empty() {
            u = match self.cfg.auth_username_format.as_str() {
                // The default, without the template machinery.
                "%Lu" => u.to_lowercase(),
                "%u" => u,
                f => Vars::new(&u).expand(f),
            };
        }
        Ok(u)
    }

    fn vars(user: &str, info: &ClientInfo) -> Vars {
        Vars {
            user: user.to_string(),
            service: info.service.clone(),
            rip: info.remote.map(|a| a.ip().to_string()).unwrap_or_default(),
            lip: info.local.map(|a| a.ip().to_string()).unwrap_or_default(),
            home: String::new(),
        }
    }

    fn passdb_list(&self, master: bool) -> &[DbEntry<dyn Passdb>] {
        if master {
            &self.master_passdbs
        } else {
            &self.passdbs
        }
    }

    async fn pass_lookup(&self, idx: usize, master: bool, vars: Arc<Vars>) -> PassLookup {
        let e = &self.passdb_list(master)[idx];
        if !e.db.cacheable() || !self.cache.enabled() {
            return e.db.lookup(vars).await;
        }
        let key = format!("{}{idx}\t{}", if master { 'M' } else { 'P' }, vars.user);
        {
            if let Some(Cached::Pass(r)) = self.cache.get(&key) {
                return r;
            }
        }
        let r = e.db.lookup(vars).await;
        if e.db.cacheable() {
            self.cache.put(&key, Cached::Pass(r.clone()));
        }
        r
    }

    /// Plaintext authentication (PLAIN, LOGIN).
    pub async fn verify_plain(
        &self,
        user: &str,
        password: &[u8],
        info: &ClientInfo,
    ) -> PassOutcome {
        self.passdb_chain(user, Some(password), info, Mode::Verify, None)
            .await
            .0
    }

    /// Credentials for a challenge-response mechanism (`wanted` = its scheme name).
    pub async fn lookup_credentials(
        &self,
        user: &str,
        wanted: &str,
        info: &ClientInfo,
    ) -> CredOutcome {
        let (outcome, cred) = self
            .passdb_chain(user, None, info, Mode::Credentials, Some(wanted))
            .await;
        match (outcome, cred) {
            (
                PassOutcome::Ok {
                    user,
                    fields,
                    prefetch,
                },
                Some(credential),
            ) => CredOutcome::Ok {
                user,
                credential,
                fields,
                prefetch,
            },
            (PassOutcome::Ok { user, fields, .. }, None) => CredOutcome::Fail(PassOutcome::Fail {
                user: Some(user),
                kind: FailKind::Internal,
                reason: None,
                fields,
            }),
            (fail, _) => CredOutcome::Fail(fail),
        }
    }

    /// Whether the user exists, without a password (EXTERNAL, `PASS` lookups).
    pub async fn lookup_pass(&self, user: &str, info: &ClientInfo) -> PassOutcome {
        self.passdb_chain(user, None, info, Mode::Lookup, None)
            .await
            .0
    }

    async fn passdb_chain(
        &self,
        raw_user: &str,
        password: Option<&[u8]>,
        info: &ClientInfo,
        mode: Mode,
        wanted: Option<&str>,
    ) -> (PassOutcome, Option<Credential>) {
        self.chain_on(false, raw_user, password, info, mode, wanted)
            .await
    }

    /// Master-user login (`passdb { master = yes }`): `master_user` authenticates with its own
    /// password and becomes `target`. With `pass = yes` on the master passdb that matched, the
    /// target must also exist in the normal passdbs.
    pub async fn verify_master(
        &self,
        mech: &str,
        master_user: &str,
        password: &[u8],
        target: &str,
        info: &ClientInfo,
    ) -> PassOutcome {
        let fail = |user: Option<String>, kind| PassOutcome::Fail {
            user,
            kind,
            reason: None,
            fields: Fields::default(),
        };
        if self.master_passdbs.is_empty() {
            let who = Who {
                name: mech,
                user: Some(master_user),
                info,
            };
            self.log_info(
                &who,
                "login user: Master user login attempted without master passdbs",
            );
            return fail(Some(target.to_string()), FailKind::Authz);
        }
        let (m, _) = self
            .chain_on(true, master_user, Some(password), info, Mode::Verify, None)
            .await;
        let master = match m {
            PassOutcome::Ok { user, .. } => user,
            fail => return fail,
        };
        let need_target = self.master_passdbs.iter().any(|e| e.cfg.pass);
        if need_target {
            match self.lookup_pass(target, info).await {
                PassOutcome::Ok {
                    user,
                    mut fields,
                    prefetch,
                } => {
                    fields.remove("password");
                    fields.set("master_user", master);
                    PassOutcome::Ok {
                        user,
                        fields,
                        prefetch,
                    }
                }
                other => other,
            }
        } else {
            match self.normalize_user(target) {
                Ok(user) => {
                    let mut fields = Fields::default();
                    fields.set("master_user", master);
                    PassOutcome::Ok {
                        user,
                        fields,
                        prefetch: Fields::default(),
                    }
                }
                Err(kind) => fail(None, kind),
            }
        }
    }

    async fn chain_on(
        &self,
        master: bool,
        raw_user: &str,
        password: Option<&[u8]>,
        info: &ClientInfo,
        mode: Mode,
        wanted: Option<&str>,
    ) -> (PassOutcome, Option<Credential>) {
        let dbs = self.passdb_list(master);
        let mut user = match self.normalize_user(raw_user) {
            Ok(u) => u,
            Err(kind) => {
                return (
                    PassOutcome::Fail {
                        user: None,
                        kind,
                        reason: None,
                        fields: Fields::default(),
                    },
                    None,
                )
            }
        };
        if dbs.is_empty() {
            tracing::error!("auth: no passdbs configured ([[passdb]] driver = …)");
            return (
                PassOutcome::Fail {
                    user: Some(user),
                    kind: FailKind::Internal,
                    reason: None,
                    fields: Fields::default(),
                },
                None,
            );
        }
        let mut success = false;
        // Set once a passdb verified the password and said `continue`: later ones only add fields.
        let mut verified = false;
        let mut last_fail = FailKind::UnknownUser;
        let mut fields = Fields::default();
        let mut credential = None;
        // The passdb that decided, for the policy checks' log lines.
        let mut decided_by = "";
        for (idx, e) in dbs.iter().enumerate() {
            match e.cfg.skip.as_str() {
                "authenticated" if success => continue,
                "unauthenticated" if !success => continue,
                _ => {}
            }
            let vars = Arc::new(Self::vars(&user, info));
            let found = self.pass_lookup(idx, master, vars.clone()).await;
            let next_passdb = idx + 1 < dbs.len();
            let who = Who {
                name: &e.cfg.driver,
                user: Some(&user),
                info,
            };
            let result: Result<(), FailKind> = match found {
                PassLookup::NotFound => {
                    self.log_login_failure(&who, "unknown user", password, next_passdb);
                    Err(FailKind::UnknownUser)
                }
                PassLookup::InternalFail(msg) => {
                    self.log_error(&who, &msg);
                    Err(FailKind::Internal)
                }
                PassLookup::Found {
                    password: stored,
                    fields: mut f,
                } => {
                    if mode == Mode::Lookup {
                        // PASS lookups return the stored password (stripped on userdb sockets
                        // and never sent to auth clients).
                        if let Some(p) = &stored {
                            f.set("password", p.clone());
                        }
                    }
                    f.add_defaults(&Fields::parse(&e.cfg.default_fields, Some(&vars)));
                    f.apply_overrides(&Fields::parse(&e.cfg.override_fields, Some(&vars)));
                    if e.cfg.deny {
                        if self.verbose() {
                            tracing::info!("User found from deny passdb");
                        }
                        return (
                            PassOutcome::Fail {
                                user: Some(user),
                                kind: FailKind::Disabled,
                                reason: None,
                                fields: Fields::default(),
                            },
                            None,
                        );
                    }
                    let r = self
                        .check_password(
                            mode,
                            verified,
                            password,
                            stored.as_deref(),
                            &f,
                            e.db.default_scheme(),
                            (&who, next_passdb),
                            wanted,
                            &mut credential,
                        )
                        .await;
                    if r.is_ok() || !matches!(r, Err(FailKind::Mismatch)) {
                        for (k, v) in f.0 {
                            fields.set(&k, v);
                        }
                    }
                    r
                }
            };
            if let Some(u) = fields.remove("user") {
                // A passdb may change the username (`user=` extra field).
                user = u;
            }
            decided_by = &e.cfg.driver;
            let action = match &result {
                Ok(()) => e.cfg.result_success.as_str(),
                Err(FailKind::Internal) => e.cfg.result_internalfail.as_str(),
                Err(_) => e.cfg.result_failure.as_str(),
            };
            if let Err(k) = result {
                last_fail = k;
            }
            match action {
                "return" => {
                    success = result.is_ok();
                    break;
                }
                "return-ok" => {
                    success = true;
                    break;
                }
                "return-fail" => {
                    success = false;
                    if result.is_ok() {
                        last_fail = FailKind::Mismatch;
                    }
                    break;
                }
                "continue-ok" => {
                    success = true;
                    verified = true;
                }
                "continue-fail" => success = false,
                _ => {
                    // `continue`
                    if result.is_ok() {
                        verified = true;
                    }
                }
            }
        }
        if !success {
            return (
                PassOutcome::Fail {
                    user: Some(user),
                    kind: last_fail,
                    reason: None,
                    fields,
                },
                None,
            );
        }
        let who = Who {
            name: decided_by,
            user: Some(&user),
            info,
        };
        if let Some(fail) = self.check_policy(&who, &fields) {
            return (fail, None);
        }
        let (pass, prefetch) = fields.split_userdb();
        (
            PassOutcome::Ok {
                user,
                fields: pass,
                prefetch,
            },
            credential,
        )
    }

    #[allow(clippy::too_many_arguments)]
    async fn check_password(
        &self,
        mode: Mode,
        verified: bool,
        password: Option<&[u8]>,
        stored: Option<&str>,
        fields: &Fields,
        default_scheme: &str,
        (who, next_passdb): (&Who<'_>, bool),
        wanted: Option<&str>,
        credential: &mut Option<Credential>,
    ) -> Result<(), FailKind> {
        let user = who.user.unwrap_or_default();
        if verified || mode == Mode::Lookup {
            return Ok(());
        }
        if fields.has("nopassword") {
            if mode == Mode::Credentials {
                *credential = Some(Credential::Plain(Vec::new()));
            }
            return Ok(());
        }
        let Some(stored) = stored else {
            // An empty password field: Dovecot compares against it and logs a mismatch.
            self.log_login_failure(who, "Password mismatch", password, next_passdb);
            return Err(FailKind::Mismatch);
        };
        if mode == Mode::Credentials {
            let wanted = wanted.unwrap_or("PLAIN");
            return match schemes::credentials(stored, default_scheme, wanted) {
                Some(c) => {
                    *credential = Some(c);
                    Ok(())
                }
                None => {
                    let have = schemes::split(stored, default_scheme).scheme;
                    self.log_info(
                        who,
                        &format!("Requested {wanted} scheme, but we have only {have}"),
                    );
                    Err(FailKind::Internal)
                }
            };
        }
        let res = if schemes::is_cheap(stored, default_scheme) {
            // A plaintext compare or one digest: cheaper than a thread hop.
            Ok(schemes::verify(
                password.unwrap_or_default(),
                stored,
                default_scheme,
                user,
            ))
        } else {
            let password = password.unwrap_or_default().to_vec();
            let stored = stored.to_string();
            let scheme = default_scheme.to_string();
            let u = user.to_string();
            tokio::task::spawn_blocking(move || schemes::verify(&password, &stored, &scheme, &u))
                .await
        };
        match res {
            Ok(Ok(true)) => Ok(()),
            Ok(Ok(false)) => {
                self.log_login_failure(who, "Password mismatch", password, next_passdb);
                Err(FailKind::Mismatch)
            }
            Ok(Err(e)) => {
                self.log_error(who, &format!("password check failed: {e}"));
                Err(FailKind::Internal)
            }
            Err(e) => {
                self.log_error(who, &format!("password check panicked: {e}"));
                Err(FailKind::Internal)
            }
        }
    }

    /// `allow_nets` after a successful passdb chain. (`nologin` is not a failure here: as in
    /// Dovecot, auth answers OK with the `nologin` and `reason` fields, and the login service
    /// refuses the login.)
    fn check_policy(&self, who: &Who, fields: &Fields) -> Option<PassOutcome> {
        let user = who.user.unwrap_or_default();
        if let Some(nets) = fields.get("allow_nets") {
            let ip = who.info.remote.map(|a| a.ip());
            if !allow_nets_match(nets, ip) {
                let why = match ip {
                    Some(ip) => format!("allow_nets check failed: IP {ip} not in allowed networks"),
                    None => "allow_nets check failed: Remote IP not known and 'local' missing"
                        .to_string(),
                };
                self.log_info(who, &why);
                return Some(PassOutcome::Fail {
                    user: Some(user.to_string()),
                    kind: FailKind::Mismatch,
                    reason: None,
                    fields: Fields::default(),
                });
            }
        }
        None
    }

    /// The penalty of a remote address (0 without one).
    pub fn penalty_of(&self, ip: Option<IpAddr>) -> u32 {
        ip.map_or(0, |ip| self.penalty.get(ip))
    }
}

/// `allow_nets=` matching: comma/space separated networks; `local` matches requests without
/// a remote IP (unix sockets).
pub fn allow_nets_match(nets: &str, ip: Option<IpAddr>) -> bool {
    for net in nets.split([',', ' ']).filter(|s| !s.is_empty()) {
        match ip {
            None if net == "local" => return true,
            None => {}
            Some(ip) => {
                if let Ok(n) = net.parse::<ipnet::IpNet>() {
                    if n.contains(&ip) {
                        return true;
                    }
                } else if let Ok(a) = net.parse::<IpAddr>() {
                    if a == ip {
                        return true;
                    }
                }
            }
        }
    }
    false
}

pub mod log;
mod userdb;

#[cfg(test)]
pub(crate) mod tests;
