//! The master's metric names, their HELP texts, the helpers the pool calls, and
//! [`register_service`], which puts every per-service series at 0 when a generation starts (so
//! `rate()` and alert rules see them from the first scrape). Every name starts with `roost_`;
//! gauges that describe pools are filled in at scrape time from pool snapshots so old and new
//! generations after a reload add up.

use metrics::{counter, describe_counter, describe_gauge, gauge};

use crate::net::metrics::{PROXY_REJECTED, TLS_FAILED};
use crate::net::ListenerSpec;
use crate::settings::ServiceType;

/// `reason` label values of `roost_service_processes_exited_total` (`ExitReason::as_str`).
pub const EXIT_REASONS: &[&str] = &["idle_kill", "service_count", "shutdown", "crash"];

/// The `listener` label of connections handed over from a login service.
pub const HANDOFF_LISTENER: &str = "handoff";

/// Registers HELP texts (call once after installing the recorder).
pub fn describe() {
    describe_gauge!(
        "roost_service_processes",
        "Virtual processes of the service now."
    );
    describe_gauge!(
        "roost_service_available_processes",
        "Virtual processes that can accept a connection now."
    );
    describe_gauge!(
        "roost_service_clients",
        "Client connections the service holds now."
    );
    describe_gauge!(
        "roost_service_process_limit",
        "Effective process_limit of the service."
    );
    describe_gauge!(
        "roost_service_client_limit",
        "Effective client_limit of the service (clamped to service_count)."
    );
    describe_counter!(
        "roost_service_connections_total",
        "Connections handed to the service, by listener."
    );
    describe_counter!(
        "roost_service_process_limit_reached_total",
        "Times a connection arrived while every slot of the service was taken."
    );
    describe_counter!(
        "roost_service_dropped_connections_total",
        "Connections accepted and closed because the service stayed full for 10 s."
    );
    describe_counter!(
        "roost_service_processes_created_total",
        "Virtual processes created."
    );
    describe_counter!(
        "roost_service_processes_exited_total",
        "Virtual processes ended, by reason (idle_kill, service_count, shutdown, crash)."
    );
    describe_counter!(
        "roost_service_throttled_total",
        "Times the service was throttled after a start-up failure."
    );
    describe_counter!(
        "roost_service_session_panics_total",
        "Sessions that ended with a panic (only that connection ended)."
    );
    describe_counter!(
        "roost_login_kicked_total",
        "Pre-login clients disconnected with \"Connection queue full\" to make room."
    );
    describe_counter!(
        "roost_service_client_connections_total",
        "Connections per client address (the original client's, after a PROXY header); only with metrics_remote_ip = yes."
    );
    describe_gauge!(
        "roost_process_resident_memory_bytes",
        "Resident memory of the roost process."
    );
    describe_gauge!(
        "roost_process_open_fds",
        "Open file descriptors of the roost process."
    );
    describe_gauge!("roost_process_threads", "Threads of the roost process.");
    describe_gauge!(
        "roost_process_start_time_seconds",
        "Start time of the roost process since the Unix epoch."
    );
    describe_gauge!(
        "roost_build_info",
        "Build information; the value is always 1."
    );
}

/// Registers, at 0, every per-service series of a running service: its counters, connections
/// on each of `listeners` (and on `handoff` when it `receives_handoffs` from a login service),
/// exits by every reason, `roost_login_kicked_total` for a login service, and each listener's
/// front-door series.
pub fn register_service(
    service: &str,
    service_type: ServiceType,
    listeners: &[&ListenerSpec],
    receives_handoffs: bool,
) {
    let s = service.to_string();
    for name in [
        "roost_service_process_limit_reached_total",
        "roost_service_dropped_connections_total",
        "roost_service_processes_created_total",
        "roost_service_throttled_total",
        "roost_service_session_panics_total",
    ] {
        counter!(name, "service" => s.clone()).increment(0);
    }
    for reason in EXIT_REASONS {
        counter!("roost_service_processes_exited_total", "service" => s.clone(), "reason" => *reason)
            .increment(0);
    }
    if service_type == ServiceType::Login {
        counter!("roost_login_kicked_total", "service" => s.clone()).increment(0);
    }
    let names = listeners.iter().map(|l| l.short_name());
    for listener in names.chain(receives_handoffs.then_some(HANDOFF_LISTENER)) {
        counter!("roost_service_connections_total", "service" => s.clone(), "listener" => listener.to_string())
            .increment(0);
    }
    for spec in listeners {
        crate::net::metrics::register_listener(spec);
    }
}

