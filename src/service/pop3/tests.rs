//! POP3 transaction state through Python's poplib and raw pipelined commands, on a Maildir
//! filled by the store; the session is entered as if pop3-login had handed it over.

use std::path::Path;
use std::sync::Arc;

use crate::mail::maildir::{Flags, Maildir};
use crate::runtime::Handoff;
use crate::service::login::testkit::{python, serve_tcp_with, temp_dir, TableAuth};
use crate::settings::Settings;

const MESSAGES: [&[u8]; 3] = [
    b"From: a@b\nSubject: one\n\nbody line\n.dot\n",
    b"Subject: two\n\nx\n",
    b"Subject: three\n\nno final newline",
];

fn fill(root: &Path) -> Maildir {
    let inbox = root.join("bob");
    let m = Maildir::open(&inbox, &inbox, true, true, "h").unwrap();
    for msg in MESSAGES {
        m.deliver(msg, &Flags::default()).unwrap();
    }
    m
}

async fn start(root: &Path, lock: bool) -> std::net::SocketAddr {
    start_with(root, |s| s.mail.pop3_lock_session = lock).await
}

async fn start_with(root: &Path, tweak: impl FnOnce(&mut Settings)) -> std::net::SocketAddr {
    let mut s = Settings::default();
    s.mail.mail_location = format!("maildir:{}/%n", root.display());
    tweak(&mut s);
    let s = Arc::new(s);
    let hub = TableAuth::hub_with(Vec::new(), false);
    let svc = super::factory("pop3", &s, &hub).unwrap();
    let h = Arc::new(Handoff {
        user: "bob".into(),
        ..Default::default()
    });
    serve_tcp_with(svc, "pop3", s, hub, None, Some(h)).await
}

const POPLIB: &str = r#"
import poplib, sys
p = poplib.POP3("127.0.0.1", int(sys.argv[1]))
print(p.getwelcome().decode())
print(p.stat())
print(p.list()[1])
print(p.uidl()[1])
for i in (1, 2, 3):
    resp, lines, octets = p.retr(i)
    print(resp.decode(), octets, lines)
print(p.top(1, 0)[1])
print(p.dele(2).decode())
print(p.stat())
print(p.quit().decode())
"#;

#[tokio::test]
async fn poplib_sees_exact_sizes_uidls_and_bytes_and_quit_commits() {
    let root = temp_dir("pop3-poplib");
    let m = fill(&root);
    let snap = m.sync().unwrap();
    let addr = start(&root, false).await;
    let out = python(POPLIB, &[&addr.port().to_string()]).await;
    let l: Vec<&str> = out.lines().collect();
    let uv = snap.uid_validity;
    assert_eq!(l[0], "+OK Logged in.");
    assert_eq!(l[1], "(3, 97)");
    assert_eq!(l[2], "[b'1 44', b'2 19', b'3 34']");
    assert_eq!(
        l[3],
        format!("[b'1 00000001{uv:08x}', b'2 00000002{uv:08x}', b'3 00000003{uv:08x}']")
    );
    assert_eq!(
        l[4],
        "+OK 44 octets 44 [b'From: a@b', b'Subject: one', b'', b'body line', b'.dot']"
    );
    assert_eq!(l[5], "+OK 19 octets 19 [b'Subject: two', b'', b'x']");
    // The stored message lacks its final newline: the octet count is its CRLF size (as
    // Dovecot reports it) and the CRLF added before the final dot is what poplib counts extra.
    assert_eq!(
        l[6],
        "+OK 34 octets 36 [b'Subject: three', b'', b'no final newline']"
    );
    assert_eq!(l[7], "[b'From: a@b', b'Subject: one', b'']");
    assert_eq!(l[8], "+OK Marked to be deleted.");
    assert_eq!(l[9], "(2, 78)");
    assert_eq!(l[10], "+OK Logging out, messages deleted.");
    let after = m.sync().unwrap();
    assert_eq!(
        after.messages.iter().map(|e| e.uid).collect::<Vec<_>>(),
        [1, 3]
    );
    assert!(after.messages.iter().all(|e| e.flags.has(Flags::SEEN)));
}

async fn raw(addr: std::net::SocketAddr, send: &[u8], until: &str) -> String {
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    let mut s = tokio::net::TcpStream::connect(addr).await.unwrap();
    s.write_all(send).await.unwrap();
    let mut got = Vec::new();
    let mut buf = [0u8; 8192];
    while !String::from_utf8_lossy(&got).contains(until) {
        let n = tokio::time::timeout(std::time::Duration::from_secs(10), s.read(&mut buf))
            .await
            .expect("reply in time")
            .unwrap();
        if n == 0 {
            break;
        }
        got.extend_from_slice(&buf[..n]);
    }
    String::from_utf8(got).unwrap()
}

