//! A real Prometheus (Debian's `prometheus`) scrapes the real binary every second and its HTTP
//! API answers with roost's series, through both formats: one job scrapes as Prometheus does
//! by default (it asks for OpenMetrics first; the `Accept` it sent is recorded by a loopback
//! relay and checked), the other through a relay that asks for the Prometheus text format only
//! (as older scrapers do). The `dovecot_` aliases arrive through both, OpenMetrics' `# UNIT`
//! reaches Prometheus' metadata, and every query of the Grafana dashboard evaluates in it.

mod common;

use std::io::{Read, Write};
use std::net::{TcpListener, TcpStream};
use std::process::{Child, Command, Stdio};
use std::sync::{Arc, Mutex};
use std::thread;
use std::time::Duration;

use common::*;

/// Longest request head the relay reads.
const MAX_HEAD: usize = 16 * 1024;
/// How long Prometheus may take to show what it scraped.
const DEADLINE: Duration = Duration::from_secs(60);

/// A loopback HTTP relay in front of roost's `/metrics`: one request per connection (it asks
/// roost to close), the `Accept` header recorded and optionally replaced.
struct Relay {
    port: u16,
    accepts: Arc<Mutex<Vec<String>>>,
}

impl Relay {
    fn start(upstream: u16, replace_accept: Option<&'static str>) -> Relay {
        let listener = TcpListener::bind("127.0.0.1:0").unwrap();
        let port = listener.local_addr().unwrap().port();
        let accepts = Arc::new(Mutex::new(Vec::new()));
        let seen = accepts.clone();
        // The thread ends with the test process.
        thread::spawn(move || {
            for client in listener.incoming().flatten() {
                let seen = seen.clone();
                thread::spawn(move || relay_one(client, upstream, replace_accept, &seen));
            }
        });
        Relay { port, accepts }
    }

    fn accepts(&self) -> Vec<String> {
        self.accepts.lock().unwrap().clone()
    }
}

fn relay_one(
    mut client: TcpStream,
    upstream: u16,
    replace_accept: Option<&str>,
    seen: &Mutex<Vec<String>>,
) {
    let timeout = Some(Duration::from_secs(10));
    client.set_read_timeout(timeout).unwrap();
    let mut head = Vec::new();
    let mut byte = [0u8; 1];
    while !head.ends_with(b"\r\n\r\n") {
        if head.len() > MAX_HEAD || client.read(&mut byte).unwrap_or(0) == 0 {
            return;
        }
        head.push(byte[0]);
    }
    let head = String::from_utf8_lossy(&head).into_owned();
    let mut out = String::new();
    for line in head.split("\r\n").filter(|l| !l.is_empty()) {
        let lower = line.to_ascii_lowercase();
        if let Some(v) = lower.strip_prefix("accept:") {
            seen.lock()
                .unwrap()
                .push(line[line.len() - v.len()..].trim().to_string());
            if let Some(r) = replace_accept {
                out.push_str(&format!("Accept: {r}\r\n"));
                continue;
            }
        } else if lower.starts_with("connection:") {
            continue;
        }
        out.push_str(line);
        out.push_str("\r\n");
    }
    out.push_str("Connection: close\r\n\r\n");
    let Ok(mut up) = TcpStream::connect(("127.0.0.1", upstream)) else {
        return;
    };
    up.set_read_timeout(timeout).unwrap();
    if up.write_all(out.as_bytes()).is_err() {
        return;
    }
    let mut answer = Vec::new();
    let _ = up.take(64 << 20).read_to_end(&mut answer);
    let _ = client.write_all(&answer);
}

/// Prometheus on a loopback port with its own TSDB dir; killed when dropped.
struct Prometheus {
    child: Child,
    port: u16,
    log: std::path::PathBuf,
}

impl Drop for Prometheus {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

impl Prometheus {
    fn start(dir: &TempDir, jobs: &[(&str, u16)]) -> Prometheus {
        let bin = require_tool("prometheus");
        let mut cfg =
            String::from("global:\n  scrape_interval: 1s\n  scrape_timeout: 1s\nscrape_configs:\n");
        for (job, port) in jobs {
            cfg.push_str(&format!(
                "  - job_name: {job}\n    static_configs:\n      - targets: ['127.0.0.1:{port}']\n"
            ));
        }
        let config = dir.write("prometheus.yml", cfg);
        let port = free_port();
        let log = dir.join("prometheus.log");
        let child = Command::new(bin)
            .arg(format!("--config.file={}", config.display()))
            .arg(format!(
                "--storage.tsdb.path={}",
                dir.join("tsdb").display()
            ))
            .arg(format!("--web.listen-address=127.0.0.1:{port}"))
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(std::fs::File::create(&log).unwrap())
            .spawn()
            .expect("start prometheus");
        let p = Prometheus { child, port, log };
        assert!(
            wait_until(Duration::from_secs(30), || p
                .get("/-/ready")
                .is_some_and(|b| b.contains("Ready"))),
            "prometheus never became ready:\n{}",
            read_text(&p.log)
        );
        p
    }

    fn get(&self, path_and_query: &str) -> Option<String> {
        let mut s = TcpStream::connect(("127.0.0.1", self.port)).ok()?;
        s.set_read_timeout(Some(Duration::from_secs(10))).ok()?;
        write!(
            s,
            "GET {path_and_query} HTTP/1.0\r\nHost: localhost\r\n\r\n"
        )
        .ok()?;
        let mut resp = String::new();
        s.take(16 << 20).read_to_string(&mut resp).ok()?;
        resp.split_once("\r\n\r\n").map(|(_, b)| b.to_string())
    }

