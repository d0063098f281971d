//! Logging: tracing to stderr by default, or to `log_path` / `info_log_path` /
//! `debug_log_path` as Dovecot splits them, in Dovecot's line shape
//! (`imap-login(vp3): Info: …`) or as JSON (`log_format = "json"`). Every event may carry
//! `service` and `vproc` fields; they become the line's prefix.

use std::fmt;
use std::fs::OpenOptions;
use std::sync::{Arc, Mutex};

use tracing::field::{Field, Visit};
use tracing::{Event, Level, Subscriber};
use tracing_subscriber::filter::{filter_fn, LevelFilter};
use tracing_subscriber::fmt::format::Writer;
use tracing_subscriber::fmt::{FmtContext, FormatEvent, FormatFields, MakeWriter};
use tracing_subscriber::layer::SubscriberExt;
use tracing_subscriber::registry::LookupSpan;
use tracing_subscriber::{Layer, Registry};

use crate::settings::{CoreSettings, LogFormat};

pub mod throttle;
pub use throttle::{throttled, Throttle};

/// Dovecot-style line formatter.
pub struct DovecotFormat;

#[derive(Default)]
struct Fields {
    message: String,
    service: Option<String>,
    vproc: Option<String>,
    rest: String,
}

impl Visit for Fields {
    fn record_debug(&mut self, field: &Field, value: &dyn fmt::Debug) {
        match field.name() {
            "message" => self.message = format!("{value:?}"),
            "service" => self.service = Some(format!("{value:?}")),
            "vproc" => self.vproc = Some(format!("{value:?}")),
            name => {
                use std::fmt::Write;
                let _ = write!(self.rest, " {name}={value:?}");
            }
        }
    }

    fn record_str(&mut self, field: &Field, value: &str) {
        match field.name() {
            "message" => self.message = value.to_string(),
            "service" => self.service = Some(value.to_string()),
            "vproc" => self.vproc = Some(value.to_string()),
            name => {
                use std::fmt::Write;
                let _ = write!(self.rest, " {name}={value}");
            }
        }
    }
}

/// `roost::service::pop3_login::session` → `pop3-login`: events without a `service` field are
/// attributed to the service module they come from.
fn service_from_target(target: &str) -> Option<String> {
    let rest = target.strip_prefix("roost::service::")?;
    let name = rest.split("::").next()?;
    Some(name.replace('_', "-"))
}

fn level_word(l: &Level) -> &'static str {
    match *l {
        Level::ERROR => "Error",
        Level::WARN => "Warning",
        Level::INFO => "Info",
        Level::DEBUG => "Debug",
        Level::TRACE => "Debug",
    }
}

impl<S, N> FormatEvent<S, N> for DovecotFormat
where
    S: Subscriber + for<'a> LookupSpan<'a>,
    N: for<'a> FormatFields<'a> + 'static,
{
    fn format_event(
        &self,
        _ctx: &FmtContext<'_, S, N>,
        mut w: Writer<'_>,
        event: &Event<'_>,
    ) -> fmt::Result {
        let mut f = Fields::default();
        event.record(&mut f);
        let now = time_prefix();
        let inferred = service_from_target(event.metadata().target());
        let service = f
            .service
            .as_deref()
            .or(inferred.as_deref())
            .unwrap_or("master");
        match &f.vproc {
            Some(v) => write!(w, "{now} {service}(vp{v}): ")?,
            None => write!(w, "{now} {service}: ")?,
        }
        writeln!(
            w,
            "{}: {}{}",
            level_word(event.metadata().level()),
            escape_controls(&f.message),
            escape_controls(&f.rest)
        )
    }
}

/// One event is one line: control characters that client input may carry (NUL, CR, LF, ESC,
/// DEL, C1 controls) are written as `\xNN` / `\u{NNNN}` so they cannot forge or garble lines.
pub fn escape_controls(s: &str) -> std::borrow::Cow<'_, str> {
    if !s.chars().any(char::is_control) {
        return std::borrow::Cow::Borrowed(s);
    }
    let mut out = String::with_capacity(s.len() + 8);
    for c in s.chars() {
        match c {
            c if (c as u32) < 0x100 && c.is_control() => {
                out.push_str(&format!("\\x{:02x}", c as u32));
            }
            c if c.is_control() => out.push_str(&format!("\\u{{{:04x}}}", c as u32)),
            c => out.push(c),
        }
    }
    std::borrow::Cow::Owned(out)
}

/// `YYYY-MM-DD HH:MM:SS` in UTC, without a date crate.
fn time_prefix() -> String {
    let secs = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_secs())
        .unwrap_or(0);
    let days = secs / 86400;
    let rem = secs % 86400;
    let (y, m, d) = civil_from_days(days as i64);
    format!(
        "{y:04}-{m:02}-{d:02} {:02}:{:02}:{:02}",
        rem / 3600,
        (rem % 3600) / 60,
        rem % 60
    )
}

/// Days since 1970-01-01 to (year, month, day) (Howard Hinnant's algorithm).
fn civil_from_days(z: i64) -> (i64, u32, u32) {
    let z = z + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z.rem_euclid(146_097);
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let y = yoe + era * 400;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let d = (doy - (153 * mp + 2) / 5 + 1) as u32;
    let m = if mp < 10 { mp + 3 } else { mp - 9 } as u32;
    (if m <= 2 { y + 1 } else { y }, m, d)
}

