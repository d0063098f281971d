//! Test-only helpers: an `AuthApi` backed by a fixed user table (PLAIN and LOGIN), and a TCP
//! front door that serves a `Service` on a loopback port the way the master would.

use std::net::SocketAddr;
use std::sync::Arc;

use std::time::Duration;

use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpListener, TcpStream};

use crate::net::conn::{is_loopback_to_self, Stream, Transport};
use crate::net::Conn;
use crate::runtime::{BoxFuture, Hub, Service, Session};
use crate::service::auth::api::{
    AuthApi, AuthHandle, BeginError, ClientInfo, Exchange, Step, UserLookup,
};
use crate::settings::Settings;

/// user, password, userdb fields.
#[derive(Clone)]
pub struct User {
    pub name: String,
    pub pass: String,
    pub fields: Vec<(String, String)>,
}

pub struct TableAuth {
    pub users: Vec<User>,
    /// Mimics `disable_plaintext_auth = yes`: no plaintext mechanisms unless secured.
    pub plaintext_needs_secured: bool,
}

impl TableAuth {
    pub fn hub_with(users: Vec<User>, plaintext_needs_secured: bool) -> Arc<Hub> {
        let hub = Arc::new(Hub::default());
        hub.insert(Arc::new(AuthHandle(Arc::new(TableAuth {
            users,
            plaintext_needs_secured,
        }))));
        hub
    }

    fn find(&self, name: &str) -> Option<&User> {
        self.users.iter().find(|u| u.name == name)
    }
}

struct Plain {
    users: Vec<User>,
    login: bool,
    login_user: Option<String>,
}

impl Exchange for Plain {
    fn step(&mut self, response: Option<Vec<u8>>) -> BoxFuture<Step> {
        let users = self.users.clone();
        let out = if self.login {
            match (response, self.login_user.take()) {
                (None, None) => Step::Continue(b"Username:".to_vec()),
                (Some(u), None) => {
                    self.login_user = Some(String::from_utf8_lossy(&u).into_owned());
                    Step::Continue(b"Password:".to_vec())
                }
                (Some(p), Some(u)) => check(&users, &u, &String::from_utf8_lossy(&p)),
                (None, Some(_)) => fail(None),
            }
        } else {
            match response {
                None => Step::Continue(Vec::new()),
                Some(r) => {
                    let parts: Vec<&[u8]> = r.split(|&b| b == 0).collect();
                    if parts.len() != 3 {
                        fail(None)
                    } else {
                        check(
                            &users,
                            &String::from_utf8_lossy(parts[1]),
                            &String::from_utf8_lossy(parts[2]),
                        )
                    }
                }
            }
        };
        Box::pin(async move { out })
    }
}

fn fail(user: Option<String>) -> Step {
    Step::Fail {
        user,
        code: crate::service::auth::fail_code::FailCode::None,
        reason: None,
    }
}

fn check(users: &[User], user: &str, pass: &str) -> Step {
    match users.iter().find(|u| u.name == user && u.pass == pass) {
        Some(u) => Step::Success {
            user: u.name.clone(),
            fields: u.fields.clone(),
            final_data: None,
        },
        None => fail(Some(user.to_string())),
    }
}

impl AuthApi for TableAuth {
    fn mechanisms(&self, secured: bool) -> Vec<String> {
        if self.plaintext_needs_secured && !secured {
            Vec::new()
        } else {
            vec!["PLAIN".into(), "LOGIN".into()]
        }
    }

    fn begin(&self, mechanism: &str, info: ClientInfo) -> Result<Box<dyn Exchange>, BeginError> {
        let m = mechanism.to_ascii_uppercase();
        if m != "PLAIN" && m != "LOGIN" {
            return Err(BeginError::UnknownMechanism);
        }
        if self.plaintext_needs_secured && !info.secured {
            return Err(BeginError::PlaintextDisabled);
        }
        Ok(Box::new(Plain {
            users: self.users.clone(),
            login: m == "LOGIN",
            login_user: None,
        }))
    }

    fn lookup_user(&self, user: &str, _info: ClientInfo) -> BoxFuture<UserLookup> {
        let r = match self.find(user) {
            Some(u) => UserLookup::Found {
                user: u.name.clone(),
                fields: u.fields.clone(),
            },
            None => UserLookup::NotFound,
        };
        Box::pin(async move { r })
    }
}

