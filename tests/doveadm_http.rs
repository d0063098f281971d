//! The doveadm HTTP API (`service doveadm { inet_listener http }`) on the real binary, driven
//! by curl and Python's `requests` with the request bodies of Dovecot's "doveadm HTTP API"
//! documentation, while Python's imaplib and poplib hold real IMAP and POP3 sessions: `who`
//! lists them with Dovecot's fields, `kick` ends one user's sessions with each protocol's
//! goodbye and leaves the other's, several commands in one body answer in order, unknown
//! commands and parameters answer as Dovecot's, a wrong or missing key gets 401 and the right
//! key or Basic password 200, bad JSON 400; the API also works over TLS. Against a throw-away
//! Dovecot 2.3 with its doveadm HTTP listener and the same sessions, the command list entries,
//! `who` rows (apart from process ids), `kick` answers, goodbyes and 401 headers are the same.

mod common;

use std::process::Command;
use std::time::Duration;

use serde_json::{json, Value};

use common::*;

const KEY: &str = "s3cret-api-key";
const PASSWORD: &str = "admin-pw";

struct Roost {
    s: Server,
    imap: u16,
    pop3: u16,
    http: u16,
}

fn start(tag: &str, http_extra: &str) -> Roost {
    let launch = Launch::new(tag);
    let users = launch.dir().write(
        "users",
        "bob:{PLAIN}pass:1000:1000::/nonexistent\nalice:{PLAIN}pass:1000:1000::/nonexistent\n",
    );
    let mail = launch.dir().join("mail");
    let (imap, pop3, http) = (free_port(), free_port(), free_port());
    let config = format!(
        "protocols = [\"imap\", \"pop3\"]\nmail_location = \"maildir:{m}/%n\"\n\
disable_plaintext_auth = \"no\"\ndoveadm_api_key = \"{KEY}\"\ndoveadm_password = \"{PASSWORD}\"\n\
[[passdb]]\ndriver = \"passwd-file\"\nargs = \"{u}\"\n\n\
[[userdb]]\ndriver = \"passwd-file\"\nargs = \"{u}\"\n\n\
[service.imap-login.inet_listener.imap]\nport = {imap}\n\n\
[service.imap-login.inet_listener.imaps]\nport = 0\n\n\
[service.pop3-login.inet_listener.pop3]\nport = {pop3}\n\n\
[service.pop3-login.inet_listener.pop3s]\nport = 0\n\n\
[service.doveadm.inet_listener.http]\nport = {http}\n{http_extra}\n",
        m = mail.display(),
        u = users.display()
    );
    let s = launch.config(&config).ready_on(&[imap, pop3, http]).start();
    Roost {
        s,
        imap,
        pop3,
        http,
    }
}

/// A Python process holding IMAP and POP3 sessions (`imap:user` / `pop3:user` per argument,
/// password `pass`), printing `ready`; `NOOP i…` sends NOOP on those sessions, `READ i…` reads
/// what they got (a line, then the next: `b''` once closed); one answer line per command.
const HOLDER: &str = r#"
import imaplib, poplib, sys
imap_port, pop3_port = int(sys.argv[1]), int(sys.argv[2])
sessions = []
for arg in sys.argv[3:]:
    proto, user = arg.split(":")
    if proto == "imap":
        c = imaplib.IMAP4("127.0.0.1", imap_port)
        c.login(user, "pass")
    else:
        c = poplib.POP3("127.0.0.1", pop3_port)
        c.user(user)
        c.pass_("pass")
    sessions.append((proto, c))
print("ready", flush=True)
for cmd in sys.stdin:
    words = cmd.split()
    out = []
    for proto, c in [sessions[int(i)] for i in words[1:]]:
        try:
            if words[0] == "NOOP":
                r = c.noop()
                out.append(r[0] if proto == "imap" else r.decode())
            elif proto == "imap":
                c.sock.settimeout(10)
                out.append(repr(c.readline()) + " then " + repr(c.readline()))
            else:
                c.sock.settimeout(10)
                out.append(repr(c.file.readline()) + " then " + repr(c.file.readline()))
        except Exception as e:
            out.append("error " + type(e).__name__)
    print(" | ".join(out), flush=True)
"#;

