//! `/metrics` of the real binary from the very first scrape: every `roost_` name README.md
//! mentions is there with HELP, TYPE and a sample, the series known at start-up (each running
//! service, listener, exit reason, TLS version, PROXY version and command, refusal reason,
//! login result, …) are there at 0, and `promtool check metrics` accepts the scrape, fresh and
//! after traffic.

mod common;

use std::collections::BTreeSet;
use std::io::Write;
use std::process::{Command, Stdio};
use std::time::Duration;

use common::*;
use roost::net::tls::devcerts::TestCa;

/// Every `roost_…` name written in backticks in README.md (a bare prefix such as `roost_` is
/// not a name).
fn readme_metric_names() -> BTreeSet<String> {
    let readme = std::fs::read_to_string(concat!(env!("CARGO_MANIFEST_DIR"), "/README.md"))
        .expect("README.md");
    readme
        .split('`')
        .skip(1)
        .step_by(2)
        .filter_map(|code| {
            let name: String = code
                .chars()
                .take_while(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || *c == '_')
                .collect();
            (name.starts_with("roost_") && !name.ends_with('_')).then_some(name)
        })
        .collect()
}

/// Sample lines of metric family `name` (histograms: its `_bucket`, `_sum`, `_count`).
fn samples<'a>(scrape: &'a str, name: &str) -> Vec<&'a str> {
    scrape
        .lines()
        .filter(|l| {
            l.strip_prefix(name).is_some_and(|rest| {
                ["{", " ", "_bucket{", "_sum", "_count"]
                    .iter()
                    .any(|p| rest.starts_with(p))
            })
        })
        .collect()
}

