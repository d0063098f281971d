//! A passdb `nologin` user, side by side with a throw-away Dovecot 2.3: auth answers `OK …
//! nologin [reason=…]` at once (no failure delay, no penalty), and the login services refuse
//! with Dovecot's words — imap-login `NO [CONTACTADMIN] <reason>` (or `Login disabled for
//! this user`), pop3-login `-ERR [AUTH] <reason>` — for LOGIN/USER+PASS and SASL alike.

mod common;

use std::io::{BufRead, BufReader, Write};
use std::net::TcpStream;
use std::os::unix::net::UnixStream;
use std::path::Path;
use std::time::{Duration, Instant};

use common::*;

const USERS: &str = "gone:{PLAIN}gpw:1000:1000::/nonexistent::nologin reason=Moved\n\
plain:{PLAIN}ppw:1000:1000::/nonexistent::nologin\n";

/// The first reply line to each of `lines` after the greeting.
fn talk(port: u16, lines: &[&str]) -> Vec<String> {
    let mut s = TcpStream::connect(("127.0.0.1", port)).unwrap();
    s.set_read_timeout(Some(Duration::from_secs(20))).unwrap();
    let mut r = BufReader::new(s.try_clone().unwrap());
    let mut greeting = String::new();
    r.read_line(&mut greeting).unwrap();
    lines
        .iter()
        .map(|l| {
            s.write_all(format!("{l}\r\n").as_bytes()).unwrap();
            let mut out = String::new();
            r.read_line(&mut out).unwrap();
            out
        })
        .collect()
}

/// The auth-client answers to a PLAIN AUTH for each user/password, and how long they took.
fn auth_client(socket: &Path, creds: &[(&str, &str)]) -> (Vec<String>, Duration) {
    let s = UnixStream::connect(socket).unwrap();
    s.set_read_timeout(Some(Duration::from_secs(20))).unwrap();
    let mut r = BufReader::new(s.try_clone().unwrap());
    let mut w = s;
    w.write_all(b"VERSION\t1\t2\nCPID\t4242\n").unwrap();
    loop {
        let mut l = String::new();
        r.read_line(&mut l).unwrap();
        if l.starts_with("DONE") {
            break;
        }
    }
    let t = Instant::now();
    let out = creds
        .iter()
        .enumerate()
        .map(|(i, (u, p))| {
            let resp = base64(&format!("\0{u}\0{p}"));
            w.write_all(format!("AUTH\t{}\tPLAIN\tservice=imap\tresp={resp}\n", i + 1).as_bytes())
                .unwrap();
            let mut l = String::new();
            r.read_line(&mut l).unwrap();
            l
        })
        .collect();
    (out, t.elapsed())
}

fn base64(s: &str) -> String {
    use base64::Engine as _;
    base64::engine::general_purpose::STANDARD.encode(s)
}

fn sessions(imap: u16, pop3: u16) -> Vec<String> {
    let mut all = Vec::new();
    for (u, p) in [("gone", "gpw"), ("plain", "ppw")] {
        let plain = base64(&format!("\0{u}\0{p}"));
        all.extend(talk(
            imap,
            &[
                &format!("a LOGIN {u} {p}"),
                &format!("b AUTHENTICATE PLAIN {plain}"),
            ],
        ));
        all.extend(talk(
            pop3,
            &[
                &format!("USER {u}"),
                &format!("PASS {p}"),
                &format!("AUTH PLAIN {plain}"),
            ],
        ));
    }
    all
}

#[test]
fn nologin_users_are_refused_by_the_login_services_as_dovecot_refuses_them() {
    let ddir = TempDir::new("nologin-dovecot");
    let dovecot = Dovecot::start_with(ddir.path(), "auth_failure_delay = 2s");
    // Dovecot's passwd-file is re-read when it changes.
    std::fs::write(ddir.path().join("users"), USERS).unwrap();
    let creds = [("gone", "gpw"), ("plain", "ppw")];
    let (theirs_auth, _) = auth_client(&ddir.path().join("base/auth-client"), &creds);
    let theirs = sessions(dovecot.imap_port, dovecot.pop3_port);

    let launch = Launch::new("nologin-roost");
    let users = launch.dir().write("users", USERS);
    let (imap, pop3) = (free_port(), free_port());
    let extra = format!(
        "protocols = [\"imap\", \"pop3\"]\nmail_location = \"maildir:/nonexistent/%n\"\n\
auth_mechanisms = \"plain login\"\ndisable_plaintext_auth = \"no\"\nauth_failure_delay = \"2s\"\n\n\
[[passdb]]\ndriver = \"passwd-file\"\nargs = \"{u}\"\n\n\
[[userdb]]\ndriver = \"passwd-file\"\nargs = \"{u}\"\n\n\
[service.imap-login.inet_listener.imap]\nport = {imap}\n\n\
[service.pop3-login.inet_listener.pop3]\nport = {pop3}\n\n\
[service.pop3-login.inet_listener.pop3s]\nport = 0\n",
        u = users.display()
    );
    let server = launch.config(&extra).ready_on(&[imap, pop3]).start();
    let (ours_auth, took) = auth_client(&server.base_dir.join("auth-client"), &creds);
    let t = Instant::now();
    let ours = sessions(imap, pop3);
    let login_took = t.elapsed();

    assert_eq!(
        theirs_auth,
        [
            "OK\t1\tuser=gone\tnologin\treason=Moved\n",
            "OK\t2\tuser=plain\tnologin\n"
        ]
    );
    assert_eq!(ours_auth, theirs_auth);
    assert_eq!(
        theirs[..2],
        [
            "a NO [CONTACTADMIN] Moved\r\n",
            "b NO [CONTACTADMIN] Moved\r\n"
        ]
    );
    assert_eq!(ours, theirs);
    // An OK is not a failure: no auth_failure_delay (2 s) and no penalty on any of the ten
    // refusals (a failure each would have taken 20 s and more).
    assert!(took < Duration::from_secs(2), "auth-client took {took:?}");
    assert!(
        login_took < Duration::from_secs(2),
        "ten refusals took {login_took:?}"
    );
}
