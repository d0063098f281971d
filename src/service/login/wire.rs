//! Buffered line I/O over a `Conn`, shared by the text-protocol session loops (the login
//! services, pop3, lmtp). It only moves bytes: framing decisions stay in the sans-IO codecs.

use std::io;

use tokio::io::{AsyncReadExt, AsyncWriteExt};

use crate::net::conn::{Stream, Transport};
use crate::net::Conn;

/// A line longer than the limit arrived.
#[derive(Debug, PartialEq, Eq)]
pub struct LineTooLong;

pub struct Wire {
    pub conn: Conn,
    buf: Vec<u8>,
    start: usize,
    out: Vec<u8>,
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
            out: Vec::with_capacity(4096),
        }
    }

    /// Reads what the socket has; `Ok(0)` at end of stream.
    pub async fn read_more(&mut self) -> io::Result<usize> {
        if self.start > 0 && self.start == self.buf.len() {
            self.buf.clear();
            self.start = 0;
        } else if self.start > 65536 {
            self.buf.drain(..self.start);
            self.start = 0;
        }
        let old = self.buf.len();
        self.buf.resize(old + 16384, 0);
        let r = self.conn.stream.read(&mut self.buf[old..]).await;
        let n = *r.as_ref().unwrap_or(&0);
        self.buf.truncate(old + n);
        r
    }

    /// Bytes received and not consumed yet.
    pub fn buffered(&self) -> &[u8] {
        &self.buf[self.start..]
    }

    pub fn consume(&mut self, n: usize) {
        self.start = (self.start + n).min(self.buf.len());
    }

    /// Takes one complete line (without its CRLF or LF) if one is buffered.
    pub fn take_line(&mut self, max: usize) -> Option<Result<Vec<u8>, LineTooLong>> {
        let avail = self.buffered();
        match avail.iter().position(|&b| b == b'\n') {
            Some(i) => {
                let mut line = avail[..i].to_vec();
                self.consume(i + 1);
                if line.last() == Some(&b'\r') {
                    line.pop();
                }
                if line.len() > max {
                    return Some(Err(LineTooLong));
                }
                Some(Ok(line))
            }
            None if avail.len() > max => {
                // Drop what we have; the rest of the line is dropped when its LF arrives.
                let n = avail.len();
                self.consume(n);
                Some(Err(LineTooLong))
            }
            None => None,
        }
    }

    /// Queues bytes; they go out on [`Wire::flush`] (so pipelined replies share a packet).
    pub fn queue(&mut self, bytes: &[u8]) {
        self.out.extend_from_slice(bytes);
    }

    /// The output queue, for encoders that write in place (large POP3 messages).
    pub fn output(&mut self) -> &mut Vec<u8> {
        &mut self.out
    }

    pub fn pending_output(&self) -> usize {
        self.out.len()
    }

    pub async fn flush(&mut self) -> io::Result<()> {
        if !self.out.is_empty() {
            self.conn.stream.write_all(&self.out).await?;
            self.out.clear();
        }
        self.conn.stream.flush().await
    }

    /// Queues and flushes.
    pub async fn send(&mut self, bytes: &[u8]) -> io::Result<()> {
        self.queue(bytes);
        self.flush().await
    }

    /// Hands the connection back, with unread input put in front of the stream (for handoff).
    /// Queued output must have been flushed; anything still queued is discarded.
    pub fn into_conn(mut self) -> Conn {
        debug_assert!(self.out.is_empty(), "into_conn with unflushed output");
        let rest = self.buf[self.start..].to_vec();
        self.conn.stream.unread(&rest);
        self.conn
    }

    /// Upgrades to TLS. Input that was pipelined after the STARTTLS command is discarded.
    pub async fn starttls(self) -> io::Result<Wire> {
        let conn = self.conn.starttls().await?;
        Ok(Wire::new(conn))
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
