//! Session state-machine fuzzing: proptest generates sequences of valid and invalid IMAP
//! commands (wrong-state commands, bad sets and arguments, synchronising and
//! non-synchronising literals, APPENDs with binary bodies, over-long lines, over-large
//! literals, pipelined commands, IDLE ended by DONE or by garbage, junk lines, trailing random
//! bytes) and plays them over a real loopback socket against imap-login → imap on a real
//! Maildir, while the test delivers and expunges behind the session's back. Checked: no task of
//! the server panics, every tagged command gets exactly one tagged reply (in order, none for
//! tags never sent), a connection only ever ends after `* BYE` (or LOGOUT), a fresh command
//! still works at the end of every sequence, and the process's memory stays bounded.
//!
//! The case count is bounded for CI (48); `ROOST_IMAP_FUZZ_CASES=20000 cargo test --release
//! --lib service::imap::session_fuzz` runs a long session (the same variable as the parser
//! fuzzer in `protocol::imap::tests::fuzz`).

use std::net::SocketAddr;
use std::path::PathBuf;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::OnceLock;
use std::time::Duration;

use proptest::prelude::*;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;

use crate::mail::maildir::{Flags, Maildir};
use crate::service::imap_login::tests::setup;

/// Every read from the server ends by then (a debug build on a loaded 2-core machine).
const READ_DEADLINE: Duration = Duration::from_secs(20);
/// The INBOX is trimmed back to this many messages before each case.
const MAX_MESSAGES: usize = 60;
/// The whole test process may not grow beyond its size after start-up plus this.
const MAX_RSS_GROWTH: u64 = 512 << 20;

fn cases() -> u32 {
    std::env::var("ROOST_IMAP_FUZZ_CASES")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(48)
}

/// Panics on the server runtime's threads (the session code runs there).
static SERVER_PANICS: AtomicUsize = AtomicUsize::new(0);
const SERVER_THREAD: &str = "imap-fuzz-server";

struct Server {
    rt: tokio::runtime::Runtime,
    addr: SocketAddr,
    inbox: Maildir,
    home: PathBuf,
    rss_start: u64,
}

fn server() -> &'static Server {
    static S: OnceLock<Server> = OnceLock::new();
    S.get_or_init(|| {
        let default = std::panic::take_hook();
        std::panic::set_hook(Box::new(move |info| {
            if std::thread::current().name() == Some(SERVER_THREAD) {
                SERVER_PANICS.fetch_add(1, Ordering::SeqCst);
            }
            default(info);
        }));
        let rt = tokio::runtime::Builder::new_multi_thread()
            .worker_threads(2)
            .thread_name(SERVER_THREAD)
            .enable_all()
            .build()
            .unwrap();
        let s = rt.block_on(async {
            // The listener task must live on the runtime's workers, not in this block_on.
            tokio::spawn(setup("imap-session-fuzz", |_| {}, false, false))
                .await
                .unwrap()
        });
        Server {
            addr: s.addr,
            inbox: s.inbox,
            home: s.home,
            rt,
            rss_start: rss(),
        }
    })
}

fn rss() -> u64 {
    let statm = std::fs::read_to_string("/proc/self/statm").unwrap_or_default();
    let pages: u64 = statm
        .split_whitespace()
        .nth(1)
        .and_then(|p| p.parse().ok())
        .unwrap_or(0);
    pages * 4096
}

