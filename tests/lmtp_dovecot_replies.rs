//! LMTP sessions through the real `roost serve` whose expected replies are Dovecot 2.3.19's,
//! taken from the reference instance with the same bytes (see the README's "Limits" and the
//! brief of roost issue 10): unadvertised MAIL/RCPT parameters, whitespace before the path,
//! NUL bytes, `<postmaster>`; duplicate recipients answered twice and stored once; the
//! `:T<n>`/`:R<n>` ids; XCLIENT from a trusted client (address and session id in the log line
//! and the Received header) and from an untrusted one (refused).

mod common;

use std::io::{BufRead, BufReader, Write};
use std::net::TcpStream;
use std::path::{Path, PathBuf};
use std::time::Duration;

use common::*;

struct Lmtp {
    server: Server,
    mail: PathBuf,
    port: u16,
}

fn start(tag: &str) -> Lmtp {
    let launch = Launch::new(tag);
    let users = launch.dir().write(
        "users",
        "user1@example.test:{PLAIN}pass:1000:1000::/nonexistent\n\
         user2@example.test:{PLAIN}pass:1000:1000::/nonexistent\n",
    );
    let mail = launch.dir().join("mail");
    let port = free_port();
    let extra = format!(
        "protocols = [\"lmtp\"]\nmail_location = \"maildir:{m}/%d/%n\"\n\
hostname = \"mx.roost.test\"\nlogin_trusted_networks = \"127.0.0.1/32\"\n\n\
[[passdb]]\ndriver = \"passwd-file\"\nargs = \"{u}\"\n\n\
[[userdb]]\ndriver = \"passwd-file\"\nargs = \"{u}\"\n\n\
[service.lmtp.inet_listener.lmtp]\nport = {port}\n",
        m = mail.display(),
        u = users.display()
    );
    let server = launch.config(&extra).ready_on(&[port]).start();
    Lmtp { server, mail, port }
}

/// Sends `script` (LF becomes CRLF) pipelined and returns every reply line up to `221`.
fn converse(stream: TcpStream, script: &str) -> Vec<String> {
    stream
        .set_read_timeout(Some(Duration::from_secs(60)))
        .unwrap();
    let mut w = stream.try_clone().unwrap();
    w.write_all(script.replace('\n', "\r\n").as_bytes())
        .unwrap();
    let mut r = BufReader::new(stream);
    let mut lines = Vec::new();
    loop {
        let mut l = Vec::new();
        let n = r.read_until(b'\n', &mut l).unwrap();
        assert!(n > 0, "closed early after {lines:#?}");
        let l = String::from_utf8_lossy(&l).trim_end().to_string();
        let done = l.starts_with("221 ");
        lines.push(l);
        if done {
            return lines;
        }
    }
}

fn messages(dir: &Path) -> Vec<String> {
    let mut out: Vec<(String, String)> = ["new", "cur"]
        .iter()
        .flat_map(|d| std::fs::read_dir(dir.join(d)).into_iter().flatten())
        .map(|e| {
            let e = e.unwrap();
            (
                e.file_name().into_string().unwrap(),
                std::fs::read_to_string(e.path()).unwrap(),
            )
        })
        .collect();
    out.sort();
    out.into_iter().map(|(_, m)| m).collect()
}

fn with_subject<'a>(msgs: &'a [String], subject: &str) -> Vec<&'a String> {
    let needle = format!("\nSubject: {subject}\n");
    msgs.iter().filter(|m| m.contains(&needle)).collect()
}

/// Dovecot's LHLO to a trusted client (STARTTLS: roost has a default certificate).
const LHLO_TRUSTED: [&str; 8] = [
    "250-mx.roost.test",
    "250-8BITMIME",
    "250-CHUNKING",
    "250-ENHANCEDSTATUSCODES",
    "250-PIPELINING",
    "250-STARTTLS",
    "250-XCLIENT ADDR PORT PROTO HELO LOGIN SESSION TTL TIMEOUT",
    "250 XRCPTFORWARD",
];

