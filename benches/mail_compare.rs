//! Side-by-side with Dovecot 2.3 (the anchor instance of `../shared/dovecot-reference/`, fsync
//! at its default in both): LMTP deliveries per second for 1 KiB and 100 KiB messages over one
//! pipelined session each, and POP3 RETR messages per second. Roost's services run in-process
//! (a userdb that knows every user); Dovecot's on its ports 20024 (LMTP) and 20110 (POP3).
//!
//! Run: `../shared/dovecot-reference/start.sh && cargo bench --bench mail_compare`.
//! With `BENCH_MAIL_UID=2001:2001` (as root), the userdb gives every user that uid/gid and
//! roost's mail work goes through mail helpers started by a real root launcher (the bench
//! process plays the server; the helpers' memory is counted with the idle sessions).
//! Without `--bench` (as `cargo test --all-targets` runs it) it does nothing.

use std::io::{BufRead, BufReader, Write};
use std::net::TcpStream;
use std::sync::Arc;
use std::time::Instant;

use roost::net::conn::{Stream, Transport};
use roost::net::Conn;
use roost::runtime::{BoxFuture, Handoff, Hub, Service, Session};
use roost::service::auth::api::{
    AuthApi, AuthHandle, BeginError, ClientInfo, Exchange, UserLookup,
};
use roost::settings::Settings;

const DOVECOT_LMTP: u16 = 20024;
const DOVECOT_POP3: u16 = 20110;
const DOVECOT_USER: &str = "user997@example.test";

struct AnyUser(Vec<(String, String)>);

impl AuthApi for AnyUser {
    fn mechanisms(&self, _secured: bool) -> Vec<String> {
        Vec::new()
    }
    fn begin(&self, _m: &str, _i: ClientInfo) -> Result<Box<dyn Exchange>, BeginError> {
        Err(BeginError::UnknownMechanism)
    }
    fn lookup_user(&self, user: &str, _info: ClientInfo) -> BoxFuture<UserLookup> {
        let r = UserLookup::Found {
            user: user.to_string(),
            fields: self.0.clone(),
        };
        Box::pin(async move { r })
    }
}

fn message(size: usize) -> Vec<u8> {
    let mut m = b"From: bench@example.org\r\nSubject: bench\r\n\r\n".to_vec();
    while m.len() < size {
        m.extend_from_slice(
            b"0123456789 abcdefghijklmnopqrstuvwxyz ABCDEFGHIJKLMNOPQRSTUVWXYZ 0123456789\r\n",
        );
    }
    m
}

struct Client {
    w: TcpStream,
    r: BufReader<TcpStream>,
}

impl Client {
    fn connect(port: u16) -> Client {
        let s = TcpStream::connect(("127.0.0.1", port))
            .unwrap_or_else(|e| panic!("127.0.0.1:{port}: {e} (is the anchor Dovecot running?)"));
        s.set_nodelay(true).unwrap();
        let mut c = Client {
            w: s.try_clone().unwrap(),
            r: BufReader::new(s),
        };
        c.line();
        c
    }

    fn line(&mut self) -> String {
        let mut l = String::new();
        assert!(self.r.read_line(&mut l).unwrap() > 0, "server closed");
        l
    }

    fn smtp_reply(&mut self) -> String {
        loop {
            let l = self.line();
            if l.as_bytes().get(3) != Some(&b'-') {
                return l;
            }
        }
    }

    fn send(&mut self, b: &[u8]) {
        self.w.write_all(b).unwrap();
    }

    /// Messages per second over one session.
    fn lmtp_rate(&mut self, rcpt: &str, msg: &[u8], n: usize) -> f64 {
        self.send(b"LHLO bench\r\n");
        self.smtp_reply();
        let start = Instant::now();
        for _ in 0..n {
            self.send(
                format!("MAIL FROM:<b@example.org>\r\nRCPT TO:<{rcpt}>\r\nDATA\r\n").as_bytes(),
            );
            for _ in 0..3 {
                self.smtp_reply();
            }
            self.send(msg);
            self.send(b".\r\n");
            let r = self.smtp_reply();
            assert!(r.starts_with("250"), "{r}");
        }
        n as f64 / start.elapsed().as_secs_f64()
    }

