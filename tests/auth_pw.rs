//! `roost pw` against Dovecot's `doveadm pw`: every roost-made hash verifies with
//! `doveadm pw -t`, every doveadm-made hash verifies with `roost pw -t`, and a wrong password is
//! rejected by both. Fails if doveadm is not installed.

mod common;

use common::*;

/// The shared schemes and the SCRAM ones (made by `pw`, not used for logins).
fn schemes() -> Vec<&'static str> {
    schemes_and(&["SCRAM-SHA-1", "SCRAM-SHA-256"])
}

fn run(cmd: &str, args: &[&str]) -> (bool, String) {
    let r = run_tool(cmd, args);
    (r.ok, r.all())
}

#[test]
fn roost_hashes_verify_in_doveadm_and_back() {
    for s in schemes() {
        let (ok, ours) = run(BIN, &["pw", "-s", s, "-p", "pass word"]);
        assert!(ok, "roost pw -s {s}: {ours}");
        let ours = ours.trim();
        let prefix = format!("{{{}}}", s.to_ascii_uppercase());
        assert!(ours.starts_with(&prefix), "{ours}");
        let (ok, out) = run("doveadm", &["pw", "-t", ours, "-p", "pass word"]);
        assert!(
            ok && out.contains("(verified)"),
            "doveadm rejects roost's {s}: {ours}: {out}"
        );
        let (ok, _) = run("doveadm", &["pw", "-t", ours, "-p", "wrong pw"]);
        assert!(!ok, "doveadm accepts a wrong password for {s}");

        let (ok, theirs) = run("doveadm", &["pw", "-s", s, "-p", "pass word"]);
        assert!(ok, "{theirs}");
        let theirs = theirs.trim();
        let (ok, out) = run(BIN, &["pw", "-t", theirs, "-p", "pass word"]);
        assert!(ok, "roost rejects doveadm's {s}: {theirs}: {out}");
        assert_eq!(out.trim(), format!("{theirs} (verified)"));
        let (ok, out) = run(BIN, &["pw", "-t", theirs, "-p", "wrong pw"]);
        assert!(!ok, "roost accepts a wrong password for {s}: {out}");
        assert!(out.contains("Password mismatch"), "{out}");
    }
}

#[test]
fn rounds_and_unknown_scheme() {
    let (ok, h) = run(BIN, &["pw", "-s", "SHA512-CRYPT", "-r", "6000", "-p", "x"]);
    assert!(ok, "{h}");
    assert!(h.starts_with("{SHA512-CRYPT}$6$rounds=6000$"), "{h}");
    let (ok, out) = run("doveadm", &["pw", "-t", h.trim(), "-p", "x"]);
    assert!(ok, "{out}");
    let (ok, out) = run(BIN, &["pw", "-s", "NOPE", "-p", "x"]);
    assert!(!ok);
    assert!(out.contains("Unknown scheme: NOPE"), "{out}");
}
