//! Dovecot's doveadm API requests as every transport takes them: a body
//! `[["command", {params}, "tag"], …]` is checked against the command table ([`parse`]), each
//! command runs in order ([`run`]) and the answers are `["doveadmResponse", <value>, "tag"]` or
//! `["error", {"type": "exitCode", "exitCode": N}, "tag"]` (`unknownMethod` for a command roost
//! does not have, `invalidRequest` for an unknown parameter, both with exitCode 0). Command and
//! parameter names match Dovecot's way (`mailbox status` = `mailbox-status` = `mailboxStatus`).
//! [`listing`] is the `GET /doveadm/v1` body.

use serde_json::{json, Map, Value};

use super::command::{self, CommandSpec, Context, Param, ParamKind, Params};
use super::spec::MAX_ANSWER_BYTES;

/// A body that is not a valid request: HTTP 400 with this text (Dovecot's wording).
#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum BadRequest {
    #[error("JSON parse error: {0}")]
    Json(String),
    #[error("Request must be a JSON array")]
    NotArray,
    #[error("Command must be a JSON array")]
    CommandNotArray,
    #[error("Command name must be a string")]
    NameNotString,
    #[error("Parameters must be contained in a JSON object")]
    ParamsNotObject,
    #[error("Command ID must be a string")]
    IdNotString,
    #[error("Unexpected JSON element at end of command")]
    TrailingElement,
    #[error("Parameter `{0}' must be `true' or `false'")]
    NotBool(String),
    #[error("Parameter `{0}' must be string or array")]
    NotStringOrArray(String),
    #[error("Command parameter array can only contain string values")]
    ArrayItemNotString,
}

/// One command of a request, checked.
pub struct Call {
    pub tag: String,
    pub target: Target,
}

