//! pop3-login → pop3 through real clients (Python's poplib, curl with and without STLS) and
//! raw bytes: greetings, CAPA, USER/PASS, AUTH, failures, limits and goodbyes.

use std::collections::HashMap;
use std::sync::Arc;
use std::time::Duration;

use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;

use crate::runtime::PostLoginHandle;
use crate::runtime::Session;
use crate::service::login::testkit::{
    login_setup, python, read_until, talk, IMPLICIT_TLS_PORTS, INSECURE_PORTS,
};
use crate::service::login::DirectPostLogin;
use crate::settings::Settings;

const MSG: &[u8] = b"From: a@b\nSubject: hello\n\nline\n.starts with dot\n";

pub(crate) use crate::service::login::testkit::LoginSetup as Setup;

/// pop3-login handing over to pop3 (directly, no pool), user bob/pass, whose INBOX holds [`MSG`]
/// and a second message.
pub(crate) async fn setup(
    tag: &str,
    tweak: impl FnOnce(&mut Settings),
    plaintext_needs_secured: bool,
    tls: bool,
) -> Setup {
    login_setup(
        tag,
        ("pop3-login", super::factory),
        ("pop3", crate::service::pop3::factory),
        MSG,
        tweak,
        plaintext_needs_secured,
        tls,
    )
    .await
}

const POPLIB: &str = r#"
import poplib, sys
p = poplib.POP3("127.0.0.1", int(sys.argv[1]))
print(p.getwelcome().decode())
caps = p.capa()
print(sorted(caps.keys()), caps.get("SASL"))
print(p.user("bob").decode())
print(p.pass_("pass").decode())
print(p.stat())
print([u.decode() for u in p.uidl()[1]])
print(p.retr(1)[1])
print(p.quit().decode())
"#;

#[tokio::test]
async fn poplib_logs_in_with_user_pass_and_is_handed_to_pop3() {
    let s = setup("p3l-poplib", |_| {}, false, false).await;
    let out = python(POPLIB, &[&s.addr.port().to_string()]).await;
    let l: Vec<&str> = out.lines().collect();
    assert_eq!(l[0], "+OK Dovecot ready.");
    assert_eq!(
        l[1],
        "['AUTH-RESP-CODE', 'CAPA', 'PIPELINING', 'RESP-CODES', 'SASL', 'TOP', 'UIDL', 'USER'] ['PLAIN', 'LOGIN']"
    );
    assert_eq!(l[2], "+OK");
    assert_eq!(l[3], "+OK Logged in.");
    assert_eq!(l[4], "(2, 72)");
    let uv = s.inbox.sync().unwrap().uid_validity;
    assert_eq!(
        l[5],
        format!("['1 00000001{uv:08x}', '2 00000002{uv:08x}']")
    );
    assert_eq!(
        l[6],
        "[b'From: a@b', b'Subject: hello', b'', b'line', b'.starts with dot']"
    );
    assert_eq!(l[7], "+OK Logging out.");
}

