//! A mail helper serving whole IMAP sessions as its uid/gid. The first `IMAP` request turns a
//! mail helper (already running as the userdb's uid/gid, without capabilities) into this mode
//! for the rest of its life: a small tokio runtime runs each session's post-login loop
//! (`service::imap::session::serve`) on the cleartext socket the server passed with the
//! request, so every file the session touches is opened, created, renamed and removed as that
//! uid. The server keeps the client connection (and TLS), anvil, `roost kick` and the
//! `Disconnected:` line; this side sends back, on its fd 3:
//!
//! * `END <sid>` + the session's outcome (reason and counters, JSON) when it ends;
//! * `METRICS` + the metric updates its sessions made (JSON), about once a second and before
//!   each `END`;
//! * `LOG <level>` + `service`, message: its sessions' log events.
//!
//! Requests: `IMAP <sid> <start data as JSON>` + the session's socket; `STOP <sid>
//! shutdown|kick`. The helper exits when the server closes fd 3 (after its sessions ended:
//! their sockets close with it).

use std::collections::HashMap;
use std::os::fd::{OwnedFd, RawFd};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use metrics::{Counter, CounterFn, Gauge, GaugeFn, Histogram, HistogramFn, Key, KeyName};
use metrics::{Metadata, Recorder, SharedString, Unit};
use serde::{Deserialize, Serialize};

use super::error::PrivsepError;
use super::mail_proto::{self as proto, Msg};
use crate::net::conn::{Conn, Stream, Transport};
use crate::runtime::BoxFuture;
use crate::runtime::Session;
use crate::service::imap::handoff::{Outcome, Start};
use crate::service::wire::Wire;
use crate::settings::Settings;

/// What the server sends with `IMAP`.
#[derive(Serialize, Deserialize)]
pub struct StartMsg {
    pub start: Start,
    /// The mail and imap settings (nothing else of the configuration reaches the helper).
    pub settings: Settings,
    pub vproc: u64,
    pub remote: Option<std::net::SocketAddr>,
    pub local: Option<std::net::SocketAddr>,
}

/// One metric update made in the helper.
#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct MetricUpdate {
    /// `c` counter increment, `g` gauge increment, `h` histogram record.
    pub kind: char,
    pub name: String,
    pub labels: Vec<(String, String)>,
    pub value: f64,
}

type Pending = Arc<Mutex<Vec<MetricUpdate>>>;

/// Collects the helper's metric updates for the server.
struct Forward {
    pending: Pending,
}

struct Handle {
    kind: char,
    name: String,
    labels: Vec<(String, String)>,
    pending: Pending,
}

impl Handle {
    fn push(&self, value: f64) {
        if let Ok(mut p) = self.pending.lock() {
            // Bounded: a server that stopped reading loses updates, not memory.
            if p.len() < 100_000 {
                p.push(MetricUpdate {
                    kind: self.kind,
                    name: self.name.clone(),
                    labels: self.labels.clone(),
                    value,
                });
            }
        }
    }
}

impl CounterFn for Handle {
    fn increment(&self, value: u64) {
        if value > 0 {
            self.push(value as f64);
        }
    }
    fn absolute(&self, _value: u64) {}
}

impl GaugeFn for Handle {
    fn increment(&self, value: f64) {
        self.push(value);
    }
    fn decrement(&self, value: f64) {
        self.push(-value);
    }
    fn set(&self, _value: f64) {}
}

impl HistogramFn for Handle {
    fn record(&self, value: f64) {
        self.push(value);
    }
}

impl Forward {
    fn handle(&self, kind: char, key: &Key) -> Arc<Handle> {
        Arc::new(Handle {
            kind,
            name: key.name().to_string(),
            labels: key
                .labels()
                .map(|l| (l.key().to_string(), l.value().to_string()))
                .collect(),
            pending: self.pending.clone(),
        })
    }
}

