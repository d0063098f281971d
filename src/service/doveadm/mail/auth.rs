//! `auth test` (a PLAIN authentication through the auth service, as doveadm does over
//! auth-client), `auth lookup` (the passdb lookup doveadm does over auth-userdb: the password
//! itself is not shown) and `auth cache flush` (`[{"entries": "N"}]`, as Dovecot's HTTP API
//! answers). Dovecot's HTTP API has no `auth test`/`auth lookup` (its CLI prints them with
//! printf); roost answers them with the object shape of Dovecot's server-side `user -u`:
//! `{USER: {"source": "passdb", …fields}}`, plus `"result": "auth succeeded"` for `auth test`.
//! A failed `auth test` is exit code 77, an unknown user in `auth lookup` 67.

use serde_json::{Map, Value};

use super::common::{param, row, rows};
use super::target::{auth, auth_core};
use super::user::{auth_info, lookup_object};
use crate::service::auth::api::{BeginError, ClientInfo, Step};
use crate::service::auth::engine::{FailKind, PassOutcome};
use crate::service::doveadm::spec::ParamKind;
use crate::service::doveadm::spec::{
    required_string, string_array, string_param, CommandError, CommandFuture, CommandSpec, Context,
    Params,
};

pub const AUTH_TEST: CommandSpec = CommandSpec {
    name: "auth test",
    params: &[
        param("socketPath", ParamKind::String, false, Some('a')),
        param("authInfo", ParamKind::Array, false, Some('x')),
        param("masterUser", ParamKind::String, false, Some('M')),
        param("user", ParamKind::String, true, None),
        param("password", ParamKind::String, true, None),
    ],
    run: run_test,
};

pub const AUTH_LOOKUP: CommandSpec = CommandSpec {
    name: "auth lookup",
    params: &[
        param("socketPath", ParamKind::String, false, Some('a')),
        param("authInfo", ParamKind::Array, false, Some('x')),
        param("field", ParamKind::String, false, Some('f')),
        param("user", ParamKind::Array, true, None),
    ],
    run: run_lookup,
};

pub const AUTH_CACHE_FLUSH: CommandSpec = CommandSpec {
    name: "auth cache flush",
    params: &[
        param("socketPath", ParamKind::String, false, Some('a')),
        param("user", ParamKind::Array, true, None),
    ],
    run: run_flush,
};

fn run_test(ctx: Context, params: Params) -> CommandFuture {
    Box::pin(async move {
        let user = required_string(&params, "user")?.to_string();
        let password = required_string(&params, "password")?.to_string();
        // What doveadm's auth-client connection gets back: the passdb's fields.
        let info = ClientInfo {
            passdb_only: true,
            ..auth_info(&params)?
        };
        // PLAIN: authzid NUL authcid NUL password; a master user logs in as `user`.
        let initial = match string_param(&params, "masterUser") {
            Some(m) => format!("{user}\0{m}\0{password}"),
            None => format!("\0{user}\0{password}"),
        };
        let api = auth(&ctx)?;
        let mut exchange = api.0.begin("PLAIN", info).map_err(|e| match e {
            BeginError::UnknownMechanism => {
                CommandError::TempFail("auth_mechanisms does not offer PLAIN".into())
            }
            BeginError::PlaintextDisabled => {
                CommandError::TempFail("plaintext authentication is disabled".into())
            }
        })?;
        match exchange.step(Some(initial.into_bytes())).await {
            Step::Success {
                user: name, fields, ..
            } => {
                let mut obj = Map::new();
                obj.insert("source".into(), Value::String("passdb".into()));
                obj.insert("result".into(), Value::String("auth succeeded".into()));
                obj.insert("user".into(), Value::String(name));
                for (k, v) in fields {
                    if !k.is_empty() && k != "user" {
                        obj.insert(k, Value::String(v));
                    }
                }
                let mut out = Map::new();
                out.insert(user, Value::Object(obj));
                Ok(Value::Object(out))
            }
            Step::Fail { .. } => Err(CommandError::NoPerm(format!("passdb: {user} auth failed"))),
            Step::Continue(_) => Err(CommandError::NoPerm(format!(
                "passdb: {user} auth unexpectedly requested continuation"
            ))),
        }
    })
}

fn run_lookup(ctx: Context, params: Params) -> CommandFuture {
    Box::pin(async move {
        let users = string_array(&params, "user")?;
        if users.is_empty() {
            return Err(CommandError::Usage("missing parameter user".into()));
        }
        let field = string_param(&params, "field");
        let info = auth_info(&params)?;
        let core = auth_core(&ctx)?;
        let mut out = Map::new();
        for u in users {
            match core.engine.lookup_pass(&u, &info).await {
                PassOutcome::Ok {
                    user,
                    fields,
                    prefetch,
                } => {
                    let mut all = vec![("user".to_string(), user)];
                    all.extend(fields.0.into_iter().filter(|(k, _)| k != "password"));
                    all.extend(
                        prefetch
                            .0
                            .into_iter()
                            .map(|(k, v)| (format!("userdb_{k}"), v)),
                    );
                    out.insert(u, Value::Object(lookup_object("passdb", None, &all, field)));
                }
                PassOutcome::Fail {
                    kind: FailKind::Internal,
                    ..
                } => {
                    return Err(CommandError::TempFail(format!(
                        "passdb lookup failed for {u}"
                    )))
                }
                PassOutcome::Fail { .. } => {
                    return Err(CommandError::NoUser(format!(
                        "passdb lookup: user {u} doesn't exist"
                    )))
                }
            }
        }
        Ok(Value::Object(out))
    })
}

fn run_flush(ctx: Context, params: Params) -> CommandFuture {
    Box::pin(async move {
        let users = string_array(&params, "user")?;
        let n = auth_core(&ctx)?.engine.cache.flush(&users);
        Ok(rows(vec![row([("entries", n.to_string())])]))
    })
}
