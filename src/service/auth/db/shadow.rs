//! The `shadow` passdb and `passwd` userdb, looked up by an auth-worker helper process (root
//! is needed to read `/etc/shadow`). `shadow` takes an optional roost-specific `file=PATH`
//! argument (default `/etc/shadow`); hashes are crypt(3) strings (default scheme CRYPT).

use std::sync::Arc;

use super::types::{DbError, PassLookup, Passdb, UserLookupRaw, Userdb};
use crate::privsep::worker::WorkerPool;
use crate::runtime::BoxFuture;
use crate::service::auth::fields::Fields;
use crate::service::auth::vars::Vars;

/// `passdb { driver = shadow }`.
pub struct Shadow {
    file: String,
    workers: Arc<WorkerPool>,
}

impl Shadow {
    pub fn new(args: &str, workers: Arc<WorkerPool>) -> Result<Shadow, DbError> {
        let mut file = "/etc/shadow".to_string();
        for w in args.split_whitespace() {
            match w.split_once('=') {
                Some(("file", v)) => file = v.to_string(),
                // Dovecot's `blocking=yes` is how shadow always runs here.
                Some(("blocking", _)) => {}
                _ => {
                    return Err(DbError::BadArgs {
                        kind: "passdb",
                        driver: "shadow".into(),
                        message: format!("unknown argument '{w}'"),
                    })
                }
            }
        }
        Ok(Shadow { file, workers })
    }
}

impl Passdb for Shadow {
    fn lookup(&self, vars: Arc<Vars>) -> BoxFuture<PassLookup> {
        let workers = self.workers.clone();
        let req = format!("PASSDB\tshadow\t{}\t{}", self.file, vars.user);
        Box::pin(async move {
            match workers.request(&req).await {
                Ok(r) => match r.split_once('\t') {
                    Some(("OK", hash)) => PassLookup::Found {
                        password: Some(hash.to_string()),
                        fields: Fields::default(),
                    },
                    Some(("FAIL", why)) => PassLookup::InternalFail(why.to_string()),
                    _ if r == "NOTFOUND" => PassLookup::NotFound,
                    _ => PassLookup::InternalFail(format!("bad auth-worker reply {r:?}")),
                },
                Err(e) => PassLookup::InternalFail(format!("auth-worker: {e}")),
            }
        })
    }

    fn default_scheme(&self) -> &str {
        "CRYPT"
    }
}

/// `userdb { driver = passwd }`.
pub struct Passwd {
    workers: Arc<WorkerPool>,
}

impl Passwd {
    pub fn new(workers: Arc<WorkerPool>) -> Passwd {
        Passwd { workers }
    }
}

impl Userdb for Passwd {
    fn lookup(&self, vars: Arc<Vars>) -> BoxFuture<UserLookupRaw> {
        let workers = self.workers.clone();
        let req = format!("USERDB\tpasswd\t{}", vars.user);
        Box::pin(async move {
            match workers.request(&req).await {
                Ok(r) if r == "NOTFOUND" => UserLookupRaw::NotFound,
                Ok(r) => match r.split_once('\t') {
                    Some(("OK", rest)) => {
                        let mut f = Fields::default();
                        for kv in rest.split('\t') {
                            if let Some((k, v)) = kv.split_once('=') {
                                f.set(k, v);
                            }
                        }
                        UserLookupRaw::Found(f)
                    }
                    _ => UserLookupRaw::InternalFail(format!("auth-worker: {r}")),
                },
                Err(e) => UserLookupRaw::InternalFail(format!("auth-worker: {e}")),
            }
        })
    }
}
