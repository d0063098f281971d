//! imap-login → imap through real clients (Python's imaplib, curl with and without STARTTLS)
//! and raw bytes: greeting and capabilities, LOGIN, AUTHENTICATE with SASL-IR and
//! continuations, ID with trusted-proxy fields, bad commands, the plaintext policy, the tag
//! handed to imap, and the kick, shutdown and timeout goodbyes.

use std::time::Duration;

use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;

use crate::runtime::Session;
use crate::service::login::testkit::{login_setup, python, IMPLICIT_TLS_PORTS, INSECURE_PORTS};
pub(crate) use crate::service::login::testkit::{read_until, talk};
use crate::settings::Settings;

pub(crate) const MSG: &[u8] = b"From: a@b\nSubject: hello\n\nline one\nline two\n";

pub(crate) use crate::service::login::testkit::LoginSetup as Setup;

/// imap-login handing over to imap (directly, no pool), user bob/pass, whose INBOX holds [`MSG`]
/// and a second message.
pub(crate) async fn setup(
    tag: &str,
    tweak: impl FnOnce(&mut Settings),
    plaintext_needs_secured: bool,
    tls: bool,
) -> Setup {
    login_setup(
        tag,
        ("imap-login", super::factory),
        ("imap", crate::service::imap::factory),
        MSG,
        tweak,
        plaintext_needs_secured,
        tls,
    )
    .await
}

