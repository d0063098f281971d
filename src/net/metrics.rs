//! The front door's metrics. Every rejection is counted here, by `FrontDoor::open`, so the pool
//! only has to drop the connection.

/// PROXY header violations: `{service, listener, reason}` with reason `untrusted`, `timeout`,
/// `invalid`, `closed` or `io`.
pub const PROXY_REJECTED: &str = "roost_listener_proxy_rejected_total";
/// TLS handshakes that did not complete: `{service, listener, reason}` with reason
/// `tls_handshake` or `tls_timeout`.
pub const TLS_FAILED: &str = "roost_listener_tls_failed_total";
/// Completed TLS handshakes: `{service, listener, version}`.
pub const TLS_HANDSHAKES: &str = "roost_listener_tls_handshakes_total";

pub fn proxy_rejected(service: &str, listener: &str, reason: &'static str) {
    metrics::counter!(PROXY_REJECTED, "service" => service.to_string(),
        "listener" => listener.to_string(), "reason" => reason)
    .increment(1);
}

pub fn tls_failed(service: &str, listener: &str, reason: &'static str) {
    metrics::counter!(TLS_FAILED, "service" => service.to_string(),
        "listener" => listener.to_string(), "reason" => reason)
    .increment(1);
}

pub fn tls_handshake(service: &str, listener: &str, version: &'static str) {
    metrics::counter!(TLS_HANDSHAKES, "service" => service.to_string(),
        "listener" => listener.to_string(), "version" => version)
    .increment(1);
}
