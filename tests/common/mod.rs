//! Shared integration-test harness: starts the real `roost` binary on a TOML config in a temp
//! base_dir with loopback ports, reads its log, scrapes `/metrics`, runs `roost ps`, sends
//! signals, and kills it when dropped.

#![allow(dead_code)]

use std::io::{BufRead, BufReader, Read, Write};
use std::net::{TcpListener, TcpStream};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::atomic::{AtomicU16, Ordering};
use std::time::{Duration, Instant};

pub const BIN: &str = env!("CARGO_BIN_EXE_roost");

/// Tests run as root and keep files in root-owned temp dirs: unless a test is about the
/// privilege drop, the server stays root (default_internal_user = root means no drop).
pub const KEEP_ROOT: &str = "default_internal_user = \"root\"\n";

/// A free loopback port below the ephemeral range (20000–31999), spread by test process id.
pub fn free_port() -> u16 {
    static NEXT: AtomicU16 = AtomicU16::new(0);
    let base = 20000 + (std::process::id() % 600) as u16 * 20;
    loop {
        let n = NEXT.fetch_add(1, Ordering::Relaxed);
        let port = base + n % 12000;
        let port = if port >= 32000 {
            20000 + port % 12000
        } else {
            port
        };
        if TcpListener::bind(("127.0.0.1", port)).is_ok() {
            return port;
        }
    }
}

/// A fresh temp directory removed on drop.
pub struct TempDir(pub PathBuf);

impl TempDir {
    pub fn new(tag: &str) -> TempDir {
        static N: AtomicU16 = AtomicU16::new(0);
        let p = std::env::temp_dir().join(format!(
            "roost-test-{tag}-{}-{}",
            std::process::id(),
            N.fetch_add(1, Ordering::Relaxed)
        ));
        let _ = std::fs::remove_dir_all(&p);
        std::fs::create_dir_all(&p).unwrap();
        TempDir(p)
    }
}

impl Drop for TempDir {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}

pub struct Server {
    pub child: Option<Child>,
    pub dir: TempDir,
    pub config: PathBuf,
    pub base_dir: PathBuf,
    pub log: PathBuf,
    pub metrics_port: u16,
}

impl Server {
    /// Starts roost with `extra` appended to a config that sets base_dir, a log file and the
    /// stats http listener. Waits until `/metrics` answers.
    pub fn start(tag: &str, extra: &str) -> Server {
        Self::start_env(tag, extra, &[])
    }

    pub fn start_env(tag: &str, extra: &str, env: &[(&str, &str)]) -> Server {
        let dir = TempDir::new(tag);
        let base_dir = dir.0.join("run");
        let log = dir.0.join("roost.log");
        let metrics_port = free_port();
        let config = dir.0.join("roost.toml");
        std::fs::write(
            &config,
            Self::config_text(&base_dir, &log, metrics_port, extra),
        )
        .unwrap();
        let mut cmd = Command::new(BIN);
        cmd.arg("serve")
            .arg("-c")
            .arg(&config)
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::null());
        for (k, v) in env {
            cmd.env(k, v);
        }
        let child = cmd.spawn().expect("start roost");
        let s = Server {
            child: Some(child),
            dir,
            config,
            base_dir,
            log,
            metrics_port,
        };
        s.wait_ready();
        s
    }

    pub fn config_text(base_dir: &Path, log: &Path, metrics_port: u16, extra: &str) -> String {
        format!(
            "base_dir = \"{}\"\nlisten = \"127.0.0.1\"\nlog_path = \"{}\"\nshutdown_clients = true\n{}{extra}\n\n[service.stats.inet_listener.http]\nport = {metrics_port}\n",
            base_dir.display(),
            log.display(),
            if extra.contains("default_internal_user") { "" } else { KEEP_ROOT }
        )
    }

    /// Rewrites the config file with a different `extra` part (for reload tests).
    pub fn rewrite(&self, extra: &str) {
        std::fs::write(
            &self.config,
            Self::config_text(&self.base_dir, &self.log, self.metrics_port, extra),
        )
        .unwrap();
    }

    fn wait_ready(&self) {
        let deadline = Instant::now() + Duration::from_secs(15);
        while Instant::now() < deadline {
            if TcpStream::connect(("127.0.0.1", self.metrics_port)).is_ok() {
                return;
            }
            std::thread::sleep(Duration::from_millis(50));
        }
        panic!("roost did not start; log:\n{}", self.log_text());
    }

    pub fn pid(&self) -> i32 {
        self.child.as_ref().unwrap().id() as i32
    }

    pub fn signal(&self, sig: i32) {
        // SAFETY: sending a signal to our own child.
        unsafe {
            libc::kill(self.pid(), sig);
        }
    }

    pub fn log_text(&self) -> String {
        std::fs::read_to_string(&self.log).unwrap_or_default()
    }

    /// Waits until the log contains `needle`.
    pub fn wait_log(&self, needle: &str, timeout: Duration) -> bool {
        let deadline = Instant::now() + timeout;
        while Instant::now() < deadline {
            if self.log_text().contains(needle) {
                return true;
            }
            std::thread::sleep(Duration::from_millis(50));
        }
        false
    }

    pub fn scrape(&self) -> String {
        http_get(self.metrics_port, "/metrics")
    }

    /// The value of a metric line `name{labels}` (labels as written, e.g. `service="x"`).
    pub fn metric(&self, name: &str, labels: &str) -> Option<f64> {
        metric_value(&self.scrape(), name, labels)
    }

    /// Polls until `f(metric)` holds.
    pub fn wait_metric(
        &self,
        name: &str,
        labels: &str,
        timeout: Duration,
        f: impl Fn(f64) -> bool,
    ) -> f64 {
        let deadline = Instant::now() + timeout;
        let mut last = None;
        while Instant::now() < deadline {
            last = self.metric(name, labels);
            if let Some(v) = last {
                if f(v) {
                    return v;
                }
            }
            std::thread::sleep(Duration::from_millis(100));
        }
        panic!(
            "metric {name}{{{labels}}} never matched; last value {last:?}\n{}",
            self.scrape()
        );
    }

    /// Runs `roost <args> -c CONFIG` and returns (success, stdout, stderr).
    pub fn cli(&self, args: &[&str]) -> (bool, String, String) {
        let out = Command::new(BIN)
            .args(args)
            .arg("-c")
            .arg(&self.config)
            .output()
            .unwrap();
        (
            out.status.success(),
            String::from_utf8_lossy(&out.stdout).into_owned(),
            String::from_utf8_lossy(&out.stderr).into_owned(),
        )
    }

    /// `roost ps` rows for `service`: (vproc, clients, served).
    pub fn ps(&self, service: &str) -> Vec<(u64, u32, u64)> {
        let (ok, out, err) = self.cli(&["ps"]);
        assert!(ok, "roost ps failed: {err}");
        out.lines()
            .filter_map(|l| {
                let w: Vec<&str> = l.split_whitespace().collect();
                if w.first() == Some(&service) && w.len() >= 4 {
                    Some((w[1].parse().ok()?, w[2].parse().ok()?, w[3].parse().ok()?))
                } else {
                    None
                }
            })
            .collect()
    }

    /// Waits for the process to exit and returns its exit code.
    pub fn wait_exit(&mut self, timeout: Duration) -> Option<i32> {
        let deadline = Instant::now() + timeout;
        let child = self.child.as_mut()?;
        while Instant::now() < deadline {
            if let Ok(Some(st)) = child.try_wait() {
                self.child = None;
                return st.code();
            }
            std::thread::sleep(Duration::from_millis(50));
        }
        None
    }
}

