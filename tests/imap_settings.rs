//! Dovecot's IMAP settings on the real binary, next to a throw-away Dovecot 2.3 with the same
//! values where the two can be compared: `imap_capability = +XFOO` in the greeting and after
//! login, `imap_max_line_length`, `imap_client_workarounds` (tb-lsub-flags,
//! tb-extra-mailbox-sep, delay-newmail), `mail_max_userip_connections` for IMAP, IDLE ended by
//! junk or an over-long line, arguments after argument-less commands; and on roost
//! alone `imap_idle_notify_interval`, `imap_fetch_failure` (a message that cannot be read) and
//! start-up errors naming the setting, file and line.

mod common;

use std::fs;
use std::io::{BufRead, BufReader, Write};
use std::net::TcpStream;
use std::time::Duration;

use common::*;

struct Client {
    w: TcpStream,
    r: BufReader<TcpStream>,
}

impl Client {
    fn connect(port: u16) -> (Client, String) {
        let w = connect_port(port);
        w.set_read_timeout(Some(Duration::from_secs(10))).unwrap();
        let r = BufReader::new(w.try_clone().unwrap());
        let mut c = Client { w, r };
        let g = c.line();
        (c, g)
    }
    fn line(&mut self) -> String {
        let mut l = String::new();
        let _ = self.r.read_line(&mut l);
        l.trim_end().to_string()
    }
    /// Lines up to the tagged reply (timings and UIDVALIDITY values masked), or to EOF.
    fn cmd(&mut self, line: &str) -> Vec<String> {
        let tag = line.split(' ').next().unwrap().to_string();
        self.w.write_all(format!("{line}\r\n").as_bytes()).unwrap();
        let mut out = Vec::new();
        loop {
            let l = self.line();
            if l.is_empty() {
                return out;
            }
            let done = l.starts_with(&format!("{tag} "));
            out.push(mask(&l));
            if done {
                return out;
            }
        }
    }
    fn login(port: u16) -> Client {
        let (mut c, _) = Client::connect(port);
        let r = c.cmd("a LOGIN bob pass");
        assert!(r.last().unwrap().starts_with("a OK"), "{r:?}");
        c
    }
}

fn mask(l: &str) -> String {
    let mut s = l.to_string();
    if let Some(i) = s
        .find(" (")
        .filter(|&i| s[i + 2..].starts_with(|c: char| c.is_ascii_digit()))
    {
        if let Some(e) = s[i..].find(" secs)") {
            s.replace_range(i..i + e + 6, "");
        }
    }
    for code in ["[UIDVALIDITY ", "[APPENDUID "] {
        if let Some(i) = s.find(code) {
            let e = s[i + code.len()..].find([' ', ']']).unwrap() + i + code.len();
            s.replace_range(i..e, &format!("{code}X"));
        }
    }
    s
}

const DOVECOT_CONF: &str = "imap_capability = +XFOO\nimap_max_line_length = 2k\n\
imap_client_workarounds = tb-lsub-flags tb-extra-mailbox-sep delay-newmail\n\
mail_max_userip_connections = 2\n";
const ROOST_TOML: &str = "imap_capability = \"+XFOO\"\nimap_max_line_length = \"2k\"\n\
imap_client_workarounds = \"tb-lsub-flags tb-extra-mailbox-sep delay-newmail\"\n\
mail_max_userip_connections = 2\nimap_idle_notify_interval = \"1 secs\"\n\
imap_fetch_failure = \"no-after\"\nimap_hibernate_timeout = \"30 secs\"\n";

fn roost_config(dir: &TempDir, port: u16, settings: &str) -> String {
    let users = dir.write("users", "bob:{PLAIN}pass:::::\n");
    format!(
        "protocols = [\"imap\"]\nmail_location = \"maildir:{m}/%n\"\n\
disable_plaintext_auth = \"no\"\nssl = \"no\"\n{settings}\n\
[[passdb]]\ndriver = \"passwd-file\"\nargs = \"{u}\"\n\n\
[[userdb]]\ndriver = \"passwd-file\"\nargs = \"{u}\"\n\n\
[service.imap-login.inet_listener.imap]\nport = {port}\n",
        m = dir.join("mail").display(),
        u = users.display()
    )
}

/// The same client steps; what each server answered.
fn steps(port: u16) -> Vec<String> {
    let mut t = Vec::new();
    let (mut c, greeting) = Client::connect(port);
    t.push(greeting);
    // Arguments after an argument-less command are ignored, as Dovecot never reads them.
    t.extend(c.cmd("p NOOP extra"));
    t.extend(c.cmd("a LOGIN bob pass"));
    t.extend(c.cmd("p2 NOOP extra (args"));
    t.extend(c.cmd("p3 CHECK extra"));
    // A command line over imap_max_line_length.
    t.extend(c.cmd(&format!("l1 STATUS {} (MESSAGES)", "x".repeat(3000))));
    t.extend(c.cmd("b CREATE Work"));
    // tb-extra-mailbox-sep: the trailing separator is dropped.
    t.extend(c.cmd("c SELECT Work."));
    t.extend(c.cmd("c2 STATUS Work. (MESSAGES)"));
    // tb-lsub-flags: LSUB has flags (none for an existing Maildir++ folder).
    t.extend(c.cmd("d2 SUBSCRIBE Work"));
    t.extend(c.cmd("e LSUB \"\" *"));
    // delay-newmail: another session's APPEND shows only at NOOP.
    t.extend(c.cmd("f SELECT INBOX"));
    let mut other = Client::login(port);
    t.extend(other.cmd("o1 APPEND INBOX {12+}\r\nSubject: x\r\n"));
    t.extend(c.cmd("g FETCH 1:* FLAGS"));
    t.extend(c.cmd("h SEARCH ALL"));
    t.extend(c.cmd("i NOOP"));
    // IDLE ended by something else than DONE: BAD, and the session goes on; an over-long
    // line is answered once all of it is in (its tail is never read as a command).
    t.extend(c.cmd("m IDLE\r\nnot done"));
    t.extend(c.cmd(&format!("n IDLE\r\n{}", "D".repeat(3000))));
    t.extend(c.cmd("o IDLE\r\nDONE"));
    t.extend(c.cmd("o2 CLOSE extra"));
    // mail_max_userip_connections = 2: a third session of bob from this address is refused.
    let (mut third, _) = Client::connect(port);
    t.extend(third.cmd("z LOGIN bob pass"));
    t.extend(c.cmd("j LOGOUT"));
    t
}

