//! `Conn`: the one type a service receives. It carries the byte stream (TCP, unix, or TLS over
//! either), the client and server addresses after any PROXY header, the original socket
//! addresses, whether the connection counts as secured, and which service and listener it
//! arrived on. Bytes read ahead (e.g. by the PROXY parser) are replayed before the socket.

use std::io;
use std::net::SocketAddr;
use std::pin::Pin;
use std::sync::Arc;
use std::task::{Context, Poll};

use tokio::io::{AsyncRead, AsyncWrite, ReadBuf};
use tokio::net::{TcpStream, UnixStream};

/// The transport under a `Conn`.
pub enum Transport {
    Tcp(TcpStream),
    Unix(UnixStream),
    Tls(Box<tokio_rustls::server::TlsStream<Stream>>),
    /// Left behind while a stream is moved into a TLS upgrade; reads EOF, writes fail.
    Closed,
}

/// A byte stream with optional read-ahead bytes served first.
pub struct Stream {
    pub transport: Transport,
    prefix: Vec<u8>,
    prefix_pos: usize,
    /// TCP data was read and nothing written since (a write carries the ACK): if the reader
    /// now waits, the kernel may be holding that ACK back (see [`Stream::want_ack`]).
    ack_owed: bool,
    /// The reader waits for the rest of something it has begun to receive.
    ack_wanted: bool,
}

impl Stream {
    pub fn new(transport: Transport) -> Stream {
        Stream {
            transport,
            prefix: Vec::new(),
            prefix_pos: 0,
            ack_owed: false,
            ack_wanted: false,
        }
    }

    /// Says whether the reader is waiting for the rest of something it has begun to receive
    /// (a partial line, a literal, a DATA body). If so and a TCP read has to wait after data
    /// came in with nothing written since, the kernel is asked to ACK now (`TCP_QUICKACK`):
    /// a client that writes one command in several small writes without `TCP_NODELAY`
    /// (Python's imaplib sends an APPEND literal and its CRLF separately) holds the second
    /// write until the first is ACKed, and Linux delays that ACK by up to 40 ms on an
    /// interactive connection: 23 APPENDs/s instead of hundreds. Dovecot sets the option
    /// before every read; here a plain request/answer exchange (and a TLS handshake) makes
    /// no extra system call and no extra ACK segment. Reaches the TCP socket under TLS.
    pub fn want_ack(&mut self, yes: bool) {
        self.ack_wanted = yes;
        if let Transport::Tls(t) = &mut self.transport {
            t.get_mut().0.want_ack(yes);
        }
    }

    /// Puts bytes in front of whatever the socket delivers next.
    pub fn unread(&mut self, bytes: &[u8]) {
        if bytes.is_empty() {
            return;
        }
        let mut v = bytes.to_vec();
        v.extend_from_slice(&self.prefix[self.prefix_pos..]);
        self.prefix = v;
        self.prefix_pos = 0;
    }

    /// Bytes read ahead that the service has not consumed yet.
    pub fn pending(&self) -> &[u8] {
        &self.prefix[self.prefix_pos..]
    }

    pub fn is_tls(&self) -> bool {
        matches!(self.transport, Transport::Tls(_))
    }

    /// The TLS session, if any (for SNI, ALPN, client certificates).
    pub fn tls_session(&self) -> Option<&tokio_rustls::rustls::ServerConnection> {
        match &self.transport {
            Transport::Tls(t) => Some(t.get_ref().1),
            _ => None,
        }
    }
}

impl AsyncRead for Stream {
    fn poll_read(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &mut ReadBuf<'_>,
    ) -> Poll<io::Result<()>> {
        let this = self.get_mut();
        if this.prefix_pos < this.prefix.len() {
            let avail = &this.prefix[this.prefix_pos..];
            let n = avail.len().min(buf.remaining());
            buf.put_slice(&avail[..n]);
            this.prefix_pos += n;
            if this.prefix_pos == this.prefix.len() {
                this.prefix.clear();
                this.prefix_pos = 0;
            }
            return Poll::Ready(Ok(()));
        }
        match &mut this.transport {
            Transport::Tcp(s) => {
                let before = buf.filled().len();
                let r = Pin::new(&mut *s).poll_read(cx, buf);
                match r {
                    Poll::Ready(Ok(())) if buf.filled().len() > before => this.ack_owed = true,
                    Poll::Pending if this.ack_owed && this.ack_wanted => {
                        this.ack_owed = false;
                        let _ = socket2::SockRef::from(&*s).set_tcp_quickack(true);
                    }
                    _ => {}
                }
                r
            }
            Transport::Unix(s) => Pin::new(s).poll_read(cx, buf),
            Transport::Tls(s) => Pin::new(s.as_mut()).poll_read(cx, buf),
            Transport::Closed => Poll::Ready(Ok(())),
        }
    }
}

/// Passes a TCP write's result through, clearing `ack_owed` when bytes went out (the segment
/// carries the ACK).
fn wrote(ack_owed: &mut bool, r: Poll<io::Result<usize>>) -> Poll<io::Result<usize>> {
    if matches!(r, Poll::Ready(Ok(n)) if n > 0) {
        *ack_owed = false;
    }
    r
}

impl AsyncWrite for Stream {
    fn poll_write(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &[u8],
    ) -> Poll<io::Result<usize>> {
        let this = self.get_mut();
        match &mut this.transport {
            Transport::Tcp(s) => wrote(&mut this.ack_owed, Pin::new(s).poll_write(cx, buf)),
            Transport::Unix(s) => Pin::new(s).poll_write(cx, buf),
            Transport::Tls(s) => Pin::new(s.as_mut()).poll_write(cx, buf),
            Transport::Closed => Poll::Ready(Err(io::ErrorKind::NotConnected.into())),
        }
    }

