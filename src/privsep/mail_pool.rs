//! The server's side of mail helpers: idle helper connections per uid/gid, taken for one
//! request (a delivery), or shared by up to [`SESSIONS_PER_HELPER`] POP3 sessions of that
//! uid/gid (each with its own session id on the helper), and started through the root launcher
//! when none is idle. Blocking: call from the blocking pool. A connection idle longer than
//! [`REUSE_WITHIN`] (less than the helper's own idle exit) is dropped rather than reused; when
//! the launcher refuses at its helper cap, idle helpers of other uids are let go and the spawn
//! is tried once more.

use std::collections::HashMap;
use std::os::fd::AsRawFd;
use std::os::unix::net::UnixStream;
use std::sync::atomic::{AtomicU64, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex, Weak};
use std::time::{Duration, Instant};

use crate::mail::identity::MailIdentity;

use super::error::PrivsepError;
use super::launcher::Launcher;
use super::mail_proto::{self as proto, Msg};
use super::spec::HelperSpec;

/// Idle connections older than this are not reused (the helper exits at 60 s).
pub const REUSE_WITHIN: Duration = Duration::from_secs(45);

/// Idle connections kept per uid/gid.
const IDLE_PER_ID: usize = 8;

/// POP3 sessions one mail helper holds at most (their requests take turns on it).
pub const SESSIONS_PER_HELPER: usize = 32;

/// A helper connection shared by POP3 sessions of one uid/gid; the helper exits when the last
/// session lets go of it.
pub struct SharedConn {
    pub id: MailIdentity,
    /// `None` once the helper failed.
    pub conn: Mutex<Option<MailConn>>,
    sessions: AtomicUsize,
}

impl SharedConn {
    /// One request on the shared connection; a failed helper is dropped for all its sessions.
    pub fn call(&self, head: &[&str], body: &[u8]) -> Result<Msg, PrivsepError> {
        let mut g = self.conn.lock().expect("shared mail conn lock");
        let c = g
            .as_mut()
            .ok_or_else(|| PrivsepError::Protocol("the mail helper failed earlier".into()))?;
        let r = c.call(head, body, None);
        if r.is_err() {
            *g = None;
        }
        r
    }

    /// A session stops using this helper.
    pub fn leave(&self) {
        self.sessions.fetch_sub(1, Ordering::Relaxed);
    }
}

/// One helper connection.
pub struct MailConn {
    pub pid: u32,
    pub stream: UnixStream,
    pub id: MailIdentity,
}

impl MailConn {
    /// One request and its reply (`None` reply: the helper went away).
    pub fn call(
        &mut self,
        head: &[&str],
        body: &[u8],
        file: Option<&std::fs::File>,
    ) -> Result<Msg, PrivsepError> {
        let fd = self.stream.as_raw_fd();
        proto::send(fd, head, body, file)?;
        proto::recv(fd, false)?
            .ok_or_else(|| PrivsepError::Protocol("the mail helper closed its socket".into()))
    }
}

/// Whether a helper call failed because its read timeout passed (recvmsg's EAGAIN, or a
/// read's WouldBlock/TimedOut).
pub fn timed_out(e: &PrivsepError) -> bool {
    match e {
        PrivsepError::Sys { source, .. } => *source == nix::errno::Errno::EAGAIN,
        PrivsepError::Io { source, .. } => matches!(
            source.kind(),
            std::io::ErrorKind::WouldBlock | std::io::ErrorKind::TimedOut
        ),
        _ => false,
    }
}

/// Mail helpers of this server.
pub struct MailPool {
    launcher: Arc<Launcher>,
    idle: Mutex<HashMap<MailIdentity, Vec<(MailConn, Instant)>>>,
    /// Helpers holding POP3 sessions, per uid/gid.
    shared: Mutex<HashMap<MailIdentity, Vec<Weak<SharedConn>>>>,
    next_session: AtomicU64,
}

/// The spec a mail helper for `id` is requested with (the launcher fills in the rest from
/// its own configuration).
pub fn mail_spec(id: MailIdentity) -> HelperSpec {
    HelperSpec {
        kind: "mail".into(),
        user: id.uid.to_string(),
        group: id.gid.to_string(),
        ..HelperSpec::default()
    }
}

impl MailPool {
    pub fn new(launcher: Arc<Launcher>) -> MailPool {
        MailPool {
            launcher,
            idle: Mutex::new(HashMap::new()),
            shared: Mutex::new(HashMap::new()),
            next_session: AtomicU64::new(1),
        }
    }

