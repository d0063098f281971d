//! Big messages through the real `roost serve`: DATA is streamed to disk, never held in
//! memory. A 300 MB message to one recipient (straight into its Maildir tmp/ file) and a
//! 40 MB message to two (through the spool file, the second copy a hard link) raise the
//! server's peak RSS by less than [`RSS_BOUND`] and are stored byte for byte (SHA-256 of what was sent, CRLF → LF, against
//! the stored file). With `lmtp_max_mail_size`, SIZE is advertised and a bigger message (or a
//! bigger declared SIZE) is answered with lib-smtp's `552 5.2.3`, and nothing is stored.

mod common;

use std::io::{BufRead, BufReader, Write};
use std::net::TcpStream;
use std::path::{Path, PathBuf};
use std::time::Duration;

use common::*;

/// The documented bound (README, "Limits") on how much a delivery may raise roost's RSS.
const RSS_BOUND: u64 = 16 << 20;

struct Lmtp {
    server: Server,
    mail: PathBuf,
    port: u16,
}

fn start(tag: &str, extra: &str) -> Lmtp {
    let launch = Launch::new(tag);
    let users = launch.dir().write(
        "users",
        "bob:{PLAIN}x:1000:1000::/nonexistent\nalice:{PLAIN}x:1000:1000::/nonexistent\n",
    );
    let mail = launch.dir().join("mail");
    let port = free_port();
    let config = format!(
        "protocols = [\"lmtp\"]\nmail_location = \"maildir:{m}/%n\"\nhostname = \"mx.roost.test\"\n\
mail_temp_dir = \"{t}\"\n{extra}\n\n\
[[passdb]]\ndriver = \"passwd-file\"\nargs = \"{u}\"\n\n\
[[userdb]]\ndriver = \"passwd-file\"\nargs = \"{u}\"\n\n\
[service.lmtp.inet_listener.lmtp]\nport = {port}\n",
        m = mail.display(),
        t = launch.dir().path().display(),
        u = users.display()
    );
    let server = launch.config(&config).ready_on(&[port]).start();
    Lmtp { server, mail, port }
}

/// `VmHWM` (peak RSS) of the process, bytes.
fn peak_rss(pid: i32) -> u64 {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).unwrap();
    let kb: u64 = status
        .lines()
        .find_map(|l| l.strip_prefix("VmHWM:"))
        .and_then(|v| v.split_whitespace().next())
        .and_then(|v| v.parse().ok())
        .unwrap();
    kb * 1024
}

fn reply(r: &mut BufReader<TcpStream>) -> String {
    let mut all = String::new();
    loop {
        let mut l = String::new();
        assert!(r.read_line(&mut l).unwrap() > 0, "closed after {all}");
        all.push_str(&l);
        if l.as_bytes().get(3) != Some(&b'-') {
            return all;
        }
    }
}

/// Sends a message of about `size` bytes over DATA (dot-stuffed, CRLF); returns the SHA-256
/// of its stored form (LF line ends, stuffing removed).
fn send_body(w: &mut TcpStream, size: usize) -> Vec<u8> {
    let mut digest = ring::digest::Context::new(&ring::digest::SHA256);
    let mut wire = Vec::with_capacity(1 << 20);
    let mut stored = Vec::with_capacity(1 << 20);
    let head = "Subject: big\r\nX-Test: streamed\r\n\r\n";
    wire.extend_from_slice(head.as_bytes());
    stored.extend_from_slice(head.replace("\r\n", "\n").as_bytes());
    let mut sent = 0usize;
    let mut n: u64 = 0x9e37_79b9_7f4a_7c15;
    let mut i = 0u64;
    while sent < size {
        n ^= n << 13;
        n ^= n >> 7;
        n ^= n << 17;
        let len = 40 + (n % 60) as usize;
        let line: String = (0..len)
            .map(|k| (b'!' + ((n >> (k % 56)) as u8).wrapping_add(k as u8) % 90) as char)
            .collect();
        // Every 1000th line starts with a dot: stuffed on the wire, single in the store.
        let line = if i % 1000 == 0 {
            format!(".{line}")
        } else {
            line
        };
        if line.starts_with('.') {
            wire.push(b'.');
        }
        wire.extend_from_slice(line.as_bytes());
        wire.extend_from_slice(b"\r\n");
        stored.extend_from_slice(line.as_bytes());
        stored.push(b'\n');
        i += 1;
        if wire.len() >= 1 << 20 {
            w.write_all(&wire).unwrap();
            sent += wire.len();
            digest.update(&stored);
            wire.clear();
            stored.clear();
        }
    }
    w.write_all(&wire).unwrap();
    digest.update(&stored);
    w.write_all(b".\r\n").unwrap();
    digest.finish().as_ref().to_vec()
}

