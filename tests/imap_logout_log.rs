//! The imap service's `Disconnected:` log line (Dovecot's `imap_logout_format`), on the real
//! binary next to a throw-away Dovecot 2.3 given the same settings (`imap_capability`,
//! `imap_id_send`, `imap_id_log`): the same sessions (LOGOUT after APPEND, FETCH of headers and
//! bodies, STORE \Deleted and EXPUNGE; a client that closes after NOOP, after no command, in
//! IDLE; one still logged in at shutdown) must log the same lines once pids, session ids and
//! timings are masked, with `in=`/`out=` equal to the bytes the client really sent and
//! received. The ID reply and the `ID sent:` line, and `imap_capability` in the greeting and
//! after login, are compared too.

mod common;

use std::io::{BufRead, BufReader, Read, Write};
use std::net::TcpStream;
use std::time::Duration;

use common::*;

const SETTINGS_TOML: &str = "imap_capability = \"IMAP4rev1 IDLE\"\n\
imap_id_send = \"name * support-url \\\"https://roost.test\\\"\"\nimap_id_log = \"name version\"\n";
const SETTINGS_CONF: &str = "imap_capability = IMAP4rev1 IDLE\n\
imap_id_send = name * support-url \"https://roost.test\"\nimap_id_log = name version\n";

/// A client that counts what it sent and received.
struct Client {
    w: TcpStream,
    r: BufReader<TcpStream>,
    sent: usize,
    got: usize,
    /// (sent, got) when the imap service took over.
    base: (usize, usize),
}

impl Client {
    fn connect(port: u16) -> Client {
        let w = connect_port(port);
        w.set_read_timeout(Some(Duration::from_secs(20))).unwrap();
        let r = BufReader::new(w.try_clone().unwrap());
        let mut c = Client {
            w,
            r,
            sent: 0,
            got: 0,
            base: (0, 0),
        };
        c.line();
        c
    }
    fn line(&mut self) -> String {
        let mut l = String::new();
        self.r.read_line(&mut l).unwrap();
        self.got += l.len();
        l
    }
    fn send(&mut self, s: &[u8]) {
        self.w.write_all(s).unwrap();
        self.sent += s.len();
    }
    /// Sends one command and reads to its tagged reply; lines with timings masked.
    fn cmd(&mut self, line: &[u8]) -> Vec<String> {
        let tag = String::from_utf8_lossy(line.split(|&b| b == b' ').next().unwrap()).into_owned();
        self.send(line);
        let mut out = Vec::new();
        loop {
            let l = self.line();
            assert!(!l.is_empty(), "closed after {out:?}");
            let done = l.starts_with(&format!("{tag} "));
            out.push(mask_timing(&l));
            if done {
                return out;
            }
        }
    }
    /// Bytes in and out since the imap service took over.
    fn counts(&self) -> (usize, usize) {
        (self.sent - self.base.0, self.got - self.base.1)
    }
    /// Reads until the server closes.
    fn drain(&mut self) {
        let mut rest = Vec::new();
        let _ = self.r.read_to_end(&mut rest);
        self.got += rest.len();
    }
}

/// Timings, UIDVALIDITY values and the order of EXPUNGE numbers (Dovecot expunges from the
/// highest) masked.
fn mask_timing(l: &str) -> String {
    let mut re = regex_lite(l).trim_end().to_string();
    if let Some(i) = re.find("[UIDVALIDITY ") {
        let end = re[i..].find(']').map(|e| i + e).unwrap_or(re.len());
        re.replace_range(i..end, "[UIDVALIDITY X");
    }
    if re.starts_with("* ") && re.ends_with(" EXPUNGE") {
        re = "* N EXPUNGE".into();
    }
    re
}

/// ` (0.001 + 0.000 secs).` and `N.NNN` numbers masked without a regex crate.
fn regex_lite(l: &str) -> String {
    let mut out = String::new();
    let b = l.as_bytes();
    let mut i = 0;
    while i < b.len() {
        if b[i].is_ascii_digit() {
            let s = i;
            while i < b.len() && b[i].is_ascii_digit() {
                i += 1;
            }
            if i + 4 <= b.len() && b[i] == b'.' && b[i + 1..i + 4].iter().all(u8::is_ascii_digit) {
                i += 4;
                out.push('T');
                continue;
            }
            out.push_str(&l[s..i]);
            continue;
        }
        out.push(b[i] as char);
        i += 1;
    }
    out.replace("(T + T + T secs)", "(T + T secs)")
}