    /// A helper for one more POP3 session of `id` (one with room, else a new one) and the
    /// session's id on it.
    pub fn session(&self, id: MailIdentity) -> Result<(Arc<SharedConn>, String), PrivsepError> {
        let sid = self
            .next_session
            .fetch_add(1, Ordering::Relaxed)
            .to_string();
        let mut shared = self.shared.lock().expect("mail pool lock");
        let v = shared.entry(id).or_default();
        v.retain(|w| w.strong_count() > 0);
        for w in v.iter() {
            let Some(s) = w.upgrade() else { continue };
            let alive = s.conn.lock().expect("shared mail conn lock").is_some();
            if alive && s.sessions.load(Ordering::Relaxed) < SESSIONS_PER_HELPER {
                s.sessions.fetch_add(1, Ordering::Relaxed);
                return Ok((s, sid));
            }
        }
        drop(shared);
        let s = Arc::new(SharedConn {
            id,
            conn: Mutex::new(Some(self.take(id)?)),
            sessions: AtomicUsize::new(1),
        });
        self.shared
            .lock()
            .expect("mail pool lock")
            .entry(id)
            .or_default()
            .push(Arc::downgrade(&s));
        Ok((s, sid))
    }

    /// An idle connection for `id`, or a new helper.
    pub fn take(&self, id: MailIdentity) -> Result<MailConn, PrivsepError> {
        {
            let mut idle = self.idle.lock().expect("mail pool lock");
            if let Some(v) = idle.get_mut(&id) {
                while let Some((c, at)) = v.pop() {
                    if at.elapsed() < REUSE_WITHIN {
                        return Ok(c);
                    }
                }
            }
        }
        let spec = mail_spec(id);
        let h = match self.launcher.spawn(&spec) {
            Err(PrivsepError::Launcher(m)) if m.contains("limit") => {
                // Let idle helpers go (they exit on EOF) and try once more.
                self.idle.lock().expect("mail pool lock").clear();
                self.launcher.spawn(&spec)?
            }
            r => r?,
        };
        tracing::debug!(
            uid = id.uid,
            gid = id.gid,
            pid = h.pid,
            "mail helper started"
        );
        Ok(MailConn {
            pid: h.pid,
            stream: h.stream,
            id,
        })
    }

    /// Returns a healthy connection for reuse.
    pub fn give_back(&self, c: MailConn) {
        let mut idle = self.idle.lock().expect("mail pool lock");
        let v = idle.entry(c.id).or_default();
        v.retain(|(_, at)| at.elapsed() < REUSE_WITHIN);
        if v.len() < IDLE_PER_ID {
            v.push((c, Instant::now()));
        }
    }

    /// One request on a pooled connection. A helper that is gone before answering (it idled
    /// out as we took it) is replaced and the request sent once more.
    pub fn call(
        &self,
        id: MailIdentity,
        head: &[&str],
        body: &[u8],
        file: Option<&std::fs::File>,
    ) -> Result<Msg, PrivsepError> {
        self.call_within(id, head, body, file, None)
    }

    /// [`MailPool::call`] with a deadline for the answer: a helper that has not answered
    /// within `timeout` is let go (its connection dropped, so it exits when done) and the
    /// request is not sent again.
    pub fn call_within(
        &self,
        id: MailIdentity,
        head: &[&str],
        body: &[u8],
        file: Option<&std::fs::File>,
        timeout: Option<Duration>,
    ) -> Result<Msg, PrivsepError> {
        let mut last = None;
        for _ in 0..2 {
            let mut c = self.take(id)?;
            let set = |s: &UnixStream, t: Option<Duration>| {
                s.set_read_timeout(t).map_err(|source| PrivsepError::Io {
                    what: "mail helper read timeout".into(),
                    source,
                })
            };
            set(&c.stream, timeout)?;
            let r = c.call(head, body, file);
            match r {
                Ok(m) => {
                    set(&c.stream, None)?;
                    self.give_back(c);
                    return Ok(m);
                }
                Err(e) if timeout.is_some() && timed_out(&e) => {
                    tracing::warn!(
                        uid = id.uid,
                        pid = c.pid,
                        "mail helper did not answer in time"
                    );
                    return Err(PrivsepError::Protocol(format!(
                        "the mail helper did not answer within {} s",
                        timeout.map_or(0, |t| t.as_secs())
                    )));
                }
                Err(e) => {
                    tracing::warn!(uid = id.uid, pid = c.pid, error = %e, "mail helper failed");
                    last = Some(e);
                }
            }
        }
        Err(last.unwrap_or_else(|| PrivsepError::Protocol("mail helper failed".into())))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The error of a call over `ours`, whose helper end does not answer.
    fn failed_call(ours: UnixStream) -> PrivsepError {
        let mut c = MailConn {
            pid: 0,
            stream: ours,
            id: MailIdentity { uid: 1, gid: 1 },
        };
        let Err(e) = c.call(&["DOVEADM"], b"{}", None) else {
            panic!("an answer from nobody")
        };
        e
    }

    /// A helper that never answers: the call ends when the read timeout passes, and the
    /// failure is recognised as a timeout (so `call_within` does not send it again).
    #[test]
    fn a_silent_helper_times_out_and_is_recognised() {
        let (ours, _helper) = UnixStream::pair().unwrap();
        ours.set_read_timeout(Some(Duration::from_millis(50)))
            .unwrap();
        let e = failed_call(ours);
        assert!(timed_out(&e), "{e:?}");
        // A helper that went away is a failure, not a timeout.
        let (ours, helper) = UnixStream::pair().unwrap();
        drop(helper);
        let e = failed_call(ours);
        assert!(!timed_out(&e), "{e:?}");
    }
}