/// SHA-256 of a stored message, from its `Subject: big` line (after the trace headers).
fn stored_sha(dir: &Path) -> Vec<u8> {
    let new = dir.join("new");
    let files: Vec<_> = std::fs::read_dir(&new).unwrap().collect();
    assert_eq!(files.len(), 1, "one message in {}", new.display());
    let data = std::fs::read(files[0].as_ref().unwrap().path()).unwrap();
    let start = data
        .windows(14)
        .position(|w| w == b"\nSubject: big\n")
        .expect("the message's own header")
        + 1;
    assert!(start < 400, "trace headers only before it");
    ring::digest::digest(&ring::digest::SHA256, &data[start..])
        .as_ref()
        .to_vec()
}

fn deliver(l: &Lmtp, rcpts: &[&str], size: usize) -> (Vec<u8>, Vec<String>) {
    let s = connect_port(l.port);
    s.set_read_timeout(Some(Duration::from_secs(300))).unwrap();
    let mut w = s.try_clone().unwrap();
    let mut r = BufReader::new(s);
    reply(&mut r);
    let mut cmds = String::from("LHLO big\r\nMAIL FROM:<s@example.org>\r\n");
    for rc in rcpts {
        cmds.push_str(&format!("RCPT TO:<{rc}>\r\n"));
    }
    cmds.push_str("DATA\r\n");
    w.write_all(cmds.as_bytes()).unwrap();
    for _ in 0..rcpts.len() + 3 {
        reply(&mut r);
    }
    let sha = send_body(&mut w, size);
    let replies = rcpts.iter().map(|_| reply(&mut r)).collect();
    (sha, replies)
}

#[test]
fn a_300_mb_message_is_streamed_to_disk_with_bounded_memory_and_stored_intact() {
    let l = start("lmtp-big", "");
    let pid = l.server.pid();
    // Warm-up: one small delivery, so the baseline includes what any delivery allocates.
    let (sha, replies) = deliver(&l, &["alice"], 10_000);
    assert!(replies[0].starts_with("250 2.0.0 <alice> "), "{replies:?}");
    assert_eq!(stored_sha(&l.mail.join("alice")), sha);
    let before = peak_rss(pid);

    let (sha, replies) = deliver(&l, &["bob"], 300 << 20);
    assert!(replies[0].starts_with("250 2.0.0 <bob> "), "{replies:?}");
    let grew = peak_rss(pid).saturating_sub(before);
    assert!(
        grew < RSS_BOUND,
        "peak RSS grew by {} MB for a 300 MB message",
        grew >> 20
    );
    assert_eq!(stored_sha(&l.mail.join("bob")), sha, "stored intact");
    let tmp = messages_in_tmp(&l.mail.join("bob/tmp"));
    assert_eq!(tmp, 0, "nothing left in tmp/");
    eprintln!("peak RSS growth for 300 MB: {} kB", grew >> 10);
}

