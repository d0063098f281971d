//! `service status` and `process status` from the master's status view (the hub's
//! `StatusHandle`), with the fields Dovecot's HTTP API answers (every value a string):
//! per service `name process_count process_avail process_limit client_limit throttle_secs
//! exit_failure_last exit_failures_in_sec last_drop_warning listen_pending listening
//! doveadm_stop process_total`, per virtual process `name pid available_count total_count
//! idle_start last_status_update last_kill_sent` (`pid` is the virtual process id).
//! roost keeps no exit-failure times or kill times: those fields are `0`; `listening` is
//! `n` for services roost does not implement.

use std::time::{SystemTime, UNIX_EPOCH};

use serde_json::{json, Value};

use crate::runtime::{ServiceState, StatusHandle};
use crate::service::doveadm::spec::{
    string_array, CommandError, CommandFuture, CommandSpec, Context, Param, ParamKind, Params,
};

const SERVICE: Param = Param {
    name: "service",
    kind: ParamKind::Array,
    positional: true,
    short: None,
};

pub const SERVICE_STATUS: CommandSpec = CommandSpec {
    name: "service status",
    params: &[SERVICE],
    run: service_status,
};

pub const PROCESS_STATUS: CommandSpec = CommandSpec {
    name: "process status",
    params: &[SERVICE],
    run: process_status,
};

fn view(ctx: &Context) -> Result<StatusHandle, CommandError> {
    ctx.hub
        .get::<StatusHandle>()
        .map(|h| (*h).clone())
        .ok_or_else(|| CommandError::TempFail("the master is not reachable".into()))
}

fn wanted(filter: &[String], name: &str) -> bool {
    filter.is_empty() || filter.iter().any(|f| f == name)
}

fn service_status(ctx: Context, params: Params) -> CommandFuture {
    Box::pin(async move {
        let filter = string_array(&params, "service")?;
        let rows = view(&ctx)?
            .0
            .service_status()
            .into_iter()
            .filter(|(p, _)| wanted(&filter, &p.service))
            .map(|(p, state)| {
                json!({
                    "name": p.service,
                    "process_count": p.processes.to_string(),
                    "process_avail": p.available.to_string(),
                    "process_limit": p.process_limit.to_string(),
                    "client_limit": p.client_limit.to_string(),
                    "throttle_secs": p.throttle_secs.to_string(),
                    "exit_failure_last": "0",
                    "exit_failures_in_sec": "0",
                    "last_drop_warning": "0",
                    "listen_pending": "n",
                    "listening": if state == ServiceState::Running { "y" } else { "n" },
                    "doveadm_stop": "n",
                    "process_total": p.processes_total.to_string(),
                })
            })
            .collect();
        Ok(Value::Array(rows))
    })
}

fn process_status(ctx: Context, params: Params) -> CommandFuture {
    Box::pin(async move {
        let filter = string_array(&params, "service")?;
        let view = view(&ctx)?;
        let limits: Vec<(String, u32)> = view
            .0
            .service_status()
            .into_iter()
            .map(|(p, _)| (p.service, p.client_limit))
            .collect();
        let now = SystemTime::now()
            .duration_since(UNIX_EPOCH)
            .map(|d| d.as_secs())
            .unwrap_or(0);
        let rows = view
            .0
            .process_status()
            .into_iter()
            .filter(|p| wanted(&filter, &p.service))
            .map(|p| {
                let limit = limits
                    .iter()
                    .find(|(s, _)| *s == p.service)
                    .map(|(_, l)| *l)
                    .unwrap_or(0);
                json!({
                    "name": p.service,
                    "pid": p.vproc.to_string(),
                    "available_count": limit.saturating_sub(p.clients).to_string(),
                    "total_count": p.served.to_string(),
                    "idle_start": p.idle_secs.map(|s| now.saturating_sub(s)).unwrap_or(0).to_string(),
                    "last_status_update": now.to_string(),
                    "last_kill_sent": "0",
                })
            })
            .collect();
        Ok(Value::Array(rows))
    })
}
