//! Roost's POP3 next to Dovecot 2.3's on copies of one Maildir: the same sessions (LIST, RETR,
//! DELE and QUIT; RETR and a dropped connection; UIDL, TOP and QUIT; mail delivered over each
//! server's LMTP in between) must leave the same files on disk (new/ vs cur/, the `:2,`
//! flags, the `dovecot-uidlist` header and records) and get the same replies; and the
//! command arguments Dovecot refuses get Dovecot's reply texts from roost.
//!
//! The one difference kept: a session that drops without QUIT keeps \Seen on what it
//! retrieved in both, but Dovecot writes it to its index and renames the file at the next
//! sync, while roost (no index) renames it at once.

mod common;

use std::collections::HashMap;
use std::fs;
use std::io::{BufRead, BufReader, Write};
use std::net::TcpStream;
use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::Duration;

use common::*;
use roost::mail::maildir::{Flags, Maildir};

/// A POP3 client logged in as bob.
struct Pop3 {
    w: TcpStream,
    r: BufReader<TcpStream>,
}

impl Pop3 {
    fn login(port: u16) -> Pop3 {
        let s = connect_port(port);
        let mut c = Pop3 {
            w: s.try_clone().unwrap(),
            r: BufReader::new(s),
        };
        let greeting = c.line();
        assert!(greeting.starts_with("+OK"), "{greeting}");
        assert_eq!(c.cmd(b"USER bob"), "+OK\r\n");
        assert_eq!(c.cmd(b"PASS pass"), "+OK Logged in.\r\n");
        c
    }

    fn line(&mut self) -> String {
        let mut l = Vec::new();
        self.r.read_until(b'\n', &mut l).unwrap();
        assert!(!l.is_empty(), "server closed");
        String::from_utf8_lossy(&l).into_owned()
    }

    /// Sends one command and returns its whole reply (multi-line ones up to the final `.`).
    fn cmd(&mut self, c: &[u8]) -> String {
        self.w.write_all(c).unwrap();
        self.w.write_all(b"\r\n").unwrap();
        let mut reply = self.line();
        let text = String::from_utf8_lossy(c).to_ascii_uppercase();
        let (name, args) = text.split_once(' ').unwrap_or((&text, ""));
        let multi = match name {
            "RETR" | "TOP" | "CAPA" => true,
            "LIST" | "UIDL" => args.trim().is_empty(),
            _ => false,
        };
        if multi && reply.starts_with("+OK") {
            loop {
                let l = self.line();
                reply.push_str(&l);
                if l == ".\r\n" {
                    break;
                }
            }
        }
        reply
    }

    /// Runs `cmds`, then QUIT unless `quit` is false (the connection just drops); returns the
    /// replies.
    fn session(port: u16, cmds: &[&str], quit: bool) -> Vec<String> {
        let mut c = Pop3::login(port);
        let mut out: Vec<String> = cmds.iter().map(|x| c.cmd(x.as_bytes())).collect();
        if quit {
            out.push(c.cmd(b"QUIT"));
        }
        out
    }
}

/// Delivers a message with this subject to bob over LMTP.
fn lmtp(port: u16, subject: &str) {
    let s = connect_port(port);
    let mut w = s.try_clone().unwrap();
    let mut r = BufReader::new(s);
    let mut reply = || loop {
        let mut l = String::new();
        r.read_line(&mut l).unwrap();
        if l.as_bytes().get(3) != Some(&b'-') {
            return l;
        }
    };
    assert!(reply().starts_with("220"));
    for c in [
        "LHLO test",
        "MAIL FROM:<a@example.org>",
        "RCPT TO:<bob>",
        "DATA",
    ] {
        w.write_all(format!("{c}\r\n").as_bytes()).unwrap();
        let l = reply();
        assert!(l.starts_with('2') || l.starts_with('3'), "{c}: {l}");
    }
    w.write_all(format!("Subject: {subject}\r\n\r\nbody of {subject}\r\n.\r\n").as_bytes())
        .unwrap();
    let l = reply();
    assert!(l.starts_with("250"), "{l}");
    w.write_all(b"QUIT\r\n").unwrap();
}