/// What each side logged about imap sessions (`imap(bob)<pid><session>: Info: …` onwards),
/// with pids, session ids and timings masked, in the order of the sessions (processes may
/// log their ends in another order under load).
fn imap_lines(log: &str) -> Vec<String> {
    let mut v: Vec<String> = log
        .lines()
        .filter_map(|l| l.find("imap(bob)<").map(|i| &l[i..]))
        .map(|l| {
            let rest = l.splitn(3, '>').nth(2).unwrap_or("");
            regex_lite(&format!("imap(bob)<P><S>{rest}"))
        })
        .collect();
    let rank = |l: &String| {
        [
            "ID sent",
            "Logged out",
            "(NOOP finished",
            "(No commands",
            "(IDLE running",
            "Server shutting",
        ]
        .iter()
        .position(|k| l.contains(k))
        .unwrap_or(9)
    };
    v.sort_by_key(rank);
    v
}

struct Side {
    /// (in, out) of each session as its client counted them, in the order they end.
    counted: Vec<(usize, usize)>,
    transcript: Vec<String>,
}

/// Logs in; the counts start where the imap service takes over (the `Logged in` reply is its
/// first output; LOGIN itself was read by imap-login).
fn login(c: &mut Client, side: &mut Side) {
    c.send(b"a LOGIN bob pass\r\n");
    let base = (c.sent, c.got);
    loop {
        let l = c.line();
        assert!(!l.is_empty(), "closed at login");
        side.transcript.push(mask_timing(&l));
        if l.starts_with("a ") {
            assert!(l.starts_with("a OK "), "{l}");
            break;
        }
    }
    c.base = base;
}

/// The sessions that end by themselves; the one left open for the shutdown is returned.
fn sessions(port: u16) -> (Side, Client) {
    let mut side = Side {
        counted: Vec::new(),
        transcript: Vec::new(),
    };
    // 1: greeting capability (imap-login) and ID, then mail work and LOGOUT.
    let mut c = Client::connect(port);
    side.transcript
        .extend(c.cmd(b"x ID (\"name\" \"tester\" \"version\" \"1\" \"os\" \"x\")\r\n"));
    side.transcript.extend(c.cmd(b"y CAPABILITY\r\n"));
    login(&mut c, &mut side);
    let msg = b"From: a@b\r\nSubject: hi\r\n\r\nbody line\r\n";
    for (tag, flags) in [("b", "\\Seen"), ("c", "")] {
        let mut line = format!("{tag} APPEND INBOX ({flags}) {{{}+}}\r\n", msg.len()).into_bytes();
        line.extend_from_slice(msg);
        line.extend_from_slice(b"\r\n");
        c.cmd(&line);
    }
    for cmd in [
        &b"i ID (\"name\" \"tester\")\r\n"[..],
        b"d SELECT INBOX\r\n",
        b"e FETCH 1:2 (BODY.PEEK[HEADER] BODY.PEEK[TEXT])\r\n",
        b"f FETCH 1 (RFC822.HEADER BODY.PEEK[HEADER.FIELDS (SUBJECT)])\r\n",
        b"g FETCH 2 (BODY.PEEK[] BODY.PEEK[]<2.5>)\r\n",
        b"h STORE 1 +FLAGS (\\Deleted)\r\n",
        b"j STORE 1:2 +FLAGS.SILENT (\\Deleted)\r\n",
        b"k EXPUNGE\r\n",
        b"l LOGOUT\r\n",
    ] {
        side.transcript.extend(c.cmd(cmd));
    }
    c.drain();
    // `in=` of a LOGOUT session stops before the LOGOUT line's CRLF (Dovecot's parser has not
    // skipped it when the session ends).
    let (i, o) = c.counts();
    side.counted.push((i - 2, o));
    // 2: NOOP, then the client goes away.
    let mut c = Client::connect(port);
    login(&mut c, &mut side);
    side.transcript.extend(c.cmd(b"n NOOP\r\n"));
    side.counted.push(c.counts());
    drop(c);
    std::thread::sleep(Duration::from_millis(300));
    // 3: no command at all.
    let mut c = Client::connect(port);
    login(&mut c, &mut side);
    side.counted.push(c.counts());
    drop(c);
    std::thread::sleep(Duration::from_millis(300));
    // 4: gone while in IDLE.
    let mut c = Client::connect(port);
    login(&mut c, &mut side);
    c.send(b"p IDLE\r\n");
    assert_eq!(c.line(), "+ idling\r\n");
    side.counted.push(c.counts());
    drop(c);
    std::thread::sleep(Duration::from_millis(300));
    // 5: still logged in when the server stops.
    let mut c = Client::connect(port);
    login(&mut c, &mut side);
    (side, c)
}