#[tokio::test]
async fn errors_rset_and_disconnect_without_quit_change_nothing() {
    let root = temp_dir("pop3-raw");
    let m = fill(&root);
    let addr = start(&root, false).await;
    let out = raw(
        addr,
        b"LIST 9\r\nRETR x\r\nRETR\r\nDELE 1\r\nDELE 1\r\nLIST 1\r\nSTAT\r\nRSET\r\nSTAT\r\nFOO\r\nCAPA\r\nDELE 3\r\nNOOP\r\n",
        "AUTH-RESP-CODE\r\n.\r\n+OK Marked to be deleted.\r\n+OK\r\n",
    )
    .await;
    assert_eq!(
        out,
        "+OK Logged in.\r\n-ERR There's no message 9.\r\n-ERR Invalid message number: x\r\n\
-ERR Invalid message number: \r\n+OK Marked to be deleted.\r\n-ERR Message is deleted.\r\n\
-ERR Message is deleted.\r\n+OK 2 53\r\n+OK\r\n+OK 3 97\r\n-ERR Unknown command: FOO\r\n\
+OK\r\nCAPA\r\nTOP\r\nUIDL\r\nRESP-CODES\r\nPIPELINING\r\nAUTH-RESP-CODE\r\n.\r\n\
+OK Marked to be deleted.\r\n+OK\r\n"
    );
    // Dropped without QUIT: nothing deleted.
    tokio::time::sleep(std::time::Duration::from_millis(100)).await;
    assert_eq!(m.sync().unwrap().messages.len(), 3);
}

#[tokio::test]
async fn pop3_lock_session_refuses_a_second_session() {
    let root = temp_dir("pop3-lock");
    fill(&root);
    let addr = start(&root, true).await;
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    let mut first = tokio::net::TcpStream::connect(addr).await.unwrap();
    let mut buf = [0u8; 256];
    let n = first.read(&mut buf).await.unwrap();
    assert_eq!(&buf[..n], b"+OK Logged in.\r\n");
    let second = raw(addr, b"", "\r\n").await;
    assert_eq!(
        second,
        "-ERR [IN-USE] Mailbox is locked by another POP3 session.\r\n"
    );
    first.write_all(b"QUIT\r\n").await.unwrap();
    let n = first.read(&mut buf).await.unwrap();
    assert_eq!(&buf[..n], b"+OK Logging out.\r\n");
    tokio::time::sleep(std::time::Duration::from_millis(50)).await;
    let third = raw(addr, b"QUIT\r\n", "Logging out").await;
    assert!(third.starts_with("+OK Logged in."), "{third}");
}

#[tokio::test]
async fn pop3_no_flag_updates_leaves_retrieved_messages_unseen() {
    let root = temp_dir("pop3-noflags");
    let m = fill(&root);
    let addr = start_with(&root, |s| s.mail.pop3_no_flag_updates = true).await;
    let out = raw(addr, b"RETR 1\r\nQUIT\r\n", "Logging out.").await;
    assert!(out.contains("+OK 44 octets\r\n"), "{out}");
    tokio::time::sleep(std::time::Duration::from_millis(50)).await;
    assert!(m
        .sync()
        .unwrap()
        .messages
        .iter()
        .all(|e| !e.flags.has(Flags::SEEN)));
}

#[tokio::test]
async fn custom_uidl_format() {
    let root = temp_dir("pop3-uidlfmt");
    let m = fill(&root);
    let addr = start_with(&root, |s| s.mail.pop3_uidl_format = "%v.%u".into()).await;
    let uv = m.sync().unwrap().uid_validity;
    let out = raw(addr, b"UIDL 2\r\nQUIT\r\n", "Logging out.").await;
    assert!(out.contains(&format!("+OK 2 {uv}.2\r\n")), "{out}");
}

