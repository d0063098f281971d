//! Load bench: PLAIN authentications per second through the auth-client socket, roost and
//! Dovecot 2.3 (Debian's `dovecot`) side by side on the same passwd-file of `{PLAIN}` users, no
//! auth cache on either. Each of N client connections does the 1.2 handshake and then
//! sequential `AUTH … PLAIN … resp=` requests for the measuring period.
//!
//! Besides throughput it reports authentications per CPU-second of the server's process tree
//! (roost's process; Dovecot's master and all its children), which is steadier on a shared
//! machine.
//!
//! `cargo bench --bench auth_plain` (env: `AUTH_BENCH_CONNS`, default 8; `AUTH_BENCH_SECS`,
//! default 5). Needs `dovecot` installed; run as root (Dovecot's master insists).

use std::io::{BufRead, BufReader, Write};
use std::os::unix::net::UnixStream;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use base64::Engine as _;

const USERS: usize = 100;

fn env_num(name: &str, default: u64) -> u64 {
    std::env::var(name)
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(default)
}

fn wait_socket(p: &Path) {
    let deadline = Instant::now() + Duration::from_secs(20);
    while UnixStream::connect(p).is_err() {
        assert!(Instant::now() < deadline, "{} never appeared", p.display());
        std::thread::sleep(Duration::from_millis(50));
    }
}

/// CPU ticks (user + system) used so far by `root` and all its descendants.
fn tree_cpu_ticks(root: u32) -> u64 {
    let mut procs = Vec::new();
    for e in std::fs::read_dir("/proc").unwrap().flatten() {
        let Ok(pid) = e.file_name().to_string_lossy().parse::<u32>() else {
            continue;
        };
        let Ok(stat) = std::fs::read_to_string(format!("/proc/{pid}/stat")) else {
            continue;
        };
        // Fields after the `(comm)`: state ppid … utime(14) stime(15).
        let Some(rest) = stat.rsplit_once(')').map(|(_, r)| r) else {
            continue;
        };
        let f: Vec<&str> = rest.split_whitespace().collect();
        let ppid: u32 = f.get(1).and_then(|v| v.parse().ok()).unwrap_or(0);
        let ticks: u64 = f.get(11).and_then(|v| v.parse::<u64>().ok()).unwrap_or(0)
            + f.get(12).and_then(|v| v.parse::<u64>().ok()).unwrap_or(0);
        procs.push((pid, ppid, ticks));
    }
    let mut tree = vec![root];
    let mut i = 0;
    while i < tree.len() {
        let p = tree[i];
        tree.extend(
            procs
                .iter()
                .filter(|(_, pp, _)| *pp == p)
                .map(|(c, _, _)| *c),
        );
        i += 1;
    }
    procs
        .iter()
        .filter(|(p, _, _)| tree.contains(p))
        .map(|(_, _, t)| t)
        .sum()
}

/// Runs `conns` clients for `secs` seconds against the server whose process tree starts at
/// `server`; returns (authentications per second, authentications per server CPU second).
fn measure(sock: &Path, conns: u64, secs: u64, server: u32) -> (f64, f64) {
    let stop = Arc::new(AtomicBool::new(false));
    let ok = Arc::new(AtomicU64::new(0));
    let threads: Vec<_> = (0..conns)
        .map(|c| {
            let (stop, ok, sock) = (stop.clone(), ok.clone(), sock.to_path_buf());
            std::thread::spawn(move || {
                let s = UnixStream::connect(&sock).expect("connect");
                let mut w = s.try_clone().unwrap();
                let mut r = BufReader::new(s);
                let mut line = String::new();
                loop {
                    line.clear();
                    r.read_line(&mut line).unwrap();
                    if line == "DONE\n" {
                        break;
                    }
                }
                write!(w, "VERSION\t1\t2\nCPID\t{}\n", 1000 + c).unwrap();
                let mut id = 0u32;
                while !stop.load(Ordering::Relaxed) {
                    id += 1;
                    let u = (id as usize + c as usize) % USERS;
                    let resp = base64::engine::general_purpose::STANDARD
                        .encode(format!("\0user{u}\0pw{u}"));
                    writeln!(w, "AUTH\t{id}\tPLAIN\tservice=bench\tresp={resp}").unwrap();
                    line.clear();
                    r.read_line(&mut line).unwrap();
                    assert!(line.starts_with("OK\t"), "unexpected reply {line:?}");
                    ok.fetch_add(1, Ordering::Relaxed);
                }
            })
        })
        .collect();
    // Warm up for a second, then count.
    std::thread::sleep(Duration::from_secs(1));
    let start_count = ok.load(Ordering::Relaxed);
    let cpu0 = tree_cpu_ticks(server);
    let t = Instant::now();
    std::thread::sleep(Duration::from_secs(secs));
    let n = ok.load(Ordering::Relaxed) - start_count;
    let cpu = (tree_cpu_ticks(server) - cpu0) as f64 / 100.0;
    let rate = n as f64 / t.elapsed().as_secs_f64();
    let per_cpu = n as f64 / cpu.max(0.01);
    stop.store(true, Ordering::Relaxed);
    for t in threads {
        t.join().unwrap();
    }
    (rate, per_cpu)
}

