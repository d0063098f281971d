//! An async Rust IMAP client (`async-imap` on tokio, TLS by tokio-rustls trusting the test CA)
//! against the real roost binary: LOGIN over implicit TLS (imaps) and after STARTTLS, SELECT,
//! FETCH, STORE, SEARCH, APPEND (with APPENDUID), IDLE woken by an LMTP delivery within a
//! second, UID MOVE with COPYUID (UIDPLUS) and the untagged EXPUNGE, UID EXPUNGE, LOGOUT.

mod common;

use std::sync::Arc;
use std::time::{Duration, Instant};

use async_imap::extensions::idle::IdleResponse;
use async_imap::imap_proto::{Response, Status};
use async_imap::types::Flag;
use common::*;
use futures_util::TryStreamExt;
use roost::net::tls::devcerts::TestCa;
use rustls_pki_types::ServerName;
use tokio::io::AsyncWriteExt;
use tokio::net::TcpStream;
use tokio_rustls::rustls;
use tokio_rustls::TlsConnector;

/// Every network step of the test ends by then.
const STEP: Duration = Duration::from_secs(30);

type Tls = tokio_rustls::client::TlsStream<TcpStream>;

struct Roost {
    _server: Server,
    imap: u16,
    imaps: u16,
    lmtp: u16,
    tls: Arc<rustls::ClientConfig>,
}

fn start() -> Roost {
    let launch = Launch::new("imap-rust-client");
    let ca = TestCa::new("roost test CA");
    let (cert, key) = write_pair(launch.dir().path(), "imap", &ca.server(&["localhost"]));
    let users = launch
        .dir()
        .write("users", "bob:{PLAIN}bobpw:1000:1000::/nonexistent\n");
    let mail = launch.dir().join("mail");
    let (imap, imaps, lmtp) = (free_port(), free_port(), free_port());
    let extra = format!(
        "protocols = [\"imap\", \"lmtp\"]\nmail_location = \"maildir:{m}/%n\"\n\
ssl_cert = \"{cert}\"\nssl_key = \"{key}\"\nauth_mechanisms = \"plain login\"\n\n\
[[passdb]]\ndriver = \"passwd-file\"\nargs = \"{u}\"\n\n\
[[userdb]]\ndriver = \"passwd-file\"\nargs = \"{u}\"\n\n\
[service.imap-login.inet_listener.imap]\nport = {imap}\n\n\
[service.imap-login.inet_listener.imaps]\nport = {imaps}\nssl = true\n\n\
[service.lmtp.inet_listener.lmtp]\nport = {lmtp}\n",
        m = mail.display(),
        u = users.display()
    );
    let server = launch.config(&extra).ready_on(&[imap, imaps, lmtp]).start();
    Roost {
        _server: server,
        imap,
        imaps,
        lmtp,
        tls: tls_client(&ca, &[&rustls::version::TLS13]),
    }
}

async fn step<F: std::future::Future>(what: &str, f: F) -> F::Output {
    tokio::time::timeout(STEP, f)
        .await
        .unwrap_or_else(|_| panic!("{what}: no answer within {STEP:?}"))
}

async fn tls(r: &Roost, tcp: TcpStream) -> Tls {
    TlsConnector::from(r.tls.clone())
        .connect(ServerName::try_from("localhost").unwrap(), tcp)
        .await
        .expect("TLS handshake")
}

/// imaps: TLS first, then the greeting and LOGIN.
async fn login_imaps(r: &Roost) -> async_imap::Session<Tls> {
    let tcp = TcpStream::connect(("127.0.0.1", r.imaps)).await.unwrap();
    let mut client = async_imap::Client::new(tls(r, tcp).await);
    let greeting = step("greeting", client.read_response())
        .await
        .unwrap()
        .expect("greeting");
    assert!(
        matches!(
            greeting.parsed(),
            Response::Data {
                status: Status::Ok,
                ..
            }
        ),
        "{greeting:?}"
    );
    step("LOGIN", client.login("bob", "bobpw"))
        .await
        .map_err(|(e, _)| e)
        .expect("LOGIN over imaps")
}

