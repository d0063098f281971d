//! IMAP through the real `roost serve` binary, real auth (passwd-file) and real clients:
//! imaplib logs in through imap-login → imap (the login tag answered with the post-login
//! capabilities), appends, selects, fetches and stores; curl lists, searches and reads (a
//! whole message, a section, a custom EXAMINE) over STARTTLS (`imap://` with `--ssl-reqd`)
//! and implicit TLS (`imaps://`); a message delivered over LMTP while a
//! client IDLEs is announced within a second; the mail is where Dovecot would put it, and the
//! metrics count logins, commands and bytes.

mod common;

use std::process::Command;

use common::*;

struct Imap {
    server: Server,
    mail: std::path::PathBuf,
    lmtp: u16,
    imap: u16,
    imaps: u16,
}

fn start(tag: &str) -> Imap {
    let launch = Launch::new(tag);
    let users = launch
        .dir()
        .write("users", "bob:{PLAIN}bobpw:1000:1000::/nonexistent\n");
    let mail = launch.dir().join("mail");
    let (lmtp, imap, imaps) = (free_port(), free_port(), free_port());
    let extra = format!(
        "protocols = [\"lmtp\", \"imap\"]\nmail_location = \"maildir:{m}/%n\"\n\
auth_mechanisms = \"plain login\"\n\n\
[[passdb]]\ndriver = \"passwd-file\"\nargs = \"{u}\"\n\n\
[[userdb]]\ndriver = \"passwd-file\"\nargs = \"{u}\"\n\n\
[service.lmtp.inet_listener.lmtp]\nport = {lmtp}\n\n\
[service.imap-login.inet_listener.imap]\nport = {imap}\n\n\
[service.imap-login.inet_listener.imaps]\nport = {imaps}\nssl = true\n",
        m = mail.display(),
        u = users.display()
    );
    let server = launch.config(&extra).ready_on(&[imap, imaps, lmtp]).start();
    Imap {
        server,
        mail,
        lmtp,
        imap,
        imaps,
    }
}

const IMAPLIB: &str = r#"
import imaplib, sys
m = imaplib.IMAP4("127.0.0.1", int(sys.argv[1]))
print(m.welcome.decode())
typ, data = m.login("bob", "bobpw")
print(typ, data[0].decode())
print(m.append("INBOX", r"(\Flagged)", None, b"Subject: hi\r\n\r\nbody\r\n")[0])
print(m.create("Archive")[0], m.list()[1])
print(m.select("INBOX"))
print(m.fetch("1", "(FLAGS RFC822.SIZE BODY.PEEK[])"))
print(m.store("1", "+FLAGS", r"(\Seen)"))
print(m.logout()[0])
"#;

const IDLE: &str = r#"
import socket, sys, time, smtplib
s = socket.create_connection(("127.0.0.1", int(sys.argv[1])))
f = s.makefile("rb")
def until(tag):
    out = []
    while True:
        l = f.readline().decode()
        out.append(l)
        if l.startswith(tag):
            return out
f.readline()
s.sendall(b"a LOGIN bob bobpw\r\nb SELECT INBOX\r\nc IDLE\r\n")
until("+ idling")
c = smtplib.LMTP("127.0.0.1", int(sys.argv[2]))
c.sendmail("s@example.org", ["bob"], b"Subject: while idling\r\n\r\nnew\r\n")
delivered = time.monotonic()
s.settimeout(5)
line = f.readline().decode()
print(line.strip())
print(time.monotonic() - delivered <= 1.0)
s.sendall(b"DONE\r\nd LOGOUT\r\n")
print(until("c OK")[-1].split(" (")[0])
"#;

