//! `WorkerPool`: one service's virtual processes and the only place that decides whether a
//! connection may start (spec §1.2–§1.7).
//!
//! * capacity is `process_limit × client_limit` (client_limit already clamped to
//!   `service_count`); a connection is accepted only after a slot is reserved, so when the pool
//!   is full new clients wait in the kernel backlog;
//! * saturation: the `process_limit (N) reached` warning at most once a second (delayed 500 ms
//!   and cancelled for `worker` services), and after 10 s of no free slot, accept-and-close
//!   until a slot frees;
//! * login services, when full, kick exactly one oldest not-yet-authenticated client;
//! * `service_count` recycles processes, `process_min_avail` keeps processes available,
//!   `idle_kill` shrinks by the 2.3.21 rule (kill the minimum idle count seen over the interval);
//! * start-up failures throttle the service (2 s doubling to 60 s, reset by a clean exit).

use std::collections::BTreeMap;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::{Duration, Instant};

use tokio::sync::Notify;
use tokio_util::sync::CancellationToken;
use tracing::{error, info, warn};

use super::metrics as m;
use super::vproc::{ExitReason, SessionEntry, VProc};
use crate::net::{Accepted, BoundListener, Conn, FrontDoor, ListenerSpec};
use crate::runtime::{Handoff, Hub, Service, Session};
pub use crate::runtime::{PoolStatus, ProcessStatus};
use crate::settings::{Effective, ServiceType, Settings};

/// How long a saturated service queues connections before it accepts and closes them.
pub const DROP_TIMEOUT: Duration = Duration::from_secs(10);
const THROTTLE_START_SECS: u64 = 2;
const THROTTLE_MAX_SECS: u64 = 60;

/// Global virtual-process id counter: ids are unique across services, like pids.
static NEXT_VPROC: AtomicU64 = AtomicU64::new(1);
static NEXT_SESSION: AtomicU64 = AtomicU64::new(1);

/// A reserved client slot in one virtual process.
pub struct Slot {
    vproc: u64,
    session: u64,
}

struct Throttle {
    until: Option<Instant>,
    next_secs: u64,
}

struct State {
    procs: BTreeMap<u64, VProc>,
    /// Minimum idle-process count seen in the current idle_kill interval.
    min_idle: usize,
    throttle: Throttle,
    last_warning: Option<Instant>,
    processes_total: u64,
    stopped: bool,
}

pub struct WorkerPool {
    pub name: Arc<str>,
    pub eff: Effective,
    pub service_type: ServiceType,
    service: Arc<dyn Service>,
    settings: Arc<Settings>,
    hub: Arc<Hub>,
    state: Mutex<State>,
    /// Woken whenever a slot frees or a process exits.
    changed: Notify,
    /// Cancelled to stop accepting (reload or stop).
    accepting: CancellationToken,
    /// Cancelled to end sessions (stop, or reload with shutdown_clients).
    shutdown: CancellationToken,
}

impl WorkerPool {
    pub fn new(
        name: &str,
        eff: Effective,
        service_type: ServiceType,
        service: Arc<dyn Service>,
        settings: Arc<Settings>,
        hub: Arc<Hub>,
    ) -> Arc<WorkerPool> {
        Arc::new(WorkerPool {
            name: Arc::from(name),
            eff,
            service_type,
            service,
            settings,
            hub,
            state: Mutex::new(State {
                procs: BTreeMap::new(),
                min_idle: 0,
                throttle: Throttle {
                    until: None,
                    next_secs: THROTTLE_START_SECS,
                },
                last_warning: None,
                processes_total: 0,
                stopped: false,
            }),
            changed: Notify::new(),
            accepting: CancellationToken::new(),
            shutdown: CancellationToken::new(),
        })
    }

