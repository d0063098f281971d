//! `WorkerPool`: the async shell around one service's [`PoolState`]. It owns the machine behind
//! a mutex, reads the clock, feeds it events and applies its decisions: metrics
//! (`super::super::metrics`), log lines, kick signals and wake-ups of whoever waits for a slot.
//! Starting, the idle_kill timer, stopping and status live here; the accept loop and handoff
//! are in `accept.rs`, one connection's life in `session.rs`.

use std::collections::HashMap;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::{Duration, Instant};

use tokio::sync::Notify;
use tokio::task::AbortHandle;
use tokio_util::sync::CancellationToken;
use tracing::{error, info, warn};

use super::state::{Decision, PoolState};
use super::status;
use crate::log::{throttled, Throttle};
use crate::master::metrics as m;
use crate::net::{BoundListener, FrontDoor, RejectReason};
use crate::runtime::{Hub, PoolStatus, ProcessStatus, Service};
use crate::settings::{Effective, ServiceType, Settings};

/// The shell's handles on a running session (the machine only knows its id and age).
pub(super) struct SessionHandle {
    pub kicked: CancellationToken,
    pub authenticated: Arc<AtomicBool>,
    pub abort: AbortHandle,
}

pub struct WorkerPool {
    pub name: Arc<str>,
    pub eff: Effective,
    pub service_type: ServiceType,
    pub(super) service: Arc<dyn Service>,
    pub(super) settings: Arc<Settings>,
    pub(super) hub: Arc<Hub>,
    state: Mutex<PoolState>,
    /// Running sessions by session id. Lock order: `state`, then `sessions`.
    pub(super) sessions: Mutex<HashMap<u64, SessionHandle>>,
    /// Woken whenever a slot frees or a process exits.
    pub(super) changed: Notify,
    /// Cancelled to stop accepting (reload or stop).
    pub(super) accepting: CancellationToken,
    /// Cancelled to end sessions (stop, or reload with shutdown_clients).
    pub(super) shutdown: CancellationToken,
    /// Per-connection lines that a flood would repeat: kicks, front-door rejections, failed
    /// TLS handshakes.
    pub(super) quiet: QuietLines,
}

/// One [`Throttle`] per kind of per-connection log line (each front-door reason on its own, so
/// a flood of one kind never hides the first line of another).
pub(super) struct QuietLines {
    pub kick: Arc<Throttle>,
    pub login_timeout: Arc<Throttle>,
    front_door: Vec<Arc<Throttle>>,
}

impl QuietLines {
    pub fn front_door(&self, reason: RejectReason) -> &Arc<Throttle> {
        let i = RejectReason::ALL
            .iter()
            .position(|r| *r == reason)
            .expect("every reason is in ALL");
        &self.front_door[i]
    }
}