/// Serves `svc` on a fresh loopback port; every connection gets a detached session sharing
/// `hub`, with `service`/`listener` names as given. Returns the address.
pub async fn serve_tcp(
    svc: Arc<dyn Service>,
    service: &str,
    settings: Arc<Settings>,
    hub: Arc<Hub>,
    tls: Option<tokio_rustls::TlsAcceptor>,
) -> SocketAddr {
    serve_tcp_with(svc, service, settings, hub, tls, None).await
}

/// A TLS acceptor with a fresh self-signed certificate for `localhost`.
pub fn test_tls() -> tokio_rustls::TlsAcceptor {
    use tokio_rustls::rustls;
    let ck = rcgen::generate_simple_self_signed(vec!["localhost".to_string()]).unwrap();
    let key = rustls_pki_types::PrivateKeyDer::Pkcs8(ck.signing_key.serialize_der().into());
    let cfg = rustls::ServerConfig::builder_with_provider(Arc::new(
        rustls::crypto::ring::default_provider(),
    ))
    .with_safe_default_protocol_versions()
    .unwrap()
    .with_no_client_auth()
    .with_single_cert(vec![ck.cert.der().clone()], key)
    .unwrap();
    tokio_rustls::TlsAcceptor::from(Arc::new(cfg))
}

/// Whether connections count as secured: loopback does, unless a test says otherwise.
pub static INSECURE_PORTS: std::sync::Mutex<Vec<u16>> = std::sync::Mutex::new(Vec::new());

/// Ports whose connections start with a TLS handshake (pop3s, lmtps), as the net layer does
/// for `ssl = yes` listeners.
pub static IMPLICIT_TLS_PORTS: std::sync::Mutex<Vec<u16>> = std::sync::Mutex::new(Vec::new());

/// As [`serve_tcp`], with a handoff on every session (a post-login service under test).
pub async fn serve_tcp_with(
    svc: Arc<dyn Service>,
    service: &str,
    settings: Arc<Settings>,
    hub: Arc<Hub>,
    tls: Option<tokio_rustls::TlsAcceptor>,
    handoff: Option<Arc<crate::runtime::Handoff>>,
) -> SocketAddr {
    let l = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = l.local_addr().unwrap();
    let service = service.to_string();
    tokio::spawn(async move {
        loop {
            let Ok((s, peer)) = l.accept().await else {
                return;
            };
            let local = s.local_addr().ok();
            let mut conn = Conn::new(Stream::new(Transport::Tcp(s)), &service, &service);
            conn.remote = Some(peer);
            conn.local = local;
            conn.real_remote = Some(peer);
            conn.real_local = local;
            let insecure = INSECURE_PORTS.lock().unwrap().contains(&addr.port());
            conn.secured = !insecure && is_loopback_to_self(Some(peer), local);
            conn.starttls = tls.clone();
            let session = Session {
                hub: hub.clone(),
                handoff: handoff.clone(),
                ..Session::detached(&service, settings.clone())
            };
            let implicit = IMPLICIT_TLS_PORTS.lock().unwrap().contains(&addr.port());
            let svc = svc.clone();
            tokio::spawn(async move {
                if implicit {
                    conn = match conn.starttls().await {
                        Ok(c) => c,
                        Err(_) => return,
                    };
                    conn.starttls = None;
                }
                svc.serve(conn, session).await
            });
        }
    });
    addr
}

