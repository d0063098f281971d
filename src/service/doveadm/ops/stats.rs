//! `stats dump`: roost's metrics in the row shape of Dovecot's `stats dump` (`metric_name`,
//! `field`, `count`, `sum`, `avg`, numbers unquoted). roost's metrics are Prometheus series, not
//! Dovecot event metrics: a histogram series gives `count`, `sum` and `avg` of its observations
//! (`field` is `duration` for `_seconds` histograms), a counter or gauge its value as `count`
//! (`field` empty); `metric_name` is the series name with its labels. `fields` (space-separated)
//! picks columns; `reset` is refused (Prometheus counters only grow), and `socketPath` ignored.

use serde_json::Value;

use crate::service::stats::dump::rows;

use crate::service::doveadm::spec::{
    bool_param, string_param, CommandError, CommandFuture, CommandSpec, Context, Param, ParamKind,
    Params,
};

pub const STATS_DUMP: CommandSpec = CommandSpec {
    name: "stats dump",
    params: &[
        Param {
            name: "socketPath",
            kind: ParamKind::String,
            positional: false,
            short: Some('s'),
        },
        Param {
            name: "reset",
            kind: ParamKind::Bool,
            positional: false,
            short: Some('r'),
        },
        Param {
            name: "fields",
            kind: ParamKind::String,
            positional: false,
            short: Some('f'),
        },
    ],
    run: stats_dump,
};

fn stats_dump(ctx: Context, params: Params) -> CommandFuture {
    Box::pin(async move {
        if bool_param(&params, "reset")? {
            return Err(CommandError::NotPossible(
                "reset is not supported: roost's counters only grow (Prometheus)".into(),
            ));
        }
        let fields: Option<Vec<String>> = string_param(&params, "fields")
            .map(|f| f.split_whitespace().map(str::to_owned).collect());
        let scrape = crate::service::stats::render(&ctx.hub);
        Ok(Value::Array(
            rows(&scrape)
                .into_iter()
                .map(|mut r| {
                    if let Some(f) = &fields {
                        r.retain(|k, _| f.iter().any(|w| w == k));
                    }
                    Value::Object(r)
                })
                .collect(),
        ))
    })
}
