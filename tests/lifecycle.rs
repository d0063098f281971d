//! Lifecycle through the real binary: SIGHUP reload (applied, and a broken file keeps the old
//! settings serving), SIGTERM/`roost stop` exiting 0 and cleaning up, log line formats, fifo
//! listeners across reload and stop, `port = 0` listeners.

mod common;

use std::io::Write;
use std::time::Duration;

use common::*;

const LONG: Duration = Duration::from_secs(10);
const HC: &str = "service=\"health-check\"";

#[test]
fn sighup_applies_a_changed_limit_and_keeps_the_inet_socket() {
    let port = free_port();
    let s = Server::start("hup", &health_check(port, "process_limit = 2\n"));
    assert_eq!(s.metric("roost_service_process_limit", HC), Some(2.0));
    let mut before = Pinger::connect(port);
    assert_eq!(before.ping(LONG).as_deref(), Some("PONG"));
    s.rewrite(&health_check(port, "process_limit = 5\n"));
    s.signal(Signal::SIGHUP);
    s.wait_metric("roost_service_process_limit", HC, LONG, |v| v == 5.0);
    assert!(s.wait_log("configuration reloaded", LONG));
    // shutdown_clients = yes: the old session is ended.
    assert!(
        before.closed_within(LONG),
        "old-generation session ends after reload"
    );
    let mut after = Pinger::connect(port);
    assert_eq!(after.ping(LONG).as_deref(), Some("PONG"));
}

#[test]
fn sighup_with_a_broken_file_keeps_serving_and_says_why() {
    let port = free_port();
    let s = Server::start("hupbad", &health_check(port, "process_limit = 3\n"));
    let mut c = Pinger::connect(port);
    assert_eq!(c.ping(LONG).as_deref(), Some("PONG"));
    // A bad TIME on line 6 of the file.
    s.rewrite(&health_check(port, "process_limit = 3\nidle_kill = 30\n"));
    s.signal(Signal::SIGHUP);
    assert!(s.wait_log("Config reload failed", LONG), "{}", s.log_text());
    let log = s.log_text();
    let line = log
        .lines()
        .find(|l| l.contains("Config reload failed"))
        .unwrap();
    assert!(line.contains("service.health-check.idle_kill"), "{line}");
    assert!(line.contains("missing units"), "{line}");
    assert!(
        line.contains(&format!("{} line ", s.config.display())),
        "{line}"
    );
    // Old settings and the old session keep working.
    assert_eq!(c.ping(LONG).as_deref(), Some("PONG"));
    let mut d = Pinger::connect(port);
    assert_eq!(d.ping(LONG).as_deref(), Some("PONG"));
    assert_eq!(s.metric("roost_service_process_limit", HC), Some(3.0));
    // `roost reload` reports the same error.
    let r = s.cli(&["reload"]);
    assert!(!r.ok && r.stderr.contains("missing units"), "{}", r.stderr);
}

#[test]
fn sigterm_exits_zero_and_removes_pid_file_and_sockets() {
    let port = free_port();
    let mut s = Server::start("term", &health_check(port, ""));
    let mut c = Pinger::connect(port);
    assert_eq!(c.ping(LONG).as_deref(), Some("PONG"));
    assert!(s.base_dir.join("master.pid").exists());
    assert!(s.base_dir.join("master").exists());
    s.signal(Signal::SIGTERM);
    assert_eq!(s.wait_exit(LONG), Some(0));
    assert!(c.closed_within(LONG));
    assert!(!s.base_dir.join("master.pid").exists());
    assert!(!s.base_dir.join("master").exists());
    assert!(std::net::TcpStream::connect(("127.0.0.1", port)).is_err());
}

#[test]
fn roost_stop_and_reload_use_the_control_socket() {
    let port = free_port();
    let mut s = Server::start("ctl", &health_check(port, "process_limit = 2\n"));
    s.rewrite(&health_check(port, "process_limit = 4\n"));
    let r = s.cli(&["reload"]);
    assert!(r.ok, "{}", r.stderr);
    assert_eq!(s.metric("roost_service_process_limit", HC), Some(4.0));
    let r = s.cli(&["ps"]);
    assert!(r.ok);
    assert!(
        r.stdout.contains("not implemented in roost yet:"),
        "{}",
        r.stdout
    );
    let r = s.cli(&["stop"]);
    assert!(r.ok, "{}", r.stderr);
    assert_eq!(s.wait_exit(LONG), Some(0));
}