async fn curl(args: &[&str]) -> Vec<u8> {
    let out = tokio::process::Command::new("curl")
        .args(["-sS", "--max-time", "20"])
        .args(args)
        .output()
        .await
        .expect("curl must be installed for this test");
    assert!(
        out.status.success(),
        "curl {args:?} failed: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    out.stdout
}

#[tokio::test]
async fn curl_retrieves_exact_bytes_over_plain_and_stls() {
    let s = setup("p3l-curl", |_| {}, false, true).await;
    let url = format!("pop3://bob:pass@127.0.0.1:{}/1", s.addr.port());
    let want = b"From: a@b\r\nSubject: hello\r\n\r\nline\r\n.starts with dot\r\n".to_vec();
    assert_eq!(curl(&[&url]).await, want);
    assert_eq!(curl(&["--ssl-reqd", "-k", &url]).await, want);
    // curl's LIST shows the octet counts.
    let list = curl(&[&format!("pop3://bob:pass@127.0.0.1:{}/", s.addr.port())]).await;
    assert_eq!(String::from_utf8(list).unwrap(), "1 53\r\n2 19\r\n");
}

#[tokio::test]
async fn curl_pop3s_implicit_tls_retrieves_and_deletes() {
    let s = setup("p3l-pop3s", |_| {}, true, true).await;
    IMPLICIT_TLS_PORTS.lock().unwrap().push(s.addr.port());
    INSECURE_PORTS.lock().unwrap().push(s.addr.port());
    let url = format!("pop3s://bob:pass@127.0.0.1:{}/2", s.addr.port());
    assert_eq!(curl(&["-k", &url]).await, b"Subject: two\r\n\r\n2\r\n");
    // DELE through curl's custom request; QUIT commits it.
    curl(&[
        "-k",
        "-X",
        "DELE 1",
        &format!("pop3s://bob:pass@127.0.0.1:{}/", s.addr.port()),
        "-I",
    ])
    .await;
    let left: Vec<u32> = s
        .inbox
        .sync()
        .unwrap()
        .messages
        .iter()
        .map(|m| m.uid)
        .collect();
    assert_eq!(left, [2]);
}

#[tokio::test]
async fn auth_plain_login_failures_and_bad_commands() {
    let s = setup("p3l-auth", |_| {}, false, false).await;
    let (_c, t) = talk(
        s.addr,
        b"AUTH\r\nAUTH FOO\r\nAUTH PLAIN\r\n*\r\nPASS x\r\nUSER bob\r\nPASS wrong\r\nSTLS\r\nAUTH PLAIN AGJvYgBwYXNz\r\nSTAT\r\nQUIT\r\n",
        "Logging out.",
    )
    .await;
    assert_eq!(
        t,
        "+OK Dovecot ready.\r\n+OK\r\nPLAIN\r\nLOGIN\r\n.\r\n\
-ERR [AUTH] Unsupported authentication mechanism.\r\n+ \r\n\
-ERR Authentication aborted by client.\r\n-ERR No username given.\r\n+OK\r\n\
-ERR [AUTH] Authentication failed.\r\n-ERR TLS support isn't enabled.\r\n\
+OK Logged in.\r\n+OK 2 72\r\n+OK Logging out.\r\n"
    );
    // AUTH LOGIN with challenges.
    let (_c, t) = talk(
        s.addr,
        b"AUTH LOGIN\r\nYm9i\r\ncGFzcw==\r\nQUIT\r\n",
        "Logging out",
    )
    .await;
    assert_eq!(
        t,
        "+OK Dovecot ready.\r\n+ VXNlcm5hbWU6\r\n+ UGFzc3dvcmQ6\r\n+OK Logged in.\r\n+OK Logging out.\r\n"
    );
    let (mut c, t) = talk(s.addr, b"FOO\r\nBAR\r\nBAZ\r\n", "bad commands").await;
    assert!(t.ends_with("-ERR Unknown command.\r\n-ERR Unknown command.\r\n-ERR Too many invalid bad commands.\r\n"), "{t}");
    let mut rest = Vec::new();
    c.read_to_end(&mut rest).await.unwrap();
    assert!(rest.is_empty());
}

#[tokio::test]
async fn plaintext_is_refused_on_insecure_connections_until_stls() {
    let s = setup("p3l-plain", |_| {}, true, true).await;
    INSECURE_PORTS.lock().unwrap().push(s.addr.port());
    let (_c, t) = talk(
        s.addr,
        b"CAPA\r\nUSER bob\r\nPASS pass\r\n",
        "connections.\r\n-ERR",
    )
    .await;
    assert!(
        t.contains("PIPELINING\r\nAUTH-RESP-CODE\r\nSTLS\r\nSASL\r\n.\r\n"),
        "{t}"
    );
    assert!(t.ends_with(
        "-ERR [AUTH] Plaintext authentication disallowed on non-secure (SSL/TLS) connections.\r\n\
-ERR [AUTH] Plaintext authentication disallowed on non-secure (SSL/TLS) connections.\r\n"
    ), "{t}");
    // After STLS (curl --ssl-reqd) the same login works.
    let url = format!("pop3://bob:pass@127.0.0.1:{}/2", s.addr.port());
    assert_eq!(
        curl(&["--ssl-reqd", "-k", &url]).await,
        b"Subject: two\r\n\r\n2\r\n"
    );
}

#[tokio::test]
async fn userip_limit_refuses_the_third_session_and_frees_on_quit() {
    let s = setup(
        "p3l-userip",
        |s| s.mail.mail_max_userip_connections = 2,
        false,
        false,
    )
    .await;
    let login = b"USER bob\r\nPASS pass\r\n";
    let (mut a, _) = talk(s.addr, login, "Logged in.").await;
    let (_b, _) = talk(s.addr, login, "Logged in.").await;
    let (_c, t) = talk(s.addr, login, "exceeded").await;
    assert!(t.ends_with("-ERR [IN-USE] Maximum number of connections from user+IP exceeded (mail_max_userip_connections=2)\r\n"), "{t}");
    a.write_all(b"QUIT\r\n").await.unwrap();
    read_until(&mut a, "Logging out").await;
    tokio::time::sleep(Duration::from_millis(100)).await;
    let (_d, t) = talk(s.addr, login, "Logged in.").await;
    assert!(t.ends_with("+OK Logged in.\r\n"), "{t}");
}

#[tokio::test]
async fn trusted_networks_get_xclient_others_are_ignored() {
    let s = setup(
        "p3l-xclient",
        |s| s.mail.login_trusted_networks = vec!["127.0.0.0/8".into()],
        false,
        false,
    )
    .await;
    let (_c, t) = talk(
        s.addr,
        b"XCLIENT ADDR=10.1.2.3 PORT=4321\r\nXCLIENT ADDR=bogus\r\n",
        "Invalid",
    )
    .await;
    assert_eq!(
        t,
        "+OK [XCLIENT] Dovecot ready.\r\n+OK Updated\r\n-ERR Invalid parameters\r\n"
    );
    let s2 = setup("p3l-noxclient", |_| {}, false, false).await;
    let (_c, t) = talk(s2.addr, b"XCLIENT ADDR=10.1.2.3\r\n", "ignoring").await;
    assert_eq!(
        t,
        "+OK Dovecot ready.\r\n+OK You are not from trusted IP - ignoring\r\n"
    );
}

async fn direct(s: &Setup) -> (TcpStream, Session, tokio::task::JoinHandle<()>) {
    let l = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let c = TcpStream::connect(l.local_addr().unwrap()).await.unwrap();
    let (server, peer) = l.accept().await.unwrap();
    let mut conn = crate::net::Conn::new(
        crate::net::conn::Stream::new(crate::net::conn::Transport::Tcp(server)),
        "pop3-login",
        "pop3",
    );
    conn.remote = Some(peer);
    let session = Session {
        hub: s.hub.clone(),
        ..Session::detached("pop3-login", s.settings.clone())
    };
    let task = tokio::spawn(crate::service::login::session::run(
        super::session::Pop3Login,
        conn,
        session.clone(),
    ));
    (c, session, task)
}

#[tokio::test]
async fn kicked_and_shutdown_clients_get_dovecots_goodbyes() {
    let s = setup("p3l-kick", |_| {}, false, false).await;
    let (mut c, session, task) = direct(&s).await;
    read_until(&mut c, "ready.").await;
    assert!(!session.is_authenticated());
    session.kicked.cancel();
    task.await.unwrap();
    let mut rest = Vec::new();
    c.read_to_end(&mut rest).await.unwrap();
    assert_eq!(rest, b"-ERR Connection queue full\r\n");

    let (mut c, session, task) = direct(&s).await;
    read_until(&mut c, "ready.").await;
    session.shutdown.cancel();
    task.await.unwrap();
    let mut rest = Vec::new();
    c.read_to_end(&mut rest).await.unwrap();
    assert_eq!(rest, b"-ERR Server shutting down.\r\n");

    // A logged-in client is marked authenticated (no longer a kick candidate).
    let (mut c, session, _task) = direct(&s).await;
    c.write_all(b"USER bob\r\nPASS pass\r\n").await.unwrap();
    read_until(&mut c, "Logged in.").await;
    assert!(session.is_authenticated());
}

#[tokio::test(start_paused = true)]
async fn pre_login_timeout_is_absolute_three_minutes() {
    let s = setup("p3l-timeout", |_| {}, false, false).await;
    let (mut c, _session, task) = direct(&s).await;
    read_until(&mut c, "ready.").await;
    // Activity does not extend the deadline.
    for _ in 0..5 {
        tokio::time::sleep(Duration::from_secs(30)).await;
        c.write_all(b"CAPA\r\n").await.unwrap();
        read_until(&mut c, "\r\n.\r\n").await;
    }
    tokio::time::sleep(Duration::from_secs(31)).await;
    task.await.unwrap();
    let mut rest = Vec::new();
    c.read_to_end(&mut rest).await.unwrap();
    assert_eq!(rest, b"-ERR Disconnected for inactivity.\r\n");
}

/// Holds handoffs until released, like a full post-login pool.
struct Gate {
    open: Arc<tokio::sync::Notify>,
    inner: Arc<DirectPostLogin>,
}

impl crate::runtime::PostLogin for Gate {
    fn hand_over(
        &self,
        service: &str,
        conn: crate::net::Conn,
        handoff: crate::runtime::Handoff,
    ) -> crate::runtime::BoxFuture<
        Result<(), (crate::runtime::HandoffError, Option<crate::net::Conn>)>,
    > {
        let open = self.open.clone();
        let inner = self.inner.clone();
        let service = service.to_string();
        Box::pin(async move {
            open.notified().await;
            inner.hand_over(&service, conn, handoff).await
        })
    }
}

#[tokio::test]
async fn a_full_post_login_service_makes_the_client_wait_not_fail() {
    let s = setup("p3l-wait", |_| {}, false, false).await;
    let gate = Arc::new(tokio::sync::Notify::new());
    let pop3 = crate::service::pop3::factory("pop3", &s.settings, &s.hub).unwrap();
    let mut services = HashMap::new();
    services.insert("pop3".to_string(), pop3);
    s.hub.insert(Arc::new(PostLoginHandle(Arc::new(Gate {
        open: gate.clone(),
        inner: Arc::new(DirectPostLogin {
            services,
            settings: s.settings.clone(),
            hub: s.hub.clone(),
        }),
    }))));
    let mut c = TcpStream::connect(s.addr).await.unwrap();
    read_until(&mut c, "ready.").await;
    c.write_all(b"USER bob\r\nPASS pass\r\n").await.unwrap();
    read_until(&mut c, "+OK\r\n").await;
    let mut buf = [0u8; 64];
    let waited = tokio::time::timeout(Duration::from_millis(300), c.read(&mut buf)).await;
    if let Ok(r) = waited {
        panic!(
            "no reply while the post-login service is full, got {:?}",
            r.map(|n| String::from_utf8_lossy(&buf[..n]).into_owned())
        );
    }
    gate.notify_one();
    assert_eq!(read_until(&mut c, "\r\n").await, "+OK Logged in.\r\n");
}
