//! The shell over real loopback sockets: a session panic ends only its connection, a failed
//! start-up closes the connection and throttles the service, a handoff is served in a slot.
//! Timing rules are tested on the machine (`state_tests.rs`); nothing here waits them out.

use std::sync::atomic::{AtomicU32, Ordering};
use std::sync::Arc;

use tokio::io::{AsyncReadExt, AsyncWriteExt};

use super::shell::WorkerPool;
use crate::net::{BoundListener, Conn, FrontDoor, ListenerKind, ListenerSpec, Stream, Transport};
use crate::runtime::{BoxFuture, Handoff, Hub, Service, ServiceError, Session};
use crate::settings::{Effective, ServiceType, Settings, SslMode, Time, WrappedSsl};

fn eff(process_limit: u32, client_limit: u32) -> Effective {
    Effective {
        process_limit,
        client_limit,
        service_count: 0,
        process_min_avail: 0,
        idle_kill: Time::NEVER,
        vsz_limit: 0,
    }
}

/// Echoes one byte, except that a `!` makes it panic.
struct Echo;
impl Service for Echo {
    fn serve(self: Arc<Self>, conn: Conn, _s: Session) -> BoxFuture<()> {
        Box::pin(async move {
            let mut stream = conn.stream;
            let mut b = [0u8; 1];
            while let Ok(1) = stream.read(&mut b).await {
                if b[0] == b'!' {
                    panic!("test panic");
                }
                let _ = stream.write_all(&b).await;
            }
        })
    }
}

/// Fails its first `fail` start-ups; then writes the handed-over user (or `ok`).
struct Flaky {
    fail: u32,
    tries: AtomicU32,
}
impl Service for Flaky {
    fn serve(self: Arc<Self>, conn: Conn, s: Session) -> BoxFuture<()> {
        Box::pin(async move {
            let mut stream = conn.stream;
            let text = s.handoff.map(|h| h.user.clone()).unwrap_or("ok".into());
            let _ = stream.write_all(text.as_bytes()).await;
        })
    }
    fn start_process(&self) -> BoxFuture<Result<(), ServiceError>> {
        let n = self.tries.fetch_add(1, Ordering::SeqCst);
        let fail = n < self.fail;
        Box::pin(async move {
            if fail {
                Err(ServiceError::Other("init failed".into()))
            } else {
                Ok(())
            }
        })
    }
}

fn spec(service: &str) -> ListenerSpec {
    ListenerSpec {
        service: service.to_string(),
        name: "t".into(),
        kind: ListenerKind::Inet {
            addr: "127.0.0.1:0".parse().unwrap(),
            ssl: false,
            haproxy: false,
            reuse_port: false,
        },
    }
}

/// A front door without TLS (no self-signed certificate written by parallel tests).
fn door() -> Arc<FrontDoor> {
    let mut s = Settings::default();
    s.core.ssl = WrappedSsl(SslMode::No);
    Arc::new(FrontDoor::new(Arc::new(s)).unwrap())
}

async fn listen(pool: &Arc<WorkerPool>) -> u16 {
    let l = Arc::new(BoundListener::bind(spec(&pool.name), 16).unwrap());
    let port = l.local_addr().unwrap().port();
    pool.start(vec![l], door());
    port
}

fn pool(name: &str, e: Effective, svc: Arc<dyn Service>) -> Arc<WorkerPool> {
    WorkerPool::new(
        name,
        e,
        ServiceType::Normal,
        svc,
        Arc::new(Settings::default()),
        Arc::new(Hub::default()),
    )
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_panic_ends_only_its_connection() {
    let p = pool("echo", eff(1, 10), Arc::new(Echo));
    let port = listen(&p).await;
    let mut good = tokio::net::TcpStream::connect(("127.0.0.1", port))
        .await
        .unwrap();
    let mut bad = tokio::net::TcpStream::connect(("127.0.0.1", port))
        .await
        .unwrap();
    let mut b = [0u8; 1];
    good.write_all(b"a").await.unwrap();
    good.read_exact(&mut b).await.unwrap();
    bad.write_all(b"!").await.unwrap();
    assert_eq!(
        bad.read(&mut b).await.unwrap_or(0),
        0,
        "panicking session is closed"
    );
    good.write_all(b"b").await.unwrap();
    good.read_exact(&mut b).await.unwrap();
    assert_eq!(
        &b, b"b",
        "the other session on the same virtual process lives on"
    );
    let st = p.status();
    assert_eq!(st.processes, 1);
    assert_eq!(st.clients, 1);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_failed_start_up_closes_the_connection_and_throttles() {
    let p = pool(
        "flaky",
        eff(2, 1),
        Arc::new(Flaky {
            fail: 1,
            tries: AtomicU32::new(0),
        }),
    );
    let port = listen(&p).await;
    let mut c = tokio::net::TcpStream::connect(("127.0.0.1", port))
        .await
        .unwrap();
    let mut buf = Vec::new();
    c.read_to_end(&mut buf).await.unwrap();
    assert!(buf.is_empty(), "closed without being served");
    let st = p.status();
    assert!(
        (1..=2).contains(&st.throttle_secs),
        "throttled for 2 s: {st:?}"
    );
    assert_eq!(st.processes, 0, "the failed process is gone");
    assert_eq!(st.processes_total, 1);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_handoff_is_served_in_a_slot_and_refused_after_stop() {
    let p = pool(
        "post",
        eff(1, 1),
        Arc::new(Flaky {
            fail: 0,
            tries: AtomicU32::new(0),
        }),
    );
    p.start(Vec::new(), door());
    let (mut client, server) = tokio::net::UnixStream::pair().unwrap();
    let conn = Conn::new(Stream::new(Transport::Unix(server)), "post", "handoff");
    let handoff = Handoff {
        user: "alice".into(),
        ..Handoff::default()
    };
    assert!(p.hand_over(conn, handoff).await.is_ok());
    let mut buf = Vec::new();
    client.read_to_end(&mut buf).await.unwrap();
    assert_eq!(buf, b"alice");
    assert_eq!(p.status().processes_total, 1);
    p.stop_accepting();
    let (_client, server) = tokio::net::UnixStream::pair().unwrap();
    let conn = Conn::new(Stream::new(Transport::Unix(server)), "post", "handoff");
    assert!(p.hand_over(conn, Handoff::default()).await.is_err());
}
