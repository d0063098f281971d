//! The README's first command: `roost serve` on the embedded default configuration, started
//! as root as CI and a fresh machine do. The demo user receives mail by LMTP (swaks) and reads
//! it by POP3, plain and over implicit TLS (curl), metrics answer, the server runs as
//! `nobody`, and SIGTERM ends it with status 0. It uses the embedded default's own paths and
//! ports (/tmp/roost, 10024, 10110, 10995, 9900), so it refuses to run while a roost holds them.

mod common;

use std::process::{Command, Stdio};
use std::time::Duration;

use common::{http_get, run_tool, wait_until, BIN};

#[test]
fn the_embedded_default_serves_the_demo_user_as_the_readme_says() {
    assert!(
        nix::unistd::geteuid().is_root(),
        "this test runs as root, as scripts/test.sh does in CI"
    );
    let base = std::path::Path::new("/tmp/roost");
    if let Ok(pid) = std::fs::read_to_string(base.join("master.pid")) {
        let pid: i32 = pid.trim().parse().unwrap_or(0);
        assert!(
            pid <= 0 || nix::sys::signal::kill(nix::unistd::Pid::from_raw(pid), None).is_err(),
            "a roost (pid {pid}) is running on the embedded default; stop it first"
        );
    }
    let _ = std::fs::remove_dir_all(base);
    let log = std::env::temp_dir().join(format!("roost-embedded-{}.log", std::process::id()));
    let mut child = Command::new(BIN)
        .arg("serve")
        .env_remove("ROOST_CONFIG")
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(std::fs::File::create(&log).unwrap())
        .spawn()
        .unwrap();
    let log_text = || std::fs::read_to_string(&log).unwrap_or_default();
    assert!(
        wait_until(Duration::from_secs(20), || log_text()
            .contains("roost 0.1.0 starting up")),
        "no start-up line:\n{}",
        log_text()
    );
    assert!(http_get(9900, "/metrics").contains("roost_service_processes"));

    let sent = run_tool(
        "swaks",
        &[
            "--protocol",
            "LMTP",
            "--server",
            "127.0.0.1:10024",
            "--to",
            "demo",
            "--body",
            "hello from the README",
        ],
    );
    assert!(sent.ok, "swaks: {}\n{}", sent.all(), log_text());
    let plain = run_tool(
        "curl",
        &["-s", "-u", "demo:demo", "pop3://127.0.0.1:10110/1"],
    );
    assert!(
        plain.ok && plain.stdout.contains("hello from the README"),
        "pop3: {}\n{}",
        plain.all(),
        log_text()
    );
    let tls = run_tool(
        "curl",
        &["-s", "-k", "-u", "demo:demo", "pop3s://127.0.0.1:10995/1"],
    );
    assert!(
        tls.ok && tls.stdout.contains("hello from the README"),
        "pop3s: {}\n{}",
        tls.all(),
        log_text()
    );
    let status = std::fs::read_to_string(format!("/proc/{}/status", child.id())).unwrap();
    let uid = status
        .lines()
        .find(|l| l.starts_with("Uid:"))
        .unwrap()
        .to_string();
    assert!(
        uid.contains("65534"),
        "the server did not drop to nobody: {uid}"
    );

    nix::sys::signal::kill(
        nix::unistd::Pid::from_raw(child.id() as i32),
        nix::sys::signal::Signal::SIGTERM,
    )
    .unwrap();
    let mut code = None;
    wait_until(Duration::from_secs(10), || {
        code = child.try_wait().unwrap().map(|s| s.code());
        code.is_some()
    });
    assert_eq!(code, Some(Some(0)), "exit after SIGTERM:\n{}", log_text());
    let _ = std::fs::remove_dir_all(base);
    let _ = std::fs::remove_file(&log);
}
