//! `log reopen` as logrotate uses it: while POP3 clients log in without pause, the log file is
//! renamed and `roost log reopen` (then, after a second rename, SIGUSR1, and after a third the
//! doveadm HTTP API's `log reopen`) makes roost write to a new file under the old name, with
//! the same owner and mode. Every login line lands whole
//! in one of the files, none is lost. Also as root with the server dropped to `nobody`: the
//! launcher opens the new root-owned file for it.

mod common;

use std::io::{Read, Write};
use std::net::TcpStream;
use std::os::unix::fs::MetadataExt;
use std::path::{Path, PathBuf};
use std::process::Command;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::Duration;

use common::*;

const LONG: Duration = Duration::from_secs(20);
const API_KEY: &str = "rotate-key";

fn b64(s: &str) -> String {
    use base64::Engine;
    base64::engine::general_purpose::STANDARD.encode(s)
}

fn pop3_config(dir: &TempDir, port: u16, extra: &str) -> String {
    let users = dir.join("users");
    std::fs::write(&users, "bob:{PLAIN}bobpw::::/nonexistent\n").unwrap();
    // Four clients log in and out as one user from one address as fast as they can: sessions
    // still closing under load must not reach the per-user+IP limit (that refusal comes after
    // the login line, as in Dovecot, and would be a login logged without a `+OK`).
    let mail = dir.join("mail");
    std::fs::create_dir_all(&mail).unwrap();
    format!(
        "{extra}mail_max_userip_connections = 0\nprotocols = [\"pop3\"]\nmail_location = \"maildir:{m}/%n\"\n\
auth_mechanisms = \"plain\"\ndisable_plaintext_auth = \"no\"\n\n\
[[passdb]]\ndriver = \"passwd-file\"\nargs = \"{u}\"\n\n\
[[userdb]]\ndriver = \"passwd-file\"\nargs = \"{u}\"\n\n\
[service.pop3-login.inet_listener.pop3]\nport = {port}\n\n\
[service.pop3-login.inet_listener.pop3s]\nport = 0\n",
        m = mail.display(),
        u = users.display()
    )
}

/// One POP3 login and QUIT: `Ok` when the server said `+OK` to PASS, else what it said.
fn login(port: u16) -> Result<(), String> {
    let Ok(mut c) = TcpStream::connect(("127.0.0.1", port)) else {
        return Err("connect failed".into());
    };
    c.set_read_timeout(Some(Duration::from_secs(10))).unwrap();
    let mut buf = [0u8; 1024];
    let mut read_reply = |c: &mut TcpStream| -> String {
        let n = c.read(&mut buf).unwrap_or(0);
        String::from_utf8_lossy(&buf[..n]).into_owned()
    };
    read_reply(&mut c);
    let mut pass = String::new();
    for (cmd, check) in [("USER bob", false), ("PASS bobpw", true), ("QUIT", false)] {
        if c.write_all(format!("{cmd}\r\n").as_bytes()).is_err() {
            return Err(format!("{cmd}: write failed"));
        }
        let r = read_reply(&mut c);
        if check {
            pass = r;
        }
    }
    if pass.starts_with("+OK") {
        Ok(())
    } else {
        Err(format!("PASS: {pass:?}"))
    }
}

/// Logins from `threads` threads until `stop`; counts the successful ones and keeps what the
/// server said to the others.
type Hammer = (
    Arc<AtomicBool>,
    Arc<AtomicUsize>,
    Arc<std::sync::Mutex<Vec<String>>>,
    Vec<std::thread::JoinHandle<()>>,
);

fn hammer(port: u16, threads: usize) -> Hammer {
    let stop = Arc::new(AtomicBool::new(false));
    let done = Arc::new(AtomicUsize::new(0));
    let failed = Arc::new(std::sync::Mutex::new(Vec::new()));
    let handles = (0..threads)
        .map(|_| {
            let (stop, done, failed) = (stop.clone(), done.clone(), failed.clone());
            std::thread::spawn(move || {
                while !stop.load(Ordering::Relaxed) {
                    match login(port) {
                        Ok(()) => {
                            done.fetch_add(1, Ordering::Relaxed);
                        }
                        Err(e) => failed.lock().unwrap().push(e),
                    }
                }
            })
        })
        .collect();
    (stop, done, failed, handles)
}

fn login_lines(path: &Path) -> usize {
    read_text(path)
        .lines()
        .filter(|l| l.contains("pop3-login") && l.contains(": Info: Login: user=<bob>"))
        .count()
}

/// Every line of `path` is one whole Dovecot-shaped line: `YYYY-MM-DD hh:mm:ss name: Level: …`.
fn assert_whole_lines(path: &Path) {
    let text = read_text(path);
    assert!(
        text.is_empty() || text.ends_with('\n'),
        "{}: torn last line",
        path.display()
    );
    for l in text.lines() {
        let b = l.as_bytes();
        let shaped = b.len() > 20
            && b[4] == b'-'
            && b[7] == b'-'
            && b[10] == b' '
            && b[13] == b':'
            && b[16] == b':'
            && b[19] == b' '
            && l[20..].contains(": ");
        assert!(shaped, "{}: torn or merged line {l:?}", path.display());
        assert!(
            l.matches(": Info: Login: ").count() <= 1,
            "two lines merged: {l:?}"
        );
    }
}

fn owner_mode(p: &Path) -> (u32, u32, u32) {
    let m = std::fs::metadata(p).unwrap();
    (m.uid(), m.gid(), m.mode() & 0o7777)
}

