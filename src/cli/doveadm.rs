//! `roost doveadm [-f table|tab|flow|json] COMMAND WORDS [ARGS]` and the top-level mirrors
//! (`roost who`, `roost kick USER`, `roost mailbox status …`): any command of the doveadm
//! table, its parameters from the command line as doveadm takes them (bare arguments fill the
//! positional parameters in table order, an array one taking the rest (or one space-separated
//! word when another positional parameter follows); `--kebab-case NAME` or
//! `--kebab-case=VALUE` for the others, a boolean alone; the short options doveadm has, `-u
//! user`), sent over the running server's `doveadm-server` socket, and the answer printed with
//! doveadm's formatters. Errors go to stderr and the exit code is doveadm's.

use std::path::PathBuf;

use anyhow::{anyhow, bail};
use serde_json::{json, Map, Value};

use roost::service::anvil::format::{h, render, Columns, Format, Header};
use roost::service::anvil::print;
use roost::service::doveadm::api::{camel, find_command};
use roost::service::doveadm::client;
use roost::service::doveadm::command::{CommandSpec, Param, ParamKind, Params};
use roost::settings::Settings;

/// doveadm's EX_USAGE.
const EX_USAGE: i32 = 64;

/// The width doveadm's table formatter fills: the terminal's, else 80 (at least 30).
pub fn columns() -> usize {
    // SAFETY: TIOCGWINSZ writes a winsize into the struct we pass and nothing else.
    unsafe {
        let mut ws: libc::winsize = std::mem::zeroed();
        if libc::ioctl(libc::STDOUT_FILENO, libc::TIOCGWINSZ, &mut ws) == 0 {
            return (ws.ws_col as usize).max(30);
        }
    }
    80
}

/// The doveadm service's CLI socket.
pub fn socket_path(settings: &Settings) -> PathBuf {
    let service = settings.service.get("doveadm");
    let listener = service.and_then(|s| {
        s.unix_listener
            .get_key_value("doveadm-server")
            .or_else(|| s.unix_listener.iter().next())
    });
    match listener {
        Some((key, l)) => settings.listener_path(key, l),
        None => settings.core.base_dir.join("doveadm-server"),
    }
}

/// Removes roost's global `-c FILE` / `--config FILE` / `--config=FILE` from a doveadm command
/// line (clap leaves it there when it follows the command's words) and returns the file.
pub fn take_config(args: &mut Vec<String>) -> Option<PathBuf> {
    let mut found = None;
    let mut i = 0;
    while i < args.len() {
        if args[i] == "--" {
            break;
        }
        if (args[i] == "-c" || args[i] == "--config") && i + 1 < args.len() {
            found = Some(PathBuf::from(args.remove(i + 1)));
            args.remove(i);
        } else if let Some(f) = args[i].strip_prefix("--config=") {
            found = Some(PathBuf::from(f));
            args.remove(i);
        } else {
            i += 1;
        }
    }
    found
}

/// A usage error: message and exit code 64.
pub struct Usage(pub String);

/// Splits `args` (after `doveadm`) into the formatter, the command and its parameters.
pub fn parse(args: &[String]) -> Result<(Option<Format>, CommandSpec, Params), Usage> {
    let mut format = None;
    let mut i = 0;
    while i < args.len() && args[i].starts_with("-f") {
        let v = if args[i].len() > 2 {
            args[i][2..].to_string()
        } else {
            i += 1;
            args.get(i)
                .cloned()
                .ok_or_else(|| Usage("-f needs a formatter".into()))?
        };
        format = Some(v.parse::<Format>().map_err(Usage)?);
        i += 1;
    }
    let rest = &args[i..];
    let (spec, used) = (1..=rest.len().min(4))
        .rev()
        .find_map(|n| find_command(&rest[..n].join(" ")).map(|s| (s, n)))
        .ok_or_else(|| {
            Usage(if rest.is_empty() {
                "missing command".into()
            } else {
                format!("Unknown command '{}'", rest.join(" "))
            })
        })?;
    let (f, params) = parse_params(&spec, &rest[used..])?;
    Ok((f.or(format), spec, params))
}