impl Drop for Server {
    fn drop(&mut self) {
        if let Some(mut c) = self.child.take() {
            let _ = c.kill();
            let _ = c.wait();
        }
    }
}

/// A plain HTTP/1.0 GET on loopback; returns the body.
pub fn http_get(port: u16, path: &str) -> String {
    let mut s = TcpStream::connect(("127.0.0.1", port)).expect("connect to metrics");
    s.set_read_timeout(Some(Duration::from_secs(10))).unwrap();
    write!(s, "GET {path} HTTP/1.0\r\nHost: localhost\r\n\r\n").unwrap();
    let mut resp = String::new();
    s.read_to_string(&mut resp).unwrap();
    resp.split_once("\r\n\r\n")
        .map(|(_, b)| b.to_string())
        .unwrap_or_default()
}

/// Finds `name{labels}` (or `name` without labels when `labels` is empty) in a scrape.
pub fn metric_value(scrape: &str, name: &str, labels: &str) -> Option<f64> {
    for line in scrape.lines() {
        if line.starts_with('#') {
            continue;
        }
        let Some((key, value)) = line.rsplit_once(' ') else {
            continue;
        };
        let matches = if labels.is_empty() {
            key == name
        } else {
            key.starts_with(&format!("{name}{{")) && labels.split(',').all(|l| key.contains(l))
        };
        if matches {
            return value.parse().ok();
        }
    }
    None
}

/// A line-protocol client of the health-check service.
pub struct Pinger {
    pub stream: TcpStream,
    reader: BufReader<TcpStream>,
}

impl Pinger {
    pub fn connect(port: u16) -> Pinger {
        let stream = TcpStream::connect(("127.0.0.1", port)).expect("connect");
        let reader = BufReader::new(stream.try_clone().unwrap());
        Pinger { stream, reader }
    }

    /// Sends PING and waits up to `timeout` for PONG. None: no answer in time (or closed).
    pub fn ping(&mut self, timeout: Duration) -> Option<String> {
        self.stream.write_all(b"PING\n").ok()?;
        self.read_line(timeout)
    }

    pub fn read_line(&mut self, timeout: Duration) -> Option<String> {
        self.stream.set_read_timeout(Some(timeout)).unwrap();
        let mut line = String::new();
        match self.reader.read_line(&mut line) {
            Ok(0) => None,
            Ok(_) => Some(line.trim_end().to_string()),
            Err(_) => None,
        }
    }

    /// True when the server closed the connection (EOF or reset) within `timeout`.
    pub fn closed_within(&mut self, timeout: Duration) -> bool {
        self.stream.set_read_timeout(Some(timeout)).unwrap();
        let mut buf = [0u8; 64];
        match self.reader.read(&mut buf) {
            Ok(0) => true,
            Ok(_) => false,
            Err(e) => {
                e.kind() != std::io::ErrorKind::WouldBlock
                    && e.kind() != std::io::ErrorKind::TimedOut
            }
        }
    }
}

/// Config for a health-check service on `port` with extra service settings.
pub fn health_check(port: u16, settings: &str) -> String {
    format!("[service.health-check]\n{settings}\n[service.health-check.inet_listener.hc]\nport = {port}\n")
}