/// The replies after the greeting and LHLO.
fn after_lhlo(lines: &[String]) -> &[String] {
    let end = lines.iter().position(|l| l.starts_with("250 ")).unwrap();
    &lines[end + 1..]
}

#[test]
fn unadvertised_parameters_whitespace_nul_and_postmaster_get_dovecots_replies() {
    let l = start("lmtp-params");
    let script = "LHLO x\nRCPT TO: <user1@example.test>\nRCPT TO:<user1@example.test> FOO=1\n\
MAIL FROM:<a@b> SIZE=100\nMAIL FROM:<a@b> BODY=BINARYMIME\n\
MAIL FROM:<a@b> RET=FULL\nMAIL FROM:<a@b> ENVID=abc\nMAIL FROM:<a@b> AUTH=<>\n\
MAIL FROM:<a@b> SMTPUTF8\nMAIL FROM:<a@b> BODY\nMAIL FROM: <a@b>\nMAIL FROM:<a@b> BODY=8BITMIME\n\
RCPT TO:<user1@example.test> NOTIFY=NEVER\nRCPT TO: <user1@example.test>\n\
RCPT TO:<user1@example.test> FOO=bar\nRCPT TO:<postmaster>\n\
RCPT TO:<user1@example.test> ORCPT=rfc822;x@y\nMAIL FROM: <a@b>\nMAIL FROM:<a@b> FOO=1\n\
FOO\0bar\nNOOP\0x\nMAIL\0 FROM\nQUIT\n";
    let lines = converse(connect_port(l.port), script);
    let want = [
        "220 mx.roost.test Dovecot ready.",
        LHLO_TRUSTED[0],
        LHLO_TRUSTED[1],
        LHLO_TRUSTED[2],
        LHLO_TRUSTED[3],
        LHLO_TRUSTED[4],
        LHLO_TRUSTED[5],
        LHLO_TRUSTED[6],
        LHLO_TRUSTED[7],
        // The transaction state is checked before the arguments.
        "503 5.5.0 MAIL needed first",
        "503 5.5.0 MAIL needed first",
        "555 5.5.4 Unsupported parameters",
        "555 5.5.4 Unsupported mail BODY type",
        "555 5.5.4 Unsupported parameters",
        "555 5.5.4 Unsupported parameters",
        "555 5.5.4 Unsupported parameters",
        "555 5.5.4 Unsupported parameters",
        "501 5.5.4 Missing BODY= parameter value",
        "501 5.5.4 Invalid FROM: Unexpected whitespace before path",
        "250 2.1.0 OK",
        "555 5.5.4 Unsupported parameters",
        "501 5.5.4 Invalid TO: Unexpected whitespace before path",
        "555 5.5.4 Unsupported parameters",
        "550 5.1.1 <postmaster> User doesn't exist: postmaster",
        "250 2.1.5 OK",
        "503 5.5.0 MAIL already given",
        "503 5.5.0 MAIL already given",
        "500 5.5.2 Invalid command syntax",
        "500 5.5.2 Invalid command syntax",
        "500 5.5.2 Invalid command syntax",
        "221 2.0.0 Bye",
    ];
    assert_eq!(lines, want);
    assert!(!l.server.log_text().contains('\0'), "a NUL reached the log");
}

/// The session id from a `250 2.0.0 <rcpt> ID Saved` reply.
fn saved_id(line: &str) -> &str {
    let w: Vec<&str> = line.split(' ').collect();
    assert!(
        line.starts_with("250 2.0.0 <") && line.ends_with(" Saved"),
        "{line}"
    );
    w[w.len() - 2]
}

