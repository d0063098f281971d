//! Session-loop tests over a real `UnixStream` pair: the greeting bytes, PLAIN/LOGIN/CRAM-MD5/
//! SCRAM exchanges, the failure delay, protocol violations closing the connection, and the
//! master protocol's USER/PASS/LIST/CACHE-FLUSH.

use std::time::{Duration, Instant};

use base64::Engine as _;
use tokio::io::{AsyncBufReadExt, AsyncWriteExt, BufReader};
use tokio::net::UnixStream;

use super::*;
use crate::net::Stream;
use crate::service::auth::engine::tests::TempDir;
use crate::service::auth::settings::{AuthSettings, DbSettings};
use crate::settings::{Settings, Time};

const B64: base64::engine::GeneralPurpose = base64::engine::general_purpose::STANDARD;

struct Client {
    rd: BufReader<tokio::net::unix::OwnedReadHalf>,
    wr: tokio::net::unix::OwnedWriteHalf,
}

impl Client {
    async fn line(&mut self) -> Option<String> {
        let mut s = String::new();
        match tokio::time::timeout(Duration::from_secs(10), self.rd.read_line(&mut s)).await {
            Ok(Ok(0)) | Err(_) | Ok(Err(_)) => None,
            Ok(Ok(_)) => Some(s.trim_end_matches('\n').to_string()),
        }
    }
    async fn send(&mut self, s: &str) {
        self.wr
            .write_all(format!("{s}\n").as_bytes())
            .await
            .unwrap();
    }
    async fn until(&mut self, prefix: &str) -> Vec<String> {
        let mut v = Vec::new();
        while let Some(l) = self.line().await {
            let done = l.starts_with(prefix);
            v.push(l);
            if done {
                break;
            }
        }
        v
    }
}

fn setup(mechs: &[&str], delay: Time) -> (TempDir, Arc<AuthCore>) {
    let d = TempDir::new("session");
    let f = d.0.join("users");
    let cram = crate::service::auth::schemes::generate("CRAM-MD5", b"cpw", "", None).unwrap();
    std::fs::write(
        &f,
        format!("alice:{{PLAIN}}apw:1000:1000::/home/alice::userdb_mail=maildir:~/M\ncarl:{cram}:1001:1001::/home/carl\ngone:{{PLAIN}}gpw:1002:1002::/home/gone::nologin reason=Moved\n"),
    )
    .unwrap();
    let args = format!("scheme=PLAIN {}", f.display());
    let db = |driver: &str| DbSettings {
        driver: driver.into(),
        args: args.clone(),
        ..DbSettings::default()
    };
    let cfg = AuthSettings {
        auth_mechanisms: mechs.iter().map(|s| s.to_string()).collect(),
        auth_failure_delay: delay,
        passdb: vec![db("passwd-file")],
        userdb: vec![db("passwd-file")],
        ..AuthSettings::default()
    };
    (d, Arc::new(AuthCore::new(&cfg).unwrap()))
}

fn start(core: Arc<AuthCore>, listener: &str) -> Client {
    let (a, b) = UnixStream::pair().unwrap();
    let conn = Conn::new(Stream::new(Transport::Unix(a)), "auth", listener);
    let session = Session::detached("auth", Arc::new(Settings::default()));
    tokio::spawn(serve(core, conn, session));
    let (rd, wr) = b.into_split();
    Client {
        rd: BufReader::new(rd),
        wr,
    }
}

