//! Logging: Dovecot's `log_path` / `info_log_path` / `debug_log_path` (info and debug default
//! to the one before; `/dev/stderr` or empty is stderr, `syslog` is syslog with
//! `syslog_facility`), lines in Dovecot's shape (`imap-login: Info: …`, `imap(bob): Info: …`)
//! or JSON (`log_format = "json"`), the `log_debug` and `log_core_filter` event filters
//! ([`filter`]), and `log reopen` ([`reopen`]): every log file is opened again under its
//! name, which is what logrotate's postrotate needs. Every event may carry `service` and
//! `vproc` fields; they become the line's prefix.
//!
//! Who writes logs: the server process and the privsep launcher (both through this module).
//! Privsep helpers open no log files: they report failures to the server, which logs them.
//! After the server has dropped root, its log files are reopened by the launcher (which
//! checks the path against its own configuration) and passed back ([`set_opener`]); the
//! launcher reopens its own files when asked ([`on_reopen`]).

use std::fmt;
use std::fs::File;
use std::sync::{Arc, Mutex, OnceLock};

use tracing::{Event, Subscriber};
use tracing_subscriber::filter::LevelFilter;
use tracing_subscriber::fmt::format::Writer;
use tracing_subscriber::fmt::{FmtContext, FormatEvent, FormatFields};
use tracing_subscriber::layer::SubscriberExt;
use tracing_subscriber::registry::LookupSpan;
use tracing_subscriber::Registry;

use crate::settings::{CoreSettings, LogFormat};

pub mod errors;
pub mod filter;
pub mod format;
pub mod layer;
pub mod sink;
pub mod syslog;
pub mod throttle;
pub use throttle::{throttled, Throttle};

pub use format::escape_controls;
use format::time_prefix;
use layer::{DebugMode, Fields, LogLayer, Outputs};
use sink::{LogFile, Sink};

/// Why logging could not be set up or reopened.
#[derive(Debug, thiserror::Error)]
pub enum LogError {
    #[error("{setting}: cannot open {path}: {source}")]
    Open {
        setting: &'static str,
        path: String,
        source: std::io::Error,
    },
    #[error("{0}")]
    Setting(String),
    #[error("logging is already set up")]
    AlreadySet,
    #[error("log reopen: {0}")]
    Reopen(String),
}

/// Dovecot-style line formatter (for code that builds its own `tracing_subscriber::fmt`
/// layer; the server uses [`layer::LogLayer`], which writes the same lines).
pub struct DovecotFormat;

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
        let (f, service) = Fields::of(event);
        writeln!(
            w,
            "{} {}",
            time_prefix(std::time::SystemTime::now()),
            layer::body(&service, event.metadata().level(), &f, false)
        )
    }
}

/// Opens a log file for [`reopen`]: by default directly, after the server dropped root
/// through the launcher.
pub type Opener = Box<dyn Fn(&str) -> std::io::Result<File> + Send + Sync>;
/// Something else that must reopen its logs on `log reopen` (the launcher process).
pub type ReopenHook = Box<dyn Fn() -> Result<(), String> + Send + Sync>;

/// This process's open log outputs.
struct Global {
    files: Vec<Arc<LogFile>>,
    syslog: Option<Arc<syslog::Syslog>>,
    opener: Mutex<Option<Opener>>,
    hooks: Mutex<Vec<ReopenHook>>,
    /// One reopen at a time.
    reopening: Mutex<()>,
}

static GLOBAL: OnceLock<Global> = OnceLock::new();

/// Parses `log_debug`: empty or `no` → none, `yes` → all, else a filter.
pub fn debug_mode(value: &str) -> Result<DebugMode, filter::FilterError> {
    let v = value.trim();
    match filter::yes_no(v) {
        _ if v.is_empty() => return Ok(DebugMode::None),
        Some(false) => return Ok(DebugMode::None),
        Some(true) => return Ok(DebugMode::All),
        None => {}
    }
    filter::Filter::parse(v).map(DebugMode::Filter)
}

/// Parses `log_core_filter` (empty: none).
pub fn core_filter(value: &str) -> Result<Option<filter::Filter>, filter::FilterError> {
    let v = value.trim();
    if v.is_empty() {
        return Ok(None);
    }
    filter::Filter::parse(v).map(Some)
}