const SETS: &[&str] = &[
    "1",
    "1:*",
    "*",
    "2:4",
    "1,3:*",
    "99",
    "$",
    "0",
    "*:1",
    "1:2,2:3",
    "4294967296",
    "1:",
];
const FOLDERS: &[&str] = &[
    "INBOX", "Fz", "Fz.Sub", "Caf&AOk-", "\"a b\"", "nope", "&Jjo-", "\"\"", "Fz.", "\"bad&\"",
];
/// `{s}` a message set, `{f}` and `{g}` mailbox names.
const COMMANDS: &[&str] = &[
    "SELECT {f}",
    "EXAMINE {f}",
    "SELECT INBOX",
    "CREATE {f}",
    "DELETE {f}",
    "RENAME {f} {g}",
    "LIST \"\" *",
    "LIST \"\" %",
    "LIST {f} *",
    "LSUB \"\" *",
    "STATUS {f} (MESSAGES RECENT UIDNEXT UIDVALIDITY UNSEEN)",
    "STATUS {f} (BOGUS)",
    "SUBSCRIBE {f}",
    "UNSUBSCRIBE {f}",
    "NOOP",
    "CHECK",
    "CAPABILITY",
    "NAMESPACE",
    "ID NIL",
    "ID (\"name\" \"fuzz\")",
    "ENABLE CONDSTORE",
    "FETCH {s} (FLAGS UID)",
    "FETCH {s} (BODY.PEEK[] ENVELOPE BODYSTRUCTURE)",
    "FETCH {s} BODY[1.MIME]",
    "FETCH {s} (RFC822.SIZE INTERNALDATE BODY.PEEK[HEADER.FIELDS (SUBJECT FROM)])",
    "FETCH {s} (BODY[TEXT]<0.5> RFC822.HEADER)",
    "FETCH {s} (RFC822 RFC822.TEXT BODY[HEADER.FIELDS.NOT (SUBJECT)] BODY[2.1])",
    "FETCH {s} ALL",
    "FETCH {s} FULL",
    "FETCH {s} (BODY[]<4294967295.2>)",
    "FETCH {s} BOGUS",
    "UID FETCH {s} FLAGS",
    "STORE {s} +FLAGS (\\Deleted)",
    "STORE {s} -FLAGS.SILENT (\\Seen kw)",
    "STORE {s} FLAGS ($Fuzz \\Flagged \\Answered)",
    "STORE {s} FLAGS (\\Recent)",
    "STORE {s} +FLAGS ($k1 $k2 $k3 $k4 $k5 $k6)",
    "UID STORE {s} +FLAGS.SILENT (\\Seen \\Draft)",
    "SEARCH ALL",
    "SEARCH OR SEEN NOT DELETED",
    "SEARCH {s} BODY line",
    "SEARCH TEXT two HEADER Subject hello",
    "SEARCH CHARSET UTF-8 SUBJECT caf",
    "SEARCH CHARSET KOI8-R ALL",
    "SEARCH (OR (SEEN) (UID {s})) SINCE 1-Jan-2000 LARGER 3",
    "SEARCH NOT",
    "UID SEARCH UID {s}",
    "EXPUNGE",
    "UID EXPUNGE {s}",
    "COPY {s} {f}",
    "UID COPY {s} {f}",
    "MOVE {s} {f}",
    "UID MOVE {s} {f}",
    "CLOSE",
    "UNSELECT",
    "LOGIN bob pass",
    "AUTHENTICATE PLAIN",
    "STARTTLS",
    "LOGOUT",
    "FOO",
    "",
    "SELECT",
    "FETCH",
    "FETCH 1:* (",
    "STORE 1 FLAGS (\\Bogus)",
    "APPEND",
    "APPEND {f} (\\Seen) \"bad date\" x",
    "UID",
    "UID BOGUS 1",
    "DONE",
];

#[derive(Debug, Clone)]
enum Step {
    /// A command line from [`COMMANDS`].
    Command(usize, usize, usize, usize),
    /// Several commands in one write.
    Pipeline(Vec<(usize, usize, usize, usize)>),
    /// APPEND (or MULTIAPPEND) with literals; `sync` waits for the continuation.
    Append {
        folder: usize,
        flags: &'static str,
        bodies: Vec<Vec<u8>>,
        sync: bool,
    },
    /// A short argument sent as a literal: `SELECT {5}\r\nINBOX`.
    LiteralArg { folder: usize, sync: bool },
    /// A tagged line longer than `imap_max_line_length`.
    LongLine(usize),
    /// A literal no line limit allows: `* BYE` and the end.
    HugeLiteral(bool),
    /// IDLE, optionally a delivery meanwhile, then DONE or something else.
    Idle { deliver: bool, end: IdleEnd },
    /// A line of junk (no CR, LF, `{` or our tag letter).
    Junk(Vec<u8>),
    /// A delivery into INBOX by another writer.
    Deliver(Vec<u8>),
    /// Another writer expunges a message file of INBOX.
    ExternalExpunge(usize),
}

#[derive(Debug, Clone)]
enum IdleEnd {
    Done,
    Junk,
    LongLine,
}

fn command() -> impl Strategy<Value = (usize, usize, usize, usize)> {
    (
        0..COMMANDS.len(),
        0..SETS.len(),
        0..FOLDERS.len(),
        0..FOLDERS.len(),
    )
}

