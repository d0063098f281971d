//! Postfix delivering to roost over LMTP: a private Postfix (its own config and queue, smtpd on
//! a loopback port, `virtual_transport = lmtp:inet:` roost) takes one message for several
//! virtual aliases that all expand to the same mailbox. Postfix keeps one recipient per
//! original address, so its LMTP client sends `RCPT TO:<bob@roost.test>` more than once in one
//! transaction (its log shows one `status=sent` per alias); roost answers every RCPT and stores
//! one copy, as Dovecot does. Needs root and the postfix and swaks packages.

mod common;

use std::path::Path;
use std::process::{Child, Command, Stdio};
use std::time::Duration;

use common::*;

struct Postfix {
    child: Child,
    queue: std::path::PathBuf,
}

impl Drop for Postfix {
    fn drop(&mut self) {
        let pid = nix::unistd::Pid::from_raw(self.child.id() as i32);
        let _ = nix::sys::signal::kill(pid, Signal::SIGTERM);
        let _ = self.child.wait();
        let _ = std::fs::remove_dir_all(&self.queue);
    }
}

fn chown_postfix(p: &Path) {
    let st = Command::new("chown")
        .args(["-R", "postfix", p.to_str().unwrap()])
        .status()
        .expect("chown");
    assert!(st.success(), "chown postfix (is postfix installed?)");
}

const MASTER_CF: &str = "\
PORT inet n - n - - smtpd
pickup unix n - n 60 1 pickup
cleanup unix n - n - 0 cleanup
qmgr unix n - n 300 1 qmgr
rewrite unix - - n - - trivial-rewrite
bounce unix - - n - 0 bounce
defer unix - - n - 0 bounce
trace unix - - n - 0 bounce
verify unix - - n - 1 verify
flush unix n - n 1000 0 flush
proxymap unix - - n - - proxymap
smtp unix - - n - - smtp
relay unix - - n - - smtp
showq unix n - n - - showq
error unix - - n - - error
retry unix - - n - - error
discard unix - - n - - discard
lmtp unix - - n - - lmtp
anvil unix - - n - 1 anvil
scache unix - - n - 1 scache
postlog unix-dgram n - n - 1 postlogd
";

fn start_postfix(dir: &Path, port: u16, lmtp: u16) -> Postfix {
    let queue = dir.join("queue");
    for d in [
        "pid", "private", "public", "incoming", "active", "deferred", "defer", "bounce", "trace",
        "flush", "hold", "corrupt", "saved", "maildrop",
    ] {
        std::fs::create_dir_all(queue.join(d)).unwrap();
    }
    std::fs::create_dir_all(dir.join("data")).unwrap();
    for d in std::fs::read_dir(&queue).unwrap() {
        let d = d.unwrap().path();
        if !d.ends_with("pid") {
            chown_postfix(&d);
        }
    }
    chown_postfix(&dir.join("data"));
    std::fs::write(
        dir.join("main.cf"),
        format!(
            "compatibility_level = 3.6\nqueue_directory = {q}\ndata_directory = {d}\n\
mail_owner = postfix\ninet_protocols = ipv4\ninet_interfaces = 127.0.0.1\n\
myhostname = relay.roost.test\nmydomain = roost.test\nmyorigin = roost.test\nmydestination =\n\
mynetworks = 127.0.0.0/8\nsmtpd_relay_restrictions = permit_mynetworks, reject\n\
virtual_alias_domains = alias.test\n\
virtual_alias_maps = inline:{{ {{a@alias.test = bob@roost.test}}, {{b@alias.test = bob@roost.test}}, \
{{both@alias.test = bob, bob@roost.test}} }}\n\
virtual_mailbox_domains = roost.test\nvirtual_transport = lmtp:inet:127.0.0.1:{lmtp}\n\
smtpd_tls_security_level = none\nlmtp_tls_security_level = none\n\
maillog_file_prefixes = /tmp, /var\nmaillog_file = {dir}/maillog\n",
            q = queue.display(),
            d = dir.join("data").display(),
            dir = dir.display(),
        ),
    )
    .unwrap();
    std::fs::write(
        dir.join("master.cf"),
        MASTER_CF.replace("PORT", &format!("127.0.0.1:{port}")),
    )
    .unwrap();
    let child = Command::new("/usr/lib/postfix/sbin/master")
        .args(["-c", dir.to_str().unwrap(), "-d"])
        .env("MAIL_CONFIG", dir)
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .expect("Postfix's master must be installed (Debian package postfix)");
    let pf = Postfix { child, queue };
    assert!(
        wait_until(Duration::from_secs(15), || port_open(port)),
        "postfix did not start: {}",
        read_text(&dir.join("maillog"))
    );
    pf
}

