//! SIGKILL in the middle of LMTP deliveries loses nothing that was acknowledged and leaves no
//! partial message in new/ or cur/. The test re-runs its own binary as the server process
//! (the LMTP service from the library on a loopback port, a fixed userdb), kills it with
//! SIGKILL while several clients are mid-DATA, then inspects the Maildir.

use std::io::{BufRead, BufReader, Read, Write};
use std::net::TcpStream;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use roost::master::{BoxFuture, Hub, Session};
use roost::net::conn::{Stream, Transport};
use roost::net::Conn;
use roost::service::auth::api::{
    AuthApi, AuthHandle, BeginError, ClientInfo, Exchange, UserLookup,
};
use roost::settings::Settings;

const CHILD_ENV: &str = "ROOST_LMTP_CRASH_CHILD";
const TEST_NAME: &str = "sigkill_mid_data_loses_nothing_acknowledged";

/// Knows one user, `bob`; offers no SASL.
struct OneUser;

impl AuthApi for OneUser {
    fn mechanisms(&self, _secured: bool) -> Vec<String> {
        Vec::new()
    }
    fn begin(&self, _m: &str, _i: ClientInfo) -> Result<Box<dyn Exchange>, BeginError> {
        Err(BeginError::UnknownMechanism)
    }
    fn lookup_user(&self, user: &str, _info: ClientInfo) -> BoxFuture<UserLookup> {
        let r = if user == "bob" {
            UserLookup::Found {
                user: "bob".into(),
                fields: Vec::new(),
            }
        } else {
            UserLookup::NotFound
        };
        Box::pin(async move { r })
    }
}

/// The server side: serve LMTP until killed.
fn child(root: &Path) {
    let rt = tokio::runtime::Runtime::new().unwrap();
    rt.block_on(async {
        let mut s = Settings::default();
        s.mail.mail_location = format!("maildir:{}/%n", root.display());
        s.mail.hostname = "crash.test".into();
        let s = Arc::new(s);
        let hub = Arc::new(Hub::default());
        hub.insert(Arc::new(AuthHandle(Arc::new(OneUser))));
        let svc = roost::service::lmtp::factory("lmtp", &s, &hub).unwrap();
        let l = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        println!("PORT {}", l.local_addr().unwrap().port());
        loop {
            let (sock, _) = l.accept().await.unwrap();
            let conn = Conn::new(Stream::new(Transport::Tcp(sock)), "lmtp", "lmtp");
            let mut session = Session::detached("lmtp", s.clone());
            session.hub = hub.clone();
            tokio::spawn(svc.clone().serve(conn, session));
        }
    });
}

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
fn client(port: u16, t: usize) -> Vec<String> {
    let mut acked = Vec::new();
    let Ok(s) = TcpStream::connect(("127.0.0.1", port)) else {
        return acked;
    };
    let mut w = s.try_clone().unwrap();
    let mut r = BufReader::new(s);
    if read_reply(&mut r).is_none() {
        return acked;
    }
    for i in 0.. {
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
            Some(l) if l.starts_with("250 ") => acked.push(id),
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
    if let Ok(root) = std::env::var(CHILD_ENV) {
        child(Path::new(&root));
        return;
    }
    let root = std::env::temp_dir().join(format!("roost-lmtp-crash-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&root);
    std::fs::create_dir_all(&root).unwrap();
    let mut server = Command::new(std::env::current_exe().unwrap())
        .args(["--exact", TEST_NAME, "--nocapture", "--test-threads", "1"])
        .env(CHILD_ENV, &root)
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    let mut out = BufReader::new(server.stdout.take().unwrap());
    let port: u16 = loop {
        let mut l = String::new();
        assert!(out.read_line(&mut l).unwrap() > 0, "server exited");
        // libtest prints "test NAME ... " without a newline before our line.
        if let Some(p) = l.trim().split("PORT ").nth(1) {
            break p.parse().unwrap();
        }
    };
    let acked = Arc::new(Mutex::new(Vec::new()));
    let threads: Vec<_> = (0..4)
        .map(|t| {
            let acked = acked.clone();
            std::thread::spawn(move || {
                let got = client(port, t);
                acked.lock().unwrap().extend(got);
            })
        })
        .collect();
    std::thread::sleep(Duration::from_millis(700));
    // SIGKILL: no chance to clean up.
    server.kill().unwrap();
    server.wait().unwrap();
    let mut rest = String::new();
    let _ = out.read_to_string(&mut rest);
    for t in threads {
        t.join().unwrap();
    }
    let acked = acked.lock().unwrap().clone();
    assert!(
        acked.len() >= 4,
        "deliveries were too slow to test anything: {acked:?}"
    );

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
    let snap = m.sync().unwrap();
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
    let _ = std::fs::remove_dir_all(&root);
}
