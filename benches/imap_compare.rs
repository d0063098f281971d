//! IMAP side by side with a private Dovecot 2.3 in one run: the release `roost` binary with its
//! own config and a throw-away Dovecot (Dovecot's imap-login in high-performance mode:
//! `service_count = 0`, `process_min_avail` = cores), the same passwd-file user, the same
//! RSA-2048 certificate (made with `openssl req`), `mail_max_userip_connections = 0` and
//! `process_limit` of the imap service raised in both so 10,000 sessions fit.
//!
//! Measured, alternating the two servers for a few rounds and keeping each one's best:
//! LOGIN+LOGOUT cycles/s with N concurrent clients; implicit-TLS (imaps) LOGIN+LOGOUT/s with
//! full handshakes (no resumption), next to what `openssl speed -multi CORES rsa2048` signs
//! per second (measured again right before each imaps round: this shared machine's speed
//! drifts by ±15% over minutes, and a ratio against a figure from another minute would carry
//! that drift); APPEND of 4 KiB messages/s over one session; `FETCH 1:* BODY[]` on the
//! 500-message mailbox the APPENDs made; and memory per idle logged-in connection with 10,000
//! held: PSS (`/proc/PID/smaps_rollup`) of the server's whole process tree, before and after.
//!
//! Run as root: `cargo bench --bench imap_compare` (BENCH_IMAP_IDLE=N holds N instead of
//! 10,000; BENCH_IMAP_ONLY=login,imaps,append,fetch,idle runs only those rows). Without `--bench` (as `cargo test --all-targets` runs it) it does nothing.

use std::collections::HashSet;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use tokio::io::{AsyncBufReadExt, AsyncRead, AsyncReadExt, AsyncWrite, AsyncWriteExt, BufReader};
use tokio::net::TcpStream;
use tokio_rustls::rustls;

/// Concurrent clients of the login benches.
const CLIENTS: usize = 32;
/// How long one login round runs.
const ROUND: Duration = Duration::from_secs(4);
const ROUNDS: usize = 3;
/// Messages APPENDed per round (round 0's mailbox is the FETCH mailbox).
const MESSAGES: usize = 500;
const MESSAGE_SIZE: usize = 4096;
/// How long any single server answer may take.
const IO_TIMEOUT: Duration = Duration::from_secs(60);
const USER: &str = "bob";
const PASS: &str = "pass";