    /// `/api/v1/query`: the decoded answer.
    fn query(&self, promql: &str) -> serde_json::Value {
        let body = self
            .get(&format!("/api/v1/query?query={}", urlencode(promql)))
            .unwrap_or_default();
        serde_json::from_str(&body).unwrap_or(serde_json::Value::Null)
    }

    /// The value of the first series `promql` returns.
    fn value(&self, promql: &str) -> Option<f64> {
        let v = self.query(promql);
        v["data"]["result"][0]["value"][1].as_str()?.parse().ok()
    }

    /// Waits until `promql`'s first series has a value `f` accepts.
    fn wait_value(&self, promql: &str, f: impl Fn(f64) -> bool) -> f64 {
        let mut last = None;
        if wait_until(DEADLINE, || {
            last = self.value(promql);
            last.is_some_and(&f)
        }) {
            return last.unwrap();
        }
        panic!(
            "{promql}: last value {last:?}\ntargets: {}\n{}",
            self.get("/api/v1/targets").unwrap_or_default(),
            read_text(&self.log)
        );
    }
}

fn urlencode(s: &str) -> String {
    s.bytes()
        .map(|b| match b {
            b'A'..=b'Z' | b'a'..=b'z' | b'0'..=b'9' | b'-' | b'_' | b'.' | b'~' => {
                (b as char).to_string()
            }
            _ => format!("%{b:02X}"),
        })
        .collect()
}

#[test]
fn prometheus_scrapes_both_formats_and_answers_with_the_series() {
    let m = MailServer::start("promscrape", "metrics_dovecot_aliases = true");
    let direct = Relay::start(m.server.metrics_port, None);
    let text = Relay::start(
        m.server.metrics_port,
        Some("text/plain;version=0.0.4;q=0.5,*/*;q=0.1"),
    );
    let dir = TempDir::new("prometheus");
    let prom = Prometheus::start(
        &dir,
        &[("roost-om", direct.port), ("roost-text", text.port)],
    );
    m.drive();

    for job in ["roost-om", "roost-text"] {
        prom.wait_value(&format!("up{{job=\"{job}\"}}"), |v| v == 1.0);
        let sel = format!("job=\"{job}\"");
        prom.wait_value(
            &format!("roost_login_total{{{sel},service=\"imap-login\",result=\"success\"}}"),
            |v| v >= 2.0,
        );
        prom.wait_value(
            &format!("roost_lmtp_deliveries_total{{{sel},result=\"ok\"}}"),
            |v| v >= 1.0,
        );
        prom.wait_value(
            &format!("sum(roost_listener_tls_handshakes_total{{{sel},listener=\"imaps\"}})"),
            |v| v >= 1.0,
        );
        prom.wait_value(
            &format!("roost_process_resident_memory_bytes{{{sel}}}"),
            |v| v > 1e6,
        );
        // The aliases, in Dovecot's names.
        prom.wait_value(&format!("dovecot_auth_success_total{{{sel}}}"), |v| {
            v >= 2.0
        });
        prom.wait_value(&format!("dovecot_auth_failures_total{{{sel}}}"), |v| {
            v >= 1.0
        });
        prom.wait_value(&format!("dovecot_mail_delivery_total{{{sel}}}"), |v| {
            v >= 1.0
        });
        prom.wait_value(
            &format!(
                "dovecot_imap_command_total{{{sel},cmd_name=\"SELECT\",tagged_reply_state=\"OK\"}}"
            ),
            |v| v >= 1.0,
        );
        prom.wait_value(&format!("dovecot_build_info{{{sel}}}"), |v| v == 1.0);
    }

    // Prometheus asked for OpenMetrics and got it; the other relay's requests got text.
    let asked = direct.accepts();
    assert!(
        asked
            .iter()
            .all(|a| a.starts_with("application/openmetrics-text")),
        "{asked:?}"
    );
    eprintln!("Prometheus sent Accept: {}", asked[0]);
    prom.wait_value(
        "max(roost_stats_scrapes_total{format=\"openmetrics\"})",
        |v| v >= 1.0,
    );
    prom.wait_value("max(roost_stats_scrapes_total{format=\"text\"})", |v| {
        v >= 1.0
    });

    // OpenMetrics' UNIT made it into Prometheus' metadata (the text format has no UNIT).
    let meta: serde_json::Value = serde_json::from_str(
        &prom
            .get(&format!(
                "/api/v1/targets/metadata?metric=roost_lmtp_delivery_duration_seconds&match_target={}",
                urlencode("{job=\"roost-om\"}")
            ))
            .unwrap_or_default(),
    )
    .unwrap();
    assert_eq!(meta["data"][0]["unit"], "seconds", "{meta}");
    assert_eq!(meta["data"][0]["type"], "histogram", "{meta}");

    // Every dashboard query evaluates and finds series.
    let mut empty = Vec::new();
    for q in dashboard_queries(&dashboard()) {
        if q.starts_with("label_values(") {
            continue;
        }
        let q = q
            .replace("$__rate_interval", "30s")
            .replace("$job", ".*")
            .replace("$instance", ".*");
        let mut answer = serde_json::Value::Null;
        let found = wait_until(Duration::from_secs(20), || {
            answer = prom.query(&q);
            answer["data"]["result"]
                .as_array()
                .is_some_and(|r| !r.is_empty())
        });
        assert_eq!(answer["status"], "success", "{q}: {answer}");
        if !found {
            empty.push(q);
        }
    }
    assert!(
        empty.is_empty(),
        "dashboard queries without series: {empty:#?}"
    );
}