pub enum Target {
    Run(CommandSpec, Params),
    /// Dovecot's `error` entry without running anything: `unknownMethod`, `invalidRequest`.
    Refuse(&'static str),
}

/// What one command answered.
pub enum Outcome {
    Response(Value),
    Error {
        kind: &'static str,
        exit_code: i32,
        message: Option<String>,
    },
}

/// `mailbox status`, `mailbox-status` and `mailboxStatus` all give `mailboxStatus`.
pub fn camel(name: &str) -> String {
    let mut out = String::with_capacity(name.len());
    let mut upper = false;
    for c in name.chars() {
        if c == ' ' || c == '-' {
            upper = true;
        } else if upper {
            out.extend(c.to_uppercase());
            upper = false;
        } else {
            out.push(c);
        }
    }
    out
}

/// The command table entry for an API name, as Dovecot's `i_strccdascmp` matches them.
pub fn find_command(name: &str) -> Option<CommandSpec> {
    let want = camel(name);
    command::commands()
        .into_iter()
        .find(|c| camel(c.name) == want)
}

fn find_param(spec: &CommandSpec, key: &str) -> Option<Param> {
    let want = camel(key);
    spec.params.iter().copied().find(|p| camel(p.name) == want)
}

/// Checks a value against its parameter's type, as Dovecot's parser does: booleans are
/// `true`/`false`, arrays take a lone string too, integers and strings take their text.
/// `Ok(None)`: Dovecot would answer `invalidRequest` for the command.
fn check_value(p: &Param, v: Value) -> Result<Option<Value>, BadRequest> {
    Ok(match p.kind {
        ParamKind::Bool => match v {
            Value::Bool(b) => Some(Value::Bool(b)),
            Value::String(s) if s == "true" || s == "false" => Some(Value::Bool(s == "true")),
            _ => return Err(BadRequest::NotBool(p.name.to_string())),
        },
        ParamKind::Array | ParamKind::SearchQuery => match v {
            Value::String(s) => Some(json!([s])),
            Value::Array(items) => {
                if items.iter().any(|i| !i.is_string()) {
                    return Err(BadRequest::ArrayItemNotString);
                }
                Some(Value::Array(items))
            }
            _ => return Err(BadRequest::NotStringOrArray(p.name.to_string())),
        },
        ParamKind::Integer => match &v {
            Value::Number(n) if n.is_i64() => Some(v),
            Value::String(s) => s.trim().parse::<i64>().ok().map(Value::from),
            _ => None,
        },
        ParamKind::String => match v {
            Value::String(s) => Some(Value::String(s)),
            Value::Number(n) => Some(Value::String(n.to_string())),
            Value::Bool(b) => Some(Value::String(b.to_string())),
            _ => None,
        },
    })
}

fn parse_call(item: Value) -> Result<Call, BadRequest> {
    let Value::Array(parts) = item else {
        return Err(BadRequest::CommandNotArray);
    };
    let mut parts = parts.into_iter();
    let Some(Value::String(name)) = parts.next() else {
        return Err(BadRequest::NameNotString);
    };
    let params = match parts.next() {
        Some(Value::Object(m)) => m,
        _ => return Err(BadRequest::ParamsNotObject),
    };
    let tag = match parts.next() {
        Some(Value::String(t)) => t,
        _ => return Err(BadRequest::IdNotString),
    };
    if parts.next().is_some() {
        return Err(BadRequest::TrailingElement);
    }
    let Some(spec) = find_command(&name) else {
        return Ok(Call {
            tag,
            target: Target::Refuse("unknownMethod"),
        });
    };
    let mut checked = Map::new();
    let mut invalid = false;
    for (key, value) in params {
        match find_param(&spec, &key) {
            Some(p) => match check_value(&p, value)? {
                Some(v) => {
                    checked.insert(p.name.to_string(), v);
                }
                None => invalid = true,
            },
            None => invalid = true,
        }
    }
    let target = if invalid {
        Target::Refuse("invalidRequest")
    } else {
        Target::Run(spec, checked)
    };
    Ok(Call { tag, target })
}

/// Checks a whole request body.
pub fn parse(body: &[u8]) -> Result<Vec<Call>, BadRequest> {
    let value: Value = serde_json::from_slice(body).map_err(|e| BadRequest::Json(e.to_string()))?;
    let Value::Array(items) = value else {
        return Err(BadRequest::NotArray);
    };
    items.into_iter().map(parse_call).collect()
}

/// Runs the calls in order, sharing one answer budget: once it is used up, the remaining
/// commands are not run and answer exit code 2 (a `fetch` that filled it cannot be followed
/// by an `expunge` that runs).
pub async fn run(ctx: &Context, calls: Vec<Call>) -> Vec<(String, Outcome)> {
    let ctx = ctx.for_request();
    let mut out = Vec::with_capacity(calls.len());
    for call in calls {
        let outcome = match call.target {
            Target::Refuse(kind) => Outcome::Error {
                kind,
                exit_code: 0,
                message: None,
            },
            Target::Run(..) if ctx.budget.used_up() => Outcome::Error {
                kind: "exitCode",
                exit_code: 2,
                message: Some(format!(
                    "not run: this request's answers passed {} MiB",
                    MAX_ANSWER_BYTES >> 20
                )),
            },
            Target::Run(spec, params) => match (spec.run)(ctx.clone(), params).await {
                // Mail commands count their per-user results into the budget as they come in
                // (`mail::work`); the other commands' answers are small by nature (sessions,
                // series, at most 1000 log lines).
                Ok(v) => Outcome::Response(v),
                Err(e) => Outcome::Error {
                    kind: "exitCode",
                    exit_code: e.exit_code(),
                    message: Some(e.to_string()),
                },
            },
        };
        out.push((call.tag, outcome));
    }
    out
}

/// The response body: one entry per command; `with_messages` adds the error's text as
/// `"message"` (the unix socket's clients print it; the HTTP API answers as Dovecot does).
pub fn answer(results: Vec<(String, Outcome)>, with_messages: bool) -> Value {
    Value::Array(
        results
            .into_iter()
            .map(|(tag, outcome)| match outcome {
                Outcome::Response(v) => json!(["doveadmResponse", v, tag]),
                Outcome::Error {
                    kind,
                    exit_code,
                    message,
                } => {
                    let mut e = json!({"type": kind, "exitCode": exit_code});
                    if let (true, Some(m)) = (with_messages, message) {
                        e["message"] = Value::String(m);
                    }
                    json!(["error", e, tag])
                }
            })
            .collect(),
    )
}

/// `GET /doveadm/v1`: every command with its parameters, laid out as Dovecot lays it out.
pub fn listing() -> String {
    let mut out = String::from("[\n");
    for (i, c) in command::commands().iter().enumerate() {
        if i > 0 {
            out.push_str(",\n");
        }
        out.push_str(&format!(
            "\t{{\"command\":{}, \"parameters\":[",
            Value::String(camel(c.name))
        ));
        for (k, p) in c.params.iter().enumerate() {
            out.push_str(if k > 0 { ",\n" } else { "\n" });
            out.push_str(&format!(
                "\t\t{{\"name\":{},\"type\":\"{}\"}}",
                Value::String(camel(p.name)),
                p.kind.api_name()
            ));
        }
        if !c.params.is_empty() {
            out.push_str("\n\t");
        }
        out.push_str("]}");
    }
    out.push_str("\n]");
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_match_like_dovecot() {
        assert_eq!(camel("mailbox status"), "mailboxStatus");
        assert_eq!(camel("separate-connections"), "separateConnections");
        assert_eq!(camel("who"), "who");
        assert!(find_command("who").is_some());
        assert!(find_command("serviceStatus").is_some());
        assert!(find_command("service-status").is_some());
        assert!(find_command("nosuch").is_none());
    }

    #[test]
    fn bodies_are_checked_like_dovecots() {
        assert_eq!(parse(b"{}").err(), Some(BadRequest::NotArray));
        assert!(matches!(parse(b"[[").err(), Some(BadRequest::Json(_))));
        assert_eq!(parse(b"[1]").err(), Some(BadRequest::CommandNotArray));
        assert_eq!(
            parse(br#"[["who",{},7]]"#).err(),
            Some(BadRequest::IdNotString)
        );
        assert_eq!(
            parse(br#"[["who",{},"t","x"]]"#).err(),
            Some(BadRequest::TrailingElement)
        );
        assert_eq!(
            parse(br#"[["who",{"separateConnections":"maybe"},"t"]]"#).err(),
            Some(BadRequest::NotBool("separateConnections".into()))
        );
        let calls =
            parse(br#"[["who",{"mask":"bob"},"a"],["nosuch",{},"b"],["who",{"bogus":1},"c"]]"#)
                .unwrap();
        assert_eq!(calls.len(), 3);
        match &calls[0].target {
            Target::Run(spec, params) => {
                assert_eq!(spec.name, "who");
                assert_eq!(params["mask"], json!(["bob"]));
            }
            Target::Refuse(k) => panic!("{k}"),
        }
        assert!(matches!(calls[1].target, Target::Refuse("unknownMethod")));
        assert!(matches!(calls[2].target, Target::Refuse("invalidRequest")));
    }

    #[test]
    fn answers_have_dovecots_shape() {
        let a = answer(
            vec![
                ("t1".into(), Outcome::Response(json!([]))),
                (
                    "t2".into(),
                    Outcome::Error {
                        kind: "exitCode",
                        exit_code: 68,
                        message: Some("no users kicked".into()),
                    },
                ),
            ],
            false,
        );
        assert_eq!(
            a.to_string(),
            r#"[["doveadmResponse",[],"t1"],["error",{"type":"exitCode","exitCode":68},"t2"]]"#
        );
    }

    static RAN: std::sync::atomic::AtomicUsize = std::sync::atomic::AtomicUsize::new(0);

    /// Stands for a mail command whose per-user results take over half the budget.
    fn big(ctx: Context, _params: Params) -> super::command::CommandFuture {
        Box::pin(async move {
            RAN.fetch_add(1, std::sync::atomic::Ordering::SeqCst);
            ctx.budget.spend(MAX_ANSWER_BYTES / 2 + 1)?;
            Ok(Value::String("x".into()))
        })
    }

    #[tokio::test]
    async fn commands_after_the_answer_limit_are_not_run() {
        let spec = CommandSpec {
            name: "big",
            params: &[],
            run: big,
        };
        let call = |tag: &str| Call {
            tag: tag.into(),
            target: Target::Run(spec, Params::new()),
        };
        let ctx = Context::new(
            std::sync::Arc::new(crate::runtime::Hub::default()),
            std::sync::Arc::new(crate::settings::Settings::default()),
        );
        let out = run(&ctx, vec![call("a"), call("b"), call("c")]).await;
        // The second passes the budget and fails; the third is not run.
        assert_eq!(RAN.load(std::sync::atomic::Ordering::SeqCst), 2);
        assert!(matches!(out[0].1, Outcome::Response(_)));
        assert!(matches!(out[1].1, Outcome::Error { exit_code: 2, .. }));
        assert!(matches!(out[2].1, Outcome::Error { exit_code: 2, .. }));
        // Each request starts with the whole budget.
        let again = run(&ctx, vec![call("d")]).await;
        assert!(matches!(again[0].1, Outcome::Response(_)));
    }
}