pub fn connection(service: &str, listener: &str) {
    counter!("roost_service_connections_total", "service" => service.to_string(), "listener" => listener.to_string()).increment(1);
}

pub fn limit_reached(service: &str) {
    counter!("roost_service_process_limit_reached_total", "service" => service.to_string())
        .increment(1);
}

pub fn dropped(service: &str) {
    counter!("roost_service_dropped_connections_total", "service" => service.to_string())
        .increment(1);
}

pub fn process_created(service: &str) {
    counter!("roost_service_processes_created_total", "service" => service.to_string())
        .increment(1);
}

pub fn process_exited(service: &str, reason: &'static str) {
    counter!("roost_service_processes_exited_total", "service" => service.to_string(), "reason" => reason).increment(1);
}

pub fn throttled(service: &str) {
    counter!("roost_service_throttled_total", "service" => service.to_string()).increment(1);
}

pub fn session_panicked(service: &str) {
    counter!("roost_service_session_panics_total", "service" => service.to_string()).increment(1);
}

pub fn login_kicked(service: &str) {
    counter!("roost_login_kicked_total", "service" => service.to_string()).increment(1);
}

pub fn front_door_rejected(service: &str, listener: &str, reason: &'static str) {
    counter!(PROXY_REJECTED, "service" => service.to_string(), "listener" => listener.to_string(), "reason" => reason).increment(1);
}

pub fn client_connection(service: &str, listener: &str, remote_ip: &str) {
    counter!("roost_service_client_connections_total", "service" => service.to_string(), "listener" => listener.to_string(), "remote_ip" => remote_ip.to_string()).increment(1);
}

pub fn tls_failed(service: &str, listener: &str, reason: &'static str) {
    counter!(TLS_FAILED, "service" => service.to_string(), "listener" => listener.to_string(), "reason" => reason).increment(1);
}

/// Per-service gauges from a pool snapshot (summed over generations by the caller).
pub fn set_pool_gauges(
    service: &str,
    processes: f64,
    available: f64,
    clients: f64,
    process_limit: f64,
    client_limit: f64,
) {
    let s = service.to_string();
    gauge!("roost_service_processes", "service" => s.clone()).set(processes);
    gauge!("roost_service_available_processes", "service" => s.clone()).set(available);
    gauge!("roost_service_clients", "service" => s.clone()).set(clients);
    gauge!("roost_service_process_limit", "service" => s.clone()).set(process_limit);
    gauge!("roost_service_client_limit", "service" => s).set(client_limit);
}

#[cfg(test)]
mod tests {
    use super::super::pool::vproc::ExitReason;
    use super::EXIT_REASONS;

    #[test]
    fn exit_reasons_name_every_exit_reason() {
        let all = [
            ExitReason::IdleKill,
            ExitReason::ServiceCount,
            ExitReason::Shutdown,
            ExitReason::Crash,
        ];
        for r in &all {
            // A new variant fails to compile here until it is listed above.
            match r {
                ExitReason::IdleKill
                | ExitReason::ServiceCount
                | ExitReason::Shutdown
                | ExitReason::Crash => {}
            }
            assert!(EXIT_REASONS.contains(&r.as_str()), "{}", r.as_str());
        }
        assert_eq!(all.len(), EXIT_REASONS.len());
    }
}