fn promtool_check(scrape: &str) {
    let mut child = Command::new("promtool")
        .args(["check", "metrics"])
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("promtool (Debian package prometheus) must be installed");
    child
        .stdin
        .take()
        .unwrap()
        .write_all(scrape.as_bytes())
        .unwrap();
    let out = child.wait_with_output().unwrap();
    assert!(
        out.status.success(),
        "promtool check metrics failed:\n{}{}\n{scrape}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
}

/// Every service kind with metrics of its own runs: auth (passwd-file passdb, `passwd` userdb
/// through an auth-worker helper), pop3-login → pop3, lmtp, and health-check behind a
/// `haproxy = yes` listener and an `ssl = yes` listener; per-client counting is on.
fn start_everything() -> (Server, u16) {
    let launch = Launch::new("metrics");
    let users = launch
        .dir()
        .write("users", "bob:{PLAIN}pw:1000:1000::/nonexistent\n");
    let ca = TestCa::new("metrics test CA");
    let (cert, key) = write_pair(launch.dir().path(), "tls", &ca.server(&["localhost"]));
    let hc = free_port();
    let cfg = format!(
        r#"protocols = ["lmtp", "pop3", "imap"]
metrics_remote_ip = true
haproxy_trusted_networks = "127.0.0.1"
ssl_cert = "{cert}"
ssl_key = "{key}"
mail_location = "maildir:{mail}/%n"

[[passdb]]
driver = "passwd-file"
args = "{users}"

[[userdb]]
driver = "passwd"

[service.lmtp.inet_listener.lmtp]
port = {lmtp}

[service.pop3-login.inet_listener.pop3]
port = {pop3}

[service.pop3-login.inet_listener.pop3s]
port = {pop3s}

[service.imap-login.inet_listener.imap]
port = {imap}

[service.imap-login.inet_listener.imaps]
port = {imaps}

[service.health-check.inet_listener.hc]
port = {hc}

[service.health-check.inet_listener.proxied]
port = {proxied}
haproxy = true

[service.health-check.inet_listener.tls]
port = {tls}
ssl = true
"#,
        mail = launch.dir().join("mail").display(),
        users = users.display(),
        lmtp = free_port(),
        pop3 = free_port(),
        pop3s = free_port(),
        imap = free_port(),
        imaps = free_port(),
        proxied = free_port(),
        tls = free_port(),
    );
    (launch.config(&cfg).ready_on(&[hc]).start(), hc)
}

#[test]
fn first_scrape_lists_every_readme_metric_with_zeros_and_passes_promtool() {
    let names = readme_metric_names();
    assert!(
        names.len() >= 30 && names.contains("roost_login_kicked_total"),
        "README.md's metric names were not found: {names:?}"
    );
    let (s, hc) = start_everything();
    let scrape = s.scrape();
    let mut missing = Vec::new();
    for name in &names {
        let help = scrape.contains(&format!("# HELP {name} "));
        let kind = scrape.contains(&format!("# TYPE {name} "));
        let sample = !samples(&scrape, name).is_empty();
        if !(help && kind && sample) {
            missing.push(format!(
                "{name} (HELP {help}, TYPE {kind}, sample {sample})"
            ));
        }
    }
    assert!(missing.is_empty(), "{missing:#?}\n{scrape}");

    // The series known at start-up are there, at 0.
    let zero = |name: &str, labels: &str| {
        assert_eq!(
            metric_value(&scrape, name, labels),
            Some(0.0),
            "{name}{{{labels}}}\n{scrape}"
        );
    };
    for svc in [
        "health-check",
        "lmtp",
        "pop3",
        "pop3-login",
        "auth",
        "stats",
    ] {
        let l = format!("service=\"{svc}\"");
        zero("roost_service_process_limit_reached_total", &l);
        zero("roost_service_dropped_connections_total", &l);
        zero("roost_service_throttled_total", &l);
        zero("roost_service_session_panics_total", &l);
        for reason in ["idle_kill", "service_count", "shutdown", "crash"] {
            zero(
                "roost_service_processes_exited_total",
                &format!("{l},reason=\"{reason}\""),
            );
        }
    }
    zero("roost_login_kicked_total", "service=\"pop3-login\"");
    assert_eq!(
        metric_value(&scrape, "roost_login_kicked_total", "service=\"lmtp\""),
        None,
        "only login services kick"
    );
    let hc_l = "service=\"health-check\"";
    zero(
        "roost_service_connections_total",
        "service=\"lmtp\",listener=\"lmtp\"",
    );
    zero(
        "roost_service_connections_total",
        "service=\"pop3\",listener=\"handoff\"",
    );
    zero(
        "roost_service_connections_total",
        &format!("{hc_l},listener=\"proxied\""),
    );
    for reason in ["io", "untrusted", "timeout", "invalid", "closed"] {
        zero(
            "roost_listener_proxy_rejected_total",
            &format!("{hc_l},listener=\"proxied\",reason=\"{reason}\""),
        );
    }
    for version in ["v1", "v2"] {
        for command in ["proxy", "local"] {
            zero(
                "roost_listener_proxy_accepted_total",
                &format!("{hc_l},listener=\"proxied\",version=\"{version}\",command=\"{command}\""),
            );
        }
    }
    for version in ["TLSv1.2", "TLSv1.3"] {
        zero(
            "roost_listener_tls_handshakes_total",
            &format!("{hc_l},listener=\"tls\",version=\"{version}\""),
        );
        zero(
            "roost_listener_tls_handshakes_total",
            &format!("service=\"pop3-login\",listener=\"pop3s\",version=\"{version}\""),
        );
    }
    for reason in ["tls_timeout", "tls_handshake"] {
        zero(
            "roost_listener_tls_failed_total",
            &format!("{hc_l},listener=\"tls\",reason=\"{reason}\""),
        );
    }
    for result in [
        "success",
        "failed",
        "aborted",
        "userip_limit",
        "internal_error",
    ] {
        zero(
            "roost_login_total",
            &format!("service=\"pop3-login\",result=\"{result}\""),
        );
    }
    for result in ["ok", "tempfail", "permfail"] {
        zero(
            "roost_lmtp_deliveries_total",
            &format!("result=\"{result}\""),
        );
    }
    zero("roost_pop3_commands_total", "command=\"RETR\"");
    zero(
        "roost_auth_requests_total",
        "mechanism=\"PLAIN\",result=\"fail\"",
    );
    zero(
        "roost_privsep_helper_starts_total",
        "service=\"auth-worker\"",
    );
    promtool_check(&scrape);

    // After traffic the counters move and the scrape is still clean (start-up's readiness
    // probe of `hc` counts as a connection too, so compare with the first scrape).
    let hc_conns = format!("{hc_l},listener=\"hc\"");
    let before = metric_value(&scrape, "roost_service_connections_total", &hc_conns).unwrap();
    let mut c = Pinger::connect(hc);
    assert_eq!(c.ping(Duration::from_secs(10)).as_deref(), Some("PONG"));
    let scrape = s.scrape();
    let after = metric_value(&scrape, "roost_service_connections_total", &hc_conns);
    assert!(
        after >= Some(before + 1.0),
        "{before} -> {after:?}\n{scrape}"
    );
    promtool_check(&scrape);
}

/// GET `/metrics` with an `Accept` header: (content type, body).
fn scrape_accept(port: u16, accept: &str) -> (String, String) {
    use std::io::Read;
    let mut s = connect_port(port);
    write!(
        s,
        "GET /metrics HTTP/1.1\r\nHost: localhost\r\nAccept: {accept}\r\nConnection: close\r\n\r\n"
    )
    .unwrap();
    let mut resp = String::new();
    s.read_to_string(&mut resp).unwrap();
    let (head, body) = resp.split_once("\r\n\r\n").expect("a response");
    let ctype = head
        .lines()
        .find_map(|l| {
            l.to_ascii_lowercase()
                .strip_prefix("content-type:")
                .map(|v| v.trim().to_string())
        })
        .unwrap_or_default();
    (ctype, body.to_string())
}

/// Python's prometheus_client (Debian's python3-prometheus-client) parses OpenMetrics
/// strictly: `# EOF`, counter families without `_total`, UNIT suffixes, label syntax.
fn openmetrics_parse(text: &str) -> String {
    const PARSE: &str = r#"
import sys
from prometheus_client.openmetrics.parser import text_string_to_metric_families
for f in text_string_to_metric_families(sys.stdin.read()):
    print(f.name, f.type, f.unit, len(f.samples))
"#;
    // Debian's interpreter: the package installs there.
    let mut child = Command::new("/usr/bin/python3")
        .args(["-c", PARSE])
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("/usr/bin/python3 with python3-prometheus-client must be installed");
    child
        .stdin
        .take()
        .unwrap()
        .write_all(text.as_bytes())
        .unwrap();
    let out = child.wait_with_output().unwrap();
    assert!(
        out.status.success(),
        "the OpenMetrics parser refused the scrape:\n{}\n{text}",
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8_lossy(&out.stdout).into_owned()
}

#[test]
fn openmetrics_when_asked_with_dovecot_aliases_passes_both_parsers() {
    let m = MailServer::start("openmetrics", "metrics_dovecot_aliases = \"yes\"");
    m.drive();
    let port = m.server.metrics_port;
    // What Prometheus 2.42 sends.
    let (ctype, om) = scrape_accept(
        port,
        "application/openmetrics-text;version=1.0.0,application/openmetrics-text;version=0.0.1;q=0.75,text/plain;version=0.0.4;q=0.5,*/*;q=0.1",
    );
    assert_eq!(
        ctype,
        "application/openmetrics-text; version=1.0.0; charset=utf-8"
    );
    assert!(om.ends_with("# EOF\n"), "{om}");
    assert!(om.contains("# TYPE roost_login counter\n"), "{om}");
    assert!(!om.contains("# TYPE roost_login_total"), "{om}");
    assert!(om.contains("# TYPE dovecot_build info\n"), "{om}");
    assert!(
        om.contains("# TYPE roost_auth_request_duration_seconds histogram\n# UNIT roost_auth_request_duration_seconds seconds\n"),
        "{om}"
    );
    assert!(
        metric_value(
            &om,
            "roost_login_total",
            "service=\"imap-login\",result=\"success\""
        ) >= Some(2.0)
    );
    assert!(
        metric_value(&om, "dovecot_auth_failures_total", "") >= Some(1.0),
        "{om}"
    );
    let families = openmetrics_parse(&om);
    for want in [
        "roost_login counter  ",
        "roost_auth_request_duration_seconds histogram seconds ",
        "dovecot_build info  1",
        "dovecot_mail_delivery histogram  ",
        "dovecot_imap_command counter  ",
    ] {
        assert!(families.contains(want), "{want:?} not in\n{families}");
    }

    // q-values decide; the text format keeps `_total` in TYPE and passes promtool.
    let (ctype, text) = scrape_accept(
        port,
        "application/openmetrics-text;version=1.0.0;q=0.2,text/plain;version=0.0.4;q=0.9",
    );
    assert_eq!(ctype, "text/plain; version=0.0.4; charset=utf-8");
    assert!(text.contains("# TYPE roost_login_total counter\n") && !text.contains("# EOF"));
    assert!(text.contains("# TYPE dovecot_build_info gauge\n"), "{text}");
    promtool_check(&text);
    let (ctype, _) = scrape_accept(port, "*/*");
    assert!(ctype.starts_with("text/plain; version=0.0.4"), "{ctype}");
    let (_, after) = scrape_accept(port, "text/plain");
    assert!(
        metric_value(
            &after,
            "roost_stats_scrapes_total",
            "format=\"openmetrics\""
        ) >= Some(1.0)
    );
    assert!(metric_value(&after, "roost_stats_scrapes_total", "format=\"text\"") >= Some(2.0));
}
