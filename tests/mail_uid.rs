//! Mail written with the userdb's uid/gid (issue 10, point 3), on the real binary:
//!
//! * started as root (server dropped to `dovecot`), a passwd-file userdb giving two users uid/gid
//!   2001/2001 and 2002/2002 (numeric, no system entries): what LMTP delivers (both users in one
//!   transaction) and what a POP3 session touches (new/ → cur/, expunge, the uidlist) belongs to
//!   those uids, directories included; Dovecot's `doveadm`, dropping to those uids itself,
//!   fetches and expunges it; and the unprivileged server never has uid 0 or any capability
//!   while it serves;
//! * started as a non-root user, a delivery to another uid gets Dovecot's
//!   `451 4.3.0 <user> Temporary internal error` with a log line naming the uid problem, and a
//!   POP3 login a clear `-ERR`.
//!
//! * doveadm mail commands (roost's CLI and HTTP API) for those users run in mail helpers as
//!   their uids: what they create and rename is the user's, and Dovecot's doveadm sees it.
//!
//! Needs root and Dovecot (`dovecot`, `doveadm`).

mod common;

use std::fs;
use std::io::{BufRead, BufReader, Write};
use std::net::TcpStream;
use std::os::unix::fs::{MetadataExt, PermissionsExt};
use std::path::{Path, PathBuf};
use std::time::Duration;

use common::*;

fn is_root() -> bool {
    // SAFETY: plain getter.
    unsafe { libc::geteuid() == 0 }
}

struct Line {
    w: TcpStream,
    r: BufReader<TcpStream>,
}

impl Line {
    fn connect(port: u16) -> Line {
        let w = connect_port(port);
        w.set_read_timeout(Some(Duration::from_secs(30))).unwrap();
        let r = BufReader::new(w.try_clone().unwrap());
        Line { w, r }
    }
    fn line(&mut self) -> String {
        let mut l = String::new();
        self.r.read_line(&mut l).unwrap();
        l.trim_end().to_string()
    }
    fn send(&mut self, s: &str) {
        self.w.write_all(s.as_bytes()).unwrap();
    }
    fn cmd(&mut self, s: &str) -> String {
        self.send(&format!("{s}\r\n"));
        self.line()
    }
    /// A multi-line POP3 reply (status line first, then up to the lone dot).
    fn multi(&mut self, s: &str) -> Vec<String> {
        let mut v = vec![self.cmd(s)];
        if v[0].starts_with("+OK") {
            loop {
                let l = self.line();
                if l == "." {
                    break;
                }
                v.push(l);
            }
        }
        v
    }
}

/// One LMTP transaction to `rcpts`; the per-recipient DATA replies.
fn lmtp(port: u16, rcpts: &[&str], body: &str) -> (Vec<String>, Vec<String>) {
    let mut c = Line::connect(port);
    assert!(c.line().starts_with("220"));
    c.send("LHLO test\r\n");
    while c.line().starts_with("250-") {}
    assert!(c.cmd("MAIL FROM:<s@example.org>").starts_with("250"));
    let rcpt: Vec<String> = rcpts
        .iter()
        .map(|r| c.cmd(&format!("RCPT TO:<{r}>")))
        .collect();
    assert!(c.cmd("DATA").starts_with("354"));
    c.send(&format!("Subject: {body}\r\n\r\n{body}\r\n.\r\n"));
    let data = rcpt
        .iter()
        .filter(|r| r.starts_with("250"))
        .map(|_| c.line())
        .collect();
    c.cmd("QUIT");
    (rcpt, data)
}

fn status(pid: i32, key: &str) -> String {
    fs::read_to_string(format!("/proc/{pid}/status"))
        .unwrap()
        .lines()
        .find_map(|l| l.strip_prefix(key).map(|v| v.trim().to_string()))
        .unwrap_or_default()
}

/// Every file and directory under `dir` (itself included) with its uid:gid.
fn owners(dir: &Path, out: &mut Vec<(PathBuf, u32, u32)>) {
    let m = fs::symlink_metadata(dir).unwrap();
    out.push((dir.to_path_buf(), m.uid(), m.gid()));
    if m.is_dir() {
        for e in fs::read_dir(dir).unwrap().flatten() {
            owners(&e.path(), out);
        }
    }
}