fn set(params: &mut Params, p: &Param, value: Option<String>) -> Result<(), Usage> {
    let v = match (p.kind, value) {
        (ParamKind::Bool, _) => Value::Bool(true),
        (_, None) => return Err(Usage(format!("--{} needs a value", kebab(p.name)))),
        (ParamKind::Array | ParamKind::SearchQuery, Some(v)) => {
            let mut items = match params.remove(p.name) {
                Some(Value::Array(a)) => a,
                _ => Vec::new(),
            };
            items.push(Value::String(v));
            Value::Array(items)
        }
        (ParamKind::Integer, Some(v)) => v
            .parse::<i64>()
            .map(Value::from)
            .map_err(|_| Usage(format!("--{}: not an integer: {v}", kebab(p.name))))?,
        (ParamKind::String, Some(v)) => Value::String(v),
    };
    params.insert(p.name.to_string(), v);
    Ok(())
}

fn kebab(name: &str) -> String {
    let mut out = String::new();
    for c in name.chars() {
        if c.is_ascii_uppercase() {
            out.push('-');
            out.push(c.to_ascii_lowercase());
        } else {
            out.push(c);
        }
    }
    out
}

fn parse_params(spec: &CommandSpec, args: &[String]) -> Result<(Option<Format>, Params), Usage> {
    let mut params = Map::new();
    let mut format = None;
    let mut bare: Vec<String> = Vec::new();
    let mut i = 0;
    while i < args.len() {
        let a = &args[i];
        i += 1;
        if a == "--" {
            bare.extend(args[i..].iter().cloned());
            break;
        }
        if let Some(long) = a.strip_prefix("--") {
            let (name, inline) = match long.split_once('=') {
                Some((n, v)) => (n, Some(v.to_string())),
                None => (long, None),
            };
            let p = spec
                .params
                .iter()
                .find(|p| camel(p.name) == camel(name))
                .ok_or_else(|| Usage(format!("{}: unknown option --{name}", spec.name)))?;
            let value = match (p.kind, inline) {
                (ParamKind::Bool, v) => v,
                (_, Some(v)) => Some(v),
                (_, None) => {
                    i += 1;
                    args.get(i - 1).cloned()
                }
            };
            set(&mut params, p, value)?;
        } else if a.len() >= 2 && a.starts_with('-') {
            let c = a[1..].chars().next().unwrap_or('-');
            let inline = (a.len() > 1 + c.len_utf8()).then(|| a[1 + c.len_utf8()..].to_string());
            match spec.params.iter().find(|p| p.short == Some(c)) {
                Some(p) => {
                    let value = match (p.kind, inline) {
                        (ParamKind::Bool, _) => None,
                        (_, Some(v)) => Some(v),
                        (_, None) => {
                            i += 1;
                            args.get(i - 1).cloned()
                        }
                    };
                    set(&mut params, p, value)?;
                }
                None if c == 'f' => {
                    let v = match inline {
                        Some(v) => v,
                        None => {
                            i += 1;
                            args.get(i - 1)
                                .cloned()
                                .ok_or_else(|| Usage("-f needs a formatter".into()))?
                        }
                    };
                    format = Some(v.parse::<Format>().map_err(Usage)?);
                }
                None => return Err(Usage(format!("{}: unknown option -{c}", spec.name))),
            }
        } else {
            bare.push(a.clone());
        }
    }
    let mut positional = spec.params.iter().filter(|p| p.positional).peekable();
    let mut bare = bare.into_iter();
    while let Some(v) = bare.next() {
        let p = positional
            .next()
            .ok_or_else(|| Usage(format!("{}: too many arguments", spec.name)))?;
        let last = positional.peek().is_none();
        if matches!(p.kind, ParamKind::Array) && !last {
            // An array before another positional parameter is one word, its items separated
            // by spaces, as doveadm takes `mailbox status "messages unseen" INBOX`.
            params.insert(
                p.name.to_string(),
                Value::Array(
                    v.split_whitespace()
                        .map(|w| Value::String(w.to_string()))
                        .collect(),
                ),
            );
        } else if matches!(p.kind, ParamKind::Array | ParamKind::SearchQuery) {
            let mut all = vec![v];
            all.extend(bare.by_ref());
            params.insert(
                p.name.to_string(),
                Value::Array(all.into_iter().map(Value::String).collect()),
            );
        } else {
            set(&mut params, p, Some(v))?;
        }
    }
    Ok((format, params))
}

fn text(v: &Value) -> String {
    match v {
        Value::String(s) => s.clone(),
        Value::Null => String::new(),
        other => other.to_string(),
    }
}

