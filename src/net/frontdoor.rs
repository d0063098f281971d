//! The front door every accepted connection passes before a service sees it: the PROXY header
//! on `haproxy = yes` listeners, then the TLS handshake on `ssl = yes` listeners, producing a
//! `Conn`. The pool calls [`FrontDoor::open`] inside the connection's own task, so a slow client
//! never holds up accepting.

use std::sync::Arc;

use tokio::net::{TcpStream, UnixStream};

use super::conn::{is_loopback_to_self, Conn, Stream, Transport};
use super::listener::{Accepted, ListenerKind, ListenerSpec};
use crate::settings::Settings;

/// Why a connection was closed at the front door (the `reason` label of
/// `roost_listener_proxy_rejected_total`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Rejected {
    pub reason: &'static str,
    pub detail: String,
}

/// Shared front-door state: TLS configuration and PROXY trust, rebuilt on reload.
pub struct FrontDoor {
    pub settings: Arc<Settings>,
}

impl FrontDoor {
    pub fn new(settings: Arc<Settings>) -> Result<FrontDoor, String> {
        Ok(FrontDoor { settings })
    }

    /// Turns an accepted socket into a `Conn` for `spec`'s service.
    pub async fn open(&self, accepted: Accepted, spec: &ListenerSpec) -> Result<Conn, Rejected> {
        let io_err = |e: std::io::Error| Rejected {
            reason: "io",
            detail: e.to_string(),
        };
        let (stream, is_inet) = match &spec.kind {
            ListenerKind::Inet { .. } => {
                let std: std::net::TcpStream = accepted.socket.into();
                (
                    Transport::Tcp(TcpStream::from_std(std).map_err(io_err)?),
                    true,
                )
            }
            _ => {
                let std: std::os::unix::net::UnixStream = accepted.socket.into();
                (
                    Transport::Unix(UnixStream::from_std(std).map_err(io_err)?),
                    false,
                )
            }
        };
        let mut conn = Conn::new(Stream::new(stream), &spec.service, spec.short_name());
        if is_inet {
            conn.remote = accepted.peer;
            conn.local = accepted.local;
            conn.real_remote = accepted.peer;
            conn.real_local = accepted.local;
            conn.secured = is_loopback_to_self(accepted.peer, accepted.local);
        } else {
            // Unix sockets are local: Dovecot treats them as secured.
            conn.secured = true;
        }
        Ok(conn)
    }
}