fn assert_owned(dir: &Path, uid: u32) {
    let mut all = Vec::new();
    owners(dir, &mut all);
    let names: Vec<String> = all
        .iter()
        .map(|(p, _, _)| p.strip_prefix(dir).unwrap().display().to_string())
        .collect();
    for want in [
        "new",
        "cur",
        "tmp",
        "dovecot-uidlist",
        "dovecot-uidvalidity",
    ] {
        assert!(
            names.iter().any(|n| n == want),
            "{want} missing in {names:?}"
        );
    }
    for (p, u, g) in &all {
        assert_eq!((*u, *g), (uid, uid), "{} is {u}:{g}", p.display());
    }
}

/// A launch whose users file gives u1/u2 uids 2001/2002 and whose `mail` directory both uids
/// may create their Maildirs in (mode 1777), as under Dovecot.
fn shared_mail(tag: &str) -> (Launch, PathBuf, PathBuf) {
    let launch = Launch::new(tag);
    fs::set_permissions(launch.dir().path(), fs::Permissions::from_mode(0o755)).unwrap();
    let users = launch.dir().write("users", USERS);
    fs::set_permissions(&users, fs::Permissions::from_mode(0o644)).unwrap();
    let mail = launch.dir().join("mail");
    fs::create_dir_all(&mail).unwrap();
    fs::set_permissions(&mail, fs::Permissions::from_mode(0o1777)).unwrap();
    (launch, users, mail)
}

/// Waits until the server (started as root) has dropped to `default_internal_user`.
fn wait_dropped(server: &Server) {
    assert!(
        server.wait_log(
            "dropped privileges to default_internal_user",
            Duration::from_secs(15)
        ),
        "{}",
        server.log_text()
    );
}

/// A throw-away Dovecot (no listeners) for doveadm on the same users, uids and Maildirs.
fn dovecot(dir: &Path, users: &Path, mail: &Path) -> Dovecot {
    let d = dir.join("dovecot");
    fs::create_dir_all(&d).unwrap();
    let body = format!(
        "protocols = \nmail_location = maildir:{m}/%n\n\
first_valid_uid = 1\nfirst_valid_gid = 1\n\
passdb {{\n  driver = passwd-file\n  args = {u}\n}}\n\
userdb {{\n  driver = passwd-file\n  args = {u}\n}}\n",
        m = mail.display(),
        u = users.display()
    );
    Dovecot::start_custom(&d, &body)
}

const USERS: &str =
    "u1:{PLAIN}pw1:2001:2001::/nonexistent\nu2:{PLAIN}pw2:2002:2002::/nonexistent\n";

fn config(users: &Path, mail: &Path, lmtp: u16, pop3: u16, internal: &str) -> String {
    format!(
        "{internal}protocols = [\"lmtp\", \"pop3\"]\nmail_location = \"maildir:{m}/%n\"\n\
hostname = \"mx.roost.test\"\ndisable_plaintext_auth = \"no\"\nfirst_valid_uid = 1000\n\
pop3_lock_session = true\n\n\
[[passdb]]\ndriver = \"passwd-file\"\nargs = \"{u}\"\n\n\
[[userdb]]\ndriver = \"passwd-file\"\nargs = \"{u}\"\n\n\
[service.lmtp.inet_listener.lmtp]\nport = {lmtp}\n\n\
[service.pop3-login.inet_listener.pop3]\nport = {pop3}\n\n\
[service.pop3-login.inet_listener.pop3s]\nport = 0\n",
        m = mail.display(),
        u = users.display()
    )
}

