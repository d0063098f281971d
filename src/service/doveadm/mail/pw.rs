//! `pw`: makes a password hash (`scheme`, default CRYPT; `rounds`; `user` for user-salted
//! schemes) or, with `testHash`, verifies one, using the auth service's own schemes (the same
//! code as `roost pw`). Dovecot's `doveadm pw` prints with printf and is not in its HTTP API;
//! roost answers `[{"hash": "{SCHEME}…"}]` (`"… (verified)"` with `testHash`, as doveadm
//! prints it), `list` gives `[{"schemes": "NAME NAME …"}]`, a mismatch is exit code 65
//! (doveadm dies with i_fatal's 89, which is no doveadm exit code), and `reverseVerify` checks
//! the new hash against the password and answers it with ` (verified)`. The password
//! must be given (`plaintext`): there is no terminal to prompt on.

use super::common::{param, row, rows};
use crate::service::auth::pw_command_full;
use crate::service::auth::schemes::table::SCHEMES;
use crate::service::auth::schemes::SchemeError;
use crate::service::doveadm::spec::ParamKind;
use crate::service::doveadm::spec::{
    bool_param, string_param, CommandError, CommandFuture, CommandSpec, Context, Params,
};

pub const PW: CommandSpec = CommandSpec {
    name: "pw",
    params: &[
        param("list", ParamKind::Bool, false, Some('l')),
        param("plaintext", ParamKind::String, false, Some('p')),
        param("rounds", ParamKind::Integer, false, Some('r')),
        param("scheme", ParamKind::String, false, Some('s')),
        param("testHash", ParamKind::String, false, Some('t')),
        param("user", ParamKind::String, false, Some('u')),
        param("reverseVerify", ParamKind::Bool, false, Some('V')),
    ],
    run,
};

fn scheme_err(e: SchemeError) -> CommandError {
    match e {
        SchemeError::Mismatch => CommandError::Data(e.to_string()),
        SchemeError::UnknownScheme(_) => CommandError::Usage(e.to_string()),
        e => CommandError::Data(e.to_string()),
    }
}

fn run(_ctx: Context, params: Params) -> CommandFuture {
    Box::pin(async move {
        if bool_param(&params, "list")? {
            let names: Vec<&str> = SCHEMES.iter().map(|s| s.name).collect();
            return Ok(rows(vec![row([("schemes", names.join(" "))])]));
        }
        let scheme = string_param(&params, "scheme")
            .unwrap_or("CRYPT")
            .to_string();
        let password = string_param(&params, "plaintext")
            .ok_or_else(|| CommandError::Usage("missing parameter plaintext".into()))?
            .to_string();
        let test = string_param(&params, "testHash").map(str::to_string);
        let user = string_param(&params, "user").unwrap_or("").to_string();
        let rounds = match params.get("rounds") {
            None | Some(serde_json::Value::Null) => None,
            Some(v) => Some(
                v.as_u64()
                    .or_else(|| v.as_str().and_then(|s| s.parse().ok()))
                    .and_then(|n| u32::try_from(n).ok())
                    .ok_or_else(|| CommandError::Usage("rounds: expected an integer".into()))?,
            ),
        };
        let reverse = bool_param(&params, "reverseVerify")?;
        let out = tokio::task::spawn_blocking(move || {
            let out = pw_command_full(&scheme, &password, test.as_deref(), &user, rounds)?;
            if reverse && test.is_none() {
                return pw_command_full(&scheme, &password, Some(&out), &user, rounds);
            }
            Ok::<_, SchemeError>(out)
        })
        .await
        .map_err(|e| CommandError::Software(format!("pw task failed: {e}")))?
        .map_err(scheme_err)?;
        Ok(rows(vec![row([("hash", out)])]))
    })
}
