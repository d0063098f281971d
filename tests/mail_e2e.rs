//! End to end through the real binary, as the embedded default runs it: LMTP delivery with
//! swaks and Python's smtplib.LMTP (one reply per recipient, unknown user refused), then POP3
//! retrieval with Python's poplib and curl (plain, STLS, implicit TLS) of the exact bytes.

mod common;

use std::process::Command;

use common::Server;

struct Mail {
    server: Server,
    _data: common::TempDir,
    lmtp: u16,
    pop3: u16,
    pop3s: u16,
}

fn start(tag: &str) -> Mail {
    let (lmtp, pop3, pop3s) = (
        common::free_port(),
        common::free_port(),
        common::free_port(),
    );
    let dir = common::TempDir::new(&format!("{tag}-data"));
    let users = dir.0.join("users");
    std::fs::write(
        &users,
        "alice:{PLAIN}alicepw::::::\nbob:{SHA512-CRYPT}$6$A5zuJpy/BTc4b9XT$qN6vnFNmJ8Ppp6DXQ1IAx0R6o4y5cGpU9znkgcbnVro4ENR/tpfN7V6zpN0As/GkCpDh11tUoFixKQKfIi8nI0::::::\n",
    )
    .unwrap();
    let mail = dir.0.join("mail");
    let extra = format!(
        r#"protocols = ["pop3", "lmtp"]
mail_location = "maildir:{mail}/%u"
first_valid_uid = 0

[[passdb]]
driver = "passwd-file"
args = "{users}"

[[userdb]]
driver = "passwd-file"
args = "{users}"
default_fields = "home={mail}/%u"

[service.pop3-login.inet_listener.pop3]
port = {pop3}

[service.pop3-login.inet_listener.pop3s]
port = {pop3s}

[service.lmtp.inet_listener.lmtp]
port = {lmtp}
"#,
        mail = mail.display(),
        users = users.display(),
    );
    let server = Server::start(tag, &extra);
    Mail {
        server,
        _data: dir,
        lmtp,
        pop3,
        pop3s,
    }
}

fn python(script: &str) -> String {
    let out = Command::new("python3")
        .arg("-c")
        .arg(script)
        .output()
        .expect("python3");
    assert!(
        out.status.success(),
        "python failed:\n{}\n{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8_lossy(&out.stdout).into_owned()
}

#[test]
fn lmtp_delivers_per_recipient_and_pop3_returns_the_exact_bytes() {
    let m = start("e2e");
    // swaks: one recipient.
    let out = Command::new("swaks")
        .args(["--protocol", "LMTP", "--server"])
        .arg(format!("127.0.0.1:{}", m.lmtp))
        .args([
            "--from",
            "sender@example.org",
            "--to",
            "alice",
            "--body",
            "first message",
        ])
        .output()
        .expect("swaks must be installed");
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(out.status.success(), "{text}");
    assert!(text.contains("250 2.0.0 <alice>"), "{text}");

    // smtplib.LMTP: alice, an unknown user, bob; one reply per accepted recipient after DATA.
    let script = format!(
        r#"
import smtplib
s = smtplib.LMTP("127.0.0.1", {port})
s.ehlo_or_helo_if_needed()
print("lhlo", s.esmtp_features.get("pipelining") is not None)
s.mail("sender@example.org")
print("rcpt alice", s.rcpt("alice")[0])
code, msg = s.rcpt("nobody")
print("rcpt nobody", code, msg.decode())
print("rcpt bob", s.rcpt("bob")[0])
body = b"Subject: two\r\n\r\nline one\r\n.dot line\r\nend\r\n"
code, msg = s.data(body)
print("data", code)
code2, msg2 = s.getreply()
print("data2", code2)
s.quit()
"#,
        port = m.lmtp
    );
    let out = python(&script);
    assert!(out.contains("lhlo True"), "{out}");
    assert!(out.contains("rcpt alice 250"), "{out}");
    assert!(
        out.contains("rcpt nobody 550") && out.contains("5.1.1"),
        "{out}"
    );
    assert!(out.contains("rcpt bob 250"), "{out}");
    assert!(
        out.contains("data 250") && out.contains("data2 250"),
        "{out}"
    );

    // poplib as alice: two messages; the second ends with the exact body bytes.
    let script = format!(
        r#"
import poplib
p = poplib.POP3("127.0.0.1", {port})
p.user("alice"); p.pass_("alicepw")
count, size = p.stat()
print("stat", count)
resp, lines, octets = p.retr(2)
raw = b"\r\n".join(lines) + b"\r\n"
print("body-ok", raw.endswith(b"Subject: two\r\n\r\nline one\r\n.dot line\r\nend\r\n"))
print("has-return-path", raw.startswith(b"Return-Path: <sender@example.org>"))
print("uidl", p.uidl()[1])
p.quit()
"#,
        port = m.pop3
    );
    let out = python(&script);
    assert!(out.contains("stat 2"), "{out}");
    assert!(out.contains("body-ok True"), "{out}");
    assert!(out.contains("has-return-path True"), "{out}");

    // bob (SHA512-CRYPT password) over STLS with curl, then implicit TLS.
    for (url, extra) in [
        (format!("pop3://127.0.0.1:{}/", m.pop3), vec!["--ssl-reqd"]),
        (format!("pop3s://127.0.0.1:{}/", m.pop3s), vec![]),
    ] {
        let out = Command::new("curl")
            .args(["-sS", "-k", "--max-time", "10", "-u", "bob:pass"])
            .args(&extra)
            .arg(&url)
            .output()
            .expect("curl");
        let text = String::from_utf8_lossy(&out.stdout);
        assert!(
            out.status.success(),
            "{url}: {}",
            String::from_utf8_lossy(&out.stderr)
        );
        assert!(text.starts_with("1 "), "{url}: {text}");
        let out = Command::new("curl")
            .args(["-sS", "-k", "--max-time", "10", "-u", "bob:pass"])
            .args(&extra)
            .arg(format!("{url}1"))
            .output()
            .unwrap();
        let text = String::from_utf8_lossy(&out.stdout);
        assert!(text.contains(".dot line\r\nend"), "{url}: {text}");
    }
    // Wrong password: refused.
    let out = Command::new("curl")
        .args(["-sS", "-u", "bob:wrong", "--max-time", "10"])
        .arg(format!("pop3://127.0.0.1:{}/", m.pop3))
        .output()
        .unwrap();
    assert!(!out.status.success());
    assert!(
        m.server
            .metric("roost_service_connections_total", "service=\"lmtp\"")
            .unwrap_or(0.0)
            >= 2.0
    );
}
