//! `roost config` through the real binary: the full and the `-n` output load again to the same
//! configuration, `-n` prints only what differs from the defaults (inside `[[passdb]]` and
//! `[[userdb]]` blocks too), environment overrides, and start-up errors naming file and line.

mod common;

use std::process::Command;

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
    let full = roost_ok(&["config", "-c", cfg]);
    let n = roost_ok(&["config", "-n", "-c", cfg]);
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
    let again = roost_ok(&["config", "-c", back.to_str().unwrap()]);
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
