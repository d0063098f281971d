//! The argument cursor the command readers share ([`Args`]), the sequence-set grammar (with
//! SEARCHRES `$`), flags and list-mailbox arguments. Kept apart from [`super::parse`] so the
//! SEARCH and FETCH readers use it without importing the parser that calls them.

use super::command::{SeqNum, SeqRange, SequenceSet};
use super::token::Arg;

/// What a command's argument reader reports; turned into a [`ParseError`] with tag and name.
pub(crate) type ArgResult<T> = Result<T, String>;

pub(crate) const INVALID: &str = "Invalid arguments";

/// A flag or keyword atom (`\Seen`, `$Forwarded`).
pub(crate) fn flag(a: &Arg) -> ArgResult<String> {
    match a {
        Arg::Atom(s) if !s.is_empty() && !s[1..].contains('\\') => Ok(s.clone()),
        _ => Err(format!(
            "Invalid flag {}",
            a.as_bytes()
                .map(String::from_utf8_lossy)
                .unwrap_or_default()
        )),
    }
}

pub(crate) fn list_mailbox(a: &Arg) -> ArgResult<Vec<u8>> {
    match a {
        Arg::Atom(s) => Ok(s.as_bytes().to_vec()),
        Arg::Quoted(b) | Arg::Literal(b) => Ok(b.clone()),
        _ => Err(INVALID.into()),
    }
}

/// A cursor over a command's arguments.
pub(crate) struct Args<'a> {
    args: &'a [Arg],
    pos: usize,
}

impl<'a> Args<'a> {
    pub(crate) fn new(args: &'a [Arg]) -> Args<'a> {
        Args { args, pos: 0 }
    }

    pub(crate) fn done(&self) -> bool {
        self.pos >= self.args.len()
    }

    pub(crate) fn peek(&self) -> Option<&'a Arg> {
        self.args.get(self.pos)
    }

    #[allow(clippy::should_implement_trait)]
    pub(crate) fn next(&mut self) -> Option<&'a Arg> {
        let a = self.args.get(self.pos);
        self.pos += 1;
        a
    }

    pub(crate) fn optional<T>(
        &mut self,
        f: impl FnOnce(&mut Self) -> ArgResult<T>,
    ) -> ArgResult<Option<T>> {
        if self.done() {
            Ok(None)
        } else {
            f(self).map(Some)
        }
    }

    pub(crate) fn atom(&mut self) -> ArgResult<&'a str> {
        match self.next() {
            Some(Arg::Atom(s)) => Ok(s),
            _ => Err(INVALID.into()),
        }
    }

    pub(crate) fn number(&mut self) -> ArgResult<u32> {
        self.atom()?.parse().map_err(|_| INVALID.to_string())
    }

    /// atom, quoted string or literal.
    pub(crate) fn astring(&mut self) -> ArgResult<Vec<u8>> {
        match self.next() {
            Some(Arg::Atom(s)) => Ok(s.as_bytes().to_vec()),
            Some(Arg::Quoted(b) | Arg::Literal(b)) => Ok(b.clone()),
            _ => Err(INVALID.into()),
        }
    }

    pub(crate) fn mailbox(&mut self) -> ArgResult<Vec<u8>> {
        self.astring()
    }

    pub(crate) fn list_mailbox(&mut self) -> ArgResult<Vec<u8>> {
        match self.next() {
            Some(a) => list_mailbox(a),
            None => Err(INVALID.into()),
        }
    }

    pub(crate) fn list(&mut self) -> ArgResult<&'a [Arg]> {
        match self.next() {
            Some(Arg::List(l)) => Ok(l),
            _ => Err(INVALID.into()),
        }
    }

    pub(crate) fn seqset(&mut self) -> ArgResult<SequenceSet> {
        parse_seqset(self.atom()?).ok_or_else(|| "Invalid messageset".to_string())
    }
}

/// `1,3:5,7:*` or `$`.
pub fn parse_seqset(s: &str) -> Option<SequenceSet> {
    if s == "$" {
        return Some(SequenceSet::Saved);
    }
    let num = |n: &str| -> Option<SeqNum> {
        if n == "*" {
            return Some(SeqNum::Last);
        }
        if n.is_empty() || !n.bytes().all(|b| b.is_ascii_digit()) || n.starts_with('0') {
            return None;
        }
        n.parse().ok().map(SeqNum::Value)
    };
    let mut ranges = Vec::new();
    for part in s.split(',') {
        let (start, end) = match part.split_once(':') {
            Some((a, b)) => (num(a)?, num(b)?),
            None => {
                let n = num(part)?;
                (n, n)
            }
        };
        ranges.push(SeqRange { start, end });
    }
    Some(SequenceSet::Ranges(ranges))
}

impl std::fmt::Display for SequenceSet {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let num = |n: SeqNum| match n {
            SeqNum::Value(v) => v.to_string(),
            SeqNum::Last => "*".to_string(),
        };
        match self {
            SequenceSet::Saved => f.write_str("$"),
            SequenceSet::Ranges(r) => {
                for (i, range) in r.iter().enumerate() {
                    if i > 0 {
                        f.write_str(",")?;
                    }
                    if range.start == range.end {
                        f.write_str(&num(range.start))?;
                    } else {
                        write!(f, "{}:{}", num(range.start), num(range.end))?;
                    }
                }
                Ok(())
            }
        }
    }
}
