//! `roost pw` against Dovecot's `doveadm pw`: every roost-made hash verifies with
//! `doveadm pw -t`, every doveadm-made hash verifies with `roost pw -t`, and a wrong password is
//! rejected by both. Fails if doveadm is not installed.

use std::process::Command;

const BIN: &str = env!("CARGO_BIN_EXE_roost");

const SCHEMES: &[&str] = &[
    "PLAIN",
    "CLEARTEXT",
    "CRYPT",
    "DES-CRYPT",
    "MD5-CRYPT",
    "SHA256-CRYPT",
    "SHA512-CRYPT",
    "BLF-CRYPT",
    "ARGON2I",
    "ARGON2ID",
    "SHA",
    "SSHA",
    "SHA256",
    "SSHA256",
    "SHA512",
    "SSHA512",
    "PBKDF2",
    "CRAM-MD5",
    "SCRAM-SHA-1",
    "SCRAM-SHA-256",
    "SHA256.HEX",
    "SSHA.B64",
];

fn run(cmd: &str, args: &[&str]) -> (bool, String) {
    let out = Command::new(cmd)
        .args(args)
        .output()
        .unwrap_or_else(|e| panic!("{cmd} must be installed: {e}"));
    let mut s = String::from_utf8_lossy(&out.stdout).into_owned();
    s.push_str(&String::from_utf8_lossy(&out.stderr));
    (out.status.success(), s)
}

#[test]
fn roost_hashes_verify_in_doveadm_and_back() {
    for s in SCHEMES {
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
