//! The tracing layer that writes roost's log: it reads an event's fields once, decides with the
//! `log_debug` filter whether a debug event is written, picks the sink by level (errors and
//! warnings → `log_path`, info → `info_log_path`, debug → `debug_log_path`), formats the line
//! (Dovecot's text shape, JSON, or a syslog message) and, when `log_core_filter` matches,
//! aborts the process after the line is out, as Dovecot does.

use std::fmt;

use tracing::field::{Field, Visit};
use tracing::{Event, Level, Subscriber};
use tracing_subscriber::layer::Context;
use tracing_subscriber::Layer;

use super::filter::{Facts, Filter};
use super::format::{escape_controls, rfc3339, service_from_target, time_prefix, unix_secs};
use super::sink::Sink;

/// Which debug events are written.
pub enum DebugMode {
    None,
    All,
    Filter(Filter),
}

/// The layer's configuration.
pub struct Outputs {
    pub errors: Sink,
    pub info: Sink,
    pub debug: Sink,
    pub json: bool,
    pub debug_mode: DebugMode,
    pub core_filter: Option<Filter>,
}

/// An event's fields: the message, roost's prefix fields, and the rest in order.
#[derive(Default)]
pub struct Fields {
    pub message: String,
    pub service: Option<String>,
    pub vproc: Option<String>,
    pub rest: Vec<(String, serde_json::Value)>,
}

impl Fields {
    /// The event's fields and the service it speaks for: its `service` field, else the one
    /// its target names, else the master.
    pub fn of(event: &Event<'_>) -> (Fields, String) {
        let mut f = Fields::default();
        event.record(&mut f);
        let service = f
            .service
            .clone()
            .or_else(|| service_from_target(event.metadata().target()))
            .unwrap_or_else(|| "master".to_string());
        (f, service)
    }

    fn put(&mut self, name: &str, value: serde_json::Value) {
        let text = || match &value {
            serde_json::Value::String(s) => s.clone(),
            v => v.to_string(),
        };
        match name {
            "message" => self.message = text(),
            "service" => self.service = Some(text()),
            "vproc" => self.vproc = Some(text()),
            _ => self.rest.push((name.to_string(), value)),
        }
    }

    fn field(&self, name: &str) -> Option<String> {
        self.rest
            .iter()
            .find(|(k, _)| k == name)
            .map(|(_, v)| match v {
                serde_json::Value::String(s) => s.clone(),
                v => v.to_string(),
            })
    }
}

impl Visit for Fields {
    fn record_debug(&mut self, field: &Field, value: &dyn fmt::Debug) {
        self.put(
            field.name(),
            serde_json::Value::String(format!("{value:?}")),
        );
    }
    fn record_str(&mut self, field: &Field, value: &str) {
        self.put(field.name(), serde_json::Value::String(value.to_string()));
    }
    fn record_i64(&mut self, field: &Field, value: i64) {
        self.put(field.name(), value.into());
    }
    fn record_u64(&mut self, field: &Field, value: u64) {
        self.put(field.name(), value.into());
    }
    fn record_bool(&mut self, field: &Field, value: bool) {
        self.put(field.name(), value.into());
    }
}

/// Services whose per-user lines carry Dovecot's `mail_log_prefix`, `%s(%u)<%{pid}><%{session}>: `.
const MAIL_LOG_PREFIX_SERVICES: &[&str] = &["imap", "pop3", "lmtp", "doveadm"];

/// The line prefix: `imap-login: `, `health-check(vp3): `, `imap(bob)<3><sess>: `. Returns the
/// prefix and the names of the fields it used up.
pub fn prefix(service: &str, f: &Fields) -> (String, Vec<&'static str>) {
    if MAIL_LOG_PREFIX_SERVICES.contains(&service) {
        if let Some(user) = f.field("user") {
            let mut p = format!("{service}({user})");
            if let Some(v) = &f.vproc {
                p.push_str(&format!("<{v}>"));
            }
            if let Some(s) = f.field("session") {
                p.push_str(&format!("<{s}>"));
            }
            p.push_str(": ");
            return (p, vec!["user", "session"]);
        }
    }
    match &f.vproc {
        // Login processes log as `imap-login: ` in Dovecot (fail2ban's dovecot filter expects
        // exactly that); the virtual process stays in JSON lines.
        Some(_) if service.ends_with("-login") => (format!("{service}: "), vec![]),
        Some(v) => (format!("{service}(vp{v}): "), vec![]),
        None => (format!("{service}: "), vec![]),
    }
}

pub fn level_word(l: &Level) -> &'static str {
    match *l {
        Level::ERROR => "Error",
        Level::WARN => "Warning",
        Level::INFO => "Info",
        Level::DEBUG => "Debug",
        Level::TRACE => "Debug",
    }
}

