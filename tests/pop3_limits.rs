//! Limits through real protocols on the master's real pools (`WorkerPool` + listener): LMTP
//! with process_limit=1 client_limit=1 greets a second client only after the first quits;
//! pop3-login with process_limit=1 client_limit=2 kicks the oldest pre-auth client with
//! `-ERR Connection queue full` and greets the newcomer; a full pop3 pool makes an
//! authenticated client wait for `+OK Logged in.` instead of failing; with
//! mail_max_userip_connections=2 the third session of one user from one address is refused.

mod common;

use std::sync::Arc;
use std::time::Duration;

use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;

use common::TempDir;
use roost::master::WorkerPool;
use roost::net::{BoundListener, Conn, FrontDoor, ListenerKind, ListenerSpec};
use roost::runtime::{BoxFuture, Handoff, Hub, Service};
use roost::runtime::{HandoffError, PostLogin, PostLoginHandle};
use roost::service::auth::api::{
    AuthApi, AuthHandle, BeginError, ClientInfo, Exchange, Step, UserLookup,
};
use roost::settings::{Effective, ServiceType, Settings, Time};

/// `bob`/`pass` over PLAIN; every user exists for userdb lookups.
struct Auth;

struct Plain;

impl Exchange for Plain {
    fn step(&mut self, response: Option<Vec<u8>>) -> BoxFuture<Step> {
        let ok = response.as_deref() == Some(b"\0bob\0pass");
        Box::pin(async move {
            if ok {
                Step::Success {
                    user: "bob".into(),
                    fields: Vec::new(),
                    final_data: None,
                }
            } else {
                Step::Fail {
                    user: None,
                    code: roost::service::auth::fail_code::FailCode::None,
                    reason: None,
                }
            }
        })
    }
}

impl AuthApi for Auth {
    fn mechanisms(&self, _secured: bool) -> Vec<String> {
        vec!["PLAIN".into()]
    }
    fn begin(&self, m: &str, _i: ClientInfo) -> Result<Box<dyn Exchange>, BeginError> {
        if m.eq_ignore_ascii_case("PLAIN") {
            Ok(Box::new(Plain))
        } else {
            Err(BeginError::UnknownMechanism)
        }
    }
    fn lookup_user(&self, user: &str, _i: ClientInfo) -> BoxFuture<UserLookup> {
        let r = UserLookup::Found {
            user: user.to_string(),
            fields: Vec::new(),
        };
        Box::pin(async move { r })
    }
}

/// Hands over to one pool, as the master's `Pools` does.
struct ToPool(Arc<WorkerPool>);

impl PostLogin for ToPool {
    fn hand_over(
        &self,
        service: &str,
        conn: Conn,
        handoff: Handoff,
    ) -> BoxFuture<Result<(), (HandoffError, Option<Conn>)>> {
        let pool = self.0.clone();
        let service = service.to_string();
        Box::pin(async move {
            pool.hand_over(conn, handoff)
                .await
                .map_err(|c| (HandoffError::Unavailable(service), Some(c)))
        })
    }
}

fn limits(process_limit: u32, client_limit: u32) -> Effective {
    Effective {
        process_limit,
        client_limit,
        service_count: 0,
        process_min_avail: 0,
        idle_kill: Time::NEVER,
        vsz_limit: 0,
    }
}

struct World {
    /// Holds the Maildirs.
    _mail: TempDir,
    settings: Arc<Settings>,
    hub: Arc<Hub>,
    door: Arc<FrontDoor>,
}

fn world(tag: &str) -> World {
    world_with(tag, |_| {})
}

fn world_with(tag: &str, tweak: impl FnOnce(&mut Settings)) -> World {
    let mut s = Settings::default();
    tweak(&mut s);
    let mail = TempDir::new(&format!("limits-{tag}"));
    s.mail.mail_location = format!("maildir:{}/%n", mail.path().display());
    s.mail.hostname = "limits.test".into();
    let settings = Arc::new(s);
    let hub = Arc::new(Hub::default());
    hub.insert(Arc::new(AuthHandle(Arc::new(Auth))));
    let door = Arc::new(FrontDoor::new(settings.clone()).unwrap());
    World {
        _mail: mail,
        settings,
        hub,
        door,
    }
}

