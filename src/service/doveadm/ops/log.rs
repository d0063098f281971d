//! `log reopen`: doveadm's command for logrotate's postrotate. Every process that writes log
//! files reopens them (the server; through it the privsep launcher), as SIGUSR1 and
//! `roost log reopen` do. Answers an empty result, as doveadm's HTTP API does.
//!
//! `log errors [-s SINCE]`: the server's last warnings and errors (`crate::log::errors`, what
//! the `log` service's `log-errors` socket sends), rows of doveadm's `timestamp` (local,
//! `Nov 30 17:26:04`), `prefix` and `type` (without the trailing `: `) and `text`; `since` is a
//! unix time, older ones are left out.

use crate::log::errors::recent;
use crate::service::doveadm::mail::time::log_stamp;
use crate::service::doveadm::spec::{
    string_param, CommandError, CommandFuture, CommandSpec, Context, Param, ParamKind, Params,
};

/// The `log errors` command.
pub const LOG_ERRORS: CommandSpec = CommandSpec {
    name: "log errors",
    params: &[Param {
        name: "since",
        kind: ParamKind::String,
        positional: false,
        short: Some('s'),
    }],
    run: log_errors,
};

/// What doveadm prints of a prefix or type: trailing spaces and one `:` removed.
fn trim(s: &str) -> &str {
    let t = s.trim_end_matches(' ');
    t.strip_suffix(':').unwrap_or(t)
}

fn log_errors(_ctx: Context, params: Params) -> CommandFuture {
    Box::pin(async move {
        let since: u64 = match string_param(&params, "since") {
            None | Some("") => 0,
            Some(s) => s
                .parse()
                .map_err(|_| CommandError::Usage(format!("Invalid timestamp: {s}")))?,
        };
        let rows = recent()
            .into_iter()
            .filter(|e| e.timestamp >= since)
            .map(|e| {
                let kind = match e.kind {
                    "warning" => "Warning",
                    "error" => "Error",
                    "fatal" => "Fatal",
                    _ => "Panic",
                };
                serde_json::json!({
                    "timestamp": log_stamp(e.timestamp as i64),
                    "prefix": trim(&e.prefix),
                    "type": kind,
                    "text": e.text,
                })
            })
            .collect();
        Ok(serde_json::Value::Array(rows))
    })
}

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
        let ctx = Context::new(
            Arc::new(crate::runtime::Hub::default()),
            Arc::new(crate::settings::Settings::default()),
        );
        let out = (spec.run)(ctx, Default::default()).await.unwrap();
        assert_eq!(out, serde_json::json!([]));
    }
}
