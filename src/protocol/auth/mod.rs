//! Dovecot's auth protocols as sans-IO codecs: the auth-client protocol (`client`, what Postfix,
//! Exim and `doveadm auth test` speak) and the auth-master/auth-userdb protocol (`master`, what
//! LDAs and `doveadm user` speak). Shared here: TAB-separated lines, the `\x01` escaping of
//! field values, and a line splitter with Dovecot's 16 KiB line limit.

pub mod client;
pub mod master;

/// Longest accepted line (Dovecot's `AUTH_CLIENT_MAX_LINE_LENGTH`), without the LF.
pub const MAX_LINE: usize = 16384;

/// Escapes a field value: `\x01` → `\x011`, TAB → `\x01t`, CR → `\x01r`, LF → `\x01n`,
/// NUL → `\x010`.
pub fn tab_escape(s: &str) -> String {
    if !s
        .bytes()
        .any(|b| matches!(b, 0 | 1 | b'\t' | b'\r' | b'\n'))
    {
        return s.to_string();
    }
    let mut out = String::with_capacity(s.len() + 8);
    for c in s.chars() {
        match c {
            '\0' => out.push_str("\x010"),
            '\x01' => out.push_str("\x011"),
            '\t' => out.push_str("\x01t"),
            '\r' => out.push_str("\x01r"),
            '\n' => out.push_str("\x01n"),
            c => out.push(c),
        }
    }
    out
}

/// Reverses [`tab_escape`]. An unknown escape keeps the following character.
pub fn tab_unescape(s: &str) -> String {
    if !s.contains('\x01') {
        return s.to_string();
    }
    let mut out = String::with_capacity(s.len());
    let mut it = s.chars();
    while let Some(c) = it.next() {
        if c != '\x01' {
            out.push(c);
            continue;
        }
        match it.next() {
            Some('0') => out.push('\0'),
            Some('1') => out.push('\x01'),
            Some('t') => out.push('\t'),
            Some('r') => out.push('\r'),
            Some('n') => out.push('\n'),
            Some(o) => out.push(o),
            None => {}
        }
    }
    out
}

/// A line that is too long or not UTF-8.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum LineError {
    #[error("line longer than {MAX_LINE} bytes")]
    TooLong,
    #[error("line is not valid UTF-8")]
    NotUtf8,
}

/// Splits a byte stream into LF-terminated lines (a trailing CR is dropped).
#[derive(Default)]
pub struct Lines {
    buf: Vec<u8>,
}

impl Lines {
    pub fn push(&mut self, bytes: &[u8]) {
        self.buf.extend_from_slice(bytes);
    }

    /// The next complete line, `Ok(None)` if more bytes are needed.
    pub fn next_line(&mut self) -> Result<Option<String>, LineError> {
        match self.buf.iter().position(|&b| b == b'\n') {
            Some(i) => {
                if i > MAX_LINE {
                    return Err(LineError::TooLong);
                }
                let mut line: Vec<u8> = self.buf.drain(..=i).collect();
                line.pop();
                if line.last() == Some(&b'\r') {
                    line.pop();
                }
                String::from_utf8(line)
                    .map(Some)
                    .map_err(|_| LineError::NotUtf8)
            }
            None if self.buf.len() > MAX_LINE => Err(LineError::TooLong),
            None => Ok(None),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    #[test]
    fn escape_roundtrip_and_lines() {
        let s = "a\tb\nc\r\x01d\0";
        assert_eq!(tab_escape(s), "a\x01tb\x01nc\x01r\x011d\x010");
        assert_eq!(tab_unescape(&tab_escape(s)), s);
        let mut l = Lines::default();
        l.push(b"VERSION\t1\t2\r\nCPID\t");
        assert_eq!(l.next_line().unwrap().as_deref(), Some("VERSION\t1\t2"));
        assert_eq!(l.next_line().unwrap(), None);
        l.push(b"42\n");
        assert_eq!(l.next_line().unwrap().as_deref(), Some("CPID\t42"));
        l.push(&vec![b'x'; MAX_LINE + 2]);
        assert_eq!(l.next_line(), Err(LineError::TooLong));
    }

    proptest! {
        #[test]
        fn escape_roundtrips(s in ".*") {
            prop_assert_eq!(tab_unescape(&tab_escape(&s)), s.clone());
            prop_assert!(!tab_escape(&s).contains('\t'));
        }

        #[test]
        fn lines_never_panic(chunks in proptest::collection::vec(proptest::collection::vec(any::<u8>(), 0..40), 0..8)) {
            let mut l = Lines::default();
            for c in chunks {
                l.push(&c);
                while let Ok(Some(_)) = l.next_line() {}
            }
        }
    }
}
