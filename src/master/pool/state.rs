//! The pool's decisions as a synchronous state machine (spec §1.2–§1.7): no async, no I/O, no
//! metrics, no logging and no clock. Every event that depends on time is given `now`; the
//! machine updates its slot bookkeeping and queues [`Decision`]s, which the async shell takes
//! with [`PoolState::take_decisions`] and turns into metrics, log lines and signals (the style
//! of quinn-proto / rustls). Answers the caller needs at once (a slot, what to do with a
//! pending connection) are return values.
//!
//! * capacity is `process_limit × client_limit` (client_limit already clamped to
//!   `service_count`); a connection is accepted only after a slot is reserved, so when the pool
//!   is full new clients wait in the kernel backlog;
//! * saturation: one episode from the first connection that finds no slot until a slot frees.
//!   It counts `LimitReached`, kicks one login client, warns at most once a second (`worker`
//!   services only if still full after 500 ms), and after 10 s says `Drop` (accept-and-close);
//! * `service_count` recycles processes, `process_min_avail` keeps processes available,
//!   `idle_kill` shrinks by the 2.3.21 rule (each interval, end as many idle processes as stayed
//!   idle throughout it, never below `process_min_avail` available);
//! * start-up failures throttle the service (2 s doubling to 60 s, reset by a clean exit).

use std::collections::BTreeMap;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant};

use super::vproc::{ExitReason, SessionRec, VProc};
use crate::settings::{Effective, ServiceType};

/// How long a saturated service queues connections before it accepts and closes them.
pub const DROP_TIMEOUT: Duration = Duration::from_secs(10);
/// The saturation warning is logged at most this often.
pub const WARN_INTERVAL: Duration = Duration::from_secs(1);
/// `worker` services warn only if still full this long after saturation began.
pub const WORKER_WARN_DELAY: Duration = Duration::from_millis(500);
/// A waiting post-login handoff asks again at least this often.
pub const HANDOFF_RETRY: Duration = Duration::from_secs(1);
pub const THROTTLE_START_SECS: u64 = 2;
pub const THROTTLE_MAX_SECS: u64 = 60;

/// Global virtual-process id counter: ids are unique across services, like pids.
static NEXT_VPROC: AtomicU64 = AtomicU64::new(1);

/// A reserved client slot in one virtual process.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Slot {
    pub vproc: u64,
    pub session: u64,
}

/// What the shell must do (count, log, signal) after an event.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Decision {
    /// A virtual process was created.
    Start { vproc: u64 },
    /// A virtual process ended.
    Retire { vproc: u64, reason: ExitReason },
    /// A start-up failed: no new process for `secs` seconds.
    Throttle { secs: u64, why: String },
    /// A connection found every slot taken.
    LimitReached,
    /// Log Dovecot's saturation warning: `{what} ({n}) reached, ...`.
    Warn { what: &'static str, n: u32 },
    /// Tell this pre-login session the connection queue is full.
    Kick { session: u64 },
}

/// What to do with a connection waiting to be accepted (or handed over).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Admit {
    /// Accept it into this slot.
    Accept(Slot),
    /// Leave it queued; ask again at `until` or when a slot frees, whichever comes first.
    Wait { until: Instant },
    /// Accept it and close it at once: the service has been full for [`DROP_TIMEOUT`].
    Drop,
    /// The pool takes nothing new.
    Stopped,
}

struct Throttle {
    until: Option<Instant>,
    next_secs: u64,
}

/// From the first connection that found no slot until a slot frees.
struct Saturation {
    since: Instant,
    /// The listener path has had its (possibly rate-limited) warning for this episode.
    warned: bool,
}

pub struct PoolState {
    eff: Effective,
    kind: ServiceType,
    procs: BTreeMap<u64, VProc>,
    /// Sessions running the service, by session id (ids grow with time).
    sessions: BTreeMap<u64, SessionRec>,
    next_session: u64,
    /// Minimum idle-process count seen in the current idle_kill interval.
    min_idle: usize,
    throttle: Throttle,
    last_warning: Option<Instant>,
    saturation: Option<Saturation>,
    processes_total: u64,
    stopped: bool,
    out: Vec<Decision>,
}