#[test]
fn mail_belongs_to_the_userdb_uid_and_dovecot_manages_it() {
    assert!(is_root(), "this test needs root");
    let (launch, users, mail) = shared_mail("mailuid");
    let (lmtp_port, pop3_port) = (free_port(), free_port());
    let server = launch
        .config(&config(
            &users,
            &mail,
            lmtp_port,
            pop3_port,
            "default_internal_user = \"dovecot\"\n",
        ))
        .start();
    wait_dropped(&server);

    // One transaction, two uids; then two more for u1.
    let (rcpt, data) = lmtp(lmtp_port, &["u1", "u2"], "first");
    assert!(rcpt.iter().all(|r| r.starts_with("250")), "{rcpt:?}");
    assert!(
        data.iter().all(|r| r.starts_with("250 2.0.0")),
        "{data:?}\n{}",
        server.log_text()
    );
    for body in ["second", "third"] {
        let (_, data) = lmtp(lmtp_port, &["u1"], body);
        assert!(data[0].starts_with("250 2.0.0"), "{data:?}");
    }
    assert_owned(&mail.join("u1"), 2001);
    assert_owned(&mail.join("u2"), 2002);

    // POP3 as u1: read 1 (→ cur/ with \Seen), delete 2, and look at the server meanwhile.
    let mut p = Line::connect(pop3_port);
    assert!(p.line().starts_with("+OK"));
    assert!(p.cmd("USER u1").starts_with("+OK"));
    assert_eq!(p.cmd("PASS pw1"), "+OK Logged in.", "{}", server.log_text());
    assert_eq!(p.cmd("STAT").split(' ').nth(1), Some("3"));
    let retr = p.multi("RETR 1");
    assert!(retr.iter().any(|l| l == "first"), "{retr:?}");
    assert!(p.cmd("DELE 2").starts_with("+OK"));
    let pid = server.pid();
    for key in ["Uid:", "Gid:"] {
        let ids = status(pid, key);
        assert!(
            ids.split_whitespace().all(|i| i != "0"),
            "server {key} {ids} while serving"
        );
    }
    for key in ["CapEff:", "CapPrm:", "CapInh:", "CapAmb:"] {
        assert_eq!(status(pid, key), "0000000000000000", "server {key}");
    }
    let dovecot_uid = nix::unistd::User::from_name("dovecot")
        .unwrap()
        .unwrap()
        .uid
        .to_string();
    assert!(status(pid, "Uid:")
        .split_whitespace()
        .all(|i| i == dovecot_uid));
    // The session's INBOX is held by a mail helper running as 2001:2001, without capabilities.
    let helpers: Vec<i32> = fs::read_dir("/proc")
        .unwrap()
        .flatten()
        .filter_map(|e| e.file_name().to_string_lossy().parse::<i32>().ok())
        .filter(|pid| {
            let cmd = fs::read(format!("/proc/{pid}/cmdline")).unwrap_or_default();
            let cmd = String::from_utf8_lossy(&cmd);
            cmd.contains("kind=mail") && cmd.contains("user=2001\tgroup=2001")
        })
        .collect();
    assert!(!helpers.is_empty(), "no mail helper for uid 2001");
    for h in helpers {
        assert_eq!(status(h, "Uid:"), "2001\t2001\t2001\t2001");
        assert_eq!(status(h, "Gid:"), "2001\t2001\t2001\t2001");
        assert_eq!(status(h, "Groups:"), "2001");
        assert_eq!(status(h, "CapEff:"), "0000000000000000");
        assert_eq!(status(h, "NoNewPrivs:"), "1");
    }
    assert!(p
        .cmd("QUIT")
        .starts_with("+OK Logging out, messages deleted."));
    assert_owned(&mail.join("u1"), 2001);
    let cur: Vec<String> = fs::read_dir(mail.join("u1/cur"))
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .collect();
    // The session moved new/ to cur/ (as Dovecot's pop3); only message 1 is \Seen.
    assert_eq!(cur.len(), 2, "{cur:?}");
    assert_eq!(
        cur.iter().filter(|n| n.ends_with(":2,S")).count(),
        1,
        "{cur:?}"
    );

    // Dovecot, as those uids, reads and expunges what roost wrote.
    let dovecot = dovecot(server.path(), &users, &mail);
    let f = dovecot.doveadm(
        &["fetch", "-u", "u1", "uid flags", "mailbox", "INBOX", "all"],
        None,
    );
    let words: Vec<&str> = f.split_whitespace().collect();
    assert_eq!(
        // Dovecot may report 3 \Recent (its first look at it).
        words[..7],
        ["uid:", "1", "flags:", "\\Seen", "uid:", "3", "flags:"],
        "{f}"
    );
    assert!(!words[7..].contains(&"\\Seen"), "{f}");
    let t = dovecot.doveadm(
        &["fetch", "-u", "u2", "text", "mailbox", "INBOX", "all"],
        None,
    );
    assert!(t.contains("Subject: first"), "{t}");
    dovecot.doveadm(
        &["expunge", "-u", "u1", "mailbox", "INBOX", "uid", "1"],
        None,
    );
    dovecot.doveadm(&["expunge", "-u", "u2", "mailbox", "INBOX", "all"], None);
    let f = dovecot.doveadm(
        &["fetch", "-u", "u1", "uid", "mailbox", "INBOX", "all"],
        None,
    );
    assert_eq!(
        f.split_whitespace().collect::<Vec<_>>(),
        ["uid:", "3"],
        "{f}"
    );
    assert_eq!(fs::read_dir(mail.join("u2/new")).unwrap().count(), 0);
    assert_eq!(fs::read_dir(mail.join("u2/cur")).unwrap().count(), 0);
    // Roost still serves the store Dovecot changed, as the same uid.
    let (_, data) = lmtp(lmtp_port, &["u2"], "after dovecot");
    assert!(data[0].starts_with("250 2.0.0"), "{data:?}");
    assert_owned(&mail.join("u2"), 2002);
}