fn field(line: &str, key: &str) -> Option<u64> {
    line.split(' ')
        .find_map(|w| w.strip_prefix(&format!("{key}=")))
        .and_then(|v| v.parse().ok())
}

#[test]
fn disconnected_lines_match_dovecots() {
    let ddir = TempDir::new("imaplog-dovecot");
    let dovecot = Dovecot::start_with(ddir.path(), SETTINGS_CONF);
    dovecot.chown_mail();
    let (theirs, last_d) = sessions(dovecot.imap_port);

    let launch = Launch::new("imaplog-roost");
    let users = launch.dir().write("users", "bob:{PLAIN}pass:::::\n");
    let mail = launch.dir().join("mail");
    let imap = free_port();
    let extra = format!(
        "protocols = [\"imap\"]\nmail_location = \"maildir:{m}/%n\"\n\
disable_plaintext_auth = \"no\"\nssl = \"no\"\n{SETTINGS_TOML}\n\
[[passdb]]\ndriver = \"passwd-file\"\nargs = \"{u}\"\n\n\
[[userdb]]\ndriver = \"passwd-file\"\nargs = \"{u}\"\n\n\
[service.imap-login.inet_listener.imap]\nport = {imap}\n",
        m = mail.display(),
        u = users.display()
    );
    let mut server = launch.config(&extra).ready_on(&[imap]).start();
    let (ours, last_r) = sessions(imap);
    assert_eq!(
        ours.transcript.join("\n"),
        theirs.transcript.join("\n"),
        "the replies (roost, then Dovecot)"
    );

    // Shutdown with a session logged in: both say goodbye and log it.
    let (mut last_d, mut last_r) = (last_d, last_r);
    drop(dovecot);
    server.stop();
    last_d.drain();
    last_r.drain();
    let mut theirs = theirs;
    let mut ours = ours;
    theirs.counted.push(last_d.counts());
    ours.counted.push(last_r.counts());

    // Dovecot's imap process may write its last line a moment after the client saw the BYE.
    let dlog = ddir.path().join("dovecot.log");
    wait_until(Duration::from_secs(10), || {
        read_text(&dlog).matches("Disconnected:").count() >= 5
    });
    let d = imap_lines(&read_text(&dlog));
    let mut r = imap_lines(&server.log_text());
    // Dovecot's master sometimes stops its log process before the imap process it is
    // stopping writes its last line (seen on a loaded machine): then the shutdown line is
    // checked against Dovecot's words alone and the other four are compared.
    let d_count = d.iter().filter(|l| l.contains("Disconnected:")).count();
    assert!(d_count >= 4, "Dovecot:\n{}", d.join("\n"));
    // Each side's in=/out= are the bytes its clients counted after login.
    for (lines, side, who, n) in [(&d, &theirs, "Dovecot", d_count), (&r, &ours, "roost", 5)] {
        let disc: Vec<&String> = lines
            .iter()
            .filter(|l| l.contains("Disconnected:"))
            .collect();
        assert_eq!(disc.len(), n, "{who}:\n{}", lines.join("\n"));
        let got: Vec<(Option<u64>, Option<u64>)> = disc
            .iter()
            .map(|l| (field(l, "in"), field(l, "out")))
            .collect();
        let want: Vec<(Option<u64>, Option<u64>)> = side.counted[..n]
            .iter()
            .map(|&(i, o)| (Some(i as u64), Some(o as u64)))
            .collect();
        assert_eq!(got, want, "{who}:\n{}", lines.join("\n"));
    }
    if d_count == 4 {
        let last = r.pop().unwrap();
        assert!(
            last.contains("Disconnected: Server shutting down. in="),
            "{last}"
        );
    }
    let unbytes = |v: &[String]| -> Vec<String> {
        v.iter()
            .map(|l| {
                l.split(' ')
                    .map(|w| {
                        if w.starts_with("in=") || w.starts_with("out=") {
                            w.split('=').next().unwrap().to_string() + "=N"
                        } else {
                            w.to_string()
                        }
                    })
                    .collect::<Vec<_>>()
                    .join(" ")
            })
            .collect()
    };
    assert_eq!(
        unbytes(&r).join("\n"),
        unbytes(&d).join("\n"),
        "roost, then Dovecot"
    );
    assert!(
        r[1].contains("Logged out") && r[1].contains(" deleted=2 expunged=2 trashed=0 "),
        "{}",
        r.join("\n")
    );
    assert!(r[0].contains("ID sent: name=tester"), "{}", r.join("\n"));
}