#[test]
fn duplicate_recipients_are_answered_twice_stored_once_and_ids_follow_dovecot() {
    let l = start("lmtp-dup");
    let script = "LHLO x\nMAIL FROM:<a@b>\nRCPT TO:<nosuch@example.test>\n\
RCPT TO:<user1@example.test>\nRCPT TO:<user2@example.test>\nRCPT TO:<user1@example.test>\n\
DATA\nSubject: t1\n\nhi\n.\n\
MAIL FROM:<a@b>\nRCPT TO:<user1@example.test>\nRCPT TO:<user2@example.test>\nDATA\nSubject: t2\n\nhi\n.\n\
MAIL FROM:<a@b>\nRCPT TO:<user1@example.test>\nRCPT TO:<user1@EXAMPLE.test>\nDATA\nSubject: t3\n\nhi\n.\n\
MAIL FROM:<a@b>\nRCPT TO:<user1@example.test> ORCPT=rfc822;a@x\n\
RCPT TO:<user1@example.test> ORCPT=rfc822;b@x\nDATA\nSubject: t4\n\nhi\n.\nQUIT\n";
    let all = converse(connect_port(l.port), script);
    let lines = after_lhlo(&all);
    let at = |i: usize| lines[i].as_str();
    assert_eq!(
        at(1),
        "550 5.1.1 <nosuch@example.test> User doesn't exist: nosuch@example.test"
    );
    assert_eq!(at(5), "354 OK");
    let sid = saved_id(at(6)).split(':').next().unwrap().to_string();
    // Transaction 1: the failed RCPT took R1; the duplicate is answered as user1 (R2).
    assert_eq!(
        at(6),
        format!("250 2.0.0 <user1@example.test> {sid}:R2 Saved")
    );
    assert_eq!(
        at(7),
        format!("250 2.0.0 <user2@example.test> {sid}:R3 Saved")
    );
    assert_eq!(
        at(8),
        format!("250 2.0.0 <user1@example.test> {sid}:R2 Saved")
    );
    assert_eq!(
        at(13),
        format!("250 2.0.0 <user1@example.test> {sid}:T2 Saved")
    );
    assert_eq!(
        at(14),
        format!("250 2.0.0 <user2@example.test> {sid}:T2:R2 Saved")
    );
    // Transaction 3: the domain's case does not make another recipient; the duplicate gets
    // the first one's reply word for word (Dovecot's smtp_server_reply_submit_duplicate).
    assert_eq!(
        at(19),
        format!("250 2.0.0 <user1@example.test> {sid}:T3 Saved")
    );
    assert_eq!(
        at(20),
        format!("250 2.0.0 <user1@example.test> {sid}:T3 Saved")
    );
    // Transaction 4: other parameters make another recipient (Dovecot stores it twice).
    assert_eq!(
        at(25),
        format!("250 2.0.0 <user1@example.test> {sid}:T4 Saved")
    );
    assert_eq!(
        at(26),
        format!("250 2.0.0 <user1@example.test> {sid}:T4:R2 Saved")
    );
    let u1 = messages(&l.mail.join("example.test/user1"));
    let u2 = messages(&l.mail.join("example.test/user2"));
    for (s, n) in [("t1", 1), ("t2", 1), ("t3", 1), ("t4", 2)] {
        assert_eq!(with_subject(&u1, s).len(), n, "user1 copies of {s}");
    }
    assert_eq!(u2.len(), 2);
    let t1 = with_subject(&u1, "t1")[0];
    assert!(t1.contains(&format!("\tid {sid}\n")), "{t1}");
    // Two RCPTs (one a duplicate): no Delivered-To, as Dovecot.
    assert!(!with_subject(&u1, "t3")[0].contains("Delivered-To"));
    assert!(with_subject(&u1, "t3")[0].contains(&format!("\tid {sid}:T3\n")));
    let log = l.server.log_text();
    for id in ["R2", "R3", "T2", "T2:R2", "T3", "T4", "T4:R2"] {
        assert!(
            log.contains(&format!("<{sid}:{id}>: Info: saved mail to INBOX")),
            "{id}:\n{log}"
        );
    }
}

