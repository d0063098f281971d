//! LMTP through real clients (Python's smtplib.LMTP, swaks) and raw pipelined bytes, against
//! the real session loop and Maildir store; auth is a fixed user table.

use std::fs;
use std::path::{Path, PathBuf};
use std::sync::Arc;

use tokio::io::{AsyncReadExt, AsyncWriteExt};

use crate::mail::maildir::{Maildir, Snapshot};
use crate::runtime::{Hub, Session};
use crate::service::login::testkit::{python, serve_tcp, temp_dir, TableAuth, User};
use crate::settings::Settings;

fn users() -> Vec<User> {
    ["bob", "alice"]
        .iter()
        .map(|n| User {
            name: n.to_string(),
            pass: "pass".into(),
            fields: Vec::new(),
        })
        .collect()
}

fn settings(root: &Path, detail: bool) -> Arc<Settings> {
    let mut s = Settings::default();
    s.mail.mail_location = format!("maildir:{}/%n", root.display());
    s.mail.hostname = "mx.example.test".into();
    s.mail.lmtp_save_to_detail_mailbox = detail;
    Arc::new(s)
}

async fn start(root: &Path, detail: bool) -> (std::net::SocketAddr, Arc<Hub>) {
    let hub = TableAuth::hub_with(users(), false);
    let s = settings(root, detail);
    let svc = super::factory("lmtp", &s, &hub).unwrap();
    (serve_tcp(svc, "lmtp", s, hub.clone(), None).await, hub)
}

fn snapshot(dir: PathBuf) -> Snapshot {
    Maildir::open(&dir, &dir, false, false, "h")
        .unwrap()
        .sync()
        .unwrap()
}

fn read_all(dir: &Path) -> Vec<String> {
    let m = Maildir::open(dir, dir, false, false, "h").unwrap();
    let s = m.sync().unwrap();
    s.messages
        .iter()
        .map(|e| String::from_utf8(m.read(e).unwrap()).unwrap())
        .collect()
}

const SMTPLIB: &str = r#"
import smtplib, sys
c = smtplib.LMTP("127.0.0.1", int(sys.argv[1]))
c.ehlo_or_helo_if_needed()
print(c.docmd("MAIL FROM:<sender@example.org>")[0])
for r in ["bob", "nosuch@example.test", "alice"]:
    print(r, c.docmd("RCPT TO:<%s>" % r))
print(c.docmd("DATA")[0])
c.send(b"Subject: multi\r\n\r\nline one\r\n..dotted\r\n.\r\n")
print(c.getreply())
print(c.getreply())
c.quit()
"#;

#[tokio::test]
async fn smtplib_delivers_to_several_recipients_with_one_reply_each() {
    let root = temp_dir("lmtp-multi");
    let (addr, _hub) = start(&root, false).await;
    let out = python(SMTPLIB, &[&addr.port().to_string()]).await;
    let lines: Vec<&str> = out.lines().collect();
    assert_eq!(lines[0], "250");
    assert!(lines[1].starts_with("bob (250"), "{out}");
    assert!(
        lines[2].contains("550")
            && lines[2].contains("5.1.1 <nosuch@example.test> User doesn't exist"),
        "{out}"
    );
    assert!(lines[3].starts_with("alice (250"), "{out}");
    assert_eq!(lines[4], "354");
    assert!(
        lines[5].starts_with("(250, b'2.0.0 <bob> ") && lines[5].ends_with("Saved')"),
        "{out}"
    );
    assert!(lines[6].starts_with("(250, b'2.0.0 <alice> "), "{out}");
    for u in ["bob", "alice"] {
        let msgs = read_all(&root.join(u));
        assert_eq!(msgs.len(), 1, "{u}");
        let m = &msgs[0];
        assert!(
            m.starts_with("Return-Path: <sender@example.org>\nReceived: from "),
            "{m}"
        );
        assert!(m.contains("\tby mx.example.test with LMTP\n"), "{m}");
        assert!(
            !m.contains("Delivered-To"),
            "several recipients: no Delivered-To"
        );
        assert!(
            m.ends_with("Subject: multi\n\nline one\n.dotted\n"),
            "{m:?}"
        );
    }
    assert!(!root.join("nosuch").exists());
}

