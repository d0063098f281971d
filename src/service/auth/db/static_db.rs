//! The `static` passdb (`password=`, `nopassword`, extra fields in args) and userdb (`uid= gid=
//! home= allow_all_users=yes` and any other field), and the `prefetch` userdb.

use std::sync::Arc;

use super::types::{DbError, PassLookup, Passdb, UserLookupRaw, Userdb};
use crate::runtime::BoxFuture;
use crate::service::auth::fields::Fields;
use crate::service::auth::vars::Vars;

/// `passdb { driver = static  args = password=… }`: every user exists with that password.
pub struct StaticPassdb {
    template: Fields,
}

impl StaticPassdb {
    pub fn new(args: &str) -> Result<StaticPassdb, DbError> {
        let template = Fields::parse(args, None);
        if !template.has("password") && !template.has("nopassword") {
            return Err(DbError::BadArgs {
                kind: "passdb",
                driver: "static".into(),
                message: "args must contain password=… or nopassword".into(),
            });
        }
        Ok(StaticPassdb { template })
    }
}

impl Passdb for StaticPassdb {
    fn lookup(&self, vars: Arc<Vars>) -> BoxFuture<PassLookup> {
        let mut fields = Fields::default();
        for (k, v) in &self.template.0 {
            fields.set(k, vars.expand(v));
        }
        let password = fields.remove("password");
        Box::pin(async move { PassLookup::Found { password, fields } })
    }

    fn default_scheme(&self) -> &str {
        "PLAIN"
    }

    fn cacheable(&self) -> bool {
        false
    }
}

/// `userdb { driver = static  args = uid=vmail gid=vmail home=/var/mail/%u }`.
pub struct StaticUserdb {
    template: Fields,
    pub allow_all_users: bool,
}

impl StaticUserdb {
    pub fn new(args: &str) -> StaticUserdb {
        let mut template = Fields::parse(args, None);
        let allow = template
            .remove("allow_all_users")
            .map(|v| crate::settings::values::parse_bool(&v).unwrap_or(true))
            .unwrap_or(false);
        StaticUserdb {
            template,
            allow_all_users: allow,
        }
    }
}

impl Userdb for StaticUserdb {
    fn lookup(&self, vars: Arc<Vars>) -> BoxFuture<UserLookupRaw> {
        let mut fields = Fields::default();
        for (k, v) in &self.template.0 {
            fields.set(k, vars.expand(v));
        }
        Box::pin(async move { UserLookupRaw::Found(fields) })
    }

    fn cacheable(&self) -> bool {
        false
    }

    fn requires_passdb_lookup(&self) -> bool {
        !self.allow_all_users
    }
}

/// `userdb { driver = prefetch }`: the `userdb_*` fields the passdb returned.
pub struct Prefetch;

impl Userdb for Prefetch {
    fn lookup(&self, _vars: Arc<Vars>) -> BoxFuture<UserLookupRaw> {
        // The engine answers prefetch from the passdb result; reaching here means there was none.
        Box::pin(async { UserLookupRaw::NotFound })
    }

    fn cacheable(&self) -> bool {
        false
    }
}
