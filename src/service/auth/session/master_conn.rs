//! The auth-master / auth-userdb side of the session loop: USER, PASS, LIST and CACHE-FLUSH
//! requests answered from the engine, with the userdb socket's peer-uid restriction.

use std::sync::Arc;

use super::addr::addr;
use crate::protocol::auth::master::{self, MasterCommand};
use crate::service::auth::api::ClientInfo;
use crate::service::auth::engine::{FailKind, PassOutcome, UserOutcome};
use crate::service::auth::handle::AuthCore;

pub(super) struct MasterConn {
    pub(super) core: Arc<AuthCore>,
    /// Replies not yet written.
    pub(super) out: String,
    pub(super) userdb_only: bool,
    pub(super) peer_uid: Option<u32>,
    /// uid of the socket's configured owner (`unix_listener { user = … }`).
    pub(super) owner_uid: Option<u32>,
    pub(super) version: bool,
}

/// `*` and `?` wildcard matching for `LIST user=` masks.
pub fn wildcard_match(mask: &str, s: &str) -> bool {
    fn m(p: &[u8], s: &[u8]) -> bool {
        match (p.first(), s.first()) {
            (None, None) => true,
            (Some(b'*'), _) => m(&p[1..], s) || (!s.is_empty() && m(p, &s[1..])),
            (Some(b'?'), Some(_)) => m(&p[1..], &s[1..]),
            (Some(a), Some(b)) if a == b => m(&p[1..], &s[1..]),
            _ => false,
        }
    }
    m(mask.as_bytes(), s.as_bytes())
}

impl MasterConn {
    fn send(&mut self, s: String) {
        self.out.push_str(&s);
    }

    fn info(params: &[(String, String)]) -> ClientInfo {
        let get = |k: &str| {
            params
                .iter()
                .find(|(pk, _)| pk == k)
                .map(|(_, v)| v.as_str())
        };
        ClientInfo {
            service: get("service").unwrap_or_default().to_string(),
            remote: addr(get("rip"), get("rport")),
            local: addr(get("lip"), get("lport")),
            ..ClientInfo::default()
        }
    }

    /// On the 0666 userdb socket a peer that is neither root, roost's own uid nor the socket's
    /// owner only sees users whose uid is its own.
    fn allowed(&self, fields: &[(String, String)]) -> bool {
        let Some(peer) = self.peer_uid else {
            return true;
        };
        if !self.userdb_only
            || peer == 0
            || peer == nix::unistd::geteuid().as_raw()
            || Some(peer) == self.owner_uid
        {
            return true;
        }
        fields
            .iter()
            .find(|(k, _)| k == "uid")
            .is_some_and(|(_, v)| v.parse::<u32>().ok() == Some(peer))
    }

    pub(super) async fn line(&mut self, line: &str) -> bool {
        let cmd = match master::parse(line) {
            Ok(c) => c,
            Err(e) => {
                tracing::error!("BUG: auth master client sent a bad line: {e}");
                return false;
            }
        };
        if !self.version && !matches!(cmd, MasterCommand::Version { .. }) {
            tracing::error!("BUG: auth master client didn't send VERSION first");
            return false;
        }
        let engine = self.core.engine.clone();
        match cmd {
            MasterCommand::Version { .. } => self.version = true,
            MasterCommand::User { id, user, params } => {
                let info = Self::info(&params);
                match engine.userdb_lookup(&user, &info, None, false).await {
                    UserOutcome::Found { user, fields } => {
                        if self.allowed(&fields.0) {
                            self.send(master::user_reply(id, &user, &fields.0));
                        } else {
                            self.send(master::fail(id, Some("Not allowed to see this user")));
                        }
                    }
                    UserOutcome::NotFound => self.send(master::notfound(id)),
                    UserOutcome::Failed(m) => self.send(master::fail(id, Some(&m))),
                }
            }
            MasterCommand::Pass { id, user, params } => {
                let info = Self::info(&params);
                match engine.lookup_pass(&user, &info).await {
                    PassOutcome::Ok {
                        user,
                        fields,
                        prefetch,
                    } => {
                        let mut out: Vec<(String, String)> = fields.0;
                        out.extend(
                            prefetch
                                .0
                                .into_iter()
                                .map(|(k, v)| (format!("userdb_{k}"), v)),
                        );
                        if self.userdb_only {
                            out.retain(|(k, _)| k != "password");
                        }
                        let uid: Vec<(String, String)> = out
                            .iter()
                            .filter_map(|(k, v)| {
                                k.strip_prefix("userdb_")
                                    .map(|k| (k.to_string(), v.clone()))
                            })
                            .collect();
                        if self.allowed(&uid) {
                            self.send(master::pass_reply(id, &user, &out));
                        } else {
                            self.send(master::fail(id, Some("Not allowed to see this user")));
                        }
                    }
                    PassOutcome::Fail {
                        kind: FailKind::Internal,
                        ..
                    } => self.send(master::fail(id, None)),
                    PassOutcome::Fail { .. } => self.send(master::notfound(id)),
                }
            }
            MasterCommand::List { id, params } => {
                let mask = params
                    .iter()
                    .find(|(k, _)| k == "user")
                    .map(|(_, v)| v.clone())
                    .unwrap_or_else(|| "*".into());
                match engine.list_users().await {
                    Some(users) => {
                        for u in users.iter().filter(|u| wildcard_match(&mask, u)) {
                            self.send(master::list_user(id, u));
                        }
                        self.send(master::list_done(id, false));
                    }
                    None => self.send(master::list_done(id, true)),
                }
            }
            MasterCommand::CacheFlush { id, users } => {
                if self.userdb_only {
                    tracing::error!("BUG: CACHE-FLUSH on a userdb-only socket");
                    return false;
                }
                let n = engine.cache.flush(&users);
                self.send(master::cache_flushed(id, n));
            }
        }
        true
    }
}
