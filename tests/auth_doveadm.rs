//! The auth service driven by Dovecot's own clients over roost's real unix sockets:
//! `doveadm auth test` against auth-client for a user of every password scheme (hashes made by
//! `doveadm pw` at test time), the 2 s failure delay, and `doveadm auth lookup` /
//! `doveadm user` against auth-userdb. The tests fail if doveadm is not installed.

mod common;

use std::time::{Duration, Instant};

use common::*;

/// The shared schemes and a hex-encoded SHA512.
fn schemes() -> Vec<&'static str> {
    schemes_and(&["SHA512.HEX"])
}

fn user_name(scheme: &str) -> String {
    format!("u-{}", scheme.to_ascii_lowercase().replace('.', "-"))
}

/// Starts roost with a passwd-file passdb and userdb holding `users`.
fn start(tag: &str, users: &str) -> Server {
    let launch = Launch::new(tag);
    let keep = launch.dir().write("users", users);
    let extra = format!(
        "auth_mechanisms = \"plain login\"\nauth_cache_size = \"1 M\"\n\n[[passdb]]\ndriver = \"passwd-file\"\nargs = \"{p}\"\n\n[[userdb]]\ndriver = \"passwd-file\"\nargs = \"{p}\"\n",
        p = keep.display()
    );
    launch.config(&extra).start()
}

#[test]
fn doveadm_auth_test_every_scheme() {
    let mut users = String::new();
    for (i, s) in schemes().iter().enumerate() {
        let (rc, hash) = doveadm(&["pw", "-s", s, "-p", "pass word"]);
        assert_eq!(rc, 0, "doveadm pw -s {s}: {hash}");
        users.push_str(&format!(
            "{}:{}:{}:{}::/home/x\n",
            user_name(s),
            hash.trim(),
            2000 + i,
            2000 + i
        ));
    }
    let server = start("auth-schemes", &users);
    let sock = server.base_dir.join("auth-client");
    let sock = sock.to_str().unwrap();
    for s in schemes() {
        let u = user_name(s);
        let (rc, out) = doveadm(&["auth", "test", "-a", sock, &u, "pass word"]);
        assert_eq!(rc, 0, "{s}: {out}\nlog:\n{}", server.log_text());
        assert!(
            out.contains(&format!("passdb: {u} auth succeeded")),
            "{s}: {out}"
        );
    }
    let t = Instant::now();
    let (rc, out) = doveadm(&[
        "auth",
        "test",
        "-a",
        sock,
        &user_name("SHA512-CRYPT"),
        "wrong",
    ]);
    assert_ne!(rc, 0, "{out}");
    assert!(out.contains("auth failed"), "{out}");
    assert!(
        t.elapsed() >= Duration::from_millis(1900),
        "failure delayed by auth_failure_delay: {:?}",
        t.elapsed()
    );
    let (rc, out) = doveadm(&["auth", "test", "-a", sock, "nobody", "x"]);
    assert_ne!(rc, 0, "{out}");
    // Served again from the auth cache (auth_cache_size = 1 M).
    let (rc, out) = doveadm(&[
        "auth",
        "test",
        "-a",
        sock,
        &user_name("ARGON2ID"),
        "pass word",
    ]);
    assert_eq!(rc, 0, "{out}");
    let m = server.metric(
        "roost_auth_requests_total",
        "mechanism=\"PLAIN\",result=\"ok\"",
    );
    assert_eq!(m, Some(schemes().len() as f64 + 1.0), "{}", server.scrape());
    let scrape = server.scrape();
    for help in [
        "# HELP roost_auth_requests_total",
        "# HELP roost_auth_cache_hits_total",
        "# HELP roost_auth_request_duration_seconds",
    ] {
        assert!(scrape.contains(help), "{help} missing:\n{scrape}");
    }
    let hits = server
        .metric("roost_auth_cache_hits_total", "")
        .unwrap_or(0.0);
    let misses = server
        .metric("roost_auth_cache_misses_total", "")
        .unwrap_or(0.0);
    assert!(hits >= 2.0, "hits {hits}\n{scrape}");
    assert!(
        misses >= schemes().len() as f64,
        "misses {misses}\n{scrape}"
    );
    // doveadm auth cache flush over auth-master.
    let master = server.base_dir.join("auth-master");
    let master = master.to_str().unwrap();
    let (rc, out) = doveadm(&[
        "auth",
        "cache",
        "flush",
        "-a",
        master,
        &user_name("ARGON2ID"),
    ]);
    assert_eq!(rc, 0, "{out}");
    assert!(out.contains("1 cache entries flushed"), "{out}");
    let (rc, out) = doveadm(&[
        "auth",
        "cache",
        "flush",
        "-a",
        master,
        &user_name("ARGON2ID"),
    ]);
    assert!(rc == 0 && out.contains("0 cache entries flushed"), "{out}");
    assert_eq!(
        server.metric(
            "roost_auth_requests_total",
            "mechanism=\"PLAIN\",result=\"fail\""
        ),
        Some(2.0)
    );
}

