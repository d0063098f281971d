//! Pool semantics through the real binary: the health-check service (PING → PONG) on a loopback
//! inet listener, observed with real TCP clients, `/metrics` and `roost ps`.

mod common;

use std::time::Duration;

use common::*;

const SHORT: Duration = Duration::from_millis(700);
const LONG: Duration = Duration::from_secs(10);
const HC: &str = "service=\"health-check\"";

#[test]
fn capacity_is_process_limit_times_client_limit_and_the_next_waits_in_backlog() {
    let port = free_port();
    let s = Server::start(
        "cap",
        &health_check(port, "process_limit = 2\nclient_limit = 3\n"),
    );
    let mut clients: Vec<Pinger> = (0..6).map(|_| Pinger::connect(port)).collect();
    for c in clients.iter_mut() {
        assert_eq!(c.ping(LONG).as_deref(), Some("PONG"));
    }
    assert_eq!(s.metric("roost_service_processes", HC), Some(2.0));
    assert_eq!(s.metric("roost_service_clients", HC), Some(6.0));
    // The 7th connects (kernel backlog) but is not served.
    let mut seventh = Pinger::connect(port);
    assert_eq!(
        seventh.ping(SHORT),
        None,
        "7th client must wait while 6 slots are taken"
    );
    assert!(
        s.metric("roost_service_process_limit_reached_total", HC)
            .unwrap_or(0.0)
            >= 1.0
    );
    assert!(s.wait_log(
        "process_limit (2) reached, client connections are being dropped",
        LONG
    ));
    // One leaves: the 7th is served.
    drop(clients.remove(0));
    assert_eq!(seventh.read_line(LONG).as_deref(), Some("PONG"));
    assert_eq!(s.metric("roost_service_processes", HC), Some(2.0));
    let rows = s.ps("health-check");
    assert_eq!(
        rows.len(),
        2,
        "roost ps shows the two virtual processes: {rows:?}"
    );
    assert_eq!(rows.iter().map(|r| r.1).sum::<u32>(), 6);
}

#[test]
fn service_count_one_gives_each_connection_a_new_virtual_process() {
    let port = free_port();
    let s = Server::start(
        "sc1",
        &health_check(port, "service_count = 1\nclient_limit = 5\n"),
    );
    let mut a = Pinger::connect(port);
    let mut b = Pinger::connect(port);
    assert_eq!(a.ping(LONG).as_deref(), Some("PONG"));
    assert_eq!(b.ping(LONG).as_deref(), Some("PONG"));
    // client_limit is clamped to service_count: two processes, one client each.
    let rows = s.ps("health-check");
    assert_eq!(rows.len(), 2, "{rows:?}");
    assert!(rows.iter().all(|r| r.1 == 1 && r.2 == 1), "{rows:?}");
    assert_eq!(s.metric("roost_service_client_limit", HC), Some(1.0));
    drop(a);
    drop(b);
    for _ in 0..3 {
        let mut c = Pinger::connect(port);
        assert_eq!(c.ping(LONG).as_deref(), Some("PONG"));
    }
    s.wait_metric("roost_service_processes_created_total", HC, LONG, |v| {
        v == 5.0
    });
    s.wait_metric(
        "roost_service_processes_exited_total",
        &format!("{HC},reason=\"service_count\""),
        LONG,
        |v| v >= 4.0,
    );
}

