//! Session loops for the auth service's unix listeners. The socket's role comes from the part
//! of its name after the last `-` (spec §7.2): `master` and `userdb` speak the auth-master
//! protocol, everything else (`auth-client`, `login`, Postfix's `auth`) the auth-client
//! protocol. Parsing is in `protocol::auth`; this file only moves lines and runs requests.
//! Protocol violations close the connection without a reply, as Dovecot does.
//!
//! Requests on one connection run concurrently (each step in its own task, answered as it
//! finishes), so a request held by its IP's auth penalty or a slow passdb does not hold the
//! connection's other requests, as Dovecot's auth process answers them independently.
//!
//! Per-connection memory is bounded: lines are at most [`MAX_LINE`] bytes, at most
//! [`MAX_PENDING_REQUESTS`] requests may be pending (over that the connection is failed with an
//! error line), and replies are written before more input is read, so a client that never reads
//! its replies stops being read (as Dovecot stops reading while its output buffer is full).

use std::collections::{HashMap, VecDeque};
use std::future::Future;
use std::sync::Arc;
use std::time::Duration;

use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::task::{AbortHandle, JoinSet};
use tokio::time::Instant;

use super::api::ClientInfo;
use super::fail_code::FailCode;
use super::handle::AuthCore;
use super::request::{Answer, Options, Request};
use crate::net::{Conn, Transport};
use crate::protocol::auth::client::{self, ClientCommand};
use crate::protocol::auth::master;
use crate::protocol::auth::{LineError, Lines, MAX_LINE};
use crate::runtime::Session;

/// A request not finished within this time is dropped (its CONT gets "timed out").
pub const REQUEST_TIMEOUT: Duration = Duration::from_secs(150);

/// Most requests one auth-client connection may have pending: waiting for a `CONT`, for the
/// acknowledgement of final server data, or for their delayed `FAIL`. Dovecot 2.3 has no such cap
/// (its auth process is bounded only by `vsz_limit`); 1000 is Dovecot's `default_client_limit`,
/// the most clients one default login process multiplexes over its auth connection. A client
/// that goes over it is disconnected with an error line.
pub const MAX_PENDING_REQUESTS: usize = 1000;

/// What a socket is for.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Role {
    Client,
    Login,
    Master,
    Userdb,
    Token,
}

impl Role {
    /// Dovecot's rule: the suffix after the last `-` of the socket's basename.
    pub fn from_listener(name: &str) -> Role {
        let base = name.rsplit('/').next().unwrap_or(name);
        let suffix = base.rsplit('-').next().unwrap_or(base);
        match suffix {
            "login" => Role::Login,
            "master" => Role::Master,
            "userdb" => Role::Userdb,
            "token" | "tokenlogin" => Role::Token,
            _ => Role::Client,
        }
    }
}

/// uid of the configured owner of auth listener `name`, if it names a known user.
fn listener_owner(session: &Session, name: &str) -> Option<u32> {
    let l = session
        .settings
        .service
        .get(&*session.service)?
        .unix_listener
        .get(name)?;
    let user = session.settings.expand_user(&l.user);
    if user.is_empty() {
        return None;
    }
    nix::unistd::User::from_name(&user)
        .ok()
        .flatten()
        .map(|u| u.uid.as_raw())
}