#[test]
fn doveadm_lookup_and_user_over_auth_userdb() {
    let server = start(
        "auth-userdb",
        "alice:{PLAIN}apw:1000:1001::/home/alice::userdb_mail=maildir:~/Maildir userdb_quota_rule=*:storage=1G\nbob:{PLAIN}b:1002:1002::/home/bob\nnob:{PLAIN}x:65534:65534::/nonexistent\n",
    );
    let sock = server.base_dir.join("auth-userdb");
    let sock = sock.to_str().unwrap();
    let (rc, out) = doveadm(&["user", "-a", sock, "alice"]);
    assert_eq!(rc, 0, "{out}");
    for line in [
        "uid\t1000",
        "gid\t1001",
        "home\t/home/alice",
        "mail\tmaildir:~/Maildir",
        "quota_rule\t*:storage=1G",
    ] {
        assert!(out.contains(line), "missing {line:?} in\n{out}");
    }
    let (rc, out) = doveadm(&["user", "-a", sock, "nobody"]);
    assert_ne!(rc, 0, "{out}");
    assert!(out.contains("doesn't exist"), "{out}");
    let (rc, out) = doveadm(&["user", "-a", sock, "*"]);
    assert_eq!(rc, 0, "{out}");
    assert_eq!(out.lines().collect::<Vec<_>>(), ["alice", "bob", "nob"]);
    // On the 0666 userdb socket an unprivileged peer only sees users with its own uid.
    let as_nobody = |user: &str| {
        let out = run_tool(
            "setpriv",
            &[
                "--reuid=nobody",
                "--regid=nogroup",
                "--clear-groups",
                "doveadm",
                "user",
                "-a",
                sock,
                user,
            ],
        );
        (out.ok, out.stdout)
    };
    let (ok, out) = as_nobody("alice");
    assert!(!ok && !out.contains("/home/alice"), "{out}");
    let (ok, out) = as_nobody("nob");
    assert!(ok && out.contains("uid\t65534"), "{out}");
    let (rc, out) = doveadm(&["auth", "lookup", "-a", sock, "alice"]);
    assert_eq!(rc, 0, "{out}");
    assert!(out.contains("passdb: alice"), "{out}");
    assert!(out.contains("userdb_home: /home/alice"), "{out}");
    assert!(
        !out.contains("apw"),
        "no password on the userdb socket: {out}"
    );
    // The master socket returns the stored password, as Dovecot's does.
    let master = server.base_dir.join("auth-master");
    let (rc, out) = doveadm(&["auth", "lookup", "-a", master.to_str().unwrap(), "alice"]);
    assert_eq!(rc, 0, "{out}");
    assert!(out.contains("{PLAIN}apw"), "{out}");
}
