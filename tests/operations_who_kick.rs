//! `roost who` and `roost kick` on the real binary with Python's poplib holding real POP3
//! sessions through pop3-login → pop3: `who` lists them with doveadm's fields (user, count,
//! proto, virtual processes, client IPs; `-1` one line per connection), `kick bob` ends bob's
//! sessions with Dovecot's goodbye and leaves alice's, and with
//! `mail_max_userip_connections = 10` exactly 10 of 100 racing logins of one user from one IP
//! succeed while the others get Dovecot's refusal; and against a throw-away Dovecot 2.3 with the
//! same sessions, `who` prints doveadm's rows (apart from process ids) and `kick` doveadm's
//! words and the same goodbye.

mod common;

use std::io::{BufRead, BufReader};
use std::process::{Command, Stdio};
use std::time::Duration;

use common::*;

const LONG: Duration = Duration::from_secs(10);

fn start(tag: &str, extra: &str) -> (Server, u16) {
    let launch = Launch::new(tag);
    let users = launch.dir().write(
        "users",
        "bob:{PLAIN}bobpw:1000:1000::/nonexistent\nalice:{PLAIN}alicepw:1000:1000::/nonexistent\n",
    );
    let mail = launch.dir().join("mail");
    let pop3 = free_port();
    let config = format!(
        "{KEEP_ROOT}protocols = [\"pop3\"]\nmail_location = \"maildir:{m}/%n\"\n\
disable_plaintext_auth = \"no\"\n{extra}\n\
[[passdb]]\ndriver = \"passwd-file\"\nargs = \"{u}\"\n\n\
[[userdb]]\ndriver = \"passwd-file\"\nargs = \"{u}\"\n\n\
[service.pop3-login.inet_listener.pop3]\nport = {pop3}\n\n\
[service.pop3-login.inet_listener.pop3s]\nport = 0\n",
        m = mail.display(),
        u = users.display()
    );
    (launch.config(&config).ready_on(&[pop3]).start(), pop3)
}

/// A Python process holding POP3 sessions (`user:password` per argument, logged in in order,
/// printing `ready`); `NOOP i…` sends NOOP on those sessions, `READ i…` reads what they got
/// (a line, then the next: `b''` once closed); one answer line per command.
const HOLDER: &str = r#"
import poplib, socket, sys
port = int(sys.argv[1])
sessions = []
for arg in sys.argv[2:]:
    user, pw = arg.split(":")
    p = poplib.POP3("127.0.0.1", port)
    p.user(user)
    p.pass_(pw)
    sessions.append(p)
print("ready", flush=True)
for cmd in sys.stdin:
    words = cmd.split()
    out = []
    for p in [sessions[int(i)] for i in words[1:]]:
        try:
            if words[0] == "NOOP":
                out.append(p.noop().decode())
            else:
                p.sock.settimeout(10)
                line = p.file.readline()
                out.append(repr(line) + " then " + repr(p.file.readline()))
        except Exception as e:
            out.append("error " + type(e).__name__)
    print(" | ".join(out), flush=True)
"#;

/// The HOLDER script logged in as each `user:password` of `logins` on this POP3 port.
fn holder(port: u16, logins: &[&str]) -> Holder {
    let mut args = vec![port.to_string()];
    args.extend(logins.iter().map(|s| s.to_string()));
    Holder::start(HOLDER, &args)
}

/// The pop3 virtual processes `roost ps` shows.
fn pop3_vprocs(s: &Server) -> Vec<u64> {
    s.ps("pop3").into_iter().map(|(v, _, _)| v).collect()
}