/// Serves one connection on an auth listener.
pub async fn serve(core: Arc<AuthCore>, conn: Conn, session: Session) {
    let role = Role::from_listener(&conn.listener);
    let peer_uid = match &conn.stream.transport {
        Transport::Unix(s) => s.peer_cred().ok().map(|c| c.uid()),
        _ => None,
    };
    let listener = conn.listener.clone();
    let mut stream = conn.stream;
    let mut handler = match role {
        Role::Token => {
            tracing::error!(listener = %listener, "auth: token-login sockets are not supported");
            return;
        }
        Role::Master | Role::Userdb => Handler::Master(MasterConn {
            core: core.clone(),
            out: master::greeting(core.pid),
            userdb_only: role == Role::Userdb,
            peer_uid,
            owner_uid: listener_owner(&session, &listener),
            version: false,
        }),
        Role::Client | Role::Login => {
            let mechs: Vec<(&str, &[&str])> =
                core.mechanisms.iter().map(|m| (m.name, m.flags)).collect();
            let cookie = super::schemes::hex_encode(&super::schemes::random_bytes(16));
            let greeting = client::greeting(&mechs, core.pid, core.next_cuid(), &cookie);
            Handler::Client(ClientConn {
                core: core.clone(),
                out: greeting,
                delayed: VecDeque::new(),
                minor: None,
                pid: 0,
                requests: HashMap::new(),
                pending_ok: HashMap::new(),
                inflight: JoinSet::new(),
                inflight_ids: HashMap::new(),
                login: role == Role::Login,
                login_pid: None,
            })
        }
    };
    let mut lines = Lines::default();
    let mut buf = vec![0u8; 4096];
    let mut out = String::new();
    // Replies are written in batches by this task, after each read's lines (and when a delayed
    // FAIL is due), so a request costs no extra task wake-up. Input is not read while a write
    // is blocked, which bounds what a client that never reads can make us hold.
    'outer: loop {
        loop {
            match lines.next_line() {
                Ok(Some(line)) => {
                    let ok = match &mut handler {
                        Handler::Client(c) => c.line(&line).await,
                        Handler::Master(m) => m.line(&line).await,
                    };
                    if !ok {
                        // Protocol violation: close without sending what is queued.
                        return;
                    }
                }
                Ok(None) => break,
                Err(LineError::TooLong) => {
                    // Dovecot's wording (auth-client-connection.c).
                    let pid = match &handler {
                        Handler::Client(c) => c.pid,
                        Handler::Master(_) => 0,
                    };
                    tracing::error!("BUG: Auth client {pid} sent us more than {MAX_LINE} bytes");
                    return;
                }
                Err(e) => {
                    tracing::error!(listener = %listener, "BUG: auth client sent {e}");
                    return;
                }
            }
        }
        let next_due = match &mut handler {
            Handler::Client(c) => {
                out.push_str(&std::mem::take(&mut c.out));
                c.take_due(Instant::now(), &mut out);
                c.delayed.front().map(|(t, _)| *t)
            }
            Handler::Master(m) => {
                out.push_str(&std::mem::take(&mut m.out));
                None
            }
        };
        if !out.is_empty() {
            if !write_or_end(&mut stream, out.as_bytes(), &session).await {
                return;
            }
            out.clear();
        }
        tokio::select! {
            r = stream.read(&mut buf) => match r {
                Ok(n) if n > 0 => lines.push(&buf[..n]),
                _ => break 'outer,
            },
            done = step_done(&mut handler) => {
                if let Handler::Client(c) = &mut handler {
                    c.finished(done);
                }
            }
            _ = tokio::time::sleep_until(next_due.unwrap_or_else(Instant::now)), if next_due.is_some() => {}
            _ = session.ended() => break 'outer,
        }
    }
    // The client finished sending: answer what is still pending (requests still running,
    // delayed FAILs), then close.
    if let Handler::Client(c) = &mut handler {
        while !c.inflight.is_empty() {
            tokio::select! {
                done = c.inflight.join_next() => {
                    if let Some(done) = done {
                        c.finished(done);
                    }
                }
                _ = session.ended() => return,
            }
            let now = std::mem::take(&mut c.out);
            if !write_or_end(&mut stream, now.as_bytes(), &session).await {
                return;
            }
        }
        while let Some((due, line)) = c.delayed.pop_front() {
            tokio::select! {
                _ = tokio::time::sleep_until(due) => {}
                _ = session.ended() => return,
            }
            if !write_or_end(&mut stream, line.as_bytes(), &session).await {
                return;
            }
        }
    }
    drop(handler);
    let _ = stream.shutdown().await;
}

/// What one request step's task gives back: its id, the request, the answer, `final-resp-ok`.
type StepDone = (u32, Request, Answer, bool);

/// The next request step to finish on a client connection (never, for a master connection or
/// while none is running). Cancel-safe: `JoinSet::join_next` is.
async fn step_done(handler: &mut Handler) -> Result<StepDone, tokio::task::JoinError> {
    match handler {
        Handler::Client(c) if !c.inflight.is_empty() => match c.inflight.join_next().await {
            Some(r) => r,
            None => std::future::pending().await,
        },
        _ => std::future::pending().await,
    }
}

/// Writes `bytes`; `false` if the peer is gone or the service is stopping.
async fn write_or_end(stream: &mut crate::net::Stream, bytes: &[u8], session: &Session) -> bool {
    tokio::select! {
        r = stream.write_all(bytes) => r.is_ok(),
        _ = session.ended() => false,
    }
}

enum Handler {
    Client(ClientConn),
    Master(MasterConn),
}

struct ClientConn {
    core: Arc<AuthCore>,
    /// Replies not yet written (the session loop writes them after each batch of lines).
    out: String,
    /// FAILs held back by `auth_failure_delay`, in the order they are due (the delay is the
    /// same for every request).
    delayed: VecDeque<(Instant, String)>,
    minor: Option<u32>,
    /// The client's `CPID` (0 until sent).
    pid: u32,
    /// Requests waiting for a CONT, with their `final-resp-ok` flag.
    requests: HashMap<u32, (Request, bool)>,
    /// OK lines held back until the client acknowledges final server data with an empty CONT.
    pending_ok: HashMap<u32, String>,
    /// Request steps running now (passdb lookups, penalty waits), one task each; dropping the
    /// connection aborts them.
    inflight: JoinSet<StepDone>,
    /// Ids of the running steps, for CANCEL and duplicate checks.
    inflight_ids: HashMap<u32, AbortHandle>,
    /// A login socket: CPIDs must be unique among live connections.
    login: bool,
    login_pid: Option<u32>,
}