#[test]
fn imap_settings_behave_as_in_dovecot() {
    let ddir = TempDir::new("imapset-dovecot");
    let dovecot = Dovecot::start_with(ddir.path(), DOVECOT_CONF);
    dovecot.chown_mail();
    let theirs = steps(dovecot.imap_port);

    let launch = Launch::new("imapset-roost");
    let port = free_port();
    let conf = roost_config(launch.dir(), port, ROOST_TOML);
    let _server = launch.config(&conf).ready_on(&[port]).start();
    let ours = steps(port);

    // imap_capability = +XFOO: appended to the greeting's list (before LITERAL+, as
    // imap-login writes it) and to the list after login.
    assert!(
        ours[0].starts_with("* OK [CAPABILITY IMAP4rev1 SASL-IR LOGIN-REFERRALS ID ENABLE IDLE XFOO LITERAL+ AUTH=PLAIN]"),
        "{}",
        ours[0]
    );
    assert!(ours
        .iter()
        .any(|l| l.starts_with("a OK [CAPABILITY IMAP4rev1 ") && l.contains(" XFOO] Logged in")));
    // Everything else reads the same (the capability lists are what each implements).
    let rest = |v: &[String]| -> Vec<String> {
        v.iter()
            .filter(|l| !l.contains("CAPABILITY"))
            .cloned()
            .collect()
    };
    assert_eq!(
        rest(&ours).join("\n"),
        rest(&theirs).join("\n"),
        "roost, then Dovecot"
    );
}

#[test]
fn idle_notify_interval_and_fetch_failure() {
    let launch = Launch::new("imapset-roost2");
    let port = free_port();
    let mail = launch.dir().join("mail");
    let conf = roost_config(launch.dir(), port, ROOST_TOML);
    let server = launch.config(&conf).ready_on(&[port]).start();
    let mut c = Client::login(port);
    for i in 0..2 {
        let r = c.cmd(&format!("p{i} APPEND INBOX {{12+}}\r\nSubject: {i}\r\n"));
        assert!(r.last().unwrap().contains("OK [APPENDUID"), "{r:?}");
    }
    // imap_idle_notify_interval = 1 secs.
    c.w.write_all(b"q IDLE\r\n").unwrap();
    assert_eq!(c.line(), "+ idling");
    assert_eq!(c.line(), "* OK Still here");
    c.w.write_all(b"DONE\r\n").unwrap();
    let done = loop {
        let l = c.line();
        if l != "* OK Still here" {
            break mask(&l);
        }
    };
    assert_eq!(done, "q OK Idle completed.");

    // Message 2 cannot be read (a directory stands where its file was).
    let new = mail.join("bob/new");
    let victim = fs::read_dir(&new)
        .unwrap()
        .flatten()
        .map(|e| e.path())
        .max()
        .unwrap();
    fs::remove_file(&victim).unwrap();
    fs::create_dir(&victim).unwrap();
    c.cmd("s SELECT INBOX");
    // no-after: the readable message comes, then NO; the same FETCH again disconnects.
    let r = c.cmd("t FETCH 1:2 BODY.PEEK[]");
    assert_eq!(r.len(), 4, "{r:?}");
    assert!(r[0].starts_with("* 1 FETCH (BODY[] {"), "{r:?}");
    assert!(
        r.last().unwrap().starts_with(
            "t NO [SERVERBUG] Internal error occurred. Refer to server log for more information."
        ),
        "{r:?}"
    );
    let r = c.cmd("u FETCH 2 BODY.PEEK[]");
    assert_eq!(
        r,
        ["* BYE FETCH failed: Internal error occurred. Refer to server log for more information."]
    );
    assert!(
        server.wait_log(
            "Disconnected: FETCH failed: 1 message(s) could not be read",
            Duration::from_secs(5)
        ),
        "{}",
        server.log_text()
    );
}

#[test]
fn bad_imap_settings_stop_the_start_naming_setting_file_and_line() {
    for (line, want) in [
        (
            "imap_client_workarounds = \"delay-newmail outlook-idle\"",
            "imap_client_workarounds: Unknown workaround: outlook-idle",
        ),
        ("imap_fetch_failure = \"retry\"", "imap_fetch_failure"),
        (
            "imap_logout_format = \"in=%i x=%{nosuch}\"",
            "imap_logout_format: Unknown variable: nosuch",
        ),
    ] {
        let dir = TempDir::new("imapset-bad");
        let cfg = dir.write("roost.toml", format!("protocols = [\"imap\"]\n{line}\n"));
        let out = roost(&["serve", "-c", cfg.to_str().unwrap()]);
        let err = out.all();
        assert!(err.contains(&format!("{} line 2", cfg.display())), "{err}");
        assert!(err.contains(want), "{err}");
    }
}
