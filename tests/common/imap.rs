//! IMAP side-by-side helpers: a roost serving IMAP to the passwd-file user `bob`/`pass` (the
//! user the throw-away Dovecot has too), and a Python client script's printed transcript.

use std::path::PathBuf;
use std::process::Command;

use super::{free_port, run, Launch, Server};

/// A running roost with IMAP on a free loopback port for `bob`/`pass`, mail under `mail`.
pub struct RoostImap {
    pub server: Server,
    pub port: u16,
    /// `mail_location`'s root: bob's Maildir is `mail/bob`.
    pub mail: PathBuf,
}

/// Starts roost for IMAP with `extra` settings appended (namespaces, imap_* knobs).
pub fn roost_imap(tag: &str, extra: &str) -> RoostImap {
    let launch = Launch::new(tag);
    let users = launch
        .dir()
        .write("users", "bob:{PLAIN}pass:1000:1000::/nonexistent\n");
    let mail = launch.dir().join("mail");
    let port = free_port();
    let config = format!(
        "protocols = [\"imap\"]\nmail_location = \"maildir:{m}/%n\"\n\
auth_mechanisms = \"plain login\"\ndisable_plaintext_auth = \"no\"\n{extra}\n\n\
[[passdb]]\ndriver = \"passwd-file\"\nargs = \"{u}\"\n\n\
[[userdb]]\ndriver = \"passwd-file\"\nargs = \"{u}\"\n\n\
[service.imap-login.inet_listener.imap]\nport = {port}\n\n\
[service.imap-login.inet_listener.imaps]\nport = 0\n",
        m = mail.display(),
        u = users.display()
    );
    let server = launch.config(&config).ready_on(&[port]).start();
    RoostImap { server, port, mail }
}

/// Runs the Python `script` with the port as its one argument and returns its stdout lines.
pub fn python_transcript(script: &str, port: u16) -> Vec<String> {
    run(Command::new("python3").args(["-c", script, &port.to_string()]))
        .stdout_ok("python3")
        .lines()
        .map(str::to_string)
        .collect()
}