#[test]
fn without_root_another_uid_is_a_clear_temporary_failure() {
    assert!(is_root(), "this test needs root (to start roost as nobody)");
    let nobody = nix::unistd::User::from_name("nobody").unwrap().unwrap();
    let launch = Launch::new("mailuid-noroot");
    let users = launch.dir().write("users", USERS);
    fs::set_permissions(&users, fs::Permissions::from_mode(0o644)).unwrap();
    let mail = launch.dir().join("mail");
    let (lmtp_port, pop3_port) = (free_port(), free_port());
    let server = launch
        .config(&config(&users, &mail, lmtp_port, pop3_port, ""))
        .run_as(nobody.uid.as_raw(), nobody.gid.as_raw())
        .start();
    let (rcpt, data) = lmtp(lmtp_port, &["u1"], "refused");
    assert!(rcpt[0].starts_with("250"), "{rcpt:?}");
    assert_eq!(data, ["451 4.3.0 <u1> Temporary internal error"]);
    assert!(
        server.wait_log(
            "cannot access mail as uid 2001 gid 2001",
            Duration::from_secs(5)
        ),
        "{}",
        server.log_text()
    );
    assert!(
        !mail.join("u1").exists(),
        "nothing may be written as nobody"
    );
    let mut p = Line::connect(pop3_port);
    assert!(p.line().starts_with("+OK"));
    assert!(p.cmd("USER u2").starts_with("+OK"));
    let reply = p.cmd("PASS pw2");
    assert_eq!(
        reply,
        "-ERR [SYS/TEMP] Internal error occurred. Refer to server log for more information."
    );
    assert!(
        server.wait_log(
            "cannot access mail as uid 2002 gid 2002",
            Duration::from_secs(5)
        ),
        "{}",
        server.log_text()
    );
}

impl Line {
    /// One IMAP command: the lines up to and including the tagged reply.
    fn imap(&mut self, tag: &str, cmd: &str) -> Vec<String> {
        self.send(&format!("{tag} {cmd}\r\n"));
        let mut v = Vec::new();
        loop {
            let l = self.line();
            assert!(!l.is_empty(), "connection closed after {v:?}");
            let done = l.starts_with(&format!("{tag} "));
            v.push(l);
            if done {
                return v;
            }
        }
    }
    /// APPEND with a synchronising literal.
    fn append(&mut self, tag: &str, mailbox: &str, flags: &str, msg: &str) -> Vec<String> {
        self.send(&format!(
            "{tag} APPEND {mailbox} ({flags}) {{{}}}\r\n",
            msg.len()
        ));
        let cont = self.line();
        assert!(cont.starts_with("+ "), "{cont}");
        self.send(&format!("{msg}\r\n"));
        let mut v = Vec::new();
        loop {
            let l = self.line();
            let done = l.starts_with(&format!("{tag} "));
            v.push(l);
            if done {
                return v;
            }
        }
    }
}

fn ok(reply: &[String]) -> &str {
    let last = reply.last().expect("a reply");
    assert!(last.split(' ').nth(1) == Some("OK"), "{reply:?}");
    last
}

/// Every file and directory under `dir` belongs to `uid` (the folder's too).
fn assert_all_owned(dir: &Path, uid: u32) {
    let mut all = Vec::new();
    owners(dir, &mut all);
    for (p, u, g) in &all {
        assert_eq!((*u, *g), (uid, uid), "{} is {u}:{g}", p.display());
    }
}

