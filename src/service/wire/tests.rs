//! The shared reader over real loopback sockets: reads cancelled by a timer leave nothing
//! behind, an over-long line is reported once and its tail is never a line, the watch ends
//! waits (kick, shutdown, deadline), and output above `max_output` pauses input.

use std::sync::Arc;
use std::time::Duration;

use tokio::io::AsyncWriteExt;
use tokio::net::{TcpListener, TcpStream};
use tokio::time::Instant;

use super::*;
use crate::net::conn::{Stream, Transport};
use crate::settings::Settings;

async fn pair() -> (Wire, TcpStream) {
    let l = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let c = TcpStream::connect(l.local_addr().unwrap()).await.unwrap();
    let (s, _) = l.accept().await.unwrap();
    let conn = Conn::new(Stream::new(Transport::Tcp(s)), "test", "test");
    (Wire::new(conn), c)
}

fn session() -> Session {
    Session::detached("test", Arc::new(Settings::default()))
}

fn soon(ms: u64) -> Option<Instant> {
    Some(Instant::now() + Duration::from_millis(ms))
}

#[tokio::test]
async fn a_read_cancelled_by_a_timer_leaves_no_bytes_behind() {
    let (mut wire, mut c) = pair().await;
    let s = session();
    c.write_all(b"NO").await.unwrap();
    // Several ticks cancel the pending read while half a command is buffered.
    for _ in 0..5 {
        let r = wire.next_line(100, &Watch::new(&s, soon(30))).await;
        assert_eq!(r, Err(End::Timeout));
        assert!(wire.buffered().is_empty() || wire.buffered() == b"NO");
    }
    c.write_all(b"OP\r\n").await.unwrap();
    let line = wire.next_line(100, &Watch::new(&s, soon(5000))).await;
    assert_eq!(line, Ok(Ok(b"NOOP".to_vec())));
    assert!(wire.buffered().is_empty(), "{:?}", wire.buffered());
}

#[tokio::test]
async fn an_over_long_line_is_reported_once_and_its_tail_never_runs() {
    let (mut wire, mut c) = pair().await;
    let s = session();
    let w = Watch::new(&s, soon(5000));
    // Longer than one read, with a command at its end, then a real command.
    let mut attack = b"NOOP ".to_vec();
    attack.extend(std::iter::repeat_n(b'X', 40_000));
    attack.extend_from_slice(b"DELE 1\r\nNOOP\r\n");
    c.write_all(&attack).await.unwrap();
    assert_eq!(wire.next_line(8192, &w).await, Ok(Err(LineTooLong)));
    assert_eq!(wire.next_line(8192, &w).await, Ok(Ok(b"NOOP".to_vec())));

    // A complete over-long line inside one read: its tail is gone as well.
    c.write_all(b"0123456789ABCDEF\r\nQUIT\r\n").await.unwrap();
    assert_eq!(wire.next_line(10, &w).await, Ok(Err(LineTooLong)));
    assert_eq!(wire.next_line(10, &w).await, Ok(Ok(b"QUIT".to_vec())));

    // The tail arriving slowly, across reads, is still dropped.
    c.write_all(&[b'Y'; 20]).await.unwrap();
    assert_eq!(wire.next_line(10, &w).await, Ok(Err(LineTooLong)));
    for _ in 0..3 {
        c.write_all(b"RSET RSET").await.unwrap();
        let r = wire.next_line(10, &Watch::new(&s, soon(50))).await;
        assert_eq!(r, Err(End::Timeout));
    }
    c.write_all(b"\r\nSTAT\r\n").await.unwrap();
    assert_eq!(wire.next_line(10, &w).await, Ok(Ok(b"STAT".to_vec())));
}

#[tokio::test]
async fn kick_and_shutdown_end_a_wait() {
    let (mut wire, _c) = pair().await;
    let s = session();
    let k = s.kicked.clone();
    tokio::spawn(async move {
        tokio::time::sleep(Duration::from_millis(20)).await;
        k.cancel();
    });
    let r = wire.next_line(100, &Watch::new(&s, None)).await;
    assert_eq!(r, Err(End::Kicked));
    let s = session();
    s.shutdown.cancel();
    assert_eq!(wire.fill(&Watch::new(&s, None)).await, Err(End::Shutdown));
}

#[tokio::test]
async fn output_a_client_does_not_read_pauses_input_and_the_deadline_still_ends_it() {
    let (mut wire, mut c) = pair().await;
    let s = session();
    wire.max_output = 4096;
    c.write_all(b"CAPA\r\nCAPA\r\n").await.unwrap();
    let w = Watch::new(&s, soon(2000));
    assert_eq!(wire.next_line(100, &w).await, Ok(Ok(b"CAPA".to_vec())));
    // A reply far bigger than the socket buffers; the client reads nothing.
    wire.queue(&vec![b'x'; 64 << 20]);
    let started = Instant::now();
    let r = wire.next_line(100, &w).await;
    assert_eq!(
        r,
        Err(End::Timeout),
        "the next command must wait for the output"
    );
    assert!(started.elapsed() >= Duration::from_millis(1500));
    assert!(wire.pending_output() > 4096);
    assert_eq!(
        wire.buffered(),
        b"CAPA\r\n",
        "the second command was not taken"
    );
}
