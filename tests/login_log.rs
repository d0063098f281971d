//! The line a login service logs when a client leaves without logging in, in Dovecot 2.3's
//! words (checked against the reference instance: `Disconnected: Connection closed (auth
//! failed, 1 attempts in 3 secs): user=<user1@example.test>, method=PLAIN, rip=127.0.0.1,
//! lip=127.0.0.1, secured, session=<…>`), so fail2ban filters written for Dovecot see the
//! client address of every failed login.

mod common;

use std::io::{Read, Write};
use std::net::TcpStream;
use std::time::Duration;

use common::{free_port, Server, TempDir};

fn start() -> (Server, TempDir, u16) {
    let dir = TempDir::new("loginlog");
    let users = dir.0.join("users");
    std::fs::write(&users, "bob:{PLAIN}bobpw:1000:1000::/nonexistent\n").unwrap();
    let pop3 = free_port();
    let extra = format!(
        "protocols = [\"pop3\"]\nmail_location = \"maildir:{m}/%n\"\n\
auth_mechanisms = \"plain\"\ndisable_plaintext_auth = \"no\"\nauth_failure_delay = \"0\"\n\n\
[[passdb]]\ndriver = \"passwd-file\"\nargs = \"{u}\"\n\n\
[[userdb]]\ndriver = \"passwd-file\"\nargs = \"{u}\"\n\n\
[service.pop3-login.inet_listener.pop3]\nport = {pop3}\n\n\
[service.pop3-login.inet_listener.pop3s]\nport = 0\n",
        m = dir.0.join("mail").display(),
        u = users.display()
    );
    (Server::start("loginlog", &extra), dir, pop3)
}

/// Sends each line and reads its reply, then closes.
fn session(port: u16, lines: &[&str]) -> String {
    let mut c = TcpStream::connect(("127.0.0.1", port)).unwrap();
    c.set_read_timeout(Some(Duration::from_secs(10))).unwrap();
    let mut out = String::new();
    let mut buf = [0u8; 4096];
    let n = c.read(&mut buf).unwrap();
    out.push_str(&String::from_utf8_lossy(&buf[..n]));
    for l in lines {
        c.write_all(format!("{l}\r\n").as_bytes()).unwrap();
        let n = c.read(&mut buf).unwrap_or(0);
        out.push_str(&String::from_utf8_lossy(&buf[..n]));
    }
    out
}

#[test]
fn clients_leaving_without_login_are_logged_with_their_address_in_dovecots_words() {
    let (s, _dir, port) = start();
    let wait = |needle: &str| {
        assert!(
            s.wait_log(needle, Duration::from_secs(10)),
            "missing {needle:?} in:\n{}",
            s.log_text()
        )
    };
    session(port, &[]);
    // Dovecot's prefix, which fail2ban's dovecot filter expects: `pop3-login: Info: `.
    wait("pop3-login: Info: ");
    wait("Disconnected: Connection closed (no auth attempts in 0 secs): user=<>, rip=127.0.0.1, lip=127.0.0.1, secured, session=<");

    let out = session(port, &["FOO", "BAR", "BAZ"]);
    assert!(out.contains("-ERR Too many"), "{out}");
    wait("Disconnected: Disconnected: Too many bad commands (no auth attempts in 0 secs): user=<>, rip=127.0.0.1");

    session(port, &["AUTH PLAIN"]);
    wait("Disconnected: Connection closed (client didn't finish SASL auth, waited 0 secs): user=<>, method=PLAIN, rip=127.0.0.1");

    let out = session(port, &["USER bob", "PASS wrong"]);
    assert!(out.contains("-ERR [AUTH] Authentication failed."), "{out}");
    wait("Disconnected: Connection closed (auth failed, 1 attempts in 0 secs): user=<bob>, method=PLAIN, rip=127.0.0.1, lip=127.0.0.1, secured, session=<");

    session(
        port,
        &["USER bob", "PASS wrong", "USER bob", "PASS wrong2", "QUIT"],
    );
    // The auth penalty of the address delays the second failure: only the count is fixed.
    wait("Disconnected: Aborted login by logging out (auth failed, 2 attempts in ");
    wait(" secs): user=<bob>, method=PLAIN, rip=127.0.0.1, lip=127.0.0.1, secured, session=<");

    // A login that succeeds logs `Login`, never a disconnect line.
    let out = session(port, &["USER bob", "PASS bobpw", "QUIT"]);
    assert!(out.contains("+OK Logged in."), "{out}");
    wait("Login: user=<bob>, method=PLAIN, rip=127.0.0.1");
    assert_eq!(
        s.log_text().matches("user=<bob>, method=PLAIN").count(),
        3,
        "{}",
        s.log_text()
    );
}