fn body() -> impl Strategy<Value = Vec<u8>> {
    prop_oneof![
        Just(b"Subject: hello\r\n\r\nline one\r\n".to_vec()),
        Just(
            b"Content-Type: multipart/mixed; boundary=x\r\n\r\n--x\r\nContent-Type: text/plain\r\n\r\na\r\n--x\r\nContent-Type: message/rfc822\r\n\r\nSubject: in\r\n\r\nb\r\n--x--\r\n"
                .to_vec()
        ),
        proptest::collection::vec(any::<u8>(), 0..300),
    ]
}

fn junk() -> impl Strategy<Value = Vec<u8>> {
    proptest::collection::vec(any::<u8>(), 0..80).prop_map(|mut v| {
        v.retain(|b| !matches!(b, b'\r' | b'\n' | b'{' | b'Z'));
        // Junk that happens to start IDLE or AUTHENTICATE would swallow the next line.
        let upper = v.to_ascii_uppercase();
        if upper.windows(4).any(|w| w == b"IDLE" || w == b"AUTH") {
            v.clear();
        }
        v
    })
}

fn step() -> impl Strategy<Value = Step> {
    prop_oneof![
        12 => command().prop_map(|(c, s, f, g)| Step::Command(c, s, f, g)),
        2 => proptest::collection::vec(command(), 2..5).prop_map(Step::Pipeline),
        2 => (
            0..FOLDERS.len(),
            proptest::sample::select(&["", "(\\Seen $Fuzz) ", "(\\Bogus) ", "() \"17-Jul-1996 02:44:25 -0700\" "][..]),
            proptest::collection::vec(body(), 1..3),
            any::<bool>()
        )
            .prop_map(|(folder, flags, bodies, sync)| Step::Append { folder, flags, bodies, sync }),
        1 => (0..FOLDERS.len(), any::<bool>()).prop_map(|(folder, sync)| Step::LiteralArg { folder, sync }),
        1 => (60_000usize..140_000).prop_map(Step::LongLine),
        1 => any::<bool>().prop_map(Step::HugeLiteral),
        2 => (any::<bool>(), prop_oneof![3 => Just(IdleEnd::Done), 1 => Just(IdleEnd::Junk), 1 => Just(IdleEnd::LongLine)])
            .prop_map(|(deliver, end)| Step::Idle { deliver, end }),
        2 => junk().prop_map(Step::Junk),
        1 => body().prop_map(Step::Deliver),
        1 => (0usize..100).prop_map(Step::ExternalExpunge),
    ]
}

fn render(c: usize, s: usize, f: usize, g: usize) -> String {
    COMMANDS[c]
        .replace("{s}", SETS[s])
        .replace("{f}", FOLDERS[f])
        .replace("{g}", FOLDERS[g])
}

/// How one exchange ended.
#[derive(Debug, PartialEq)]
enum Outcome {
    /// Our tagged reply arrived (its status word).
    Tagged(String),
    /// A `+` continuation arrived first.
    Continue,
    /// The server closed the connection.
    Closed,
}

/// The client side: reads whole response lines (literals included), remembers every tag it
/// saw and whether `* BYE` came.
struct Client {
    conn: TcpStream,
    buf: Vec<u8>,
    bye: bool,
    closed: bool,
    /// Every tagged reply seen, in order.
    tags: Vec<String>,
    next_tag: u32,
}

impl Client {
    async fn connect(addr: SocketAddr) -> Client {
        let conn = TcpStream::connect(addr).await.unwrap();
        let mut c = Client {
            conn,
            buf: Vec::new(),
            bye: false,
            closed: false,
            tags: Vec::new(),
            next_tag: 0,
        };
        let greeting = c.line().await.expect("greeting");
        assert!(greeting.starts_with(b"* OK"), "{greeting:?}");
        c
    }

    fn tag(&mut self) -> String {
        self.next_tag += 1;
        format!("Z{}Q", self.next_tag)
    }

    async fn send(&mut self, data: &[u8]) {
        // A server that closed (after BYE) may reset the connection: that is checked on read.
        if self.conn.write_all(data).await.is_err() {
            self.closed = true;
        }
    }

