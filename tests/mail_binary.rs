//! The mail flow through the real `roost serve` binary, real auth (passwd-file) and real
//! clients: swaks and Python's smtplib.LMTP deliver over LMTP (one reply per recipient, an
//! unknown recipient refused), Python's poplib and curl (pop3://, STLS, pop3s://) read the
//! exact bytes through pop3-login → pop3, UIDLs follow the uidlist, and the metrics count it.

mod common;

use std::path::Path;
use std::process::Command;

use common::*;

struct Mail {
    server: Server,
    mail: std::path::PathBuf,
    lmtp: u16,
    pop3: u16,
    pop3s: u16,
}

fn start(tag: &str) -> Mail {
    let launch = Launch::new(tag);
    let users = launch.dir().write(
        "users",
        "bob:{PLAIN}bobpw:1000:1000::/nonexistent\nalice:{PLAIN}alicepw:1000:1000::/nonexistent\n",
    );
    let mail = launch.dir().join("mail");
    let (lmtp, pop3, pop3s) = (free_port(), free_port(), free_port());
    let extra = format!(
        "protocols = [\"lmtp\", \"pop3\"]\nmail_location = \"maildir:{m}/%n\"\n\
hostname = \"mx.roost.test\"\nauth_mechanisms = \"plain login\"\n\
disable_plaintext_auth = \"no\"\n\n\
[[passdb]]\ndriver = \"passwd-file\"\nargs = \"{u}\"\n\n\
[[userdb]]\ndriver = \"passwd-file\"\nargs = \"{u}\"\n\n\
[service.lmtp.inet_listener.lmtp]\nport = {lmtp}\n\n\
[service.pop3-login.inet_listener.pop3]\nport = {pop3}\n\n\
[service.pop3-login.inet_listener.pop3s]\nport = {pop3s}\nssl = true\n",
        m = mail.display(),
        u = users.display()
    );
    let server = launch.config(&extra).start();
    Mail {
        server,
        mail,
        lmtp,
        pop3,
        pop3s,
    }
}

fn run_ok(cmd: &mut Command, what: &str) -> String {
    run(cmd).stdout_ok(what)
}

fn files(dir: &Path) -> usize {
    ["new", "cur"]
        .iter()
        .map(|d| {
            std::fs::read_dir(dir.join(d))
                .map(|r| r.count())
                .unwrap_or(0)
        })
        .sum()
}

const SMTPLIB: &str = r#"
import smtplib, sys
c = smtplib.LMTP("127.0.0.1", int(sys.argv[1]))
c.ehlo_or_helo_if_needed()
c.docmd("MAIL FROM:<sender@example.org>")
for r in ["bob", "nobody-here", "alice"]:
    print(c.docmd("RCPT TO:<%s>" % r)[0])
c.docmd("DATA")
c.send(b"Subject: to two\r\n\r\nhello both\r\n..dot\r\n.\r\n")
print(c.getreply()[0], c.getreply()[0])
c.quit()
"#;

const POPLIB: &str = r#"
import poplib, sys
p = poplib.POP3("127.0.0.1", int(sys.argv[1]))
print(p.getwelcome().decode())
p.user("bob"); print(p.pass_("bobpw").decode())
print(p.stat()[0])
print(" ".join(u.decode().split()[1] for u in p.uidl()[1]))
for i in range(1, p.stat()[0] + 1):
    print(repr(b"\r\n".join(p.retr(i)[1])))
print(p.quit().decode())
"#;

#[test]
fn lmtp_and_pop3_through_the_binary_with_real_clients() {
    let m = start("mailflow");
    // smtplib: two known recipients, one unknown; one reply per accepted recipient.
    let out = run_ok(
        Command::new("python3").args(["-c", SMTPLIB, &m.lmtp.to_string()]),
        "python3",
    );
    assert_eq!(out, "250\n550\n250\n250 250\n");
    // swaks: one recipient.
    let out = run_ok(
        Command::new("swaks").args([
            "--protocol",
            "LMTP",
            "--server",
            &format!("127.0.0.1:{}", m.lmtp),
            "--from",
            "s@example.org",
            "--to",
            "bob",
            "--header",
            "Subject: from swaks",
            "--body",
            "swaks body",
        ]),
        "swaks",
    );
    assert!(out.contains("<-  250 2.0.0 <bob> "), "{out}");
    assert_eq!(files(&m.mail.join("bob")), 2);
    assert_eq!(files(&m.mail.join("alice")), 1);

    // poplib through pop3-login → pop3: exact bytes, UIDLs from the uidlist.
    let out = run_ok(
        Command::new("python3").args(["-c", POPLIB, &m.pop3.to_string()]),
        "python3",
    );
    let lines: Vec<&str> = out.lines().collect();
    assert_eq!(lines[0], "+OK Dovecot ready.");
    assert_eq!(lines[1], "+OK Logged in.");
    assert_eq!(lines[2], "2");
    let uidlist = std::fs::read_to_string(m.mail.join("bob/dovecot-uidlist")).unwrap();
    let uv: u32 = uidlist
        .split_whitespace()
        .find_map(|w| w.strip_prefix('V'))
        .unwrap()
        .parse()
        .unwrap();
    assert_eq!(lines[3], format!("00000001{uv:08x} 00000002{uv:08x}"));
    // Message 1 went to two recipients: no Delivered-To; the dot was unstuffed.
    assert!(lines[4].starts_with("b'Return-Path: <sender@example.org>\\r\\nReceived: from "));
    assert!(!lines[4].contains("Delivered-To"), "{}", lines[4]);
    assert!(
        lines[4].ends_with(r"\r\nSubject: to two\r\n\r\nhello both\r\n.dot'"),
        "{}",
        lines[4]
    );
    // Message 2 (swaks) had one recipient.
    assert!(lines[5].contains(r"Delivered-To: bob\r\n"), "{}", lines[5]);
    assert!(lines[5].contains(r"\tfor <bob>; "), "{}", lines[5]);
    assert_eq!(lines.last(), Some(&"+OK Logging out."));

    // curl: plain, STLS and implicit TLS retrieve the same bytes.
    let plain = run_ok(
        Command::new("curl").args(["-sS", &format!("pop3://bob:bobpw@127.0.0.1:{}/1", m.pop3)]),
        "curl",
    );
    let stls = run_ok(
        Command::new("curl").args([
            "-sS",
            "--ssl-reqd",
            "-k",
            &format!("pop3://bob:bobpw@127.0.0.1:{}/1", m.pop3),
        ]),
        "curl",
    );
    let implicit = run_ok(
        Command::new("curl").args([
            "-sS",
            "-k",
            &format!("pop3s://bob:bobpw@127.0.0.1:{}/1", m.pop3s),
        ]),
        "curl",
    );
    assert!(plain.starts_with("Return-Path: <"), "{plain}");
    assert_eq!(plain, stls);
    assert_eq!(plain, implicit);

    // Metrics.
    m.server.wait_metric(
        "roost_lmtp_deliveries_total",
        "result=\"ok\"",
        std::time::Duration::from_secs(5),
        |v| v == 3.0,
    );
    m.server.wait_metric(
        "roost_login_total",
        "result=\"success\",service=\"pop3-login\"",
        std::time::Duration::from_secs(5),
        |v| v >= 4.0,
    );
    m.server.wait_metric(
        "roost_pop3_commands_total",
        "command=\"RETR\"",
        std::time::Duration::from_secs(5),
        |v| v >= 5.0,
    );
}
