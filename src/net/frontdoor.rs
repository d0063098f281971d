//! The front door every accepted connection passes before a service sees it: the PROXY header
//! on `haproxy = yes` listeners, then the TLS handshake on `ssl = yes` listeners, producing a
//! `Conn`. The pool calls [`FrontDoor::open`] inside the connection's own task, so a slow client
//! never holds up accepting. `open` enforces `haproxy_timeout` and the handshake timeout itself;
//! a refused connection comes back as [`Rejected`] (reason label plus a detail naming the real
//! client address), which the pool logs in one line and counts in
//! `roost_listener_proxy_rejected_total{service,listener,reason}`.
//!
//! A `FrontDoor` is built per configuration generation: SIGHUP builds a new one (new
//! certificates for new handshakes) while live connections keep their streams.

use std::sync::Arc;
use std::time::Duration;

use tokio::net::{TcpStream, UnixStream};

use super::conn::{is_loopback_to_self, Conn, Stream, Transport};
use super::error::NetError;
use super::listener::{Accepted, ListenerKind, ListenerSpec};
use super::proxy::{self, ProxyError, TrustedNetworks};
use super::reject::RejectReason;
use super::tls::{self, TlsContext};
use crate::settings::{Settings, SslMode};

/// How long a TLS handshake may take by default. Dovecot has no separate limit (the 3-minute
/// pre-login timeout covers it); a minute keeps a stalled handshake from holding a client slot
/// for the whole pre-login time. `Conn::accepted_at` lets the login layer count the handshake
/// against its own timeout.
pub const DEFAULT_HANDSHAKE_TIMEOUT: Duration = Duration::from_secs(60);

/// Why a connection was closed at the front door (the `reason` label of
/// `roost_listener_proxy_rejected_total` or `roost_listener_tls_failed_total`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Rejected {
    pub reason: RejectReason,
    pub detail: String,
}

/// Shared front-door state: TLS configuration and PROXY trust, rebuilt on reload.
pub struct FrontDoor {
    pub settings: Arc<Settings>,
    tls: Option<TlsContext>,
    trusted: TrustedNetworks,
    haproxy_timeout: Duration,
    /// Limit on one TLS handshake (immediate TLS); see [`DEFAULT_HANDSHAKE_TIMEOUT`].
    pub handshake_timeout: Duration,
}

impl FrontDoor {
    /// Builds the TLS context (unless the global `ssl = no`) and the PROXY trust list. Errors
    /// name the setting and the file.
    pub fn new(settings: Arc<Settings>) -> Result<FrontDoor, NetError> {
        let tls = if settings.core.ssl.0 == SslMode::No {
            None
        } else {
            let ctx = tls::build(&settings.net, &settings.core.base_dir)?;
            tracing::debug!(cert = %ctx.cert_source, "TLS configured");
            Some(ctx)
        };
        let trusted = TrustedNetworks::parse(&settings.net.haproxy_trusted_networks)?;
        let haproxy_timeout = match settings.net.haproxy_timeout {
            t if t.is_zero() => Duration::from_secs(3),
            t => t.as_duration(),
        };
        Ok(FrontDoor {
            settings,
            tls,
            trusted,
            haproxy_timeout,
            handshake_timeout: DEFAULT_HANDSHAKE_TIMEOUT,
        })
    }

    /// The TLS context, when TLS is enabled (for STARTTLS-capable services and tests).
    pub fn tls(&self) -> Option<&TlsContext> {
        self.tls.as_ref()
    }

