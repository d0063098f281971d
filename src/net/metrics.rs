//! The front door's metrics: names, label values and HELP texts, the counters it bumps itself
//! (TLS handshakes, accepted PROXY headers), and [`register_listener`], which puts every series
//! a listener can have at 0 when its generation starts. Refusals are counted by the pool from
//! `Rejected::reason` into [`PROXY_REJECTED`] or, for TLS reasons, [`TLS_FAILED`].

use super::{ListenerKind, ListenerSpec, RejectReason};

/// Completed TLS handshakes: `{service, listener, version}`.
pub const TLS_HANDSHAKES: &str = "roost_listener_tls_handshakes_total";
/// `version` label values of [`TLS_HANDSHAKES`].
pub const TLS_VERSIONS: &[&str] = &["TLSv1.2", "TLSv1.3"];

/// Failed TLS handshakes: `{service, listener, reason}` (the TLS [`RejectReason`]s).
pub const TLS_FAILED: &str = "roost_listener_tls_failed_total";

/// Accepted PROXY headers: `{service, listener, version, command}`.
pub const PROXY_ACCEPTED: &str = "roost_listener_proxy_accepted_total";
pub const PROXY_VERSIONS: &[&str] = &["v1", "v2"];
pub const PROXY_COMMANDS: &[&str] = &["proxy", "local"];

/// Connections closed at the front door before TLS: `{service, listener, reason}` (the other
/// [`RejectReason`]s).
pub const PROXY_REJECTED: &str = "roost_listener_proxy_rejected_total";

/// The [`RejectReason`]s a listener can see: `io` on any; the PROXY ones with `haproxy = yes`;
/// the TLS handshake ones with `ssl = yes` (`tls_disabled` cannot happen on a listener that
/// exists: `ssl = no` drops ssl listeners).
fn possible(reason: RejectReason, ssl: bool, haproxy: bool) -> bool {
    match reason {
        RejectReason::Io => true,
        RejectReason::TlsDisabled => false,
        r if r.is_tls() => ssl,
        _ => haproxy,
    }
}

pub fn tls_handshake(service: &str, listener: &str, version: &'static str) {
    metrics::counter!(TLS_HANDSHAKES, "service" => service.to_string(),
        "listener" => listener.to_string(), "version" => version)
    .increment(1);
}

pub fn proxy_accepted(service: &str, listener: &str, version: u8, local: bool) {
    let version = PROXY_VERSIONS[usize::from(version != 1)];
    let command = PROXY_COMMANDS[usize::from(local)];
    metrics::counter!(PROXY_ACCEPTED, "service" => service.to_string(),
        "listener" => listener.to_string(), "version" => version, "command" => command)
    .increment(1);
}

/// Registers, at 0, every front-door series `spec` can have: refusals by each possible reason,
/// accepted PROXY headers by version and command on `haproxy = yes`, handshakes by TLS version
/// on `ssl = yes`.
pub fn register_listener(spec: &ListenerSpec) {
    let (ssl, haproxy) = match &spec.kind {
        ListenerKind::Inet { ssl, haproxy, .. } => (*ssl, *haproxy),
        _ => (false, false),
    };
    let (service, listener) = (spec.service.clone(), spec.short_name().to_string());
    let zero = |name: &'static str, key: &'static str, value: &'static str| {
        metrics::counter!(name, "service" => service.clone(), "listener" => listener.clone(),
            key => value)
        .increment(0);
    };
    for reason in RejectReason::ALL {
        if possible(reason, ssl, haproxy) {
            let name = if reason.is_tls() {
                TLS_FAILED
            } else {
                PROXY_REJECTED
            };
            zero(name, "reason", reason.as_str());
        }
    }
    if haproxy {
        for version in PROXY_VERSIONS {
            for command in PROXY_COMMANDS {
                metrics::counter!(PROXY_ACCEPTED, "service" => service.clone(),
                    "listener" => listener.clone(), "version" => *version, "command" => *command)
                .increment(0);
            }
        }
    }
    if ssl {
        for version in TLS_VERSIONS {
            zero(TLS_HANDSHAKES, "version", version);
        }
    }
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
    metrics::describe_counter!(
        TLS_FAILED,
        "Immediate-TLS handshakes that failed or timed out, by reason."
    );
    metrics::describe_counter!(
        PROXY_REJECTED,
        "Connections closed at the front door before TLS (PROXY header refused, socket error), by reason."
    );
}