impl PoolState {
    pub fn new(eff: Effective, kind: ServiceType) -> PoolState {
        PoolState {
            eff,
            kind,
            procs: BTreeMap::new(),
            sessions: BTreeMap::new(),
            next_session: 1,
            min_idle: 0,
            throttle: Throttle {
                until: None,
                next_secs: THROTTLE_START_SECS,
            },
            last_warning: None,
            saturation: None,
            processes_total: 0,
            stopped: false,
            out: Vec::new(),
        }
    }

    /// The decisions queued since the last call, oldest first.
    pub fn take_decisions(&mut self) -> Vec<Decision> {
        std::mem::take(&mut self.out)
    }

    // ---- events -----------------------------------------------------------------------

    /// The pool starts: `process_min_avail` processes, and one for `type = startup`.
    pub fn start(&mut self, now: Instant) {
        self.top_up(now);
        if self.kind == ServiceType::Startup && self.procs.is_empty() {
            self.create(now);
        }
        self.note_idle();
    }

    /// A connection is waiting on a listener.
    pub fn connection_pending(&mut self, now: Instant) -> Admit {
        if self.stopped {
            return Admit::Stopped;
        }
        if let Some(until) = self.throttled_until(now) {
            return Admit::Wait { until };
        }
        if let Some(slot) = self.try_reserve(now) {
            return Admit::Accept(slot);
        }
        let since = self.saturate(now, true);
        let warn_at = self.warn_at(since);
        let warned = self.saturation.as_ref().is_some_and(|s| s.warned);
        if !warned && now >= warn_at {
            if let Some(s) = self.saturation.as_mut() {
                s.warned = true;
            }
            self.warn(now);
        }
        let drop_at = since + DROP_TIMEOUT;
        if now >= drop_at {
            self.warn(now);
            return Admit::Drop;
        }
        let until = if now < warn_at { warn_at } else { drop_at };
        Admit::Wait { until }
    }

    /// A login process hands a connection over to this (post-login) pool. It never drops or
    /// kicks: it waits, counting and warning while the pool is full.
    pub fn handoff_pending(&mut self, now: Instant) -> Admit {
        if let Some(slot) = self.try_reserve(now) {
            return Admit::Accept(slot);
        }
        if self.stopped {
            return Admit::Stopped;
        }
        let since = self.saturate(now, false);
        let warn_at = self.warn_at(since);
        if now >= warn_at {
            self.warn(now);
        }
        let retry = now + HANDOFF_RETRY;
        let until = if now < warn_at {
            warn_at.min(retry)
        } else {
            retry
        };
        Admit::Wait { until }
    }

    /// Reserves a slot if one is free now, creating a virtual process when allowed (not at
    /// `process_limit`, not throttled). A reservation ends a saturation episode.
    pub fn try_reserve(&mut self, now: Instant) -> Option<Slot> {
        if self.stopped {
            return None;
        }
        let (cl, sc) = (self.eff.client_limit, self.eff.service_count);
        // Fill the busiest available process first so idle ones can be shrunk.
        let pick = self
            .procs
            .values()
            .filter(|p| p.available(cl, sc))
            .max_by_key(|p| (p.clients, std::cmp::Reverse(p.id)))
            .map(|p| p.id);
        let id = match pick {
            Some(id) => id,
            None => {
                if self.procs.len() as u32 >= self.eff.process_limit
                    || self.throttled_until(now).is_some()
                {
                    return None;
                }
                self.create(now)
            }
        };
        let p = self.procs.get_mut(&id).expect("picked process exists");
        p.clients += 1;
        p.served += 1;
        p.idle_since = None;
        let session = self.next_session;
        self.next_session += 1;
        self.saturation = None;
        self.top_up(now);
        self.note_idle();
        Some(Slot { vproc: id, session })
    }

    /// The session in `slot` now runs the service (a candidate for the login kick unless it
    /// is already authenticated, as handed-over sessions are).
    pub fn session_started(&mut self, slot: Slot, now: Instant, authenticated: bool) {
        self.sessions.insert(
            slot.session,
            SessionRec {
                started: now,
                authenticated,
                kicked: false,
            },
        );
    }

