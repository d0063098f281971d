//! SELECT + `UID FETCH 1:* (FLAGS)` on a 100,000-message Maildir, warm, roost vs Dovecot 2.3
//! side by side in one run. The Maildir (small messages, mixed flags and a keyword, with its
//! `dovecot-uidlist`) is built once under `target/bench-data/` and copied for each server:
//! roost's imap service in-process (PREAUTH, as after a login) and a private Dovecot
//! (`tests/common/dovecot.rs`; its mail as `nobody`). Each builds its own index on one
//! untimed SELECT; then rounds alternate roost and Dovecot on one connection each, and the
//! medians and the ratio are printed. The first timed answers of both must match.
//!
//! Run (root, Dovecot installed): `cargo bench --bench imap_big_mailbox`
//! (`BENCH_MESSAGES`, default 100000; `BENCH_ROUNDS`, default 10). Without `--bench` (as
//! `cargo test --all-targets` runs it) it does nothing.

#[path = "../tests/common/mod.rs"]
mod common;

use std::io::{Read, Write};
use std::net::TcpStream;
use std::path::{Path, PathBuf};
use std::process::Command;
use std::sync::Arc;
use std::time::{Duration, Instant};

use roost::net::conn::{Stream, Transport};
use roost::net::Conn;
use roost::runtime::{Handoff, Hub, Session};
use roost::settings::Settings;

fn env_usize(name: &str, default: usize) -> usize {
    std::env::var(name)
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(default)
}

/// Writes the Maildir once (file names as Dovecot's, flags mixed, a keyword on some).
fn build(dir: &Path, n: usize) {
    let done = dir.join(".complete");
    if done.exists() {
        return;
    }
    let _ = std::fs::remove_dir_all(dir);
    for s in ["cur", "new", "tmp"] {
        std::fs::create_dir_all(dir.join(s)).unwrap();
    }
    std::fs::write(dir.join("dovecot-keywords"), "0 $Label1\n").unwrap();
    let mut uidlist = format!("3 V1700000000 N{} G{:032x}\n", n + 1, 0xb16b0c5u64);
    for i in 1..=n {
        let msg = format!(
            "From: Sender {i} <s{i}@example.org>\nTo: bob@example.org\nSubject: message {i}\n\
Date: Tue, 14 Nov 2023 10:00:00 +0000\nMessage-ID: <{i}@bench.example.org>\n\nbody of message {i}\n"
        );
        let vsize = msg.len() + msg.matches('\n').count();
        let base = format!(
            "{}.M{i}P1.bench,S={},W={vsize}",
            1_700_000_000 + i,
            msg.len()
        );
        let mut flags = String::new();
        if i % 7 == 0 {
            flags.push('F');
        }
        if i % 5 == 0 {
            flags.push('R');
        }
        if i % 3 != 0 {
            flags.push('S');
        }
        if i % 101 == 0 {
            flags.push('T');
        }
        if i % 11 == 0 {
            flags.push('a');
        }
        std::fs::write(dir.join("cur").join(format!("{base}:2,{flags}")), msg).unwrap();
        uidlist.push_str(&format!("{i} :{base}\n"));
    }
    std::fs::write(dir.join("dovecot-uidlist"), uidlist).unwrap();
    std::fs::write(done, "").unwrap();
}

fn copy(from: &Path, to: &Path) {
    let _ = std::fs::remove_dir_all(to);
    std::fs::create_dir_all(to.parent().unwrap()).unwrap();
    let st = Command::new("cp")
        .arg("-a")
        .arg(from)
        .arg(to)
        .status()
        .unwrap();
    assert!(st.success());
    let _ = std::fs::remove_file(to.join(".complete"));
}

struct Client {
    s: TcpStream,
    buf: Vec<u8>,
    n: usize,
}

impl Client {
    fn connect(port: u16) -> Client {
        let s = TcpStream::connect(("127.0.0.1", port)).unwrap();
        s.set_nodelay(true).unwrap();
        s.set_read_timeout(Some(Duration::from_secs(600))).unwrap();
        let mut c = Client {
            s,
            buf: Vec::with_capacity(8 << 20),
            n: 0,
        };
        c.until(b"* ");
        c
    }

    /// Reads until a line starting with `prefix` ends; returns everything read.
    fn until(&mut self, prefix: &[u8]) -> Vec<u8> {
        self.buf.clear();
        let mut chunk = vec![0u8; 1 << 16];
        let mut scanned = 0;
        loop {
            let k = self.s.read(&mut chunk).unwrap();
            assert!(k > 0, "server closed");
            self.buf.extend_from_slice(&chunk[..k]);
            // Complete lines only; the tagged one starts a line.
            while let Some(e) = memchr::memchr(b'\n', &self.buf[scanned..]) {
                let line = &self.buf[scanned..scanned + e + 1];
                if line.starts_with(prefix) {
                    return std::mem::take(&mut self.buf);
                }
                scanned += e + 1;
            }
        }
    }