/// A cloneable file writer shared by layers.
#[derive(Clone)]
struct FileWriter(Arc<Mutex<std::fs::File>>);

impl std::io::Write for FileWriter {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        self.0.lock().unwrap().write(buf)
    }
    fn flush(&mut self) -> std::io::Result<()> {
        self.0.lock().unwrap().flush()
    }
}

impl<'a> MakeWriter<'a> for FileWriter {
    type Writer = FileWriter;
    fn make_writer(&'a self) -> FileWriter {
        self.clone()
    }
}

/// Where one severity band goes.
#[derive(Clone)]
enum Sink {
    Stderr,
    File(FileWriter),
}

fn open(path: &str) -> Result<Sink, String> {
    if path.is_empty() || path == "/dev/stderr" {
        return Ok(Sink::Stderr);
    }
    let f = OpenOptions::new()
        .create(true)
        .append(true)
        .open(path)
        .map_err(|e| format!("log_path: cannot open {path}: {e}"))?;
    Ok(Sink::File(FileWriter(Arc::new(Mutex::new(f)))))
}

type BoxedLayer = Box<dyn Layer<Registry> + Send + Sync>;

fn layer_for(sink: Sink, json: bool, band: fn(&Level) -> bool) -> BoxedLayer {
    let filter = filter_fn(move |m| band(m.level()));
    match (sink, json) {
        (Sink::Stderr, false) => tracing_subscriber::fmt::layer()
            .event_format(DovecotFormat)
            .with_writer(std::io::stderr)
            .with_filter(filter)
            .boxed(),
        (Sink::Stderr, true) => tracing_subscriber::fmt::layer()
            .json()
            .flatten_event(true)
            .with_writer(std::io::stderr)
            .with_filter(filter)
            .boxed(),
        (Sink::File(w), false) => tracing_subscriber::fmt::layer()
            .event_format(DovecotFormat)
            .with_writer(w)
            .with_filter(filter)
            .boxed(),
        (Sink::File(w), true) => tracing_subscriber::fmt::layer()
            .json()
            .flatten_event(true)
            .with_writer(w)
            .with_filter(filter)
            .boxed(),
    }
}

/// Installs the global subscriber from the log settings. Safe to call once per process.
pub fn init(core: &CoreSettings) -> Result<(), String> {
    let json = core.log_format == LogFormat::Json;
    let info_path = if core.info_log_path.is_empty() {
        core.log_path.clone()
    } else {
        core.info_log_path.clone()
    };
    let debug_path = if core.debug_log_path.is_empty() {
        info_path.clone()
    } else {
        core.debug_log_path.clone()
    };
    let max = if core.log_debug {
        LevelFilter::DEBUG
    } else {
        LevelFilter::INFO
    };
    let mut layers: Vec<BoxedLayer> = vec![
        layer_for(open(&core.log_path)?, json, |l| *l <= Level::WARN),
        layer_for(open(&info_path)?, json, |l| *l == Level::INFO),
    ];
    if core.log_debug {
        layers.push(layer_for(open(&debug_path)?, json, |l| *l >= Level::DEBUG));
    }
    let subscriber = Registry::default().with(layers).with(max);
    tracing::subscriber::set_global_default(subscriber).map_err(|e| e.to_string())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn service_names_from_module_paths() {
        assert_eq!(
            service_from_target("roost::service::pop3_login::session").as_deref(),
            Some("pop3-login")
        );
        assert_eq!(
            service_from_target("roost::service::lmtp").as_deref(),
            Some("lmtp")
        );
        assert_eq!(service_from_target("roost::master::pool"), None);
    }

    #[test]
    fn control_bytes_are_escaped_in_text_lines() {
        #[derive(Clone, Default)]
        struct Buf(Arc<Mutex<Vec<u8>>>);
        impl std::io::Write for Buf {
            fn write(&mut self, b: &[u8]) -> std::io::Result<usize> {
                self.0.lock().unwrap().extend_from_slice(b);
                Ok(b.len())
            }
            fn flush(&mut self) -> std::io::Result<()> {
                Ok(())
            }
        }
        let buf = Buf::default();
        let sink = buf.clone();
        let subscriber = Registry::default().with(
            tracing_subscriber::fmt::layer()
                .event_format(DovecotFormat)
                .with_writer(move || sink.clone()),
        );
        tracing::subscriber::with_default(subscriber, || {
            let user = "bob\0\r\n2026-01-01 00:00:00 auth: Info: forged\x1b[31m";
            tracing::info!(service = "auth", "user={user}");
        });
        let text = String::from_utf8(buf.0.lock().unwrap().clone()).unwrap();
        assert_eq!(text.lines().count(), 1, "{text:?}");
        assert!(
            text.ends_with("auth: Info: user=bob\\x00\\x0d\\x0a2026-01-01 00:00:00 auth: Info: forged\\x1b[31m\n"),
            "{text:?}"
        );
        assert_eq!(escape_controls("plain"), "plain");
        assert_eq!(escape_controls("a\u{85}b"), "a\\x85b");
    }

    #[test]
    fn civil_dates() {
        assert_eq!(civil_from_days(0), (1970, 1, 1));
        assert_eq!(civil_from_days(20_785), (2026, 11, 28));
    }
}