#[test]
fn imaplib_and_curl_through_the_binary() {
    let m = start("imapflow");
    let out = run(Command::new("python3").args(["-c", IMAPLIB, &m.imap.to_string()]))
        .stdout_ok("python3");
    let l: Vec<&str> = out.lines().collect();
    assert!(
        l[0].starts_with("* OK [CAPABILITY IMAP4rev1 SASL-IR LOGIN-REFERRALS ID ENABLE IDLE LITERAL+ STARTTLS AUTH=PLAIN AUTH=LOGIN] "),
        "{}",
        l[0]
    );
    // imaplib asked for CAPABILITY before LOGIN: Dovecot (and roost) then send the list
    // untagged and a plain `OK Logged in`.
    assert_eq!(l[1], "OK Logged in");
    assert_eq!(l[2], "OK");
    assert_eq!(
        l[3],
        r#"OK [b'(\\HasNoChildren) "." Archive', b'(\\HasNoChildren) "." INBOX']"#
    );
    assert_eq!(l[4], "('OK', [b'1'])");
    assert_eq!(
        l[5],
        r"('OK', [(b'1 (FLAGS (\\Flagged \\Recent) RFC822.SIZE 21 BODY[] {21}', b'Subject: hi\r\n\r\nbody\r\n'), b')'])"
    );
    assert_eq!(l[6], r"('OK', [b'1 (FLAGS (\\Flagged \\Seen \\Recent))'])");
    assert_eq!(l[7], "BYE");
    // Stored as Dovecot stores it: LF line ends, flags in the name, a Maildir++ folder.
    let bob = m.mail.join("bob");
    let cur: Vec<String> = std::fs::read_dir(bob.join("cur"))
        .unwrap()
        .map(|e| e.unwrap().file_name().into_string().unwrap())
        .collect();
    assert_eq!(cur.len(), 1);
    assert!(cur[0].ends_with(":2,FS"), "{cur:?}");
    assert_eq!(
        std::fs::read(bob.join("cur").join(&cur[0])).unwrap(),
        b"Subject: hi\n\nbody\n"
    );
    assert!(bob.join(".Archive/maildirfolder").exists());

    let stls = run(Command::new("curl").args([
        "-sS",
        "--ssl-reqd",
        "-k",
        &format!("imap://bob:bobpw@127.0.0.1:{}/INBOX;UID=1", m.imap),
    ]))
    .stdout_ok("curl");
    assert_eq!(stls, "Subject: hi\r\n\r\nbody\r\n");
    let imaps = run(Command::new("curl").args([
        "-sS",
        "-k",
        &format!("imaps://bob:bobpw@127.0.0.1:{}/INBOX;UID=1", m.imaps),
    ]))
    .stdout_ok("curl");
    assert_eq!(imaps, stls);
    // Listing, searching, a section and a custom command, over STARTTLS and implicit TLS.
    let curl = |url: String, extra: &[&str]| {
        run(Command::new("curl")
            .args(["-sS", "--max-time", "20", "-k", "--ssl-reqd"])
            .args(extra)
            .arg(url))
        .stdout_ok("curl")
    };
    let list = curl(format!("imap://bob:bobpw@127.0.0.1:{}/", m.imap), &[]);
    assert_eq!(
        list,
        "* LIST (\\HasNoChildren) \".\" Archive\r\n* LIST (\\HasNoChildren) \".\" INBOX\r\n"
    );
    assert_eq!(
        curl(format!("imaps://bob:bobpw@127.0.0.1:{}/", m.imaps), &[]),
        list
    );
    assert_eq!(
        curl(
            format!("imaps://bob:bobpw@127.0.0.1:{}/INBOX?SUBJECT%20hi", m.imaps),
            &[]
        ),
        "* SEARCH 1\r\n"
    );
    assert_eq!(
        curl(
            format!(
                "imap://bob:bobpw@127.0.0.1:{}/INBOX;UID=1;SECTION=TEXT",
                m.imap
            ),
            &[]
        ),
        "body\r\n"
    );
    let examine = curl(
        format!("imaps://bob:bobpw@127.0.0.1:{}/", m.imaps),
        &["-X", "EXAMINE INBOX"],
    );
    assert!(
        examine.contains("* 1 EXISTS\r\n") && examine.contains("[UIDNEXT 2]"),
        "{examine}"
    );
    m.server.wait_metric(
        "roost_imap_commands_total",
        "command=\"FETCH\"",
        std::time::Duration::from_secs(5),
        |v| v >= 1.0,
    );
    m.server.wait_metric(
        "roost_login_total",
        "result=\"success\",service=\"imap-login\"",
        std::time::Duration::from_secs(5),
        |v| v >= 3.0,
    );
    assert!(
        m.server
            .metric("roost_imap_bytes_sent_total", "")
            .unwrap_or(0.0)
            > 0.0
    );
}

#[test]
fn an_lmtp_delivery_is_announced_to_an_idling_client_within_a_second() {
    let m = start("imapidle");
    let out =
        run(Command::new("python3").args(["-c", IDLE, &m.imap.to_string(), &m.lmtp.to_string()]))
            .stdout_ok("python3");
    let l: Vec<&str> = out.lines().collect();
    assert_eq!(l[0].trim(), "* 1 EXISTS", "{out}");
    assert_eq!(l[1], "True", "{out}");
    assert_eq!(l[2], "c OK Idle completed", "{out}");
}
