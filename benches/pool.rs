//! Pool benchmarks (divan): accept-to-first-byte latency through a real loopback listener and
//! the health-check service (connect, `PING`, first byte of `PONG`), and the per-connection
//! dispatch cost of a pool (reserve a slot, spawn the session, release) without sockets.
//!
//! Run: `cargo bench --bench pool`. Side-by-side with Dovecot 2.3's time-to-greeting, see
//! `benches/README.md`.

use std::io::{Read, Write};
use std::net::TcpStream;
use std::sync::{Arc, OnceLock};

use roost::master::WorkerPool;
use roost::net::{BoundListener, Conn, FrontDoor, ListenerKind, ListenerSpec, Stream, Transport};
use roost::runtime::{BoxFuture, Handoff, Hub, Service, Session};
use roost::settings::{Effective, ServiceType, Settings, Time};

fn main() {
    divan::main();
}

struct Fixture {
    rt: tokio::runtime::Runtime,
    port: u16,
    pool: Arc<WorkerPool>,
}

fn effective() -> Effective {
    Effective {
        process_limit: 4,
        client_limit: 1000,
        service_count: 0,
        process_min_avail: 1,
        idle_kill: Time::NEVER,
        vsz_limit: 0,
    }
}

/// A service that closes the connection at once (dispatch cost only).
struct Close;
impl Service for Close {
    fn serve(self: Arc<Self>, conn: Conn, _s: Session) -> BoxFuture<()> {
        Box::pin(async move { drop(conn) })
    }
}

fn fixture() -> &'static Fixture {
    static F: OnceLock<Fixture> = OnceLock::new();
    F.get_or_init(|| {
        let rt = tokio::runtime::Builder::new_multi_thread()
            .worker_threads(2)
            .enable_all()
            .build()
            .unwrap();
        let settings = Arc::new(Settings::default());
        let hub = Arc::new(Hub::default());
        let (port, pool) = rt.block_on(async {
            let spec = ListenerSpec {
                service: "health-check".into(),
                name: "hc".into(),
                kind: ListenerKind::Inet {
                    addr: "127.0.0.1:0".parse().unwrap(),
                    ssl: false,
                    haproxy: false,
                    reuse_port: false,
                },
            };
            let l = Arc::new(BoundListener::bind(spec, 4000).unwrap());
            let port = l.local_addr().unwrap().port();
            let svc =
                roost::service::health_check::factory("health-check", &settings, &hub).unwrap();
            let hc = WorkerPool::new(
                "health-check",
                effective(),
                ServiceType::Normal,
                svc,
                settings.clone(),
                hub.clone(),
            );
            hc.start(vec![l], Arc::new(FrontDoor::new(settings.clone()).unwrap()));
            let close = WorkerPool::new(
                "close",
                effective(),
                ServiceType::Normal,
                Arc::new(Close),
                settings.clone(),
                hub.clone(),
            );
            close.start(
                Vec::new(),
                Arc::new(FrontDoor::new(settings.clone()).unwrap()),
            );
            (port, close)
        });
        Fixture { rt, port, pool }
    })
}

/// New TCP connection → `PING` → first byte of the reply.
#[divan::bench(sample_count = 200)]
fn accept_to_first_byte(b: divan::Bencher) {
    let f = fixture();
    b.bench(|| {
        let mut s = TcpStream::connect(("127.0.0.1", f.port)).unwrap();
        s.set_nodelay(true).unwrap();
        s.write_all(b"PING\n").unwrap();
        let mut byte = [0u8; 1];
        s.read_exact(&mut byte).unwrap();
        assert_eq!(byte[0], b'P');
    });
}

/// Hand a connection to a pool and wait until its session has ended.
#[divan::bench(sample_count = 500)]
fn dispatch_one_connection(b: divan::Bencher) {
    let f = fixture();
    b.bench(|| {
        f.rt.block_on(async {
            let (a, mut peer) = tokio::net::UnixStream::pair().unwrap();
            let conn = Conn::new(Stream::new(Transport::Unix(a)), "close", "bench");
            if f.pool.hand_over(conn, Handoff::default()).await.is_err() {
                panic!("pool refused");
            }
            let mut buf = [0u8; 1];
            let n = tokio::io::AsyncReadExt::read(&mut peer, &mut buf)
                .await
                .unwrap();
            assert_eq!(n, 0);
        })
    });
}