#[test]
fn process_min_avail_is_kept_and_idle_kill_shrinks_to_it() {
    let port = free_port();
    let s = Server::start(
        "minavail",
        &health_check(
            port,
            "process_min_avail = 3\nclient_limit = 1\nidle_kill = \"1 s\"\n",
        ),
    );
    // Three at start, before any client.
    assert_eq!(s.ps("health-check").len(), 3);
    let mut clients: Vec<Pinger> = (0..4).map(|_| Pinger::connect(port)).collect();
    for c in clients.iter_mut() {
        assert_eq!(c.ping(LONG).as_deref(), Some("PONG"));
    }
    // Four busy plus three available.
    s.wait_metric("roost_service_processes", HC, LONG, |v| v == 7.0);
    assert_eq!(s.metric("roost_service_available_processes", HC), Some(3.0));
    drop(clients);
    // After idle_kill the surplus goes, down to process_min_avail and no further.
    s.wait_metric("roost_service_processes", HC, LONG, |v| v == 3.0);
    s.wait_metric(
        "roost_service_processes_exited_total",
        &format!("{HC},reason=\"idle_kill\""),
        LONG,
        |v| v == 4.0,
    );
    std::thread::sleep(Duration::from_millis(2500));
    assert_eq!(s.metric("roost_service_processes", HC), Some(3.0));
    assert_eq!(s.ps("health-check").len(), 3);
}

#[test]
fn login_service_kicks_exactly_the_oldest_pre_auth_client_when_full() {
    let port = free_port();
    let s = Server::start(
        "kick",
        &health_check(
            port,
            "type = \"login\"\nprocess_limit = 1\nclient_limit = 2\n",
        ),
    );
    let mut oldest = Pinger::connect(port);
    assert_eq!(oldest.ping(LONG).as_deref(), Some("PONG"));
    let mut second = Pinger::connect(port);
    assert_eq!(second.ping(LONG).as_deref(), Some("PONG"));
    let mut third = Pinger::connect(port);
    assert_eq!(
        third.ping(LONG).as_deref(),
        Some("PONG"),
        "the newcomer is served"
    );
    assert!(
        oldest.closed_within(LONG),
        "the oldest client is disconnected"
    );
    assert_eq!(
        second.ping(LONG).as_deref(),
        Some("PONG"),
        "only one client is kicked"
    );
    assert_eq!(s.metric("roost_login_kicked_total", HC), Some(1.0));
}

#[test]
fn a_reconnect_flood_of_kicks_writes_one_line_and_a_count_per_window() {
    let port = free_port();
    let s = Server::start(
        "kickflood",
        &health_check(
            port,
            "type = \"login\"\nprocess_limit = 1\nclient_limit = 2\n",
        ),
    );
    // Every newcomer kicks the oldest: 300 connections give 298 kicks.
    let mut held = std::collections::VecDeque::new();
    for _ in 0..300 {
        let mut c = Pinger::connect(port);
        assert_eq!(c.ping(LONG).as_deref(), Some("PONG"));
        held.push_back(c);
        if held.len() > 2 {
            held.pop_front();
        }
    }
    s.wait_metric("roost_login_kicked_total", HC, LONG, |v| v == 298.0);
    assert!(
        s.wait_log("more pre-login clients kicked", Duration::from_secs(8)),
        "no summary line: {}",
        s.log_text()
    );
    let log = s.log_text();
    let lines = log.matches("Connection queue full (oldest").count();
    assert!(
        (1..=3).contains(&lines),
        "{lines} kick lines for 298 kicks:\n{log}"
    );
}

#[test]
fn saturated_service_drops_connections_after_ten_seconds() {
    let port = free_port();
    let s = Server::start(
        "drop",
        &health_check(port, "process_limit = 1\nclient_limit = 1\n"),
    );
    let mut holder = Pinger::connect(port);
    assert_eq!(holder.ping(LONG).as_deref(), Some("PONG"));
    let mut waiting = Pinger::connect(port);
    assert_eq!(
        waiting.ping(Duration::from_secs(5)),
        None,
        "queued, not served"
    );
    // After the 10 s drop timeout the queued connection is accepted and closed.
    assert!(waiting.closed_within(Duration::from_secs(10)));
    assert!(
        s.metric("roost_service_dropped_connections_total", HC)
            .unwrap_or(0.0)
            >= 1.0
    );
    // A freed slot ends the dropping.
    drop(holder);
    std::thread::sleep(Duration::from_millis(300));
    let mut next = Pinger::connect(port);
    assert_eq!(next.ping(LONG).as_deref(), Some("PONG"));
}
