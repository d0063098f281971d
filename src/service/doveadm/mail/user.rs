//! `user`: the userdb lookup as doveadm's server side answers it over the HTTP API — an object
//! keyed by each user mask, holding `uid`, `gid`, `home`, `mail` (the userdb's, else
//! `mail_uid`/`mail_gid`/`mail_location`) and the other userdb fields; `user` first when the
//! userdb changed the name; with `userdbOnly` the raw userdb reply (`source: userdb`); with
//! `field` only that field; with `expandField` the expanded string. A mask with `*` or `?`
//! lists the matching users (`{"userList": [...]}`).

use serde_json::{Map, Value};

use super::common::param;
use super::target::{auth, auth_core, doveadm_info};
use crate::mail::location::{expand, UserVars};
use crate::service::auth::api::{ClientInfo, UserLookup};
use crate::service::doveadm::spec::ParamKind;
use crate::service::doveadm::spec::{
    bool_param, string_array, string_param, CommandError, CommandFuture, CommandSpec, Context,
    Params,
};

pub const USER: CommandSpec = CommandSpec {
    name: "user",
    params: &[
        param("socketPath", ParamKind::String, false, Some('a')),
        param("authInfo", ParamKind::Array, false, Some('x')),
        param("field", ParamKind::String, false, Some('f')),
        param("expandField", ParamKind::String, false, Some('e')),
        param("userdbOnly", ParamKind::Bool, false, Some('u')),
        param("userMask", ParamKind::Array, true, None),
    ],
    run,
};

/// `authInfo` (`-x`): `service=`, `lip=`, `rip=`, `lport=`, `rport=`.
pub fn auth_info(params: &Params) -> Result<ClientInfo, CommandError> {
    let mut info = doveadm_info();
    let mut lip = None;
    let mut rip = None;
    let mut lport = 0u16;
    let mut rport = 0u16;
    for arg in string_array(params, "authInfo")? {
        let bad = |what: &str| CommandError::Usage(format!("{what}: Invalid value: {arg}"));
        if let Some(v) = arg.strip_prefix("service=") {
            info.service = v.to_string();
        } else if let Some(v) = arg.strip_prefix("lip=") {
            lip = Some(v.parse::<std::net::IpAddr>().map_err(|_| bad("lip"))?);
        } else if let Some(v) = arg.strip_prefix("rip=") {
            rip = Some(v.parse::<std::net::IpAddr>().map_err(|_| bad("rip"))?);
        } else if let Some(v) = arg.strip_prefix("lport=") {
            lport = v.parse().map_err(|_| bad("lport"))?;
        } else if let Some(v) = arg.strip_prefix("rport=") {
            rport = v.parse().map_err(|_| bad("rport"))?;
        } else {
            return Err(CommandError::Usage(format!("Unknown -x argument: {arg}")));
        }
    }
    info.local = lip.map(|ip| (ip, lport).into());
    info.remote = rip.map(|ip| (ip, rport).into());
    Ok(info)
}

fn run(ctx: Context, params: Params) -> CommandFuture {
    Box::pin(async move {
        let masks = string_array(&params, "userMask")?;
        if masks.is_empty() {
            return Err(CommandError::Usage("No user(s) specified".into()));
        }
        let field = string_param(&params, "field");
        let expand_field = string_param(&params, "expandField");
        let userdb_only = bool_param(&params, "userdbOnly")?;
        if expand_field.is_some() && userdb_only {
            return Err(CommandError::Usage("-e can't be used with -u".into()));
        }
        if expand_field.is_some() && field.is_some() {
            return Err(CommandError::Usage("-e can't be used with -f".into()));
        }
        let info = auth_info(&params)?;
        if masks.iter().any(|m| m.contains('*') || m.contains('?')) {
            let all = auth_core(&ctx)?
                .engine
                .list_users()
                .await
                .ok_or_else(|| CommandError::Data("user listing failed".into()))?;
            let listed: Vec<Value> = all
                .into_iter()
                .filter(|u| masks.iter().any(|m| wildcard_match(m, u)))
                .map(Value::String)
                .collect();
            let mut out = Map::new();
            out.insert("userList".into(), Value::Array(listed));
            return Ok(Value::Object(out));
        }
        let api = auth(&ctx)?;
        let mut out = Map::new();
        for mask in masks {
            let (user, fields) = match api.0.lookup_user(&mask, info.clone()).await {
                UserLookup::Found { user, fields } => (user, fields),
                UserLookup::NotFound => {
                    return Err(CommandError::NoUser(format!(
                        "userdb lookup: user {mask} doesn't exist"
                    )))
                }
                UserLookup::Failed(why) => {
                    return Err(CommandError::TempFail(format!(
                        "userdb lookup failed for {mask}: {why}"
                    )))
                }
            };
            let obj = if userdb_only {
                lookup_object("userdb", (user != mask).then_some(&user), &fields, field)
            } else if let Some(e) = expand_field {
                let home = get(&fields, "home").unwrap_or("");
                let v = expand(e, &UserVars { user: &user, home })
                    .map_err(|why| CommandError::Data(format!("Failed to expand field: {why}")))?;
                let mut m = Map::new();
                m.insert(e.to_string(), Value::String(v));
                m
            } else {
                mail_object(&ctx, &mask, &user, &fields, field)
            };
            out.insert(mask, Value::Object(obj));
        }
        Ok(Value::Object(out))
    })
}

