//! The front door's own metrics. Refusals are counted by the pool from `Rejected::reason`
//! (`roost_listener_proxy_rejected_total`); this file names what the front door counts itself.

/// Completed TLS handshakes: `{service, listener, version}`.
pub const TLS_HANDSHAKES: &str = "roost_listener_tls_handshakes_total";

pub fn tls_handshake(service: &str, listener: &str, version: &'static str) {
    metrics::counter!(TLS_HANDSHAKES, "service" => service.to_string(),
        "listener" => listener.to_string(), "version" => version)
    .increment(1);
}