impl Recorder for Forward {
    fn describe_counter(&self, _: KeyName, _: Option<Unit>, _: SharedString) {}
    fn describe_gauge(&self, _: KeyName, _: Option<Unit>, _: SharedString) {}
    fn describe_histogram(&self, _: KeyName, _: Option<Unit>, _: SharedString) {}
    fn register_counter(&self, key: &Key, _: &Metadata<'_>) -> Counter {
        Counter::from_arc(self.handle('c', key))
    }
    fn register_gauge(&self, key: &Key, _: &Metadata<'_>) -> Gauge {
        Gauge::from_arc(self.handle('g', key))
    }
    fn register_histogram(&self, key: &Key, _: &Metadata<'_>) -> Histogram {
        Histogram::from_arc(self.handle('h', key))
    }
}

/// The helper's socket to the server, written by every task (one frame at a time).
#[derive(Clone)]
struct Out {
    fd: RawFd,
    lock: Arc<Mutex<()>>,
    pending: Pending,
}

impl Out {
    fn send(&self, head: &[&str], body: &[u8]) {
        let _g = self.lock.lock();
        if let Err(e) = proto::send(self.fd, head, body, None) {
            eprintln!("roost imap helper: send failed: {e}");
        }
    }

    fn flush_metrics(&self) {
        let updates = match self.pending.lock() {
            Ok(mut p) if !p.is_empty() => std::mem::take(&mut *p),
            _ => return,
        };
        if let Ok(body) = serde_json::to_vec(&updates) {
            self.send(&["METRICS"], &body);
        }
    }
}

/// Sends the helper's log events to the server.
struct LogForward {
    out: Out,
}

#[derive(Default)]
struct LogFields {
    message: String,
    service: String,
    rest: String,
}

impl tracing::field::Visit for LogFields {
    fn record_debug(&mut self, field: &tracing::field::Field, value: &dyn std::fmt::Debug) {
        match field.name() {
            "message" => self.message = format!("{value:?}"),
            "service" => self.service = format!("{value:?}"),
            n => self.rest.push_str(&format!(" {n}={value:?}")),
        }
    }
    fn record_str(&mut self, field: &tracing::field::Field, value: &str) {
        match field.name() {
            "message" => self.message = value.to_string(),
            "service" => self.service = value.to_string(),
            n => self.rest.push_str(&format!(" {n}={value}")),
        }
    }
}

impl<S: tracing::Subscriber> tracing_subscriber::Layer<S> for LogForward {
    fn on_event(&self, event: &tracing::Event<'_>, _: tracing_subscriber::layer::Context<'_, S>) {
        let mut f = LogFields::default();
        event.record(&mut f);
        let level = event.metadata().level().to_string();
        let text = format!("{}{}", f.message, f.rest);
        self.out.send(&["LOG", &level, &f.service], text.as_bytes());
    }
}

/// Serves IMAP sessions until the server closes fd 3; `first` is the request that started it.
/// Runs one IMAP session in the helper: the IMAP service's `session::serve_owned`, handed
/// in by `main.rs` so privsep does not import the service.
pub type SessionRunner = fn(Wire, Session, Start) -> BoxFuture<Option<Outcome>>;

static SESSION_RUNNER: std::sync::OnceLock<SessionRunner> = std::sync::OnceLock::new();

/// Sets what runs the sessions this helper is handed (once, before serving).
pub fn set_session_runner(run: SessionRunner) {
    let _ = SESSION_RUNNER.set(run);
}