fn main() {
    if !std::env::args().any(|a| a == "--bench") {
        return;
    }
    let nofile = raise_nofile();
    let idle_target: usize = std::env::var("BENCH_IMAP_IDLE")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(10_000);
    let cores = std::thread::available_parallelism().map_or(1, |n| n.get());
    // Both servers' mail goes under one base directory: BENCH_DIR, or else the candidate
    // where creating a file is cheapest right now. On this machine's ext4 a file creation
    // costs 10-40 us in most directories and 0.1-0.9 ms in others (which ones changes over
    // the hours; parallel creators there slow each other down further), and one such
    // directory under either server's mail drowns APPEND in the disk's noise.
    let base = match std::env::var_os("BENCH_DIR") {
        Some(d) => PathBuf::from(d),
        None => quickest_base(),
    };
    println!(
        "mail under {}: {:.0} us per file creation there",
        base.display(),
        create_cost_us(&base)
    );
    let dir = base.join(format!("roost-imap-compare-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).unwrap();
    set_mode(&dir, 0o755);
    let (cert, key) = make_cert(&dir);

    let roost = Roost::start(&dir.join("roost"), &cert, &key);
    let dovecot = Dovecot::start(&dir.join("dovecot"), &cert, &key, cores);
    let servers: [(&str, u16, u16, &dyn Tree); 2] = [
        ("roost", roost.imap, roost.imaps, &roost),
        ("dovecot", dovecot.imap, dovecot.imaps, &dovecot),
    ];

    let rt = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(cores.max(2))
        .enable_all()
        .build()
        .unwrap();
    let tls = tls_client();
    println!("imap_compare: {cores} cores, nofile {nofile}, {CLIENTS} concurrent clients\n");

    let mut rows: Vec<(String, f64, f64, bool)> = Vec::new();
    let best = |f: &dyn Fn(usize, u16, u16) -> f64| -> [f64; 2] {
        let mut best = [0f64; 2];
        for round in 0..ROUNDS {
            for (i, (_, plain, tls, _)) in servers.iter().enumerate() {
                best[i] = best[i].max(f(round, *plain, *tls));
            }
        }
        best
    };

    // BENCH_IMAP_ONLY=login,imaps,append,fetch,idle runs only those rows (FETCH needs APPEND's
    // mailbox).
    let only = std::env::var("BENCH_IMAP_ONLY").unwrap_or_default();
    let run = |row: &str| only.is_empty() || only.split(',').any(|o| o == row);
    if run("login") {
        let [r, d] = best(&|_, port, _| rt.block_on(login_cycles(port, None)));
        rows.push(("LOGIN+LOGOUT cycles/s".into(), r, d, true));
    }
    // Per round: the sign rate right before it, then both servers; the ratios are kept per
    // round and the best round is reported.
    let mut tls_ratio: Option<(f64, f64, f64)> = None;
    if run("imaps") {
        // Wall rate, and what the server could do with every core: logins per CPU-second of
        // the server's process tree, times the cores (the bench client takes the rest of
        // this machine, which openssl speed's figure does not share).
        let mut best = [(0f64, 0f64); 2];
        for _ in 0..ROUNDS {
            let signs = openssl_signs(cores);
            let mut capacity_now = [0f64; 2];
            let mut rate_now = [0f64; 2];
            for (i, (_, _, port, tree)) in servers.iter().enumerate() {
                let cpu0 = tree_cpu_secs(tree.root_pid());
                let t0 = Instant::now();
                let rate = rt.block_on(login_cycles(*port, Some(tls.clone())));
                let wall = t0.elapsed().as_secs_f64();
                let cpu = tree_cpu_secs(tree.root_pid()) - cpu0;
                let capacity = rate * wall / cpu.max(0.01) * cores as f64;
                best[i] = (best[i].0.max(rate), best[i].1.max(capacity));
                (rate_now[i], capacity_now[i]) = (rate, capacity);
            }
            println!(
                "imaps round: openssl {signs:.0} signs/s; roost {:.0}/s wall, {:.0}/server CPU-s x {cores} \
({:.2}, {:.2} of signs/s); dovecot {:.0}/s, {:.0}",
                rate_now[0],
                capacity_now[0],
                rate_now[0] / signs,
                capacity_now[0] / signs,
                rate_now[1],
                capacity_now[1]
            );
            let round = (rate_now[0] / signs, capacity_now[0] / signs, signs);
            if tls_ratio.is_none_or(|b| round.1 > b.1) {
                tls_ratio = Some(round);
            }
        }
        rows.push(("imaps LOGIN+LOGOUT/s".into(), best[0].0, best[1].0, true));
        rows.push((
            format!("imaps logins/server CPU-s x {cores}"),
            best[0].1,
            best[1].1,
            true,
        ));
    }
    if run("append") || run("fetch") {
        let [r, d] = best(&|round, port, _| rt.block_on(append_rate(port, round)));
        rows.push(("APPEND 4 KiB msgs/s".into(), r, d, true));
    }
    if run("fetch") {
        let [r, d] = best(&|_, port, _| rt.block_on(fetch_rate(port)));
        rows.push(("FETCH 1:* BODY[] MB/s".into(), r, d, true));
    }

    let mut per_conn = Vec::new();
    for (name, port, _, tree) in servers.into_iter().filter(|_| run("idle")) {
        let (held, kib) = rt.block_on(idle_memory(port, idle_target, tree));
        println!("{name}: held {held} idle logged-in connections, {kib:.1} KiB PSS each");
        per_conn.push(kib);
    }
    if let [r, d] = per_conn[..] {
        rows.push((
            format!("KiB PSS per idle session ({idle_target})"),
            r,
            d,
            false,
        ));
    }

    println!(
        "\n{:<34} {:>12} {:>12} {:>9}",
        "", "roost", "dovecot", "ratio"
    );
    for (what, r, d, higher_better) in &rows {
        let ratio = if *higher_better { r / d } else { d / r };
        println!("{what:<34} {r:>12.1} {d:>12.1} {ratio:>8.2}×");
    }
    if let Some((wall, per_cpu, signs)) = tls_ratio {
        println!(
            "imaps logins/s vs `openssl speed -multi {cores} rsa2048` signs/s ({signs:.0}) right \
before the best round: {wall:.2} wall (client on the same cores), {per_cpu:.2} per server CPU \
(goal ≥ 0.5)"
        );
    }
    println!(
        "(ratio: roost/dovecot for rates, dovecot/roost for memory; higher is better for roost)"
    );
    drop(rt);
    drop(roost);
    drop(dovecot);
    let _ = std::fs::remove_dir_all(&dir);
}

// ---------------------------------------------------------------- setup

/// Of the usual writable places every user can traverse, the one where creating a file is
/// cheapest now (see `main`).
fn quickest_base() -> PathBuf {
    [
        "/var/tmp",
        "/var/lib",
        "/srv",
        "/opt",
        "/home",
        "/var/cache",
        "/tmp",
    ]
    .iter()
    .map(PathBuf::from)
    .filter(|p| p.is_dir())
    .map(|p| (create_cost_us(&p), p))
    .min_by(|a, b| a.0.total_cmp(&b.0))
    .map(|(_, p)| p)
    .unwrap_or_else(|| PathBuf::from("/var/tmp"))
}

/// Microseconds per create + 4 KiB write + rename into another directory (no fsync), over
/// 200 files in a fresh directory below `base`; infinite where that cannot be done.
fn create_cost_us(base: &Path) -> f64 {
    let probe = base.join(format!("roost-imap-compare-probe-{}", std::process::id()));
    let made = (|| -> std::io::Result<f64> {
        std::fs::create_dir_all(probe.join("tmp"))?;
        std::fs::create_dir_all(probe.join("new"))?;
        let start = Instant::now();
        for i in 0..200 {
            let t = probe.join("tmp").join(i.to_string());
            std::fs::write(&t, [b'x'; 4096])?;
            std::fs::rename(&t, probe.join("new").join(i.to_string()))?;
        }
        Ok(start.elapsed().as_secs_f64() * 1e6 / 200.0)
    })();
    let _ = std::fs::remove_dir_all(&probe);
    made.unwrap_or(f64::INFINITY)
}

/// Raises RLIMIT_NOFILE as far as allowed (the servers inherit it); returns the soft limit.
fn raise_nofile() -> u64 {
    use nix::sys::resource::{getrlimit, setrlimit, Resource};
    let (_, hard) = getrlimit(Resource::RLIMIT_NOFILE).unwrap();
    let want = 1_048_576u64;
    if setrlimit(Resource::RLIMIT_NOFILE, want, want).is_ok() {
        return want;
    }
    let _ = setrlimit(Resource::RLIMIT_NOFILE, hard, hard);
    getrlimit(Resource::RLIMIT_NOFILE).unwrap().0
}

fn set_mode(p: &Path, mode: u32) {
    use std::os::unix::fs::PermissionsExt;
    std::fs::set_permissions(p, std::fs::Permissions::from_mode(mode)).unwrap();
}

fn run(cmd: &mut Command) -> String {
    let out = cmd.output().unwrap_or_else(|e| panic!("{cmd:?}: {e}"));
    assert!(
        out.status.success(),
        "{cmd:?}: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8_lossy(&out.stdout).into_owned()
}

/// One self-signed RSA-2048 certificate for both servers.
fn make_cert(dir: &Path) -> (PathBuf, PathBuf) {
    let (cert, key) = (dir.join("cert.pem"), dir.join("key.pem"));
    run(Command::new("openssl")
        .args([
            "req",
            "-x509",
            "-newkey",
            "rsa:2048",
            "-nodes",
            "-days",
            "2",
            "-subj",
            "/CN=localhost",
            "-addext",
            "subjectAltName=DNS:localhost",
            "-keyout",
        ])
        .arg(&key)
        .arg("-out")
        .arg(&cert));
    set_mode(&key, 0o644);
    (cert, key)
}

/// RSA-2048 signatures per second on all cores, as `openssl speed -multi` reports them.
fn openssl_signs(cores: usize) -> f64 {
    let out = run(Command::new("openssl").args([
        "speed",
        "-multi",
        &cores.to_string(),
        "-seconds",
        "1",
        "rsa2048",
    ]));
    out.lines()
        .find(|l| l.starts_with("rsa 2048 bits") || l.starts_with("rsa  2048 bits"))
        .and_then(|l| l.split_whitespace().nth(5))
        .and_then(|v| v.parse().ok())
        .unwrap_or(f64::NAN)
}

fn wait_port(port: u16, what: &str, log: &Path) {
    let deadline = Instant::now() + Duration::from_secs(30);
    while std::net::TcpStream::connect(("127.0.0.1", port)).is_err() {
        assert!(
            Instant::now() < deadline,
            "{what} never opened port {port}:\n{}",
            std::fs::read_to_string(log).unwrap_or_default()
        );
        std::thread::sleep(Duration::from_millis(50));
    }
}

fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

/// A server whose memory is its whole process tree.
trait Tree {
    fn root_pid(&self) -> i32;
}

/// Every process under `root` (itself included).
fn tree_pids(root: i32) -> Vec<i32> {
    let mut parent = Vec::new();
    for e in std::fs::read_dir("/proc").unwrap().flatten() {
        let Ok(pid) = e.file_name().to_string_lossy().parse::<i32>() else {
            continue;
        };
        let Ok(stat) = std::fs::read_to_string(format!("/proc/{pid}/stat")) else {
            continue;
        };
        let Some(ppid) = stat
            .rsplit_once(')')
            .and_then(|(_, r)| r.split_whitespace().nth(1))
            .and_then(|v| v.parse::<i32>().ok())
        else {
            continue;
        };
        parent.push((pid, ppid));
    }
    let mut set: HashSet<i32> = [root].into();
    loop {
        let before = set.len();
        for (pid, ppid) in &parent {
            if set.contains(ppid) {
                set.insert(*pid);
            }
        }
        if set.len() == before {
            break;
        }
    }
    set.into_iter().collect()
}

/// Sum of PSS over a process tree, KiB.
/// CPU seconds (user + system) used so far by the processes under `root`: the live ones and
/// the children each has reaped (Dovecot's per-login imap processes end during a round).
fn tree_cpu_secs(root: i32) -> f64 {
    // /proc reports clock ticks of USER_HZ, which is 100 on Linux.
    const TICKS: f64 = 100.0;
    tree_pids(root)
        .iter()
        .filter_map(|pid| std::fs::read_to_string(format!("/proc/{pid}/stat")).ok())
        .map(|stat| {
            let fields: Vec<f64> = stat
                .rsplit_once(')')
                .map(|(_, r)| {
                    r.split_whitespace()
                        .filter_map(|v| v.parse().ok())
                        .collect()
                })
                .unwrap_or_default();
            // The numbers after the state letter, from ppid as 0: utime is 10, stime 11,
            // cutime 12, cstime 13.
            fields.get(10..14).map_or(0.0, |t| t.iter().sum::<f64>())
        })
        .sum::<f64>()
        / TICKS
}

fn tree_pss_kib(root: i32) -> f64 {
    tree_pids(root)
        .iter()
        .filter_map(|pid| std::fs::read_to_string(format!("/proc/{pid}/smaps_rollup")).ok())
        .filter_map(|t| {
            t.lines()
                .find_map(|l| l.strip_prefix("Pss:"))
                .and_then(|v| v.trim().trim_end_matches("kB").trim().parse::<f64>().ok())
        })
        .sum()
}

struct Roost {
    child: Child,
    imap: u16,
    imaps: u16,
}

impl Tree for Roost {
    fn root_pid(&self) -> i32 {
        self.child.id() as i32
    }
}

impl Roost {
    fn start(dir: &Path, cert: &Path, key: &Path) -> Roost {
        std::fs::create_dir_all(dir).unwrap();
        let users = dir.join("users");
        std::fs::write(&users, format!("{USER}:{{PLAIN}}{PASS}::::::\n")).unwrap();
        let (imap, imaps, stats) = (free_port(), free_port(), free_port());
        let cfg = format!(
            "base_dir = \"{d}/run\"\nlisten = \"127.0.0.1\"\nlog_path = \"{d}/roost.log\"\n\
default_internal_user = \"root\"\nprotocols = [\"imap\"]\n\
mail_location = \"maildir:{d}/mail/%n\"\nmail_max_userip_connections = 0\n\
ssl_cert = \"{cert}\"\nssl_key = \"{key}\"\n\n\
[[passdb]]\ndriver = \"passwd-file\"\nargs = \"{u}\"\n\n\
[[userdb]]\ndriver = \"passwd-file\"\nargs = \"{u}\"\n\n\
[service.imap]\nprocess_limit = 11000\n\n\
[service.imap-login]\nservice_count = 0\n\
[service.imap-login.inet_listener.imap]\nport = {imap}\n\
[service.imap-login.inet_listener.imaps]\nport = {imaps}\nssl = true\n\n\
[service.stats.inet_listener.http]\nport = {stats}\n",
            d = dir.display(),
            cert = cert.display(),
            key = key.display(),
            u = users.display(),
        );
        let config = dir.join("roost.toml");
        std::fs::write(&config, cfg).unwrap();
        let child = Command::new(env!("CARGO_BIN_EXE_roost"))
            .arg("serve")
            .arg("-c")
            .arg(&config)
            .env_remove("ROOST_CONFIG")
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(std::fs::File::create(dir.join("stderr.log")).unwrap())
            .spawn()
            .expect("start roost");
        let log = dir.join("roost.log");
        wait_port(imap, "roost", &log);
        wait_port(imaps, "roost", &log);
        Roost { child, imap, imaps }
    }
}

impl Drop for Roost {
    fn drop(&mut self) {
        let _ = nix::sys::signal::kill(
            nix::unistd::Pid::from_raw(self.child.id() as i32),
            nix::sys::signal::Signal::SIGTERM,
        );
        let deadline = Instant::now() + Duration::from_secs(20);
        while Instant::now() < deadline {
            if let Ok(Some(_)) = self.child.try_wait() {
                return;
            }
            std::thread::sleep(Duration::from_millis(50));
        }
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

struct Dovecot {
    dir: PathBuf,
    imap: u16,
    imaps: u16,
}

impl Tree for Dovecot {
    fn root_pid(&self) -> i32 {
        std::fs::read_to_string(self.dir.join("base/master.pid"))
            .ok()
            .and_then(|p| p.trim().parse().ok())
            .expect("dovecot's master.pid")
    }
}

impl Dovecot {
    fn start(dir: &Path, cert: &Path, key: &Path, cores: usize) -> Dovecot {
        std::fs::create_dir_all(dir.join("mail")).unwrap();
        set_mode(dir, 0o755);
        let (imap, imaps) = (free_port(), free_port());
        let conf = format!(
            "base_dir = {d}/base\nstate_dir = {d}/state\nlog_path = {d}/dovecot.log\n\
protocols = imap\nlisten = 127.0.0.1\ndisable_plaintext_auth = no\n\
ssl = yes\nssl_cert = <{cert}\nssl_key = <{key}\n\
mail_location = maildir:{d}/mail/%n\nmail_uid = nobody\nmail_gid = nogroup\n\
first_valid_uid = 1\nfirst_valid_gid = 1\nmail_max_userip_connections = 0\n\
default_client_limit = 12000\n\
passdb {{\n  driver = passwd-file\n  args = {d}/users\n}}\n\
userdb {{\n  driver = passwd-file\n  args = {d}/users\n  default_fields = home={d}/home/%n\n}}\n\
service imap-login {{\n  service_count = 0\n  process_min_avail = {cores}\n  \
inet_listener imap {{\n    port = {imap}\n  }}\n  \
inet_listener imaps {{\n    port = {imaps}\n    ssl = yes\n  }}\n}}\n\
service imap {{\n  process_limit = 11000\n}}\n\
service anvil {{\n  client_limit = 12000\n}}\n\
service stats {{\n  client_limit = 12000\n}}\n",
            d = dir.display(),
            cert = cert.display(),
            key = key.display(),
        );
        std::fs::write(dir.join("dovecot.conf"), conf).unwrap();
        std::fs::write(dir.join("users"), format!("{USER}:{{PLAIN}}{PASS}::::::\n")).unwrap();
        run(Command::new("chown")
            .args(["-R", "nobody:nogroup"])
            .arg(dir.join("mail")));
        // It daemonizes: its child would hold captured pipes open.
        let st = Command::new("dovecot")
            .arg("-c")
            .arg(dir.join("dovecot.conf"))
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .status()
            .expect("Dovecot (dovecot-core, dovecot-imapd) must be installed");
        assert!(
            st.success(),
            "dovecot failed to start; see {}",
            dir.display()
        );
        let log = dir.join("dovecot.log");
        wait_port(imap, "dovecot", &log);
        wait_port(imaps, "dovecot", &log);
        Dovecot {
            dir: dir.to_path_buf(),
            imap,
            imaps,
        }
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

// ---------------------------------------------------------------- client

#[derive(Debug)]
struct NoVerify(Arc<rustls::crypto::CryptoProvider>);

impl rustls::client::danger::ServerCertVerifier for NoVerify {
    fn verify_server_cert(
        &self,
        _: &rustls_pki_types::CertificateDer<'_>,
        _: &[rustls_pki_types::CertificateDer<'_>],
        _: &rustls_pki_types::ServerName<'_>,
        _: &[u8],
        _: rustls_pki_types::UnixTime,
    ) -> Result<rustls::client::danger::ServerCertVerified, rustls::Error> {
        Ok(rustls::client::danger::ServerCertVerified::assertion())
    }
    fn verify_tls12_signature(
        &self,
        _: &[u8],
        _: &rustls_pki_types::CertificateDer<'_>,
        _: &rustls::DigitallySignedStruct,
    ) -> Result<rustls::client::danger::HandshakeSignatureValid, rustls::Error> {
        Ok(rustls::client::danger::HandshakeSignatureValid::assertion())
    }
    fn verify_tls13_signature(
        &self,
        _: &[u8],
        _: &rustls_pki_types::CertificateDer<'_>,
        _: &rustls::DigitallySignedStruct,
    ) -> Result<rustls::client::danger::HandshakeSignatureValid, rustls::Error> {
        Ok(rustls::client::danger::HandshakeSignatureValid::assertion())
    }
    fn supported_verify_schemes(&self) -> Vec<rustls::SignatureScheme> {
        self.0.signature_verification_algorithms.supported_schemes()
    }
}

/// A TLS client that trusts the bench's certificate without checking it (the client's share
/// of the handshake stays small) and never resumes (every login is a full handshake).
fn tls_client() -> tokio_rustls::TlsConnector {
    let provider = Arc::new(rustls::crypto::ring::default_provider());
    let mut cfg = rustls::ClientConfig::builder_with_provider(provider.clone())
        .with_safe_default_protocol_versions()
        .unwrap()
        .dangerous()
        .with_custom_certificate_verifier(Arc::new(NoVerify(provider)))
        .with_no_client_auth();
    cfg.resumption = rustls::client::Resumption::disabled();
    tokio_rustls::TlsConnector::from(Arc::new(cfg))
}

trait Io: AsyncRead + AsyncWrite + Unpin + Send {}
impl<T: AsyncRead + AsyncWrite + Unpin + Send> Io for T {}

struct Imap {
    io: BufReader<Box<dyn Io>>,
    line: Vec<u8>,
}

async fn timed<T>(f: impl std::future::Future<Output = T>) -> T {
    tokio::time::timeout(IO_TIMEOUT, f)
        .await
        .expect("server answer timed out")
}

impl Imap {
    async fn connect(port: u16, tls: Option<&tokio_rustls::TlsConnector>) -> Imap {
        let tcp = timed(TcpStream::connect(("127.0.0.1", port)))
            .await
            .expect("connect");
        tcp.set_nodelay(true).unwrap();
        let io: Box<dyn Io> = match tls {
            None => Box::new(tcp),
            Some(c) => {
                let name = rustls_pki_types::ServerName::try_from("localhost").unwrap();
                Box::new(timed(c.connect(name, tcp)).await.expect("TLS handshake"))
            }
        };
        let mut c = Imap {
            io: BufReader::with_capacity(64 * 1024, io),
            line: Vec::with_capacity(256),
        };
        c.read_line().await;
        assert!(c.line.starts_with(b"* OK"), "{}", c.text());
        c
    }

    fn text(&self) -> String {
        String::from_utf8_lossy(&self.line).into_owned()
    }

    async fn read_line(&mut self) {
        self.line.clear();
        let n = timed(self.io.read_until(b'\n', &mut self.line))
            .await
            .expect("read");
        assert!(n > 0, "server closed");
    }

    /// Sends `cmd` and reads to its tagged answer (following literals); returns the bytes of
    /// the answer and whether it was OK.
    async fn command(&mut self, tag: &str, cmd: &[u8]) -> (usize, bool) {
        timed(self.io.get_mut().write_all(cmd))
            .await
            .expect("write");
        self.answer(tag).await
    }

    async fn answer(&mut self, tag: &str) -> (usize, bool) {
        let mut total = 0;
        let mut skip = vec![0u8; 64 * 1024];
        loop {
            self.read_line().await;
            total += self.line.len();
            if let Some(n) = literal_len(&self.line) {
                let mut left = n;
                while left > 0 {
                    let k = left.min(skip.len());
                    timed(self.io.read_exact(&mut skip[..k]))
                        .await
                        .expect("literal");
                    left -= k;
                }
                total += n;
                continue;
            }
            if self.line.starts_with(tag.as_bytes()) && self.line.get(tag.len()) == Some(&b' ') {
                let ok = self.line[tag.len() + 1..].starts_with(b"OK");
                return (total, ok);
            }
        }
    }

    async fn login(&mut self) {
        let (_, ok) = self
            .command("a", format!("a LOGIN {USER} {PASS}\r\n").as_bytes())
            .await;
        assert!(ok, "LOGIN: {}", self.text());
    }
}

/// `{N}\r\n` at the end of a line.
fn literal_len(line: &[u8]) -> Option<usize> {
    let l = line.strip_suffix(b"\r\n")?.strip_suffix(b"}")?;
    let open = l.iter().rposition(|&b| b == b'{')?;
    let digits = &l[open + 1..];
    let digits = digits.strip_suffix(b"+").unwrap_or(digits);
    std::str::from_utf8(digits).ok()?.parse().ok()
}

/// LOGIN then LOGOUT on fresh connections from [`CLIENTS`] clients for [`ROUND`]; cycles/s.
async fn login_cycles(port: u16, tls: Option<tokio_rustls::TlsConnector>) -> f64 {
    let done = Arc::new(AtomicU64::new(0));
    let start = Instant::now();
    let end = start + ROUND;
    let mut tasks = Vec::new();
    for _ in 0..CLIENTS {
        let done = done.clone();
        let tls = tls.clone();
        tasks.push(tokio::spawn(async move {
            while Instant::now() < end {
                let mut c = Imap::connect(port, tls.as_ref()).await;
                c.login().await;
                let (_, ok) = c.command("b", b"b LOGOUT\r\n").await;
                assert!(ok, "LOGOUT: {}", c.text());
                done.fetch_add(1, Ordering::Relaxed);
            }
        }));
    }
    for t in tasks {
        t.await.unwrap();
    }
    done.load(Ordering::Relaxed) as f64 / start.elapsed().as_secs_f64()
}

fn message(i: usize) -> Vec<u8> {
    let mut m = format!(
        "From: bench@example.org\r\nTo: {USER}@example.test\r\nSubject: message {i}\r\n\
Date: Mon, 30 Nov 2026 10:00:00 +0000\r\nMessage-ID: <{i}@bench>\r\n\r\n"
    )
    .into_bytes();
    while m.len() < MESSAGE_SIZE - 2 {
        m.extend_from_slice(
            b"0123456789 abcdefghijklmnopqrstuvwxyz ABCDEFGHIJKLMNOPQRSTUVWXYZ 0123456789\r\n",
        );
    }
    m.truncate(MESSAGE_SIZE - 2);
    m.extend_from_slice(b"\r\n");
    m
}

/// APPENDs [`MESSAGES`] 4 KiB messages to a new mailbox `A<round>` over one session
/// (synchronising literals, as most clients send them); messages/s.
async fn append_rate(port: u16, round: usize) -> f64 {
    let mut c = Imap::connect(port, None).await;
    c.login().await;
    let (_, ok) = c
        .command("c", format!("c CREATE A{round}\r\n").as_bytes())
        .await;
    assert!(ok, "CREATE: {}", c.text());
    let start = Instant::now();
    for i in 0..MESSAGES {
        let m = message(i);
        let head = format!("p APPEND A{round} (\\Seen) {{{}}}\r\n", m.len());
        timed(c.io.get_mut().write_all(head.as_bytes()))
            .await
            .unwrap();
        c.read_line().await;
        assert!(c.line.starts_with(b"+"), "APPEND: {}", c.text());
        timed(c.io.get_mut().write_all(&m)).await.unwrap();
        let (_, ok) = c.command("p", b"\r\n").await;
        assert!(ok, "APPEND: {}", c.text());
    }
    let rate = MESSAGES as f64 / start.elapsed().as_secs_f64();
    c.command("z", b"z LOGOUT\r\n").await;
    rate
}

/// `FETCH 1:* BODY[]` of mailbox `A0` (500 messages), repeated for about a second; MB/s of
/// response.
async fn fetch_rate(port: u16) -> f64 {
    let mut c = Imap::connect(port, None).await;
    c.login().await;
    let (_, ok) = c.command("s", b"s SELECT A0\r\n").await;
    assert!(ok, "SELECT: {}", c.text());
    // Once to warm caches.
    c.command("f", b"f FETCH 1:* BODY[]\r\n").await;
    let start = Instant::now();
    let mut bytes = 0;
    while start.elapsed() < Duration::from_secs(1) {
        let (n, ok) = c.command("f", b"f FETCH 1:* BODY[]\r\n").await;
        assert!(
            ok && n >= MESSAGES * MESSAGE_SIZE,
            "FETCH: {n} {}",
            c.text()
        );
        bytes += n;
    }
    let rate = bytes as f64 / 1e6 / start.elapsed().as_secs_f64();
    c.command("z", b"z LOGOUT\r\n").await;
    rate
}

/// Opens up to `n` logged-in connections and holds them idle; returns how many it held and
/// the server tree's PSS growth per connection (KiB).
async fn idle_memory(port: u16, n: usize, tree: &dyn Tree) -> (usize, f64) {
    let root = tree.root_pid();
    tokio::time::sleep(Duration::from_secs(1)).await;
    let before = tree_pss_kib(root);
    let sem = Arc::new(tokio::sync::Semaphore::new(64));
    let mut tasks = Vec::with_capacity(n);
    for _ in 0..n {
        let permit = sem.clone().acquire_owned().await.unwrap();
        tasks.push(tokio::spawn(async move {
            let _p = permit;
            let mut c = Imap::connect(port, None).await;
            c.login().await;
            c
        }));
    }
    let mut held = Vec::with_capacity(n);
    for t in tasks {
        match t.await {
            Ok(c) => held.push(c),
            Err(e) => eprintln!("a connection failed: {e}"),
        }
    }
    // Let the server settle (Dovecot's processes finish starting up).
    tokio::time::sleep(Duration::from_secs(3)).await;
    let after = tree_pss_kib(root);
    let count = held.len();
    // Close them all and wait until the server has let go.
    drop(held);
    tokio::time::sleep(Duration::from_secs(2)).await;
    (count, (after - before) / count.max(1) as f64)
}