pub(crate) async fn curl(args: &[&str]) -> Vec<u8> {
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

const PRE: &str = "IMAP4rev1 SASL-IR LOGIN-REFERRALS ID ENABLE IDLE LITERAL+";

#[tokio::test]
async fn imaplib_logs_in_and_imap_answers_with_the_login_tag() {
    let s = setup("i4l-imaplib", |_| {}, false, false).await;
    let out = python(
        r#"
import imaplib, sys
m = imaplib.IMAP4("127.0.0.1", int(sys.argv[1]))
print(m.welcome.decode())
print(sorted(m.capabilities))
typ, data = m.login("bob", "pass")
print(typ, data[0].decode())
print(m.select("INBOX"))
print(m.logout())
"#,
        &[&s.addr.port().to_string()],
    )
    .await;
    let l: Vec<&str> = out.lines().collect();
    assert_eq!(
        l[0],
        format!("* OK [CAPABILITY {PRE} AUTH=PLAIN AUTH=LOGIN] Dovecot ready.")
    );
    assert_eq!(
        l[1],
        "['AUTH=LOGIN', 'AUTH=PLAIN', 'ENABLE', 'ID', 'IDLE', 'IMAP4REV1', 'LITERAL+', 'LOGIN-REFERRALS', 'SASL-IR']"
    );
    // imaplib asked for CAPABILITY before logging in: the list comes untagged, as Dovecot
    // sends it to such clients.
    assert_eq!(l[2], "OK Logged in");
    assert_eq!(l[3], "('OK', [b'2'])");
    assert!(l[4].starts_with("('BYE', [b'Logging out"), "{}", l[4]);
}

#[tokio::test]
async fn raw_commands_sasl_ir_continuations_and_bad_commands() {
    let s = setup("i4l-raw", |_| {}, false, false).await;
    let (_c, t) = talk(
        s.addr,
        b"a CAPABILITY\r\nb NOOP\r\nc ID (\"name\" \"x\")\r\nd AUTHENTICATE FOO\r\n\
e AUTHENTICATE PLAIN\r\n*\r\nf AUTHENTICATE PLAIN !!!\r\ng STARTTLS\r\n\
h LOGIN bob wrong\r\ni AUTHENTICATE PLAIN AGJvYgBwYXNz\r\nj NOOP\r\nk LOGOUT\r\n",
        "k OK Logout",
    )
    .await;
    let want = format!(
        "* OK [CAPABILITY {PRE} AUTH=PLAIN AUTH=LOGIN] Dovecot ready.\r\n\
* CAPABILITY {PRE} AUTH=PLAIN AUTH=LOGIN\r\n\
a OK Pre-login capabilities listed, post-login capabilities have more.\r\n\
b OK NOOP completed.\r\n\
* ID (\"name\" \"Dovecot\")\r\nc OK ID completed.\r\n\
d NO [ALERT] Unsupported authentication mechanism.\r\n\
+ \r\ne BAD Authentication aborted by client.\r\n\
f BAD Invalid base64 data in initial response\r\n\
g BAD TLS support isn't enabled.\r\n\
h NO [AUTHENTICATIONFAILED] Authentication failed.\r\n\
* CAPABILITY {}\r\ni OK Logged in\r\n",
        crate::service::imap::session::CAPABILITIES
    );
    assert!(t.starts_with(&want), "{t}");
    assert!(t.contains("j OK NOOP completed ("), "{t}");
    assert!(
        t.contains("* BYE Logging out\r\nk OK Logout completed ("),
        "{t}"
    );

    // AUTHENTICATE LOGIN with continuations.
    let (_c, t) = talk(
        s.addr,
        b"a AUTHENTICATE LOGIN\r\nYm9i\r\ncGFzcw==\r\n",
        "Logged in",
    )
    .await;
    assert!(
        t.ends_with("+ VXNlcm5hbWU6\r\n+ UGFzc3dvcmQ6\r\na OK [CAPABILITY IMAP4rev1 SASL-IR LOGIN-REFERRALS ID ENABLE IDLE UNSELECT CHILDREN NAMESPACE UIDPLUS LIST-EXTENDED ESEARCH SEARCHRES WITHIN LIST-STATUS MOVE MULTIAPPEND LITERAL+] Logged in\r\n"),
        "{t}"
    );

    // The third bad command in a row gets only the BYE, as in Dovecot.
    let (mut c, t) = talk(s.addr, b"a FOO\r\nb BAR\r\nc BAZ\r\n", "commands.").await;
    assert!(
        t.ends_with(
            "a BAD Error in IMAP command received by server.\r\n\
b BAD Error in IMAP command received by server.\r\n\
* BYE Too many invalid IMAP commands.\r\n"
        ),
        "{t}"
    );
    let mut rest = Vec::new();
    c.read_to_end(&mut rest).await.unwrap();
    assert!(rest.is_empty());
}

#[tokio::test]
async fn plaintext_disabled_gives_logindisabled_and_privacyrequired_until_starttls() {
    let s = setup("i4l-plain", |_| {}, true, true).await;
    INSECURE_PORTS.lock().unwrap().push(s.addr.port());
    let (_c, t) = talk(
        s.addr,
        b"a CAPABILITY\r\nb LOGIN bob pass\r\nc AUTHENTICATE PLAIN AGJvYgBwYXNz\r\n",
        "c NO",
    )
    .await;
    assert!(
        t.starts_with(&format!(
            "* OK [CAPABILITY {PRE} STARTTLS LOGINDISABLED] Dovecot ready.\r\n\
* CAPABILITY {PRE} STARTTLS LOGINDISABLED\r\n"
        )),
        "{t}"
    );
    assert!(t.contains(
        "* BAD [ALERT] Plaintext authentication not allowed without SSL/TLS, but your client did it anyway. If anyone was listening, the password was exposed.\r\n\
b NO [PRIVACYREQUIRED] Plaintext authentication disallowed on non-secure (SSL/TLS) connections.\r\n\
c NO [PRIVACYREQUIRED] Plaintext authentication disallowed on non-secure (SSL/TLS) connections.\r\n"
    ), "{t}");
    // curl's STARTTLS, then LOGIN, then the message.
    let url = format!("imap://bob:pass@127.0.0.1:{}/INBOX;UID=1", s.addr.port());
    let got = curl(&["--ssl-reqd", "-k", &url]).await;
    assert_eq!(
        got,
        b"From: a@b\r\nSubject: hello\r\n\r\nline one\r\nline two\r\n"
    );
}

#[tokio::test]
async fn curl_imaps_implicit_tls_lists_and_fetches() {
    let s = setup("i4l-imaps", |_| {}, true, true).await;
    IMPLICIT_TLS_PORTS.lock().unwrap().push(s.addr.port());
    INSECURE_PORTS.lock().unwrap().push(s.addr.port());
    let base = format!("imaps://bob:pass@127.0.0.1:{}/", s.addr.port());
    let list = String::from_utf8(curl(&["-k", &base]).await).unwrap();
    assert_eq!(list, "* LIST (\\HasNoChildren) \".\" INBOX\r\n");
    let got = curl(&["-k", &format!("{base}INBOX;UID=2")]).await;
    assert_eq!(got, b"Subject: two\r\n\r\n2\r\n");
}

#[tokio::test]
async fn id_proxy_fields_count_only_from_trusted_networks() {
    // One session per user+IP: a second login from the same IP is refused, but a trusted
    // proxy's x-originating-ip makes it another IP.
    let s = setup(
        "i4l-id",
        |s| {
            s.mail.mail_max_userip_connections = 1;
            s.mail.login_trusted_networks = vec!["127.0.0.0/8".into()];
        },
        false,
        false,
    )
    .await;
    let login = b"a LOGIN bob pass\r\n";
    let (_a, _) = talk(s.addr, login, "Logged in").await;
    let (_b, t) = talk(s.addr, login, "a NO").await;
    assert!(t.ends_with("a NO [LIMIT] Maximum number of connections from user+IP exceeded (mail_max_userip_connections=1)\r\n"), "{t}");
    let (_c, t) = talk(
        s.addr,
        b"i ID (\"x-originating-ip\" \"10.9.8.7\" \"x-originating-port\" \"4000\" \"x-session-id\" \"abc\")\r\na LOGIN bob pass\r\n",
        "Logged in",
    )
    .await;
    assert!(t.contains("i OK ID completed.\r\na OK [CAPABILITY"), "{t}");

    let s2 = setup(
        "i4l-id-untrusted",
        |s| s.mail.mail_max_userip_connections = 1,
        false,
        false,
    )
    .await;
    let (_a, _) = talk(s2.addr, login, "Logged in").await;
    let (_c, t) = talk(
        s2.addr,
        b"i ID (\"x-originating-ip\" \"10.9.8.7\")\r\na LOGIN bob pass\r\n",
        "a NO",
    )
    .await;
    assert!(t.contains("i OK ID completed.\r\na NO [LIMIT]"), "{t}");
}

async fn direct(s: &Setup) -> (TcpStream, Session, tokio::task::JoinHandle<()>) {
    let l = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let c = TcpStream::connect(l.local_addr().unwrap()).await.unwrap();
    let (server, peer) = l.accept().await.unwrap();
    let mut conn = crate::net::Conn::new(
        crate::net::conn::Stream::new(crate::net::conn::Transport::Tcp(server)),
        "imap-login",
        "imap",
    );
    conn.remote = Some(peer);
    let session = Session {
        hub: s.hub.clone(),
        ..Session::detached("imap-login", s.settings.clone())
    };
    let task = tokio::spawn(crate::service::login::session::run(
        super::session::ImapLogin::default(),
        conn,
        session.clone(),
    ));
    (c, session, task)
}

#[tokio::test]
async fn kicked_and_shutdown_clients_get_dovecots_byes() {
    let s = setup("i4l-kick", |_| {}, false, false).await;
    let (mut c, session, task) = direct(&s).await;
    read_until(&mut c, "ready.").await;
    session.kicked.cancel();
    task.await.unwrap();
    let mut rest = Vec::new();
    c.read_to_end(&mut rest).await.unwrap();
    assert_eq!(rest, b"* BYE Connection queue full\r\n");

    let (mut c, session, task) = direct(&s).await;
    read_until(&mut c, "ready.").await;
    session.shutdown.cancel();
    task.await.unwrap();
    let mut rest = Vec::new();
    c.read_to_end(&mut rest).await.unwrap();
    assert_eq!(rest, b"* BYE Server shutting down.\r\n");
}

#[tokio::test(start_paused = true)]
async fn pre_login_timeout_says_bye_for_inactivity() {
    let s = setup("i4l-timeout", |_| {}, false, false).await;
    let (mut c, _session, task) = direct(&s).await;
    read_until(&mut c, "ready.").await;
    tokio::time::sleep(Duration::from_secs(181)).await;
    task.await.unwrap();
    let mut rest = Vec::new();
    c.read_to_end(&mut rest).await.unwrap();
    assert_eq!(rest, b"* BYE Disconnected for inactivity.\r\n");
}

#[tokio::test]
async fn an_over_long_pre_login_line_ends_with_input_buffer_full() {
    let s = setup("i4l-long", |_| {}, false, false).await;
    let mut line = b"a LOGIN ".to_vec();
    line.extend(std::iter::repeat_n(b'x', 3000));
    line.extend_from_slice(b"\r\n");
    let (mut c, t) = talk(s.addr, &line, "aborting").await;
    assert!(t.ends_with("* BYE Input buffer full, aborting\r\n"), "{t}");
    let mut rest = Vec::new();
    c.read_to_end(&mut rest).await.unwrap();
    assert!(rest.is_empty());
}

#[tokio::test]
async fn login_with_literals_and_dovecots_literal_limits() {
    let s = setup("i4l-literal", |_| {}, false, false).await;
    // A synchronising literal waits for `+ OK`; LITERAL+ does not.
    let (mut c, t) = talk(s.addr, b"a LOGIN {3}\r\n", "+ OK\r\n").await;
    assert!(t.ends_with("ready.\r\n+ OK\r\n"), "{t}");
    c.write_all(b"bob {4+}\r\npass\r\nb NOOP\r\n")
        .await
        .unwrap();
    let t = read_until(&mut c, "b OK").await;
    assert!(t.starts_with("a OK [CAPABILITY IMAP4rev1 "), "{t}");
    // A 1000-byte literal fits the parser limit (Dovecot takes it too): a failed login.
    let mut big = b"a LOGIN {1000+}\r\n".to_vec();
    big.extend(std::iter::repeat_n(b'x', 1000));
    big.extend_from_slice(b" y\r\n");
    let (_c, t) = talk(s.addr, &big, "a NO").await;
    assert!(
        t.ends_with("a NO [AUTHENTICATIONFAILED] Authentication failed.\r\n"),
        "{t}"
    );
    // Larger than imap-login's 8192-byte parser limit: refused before `+ OK`.
    let (mut c, t) = talk(s.addr, b"a LOGIN {8192}\r\n", "large").await;
    assert!(
        t.ends_with("ready.\r\n* BYE Literal size too large\r\n"),
        "{t}"
    );
    let mut rest = Vec::new();
    c.read_to_end(&mut rest).await.unwrap();
    assert!(rest.is_empty());
}
