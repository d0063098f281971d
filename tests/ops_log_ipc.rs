//! The `log` and `ipc` services on the real binary, read by Dovecot's own doveadm (Debian's
//! dovecot-core) pointed at roost's base_dir:
//!
//! * `doveadm log errors` reads roost's `log-errors` socket and prints the same lines as
//!   `roost log errors` (warnings from start-up, an error a doveadm mail command logged, a
//!   tab and a newline in a message); `-s` leaves older ones out; the HTTP API's `logErrors`
//!   answers the same rows.
//! * `doveadm proxy list` / `proxy kick` go through roost's `ipc` socket to a process that
//!   registered on `login/ipc-proxy` as group `proxy` (a Python stand-in for a Dovecot login
//!   process): its rows and kick count come back; with none registered, nothing is listed
//!   and 0 are kicked; a member that dies mid-command fails it; bad lines get Dovecot's
//!   errors.
//! * Neither service is reported as "not implemented" any more.
//!
//! Needs root (the sockets are 0600) and Dovecot's `doveadm`.

mod common;

use std::io::{BufRead, BufReader, Read, Write};
use std::os::unix::net::UnixStream;
use std::path::Path;
use std::process::{Child, Command, Stdio};
use std::time::Duration;

use common::*;
use serde_json::Value;

fn start(tag: &str) -> (Server, u16) {
    let launch = Launch::new(tag);
    let users = launch.dir().write("users", "bob:{PLAIN}pass::::::\n");
    // A file where bob's mail root should be a directory: mail commands fail and log it.
    let blocker = launch.dir().write("not-a-dir", "x");
    let http = free_port();
    let server = launch
        .config(&format!(
            "mail_location = \"maildir:{b}/%n\"\ndoveadm_password = \"secret\"\n\
[[passdb]]\ndriver = \"passwd-file\"\nargs = \"{u}\"\n\n\
[[userdb]]\ndriver = \"passwd-file\"\nargs = \"{u}\"\n\n\
[service.doveadm.inet_listener.http]\nport = {http}\n",
            b = blocker.display(),
            u = users.display()
        ))
        .ready_on(&[http])
        .start();
    (server, http)
}

