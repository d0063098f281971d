//! LMTP (RFC 2033) codec. Command lines are parsed by `smtp-proto` (kept, fuzzed upstream);
//! this module frames lines, turns parser errors into the replies Dovecot sends, checks what
//! lib-smtp checks before the grammar (`params`: unadvertised parameters, NUL, arity), parses
//! XCLIENT (`xclient`), unstuffs DATA (end at `CRLF.CRLF`) and BDAT chunks, and formats replies.

pub mod data;
pub mod params;
pub mod reply;
pub mod xclient;

use std::borrow::Cow;

pub use data::{BdatReader, DataReader};
pub use reply::Reply;
pub use smtp_proto::Request;

/// Longest command line accepted (RFC 5321 §4.5.3.1.4 allows 512; extensions need more).
pub const MAX_LINE: usize = 4096;

/// A parsed command line or the reply that rejects it.
pub fn parse_command(line: &[u8]) -> Result<Request<String>, Reply> {
    if line.contains(&0) {
        return Err(Reply::new(500, "5.5.2", "Invalid command syntax"));
    }
    let mut with_crlf;
    let line = if line.ends_with(b"\n") {
        line
    } else {
        with_crlf = line.to_vec();
        with_crlf.extend_from_slice(b"\r\n");
        &with_crlf[..]
    };
    match Request::<Cow<'_, str>>::parse(&mut line.iter()) {
        Ok(r) => Ok(r.into_owned()),
        Err(
            e @ (smtp_proto::Error::InvalidRecipientAddress
            | smtp_proto::Error::InvalidSenderAddress),
        ) => local_only(line).ok_or_else(|| error_reply(e)),
        Err(e) => Err(error_reply(e)),
    }
}

/// Placeholder domain for addresses without one (`RCPT TO:<bob>`), which Dovecot accepts and
/// the SMTP grammar does not.
const NO_DOMAIN: &str = "@roost.no-domain.invalid";

/// Parses a MAIL/RCPT line whose address lacks a domain by lending it one, then removing it.
fn local_only(line: &[u8]) -> Option<Request<String>> {
    let open = line.iter().position(|&b| b == b'<')?;
    let close = open + line[open..].iter().position(|&b| b == b'>')?;
    let inner = &line[open + 1..close];
    if inner.is_empty() || inner.contains(&b'@') {
        return None;
    }
    let mut fixed = line[..close].to_vec();
    fixed.extend_from_slice(NO_DOMAIN.as_bytes());
    fixed.extend_from_slice(&line[close..]);
    let strip = |a: String| a.strip_suffix(NO_DOMAIN).map(str::to_string).unwrap_or(a);
    match Request::<Cow<'_, str>>::parse(&mut fixed.iter())
        .ok()?
        .into_owned()
    {
        Request::Rcpt { mut to } => {
            to.address = strip(to.address);
            Some(Request::Rcpt { to })
        }
        Request::Mail { mut from } => {
            from.address = strip(from.address);
            Some(Request::Mail { from })
        }
        _ => None,
    }
}

fn error_reply(e: smtp_proto::Error) -> Reply {
    use smtp_proto::Error as E;
    match e {
        E::UnknownCommand => Reply::new(500, "5.5.1", "Unknown command"),
        E::InvalidSenderAddress => Reply::new(501, "5.5.4", "Invalid FROM: Invalid address"),
        E::InvalidRecipientAddress => Reply::new(501, "5.5.4", "Invalid TO: Invalid address"),
        E::SyntaxError { syntax } => {
            Reply::new(501, "5.5.4", &format!("Invalid parameters: {syntax}"))
        }
        E::InvalidParameter { param } => {
            Reply::new(501, "5.5.4", &format!("Invalid parameter {param}"))
        }
        E::UnsupportedParameter { .. } => Reply::new(555, "5.5.4", "Unsupported parameters"),
        E::ResponseTooLong => Reply::new(500, "5.5.2", "Line too long"),
        E::NeedsMoreData { .. } | E::InvalidResponse { .. } => {
            Reply::new(501, "5.5.4", "Invalid command syntax")
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_lmtp_commands() {
        assert_eq!(
            parse_command(b"LHLO mx.example\r\n").unwrap(),
            Request::Lhlo {
                host: "mx.example".into()
            }
        );
        match parse_command(b"MAIL FROM:<> BODY=8BITMIME SIZE=100").unwrap() {
            Request::Mail { from } => {
                assert_eq!(from.address, "");
                assert_eq!(from.size, 100);
            }
            other => panic!("{other:?}"),
        }
        match parse_command(b"RCPT TO:<bob+box@example.test>\r\n").unwrap() {
            Request::Rcpt { to } => assert_eq!(to.address, "bob+box@example.test"),
            other => panic!("{other:?}"),
        }
        match parse_command(b"RCPT TO:<bob>\r\n").unwrap() {
            Request::Rcpt { to } => assert_eq!(to.address, "bob"),
            other => panic!("{other:?}"),
        }
        assert_eq!(
            parse_command(b"BDAT 5 LAST\r\n").unwrap(),
            Request::Bdat {
                chunk_size: 5,
                is_last: true
            }
        );
        assert_eq!(parse_command(b"data\n").unwrap(), Request::Data);
    }

    #[test]
    fn errors_become_dovecots_replies() {
        assert_eq!(
            parse_command(b"FOO\r\n").unwrap_err().to_string(),
            "500 5.5.1 Unknown command\r\n"
        );
        assert_eq!(
            parse_command(b"MAIL FROM:<a@b> XYZ=1\r\n")
                .unwrap_err()
                .code,
            555
        );
    }
}