impl Drop for ClientConn {
    fn drop(&mut self) {
        if let Some(pid) = self.login_pid {
            self.core.release_login_pid(pid);
        }
    }
}

impl ClientConn {
    fn send(&mut self, s: String) {
        if self.core.engine.cfg.auth_debug {
            let line = s.trim_end_matches('\n');
            tracing::debug!("client passdb out: {}", hide_value(line, "pass"));
        }
        self.out.push_str(&s);
    }

    /// Requests that hold memory on this connection.
    fn pending(&self) -> usize {
        self.requests.len() + self.pending_ok.len() + self.delayed.len() + self.inflight_ids.len()
    }

    /// Runs one step of request `id`: answered at once when it needs no waiting (a mechanism
    /// asking for its first response, a cached or cheap lookup: the reply order then is the
    /// request order, as in Dovecot), else in its own task whose answer comes back through
    /// [`step_done`].
    fn start_step(&mut self, id: u32, mut req: Request, resp: Option<Vec<u8>>, final_ok: bool) {
        let mut step = Box::pin(async move {
            let answer = req.step(resp).await;
            (id, req, answer, final_ok)
        });
        // One poll here; a step that is not done is moved into a task, which polls it again
        // with a real waker (every wait it is in registers anew on that poll).
        let mut cx = std::task::Context::from_waker(std::task::Waker::noop());
        match step.as_mut().poll(&mut cx) {
            std::task::Poll::Ready(done) => self.finished(Ok(done)),
            std::task::Poll::Pending => {
                let handle = self.inflight.spawn(step);
                self.inflight_ids.insert(id, handle);
            }
        }
    }

    /// A step finished (a cancelled one is dropped).
    fn finished(&mut self, done: Result<StepDone, tokio::task::JoinError>) {
        match done {
            Ok((id, req, answer, final_ok)) => {
                self.inflight_ids.remove(&id);
                self.answer(id, req, answer, final_ok);
            }
            Err(e) if e.is_cancelled() => {}
            Err(e) => tracing::error!("auth: a request step failed: {e}"),
        }
    }

    /// Moves the delayed FAILs due by `now` to `out`.
    fn take_due(&mut self, now: Instant, out: &mut String) {
        while self.delayed.front().is_some_and(|(t, _)| *t <= now) {
            if let Some((_, line)) = self.delayed.pop_front() {
                out.push_str(&line);
            }
        }
    }

    /// Handles one line; `false` closes the connection.
    async fn line(&mut self, line: &str) -> bool {
        if self.core.engine.cfg.auth_debug {
            if line.starts_with("AUTH\t") {
                tracing::debug!("client in: {}", hide_value(line, "resp"));
            } else if let Some(rest) = line.strip_prefix("CONT\t") {
                let id = rest.split('\t').next().unwrap_or("");
                tracing::debug!("client in: CONT\t{id}\t<hidden>");
            } else if line.starts_with("CANCEL\t") {
                tracing::debug!("client in: {line}");
            }
        }
        let cmd = match client::parse(line) {
            Ok(c) => c,
            Err(e) => {
                tracing::error!("BUG: auth client sent a bad line: {e}");
                return false;
            }
        };
        match cmd {
            ClientCommand::Version { minor, .. } => {
                if self.minor.is_some() {
                    tracing::error!("BUG: auth client sent VERSION twice");
                    return false;
                }
                self.minor = Some(minor);
                true
            }
            _ if self.minor.is_none() => {
                tracing::error!("BUG: auth client didn't send VERSION first");
                false
            }
            ClientCommand::Cpid(pid) => {
                self.pid = pid;
                if self.login && self.login_pid.is_none() {
                    if !self.core.claim_login_pid(pid) {
                        tracing::error!("BUG: authentication client gave the PID {pid} of an existing connection");
                        return false;
                    }
                    self.login_pid = Some(pid);
                }
                true
            }
            ClientCommand::Auth(a) => self.auth(a).await,
            ClientCommand::Cont { id, data } => {
                if let Some(ok) = self.pending_ok.remove(&id) {
                    self.send(ok);
                    return true;
                }
                let pending = self
                    .requests
                    .remove(&id)
                    .filter(|(req, _)| req.age() < REQUEST_TIMEOUT);
                let Some((req, final_ok)) = pending else {
                    self.send(client::fail(
                        id,
                        None,
                        "",
                        Some("Authentication request timed out"),
                        &[],
                    ));
                    return true;
                };
                match client::decode(&data) {
                    Ok(resp) => self.start_step(id, req, Some(resp), final_ok),
                    Err(_) => self.send(client::fail(
                        id,
                        None,
                        FailCode::InvalidBase64.as_str(),
                        None,
                        &[],
                    )),
                }
                true
            }
            ClientCommand::Cancel(id) => {
                self.requests.remove(&id);
                self.pending_ok.remove(&id);
                if let Some(h) = self.inflight_ids.remove(&id) {
                    h.abort();
                }
                true
            }
        }
    }

