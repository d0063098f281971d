//! POP3 codec (RFC 1939, 2449 CAPA, 2595 STLS, 5034 SASL): command lines in, response bytes
//! out. Messages are stored with LF line ends; [`encode_message`] produces the CRLF,
//! dot-stuffed form whose size is the octet count POP3 reports (Dovecot's `W=` size).

pub mod args;
pub mod uidl;

/// Longest command line accepted after login (RFC 2449 §4: 255 octets; SASL responses are
/// longer).
pub const MAX_LINE: usize = 8192;

/// Longest command line pop3-login reads before login (without its CRLF): Dovecot's
/// `LOGIN_MAX_INBUF_SIZE`. Measured on Dovecot 2.3.19: `USER`, `PASS`, `CAPA` lines of up
/// to 1,031 bytes with CRLF are read and longer ones get `-ERR Input buffer full, aborting`
/// (the exact edge moves by a few bytes with the command); roost's edge is 1,024 + CRLF.
/// SASL responses have their own limit (`service::login::sasl::MAX_RESPONSE`).
pub const LOGIN_MAX_LINE: usize = 1024;

/// A POP3 command. Arguments are kept as text; the session validates them so its error
/// replies can quote them as Dovecot does.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Command {
    Capa,
    User(String),
    /// The rest of the line (passwords may contain spaces).
    Pass(String),
    Auth {
        mechanism: Option<String>,
        initial: Option<String>,
    },
    Stls,
    Quit,
    Stat,
    /// The transaction commands keep the rest of the line (leading spaces skipped) for
    /// [`args`] to check as Dovecot does: `LIST 1 2` is refused, not read as `LIST 1`.
    List(String),
    Uidl(String),
    Retr(String),
    Top(String),
    Dele(String),
    Rset,
    Noop,
    /// `XCLIENT ADDR=… PORT=…` from trusted proxies.
    Xclient(Vec<String>),
    /// An empty line or one starting with a space (Dovecot: `-ERR Unknown command.`).
    Empty,
    /// Anything else (name upper-cased).
    Unknown(String),
}

impl Command {
    /// The command's name for metrics and logs.
    pub fn name(&self) -> &str {
        match self {
            Command::Capa => "CAPA",
            Command::User(_) => "USER",
            Command::Pass(_) => "PASS",
            Command::Auth { .. } => "AUTH",
            Command::Stls => "STLS",
            Command::Quit => "QUIT",
            Command::Stat => "STAT",
            Command::List(_) => "LIST",
            Command::Uidl(_) => "UIDL",
            Command::Retr(_) => "RETR",
            Command::Top(..) => "TOP",
            Command::Dele(_) => "DELE",
            Command::Rset => "RSET",
            Command::Noop => "NOOP",
            Command::Xclient(_) => "XCLIENT",
            Command::Empty | Command::Unknown(_) => "unknown",
        }
    }
}

/// Parses one line (without its line end) as Dovecot does: the line ends at a NUL (it is a C
/// string there), the name ends at the first space (a tab is part of the name), and the
/// arguments are the rest of the line.
pub fn parse(line: &[u8]) -> Command {
    let line = line.split(|&b| b == 0).next().unwrap_or_default();
    let text = String::from_utf8_lossy(line);
    let (name, rest) = match text.split_once(' ') {
        Some((n, r)) => (n, r),
        None => (&*text, ""),
    };
    if name.is_empty() {
        return Command::Empty;
    }
    let upper = name.to_ascii_uppercase();
    let tail = || rest.trim_start_matches(' ').to_string();
    let mut args = rest.split(' ').filter(|a| !a.is_empty());
    match upper.as_str() {
        "CAPA" => Command::Capa,
        "USER" => Command::User(rest.to_string()),
        "PASS" => Command::Pass(rest.to_string()),
        "AUTH" => Command::Auth {
            mechanism: args.next().map(str::to_string),
            initial: args.next().map(str::to_string),
        },
        "STLS" => Command::Stls,
        "QUIT" => Command::Quit,
        "STAT" => Command::Stat,
        "LIST" => Command::List(tail()),
        "UIDL" => Command::Uidl(tail()),
        "RETR" => Command::Retr(tail()),
        "TOP" => Command::Top(tail()),
        "DELE" => Command::Dele(tail()),
        "RSET" => Command::Rset,
        "NOOP" => Command::Noop,
        "XCLIENT" => Command::Xclient(args.map(str::to_string).collect()),
        _ => Command::Unknown(upper),
    }
}

/// `+OK text\r\n` (or `+OK\r\n`).
pub fn ok(text: &str) -> Vec<u8> {
    status(true, text)
}

/// `-ERR text\r\n`.
pub fn err(text: &str) -> Vec<u8> {
    status(false, text)
}

fn status(good: bool, text: &str) -> Vec<u8> {
    let mut v = Vec::with_capacity(text.len() + 8);
    v.extend_from_slice(if good { b"+OK" } else { b"-ERR" });
    if !text.is_empty() {
        v.push(b' ');
        v.extend_from_slice(text.as_bytes());
    }
    v.extend_from_slice(b"\r\n");
    v
}

/// A multi-line response: status line, lines (dot-stuffed), terminating `.`.
pub fn multiline(first: &str, lines: &[String]) -> Vec<u8> {
    let mut v = ok(first);
    for l in lines {
        if l.starts_with('.') {
            v.push(b'.');
        }
        v.extend_from_slice(l.as_bytes());
        v.extend_from_slice(b"\r\n");
    }
    v.extend_from_slice(b".\r\n");
    v
}