#[test]
fn imap_sessions_work_as_the_userdb_uid_and_dovecot_reads_the_result() {
    assert!(is_root(), "this test needs root");
    let (launch, users, mail) = shared_mail("mailuid-imap");
    let (lmtp_port, pop3_port, imap_port) = (free_port(), free_port(), free_port());
    let conf = config(
        &users,
        &mail,
        lmtp_port,
        pop3_port,
        "default_internal_user = \"dovecot\"\n",
    )
    .replace(
        "protocols = [\"lmtp\", \"pop3\"]",
        "protocols = [\"lmtp\", \"pop3\", \"imap\"]",
    );
    let conf = format!(
        "{conf}\n[service.imap-login.inet_listener.imap]\nport = {imap_port}\n\n\
[service.imap-login.inet_listener.imaps]\nport = 0\n"
    );
    let server = launch.config(&conf).start();
    wait_dropped(&server);
    // A delivery first, so INBOX exists as the uid's (and a message to copy).
    for u in ["u1", "u2"] {
        let (_, data) = lmtp(lmtp_port, &[u], "delivered");
        assert!(data[0].starts_with("250 2.0.0"), "{data:?}");
    }
    for (user, pass, uid) in [("u1", "pw1", 2001u32), ("u2", "pw2", 2002)] {
        let mut c = Line::connect(imap_port);
        assert!(c.line().starts_with("* OK [CAPABILITY"));
        let login = c.imap("a", &format!("LOGIN {user} {pass}"));
        assert!(
            login
                .last()
                .unwrap()
                .starts_with("a OK [CAPABILITY IMAP4rev1"),
            "{login:?}\n{}",
            server.log_text()
        );
        let app = c.append(
            "b",
            "INBOX",
            "\\Flagged",
            "Subject: appended\r\n\r\nby imap\r\n",
        );
        assert!(ok(&app).contains("[APPENDUID "), "{app:?}");
        ok(&c.imap("c", "CREATE Archive"));
        ok(&c.imap("d", "SUBSCRIBE Archive"));
        let sel = c.imap("e", "SELECT INBOX");
        assert!(sel.iter().any(|l| l == "* 2 EXISTS"), "{sel:?}");
        let st = c.imap("f", "STORE 1 +FLAGS (\\Seen $Work)");
        assert!(
            st[0].contains("\\Seen") && st[0].contains("$Work"),
            "{st:?}"
        );
        ok(&c.imap("g", "COPY 1:2 Archive"));
        ok(&c.imap("h", "STORE 2 +FLAGS.SILENT (\\Deleted)"));
        let ex = c.imap("i", "EXPUNGE");
        assert_eq!(ex[0], "* 2 EXPUNGE", "{ex:?}");
        // The session runs in a mail helper with the user's uid and no capabilities.
        let helpers: Vec<i32> = fs::read_dir("/proc")
            .unwrap()
            .flatten()
            .filter_map(|e| e.file_name().to_string_lossy().parse::<i32>().ok())
            .filter(|pid| {
                let cmd = fs::read(format!("/proc/{pid}/cmdline")).unwrap_or_default();
                let cmd = String::from_utf8_lossy(&cmd);
                cmd.contains("kind=mail") && cmd.contains(&format!("user={uid}\tgroup={uid}"))
            })
            .collect();
        assert!(!helpers.is_empty(), "no mail helper for uid {uid}");
        for h in helpers {
            assert_eq!(status(h, "Uid:"), format!("{uid}\t{uid}\t{uid}\t{uid}"));
            assert_eq!(status(h, "CapEff:"), "0000000000000000");
        }
        let out = c.imap("j", "LOGOUT");
        assert_eq!(out[0], "* BYE Logging out");
        ok(&out);
        let dir = mail.join(user);
        assert_all_owned(&dir, uid);
        assert!(dir.join(".Archive/cur").is_dir() || dir.join(".Archive/new").is_dir());
        assert!(dir.join("subscriptions").exists());
        assert!(dir.join("dovecot-keywords").exists());
        // The server logs Dovecot's Disconnected line with the session's counters.
        assert!(
            server.wait_log(&format!("imap({user})<"), Duration::from_secs(5)),
            "{}",
            server.log_text()
        );
    }
    // The sessions' metrics came back from the helpers.
    assert!(
        server
            .metric(
                "roost_imap_commands_total",
                "command=\"APPEND\",result=\"ok\""
            )
            .unwrap_or(0.0)
            >= 2.0,
        "{}",
        server.scrape()
    );
    assert!(
        server
            .metric("roost_imap_bytes_sent_total", "")
            .unwrap_or(0.0)
            > 0.0
    );
    // `roost kick` reaches a session running in a helper: Dovecot's goodbye and log line.
    let mut c = Line::connect(imap_port);
    c.line();
    ok(&c.imap("a", "LOGIN u1 pw1"));
    ok(&c.imap("b", "SELECT Archive"));
    let kicked = server.cli(&["kick", "u1"]);
    assert!(kicked.all().contains("u1"), "{}", kicked.all());
    assert_eq!(c.line(), "* BYE Server shutting down.");
    assert!(
        server.wait_log(
            "Disconnected: Server shutting down.",
            Duration::from_secs(5)
        ),
        "{}",
        server.log_text()
    );
    // A reload (shutdown_clients = yes, Dovecot's default) reaches a helper's session too.
    let mut c = Line::connect(imap_port);
    c.line();
    ok(&c.imap("a", "LOGIN u2 pw2"));
    ok(&c.imap("b", "SELECT INBOX"));
    let reloaded = server.cli(&["reload"]);
    assert!(reloaded.ok, "{}", reloaded.all());
    assert_eq!(c.line(), "* BYE Server shutting down.");
    let log = server.log_text();
    for user in ["u1", "u2"] {
        let line = log
            .lines()
            .find(|l| {
                l.contains(&format!("imap({user})<")) && l.contains("Disconnected: Logged out")
            })
            .unwrap_or_else(|| panic!("no logout line for {user}:\n{log}"));
        assert!(
            line.contains(" deleted=1 expunged=1 trashed=0 hdr_count=0"),
            "{line}"
        );
    }

    // Dovecot, as those uids, reads back what the IMAP sessions did.
    let dovecot = dovecot(server.path(), &users, &mail);
    for user in ["u1", "u2"] {
        let f = dovecot.doveadm(
            &["fetch", "-u", user, "flags", "mailbox", "INBOX", "all"],
            None,
        );
        let lines: Vec<&str> = f.lines().filter(|l| l.starts_with("flags:")).collect();
        assert_eq!(lines.len(), 1, "{f}");
        assert!(
            lines[0].contains("\\Seen") && lines[0].contains("$Work"),
            "{f}"
        );
        let a = dovecot.doveadm(
            &[
                "fetch",
                "-u",
                user,
                "flags text",
                "mailbox",
                "Archive",
                "all",
            ],
            None,
        );
        assert!(
            a.contains("Subject: delivered") && a.contains("Subject: appended"),
            "{a}"
        );
        assert!(a.contains("\\Flagged"), "{a}");
        let l = dovecot.doveadm(&["mailbox", "list", "-s", "-u", user], None);
        assert!(l.lines().any(|n| n == "Archive"), "{l}");
    }
}