#[test]
fn xclient_from_a_trusted_client_sets_address_and_session_in_log_and_received() {
    let l = start("lmtp-xclient");
    let script = "LHLO x\n\
XCLIENT ADDR=192.0.2.7 PORT=4242 HELO=mta.example SESSION=abcSESS123 LOGIN=joe PROTO=ESMTP TTL=5 FOO=bar\n\
MAIL FROM:<a@b>\nRCPT TO:<user1@example.test> XRCPTFORWARD=ip+3D192.0.2.7\nDATA\nSubject: xc\n\nhi\n.\n\
XCLIENT ADDR=bad\nXCLIENT PORT=x\nXCLIENT ADDR=IPV6:2001:db8::1\n\
MAIL FROM:<a@b>\nXCLIENT ADDR=1.2.3.4\nQUIT\n";
    let lines = converse(connect_port(l.port), script);
    assert_eq!(&lines[1..9], &LHLO_TRUSTED);
    assert_eq!(
        &lines[9..],
        [
            "220 mx.roost.test Dovecot ready.",
            "250 2.1.0 OK",
            "250 2.1.5 OK",
            "354 OK",
            "250 2.0.0 <user1@example.test> abcSESS123 Saved",
            "501 5.5.4 Invalid ADDR parameter",
            "501 5.5.4 Invalid PORT parameter",
            "220 mx.roost.test Dovecot ready.",
            "250 2.1.0 OK",
            "503 5.5.0 XCLIENT not permitted during a mail transaction",
            "221 2.0.0 Bye",
        ]
    );
    let m = &messages(&l.mail.join("example.test/user1"))[0];
    assert!(
        m.contains("Received: from mta.example ([192.0.2.7])\n\tby mx.roost.test with LMTP\n\tid abcSESS123\n"),
        "{m}"
    );
    let log = l.server.log_text();
    let saved = log
        .lines()
        .find(|x| x.contains("saved mail to INBOX"))
        .expect("a saved line");
    assert!(
        saved.contains("<abcSESS123>") && saved.contains("rip=192.0.2.7"),
        "{saved}"
    );
    assert!(
        l.server
            .wait_log("Disconnect from 2001:db8::1", Duration::from_secs(10)),
        "the last XCLIENT address is the session's:\n{}",
        l.server.log_text()
    );
}

#[test]
fn xclient_and_xrcptforward_from_an_untrusted_client_are_refused() {
    let l = start("lmtp-untrusted");
    let script = "LHLO x\nXCLIENT ADDR=192.0.2.7\nMAIL FROM:<a@b>\n\
RCPT TO:<user1@example.test> XRCPTFORWARD=ip+3D192.0.2.7\nRCPT TO:<user1@example.test>\n\
DATA\nSubject: untrusted\n\nhi\n.\nQUIT\n";
    let lines = converse(connect_from("127.0.0.2", l.port), script);
    assert_eq!(
        &lines[1..7],
        [
            "250-mx.roost.test",
            "250-8BITMIME",
            "250-CHUNKING",
            "250-ENHANCEDSTATUSCODES",
            "250-PIPELINING",
            "250 STARTTLS",
        ],
        "no XCLIENT offered to an untrusted client"
    );
    assert_eq!(
        &lines[7..11],
        [
            "550 5.7.14 You are not from trusted IP",
            "250 2.1.0 OK",
            "550 5.7.14 Unacceptable XRCPTFORWARD= parameter: You are not from trusted IP",
            "250 2.1.5 OK",
        ]
    );
    let m = &messages(&l.mail.join("example.test/user1"))[0];
    assert!(m.contains("Received: from x ([127.0.0.2])"), "{m}");
}

