//! The userdb side of the engine: the userdb chain (with `prefetch`, `static` existence checks,
//! `default_fields`/`override_fields` and `result_*`), `LIST` iteration, and the
//! `first_valid_uid`/`last_valid_uid` check for logins and deliveries.

use std::sync::Arc;

use super::{Engine, FailKind, PassOutcome, UserOutcome};
use crate::service::auth::api::ClientInfo;
use crate::service::auth::cache::Cached;
use crate::service::auth::db::UserLookupRaw;
use crate::service::auth::fields::Fields;

impl Engine {
    /// The userdb chain. `prefetch` holds `userdb_*` fields from a passdb lookup;
    /// `authenticated` skips the existence check of `static` userdbs.
    pub async fn userdb_lookup(
        &self,
        raw_user: &str,
        info: &ClientInfo,
        prefetch: Option<&Fields>,
        authenticated: bool,
    ) -> UserOutcome {
        let user = match self.normalize_user(raw_user) {
            Ok(u) => u,
            Err(_) => return UserOutcome::NotFound,
        };
        if self.userdbs.is_empty() {
            return UserOutcome::Failed("no userdbs configured".into());
        }
        let mut found = false;
        let mut fields = Fields::default();
        let mut failed = None;
        for (idx, e) in self.userdbs.iter().enumerate() {
            let mut vars = Self::vars(&user, info);
            let raw = if e.cfg.driver == "prefetch" {
                match prefetch {
                    Some(p) if !p.is_empty() => UserLookupRaw::Found(p.clone()),
                    _ => UserLookupRaw::NotFound,
                }
            } else {
                let key = format!("U{idx}\t{user}");
                let use_cache = e.db.cacheable() && self.cache.enabled();
                let cached = if use_cache {
                    self.cache.get(&key)
                } else {
                    None
                };
                match cached {
                    Some(Cached::User(r)) => r,
                    _ => {
                        let r = e.db.lookup(Arc::new(vars.clone())).await;
                        if use_cache {
                            self.cache.put(&key, Cached::User(r.clone()));
                        }
                        r
                    }
                }
            };
            let raw = match raw {
                UserLookupRaw::Found(f) if e.db.requires_passdb_lookup() && !authenticated => {
                    match self.lookup_pass(&user, info).await {
                        PassOutcome::Ok { .. } => UserLookupRaw::Found(f),
                        PassOutcome::Fail {
                            kind: FailKind::Internal,
                            ..
                        } => UserLookupRaw::InternalFail("passdb lookup failed".into()),
                        PassOutcome::Fail { .. } => UserLookupRaw::NotFound,
                    }
                }
                other => other,
            };
            let ok = match raw {
                UserLookupRaw::Found(mut f) => {
                    vars.home = f.get("home").unwrap_or_default().to_string();
                    f.add_defaults(&Fields::parse(&e.cfg.default_fields, Some(&vars)));
                    f.apply_overrides(&Fields::parse(&e.cfg.override_fields, Some(&vars)));
                    for (k, v) in f.0 {
                        fields.set(&k, v);
                    }
                    Ok(())
                }
                UserLookupRaw::NotFound => Err(false),
                UserLookupRaw::InternalFail(m) => {
                    let who = super::Who {
                        name: &e.cfg.driver,
                        user: Some(&user),
                        info,
                    };
                    self.log_error(&who, &m);
                    failed = Some(m);
                    Err(true)
                }
            };
            let action = match ok {
                Ok(()) => e.cfg.result_success.as_str(),
                Err(true) => e.cfg.result_internalfail.as_str(),
                Err(false) => e.cfg.result_failure.as_str(),
            };
            match action {
                "return" => {
                    found = ok.is_ok();
                    break;
                }
                "return-ok" => {
                    found = true;
                    break;
                }
                "return-fail" => {
                    found = false;
                    break;
                }
                "continue-ok" => found = true,
                "continue-fail" => found = false,
                _ => found |= ok.is_ok(),
            }
        }
        if found {
            let user = fields.remove("user").unwrap_or(user);
            UserOutcome::Found { user, fields }
        } else if let Some(m) = failed {
            UserOutcome::Failed(m)
        } else {
            UserOutcome::NotFound
        }
    }

    /// The name userdb log lines carry: the last userdb's driver (`userdb` without one).
    pub fn userdb_log_name(&self) -> &str {
        self.userdbs
            .last()
            .map_or("userdb", |e| e.cfg.driver.as_str())
    }

    /// Lists users of every userdb that can iterate.
    pub async fn list_users(&self) -> Option<Vec<String>> {
        let mut all = Vec::new();
        let mut any = false;
        for e in &self.userdbs {
            if let Some(mut v) = e.db.iterate().await {
                any = true;
                all.append(&mut v);
            }
        }
        any.then_some(all)
    }

    /// `first_valid_uid`/`last_valid_uid` and uid 0, for a login or delivery (spec §8 item 27).
    pub fn check_uid(&self, fields: &Fields) -> Result<(), String> {
        let Some(uid) = fields.get("uid") else {
            return Ok(());
        };
        let n = match uid.parse::<u32>() {
            Ok(n) => n,
            Err(_) => match nix::unistd::User::from_name(uid) {
                Ok(Some(u)) => u.uid.as_raw(),
                _ => return Err(format!("userdb returned unknown uid '{uid}'")),
            },
        };
        if n == 0 {
            return Err("userdb returned uid 0 (root), which is never allowed".into());
        }
        if n < self.cfg.first_valid_uid
            || (self.cfg.last_valid_uid != 0 && n > self.cfg.last_valid_uid)
        {
            return Err(format!(
                "userdb uid {n} is outside first_valid_uid={}..last_valid_uid={}",
                self.cfg.first_valid_uid, self.cfg.last_valid_uid
            ));
        }
        Ok(())
    }
}
