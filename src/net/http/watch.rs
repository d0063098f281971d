//! The deadlines of one HTTP connection, kept beside hyper: [`Watch`] records whether the
//! connection waits for a request head (and whether any of it has arrived), runs a handler,
//! or writes an answer, and since when; [`Watched`] is the byte stream handed to hyper, which
//! reports reads and completed flushes to it. The serve loop asks [`Watch::expired`] once a
//! second.

use std::io;
use std::pin::Pin;
use std::sync::{Arc, Mutex};
use std::task::{Context, Poll};
use std::time::{Duration, Instant};

use tokio::io::{AsyncRead, AsyncWrite, ReadBuf};

/// What the connection is doing.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Phase {
    /// Waiting for the next request head since `since`; `started`: some of it has arrived.
    Head { since: Instant, started: bool },
    /// A handler runs (it bounds its own waits, e.g. for the request body).
    Handling,
    /// The answer was handed to hyper at `since` and is not flushed yet.
    Writing { since: Instant },
}

/// Which deadline passed.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Expired {
    /// No request byte within the idle time: close quietly.
    Idle,
    /// A request head started but was not complete in time: answer 408 and close.
    Head,
    /// The client did not take the answer in time: drop the connection.
    Write,
}

/// Shared between the serve loop, the hyper service and the stream.
pub struct Watch {
    phase: Mutex<Phase>,
}

impl Watch {
    pub fn new() -> Arc<Watch> {
        Arc::new(Watch {
            phase: Mutex::new(Phase::Head {
                since: Instant::now(),
                started: false,
            }),
        })
    }

    /// hyper parsed a request head and called the service.
    pub fn handling(&self) {
        *self.phase.lock().unwrap() = Phase::Handling;
    }

    /// The service returned its answer.
    pub fn writing(&self) {
        *self.phase.lock().unwrap() = Phase::Writing {
            since: Instant::now(),
        };
    }

    fn read_bytes(&self) {
        if let Phase::Head { started, .. } = &mut *self.phase.lock().unwrap() {
            *started = true;
        }
    }

    fn flushed(&self) {
        let mut phase = self.phase.lock().unwrap();
        if matches!(*phase, Phase::Writing { .. }) {
            *phase = Phase::Head {
                since: Instant::now(),
                started: false,
            };
        }
    }

    /// The deadline that passed at `now`, if any.
    pub fn expired(&self, now: Instant, head: Duration, write: Duration) -> Option<Expired> {
        match *self.phase.lock().unwrap() {
            Phase::Head { since, started } if now.duration_since(since) >= head => {
                Some(if started {
                    Expired::Head
                } else {
                    Expired::Idle
                })
            }
            Phase::Writing { since } if now.duration_since(since) >= write => Some(Expired::Write),
            _ => None,
        }
    }
}

/// A stream that tells its [`Watch`] about reads and finished flushes.
pub struct Watched<S> {
    inner: S,
    watch: Arc<Watch>,
}

impl<S> Watched<S> {
    pub fn new(inner: S, watch: Arc<Watch>) -> Watched<S> {
        Watched { inner, watch }
    }

    pub fn into_inner(self) -> S {
        self.inner
    }
}

impl<S: AsyncRead + Unpin> AsyncRead for Watched<S> {
    fn poll_read(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &mut ReadBuf<'_>,
    ) -> Poll<io::Result<()>> {
        let this = self.get_mut();
        let before = buf.filled().len();
        let r = Pin::new(&mut this.inner).poll_read(cx, buf);
        if matches!(r, Poll::Ready(Ok(()))) && buf.filled().len() > before {
            this.watch.read_bytes();
        }
        r
    }
}

impl<S: AsyncWrite + Unpin> AsyncWrite for Watched<S> {
    fn poll_write(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &[u8],
    ) -> Poll<io::Result<usize>> {
        Pin::new(&mut self.get_mut().inner).poll_write(cx, buf)
    }

    fn poll_write_vectored(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        bufs: &[io::IoSlice<'_>],
    ) -> Poll<io::Result<usize>> {
        Pin::new(&mut self.get_mut().inner).poll_write_vectored(cx, bufs)
    }

    fn is_write_vectored(&self) -> bool {
        self.inner.is_write_vectored()
    }

    fn poll_flush(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        let this = self.get_mut();
        let r = Pin::new(&mut this.inner).poll_flush(cx);
        if matches!(r, Poll::Ready(Ok(()))) {
            this.watch.flushed();
        }
        r
    }

    fn poll_shutdown(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Pin::new(&mut self.get_mut().inner).poll_shutdown(cx)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn phases_pick_the_deadline() {
        let w = Watch::new();
        let t = Duration::from_secs(30);
        let later = Instant::now() + Duration::from_secs(31);
        assert_eq!(w.expired(Instant::now(), t, t), None);
        assert_eq!(w.expired(later, t, t), Some(Expired::Idle));
        w.read_bytes();
        assert_eq!(w.expired(later, t, t), Some(Expired::Head));
        w.handling();
        assert_eq!(w.expired(later, t, t), None);
        w.writing();
        assert_eq!(
            w.expired(Instant::now() + Duration::from_secs(31), t, t),
            Some(Expired::Write)
        );
        w.flushed();
        assert_eq!(w.expired(Instant::now(), t, t), None);
    }
}
