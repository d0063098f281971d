//! Lifecycle through the real binary: SIGHUP reload (applied, and a broken file keeps the old
//! settings serving), SIGTERM/`roost stop` exiting 0 and cleaning up, `roost config` output
//! that loads again, environment overrides, start-up errors naming file and line, and a live
//! scrape that passes `promtool check metrics`.

mod common;

use std::io::Write;
use std::process::{Command, Stdio};
use std::time::Duration;

use common::{health_check, Pinger, Server, BIN};

const LONG: Duration = Duration::from_secs(10);
const HC: &str = "service=\"health-check\"";

#[test]
fn sighup_applies_a_changed_limit_and_keeps_the_inet_socket() {
    let port = common::free_port();
    let s = Server::start("hup", &health_check(port, "process_limit = 2\n"));
    assert_eq!(s.metric("roost_service_process_limit", HC), Some(2.0));
    let mut before = Pinger::connect(port);
    assert_eq!(before.ping(LONG).as_deref(), Some("PONG"));
    s.rewrite(&health_check(port, "process_limit = 5\n"));
    s.signal(libc::SIGHUP);
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
    let port = common::free_port();
    let s = Server::start("hupbad", &health_check(port, "process_limit = 3\n"));
    let mut c = Pinger::connect(port);
    assert_eq!(c.ping(LONG).as_deref(), Some("PONG"));
    // A bad TIME on line 6 of the file.
    s.rewrite(&health_check(port, "process_limit = 3\nidle_kill = 30\n"));
    s.signal(libc::SIGHUP);
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
    let (ok, _, err) = s.cli(&["reload"]);
    assert!(!ok && err.contains("missing units"), "{err}");
}

#[test]
fn sigterm_exits_zero_and_removes_pid_file_and_sockets() {
    let port = common::free_port();
    let mut s = Server::start("term", &health_check(port, ""));
    let mut c = Pinger::connect(port);
    assert_eq!(c.ping(LONG).as_deref(), Some("PONG"));
    assert!(s.base_dir.join("master.pid").exists());
    assert!(s.base_dir.join("master").exists());
    s.signal(libc::SIGTERM);
    assert_eq!(s.wait_exit(LONG), Some(0));
    assert!(c.closed_within(LONG));
    assert!(!s.base_dir.join("master.pid").exists());
    assert!(!s.base_dir.join("master").exists());
    assert!(std::net::TcpStream::connect(("127.0.0.1", port)).is_err());
}

#[test]
fn roost_stop_and_reload_use_the_control_socket() {
    let port = common::free_port();
    let mut s = Server::start("ctl", &health_check(port, "process_limit = 2\n"));
    s.rewrite(&health_check(port, "process_limit = 4\n"));
    let (ok, _, err) = s.cli(&["reload"]);
    assert!(ok, "{err}");
    assert_eq!(s.metric("roost_service_process_limit", HC), Some(4.0));
    let (ok, out, _) = s.cli(&["ps"]);
    assert!(ok);
    assert!(out.contains("not implemented in roost yet:"), "{out}");
    let (ok, _, err) = s.cli(&["stop"]);
    assert!(ok, "{err}");
    assert_eq!(s.wait_exit(LONG), Some(0));
}

#[test]
fn config_output_loads_again_and_changed_only_is_minimal() {
    let dir = common::TempDir::new("cfg");
    let cfg = dir.0.join("a.toml");
    std::fs::write(
        &cfg,
        "base_dir = \"/tmp/x\"\n[service.imap-login]\nprocess_min_avail = 2\nservice_count = 0\n",
    )
    .unwrap();
    let run = |args: &[&str]| {
        let out = Command::new(BIN)
            .args(args)
            .env_remove("ROOST_CONFIG")
            .output()
            .unwrap();
        assert!(
            out.status.success(),
            "{}",
            String::from_utf8_lossy(&out.stderr)
        );
        String::from_utf8(out.stdout).unwrap()
    };
    let n = run(&["config", "-n", "-c", cfg.to_str().unwrap()]);
    assert!(n.contains("process_min_avail = 2"), "{n}");
    assert!(
        !n.contains("process_limit"),
        "only changes are printed: {n}"
    );
    let full = run(&["config", "-c", cfg.to_str().unwrap()]);
    assert!(full.contains("# service anvil: not implemented"), "{full}");
    // Both outputs load again to the same full configuration.
    let p1 = dir.0.join("n.toml");
    let p2 = dir.0.join("full.toml");
    std::fs::write(&p1, &n).unwrap();
    std::fs::write(&p2, &full).unwrap();
    let again1 = run(&["config", "-c", p1.to_str().unwrap()]);
    let again2 = run(&["config", "-c", p2.to_str().unwrap()]);
    let strip = |s: &str| {
        s.lines()
            .filter(|l| !l.starts_with("# roost configuration"))
            .collect::<Vec<_>>()
            .join("\n")
    };
    assert_eq!(strip(&again1), strip(&full));
    assert_eq!(strip(&again2), strip(&full));
}