    /// One response line, with any literal it announces appended; `None` at EOF.
    async fn line(&mut self) -> Option<Vec<u8>> {
        let mut line = Vec::new();
        loop {
            let nl = loop {
                if let Some(i) = self.buf.iter().position(|&b| b == b'\n') {
                    break i;
                }
                if !self.fill().await {
                    return None;
                }
            };
            let part: Vec<u8> = self.buf.drain(..=nl).collect();
            line.extend_from_slice(&part);
            // `{n}\r\n` at the end announces n bytes of literal, then the line goes on.
            let Some(n) = literal_len(&part) else {
                break;
            };
            while self.buf.len() < n {
                if !self.fill().await {
                    return None;
                }
            }
            line.extend(self.buf.drain(..n));
        }
        if line.starts_with(b"* BYE") {
            self.bye = true;
        }
        if line.starts_with(b"Z") {
            let tag = String::from_utf8_lossy(line.split(|&b| b == b' ').next().unwrap_or(&[]))
                .into_owned();
            self.tags.push(tag);
        }
        Some(line)
    }

    async fn fill(&mut self) -> bool {
        let mut chunk = [0u8; 16384];
        match tokio::time::timeout(READ_DEADLINE, self.conn.read(&mut chunk)).await {
            Err(_) => panic!(
                "no answer within {READ_DEADLINE:?}; pending {:?}",
                String::from_utf8_lossy(&self.buf)
            ),
            Ok(Ok(0)) | Ok(Err(_)) => {
                self.closed = true;
                false
            }
            Ok(Ok(n)) => {
                self.buf.extend_from_slice(&chunk[..n]);
                true
            }
        }
    }

    /// Reads until `tag`'s reply (or a continuation, when `cont`); asserts that no other tag
    /// of ours is answered meanwhile.
    async fn until(&mut self, tag: &str, cont: bool) -> Outcome {
        loop {
            let Some(line) = self.line().await else {
                assert!(
                    self.bye,
                    "connection closed without * BYE while waiting for {tag}"
                );
                return Outcome::Closed;
            };
            if line.starts_with(b"+") {
                if cont {
                    return Outcome::Continue;
                }
                // AUTHENTICATE's challenge: cancel the exchange.
                self.send(b"*\r\n").await;
                continue;
            }
            if line.starts_with(b"Z") {
                let text = String::from_utf8_lossy(&line).into_owned();
                let mut words = text.split(' ');
                let got = words.next().unwrap_or("");
                assert_eq!(got, tag, "reply to an unexpected tag: {text:?}");
                let status = words.next().unwrap_or("").to_string();
                assert!(
                    matches!(status.as_str(), "OK" | "NO" | "BAD"),
                    "tagged reply without a status: {text:?}"
                );
                return Outcome::Tagged(status);
            }
        }
    }
}

/// The `n` of a line ending in `{n}\r\n` (or `{n+}`/`~{n}` forms).
fn literal_len(line: &[u8]) -> Option<usize> {
    let line = line.strip_suffix(b"\r\n").or(line.strip_suffix(b"\n"))?;
    let line = line.strip_suffix(b"}")?;
    let open = line.iter().rposition(|&b| b == b'{')?;
    let digits = std::str::from_utf8(&line[open + 1..]).ok()?;
    digits.trim_end_matches('+').parse().ok()
}

async fn deliver(inbox: &Maildir, data: Vec<u8>) {
    let inbox = inbox.clone();
    tokio::task::spawn_blocking(move || {
        let _ = inbox.deliver(&data, &Flags::default());
    })
    .await
    .unwrap();
}

/// Removes the `n`th message file (mod count) of INBOX, as another client's expunge would.
fn external_expunge(home: &std::path::Path, n: usize) {
    let mut files: Vec<PathBuf> = ["cur", "new"]
        .iter()
        .flat_map(|d| std::fs::read_dir(home.join(d)).into_iter().flatten())
        .filter_map(|e| e.ok().map(|e| e.path()))
        .collect();
    files.sort();
    if !files.is_empty() {
        let _ = std::fs::remove_file(&files[n % files.len()]);
    }
}

