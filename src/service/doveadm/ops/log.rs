//! `log reopen`: doveadm's command for logrotate's postrotate. Every process that writes log
//! files reopens them (the server; through it the privsep launcher), as SIGUSR1 and
//! `roost log reopen` do. Answers an empty result, as doveadm's HTTP API does.

use super::super::command::{CommandError, CommandFuture, CommandSpec, Context, Params};

/// The `log reopen` command.
pub const LOG_REOPEN: CommandSpec = CommandSpec {
    name: "log reopen",
    params: &[],
    run: log_reopen,
};

fn log_reopen(_ctx: Context, _params: Params) -> CommandFuture {
    Box::pin(async {
        let r = tokio::task::spawn_blocking(|| crate::log::reopen_logged("doveadm log reopen"))
            .await
            .map_err(|e| CommandError::Software(format!("log reopen: {e}")))?;
        r.map_err(|e| CommandError::TempFail(e.to_string()))?;
        Ok(serde_json::Value::Array(Vec::new()))
    })
}