    fn poll_flush(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        match &mut self.get_mut().transport {
            Transport::Tcp(s) => Pin::new(s).poll_flush(cx),
            Transport::Unix(s) => Pin::new(s).poll_flush(cx),
            Transport::Tls(s) => Pin::new(s.as_mut()).poll_flush(cx),
            Transport::Closed => Poll::Ready(Ok(())),
        }
    }

    fn poll_shutdown(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        match &mut self.get_mut().transport {
            Transport::Tcp(s) => Pin::new(s).poll_shutdown(cx),
            Transport::Unix(s) => Pin::new(s).poll_shutdown(cx),
            Transport::Tls(s) => Pin::new(s.as_mut()).poll_shutdown(cx),
            Transport::Closed => Poll::Ready(Ok(())),
        }
    }

    fn poll_write_vectored(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        bufs: &[io::IoSlice<'_>],
    ) -> Poll<io::Result<usize>> {
        let this = self.get_mut();
        match &mut this.transport {
            Transport::Tcp(s) => wrote(
                &mut this.ack_owed,
                Pin::new(s).poll_write_vectored(cx, bufs),
            ),
            Transport::Unix(s) => Pin::new(s).poll_write_vectored(cx, bufs),
            Transport::Tls(s) => Pin::new(s.as_mut()).poll_write_vectored(cx, bufs),
            Transport::Closed => Poll::Ready(Err(io::ErrorKind::NotConnected.into())),
        }
    }

    fn is_write_vectored(&self) -> bool {
        match &self.transport {
            Transport::Tcp(s) => s.is_write_vectored(),
            Transport::Unix(s) => s.is_write_vectored(),
            Transport::Tls(s) => s.is_write_vectored(),
            Transport::Closed => false,
        }
    }
}

/// One accepted client connection, ready for a service.
pub struct Conn {
    pub stream: Stream,
    /// Client address as the service should see it (after a PROXY header). `None` on unix sockets.
    pub remote: Option<SocketAddr>,
    /// Server address as the client addressed it (after a PROXY header).
    pub local: Option<SocketAddr>,
    /// The socket's own peer address (the proxy's, when a PROXY header was used).
    pub real_remote: Option<SocketAddr>,
    pub real_local: Option<SocketAddr>,
    /// TLS, the PROXY SSL TLV, or loopback-to-loopback (as in Dovecot).
    pub secured: bool,
    /// The client used TLS (to us, or to the proxy in front of us).
    pub tls: bool,
    pub service: Arc<str>,
    pub listener: Arc<str>,
    /// SNI name (from TLS or the PROXY authority TLV).
    pub local_name: Option<String>,
    /// TLS acceptor for a later STARTTLS, when the listener's service has TLS configured.
    pub starttls: Option<tokio_rustls::TlsAcceptor>,
    /// Common name of a verified client certificate (or the PROXY SSL_CN sub-TLV).
    pub client_cert_cn: Option<String>,
    /// The PROXY v2 UNIQUE_ID TLV, for correlating logs with the proxy's.
    pub proxy_unique_id: Option<Vec<u8>>,
    /// When the socket was accepted: the PROXY header and TLS handshake count against the
    /// pre-login timeout from here.
    pub accepted_at: std::time::Instant,
}

impl Conn {
    /// A plain connection with no proxy information (used by tests and internal handoffs).
    pub fn new(stream: Stream, service: &str, listener: &str) -> Conn {
        Conn {
            stream,
            remote: None,
            local: None,
            real_remote: None,
            real_local: None,
            secured: false,
            tls: false,
            service: Arc::from(service),
            listener: Arc::from(listener),
            local_name: None,
            starttls: None,
            client_cert_cn: None,
            proxy_unique_id: None,
            accepted_at: std::time::Instant::now(),
        }
    }

    /// Client IP for logs, `local` for unix sockets.
    pub fn remote_ip(&self) -> String {
        self.remote
            .map(|a| a.ip().to_string())
            .unwrap_or_else(|| "local".into())
    }

    /// Upgrades a plaintext connection to TLS (STARTTLS). Fails if no TLS is configured.
    pub async fn starttls(mut self) -> io::Result<Conn> {
        let acceptor = self
            .starttls
            .clone()
            .ok_or_else(|| io::Error::new(io::ErrorKind::Unsupported, "TLS is not configured"))?;
        if self.stream.is_tls() {
            return Err(io::Error::new(
                io::ErrorKind::InvalidInput,
                "TLS already active",
            ));
        }
        let mut inner = std::mem::replace(&mut self.stream, Stream::new(Transport::Closed));
        // Bytes pipelined after STARTTLS must not be taken as TLS data (RFC 3207 §4.2): drop them.
        inner.prefix.clear();
        inner.prefix_pos = 0;
        let tls = acceptor.accept(inner).await?;
        let sni = tls.get_ref().1.server_name().map(str::to_string);
        self.stream = Stream::new(Transport::Tls(Box::new(tls)));
        self.tls = true;
        self.secured = true;
        if sni.is_some() {
            self.local_name = sni;
        }
        Ok(self)
    }
}

/// Dovecot counts a connection whose real remote IP equals its real local IP as secured
/// (e.g. 127.0.0.1 → 127.0.0.1).
pub fn is_loopback_to_self(remote: Option<SocketAddr>, local: Option<SocketAddr>) -> bool {
    match (remote, local) {
        (Some(r), Some(l)) => r.ip() == l.ip() || (r.ip().is_loopback() && l.ip().is_loopback()),
        _ => false,
    }
}