#[tokio::test]
async fn greeting_and_plain_success_and_delayed_failure() {
    let (_d, core) = setup(&["plain", "login", "cram-md5"], Time::from_millis(300));
    let pid = std::process::id();
    let mut c = start(core, "auth-client");
    let g = c.until("DONE").await;
    assert_eq!(g[0], "VERSION\t1\t2");
    assert_eq!(g[1], "MECH\tPLAIN\tplaintext");
    assert_eq!(g[2], "MECH\tLOGIN\tplaintext");
    assert_eq!(g[3], "MECH\tCRAM-MD5\tdictionary\tactive");
    assert_eq!(g[4], format!("SPID\t{pid}"));
    assert!(g[5].starts_with("CUID\t"));
    assert!(
        g[6].starts_with("COOKIE\t") && g[6].len() == 7 + 32,
        "{}",
        g[6]
    );
    assert_eq!(g[7], "DONE");
    c.send("VERSION\t1\t2").await;
    c.send("CPID\t4242").await;
    c.send(&format!(
        "AUTH\t1\tPLAIN\tservice=smtp\tresp={}",
        B64.encode(b"\0alice\0apw")
    ))
    .await;
    assert_eq!(c.line().await.unwrap(), "OK\t1\tuser=alice");
    let t = Instant::now();
    c.send(&format!(
        "AUTH\t2\tPLAIN\tservice=smtp\tresp={}",
        B64.encode(b"\0alice\0bad")
    ))
    .await;
    assert_eq!(c.line().await.unwrap(), "FAIL\t2\tuser=alice");
    assert!(
        t.elapsed() >= Duration::from_millis(300),
        "failure is delayed"
    );
    // PLAIN without initial response: empty challenge, then CONT.
    c.send("AUTH\t3\tPLAIN\tservice=imap").await;
    assert_eq!(c.line().await.unwrap(), "CONT\t3\t");
    c.send(&format!("CONT\t3\t{}", B64.encode(b"\0alice\0apw")))
        .await;
    assert_eq!(c.line().await.unwrap(), "OK\t3\tuser=alice");
    // CONT for an unknown id.
    c.send("CONT\t99\tAAAA").await;
    assert_eq!(
        c.line().await.unwrap(),
        "FAIL\t99\treason=Authentication request timed out"
    );
    // nologin: OK with the nologin flag and the passdb's reason, at once (Dovecot 2.3 answers
    // `OK\t1\tuser=gone\tnologin\treason=Moved`; the login service refuses the login).
    c.send(&format!(
        "AUTH\t5\tPLAIN\tservice=smtp\tresp={}",
        B64.encode(b"\0gone\0gpw")
    ))
    .await;
    assert_eq!(
        c.line().await.unwrap(),
        "OK\t5\tuser=gone\tnologin\treason=Moved"
    );
    // Invalid base64.
    c.send("AUTH\t4\tPLAIN\tservice=imap\tresp=!!!").await;
    assert_eq!(c.line().await.unwrap(), "FAIL\t4\tcode=invalid_base64");
}

#[tokio::test]
async fn login_and_cram_md5_exchanges() {
    let (_d, core) = setup(&["plain", "login", "cram-md5"], Time::ZERO);
    let mut c = start(core, "auth-client");
    c.until("DONE").await;
    c.send("VERSION\t1\t2").await;
    c.send("AUTH\t1\tLOGIN\tservice=smtp").await;
    assert_eq!(c.line().await.unwrap(), "CONT\t1\tVXNlcm5hbWU6");
    c.send(&format!("CONT\t1\t{}", B64.encode("alice"))).await;
    assert_eq!(c.line().await.unwrap(), "CONT\t1\tUGFzc3dvcmQ6");
    c.send(&format!("CONT\t1\t{}", B64.encode("apw"))).await;
    assert_eq!(c.line().await.unwrap(), "OK\t1\tuser=alice");

    // CRAM-MD5 against a stored {CRAM-MD5} credential.
    c.send("AUTH\t2\tCRAM-MD5\tservice=imap").await;
    let l = c.line().await.unwrap();
    let ch = B64.decode(l.strip_prefix("CONT\t2\t").unwrap()).unwrap();
    let digest = crate::service::auth::schemes::md5::hmac(b"cpw", &ch);
    let resp = format!(
        "carl {}",
        crate::service::auth::schemes::hex_encode(&digest)
    );
    c.send(&format!("CONT\t2\t{}", B64.encode(resp))).await;
    assert_eq!(c.line().await.unwrap(), "OK\t2\tuser=carl");
}

