//! One connection's life in a pool, from its reserved slot to its release: the front door
//! (PROXY, TLS), the service's start-up for a fresh virtual process, the session task (a panic
//! ends only that connection), and giving the slot back. The session is known to the machine
//! (a login kick candidate, with its kick token) from before the front door, and a login
//! service's `login_timeout` bounds the front door too, so a client stalled in its PROXY header
//! or TLS handshake cannot pin a pre-auth slot.

use std::sync::atomic::AtomicBool;
use std::sync::Arc;
use std::time::Instant;

use tokio_util::sync::CancellationToken;
use tracing::{error, info, warn};

use super::shell::{SessionHandle, WorkerPool};
use super::state::Slot;
use crate::log::throttle::WINDOW;
use crate::log::throttled;
use crate::master::metrics as m;
use crate::net::{Accepted, Conn, FrontDoor, ListenerSpec};
use crate::runtime::{Handoff, Session};
use crate::settings::ServiceType;

/// A session's kick token and authenticated mark, made before its front door runs.
#[derive(Clone)]
pub(super) struct Signals {
    kicked: CancellationToken,
    authenticated: Arc<AtomicBool>,
}

impl Signals {
    fn new() -> Signals {
        Signals {
            kicked: CancellationToken::new(),
            authenticated: Arc::new(AtomicBool::new(false)),
        }
    }
}

impl WorkerPool {
    /// Runs one connection in its own task: front door, then the service.
    pub(super) fn dispatch(
        self: &Arc<Self>,
        slot: Slot,
        accepted: Accepted,
        spec: ListenerSpec,
        door: Arc<FrontDoor>,
    ) {
        m::connection(&self.name, spec.short_name());
        let me = self.clone();
        let signals = Signals::new();
        let kicked = signals.kicked.clone();
        let handle_signals = signals.clone();
        let login_deadline = (self.service_type == ServiceType::Login)
            .then(|| tokio::time::Instant::now() + self.settings.mail.login_timeout.as_duration());
        let (registered, wait_registered) = tokio::sync::oneshot::channel::<()>();
        let task = tokio::spawn(async move {
            let _ = wait_registered.await;
            let deadline = async {
                match login_deadline {
                    Some(d) => tokio::time::sleep_until(d).await,
                    None => std::future::pending().await,
                }
            };
            let conn = tokio::select! {
                r = door.open(accepted, &spec) => r,
                _ = me.shutdown.cancelled() => { me.release(slot, false); return; }
                _ = kicked.cancelled() => {
                    // The kick itself is logged (throttled) where it is decided.
                    tracing::debug!(service = %me.name, "{}: kicked during the front door", spec.short_name());
                    me.release(slot, false);
                    return;
                }
                _ = deadline => {
                    let name = me.name.clone();
                    throttled(
                        &me.quiet.login_timeout,
                        || warn!(service = %me.name, "{}: connection closed at the front door (login_timeout)", spec.short_name()),
                        move |n| warn!(service = %name, "{n} more connections closed at the front door in the last {} s", WINDOW.as_secs()),
                    );
                    me.release(slot, false);
                    return;
                }
            };
            match conn {
                Ok(conn) => {
                    if me.settings.core.metrics_remote_ip {
                        m::client_connection(&me.name, spec.short_name(), &conn.remote_ip());
                    }
                    me.run_session(slot, conn, None, Some(signals)).await
                }
                Err(rej) => {
                    let name = me.name.clone();
                    let reason = rej.reason;
                    if rej.reason.is_tls() {
                        // A failed TLS handshake is the client's business (Dovecot logs it at info).
                        m::tls_failed(&me.name, spec.short_name(), rej.reason.as_str());
                        throttled(
                            me.quiet.front_door(rej.reason),
                            || info!(service = %me.name, "{}: TLS handshake failed ({}): {}", spec.short_name(), rej.reason, rej.detail),
                            move |n| info!(service = %name, "{n} more TLS handshakes failed ({reason}) in the last {} s", WINDOW.as_secs()),
                        );
                    } else {
                        m::front_door_rejected(&me.name, spec.short_name(), rej.reason.as_str());
                        throttled(
                            me.quiet.front_door(rej.reason),
                            || warn!(service = %me.name, "{}: connection closed at the front door ({}): {}", spec.short_name(), rej.reason, rej.detail),
                            move |n| warn!(service = %name, "{n} more connections closed at the front door ({reason}) in the last {} s", WINDOW.as_secs()),
                        );
                    }
                    me.release(slot, false);
                }
            }
        });
        // Kickable from now on; the task waits for this so its release cannot come first.
        self.handles().insert(
            slot.session,
            SessionHandle {
                kicked: handle_signals.kicked,
                authenticated: handle_signals.authenticated,
                abort: task.abort_handle(),
            },
        );
        self.step(|st| st.session_started(slot, Instant::now(), false));
        let _ = registered.send(());
    }

    /// Serves `conn` in the reserved slot; a panic ends only this connection.
    pub(super) async fn run_session(
        self: &Arc<Self>,
        slot: Slot,
        conn: Conn,
        handoff: Option<Arc<Handoff>>,
        front_door: Option<Signals>,
    ) {
        // First connection of a fresh process: let the service initialise it.
        if self.step(|st| st.claim_start_up(slot.vproc)) {
            if let Err(why) = self.service.start_process().await {
                self.step(|st| st.start_up_failed(slot.vproc, Instant::now(), why.to_string()));
                self.release(slot, false);
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
        // Known to the machine since the front door, or new (a handed-over connection).
        let known = front_door.is_some();
        let Signals {
            kicked,
            authenticated,
        } = front_door.unwrap_or_else(Signals::new);
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
        let handed_over = session.handoff.is_some();
        if handed_over {
            session.set_authenticated();
        }
        let task = tokio::spawn(self.service.clone().serve(conn, session));
        self.handles().insert(
            slot.session,
            SessionHandle {
                kicked,
                authenticated,
                abort: task.abort_handle(),
            },
        );
        if !known {
            self.step(|st| st.session_started(slot, Instant::now(), handed_over));
        }
        let crashed = match task.await {
            Ok(()) => false,
            Err(e) if e.is_panic() => {
                error!(service = %self.name, vproc = slot.vproc, "session panicked: {e}");
                true
            }
            Err(_) => false,
        };
        self.release(slot, crashed);
    }

    /// Returns a slot: the machine may retire the process (`service_count`, retiring) and top
    /// up `process_min_avail`; whoever waits for a slot is woken.
    pub(super) fn release(&self, slot: Slot, crashed: bool) {
        self.handles().remove(&slot.session);
        if crashed {
            m::session_panicked(&self.name);
        }
        self.step(|st| st.slot_released(slot, Instant::now()));
        self.changed.notify_waiters();
    }
}
