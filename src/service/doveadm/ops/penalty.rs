//! `penalty [IP/BITS]`: anvil's authentication-failure penalties, as `doveadm penalty` lists
//! them: rows of `IP`, `penalty`, `last_penalty` (local `YYYY-MM-DD HH:MM:SS`) and
//! `last_update` (local `HH:MM:SS`), oldest first; with a network only the IPs in it.
//! `socketPath` (`-a`) is accepted and ignored: roost's anvil is in-process.

use serde_json::{json, Value};

use crate::service::anvil::filter::{in_network, parse_net};
use crate::service::anvil::Anvil;
use crate::service::doveadm::mail::time::{local_clock, local_string};
use crate::service::doveadm::spec::{
    string_param, CommandError, CommandFuture, CommandSpec, Context, Param, ParamKind, Params,
};

pub const PENALTY: CommandSpec = CommandSpec {
    name: "penalty",
    params: &[
        Param {
            name: "socketPath",
            kind: ParamKind::String,
            positional: false,
            short: Some('a'),
        },
        Param {
            name: "netmask",
            kind: ParamKind::String,
            positional: true,
            short: None,
        },
    ],
    run,
};

fn run(ctx: Context, params: Params) -> CommandFuture {
    Box::pin(async move {
        let net = match string_param(&params, "netmask") {
            None | Some("") => None,
            Some(n) => Some(
                parse_net(n)
                    .ok_or_else(|| CommandError::Usage(format!("Invalid netmask '{n}' given")))?,
            ),
        };
        let rows: Vec<Value> = Anvil::from_hub(&ctx.hub)
            .penalty()
            .dump()
            .into_iter()
            .filter(|(ip, _, _)| net.is_none_or(|(n, bits)| in_network(*ip, n, bits)))
            .map(|(ip, p, at)| {
                json!({
                    "IP": ip.to_string(),
                    "penalty": p.to_string(),
                    "last_penalty": local_string(at as i64),
                    "last_update": local_clock(at as i64),
                })
            })
            .collect();
        Ok(Value::Array(rows))
    })
}