#[tokio::test]
async fn scram_sha_256_with_and_without_final_resp_ok() {
    let (_d, core) = setup(&["scram-sha-256"], Time::ZERO);
    let mut c = start(core, "auth-client");
    let g = c.until("DONE").await;
    assert!(g.contains(&"MECH\tSCRAM-SHA-256\tmutual-auth".to_string()));
    c.send("VERSION\t1\t2").await;
    for (id, extra) in [(1, ""), (2, "\tfinal-resp-ok")] {
        let bare = "n=alice,r=abcdefghijkl";
        c.send(&format!(
            "AUTH\t{id}\tSCRAM-SHA-256\tservice=imap{extra}\tresp={}",
            B64.encode(format!("n,,{bare}"))
        ))
        .await;
        let l = c.line().await.unwrap();
        let sf = String::from_utf8(B64.decode(l.rsplit('\t').next().unwrap()).unwrap()).unwrap();
        let (fin, v) = crate::service::auth::mech::scram::client_final(
            crate::service::auth::schemes::Alg::Sha256,
            b"apw",
            bare,
            &sf,
            "n,,",
        )
        .unwrap();
        c.send(&format!("CONT\t{id}\t{}", B64.encode(fin))).await;
        let l = c.line().await.unwrap();
        if extra.is_empty() {
            assert_eq!(l, format!("CONT\t{id}\t{}", B64.encode(&v)));
            c.send(&format!("CONT\t{id}\t")).await;
            assert_eq!(c.line().await.unwrap(), format!("OK\t{id}\tuser=alice"));
        } else {
            assert_eq!(l, format!("OK\t{id}\tuser=alice\tresp={}", B64.encode(&v)));
        }
    }
}

#[tokio::test]
async fn protocol_violations_close_without_reply() {
    let (_d, core) = setup(&["plain"], Time::ZERO);
    for bad in [
        "AUTH\t1\tFOO\tservice=smtp",
        "AUTH\t1\tPLAIN",
        "AUTH\t1\tPLAIN\tservice=smtp\tresp=AA==\tx=y",
        "HELLO",
        "AUTH\t1\tLOGIN\tservice=smtp",
    ] {
        let mut c = start(core.clone(), "auth-client");
        c.until("DONE").await;
        c.send("VERSION\t1\t2").await;
        c.send(bad).await;
        assert_eq!(c.line().await, None, "{bad}: closed without reply");
    }
    // Duplicate id.
    let mut c = start(core.clone(), "auth-client");
    c.until("DONE").await;
    c.send("VERSION\t1\t2").await;
    c.send("AUTH\t1\tPLAIN\tservice=smtp").await;
    assert_eq!(c.line().await.unwrap(), "CONT\t1\t");
    c.send("AUTH\t1\tPLAIN\tservice=smtp").await;
    assert_eq!(c.line().await, None);
    // Major version mismatch; commands before VERSION.
    let mut c = start(core.clone(), "auth-client");
    c.until("DONE").await;
    c.send("VERSION\t2\t0").await;
    assert_eq!(c.line().await, None);
    let mut c = start(core, "auth-client");
    c.until("DONE").await;
    c.send("AUTH\t1\tPLAIN\tservice=smtp").await;
    assert_eq!(c.line().await, None);
}