/// The tagged reply's response code of a raw command (for UIDPLUS codes the API drops).
async fn raw(session: &mut async_imap::Session<Tls>, command: &str) -> String {
    let id = step(command, session.run_command(command)).await.unwrap();
    let mut untagged = String::new();
    loop {
        let resp = step(command, session.read_response())
            .await
            .unwrap()
            .expect("connection open");
        match resp.parsed() {
            Response::Done {
                tag,
                status,
                outcome,
            } if *tag == id => {
                assert_eq!(*status, Status::Ok, "{command}: {resp:?}");
                return format!("{untagged}{:?}", outcome.code);
            }
            other => untagged.push_str(&format!("{other:?}\n")),
        }
    }
}

async fn lmtp_deliver(port: u16, subject: &str) {
    let mut c = TcpStream::connect(("127.0.0.1", port)).await.unwrap();
    let msg = format!(
        "LHLO t\r\nMAIL FROM:<s@example.org>\r\nRCPT TO:<bob>\r\nDATA\r\n\
Subject: {subject}\r\n\r\ndelivered\r\n.\r\nQUIT\r\n"
    );
    c.write_all(msg.as_bytes()).await.unwrap();
    let mut out = Vec::new();
    step(
        "LMTP",
        tokio::io::AsyncReadExt::read_to_end(&mut c, &mut out),
    )
    .await
    .unwrap();
    let out = String::from_utf8_lossy(&out);
    assert!(out.contains("250 2.0.0 <bob>"), "{out}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn async_imap_client_session() {
    let r = start();

    // STARTTLS on the plain port, then LOGIN and LOGOUT.
    let tcp = TcpStream::connect(("127.0.0.1", r.imap)).await.unwrap();
    let mut plain = async_imap::Client::new(tcp);
    step("greeting", plain.read_response())
        .await
        .unwrap()
        .unwrap();
    step("STARTTLS", plain.run_command_and_check_ok("STARTTLS", None))
        .await
        .unwrap();
    let secured = async_imap::Client::new(tls(&r, plain.into_inner()).await);
    let mut s = step("LOGIN", secured.login("bob", "bobpw"))
        .await
        .map_err(|(e, _)| e)
        .expect("LOGIN after STARTTLS");
    let caps = step("CAPABILITY", s.capabilities()).await.unwrap();
    for c in ["IDLE", "UIDPLUS", "MOVE"] {
        assert!(caps.has_str(c), "{c} missing");
    }
    step("LOGOUT", s.logout()).await.unwrap();

    // imaps: APPEND (APPENDUID), SELECT, FETCH, STORE, SEARCH.
    let mut s = login_imaps(&r).await;
    step("CREATE", s.create("Archive")).await.unwrap();
    for i in 1..=3 {
        let flags = if i == 2 { Some("(\\Flagged)") } else { None };
        step(
            "APPEND",
            s.append(
                "INBOX",
                flags,
                Some("\"14-Jul-2026 10:00:00 +0200\""),
                format!("Subject: message {i}\r\nFrom: a@example.org\r\n\r\nbody {i}\r\n"),
            ),
        )
        .await
        .unwrap();
    }
    let code = raw(
        &mut s,
        "APPEND Archive (\\Seen) {21+}\r\nSubject: x\r\n\r\narch\r\n",
    )
    .await;
    assert!(code.contains("AppendUid"), "{code}");
    let mbox = step("SELECT", s.select("INBOX")).await.unwrap();
    assert_eq!(mbox.exists, 3);
    assert_eq!(mbox.uid_next, Some(4));
    assert!(mbox.uid_validity.is_some());
    let fetched: Vec<_> = step(
        "FETCH",
        s.fetch(
            "1:*",
            "(UID FLAGS RFC822.SIZE INTERNALDATE ENVELOPE BODY.PEEK[])",
        ),
    )
    .await
    .unwrap()
    .try_collect()
    .await
    .unwrap();
    assert_eq!(fetched.len(), 3);
    for (i, f) in fetched.iter().enumerate() {
        let n = i + 1;
        assert_eq!(f.uid, Some(n as u32));
        let body = format!("Subject: message {n}\r\nFrom: a@example.org\r\n\r\nbody {n}\r\n");
        assert_eq!(f.body(), Some(body.as_bytes()));
        assert_eq!(f.size, Some(body.len() as u32));
        let subject = f.envelope().and_then(|e| e.subject.as_deref()).unwrap();
        assert_eq!(subject, format!("message {n}").as_bytes());
        // The instant is kept; the zone is the server's (Maildir keeps only the mtime, as
        // with Dovecot).
        assert_eq!(f.internal_date().unwrap().timestamp(), 1_784_016_000);
        let flagged = f.flags().any(|fl| fl == Flag::Flagged);
        assert_eq!(flagged, n == 2);
    }
    let stored: Vec<_> = step("STORE", s.store("1,3", "+FLAGS (\\Seen $Done)"))
        .await
        .unwrap()
        .try_collect()
        .await
        .unwrap();
    assert_eq!(stored.len(), 2);
    assert!(stored[0].flags().any(|f| f == Flag::Seen));
    assert!(stored[0].flags().any(|f| f == Flag::Custom("$Done".into())));
    let mut unseen: Vec<u32> = step("SEARCH", s.search("UNSEEN"))
        .await
        .unwrap()
        .into_iter()
        .collect();
    unseen.sort();
    assert_eq!(unseen, [2]);
    let found = step("UID SEARCH", s.uid_search("OR FLAGGED KEYWORD $Done"))
        .await
        .unwrap();
    assert_eq!(found.len(), 3);
    let body = step("SEARCH BODY", s.search("BODY \"body 3\""))
        .await
        .unwrap();
    assert_eq!(body.into_iter().collect::<Vec<_>>(), [3]);

    // IDLE, woken by an LMTP delivery within a second.
    let mut idle = s.idle();
    step("IDLE", idle.init()).await.unwrap();
    let (wait, _stop) = idle.wait_with_timeout(Duration::from_secs(20));
    let lmtp = r.lmtp;
    let delivered = tokio::spawn(async move {
        lmtp_deliver(lmtp, "while idling").await;
        Instant::now()
    });
    let woke = step("IDLE wait", wait).await.unwrap();
    let woke_at = Instant::now();
    let delivered_at = delivered.await.unwrap();
    match woke {
        IdleResponse::NewData(d) => {
            assert!(
                matches!(d.parsed(), Response::MailboxData(_)),
                "{:?}",
                d.parsed()
            );
        }
        other => panic!("IDLE ended without news: {other:?}"),
    }
    assert!(
        woke_at.saturating_duration_since(delivered_at) <= Duration::from_secs(1),
        "IDLE woke {:?} after the delivery",
        woke_at.saturating_duration_since(delivered_at)
    );
    let mut s = step("DONE", idle.done()).await.unwrap();
    step("NOOP", s.noop()).await.unwrap();

    // UIDPLUS and MOVE: UID MOVE answers COPYUID and EXPUNGEs the source.
    let code = raw(&mut s, "UID MOVE 2 Archive").await;
    assert!(code.contains("CopyUid"), "{code}");
    assert!(code.contains("Expunge(2)"), "{code}");
    let moved: Vec<_> = step("UID FETCH", s.uid_fetch("1:*", "UID"))
        .await
        .unwrap()
        .try_collect()
        .await
        .unwrap();
    let uids: Vec<u32> = moved.iter().filter_map(|f| f.uid).collect();
    assert_eq!(uids, [1, 3, 4]);
    step("STORE", async {
        s.uid_store("1", "+FLAGS.SILENT (\\Deleted)")
            .await
            .unwrap()
            .try_collect::<Vec<_>>()
            .await
            .unwrap()
    })
    .await;
    let expunged: Vec<u32> = step("UID EXPUNGE", async {
        s.uid_expunge("1")
            .await
            .unwrap()
            .try_collect::<Vec<_>>()
            .await
            .unwrap()
    })
    .await;
    assert_eq!(expunged, [1]);
    let archive = step("EXAMINE", s.examine("Archive")).await.unwrap();
    assert_eq!(archive.exists, 2);
    step("LOGOUT", s.logout()).await.unwrap();
}