#[test]
fn json_log_lines_carry_service_and_virtual_process() {
    let port = free_port();
    let s = Server::start(
        "jsonlog",
        &format!(
            "log_format = \"json\"\nlog_debug = true\n{}",
            health_check(port, "")
        ),
    );
    let mut c = Pinger::connect(port);
    assert_eq!(c.ping(LONG).as_deref(), Some("PONG"));
    assert!(
        s.wait_log("connection from 127.0.0.1 on hc", LONG),
        "{}",
        s.log_text()
    );
    let log = s.log_text();
    let line = log
        .lines()
        .find(|l| l.contains("connection from 127.0.0.1 on hc"))
        .unwrap();
    assert!(line.starts_with('{') && line.ends_with('}'), "{line}");
    assert!(line.contains("\"service\":\"health-check\""), "{line}");
    assert!(line.contains("\"vproc\":"), "{line}");
    assert!(line.contains("\"level\":\"DEBUG\""), "{line}");
}

#[test]
fn text_log_lines_look_like_dovecot() {
    let port = free_port();
    let s = Server::start(
        "textlog",
        &format!("log_debug = true\n{}", health_check(port, "")),
    );
    let mut c = Pinger::connect(port);
    assert_eq!(c.ping(LONG).as_deref(), Some("PONG"));
    assert!(s.wait_log("connection from 127.0.0.1 on hc", LONG));
    let log = s.log_text();
    let line = log
        .lines()
        .find(|l| l.contains("connection from 127.0.0.1 on hc"))
        .unwrap();
    assert!(
        line.contains(" health-check(vp")
            && line.contains("): Debug: connection from 127.0.0.1 on hc"),
        "{line}"
    );
    assert!(log.contains("master: Info: roost "), "{log}");
}

#[test]
fn fifo_listener_delivers_lines_and_is_recreated_on_reload_and_removed_on_stop() {
    use std::os::unix::fs::{FileTypeExt, PermissionsExt};
    let port = free_port();
    let fifo_cfg = "\n[service.health-check.fifo_listener.hc-fifo]\nmode = \"0620\"\n";
    let mut s = Server::start("fifo", &format!("{}{fifo_cfg}", health_check(port, "")));
    let path = s.base_dir.join("hc-fifo");
    let meta = std::fs::metadata(&path).unwrap();
    assert!(meta.file_type().is_fifo());
    assert_eq!(meta.permissions().mode() & 0o7777, 0o620);
    let send = |text: &str| {
        let mut f = std::fs::OpenOptions::new().write(true).open(&path).unwrap();
        f.write_all(text.as_bytes()).unwrap();
    };
    send("hello one\nhello two\n");
    assert!(
        s.wait_log("fifo hc-fifo: hello one", LONG),
        "{}",
        s.log_text()
    );
    assert!(s.wait_log("fifo hc-fifo: hello two", LONG));
    // Writers come and go; the fifo keeps working.
    send("again\n");
    assert!(s.wait_log("fifo hc-fifo: again", LONG));
    s.signal(Signal::SIGHUP);
    assert!(s.wait_log("configuration reloaded", LONG));
    send("after reload\n");
    assert!(s.wait_log("fifo hc-fifo: after reload", LONG));
    assert_eq!(
        s.log_text().matches("fifo hc-fifo: after reload").count(),
        1
    );
    s.signal(Signal::SIGTERM);
    assert_eq!(s.wait_exit(LONG), Some(0));
    assert!(!path.exists(), "fifo removed on stop");
}

#[test]
fn port_zero_disables_an_inet_listener() {
    let port = free_port();
    let s = Server::start(
        "port0",
        &format!(
            "{}\n[service.health-check.inet_listener.off]\nport = 0\n",
            health_check(port, "")
        ),
    );
    let text = run_tool("ss", &["-Hltnp"]).stdout;
    let mine: Vec<&str> = text
        .lines()
        .filter(|l| l.contains(&format!("pid={},", s.pid())))
        .collect();
    // Only the health-check `hc` listener and the stats `http` listener.
    assert_eq!(mine.len(), 2, "{mine:?}");
    assert!(
        mine.iter()
            .any(|l| l.contains(&format!("127.0.0.1:{port} "))),
        "{mine:?}"
    );
}
