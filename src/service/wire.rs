//! The one line reader of roost's text protocols (the login services, pop3, lmtp): buffered
//! line I/O over a `Conn` where every wait sits in one select with the session's kick and
//! shutdown signals and its deadline ([`Watch`]), and ends with one enum ([`End`]).
//!
//! Why it is built this way:
//! * every await is cancel-safe: reads go into spare capacity (`read_buf`) and writes advance an
//!   offset only once the kernel took the bytes, so a timer that wins a select (POP3's 30 s
//!   lock tick) leaves no half-updated buffer and never disturbs a half-received command;
//! * output is bounded: once more than `max_output` bytes wait for a client that does not read,
//!   no further command is taken until they drain, and that drain waits inside the same select
//!   (so the kick, shutdown and the deadline still end the session);
//! * an over-long line is reported once and the rest of it, up to its LF, is discarded: its
//!   tail never runs as a command (Dovecot's behaviour).
//!
//! It only moves bytes: framing decisions stay in the sans-IO codecs under `protocol/`.

use std::future::Future;
use std::io;
use std::time::Duration;

use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::time::Instant;

use crate::net::conn::{Stream, Transport};
use crate::net::Conn;
use crate::runtime::{EndReason, Session};

/// A line longer than the limit arrived (reported once; the rest of it is discarded).
#[derive(Debug, PartialEq, Eq)]
pub struct LineTooLong;

/// One received line, or the news that it was too long.
pub type Line = Result<Vec<u8>, LineTooLong>;

/// Why waiting on the client ended.
#[derive(Debug, PartialEq, Eq, Clone, Copy)]
pub enum End {
    /// The client closed the connection.
    Eof,
    Io,
    /// The server is stopping (or reloading with `shutdown_clients`).
    Shutdown,
    /// The service is full and this is the oldest pre-auth client (or an admin kick).
    Kicked,
    /// The watch's deadline passed (login timeout, idle timeout).
    Timeout,
}

impl From<EndReason> for End {
    fn from(r: EndReason) -> End {
        match r {
            EndReason::Shutdown => End::Shutdown,
            EndReason::Kicked => End::Kicked,
        }
    }
}

/// What a wait watches besides its own I/O: the session's kick and shutdown signals and an
/// absolute deadline (`None`: no deadline).
#[derive(Clone, Copy)]
pub struct Watch<'a> {
    pub session: &'a Session,
    pub deadline: Option<Instant>,
}

impl<'a> Watch<'a> {
    pub fn new(session: &'a Session, deadline: Option<Instant>) -> Watch<'a> {
        Watch { session, deadline }
    }

    /// Runs `fut` until it completes, or until the kick, shutdown or deadline ends the wait.
    pub async fn guard<T>(&self, fut: impl Future<Output = T>) -> Result<T, End> {
        let deadline = async {
            match self.deadline {
                Some(d) => tokio::time::sleep_until(d).await,
                None => std::future::pending().await,
            }
        };
        tokio::select! {
            r = fut => Ok(r),
            why = self.session.ended() => Err(why.into()),
            _ = deadline => Err(End::Timeout),
        }
    }
}

/// Bytes read per `read` call while data streams in.
const READ_CHUNK: usize = 16384;
/// Room an empty buffer keeps while it waits (an idle session holds only this); a read that
/// fills it switches to [`READ_CHUNK`] until the stream pauses again.
const IDLE_READ: usize = 1024;
/// Default bound on queued output before input is paused.
pub const DEFAULT_MAX_OUTPUT: usize = 256 * 1024;
/// How long a goodbye may take to reach a client (it is best effort: the session is ending).
pub const GOODBYE_TIMEOUT: Duration = Duration::from_secs(1);

pub struct Wire {
    pub conn: Conn,
    buf: Vec<u8>,
    start: usize,
    /// Discarding the rest of an over-long line, up to its LF.
    skipping: bool,
    /// The last read filled all the room it had: more is probably on its way.
    streaming: bool,
    out: Vec<u8>,
    /// How much of `out` the kernel has taken.
    written: usize,
    /// Output above this pauses input (see the module doc).
    pub max_output: usize,
    /// Bytes written so far (for the services' byte counters).
    pub bytes_sent: u64,
    /// Bytes read so far.
    pub bytes_received: u64,
}

impl Wire {
    /// Wraps a connection. Output is batched here and flushed once per batch, so Nagle's
    /// algorithm can only add delay (the last segment of a large response waiting for an ACK):
    /// TCP sockets get `TCP_NODELAY`, as Dovecot uncorks its sockets after each batch.
    pub fn new(conn: Conn) -> Wire {
        set_nodelay(&conn.stream);
        Wire {
            conn,
            buf: Vec::with_capacity(4096),
            start: 0,
            skipping: false,
            streaming: false,
            out: Vec::with_capacity(4096),
            written: 0,
            max_output: DEFAULT_MAX_OUTPUT,
            bytes_sent: 0,
            bytes_received: 0,
        }
    }