/// Appends a stored message (LF or CRLF line ends) to `out` in POP3 form: CRLF line ends,
/// dot-stuffed, a final CRLF if the message lacked one, and the terminating `.` line.
/// `top`: `Some(n)` sends the header, the blank line and `n` body lines (TOP).
pub fn encode_message(data: &[u8], top: Option<usize>, out: &mut Vec<u8>) {
    out.reserve(data.len() + data.len() / 32 + 8);
    let mut in_body = false;
    let mut body_lines = 0usize;
    let mut start = 0usize;
    let mut ends = memchr::memchr_iter(b'\n', data);
    while start < data.len() {
        if let Some(limit) = top {
            if in_body && body_lines >= limit {
                break;
            }
        }
        let end = ends.next().unwrap_or(data.len());
        let line = &data[start..end];
        let line = line.strip_suffix(b"\r").unwrap_or(line);
        if line.first() == Some(&b'.') {
            out.push(b'.');
        }
        out.extend_from_slice(line);
        out.extend_from_slice(b"\r\n");
        if in_body {
            body_lines += 1;
        } else if line.is_empty() {
            in_body = true;
        }
        start = end + 1;
    }
    out.extend_from_slice(b".\r\n");
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_commands_case_insensitively() {
        assert_eq!(parse(b"capa"), Command::Capa);
        assert_eq!(parse(b"USER bob"), Command::User("bob".into()));
        assert_eq!(
            parse(b"PASS with space"),
            Command::Pass("with space".into())
        );
        assert_eq!(parse(b"list"), Command::List(String::new()));
        assert_eq!(parse(b"LIST 3"), Command::List("3".into()));
        assert_eq!(parse(b"LIST  1 2"), Command::List("1 2".into()));
        assert_eq!(parse(b"TOP 1 0"), Command::Top("1 0".into()));
        assert_eq!(parse(b"RETR"), Command::Retr(String::new()));
        assert_eq!(
            parse(b"AUTH PLAIN AGJvYgBwYXNz"),
            Command::Auth {
                mechanism: Some("PLAIN".into()),
                initial: Some("AGJvYgBwYXNz".into())
            }
        );
        assert_eq!(parse(b"foo bar"), Command::Unknown("FOO".into()));
    }

    /// Dovecot 2.3.19.1's answers: `FOO\0BAR` → `Unknown command: FOO`, `LIST 1\0 2` →
    /// `+OK 1 …`, `\0`, an empty line and ` LIST` → `Unknown command.`, `LIST\t1` →
    /// `Unknown command: LIST\t1`.
    #[test]
    fn a_nul_ends_the_line_and_only_a_space_ends_the_name() {
        assert_eq!(parse(b"FOO\0BAR"), Command::Unknown("FOO".into()));
        assert_eq!(parse(b"RE\0TR 1"), Command::Unknown("RE".into()));
        assert_eq!(parse(b"LIST 1\0 2"), Command::List("1".into()));
        assert_eq!(parse(b"\0"), Command::Empty);
        assert_eq!(parse(b""), Command::Empty);
        assert_eq!(parse(b" LIST"), Command::Empty);
        assert_eq!(parse(b"list\t1"), Command::Unknown("LIST\t1".into()));
    }

    #[test]
    fn responses() {
        assert_eq!(ok(""), b"+OK\r\n");
        assert_eq!(
            err("Unknown command: FOO"),
            b"-ERR Unknown command: FOO\r\n"
        );
        assert_eq!(
            multiline("", &["TOP".into(), ".x".into()]),
            b"+OK\r\nTOP\r\n..x\r\n.\r\n"
        );
    }

    #[test]
    fn messages_get_crlf_and_stuffing_and_exact_size() {
        let stored = b"From: a@b\nSubject: hi\n\nbody line\n.dot\n";
        let mut out = Vec::new();
        encode_message(stored, None, &mut out);
        assert_eq!(
            out,
            b"From: a@b\r\nSubject: hi\r\n\r\nbody line\r\n..dot\r\n.\r\n".to_vec()
        );
        // The octet count Dovecot reports (W=43) is the unstuffed CRLF size.
        assert_eq!(crate::mail::maildir::virtual_size(stored), 43);
    }

    #[test]
    fn top_sends_header_and_n_lines() {
        let stored = b"A: 1\nB: 2\n\nl1\nl2\nl3\n";
        let mut out = Vec::new();
        encode_message(stored, Some(0), &mut out);
        assert_eq!(out, b"A: 1\r\nB: 2\r\n\r\n.\r\n".to_vec());
        out.clear();
        encode_message(stored, Some(2), &mut out);
        assert_eq!(out, b"A: 1\r\nB: 2\r\n\r\nl1\r\nl2\r\n.\r\n".to_vec());
    }

    #[test]
    fn missing_final_newline_is_added() {
        let mut out = Vec::new();
        encode_message(b"A: 1\n\nno newline", None, &mut out);
        assert_eq!(out, b"A: 1\r\n\r\nno newline\r\n.\r\n".to_vec());
    }

    proptest::proptest! {
        #[test]
        fn parser_never_panics(line in proptest::collection::vec(proptest::num::u8::ANY, 0..64)) {
            let _ = parse(&line);
        }

        #[test]
        fn encoded_message_unstuffs_back(body in "[a-z.\n]{0,80}") {
            let mut out = Vec::new();
            encode_message(body.as_bytes(), None, &mut out);
            let mut r = crate::protocol::lmtp::DataReader::new();
            let mut unstuffed = Vec::new();
            let done = r.feed(&out, &mut unstuffed);
            proptest::prop_assert_eq!(done, crate::protocol::lmtp::data::Progress::Done(out.len()));
            let back = crate::mail::maildir::crlf_to_lf(&unstuffed);
            let mut want = body.clone();
            if !want.is_empty() && !want.ends_with('\n') { want.push('\n'); }
            proptest::prop_assert_eq!(String::from_utf8(back).unwrap(), want);
        }
    }
}
