//! IMAP sessions of users whose mail belongs to another uid/gid than the server's: the whole
//! post-login session runs inside a mail helper running as that uid/gid
//! (`privsep::imap_helper`), so every file operation of the session, whatever layer does it
//! (Maildir, index, subscriptions, keywords), happens as that uid. The server keeps the client
//! connection and its TLS, anvil (`roost who`), the session gauge and the `Disconnected:` line,
//! and pipes the cleartext through a socketpair whose other end the helper got with the
//! `IMAP` request. `roost kick` and shutdown become `STOP` requests, so the helper's session
//! says its own `* BYE`. Helpers are shared by the IMAP sessions of one uid/gid (up to
//! [`SESSIONS_PER_HELPER`]); a helper with no sessions left is let go (it exits when its socket
//! closes). Metrics and log events of the helper's sessions come back on the helper's socket
//! and are re-recorded here; only the metric names of the imap service are taken.

use std::collections::HashMap;
use std::os::fd::{AsRawFd, OwnedFd};
use std::os::unix::net::UnixStream as StdUnixStream;
use std::sync::atomic::{AtomicBool, AtomicU64, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::sync::oneshot;

use super::session::{Outcome, Start};
use crate::mail::access::MailAccess;
use crate::mail::identity::MailIdentity;
use crate::privsep::imap_helper::{MetricUpdate, StartMsg};
use crate::privsep::mail_pool::MailConn;
use crate::privsep::mail_proto as proto;
use crate::runtime::Session;
use crate::service::wire::Wire;
use crate::settings::Settings;

/// IMAP sessions one helper process serves at most.
pub const SESSIONS_PER_HELPER: usize = 256;

/// How long the server waits for a helper's `END` after the session's socket closed.
const END_WAIT: Duration = Duration::from_secs(5);

const INTERNAL_BYE: &[u8] =
    b"* BYE [UNAVAILABLE] Internal error occurred. Refer to server log for more information.\r\n";

/// One helper process running IMAP sessions of one uid/gid.
struct Helper {
    id: MailIdentity,
    pid: u32,
    /// Requests to the helper (one frame at a time).
    out: Mutex<StdUnixStream>,
    /// Sessions waiting for their `END`.
    waiting: Mutex<HashMap<String, oneshot::Sender<Option<Outcome>>>>,
    sessions: AtomicUsize,
    /// Its socket closed: no new session goes there.
    dead: AtomicBool,
}

impl Helper {
    fn send(&self, head: &[&str], body: &[u8], fd: Option<&std::fs::File>) -> bool {
        let Ok(s) = self.out.lock() else { return false };
        proto::send(s.as_raw_fd(), head, body, fd).is_ok()
    }
}

/// The server's IMAP helpers, per uid/gid.
#[derive(Default)]
pub struct Helpers {
    by_id: Mutex<HashMap<MailIdentity, Vec<Arc<Helper>>>>,
    next_sid: AtomicU64,
}

impl Helpers {
    fn from_hub(hub: &crate::runtime::Hub) -> Arc<Helpers> {
        if let Some(h) = hub.get::<Helpers>() {
            return h;
        }
        hub.insert_if_absent(|| Arc::new(Helpers::default()));
        hub.get::<Helpers>().expect("just inserted")
    }

    /// A helper with room for one more session of `id` (a new one from `spawn` if none).
    fn take(
        &self,
        id: MailIdentity,
        spawn: impl FnOnce() -> Result<MailConn, String>,
    ) -> Result<Arc<Helper>, String> {
        let mut all = self.by_id.lock().map_err(|_| "helpers lock poisoned")?;
        let v = all.entry(id).or_default();
        if let Some(h) = v.iter().find(|h| {
            !h.dead.load(Ordering::Relaxed)
                && h.sessions.load(Ordering::Relaxed) < SESSIONS_PER_HELPER
        }) {
            h.sessions.fetch_add(1, Ordering::Relaxed);
            return Ok(h.clone());
        }
        let conn = spawn()?;
        let reader = conn.stream.try_clone().map_err(|e| e.to_string())?;
        let h = Arc::new(Helper {
            id,
            pid: conn.pid,
            out: Mutex::new(conn.stream),
            waiting: Mutex::default(),
            sessions: AtomicUsize::new(1),
            dead: AtomicBool::new(false),
        });
        v.push(h.clone());
        let weak = Arc::downgrade(&h);
        std::thread::Builder::new()
            .name(format!("imap-helper-{}", conn.pid))
            .spawn(move || read_helper(reader, weak))
            .map_err(|e| e.to_string())?;
        Ok(h)
    }

    /// A session left `h`; a helper without sessions is let go (its socket closes).
    fn leave(&self, h: &Arc<Helper>) {
        if h.sessions.fetch_sub(1, Ordering::Relaxed) != 1 {
            return;
        }
        if let Ok(mut all) = self.by_id.lock() {
            if let Some(v) = all.get_mut(&h.id) {
                v.retain(|o| !Arc::ptr_eq(o, h) || o.sessions.load(Ordering::Relaxed) > 0);
                if v.iter().any(|o| Arc::ptr_eq(o, h)) {
                    return; // taken again meanwhile
                }
                if v.is_empty() {
                    all.remove(&h.id);
                }
            }
        }
        if let Ok(s) = h.out.lock() {
            let _ = s.shutdown(std::net::Shutdown::Both);
        }
    }
}

/// Reads `END`, `METRICS` and `LOG` from one helper until it closes.
fn read_helper(stream: StdUnixStream, helper: std::sync::Weak<Helper>) {
    let fd = stream.as_raw_fd();
    loop {
        let m = match proto::recv(fd, false) {
            Ok(Some(m)) => m,
            _ => break,
        };
        let verb = m.head.first().map(String::as_str).unwrap_or("");
        match verb {
            "END" => {
                let Some(h) = helper.upgrade() else { break };
                let sid = m.head.get(1).cloned().unwrap_or_default();
                let outcome: Option<Outcome> = serde_json::from_slice(&m.body).unwrap_or(None);
                let tx = h.waiting.lock().ok().and_then(|mut w| w.remove(&sid));
                if let Some(tx) = tx {
                    let _ = tx.send(outcome);
                }
            }
            "METRICS" => {
                if let Ok(updates) = serde_json::from_slice::<Vec<MetricUpdate>>(&m.body) {
                    updates.iter().for_each(apply_metric);
                }
            }
            "LOG" => {
                let level = m.head.get(1).map(String::as_str).unwrap_or("INFO");
                let service = m.head.get(2).cloned().unwrap_or_default();
                let service = if service.starts_with("imap(") {
                    service
                } else {
                    "imap".into()
                };
                let text = String::from_utf8_lossy(&m.body);
                match level {
                    "ERROR" => tracing::error!(service = %service, "{text}"),
                    "WARN" => tracing::warn!(service = %service, "{text}"),
                    "INFO" => tracing::info!(service = %service, "{text}"),
                    _ => tracing::debug!(service = %service, "{text}"),
                }
            }
            _ => {}
        }
    }
    // The helper is gone: sessions still waiting get no outcome.
    if let Some(h) = helper.upgrade() {
        h.dead.store(true, Ordering::Relaxed);
        if let Ok(mut w) = h.waiting.lock() {
            w.clear();
        }
        tracing::debug!(pid = h.pid, "imap mail helper closed");
    }
}

/// Re-records one metric update of a helper: only the imap service's names, with label values
/// of a bounded shape (a helper runs as a mail user and is not trusted with the server's
/// metrics beyond that).
fn apply_metric(u: &MetricUpdate) {
    use super::metrics as m;
    let name: &'static str = match u.name.as_str() {
        m::COMMANDS => m::COMMANDS,
        m::DURATION => m::DURATION,
        m::BYTES_SENT => m::BYTES_SENT,
        m::BYTES_RECEIVED => m::BYTES_RECEIVED,
        _ => return,
    };
    let bounded =
        |v: &str| v.len() <= 20 && v.bytes().all(|b| b.is_ascii_alphabetic() || b == b' ');
    let mut labels = Vec::new();
    for (k, v) in &u.labels {
        if !matches!(k.as_str(), "command" | "result") || !bounded(v) {
            return;
        }
        labels.push(metrics::Label::new(k.clone(), v.clone()));
    }
    if !u.value.is_finite() || u.value < 0.0 {
        return;
    }
    match u.kind {
        'c' => metrics::counter!(name, labels).increment(u.value as u64),
        'h' => metrics::histogram!(name, labels).record(u.value),
        _ => {}
    }
}

