//! Log outputs and filters through the real binary: `log_path = syslog` sends RFC 3164
//! datagrams with `syslog_facility` to the syslog socket (a datagram socket this test binds,
//! named by `ROOST_SYSLOG_SOCKET`) and reconnects on `log reopen`; `log_debug` as an event
//! filter writes only the matching debug lines; `log_core_filter` aborts the server after a
//! matching line; a filter that does not parse stops start-up naming the setting.

mod common;

use std::os::unix::net::UnixDatagram;
use std::path::Path;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::mpsc::{channel, Receiver};
use std::sync::Arc;
use std::time::{Duration, Instant};

use common::*;

const LONG: Duration = Duration::from_secs(20);

/// A thread that receives datagrams on a socket bound at `path` (as syslogd does) until the
/// returned flag is set.
fn syslogd(path: &Path) -> (Receiver<String>, Arc<AtomicBool>) {
    let sock = UnixDatagram::bind(path).unwrap();
    sock.set_read_timeout(Some(Duration::from_millis(100)))
        .unwrap();
    let (tx, rx) = channel();
    let stop = Arc::new(AtomicBool::new(false));
    let stopped = stop.clone();
    std::thread::spawn(move || {
        let mut buf = vec![0u8; 16384];
        while !stopped.load(Ordering::Relaxed) {
            if let Ok(n) = sock.recv(&mut buf) {
                let _ = tx.send(String::from_utf8_lossy(&buf[..n]).into_owned());
            }
        }
    });
    (rx, stop)
}

/// Datagrams received until `until` holds for one of them or the deadline passes.
fn receive_until(
    rx: &Receiver<String>,
    got: &mut Vec<String>,
    until: impl Fn(&str) -> bool,
) -> bool {
    let deadline = Instant::now() + LONG;
    while let Some(left) = deadline.checked_duration_since(Instant::now()) {
        if let Ok(d) = rx.recv_timeout(left) {
            let hit = until(&d);
            got.push(d);
            if hit {
                return true;
            }
        }
    }
    false
}

#[test]
fn syslog_gets_rfc3164_datagrams_with_the_facility_and_reconnects_on_reopen() {
    let launch = Launch::new("syslog");
    let path = launch.dir().join("syslog.sock");
    let (rx, stop) = syslogd(&path);
    let s = launch
        .config("syslog_facility = \"local3\"\n")
        .env("ROOST_LOG_PATH", "syslog")
        .env("ROOST_SYSLOG_SOCKET", path.to_str().unwrap())
        .start();
    let mut got = Vec::new();
    // local3 = 19: info is <158>, warning <156>.
    assert!(
        receive_until(&rx, &mut got, |d| d.contains("dovecot: master: roost ")
            && d.contains("starting up")),
        "{got:#?}"
    );
    let start = got.iter().find(|d| d.contains("starting up")).unwrap();
    assert!(start.starts_with("<158>"), "{start}");
    // `<PRI>Mmm dd hh:mm:ss dovecot: …`; info lines carry no "Info: ", as Dovecot's.
    let b = start.as_bytes();
    let after_pri = start.find('>').unwrap() + 1;
    assert_eq!(&b[after_pri + 3..after_pri + 4], b" ", "{start}");
    assert_eq!(
        &start[after_pri + 15..after_pri + 25],
        " dovecot: ",
        "{start}"
    );
    assert!(!start.contains("Info: "), "{start}");
    let warning = got
        .iter()
        .find(|d| d.contains("Warning: "))
        .unwrap_or_else(|| panic!("a start-up warning: {got:#?}"));
    assert!(warning.starts_with("<156>"), "{warning}");
    // No log file was written.
    assert!(!s.log.exists());

    // syslogd restarted: a new socket at the same path; `log reopen` reconnects.
    stop.store(true, Ordering::Relaxed);
    std::thread::sleep(Duration::from_millis(300));
    std::fs::remove_file(&path).unwrap();
    let (rx, _stop) = syslogd(&path);
    let r = s.cli(&["log", "reopen"]);
    assert!(r.ok, "{}", r.all());
    let mut got = Vec::new();
    assert!(
        receive_until(&rx, &mut got, |d| d
            .contains("log reopen requested on the control socket: log reopened")),
        "{got:#?}"
    );
}