#[tokio::test]
async fn master_and_userdb_sockets() {
    let (_d, core) = setup(&["plain"], Time::ZERO);
    let mut c = start(core.clone(), "auth-master");
    assert_eq!(c.line().await.unwrap(), "VERSION\t1\t1");
    assert_eq!(
        c.line().await.unwrap(),
        format!("SPID\t{}", std::process::id())
    );
    c.send("VERSION\t1\t0").await;
    c.send("USER\t1\talice\tservice=lmtp").await;
    assert_eq!(
        c.line().await.unwrap(),
        "USER\t1\talice\tuid=1000\tgid=1000\thome=/home/alice\tmail=maildir:~/M"
    );
    c.send("USER\t2\tghost\tservice=lmtp").await;
    assert_eq!(c.line().await.unwrap(), "NOTFOUND\t2");
    c.send("PASS\t3\talice\tservice=doveadm").await;
    assert_eq!(
        c.line().await.unwrap(),
        "PASS\t3\tuser=alice\tpassword={PLAIN}apw\tuserdb_uid=1000\tuserdb_gid=1000\tuserdb_home=/home/alice\tuserdb_mail=maildir:~/M"
    );
    c.send("LIST\t4\tuser=a*").await;
    assert_eq!(c.line().await.unwrap(), "LIST\t4\talice");
    assert_eq!(c.line().await.unwrap(), "DONE\t4");
    c.send("CACHE-FLUSH\t5").await;
    assert_eq!(c.line().await.unwrap(), "OK\t5\t0");
    c.send("CPID\t1").await;
    assert_eq!(c.line().await, None, "CPID closes a master connection");

    let mut u = start(core, "auth-userdb");
    u.until("SPID").await;
    u.send("VERSION\t1\t0").await;
    u.send("PASS\t1\talice").await;
    let l = u.line().await.unwrap();
    assert!(
        l.starts_with("PASS\t1\tuser=alice\tuserdb_uid=1000"),
        "no password on userdb socket: {l}"
    );
    u.send("CACHE-FLUSH\t2").await;
    assert_eq!(u.line().await, None);
}

#[test]
fn roles_and_wildcards() {
    assert_eq!(Role::from_listener("auth-client"), Role::Client);
    assert_eq!(Role::from_listener("login/login"), Role::Login);
    assert_eq!(Role::from_listener("auth-login"), Role::Login);
    assert_eq!(Role::from_listener("auth-master"), Role::Master);
    assert_eq!(Role::from_listener("auth-userdb"), Role::Userdb);
    assert_eq!(Role::from_listener("token-login/tokenlogin"), Role::Token);
    assert_eq!(Role::from_listener("private/auth"), Role::Client);
    assert!(wildcard_match("a*e", "alice"));
    assert!(wildcard_match("?ob", "bob"));
    assert!(!wildcard_match("a*", "bob"));
}

#[tokio::test]
async fn penalty_delays_the_next_request_from_the_same_ip() {
    let (_d, core) = setup(&["plain"], Time::ZERO);
    let mut c = start(core, "auth-client");
    c.until("DONE").await;
    c.send("VERSION\t1\t2").await;
    let bad = B64.encode(b"\0alice\0bad");
    c.send(&format!(
        "AUTH\t1\tPLAIN\tservice=smtp\trip=192.0.2.9\tresp={bad}"
    ))
    .await;
    assert_eq!(c.line().await.unwrap(), "FAIL\t1\tuser=alice");
    // Another IP and no-penalty requests are not delayed.
    let t = Instant::now();
    let good = B64.encode(b"\0alice\0apw");
    c.send(&format!(
        "AUTH\t2\tPLAIN\tservice=smtp\trip=192.0.2.10\tresp={good}"
    ))
    .await;
    assert_eq!(c.line().await.unwrap(), "OK\t2\tuser=alice");
    c.send(&format!(
        "AUTH\t3\tPLAIN\tservice=smtp\trip=192.0.2.9\tno-penalty\tresp={good}"
    ))
    .await;
    assert_eq!(c.line().await.unwrap(), "OK\t3\tuser=alice");
    assert!(t.elapsed() < Duration::from_secs(1));
    // The penalised IP waits 2 s × 2^1 before its request is processed; a request from
    // another IP sent after it on the same connection is not held behind it.
    let t = Instant::now();
    c.send(&format!(
        "AUTH\t4\tPLAIN\tservice=smtp\trip=192.0.2.9\tresp={good}"
    ))
    .await;
    c.send(&format!(
        "AUTH\t6\tPLAIN\tservice=smtp\trip=192.0.2.11\tresp={good}"
    ))
    .await;
    assert_eq!(c.line().await.unwrap(), "OK\t6\tuser=alice");
    assert!(t.elapsed() < Duration::from_secs(1), "{:?}", t.elapsed());
    assert_eq!(c.line().await.unwrap(), "OK\t4\tuser=alice");
    assert!(t.elapsed() >= Duration::from_secs(4), "{:?}", t.elapsed());
    // Success cleared the penalty.
    let t = Instant::now();
    c.send(&format!(
        "AUTH\t5\tPLAIN\tservice=smtp\trip=192.0.2.9\tresp={good}"
    ))
    .await;
    assert_eq!(c.line().await.unwrap(), "OK\t5\tuser=alice");
    assert!(t.elapsed() < Duration::from_secs(1));
}