pub fn serve(fd: RawFd, first: Msg) -> Result<(), PrivsepError> {
    let pending: Pending = Arc::default();
    let out = Out {
        fd,
        lock: Arc::default(),
        pending: pending.clone(),
    };
    let _ = metrics::set_global_recorder(Forward {
        pending: pending.clone(),
    });
    {
        use tracing_subscriber::layer::SubscriberExt;
        let sub = tracing_subscriber::registry()
            .with(tracing_subscriber::filter::LevelFilter::INFO)
            .with(LogForward { out: out.clone() });
        let _ = tracing::subscriber::set_global_default(sub);
    }
    let rt = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(1)
        .max_blocking_threads(8)
        .thread_stack_size(1 << 20)
        .enable_all()
        .build()
        .map_err(|source| PrivsepError::Io {
            what: "tokio runtime".into(),
            source,
        })?;
    let (tx, mut rx) = tokio::sync::mpsc::unbounded_channel::<Msg>();
    let _ = tx.send(first);
    // Requests are read by a plain thread (the frames are blocking reads with descriptors).
    std::thread::Builder::new()
        .name("imap-helper-in".into())
        .spawn(move || {
            while let Ok(Some(m)) = proto::recv(fd, true) {
                if tx.send(m).is_err() {
                    break;
                }
            }
        })
        .map_err(|source| PrivsepError::Io {
            what: "reader thread".into(),
            source,
        })?;
    rt.block_on(async move {
        let stops: Arc<Mutex<HashMap<String, Session>>> = Arc::default();
        let flusher = out.clone();
        tokio::spawn(async move {
            loop {
                tokio::time::sleep(Duration::from_secs(1)).await;
                flusher.flush_metrics();
            }
        });
        while let Some(m) = rx.recv().await {
            let verb = m.head.first().cloned().unwrap_or_default();
            let sid = m.head.get(1).cloned().unwrap_or_default();
            match verb.as_str() {
                "IMAP" => start(m, sid, &out, &stops),
                "STOP" => {
                    let s = stops.lock().ok().and_then(|s| s.get(&sid).cloned());
                    if let Some(s) = s {
                        match m.head.get(2).map(String::as_str) {
                            Some("kick") => s.kicked.cancel(),
                            _ => s.shutdown.cancel(),
                        }
                    }
                }
                other => eprintln!("roost imap helper: unknown request {other:?}"),
            }
        }
        // The server went away: end every session (their sockets go with the server anyway).
        let all: Vec<Session> = match stops.lock() {
            Ok(s) => s.values().cloned().collect(),
            Err(_) => Vec::new(),
        };
        for s in all {
            s.shutdown.cancel();
        }
    });
    rt.shutdown_timeout(Duration::from_secs(2));
    Ok(())
}

/// Starts one session from an `IMAP` request.
fn start(m: Msg, sid: String, out: &Out, stops: &Arc<Mutex<HashMap<String, Session>>>) {
    let end = |outcome: Option<Outcome>| {
        out.flush_metrics();
        let body = serde_json::to_vec(&outcome).unwrap_or_default();
        out.send(&["END", &sid], &body);
    };
    let json = m.head.get(2).map(String::as_str).unwrap_or("");
    let msg: StartMsg = match serde_json::from_str(json) {
        Ok(s) => s,
        Err(e) => {
            eprintln!("roost imap helper: bad IMAP request: {e}");
            return end(None);
        }
    };
    let Some(fd) = m.fd else {
        return end(None);
    };
    let conn = match conn_from(fd, &msg) {
        Ok(c) => c,
        Err(e) => {
            eprintln!("roost imap helper: session socket: {e}");
            return end(None);
        }
    };
    let mut session = Session::detached("imap", Arc::new(msg.settings));
    session.vproc = msg.vproc;
    if let Ok(mut s) = stops.lock() {
        s.insert(sid.clone(), session.clone());
    }
    let out = out.clone();
    let stops = stops.clone();
    tokio::spawn(async move {
        let outcome = match SESSION_RUNNER.get() {
            Some(run) => run(Wire::new(conn), session, msg.start).await,
            None => {
                eprintln!("roost imap helper: no IMAP session runner set");
                None
            }
        };
        if let Ok(mut s) = stops.lock() {
            s.remove(&sid);
        }
        out.flush_metrics();
        let body = serde_json::to_vec(&outcome).unwrap_or_default();
        out.send(&["END", &sid], &body);
    });
}

fn conn_from(fd: OwnedFd, msg: &StartMsg) -> std::io::Result<Conn> {
    let s = std::os::unix::net::UnixStream::from(fd);
    s.set_nonblocking(true)?;
    let s = tokio::net::UnixStream::from_std(s)?;
    let mut conn = Conn::new(Stream::new(Transport::Unix(s)), "imap", "mail-helper");
    conn.remote = msg.remote;
    conn.local = msg.local;
    Ok(conn)
}