#[tokio::test]
async fn swaks_single_recipient_goes_to_detail_mailbox_with_delivered_to() {
    let root = temp_dir("lmtp-swaks");
    let (addr, _hub) = start(&root, true).await;
    // The detail mailbox must exist (lda_mailbox_autocreate = no).
    let inbox = root.join("bob");
    Maildir::open(&inbox, &inbox, true, false, "h").unwrap();
    Maildir::open(&inbox.join(".lists"), &inbox, true, false, "h").unwrap();
    let out = tokio::process::Command::new("swaks")
        .args(["--protocol", "LMTP", "--server"])
        .arg(addr.to_string())
        .args([
            "--from",
            "s@example.org",
            "--to",
            "bob+lists",
            "--body",
            "hello\n.dot",
        ])
        .output()
        .await
        .expect("swaks must be installed for this test");
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(out.status.success(), "{text}");
    assert!(text.contains("<-  250 2.0.0 <bob+lists> "), "{text}");
    assert_eq!(snapshot(inbox.clone()).messages.len(), 0);
    let msgs = read_all(&inbox.join(".lists"));
    assert_eq!(msgs.len(), 1);
    assert!(msgs[0].contains("Delivered-To: bob+lists\n"), "{}", msgs[0]);
    assert!(msgs[0].contains("\n\tfor <bob+lists>; "), "{}", msgs[0]);
    assert!(msgs[0].contains("\nhello\n.dot\n"), "{}", msgs[0]);
}

const STARTTLS: &str = r#"
import smtplib, ssl, sys
c = smtplib.LMTP("127.0.0.1", int(sys.argv[1]))
c.ehlo_or_helo_if_needed()
print("starttls" in c.esmtp_features)
ctx = ssl._create_unverified_context()
print(c.starttls(context=ctx)[0])
c.ehlo_or_helo_if_needed()
print("starttls" in c.esmtp_features)
print(c.sendmail("a@example.org", ["bob"], b"Subject: tls\r\n\r\nsecret\r\n"))
c.quit()
"#;

#[tokio::test]
async fn starttls_is_offered_when_tls_is_configured_and_received_says_lmtps() {
    let root = temp_dir("lmtp-tls");
    let hub = TableAuth::hub_with(users(), false);
    let s = settings(&root, false);
    let svc = super::factory("lmtp", &s, &hub).unwrap();
    let addr = serve_tcp(
        svc,
        "lmtp",
        s,
        hub,
        Some(crate::service::login::testkit::test_tls()),
    )
    .await;
    let out = python(STARTTLS, &[&addr.port().to_string()]).await;
    assert_eq!(out, "True\n220\nFalse\n{}\n");
    let m = &read_all(&root.join("bob"))[0];
    assert!(m.contains("\tby mx.example.test with LMTPS\n"), "{m}");
    assert!(m.ends_with("Subject: tls\n\nsecret\n"));
}

async fn converse(addr: std::net::SocketAddr, send: &[u8], want_lines: usize) -> String {
    let mut s = tokio::net::TcpStream::connect(addr).await.unwrap();
    s.write_all(send).await.unwrap();
    let mut got = Vec::new();
    let mut buf = [0u8; 4096];
    while got.iter().filter(|&&b| b == b'\n').count() < want_lines {
        let n = tokio::time::timeout(std::time::Duration::from_secs(10), s.read(&mut buf))
            .await
            .expect("reply in time")
            .unwrap();
        assert!(n > 0, "closed early: {}", String::from_utf8_lossy(&got));
        got.extend_from_slice(&buf[..n]);
    }
    String::from_utf8(got).unwrap()
}

#[tokio::test]
async fn pipelined_bdat_and_sequence_errors_reply_in_order() {
    let root = temp_dir("lmtp-bdat");
    let (addr, _hub) = start(&root, false).await;
    let out = converse(
        addr,
        b"RCPT TO:<bob>\r\nLHLO x\r\nMAIL FROM:<a@b>\r\nRCPT TO:<bob>\r\nRCPT TO:<alice>\r\n\
BDAT 8\r\nSubj: x\nBDAT 3 LAST\r\n\nhiVRFY bob\r\nNOOP\r\nFOO\r\nQUIT\r\n",
        17,
    )
    .await;
    let lines: Vec<&str> = out.lines().collect();
    assert_eq!(lines[0], "220 mx.example.test Dovecot ready.");
    assert_eq!(lines[1], "503 5.5.0 MAIL needed first");
    assert_eq!(
        &lines[2..7],
        [
            "250-mx.example.test",
            "250-8BITMIME",
            "250-CHUNKING",
            "250-ENHANCEDSTATUSCODES",
            "250 PIPELINING",
        ]
    );
    assert_eq!(
        &lines[7..10],
        ["250 2.1.0 OK", "250 2.1.5 OK", "250 2.1.5 OK"]
    );
    assert_eq!(lines[10], "250 2.0.0 Added 8 octets");
    assert!(lines[11].starts_with("250 2.0.0 <bob> "), "{out}");
    assert!(
        lines[12].starts_with("250 2.0.0 <alice> ") && lines[12].ends_with(":R2 Saved"),
        "{out}"
    );
    assert_eq!(
        &lines[13..17],
        [
            "252 2.3.3 Try RCPT instead",
            "250 2.0.0 OK",
            "500 5.5.1 Unknown command",
            "221 2.0.0 Bye"
        ]
    );
    let m = &read_all(&root.join("bob"))[0];
    assert!(m.ends_with("\nSubj: x\n\nhi"), "{m:?}");
}