/// Serves the session in a mail helper running as the user's uid/gid.
pub async fn serve(wire: Wire, session: &Session, start: &Start) -> Option<Outcome> {
    let prefix = format!(
        "imap({})<{}><{}>",
        start.user, session.vproc, start.session_id
    );
    let mut conn = wire.into_conn();
    let access = MailAccess::from_hub(&session.hub);
    let helpers = Helpers::from_hub(&session.hub);
    let settings = session.settings.clone();
    let fields = start.fields.clone();
    let h2 = helpers.clone();
    let taken = tokio::task::spawn_blocking(move || {
        let (pool, id) = match access.helper_for(&settings.mail, &fields) {
            Ok(Some(p)) => p,
            Ok(None) => return Err("no mail helper pool".to_string()),
            Err(e) => return Err(e.to_string()),
        };
        h2.take(id, || pool.take(id).map_err(|e| e.to_string()))
    })
    .await
    .unwrap_or_else(|e| Err(e.to_string()));
    let helper = match taken {
        Ok(h) => h,
        Err(e) => {
            tracing::error!(service = %prefix, error = %e, "mail helper for the session failed");
            let _ = conn.stream.write_all(INTERNAL_BYE).await;
            return None;
        }
    };
    let outcome = run_in(&helper, &mut conn, session, start, &prefix).await;
    helpers.leave(&helper);
    outcome
}