#[tokio::test]
async fn out_of_order_retr_returns_the_right_messages_despite_read_ahead() {
    let root = temp_dir("pop3-order");
    fill(&root);
    let addr = start(&root, false).await;
    let out = raw(
        addr,
        b"RETR 2\r\nRETR 1\r\nDELE 3\r\nRETR 3\r\nRETR 2\r\nQUIT\r\n",
        "Logging out",
    )
    .await;
    assert_eq!(
        out,
        "+OK Logged in.\r\n+OK 19 octets\r\nSubject: two\r\n\r\nx\r\n.\r\n\
+OK 44 octets\r\nFrom: a@b\r\nSubject: one\r\n\r\nbody line\r\n..dot\r\n.\r\n\
+OK Marked to be deleted.\r\n-ERR Message is deleted.\r\n\
+OK 19 octets\r\nSubject: two\r\n\r\nx\r\n.\r\n+OK Logging out, messages deleted.\r\n"
    );
}

/// A session with short timers (lock touch, autologout) and `pop3_lock_session`.
async fn start_timed(root: &Path, timers: super::session::Pop3Timers) -> std::net::SocketAddr {
    let mut s = Settings::default();
    s.mail.mail_location = format!("maildir:{}/%n", root.display());
    s.mail.pop3_lock_session = true;
    let s = Arc::new(s);
    let hub = TableAuth::hub_with(Vec::new(), false);
    hub.insert(Arc::new(timers));
    let svc = super::factory("pop3", &s, &hub).unwrap();
    let h = Arc::new(Handoff {
        user: "bob".into(),
        ..Default::default()
    });
    serve_tcp_with(svc, "pop3", s, hub, None, Some(h)).await
}

async fn read_line(c: &mut tokio::net::TcpStream) -> String {
    use tokio::io::AsyncReadExt;
    let mut got = Vec::new();
    let mut b = [0u8; 1];
    while !got.ends_with(b"\r\n") {
        let n = tokio::time::timeout(std::time::Duration::from_secs(10), c.read(&mut b))
            .await
            .expect("a line within 10 s")
            .unwrap();
        assert_eq!(n, 1, "closed after {:?}", String::from_utf8_lossy(&got));
        got.push(b[0]);
    }
    String::from_utf8(got).unwrap()
}

#[tokio::test]
async fn a_command_split_across_the_lock_tick_runs_and_autologout_ends_the_idle_session() {
    use std::time::Duration;
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    let root = temp_dir("pop3-tick");
    fill(&root);
    let autologout = Duration::from_millis(1500);
    let addr = start_timed(
        &root,
        super::session::Pop3Timers {
            autologout,
            lock_touch: Duration::from_millis(100),
        },
    )
    .await;
    let mut c = tokio::net::TcpStream::connect(addr).await.unwrap();
    assert_eq!(read_line(&mut c).await, "+OK Logged in.\r\n");
    // Half a command, then several lock ticks, then the rest: one reply, no spurious error.
    c.write_all(b"NO").await.unwrap();
    tokio::time::sleep(Duration::from_millis(450)).await;
    c.write_all(b"OP\r\n").await.unwrap();
    assert_eq!(read_line(&mut c).await, "+OK\r\n");
    let idle_from = std::time::Instant::now();
    // Idle (the ticks keep coming): the next and last thing is the autologout.
    let mut rest = Vec::new();
    tokio::time::timeout(Duration::from_secs(20), c.read_to_end(&mut rest))
        .await
        .expect("autologout must end the idle session")
        .unwrap();
    assert_eq!(
        String::from_utf8_lossy(&rest),
        "-ERR Disconnected for inactivity.\r\n"
    );
    assert!(
        idle_from.elapsed() >= autologout - Duration::from_millis(100),
        "logged out before the autologout time: {:?}",
        idle_from.elapsed()
    );
}

#[tokio::test]
async fn an_over_long_line_is_refused_once_its_tail_never_runs_and_the_session_ends() {
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    let root = temp_dir("pop3-longline");
    let m = fill(&root);
    let addr = start(&root, false).await;
    let mut c = tokio::net::TcpStream::connect(addr).await.unwrap();
    assert_eq!(read_line(&mut c).await, "+OK Logged in.\r\n");
    let mut attack = b"NOOP ".to_vec();
    attack.extend(std::iter::repeat_n(b'X', 16_379));
    attack.extend_from_slice(b"DELE 1\r\nQUIT\r\n");
    c.write_all(&attack).await.unwrap();
    let mut rest = Vec::new();
    let _ = tokio::time::timeout(std::time::Duration::from_secs(10), c.read_to_end(&mut rest))
        .await
        .expect("the session ends");
    // Dovecot's answer, then the connection closes: no DELE, no QUIT.
    assert_eq!(
        String::from_utf8_lossy(&rest),
        "-ERR Input line too long.\r\n"
    );
    assert_eq!(m.sync().unwrap().messages.len(), 3);
}