/// swaks as the XCLIENT client (`--xclient-addr`, `--xclient-helo`, free-form SESSION).
fn swaks_xclient(port: u16, from_ip: &str, subject: &str) -> Ran {
    run_tool(
        "swaks",
        &[
            "--protocol",
            "LMTP",
            "--server",
            &format!("127.0.0.1:{port}"),
            "--local-interface",
            from_ip,
            "--from",
            "s@example.org",
            "--to",
            "user2@example.test",
            "--xclient-no-verify",
            "--xclient-addr",
            "198.51.100.9",
            "--xclient-helo",
            "relay.example",
            "--xclient-delim",
            "--xclient",
            "SESSION=swaksSESS1",
            "--header",
            &format!("Subject: {subject}"),
            "--body",
            "via xclient",
            "--timeout",
            "20",
        ],
    )
}

#[test]
fn swaks_xclient_is_honoured_from_a_trusted_address_and_refused_from_another() {
    let l = start("lmtp-swaks-xclient");
    let ran = swaks_xclient(l.port, "127.0.0.1", "trusted");
    let out = ran.all();
    assert!(
        out.contains("<-  250-XCLIENT ADDR PORT PROTO HELO LOGIN SESSION TTL TIMEOUT"),
        "{out}"
    );
    assert!(
        out.contains("<-  250 2.0.0 <user2@example.test> swaksSESS1 Saved"),
        "{out}"
    );
    let msgs = messages(&l.mail.join("example.test/user2"));
    let m = with_subject(&msgs, "trusted")[0];
    // swaks says LHLO again after XCLIENT; as in Dovecot, that HELO wins over XCLIENT's.
    assert!(
        m.contains(" ([198.51.100.9])\n\tby mx.roost.test with LMTP\n\tid swaksSESS1\n")
            && !m.contains("relay.example"),
        "{m}"
    );
    assert!(l
        .server
        .log_text()
        .lines()
        .any(|x| x.contains("<swaksSESS1>: Info: saved mail") && x.contains("rip=198.51.100.9")));

    // From an untrusted address XCLIENT is not offered, so swaks gives up before MAIL (the
    // raw session in xclient_and_xrcptforward_from_an_untrusted_client_are_refused shows the
    // 550 a client that sends it anyway gets).
    let ran = swaks_xclient(l.port, "127.0.0.2", "untrusted");
    let out = ran.all();
    assert!(!ran.ok, "{out}");
    assert!(
        !out.contains("250-XCLIENT") && !out.contains("MAIL FROM"),
        "{out}"
    );
    let msgs = messages(&l.mail.join("example.test/user2"));
    assert!(with_subject(&msgs, "untrusted").is_empty());
}

#[test]
fn arguments_paths_and_bdat_sequence_get_dovecots_replies() {
    let l = start("lmtp-args");
    let script = "LHLO\nLHLO x\nMAIL FROM:a@b\nMAIL FROM:<a@b>\nRCPT TO:<user1@example.test>\n\
DATA x\nRSET x\nRSET\nSTARTTLS x\nVRFY\n\
MAIL FROM:<a@b>\nRCPT TO:user1@example.test\nRCPT TO:<user1@example.test>\nBDAT 4\nx: yDATA\n\
QUIT x\nQUIT\n";
    let lines = converse(connect_port(l.port), script);
    assert_eq!(lines[1], "501 Missing hostname");
    assert_eq!(
        after_lhlo(&lines[2..]),
        [
            "501 5.5.4 Invalid FROM: Missing '<' at beginning of path",
            "250 2.1.0 OK",
            "250 2.1.5 OK",
            "501 5.5.4 Invalid parameters",
            "501 5.5.4 Invalid parameters",
            "250 2.0.0 OK",
            "501 5.5.4 Invalid parameters",
            "501 5.5.4 Invalid parameters",
            "250 2.1.0 OK",
            "501 5.5.4 Invalid TO: Missing '<' at beginning of path",
            "250 2.1.5 OK",
            "250 2.0.0 Added 4 octets",
            "503 5.5.0 Bad sequence of commands",
            "501 5.5.4 Invalid parameters",
            "221 2.0.0 Bye",
        ]
    );
    // `DATA x` did not start a body: nothing was stored.
    assert!(messages(&l.mail.join("example.test/user1")).is_empty());
}