/// Headers for rows whose keys are `keys` (doveadm's `header_simple`: title = key), with the
/// titles and flags `command`'s doveadm code gives its headers:
/// `mailbox list` and `mailbox status` hide the mailbox's title, `search` both titles,
/// `fetch` streams `hdr`, `body`, `text` and `text.utf8`, `quota get` has its own titles. The
/// CLI process prints once and exits, so the names are leaked to get `'static` headers.
fn command_columns(command: &str, keys: &[String]) -> Columns {
    let headers: Vec<Header> = keys
        .iter()
        .map(|k| {
            let k: &'static str = Box::leak(k.clone().into_boxed_str());
            let plain = h(k, k, false, false);
            match (command, k) {
                ("mailbox list" | "mailbox status", "mailbox") | ("search", _) => plain.hidden(),
                ("fetch", "hdr" | "body" | "text" | "text.utf8") => plain.streamed(),
                ("quota get", "root") => h(k, "Quota name", false, false),
                ("quota get", "type") => h(k, "Type", false, false),
                ("quota get", "value") => h(k, "Value", true, false),
                ("quota get", "limit") => h(k, "Limit", true, false),
                ("quota get", "percent") => h(k, "%", true, false),
                _ => plain,
            }
        })
        .collect();
    Columns {
        headers: Box::leak(headers.into_boxed_slice()),
        size_from_first_row: false,
    }
}

/// The formatter doveadm's command picks when no `-f` is given.
pub fn default_format(command: &str) -> Format {
    match command {
        // doveadm's mail commands print with the flow formatter, fetch with the pager.
        "mailbox list" | "mailbox status" | "search" => Format::Flow,
        "fetch" => Format::Pager,
        "user" | "stats dump" => Format::Tab,
        "log errors" => Format::Formatted,
        _ => Format::Table,
    }
}

/// Prints a command's answer as doveadm prints it; returns the exit code.
fn print_answer(spec: &CommandSpec, params: &Params, format: Format, value: &Value) -> i32 {
    if spec.name == "kick" {
        let users: Vec<String> = value
            .as_array()
            .map(|a| a.iter().map(|o| text(&o["result"])).collect())
            .unwrap_or_default();
        let (out, code) = print::kicked(&users);
        print!("{out}");
        return code;
    }
    if let Some(out) = printf_answer(spec.name, format, value) {
        print!("{out}");
        return 0;
    }
    if let Some(text) = keyed_answer(spec.name, format, value) {
        print!("{text}");
        return 0;
    }
    let rows: Vec<Map<String, Value>> = match value {
        Value::Array(items) => items
            .iter()
            .map(|i| match i {
                Value::Object(o) => o.clone(),
                other => Map::from_iter([("result".to_string(), other.clone())]),
            })
            .collect(),
        Value::Object(o) => vec![o.clone()],
        Value::Null => Vec::new(),
        other => vec![Map::from_iter([("result".to_string(), other.clone())])],
    };
    let cols = if spec.name == "who" {
        if params.get("separateConnections") == Some(&Value::Bool(true)) {
            print::WHO_LINES
        } else {
            print::WHO
        }
    } else {
        // Every key any row has, in the order they first appear (rows of `stats dump` differ:
        // counters have no `sum`).
        let mut keys: Vec<String> = Vec::new();
        for r in &rows {
            for k in r.keys() {
                if !keys.contains(k) {
                    keys.push(k.clone());
                }
            }
        }
        // doveadm prints `penalty`'s titles even with no rows.
        if keys.is_empty() && spec.name == "penalty" && format != Format::Json {
            keys = ["IP", "penalty", "last_penalty", "last_update"]
                .map(String::from)
                .to_vec();
        }
        if keys.is_empty() {
            // doveadm prints an empty JSON array; the other formatters print nothing.
            if format == Format::Json {
                print!("[]");
            }
            return 0;
        }
        command_columns(spec.name, &keys)
    };
    let table: Vec<Vec<String>> = rows
        .iter()
        .map(|r| {
            cols.headers
                .iter()
                .map(|h| text(&r.get(h.key).cloned().unwrap_or(Value::Null)))
                .collect()
        })
        .collect();
    print!("{}", render(format, &cols, &table, columns()));
    0
}