/// Runs `python3 -c SCRIPT ARGS…`; panics (fails the test) when python3 is missing or the
/// script fails. Returns stdout.
pub async fn python(script: &str, args: &[&str]) -> String {
    let out = tokio::process::Command::new("python3")
        .arg("-c")
        .arg(script)
        .args(args)
        .output()
        .await
        .expect("python3 must be installed for this test");
    assert!(
        out.status.success(),
        "python failed: {}\n{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8_lossy(&out.stdout).into_owned()
}

/// A temp directory unique to this test. The first call in a test process also removes what
/// earlier runs left behind (unit tests keep their directories for the process's lifetime).
pub fn temp_dir(tag: &str) -> std::path::PathBuf {
    static SWEEP: std::sync::Once = std::sync::Once::new();
    SWEEP.call_once(sweep_leftovers);
    let d = std::env::temp_dir().join(format!("roost-{tag}-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&d);
    std::fs::create_dir_all(&d).unwrap();
    d
}

/// Removes `roost-…` entries of the temp dir named after a process that is gone: every number
/// in the name (`roost-TAG-PID`, `roost-TAG-PID-N`) is checked, and an entry is kept while any
/// of them is a live process, so a test run going on beside this one keeps its directories.
pub fn sweep_leftovers() {
    let tmp = std::env::temp_dir();
    let Ok(entries) = std::fs::read_dir(&tmp) else {
        return;
    };
    for e in entries.flatten() {
        let name = e.file_name().to_string_lossy().into_owned();
        let Some(rest) = name.strip_prefix("roost-") else {
            continue;
        };
        let pids: Vec<u32> = rest
            .split(['-', '.'])
            .filter_map(|p| p.parse().ok())
            .filter(|&n| n > 1)
            .collect();
        let alive = |pid: &u32| std::path::Path::new(&format!("/proc/{pid}")).exists();
        if pids.is_empty() || pids.iter().any(alive) {
            continue;
        }
        let p = e.path();
        let _ = if p.is_dir() {
            std::fs::remove_dir_all(&p)
        } else {
            std::fs::remove_file(&p)
        };
    }
}

/// A login service serving a loopback port and handing logged-in clients straight to its
/// post-login service (no pool), for user `bob`/`pass` whose INBOX holds `first` and a
/// second message `Subject: two`.
pub struct LoginSetup {
    pub addr: SocketAddr,
    pub inbox: crate::mail::maildir::Maildir,
    /// bob's Maildir (also his home).
    pub home: std::path::PathBuf,
    pub hub: Arc<Hub>,
    pub settings: Arc<Settings>,
}

/// One service by name and factory (`("imap", service::imap::factory)`).
pub type Named = (&'static str, crate::runtime::ServiceFactory);

/// Starts `login` handing over to `post` (see [`LoginSetup`]); `tweak` edits the settings,
/// `plaintext_needs_secured` is the auth table's policy, `tls` makes the port implicit TLS.
pub async fn login_setup(
    tag: &str,
    login: Named,
    post: Named,
    first: &[u8],
    tweak: impl FnOnce(&mut Settings),
    plaintext_needs_secured: bool,
    tls: bool,
) -> LoginSetup {
    use crate::mail::maildir::{Flags, Maildir};
    let root = temp_dir(tag);
    let mut s = Settings::default();
    s.mail.mail_location = format!("maildir:{}/%n", root.display());
    tweak(&mut s);
    let s = Arc::new(s);
    let users = vec![User {
        name: "bob".into(),
        pass: "pass".into(),
        fields: Vec::new(),
    }];
    let hub = TableAuth::hub_with(users, plaintext_needs_secured);
    let service = (post.1)(post.0, &s, &hub).unwrap();
    let mut services = std::collections::HashMap::new();
    services.insert(post.0.to_string(), service);
    hub.insert(Arc::new(crate::runtime::PostLoginHandle(Arc::new(
        super::DirectPostLogin {
            services,
            settings: s.clone(),
            hub: hub.clone(),
        },
    ))));
    let svc = (login.1)(login.0, &s, &hub).unwrap();
    let addr = serve_tcp(svc, login.0, s.clone(), hub.clone(), tls.then(test_tls)).await;
    let home = root.join("bob");
    let inbox = Maildir::open(&home, &home, true, true, "h").unwrap();
    inbox.deliver(first, &Flags::default()).unwrap();
    inbox
        .deliver(b"Subject: two\n\n2\n", &Flags::default())
        .unwrap();
    LoginSetup {
        addr,
        inbox,
        home,
        hub,
        settings: s,
    }
}

/// Connects, sends `send` and reads until `until` shows up (10 s per read at most).
pub(crate) async fn talk(addr: SocketAddr, send: &[u8], until: &str) -> (TcpStream, String) {
    let mut c = TcpStream::connect(addr).await.unwrap();
    c.write_all(send).await.unwrap();
    let text = read_until(&mut c, until).await;
    (c, text)
}

/// Reads from `c` until `until` shows up or the peer closes (10 s per read at most).
pub(crate) async fn read_until(c: &mut TcpStream, until: &str) -> String {
    let mut got = Vec::new();
    let mut buf = [0u8; 4096];
    while !String::from_utf8_lossy(&got).contains(until) {
        let n = tokio::time::timeout(Duration::from_secs(10), c.read(&mut buf))
            .await
            .unwrap_or_else(|_| panic!("timeout; got {:?}", String::from_utf8_lossy(&got)))
            .unwrap();
        if n == 0 {
            break;
        }
        got.extend_from_slice(&buf[..n]);
    }
    String::from_utf8(got).unwrap()
}
