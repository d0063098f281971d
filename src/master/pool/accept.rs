//! Admission on sockets: the accept loop over a pool's listeners and the post-login
//! `hand_over`. Each waiting connection asks the state machine what to do ([`Admit`]) and the
//! shell carries it out: accept into the reserved slot, wait (until the given time or until a
//! slot frees), or accept-and-close when the service has been full too long.

use std::sync::Arc;
use std::time::{Duration, Instant};

use tracing::{error, warn};

use super::shell::WorkerPool;
use super::state::Admit;
use crate::master::metrics as m;
use crate::net::{Accepted, BoundListener, Conn, FrontDoor};
use crate::runtime::Handoff;

impl WorkerPool {
    pub(super) async fn accept_loop(
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
            // Ask until the machine admits or drops this connection; meanwhile it stays in
            // the kernel backlog.
            let slot = loop {
                let notified = self.changed.notified();
                tokio::pin!(notified);
                notified.as_mut().enable();
                let admit = self.step(|st| {
                    let now = Instant::now();
                    self.report_authenticated(st, now);
                    st.connection_pending(now)
                });
                match admit {
                    Admit::Accept(slot) => break Some(slot),
                    Admit::Drop => break None,
                    Admit::Stopped => return,
                    Admit::Wait { until } => tokio::select! {
                        _ = self.accepting.cancelled() => return,
                        _ = &mut notified => {}
                        _ = tokio::time::sleep_until(until.into()) => {}
                    },
                }
            };
            let accepted = self.take_pending(&listeners, idx);
            match (slot, accepted) {
                (Some(slot), Some((a, i))) => {
                    self.dispatch(slot, a, listeners[i].spec.clone(), door.clone())
                }
                (Some(slot), None) => self.release(slot, false),
                (None, Some((a, _))) => {
                    m::dropped(&self.name);
                    drop(a);
                }
                (None, None) => {}
            }
        }
    }

    /// Accepts one pending connection: from the listener that woke us first, then the others
    /// (any of them may have it by now).
    fn take_pending(
        &self,
        listeners: &[Arc<BoundListener>],
        idx: usize,
    ) -> Option<(Accepted, usize)> {
        for i in std::iter::once(idx).chain(0..listeners.len()) {
            match listeners[i].try_accept() {
                Ok(Some(a)) => return Some((a, i)),
                Ok(None) => {}
                Err(e) => {
                    warn!(service = %self.name, "accept failed on {}: {e}", listeners[i].spec.describe())
                }
            }
        }
        None
    }

    /// Hands a connection to this pool without a listener (login → post-login). Waits while
    /// the pool is full, as a Dovecot login process waits for the post-login service.
    pub async fn hand_over(self: &Arc<Self>, conn: Conn, handoff: Handoff) -> Result<(), Conn> {
        let slot = loop {
            let notified = self.changed.notified();
            tokio::pin!(notified);
            notified.as_mut().enable();
            match self.step(|st| st.handoff_pending(Instant::now())) {
                Admit::Accept(slot) => break slot,
                Admit::Stopped | Admit::Drop => return Err(conn),
                Admit::Wait { until } => tokio::select! {
                    _ = &mut notified => {}
                    _ = tokio::time::sleep_until(until.into()) => {}
                },
            }
        };
        m::connection(&self.name, "handoff");
        let me = self.clone();
        tokio::spawn(async move {
            me.run_session(slot, conn, Some(Arc::new(handoff)), None)
                .await
        });
        Ok(())
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
