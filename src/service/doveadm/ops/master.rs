//! `reload` and `stop`: the master's reload and clean stop through the hub's
//! `MasterControlHandle`; both answer `[]` as Dovecot's HTTP API does. A reload that keeps the
//! old configuration fails with doveadm's EX_CONFIG (78) and the reason.

use serde_json::Value;

use crate::runtime::MasterControlHandle;
use crate::service::doveadm::spec::{CommandError, CommandFuture, CommandSpec, Context, Params};

pub const RELOAD: CommandSpec = CommandSpec {
    name: "reload",
    params: &[],
    run: reload,
};

pub const STOP: CommandSpec = CommandSpec {
    name: "stop",
    params: &[],
    run: stop,
};

fn master(ctx: &Context) -> Result<MasterControlHandle, CommandError> {
    ctx.hub
        .get::<MasterControlHandle>()
        .map(|h| (*h).clone())
        .ok_or_else(|| CommandError::TempFail("the master is not reachable".into()))
}

fn reload(ctx: Context, _params: Params) -> CommandFuture {
    Box::pin(async move {
        master(&ctx)?
            .0
            .reload()
            .await
            .map_err(CommandError::Config)?;
        Ok(Value::Array(Vec::new()))
    })
}

fn stop(ctx: Context, _params: Params) -> CommandFuture {
    Box::pin(async move {
        master(&ctx)?.0.stop().await;
        Ok(Value::Array(Vec::new()))
    })
}