fn count(dir: &Path) -> usize {
    ["new", "cur"]
        .iter()
        .map(|d| {
            std::fs::read_dir(dir.join(d))
                .map(|r| r.count())
                .unwrap_or(0)
        })
        .sum()
}

#[test]
fn postfix_sending_the_same_recipient_twice_in_one_transaction_stores_one_copy() {
    let launch = Launch::new("lmtp-postfix");
    let users = launch
        .dir()
        .write("users", "bob@roost.test:{PLAIN}x:1000:1000::/nonexistent\n");
    let mail = launch.dir().join("mail");
    let lmtp = free_port();
    let extra = format!(
        "protocols = [\"lmtp\"]\nmail_location = \"maildir:{m}/%n\"\nhostname = \"mx.roost.test\"\n\n\
[[passdb]]\ndriver = \"passwd-file\"\nargs = \"{u}\"\n\n\
[[userdb]]\ndriver = \"passwd-file\"\nargs = \"{u}\"\n\n\
[service.lmtp.inet_listener.lmtp]\nport = {lmtp}\n",
        m = mail.display(),
        u = users.display()
    );
    let server = launch.config(&extra).ready_on(&[lmtp]).start();
    let pfdir = TempDir::new("postfix-lmtp");
    let smtp = free_port();
    let _pf = start_postfix(pfdir.path(), smtp, lmtp);
    let out = run_tool(
        "swaks",
        &[
            "--server",
            &format!("127.0.0.1:{smtp}"),
            "--from",
            "s@example.org",
            "--to",
            "a@alias.test,b@alias.test,both@alias.test",
            "--header",
            "Subject: aliases",
            "--body",
            "one copy please",
            "--timeout",
            "20",
        ],
    )
    .all();
    assert!(out.contains("<-  250 2.0.0 Ok: queued"), "{out}");
    let maillog = pfdir.join("maillog");
    let sent = || {
        read_text(&maillog)
            .lines()
            .filter(|l| l.contains("to=<bob@roost.test>") && l.contains("status=sent"))
            .count()
    };
    assert!(
        wait_until(Duration::from_secs(60), || sent() >= 2),
        "postfix did not deliver to both aliases:\n{}\n{}",
        read_text(&maillog),
        server.log_text()
    );
    let log = read_text(&maillog);
    assert!(
        log.contains("orig_to=<a@alias.test>") && log.contains("orig_to=<b@alias.test>"),
        "{log}"
    );
    // Both aliases got roost's reply in the same transaction (same session id, one `Saved`).
    let ids: Vec<String> = log
        .lines()
        .filter(|l| l.contains("status=sent"))
        .filter_map(|l| l.split("<bob@roost.test> ").nth(1))
        .map(|rest| rest.split(' ').next().unwrap().to_string())
        .collect();
    assert!(ids.len() >= 2 && ids.iter().all(|i| i == &ids[0]), "{log}");
    assert_eq!(
        count(&mail.join("bob")),
        1,
        "one copy:\n{}",
        server.log_text()
    );
    assert_eq!(
        server.log_text().matches("saved mail to INBOX").count(),
        1,
        "{}",
        server.log_text()
    );
}