/// `imap-login: Info: message key=value…` (no timestamp; no `Info: ` for syslog, as Dovecot's
/// syslog lines have none).
pub fn body(service: &str, level: &Level, f: &Fields, syslog: bool) -> String {
    let (prefix, text) = parts(service, f);
    let level = if syslog && *level == Level::INFO {
        String::new()
    } else {
        format!("{}: ", level_word(level))
    };
    format!("{prefix}{level}{text}")
}

/// A line's prefix (`imap(bob)<7><sess>: `) and its text (message and the other fields).
pub fn parts(service: &str, f: &Fields) -> (String, String) {
    use std::fmt::Write;
    let (prefix, used) = prefix(service, f);
    let mut rest = String::new();
    for (k, v) in &f.rest {
        if used.contains(&k.as_str()) {
            continue;
        }
        match v {
            serde_json::Value::String(s) => {
                let _ = write!(rest, " {k}={s}");
            }
            v => {
                let _ = write!(rest, " {k}={v}");
            }
        }
    }
    (
        prefix,
        format!("{}{}", escape_controls(&f.message), escape_controls(&rest)),
    )
}

fn json_line(event: &Event<'_>, f: &Fields, now: std::time::SystemTime) -> String {
    let mut m = serde_json::Map::new();
    m.insert("timestamp".into(), rfc3339(now).into());
    m.insert(
        "level".into(),
        event.metadata().level().to_string().to_uppercase().into(),
    );
    m.insert("message".into(), f.message.clone().into());
    if let Some(s) = &f.service {
        m.insert("service".into(), s.clone().into());
    }
    if let Some(v) = &f.vproc {
        let v = v
            .parse::<u64>()
            .map(serde_json::Value::from)
            .unwrap_or_else(|_| v.clone().into());
        m.insert("vproc".into(), v);
    }
    for (k, v) in &f.rest {
        m.insert(k.clone(), v.clone());
    }
    m.insert("target".into(), event.metadata().target().into());
    serde_json::Value::Object(m).to_string()
}

/// What a filter sees of an event.
fn facts(event: &Event<'_>, service: &str, f: &Fields) -> Facts {
    let level = match *event.metadata().level() {
        Level::ERROR => "error",
        Level::WARN => "warning",
        Level::INFO => "info",
        _ => "debug",
    };
    let mut fields: Vec<(String, String)> = f
        .rest
        .iter()
        .map(|(k, v)| {
            let v = match v {
                serde_json::Value::String(s) => s.clone(),
                v => v.to_string(),
            };
            (k.clone(), v)
        })
        .collect();
    if let Some(v) = &f.vproc {
        fields.push(("vproc".into(), v.clone()));
    }
    fields.push(("service".into(), service.to_string()));
    Facts {
        event: f.field("event"),
        categories: vec![
            service.to_string(),
            format!("service:{service}"),
            level.to_string(),
        ],
        file: event.metadata().file().map(str::to_string),
        line: event.metadata().line(),
        fields,
    }
}

/// The layer.
pub struct LogLayer {
    pub outputs: Outputs,
}

impl<S: Subscriber> Layer<S> for LogLayer {
    fn on_event(&self, event: &Event<'_>, _ctx: Context<'_, S>) {
        let level = *event.metadata().level();
        let (f, service) = Fields::of(event);
        let o = &self.outputs;
        let facts = || facts(event, &service, &f);
        let sink = if level <= Level::WARN {
            &o.errors
        } else if level == Level::INFO {
            &o.info
        } else {
            match &o.debug_mode {
                DebugMode::None => return,
                DebugMode::All => {}
                DebugMode::Filter(flt) => {
                    if !flt.matches(&facts()) {
                        return;
                    }
                }
            }
            &o.debug
        };
        let now = std::time::SystemTime::now();
        if level <= Level::WARN {
            let (prefix, text) = parts(&service, &f);
            super::errors::record(super::errors::LoggedError {
                kind: if level == Level::ERROR {
                    "error"
                } else {
                    "warning"
                },
                timestamp: unix_secs(now),
                prefix,
                text,
            });
        }
        match sink {
            Sink::Syslog(s) => {
                let msg = if o.json {
                    json_line(event, &f, now)
                } else {
                    body(&service, &level, &f, true)
                };
                s.send(&level, unix_secs(now), &msg);
            }
            Sink::Stderr | Sink::File(_) => {
                let mut line = if o.json {
                    json_line(event, &f, now)
                } else {
                    format!("{} {}", time_prefix(now), body(&service, &level, &f, false))
                };
                line.push('\n');
                match sink {
                    Sink::File(file) => file.write_line(line.as_bytes()),
                    _ => {
                        use std::io::Write;
                        let _ = std::io::stderr().lock().write_all(line.as_bytes());
                    }
                }
            }
        }
        if let Some(core) = &o.core_filter {
            if core.matches(&facts()) {
                // Dovecot's log_core_filter: crash (with a core dump) after logging the event.
                std::process::abort();
            }
        }
    }
}