    fn lock(&self) -> MutexGuard<'_, State> {
        self.state.lock().unwrap_or_else(|p| p.into_inner())
    }

    /// Starts the pool: pre-spawns `process_min_avail`, runs the accept loop over `listeners`
    /// and the idle_kill monitor.
    pub fn start(self: &Arc<Self>, listeners: Vec<Arc<BoundListener>>, door: Arc<FrontDoor>) {
        self.top_up();
        if self.service_type == ServiceType::Startup {
            // `type = startup`: one process at start without waiting for a connection.
            let mut st = self.lock();
            if st.procs.is_empty() {
                self.create_locked(&mut st);
            }
        }
        if !listeners.is_empty() {
            let me = self.clone();
            tokio::spawn(async move { me.accept_loop(listeners, door).await });
        }
        if !self.eff.idle_kill.is_never() {
            let me = self.clone();
            tokio::spawn(async move { me.idle_monitor().await });
        }
    }

    // ---- slots ------------------------------------------------------------------------

    /// Reserves a slot if one is free now, creating a virtual process when allowed.
    pub fn try_reserve(&self) -> Option<Slot> {
        let mut st = self.lock();
        self.try_reserve_locked(&mut st)
    }

    fn try_reserve_locked(&self, st: &mut State) -> Option<Slot> {
        if st.stopped {
            return None;
        }
        let (cl, sc) = (self.eff.client_limit, self.eff.service_count);
        // Fill the busiest available process first so idle ones can be shrunk.
        let pick = st
            .procs
            .values()
            .filter(|p| p.available(cl, sc))
            .max_by_key(|p| (p.clients, std::cmp::Reverse(p.id)))
            .map(|p| p.id);
        let id = match pick {
            Some(id) => id,
            None => {
                if st.procs.len() as u32 >= self.eff.process_limit || self.throttled(st) {
                    return None;
                }
                self.create_locked(st)
            }
        };
        let p = st.procs.get_mut(&id).expect("picked process exists");
        p.clients += 1;
        p.served += 1;
        p.idle_since = None;
        let session = NEXT_SESSION.fetch_add(1, Ordering::Relaxed);
        self.top_up_locked(st);
        Some(Slot { vproc: id, session })
    }

    fn throttled(&self, st: &State) -> bool {
        st.throttle.until.is_some_and(|u| Instant::now() < u)
    }

    fn create_locked(&self, st: &mut State) -> u64 {
        let id = NEXT_VPROC.fetch_add(1, Ordering::Relaxed);
        st.procs.insert(id, VProc::new(id));
        st.processes_total += 1;
        m::process_created(&self.name);
        tracing::debug!(service = %self.name, vproc = id, "virtual process started");
        id
    }

    /// Returns a slot; retires the process if its `service_count` is used up.
    fn release(&self, slot: &Slot, crashed: bool) {
        let mut st = self.lock();
        let mut exit = None;
        if let Some(p) = st.procs.get_mut(&slot.vproc) {
            p.sessions.remove(&slot.session);
            p.clients = p.clients.saturating_sub(1);
            if p.clients == 0 {
                p.idle_since = Some(Instant::now());
                if let Some(r) = p.retiring {
                    exit = Some(r);
                } else if p.exhausted(self.eff.service_count) {
                    exit = Some(ExitReason::ServiceCount);
                }
            }
        }
        if crashed {
            m::session_panicked(&self.name);
        }
        if let Some(reason) = exit {
            self.exit_locked(&mut st, slot.vproc, reason);
        }
        self.note_idle(&mut st);
        drop(st);
        self.changed.notify_waiters();
        self.top_up();
    }

    fn exit_locked(&self, st: &mut State, id: u64, reason: ExitReason) {
        if st.procs.remove(&id).is_some() {
            m::process_exited(&self.name, reason.as_str());
            if reason != ExitReason::Crash {
                st.throttle.next_secs = THROTTLE_START_SECS;
            }
            tracing::debug!(service = %self.name, vproc = id, reason = reason.as_str(), "virtual process exited");
        }
    }

    fn note_idle(&self, st: &mut State) {
        let idle = st.procs.values().filter(|p| p.is_idle()).count();
        st.min_idle = st.min_idle.min(idle);
    }

    fn available_count(&self, st: &State) -> usize {
        st.procs
            .values()
            .filter(|p| p.available(self.eff.client_limit, self.eff.service_count))
            .count()
    }

    /// Creates processes until `process_min_avail` are available (bounded by process_limit).
    fn top_up(&self) {
        let mut st = self.lock();
        self.top_up_locked(&mut st);
    }

    fn top_up_locked(&self, st: &mut State) {
        if st.stopped || self.throttled(st) {
            return;
        }
        while (self.available_count(st) as u32) < self.eff.process_min_avail
            && (st.procs.len() as u32) < self.eff.process_limit
        {
            self.create_locked(st);
        }
        self.note_idle(st);
    }

    /// Records a start-up failure: throttle 2 s, doubling to 60 s.
    fn throttle(&self, why: &str) {
        let mut st = self.lock();
        let secs = st.throttle.next_secs;
        st.throttle.until = Some(Instant::now() + Duration::from_secs(secs));
        st.throttle.next_secs = (secs * 2).min(THROTTLE_MAX_SECS);
        drop(st);
        m::throttled(&self.name);
        error!(service = %self.name, "service({}): command startup failed, throttling for {secs}.000 secs: {why}", self.name);
    }

    // ---- accepting --------------------------------------------------------------------

    async fn accept_loop(
        self: Arc<Self>,
        listeners: Vec<Arc<BoundListener>>,
        door: Arc<FrontDoor>,
    ) {
        loop {
            let idx = tokio::select! {
                _ = self.accepting.cancelled() => return,
                r = any_pending(&listeners) => match r {
                    Ok(i) => i,
                    Err(e) => {
                        error!(service = %self.name, "listener failed: {e}");
                        tokio::time::sleep(Duration::from_millis(100)).await;
                        continue;
                    }
                },
            };
            // Throttled: wait it out without accepting.
            let until = self.lock().throttle.until;
            if let Some(u) = until {
                if Instant::now() < u {
                    tokio::select! {
                        _ = self.accepting.cancelled() => return,
                        _ = tokio::time::sleep_until(u.into()) => {}
                    }
                    continue;
                }
            }
            let slot = match self.try_reserve() {
                Some(s) => s,
                None => match self.saturated(&listeners).await {
                    Some(s) => s,
                    None => return,
                },
            };
            // Any listener may have the pending connection by now; take from the one that woke us
            // first, then the others.
            let mut accepted = None;
            for i in std::iter::once(idx).chain(0..listeners.len()) {
                match listeners[i].try_accept() {
                    Ok(Some(a)) => {
                        accepted = Some((a, i));
                        break;
                    }
                    Ok(None) => {}
                    Err(e) => {
                        warn!(service = %self.name, "accept failed on {}: {e}", listeners[i].spec.describe())
                    }
                }
            }
            match accepted {
                Some((a, i)) => self.dispatch(slot, a, listeners[i].spec.clone(), door.clone()),
                None => self.release(&slot, false),
            }
        }
    }

    /// No slot free: warn, kick (login), wait for a slot; after 10 s accept-and-close until one
    /// frees. Returns a slot, or None when the pool stops accepting.
    async fn saturated(&self, listeners: &[Arc<BoundListener>]) -> Option<Slot> {
        m::limit_reached(&self.name);
        self.warn_saturated().await;
        if self.service_type == ServiceType::Login {
            self.kick_oldest();
        }
        let deadline = tokio::time::Instant::now() + DROP_TIMEOUT;
        let mut dropping = false;
        loop {
            let notified = self.changed.notified();
            tokio::pin!(notified);
            notified.as_mut().enable();
            if let Some(s) = self.try_reserve() {
                return Some(s);
            }
            if !dropping {
                tokio::select! {
                    _ = self.accepting.cancelled() => return None,
                    _ = &mut notified => {}
                    _ = tokio::time::sleep_until(deadline) => { dropping = true; }
                }
            } else {
                tokio::select! {
                    _ = self.accepting.cancelled() => return None,
                    _ = &mut notified => {}
                    r = any_pending(listeners) => {
                        if let Ok(i) = r {
                            if let Ok(Some(a)) = listeners[i].try_accept() {
                                m::dropped(&self.name);
                                self.warn_saturated().await;
                                drop(a);
                            }
                        }
                    }
                }
            }
        }
    }

    /// Dovecot's warning text, at most once per second; `worker` services wait 500 ms first and
    /// say nothing if a slot frees meanwhile.
    async fn warn_saturated(&self) {
        if self.service_type == ServiceType::Worker {
            let notified = self.changed.notified();
            tokio::select! {
                _ = notified => return,
                _ = tokio::time::sleep(Duration::from_millis(500)) => {}
            }
            if self.available_count(&self.lock()) > 0 {
                return;
            }
        }
        let mut st = self.lock();
        let now = Instant::now();
        if st
            .last_warning
            .is_some_and(|t| now.duration_since(t) < Duration::from_secs(1))
        {
            return;
        }
        st.last_warning = Some(now);
        drop(st);
        let (what, n) = if self.eff.process_limit > 1 {
            ("process_limit", self.eff.process_limit)
        } else if self.eff.service_count == 1 {
            ("client_limit/service_count", self.eff.client_limit)
        } else {
            ("client_limit", self.eff.client_limit)
        };
        warn!(service = %self.name, "service({}): {what} ({n}) reached, client connections are being dropped", self.name);
    }

    /// Kicks exactly one client: the oldest one not yet authenticated.
    fn kick_oldest(&self) {
        let st = self.lock();
        let victim = st
            .procs
            .values()
            .flat_map(|p| p.sessions.values())
            .filter(|s| !s.authenticated.load(Ordering::Relaxed) && !s.kicked.is_cancelled())
            .min_by_key(|s| s.started);
        if let Some(v) = victim {
            v.kicked.cancel();
            m::login_kicked(&self.name);
            info!(service = %self.name, "Disconnected: Connection queue full (oldest pre-login client kicked)");
        }
    }

    /// Runs one connection in its own task: front door, then the service.
    fn dispatch(
        self: &Arc<Self>,
        slot: Slot,
        accepted: Accepted,
        spec: ListenerSpec,
        door: Arc<FrontDoor>,
    ) {
        m::connection(&self.name, spec.short_name());
        let me = self.clone();
        tokio::spawn(async move {
            let conn = tokio::select! {
                r = door.open(accepted, &spec) => r,
                _ = me.shutdown.cancelled() => { me.release(&slot, false); return; }
            };
            match conn {
                Ok(conn) => {
                    if me.settings.core.metrics_remote_ip {
                        m::client_connection(&me.name, spec.short_name(), &conn.remote_ip());
                    }
                    me.run_session(slot, conn, None).await
                }
                Err(rej) => {
                    if rej.reason.is_tls() {
                        // A failed TLS handshake is the client's business (Dovecot logs it at info).
                        m::tls_failed(&me.name, spec.short_name(), rej.reason.as_str());
                        info!(service = %me.name, "{}: TLS handshake failed ({}): {}", spec.short_name(), rej.reason, rej.detail);
                    } else {
                        m::front_door_rejected(&me.name, spec.short_name(), rej.reason.as_str());
                        warn!(service = %me.name, "{}: connection closed at the front door ({}): {}", spec.short_name(), rej.reason, rej.detail);
                    }
                    me.release(&slot, false);
                }
            }
        });
    }

    /// Serves `conn` in the reserved slot; a panic ends only this connection.
    async fn run_session(self: &Arc<Self>, slot: Slot, conn: Conn, handoff: Option<Arc<Handoff>>) {
        // First connection of a fresh process: let the service initialise it.
        let fresh = {
            let st = self.lock();
            st.procs.get(&slot.vproc).is_some_and(|p| p.served == 1)
        };
        if fresh {
            if let Err(why) = self.service.start_process().await {
                self.throttle(&why.to_string());
                let mut st = self.lock();
                if let Some(p) = st.procs.get_mut(&slot.vproc) {
                    p.retiring = Some(ExitReason::Crash);
                }
                drop(st);
                self.release(&slot, false);
                return;
            }
        }
        tracing::debug!(
            service = %self.name,
            vproc = slot.vproc,
            "connection from {} on {}{}",
            conn.remote_ip(),
            conn.listener,
            if conn.secured { " (secured)" } else { "" }
        );
        let kicked = CancellationToken::new();
        let authenticated = Arc::new(AtomicBool::new(false));
        let session = Session {
            service: self.name.clone(),
            vproc: slot.vproc,
            shutdown: self.shutdown.child_token(),
            kicked: kicked.clone(),
            authenticated: authenticated.clone(),
            handoff,
            settings: self.settings.clone(),
            hub: self.hub.clone(),
        };
        if session.handoff.is_some() {
            session.set_authenticated();
        }
        let task = tokio::spawn(self.service.clone().serve(conn, session));
        {
            let mut st = self.lock();
            if let Some(p) = st.procs.get_mut(&slot.vproc) {
                p.sessions.insert(
                    slot.session,
                    SessionEntry {
                        started: Instant::now(),
                        kicked,
                        authenticated,
                        abort: Some(task.abort_handle()),
                    },
                );
            }
        }
        let crashed = match task.await {
            Ok(()) => false,
            Err(e) if e.is_panic() => {
                error!(service = %self.name, vproc = slot.vproc, "session panicked: {e}");
                true
            }
            Err(_) => false,
        };
        self.release(&slot, crashed);
    }

    /// Hands a connection to this pool without a listener (login → post-login). Waits while
    /// the pool is full, as a Dovecot login process waits for the post-login service.
    pub async fn hand_over(self: &Arc<Self>, conn: Conn, handoff: Handoff) -> Result<(), Conn> {
        let slot = loop {
            let notified = self.changed.notified();
            tokio::pin!(notified);
            notified.as_mut().enable();
            if let Some(s) = self.try_reserve() {
                break s;
            }
            if self.lock().stopped {
                return Err(conn);
            }
            m::limit_reached(&self.name);
            self.warn_saturated().await;
            tokio::select! {
                _ = &mut notified => {}
                _ = tokio::time::sleep(Duration::from_secs(1)) => {}
            }
        };
        m::connection(&self.name, "handoff");
        let me = self.clone();
        tokio::spawn(async move { me.run_session(slot, conn, Some(Arc::new(handoff))).await });
        Ok(())
    }

    // ---- idle_kill --------------------------------------------------------------------

    /// Every `idle_kill`, ends as many idle processes as were idle throughout the interval
    /// (the minimum idle count seen), never going below `process_min_avail` available.
    async fn idle_monitor(self: Arc<Self>) {
        let period = self
            .eff
            .idle_kill
            .as_duration()
            .max(Duration::from_millis(100));
        {
            let mut st = self.lock();
            st.min_idle = st.procs.values().filter(|p| p.is_idle()).count();
        }
        loop {
            tokio::select! {
                _ = self.accepting.cancelled() => return,
                _ = tokio::time::sleep(period) => {}
            }
            self.idle_tick();
        }
    }

    /// One idle_kill interval's end (public for unit tests).
    pub fn idle_tick(&self) {
        let mut st = self.lock();
        let avail = self.available_count(&st);
        let n = st
            .min_idle
            .min(avail.saturating_sub(self.eff.process_min_avail as usize));
        if n > 0 {
            let mut idle: Vec<(Instant, u64)> = st
                .procs
                .values()
                .filter(|p| p.is_idle())
                .map(|p| (p.idle_since.unwrap_or(p.created), p.id))
                .collect();
            idle.sort();
            for (_, id) in idle.into_iter().take(n) {
                self.exit_locked(&mut st, id, ExitReason::IdleKill);
            }
        }
        st.min_idle = st.procs.values().filter(|p| p.is_idle()).count();
        drop(st);
        self.changed.notify_waiters();
    }

    // ---- stopping ---------------------------------------------------------------------

    /// Stops accepting new connections (listeners stay open for the next generation).
    pub fn stop_accepting(&self) {
        self.accepting.cancel();
        let mut st = self.lock();
        st.stopped = true;
        let idle: Vec<u64> = st
            .procs
            .values()
            .filter(|p| p.clients == 0)
            .map(|p| p.id)
            .collect();
        for id in idle {
            self.exit_locked(&mut st, id, ExitReason::Shutdown);
        }
        for p in st.procs.values_mut() {
            p.retiring.get_or_insert(ExitReason::Shutdown);
        }
    }

    /// Asks every session to end (the service sends its shutdown message), waits up to
    /// `grace`, then aborts what is left.
    pub async fn shutdown_sessions(&self, grace: Duration) {
        self.shutdown.cancel();
        let deadline = tokio::time::Instant::now() + grace;
        loop {
            let notified = self.changed.notified();
            tokio::pin!(notified);
            notified.as_mut().enable();
            if self.lock().procs.is_empty() {
                return;
            }
            tokio::select! {
                _ = &mut notified => {}
                _ = tokio::time::sleep_until(deadline) => break,
            }
        }
        let st = self.lock();
        for p in st.procs.values() {
            for s in p.sessions.values() {
                if let Some(a) = &s.abort {
                    a.abort();
                }
            }
        }
    }

    /// Waits until every session has ended on its own.
    pub async fn drained(&self) {
        loop {
            let notified = self.changed.notified();
            tokio::pin!(notified);
            notified.as_mut().enable();
            if self.lock().procs.is_empty() {
                return;
            }
            notified.await;
        }
    }

    // ---- status -----------------------------------------------------------------------

    pub fn status(&self) -> PoolStatus {
        let st = self.lock();
        PoolStatus {
            service: self.name.to_string(),
            processes: st.procs.len(),
            available: self.available_count(&st),
            clients: st.procs.values().map(|p| p.clients as u64).sum(),
            process_limit: self.eff.process_limit,
            client_limit: self.eff.client_limit,
            throttle_secs: st
                .throttle
                .until
                .map(|u| u.saturating_duration_since(Instant::now()).as_secs())
                .unwrap_or(0),
            processes_total: st.processes_total,
        }
    }

    pub fn processes(&self) -> Vec<ProcessStatus> {
        let st = self.lock();
        let now = Instant::now();
        st.procs
            .values()
            .map(|p| ProcessStatus {
                service: self.name.to_string(),
                vproc: p.id,
                clients: p.clients,
                served: p.served,
                idle_secs: p.idle_since.map(|t| now.duration_since(t).as_secs()),
                age_secs: now.duration_since(p.created).as_secs(),
                retiring: p.retiring.is_some(),
            })
            .collect()
    }

    pub fn service(&self) -> &Arc<dyn Service> {
        &self.service
    }
}

