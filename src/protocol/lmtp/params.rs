//! The checks Dovecot's lib-smtp makes on a command line before the grammar: a NUL byte
//! (`500 5.5.2 Invalid command syntax`), whitespace between `FROM:`/`TO:` and the path
//! (`501 5.5.4 Invalid FROM: Unexpected whitespace before path`), and MAIL/RCPT parameters
//! that were not advertised (`555 5.5.4 Unsupported parameters`, `Unsupported mail BODY type`).
//! Commands that take no argument (`DATA x`, `RSET x`) and a VRFY or LHLO without one get
//! lib-smtp's replies too. `XRCPTFORWARD=` is taken out of the line here (it is Dovecot's, not SMTP's) and
//! xtext-decoded.

use super::Reply;

/// What the session advertised, which decides the parameters it accepts.
#[derive(Clone, Copy, Debug, Default)]
pub struct Caps {
    /// `lmtp_max_mail_size`: `SIZE` is advertised and accepted only when non-zero.
    pub size_limit: u64,
    /// The client is in `login_trusted_networks` (may send `XRCPTFORWARD=`).
    pub trusted: bool,
}

/// A MAIL/RCPT line after the checks.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Checked {
    /// The line for the grammar (without `XRCPTFORWARD=`).
    pub line: Vec<u8>,
    /// The path as written, without the angle brackets.
    pub path: String,
    /// The decoded `XRCPTFORWARD=` value (TAB-separated `key=value` forward fields).
    pub forward: Option<String>,
    /// The RCPT parameters that make two recipients differ (upper-cased keyword=value,
    /// space-separated): Dovecot delivers a recipient once per (path, parameters).
    pub params: String,
}

fn invalid_syntax() -> Reply {
    Reply::new(500, "5.5.2", "Invalid command syntax")
}

fn unsupported() -> Reply {
    Reply::new(555, "5.5.4", "Unsupported parameters")
}

/// lib-smtp's reply to a command given arguments it does not take (`DATA x`, `RSET x`,
/// `QUIT x`, `STARTTLS x`) or lacking one it needs (`VRFY`, `LHLO`).
pub fn check_arity(line: &[u8]) -> Option<Reply> {
    let line = trim_eol(line);
    let (verb, args) = match line.iter().position(|&b| b == b' ') {
        Some(i) => (&line[..i], &line[i + 1..]),
        None => (line, &b""[..]),
    };
    let has_args = args.iter().any(|&b| b != b' ');
    let is = |v: &[u8]| verb.eq_ignore_ascii_case(v);
    if has_args && (is(b"DATA") || is(b"RSET") || is(b"QUIT") || is(b"STARTTLS")) {
        return Some(Reply::new(501, "5.5.4", "Invalid parameters"));
    }
    if !has_args && is(b"VRFY") {
        return Some(Reply::new(501, "5.5.4", "Invalid parameters"));
    }
    if !has_args && is(b"LHLO") {
        return Some(Reply::plain(501, vec!["Missing hostname".into()]));
    }
    None
}

/// `Some(true)` for a MAIL line, `Some(false)` for RCPT, else `None`.
pub fn mail_or_rcpt(line: &[u8]) -> Option<bool> {
    if starts_with_ci(line, b"MAIL ") {
        Some(true)
    } else if starts_with_ci(line, b"RCPT ") {
        Some(false)
    } else {
        None
    }
}