/// The HOLDER script holding `sessions` (`imap:USER`, `pop3:USER`) against these ports.
fn holder(imap: u16, pop3: u16, sessions: &[&str]) -> Holder {
    let mut args = vec![imap.to_string(), pop3.to_string()];
    args.extend(sessions.iter().map(|s| s.to_string()));
    Holder::start(HOLDER, &args)
}

fn b64(s: &str) -> String {
    use base64::Engine;
    base64::engine::general_purpose::STANDARD.encode(s)
}

/// curl against 127.0.0.1:`port`; returns (status line, headers, body). `args` are extra curl
/// arguments (method, headers, data).
fn curl(port: u16, path: &str, args: &[&str]) -> (String, String, String) {
    curl_url(&format!("http://127.0.0.1:{port}{path}"), args)
}

fn curl_url(url: &str, args: &[&str]) -> (String, String, String) {
    let out = Command::new("curl")
        .args(["-sS", "-i", "-m", "20"])
        .args(args)
        .arg(url)
        .output()
        .expect("curl must be installed");
    assert!(
        out.status.success(),
        "curl {url}: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    let text = String::from_utf8_lossy(&out.stdout).replace("\r\n", "\n");
    let (head, body) = text.split_once("\n\n").unwrap_or((&text, ""));
    let (status, headers) = head.split_once('\n').unwrap_or((head, ""));
    (status.to_string(), headers.to_string(), body.to_string())
}

/// POSTs `body` with the API key; returns the parsed answer.
fn post(port: u16, body: &str) -> Value {
    let auth = format!("Authorization: X-Dovecot-API {}", b64(KEY));
    let (status, _, answer) = curl(
        port,
        "/doveadm/v1",
        &[
            "-H",
            &auth,
            "-H",
            "Content-Type: application/json",
            "-d",
            body,
        ],
    );
    assert_eq!(status, "HTTP/1.1 200 OK", "{body}: {answer}");
    serde_json::from_str(&answer).unwrap_or_else(|e| panic!("{e}: {answer}"))
}

fn keys(o: &Value) -> Vec<String> {
    o.as_object().unwrap().keys().cloned().collect()
}

/// The virtual process ids `roost ps` shows for `service`.
fn vprocs(s: &Server, service: &str) -> Vec<String> {
    s.ps(service)
        .into_iter()
        .map(|(v, _, _)| v.to_string())
        .collect()
}

#[test]
fn curl_sends_dovecots_request_bodies_and_kick_ends_only_bobs_sessions() {
    let r = start("doveadm-http", "");
    let mut h = holder(
        r.imap,
        r.pop3,
        &["imap:bob", "pop3:bob", "imap:alice", "pop3:alice"],
    );

    // GET /doveadm/v1: the command list, with Dovecot's entry for who.
    let auth = format!("Authorization: X-Dovecot-API {}", b64(KEY));
    let (status, headers, body) = curl(r.http, "/doveadm/v1", &["-H", &auth]);
    assert_eq!(status, "HTTP/1.1 200 OK");
    assert!(
        headers.contains("Content-Type: application/json; charset=utf-8")
            || headers.contains("content-type: application/json; charset=utf-8"),
        "{headers}"
    );
    let list: Value = serde_json::from_str(&body).unwrap();
    let who = list
        .as_array()
        .unwrap()
        .iter()
        .find(|c| c["command"] == "who")
        .expect("who listed");
    assert_eq!(
        who,
        &json!({"command":"who","parameters":[{"name":"socketPath","type":"string"},
            {"name":"separateConnections","type":"boolean"},{"name":"mask","type":"array"}]})
    );
    for c in [
        "kick",
        "reload",
        "stop",
        "serviceStatus",
        "processStatus",
        "statsDump",
    ] {
        assert!(
            list.as_array().unwrap().iter().any(|e| e["command"] == c),
            "{c} not listed: {body}"
        );
    }

    // who: one row per user and protocol with Dovecot's fields.
    let answer = post(r.http, r#"[["who",{},"tag1"]]"#);
    assert_eq!(answer[0][0], "doveadmResponse", "{answer}");
    assert_eq!(answer[0][2], "tag1");
    let rows = answer[0][1].as_array().unwrap();
    assert_eq!(rows.len(), 4, "{answer}");
    let imap_vprocs = vprocs(&r.s, "imap");
    let pop3_vprocs = vprocs(&r.s, "pop3");
    let mut seen = Vec::new();
    for row in rows {
        assert_eq!(
            keys(row),
            ["username", "connections", "service", "pids", "ips"],
            "{answer}"
        );
        assert_eq!(row["connections"], "1");
        assert_eq!(row["ips"], "(127.0.0.1)");
        let pid = row["pids"].as_str().unwrap().trim_matches(['(', ')']);
        let known = if row["service"] == "imap" {
            &imap_vprocs
        } else {
            &pop3_vprocs
        };
        assert!(known.iter().any(|v| v == pid), "{row} vs {known:?}");
        seen.push(format!("{}/{}", row["username"], row["service"]));
    }
    seen.sort();
    assert_eq!(
        seen,
        [
            "\"alice\"/\"imap\"",
            "\"alice\"/\"pop3\"",
            "\"bob\"/\"imap\"",
            "\"bob\"/\"pop3\""
        ]
    );
    // One row per connection, and a mask.
    let answer = post(
        r.http,
        r#"[["who",{"separateConnections":true,"mask":["bob"]},"t2"]]"#,
    );
    let rows = answer[0][1].as_array().unwrap();
    assert_eq!(rows.len(), 2, "{answer}");
    for row in rows {
        assert_eq!(keys(row), ["username", "service", "pid", "ip"], "{answer}");
        assert_eq!(
            (&row["username"], &row["ip"]),
            (&json!("bob"), &json!("127.0.0.1"))
        );
    }

    // Several commands in one body, answered in order with their tags; an unknown command
    // and an unknown parameter as Dovecot answers them; nobody to kick is exit code 68.
    let answer = post(
        r.http,
        r#"[["who",{"mask":"alice"},"a"],["serviceStatus",{"service":["imap"]},"b"],["nosuch",{},"c"],["who",{"bogus":"x"},"d"],["kick",{"mask":["nobody"]},"e"]]"#,
    );
    assert_eq!(answer.as_array().unwrap().len(), 5, "{answer}");
    assert_eq!(answer[0][1].as_array().unwrap().len(), 2, "{answer}");
    assert_eq!(answer[1][0], "doveadmResponse");
    assert_eq!(answer[1][1][0]["name"], "imap", "{answer}");
    assert_eq!(answer[1][1][0]["listening"], "y", "{answer}");
    assert_eq!(
        answer[2],
        json!(["error", {"type": "unknownMethod", "exitCode": 0}, "c"])
    );
    assert_eq!(
        answer[3],
        json!(["error", {"type": "invalidRequest", "exitCode": 0}, "d"])
    );
    assert_eq!(
        answer[4],
        json!(["error", {"type": "exitCode", "exitCode": 68}, "e"])
    );

    // kick bob: Dovecot's answer, IMAP's `* BYE`, POP3's goodbye; alice keeps hers.
    let answer = post(r.http, r#"[["kick",{"mask":["bob"]},"k"]]"#);
    assert_eq!(
        answer,
        json!([["doveadmResponse", [{"result": "bob"}], "k"]])
    );
    assert_eq!(
        h.ask("READ 0 1"),
        "b'* BYE Server shutting down.\\r\\n' then b'' | \
         b'-ERR [SYS/TEMP] Server shutting down.\\r\\n' then b''"
    );
    assert_eq!(h.ask("NOOP 2 3"), "OK | +OK", "alice is still served");
    assert!(wait_until(Duration::from_secs(10), || {
        let a = post(r.http, r#"[["who",{},"w"]]"#);
        a[0][1]
            .as_array()
            .unwrap()
            .iter()
            .all(|r| r["username"] == "alice")
    }));

    // Authentication: wrong key, none, wrong password → 401 with Dovecot's headers; the
    // right Basic password → 200.
    for args in [
        vec![
            "-H".to_string(),
            format!("Authorization: X-Dovecot-API {}", b64("wrong")),
        ],
        vec![],
        vec!["-u".to_string(), "doveadm:wrong".to_string()],
    ] {
        let args: Vec<&str> = args.iter().map(String::as_str).collect();
        let (status, headers, _) = curl(r.http, "/doveadm/v1", &args);
        assert_eq!(status, "HTTP/1.1 401 Authentication required", "{args:?}");
        let lower = headers.to_ascii_lowercase();
        assert!(
            lower.contains("www-authenticate: x-dovecot-api\n")
                && lower.contains("www-authenticate: basic realm=\"doveadm\"\n"),
            "{headers}"
        );
    }
    let user = format!("doveadm:{PASSWORD}");
    let (status, _, body) = curl(
        r.http,
        "/doveadm/v1",
        &["-u", &user, "-d", r#"[["who",{},"b"]]"#],
    );
    assert_eq!(status, "HTTP/1.1 200 OK");
    assert!(body.starts_with(r#"[["doveadmResponse",["#), "{body}");

    // Bad bodies: 400.
    for bad in ["[[\"who\",{},", "{\"who\":1}", "[[\"who\",{},7]]"] {
        let (status, _, _) = curl(r.http, "/doveadm/v1", &["-H", &auth, "-d", bad]);
        assert_eq!(status, "HTTP/1.1 400 Bad Request", "{bad}");
    }
    assert!(r.s.wait_log(
        "Invalid authentication attempt to HTTP API (using X-Dovecot-API authentication scheme)",
        Duration::from_secs(5)
    ));
}

/// Python's requests: the documented bodies with X-Dovecot-API and Basic authentication.
const REQUESTS: &str = r#"
import base64, json, sys, requests
url = "http://127.0.0.1:%s/doveadm/v1" % sys.argv[1]
key, password = sys.argv[2], sys.argv[3]
api = {"Authorization": "X-Dovecot-API " + base64.b64encode(key.encode()).decode()}
r = requests.get(url, headers=api, timeout=20)
print("list", r.status_code, r.headers["Content-Type"], len(r.json()))
r = requests.post(url, json=[["who", {}, "tag1"]], headers=api, timeout=20)
print("who", r.status_code, json.dumps(r.json()))
r = requests.post(url, json=[["who", {"separateConnections": True}, "s"], ["processStatus", {"service": ["pop3"]}, "p"]], auth=("doveadm", password), timeout=20)
print("multi", r.status_code, json.dumps(r.json()))
r = requests.post(url, json=[["kick", {"mask": ["alice"]}, "k"]], headers=api, timeout=20)
print("kick", r.status_code, json.dumps(r.json()))
r = requests.post(url, json=[["who", {}, "t"]], headers={"Authorization": "X-Dovecot-API " + base64.b64encode(b"nope").decode()}, timeout=20)
print("wrong", r.status_code, r.headers.get("WWW-Authenticate"))
r = requests.post(url, json=[["who", {}, "t"]], auth=("doveadm", "nope"), timeout=20)
print("wrongpw", r.status_code)
r = requests.post(url, data="not json", headers=api, timeout=20)
print("bad", r.status_code)
"#;

#[test]
fn python_requests_gets_the_same_shapes_and_kicks_alice() {
    let r = start("doveadm-requests", "");
    let mut h = holder(r.imap, r.pop3, &["imap:bob", "pop3:alice", "imap:alice"]);
    let out =
        run(Command::new("python3").args(["-c", REQUESTS, &r.http.to_string(), KEY, PASSWORD]));
    assert!(out.ok, "{}", out.all());
    let lines: Vec<&str> = out.stdout.lines().collect();
    let field = |name: &str| -> &str {
        lines
            .iter()
            .find_map(|l| l.strip_prefix(&format!("{name} ")))
            .unwrap_or_else(|| panic!("{name}: {}", out.stdout))
    };
    assert!(
        field("list").starts_with("200 application/json; charset=utf-8 "),
        "{}",
        out.stdout
    );
    let who: Value = serde_json::from_str(field("who").strip_prefix("200 ").unwrap()).unwrap();
    assert_eq!(who[0][0], "doveadmResponse");
    assert_eq!(who[0][1].as_array().unwrap().len(), 3, "{who}");
    let multi: Value = serde_json::from_str(field("multi").strip_prefix("200 ").unwrap()).unwrap();
    assert_eq!(multi[0][1].as_array().unwrap().len(), 3, "{multi}");
    assert_eq!(multi[0][2], "s");
    let procs = multi[1][1].as_array().unwrap();
    assert!(!procs.is_empty(), "{multi}");
    for p in procs {
        assert_eq!(
            keys(p),
            [
                "name",
                "pid",
                "available_count",
                "total_count",
                "idle_start",
                "last_status_update",
                "last_kill_sent"
            ]
        );
        assert_eq!(p["name"], "pop3");
    }
    assert_eq!(
        field("kick"),
        r#"200 [["doveadmResponse", [{"result": "alice"}], "k"]]"#
    );
    assert_eq!(field("wrong"), "401 X-Dovecot-API, Basic Realm=\"doveadm\"");
    assert_eq!(field("wrongpw"), "401");
    assert_eq!(field("bad"), "400");
    // alice's POP3 and IMAP sessions got their goodbyes; bob's is served.
    assert_eq!(
        h.ask("READ 1 2"),
        "b'-ERR [SYS/TEMP] Server shutting down.\\r\\n' then b'' | \
         b'* BYE Server shutting down.\\r\\n' then b''"
    );
    assert_eq!(h.ask("NOOP 0"), "OK");
}

#[test]
fn without_a_key_or_password_the_api_answers_500_and_tls_works() {
    let launch = Launch::new("doveadm-nokey");
    let http = free_port();
    let s = launch
        .config(&format!(
            "[service.doveadm.inet_listener.http]\nport = {http}\nssl = true\n"
        ))
        .ready_on(&[http])
        .start();
    let url = format!("https://127.0.0.1:{http}/doveadm/v1");
    let (status, _, _) = curl_url(&url, &["-k", "-H", "Authorization: X-Dovecot-API eA=="]);
    assert_eq!(status, "HTTP/1.1 500 Internal Server Error");
    assert!(s.wait_log(
        "No authentication defined in configuration. Add API key or password",
        Duration::from_secs(5)
    ));
    // OPTIONS needs no authentication (CORS), unknown paths are 404.
    let (status, headers, _) = curl_url(&url, &["-k", "-X", "OPTIONS"]);
    assert_eq!(status, "HTTP/1.1 200 OK");
    assert!(
        headers
            .to_ascii_lowercase()
            .contains("access-control-allow-methods: get, post, options"),
        "{headers}"
    );
    let (status, _, _) = curl_url(&format!("https://127.0.0.1:{http}/nothing"), &["-k"]);
    assert_eq!(status, "HTTP/1.1 404 Path Not Found");
}

/// `{…}` objects inside a Dovecot answer (doveadm 2.3.19's JSON printer misplaces the closing
/// bracket of a list with more than one row, so the body is not valid JSON as a whole).
fn objects(body: &str) -> Vec<Value> {
    let mut out = Vec::new();
    let mut rest = body;
    while let Some(start) = rest.find('{') {
        let end = start + rest[start..].find('}').unwrap();
        if let Ok(v) = serde_json::from_str::<Value>(&rest[start..=end]) {
            out.push(v);
        }
        rest = &rest[end + 1..];
    }
    out
}

#[test]
fn roost_answers_as_a_private_dovecots_doveadm_http_api() {
    let dir = TempDir::new("doveadm-http-dovecot");
    let dovecot_http = free_port();
    let dovecot = Dovecot::start_with(
        dir.path(),
        &format!(
            "doveadm_api_key = {KEY}\ndoveadm_password = {PASSWORD}\n\
service doveadm {{\n  inet_listener http {{\n    port = {dovecot_http}\n  }}\n}}\n"
        ),
    );
    dovecot.chown_mail();
    std::fs::write(
        dir.join("users"),
        "bob:{PLAIN}pass::::::\nalice:{PLAIN}pass::::::\n",
    )
    .unwrap();
    assert!(wait_until(Duration::from_secs(10), || port_open(
        dovecot_http
    )));
    let r = start("doveadm-http-vs", "");
    let mut theirs = holder(
        dovecot.imap_port,
        dovecot.pop3_port,
        &["imap:bob", "pop3:bob", "pop3:alice"],
    );
    let mut ours = holder(r.imap, r.pop3, &["imap:bob", "pop3:bob", "pop3:alice"]);

    // An unknown command first (Dovecot's exitCode is the last command's).
    let body = r#"[["nosuch",{},"x"]]"#;
    let d: Value = serde_json::from_str(&curl_post(dovecot_http, body)).unwrap();
    assert_eq!(post(r.http, body), d);

    // The command list entries of the commands roost has.
    let auth = format!("Authorization: X-Dovecot-API {}", b64(KEY));
    let list = |port: u16| -> Value {
        serde_json::from_str(&curl(port, "/doveadm/v1", &["-H", &auth]).2).unwrap()
    };
    let (theirs_list, ours_list) = (list(dovecot_http), list(r.http));
    for c in [
        "who",
        "kick",
        "reload",
        "stop",
        "serviceStatus",
        "processStatus",
        "statsDump",
    ] {
        let pick = |l: &Value| {
            l.as_array()
                .unwrap()
                .iter()
                .find(|e| e["command"] == c)
                .cloned()
        };
        assert_eq!(pick(&ours_list), pick(&theirs_list), "{c}");
        assert!(pick(&ours_list).is_some(), "{c}");
    }

    // who: the same rows apart from the process ids.
    let rows = |objs: Vec<Value>, pid_key: &str| -> Vec<String> {
        let mut v: Vec<String> = objs
            .into_iter()
            .map(|mut o| {
                o[pid_key] = json!("-");
                o.to_string()
            })
            .collect();
        v.sort();
        v
    };
    for (body, pid_key) in [
        (r#"[["who",{},"w"]]"#, "pids"),
        (r#"[["who",{"separateConnections":true},"w"]]"#, "pid"),
    ] {
        let d = objects(&curl_post(dovecot_http, body));
        let ours_answer = post(r.http, body);
        let o = ours_answer[0][1].as_array().unwrap().clone();
        assert_eq!(rows(o, pid_key), rows(d, pid_key), "{body}");
    }
    // service status: the same fields.
    let body = r#"[["serviceStatus",{"service":["pop3"]},"s"]]"#;
    let d = objects(&curl_post(dovecot_http, body));
    let o = post(r.http, body);
    assert_eq!(keys(&o[0][1][0]), keys(&d[0]), "{o}");

    // kick: the same answer and the same goodbyes.
    let body = r#"[["kick",{"mask":["bob"]},"k"]]"#;
    let d: Value = serde_json::from_str(&curl_post(dovecot_http, body)).unwrap();
    assert_eq!(post(r.http, body), d);
    assert_eq!(ours.ask("READ 0 1"), theirs.ask("READ 0 1"));
    assert_eq!(ours.ask("NOOP 2"), theirs.ask("NOOP 2"));

    // 401: the same status line and WWW-Authenticate headers.
    let wrong = format!("Authorization: X-Dovecot-API {}", b64("wrong"));
    let auth_headers = |port: u16| {
        let (status, headers, _) = curl(port, "/doveadm/v1", &["-H", &wrong]);
        let mut h: Vec<String> = headers
            .lines()
            .filter(|l| l.to_ascii_lowercase().starts_with("www-authenticate:"))
            .map(|l| l.to_ascii_lowercase())
            .collect();
        h.sort();
        (status, h)
    };
    assert_eq!(auth_headers(r.http), auth_headers(dovecot_http));

    // The CLI's formatters print doveadm's headers for service status.
    let conf = dir.join("dovecot.conf");
    let d = run(Command::new("doveadm").args([
        "-c",
        conf.to_str().unwrap(),
        "-f",
        "tab",
        "service",
        "status",
        "pop3",
    ]));
    let o =
        r.s.cli(&["doveadm", "-f", "tab", "service", "status", "pop3"])
            .stdout_ok("service status");
    assert_eq!(
        o.lines().next(),
        d.stdout.lines().next(),
        "roost:\n{o}\ndoveadm:\n{}",
        d.all()
    );
}

fn curl_post(port: u16, body: &str) -> String {
    let auth = format!("Authorization: X-Dovecot-API {}", b64(KEY));
    let (status, _, answer) = curl(port, "/doveadm/v1", &["-H", &auth, "-d", body]);
    assert_eq!(status, "HTTP/1.1 200 OK", "{answer}");
    answer
}

#[test]
fn the_cli_runs_table_commands_with_doveadms_formatters() {
    let r = start("doveadm-cli", "");
    let _h = holder(r.imap, r.pop3, &["imap:bob", "pop3:alice"]);
    let vp = vprocs(&r.s, "imap");
    // -f before the command words, options as doveadm spells them.
    let out =
        r.s.cli(&["doveadm", "-f", "tab", "who", "-1", "bob"])
            .stdout_ok("doveadm who");
    assert_eq!(
        out,
        format!(
            "username\tproto\tpid\tip\nbob\timap\t{}\t127.0.0.1\n",
            vp[0]
        )
    );
    let out =
        r.s.cli(&[
            "doveadm",
            "-f",
            "flow",
            "who",
            "--separate-connections",
            "alice",
        ])
        .stdout_ok("flow");
    assert!(out.starts_with("username=alice proto=pop3 pid="), "{out}");
    assert!(out.ends_with(" ip=127.0.0.1\n"), "{out}");
    let out = r.s.cli(&["doveadm", "-f", "json", "who"]).stdout_ok("json");
    let v: Value = serde_json::from_str(&out).unwrap();
    assert_eq!(v.as_array().unwrap().len(), 2, "{out}");
    // Top-level mirrors: the same path without `doveadm`.
    let out =
        r.s.cli(&["service", "status", "-f", "tab", "imap", "pop3"])
            .stdout_ok("service status");
    let lines: Vec<&str> = out.lines().collect();
    assert_eq!(lines[0].split('\t').next(), Some("name"), "{out}");
    assert_eq!(lines.len(), 3, "{out}");
    assert!(
        lines[1].starts_with("imap\t") && lines[2].starts_with("pop3\t"),
        "{out}"
    );
    let out =
        r.s.cli(&["process", "status", "imap"])
            .stdout_ok("process status");
    assert!(out.starts_with("name "), "{out}");
    assert!(out.lines().nth(1).unwrap().starts_with("imap "), "{out}");
    let out =
        r.s.cli(&[
            "doveadm",
            "-f",
            "flow",
            "stats",
            "dump",
            "--fields",
            "metric_name count",
        ])
        .stdout_ok("stats dump");
    assert!(
        out.contains("metric_name=roost_imap_commands_total{command=\"LOGIN\"}")
            || out.contains("metric_name=roost_login_total"),
        "{out}"
    );
    // Errors: doveadm's exit codes, the reason on stderr.
    let e = r.s.cli(&["doveadm", "nosuch"]);
    assert_eq!(e.code, Some(64), "{}", e.all());
    let e = r.s.cli(&["doveadm", "kick"]);
    assert_eq!(e.code, Some(64), "{}", e.all());
    assert!(
        e.stderr
            .contains("user and/or ip[/bits] must be specified."),
        "{}",
        e.all()
    );
    let e = r.s.cli(&["doveadm", "kick", "nobody"]);
    assert_eq!((e.code, e.stdout.as_str()), (Some(68), "no users kicked\n"));
    // reload over the socket, stop over HTTP: the master does both.
    let out = r.s.cli(&["doveadm", "reload"]).stdout_ok("doveadm reload");
    assert_eq!(out, "");
    assert!(r
        .s
        .wait_log("reloading configuration", Duration::from_secs(10)));
    assert_eq!(
        post(r.http, r#"[["stop",{},"s"]]"#),
        json!([["doveadmResponse", [], "s"]])
    );
    let mut s = r.s;
    assert_eq!(s.wait_exit(Duration::from_secs(15)), Some(0));
}

/// `roost who` as `nobody`, the doveadm-server socket's configured user: allowed; as `daemon`
/// (neither owner nor root): refused by the socket's mode.
#[test]
fn the_cli_works_as_the_sockets_admin_user_and_not_as_others() {
    use std::os::unix::fs::PermissionsExt;
    let r = start(
        "doveadm-admin-user",
        "\n[service.doveadm.unix_listener.doveadm-server]\nuser = \"nobody\"\nmode = \"0600\"\n",
    );
    let _h = holder(r.imap, r.pop3, &["pop3:bob"]);
    std::fs::set_permissions(r.s.dir.path(), std::fs::Permissions::from_mode(0o755)).unwrap();
    std::fs::set_permissions(&r.s.config, std::fs::Permissions::from_mode(0o644)).unwrap();
    let as_user = |user: &str| {
        run(Command::new("setpriv")
            .args([
                &format!("--reuid={user}"),
                "--regid=nogroup",
                "--clear-groups",
                BIN,
                "who",
                "-f",
                "tab",
                "-c",
            ])
            .arg(&r.s.config))
    };
    let out = as_user("nobody").stdout_ok("roost who as nobody");
    assert!(
        out.lines().nth(1).unwrap().starts_with("bob\t1\tpop3\t"),
        "{out}"
    );
    let denied = as_user("daemon");
    assert!(!denied.ok, "{}", denied.all());
    assert!(
        denied.stderr.contains("Permission denied"),
        "{}",
        denied.all()
    );
}