#[test]
fn who_lists_the_pop3_sessions_poplib_holds_with_doveadms_fields() {
    let (s, port) = start("who", "shutdown_clients = false\n");
    let _h = holder(port, &["bob:bobpw", "alice:alicepw", "bob:bobpw"]);
    let vprocs = pop3_vprocs(&s);
    assert_eq!(vprocs.len(), 3, "{vprocs:?}");
    assert_eq!(
        s.metric("roost_anvil_sessions", "protocol=\"pop3\""),
        Some(3.0)
    );

    // Aggregated, tab: username # proto (pids) (ips), users in the order they logged in.
    let out = s.cli(&["who", "-f", "tab"]).stdout_ok("roost who -f tab");
    let lines: Vec<&str> = out.lines().collect();
    assert_eq!(lines[0], "username\t#\tproto\t(pids)\t(ips)", "{out}");
    assert_eq!(lines.len(), 3, "{out}");
    let bob: Vec<&str> = lines[1].split('\t').collect();
    assert_eq!(&bob[..3], ["bob", "2", "pop3"], "{out}");
    assert_eq!(bob[4], "(127.0.0.1)");
    let bob_vprocs: Vec<u64> = bob[3]
        .trim_matches(['(', ')'])
        .split(' ')
        .map(|v| v.parse().unwrap())
        .collect();
    assert_eq!(bob_vprocs.len(), 2, "{out}");
    assert!(
        bob_vprocs.iter().all(|v| vprocs.contains(v)),
        "{out} vs ps {vprocs:?}"
    );
    let alice: Vec<&str> = lines[2].split('\t').collect();
    assert_eq!(&alice[..3], ["alice", "1", "pop3"], "{out}");
    assert_eq!(alice[4], "(127.0.0.1)");

    // The default table: doveadm's header, padded columns.
    let out = s.cli(&["who"]).stdout_ok("roost who");
    assert!(out.starts_with("username # proto (pids)"), "{out}");
    assert!(
        out.lines()
            .nth(1)
            .unwrap()
            .starts_with("bob      2 pop3  ("),
        "{out}"
    );

    // One line per connection: username proto pid ip.
    let out = s.cli(&["who", "-1", "-f", "tab"]).stdout_ok("roost who -1");
    let rows: Vec<Vec<&str>> = out
        .lines()
        .skip(1)
        .map(|l| l.split('\t').collect())
        .collect();
    assert_eq!(out.lines().next(), Some("username\tproto\tpid\tip"));
    let users: Vec<&str> = rows.iter().map(|r| r[0]).collect();
    assert_eq!(users, ["bob", "alice", "bob"], "{out}");
    for r in &rows {
        assert_eq!((r[1], r[3]), ("pop3", "127.0.0.1"), "{out}");
        assert!(vprocs.contains(&r[2].parse().unwrap()), "{out}");
    }
    let mut listed: Vec<u64> = rows.iter().map(|r| r[2].parse().unwrap()).collect();
    listed.sort();
    let mut all = vprocs.clone();
    all.sort();
    assert_eq!(listed, all, "each session in its own virtual process");

    // Masks: a user wildcard, a network.
    let out = s
        .cli(&["who", "-f", "flow", "AL*"])
        .stdout_ok("roost who AL*");
    assert!(
        out.starts_with("username=alice #=1 proto=pop3 (pids)=("),
        "{out}"
    );
    assert_eq!(out.lines().count(), 1, "{out}");
    let out = s
        .cli(&["who", "-f", "tab", "10.0.0.0/8"])
        .stdout_ok("who 10/8");
    assert_eq!(out, "username\t#\tproto\t(pids)\t(ips)\n");
    let out = s
        .cli(&["who", "-1", "-f", "json", "bob", "127.0.0.0/8"])
        .stdout_ok("who json");
    assert!(
        out.starts_with("[{\"username\":\"bob\",\"service\":\"pop3\",\"pid\":\""),
        "{out}"
    );
    assert_eq!(out.matches("\"username\":\"bob\"").count(), 2, "{out}");
    assert!(!out.contains("alice"), "{out}");

    // Anvil outlives a reload: the sessions (kept, shutdown_clients = no) are still listed.
    let r = s.cli(&["reload"]);
    assert!(r.ok, "{}", r.all());
    let out = s
        .cli(&["who", "-1", "-f", "tab"])
        .stdout_ok("who after reload");
    assert_eq!(out.lines().count(), 4, "{out}");
}