/// Plays one step; `false` when the connection ended (after `* BYE`).
async fn play(c: &mut Client, s: &Server, step: Step) -> bool {
    let mut sent = Vec::new();
    match step {
        Step::Command(i, se, f, g) => {
            let tag = c.tag();
            let line = render(i, se, f, g);
            c.send(format!("{tag} {line}\r\n").as_bytes()).await;
            sent.push(tag.clone());
            match c.until(&tag, false).await {
                Outcome::Closed => return false,
                Outcome::Tagged(st) if st == "OK" && line == "LOGOUT" => {
                    assert!(c.bye, "LOGOUT without BYE");
                    assert!(c.line().await.is_none(), "LOGOUT left the connection open");
                    return false;
                }
                _ => {}
            }
        }
        Step::Pipeline(cmds) => {
            let mut out = Vec::new();
            let mut tags = Vec::new();
            for (i, se, f, g) in cmds {
                let tag = c.tag();
                // AUTHENTICATE would take the next pipelined line as its SASL response.
                let line = match render(i, se, f, g) {
                    l if l.starts_with("AUTHENTICATE") => "NOOP".to_string(),
                    l => l,
                };
                out.extend_from_slice(format!("{tag} {line}\r\n").as_bytes());
                tags.push((tag, line));
            }
            c.send(&out).await;
            for (tag, line) in tags {
                match c.until(&tag, false).await {
                    Outcome::Closed => return false,
                    Outcome::Tagged(st) if st == "OK" && line == "LOGOUT" => {
                        assert!(c.line().await.is_none(), "LOGOUT left the connection open");
                        return false;
                    }
                    _ => {}
                }
            }
        }
        Step::Append {
            folder,
            flags,
            bodies,
            sync,
        } => {
            let tag = c.tag();
            let plus = if sync { "" } else { "+" };
            let mut head = format!("{tag} APPEND {} {flags}", FOLDERS[folder]).into_bytes();
            let n = bodies.len();
            for (k, b) in bodies.into_iter().enumerate() {
                head.extend_from_slice(format!("{{{}{plus}}}\r\n", b.len()).as_bytes());
                c.send(&head).await;
                head.clear();
                if sync {
                    match c.until(&tag, true).await {
                        Outcome::Continue => {}
                        Outcome::Closed => return false,
                        Outcome::Tagged(_) => return true,
                    }
                }
                c.send(&b).await;
                if k + 1 < n {
                    head.push(b' ');
                }
            }
            c.send(b"\r\n").await;
            if c.until(&tag, false).await == Outcome::Closed {
                return false;
            }
        }
        Step::LiteralArg { folder, sync } => {
            let tag = c.tag();
            let name = FOLDERS[folder].as_bytes();
            let plus = if sync { "" } else { "+" };
            c.send(format!("{tag} SELECT {{{}{plus}}}\r\n", name.len()).as_bytes())
                .await;
            if sync {
                match c.until(&tag, true).await {
                    Outcome::Continue => {}
                    Outcome::Closed => return false,
                    Outcome::Tagged(_) => return true,
                }
            }
            c.send(name).await;
            c.send(b"\r\n").await;
            if c.until(&tag, false).await == Outcome::Closed {
                return false;
            }
        }
        Step::LongLine(n) => {
            let tag = c.tag();
            let mut line = format!("{tag} NOOP ").into_bytes();
            line.resize(line.len() + n, b'x');
            line.extend_from_slice(b"\r\n");
            c.send(&line).await;
            if c.until(&tag, false).await == Outcome::Closed {
                return false;
            }
        }
        Step::HugeLiteral(sync) => {
            let tag = c.tag();
            let plus = if sync { "" } else { "+" };
            c.send(format!("{tag} SELECT {{999999999{plus}}}\r\n").as_bytes())
                .await;
            // Refused before any of it is read: BYE, then the connection ends.
            loop {
                match c.line().await {
                    None => break,
                    Some(l) => assert!(!l.starts_with(b"+"), "accepted a huge literal"),
                }
            }
            assert!(c.bye, "huge literal: closed without BYE");
            return false;
        }
        Step::Idle { deliver: d, end } => {
            let tag = c.tag();
            c.send(format!("{tag} IDLE\r\n").as_bytes()).await;
            match c.until(&tag, true).await {
                Outcome::Closed => return false,
                Outcome::Tagged(_) => return true,
                Outcome::Continue => {}
            }
            if d {
                deliver(&s.inbox, b"Subject: idle\r\n\r\nx\r\n".to_vec()).await;
            }
            match end {
                IdleEnd::Done => c.send(b"DONE\r\n").await,
                IdleEnd::Junk => c.send(b"not done\r\n").await,
                IdleEnd::LongLine => {
                    let mut l = vec![b'D'; 70_000];
                    l.extend_from_slice(b"\r\n");
                    c.send(&l).await;
                }
            }
            if c.until(&tag, false).await == Outcome::Closed {
                return false;
            }
        }
        Step::Junk(mut j) => {
            j.extend_from_slice(b"\r\n");
            c.send(&j).await;
            // Junk gets at most an untagged or foreign-tagged BAD; a NOOP shows we are in step.
            let tag = c.tag();
            c.send(format!("{tag} NOOP\r\n").as_bytes()).await;
            if c.until(&tag, false).await == Outcome::Closed {
                return false;
            }
        }
        Step::Deliver(b) => deliver(&s.inbox, b).await,
        Step::ExternalExpunge(n) => external_expunge(&s.home, n),
    }
    true
}

