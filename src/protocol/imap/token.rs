//! The argument tokenizer: a received [`Frame`] → tag, command name and a tree of arguments
//! (atoms, quoted strings, literals, NIL, parenthesised lists), the same split Dovecot's
//! `imap-parser` makes before a command looks at its arguments. Error texts are Dovecot's.

use super::receiver::Frame;

/// One argument.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Arg {
    Atom(String),
    /// A quoted string, unescaped (may hold 8-bit bytes).
    Quoted(Vec<u8>),
    Literal(Vec<u8>),
    Nil,
    List(Vec<Arg>),
    /// An APPEND message literal whose bytes went to the session as they arrived.
    Streamed(u64),
}

impl Arg {
    /// The bytes of an atom, string or literal (`NIL` is not a string).
    pub fn as_bytes(&self) -> Option<&[u8]> {
        match self {
            Arg::Atom(a) => Some(a.as_bytes()),
            Arg::Quoted(b) | Arg::Literal(b) => Some(b),
            _ => None,
        }
    }

    pub fn as_atom(&self) -> Option<&str> {
        match self {
            Arg::Atom(a) => Some(a),
            _ => None,
        }
    }

    /// The atom upper-cased, for keyword matching.
    pub fn keyword(&self) -> Option<String> {
        self.as_atom().map(str::to_ascii_uppercase)
    }
}

/// A tokenized command line.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Line {
    pub tag: String,
    /// As sent (case kept).
    pub name: String,
    pub args: Vec<Arg>,
}

/// Where tokenizing failed: with or without a tag read.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum TokenError {
    /// `* BAD Error in IMAP tag: Invalid tag`.
    InvalidTag,
    /// `TAG BAD Error in IMAP command: Invalid command name`.
    InvalidCommandName { tag: String },
    /// `TAG BAD Error in IMAP command NAME: <reason>`.
    Args {
        tag: String,
        name: String,
        reason: &'static str,
    },
}

fn is_tag_char(b: u8) -> bool {
    b > 0x20 && b < 0x7f && !matches!(b, b'(' | b')' | b'{' | b'%' | b'*' | b'"' | b'\\' | b'+')
}

fn is_atom_special(b: u8) -> bool {
    matches!(b, b'(' | b')' | b'{' | b'"') || b <= 0x20 || b == 0x7f
}

/// Splits a frame into tag, name and arguments.
pub fn tokenize(frame: &Frame) -> Result<Line, TokenError> {
    let bytes = &frame.bytes;
    let word_end = |from: usize| -> usize {
        bytes[from..]
            .iter()
            .position(|&b| matches!(b, b' ' | b'\r' | b'\n'))
            .map_or(bytes.len(), |p| from + p)
    };
    let tag_end = word_end(0);
    let tag = &bytes[..tag_end];
    if tag.is_empty() || !tag.iter().all(|&b| is_tag_char(b)) {
        return Err(TokenError::InvalidTag);
    }
    let tag = String::from_utf8_lossy(tag).into_owned();
    if bytes.get(tag_end) != Some(&b' ') {
        return Err(TokenError::InvalidCommandName { tag });
    }
    let name_start = tag_end + 1;
    let name_end = word_end(name_start);
    let name = &bytes[name_start..name_end];
    if name.is_empty() || !name.iter().all(|&b| b.is_ascii_alphanumeric() || b == b'-') {
        return Err(TokenError::InvalidCommandName { tag });
    }
    let mut name = String::from_utf8_lossy(name).into_owned();
    let mut pos = name_end;
    // `UID <command>` reads as one name.
    if name.eq_ignore_ascii_case("UID") && bytes.get(pos) == Some(&b' ') {
        let sub_end = word_end(pos + 1);
        if sub_end > pos + 1 {
            name = format!(
                "{name} {}",
                String::from_utf8_lossy(&bytes[pos + 1..sub_end])
            );
            pos = sub_end;
        }
    }
    let mut t = Tokenizer { frame, pos };
    let args = t.args().map_err(|reason| TokenError::Args {
        tag: tag.clone(),
        name: name.clone(),
        reason,
    })?;
    Ok(Line { tag, name, args })
}

struct Tokenizer<'a> {
    frame: &'a Frame,
    pos: usize,
}