/// Renames the log twice under load, once reopening with `roost log reopen` and once with
/// SIGUSR1, then checks that no login line was lost or torn and that the new file is like the
/// first.
fn rotate_under_load(server: &Server, port: u16, http: Option<u16>) {
    let log = server.log.clone();
    assert!(wait_until(LONG, || log.exists()));
    let first = owner_mode(&log);
    assert_eq!(
        first.2, 0o600,
        "roost creates its log file 0600, as Dovecot"
    );
    let (stop, done, failed, handles) = hammer(port, 4);
    let rotated: Vec<PathBuf> = vec![
        log.with_extension("log.1"),
        log.with_extension("log.2"),
        log.with_extension("log.3"),
    ];
    let progressed = |n: usize| {
        let d = done.clone();
        let target = d.load(Ordering::Relaxed) + n;
        assert!(
            wait_until(LONG, || d.load(Ordering::Relaxed) >= target),
            "logins stalled:\n{}",
            server.log_text()
        );
    };
    progressed(20);
    // logrotate: rename, then the postrotate command.
    std::fs::rename(&log, &rotated[0]).unwrap();
    progressed(10);
    let r = server.cli(&["log", "reopen"]);
    assert!(r.ok, "{}", r.all());
    assert!(log.exists(), "roost log reopen created the new file");
    progressed(20);
    std::fs::rename(&log, &rotated[1]).unwrap();
    progressed(10);
    server.signal(Signal::SIGUSR1);
    assert!(
        wait_until(LONG, || log.exists()),
        "SIGUSR1 created the new file"
    );
    progressed(20);
    if let Some(http) = http {
        std::fs::rename(&log, &rotated[2]).unwrap();
        progressed(10);
        let r = run(Command::new("curl").args([
            "-sS",
            "-H",
            &format!("Authorization: X-Dovecot-API {}", b64(API_KEY)),
            "-d",
            r#"[["log reopen", {}, "rot3"]]"#,
            &format!("http://127.0.0.1:{http}/doveadm/v1"),
        ]));
        assert!(r.ok, "{}", r.all());
        assert_eq!(r.stdout.trim(), r#"[["doveadmResponse",[],"rot3"]]"#);
        assert!(
            log.exists(),
            "the HTTP API's log reopen created the new file"
        );
        progressed(20);
    }
    stop.store(true, Ordering::Relaxed);
    for h in handles {
        h.join().unwrap();
    }
    let total = done.load(Ordering::Relaxed);
    let mut files = vec![rotated[0].clone(), rotated[1].clone()];
    if http.is_some() {
        files.push(rotated[2].clone());
    }
    files.push(log.clone());
    let count = || files.iter().map(|f| login_lines(f)).sum::<usize>();
    // Lines are written before the client sees +OK, so the count is exact once all are in.
    assert!(
        wait_until(LONG, || count() >= total),
        "lost lines: {} logged for {total} logins",
        count()
    );
    assert_eq!(
        count(),
        total,
        "each login is logged exactly once; logins that failed: {:?}",
        failed.lock().unwrap()
    );
    eprintln!(
        "{total} logins across the rotations: {:?} login lines per file",
        files.iter().map(|f| login_lines(f)).collect::<Vec<_>>()
    );
    for f in &files {
        assert!(login_lines(f) > 0, "{} got login lines", f.display());
        assert_whole_lines(f);
    }
    assert_eq!(
        owner_mode(&log),
        first,
        "the new file has the first one's owner and mode"
    );
    // Each reopen says so in the file it opened.
    assert!(
        read_text(&rotated[1])
            .contains("log reopen requested on the control socket: log files reopened"),
        "{}",
        read_text(&rotated[1])
    );
    let after_usr1 = if http.is_some() { &rotated[2] } else { &log };
    assert!(
        read_text(after_usr1).contains("SIGUSR1 received: log files reopened"),
        "{}",
        read_text(after_usr1)
    );
    if http.is_some() {
        assert!(read_text(&log).contains("doveadm log reopen: log files reopened"));
    }
}

#[test]
fn log_reopen_after_rename_loses_nothing() {
    let (port, http) = (free_port(), free_port());
    let launch = Launch::new("logreopen");
    let cfg = pop3_config(
        launch.dir(),
        port,
        &format!("doveadm_api_key = \"{API_KEY}\"\n"),
    ) + &format!("\n[service.doveadm.inet_listener.http]\nport = {http}\n");
    let server = launch.config(&cfg).ready_on(&[port, http]).start();
    rotate_under_load(&server, port, Some(http));
}

#[test]
fn log_reopen_with_privileges_dropped_goes_through_the_launcher() {
    assert!(
        nix::unistd::geteuid().is_root(),
        "this test needs root (CI runs as root)"
    );
    let port = free_port();
    let launch = Launch::new("logreopen-nobody");
    let cfg = pop3_config(
        launch.dir(),
        port,
        "default_internal_user = \"nobody\"\ndefault_login_user = \"nobody\"\n",
    );
    // The server reads the users file and writes mail as nobody.
    let nobody = nix::unistd::User::from_name("nobody").unwrap().unwrap();
    nix::unistd::chown(
        &launch.dir().join("mail"),
        Some(nobody.uid),
        Some(nobody.gid),
    )
    .unwrap();
    let server = launch.config(&cfg).ready_on(&[port]).start();
    assert!(
        server.wait_log("dropped privileges", LONG),
        "{}",
        server.log_text()
    );
    rotate_under_load(&server, port, None);
    // The server, now nobody, could not have created a root-owned file: the launcher did.
    assert_eq!(owner_mode(&server.log).0, 0);
}