/// One generated session: connect, maybe log in, play the steps, maybe end with raw bytes;
/// then check the invariants.
async fn session(s: &Server, login: bool, steps: Vec<Step>, tail: Vec<u8>) {
    let mut c = Client::connect(s.addr).await;
    if login {
        c.send(b"L LOGIN bob pass\r\n").await;
        loop {
            let l = c.line().await.expect("login reply");
            if l.starts_with(b"L ") {
                assert!(l.starts_with(b"L OK"), "{:?}", String::from_utf8_lossy(&l));
                break;
            }
        }
    }
    let mut open = true;
    for step in steps {
        if !play(&mut c, s, step).await {
            open = false;
            break;
        }
    }
    if open {
        // Still usable: a fresh command is answered exactly once.
        let tag = c.tag();
        c.send(format!("{tag} NOOP\r\n").as_bytes()).await;
        let out = c.until(&tag, false).await;
        if out != Outcome::Closed {
            assert_eq!(out, Outcome::Tagged("OK".into()), "NOOP after the sequence");
        }
        if !tail.is_empty() {
            // Raw bytes, then EOF: whatever the server makes of them, it must not hang or
            // panic (checked below) and must not answer tags it was never sent.
            c.send(&tail).await;
            let _ = c.conn.shutdown().await;
            while c.line().await.is_some() {}
        }
    }
    // Every tag we sent was answered at most once, in order, and nothing else was tagged Z…Q.
    let mut seen = std::collections::HashSet::new();
    for t in &c.tags {
        let n: Option<u32> = t
            .strip_prefix('Z')
            .and_then(|t| t.strip_suffix('Q'))
            .and_then(|t| t.parse().ok());
        // Junk and tails never contain `Z`, so every Z-tag is one of ours.
        let n = n.unwrap_or_else(|| panic!("odd tag {t:?}"));
        assert!(n >= 1 && n <= c.next_tag, "reply to a tag never sent: {t}");
        assert!(seen.insert(n), "two replies to {t}");
    }
}

fn trim_inbox(s: &Server) {
    let mut files: Vec<PathBuf> = ["cur", "new"]
        .iter()
        .flat_map(|d| std::fs::read_dir(s.home.join(d)).into_iter().flatten())
        .filter_map(|e| e.ok().map(|e| e.path()))
        .collect();
    if files.len() > MAX_MESSAGES {
        files.sort();
        for f in &files[..files.len() - MAX_MESSAGES] {
            let _ = std::fs::remove_file(f);
        }
    }
}

fn tail() -> impl Strategy<Value = Vec<u8>> {
    prop_oneof![
        2 => Just(Vec::new()),
        1 => proptest::collection::vec(any::<u8>(), 0..400).prop_map(|mut v| {
            v.retain(|&b| b != b'Z');
            v
        }),
    ]
}

proptest! {
    #![proptest_config(ProptestConfig { cases: cases(), ..ProptestConfig::default() })]

    #[test]
    fn imap_sessions_survive_any_command_sequence(
        login in prop_oneof![5 => Just(true), 1 => Just(false)],
        steps in proptest::collection::vec(step(), 1..24),
        tail in tail(),
    ) {
        let s = server();
        trim_inbox(s);
        s.rt.block_on(session(s, login, steps, tail));
        prop_assert_eq!(SERVER_PANICS.load(Ordering::SeqCst), 0, "the server panicked");
        let grown = rss().saturating_sub(s.rss_start);
        prop_assert!(grown < MAX_RSS_GROWTH, "memory grew by {} bytes", grown);
    }
}