impl Tokenizer<'_> {
    fn peek(&self) -> Option<u8> {
        self.frame.bytes.get(self.pos).copied()
    }

    fn args(&mut self) -> Result<Vec<Arg>, &'static str> {
        // Stack of open lists; the bottom is the argument list itself.
        let mut stack: Vec<Vec<Arg>> = vec![Vec::new()];
        loop {
            while self.peek() == Some(b' ') {
                self.pos += 1;
            }
            let Some(c) = self.peek() else {
                break;
            };
            match c {
                b'\r' | b'\n' => break,
                b'(' => {
                    if stack.len() > 100 {
                        return Err("Too deep nesting");
                    }
                    self.pos += 1;
                    stack.push(Vec::new());
                }
                b')' => {
                    if stack.len() == 1 {
                        return Err("Unexpected ')'");
                    }
                    self.pos += 1;
                    let list = stack.pop().expect("checked");
                    stack.last_mut().expect("bottom").push(Arg::List(list));
                }
                b'"' => {
                    let s = self.quoted()?;
                    stack.last_mut().expect("bottom").push(Arg::Quoted(s));
                }
                b'{' => {
                    let a = self.literal()?;
                    stack.last_mut().expect("bottom").push(a);
                }
                _ => {
                    let a = self.atom()?;
                    stack.last_mut().expect("bottom").push(a);
                }
            }
        }
        if stack.len() > 1 {
            return Err("Missing ')'");
        }
        Ok(stack.pop().expect("bottom"))
    }

    fn quoted(&mut self) -> Result<Vec<u8>, &'static str> {
        let bytes = &self.frame.bytes;
        let mut out = Vec::new();
        let mut i = self.pos + 1;
        while i < bytes.len() {
            match bytes[i] {
                b'"' => {
                    self.pos = i + 1;
                    return Ok(out);
                }
                b'\\' if i + 1 < bytes.len() && !matches!(bytes[i + 1], b'\r' | b'\n') => {
                    out.push(bytes[i + 1]);
                    i += 2;
                }
                b'\r' | b'\n' => break,
                b => {
                    out.push(b);
                    i += 1;
                }
            }
        }
        Err("Missing '\"'")
    }

    fn literal(&mut self) -> Result<Arg, &'static str> {
        let bytes = &self.frame.bytes;
        let open = self.pos;
        let mut i = open + 1;
        let mut size: u64 = 0;
        let mut digits = 0;
        while i < bytes.len() && bytes[i].is_ascii_digit() {
            size = size
                .checked_mul(10)
                .and_then(|s| s.checked_add((bytes[i] - b'0') as u64))
                .ok_or("Literal size too large")?;
            digits += 1;
            i += 1;
        }
        if bytes.get(i) == Some(&b'+') {
            i += 1;
            if bytes.get(i) != Some(&b'}') {
                return Err("Expecting '}' after '+'");
            }
        }
        if digits == 0 || bytes.get(i) != Some(&b'}') {
            return Err("Invalid literal size");
        }
        i += 1;
        if bytes.get(i) == Some(&b'\r') {
            i += 1;
        }
        if bytes.get(i) != Some(&b'\n') {
            return Err("Missing LF after literal size");
        }
        i += 1;
        if self.frame.streamed.contains(&open) {
            self.pos = i;
            return Ok(Arg::Streamed(size));
        }
        let end = usize::try_from(size)
            .ok()
            .and_then(|s| i.checked_add(s))
            .filter(|&e| e <= bytes.len())
            .ok_or("Literal size too large")?;
        self.pos = end;
        Ok(Arg::Literal(bytes[i..end].to_vec()))
    }

    fn atom(&mut self) -> Result<Arg, &'static str> {
        let bytes = &self.frame.bytes;
        let start = self.pos;
        let mut i = start;
        while i < bytes.len() && !matches!(bytes[i], b' ' | b')' | b'\r' | b'\n') {
            let b = bytes[i];
            if b & 0x80 != 0 {
                return Err("8bit data in atom");
            }
            if is_atom_special(b) {
                return Err("Invalid characters in atom");
            }
            i += 1;
        }
        self.pos = i;
        let text = &bytes[start..i];
        if text == b"NIL" || text.eq_ignore_ascii_case(b"NIL") {
            return Ok(Arg::Nil);
        }
        Ok(Arg::Atom(String::from_utf8_lossy(text).into_owned()))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn frame(b: &[u8]) -> Frame {
        Frame {
            bytes: b.to_vec(),
            streamed: Vec::new(),
        }
    }

    #[test]
    fn splits_atoms_strings_literals_and_lists() {
        let l = tokenize(&frame(
            b"a1 FETCH 1:* (FLAGS BODY[HEADER.FIELDS (FROM)]) \"q\\\"x\" {3}\r\nabc NIL\r\n",
        ))
        .unwrap();
        assert_eq!(l.tag, "a1");
        assert_eq!(l.name, "FETCH");
        assert_eq!(
            l.args,
            vec![
                Arg::Atom("1:*".into()),
                Arg::List(vec![
                    Arg::Atom("FLAGS".into()),
                    Arg::Atom("BODY[HEADER.FIELDS".into()),
                    Arg::List(vec![Arg::Atom("FROM".into())]),
                    Arg::Atom("]".into()),
                ]),
                Arg::Quoted(b"q\"x".to_vec()),
                Arg::Literal(b"abc".to_vec()),
                Arg::Nil,
            ]
        );
    }

    #[test]
    fn uid_commands_read_as_one_name() {
        assert_eq!(
            tokenize(&frame(b"t uid fetch 1 FLAGS\r\n")).unwrap().name,
            "uid fetch"
        );
    }

    #[test]
    fn errors_use_dovecots_words() {
        let reason = |b: &[u8]| match tokenize(&frame(b)) {
            Err(TokenError::Args { reason, .. }) => reason,
            other => panic!("{other:?}"),
        };
        assert_eq!(reason(b"a SELECT \"abc\r\n"), "Missing '\"'");
        assert_eq!(reason(b"a SELECT (abc\r\n"), "Missing ')'");
        assert_eq!(reason(b"a SELECT abc)\r\n"), "Unexpected ')'");
        assert_eq!(reason(b"a SELECT {abc}\r\n"), "Invalid literal size");
        assert_eq!(reason(b"a SELECT ab\xffc\r\n"), "8bit data in atom");
        assert_eq!(reason(b"a SELECT ab{c\r\n"), "Invalid characters in atom");
        assert_eq!(tokenize(&frame(b"\r\n")), Err(TokenError::InvalidTag));
        assert_eq!(
            tokenize(&frame(b"a+ NOOP\r\n")),
            Err(TokenError::InvalidTag)
        );
        assert_eq!(
            tokenize(&frame(b"a\r\n")),
            Err(TokenError::InvalidCommandName { tag: "a".into() })
        );
    }
}