/// Starts a pool for `svc` on a fresh loopback port (or no listener).
fn pool(
    w: &World,
    name: &str,
    kind: ServiceType,
    eff: Effective,
    svc: Arc<dyn Service>,
    listen: bool,
) -> (Arc<WorkerPool>, u16) {
    let p = WorkerPool::new(name, eff, kind, svc, w.settings.clone(), w.hub.clone());
    if !listen {
        p.start(Vec::new(), w.door.clone());
        return (p, 0);
    }
    let spec = ListenerSpec {
        service: name.into(),
        name: name.into(),
        kind: ListenerKind::Inet {
            addr: "127.0.0.1:0".parse().unwrap(),
            ssl: false,
            haproxy: false,
            reuse_port: false,
        },
    };
    let l = Arc::new(BoundListener::bind(spec, 16).unwrap());
    let port = l.local_addr().unwrap().port();
    p.start(vec![l], w.door.clone());
    (p, port)
}

async fn read_until(c: &mut TcpStream, until: &str, within: Duration) -> Option<String> {
    let mut got = Vec::new();
    let mut buf = [0u8; 1024];
    let deadline = tokio::time::Instant::now() + within;
    while !String::from_utf8_lossy(&got).contains(until) {
        match tokio::time::timeout_at(deadline, c.read(&mut buf)).await {
            Ok(Ok(n)) if n > 0 => got.extend_from_slice(&buf[..n]),
            _ => return None,
        }
    }
    Some(String::from_utf8(got).unwrap())
}

const WAIT: Duration = Duration::from_secs(10);
const QUIET: Duration = Duration::from_millis(500);

#[tokio::test]
async fn lmtp_second_client_is_greeted_only_after_the_first_quits() {
    let w = world("lmtp");
    let svc = roost::service::lmtp::factory("lmtp", &w.settings, &w.hub).unwrap();
    let (_p, port) = pool(&w, "lmtp", ServiceType::Normal, limits(1, 1), svc, true);
    let mut a = TcpStream::connect(("127.0.0.1", port)).await.unwrap();
    assert!(read_until(&mut a, "220 limits.test", WAIT).await.is_some());
    let mut b = TcpStream::connect(("127.0.0.1", port)).await.unwrap();
    assert_eq!(
        read_until(&mut b, "220", QUIET).await,
        None,
        "B greeted while A holds the slot"
    );
    a.write_all(b"QUIT\r\n").await.unwrap();
    assert!(read_until(&mut a, "221 2.0.0 Bye", WAIT).await.is_some());
    assert!(read_until(&mut b, "220 limits.test", WAIT).await.is_some());
}

#[tokio::test]
async fn pop3_login_full_kicks_the_oldest_pre_auth_client() {
    let w = world("kick");
    let svc = roost::service::pop3_login::factory("pop3-login", &w.settings, &w.hub).unwrap();
    let (_p, port) = pool(
        &w,
        "pop3-login",
        ServiceType::Login,
        limits(1, 2),
        svc,
        true,
    );
    let mut a = TcpStream::connect(("127.0.0.1", port)).await.unwrap();
    assert!(read_until(&mut a, "+OK Dovecot ready.", WAIT)
        .await
        .is_some());
    let mut b = TcpStream::connect(("127.0.0.1", port)).await.unwrap();
    assert!(read_until(&mut b, "+OK Dovecot ready.", WAIT)
        .await
        .is_some());
    let mut c = TcpStream::connect(("127.0.0.1", port)).await.unwrap();
    assert_eq!(
        read_until(&mut a, "\r\n", WAIT).await.as_deref(),
        Some("-ERR Connection queue full\r\n")
    );
    assert!(read_until(&mut c, "+OK Dovecot ready.", WAIT)
        .await
        .is_some());
    // B, younger than A, was left alone.
    b.write_all(b"CAPA\r\n").await.unwrap();
    assert!(read_until(&mut b, "\r\n.\r\n", WAIT).await.is_some());
}