    /// The session got past authentication: no longer a kick candidate.
    pub fn session_authenticated(&mut self, session: u64) {
        if let Some(s) = self.sessions.get_mut(&session) {
            s.authenticated = true;
        }
    }

    /// True once per process: the caller runs the service's start-up for it.
    pub fn claim_start_up(&mut self, vproc: u64) -> bool {
        match self.procs.get_mut(&vproc) {
            Some(p) if !p.start_up_claimed => {
                p.start_up_claimed = true;
                true
            }
            _ => false,
        }
    }

    /// The process failed its start-up: throttle 2 s, doubling to 60 s; the process retires
    /// (reason `crash`) when its clients are gone.
    pub fn start_up_failed(&mut self, vproc: u64, now: Instant, why: String) {
        let secs = self.throttle.next_secs;
        self.throttle.until = Some(now + Duration::from_secs(secs));
        self.throttle.next_secs = (secs * 2).min(THROTTLE_MAX_SECS);
        self.out.push(Decision::Throttle { secs, why });
        if let Some(p) = self.procs.get_mut(&vproc) {
            p.retiring = Some(ExitReason::Crash);
        }
    }

    /// A slot is returned (session ended, or the connection never got that far). Retires the
    /// process if it was retiring or its `service_count` is used up; ends saturation.
    pub fn slot_released(&mut self, slot: Slot, now: Instant) {
        self.sessions.remove(&slot.session);
        let mut exit = None;
        if let Some(p) = self.procs.get_mut(&slot.vproc) {
            p.clients = p.clients.saturating_sub(1);
            if p.clients == 0 {
                p.idle_since = Some(now);
                if let Some(r) = p.retiring {
                    exit = Some(r);
                } else if p.exhausted(self.eff.service_count) {
                    exit = Some(ExitReason::ServiceCount);
                }
            }
        }
        if let Some(reason) = exit {
            self.retire(slot.vproc, reason);
        }
        self.saturation = None;
        self.top_up(now);
        self.note_idle();
    }

    /// An idle_kill interval begins: every process idle now is a candidate.
    pub fn idle_interval_start(&mut self) {
        self.min_idle = self.idle_count();
    }

    /// An idle_kill interval ends: end as many idle processes as stayed idle throughout it
    /// (the minimum idle count seen), longest idle first, never going below
    /// `process_min_avail` available. The next interval begins.
    pub fn idle_kill_tick(&mut self) {
        let n = self.min_idle.min(
            self.available_count()
                .saturating_sub(self.eff.process_min_avail as usize),
        );
        if n > 0 {
            let mut idle: Vec<(Instant, u64)> = self
                .procs
                .values()
                .filter(|p| p.is_idle())
                .map(|p| (p.idle_since.unwrap_or(p.created), p.id))
                .collect();
            idle.sort();
            for (_, id) in idle.into_iter().take(n) {
                self.retire(id, ExitReason::IdleKill);
            }
        }
        self.idle_interval_start();
    }

    /// Stop: take nothing new; idle processes end now, busy ones when their clients leave.
    pub fn stop(&mut self) {
        self.stopped = true;
        self.saturation = None;
        let idle: Vec<u64> = self
            .procs
            .values()
            .filter(|p| p.clients == 0)
            .map(|p| p.id)
            .collect();
        for id in idle {
            self.retire(id, ExitReason::Shutdown);
        }
        for p in self.procs.values_mut() {
            p.retiring.get_or_insert(ExitReason::Shutdown);
        }
    }

    // ---- queries ----------------------------------------------------------------------

    pub fn procs(&self) -> impl Iterator<Item = &VProc> {
        self.procs.values()
    }

    pub fn is_empty(&self) -> bool {
        self.procs.is_empty()
    }

    pub fn available_count(&self) -> usize {
        let (cl, sc) = (self.eff.client_limit, self.eff.service_count);
        self.procs.values().filter(|p| p.available(cl, sc)).count()
    }

    pub fn clients(&self) -> u64 {
        self.procs.values().map(|p| p.clients as u64).sum()
    }

