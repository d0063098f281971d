//! [`RejectReason`]: why the front door closed a connection before its service saw it (PROXY
//! header or TLS handshake). Its label is the `reason` of
//! `roost_listener_proxy_rejected_total` or, for TLS reasons, `roost_listener_tls_failed_total`.

use std::fmt;

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum RejectReason {
    /// A socket error before the connection was ready.
    Io,
    /// A PROXY header from a peer outside `haproxy_trusted_networks`.
    Untrusted,
    /// No complete PROXY header within `haproxy_timeout`.
    Timeout,
    /// A malformed PROXY header.
    Invalid,
    /// The peer closed before a complete PROXY header.
    Closed,
    /// An `ssl = yes` listener while `ssl = no` globally.
    TlsDisabled,
    /// No complete TLS handshake in time.
    TlsTimeout,
    /// The TLS handshake failed.
    TlsHandshake,
}

impl RejectReason {
    pub const ALL: [RejectReason; 8] = [
        RejectReason::Io,
        RejectReason::Untrusted,
        RejectReason::Timeout,
        RejectReason::Invalid,
        RejectReason::Closed,
        RejectReason::TlsDisabled,
        RejectReason::TlsTimeout,
        RejectReason::TlsHandshake,
    ];

    /// The metric label.
    pub fn as_str(self) -> &'static str {
        match self {
            RejectReason::Io => "io",
            RejectReason::Untrusted => "untrusted",
            RejectReason::Timeout => "timeout",
            RejectReason::Invalid => "invalid",
            RejectReason::Closed => "closed",
            RejectReason::TlsDisabled => "tls_disabled",
            RejectReason::TlsTimeout => "tls_timeout",
            RejectReason::TlsHandshake => "tls_handshake",
        }
    }

    /// A TLS failure: the client's business (logged at info, counted as a TLS failure).
    pub fn is_tls(self) -> bool {
        matches!(
            self,
            RejectReason::TlsDisabled | RejectReason::TlsTimeout | RejectReason::TlsHandshake
        )
    }
}

impl fmt::Display for RejectReason {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl PartialEq<&str> for RejectReason {
    fn eq(&self, other: &&str) -> bool {
        self.as_str() == *other
    }
}
