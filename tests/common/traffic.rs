//! A roost with every service a dashboard shows (lmtp, imap-login → imap, pop3, auth through
//! passwd-file, an `ssl = yes` imaps listener, a `haproxy = yes` health-check listener) and
//! [`MailServer::drive`], which moves its counters with real clients: Python's imaplib logs in
//! (once with a wrong password), runs SELECT/FETCH/NOOP, logs in over imaps, and smtplib's LMTP
//! delivers a message.

use std::process::Command;

use super::ports::free_port;
use super::server::{Launch, Server};
use super::tls::write_pair;
use super::tools::run;
use roost::net::tls::devcerts::TestCa;

pub struct MailServer {
    pub server: Server,
    pub imap: u16,
    pub imaps: u16,
    pub lmtp: u16,
    pub proxied: u16,
    /// The settings it started with (for [`Server::rewrite`] before a reload).
    pub cfg: String,
}

const DRIVE: &str = r#"
import imaplib, smtplib, ssl, sys
imap, imaps, lmtp = (int(a) for a in sys.argv[1:4])
c = smtplib.LMTP("127.0.0.1", lmtp)
c.sendmail("s@example.org", ["bob"], b"Subject: metrics\r\n\r\nbody\r\n")
c.quit()
m = imaplib.IMAP4("127.0.0.1", imap)
try:
    m.login("bob", "wrong")
except imaplib.IMAP4.error:
    pass
m.logout()
m = imaplib.IMAP4("127.0.0.1", imap)
m.login("bob", "bobpw")
m.select("INBOX")
m.fetch("1:*", "(FLAGS BODY.PEEK[])")
m.noop()
m.logout()
ctx = ssl.create_default_context()
ctx.check_hostname = False
ctx.verify_mode = ssl.CERT_NONE
m = imaplib.IMAP4_SSL("127.0.0.1", imaps, ssl_context=ctx)
m.login("bob", "bobpw")
m.logout()
print("driven")
"#;

impl MailServer {
    /// Starts it with `extra` top-level settings (before the tables).
    pub fn start(tag: &str, extra: &str) -> MailServer {
        let launch = Launch::new(tag);
        let users = launch
            .dir()
            .write("users", "bob:{PLAIN}bobpw:1000:1000::/nonexistent\n");
        let ca = TestCa::new("traffic test CA");
        let (cert, key) = write_pair(launch.dir().path(), "tls", &ca.server(&["localhost"]));
        let mail = launch.dir().join("mail");
        let (imap, imaps, lmtp, proxied, pop3) = (
            free_port(),
            free_port(),
            free_port(),
            free_port(),
            free_port(),
        );
        let cfg = format!(
            "protocols = [\"lmtp\", \"imap\", \"pop3\"]\nmail_location = \"maildir:{m}/%n\"\n\
haproxy_trusted_networks = \"127.0.0.1\"\nssl_cert = \"{cert}\"\nssl_key = \"{key}\"\n{extra}\n\n\
[[passdb]]\ndriver = \"passwd-file\"\nargs = \"{u}\"\n\n\
[[userdb]]\ndriver = \"passwd-file\"\nargs = \"{u}\"\n\n\
[service.lmtp.inet_listener.lmtp]\nport = {lmtp}\n\n\
[service.pop3-login.inet_listener.pop3]\nport = {pop3}\n\n\
[service.imap-login.inet_listener.imap]\nport = {imap}\n\n\
[service.imap-login.inet_listener.imaps]\nport = {imaps}\nssl = true\n\n\
[service.health-check.inet_listener.proxied]\nport = {proxied}\nhaproxy = true\n",
            m = mail.display(),
            u = users.display()
        );
        let server = launch
            .config(&cfg.clone())
            .ready_on(&[imap, imaps, lmtp, proxied])
            .start();
        MailServer {
            server,
            imap,
            imaps,
            lmtp,
            proxied,
            cfg,
        }
    }

    /// Logins (a failed one too), an LMTP delivery, IMAP commands, an imaps login.
    pub fn drive(&self) {
        let out = run(Command::new("python3").args([
            "-c",
            DRIVE,
            &self.imap.to_string(),
            &self.imaps.to_string(),
            &self.lmtp.to_string(),
        ]))
        .stdout_ok("python3");
        assert!(out.contains("driven"), "{out}");
    }
}
