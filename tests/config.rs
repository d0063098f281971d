//! `roost config` through the real binary: the full and the `-n` output load again to the same
//! configuration, `-n` prints only what differs from the defaults (inside `[[passdb]]` and
//! `[[userdb]]` blocks too), `-a` prints everything in doveconf's layout, secrets are hidden
//! unless `-P`, environment overrides, start-up errors naming file and line, and the `config`
//! service's socket (root only) answering Dovecot's config protocol.

mod common;

use std::io::{BufRead, BufReader, Write};
use std::os::unix::fs::MetadataExt;
use std::os::unix::net::UnixStream;
use std::path::Path;
use std::process::Command;
use std::time::Duration;

use common::*;

/// `roost config` output without its header comment (which names the source file).
fn strip(s: &str) -> String {
    s.lines()
        .filter(|l| !l.starts_with("# roost configuration"))
        .collect::<Vec<_>>()
        .join("\n")
}

/// Whether `text` sets `key` on a line of its own.
fn sets(text: &str, key: &str) -> bool {
    let key = format!("{key} =");
    text.lines().any(|l| l.starts_with(&key))
}

#[test]
fn config_output_loads_again_and_changed_only_is_minimal() {
    let dir = TempDir::new("cfg");
    let cfg = dir.write(
        "a.toml",
        "base_dir = \"/tmp/x\"\n[service.imap-login]\nprocess_min_avail = 2\nservice_count = 0\n",
    );
    let run = roost_ok;
    let n = run(&["config", "-n", "-c", cfg.to_str().unwrap()]);
    assert!(n.contains("process_min_avail = 2"), "{n}");
    assert!(
        !n.contains("process_limit"),
        "only changes are printed: {n}"
    );
    let full = run(&["config", "-c", cfg.to_str().unwrap()]);
    assert!(full.contains("# service dict: not implemented"), "{full}");
    // Both outputs load again to the same full configuration.
    let p1 = dir.write("n.toml", &n);
    let p2 = dir.write("full.toml", &full);
    let again1 = run(&["config", "-c", p1.to_str().unwrap()]);
    let again2 = run(&["config", "-c", p2.to_str().unwrap()]);
    assert_eq!(strip(&again1), strip(&full));
    assert_eq!(strip(&again2), strip(&full));
}

#[test]
fn changed_only_prints_only_changed_passdb_and_userdb_fields_and_loads_back() {
    let dir = TempDir::new("cfg-db");
    let cfg = dir.write(
        "a.toml",
        "base_dir = \"/tmp/x\"\nauth_mechanisms = \"plain login\"\n\n\
[[passdb]]\ndriver = \"passwd-file\"\nargs = \"/etc/roost/users\"\nresult_failure = \"return-fail\"\n\n\
[[passdb]]\ndriver = \"static\"\nargs = \"password=x\"\ndeny = \"yes\"\n\n\
[[userdb]]\ndriver = \"passwd\"\ndefault_fields = \"home=/var/mail/%u\"\n",
    );
    let cfg = cfg.to_str().unwrap();
    // -P: the static passdb's password=x is shown (hidden otherwise, see below).
    let full = roost_ok(&["config", "-P", "-c", cfg]);
    let n = roost_ok(&["config", "-n", "-P", "-c", cfg]);
    assert_eq!(n.matches("[[passdb]]").count(), 2, "{n}");
    assert_eq!(n.matches("[[userdb]]").count(), 1, "{n}");
    for changed in [
        "driver = \"passwd-file\"",
        "args = \"/etc/roost/users\"",
        "result_failure = \"return-fail\"",
        "driver = \"static\"",
        "args = \"password=x\"",
        "deny = true",
        "driver = \"passwd\"",
        "default_fields = \"home=/var/mail/%u\"",
    ] {
        assert!(n.contains(changed), "{changed} missing:\n{n}");
    }
    // The defaults of every block are in the full output and not in `-n`.
    for default in [
        "skip",
        "result_success",
        "result_internalfail",
        "override_fields",
        "master",
        "pass",
    ] {
        assert!(
            sets(&full, default),
            "{default} missing from the full output"
        );
        assert!(!sets(&n, default), "{default} is a default:\n{n}");
    }
    // Fed back with -c, the -n output is the same configuration.
    let back = dir.write("n.toml", &n);
    let again = roost_ok(&["config", "-P", "-c", back.to_str().unwrap()]);
    assert_eq!(strip(&again), strip(&full));
}