#[test]
fn doveadm_log_errors_reads_roosts_error_buffer() {
    let (server, http) = start("log-errors");
    let base = server.base_dir.clone();
    // An error, logged by a mail command that cannot make bob's mail root.
    let r = server.cli(&["doveadm", "mailbox", "create", "-u", "bob", "Work"]);
    assert_eq!(r.code, Some(75), "{}", r.all());
    assert!(
        server.wait_log("doveadm(bob): Error: ", Duration::from_secs(5)),
        "{}",
        server.log_text()
    );

    let (code, dovecots, err) = server.dovecot_doveadm(&["log", "errors"]);
    assert_eq!(code, 0, "{err}");
    let ours = server.cli(&["log", "errors"]);
    assert!(ours.ok, "{}", ours.all());
    assert_eq!(
        ours.stdout, dovecots,
        "roost log errors vs doveadm log errors"
    );
    assert!(
        dovecots
            .lines()
            .any(|l| l.contains(" Warning: master: ssl_cert is not set")),
        "{dovecots}"
    );
    let error = dovecots
        .lines()
        .find(|l| l.contains(" Error: doveadm(bob): ") && l.contains("not-a-dir"))
        .unwrap_or_else(|| panic!("no error line:\n{dovecots}\n{}", server.log_text()));
    // `Nov 30 17:26:04 Error: …`: the local time as Dovecot prints it.
    assert_eq!(error.as_bytes()[3], b' ', "{error}");

    // The raw socket: TYPE, unix time, prefix and text (tab-escaped; see the unit test).
    let mut raw = String::new();
    UnixStream::connect(base.join("log-errors"))
        .unwrap()
        .read_to_string(&mut raw)
        .unwrap();
    let rows: Vec<Vec<&str>> = raw.lines().map(|l| l.split('\t').collect()).collect();
    assert!(rows.iter().all(|r| r.len() == 4), "{raw:?}");
    assert!(
        rows.iter().all(|r| r[0] == "warning" || r[0] == "error"),
        "{raw:?}"
    );
    assert!(
        rows.iter()
            .any(|r| r[0] == "error" && r[2] == "doveadm(bob): " && r[3].contains("not-a-dir")),
        "{raw:?}"
    );

    // `-s` leaves out what is older.
    let future = (std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_secs()
        + 60)
        .to_string();
    let (_, none, _) = server.dovecot_doveadm(&["log", "errors", "-s", &future]);
    assert_eq!(none, "");
    assert_eq!(server.cli(&["log", "errors", "-s", &future]).stdout, "");

    // The HTTP API's logErrors: doveadm's fields.
    let out = Command::new("curl")
        .args(["-s", "-m", "20", "-u", "doveadm:secret"])
        .args(["-d", r#"[["logErrors",{},"t"]]"#])
        .arg(format!("http://127.0.0.1:{http}/doveadm/v1"))
        .output()
        .expect("curl must be installed");
    let answer: Value = serde_json::from_slice(&out.stdout).unwrap();
    let rows = answer[0][1].as_array().unwrap();
    assert_eq!(rows.len(), dovecots.lines().count(), "{answer}");
    let keys: Vec<&str> = rows[0]
        .as_object()
        .unwrap()
        .keys()
        .map(String::as_str)
        .collect();
    assert_eq!(keys, ["timestamp", "prefix", "type", "text"]);
    assert_eq!(rows[0]["prefix"], "master");
    assert_eq!(rows[0]["type"], "Warning");

    // Both services run; neither is reported as not implemented.
    let log = server.log_text();
    for s in ["service(log)", "service(ipc)"] {
        assert!(!log.contains(s), "{s} warned:\n{log}");
    }
    let conf = server.cli(&["config"]);
    assert!(!conf.stdout.contains("service ipc: not"), "{}", conf.stdout);
    assert!(!conf.stdout.contains("service log: not"), "{}", conf.stdout);
}

/// A stand-in for a Dovecot login process on `login/ipc-proxy`: group `proxy`, one proxied
/// session of bob's; `HANG` is never answered (the process exits when told on stdin).
const MEMBER: &str = r#"
import socket, sys
s = socket.socket(socket.AF_UNIX); s.connect(sys.argv[1])
f = s.makefile('rb')
assert f.readline() == b"VERSION\tipc-proxy\t1\t0\n"
s.sendall(b"VERSION\tipc-server\t1\t0\nHANDSHAKE\tproxy\t4242\n")
print("registered", flush=True)
while True:
    l = f.readline()
    if not l:
        break
    tag, cmd = l.decode().rstrip("\n").split("\t", 1)
    if cmd == "LIST-FULL":
        s.sendall(f"{tag}\t:username\tservice\tsrc-ip\tdest-ip\tdest-port\n"
                  f"{tag}\t:bob\timap\t10.0.0.1\t10.0.0.2\t143\n{tag}\t+\n".encode())
    elif cmd.startswith("KICK\t"):
        n = 1 if cmd.split("\t")[1] == "bob" else 0
        s.sendall(f"{tag}\t+{n}\n".encode())
    elif cmd == "HANG":
        print("hanging", flush=True)
        sys.stdin.readline()
        break
    else:
        s.sendall(f"{tag}\t-Unknown command\n".encode())
"#;

fn member(base: &Path) -> (Child, BufReader<std::process::ChildStdout>) {
    let mut c = Command::new("python3")
        .args(["-c", MEMBER])
        .arg(base.join("login/ipc-proxy"))
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .spawn()
        .expect("python3 must be installed");
    let mut out = BufReader::new(c.stdout.take().unwrap());
    let mut l = String::new();
    out.read_line(&mut l).unwrap();
    assert_eq!(l, "registered\n");
    (c, out)
}

#[test]
fn doveadm_proxy_commands_go_through_roosts_ipc_hub() {
    let (server, _) = start("ipc");
    let base = server.base_dir.clone();
    // Nobody registered: Dovecot's answers when no login process proxies.
    let (code, out, err) = server.dovecot_doveadm(&["proxy", "list"]);
    assert_eq!((code, out.as_str()), (0, ""), "{err}");
    let (_, out, _) = server.dovecot_doveadm(&["proxy", "kick", "bob"]);
    assert_eq!(out.trim(), "0 connections kicked");

    let (mut m, mut m_out) = member(&base);
    let (code, out, err) = server.dovecot_doveadm(&["proxy", "list"]);
    assert_eq!(code, 0, "{err}");
    let lines: Vec<Vec<&str>> = out
        .lines()
        .map(|l| l.split_whitespace().collect())
        .collect();
    assert_eq!(
        lines[0],
        ["username", "proto", "src", "ip", "dest", "ip", "port"],
        "{out}"
    );
    assert_eq!(
        lines[1],
        ["bob", "imap", "10.0.0.1", "10.0.0.2", "143"],
        "{out}"
    );
    let (_, out, _) = server.dovecot_doveadm(&["proxy", "kick", "bob"]);
    assert_eq!(out.trim(), "1 connections kicked");
    let (_, out, _) = server.dovecot_doveadm(&["proxy", "kick", "alice"]);
    assert_eq!(out.trim(), "0 connections kicked");

    // The client protocol's errors, then a member that dies with a command unanswered.
    let s = UnixStream::connect(base.join("ipc")).unwrap();
    s.set_read_timeout(Some(Duration::from_secs(20))).unwrap();
    let mut w = s.try_clone().unwrap();
    let mut r = BufReader::new(s);
    fn ask(w: &mut UnixStream, r: &mut BufReader<UnixStream>, line: &str) -> String {
        w.write_all(format!("{line}\n").as_bytes()).unwrap();
        let mut l = String::new();
        r.read_line(&mut l).unwrap();
        l.trim_end().to_string()
    }
    assert_eq!(ask(&mut w, &mut r, "proxy\t*\tFOO"), "-Unknown command");
    assert_eq!(
        ask(&mut w, &mut r, "proxy\t999\tLIST-FULL"),
        "-Unknown IPC connection id: 999"
    );
    assert_eq!(
        ask(&mut w, &mut r, "nosuch\t1\tLIST"),
        "-Unknown IPC group: nosuch"
    );
    assert_eq!(ask(&mut w, &mut r, "nosuch\t*\tLIST"), "+");
    assert_eq!(
        ask(&mut w, &mut r, "proxy\tx\tLIST"),
        "-Invalid IPC connection id: x"
    );
    assert_eq!(ask(&mut w, &mut r, "garbage"), "-Invalid input");
    w.write_all(b"proxy\t*\tHANG\n").unwrap();
    let mut l = String::new();
    m_out.read_line(&mut l).unwrap();
    assert_eq!(l, "hanging\n");
    m.stdin.take().unwrap().write_all(b"go\n").unwrap();
    let mut l = String::new();
    r.read_line(&mut l).unwrap();
    assert_eq!(l, "-Connection to server died\n");
    m.wait().unwrap();
    // The member is gone from the group.
    assert_eq!(ask(&mut w, &mut r, "proxy\t*\tLIST-FULL"), "+");

    // A process that sends a reply nobody asked for is logged and let go.
    let stray = r#"
import socket, sys
s = socket.socket(socket.AF_UNIX); s.connect(sys.argv[1])
s.makefile('rb').readline()
s.sendall(b"VERSION\tipc-server\t1\t0\nHANDSHAKE\tproxy\t7\n99\t+\n")
s.settimeout(10)
print(repr(s.recv(100)))
"#;
    let out = Command::new("python3")
        .args(["-c", stray])
        .arg(base.join("login/ipc-proxy"))
        .output()
        .expect("python3 runs");
    assert_eq!(String::from_utf8_lossy(&out.stdout).trim(), "b''", "closed");
    assert!(
        server.wait_log(
            "Input for unexpected command tag 99",
            Duration::from_secs(5)
        ),
        "{}",
        server.log_text()
    );
    assert_eq!(ask(&mut w, &mut r, "proxy\t*\tLIST-FULL"), "+");
}

#[test]
fn doveadm_stats_dump_reads_roosts_stats_reader() {
    let (server, _) = start("stats-reader");
    // One auth request: a duration histogram with an observation.
    let r = server.cli(&["doveadm", "auth", "test", "bob", "pass"]);
    assert!(r.ok, "{}", r.all());
    let (code, out, err) = server.dovecot_doveadm(&["stats", "dump"]);
    assert_eq!(code, 0, "{err}");
    let mut lines = out.lines();
    assert_eq!(
        lines.next(),
        Some("metric_name\tfield\tcount\tsum\tmin\tmax\tavg\tmedian\tstddev\t%95")
    );
    let dovecots: Vec<Vec<&str>> = lines.map(|l| l.split('\t').collect()).collect();
    // roost's own dump of the same series: the counts agree, sums are in microseconds.
    let ours = server.cli(&["doveadm", "-f", "json", "stats", "dump"]);
    let ours: Value = serde_json::from_str(&ours.stdout).unwrap();
    let ours = ours.as_array().unwrap();
    assert_eq!(dovecots.len(), ours.len(), "{out}");
    let auth = dovecots
        .iter()
        .find(|r| r[0].starts_with("roost_auth_request_duration_seconds") && r[2] != "0")
        .unwrap_or_else(|| panic!("no auth duration row:\n{out}"));
    let mine = ours
        .iter()
        .find(|r| r["metric_name"] == auth[0])
        .unwrap_or_else(|| panic!("{} not in roost's dump", auth[0]));
    assert_eq!(auth[1], "duration");
    // (doveadm's JSON formatter prints every value as a string)
    assert_eq!(auth[2], mine["count"].as_str().unwrap());
    let sum_us: f64 = auth[3].parse().unwrap();
    let sum_s: f64 = mine["sum"].as_str().unwrap().parse().unwrap();
    assert!(
        (sum_us - (sum_s * 1e6).round()).abs() < 1.0,
        "{sum_us} µs vs {sum_s} s"
    );
    assert!(sum_us > 0.0);
    // A counter: its value as the count.
    let scrapes = dovecots
        .iter()
        .find(|r| r[0] == "roost_stats_scrapes_total{format=\"text\"}")
        .unwrap_or_else(|| panic!("{out}"));
    assert!(scrapes[2].parse::<u64>().is_ok(), "{scrapes:?}");
}

/// Hostile clients on the Dovecot-protocol sockets: a 1 MiB line is refused (anvil,
/// stats-reader and ipc-proxy close; the ipc client socket answers `-Invalid input` and
/// skips it), and a client that pipelines requests without reading its answers is cut off by
/// the write deadline, its queued answers bounded. The server answers normally throughout.
#[test]
fn hostile_clients_on_the_internal_sockets_are_bounded() {
    use std::io::Read;
    let (server, _) = start("hostile-sockets");
    let base = server.base_dir.clone();
    let big = vec![b'x'; 1 << 20];
    let closed = |s: &mut UnixStream| {
        s.set_read_timeout(Some(Duration::from_secs(10))).unwrap();
        let mut buf = [0u8; 4096];
        loop {
            match s.read(&mut buf) {
                Ok(0) | Err(_) => return true,
                Ok(_) => {}
            }
        }
    };
    for (socket, hello) in [
        ("anvil", &b"VERSION\tanvil\t1\t0\n"[..]),
        ("stats-reader", b"VERSION\tstats-reader-client\t2\t0\n"),
        ("login/ipc-proxy", b""),
    ] {
        let mut s = UnixStream::connect(base.join(socket)).unwrap();
        s.write_all(hello).unwrap();
        // The server may close before it has read the whole line.
        let _ = s.write_all(&big);
        let _ = s.write_all(b"\n");
        assert!(
            closed(&mut s),
            "{socket} kept a connection with a 1 MiB line"
        );
    }
    let s = UnixStream::connect(base.join("ipc")).unwrap();
    s.set_read_timeout(Some(Duration::from_secs(10))).unwrap();
    let mut w = s.try_clone().unwrap();
    let mut r = BufReader::new(s);
    w.write_all(&big).unwrap();
    w.write_all(b"\nnosuch\t*\tLIST\n").unwrap();
    let mut l = String::new();
    r.read_line(&mut l).unwrap();
    assert_eq!(l, "-Invalid input\n");
    l.clear();
    r.read_line(&mut l).unwrap();
    assert_eq!(
        l, "+\n",
        "the line after the long one is a command of its own"
    );

    // 200,000 pipelined requests, never read: the answers fill the socket, the write deadline
    // (10 s) ends the connection.
    let mut s = UnixStream::connect(base.join("anvil")).unwrap();
    s.set_write_timeout(Some(Duration::from_secs(30))).unwrap();
    let mut flood = b"VERSION\tanvil\t1\t0\n".to_vec();
    for _ in 0..200_000 {
        flood.extend_from_slice(b"PENALTY-DUMP\n");
    }
    let t = std::time::Instant::now();
    let sent = s.write_all(&flood);
    assert!(
        sent.is_err() || closed(&mut s),
        "a client that never reads kept its connection"
    );
    assert!(t.elapsed() < Duration::from_secs(40));
    // Everyone else is still served.
    let (code, out, err) = server.dovecot_doveadm(&["who"]);
    assert_eq!(code, 0, "{err}");
    assert!(out.starts_with("username"), "{out}");
}