#[tokio::test]
async fn external_anonymous_and_exim_empty_resp() {
    let (_d, core) = setup(&["plain", "external", "anonymous"], Time::ZERO);
    let mut c = start(core, "auth-client");
    let g = c.until("DONE").await;
    assert!(g.contains(&"MECH\tEXTERNAL".to_string()), "{g:?}");
    assert!(
        g.contains(&"MECH\tANONYMOUS\tanonymous".to_string()),
        "{g:?}"
    );
    // Exim speaks minor 1: an empty resp= means "no initial response".
    c.send("VERSION\t1\t1").await;
    c.send("AUTH\t1\tPLAIN\tservice=smtp\tresp=").await;
    assert_eq!(c.line().await.unwrap(), "CONT\t1\t");
    c.send("CANCEL\t1").await;
    // EXTERNAL: the certificate name is the user; it must exist in the passdb.
    c.send("AUTH\t2\tEXTERNAL\tservice=imap\tvalid-client-cert\tcert_username=alice\tresp==")
        .await;
    assert_eq!(c.line().await.unwrap(), "OK\t2\tuser=alice");
    c.send("AUTH\t3\tEXTERNAL\tservice=imap\tresp==").await;
    let l = c.line().await.unwrap();
    assert!(
        l.starts_with("FAIL\t3\treason=Client didn't present"),
        "{l}"
    );
    c.send(&format!(
        "AUTH\t4\tEXTERNAL\tservice=imap\tvalid-client-cert\tcert_username=alice\tresp={}",
        B64.encode("bob")
    ))
    .await;
    assert_eq!(
        c.line().await.unwrap(),
        "FAIL\t4\tuser=alice\tcode=authz_fail"
    );
    // ANONYMOUS maps to auth_anonymous_username.
    c.send(&format!(
        "AUTH\t5\tANONYMOUS\tservice=imap\tresp={}",
        B64.encode("trace")
    ))
    .await;
    assert_eq!(c.line().await.unwrap(), "OK\t5\tuser=anonymous");
}

#[tokio::test]
async fn login_sockets_refuse_a_cpid_already_in_use() {
    let (_d, core) = setup(&["plain"], Time::ZERO);
    let mut a = start(core.clone(), "login/login");
    a.until("DONE").await;
    a.send("VERSION\t1\t2\nCPID\t777").await;
    a.send("AUTH\t1\tPLAIN\tservice=imap").await;
    assert_eq!(a.line().await.unwrap(), "CONT\t1\t");
    let mut b = start(core.clone(), "auth-login");
    b.until("DONE").await;
    b.send("VERSION\t1\t2\nCPID\t777").await;
    assert_eq!(b.line().await, None, "duplicate CPID closes the connection");
    // Plain client sockets ignore CPID collisions (Postfix processes may share one).
    let mut c = start(core.clone(), "auth-client");
    c.until("DONE").await;
    c.send("VERSION\t1\t2\nCPID\t777").await;
    c.send("AUTH\t1\tPLAIN\tservice=smtp").await;
    assert_eq!(c.line().await.unwrap(), "CONT\t1\t");
    // Once the first login connection is gone its CPID is free again.
    drop(a);
    tokio::time::sleep(Duration::from_millis(100)).await;
    let mut d = start(core, "login/login");
    d.until("DONE").await;
    d.send("VERSION\t1\t2\nCPID\t777").await;
    d.send("AUTH\t1\tPLAIN\tservice=imap").await;
    assert_eq!(d.line().await.unwrap(), "CONT\t1\t");
}