/// Resolves with the index of a listener that has a pending connection.
async fn any_pending(listeners: &[Arc<BoundListener>]) -> std::io::Result<usize> {
    if listeners.len() == 1 {
        return listeners[0].pending().await.map(|_| 0);
    }
    let mut futs: Vec<_> = listeners.iter().map(|l| Box::pin(l.pending())).collect();
    std::future::poll_fn(|cx| {
        for (i, f) in futs.iter_mut().enumerate() {
            if let std::task::Poll::Ready(r) = std::future::Future::poll(f.as_mut(), cx) {
                return std::task::Poll::Ready(r.map(|_| i));
            }
        }
        std::task::Poll::Pending
    })
    .await
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::net::ListenerKind;
    use crate::settings::Time;
    use std::sync::atomic::AtomicU32;
    use tokio::io::{AsyncReadExt, AsyncWriteExt};

    fn eff(process_limit: u32, client_limit: u32) -> Effective {
        Effective {
            process_limit,
            client_limit,
            service_count: 0,
            process_min_avail: 0,
            idle_kill: Time::NEVER,
            vsz_limit: 0,
        }
    }

    /// Echoes one byte, except that a `!` makes it panic.
    struct Echo;
    impl Service for Echo {
        fn serve(self: Arc<Self>, conn: Conn, _s: Session) -> crate::runtime::BoxFuture<()> {
            Box::pin(async move {
                let mut stream = conn.stream;
                let mut b = [0u8; 1];
                while let Ok(1) = stream.read(&mut b).await {
                    if b[0] == b'!' {
                        panic!("test panic");
                    }
                    let _ = stream.write_all(&b).await;
                }
            })
        }
    }

    /// Fails its first `fail` start-ups.
    struct Flaky {
        fail: u32,
        tries: AtomicU32,
    }
    impl Service for Flaky {
        fn serve(self: Arc<Self>, conn: Conn, _s: Session) -> crate::runtime::BoxFuture<()> {
            Box::pin(async move {
                let mut stream = conn.stream;
                let _ = stream.write_all(b"ok").await;
            })
        }
        fn start_process(
            &self,
        ) -> crate::runtime::BoxFuture<Result<(), crate::runtime::ServiceError>> {
            let n = self.tries.fetch_add(1, Ordering::SeqCst);
            let fail = n < self.fail;
            Box::pin(async move {
                if fail {
                    Err(crate::runtime::ServiceError::Other("init failed".into()))
                } else {
                    Ok(())
                }
            })
        }
    }

    async fn listen(pool: &Arc<WorkerPool>) -> u16 {
        let spec = ListenerSpec {
            service: pool.name.to_string(),
            name: "t".into(),
            kind: ListenerKind::Inet {
                addr: "127.0.0.1:0".parse().unwrap(),
                ssl: false,
                haproxy: false,
                reuse_port: false,
            },
        };
        let l = Arc::new(BoundListener::bind(spec, 16).unwrap());
        let port = l.local_addr().unwrap().port();
        let settings = Arc::new(Settings::default());
        pool.start(vec![l], Arc::new(FrontDoor::new(settings).unwrap()));
        port
    }

    fn pool(name: &str, e: Effective, svc: Arc<dyn Service>) -> Arc<WorkerPool> {
        WorkerPool::new(
            name,
            e,
            ServiceType::Normal,
            svc,
            Arc::new(Settings::default()),
            Arc::new(Hub::default()),
        )
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn a_panic_ends_only_its_connection() {
        let p = pool("echo", eff(1, 10), Arc::new(Echo));
        let port = listen(&p).await;
        let mut good = tokio::net::TcpStream::connect(("127.0.0.1", port))
            .await
            .unwrap();
        let mut bad = tokio::net::TcpStream::connect(("127.0.0.1", port))
            .await
            .unwrap();
        let mut b = [0u8; 1];
        good.write_all(b"a").await.unwrap();
        good.read_exact(&mut b).await.unwrap();
        bad.write_all(b"!").await.unwrap();
        assert_eq!(
            bad.read(&mut b).await.unwrap_or(0),
            0,
            "panicking session is closed"
        );
        good.write_all(b"b").await.unwrap();
        good.read_exact(&mut b).await.unwrap();
        assert_eq!(
            &b, b"b",
            "the other session on the same virtual process lives on"
        );
        let st = p.status();
        assert_eq!(st.processes, 1);
        assert_eq!(st.clients, 1);
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn startup_failures_throttle_two_then_four_seconds() {
        let p = pool(
            "flaky",
            eff(2, 1),
            Arc::new(Flaky {
                fail: 2,
                tries: AtomicU32::new(0),
            }),
        );
        let port = listen(&p).await;
        let t0 = Instant::now();
        // First connection: start-up fails, connection closed, service throttled 2 s.
        let mut c = tokio::net::TcpStream::connect(("127.0.0.1", port))
            .await
            .unwrap();
        let mut buf = Vec::new();
        c.read_to_end(&mut buf).await.unwrap();
        assert!(buf.is_empty());
        assert!(p.status().throttle_secs >= 1);
        // Second: waits out the throttle, fails again (throttle 4 s).
        let mut c = tokio::net::TcpStream::connect(("127.0.0.1", port))
            .await
            .unwrap();
        c.read_to_end(&mut buf).await.unwrap();
        assert!(buf.is_empty());
        assert!(
            t0.elapsed() >= Duration::from_millis(1900),
            "{:?}",
            t0.elapsed()
        );
        assert!(p.status().throttle_secs >= 3, "doubled: {:?}", p.status());
        // Third: after the 4 s throttle it works.
        let mut c = tokio::net::TcpStream::connect(("127.0.0.1", port))
            .await
            .unwrap();
        c.read_to_end(&mut buf).await.unwrap();
        assert_eq!(buf, b"ok");
        assert!(
            t0.elapsed() >= Duration::from_millis(5900),
            "{:?}",
            t0.elapsed()
        );
    }

    #[tokio::test]
    async fn idle_tick_kills_min_idle_but_keeps_min_avail() {
        let mut e = eff(10, 1);
        e.process_min_avail = 2;
        let p = pool("idle", e, Arc::new(Echo));
        p.top_up();
        let slots: Vec<Slot> = (0..4).map(|_| p.try_reserve().unwrap()).collect();
        assert_eq!(p.status().processes, 6, "4 busy + 2 available");
        for s in &slots {
            p.release(s, false);
        }
        // The interval began with 2 idle: only those count as idle throughout.
        p.lock().min_idle = 2;
        p.idle_tick();
        assert_eq!(p.status().processes, 4);
        // Next interval all 4 were idle: shrink to process_min_avail.
        p.idle_tick();
        assert_eq!(p.status().processes, 2);
        p.idle_tick();
        assert_eq!(p.status().processes, 2);
    }

    #[test]
    fn slot_bookkeeping_respects_limits() {
        let p = pool("limits", eff(2, 3), Arc::new(Echo));
        let slots: Vec<Slot> = (0..6)
            .map(|_| p.try_reserve().expect("capacity 6"))
            .collect();
        assert!(p.try_reserve().is_none(), "7th has no slot");
        assert_eq!(p.status().processes, 2);
        p.release(&slots[0], false);
        assert!(p.try_reserve().is_some());
    }
}
