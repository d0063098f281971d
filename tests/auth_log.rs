//! Failed logins in the real binary's log, in Dovecot 2.3's shape so fail2ban rules written
//! for Dovecot match: `auth: Info: passwd-file(user,rip,<session>): Password mismatch`,
//! `… unknown user`, `static(…)`, `User found from deny passdb`, the `(given password: …)` of
//! `auth_verbose_passwords`, and nothing at all without `auth_verbose` (Dovecot's default).

mod common;

use std::io::{BufRead, BufReader, Write};
use std::net::TcpStream;
use std::time::Duration;

use common::*;

const WAIT: Duration = Duration::from_secs(10);

/// The log lines that start (after the timestamp) with `head` and end with `tail`.
fn lines_with(server: &Server, head: &str, tail: &str) -> Vec<String> {
    server
        .log_text()
        .lines()
        .filter_map(|l| l.get(20..))
        .filter(|l| l.starts_with(head) && l.ends_with(tail))
        .map(str::to_string)
        .collect()
}

/// POP3 USER/PASS with a wrong password; returns the PASS reply.
fn pop3_fail(port: u16, user: &str, pass: &str) -> String {
    let s = TcpStream::connect(("127.0.0.1", port)).unwrap();
    s.set_read_timeout(Some(WAIT)).unwrap();
    let mut r = BufReader::new(s.try_clone().unwrap());
    let mut w = s;
    let mut line = String::new();
    r.read_line(&mut line).unwrap();
    assert!(line.starts_with("+OK"), "{line}");
    for cmd in [format!("USER {user}\r\n"), format!("PASS {pass}\r\n")] {
        w.write_all(cmd.as_bytes()).unwrap();
        line.clear();
        r.read_line(&mut line).unwrap();
    }
    let reply = line.clone();
    w.write_all(b"QUIT\r\n").unwrap();
    reply
}

fn doveadm_test(server: &Server, args: &[&str]) -> String {
    let sock = server.base_dir.join("auth-client");
    let mut all = vec!["auth", "test", "-a", sock.to_str().unwrap()];
    all.extend_from_slice(args);
    let (rc, out) = doveadm(&all);
    assert_ne!(rc, 0, "login should fail: {out}");
    out
}

#[test]
fn failed_pop3_and_doveadm_logins_carry_rip_and_session() {
    let launch = Launch::new("auth-log-pop3");
    let users = launch
        .dir()
        .write("users", "bob:{PLAIN}bobpw:1000:1000::/nonexistent\n");
    let deny = launch.dir().write("deny", "banned\n");
    let pop3 = free_port();
    let extra = format!(
        "protocols = [\"pop3\"]\nauth_mechanisms = \"plain login\"\n\
disable_plaintext_auth = \"no\"\nauth_verbose = \"yes\"\nauth_failure_delay = \"0 s\"\n\n\
[[passdb]]\ndriver = \"passwd-file\"\nargs = \"{d}\"\ndeny = \"yes\"\n\n\
[[passdb]]\ndriver = \"passwd-file\"\nargs = \"{u}\"\n\n\
[[userdb]]\ndriver = \"passwd-file\"\nargs = \"{u}\"\n\n\
[service.pop3-login.inet_listener.pop3]\nport = {pop3}\n",
        d = deny.display(),
        u = users.display()
    );
    let server = launch.config(&extra).ready_on(&[pop3]).start();

    let reply = pop3_fail(pop3, "bob", "wrong");
    assert!(reply.starts_with("-ERR"), "{reply}");
    assert!(
        wait_until(WAIT, || !lines_with(
            &server,
            "auth: Info: passwd-file(bob,127.0.0.1,<",
            ">): Password mismatch"
        )
        .is_empty()),
        "{}",
        server.log_text()
    );
    // The session id is the one pop3-login made up for this connection (non-empty).
    let line = &lines_with(
        &server,
        "auth: Info: passwd-file(bob,127.0.0.1,<",
        ">): Password mismatch",
    )[0];
    let session = line.split(['<', '>']).nth(1).unwrap();
    assert!(!session.is_empty(), "{line}");
    // The deny passdb does not know bob either: Dovecot logs that too.
    assert_eq!(
        lines_with(
            &server,
            &format!("auth: Info: passwd-file(bob,127.0.0.1,<{session}>): unknown user"),
            ""
        )
        .len(),
        1,
        "{}",
        server.log_text()
    );

    pop3_fail(pop3, "ghost", "x");
    assert!(
        wait_until(WAIT, || lines_with(
            &server,
            "auth: Info: passwd-file(ghost,127.0.0.1,<",
            ">): unknown user"
        )
        .len()
            == 2),
        "one line per passdb:\n{}",
        server.log_text()
    );

    pop3_fail(pop3, "banned", "x");
    assert!(
        server.wait_log("auth: Info: User found from deny passdb", WAIT),
        "{}",
        server.log_text()
    );

    // doveadm auth test: rip and session come from the AUTH line's fields.
    doveadm_test(&server, &["-x", "rip=192.0.2.7", "bob", "wrong"]);
    assert!(
        server.wait_log(
            "auth: Info: passwd-file(bob,192.0.2.7): Password mismatch",
            WAIT
        ),
        "{}",
        server.log_text()
    );
    doveadm_test(
        &server,
        &["-x", "rip=192.0.2.8", "-x", "session=S1", "nosuch", "x"],
    );
    assert!(
        server.wait_log(
            "auth: Info: passwd-file(nosuch,192.0.2.8,<S1>): unknown user",
            WAIT
        ),
        "{}",
        server.log_text()
    );
    // A username auth_username_chars refuses, logged by the mechanism.
    doveadm_test(&server, &["-x", "rip=192.0.2.9", "bad user", "x"]);
    assert!(
        server.wait_log(
            "auth: Info: plain(?,192.0.2.9): Username character disallowed by auth_username_chars: 0x20 (username: bad user)",
            WAIT
        ),
        "{}",
        server.log_text()
    );
    // The old shape (`Password mismatch user=…`) is gone.
    assert!(!server.log_text().contains("Password mismatch user="));
}

