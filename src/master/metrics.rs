//! The master's metric names, their HELP texts, and the helpers the pool calls. Every name
//! starts with `roost_`; gauges that describe pools are filled in at scrape time from
//! the master's status view at scrape time so old and new generations after a reload add up.

use metrics::{counter, describe_counter, describe_gauge, gauge};

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
        "roost_listener_proxy_rejected_total",
        "Connections closed at the front door (PROXY header or TLS), by reason."
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
    counter!("roost_listener_proxy_rejected_total", "service" => service.to_string(), "listener" => listener.to_string(), "reason" => reason).increment(1);
}

pub fn client_connection(service: &str, listener: &str, remote_ip: &str) {
    counter!("roost_service_client_connections_total", "service" => service.to_string(), "listener" => listener.to_string(), "remote_ip" => remote_ip.to_string()).increment(1);
}

pub fn tls_failed(service: &str, listener: &str, reason: &'static str) {
    counter!("roost_listener_tls_failed_total", "service" => service.to_string(), "listener" => listener.to_string(), "reason" => reason).increment(1);
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