    /// Waits for the next line (without its CRLF or LF). Queued output is flushed before
    /// waiting for input, and first whenever more than `max_output` bytes are queued.
    pub async fn next_line(&mut self, max: usize, watch: &Watch<'_>) -> Result<Line, End> {
        loop {
            if self.pending_output() <= self.max_output {
                if let Some(l) = self.take_line(max) {
                    return Ok(l);
                }
            }
            self.fill(watch).await?;
        }
    }

    /// One step of I/O under `watch`: flushes queued output if there is any, otherwise reads
    /// more input (`End::Eof` at end of stream). Cancel-safe.
    pub async fn fill(&mut self, watch: &Watch<'_>) -> Result<(), End> {
        self.fill_with(watch, false).await
    }

    /// [`Wire::fill`] while the protocol is inside one unit whose rest it waits for (a
    /// literal, a DATA body): a read that has to wait asks the kernel to ACK what came in
    /// (see [`crate::net::conn::Stream::want_ack`]); [`Wire::fill`] does so only with part
    /// of a line buffered.
    pub async fn fill_rest(&mut self, watch: &Watch<'_>) -> Result<(), End> {
        self.fill_with(watch, true).await
    }

    async fn fill_with(&mut self, watch: &Watch<'_>, inside_unit: bool) -> Result<(), End> {
        let partial = self.start < self.buf.len();
        self.conn.stream.want_ack(inside_unit || partial);
        if self.pending_output() > 0 {
            return match watch.guard(self.flush()).await? {
                Ok(()) => Ok(()),
                Err(_) => Err(End::Io),
            };
        }
        match watch.guard(self.read_more()).await? {
            Ok(0) => Err(End::Eof),
            Ok(_) => Ok(()),
            Err(_) => Err(End::Io),
        }
    }

    /// Reads what the socket has; `Ok(0)` at end of stream. Cancel-safe: the bytes land in
    /// spare capacity and count only once read.
    pub async fn read_more(&mut self) -> io::Result<usize> {
        if self.start > 0 && self.start == self.buf.len() {
            self.buf.clear();
            self.start = 0;
        } else if self.start > 65536 {
            self.buf.drain(..self.start);
            self.start = 0;
        }
        let want = if self.buf.is_empty() && !self.streaming {
            if self.buf.capacity() > 4 * IDLE_READ {
                self.buf = Vec::new();
            }
            IDLE_READ
        } else {
            READ_CHUNK
        };
        self.buf.reserve(want);
        let room = self.buf.capacity() - self.buf.len();
        let n = self.conn.stream.read_buf(&mut self.buf).await?;
        self.streaming = n >= room;
        self.bytes_received += n as u64;
        Ok(n)
    }

    /// Bytes received and not consumed yet.
    pub fn buffered(&self) -> &[u8] {
        &self.buf[self.start..]
    }

    pub fn consume(&mut self, n: usize) {
        self.start = (self.start + n).min(self.buf.len());
    }

    /// Takes one complete line (without its CRLF or LF) if one is buffered. A line longer than
    /// `max` is reported once; the rest of it is discarded as it arrives.
    pub fn take_line(&mut self, max: usize) -> Option<Line> {
        loop {
            let avail = self.buffered();
            let lf = avail.iter().position(|&b| b == b'\n');
            match lf {
                Some(i) if self.skipping => {
                    // The tail of an over-long line: dropped, never run as a command.
                    self.consume(i + 1);
                    self.skipping = false;
                }
                Some(i) => {
                    let mut line = avail[..i].to_vec();
                    self.consume(i + 1);
                    if line.last() == Some(&b'\r') {
                        line.pop();
                    }
                    if line.len() > max {
                        return Some(Err(LineTooLong));
                    }
                    return Some(Ok(line));
                }
                None if self.skipping => {
                    let n = avail.len();
                    self.consume(n);
                    return None;
                }
                None if avail.len() > max + 1 => {
                    let n = avail.len();
                    self.consume(n);
                    self.skipping = true;
                    return Some(Err(LineTooLong));
                }
                None => return None,
            }
        }
    }