/// What doveadm prints with printf rather than a formatter (unless `-f json` asks for the
/// JSON): `log errors` as log lines, `pw` the hash (or the schemes) alone, `auth test`
/// `passdb: USER auth succeeded` and the reply's fields under `extra fields:`, `auth cache
/// flush` `N cache entries flushed`.
fn printf_answer(command: &str, format: Format, value: &Value) -> Option<String> {
    if format == Format::Json {
        return None;
    }
    match command {
        // doveadm's format for it: `%{timestamp} %{type}: %{prefix}: %{text}`.
        "log errors" if format == Format::Formatted => Some(
            value
                .as_array()?
                .iter()
                .map(|e| {
                    format!(
                        "{} {}: {}: {}\n",
                        text(&e["timestamp"]),
                        text(&e["type"]),
                        text(&e["prefix"]),
                        text(&e["text"])
                    )
                })
                .collect(),
        ),
        "pw" => {
            let first = value.as_array()?.first()?.as_object()?;
            Some(format!("{}\n", text(first.values().next()?)))
        }
        "auth cache flush" => {
            let first = value.as_array()?.first()?.as_object()?;
            Some(format!(
                "{} cache entries flushed\n",
                text(&first["entries"])
            ))
        }
        "auth test" => {
            let mut out = String::new();
            for (user, o) in value.as_object()? {
                let o = o.as_object()?;
                out.push_str(&format!(
                    "passdb: {user} {}\nextra fields:\n",
                    text(&o["result"])
                ));
                for (k, v) in o {
                    if k != "source" && k != "result" {
                        out.push_str(&format!("  {k}={}\n", text(v)));
                    }
                }
            }
            Some(out)
        }
        _ => None,
    }
}

/// The answers keyed by user that doveadm prints its own way: `user` as a `field`/`value`
/// table (one row per userdb field, all users one after another, as `doveadm user` does),
/// `auth lookup` as `passdb: USER` and `  key       : value` lines with a blank line between
/// users (doveadm's printf). `None` for every other answer.
fn keyed_answer(command: &str, format: Format, value: &Value) -> Option<String> {
    let Value::Object(users) = value else {
        return None;
    };
    match command {
        "user" if !users.contains_key("userList") => {
            static FIELD_VALUE: [Header; 2] = [
                h("field", "field", false, false),
                h("value", "value", false, false),
            ];
            let cols = Columns {
                headers: &FIELD_VALUE,
                size_from_first_row: false,
            };
            let table: Vec<Vec<String>> = users
                .values()
                .filter_map(Value::as_object)
                .flat_map(|o| o.iter().map(|(k, v)| vec![k.clone(), text(v)]))
                .collect();
            Some(render(format, &cols, &table, columns()))
        }
        "user" => Some(
            users["userList"]
                .as_array()
                .map(|a| a.iter().map(|u| format!("{}\n", text(u))).collect())
                .unwrap_or_default(),
        ),
        "auth lookup" => Some(
            users
                .iter()
                .map(|(user, o)| {
                    let mut out = format!("passdb: {user}\n");
                    for (k, v) in o.as_object().into_iter().flatten() {
                        if k != "source" {
                            out.push_str(&format!("  {k:<10}: {}\n", text(v)));
                        }
                    }
                    out
                })
                .collect::<Vec<_>>()
                .join("\n"),
        ),
        _ => None,
    }
}

/// Runs one command against the server and prints its answer; returns the exit code.
pub fn run(
    settings: &Settings,
    format: Format,
    spec: &CommandSpec,
    params: Params,
) -> anyhow::Result<i32> {
    let request = json!([[spec.name, Value::Object(params.clone()), "c1"]]);
    let entries = client::call(&socket_path(settings), &request)?;
    let entry = entries
        .first()
        .and_then(|e| e.as_array())
        .ok_or_else(|| anyhow!("empty answer from the doveadm socket"))?;
    match entry.first().and_then(|k| k.as_str()) {
        Some("doveadmResponse") => Ok(print_answer(
            spec,
            &params,
            format,
            entry.get(1).unwrap_or(&Value::Null),
        )),
        Some("error") => {
            let e = entry.get(1).cloned().unwrap_or(Value::Null);
            let code = e["exitCode"].as_i64().unwrap_or(1) as i32;
            let message = e["message"].as_str().unwrap_or("").to_string();
            if spec.name == "kick" && code == 68 {
                print!("{}", print::kicked(&[]).0);
            } else if spec.name == "auth test" && code == 77 {
                // doveadm prints a failed test like a passed one, on stdout.
                let user = params.get("user").map(text).unwrap_or_default();
                print!("{message}\nextra fields:\n  user={user}\n");
            } else if message.is_empty() {
                eprintln!("Error: {} failed ({})", spec.name, text(&e["type"]));
            } else {
                eprintln!("Error: {message}");
            }
            Ok(if code == 0 { 1 } else { code })
        }
        _ => bail!("unexpected answer from the doveadm socket: {entry:?}"),
    }
}

