//! The front door's own metrics. Refusals are counted by the pool from `Rejected::reason`
//! (`roost_listener_proxy_rejected_total`); this file names what the front door counts itself.

/// Completed TLS handshakes: `{service, listener, version}`.
pub const TLS_HANDSHAKES: &str = "roost_listener_tls_handshakes_total";

pub fn tls_handshake(service: &str, listener: &str, version: &'static str) {
    metrics::counter!(TLS_HANDSHAKES, "service" => service.to_string(),
        "listener" => listener.to_string(), "version" => version)
    .increment(1);
}

/// Accepted PROXY headers: `{service, listener, version, command}`.
pub const PROXY_ACCEPTED: &str = "roost_listener_proxy_accepted_total";

pub fn proxy_accepted(service: &str, listener: &str, version: u8, local: bool) {
    metrics::counter!(PROXY_ACCEPTED, "service" => service.to_string(),
        "listener" => listener.to_string(),
        "version" => if version == 1 { "v1" } else { "v2" },
        "command" => if local { "local" } else { "proxy" })
    .increment(1);
}

/// Registers HELP texts.
pub fn describe() {
    metrics::describe_counter!(
        PROXY_ACCEPTED,
        "PROXY headers accepted from trusted proxies (the real client address replaced the proxy's), by version and command."
    );
    metrics::describe_counter!(
        TLS_HANDSHAKES,
        "Completed TLS handshakes, by protocol version."
    );
}