#[test]
fn environment_overrides_the_file_and_errors_name_the_variable() {
    let out = Command::new(BIN)
        .args(["config", "-n"])
        .env_remove("ROOST_CONFIG")
        .env("ROOST_SERVICE__IMAP_LOGIN__PROCESS_MIN_AVAIL", "4")
        .env("ROOST_DEFAULT_CLIENT_LIMIT", "77")
        .output()
        .unwrap();
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(out.status.success());
    assert!(text.contains("default_client_limit = 77"), "{text}");
    assert!(
        text.contains("[service.imap-login]") && text.contains("process_min_avail = 4"),
        "{text}"
    );
    let out = Command::new(BIN)
        .args(["config"])
        .env_remove("ROOST_CONFIG")
        .env("ROOST_SERVICE__IMAP__IDLE_KILL", "30")
        .output()
        .unwrap();
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(!out.status.success());
    assert!(
        err.contains("environment variable ROOST_SERVICE__IMAP__IDLE_KILL"),
        "{err}"
    );
    assert!(err.contains("missing units"), "{err}");
}

#[test]
fn startup_errors_name_setting_file_and_line() {
    let dir = common::TempDir::new("bad");
    let cfg = dir.0.join("bad.toml");
    std::fs::write(
        &cfg,
        "base_dir = \"/tmp/x\"\n\n[service.lmtp]\nvsz_limit = \"12 Q\"\n",
    )
    .unwrap();
    let out = Command::new(BIN)
        .args(["serve", "-c", cfg.to_str().unwrap()])
        .output()
        .unwrap();
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(!out.status.success());
    assert!(err.contains(&format!("{} line 4", cfg.display())), "{err}");
    assert!(err.contains("service.lmtp.vsz_limit"), "{err}");
    // A protocol whose services roost does not implement yet.
    std::fs::write(&cfg, "base_dir = \"/tmp/x\"\nprotocols = [\"imap\"]\n").unwrap();
    let out = Command::new(BIN)
        .args(["serve", "-c", cfg.to_str().unwrap()])
        .output()
        .unwrap();
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(!out.status.success());
    assert!(
        err.contains("line 2") && err.contains("not implemented"),
        "{err}"
    );
}

#[test]
fn live_scrape_passes_promtool_check_metrics() {
    let port = common::free_port();
    let s = Server::start("promtool", &health_check(port, ""));
    let mut c = Pinger::connect(port);
    assert_eq!(c.ping(LONG).as_deref(), Some("PONG"));
    let body = s.scrape();
    for name in [
        "roost_service_processes",
        "roost_service_clients",
        "roost_service_process_limit",
        "roost_service_client_limit",
        "roost_service_connections_total",
        "roost_service_processes_created_total",
        "roost_process_resident_memory_bytes",
        "roost_process_open_fds",
        "roost_process_threads",
        "roost_process_start_time_seconds",
    ] {
        assert!(
            body.contains(&format!("# HELP {name} ")),
            "HELP for {name} missing:\n{body}"
        );
    }
    let mut child = Command::new("promtool")
        .args(["check", "metrics"])
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("promtool (Debian package prometheus) must be installed");
    child
        .stdin
        .take()
        .unwrap()
        .write_all(body.as_bytes())
        .unwrap();
    let out = child.wait_with_output().unwrap();
    assert!(
        out.status.success(),
        "promtool check metrics failed:\n{}{}\n{body}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
}

#[test]
fn json_log_lines_carry_service_and_virtual_process() {
    let port = common::free_port();
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
    let port = common::free_port();
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
    let port = common::free_port();
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
    s.signal(libc::SIGHUP);
    assert!(s.wait_log("configuration reloaded", LONG));
    send("after reload\n");
    assert!(s.wait_log("fifo hc-fifo: after reload", LONG));
    assert_eq!(
        s.log_text().matches("fifo hc-fifo: after reload").count(),
        1
    );
    s.signal(libc::SIGTERM);
    assert_eq!(s.wait_exit(LONG), Some(0));
    assert!(!path.exists(), "fifo removed on stop");
}

#[test]
fn port_zero_disables_an_inet_listener() {
    let port = common::free_port();
    let s = Server::start(
        "port0",
        &format!(
            "{}\n[service.health-check.inet_listener.off]\nport = 0\n",
            health_check(port, "")
        ),
    );
    let out = Command::new("ss")
        .args(["-Hltnp"])
        .output()
        .expect("ss (iproute2)");
    let text = String::from_utf8_lossy(&out.stdout);
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