#[tokio::test]
async fn master_user_via_plain_authzid_and_separator() {
    let d = TempDir::new("session-master");
    let users = d.0.join("users");
    let masters = d.0.join("masters");
    std::fs::write(&users, "alice:{PLAIN}apw\n").unwrap();
    std::fs::write(&masters, "admin:{PLAIN}adminpw\n").unwrap();
    let db = |f: &std::path::Path, master: bool| DbSettings {
        driver: "passwd-file".into(),
        args: format!("scheme=PLAIN {}", f.display()),
        master,
        pass: master,
        ..DbSettings::default()
    };
    let cfg = AuthSettings {
        auth_mechanisms: vec!["plain".into(), "login".into()],
        auth_master_user_separator: "*".into(),
        auth_failure_delay: Time::ZERO,
        passdb: vec![db(&masters, true), db(&users, false)],
        ..AuthSettings::default()
    };
    let core = Arc::new(AuthCore::new(&cfg).unwrap());
    let mut c = start(core, "auth-client");
    c.until("DONE").await;
    c.send("VERSION\t1\t2").await;
    c.send(&format!(
        "AUTH\t1\tPLAIN\tservice=imap\tresp={}",
        B64.encode(b"alice\0admin\0adminpw")
    ))
    .await;
    assert_eq!(
        c.line().await.unwrap(),
        "OK\t1\tuser=alice\tmaster_user=admin"
    );
    c.send(&format!(
        "AUTH\t2\tPLAIN\tservice=imap\tresp={}",
        B64.encode(b"\0alice*admin\0adminpw")
    ))
    .await;
    assert_eq!(
        c.line().await.unwrap(),
        "OK\t2\tuser=alice\tmaster_user=admin"
    );
    c.send(&format!(
        "AUTH\t3\tPLAIN\tservice=imap\tresp={}",
        B64.encode(b"alice\0admin\0apw")
    ))
    .await;
    assert_eq!(c.line().await.unwrap(), "FAIL\t3\tuser=admin");
}

#[tokio::test]
async fn scram_with_foreign_authzid_is_an_authz_failure() {
    let (_d, core) = setup(&["scram-sha-1"], Time::ZERO);
    let mut c = start(core, "auth-client");
    c.until("DONE").await;
    c.send("VERSION\t1\t2").await;
    c.send(&format!(
        "AUTH\t1\tSCRAM-SHA-1\tservice=imap\tresp={}",
        B64.encode("n,a=bob,n=alice,r=abcdefgh")
    ))
    .await;
    assert_eq!(
        c.line().await.unwrap(),
        "FAIL\t1\tuser=alice\tcode=authz_fail"
    );
}

#[test]
fn auth_debug_hides_responses_and_proxy_passwords() {
    assert_eq!(
        super::hide_value("AUTH\t1\tPLAIN\tservice=smtp\tresp=AGEAYg==", "resp"),
        "AUTH\t1\tPLAIN\tservice=smtp\tresp=<hidden>"
    );
    assert_eq!(
        super::hide_value("OK\t1\tuser=a\tpass=secret\tproxy", "pass"),
        "OK\t1\tuser=a\tpass=<hidden>\tproxy"
    );
    assert_eq!(super::hide_value("CONT\t1\t", "resp"), "CONT\t1\t");
}