fn get<'a>(fields: &'a [(String, String)], key: &str) -> Option<&'a str> {
    fields
        .iter()
        .find(|(k, _)| k == key)
        .map(|(_, v)| v.as_str())
}

/// What doveadm's mail-storage lookup prints: the effective uid, gid, home and mail, then the
/// other userdb fields.
fn mail_object(
    ctx: &Context,
    mask: &str,
    user: &str,
    fields: &[(String, String)],
    only: Option<&str>,
) -> Map<String, Value> {
    let mail = &ctx.settings.mail;
    let mut pairs: Vec<(String, String)> = Vec::new();
    if user != mask {
        pairs.push(("user".into(), user.into()));
    }
    let home = get(fields, "home").unwrap_or("");
    // Settings are shown with the user's variables expanded, as Dovecot's mail user has them.
    let or = |k: &str, dflt: &str| {
        let v = get(fields, k).unwrap_or(dflt);
        expand(v, &UserVars { user, home }).unwrap_or_else(|_| v.to_string())
    };
    pairs.push(("uid".into(), or("uid", &mail.mail_uid)));
    pairs.push(("gid".into(), or("gid", &mail.mail_gid)));
    pairs.push(("home".into(), home.to_string()));
    pairs.push(("mail".into(), or("mail", &mail.mail_location)));
    for (k, v) in fields {
        if !k.is_empty() && !["uid", "gid", "home", "mail"].contains(&k.as_str()) {
            pairs.push((k.clone(), v.clone()));
        }
    }
    pairs
        .into_iter()
        .filter(|(k, _)| only.is_none_or(|o| o == k))
        .map(|(k, v)| (k, Value::String(v)))
        .collect()
}

/// The raw reply of a userdb or passdb lookup: `source`, `updated_username`, then each field.
pub fn lookup_object(
    source: &str,
    updated: Option<&String>,
    fields: &[(String, String)],
    only: Option<&str>,
) -> Map<String, Value> {
    let mut m = Map::new();
    if let Some(f) = only {
        if let Some(v) = get(fields, f) {
            m.insert(f.to_string(), Value::String(v.to_string()));
        }
        return m;
    }
    m.insert("source".into(), Value::String(source.into()));
    if let Some(u) = updated {
        m.insert("updated_username".into(), Value::String(u.clone()));
    }
    for (k, v) in fields {
        if k.is_empty() {
            continue;
        }
        m.insert(k.clone(), Value::String(v.clone()));
    }
    m
}

/// `*` and `?` wildcards, case-insensitively (Dovecot's wildcard_match_icase).
fn wildcard_match(mask: &str, s: &str) -> bool {
    fn go(p: &[u8], s: &[u8]) -> bool {
        match p.split_first() {
            None => s.is_empty(),
            Some((b'*', rest)) => (0..=s.len()).any(|i| go(rest, &s[i..])),
            Some((b'?', rest)) => !s.is_empty() && go(rest, &s[1..]),
            Some((c, rest)) => {
                s.first().is_some_and(|x| x.eq_ignore_ascii_case(c)) && go(rest, &s[1..])
            }
        }
    }
    go(mask.as_bytes(), s.as_bytes())
}