#[test]
fn environment_overrides_the_file_and_errors_name_the_variable() {
    let out = run(Command::new(BIN)
        .args(["config", "-n"])
        .env_remove("ROOST_CONFIG")
        .env("ROOST_SERVICE__IMAP_LOGIN__PROCESS_MIN_AVAIL", "4")
        .env("ROOST_DEFAULT_CLIENT_LIMIT", "77"));
    let text = &out.stdout;
    assert!(out.ok);
    assert!(text.contains("default_client_limit = 77"), "{text}");
    assert!(
        text.contains("[service.imap-login]") && text.contains("process_min_avail = 4"),
        "{text}"
    );
    let out = run(Command::new(BIN)
        .args(["config"])
        .env_remove("ROOST_CONFIG")
        .env("ROOST_SERVICE__IMAP__IDLE_KILL", "30"));
    let err = &out.stderr;
    assert!(!out.ok);
    assert!(
        err.contains("environment variable ROOST_SERVICE__IMAP__IDLE_KILL"),
        "{err}"
    );
    assert!(err.contains("missing units"), "{err}");
}

#[test]
fn startup_errors_name_setting_file_and_line() {
    let dir = TempDir::new("bad");
    let cfg = dir.write(
        "bad.toml",
        "base_dir = \"/tmp/x\"\n\n[service.lmtp]\nvsz_limit = \"12 Q\"\n",
    );
    let out = roost(&["serve", "-c", cfg.to_str().unwrap()]);
    let err = &out.stderr;
    assert!(!out.ok);
    assert!(err.contains(&format!("{} line 4", cfg.display())), "{err}");
    assert!(err.contains("service.lmtp.vsz_limit"), "{err}");
    // A protocol whose services roost does not implement yet.
    // (base_dir in the test's own directory: if it ever started, nothing else would collide.)
    std::fs::write(
        &cfg,
        format!(
            "base_dir = \"{}\"\nprotocols = [\"submission\"]\n",
            dir.0.join("run").display()
        ),
    )
    .unwrap();
    let out = roost(&["serve", "-c", cfg.to_str().unwrap()]);
    let err = &out.stderr;
    assert!(!out.ok);
    assert!(
        err.contains("line 2") && err.contains("not implemented"),
        "{err}"
    );
}

#[test]
fn all_settings_in_doveconf_layout_with_secrets_hidden_unless_dash_p() {
    let dir = TempDir::new("cfg-all");
    let cfg = dir.write(
        "a.toml",
        "base_dir = \"/tmp/x\"\nssl_key = \"</etc/roost/key.pem\"\n\n\
[[passdb]]\ndriver = \"static\"\nargs = \"uid=vmail password=sekrit1\"\n",
    );
    let cfg = cfg.to_str().unwrap();
    let all = roost_ok(&["config", "-a", "-c", cfg]);
    // Every top-level setting of the TOML output is a `name = value` line of -a.
    let toml_text = roost_ok(&["config", "-P", "-c", cfg]);
    let value: toml::Table = toml::from_str(&toml_text).unwrap();
    for (key, v) in &value {
        let block = v.is_table() || v.as_array().is_some_and(|a| a.iter().all(|i| i.is_table()));
        if !block {
            assert!(
                all.lines().any(|l| l.starts_with(&format!("{key} = "))),
                "{key} missing from -a:\n{all}"
            );
        }
    }
    // doveconf's layout: yes/no, Dovecot units, blocks with two-space indents, name order.
    for line in [
        "default_vsz_limit = 256 M",
        "shutdown_clients = yes",
        "service imap-login {",
        "  inet_listener imaps {",
        "    ssl = yes",
        "passdb {",
        "  driver = static",
        "  args = uid=vmail password=#hidden_use-P_to_show#",
        "ssl_key = # hidden, use -P to show it",
        "log_path = /dev/stderr",
        "syslog_facility = mail",
    ] {
        assert!(all.lines().any(|l| l == line), "{line:?} missing:\n{all}");
    }
    let names: Vec<&str> = all
        .lines()
        .filter(|l| !l.starts_with([' ', '#', '}']))
        .map(|l| l.split([' ', '=']).next().unwrap())
        .collect();
    let mut sorted = names.clone();
    sorted.sort();
    assert_eq!(names, sorted);
    // Hidden in -a, in -n and in the TOML output; shown with -P.
    for out in [
        all.clone(),
        roost_ok(&["config", "-n", "-c", cfg]),
        roost_ok(&["config", "-c", cfg]),
    ] {
        assert!(
            !out.contains("sekrit1") && !out.contains("key.pem"),
            "{out}"
        );
    }
    let n = roost_ok(&["config", "-n", "-c", cfg]);
    assert!(
        n.lines()
            .any(|l| l == "# ssl_key = # hidden, use -P to show it"),
        "{n}"
    );
    let shown = roost_ok(&["config", "-a", "-P", "-c", cfg]);
    assert!(shown.contains("ssl_key = </etc/roost/key.pem\n"), "{shown}");
    assert!(shown.contains("password=sekrit1"), "{shown}");
}