/// Checks one command line (CRLF may still be attached). `Ok(None)`: not MAIL/RCPT, parse as
/// it is.
pub fn check(line: &[u8], caps: Caps) -> Result<Option<Checked>, Reply> {
    if line.contains(&0) {
        return Err(invalid_syntax());
    }
    let line = trim_eol(line);
    let (is_mail, prefix) = if starts_with_ci(line, b"MAIL FROM:") {
        (true, 10)
    } else if starts_with_ci(line, b"RCPT TO:") {
        (false, 8)
    } else {
        return Ok(None);
    };
    let what = if is_mail { "FROM" } else { "TO" };
    let rest = &line[prefix..];
    if rest.first() == Some(&b' ') {
        return Err(Reply::new(
            501,
            "5.5.4",
            &format!("Invalid {what}: Unexpected whitespace before path"),
        ));
    }
    if rest.first() != Some(&b'<') {
        return Err(Reply::new(
            501,
            "5.5.4",
            &format!("Invalid {what}: Missing '<' at beginning of path"),
        ));
    }
    let path_end = path_len(rest);
    let path = &rest[..path_end];
    let inner = path
        .strip_prefix(b"<")
        .and_then(|p| p.strip_suffix(b">"))
        .unwrap_or(path);
    let mut out = Checked {
        line: line[..prefix + path_end].to_vec(),
        path: String::from_utf8_lossy(inner).into_owned(),
        ..Checked::default()
    };
    let text = String::from_utf8_lossy(&rest[path_end..]).into_owned();
    let mut kept = Vec::new();
    for param in text.split(' ').filter(|p| !p.is_empty()) {
        let (key, value) = match param.split_once('=') {
            Some((k, v)) => (k.to_ascii_uppercase(), Some(v)),
            None => (param.to_ascii_uppercase(), None),
        };
        if is_mail {
            mail_param(&key, value, caps)?;
        } else if key == "XRCPTFORWARD" {
            let decoded = xtext_decode(value.unwrap_or("")).map_err(|e| {
                Reply::new(
                    501,
                    "5.5.4",
                    &format!("Invalid XRCPTFORWARD= parameter: {e}"),
                )
            })?;
            if !caps.trusted {
                return Err(Reply::new(
                    550,
                    "5.7.14",
                    "Unacceptable XRCPTFORWARD= parameter: You are not from trusted IP",
                ));
            }
            out.forward = Some(decoded);
            continue;
        } else if key != "ORCPT" {
            return Err(unsupported());
        } else {
            kept.push(format!("{key}={}", value.unwrap_or("")));
        }
        out.line.push(b' ');
        out.line.extend_from_slice(param.as_bytes());
    }
    out.params = kept.join(" ");
    out.line.extend_from_slice(b"\r\n");
    Ok(Some(out))
}

/// The MAIL parameters Dovecot's LMTP takes: `BODY=7BIT|8BITMIME`, and `SIZE=` when a limit
/// is advertised (larger than the limit: `552 5.2.3`).
fn mail_param(key: &str, value: Option<&str>, caps: Caps) -> Result<(), Reply> {
    match key {
        "BODY" => match value.map(str::to_ascii_uppercase).as_deref() {
            Some("7BIT" | "8BITMIME") => Ok(()),
            None => Err(Reply::new(501, "5.5.4", "Missing BODY= parameter value")),
            Some(_) => Err(Reply::new(555, "5.5.4", "Unsupported mail BODY type")),
        },
        "SIZE" if caps.size_limit > 0 => match value.and_then(|v| v.parse::<u64>().ok()) {
            Some(n) if n > caps.size_limit => Err(too_big()),
            Some(_) => Ok(()),
            None => Err(Reply::new(501, "5.5.4", "Invalid SIZE= parameter value")),
        },
        _ => Err(unsupported()),
    }
}

/// lib-smtp's reply when a message (declared or received) is over `max_message_size`.
pub fn too_big() -> Reply {
    Reply::new(552, "5.2.3", "Message size exceeds administrative limit")
}

fn trim_eol(line: &[u8]) -> &[u8] {
    let line = line.strip_suffix(b"\n").unwrap_or(line);
    line.strip_suffix(b"\r").unwrap_or(line)
}

fn starts_with_ci(line: &[u8], prefix: &[u8]) -> bool {
    line.len() >= prefix.len() && line[..prefix.len()].eq_ignore_ascii_case(prefix)
}

/// Length of the path at the start of `rest`: `<...>` (quotes may hold `>`), or up to a space.
fn path_len(rest: &[u8]) -> usize {
    if rest.first() != Some(&b'<') {
        return rest.iter().position(|&b| b == b' ').unwrap_or(rest.len());
    }
    let mut quoted = false;
    let mut i = 1;
    while i < rest.len() {
        match rest[i] {
            b'\\' if quoted => i += 1,
            b'"' => quoted = !quoted,
            b'>' if !quoted => return i + 1,
            _ => {}
        }
        i += 1;
    }
    rest.len()
}

/// RFC 3461 xtext: `+XX` is a hex-escaped byte; other printable ASCII but `=` stands for
/// itself.
pub fn xtext_decode(s: &str) -> Result<String, &'static str> {
    let b = s.as_bytes();
    let mut out = Vec::with_capacity(b.len());
    let mut i = 0;
    while i < b.len() {
        match b[i] {
            b'+' => {
                let hex = b.get(i + 1..i + 3).ok_or("Invalid xtext")?;
                let hex = std::str::from_utf8(hex).map_err(|_| "Invalid xtext")?;
                out.push(u8::from_str_radix(hex, 16).map_err(|_| "Invalid xtext")?);
                i += 3;
            }
            c if (b'!'..=b'~').contains(&c) && c != b'=' => {
                out.push(c);
                i += 1;
            }
            _ => return Err("Invalid xtext"),
        }
    }
    String::from_utf8(out).map_err(|_| "Invalid xtext")
}

