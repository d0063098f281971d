//! Shared helpers for the `net_*` integration tests: start the real `roost serve` with a TOML
//! config in a temporary base_dir (loopback only, ports below 32768), talk to it, stop it.
#![allow(dead_code)]

use std::io::{Read, Write};
use std::net::{SocketAddr, TcpListener, TcpStream};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::atomic::{AtomicU32, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use roost::net::tls::devcerts::{Pair, TestCa};
use rustls_pki_types::{CertificateDer, ServerName};
use tokio_rustls::rustls::{self, ClientConfig, RootCertStore};

static COUNTER: AtomicU32 = AtomicU32::new(0);

/// A fresh directory under the system temp dir.
pub fn tempdir(tag: &str) -> PathBuf {
    let n = COUNTER.fetch_add(1, Ordering::Relaxed);
    let d = std::env::temp_dir().join(format!("roost-it-{tag}-{}-{n}", std::process::id()));
    let _ = std::fs::remove_dir_all(&d);
    std::fs::create_dir_all(&d).unwrap();
    d
}

/// A port below the kernel's ephemeral range that is free on 127.0.0.1 right now.
pub fn free_port() -> u16 {
    let seed = std::process::id()
        .wrapping_mul(7919)
        .wrapping_add(COUNTER.fetch_add(1, Ordering::Relaxed) * 131);
    for i in 0..2000u32 {
        let port = 20000 + ((seed.wrapping_add(i * 17)) % 12000) as u16;
        if TcpListener::bind(("127.0.0.1", port)).is_ok() {
            return port;
        }
    }
    panic!("no free port in 20000..32000");
}

/// Fails (never skips) when a tool the test needs is missing.
pub fn require_tool(name: &str) -> PathBuf {
    for dir in [
        "/usr/bin",
        "/usr/sbin",
        "/bin",
        "/sbin",
        "/usr/local/bin",
        "/usr/local/sbin",
    ] {
        let p = Path::new(dir).join(name);
        if p.exists() {
            return p;
        }
    }
    panic!("{name} is not installed: .ci/run installs it with apt-get");
}

/// Writes a certificate pair into `dir` and returns the `<path` values for the config.
pub fn write_pair(dir: &Path, stem: &str, pair: &Pair) -> (String, String) {
    let c = dir.join(format!("{stem}.crt"));
    let k = dir.join(format!("{stem}.key"));
    std::fs::write(&c, &pair.cert_pem).unwrap();
    std::fs::write(&k, &pair.key_pem).unwrap();
    (format!("<{}", c.display()), format!("<{}", k.display()))
}

/// A running `roost serve`.
pub struct Server {
    child: Option<Child>,
    pub dir: PathBuf,
    pub log: PathBuf,
}

impl Server {
    /// Starts roost with `config` (base_dir is prepended) and waits until `ports` accept.
    pub fn start(dir: &Path, config: &str, ports: &[u16]) -> Server {
        let base = dir.join("base");
        let cfg = dir.join("roost.toml");
        let text = format!(
            "base_dir = \"{}\"\nlisten = \"127.0.0.1\"\nlog_debug = true\ndefault_internal_user = \"root\"\n{config}",
            base.display()
        );
        std::fs::write(&cfg, text).unwrap();
        let log = dir.join("roost.log");
        let child = Command::new(env!("CARGO_BIN_EXE_roost"))
            .args(["serve", "-c"])
            .arg(&cfg)
            .env_remove("ROOST_CONFIG")
            .stdin(Stdio::null())
            .stdout(std::fs::File::create(dir.join("stdout.log")).unwrap())
            .stderr(std::fs::File::create(&log).unwrap())
            .spawn()
            .expect("start roost");
        let mut s = Server {
            child: Some(child),
            dir: dir.to_path_buf(),
            log,
        };
        let deadline = Instant::now() + Duration::from_secs(20);
        for &p in ports {
            while TcpStream::connect(("127.0.0.1", p)).is_err() {
                if let Some(st) = s.child.as_mut().unwrap().try_wait().unwrap() {
                    panic!("roost exited ({st}) at start-up:\n{}", s.log_text());
                }
                assert!(
                    Instant::now() < deadline,
                    "port {p} never opened:\n{}",
                    s.log_text()
                );
                std::thread::sleep(Duration::from_millis(50));
            }
        }
        s
    }

    pub fn pid(&self) -> i32 {
        self.child.as_ref().unwrap().id() as i32
    }

    pub fn log_text(&self) -> String {
        std::fs::read_to_string(&self.log).unwrap_or_default()
    }

    /// Waits until the log contains `needle`.
    pub fn wait_log(&self, needle: &str, timeout: Duration) -> bool {
        let deadline = Instant::now() + timeout;
        loop {
            if self.log_text().contains(needle) {
                return true;
            }
            if Instant::now() > deadline {
                return false;
            }
            std::thread::sleep(Duration::from_millis(50));
        }
    }

    pub fn signal(&self, sig: nix::sys::signal::Signal) {
        nix::sys::signal::kill(nix::unistd::Pid::from_raw(self.pid()), sig).unwrap();
    }

    /// SIGTERM and wait for the exit.
    pub fn stop(&mut self) {
        if let Some(mut c) = self.child.take() {
            let _ = nix::sys::signal::kill(
                nix::unistd::Pid::from_raw(c.id() as i32),
                nix::sys::signal::Signal::SIGTERM,
            );
            let deadline = Instant::now() + Duration::from_secs(15);
            loop {
                if c.try_wait().unwrap().is_some() {
                    break;
                }
                if Instant::now() > deadline {
                    let _ = c.kill();
                    let _ = c.wait();
                    panic!("roost did not stop within 15 s");
                }
                std::thread::sleep(Duration::from_millis(50));
            }
        }
    }
}

impl Drop for Server {
    fn drop(&mut self) {
        if let Some(mut c) = self.child.take() {
            let _ = c.kill();
            let _ = c.wait();
        }
        if !std::thread::panicking() {
            let _ = std::fs::remove_dir_all(&self.dir);
        }
    }
}

/// Sends `PING` and expects `PONG` (the health-check service).
pub fn ping<S: Read + Write>(s: &mut S) {
    s.write_all(b"PING\n").unwrap();
    s.flush().unwrap();
    let mut b = [0u8; 5];
    s.read_exact(&mut b).unwrap();
    assert_eq!(&b, b"PONG\n");
}

pub fn connect(addr: SocketAddr) -> TcpStream {
    let s = TcpStream::connect_timeout(&addr, Duration::from_secs(5)).unwrap();
    s.set_read_timeout(Some(Duration::from_secs(10))).unwrap();
    s
}

/// A TCP connection from a chosen loopback source address (e.g. 127.0.0.2).
pub fn connect_from(src: &str, port: u16) -> TcpStream {
    let sock = socket2::Socket::new(socket2::Domain::IPV4, socket2::Type::STREAM, None).unwrap();
    let src: SocketAddr = format!("{src}:0").parse().unwrap();
    sock.bind(&src.into()).unwrap();
    let dst: SocketAddr = format!("127.0.0.1:{port}").parse().unwrap();
    sock.connect_timeout(&dst.into(), Duration::from_secs(5))
        .unwrap();
    let s: TcpStream = sock.into();
    s.set_read_timeout(Some(Duration::from_secs(10))).unwrap();
    s
}

/// A rustls client trusting `ca`, for the given protocol versions.
pub fn tls_client(
    ca: &TestCa,
    versions: &[&'static rustls::SupportedProtocolVersion],
) -> Arc<ClientConfig> {
    let mut roots = RootCertStore::empty();
    roots
        .add(CertificateDer::from(ca.cert_der.clone()))
        .unwrap();
    Arc::new(
        ClientConfig::builder_with_provider(Arc::new(rustls::crypto::ring::default_provider()))
            .with_protocol_versions(versions)
            .unwrap()
            .with_root_certificates(roots)
            .with_no_client_auth(),
    )
}

/// Blocking TLS connection; returns the stream (handshake done) for `name`.
pub fn tls_connect(
    cfg: Arc<ClientConfig>,
    name: &str,
    tcp: TcpStream,
) -> rustls::StreamOwned<rustls::ClientConnection, TcpStream> {
    let conn = rustls::ClientConnection::new(cfg, ServerName::try_from(name.to_string()).unwrap())
        .unwrap();
    let mut s = rustls::StreamOwned::new(conn, tcp);
    while s.conn.is_handshaking() {
        s.conn.complete_io(&mut s.sock).expect("TLS handshake");
    }
    s
}

/// `GET path` over plain HTTP/1.0; returns the body.
pub fn http_get(port: u16, path: &str) -> String {
    let mut s = connect(format!("127.0.0.1:{port}").parse().unwrap());
    write!(s, "GET {path} HTTP/1.0\r\nHost: localhost\r\n\r\n").unwrap();
    let mut out = String::new();
    s.read_to_string(&mut out).unwrap();
    out
}

/// The value of the metric line that starts with `prefix`, 0 when absent.
pub fn metric(text: &str, prefix: &str) -> f64 {
    text.lines()
        .find(|l| l.starts_with(prefix))
        .and_then(|l| l.rsplit(' ').next())
        .and_then(|v| v.parse().ok())
        .unwrap_or(0.0)
}

/// Asserts the peer closes the connection within `within` without sending anything.
pub fn assert_closed_silently(s: &mut TcpStream, within: Duration) -> Duration {
    s.set_read_timeout(Some(within)).unwrap();
    let t0 = Instant::now();
    let mut b = [0u8; 64];
    match s.read(&mut b) {
        Ok(0) => {}
        Ok(n) => panic!(
            "server sent {n} bytes: {:?}",
            String::from_utf8_lossy(&b[..n])
        ),
        Err(e) if e.kind() == std::io::ErrorKind::ConnectionReset => {}
        Err(e) => panic!("connection not closed within {within:?}: {e}"),
    }
    t0.elapsed()
}