    /// RETRs messages 1..=n; messages per second. Reads raw bytes up to the terminating
    /// `CRLF.CRLF` so the client's own cost stays small next to the server's.
    fn retr_rate(&mut self, n: usize) -> f64 {
        use std::io::Read;
        let start = Instant::now();
        let mut buf = vec![0u8; 256 * 1024];
        for i in 1..=n {
            self.send(format!("RETR {i}\r\n").as_bytes());
            let mut tail: Vec<u8> = Vec::new();
            let mut first = true;
            loop {
                let got = self.r.buffer().len();
                let n = if got > 0 {
                    let b = self.r.buffer();
                    buf[..got].copy_from_slice(b);
                    self.r.consume(got);
                    got
                } else {
                    self.r.get_mut().read(&mut buf).unwrap()
                };
                assert!(n > 0, "server closed");
                if first {
                    assert!(
                        buf.starts_with(b"+OK"),
                        "{}",
                        String::from_utf8_lossy(&buf[..n])
                    );
                    first = false;
                }
                tail.extend_from_slice(&buf[n.saturating_sub(5)..n]);
                if tail.ends_with(b"\r\n.\r\n") {
                    break;
                }
                let keep = tail.len().saturating_sub(5);
                tail.drain(..keep);
            }
        }
        n as f64 / start.elapsed().as_secs_f64()
    }
}