impl Default for QuietLines {
    fn default() -> Self {
        let window = crate::log::throttle::WINDOW;
        QuietLines {
            kick: Throttle::new(window),
            login_timeout: Throttle::new(window),
            front_door: RejectReason::ALL
                .iter()
                .map(|_| Throttle::new(window))
                .collect(),
        }
    }
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
            state: Mutex::new(PoolState::new(eff, service_type)),
            sessions: Mutex::new(HashMap::new()),
            changed: Notify::new(),
            accepting: CancellationToken::new(),
            shutdown: CancellationToken::new(),
            quiet: QuietLines::default(),
        })
    }

    fn lock(&self) -> MutexGuard<'_, PoolState> {
        self.state.lock().unwrap_or_else(|p| p.into_inner())
    }

    pub(super) fn handles(&self) -> MutexGuard<'_, HashMap<u64, SessionHandle>> {
        self.sessions.lock().unwrap_or_else(|p| p.into_inner())
    }

    /// Runs one event on the machine and applies the decisions it queued (outside the lock).
    pub(super) fn step<R>(&self, event: impl FnOnce(&mut PoolState) -> R) -> R {
        let (r, decisions) = {
            let mut st = self.lock();
            let r = event(&mut st);
            (r, st.take_decisions())
        };
        for d in decisions {
            self.apply(d);
        }
        r
    }

    /// Turns one decision into metrics, log lines and signals.
    fn apply(&self, d: Decision) {
        match d {
            Decision::Start { vproc } => {
                m::process_created(&self.name);
                tracing::debug!(service = %self.name, vproc, "virtual process started");
            }
            Decision::Retire { vproc, reason } => {
                m::process_exited(&self.name, reason.as_str());
                tracing::debug!(service = %self.name, vproc, reason = reason.as_str(), "virtual process exited");
            }
            Decision::Throttle { secs, why } => {
                m::throttled(&self.name);
                error!(service = %self.name, "service({}): command startup failed, throttling for {secs}.000 secs: {why}", self.name);
            }
            Decision::LimitReached => m::limit_reached(&self.name),
            Decision::Warn { what, n } => {
                warn!(service = %self.name, "service({}): {what} ({n}) reached, client connections are being dropped", self.name);
            }
            Decision::Kick { session } => {
                if let Some(h) = self.handles().get(&session) {
                    h.kicked.cancel();
                    m::login_kicked(&self.name);
                    let name = self.name.clone();
                    throttled(
                        &self.quiet.kick,
                        || info!(service = %self.name, "Disconnected: Connection queue full (oldest pre-login client kicked)"),
                        move |n| info!(service = %name, "{n} more pre-login clients kicked (Connection queue full) in the last {} s", crate::log::throttle::WINDOW.as_secs()),
                    );
                }
            }
        }
    }

    /// Before an event that may kick a login client: tell the machine which sessions have
    /// authenticated since (the service marks that on its `Session`, not through the pool).
    pub(super) fn report_authenticated(&self, st: &mut PoolState, now: Instant) {
        if st.would_kick(now) {
            for (id, h) in self.handles().iter() {
                if h.authenticated.load(Ordering::Relaxed) {
                    st.session_authenticated(*id);
                }
            }
        }
    }

    /// Starts the pool: pre-spawns `process_min_avail` (one process for `type = startup`),
    /// runs the accept loop over `listeners` and the idle_kill timer.
    pub fn start(self: &Arc<Self>, listeners: Vec<Arc<BoundListener>>, door: Arc<FrontDoor>) {
        self.step(|st| st.start(Instant::now()));
        if !listeners.is_empty() {
            let me = self.clone();
            tokio::spawn(async move { me.accept_loop(listeners, door).await });
        }
        if !self.eff.idle_kill.is_never() {
            let me = self.clone();
            tokio::spawn(async move { me.idle_monitor().await });
        }
    }

    /// Ends one idle_kill interval every `idle_kill` (at least 100 ms).
    async fn idle_monitor(self: Arc<Self>) {
        let period = self
            .eff
            .idle_kill
            .as_duration()
            .max(Duration::from_millis(100));
        self.step(|st| st.idle_interval_start());
        loop {
            tokio::select! {
                _ = self.accepting.cancelled() => return,
                _ = tokio::time::sleep(period) => {}
            }
            self.step(|st| st.idle_kill_tick());
            self.changed.notify_waiters();
        }
    }

    // ---- stopping ---------------------------------------------------------------------

    /// Stops accepting new connections (listeners stay open for the next generation).
    pub fn stop_accepting(&self) {
        self.accepting.cancel();
        self.step(|st| st.stop());
        self.changed.notify_waiters();
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
            if self.lock().is_empty() {
                return;
            }
            tokio::select! {
                _ = &mut notified => {}
                _ = tokio::time::sleep_until(deadline) => break,
            }
        }
        for h in self.handles().values() {
            h.abort.abort();
        }
    }

    /// Waits until every session has ended on its own.
    pub async fn drained(&self) {
        loop {
            let notified = self.changed.notified();
            tokio::pin!(notified);
            notified.as_mut().enable();
            if self.lock().is_empty() {
                return;
            }
            notified.await;
        }
    }

    // ---- status -----------------------------------------------------------------------

    pub fn status(&self) -> PoolStatus {
        status::pool(&self.name, &self.lock(), Instant::now())
    }

    pub fn processes(&self) -> Vec<ProcessStatus> {
        status::processes(&self.name, &self.lock(), Instant::now())
    }

    pub fn service(&self) -> &Arc<dyn Service> {
        &self.service
    }
}