#[cfg(test)]
mod tests {
    use super::*;

    fn err(line: &str, caps: Caps) -> String {
        check(line.as_bytes(), caps).unwrap_err().to_string()
    }

    #[test]
    fn unadvertised_mail_parameters_get_dovecots_replies() {
        let c = Caps::default();
        for p in ["SIZE=100", "RET=FULL", "ENVID=abc", "AUTH=<>", "SMTPUTF8"] {
            assert_eq!(
                err(&format!("MAIL FROM:<a@b> {p}"), c),
                "555 5.5.4 Unsupported parameters\r\n",
                "{p}"
            );
        }
        assert_eq!(
            err("MAIL FROM:<a@b> BODY=BINARYMIME", c),
            "555 5.5.4 Unsupported mail BODY type\r\n"
        );
        assert_eq!(
            err("RCPT TO:<a@b> NOTIFY=NEVER", c),
            "555 5.5.4 Unsupported parameters\r\n"
        );
        let ok = check(b"MAIL FROM:<a@b> BODY=8bitmime\r\n", c)
            .unwrap()
            .unwrap();
        assert_eq!(ok.line, b"MAIL FROM:<a@b> BODY=8bitmime\r\n");
    }

    #[test]
    fn size_is_taken_only_when_a_limit_is_advertised() {
        let c = Caps {
            size_limit: 1000,
            trusted: false,
        };
        assert!(check(b"MAIL FROM:<a@b> SIZE=1000", c).is_ok());
        assert_eq!(
            err("MAIL FROM:<a@b> SIZE=1001", c),
            "552 5.2.3 Message size exceeds administrative limit\r\n"
        );
    }

    #[test]
    fn whitespace_before_path_and_nul() {
        let c = Caps::default();
        assert_eq!(
            err("MAIL FROM: <a@b>", c),
            "501 5.5.4 Invalid FROM: Unexpected whitespace before path\r\n"
        );
        assert_eq!(
            err("rcpt to: <a@b>", c),
            "501 5.5.4 Invalid TO: Unexpected whitespace before path\r\n"
        );
        assert_eq!(err("FOO\0bar", c), "500 5.5.2 Invalid command syntax\r\n");
        assert_eq!(
            err("MAIL FROM:a@b", c),
            "501 5.5.4 Invalid FROM: Missing '<' at beginning of path\r\n"
        );
    }

    #[test]
    fn arguments_where_none_are_taken_and_none_where_one_is_needed() {
        for l in ["DATA x", "rset x", "QUIT x", "STARTTLS x", "VRFY"] {
            assert_eq!(
                check_arity(l.as_bytes()).unwrap().to_string(),
                "501 5.5.4 Invalid parameters\r\n",
                "{l}"
            );
        }
        assert_eq!(
            check_arity(b"LHLO\r\n").unwrap().to_string(),
            "501 Missing hostname\r\n"
        );
        for l in [
            "DATA", "DATA ", "RSET\r\n", "NOOP hi", "VRFY bob", "LHLO x", "DATAX",
        ] {
            assert!(check_arity(l.as_bytes()).is_none(), "{l}");
        }
    }

    #[test]
    fn xrcptforward_needs_trust_and_is_removed_from_the_line() {
        let line = b"RCPT TO:<u@d> XRCPTFORWARD=ip+3D192.0.2.1 ORCPT=rfc822;x@y\r\n";
        let trusted = Caps {
            size_limit: 0,
            trusted: true,
        };
        let c = check(line, trusted).unwrap().unwrap();
        assert_eq!(c.forward.as_deref(), Some("ip=192.0.2.1"));
        assert_eq!(c.line, b"RCPT TO:<u@d> ORCPT=rfc822;x@y\r\n");
        assert_eq!(c.params, "ORCPT=rfc822;x@y");
        assert_eq!(
            err(std::str::from_utf8(line).unwrap(), Caps::default()),
            "550 5.7.14 Unacceptable XRCPTFORWARD= parameter: You are not from trusted IP\r\n"
        );
        assert_eq!(xtext_decode("a+2Bb").unwrap(), "a+b");
        assert!(xtext_decode("a+zz").is_err());
    }
}