#[test]
fn kick_ends_bobs_sessions_with_dovecots_goodbye_and_leaves_alices() {
    let (s, port) = start("kick", "");
    let mut h = holder(port, &["bob:bobpw", "alice:alicepw", "bob:bobpw"]);

    let r = s.cli(&["kick", "bob"]);
    assert!(r.ok, "{}", r.all());
    assert_eq!(
        r.stdout,
        "kicked connections from the following users:\nbob \n"
    );
    // Bob's sessions got Dovecot's pop3 goodbye and were closed; alice's is untouched.
    let read = h.ask("READ 0 2");
    let goodbye = "b'-ERR [SYS/TEMP] Server shutting down.\\r\\n' then b''";
    assert_eq!(read, format!("{goodbye} | {goodbye}"));
    assert!(s.wait_log(
        "Disconnected: Server shutting down.",
        Duration::from_secs(10)
    ));
    let out = s.cli(&["who", "-f", "tab"]).stdout_ok("who after kick");
    assert!(
        wait_until(Duration::from_secs(10), || {
            let out = s.cli(&["who", "-1", "-f", "tab"]).stdout;
            out.lines()
                .skip(1)
                .map(|l| l.split('\t').next().unwrap().to_string())
                .collect::<Vec<_>>()
                == ["alice"]
        }),
        "{out}"
    );
    assert_eq!(h.ask("NOOP 1"), "+OK", "alice is still served");

    // Nobody matching: doveadm's words and exit code 68.
    let r = s.cli(&["kick", "nobody"]);
    assert_eq!(r.code, Some(68), "{}", r.all());
    assert_eq!(r.stdout, "no users kicked\n");
    // A user mask and an IP mask together: alice from 127.0.0.1.
    let r = s.cli(&["kick", "alice", "127.0.0.1"]);
    assert_eq!(
        r.stdout,
        "kicked connections from the following users:\nalice \n"
    );
    // Bob's two sessions and alice's were kicked; anvil tracks none now.
    let pop3 = "protocol=\"pop3\"";
    s.wait_metric("roost_anvil_kicked_total", pop3, LONG, |v| v == 3.0);
    s.wait_metric("roost_anvil_sessions", pop3, LONG, |v| v == 0.0);
    let r = s.cli(&["kick", "a", "b"]);
    assert!(
        !r.ok && r.stderr.contains("Multiple username masks not supported"),
        "{}",
        r.all()
    );
}

/// 100 clients log in as bob from 127.0.0.1 at once (released together by a barrier after
/// USER) and keep their sessions open.
const RACE: &str = r#"
import poplib, sys, threading
port = int(sys.argv[1])
n = 100
barrier = threading.Barrier(n)
results = [None] * n
held = []
lock = threading.Lock()
def login(i):
    try:
        p = poplib.POP3("127.0.0.1", port, timeout=60)
        p.user("bob")
        barrier.wait()
        r = p.pass_("bobpw").decode()
        with lock:
            held.append(p)
    except poplib.error_proto as e:
        r = e.args[0].decode()
    except Exception as e:
        r = "error " + repr(e)
    results[i] = r
ts = [threading.Thread(target=login, args=(i,)) for i in range(n)]
for t in ts: t.start()
for t in ts: t.join()
for r in results: print(r)
sys.stdout.flush()
sys.stdin.readline()
"#;

