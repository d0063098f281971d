//! Mail benchmarks (divan), in-process: Maildir delivery (tmp/ → fsync → new/ → fsync dir →
//! uidlist record), one LMTP transaction over loopback TCP, and POP3 RETR encoding, each for a
//! 1 KiB and a 100 KiB message. Side-by-side with Dovecot 2.3: `benches/mail_compare.rs`.
//!
//! Run: `cargo bench --bench mail`.

use std::io::{BufRead, BufReader, Write};
use std::net::TcpStream;
use std::path::PathBuf;
use std::sync::{Arc, OnceLock};

use roost::mail::maildir::{Flags, Maildir};
use roost::net::conn::{Stream, Transport};
use roost::net::Conn;
use roost::runtime::{BoxFuture, Hub, Session};
use roost::service::auth::api::{
    AuthApi, AuthHandle, BeginError, ClientInfo, Exchange, UserLookup,
};
use roost::settings::Settings;

fn main() {
    divan::main();
}

const SIZES: [usize; 2] = [1024, 100 * 1024];

/// A message of about `size` bytes with CRLF lines.
pub fn message(size: usize) -> Vec<u8> {
    let mut m = b"From: bench@example.org\r\nSubject: bench\r\n\r\n".to_vec();
    while m.len() < size {
        m.extend_from_slice(
            b"0123456789 abcdefghijklmnopqrstuvwxyz ABCDEFGHIJKLMNOPQRSTUVWXYZ 0123456789\r\n",
        );
    }
    m
}

fn temp(tag: &str) -> PathBuf {
    let d = std::env::temp_dir().join(format!("roost-bench-{tag}-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&d);
    d
}

#[divan::bench(args = SIZES, sample_count = 30)]
fn maildir_deliver(bencher: divan::Bencher, size: usize) {
    let d = temp(&format!("deliver{size}"));
    let m = Maildir::open(&d, &d, true, true, "bench").unwrap();
    let msg = roost::mail::maildir::crlf_to_lf(&message(size));
    bencher.bench_local(|| m.deliver(&msg, &Flags::default()).unwrap());
}

/// Knows every user; no SASL.
struct AnyUser;

impl AuthApi for AnyUser {
    fn mechanisms(&self, _secured: bool) -> Vec<String> {
        Vec::new()
    }
    fn begin(&self, _m: &str, _i: ClientInfo) -> Result<Box<dyn Exchange>, BeginError> {
        Err(BeginError::UnknownMechanism)
    }
    fn lookup_user(&self, user: &str, _info: ClientInfo) -> BoxFuture<UserLookup> {
        let r = UserLookup::Found {
            user: user.to_string(),
            fields: Vec::new(),
        };
        Box::pin(async move { r })
    }
}

struct Lmtp {
    _rt: tokio::runtime::Runtime,
    port: u16,
}

fn lmtp() -> &'static Lmtp {
    static L: OnceLock<Lmtp> = OnceLock::new();
    L.get_or_init(|| {
        let rt = tokio::runtime::Builder::new_multi_thread()
            .worker_threads(2)
            .enable_all()
            .build()
            .unwrap();
        let root = temp("lmtp");
        let port = rt.block_on(async {
            let mut s = Settings::default();
            s.mail.mail_location = format!("maildir:{}/%n", root.display());
            s.mail.hostname = "bench".into();
            let s = Arc::new(s);
            let hub = Arc::new(Hub::default());
            hub.insert(Arc::new(AuthHandle(Arc::new(AnyUser))));
            let svc = roost::service::lmtp::factory("lmtp", &s, &hub).unwrap();
            let l = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
            let port = l.local_addr().unwrap().port();
            tokio::spawn(async move {
                while let Ok((sock, _)) = l.accept().await {
                    let conn = Conn::new(Stream::new(Transport::Tcp(sock)), "lmtp", "lmtp");
                    let mut session = Session::detached("lmtp", s.clone());
                    session.hub = hub.clone();
                    tokio::spawn(svc.clone().serve(conn, session));
                }
            });
            port
        });
        Lmtp { _rt: rt, port }
    })
}

/// One LMTP client session: greeting, LHLO, then `deliver` per call.
pub struct LmtpClient {
    w: TcpStream,
    r: BufReader<TcpStream>,
}

impl LmtpClient {
    pub fn connect(port: u16) -> LmtpClient {
        let s = TcpStream::connect(("127.0.0.1", port)).unwrap();
        s.set_nodelay(true).unwrap();
        let mut c = LmtpClient {
            w: s.try_clone().unwrap(),
            r: BufReader::new(s),
        };
        c.reply();
        c.w.write_all(b"LHLO bench\r\n").unwrap();
        c.reply();
        c
    }

    fn reply(&mut self) -> String {
        let mut all = String::new();
        loop {
            let mut l = String::new();
            assert!(self.r.read_line(&mut l).unwrap() > 0, "server closed");
            all.push_str(&l);
            if l.as_bytes().get(3) != Some(&b'-') {
                return all;
            }
        }
    }

    /// MAIL, RCPT, DATA pipelined; returns when the recipient's reply arrived.
    pub fn deliver(&mut self, rcpt: &str, msg: &[u8]) {
        let cmds = format!("MAIL FROM:<bench@example.org>\r\nRCPT TO:<{rcpt}>\r\nDATA\r\n");
        self.w.write_all(cmds.as_bytes()).unwrap();
        for _ in 0..3 {
            self.reply();
        }
        self.w.write_all(msg).unwrap();
        self.w.write_all(b".\r\n").unwrap();
        let r = self.reply();
        assert!(r.starts_with("250"), "{r}");
    }
}

#[divan::bench(args = SIZES, sample_count = 30)]
fn lmtp_transaction(bencher: divan::Bencher, size: usize) {
    let mut c = LmtpClient::connect(lmtp().port);
    let msg = message(size);
    bencher.bench_local(|| c.deliver("bench", &msg));
}

#[divan::bench(args = SIZES)]
fn pop3_retr_encode(bencher: divan::Bencher, size: usize) {
    let stored = roost::mail::maildir::crlf_to_lf(&message(size));
    let mut out = Vec::with_capacity(size * 2);
    bencher.bench_local(|| {
        out.clear();
        roost::protocol::pop3::encode_message(&stored, None, &mut out);
        out.len()
    });
}