#[tokio::test]
async fn full_pop3_pool_makes_the_authenticated_client_wait() {
    let w = world("wait");
    let pop3 = roost::service::pop3::factory("pop3", &w.settings, &w.hub).unwrap();
    let (pop3_pool, _) = pool(&w, "pop3", ServiceType::Normal, limits(1, 1), pop3, false);
    w.hub
        .insert(Arc::new(PostLoginHandle(Arc::new(ToPool(pop3_pool)))));
    let login = roost::service::pop3_login::factory("pop3-login", &w.settings, &w.hub).unwrap();
    let (_p, port) = pool(
        &w,
        "pop3-login",
        ServiceType::Login,
        limits(1, 10),
        login,
        true,
    );
    let mut a = TcpStream::connect(("127.0.0.1", port)).await.unwrap();
    a.write_all(b"USER bob\r\nPASS pass\r\n").await.unwrap();
    assert!(read_until(&mut a, "+OK Logged in.", WAIT).await.is_some());
    let mut b = TcpStream::connect(("127.0.0.1", port)).await.unwrap();
    b.write_all(b"USER bob\r\nPASS pass\r\n").await.unwrap();
    let got = read_until(&mut b, "Logged in.", QUIET).await;
    assert_eq!(got, None, "B must wait while the pop3 pool is full");
    a.write_all(b"QUIT\r\n").await.unwrap();
    assert!(read_until(&mut a, "+OK Logging out.", WAIT).await.is_some());
    assert!(read_until(&mut b, "+OK Logged in.", WAIT).await.is_some());
}

#[tokio::test]
async fn third_session_of_one_user_and_ip_is_refused() {
    let w = world_with("userip", |s| s.mail.mail_max_userip_connections = 2);
    let pop3 = roost::service::pop3::factory("pop3", &w.settings, &w.hub).unwrap();
    let (pop3_pool, _) = pool(&w, "pop3", ServiceType::Normal, limits(10, 10), pop3, false);
    w.hub
        .insert(Arc::new(PostLoginHandle(Arc::new(ToPool(pop3_pool)))));
    let login = roost::service::pop3_login::factory("pop3-login", &w.settings, &w.hub).unwrap();
    let (_p, port) = pool(
        &w,
        "pop3-login",
        ServiceType::Login,
        limits(1, 10),
        login,
        true,
    );
    let mut sessions = Vec::new();
    for _ in 0..2 {
        let mut c = TcpStream::connect(("127.0.0.1", port)).await.unwrap();
        c.write_all(b"USER bob\r\nPASS pass\r\n").await.unwrap();
        assert!(read_until(&mut c, "+OK Logged in.", WAIT).await.is_some());
        sessions.push(c);
    }
    let mut third = TcpStream::connect(("127.0.0.1", port)).await.unwrap();
    third.write_all(b"USER bob\r\nPASS pass\r\n").await.unwrap();
    let t = read_until(&mut third, "exceeded", WAIT).await.unwrap();
    assert!(t.ends_with(
        "-ERR [IN-USE] Maximum number of connections from user+IP exceeded (mail_max_userip_connections=2)\r\n"
    ), "{t}");
    // One session ends: the slot is free again.
    sessions[0].write_all(b"QUIT\r\n").await.unwrap();
    assert!(read_until(&mut sessions[0], "Logging out", WAIT)
        .await
        .is_some());
    tokio::time::sleep(Duration::from_millis(100)).await;
    let mut again = TcpStream::connect(("127.0.0.1", port)).await.unwrap();
    again.write_all(b"USER bob\r\nPASS pass\r\n").await.unwrap();
    assert!(read_until(&mut again, "+OK Logged in.", WAIT)
        .await
        .is_some());
}