fn static_server(tag: &str, verbose: &str) -> Server {
    let launch = Launch::new(tag);
    let users = launch.dir().write("users", "bob:{PLAIN}bobpw\n");
    let extra = format!(
        "auth_mechanisms = \"plain\"\n{verbose}\n\
[[passdb]]\ndriver = \"passwd-file\"\nargs = \"{u}\"\n\n\
[[passdb]]\ndriver = \"static\"\nargs = \"password=staticpw\"\n",
        u = users.display()
    );
    launch.config(&extra).start()
}

#[test]
fn static_passdb_and_auth_verbose_passwords() {
    let server = static_server(
        "auth-log-static",
        "auth_verbose = \"yes\"\nauth_verbose_passwords = \"plain\"\n",
    );
    doveadm_test(&server, &["-x", "rip=192.0.2.7", "bob", "wrong"]);
    let log = server.log_text();
    assert!(
        log.contains(
            "auth: Info: passwd-file(bob,192.0.2.7): Password mismatch (given password: wrong) - trying the next passdb\n"
        ),
        "{log}"
    );
    assert!(
        log.contains(
            "auth: Info: static(bob,192.0.2.7): Password mismatch (given password: wrong)\n"
        ),
        "{log}"
    );
}

#[test]
fn without_auth_verbose_failed_logins_are_not_logged() {
    let server = static_server("auth-log-quiet", "");
    // doveadm returns after the FAIL, which auth_failure_delay (2 s) sends well after any
    // log line about the request would have been written.
    doveadm_test(&server, &["-x", "rip=192.0.2.7", "bob", "wrong"]);
    doveadm_test(&server, &["-x", "rip=192.0.2.7", "nosuch", "wrong"]);
    let log = server.log_text();
    assert!(!log.contains("Password mismatch"), "{log}");
    assert!(!log.contains("unknown user"), "{log}");
}

#[test]
fn auth_debug_implies_verbose_and_hides_responses() {
    let server = static_server(
        "auth-log-debug",
        "log_debug = \"yes\"\nauth_debug = \"yes\"\n",
    );
    doveadm_test(&server, &["-x", "rip=192.0.2.7", "bob", "s3cretpw"]);
    assert!(
        server.wait_log("auth: Info: static(bob,192.0.2.7): Password mismatch", WAIT),
        "{}",
        server.log_text()
    );
    let log = server.log_text();
    assert!(log.contains("auth: Debug: client in: AUTH"), "{log}");
    assert!(log.contains("resp=<hidden>"), "{log}");
    assert!(
        log.contains("auth: Debug: client passdb out: FAIL"),
        "{log}"
    );
    // Neither the password nor the base64 response that carries it reaches the log.
    let resp = "AGJvYgBzM2NyZXRwdw=="; // base64("\0bob\0s3cretpw")
    assert!(!log.contains("s3cretpw") && !log.contains(resp), "{log}");
}