/// Runs in a re-executed copy of this test binary under another uid/gid
/// ([`common::connect_as`]).
#[test]
fn connect_child() {
    common::connect_child()
}

/// One config request: the `key=value` lines of the reply.
fn config_request(path: &Path, req: &str) -> Vec<String> {
    let mut s = UnixStream::connect(path).unwrap();
    s.set_read_timeout(Some(Duration::from_secs(10))).unwrap();
    s.write_all(format!("VERSION\tconfig\t2\t0\n{req}\n").as_bytes())
        .unwrap();
    let mut r = BufReader::new(s);
    let mut flags = String::new();
    r.read_line(&mut flags).unwrap();
    let mut lines = Vec::new();
    loop {
        let mut l = String::new();
        assert!(r.read_line(&mut l).unwrap() > 0, "reply ended early");
        if l == "\n" {
            return lines;
        }
        lines.push(l.trim_end_matches('\n').to_string());
    }
}

#[test]
fn config_socket_answers_root_only_with_the_running_settings() {
    assert!(nix::unistd::geteuid().is_root(), "this test needs root");
    let nobody = nix::unistd::User::from_name("nobody").unwrap().unwrap();
    // The server drops to nobody; the socket stays root's 0600, as Dovecot's config socket.
    let server = Launch::new("cfg-socket")
        .config(
            "default_internal_user = \"nobody\"\ndefault_login_user = \"nobody\"\n\
[[passdb]]\ndriver = \"static\"\nargs = \"password=sekrit2\"\n",
        )
        .start();
    let path = server.base_dir.join("config");
    let m = std::fs::metadata(&path).unwrap();
    assert_eq!((m.uid(), m.gid(), m.mode() & 0o777), (0, 0, 0o600));
    assert_eq!(
        connect_as(nobody.uid.as_raw(), nobody.gid.as_raw(), &path),
        "err:PermissionDenied",
        "nobody cannot reach the config socket"
    );
    let lines = config_request(&path, "REQ\tservice=imap\texclude=service");
    let base = format!("base_dir={}", server.base_dir.display());
    assert!(lines.contains(&base), "{lines:#?}");
    // Root gets the real values (helpers need them), secrets included.
    assert!(
        lines.contains(&"passdb/0/args=password=sekrit2".to_string()),
        "{lines:#?}"
    );
    assert!(lines.contains(&"default_internal_user=nobody".to_string()));
    assert!(!lines.iter().any(|l| l.starts_with("service/")), "excluded");
    let all = config_request(&path, "REQ");
    assert!(
        all.contains(&"service/imap-login/inet_listener/imaps/ssl=yes".to_string()),
        "{all:#?}"
    );
    // A client of another protocol version is disconnected.
    let mut s = UnixStream::connect(&path).unwrap();
    s.set_read_timeout(Some(Duration::from_secs(10))).unwrap();
    s.write_all(b"VERSION\tconfig\t3\t0\nREQ\n").unwrap();
    let mut buf = String::new();
    assert_eq!(BufReader::new(s).read_line(&mut buf).unwrap_or(0), 0);
    assert!(server.wait_log("Config client not compatible", Duration::from_secs(10)));
}
