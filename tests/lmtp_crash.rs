//! SIGKILL in the middle of LMTP deliveries loses nothing that was acknowledged and leaves no
//! partial message in new/ or cur/: `roost serve` (real auth, passwd-file userdb) takes
//! deliveries from several clients, is killed with SIGKILL while they are mid-DATA, and the
//! Maildir is inspected.

mod common;

use std::io::{BufRead, BufReader, Write};
use std::net::TcpStream;
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use common::*;

fn body(id: &str) -> String {
    let filler = "x".repeat(76);
    let mut b = format!("Subject: {id}\r\n\r\n");
    for i in 0..400 {
        b.push_str(&format!("{i:04} {filler}\r\n"));
    }
    b.push_str("END\r\n");
    b
}

fn read_reply(r: &mut BufReader<TcpStream>) -> Option<String> {
    let mut line = String::new();
    loop {
        let mut l = String::new();
        if r.read_line(&mut l).ok()? == 0 {
            return None;
        }
        line.push_str(&l);
        if l.as_bytes().get(3) != Some(&b'-') {
            return Some(line);
        }
    }
}

/// Delivers messages until the server dies; returns the ids acknowledged with 250.
fn client(port: u16, t: usize, progress: &Mutex<usize>) -> Vec<String> {
    client_n(port, t, usize::MAX, progress)
}

/// Delivers up to `max` messages.
fn client_n(port: u16, t: usize, max: usize, progress: &Mutex<usize>) -> Vec<String> {
    let mut acked = Vec::new();
    let Ok(s) = TcpStream::connect(("127.0.0.1", port)) else {
        return acked;
    };
    let mut w = s.try_clone().unwrap();
    let mut r = BufReader::new(s);
    if read_reply(&mut r).is_none() {
        return acked;
    }
    for i in 0..max {
        let id = format!("m{t}-{i}");
        let msg = body(&id);
        let cmds = "LHLO c\r\nMAIL FROM:<a@b>\r\nRCPT TO:<bob>\r\nDATA\r\n";
        if w.write_all(cmds.as_bytes()).is_err() {
            return acked;
        }
        for _ in 0..4 {
            match read_reply(&mut r) {
                Some(_) => {}
                None => return acked,
            }
        }
        // Send the body in pieces so the kill can land mid-transfer.
        for chunk in msg.as_bytes().chunks(4096) {
            if w.write_all(chunk).is_err() {
                return acked;
            }
        }
        if w.write_all(b".\r\n").is_err() {
            return acked;
        }
        match read_reply(&mut r) {
            Some(l) if l.starts_with("250 ") => {
                acked.push(id);
                *progress.lock().unwrap() += 1;
            }
            _ => return acked,
        }
    }
    acked
}

fn files(dir: &Path) -> Vec<PathBuf> {
    std::fs::read_dir(dir)
        .map(|rd| rd.map(|e| e.unwrap().path()).collect())
        .unwrap_or_default()
}

#[test]
fn sigkill_mid_data_loses_nothing_acknowledged() {
    let dir = TempDir::new("crash-mail");
    let users = dir.join("users");
    std::fs::write(&users, "bob:{PLAIN}x:1000:1000::/nonexistent\n").unwrap();
    let root = dir.join("mail");
    let port = free_port();
    let extra = format!(
        "protocols = [\"lmtp\"]\nmail_location = \"maildir:{}/%n\"\n\n\
[[passdb]]\ndriver = \"passwd-file\"\nargs = \"{u}\"\n\n\
[[userdb]]\ndriver = \"passwd-file\"\nargs = \"{u}\"\n\n\
[service.lmtp.inet_listener.lmtp]\nport = {port}\n",
        root.display(),
        u = users.display()
    );
    let mut server = Server::start("crash", &extra);
    let restart_port = free_port();
    let restart_extra = extra.replace(&format!("port = {port}"), &format!("port = {restart_port}"));
    let acked = Arc::new(Mutex::new(Vec::new()));
    let progress = Arc::new(Mutex::new(0usize));
    let threads: Vec<_> = (0..4)
        .map(|t| {
            let acked = acked.clone();
            let progress = progress.clone();
            std::thread::spawn(move || {
                let got = client(port, t, &progress);
                acked.lock().unwrap().extend(got);
            })
        })
        .collect();
    // Kill once deliveries are flowing (a loaded machine may need a while), mid-stream.
    let deadline = std::time::Instant::now() + Duration::from_secs(30);
    while *progress.lock().unwrap() < 8 && std::time::Instant::now() < deadline {
        std::thread::sleep(Duration::from_millis(20));
    }
    std::thread::sleep(Duration::from_millis(150));
    // SIGKILL: no chance to clean up.
    server.signal(Signal::SIGKILL);
    let code = server.wait_exit(Duration::from_secs(10));
    assert!(
        !server.is_running() && code.is_none(),
        "roost must be dead by SIGKILL"
    );
    for t in threads {
        t.join().unwrap();
    }
    let acked = acked.lock().unwrap().clone();
    assert!(
        acked.len() >= 4,
        "deliveries were too slow to test anything: {acked:?}"
    );
    // Restarted at once, roost delivers again without waiting for the killed process's
    // uidlist lock to go stale (the lock names a process that is gone).
    drop(server);
    let again = Server::start("crash-restart", &restart_extra);
    let started = std::time::Instant::now();
    let after = client_n(restart_port, 100, 1, &Mutex::new(0));
    assert_eq!(after.len(), 1, "delivery after restart failed");
    assert!(started.elapsed() < Duration::from_secs(10));
    drop(again);
    let mut acked = acked;
    acked.extend(after);

    let inbox = root.join("bob");
    let mut seen = Vec::new();
    for f in files(&inbox.join("new"))
        .into_iter()
        .chain(files(&inbox.join("cur")))
    {
        let data = std::fs::read_to_string(&f).unwrap();
        let name = f.file_name().unwrap().to_str().unwrap().to_string();
        let id = data
            .lines()
            .find_map(|l| l.strip_prefix("Subject: "))
            .unwrap_or_else(|| panic!("{name}: no Subject, partial file: {data:?}"));
        let expected = body(id).replace("\r\n", "\n");
        assert!(
            data.ends_with(&expected),
            "{name} is not a complete message ({} bytes)",
            data.len()
        );
        let size: usize = name
            .split(",S=")
            .nth(1)
            .and_then(|s| s.split(',').next())
            .unwrap()
            .parse()
            .unwrap();
        assert_eq!(size, data.len(), "{name}: S= differs from the file size");
        seen.push(id.to_string());
    }
    for id in &acked {
        assert!(
            seen.contains(id),
            "acknowledged {id} is missing after the crash"
        );
    }
    // The store is still usable: every message gets a UID, each once.
    let m = roost::mail::maildir::Maildir::open(&inbox, &inbox, false, true, "h").unwrap();
    let snap = m.sync().unwrap_or_else(|e| {
        let lock = std::fs::read(inbox.join("dovecot-uidlist.lock")).unwrap_or_default();
        panic!("{e}; lock holds {:?}", String::from_utf8_lossy(&lock))
    });
    assert_eq!(snap.messages.len(), seen.len());
    let mut uids: Vec<u32> = snap.messages.iter().map(|e| e.uid).collect();
    uids.dedup();
    assert_eq!(uids.len(), seen.len());
    eprintln!(
        "{} acknowledged, {} complete files after SIGKILL, {} leftovers in tmp/",
        acked.len(),
        seen.len(),
        files(&inbox.join("tmp")).len()
    );
}