    pub fn processes_total(&self) -> u64 {
        self.processes_total
    }

    pub fn eff(&self) -> &Effective {
        &self.eff
    }

    /// When the start-up throttle ends, if it is on at `now`.
    pub fn throttled_until(&self, now: Instant) -> Option<Instant> {
        self.throttle.until.filter(|u| now < *u)
    }

    /// A connection pending now would start a saturation episode of a login service, which
    /// kicks a client: the shell should first report which sessions have authenticated.
    pub fn would_kick(&self, now: Instant) -> bool {
        self.kind == ServiceType::Login
            && !self.stopped
            && self.saturation.is_none()
            && self.throttled_until(now).is_none()
            && self.available_count() == 0
            && self.procs.len() as u32 >= self.eff.process_limit
    }

    // ---- internals --------------------------------------------------------------------

    fn create(&mut self, now: Instant) -> u64 {
        let id = NEXT_VPROC.fetch_add(1, Ordering::Relaxed);
        self.procs.insert(id, VProc::new(id, now));
        self.processes_total += 1;
        self.out.push(Decision::Start { vproc: id });
        id
    }

    fn retire(&mut self, id: u64, reason: ExitReason) {
        if self.procs.remove(&id).is_some() {
            if reason != ExitReason::Crash {
                // A clean exit resets the start-up throttle.
                self.throttle.next_secs = THROTTLE_START_SECS;
            }
            self.out.push(Decision::Retire { vproc: id, reason });
        }
    }

    /// Creates processes until `process_min_avail` are available (bounded by process_limit).
    fn top_up(&mut self, now: Instant) {
        if self.stopped || self.throttled_until(now).is_some() {
            return;
        }
        while (self.available_count() as u32) < self.eff.process_min_avail
            && (self.procs.len() as u32) < self.eff.process_limit
        {
            self.create(now);
        }
    }

    fn idle_count(&self) -> usize {
        self.procs.values().filter(|p| p.is_idle()).count()
    }

    fn note_idle(&mut self) {
        self.min_idle = self.min_idle.min(self.idle_count());
    }

    /// Enters (or stays in) a saturation episode; returns when it began. Entering counts the
    /// limit as reached and, on the listener path of a login service, kicks one client. The
    /// handoff path counts every time it asks, as each ask is a connection waiting.
    fn saturate(&mut self, now: Instant, listener: bool) -> Instant {
        if let Some(s) = &self.saturation {
            if !listener {
                self.out.push(Decision::LimitReached);
            }
            return s.since;
        }
        self.saturation = Some(Saturation {
            since: now,
            warned: false,
        });
        self.out.push(Decision::LimitReached);
        if listener && self.kind == ServiceType::Login {
            self.kick_oldest();
        }
        now
    }

    /// When a saturation episode that began at `since` may warn.
    fn warn_at(&self, since: Instant) -> Instant {
        if self.kind == ServiceType::Worker {
            since + WORKER_WARN_DELAY
        } else {
            since
        }
    }

    /// Dovecot's warning, at most once per [`WARN_INTERVAL`].
    fn warn(&mut self, now: Instant) {
        if self
            .last_warning
            .is_some_and(|t| now.saturating_duration_since(t) < WARN_INTERVAL)
        {
            return;
        }
        self.last_warning = Some(now);
        let (what, n) = if self.eff.process_limit > 1 {
            ("process_limit", self.eff.process_limit)
        } else if self.eff.service_count == 1 {
            ("client_limit/service_count", self.eff.client_limit)
        } else {
            ("client_limit", self.eff.client_limit)
        };
        self.out.push(Decision::Warn { what, n });
    }

    /// Kicks exactly one client: the oldest one not yet authenticated (nor already kicked).
    fn kick_oldest(&mut self) {
        let victim = self
            .sessions
            .iter()
            .filter(|(_, s)| !s.authenticated && !s.kicked)
            .min_by_key(|(id, s)| (s.started, **id))
            .map(|(id, _)| *id);
        if let Some(id) = victim {
            if let Some(s) = self.sessions.get_mut(&id) {
                s.kicked = true;
            }
            self.out.push(Decision::Kick { session: id });
        }
    }
}
