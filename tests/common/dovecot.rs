//! A throw-away Dovecot 2.3 (the Debian packages the reference instance uses) for comparison
//! tests: its own run dir under the test's temp dir, POP3, IMAP and LMTP on free loopback ports,
//! users from a passwd-file (`bob`/`pass`), Maildir in `mail/%n` owned by `nobody`, log in
//! `dovecot.log`; `doveadm` runs against it, and dropping it stops it.

use std::fs;
use std::os::unix::fs::PermissionsExt;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::Duration;

use super::ports::free_port;
use super::wait::{read_text, wait_until};

pub struct Dovecot {
    pub dir: PathBuf,
    pub pop3_port: u16,
    pub lmtp_port: u16,
    pub imap_port: u16,
}

impl Dovecot {
    /// Starts Dovecot with its config, users and mail in `dir` (which must exist).
    pub fn start(dir: &Path) -> Dovecot {
        Dovecot::start_with(dir, "")
    }

    /// [`Dovecot::start`] with `extra` lines appended to its dovecot.conf (namespaces,
    /// `auth_failure_delay`, more listeners).
    pub fn start_with(dir: &Path, extra: &str) -> Dovecot {
        let pop3_port = free_port();
        let lmtp_port = free_port();
        let imap_port = free_port();
        let body = format!(
            "protocols = pop3 lmtp imap\nlisten = 127.0.0.1\ndisable_plaintext_auth = no\n\
service pop3-login {{\n  inet_listener pop3 {{\n    port = {pop3_port}\n  }}\n  \
inet_listener pop3s {{\n    port = 0\n  }}\n}}\n\
service imap-login {{\n  inet_listener imap {{\n    port = {imap_port}\n  }}\n  \
inet_listener imaps {{\n    port = 0\n  }}\n}}\n\
service lmtp {{\n  inet_listener lmtp {{\n    address = 127.0.0.1\n    port = {lmtp_port}\n  }}\n}}\n\
mail_location = maildir:{d}/mail/%n\nmail_uid = nobody\nmail_gid = nogroup\n\
first_valid_uid = 1\nfirst_valid_gid = 1\n\
passdb {{\n  driver = passwd-file\n  args = {d}/users\n}}\n\
userdb {{\n  driver = passwd-file\n  args = {d}/users\n  default_fields = home={d}/home/%n\n}}\n\
{extra}\n",
            d = dir.display()
        );
        fs::write(dir.join("users"), "bob:{PLAIN}pass::::::\n").unwrap();
        fs::create_dir_all(dir.join("mail")).unwrap();
        Dovecot::launch(dir, &body, [pop3_port, lmtp_port, imap_port])
    }

    /// A Dovecot whose dovecot.conf is only its run paths, `ssl = no` and `body` (no
    /// listeners unless `body` has them): for doveadm on other users, uids and mail
    /// locations. `dir` must exist.
    pub fn start_custom(dir: &Path, body: &str) -> Dovecot {
        Dovecot::launch(dir, body, [0, 0, 0])
    }

    /// Writes dovecot.conf (run paths in `dir`, then `body`), starts Dovecot and waits for
    /// its userdb socket and the non-zero ports (POP3, LMTP, IMAP).
    fn launch(dir: &Path, body: &str, [pop3_port, lmtp_port, imap_port]: [u16; 3]) -> Dovecot {
        let conf = format!(
            "base_dir = {d}/base\nstate_dir = {d}/state\nlog_path = {d}/dovecot.log\n\
ssl = no\n{body}",
            d = dir.display()
        );
        fs::write(dir.join("dovecot.conf"), conf).unwrap();
        fs::set_permissions(dir, fs::Permissions::from_mode(0o755)).unwrap();
        let st = Command::new("dovecot")
            .arg("-c")
            .arg(dir.join("dovecot.conf"))
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .status()
            .expect("Dovecot (dovecot-core) must be installed for this test");
        assert!(
            st.success(),
            "dovecot failed to start; see {}",
            dir.display()
        );
        let d = Dovecot {
            dir: dir.to_path_buf(),
            pop3_port,
            lmtp_port,
            imap_port,
        };
        let up = |p: u16| p == 0 || super::ports::port_open(p);
        assert!(
            wait_until(Duration::from_secs(10), || {
                dir.join("base/auth-userdb").exists()
                    && up(pop3_port)
                    && up(lmtp_port)
                    && up(imap_port)
            }),
            "dovecot did not come up:\n{}",
            d.log()
        );
        d
    }

    pub fn log(&self) -> String {
        read_text(&self.dir.join("dovecot.log"))
    }

    /// `doveadm -c CONF args…` (with `stdin`); panics unless it succeeds; returns stdout.
    pub fn doveadm(&self, args: &[&str], stdin: Option<&[u8]>) -> String {
        let mut c = Command::new("doveadm")
            .arg("-c")
            .arg(self.dir.join("dovecot.conf"))
            .args(args)
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .expect("doveadm must be installed for this test");
        {
            use std::io::Write;
            let mut i = c.stdin.take().unwrap();
            if let Some(data) = stdin {
                i.write_all(data).unwrap();
            }
        }
        let out = c.wait_with_output().unwrap();
        assert!(
            out.status.success(),
            "doveadm {args:?}: {}",
            String::from_utf8_lossy(&out.stderr)
        );
        String::from_utf8(out.stdout).unwrap()
    }

    /// Gives the store to Dovecot's mail user (roost runs as root in tests).
    pub fn chown_mail(&self) {
        let st = Command::new("chown")
            .args(["-R", "nobody:nogroup"])
            .arg(self.dir.join("mail"))
            .status()
            .unwrap();
        assert!(st.success());
    }
}

impl Drop for Dovecot {
    fn drop(&mut self) {
        let _ = Command::new("doveadm")
            .arg("-c")
            .arg(self.dir.join("dovecot.conf"))
            .arg("stop")
            .stderr(Stdio::null())
            .status();
    }
}
