//! `log reopen`: doveadm's command for logrotate's postrotate. Every process that writes log
//! files reopens them (the server; through it the privsep launcher), as SIGUSR1 and
//! `roost log reopen` do. Answers an empty result, as doveadm's HTTP API does.

use crate::service::doveadm::spec::{CommandError, CommandFuture, CommandSpec, Context, Params};

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

#[cfg(test)]
mod tests {
    use super::LOG_REOPEN;
    use crate::service::doveadm::spec::Context;
    use std::sync::Arc;

    #[tokio::test]
    async fn log_reopen_answers_an_empty_result() {
        let spec = LOG_REOPEN;
        assert_eq!(spec.name, "log reopen");
        assert!(spec.params.is_empty());
        let ctx = Context {
            hub: Arc::new(crate::runtime::Hub::default()),
            settings: Arc::new(crate::settings::Settings::default()),
        };
        let out = (spec.run)(ctx, Default::default()).await.unwrap();
        assert_eq!(out, serde_json::json!([]));
    }
}