    async fn auth(&mut self, a: client::AuthRequest) -> bool {
        if self.pending() >= MAX_PENDING_REQUESTS {
            tracing::error!(
                "Authentication client {} sent too many requests: {} pending (limit {MAX_PENDING_REQUESTS}), disconnecting",
                self.pid,
                self.pending()
            );
            return false;
        }
        if self.requests.contains_key(&a.id)
            || self.pending_ok.contains_key(&a.id)
            || self.inflight_ids.contains_key(&a.id)
        {
            tracing::error!("BUG: auth client sent a duplicate request id {}", a.id);
            return false;
        }
        let Some(mech) = self.core.mechanism(&a.mechanism) else {
            tracing::error!(
                "BUG: auth client requested unsupported auth mechanism {}",
                a.mechanism
            );
            return false;
        };
        let info = ClientInfo {
            service: a.service.clone(),
            remote: addr(a.param("rip"), a.param("rport")),
            local: addr(a.param("lip"), a.param("lport")),
            real_remote: addr(a.param("real_rip"), a.param("real_rport")),
            real_local: addr(a.param("real_lip"), a.param("real_lport")),
            secured: a.has("secured"),
            cert_username: if a.has("valid-client-cert") {
                a.param("cert_username").map(str::to_string)
            } else {
                None
            },
            session_id: a.param("session").unwrap_or_default().to_string(),
            // The auth-client protocol answers passdb fields only (see `opts`).
            passdb_only: true,
        };
        let opts = Options {
            no_penalty: a.has("no-penalty"),
            resolve_userdb: false,
        };
        let final_ok = a.has("final-resp-ok");
        let resp = match client::initial_response(a.resp.as_deref(), self.minor.unwrap_or(0)) {
            Ok(r) => r,
            Err(_) => {
                self.send(client::fail(
                    a.id,
                    None,
                    FailCode::InvalidBase64.as_str(),
                    None,
                    &[],
                ));
                return true;
            }
        };
        let req = Request::new(mech, info, self.core.engine.clone(), opts);
        self.start_step(a.id, req, resp, final_ok);
        true
    }

    fn answer(&mut self, id: u32, req: Request, answer: Answer, final_resp_ok: bool) {
        match answer {
            Answer::Continue(d) => {
                self.send(client::cont(id, &d));
                self.requests.insert(id, (req, final_resp_ok));
            }
            Answer::Ok {
                user,
                fields,
                final_data,
            } => match final_data {
                Some(d) if !final_resp_ok => {
                    self.send(client::cont(id, &d));
                    self.pending_ok
                        .insert(id, client::ok(id, &user, &fields, None));
                }
                d => self.send(client::ok(id, &user, &fields, d.as_deref())),
            },
            Answer::Fail {
                user,
                code,
                reason,
                fields,
                delay,
            } => {
                let line = client::fail(
                    id,
                    user.as_deref(),
                    code.as_str(),
                    reason.as_deref(),
                    &fields,
                );
                if delay.is_zero() {
                    self.send(line);
                } else {
                    if self.core.engine.cfg.auth_debug {
                        tracing::debug!("client passdb out: {}", line.trim_end_matches('\n'));
                    }
                    self.delayed.push_back((Instant::now() + delay, line));
                }
            }
        }
    }
}

/// Dovecot's `auth_debug` hiding: the value of the `key=` field becomes `<hidden>`.
fn hide_value(line: &str, key: &str) -> String {
    let needle = format!("\t{key}=");
    match line.find(&needle) {
        Some(i) => {
            let start = i + needle.len();
            let end = line[start..].find('\t').map_or(line.len(), |j| start + j);
            format!("{}<hidden>{}", &line[..start], &line[end..])
        }
        None => line.to_string(),
    }
}

mod addr;
mod master_conn;

use addr::addr;
pub use master_conn::wildcard_match;
use master_conn::MasterConn;

#[cfg(test)]
mod tests;