    /// Finishes discarding an over-long line that [`Wire::take_line`] reported: returns once
    /// its LF has been read, so the next reader starts on a fresh line. Bounded memory: the
    /// tail is dropped as it arrives.
    pub async fn skip_rest(&mut self, watch: &Watch<'_>) -> Result<(), End> {
        while self.skipping {
            let avail = self.buffered();
            match avail.iter().position(|&b| b == b'\n') {
                Some(i) => {
                    self.consume(i + 1);
                    self.skipping = false;
                }
                None => {
                    let n = avail.len();
                    self.consume(n);
                    self.fill(watch).await?;
                }
            }
        }
        Ok(())
    }

    /// Queues bytes; they go out on the next flush (so pipelined replies share a packet).
    pub fn queue(&mut self, bytes: &[u8]) {
        self.out.extend_from_slice(bytes);
    }

    /// The output queue, for encoders that write in place (large POP3 messages).
    pub fn output(&mut self) -> &mut Vec<u8> {
        &mut self.out
    }

    /// Queued bytes the kernel has not taken yet.
    pub fn pending_output(&self) -> usize {
        self.out.len() - self.written
    }

    /// Writes all queued output. Cancel-safe: progress is recorded after every write, so a
    /// cancelled flush resumes where it stopped. Unwatched: callers wrap it in a [`Watch`].
    pub async fn flush(&mut self) -> io::Result<()> {
        while self.written < self.out.len() {
            let n = self.conn.stream.write(&self.out[self.written..]).await?;
            if n == 0 {
                return Err(io::ErrorKind::WriteZero.into());
            }
            self.written += n;
            self.bytes_sent += n as u64;
        }
        self.out.clear();
        self.written = 0;
        self.conn.stream.flush().await
    }

    /// Flushes under `watch`.
    pub async fn flush_watched(&mut self, watch: &Watch<'_>) -> Result<(), End> {
        match watch.guard(self.flush()).await? {
            Ok(()) => Ok(()),
            Err(_) => Err(End::Io),
        }
    }

    /// Queues and flushes under `watch`.
    pub async fn send(&mut self, bytes: &[u8], watch: &Watch<'_>) -> Result<(), End> {
        self.queue(bytes);
        self.flush_watched(watch).await
    }

    /// A last message before closing (goodbyes, `+OK Logging out`): best effort, given at most
    /// [`GOODBYE_TIMEOUT`], so a client that does not read cannot hold the session.
    pub async fn goodbye(&mut self, bytes: &[u8]) {
        self.queue(bytes);
        let _ = tokio::time::timeout(GOODBYE_TIMEOUT, self.flush()).await;
    }

    /// A last message to a client being sent away (kicked, timed out): written only as far as
    /// the kernel takes it right now, as Dovecot's non-blocking send before it destroys the
    /// client, so a client that does not read cannot delay the freeing of its slot.
    pub async fn goodbye_now(&mut self, bytes: &[u8]) {
        self.queue(bytes);
        let _ = tokio::time::timeout(Duration::ZERO, self.flush()).await;
    }

    /// Hands the connection back, with unread input put in front of the stream (for handoff).
    /// Queued output must have been flushed; anything still queued is discarded.
    pub fn into_conn(mut self) -> Conn {
        debug_assert!(
            self.pending_output() == 0,
            "into_conn with unflushed output"
        );
        let rest = self.buf[self.start..].to_vec();
        self.conn.stream.unread(&rest);
        self.conn
    }

    /// Upgrades to TLS under `watch` (the handshake is kickable and bounded by the deadline).
    /// Input that was pipelined after the STARTTLS command is discarded.
    pub async fn starttls(self, watch: &Watch<'_>) -> Result<io::Result<Wire>, End> {
        let max_output = self.max_output;
        let r = watch.guard(self.conn.starttls()).await?;
        Ok(r.map(|conn| {
            let mut w = Wire::new(conn);
            w.max_output = max_output;
            w
        }))
    }
}

fn set_nodelay(stream: &Stream) {
    let tcp = match &stream.transport {
        Transport::Tcp(s) => Some(s),
        Transport::Tls(t) => match &t.get_ref().0.transport {
            Transport::Tcp(s) => Some(s),
            _ => None,
        },
        _ => None,
    };
    if let Some(s) = tcp {
        let _ = s.set_nodelay(true);
    }
}

#[cfg(test)]
mod tests;