#[tokio::test]
async fn empty_and_bare_lf_messages_are_stored_with_exact_sizes() {
    let root = temp_dir("lmtp-lf");
    let (addr, _hub) = start(&root, false).await;
    converse(
        addr,
        b"LHLO x\r\nMAIL FROM:<>\r\nRCPT TO:<bob>\r\nDATA\r\nA: 1\nB: 2\r\n\nbody\n.\r\nQUIT\r\n",
        11,
    )
    .await;
    let s = snapshot(root.join("bob"));
    let m = &read_all(&root.join("bob"))[0];
    assert!(m.ends_with("\nA: 1\nB: 2\n\nbody\n"), "{m:?}");
    assert!(m.starts_with("Return-Path: <>\n"));
    assert_eq!(s.messages[0].size as usize, m.len());
    assert_eq!(
        s.messages[0].vsize as usize,
        m.len() + m.matches('\n').count()
    );
}

#[tokio::test]
async fn shutdown_says_421_and_unacknowledged_data_is_not_stored() {
    let root = temp_dir("lmtp-shutdown");
    let s = settings(&root, false);
    let hub = TableAuth::hub_with(users(), false);
    let l = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = l.local_addr().unwrap();
    let mut client = tokio::net::TcpStream::connect(addr).await.unwrap();
    let (server, _) = l.accept().await.unwrap();
    let conn = crate::net::Conn::new(
        crate::net::conn::Stream::new(crate::net::conn::Transport::Tcp(server)),
        "lmtp",
        "lmtp",
    );
    let session = Session {
        hub,
        ..Session::detached("lmtp", s)
    };
    let token = session.shutdown.clone();
    let task = tokio::spawn(super::session::run(conn, session));
    client
        .write_all(b"LHLO x\r\nMAIL FROM:<a@b>\r\nRCPT TO:<bob>\r\nDATA\r\nSubject: half\r\n")
        .await
        .unwrap();
    let mut got = Vec::new();
    let mut buf = [0u8; 1024];
    while !String::from_utf8_lossy(&got).contains("354 OK") {
        let n = client.read(&mut buf).await.unwrap();
        got.extend_from_slice(&buf[..n]);
    }
    token.cancel();
    task.await.unwrap();
    let mut rest = Vec::new();
    client.read_to_end(&mut rest).await.unwrap();
    assert_eq!(
        String::from_utf8_lossy(&rest),
        "421 4.3.2 Server shutting down\r\n"
    );
    let inbox = root.join("bob");
    assert!(!inbox.exists() || snapshot(inbox.clone()).messages.is_empty());
    if inbox.exists() {
        // No message file (the uidlist lock's template may be there).
        let messages = fs::read_dir(inbox.join("tmp"))
            .unwrap()
            .flatten()
            .filter(|e| !e.file_name().to_string_lossy().contains(".lock.tmp."))
            .count();
        assert_eq!(messages, 0);
    }
}

const UNIX: &str = r#"
import smtplib, sys
c = smtplib.LMTP(sys.argv[1])
print(c.sendmail("a@example.org", ["alice"], b"Subject: unix\r\n\r\nvia socket\r\n"))
c.quit()
"#;

#[tokio::test]
async fn unix_socket_listener_delivers_without_an_ip_in_received() {
    let root = temp_dir("lmtp-unix");
    let hub = TableAuth::hub_with(users(), false);
    let s = settings(&root, false);
    let svc = super::factory("lmtp", &s, &hub).unwrap();
    let path = root.join("lmtp.sock");
    let l = tokio::net::UnixListener::bind(&path).unwrap();
    tokio::spawn(async move {
        while let Ok((sock, _)) = l.accept().await {
            let conn = crate::net::Conn::new(
                crate::net::conn::Stream::new(crate::net::conn::Transport::Unix(sock)),
                "lmtp",
                "lmtp",
            );
            let session = Session {
                hub: hub.clone(),
                ..Session::detached("lmtp", s.clone())
            };
            tokio::spawn(svc.clone().serve(conn, session));
        }
    });
    let out = python(UNIX, &[path.to_str().unwrap()]).await;
    assert_eq!(out, "{}\n");
    let m = &read_all(&root.join("alice"))[0];
    let helo = m
        .lines()
        .find(|l| l.starts_with("Received: from "))
        .unwrap();
    assert!(!helo.contains("(["), "{m}");
    assert!(
        m.ends_with("Subject: unix\nvia socket\n") || m.ends_with("Subject: unix\n\nvia socket\n"),
        "{m}"
    );
}