/// Installs the global subscriber from the log settings. Once per process.
pub fn init(core: &CoreSettings) -> Result<(), LogError> {
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
    let debug_mode =
        debug_mode(&core.log_debug).map_err(|e| LogError::Setting(format!("log_debug: {e}")))?;
    let core_filter = core_filter(&core.log_core_filter)
        .map_err(|e| LogError::Setting(format!("log_core_filter: {e}")))?;
    let mut files: Vec<Arc<LogFile>> = Vec::new();
    let mut syslog_out: Option<Arc<syslog::Syslog>> = None;
    let mut open = |setting: &'static str, path: &str| -> Result<Sink, LogError> {
        if sink::is_stderr(path) {
            return Ok(Sink::Stderr);
        }
        if sink::is_syslog(path) {
            if syslog_out.is_none() {
                let fac = syslog::facility(&core.syslog_facility).map_err(LogError::Setting)?;
                syslog_out = Some(Arc::new(syslog::Syslog::new(fac)));
            }
            return Ok(Sink::Syslog(syslog_out.clone().expect("set above")));
        }
        if let Some(f) = files.iter().find(|f| f.path == path) {
            return Ok(Sink::File(f.clone()));
        }
        let file = sink::open_log_file(path, false).map_err(|source| LogError::Open {
            setting,
            path: path.to_string(),
            source,
        })?;
        let f = Arc::new(LogFile::new(path, file));
        files.push(f.clone());
        Ok(Sink::File(f))
    };
    let errors = open("log_path", &core.log_path)?;
    let info = open("info_log_path", &info_path)?;
    let debug = if matches!(debug_mode, DebugMode::None) {
        Sink::Stderr
    } else {
        open("debug_log_path", &debug_path)?
    };
    let max = if matches!(debug_mode, DebugMode::None) {
        LevelFilter::INFO
    } else {
        LevelFilter::DEBUG
    };
    let outputs = Outputs {
        errors,
        info,
        debug,
        json: core.log_format == LogFormat::Json,
        debug_mode,
        core_filter,
    };
    let global = Global {
        files,
        syslog: syslog_out,
        opener: Mutex::new(None),
        hooks: Mutex::new(Vec::new()),
        reopening: Mutex::new(()),
    };
    GLOBAL.set(global).map_err(|_| LogError::AlreadySet)?;
    let subscriber = Registry::default().with(LogLayer { outputs }).with(max);
    tracing::subscriber::set_global_default(subscriber).map_err(|_| LogError::AlreadySet)
}

/// From now on [`reopen`] opens files with `opener` (the launcher, after the privilege drop).
pub fn set_opener(opener: Opener) {
    if let Some(g) = GLOBAL.get() {
        *g.opener.lock().unwrap() = Some(opener);
    }
}

/// Runs `hook` first on every [`reopen`] (the launcher reopens its own log files).
pub fn on_reopen(hook: ReopenHook) {
    if let Some(g) = GLOBAL.get() {
        g.hooks.lock().unwrap().push(hook);
    }
}

/// The log files this process has open (by configured path).
pub fn open_paths() -> Vec<String> {
    GLOBAL
        .get()
        .map(|g| g.files.iter().map(|f| f.path.clone()).collect())
        .unwrap_or_default()
}

/// [`reopen`], then one line about it (in the new files); for the signal, the control socket
/// and doveadm. Blocking.
pub fn reopen_logged(why: &str) -> Result<Vec<String>, LogError> {
    let r = reopen();
    match &r {
        Ok(paths) if paths.is_empty() => tracing::info!("{why}: log reopened (no log files)"),
        Ok(paths) => tracing::info!("{why}: log files reopened ({})", paths.join(", ")),
        Err(e) => tracing::error!("{why}: {e}"),
    }
    r
}

/// `log reopen`: the hooks (other processes) first, then every log file of this process is
/// opened again under its path and replaces the open one; syslog reconnects. Blocking: call
/// it from a blocking thread. Returns the paths reopened here.
pub fn reopen() -> Result<Vec<String>, LogError> {
    let Some(g) = GLOBAL.get() else {
        return Ok(Vec::new());
    };
    let _one = g.reopening.lock().unwrap_or_else(|e| e.into_inner());
    let mut errors = Vec::new();
    for hook in g.hooks.lock().unwrap().iter() {
        if let Err(e) = hook() {
            errors.push(e);
        }
    }
    let mut done = Vec::new();
    for f in &g.files {
        let opened = match &*g.opener.lock().unwrap() {
            Some(open) => open(&f.path),
            None => sink::open_log_file(&f.path, false),
        };
        match opened {
            Ok(file) => {
                f.replace(file);
                done.push(f.path.clone());
            }
            Err(e) => errors.push(format!("cannot open {}: {e}", f.path)),
        }
    }
    if let Some(s) = &g.syslog {
        s.reopen();
    }
    if errors.is_empty() {
        Ok(done)
    } else {
        Err(LogError::Reopen(errors.join("; ")))
    }
}

#[cfg(test)]
mod tests {
    use super::format::service_from_target;
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
    fn mail_service_lines_get_dovecots_mail_log_prefix() {
        let mut f = Fields {
            message: "Disconnected: Logged out".into(),
            vproc: Some("3".into()),
            ..Fields::default()
        };
        f.rest.push(("user".into(), "bob".into()));
        f.rest.push(("session".into(), "abc".into()));
        f.rest.push(("in".into(), 12.into()));
        assert_eq!(
            layer::body("imap", &tracing::Level::INFO, &f, false),
            "imap(bob)<3><abc>: Info: Disconnected: Logged out in=12"
        );
        assert_eq!(
            layer::body("imap", &tracing::Level::INFO, &f, true),
            "imap(bob)<3><abc>: Disconnected: Logged out in=12"
        );
        assert_eq!(
            layer::body("health-check", &tracing::Level::DEBUG, &f, false),
            "health-check(vp3): Debug: Disconnected: Logged out user=bob session=abc in=12"
        );
    }

    #[test]
    fn login_lines_have_dovecots_bare_prefix() {
        let f = Fields {
            message: "Login: user=<bob>".into(),
            vproc: Some("3".into()),
            ..Fields::default()
        };
        assert_eq!(
            layer::body("imap-login", &tracing::Level::INFO, &f, false),
            "imap-login: Info: Login: user=<bob>"
        );
    }

    #[test]
    fn civil_dates() {
        assert_eq!(format::civil_from_days(0), (1970, 1, 1));
        assert_eq!(format::civil_from_days(20_785), (2026, 11, 28));
    }
}
