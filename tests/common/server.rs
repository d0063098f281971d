//! The real `roost serve` under test: [`Launch`] writes a TOML config into a fresh temp dir
//! (base_dir, loopback `listen`, a log file, the stats `http` listener on a free port, plus the
//! test's own settings) and starts the binary; [`Server`] talks to it (log, `/metrics`,
//! `roost ps`, signals, reload) and kills it when dropped.

use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::Duration;

use nix::sys::signal::Signal;

use super::dirs::TempDir;
use super::http::{http_get, metric_value};
use super::ports::{free_port, port_open};
use super::tools::{run, Ran, BIN};
use super::wait::{read_text, wait_until};

/// Tests run as root and keep files in root-owned temp dirs: unless a test is about the
/// privilege drop, the server stays root (default_internal_user = root means no drop).
pub const KEEP_ROOT: &str = "default_internal_user = \"root\"\n";

/// How long start-up may take on a loaded machine.
const START_TIMEOUT: Duration = Duration::from_secs(20);

/// A server about to start: its temp dir exists already, so a test can write files (users,
/// certificates) there and name them in its settings.
pub struct Launch {
    dir: TempDir,
    extra: String,
    env: Vec<(String, String)>,
    ready: Vec<u16>,
    metrics_tls: bool,
    /// Run roost as this uid/gid instead of the test's own (the temp dir is given to it).
    run_as: Option<(u32, u32)>,
}

impl Launch {
    pub fn new(tag: &str) -> Launch {
        Launch {
            dir: TempDir::new(tag),
            extra: String::new(),
            env: Vec::new(),
            ready: Vec::new(),
            metrics_tls: false,
            run_as: None,
        }
    }

    /// Starts roost as `uid`/`gid` (not root), owning its temp dir.
    pub fn run_as(mut self, uid: u32, gid: u32) -> Launch {
        self.run_as = Some((uid, gid));
        self
    }

    /// The server's temp dir (it becomes [`Server::dir`]).
    pub fn dir(&self) -> &TempDir {
        &self.dir
    }

    /// The test's own settings, appended after the harness's top-level ones (so they may start
    /// with top-level keys and go on with tables).
    pub fn config(mut self, extra: &str) -> Launch {
        self.extra = extra.to_string();
        self
    }

    /// An environment variable for the server.
    pub fn env(mut self, key: &str, value: &str) -> Launch {
        self.env.push((key.to_string(), value.to_string()));
        self
    }

    /// Start-up also waits until these loopback ports accept.
    pub fn ready_on(mut self, ports: &[u16]) -> Launch {
        self.ready.extend_from_slice(ports);
        self
    }

    /// The stats `http` listener gets `ssl = yes` ([`Server::scrape`] then does not work).
    pub fn metrics_tls(mut self) -> Launch {
        self.metrics_tls = true;
        self
    }

    /// Writes the config, starts `roost serve` and waits until the metrics port (and every
    /// [`Launch::ready_on`] port) accepts. Panics with the log when roost exits or never opens.
    pub fn start(self) -> Server {
        let dir = self.dir;
        let base_dir = dir.join("run");
        let log = dir.join("roost.log");
        let stderr = dir.join("stderr.log");
        let config = dir.join("roost.toml");
        let metrics_port = free_port();
        let mut cmd = Command::new(BIN);
        cmd.arg("serve")
            .arg("-c")
            .arg(&config)
            .env_remove("ROOST_CONFIG")
            .stdin(Stdio::null())
            .stdout(std::fs::File::create(dir.join("stdout.log")).unwrap())
            .stderr(std::fs::File::create(&stderr).unwrap());
        for (k, v) in &self.env {
            cmd.env(k, v);
        }
        if let Some((uid, gid)) = self.run_as {
            use std::os::unix::process::CommandExt;
            std::os::unix::fs::chown(dir.path(), Some(uid), Some(gid)).unwrap();
            cmd.uid(uid).gid(gid);
        }
        let mut s = Server {
            child: None,
            dir,
            config,
            base_dir,
            log,
            stderr,
            metrics_port,
            metrics_tls: self.metrics_tls,
        };
        s.rewrite(&self.extra);
        s.child = Some(cmd.spawn().expect("start roost"));
        for port in std::iter::once(metrics_port).chain(self.ready) {
            let mut exited = None;
            let open = wait_until(START_TIMEOUT, || {
                exited = s.child.as_mut().unwrap().try_wait().unwrap();
                exited.is_some() || port_open(port)
            });
            if let Some(st) = exited {
                s.child = None;
                panic!("roost exited ({st}) at start-up:\n{}", s.log_text());
            }
            assert!(open, "port {port} never opened:\n{}", s.log_text());
        }
        s
    }
}

/// A running `roost serve`.
pub struct Server {
    child: Option<Child>,
    /// The temp dir holding config, logs and base_dir (`run/`).
    pub dir: TempDir,
    pub config: PathBuf,
    pub base_dir: PathBuf,
    /// The `log_path` file.
    pub log: PathBuf,
    /// roost's stderr (start-up errors before logging is set up).
    pub stderr: PathBuf,
    pub metrics_port: u16,
    metrics_tls: bool,
}

impl Server {
    /// Starts roost with `extra` settings (see [`Launch`]).
    pub fn start(tag: &str, extra: &str) -> Server {
        Launch::new(tag).config(extra).start()
    }