async fn run_in(
    helper: &Arc<Helper>,
    conn: &mut crate::net::Conn,
    session: &Session,
    start: &Start,
    prefix: &str,
) -> Option<Outcome> {
    let sid = format!(
        "{}",
        Helpers::from_hub(&session.hub)
            .next_sid
            .fetch_add(1, Ordering::Relaxed)
    );
    let msg = StartMsg {
        start: start.clone(),
        settings: Settings {
            mail: session.settings.mail.clone(),
            imap: session.settings.imap.clone(),
            ..Settings::default()
        },
        vproc: session.vproc,
        remote: conn.remote,
        local: conn.local,
    };
    let (ours, theirs) = match StdUnixStream::pair() {
        Ok(p) => p,
        Err(e) => {
            tracing::error!(service = %prefix, error = %e, "socketpair failed");
            let _ = conn.stream.write_all(INTERNAL_BYE).await;
            return None;
        }
    };
    let (tx, rx) = oneshot::channel();
    if let Ok(mut w) = helper.waiting.lock() {
        w.insert(sid.clone(), tx);
    }
    // With a descriptor a frame carries only its head: the start data is a head field.
    let json = serde_json::to_string(&msg).unwrap_or_default();
    let theirs = std::fs::File::from(OwnedFd::from(theirs));
    let sent = helper.send(&["IMAP", &sid, &json], &[], Some(&theirs));
    drop(theirs);
    let ours = ours
        .set_nonblocking(true)
        .and_then(|()| tokio::net::UnixStream::from_std(ours));
    let ours = match (sent, ours) {
        (true, Ok(o)) => o,
        _ => {
            tracing::error!(service = %prefix, pid = helper.pid, "mail helper did not take the session");
            let _ = conn.stream.write_all(INTERNAL_BYE).await;
            return None;
        }
    };
    pump(&mut conn.stream, ours, session, helper, &sid).await;
    match tokio::time::timeout(END_WAIT, rx).await {
        Ok(Ok(Some(o))) => Some(o),
        _ => {
            tracing::error!(service = %prefix, pid = helper.pid, "mail helper ended without the session's outcome");
            None
        }
    }
}

/// Copies bytes both ways until the helper's side closes; kick and shutdown become `STOP`.
async fn pump(
    client: &mut crate::net::conn::Stream,
    helper_sock: tokio::net::UnixStream,
    session: &Session,
    helper: &Arc<Helper>,
    sid: &str,
) {
    let (mut hr, mut hw) = helper_sock.into_split();
    let (mut cr, mut cw) = tokio::io::split(client);
    let mut cbuf = vec![0u8; 16 * 1024];
    let mut hbuf = vec![0u8; 16 * 1024];
    let (mut client_open, mut stopped) = (true, false);
    loop {
        tokio::select! {
            r = cr.read(&mut cbuf), if client_open => match r {
                Ok(n) if n > 0 => {
                    if hw.write_all(&cbuf[..n]).await.is_err() {
                        break;
                    }
                }
                _ => {
                    client_open = false;
                    let _ = hw.shutdown().await;
                }
            },
            r = hr.read(&mut hbuf) => match r {
                Ok(n) if n > 0 => {
                    if client_open && cw.write_all(&hbuf[..n]).await.is_err() {
                        client_open = false;
                        let _ = hw.shutdown().await;
                    }
                }
                _ => break,
            },
            _ = session.kicked.cancelled(), if !stopped => {
                stopped = true;
                helper.send(&["STOP", sid, "kick"], &[], None);
            }
            _ = session.shutdown.cancelled(), if !stopped => {
                stopped = true;
                helper.send(&["STOP", sid, "shutdown"], &[], None);
            }
        }
    }
    if client_open {
        let _ = tokio::time::timeout(Duration::from_secs(1), cw.shutdown()).await;
    }
}
