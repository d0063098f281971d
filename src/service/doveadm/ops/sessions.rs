//! `who` and `kick` over anvil's session directory, with doveadm's parameters (`socketPath`,
//! `separateConnections` / `force`, the positional `mask`) and the answers Dovecot's HTTP API
//! gives: `who` an object per user and protocol (`username`, `connections`, `service`, `pids`,
//! `ips`) or per connection (`username`, `service`, `pid`, `ip`), every value a string; `kick`
//! `{"result": user}` per kicked user, or exit code 68 when nobody matched. `socketPath` and
//! `force` are accepted and ignored: roost's anvil is in-process and kicks connections, not
//! processes (Dovecot's API always force-kicks too).

use serde_json::{Map, Value};

use crate::runtime::{DirectoryError, SessionDirectoryHandle};
use crate::service::anvil::format::Columns;
use crate::service::anvil::print::{self, who_lines, who_users, WHO_LINES};
use crate::service::anvil::Filter;
use crate::service::doveadm::spec::{
    bool_param, string_array, CommandError, CommandFuture, CommandSpec, Context, Param, ParamKind,
    Params,
};

const SOCKET_PATH: Param = Param {
    name: "socketPath",
    kind: ParamKind::String,
    positional: false,
    short: Some('a'),
};
const MASK: Param = Param {
    name: "mask",
    kind: ParamKind::Array,
    positional: true,
    short: None,
};

pub const WHO: CommandSpec = CommandSpec {
    name: "who",
    params: &[
        SOCKET_PATH,
        Param {
            name: "separateConnections",
            kind: ParamKind::Bool,
            positional: false,
            short: Some('1'),
        },
        MASK,
    ],
    run: who,
};

pub const KICK: CommandSpec = CommandSpec {
    name: "kick",
    params: &[
        SOCKET_PATH,
        Param {
            name: "force",
            kind: ParamKind::Bool,
            positional: false,
            short: Some('f'),
        },
        MASK,
    ],
    run: kick,
};

fn directory(ctx: &Context) -> Result<SessionDirectoryHandle, CommandError> {
    ctx.hub
        .get::<SessionDirectoryHandle>()
        .map(|h| (*h).clone())
        .ok_or_else(|| CommandError::TempFail("anvil is not running".into()))
}

fn usage(e: DirectoryError) -> CommandError {
    CommandError::Usage(e.to_string())
}

/// Rows as JSON objects keyed by the columns' keys.
pub fn objects(cols: &Columns, rows: Vec<Vec<String>>) -> Value {
    Value::Array(
        rows.into_iter()
            .map(|r| {
                let mut o = Map::new();
                for (h, v) in cols.headers.iter().zip(r) {
                    o.insert(h.key.to_string(), Value::String(v));
                }
                Value::Object(o)
            })
            .collect(),
    )
}

fn who(ctx: Context, params: Params) -> CommandFuture {
    Box::pin(async move {
        let masks = string_array(&params, "mask")?;
        let filter = Filter::parse(&masks).map_err(usage)?;
        let rows = directory(&ctx)?.0.who();
        Ok(if bool_param(&params, "separateConnections")? {
            objects(&WHO_LINES, who_lines(&rows, &filter))
        } else {
            objects(&print::WHO, who_users(&rows, &filter))
        })
    })
}

fn kick(ctx: Context, params: Params) -> CommandFuture {
    Box::pin(async move {
        let masks = string_array(&params, "mask")?;
        if masks.is_empty() {
            return Err(usage(DirectoryError::NoMask));
        }
        let users = directory(&ctx)?.0.kick(&masks).map_err(usage)?;
        if users.is_empty() {
            return Err(CommandError::NotFound("no users kicked".into()));
        }
        Ok(Value::Array(
            users
                .into_iter()
                .map(|u| serde_json::json!({ "result": u }))
                .collect(),
        ))
    })
}