#[test]
fn mail_max_userip_connections_holds_under_100_racing_logins() {
    let (s, port) = start("userip-race", "mail_max_userip_connections = 10\n");
    let mut child = Command::new("python3")
        .args(["-c", RACE, &port.to_string()])
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .spawn()
        .expect("python3 must be installed");
    let mut stdout = BufReader::new(child.stdout.take().unwrap());
    let results: Vec<String> = (0..100)
        .map(|_| {
            let mut l = String::new();
            stdout.read_line(&mut l).unwrap();
            l.trim_end().to_string()
        })
        .collect();
    let ok = results.iter().filter(|r| *r == "+OK Logged in.").count();
    let refused = results
        .iter()
        .filter(|r| {
            *r == "-ERR [IN-USE] Maximum number of connections from user+IP exceeded (mail_max_userip_connections=10)"
        })
        .count();
    assert_eq!(
        (ok, refused),
        (10, 90),
        "{results:#?}\nserver log:\n{}",
        s.log_text()
    );
    // While the 10 are held, who lists exactly them.
    let out = s.cli(&["who", "-f", "tab"]).stdout_ok("who");
    assert_eq!(
        out.lines().nth(1).map(|l| &l[..6]),
        Some("bob\t10"),
        "{out}"
    );
    drop(child.stdin.take());
    let _ = child.wait();
    // Once they are gone the slots are free again.
    assert!(wait_until(Duration::from_secs(10), || {
        s.cli(&["who", "-f", "tab"]).stdout.lines().count() == 1
    }));
}

/// Runs `program args…` on a pseudo-terminal (`script`), as an admin would: doveadm's kick
/// output is only in order when its stdout is a terminal. Returns the output with CRLF → LF.
fn on_tty(program: &str, args: &[&str]) -> String {
    let line = std::iter::once(program)
        .chain(args.iter().copied())
        .collect::<Vec<_>>()
        .join(" ");
    let out = run(Command::new("script").args(["-qc", &line, "/dev/null"])).stdout;
    out.replace("\r\n", "\n")
}

#[test]
fn who_and_kick_print_what_doveadm_prints_for_the_same_sessions() {
    let dir = TempDir::new("who-dovecot");
    let dovecot = Dovecot::start(dir.path());
    dovecot.chown_mail();
    let conf = dir.join("dovecot.conf");
    let conf = conf.to_str().unwrap();
    let (s, port) = start("who-vs-dovecot", "");
    std::fs::write(
        s.dir.join("users"),
        "bob:{PLAIN}pass:1000:1000::/nonexistent\n",
    )
    .unwrap();
    let mut theirs = holder(dovecot.pop3_port, &["bob:pass", "bob:pass"]);
    let mut ours = holder(port, &["bob:pass", "bob:pass"]);

    // Same rows apart from the process ids.
    let no_pids = |out: &str| -> Vec<Vec<String>> {
        out.lines()
            .map(|l| {
                l.split('\t')
                    .enumerate()
                    .map(|(i, f)| {
                        if i == 3 {
                            "(pids)".into()
                        } else {
                            f.to_string()
                        }
                    })
                    .collect()
            })
            .collect()
    };
    let d = dovecot.doveadm(&["-f", "tab", "who"], None);
    let r = s.cli(&["who", "-f", "tab"]).stdout_ok("who");
    assert_eq!(no_pids(&r), no_pids(&d), "roost:\n{r}\ndoveadm:\n{d}");
    let fields = |out: &str, skip: usize| -> Vec<String> {
        out.lines()
            .map(|l| {
                let mut w: Vec<&str> = l.split('\t').collect();
                w.remove(skip);
                w.join("\t")
            })
            .collect()
    };
    let d = dovecot.doveadm(&["-f", "tab", "who", "-1"], None);
    let r = s.cli(&["who", "-1", "-f", "tab"]).stdout_ok("who -1");
    assert_eq!(fields(&r, 2), fields(&d, 2), "roost:\n{r}\ndoveadm:\n{d}");

    // kick: the same words on a terminal, the same goodbye to the clients.
    let d = on_tty("doveadm", &["-c", conf, "kick", "bob"]);
    let config = s.config.to_str().unwrap().to_string();
    let r = on_tty(BIN, &["kick", "bob", "-c", &config]);
    assert_eq!(r, d);
    assert_eq!(r, "kicked connections from the following users:\nbob \n");
    let (d, r) = (theirs.ask("READ 0 1"), ours.ask("READ 0 1"));
    assert_eq!(r, d);
    assert!(
        r.starts_with("b'-ERR [SYS/TEMP] Server shutting down.\\r\\n' then b''"),
        "{r}"
    );
    let d = on_tty("doveadm", &["-c", conf, "kick", "bob"]);
    let r = on_tty(BIN, &["kick", "bob", "-c", &config]);
    assert_eq!(
        (r.as_str(), d.as_str()),
        ("no users kicked\n", "no users kicked\n")
    );
}