/// An HTTP API request to roost's doveadm (`doveadm:secret`); the parsed answer.
fn doveadm_api(port: u16, body: &str) -> serde_json::Value {
    let out = std::process::Command::new("curl")
        .args(["-s", "-m", "60", "-u", "doveadm:secret"])
        .args(["-H", "Content-Type: application/json", "-d", body])
        .arg(format!("http://127.0.0.1:{port}/doveadm/v1"))
        .output()
        .expect("curl must be installed");
    serde_json::from_slice(&out.stdout)
        .unwrap_or_else(|e| panic!("{e}: {}", String::from_utf8_lossy(&out.stdout)))
}

#[test]
fn doveadm_mail_commands_run_as_the_userdb_uid() {
    assert!(is_root(), "this test needs root");
    let (launch, users, mail) = shared_mail("mailuid-doveadm");
    let (lmtp_port, pop3_port, http) = (free_port(), free_port(), free_port());
    let conf = config(
        &users,
        &mail,
        lmtp_port,
        pop3_port,
        "default_internal_user = \"dovecot\"\ndoveadm_password = \"secret\"\n",
    );
    let conf = format!("{conf}\n[service.doveadm.inet_listener.http]\nport = {http}\n");
    let server = launch.config(&conf).ready_on(&[http]).start();
    wait_dropped(&server);
    for (rcpts, body) in [(&["u1", "u2"][..], "first"), (&["u1"][..], "second")] {
        let (_, data) = lmtp(lmtp_port, rcpts, body);
        assert!(data.iter().all(|r| r.starts_with("250 2.0.0")), "{data:?}");
    }
    // Each user's Maildir is its uid's alone: the server (uid dovecot) cannot enter it.
    for u in ["u1", "u2"] {
        fs::set_permissions(mail.join(u), fs::Permissions::from_mode(0o700)).unwrap();
    }

    // The CLI (root, over the doveadm-server socket) and the HTTP API.
    let r = server.cli(&["doveadm", "mailbox", "create", "-u", "u1", "Archive"]);
    assert!(r.ok, "{}\n{}", r.all(), server.log_text());
    let answer = doveadm_api(
        http,
        r#"[["flagsAdd",{"user":"u1","flag":["\\Seen","$Work"],"query":["mailbox","INBOX","uid","1"]},"f"],
["fetch",{"user":"u1","field":["uid","flags","hdr.subject"],"query":["mailbox","INBOX","all"]},"x"],
["mailboxStatus",{"allUsers":true,"field":["messages","unseen"],"mailboxMask":["*"]},"s"],
["search",{"user":"u2","query":["mailbox","INBOX","all"]},"q"],
["expunge",{"user":"u2","query":["mailbox","INBOX","all"]},"e"],
["quotaGet",{"user":"u1"},"g"],
["mailboxList",{"user":"u1"},"l"],
["mailboxDelete",{"user":"u1","mailbox":["Nope"]},"d"]]"#,
    );
    let tags: Vec<&str> = answer
        .as_array()
        .unwrap()
        .iter()
        .map(|e| e[2].as_str().unwrap())
        .collect();
    assert_eq!(tags, ["f", "x", "s", "q", "e", "g", "l", "d"], "{answer}");
    let by = |tag: &str| {
        answer
            .as_array()
            .unwrap()
            .iter()
            .find(|e| e[2] == tag)
            .unwrap()
            .clone()
    };
    for t in ["f", "e"] {
        assert_eq!(
            by(t),
            serde_json::json!(["doveadmResponse", [], t]),
            "{answer}"
        );
    }
    assert_eq!(
        by("x")[1],
        serde_json::json!([
            {"uid": "1", "flags": "\\Seen \\Recent $Work", "hdr.subject": "first"},
            {"uid": "2", "flags": "\\Recent", "hdr.subject": "second"}
        ]),
        "{answer}\n{}",
        server.log_text()
    );
    assert_eq!(
        by("s")[1],
        serde_json::json!([
            {"mailbox": "Archive", "messages": "0", "unseen": "0"},
            {"mailbox": "INBOX", "messages": "2", "unseen": "1"},
            {"mailbox": "INBOX", "messages": "1", "unseen": "1"}
        ]),
        "{answer}"
    );
    assert_eq!(by("q")[1].as_array().map(Vec::len), Some(1), "{answer}");
    assert_eq!(by("g")[1][1]["value"], "2", "{answer}");
    assert_eq!(
        by("l")[1],
        serde_json::json!([{"mailbox": "Archive"}, {"mailbox": "INBOX"}]),
        "{answer}"
    );
    assert_eq!(
        by("d"),
        serde_json::json!(["error", {"type": "exitCode", "exitCode": 68}, "d"]),
        "{answer}"
    );
    // Everything the commands wrote (the new folder, dovecot-keywords, renamed files) belongs
    // to the user's uid.
    assert!(mail.join("u1/.Archive/cur").is_dir());
    assert!(mail.join("u1/dovecot-keywords").exists());
    assert_owned(&mail.join("u1"), 2001);
    assert_owned(&mail.join("u2"), 2002);

    // Dovecot's doveadm, as those uids, sees the same mail.
    let dovecot = dovecot(server.path(), &users, &mail);
    let f = dovecot.doveadm(
        &["fetch", "-u", "u1", "uid flags", "mailbox", "INBOX", "all"],
        None,
    );
    let flags: Vec<&str> = f.lines().filter(|l| l.starts_with("flags:")).collect();
    assert_eq!(flags.len(), 2, "{f}");
    assert!(
        flags[0].contains("\\Seen") && flags[0].contains("$Work"),
        "{f}"
    );
    assert!(!flags[1].contains("\\Seen"), "{f}");
    let l = dovecot.doveadm(&["mailbox", "list", "-u", "u1"], None);
    assert!(l.lines().any(|n| n == "Archive"), "{l}");
    let n = dovecot.doveadm(&["search", "-u", "u2", "mailbox", "INBOX", "all"], None);
    assert_eq!(n.trim(), "", "u2's INBOX was expunged: {n}");
}