#[test]
fn log_debug_filter_writes_only_matching_debug_lines() {
    let port = free_port();
    let s = Server::start(
        "debugfilter",
        &format!(
            "log_debug = \"category=health-check AND NOT reason=*\"\n{}",
            health_check(port, "")
        ),
    );
    let mut c = Pinger::connect(port);
    assert_eq!(c.ping(LONG).as_deref(), Some("PONG"));
    assert!(
        s.wait_log("Debug: connection from 127.0.0.1 on hc", LONG),
        "{}",
        s.log_text()
    );
    let log = s.log_text();
    let debug: Vec<&str> = log.lines().filter(|l| l.contains(": Debug: ")).collect();
    assert!(!debug.is_empty());
    for l in &debug {
        assert!(
            l[20..].starts_with("health-check:") || l[20..].starts_with("health-check(vp"),
            "only health-check debug lines: {l}"
        );
    }
    drop(c);

    // The opposite filter: every debug line but health-check's (the anvil and stats virtual
    // processes start with the server and say so at debug level).
    let port = free_port();
    let s = Server::start(
        "debugfilter-not",
        &format!(
            "log_debug = \"NOT category=health-check\"\n{}",
            health_check(port, "")
        ),
    );
    let mut c = Pinger::connect(port);
    assert_eq!(c.ping(LONG).as_deref(), Some("PONG"));
    assert!(
        s.wait_log(": Debug: virtual process started", LONG),
        "{}",
        s.log_text()
    );
    let r = s.cli(&["log", "reopen"]);
    assert!(r.ok);
    assert!(s.wait_log("log files reopened", LONG));
    let log = s.log_text();
    assert!(
        !log.lines()
            .any(|l| l.contains(": Debug: ") && l.contains(" health-check")),
        "{log}"
    );
}

#[test]
fn log_core_filter_aborts_after_logging_the_matching_event() {
    // No core file from the abort lands anywhere.
    nix::sys::resource::setrlimit(nix::sys::resource::Resource::RLIMIT_CORE, 0, 0).unwrap();
    let mut s = Server::start("corefilter", "log_core_filter = \"category=error\"\n");
    assert!(s.wait_log("starting up", LONG));
    // A broken configuration makes the reload log an error: the server aborts after it.
    s.rewrite("default_process_limit = 0\n");
    s.signal(Signal::SIGHUP);
    assert_eq!(
        s.wait_exit(LONG),
        None,
        "ended by a signal, not an exit code"
    );
    assert!(!s.is_running(), "roost aborted");
    let log = read_text(&s.log);
    let last = log.lines().last().unwrap_or("");
    assert!(
        last.contains("master: Error: Config reload failed")
            && last.contains("default_process_limit"),
        "the matching line is written before the abort: {log}"
    );
}

#[test]
fn a_filter_that_does_not_parse_stops_start_up_naming_the_setting() {
    let dir = TempDir::new("badfilter");
    for (setting, value, why) in [
        ("log_debug", "category:auth", "pre-2.3.12 syntax"),
        (
            "log_core_filter",
            "event=x user=y",
            "join conditions with AND or OR",
        ),
        ("syslog_facility", "mial", "unknown facility"),
    ] {
        let cfg = dir.write(
            "bad.toml",
            format!(
                "base_dir = \"{}\"\n{setting} = \"{value}\"\n",
                dir.join("run").display()
            ),
        );
        let out = roost(&["serve", "-c", cfg.to_str().unwrap()]);
        assert!(!out.ok);
        assert!(out.stderr.contains(setting), "{}", out.stderr);
        assert!(out.stderr.contains("line 2"), "{}", out.stderr);
        assert!(out.stderr.contains(why), "{}", out.stderr);
    }
}