/// What a Maildir looks like on disk, with messages named by their Subject (LMTP gives the
/// same message different file names in the two stores).
#[derive(Debug, PartialEq)]
struct Disk {
    /// (subject, "new" or "cur", the info after `:2,` if any), sorted.
    files: Vec<(String, &'static str, Option<String>)>,
    /// The uidlist header line (same V and G in both: they start from one copy).
    header: String,
    /// (uid, extension fields, subject) per record.
    records: Vec<(u32, Vec<String>, String)>,
}

/// Reads `inbox`; `subjects` remembers base name → subject so records of files gone since
/// can still be named.
fn disk(inbox: &Path, subjects: &mut HashMap<String, String>) -> Disk {
    let mut files = Vec::new();
    for sub in ["new", "cur"] {
        for e in fs::read_dir(inbox.join(sub)).unwrap() {
            let name = e.unwrap().file_name().into_string().unwrap();
            let (base, info) = match name.split_once(':') {
                Some((b, i)) => (
                    b.to_string(),
                    Some(i.strip_prefix("2,").unwrap().to_string()),
                ),
                None => (name.clone(), None),
            };
            let text = fs::read_to_string(inbox.join(sub).join(&name)).unwrap();
            let subject = text
                .lines()
                .find_map(|l| l.strip_prefix("Subject: "))
                .unwrap()
                .to_string();
            subjects.insert(base, subject.clone());
            files.push((subject, sub, info));
        }
    }
    files.sort();
    let uidlist = fs::read_to_string(inbox.join("dovecot-uidlist")).unwrap();
    let mut lines = uidlist.lines();
    let header = lines.next().unwrap().to_string();
    let records = lines
        .map(|l| {
            let (head, base) = l.split_once(" :").unwrap();
            let mut words = head.split(' ');
            let uid = words.next().unwrap().parse().unwrap();
            let subject = subjects.get(base).cloned().unwrap_or(base.to_string());
            (uid, words.map(str::to_string).collect(), subject)
        })
        .collect();
    Disk {
        files,
        header,
        records,
    }
}

const SEED: [&str; 3] = ["seed one", "seed two", "seed three"];
const FOREIGN: &str = "1700000000.M1P1.foreign";

/// One INBOX as roost's LMTP leaves it: three messages in new/ with a uidlist, and a file
/// another MDA dropped into new/ without sizes in its name (and so without a UID yet).
fn seed(dir: &Path) -> PathBuf {
    let inbox = dir.join("bob");
    let m = Maildir::open(&inbox, &inbox, true, true, "seed.test").unwrap();
    for s in SEED {
        m.deliver(
            format!("Subject: {s}\n\nbody of {s}\n").as_bytes(),
            &Flags::default(),
        )
        .unwrap();
    }
    fs::write(
        inbox.join("new").join(FOREIGN),
        "Subject: foreign\n\nno sizes in my name\n",
    )
    .unwrap();
    inbox
}

fn copy(from: &Path, to: &Path) {
    fs::create_dir_all(to.parent().unwrap()).unwrap();
    let st = Command::new("cp")
        .arg("-a")
        .arg(from)
        .arg(to)
        .status()
        .unwrap();
    assert!(st.success());
}

struct Pair {
    dovecot: Dovecot,
    roost: Server,
    roost_pop3: u16,
    roost_lmtp: u16,
    dovecot_inbox: PathBuf,
    roost_inbox: PathBuf,
    _dir: TempDir,
}

/// Both servers; bob's INBOX is a copy of [`seed`] in each, or does not exist yet.
fn start(tag: &str, seeded: bool) -> Pair {
    let dir = TempDir::new(tag);
    let seeded = seeded.then(|| seed(&dir.join("seed")));
    let ddir = dir.join("dovecot");
    fs::create_dir_all(&ddir).unwrap();
    let dovecot = Dovecot::start(&ddir);
    let dovecot_inbox = ddir.join("mail/bob");
    if let Some(s) = &seeded {
        copy(s, &dovecot_inbox);
    }
    dovecot.chown_mail();

    let launch = Launch::new(tag);
    let users = launch
        .dir()
        .write("users", "bob:{PLAIN}pass:1000:1000::/nonexistent\n");
    let mail = launch.dir().join("mail");
    let roost_inbox = mail.join("bob");
    if let Some(s) = &seeded {
        copy(s, &roost_inbox);
    }
    let (roost_lmtp, roost_pop3) = (free_port(), free_port());
    let extra = format!(
        "protocols = [\"lmtp\", \"pop3\"]\nmail_location = \"maildir:{m}/%n\"\n\
hostname = \"roost.test\"\ndisable_plaintext_auth = \"no\"\n\n\
[[passdb]]\ndriver = \"passwd-file\"\nargs = \"{u}\"\n\n\
[[userdb]]\ndriver = \"passwd-file\"\nargs = \"{u}\"\n\n\
[service.lmtp.inet_listener.lmtp]\nport = {roost_lmtp}\n\n\
[service.pop3-login.inet_listener.pop3]\nport = {roost_pop3}\n\n\
[service.pop3-login.inet_listener.pop3s]\nport = 0\n",
        m = mail.display(),
        u = users.display()
    );
    let roost = launch
        .config(&extra)
        .ready_on(&[roost_lmtp, roost_pop3])
        .start();
    Pair {
        dovecot,
        roost,
        roost_pop3,
        roost_lmtp,
        dovecot_inbox,
        roost_inbox,
        _dir: dir,
    }
}

impl Pair {
    /// The same session on both; the replies must be identical.
    fn session(&self, cmds: &[&str], quit: bool) -> Vec<String> {
        let d = Pop3::session(self.dovecot.pop3_port, cmds, quit);
        let r = Pop3::session(self.roost_pop3, cmds, quit);
        assert_eq!(r, d, "replies to {cmds:?} (roost, then Dovecot)");
        r
    }