/// Dovecot's doveadm on roost's base_dir (it reads roost's `anvil`); must succeed.
fn dovecot_doveadm(s: &Server, args: &[&str]) -> String {
    let (code, out, err) = s.dovecot_doveadm(args);
    assert_eq!(code, 0, "doveadm {args:?}: {err}");
    out
}

fn sorted_lines(s: &str) -> Vec<String> {
    let mut v: Vec<String> = s.lines().map(|l| l.trim_end().to_string()).collect();
    v.sort();
    v
}

#[test]
fn dovecots_doveadm_who_and_penalty_read_roosts_anvil() {
    let (s, port) = start("anvil-socket", "shutdown_clients = false\n");
    let _h = holder(port, &["bob:bobpw", "alice:alicepw", "bob:bobpw"]);
    // The same table, from anvil's socket (Dovecot's doveadm) and from roost's own command.
    for args in [
        &["who"][..],
        &["who", "-1"],
        &["who", "bob"],
        &["who", "-1", "127.0.0.0/8"],
    ] {
        let dovecots = dovecot_doveadm(&s, args);
        let ours = s.cli(args).stdout_ok("roost who");
        assert_eq!(sorted_lines(&dovecots), sorted_lines(&ours), "{args:?}");
        assert!(dovecots.contains("bob"), "{args:?}: {dovecots}");
    }
    // Two failed logins from 127.0.0.1 (different passwords): a penalty for the IP.
    let script = format!(
        "import poplib\nfor pw in ['x1', 'x2']:\n    p = poplib.POP3('127.0.0.1', {port})\n    \
p.user('bob')\n    try:\n        p.pass_(pw)\n    except poplib.error_proto:\n        pass\n"
    );
    let r = Command::new("python3")
        .args(["-c", &script])
        .output()
        .expect("python3 runs");
    assert!(r.status.success(), "{}", String::from_utf8_lossy(&r.stderr));
    let dovecots = dovecot_doveadm(&s, &["penalty"]);
    let ours = s.cli(&["penalty"]).stdout_ok("roost penalty");
    assert_eq!(dovecots, ours);
    let row: Vec<&str> = dovecots
        .lines()
        .nth(1)
        .unwrap_or("")
        .split_whitespace()
        .collect();
    assert_eq!(row.first(), Some(&"127.0.0.1"), "{dovecots}");
    let penalty: u32 = row[1].parse().unwrap();
    assert!(penalty >= 1, "{dovecots}");
    assert_eq!(
        dovecot_doveadm(&s, &["penalty", "10.0.0.0/8"])
            .lines()
            .count(),
        1
    );

    // The socket answers queries only: an update is refused, logged and the connection closed.
    use std::io::{Read, Write};
    let mut c = std::os::unix::net::UnixStream::connect(s.base_dir.join("anvil")).unwrap();
    c.set_read_timeout(Some(LONG)).unwrap();
    c.write_all(
        b"VERSION\tanvil\t1\t0\nLOOKUP\tpop3/127.0.0.1/bob\nCONNECT\t1\tpop3/127.0.0.1/eve\n",
    )
    .unwrap();
    let mut got = String::new();
    c.read_to_string(&mut got).unwrap();
    assert_eq!(got, "2\n");
    assert!(
        s.wait_log("anvil: Error: Anvil client input error: CONNECT", LONG),
        "{}",
        s.log_text()
    );
    assert!(!s.cli(&["who"]).stdout.contains("eve"));
}