/// `roost doveadm ARGS…` (or a top-level mirror): parses, runs, returns the exit code.
pub fn main(settings: &Settings, args: &[String]) -> anyhow::Result<i32> {
    match parse(args) {
        Ok((format, spec, params)) => run(
            settings,
            format.unwrap_or(default_format(spec.name)),
            &spec,
            params,
        ),
        Err(Usage(m)) => {
            eprintln!("Error: {m}");
            Ok(EX_USAGE)
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn args(s: &str) -> Vec<String> {
        s.split_whitespace().map(str::to_owned).collect()
    }

    /// Dovecot 2.3.19's `doveadm -f table service status pop3 imap` into a pipe (80 columns),
    /// captured from the reference instance.
    #[test]
    fn generic_table_is_doveadms() {
        let keys: Vec<String> = "name process_count process_avail process_limit client_limit throttle_secs exit_failure_last exit_failures_in_sec last_drop_warning listen_pending listening doveadm_stop process_total"
            .split(' ')
            .map(str::to_owned)
            .collect();
        let row = |v: &str| v.split(' ').map(str::to_owned).collect::<Vec<_>>();
        let rows = vec![
            row("pop3 0 0 4000 1 0 0 0 0 n y n 0"),
            row("imap 0 0 10000 1 0 0 0 0 n y n 19"),
        ];
        let out = render(Format::Table, &command_columns("", &keys), &rows, 80);
        assert_eq!(
            out,
            "name process_count process_avail process_limit client_limit throttle_secs exit_failure_last exit_failures_in_sec last_drop_warning listen_pending listening doveadm_stop process_total\n\
             pop3 0       0       4000      1       0       0         0           0         n        y     n       0      \n\
             imap 0       0       10000     1       0       0         0           0         n        y     n       19     \n"
        );
    }

    #[test]
    fn user_and_auth_lookup_print_as_doveadm_prints_them() {
        let user = json!({"bob": {"uid": "1000", "home": "/h/bob"}, "carol": {"uid": "1001"}});
        assert_eq!(
            keyed_answer("user", Format::Tab, &user).unwrap(),
            "field\tvalue\nuid\t1000\nhome\t/h/bob\nuid\t1001\n"
        );
        assert_eq!(
            keyed_answer("user", Format::Flow, &user).unwrap(),
            "field=uid value=1000\nfield=home value=/h/bob\nfield=uid value=1001\n"
        );
        let lookup = json!({"bob": {"source": "passdb", "user": "bob"}, "eve": {"user": "eve"}});
        assert_eq!(
            keyed_answer("auth lookup", Format::Table, &lookup).unwrap(),
            "passdb: bob\n  user      : bob\n\npassdb: eve\n  user      : eve\n"
        );
        assert!(keyed_answer("mailbox status", Format::Table, &lookup).is_none());
    }

    #[test]
    fn words_options_and_positionals() {
        let (f, spec, p) = parse(&args("-f tab who -1 bob* 10.0.0.0/8")).ok().unwrap();
        assert_eq!(f, Some(Format::Tab));
        assert_eq!(spec.name, "who");
        assert_eq!(
            Value::Object(p).to_string(),
            r#"{"separateConnections":true,"mask":["bob*","10.0.0.0/8"]}"#
        );
        let (f, spec, p) = parse(&args("service status imap pop3")).ok().unwrap();
        assert_eq!((f, spec.name), (None, "service status"));
        assert_eq!(p["service"], json!(["imap", "pop3"]));
        let (f, _, p) = parse(&args("who --separate-connections -f json"))
            .ok()
            .unwrap();
        assert_eq!(f, Some(Format::Json));
        assert_eq!(p["separateConnections"], json!(true));
        let (_, _, p) = parse(&args("kick -f bob")).ok().unwrap();
        assert_eq!(p["force"], json!(true));
        // An array followed by another positional parameter is one (space-separated) word.
        let (_, spec, p) = parse(&args("mailbox status -u bob messages INBOX Work"))
            .ok()
            .unwrap();
        assert_eq!(spec.name, "mailbox status");
        assert_eq!(p["field"], json!(["messages"]));
        assert_eq!(p["mailboxMask"], json!(["INBOX", "Work"]));
        assert!(parse(&args("nosuch command")).is_err());
        assert!(parse(&args("who --bogus")).is_err());
    }
}