struct Proc(Child);
impl Drop for Proc {
    fn drop(&mut self) {
        unsafe {
            libc::kill(self.0.id() as i32, libc::SIGTERM);
        }
        let _ = self.0.wait();
    }
}

fn main() {
    // `cargo bench` passes --bench; under `cargo test --all-targets` this is a short smoke run.
    let full = std::env::args().any(|a| a == "--bench");
    let conns = env_num("AUTH_BENCH_CONNS", if full { 8 } else { 2 });
    let secs = env_num("AUTH_BENCH_SECS", if full { 5 } else { 1 });
    let dir = std::env::temp_dir().join(format!("roost-auth-bench-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).unwrap();
    let users = dir.join("users");
    let text: String = (0..USERS)
        .map(|u| format!("user{u}:{{PLAIN}}pw{u}:1000:1000::/home/u{u}\n"))
        .collect();
    std::fs::write(&users, text).unwrap();

    // roost
    let rbase = dir.join("roost");
    let rconf = dir.join("roost.toml");
    std::fs::write(
        &rconf,
        format!(
            "base_dir = \"{b}\"\nlisten = \"127.0.0.1\"\nlog_path = \"{d}/roost.log\"\nauth_mechanisms = \"plain\"\n\n[[passdb]]\ndriver = \"passwd-file\"\nargs = \"{u}\"\n\n[service.auth.unix_listener.auth-client]\nmode = \"0666\"\n\n[service.stats.inet_listener.http]\nport = 0\n",
            b = rbase.display(),
            d = dir.display(),
            u = users.display()
        ),
    )
    .unwrap();
    let roost = Proc(
        Command::new(env!("CARGO_BIN_EXE_roost"))
            .args(["serve", "-c", rconf.to_str().unwrap()])
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .expect("start roost"),
    );
    let rsock = rbase.join("auth-client");
    wait_socket(&rsock);
    let r = measure(&rsock, conns, secs, roost.0.id());
    drop(roost);

    // Dovecot
    let dbase = dir.join("dovecot");
    let dconf = dir.join("dovecot.conf");
    std::fs::create_dir_all(dir.join("state")).unwrap();
    std::fs::write(
        &dconf,
        format!(
            "base_dir = {b}\nstate_dir = {d}/state\nlog_path = {d}/dovecot.log\nprotocols =\nssl = no\nauth_mechanisms = plain\n\
             passdb {{\n  driver = passwd-file\n  args = {u}\n}}\nuserdb {{\n  driver = passwd-file\n  args = {u}\n}}\n\
             service auth {{\n  unix_listener auth-client {{\n    mode = 0666\n  }}\n}}\nservice anvil {{\n  chroot =\n}}\n",
            b = dbase.display(),
            d = dir.display(),
            u = users.display()
        ),
    )
    .unwrap();
    let dovecot = Proc(
        Command::new("dovecot")
            .args(["-F", "-c", dconf.to_str().unwrap()])
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .expect("dovecot must be installed (Debian package dovecot-core)"),
    );
    let dsock: PathBuf = dbase.join("auth-client");
    wait_socket(&dsock);
    let d = measure(&dsock, conns, secs, dovecot.0.id());
    drop(dovecot);

    println!("PLAIN auth over auth-client, {conns} connections, {secs} s, {{PLAIN}} passwd-file, no cache:");
    println!("            auth/s   auth per server CPU-second");
    println!("  roost   {:>10.0} {:>10.0}", r.0, r.1);
    println!("  dovecot {:>10.0} {:>10.0}", d.0, d.1);
    println!("  ratio   {:>9.2}x {:>9.2}x", r.0 / d.0, r.1 / d.1);
    let _ = std::fs::remove_dir_all(&dir);
}