#[test]
fn several_recipients_go_through_the_spool_file_with_bounded_memory() {
    let l = start("lmtp-big-spool", "");
    let pid = l.server.pid();
    deliver(&l, &["alice"], 10_000);
    std::fs::remove_dir_all(l.mail.join("alice")).unwrap();
    let before = peak_rss(pid);
    let (sha, replies) = deliver(&l, &["bob", "alice"], 40 << 20);
    assert!(replies[0].starts_with("250 2.0.0 <bob> "), "{replies:?}");
    assert!(replies[1].starts_with("250 2.0.0 <alice> "), "{replies:?}");
    assert!(peak_rss(pid).saturating_sub(before) < RSS_BOUND);
    for u in ["bob", "alice"] {
        assert_eq!(stored_sha(&l.mail.join(u)), sha, "{u}");
    }
    // As Dovecot (maildir_copy_with_hardlinks): the second copy is a hard link to the first.
    use std::os::unix::fs::MetadataExt;
    let inode = |u: &str| {
        let e = std::fs::read_dir(l.mail.join(u).join("new"))
            .unwrap()
            .next()
            .unwrap()
            .unwrap();
        let m = e.metadata().unwrap();
        (m.ino(), m.nlink())
    };
    assert_eq!(inode("bob"), inode("alice"));
    assert_eq!(inode("bob").1, 2);
    // The spool file was unlinked at once: nothing left in mail_temp_dir.
    let left: Vec<_> = std::fs::read_dir(l.server.path())
        .unwrap()
        .filter_map(|e| e.ok())
        .filter(|e| e.file_name().to_string_lossy().starts_with("roost-lmtp-"))
        .collect();
    assert!(left.is_empty());
}

#[test]
fn over_lmtp_max_mail_size_is_answered_552_and_not_stored() {
    let l = start("lmtp-limit", "lmtp_max_mail_size = \"1M\"");
    let s = connect_port(l.port);
    s.set_read_timeout(Some(Duration::from_secs(60))).unwrap();
    let mut w = s.try_clone().unwrap();
    let mut r = BufReader::new(s);
    reply(&mut r);
    w.write_all(b"LHLO x\r\nMAIL FROM:<a@b> SIZE=2000000\r\nMAIL FROM:<a@b> SIZE=1000\r\nRCPT TO:<bob>\r\nRCPT TO:<alice>\r\nDATA\r\n")
        .unwrap();
    let lhlo = reply(&mut r);
    assert!(lhlo.contains("250-SIZE 1048576\r\n"), "{lhlo}");
    assert_eq!(
        reply(&mut r),
        "552 5.2.3 Message size exceeds administrative limit\r\n"
    );
    for want in ["250 2.1.0 OK", "250 2.1.5 OK", "250 2.1.5 OK", "354 OK"] {
        assert_eq!(reply(&mut r).trim_end(), want);
    }
    send_body(&mut w, 2 << 20);
    for _ in 0..2 {
        assert_eq!(
            reply(&mut r),
            "552 5.2.3 Message size exceeds administrative limit\r\n"
        );
    }
    // The session goes on: a message under the limit is taken.
    w.write_all(b"MAIL FROM:<a@b>\r\nRCPT TO:<bob>\r\nDATA\r\n")
        .unwrap();
    for _ in 0..3 {
        reply(&mut r);
    }
    let sha = send_body(&mut w, 500_000);
    assert!(reply(&mut r).starts_with("250 2.0.0 <bob> "));
    assert_eq!(stored_sha(&l.mail.join("bob")), sha);
    assert!(
        !l.mail.join("alice").join("new").exists() || {
            std::fs::read_dir(l.mail.join("alice/new")).unwrap().count() == 0
        }
    );
    assert_eq!(messages_in_tmp(&l.mail.join("bob/tmp")), 0);
}

/// Files in a Maildir's tmp/ other than the uidlist lock's template (`*.lock.tmp.<pid>`,
/// which stays there while roost runs).
fn messages_in_tmp(tmp: &std::path::Path) -> usize {
    std::fs::read_dir(tmp)
        .unwrap()
        .flatten()
        .filter(|e| !e.file_name().to_string_lossy().contains(".lock.tmp."))
        .count()
}
