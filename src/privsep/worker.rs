//! The server side of auth-worker helpers: an async pool of at most `auth_worker_max_count`
//! (and the service's `process_limit`) helper processes, each serving one request at a time
//! (client_limit 1), retired after `service_count` requests and after the service's `idle_kill`, replaced when they die, with Dovecot's crash throttle (2 s doubling
//! to 60 s after consecutive failures). A request that waits more than 3 s for a worker logs a
//! warning naming `auth_worker_max_count`; a request times out after 60 s.

use std::sync::atomic::{AtomicU32, AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::UnixStream;
use tokio::sync::Semaphore;

use super::error::PrivsepError;
use super::frame;
use super::launcher::Launcher;
use super::spec::HelperSpec;

const REQUEST_TIMEOUT: Duration = Duration::from_secs(60);
const SLOW_WAIT: Duration = Duration::from_secs(3);

struct Worker {
    pid: u32,
    stream: UnixStream,
    last_used: Instant,
    served: u32,
}

/// A pool of helpers of one kind.
pub struct WorkerPool {
    launcher: Arc<Launcher>,
    spec: HelperSpec,
    idle_kill: Duration,
    /// Requests a helper serves before it is replaced; 0 = no limit.
    service_count: u32,
    slots: Semaphore,
    idle: Mutex<Vec<Worker>>,
    live: AtomicU32,
    failures: AtomicU32,
    spawned: AtomicU64,
}

impl WorkerPool {
    pub fn new(
        launcher: Arc<Launcher>,
        spec: HelperSpec,
        max: u32,
        idle_kill: Duration,
        service_count: u32,
    ) -> WorkerPool {
        metrics::describe_gauge!(
            "roost_privsep_helpers",
            "Live privsep helper processes per service."
        );
        metrics::describe_counter!(
            "roost_privsep_helper_starts_total",
            "Helper processes started per service."
        );
        metrics::gauge!("roost_privsep_helpers", "service" => spec.kind.clone()).set(0.0);
        metrics::counter!("roost_privsep_helper_starts_total", "service" => spec.kind.clone())
            .increment(0);
        WorkerPool {
            launcher,
            spec,
            idle_kill,
            service_count,
            slots: Semaphore::new(max.max(1) as usize),
            idle: Mutex::new(Vec::new()),
            live: AtomicU32::new(0),
            failures: AtomicU32::new(0),
            spawned: AtomicU64::new(0),
        }
    }

    /// Live helper processes.
    pub fn live(&self) -> u32 {
        self.live.load(Ordering::Relaxed)
    }

    /// Helpers started so far.
    pub fn started(&self) -> u64 {
        self.spawned.load(Ordering::Relaxed)
    }

    fn gauge(&self) {
        metrics::gauge!("roost_privsep_helpers", "service" => self.spec.kind.clone())
            .set(self.live() as f64);
    }

    fn retire(&self, w: Worker) {
        drop(w);
        self.live.fetch_sub(1, Ordering::Relaxed);
        self.gauge();
    }

    /// Crash throttle delay after `n` consecutive failures.
    pub fn throttle(n: u32) -> Duration {
        if n == 0 {
            return Duration::ZERO;
        }
        Duration::from_secs((2u64 << (n - 1).min(5)).min(60))
    }

    async fn get(&self) -> Result<Worker, PrivsepError> {
        loop {
            let w = self.idle.lock().expect("worker pool lock").pop();
            match w {
                Some(w) if w.last_used.elapsed() >= self.idle_kill && !self.idle_kill.is_zero() => {
                    self.retire(w)
                }
                Some(w) => return Ok(w),
                None => break,
            }
        }
        tokio::time::sleep(Self::throttle(self.failures.load(Ordering::Relaxed))).await;
        let launcher = self.launcher.clone();
        let spec = self.spec.clone();
        let h = tokio::task::spawn_blocking(move || launcher.spawn(&spec))
            .await
            .map_err(|e| PrivsepError::Protocol(format!("spawn task failed: {e}")))??;
        h.stream
            .set_nonblocking(true)
            .map_err(|e| PrivsepError::Io {
                what: "set_nonblocking".into(),
                source: e,
            })?;
        let stream = UnixStream::from_std(h.stream).map_err(|e| PrivsepError::Io {
            what: "register helper socket".into(),
            source: e,
        })?;
        self.live.fetch_add(1, Ordering::Relaxed);
        self.spawned.fetch_add(1, Ordering::Relaxed);
        metrics::counter!("roost_privsep_helper_starts_total", "service" => self.spec.kind.clone())
            .increment(1);
        self.gauge();
        tracing::debug!(service = %self.spec.kind, pid = h.pid, "helper started");
        Ok(Worker {
            pid: h.pid,
            stream,
            last_used: Instant::now(),
            served: 0,
        })
    }

    async fn roundtrip(w: &mut Worker, req: &str) -> Result<String, PrivsepError> {
        let io = |what: &'static str| {
            move |e: std::io::Error| PrivsepError::Io {
                what: what.into(),
                source: e,
            }
        };
        w.stream
            .write_all(&frame::encode(req.as_bytes()))
            .await
            .map_err(io("write to helper"))?;
        let mut len = [0u8; 4];
        w.stream
            .read_exact(&mut len)
            .await
            .map_err(io("read from helper"))?;
        let n = u32::from_be_bytes(len) as usize;
        if n > frame::MAX_FRAME {
            return Err(PrivsepError::Protocol(format!("helper frame of {n} bytes")));
        }
        let mut buf = vec![0u8; n];
        w.stream
            .read_exact(&mut buf)
            .await
            .map_err(io("read from helper"))?;
        String::from_utf8(buf)
            .map_err(|_| PrivsepError::Protocol("helper reply is not UTF-8".into()))
    }

    /// Sends one request to a helper and returns its reply. A helper that dies mid-request is
    /// replaced and the request retried once.
    pub async fn request(&self, req: &str) -> Result<String, PrivsepError> {
        let waited = Instant::now();
        let _permit = self
            .slots
            .acquire()
            .await
            .map_err(|_| PrivsepError::Protocol("pool closed".into()))?;
        if waited.elapsed() > SLOW_WAIT {
            tracing::warn!(
                "auth workers: request waited {:?} for a free worker; consider raising auth_worker_max_count",
                waited.elapsed()
            );
        }
        let mut last_err = None;
        for _ in 0..2 {
            let mut w = match self.get().await {
                Ok(w) => w,
                Err(e) => {
                    self.failures.fetch_add(1, Ordering::Relaxed);
                    tracing::error!(service = %self.spec.kind, "cannot start helper: {e}");
                    return Err(e);
                }
            };
            match tokio::time::timeout(REQUEST_TIMEOUT, Self::roundtrip(&mut w, req)).await {
                Ok(Ok(reply)) => {
                    self.failures.store(0, Ordering::Relaxed);
                    w.last_used = Instant::now();
                    w.served += 1;
                    if self.service_count > 0 && w.served >= self.service_count {
                        self.retire(w);
                    } else {
                        self.idle.lock().expect("worker pool lock").push(w);
                    }
                    return Ok(reply);
                }
                Ok(Err(e)) => {
                    tracing::error!(service = %self.spec.kind, pid = w.pid, "helper failed: {e}");
                    self.failures.fetch_add(1, Ordering::Relaxed);
                    self.retire(w);
                    last_err = Some(e);
                }
                Err(_) => {
                    tracing::error!(service = %self.spec.kind, pid = w.pid, "helper request timed out after 60 s");
                    self.retire(w);
                    return Err(PrivsepError::Protocol("helper request timed out".into()));
                }
            }
        }
        Err(last_err.unwrap_or_else(|| PrivsepError::Protocol("helper failed".into())))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn throttle_doubles_to_a_minute() {
        assert_eq!(WorkerPool::throttle(0), Duration::ZERO);
        assert_eq!(WorkerPool::throttle(1), Duration::from_secs(2));
        assert_eq!(WorkerPool::throttle(2), Duration::from_secs(4));
        assert_eq!(WorkerPool::throttle(5), Duration::from_secs(32));
        assert_eq!(WorkerPool::throttle(6), Duration::from_secs(60));
        assert_eq!(WorkerPool::throttle(40), Duration::from_secs(60));
    }
}
