//! The health-check protocol of Dovecot's `health-check` service: a client sends `PING`, the
//! server answers `PONG`. Roost keeps the connection open for further pings until the client
//! closes it or sends `QUIT`.

/// What to do with one received line.
#[derive(Debug, PartialEq, Eq)]
pub enum Reply {
    Send(&'static [u8]),
    Close,
    Ignore,
}

/// Interprets one line (without its line ending).
pub fn on_line(line: &[u8]) -> Reply {
    let line = line.strip_suffix(b"\r").unwrap_or(line);
    if line.eq_ignore_ascii_case(b"PING") {
        Reply::Send(b"PONG\n")
    } else if line.eq_ignore_ascii_case(b"QUIT") {
        Reply::Close
    } else {
        Reply::Ignore
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ping_pong() {
        assert_eq!(on_line(b"PING"), Reply::Send(b"PONG\n"));
        assert_eq!(on_line(b"ping\r"), Reply::Send(b"PONG\n"));
        assert_eq!(on_line(b"QUIT"), Reply::Close);
        assert_eq!(on_line(b"HELLO"), Reply::Ignore);
    }
}