    fn deliver(&self, subject: &str) {
        lmtp(self.dovecot.lmtp_port, subject);
        lmtp(self.roost_lmtp, subject);
    }
}

/// Log lines of the pop3 (post-login) process saying a session ended by the connection
/// closing (Dovecot: `pop3(bob)<pid><session>: Info: Disconnected: Connection closed …`,
/// roost: `pop3: Info: Disconnected: Connection closed …`).
fn dropped_sessions(log: &str) -> usize {
    log.lines()
        .filter(|l| l.contains("pop3(") || l.contains(" pop3: "))
        .filter(|l| l.contains("Disconnected: Connection closed"))
        .count()
}

#[test]
fn same_pop3_sessions_leave_the_same_maildir_as_dovecot() {
    let p = start("pop3-cmp", true);
    let (mut dn, mut rn) = (HashMap::new(), HashMap::new());
    let same = |step: &str, dn: &mut HashMap<_, _>, rn: &mut HashMap<_, _>| {
        let d = disk(&p.dovecot_inbox, dn);
        let r = disk(&p.roost_inbox, rn);
        assert_eq!(r, d, "after {step} (roost, then Dovecot)");
        d
    };
    let start = same("seeding", &mut dn, &mut rn);
    assert!(start.files.iter().all(|f| f.1 == "new" && f.2.is_none()));

    // 1. LIST, RETR two, DELE one, QUIT. Login moved new/ to cur/ (`:2,`), the retrieved
    //    ones got S, the deleted one is gone but its record stays, and the foreign file got
    //    UID 4 with W<vsize> (so the uidlist was rewritten: header N5).
    let replies = p.session(&["LIST", "RETR 1", "RETR 2", "DELE 3"], true);
    assert_eq!(
        replies.last().unwrap(),
        "+OK Logging out, messages deleted.\r\n"
    );
    let d = same("LIST+RETR+DELE+QUIT", &mut dn, &mut rn);
    let flags: Vec<(&str, &str, Option<&str>)> = d
        .files
        .iter()
        .map(|(s, w, i)| (s.as_str(), *w, i.as_deref()))
        .collect();
    assert_eq!(
        flags,
        [
            ("foreign", "cur", Some("")),
            ("seed one", "cur", Some("S")),
            ("seed two", "cur", Some("S"))
        ]
    );
    assert_eq!(d.records.len(), 4);
    assert_eq!(d.records[3], (4, vec!["W41".to_string()], "foreign".into()));
    assert!(d.header.contains(" N5 "), "{}", d.header);

    // 2. Delivered by LMTP: new/, one record appended, the stale one kept.
    p.deliver("lmtp A");
    let d = same("LMTP delivery", &mut dn, &mut rn);
    assert!(d.files.contains(&("lmtp A".into(), "new", None)));
    assert_eq!(d.records.len(), 5);

    // 3. RETR and drop without QUIT: \Seen is kept. Dovecot has it in its index and renames
    //    the file at its next sync; roost renames it now.
    p.session(&["RETR 3"], false);
    assert!(
        wait_until(Duration::from_secs(10), || {
            dropped_sessions(&p.dovecot.log()) == 1 && dropped_sessions(&p.roost.log_text()) >= 1
        }),
        "both logged the dropped session:\n{}\n{}",
        p.dovecot.log(),
        p.roost.log_text()
    );
    let mut d = disk(&p.dovecot_inbox, &mut dn);
    let r = disk(&p.roost_inbox, &mut rn);
    let foreign = d.files.iter_mut().find(|f| f.0 == "foreign").unwrap();
    assert_eq!(foreign.2.as_deref(), Some(""), "Dovecot renames it later");
    foreign.2 = Some("S".into());
    assert_eq!(
        r, d,
        "after RETR and drop (roost, then Dovecot + its index)"
    );
    assert!(r
        .files
        .contains(&("lmtp A".into(), "cur", Some(String::new()))));
    let fetched = p.dovecot.doveadm(
        &[
            "fetch", "-u", "bob", "flags", "mailbox", "INBOX", "uid", "4",
        ],
        None,
    );
    assert!(fetched.contains("\\Seen"), "{fetched}");

    // 4. Another delivery, then UIDL, TOP and QUIT: same UIDLs and header lines, nothing
    //    flagged by TOP, the new mail moved to cur/.
    p.deliver("lmtp B");
    same("second LMTP delivery", &mut dn, &mut rn);
    let replies = p.session(&["UIDL", "TOP 1 1"], true);
    assert!(replies[0].lines().count() == 7, "{}", replies[0]);
    let d = same("UIDL+TOP+QUIT", &mut dn, &mut rn);
    assert!(d.files.iter().all(|f| f.1 == "cur"));
    assert_eq!(
        d.files
            .iter()
            .find(|f| f.0 == "lmtp B")
            .unwrap()
            .2
            .as_deref(),
        Some("")
    );
    assert_eq!(d.records.len(), 6);

    // 5. Two more deleted: the next login finds only 3 of the 6 records' files, 6 * 75 / 100
    //    >= 3, and both rewrite the uidlist without the stale records.
    p.session(&["DELE 1", "DELE 2"], true);
    same("DELE+DELE+QUIT", &mut dn, &mut rn);
    p.session(&["NOOP"], true);
    let d = same("login after the expunges", &mut dn, &mut rn);
    let uids: Vec<u32> = d.records.iter().map(|r| r.0).collect();
    assert_eq!(uids, [4, 5, 6]);
    assert!(d.header.contains(" N7 "), "{}", d.header);
}

#[test]
fn bad_arguments_get_dovecots_replies() {
    let p = start("pop3-cmp-args", true);
    // Each of roost issue 10 point 5, then neighbours Dovecot treats the same way.
    let cmds = [
        "LIST +1",
        "LIST 1 2",
        "RETR 1 2",
        "TOP 1 1 1",
        "FOO\0BAR",
        "LIST 1\0 2",
        "UIDL 1 2",
        "DELE 1 2",
        "LIST  1",
        "LIST 1 ",
        "LIST 1x",
        "LIST -1",
        "LIST 0",
        "LIST 99",
        "LIST 99999999999x",
        "TOP 1",
        "TOP x 1",
        "TOP 1 x",
        "TOP 1 -1",
        "TOP 99999999999 1",
        "TOP 1 99999999999999999999999x",
        "RETR",
        "\0",
        "",
        " LIST",
        "LIST\t1",
        "STAT x",
        "NOOP x",
    ];
    let replies = p.session(&cmds, true);
    let want = [
        "-ERR Invalid message number: +1\r\n",
        "-ERR Noise after message number:  2\r\n",
        "-ERR Noise after message number:  2\r\n",
        "-ERR Noise after size:  1\r\n",
        "-ERR Unknown command: FOO\r\n",
    ];
    assert_eq!(&replies[..5], &want);
    assert!(replies[5].starts_with("+OK 1 "), "{}", replies[5]);
}

/// The files (not Dovecot's index files) and their modes in a directory.
fn control_files(dir: &Path) -> Vec<(String, u32)> {
    use std::os::unix::fs::PermissionsExt;
    let mut v: Vec<(String, u32)> = fs::read_dir(dir)
        .unwrap()
        .map(|e| e.unwrap())
        .filter(|e| !e.file_name().to_string_lossy().starts_with("dovecot.index"))
        .filter(|e| {
            !e.file_name()
                .to_string_lossy()
                .starts_with("dovecot.list.index")
        })
        .map(|e| {
            let name = e.file_name().into_string().unwrap();
            // dovecot-uidvalidity.<hex>: the value is the time of creation.
            let name = match name.strip_prefix("dovecot-uidvalidity.") {
                Some(_) => "dovecot-uidvalidity.<value>".to_string(),
                None => name,
            };
            (name, e.metadata().unwrap().permissions().mode() & 0o7777)
        })
        .collect();
    v.sort();
    v
}

/// LMTP creating INBOX: Dovecot makes `maildirfolder` (0600, it does for every mailbox it
/// creates under Maildir++), `dovecot-uidvalidity` 0600 holding the value it took and an
/// empty 0444 `dovecot-uidvalidity.<value>`, and a 0600 uidlist. Roost leaves the same.
#[test]
fn a_mailbox_created_by_delivery_has_dovecots_files_and_modes() {
    let p = start("pop3-cmp-new", false);
    p.deliver("first");
    let d = control_files(&p.dovecot_inbox);
    let r = control_files(&p.roost_inbox);
    assert_eq!(r, d, "roost, then Dovecot");
    for (name, mode) in [
        ("maildirfolder", 0o600),
        ("dovecot-uidvalidity", 0o600),
        ("dovecot-uidvalidity.<value>", 0o444),
        ("dovecot-uidlist", 0o600),
    ] {
        assert!(
            r.contains(&(name.to_string(), mode)),
            "{name} {mode:o}: {r:?}"
        );
    }
    for inbox in [&p.dovecot_inbox, &p.roost_inbox] {
        let header = fs::read_to_string(inbox.join("dovecot-uidlist")).unwrap();
        let v = header.split(' ').nth(1).unwrap().strip_prefix('V').unwrap();
        let v: u32 = v.parse().unwrap();
        let stored = fs::read_to_string(inbox.join("dovecot-uidvalidity")).unwrap();
        assert_eq!(stored, format!("{v:08x}"), "{}", inbox.display());
        assert!(inbox.join(format!("dovecot-uidvalidity.{v:08x}")).exists());
    }
}

/// RSET forgets the retrievals too (Dovecot clears its seen bitmask): nothing gets \Seen. A
/// message retrieved and deleted by a session that then drops is kept and gets \Seen (Dovecot
/// commits the seen bitmask without the expunges; its file is renamed at the next login).
#[test]
fn rset_forgets_retrievals_and_a_drop_keeps_seen_on_deleted_mail() {
    let p = start("pop3-cmp-rset", true);
    let (mut dn, mut rn) = (HashMap::new(), HashMap::new());
    p.session(&["RETR 1", "RSET"], true);
    let d = disk(&p.dovecot_inbox, &mut dn);
    assert_eq!(disk(&p.roost_inbox, &mut rn), d, "after RETR+RSET+QUIT");
    assert!(d.files.iter().all(|f| f.2.as_deref() == Some("")), "{d:?}");

    p.session(&["RETR 2", "DELE 2"], false);
    assert!(wait_until(Duration::from_secs(10), || {
        dropped_sessions(&p.dovecot.log()) == 1 && dropped_sessions(&p.roost.log_text()) >= 1
    }));
    p.session(&["NOOP"], true);
    let d = disk(&p.dovecot_inbox, &mut dn);
    assert_eq!(
        disk(&p.roost_inbox, &mut rn),
        d,
        "after the drop and a login"
    );
    let two = d.files.iter().find(|f| f.0 == "seed two").unwrap();
    assert_eq!(two.2.as_deref(), Some("S"));
    assert_eq!(d.files.len(), 4);
}

/// Dovecot's CLIENT_MAX_BAD_COMMANDS: the 21st refused command in a row is answered, then
/// `-ERR Too many bad commands.` and the connection closes; a good command resets the count.
#[test]
fn too_many_bad_commands_end_the_session_as_in_dovecot() {
    let p = start("pop3-cmp-bad", true);
    for port in [p.dovecot.pop3_port, p.roost_pop3] {
        let mut c = Pop3::login(port);
        for _ in 0..20 {
            assert_eq!(c.cmd(b"LIST +1"), "-ERR Invalid message number: +1\r\n");
        }
        assert!(c.cmd(b"NOOP").starts_with("+OK"));
        for _ in 0..20 {
            assert_eq!(c.cmd(b"FOO"), "-ERR Unknown command: FOO\r\n");
        }
        assert_eq!(c.cmd(b"BAR"), "-ERR Unknown command: BAR\r\n");
        assert_eq!(c.line(), "-ERR Too many bad commands.\r\n", "port {port}");
        let mut rest = Vec::new();
        let n = std::io::Read::read_to_end(&mut c.r, &mut rest).unwrap();
        assert_eq!(n, 0, "closed after the last reply (port {port})");
    }
}