    /// [`Server::start`] with environment variables.
    pub fn start_env(tag: &str, extra: &str, env: &[(&str, &str)]) -> Server {
        env.iter()
            .fold(Launch::new(tag).config(extra), |l, (k, v)| l.env(k, v))
            .start()
    }

    fn config_text(&self, extra: &str) -> String {
        let mut text = format!(
            "base_dir = \"{}\"\nlisten = \"127.0.0.1\"\nlog_path = \"{}\"\n",
            self.base_dir.display(),
            self.log.display()
        );
        if !extra.contains("shutdown_clients") {
            text.push_str("shutdown_clients = true\n");
        }
        if !extra.contains("default_internal_user") {
            text.push_str(KEEP_ROOT);
        }
        text.push_str(extra);
        text.push_str(&format!(
            "\n\n[service.stats.inet_listener.http]\nport = {}\n",
            self.metrics_port
        ));
        if self.metrics_tls {
            text.push_str("ssl = true\n");
        }
        text
    }

    /// Rewrites the config file with a different `extra` part (for reload tests).
    pub fn rewrite(&self, extra: &str) {
        std::fs::write(&self.config, self.config_text(extra)).unwrap();
    }

    pub fn pid(&self) -> i32 {
        self.child.as_ref().expect("roost is running").id() as i32
    }

    /// Whether the process has not been reaped by [`Server::wait_exit`] / [`Server::stop`].
    pub fn is_running(&self) -> bool {
        self.child.is_some()
    }

    pub fn signal(&self, sig: Signal) {
        nix::sys::signal::kill(nix::unistd::Pid::from_raw(self.pid()), sig).unwrap();
    }

    /// The log file followed by whatever roost wrote to stderr.
    pub fn log_text(&self) -> String {
        read_text(&self.log) + &read_text(&self.stderr)
    }

    /// Waits until the log contains `needle`.
    pub fn wait_log(&self, needle: &str, timeout: Duration) -> bool {
        wait_until(timeout, || self.log_text().contains(needle))
    }

    /// One `/metrics` body.
    pub fn scrape(&self) -> String {
        assert!(!self.metrics_tls, "the metrics listener speaks TLS");
        http_get(self.metrics_port, "/metrics")
    }

    /// The value of a metric line `name{labels}` (labels as written, e.g. `service="x"`).
    pub fn metric(&self, name: &str, labels: &str) -> Option<f64> {
        metric_value(&self.scrape(), name, labels)
    }

    /// Polls until `f(metric)` holds; panics with the last scrape otherwise.
    pub fn wait_metric(
        &self,
        name: &str,
        labels: &str,
        timeout: Duration,
        f: impl Fn(f64) -> bool,
    ) -> f64 {
        let mut last = None;
        if wait_until(timeout, || {
            last = self.metric(name, labels);
            last.is_some_and(&f)
        }) {
            return last.unwrap();
        }
        panic!(
            "metric {name}{{{labels}}} never matched; last value {last:?}\n{}",
            self.scrape()
        );
    }

    /// Runs `roost <args> -c CONFIG`.
    pub fn cli(&self, args: &[&str]) -> Ran {
        run(Command::new(BIN).args(args).arg("-c").arg(&self.config))
    }

    /// `roost ps` rows for `service`: (vproc, clients, served).
    pub fn ps(&self, service: &str) -> Vec<(u64, u32, u64)> {
        let r = self.cli(&["ps"]);
        assert!(r.ok, "roost ps failed: {}", r.stderr);
        r.stdout
            .lines()
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

    /// Waits for the process to exit and returns its exit code (None: still running, or
    /// ended by a signal).
    pub fn wait_exit(&mut self, timeout: Duration) -> Option<i32> {
        let child = self.child.as_mut()?;
        let mut status = None;
        wait_until(timeout, || {
            status = child.try_wait().unwrap();
            status.is_some()
        });
        let status = status?;
        self.child = None;
        status.code()
    }

    /// SIGTERM, then waits (15 s at most) for the exit; returns the exit code.
    pub fn stop(&mut self) -> Option<i32> {
        self.signal(Signal::SIGTERM);
        let code = self.wait_exit(Duration::from_secs(15));
        assert!(!self.is_running(), "roost did not stop within 15 s");
        code
    }

    /// The server's temp dir.
    pub fn path(&self) -> &Path {
        self.dir.path()
    }

    /// Dovecot's own `doveadm ARGS…` (Debian's dovecot-core) with a config that names only
    /// this server's base_dir, so it talks to roost's sockets (`anvil`, `log-errors`, `ipc`):
    /// exit code, stdout, stderr.
    pub fn dovecot_doveadm(&self, args: &[&str]) -> (i32, String, String) {
        let conf = self.path().join("doveadm-only.conf");
        std::fs::write(&conf, format!("base_dir = {}\n", self.base_dir.display())).unwrap();
        let out = std::process::Command::new(super::tools::require_tool("doveadm"))
            .arg("-c")
            .arg(&conf)
            .args(args)
            .output()
            .expect("doveadm runs");
        (
            out.status.code().unwrap_or(-1),
            String::from_utf8_lossy(&out.stdout).into_owned(),
            String::from_utf8_lossy(&out.stderr).into_owned(),
        )
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
