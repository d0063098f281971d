//! Postfix authenticating SMTP clients through roost: a private Postfix instance (its own
//! config and queue directory, smtpd on a loopback port) with `smtpd_sasl_type = dovecot` and
//! `smtpd_sasl_path` at roost's auth-client socket; swaks logs in with PLAIN and LOGIN and is
//! rejected with a wrong password. Needs root (Postfix's master) and the postfix and swaks
//! packages; fails otherwise.

mod common;

use std::process::{Child, Command, Stdio};
use std::time::Duration;

use common::*;

struct Postfix {
    child: Child,
    queue: std::path::PathBuf,
}

impl Drop for Postfix {
    fn drop(&mut self) {
        // SIGTERM lets master stop its smtpd/proxymap children.
        let pid = nix::unistd::Pid::from_raw(self.child.id() as i32);
        let _ = nix::sys::signal::kill(pid, Signal::SIGTERM);
        let _ = self.child.wait();
        let _ = std::fs::remove_dir_all(&self.queue);
    }
}

fn chown_postfix(p: &std::path::Path) {
    let st = Command::new("chown")
        .args(["-R", "postfix", p.to_str().unwrap()])
        .status()
        .expect("chown");
    assert!(
        st.success(),
        "chown postfix {} (is the postfix package installed?)",
        p.display()
    );
}

fn start_postfix(dir: &std::path::Path, port: u16, sasl_path: &std::path::Path) -> Postfix {
    let queue = dir.join("queue");
    for d in ["pid", "private", "public"] {
        std::fs::create_dir_all(queue.join(d)).unwrap();
    }
    std::fs::create_dir_all(dir.join("data")).unwrap();
    chown_postfix(&queue.join("private"));
    chown_postfix(&queue.join("public"));
    chown_postfix(&dir.join("data"));
    std::fs::write(
        dir.join("main.cf"),
        format!(
            "compatibility_level = 3.6\nqueue_directory = {q}\ndata_directory = {d}\nmail_owner = postfix\n\
             inet_protocols = ipv4\ninet_interfaces = 127.0.0.1\nmyhostname = roost.test\nmydestination =\n\
             smtpd_sasl_auth_enable = yes\nsmtpd_sasl_type = dovecot\nsmtpd_sasl_path = {s}\n\
             smtpd_relay_restrictions = permit_sasl_authenticated, reject\nsmtpd_tls_security_level = none\n\
             maillog_file_prefixes = /tmp, /var\nmaillog_file = {dir}/maillog\n",
            q = queue.display(),
            d = dir.join("data").display(),
            s = sasl_path.display(),
            dir = dir.display(),
        ),
    )
    .unwrap();
    std::fs::write(
        dir.join("master.cf"),
        format!(
            "127.0.0.1:{port} inet n - n - - smtpd\npostlog unix-dgram n - n - 1 postlogd\n\
             anvil unix - - n - 1 anvil\nproxymap unix - - n - - proxymap\n"
        ),
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

fn swaks(port: u16, mech: &str, user: &str, pass: &str) -> String {
    let server = format!("127.0.0.1:{port}");
    run_tool(
        "swaks",
        &[
            "--server",
            &server,
            "--auth",
            mech,
            "--auth-user",
            user,
            "--auth-password",
            pass,
            "--quit-after",
            "AUTH",
            "--timeout",
            "20",
        ],
    )
    .all()
}

#[test]
fn postfix_smtpd_sasl_through_roost() {
    let launch = Launch::new("auth-postfix");
    let file = launch.dir().write("users", "alice:{SHA256-CRYPT}$5$D4x4j8OMtODd/oDk$MBec14XGi2Fezqx8iEGzgABgxeLwGEOinv1d1KUuX10:1000:1000::/home/alice\n");
    let extra = format!(
        "auth_mechanisms = \"plain login\"\n\n[[passdb]]\ndriver = \"passwd-file\"\nargs = \"{f}\"\n\n[service.auth.unix_listener.auth-client]\nmode = \"0666\"\n",
        f = file.display()
    );
    let server = launch.config(&extra).start();
    let pfdir = TempDir::new("postfix");
    let port = free_port();
    let _pf = start_postfix(pfdir.path(), port, &server.base_dir.join("auth-client"));
    let maillog_path = pfdir.join("maillog");
    let maillog = || read_text(&maillog_path);

    let out = swaks(port, "PLAIN", "alice", "secret pw");
    assert!(
        out.contains("235 2.7.0 Authentication successful"),
        "PLAIN:\n{out}\n{}\n{}",
        maillog(),
        server.log_text()
    );
    let out = swaks(port, "LOGIN", "alice", "secret pw");
    assert!(
        out.contains("235 2.7.0 Authentication successful"),
        "LOGIN:\n{out}\n{}",
        maillog()
    );
    let out = swaks(port, "PLAIN", "alice", "wrong");
    assert!(
        out.contains("535"),
        "wrong password must be rejected:\n{out}"
    );
    assert!(!out.contains("235 "), "{out}");
    // Postfix writes its log asynchronously: give it a moment under load.
    assert!(
        wait_file_contains(
            &maillog_path,
            "SASL PLAIN authentication failed",
            Duration::from_secs(10)
        ),
        "{}",
        maillog()
    );
}