fn main() {
    if !std::env::args().any(|a| a == "--bench") {
        return;
    }
    let rt = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .unwrap();
    let root = std::env::temp_dir().join(format!("roost-compare-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&root);
    let fields = mail_uid_fields();
    let hub = Arc::new(Hub::default());
    if !fields.is_empty() {
        start_launcher(&hub, &root);
    }
    let (lmtp_port, pop3_port) = rt.block_on(async {
        let mut s = Settings::default();
        s.mail.mail_location = format!("maildir:{}/%d/%n", root.display());
        s.mail.hostname = "bench".into();
        let s = Arc::new(s);
        hub.insert(Arc::new(AuthHandle(Arc::new(AnyUser(fields.clone())))));
        let lmtp = roost::service::lmtp::factory("lmtp", &s, &hub).unwrap();
        let pop3 = roost::service::pop3::factory("pop3", &s, &hub).unwrap();
        let a = serve(lmtp, s.clone(), hub.clone(), None).await;
        let h = Arc::new(Handoff {
            user: DOVECOT_USER.into(),
            fields: fields.clone(),
            ..Default::default()
        });
        let b = serve(pop3, s.clone(), hub.clone(), Some(h)).await;
        (a, b)
    });
    println!(
        "{:<28} {:>12} {:>12} {:>7}",
        "", "roost", "dovecot", "ratio"
    );
    // The machine is shared: alternate roost and Dovecot for a few rounds and keep each
    // one's best round.
    const ROUNDS: usize = 3;
    let mut delivered = 0;
    for (size, n) in [(1024usize, 100usize), (100 * 1024, 40)] {
        let msg = message(size);
        let (mut r, mut d) = (0f64, 0f64);
        let mut rc = Client::connect(lmtp_port);
        let mut dc = Client::connect(DOVECOT_LMTP);
        for _ in 0..ROUNDS {
            r = r.max(rc.lmtp_rate(DOVECOT_USER, &msg, n));
            d = d.max(dc.lmtp_rate(DOVECOT_USER, &msg, n));
            delivered += n;
        }
        println!(
            "{:<28} {:>9.0}/s {:>9.0}/s {:>6.2}x",
            format!("LMTP deliver {} KiB", size / 1024),
            r,
            d,
            r / d
        );
    }
    let mut rc = Client::connect(pop3_port);
    let mut dc = Client::connect(DOVECOT_POP3);
    dc.send(format!("USER {DOVECOT_USER}\r\nPASS pass\r\n").as_bytes());
    dc.line();
    let ok = dc.line();
    assert!(ok.starts_with("+OK"), "Dovecot login: {ok}");
    let (mut r, mut d) = (0f64, 0f64);
    for _ in 0..ROUNDS {
        r = r.max(rc.retr_rate(delivered));
        d = d.max(dc.retr_rate(delivered));
    }
    println!(
        "{:<28} {:>9.0}/s {:>9.0}/s {:>6.2}x",
        format!("POP3 RETR ({delivered} msgs)"),
        r,
        d,
        r / d
    );
    // Leave Dovecot's mailbox as it was: delete what we delivered.
    for i in 1..=delivered {
        dc.send(format!("DELE {i}\r\n").as_bytes());
        dc.line();
    }
    dc.send(b"QUIT\r\n");
    dc.line();

    // Memory of idle authenticated POP3 sessions: roost's process growth per session against
    // the resident size of one Dovecot pop3 process per session.
    const IDLE: usize = 50;
    let before = self_rss_kib() + mail_helpers_rss_kib();
    let roost_idle: Vec<Client> = (0..IDLE)
        .map(|_| {
            let mut c = Client::connect(pop3_port);
            c.send(b"STAT\r\n");
            c.line();
            c
        })
        .collect();
    let roost_kib =
        (self_rss_kib() + mail_helpers_rss_kib()).saturating_sub(before) as f64 / IDLE as f64;
    let dov_before = dovecot_pop3_rss_kib();
    let dov_idle: Vec<Client> = (0..IDLE)
        .map(|_| {
            let mut c = Client::connect(DOVECOT_POP3);
            c.send(format!("USER {DOVECOT_USER}\r\nPASS pass\r\nSTAT\r\n").as_bytes());
            for _ in 0..3 {
                c.line();
            }
            c
        })
        .collect();
    let dov_kib = (dovecot_pop3_rss_kib().saturating_sub(dov_before)) as f64 / IDLE as f64;
    println!(
        "{:<28} {:>8.0} KiB {:>8.0} KiB {:>6.3}x",
        "idle POP3 session memory",
        roost_kib,
        dov_kib,
        roost_kib / dov_kib
    );
    drop(roost_idle);
    drop(dov_idle);
    let _ = std::fs::remove_dir_all(&root);
}

/// `BENCH_MAIL_UID=uid:gid` as userdb fields (empty: no uid, mail work in-process).
fn mail_uid_fields() -> Vec<(String, String)> {
    let Ok(v) = std::env::var("BENCH_MAIL_UID") else {
        return Vec::new();
    };
    let (uid, gid) = v.split_once(':').expect("BENCH_MAIL_UID=uid:gid");
    println!("mail helpers: userdb uid {uid} gid {gid}");
    vec![("uid".into(), uid.into()), ("gid".into(), gid.into())]
}

/// A root launcher reading its own configuration (in `root`), in the hub as `roost serve` has
/// it; the mail root is made writable for the helpers' uid.
fn start_launcher(hub: &Hub, root: &std::path::Path) {
    use std::os::unix::fs::PermissionsExt;
    std::fs::create_dir_all(root).unwrap();
    std::fs::set_permissions(root, std::fs::Permissions::from_mode(0o1777)).unwrap();
    let conf = root.join("launcher.toml");
    std::fs::write(&conf, format!("base_dir = \"{}/run\"\n", root.display())).unwrap();
    let l = roost::privsep::launcher::Launcher::start_with(
        std::path::Path::new(env!("CARGO_BIN_EXE_roost")),
        &roost::settings::load::ConfigSource::File(conf),
    )
    .expect("the launcher needs root");
    hub.insert(Arc::new(l));
}

/// Resident size of roost's mail helper processes.
fn mail_helpers_rss_kib() -> u64 {
    let mut total = 0;
    for e in std::fs::read_dir("/proc").unwrap().flatten() {
        let p = e.path();
        let Ok(cmd) = std::fs::read(p.join("cmdline")) else {
            continue;
        };
        if !String::from_utf8_lossy(&cmd).contains("kind=mail") {
            continue;
        }
        if let Ok(st) = std::fs::read_to_string(p.join("status")) {
            total += st
                .lines()
                .find_map(|l| l.strip_prefix("VmRSS:"))
                .and_then(|v| v.split_whitespace().next()?.parse::<u64>().ok())
                .unwrap_or(0);
        }
    }
    total
}

/// This process's resident set size.
fn self_rss_kib() -> u64 {
    let s = std::fs::read_to_string("/proc/self/status").unwrap();
    s.lines()
        .find_map(|l| l.strip_prefix("VmRSS:"))
        .and_then(|v| v.split_whitespace().next()?.parse().ok())
        .unwrap()
}

/// Total resident size of Dovecot's post-login pop3 processes.
fn dovecot_pop3_rss_kib() -> u64 {
    let mut total = 0;
    for e in std::fs::read_dir("/proc").unwrap().flatten() {
        let p = e.path();
        let Ok(cmd) = std::fs::read_to_string(p.join("cmdline")) else {
            continue;
        };
        let name = cmd.split('\0').next().unwrap_or("");
        if !name.ends_with("/pop3") && !name.contains("/pop3 ") {
            continue;
        }
        if let Ok(st) = std::fs::read_to_string(p.join("status")) {
            total += st
                .lines()
                .find_map(|l| l.strip_prefix("VmRSS:"))
                .and_then(|v| v.split_whitespace().next()?.parse::<u64>().ok())
                .unwrap_or(0);
        }
    }
    total
}

async fn serve(
    svc: Arc<dyn Service>,
    s: Arc<Settings>,
    hub: Arc<Hub>,
    handoff: Option<Arc<Handoff>>,
) -> u16 {
    let l = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let port = l.local_addr().unwrap().port();
    tokio::spawn(async move {
        while let Ok((sock, peer)) = l.accept().await {
            let mut conn = Conn::new(Stream::new(Transport::Tcp(sock)), "bench", "bench");
            conn.remote = Some(peer);
            let mut session = Session::detached("bench", s.clone());
            session.hub = hub.clone();
            session.handoff = handoff.clone();
            tokio::spawn(svc.clone().serve(conn, session));
        }
    });
    port
}