    /// Turns an accepted socket into a `Conn` for `spec`'s service: PROXY header first (if
    /// `haproxy = yes`), then the TLS handshake (if `ssl = yes`).
    pub async fn open(&self, accepted: Accepted, spec: &ListenerSpec) -> Result<Conn, Rejected> {
        let io_err = |e: std::io::Error| Rejected {
            reason: RejectReason::Io,
            detail: e.to_string(),
        };
        let (ssl, haproxy) = match &spec.kind {
            ListenerKind::Inet { ssl, haproxy, .. } => (*ssl, *haproxy),
            _ => (false, false),
        };
        let stream = match &spec.kind {
            ListenerKind::Inet { .. } => {
                let std: std::net::TcpStream = accepted.socket.into();
                Transport::Tcp(TcpStream::from_std(std).map_err(io_err)?)
            }
            _ => {
                let std: std::os::unix::net::UnixStream = accepted.socket.into();
                Transport::Unix(UnixStream::from_std(std).map_err(io_err)?)
            }
        };
        let mut conn = Conn::new(Stream::new(stream), &spec.service, spec.short_name());
        conn.starttls = self.tls.as_ref().map(|t| t.acceptor.clone());
        if !matches!(spec.kind, ListenerKind::Inet { .. }) {
            // Unix sockets are local: Dovecot treats them as secured.
            conn.secured = true;
            return Ok(conn);
        }
        conn.remote = accepted.peer;
        conn.local = accepted.local;
        conn.real_remote = accepted.peer;
        conn.real_local = accepted.local;
        conn.secured = is_loopback_to_self(accepted.peer, accepted.local);
        if haproxy {
            self.read_proxy(&mut conn).await?;
        }
        if ssl {
            conn = self.handshake(conn).await?;
        }
        tracing::debug!(
            service = %conn.service, listener = %conn.listener,
            rip = %conn.remote_ip(),
            lip = %conn.local.map(|a| a.ip().to_string()).unwrap_or_default(),
            real_rip = %conn.real_remote.map(|a| a.ip().to_string()).unwrap_or_default(),
            secured = conn.secured, tls = conn.tls,
            "connection accepted"
        );
        Ok(conn)
    }

    /// Reads and applies the PROXY header (spec §3.3).
    async fn read_proxy(&self, conn: &mut Conn) -> Result<(), Rejected> {
        let peer = conn.real_remote.map(|a| a.ip());
        let rip = peer.map(|ip| ip.to_string()).unwrap_or_default();
        let rej = |e: ProxyError| Rejected {
            reason: e.reason(),
            detail: match e {
                ProxyError::Untrusted(_) => format!("haproxy: {e}"),
                _ => format!("haproxy: {e} (rip={rip})"),
            },
        };
        match peer {
            Some(ip) if self.trusted.contains(ip) => {}
            Some(ip) => return Err(rej(ProxyError::Untrusted(ip))),
            None => return Err(rej(ProxyError::Invalid("no peer address".into()))),
        }
        let (info, rest) = proxy::read_header(&mut conn.stream, self.haproxy_timeout)
            .await
            .map_err(rej)?;
        conn.stream.unread(&rest);
        super::metrics::proxy_accepted(&conn.service, &conn.listener, info.version, info.local);
        if info.local {
            // A health check from the proxy itself: the socket addresses stay.
            return Ok(());
        }
        if let Some(src) = info.source {
            conn.remote = Some(src);
        }
        if let Some(dst) = info.destination {
            conn.local = Some(dst);
        }
        // A proxied client is secured only when it used TLS to the proxy (Dovecot's
        // login-common: the loopback rule applies to unproxied connections).
        conn.secured = info.ssl;
        conn.tls = info.ssl;
        if info.ssl_cn.is_some() {
            conn.client_cert_cn = info.ssl_cn;
        }
        if info.authority.is_some() {
            conn.local_name = info.authority;
        }
        conn.proxy_unique_id = info.unique_id;
        Ok(())
    }

    /// Immediate TLS on an `ssl = yes` listener.
    async fn handshake(&self, mut conn: Conn) -> Result<Conn, Rejected> {
        let Some(ctx) = &self.tls else {
            // specs_for_service drops ssl listeners under `ssl = no`; this is a safety net.
            return Err(Rejected {
                reason: RejectReason::TlsDisabled,
                detail: "ssl = no but the listener has ssl = yes".into(),
            });
        };
        let inner = std::mem::replace(&mut conn.stream, Stream::new(Transport::Closed));
        match tls::handshake(&ctx.acceptor, inner, self.handshake_timeout).await {
            Ok(s) => {
                let session = s.get_ref().1;
                if let Some(sni) = session.server_name() {
                    conn.local_name = Some(sni.to_string());
                }
                if let Some(cn) = tls::peer_common_name(session) {
                    conn.client_cert_cn = Some(cn);
                }
                let version = match session.protocol_version() {
                    Some(tokio_rustls::rustls::ProtocolVersion::TLSv1_3) => "TLSv1.3",
                    _ => "TLSv1.2",
                };
                super::metrics::tls_handshake(&conn.service, &conn.listener, version);
                conn.stream = Stream::new(Transport::Tls(Box::new(s)));
                conn.tls = true;
                conn.secured = true;
                Ok(conn)
            }
            Err(e) => Err(Rejected {
                reason: e.reason(),
                detail: format!("{e} (rip={})", conn.remote_ip()),
            }),
        }
    }
}

#[cfg(test)]
mod tests;