    fn cmd(&mut self, c: &str) -> Vec<u8> {
        self.n += 1;
        let tag = format!("t{} ", self.n);
        self.s
            .write_all(format!("{tag}{c}\r\n").as_bytes())
            .unwrap();
        let out = self.until(tag.as_bytes());
        let last = out[..out.len() - 2]
            .iter()
            .rposition(|&b| b == b'\n')
            .map_or(0, |p| p + 1);
        assert!(
            out[last..].starts_with(format!("{tag}OK").as_bytes()),
            "{c}: {}",
            String::from_utf8_lossy(&out[last..])
        );
        out
    }

    /// SELECT + UID FETCH 1:* (FLAGS): the answers and the time they took.
    fn round(&mut self) -> (Vec<u8>, Duration) {
        let t = Instant::now();
        let mut out = self.cmd("SELECT INBOX");
        out.extend(self.cmd("UID FETCH 1:* (FLAGS)"));
        (out, t.elapsed())
    }
}

/// The answers without timings and tags, for comparing servers.
fn normalised(out: &[u8]) -> String {
    String::from_utf8_lossy(out)
        .lines()
        .filter(|l| l.starts_with("* ") && !l.contains("UIDVALIDITY"))
        .map(|l| l.to_string())
        .collect::<Vec<_>>()
        .join("\n")
}

fn median(v: &mut [Duration]) -> Duration {
    v.sort();
    v[v.len() / 2]
}

fn main() {
    if !std::env::args().any(|a| a == "--bench") {
        return;
    }
    let n = env_usize("BENCH_MESSAGES", 100_000);
    let rounds = env_usize("BENCH_ROUNDS", 10);
    let data = PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .join("target/bench-data")
        .join(format!("imap-{n}"));
    let t = Instant::now();
    build(&data, n);
    eprintln!("Maildir of {n} messages ready in {:?}", t.elapsed());

    let root = common::TempDir::new("imap-big");
    // roost: the imap service in-process, sessions start authenticated (PREAUTH).
    let rt = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .unwrap();
    let roost_mail = root.path().join("roost");
    copy(&data, &roost_mail.join("bob"));
    let roost_port = rt.block_on(async {
        let mut s = Settings::default();
        s.mail.mail_location = format!("maildir:{}/%n", roost_mail.display());
        s.mail.hostname = "bench".into();
        let s = Arc::new(s);
        let hub = Arc::new(Hub::default());
        let imap = roost::service::imap::factory("imap", &s, &hub).unwrap();
        let handoff = Arc::new(Handoff {
            user: "bob".into(),
            ..Default::default()
        });
        let l = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let port = l.local_addr().unwrap().port();
        tokio::spawn(async move {
            while let Ok((sock, peer)) = l.accept().await {
                let mut conn = Conn::new(Stream::new(Transport::Tcp(sock)), "bench", "bench");
                conn.remote = Some(peer);
                let mut session = Session::detached("bench", s.clone());
                session.hub = hub.clone();
                session.handoff = Some(handoff.clone());
                tokio::spawn(imap.clone().serve(conn, session));
            }
        });
        port
    });
    // Dovecot: a private instance, the same Maildir as its user's.
    let ddir = root.path().join("dovecot");
    std::fs::create_dir_all(&ddir).unwrap();
    let dovecot = common::Dovecot::start(&ddir);
    copy(&data, &ddir.join("mail/bob"));
    dovecot.chown_mail();

    let mut ours = Client::connect(roost_port);
    let mut theirs = Client::connect(dovecot.imap_port);
    theirs.cmd("LOGIN bob pass");
    // Warm: each builds its index (Dovecot its dovecot.index*, roost its roost.index).
    let t = Instant::now();
    ours.cmd("SELECT INBOX");
    let roost_cold = t.elapsed();
    let t = Instant::now();
    theirs.cmd("SELECT INBOX");
    let dovecot_cold = t.elapsed();
    eprintln!("first SELECT (index build): roost {roost_cold:?}, Dovecot {dovecot_cold:?}");

    let (mut rt_roost, mut rt_dovecot) = (Vec::new(), Vec::new());
    for r in 0..rounds {
        let (a, ta) = ours.round();
        let (b, tb) = theirs.round();
        if r == 0 {
            let (a, b) = (normalised(&a), normalised(&b));
            assert_eq!(a.lines().count(), b.lines().count());
            assert!(a == b, "roost and Dovecot answer differently");
            assert_eq!(a.matches(" FETCH (UID ").count(), n);
        }
        rt_roost.push(ta);
        rt_dovecot.push(tb);
    }
    let (mr, md) = (median(&mut rt_roost), median(&mut rt_dovecot));
    println!("SELECT + UID FETCH 1:* (FLAGS), {n} messages, warm, median of {rounds}:");
    println!(
        "  roost {:>8.1} ms   Dovecot {:>8.1} ms   Dovecot/roost = {:.2}x",
        mr.as_secs_f64() * 1e3,
        md.as_secs_f64() * 1e3,
        md.as_secs_f64() / mr.as_secs_f64()
    );
    println!(
        "  (best: roost {:.1} ms, Dovecot {:.1} ms)",
        rt_roost[0].as_secs_f64() * 1e3,
        rt_dovecot[0].as_secs_f64() * 1e3
    );
    drop(rt);
}
