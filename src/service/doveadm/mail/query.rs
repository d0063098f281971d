//! doveadm's search query (Dovecot's "human" search register over the IMAP one): the words of
//! `query` become a tree of [`Key`]s. Keys are case-insensitive; `(` `)` group; `NOT key`;
//! `OR` is infix and turns the whole level it appears in into an OR (as Dovecot's
//! human_search_or does: `a b OR c` is `a OR b OR c`); a bare sequence set is a key. Dates
//! take `yyyy-mm-dd` or IMAP's `dd-Mon-yyyy` (a local day), a unix timestamp or an interval
//! (`30d`, `2 hours`: now minus that), the last two compared exactly; sizes take `k M G T`.
//! `MAILBOX` (with `*`/`%` globs), `MAILBOX-GUID` and `GUID` are Dovecot's extensions.

use crate::service::doveadm::spec::CommandError;

/// Which date a date key looks at.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum DateKind {
    /// INTERNALDATE: the file's mtime in Maildir.
    Received,
    /// The `Date:` header.
    Sent,
    /// The save date: the file's ctime.
    Saved,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum DateOp {
    Before,
    On,
    Since,
}

/// A date argument.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum When {
    /// A calendar day (y, m, d).
    Day(i64, i64, i64),
    /// An exact time (unix seconds).
    Exact(i64),
}

/// Numbers in a sequence or UID set; `u32::MAX` stands for `*`.
pub type Set = Vec<(u32, u32)>;

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Key {
    All,
    /// A system flag (its Maildir letter) is set.
    Flag(u8),
    /// A system flag is not set.
    NoFlag(u8),
    Recent,
    Old,
    New,
    Keyword(String),
    Unkeyword(String),
    Larger(u64),
    Smaller(u64),
    Uid(Set),
    Seq(Set),
    Date(DateKind, DateOp, When),
    Older(u64),
    Younger(u64),
    Header(String, String),
    Body(String),
    Text(String),
    Mailbox(String),
    MailboxGuid(String),
    Guid(String),
    Not(Box<Key>),
    Or(Vec<Key>),
    And(Vec<Key>),
}

struct Parser<'a> {
    words: &'a [String],
    at: usize,
}

fn usage(msg: String) -> CommandError {
    CommandError::Usage(msg)
}

/// Parses the words of a query.
pub fn parse(words: &[String]) -> Result<Key, CommandError> {
    let words: Vec<String> = words.iter().flat_map(|w| split_parens(w)).collect();
    if words.is_empty() {
        return Err(usage("Missing search query".into()));
    }
    let mut p = Parser {
        words: &words,
        at: 0,
    };
    p.list(0)
}

/// `(seen` and `flagged)` are split into parentheses and words.
fn split_parens(w: &str) -> Vec<String> {
    let mut out = Vec::new();
    let mut rest = w;
    while let Some(r) = rest.strip_prefix('(') {
        out.push("(".to_string());
        rest = r;
    }
    let mut tail = 0;
    while rest.ends_with(')') && !rest.is_empty() {
        rest = &rest[..rest.len() - 1];
        tail += 1;
    }
    if !rest.is_empty() {
        out.push(rest.to_string());
    }
    out.extend(std::iter::repeat_n(")".to_string(), tail));
    out
}

impl Parser<'_> {
    fn next(&mut self) -> Option<&str> {
        let w = self.words.get(self.at)?;
        self.at += 1;
        Some(w)
    }

    fn arg(&mut self, key: &str) -> Result<String, CommandError> {
        self.next()
            .map(str::to_string)
            .ok_or_else(|| usage(format!("Missing parameter for {key}")))
    }

    fn list(&mut self, level: usize) -> Result<Key, CommandError> {
        let mut keys = Vec::new();
        let mut or = false;
        loop {
            match self.words.get(self.at).map(String::as_str) {
                None if level > 0 => return Err(usage("Missing ')'".into())),
                None => break,
                Some(")") if level == 0 => return Err(usage("Unexpected ')'".into())),
                Some(")") => {
                    self.at += 1;
                    break;
                }
                Some(w) if w.eq_ignore_ascii_case("OR") => {
                    self.at += 1;
                    if keys.is_empty() {
                        return Err(usage("OR without a key before it".into()));
                    }
                    or = true;
                    keys.push(self.key()?);
                }
                Some(_) => keys.push(self.key()?),
            }
        }
        if keys.is_empty() {
            return Err(usage("Empty search query".into()));
        }
        Ok(if or {
            Key::Or(keys)
        } else if keys.len() == 1 {
            keys.pop().expect("one")
        } else {
            Key::And(keys)
        })
    }

    fn key(&mut self) -> Result<Key, CommandError> {
        let word = self
            .next()
            .ok_or_else(|| usage("Missing search key".into()))?
            .to_string();
        if word == "(" {
            return self.list(1);
        }
        use crate::mail::maildir::Flags as F;
        let date = |p: &mut Self, kind, op| -> Result<Key, CommandError> {
            let v = p.arg(&word)?;
            let when = parse_when(&v)
                .ok_or_else(|| usage(format!("Invalid search date parameter: {v}")))?;
            Ok(Key::Date(kind, op, when))
        };
        let k = match word.to_ascii_uppercase().as_str() {
            "ALL" => Key::All,
            "ANSWERED" => Key::Flag(F::ANSWERED),
            "UNANSWERED" => Key::NoFlag(F::ANSWERED),
            "DELETED" => Key::Flag(F::DELETED),
            "UNDELETED" => Key::NoFlag(F::DELETED),
            "DRAFT" => Key::Flag(F::DRAFT),
            "UNDRAFT" => Key::NoFlag(F::DRAFT),
            "FLAGGED" => Key::Flag(F::FLAGGED),
            "UNFLAGGED" => Key::NoFlag(F::FLAGGED),
            "SEEN" => Key::Flag(F::SEEN),
            "UNSEEN" => Key::NoFlag(F::SEEN),
            "RECENT" => Key::Recent,
            "OLD" => Key::Old,
            "NEW" => Key::New,
            "KEYWORD" => Key::Keyword(self.arg(&word)?),
            "UNKEYWORD" => Key::Unkeyword(self.arg(&word)?),
            "LARGER" => Key::Larger(self.size(&word)?),
            "SMALLER" => Key::Smaller(self.size(&word)?),
            "UID" => {
                let v = self.arg(&word)?;
                Key::Uid(parse_set(&v).ok_or_else(|| usage(format!("Invalid UID set: {v}")))?)
            }
            "NOT" => Key::Not(Box::new(self.key()?)),
            "BEFORE" => date(self, DateKind::Received, DateOp::Before)?,
            "ON" => date(self, DateKind::Received, DateOp::On)?,
            "SINCE" => date(self, DateKind::Received, DateOp::Since)?,
            "SENTBEFORE" => date(self, DateKind::Sent, DateOp::Before)?,
            "SENTON" => date(self, DateKind::Sent, DateOp::On)?,
            "SENTSINCE" => date(self, DateKind::Sent, DateOp::Since)?,
            "SAVEDBEFORE" | "X-SAVEDBEFORE" => date(self, DateKind::Saved, DateOp::Before)?,
            "SAVEDON" | "X-SAVEDON" => date(self, DateKind::Saved, DateOp::On)?,
            "SAVEDSINCE" | "X-SAVEDSINCE" => date(self, DateKind::Saved, DateOp::Since)?,
            "OLDER" => Key::Older(self.number(&word)?),
            "YOUNGER" => Key::Younger(self.number(&word)?),
            "HEADER" => {
                let name = self.arg(&word)?;
                Key::Header(name, self.arg(&word)?)
            }
            h @ ("FROM" | "TO" | "CC" | "BCC" | "SUBJECT") => {
                let name = match h {
                    "FROM" => "From",
                    "TO" => "To",
                    "CC" => "Cc",
                    "BCC" => "Bcc",
                    _ => "Subject",
                };
                Key::Header(name.into(), self.arg(&word)?)
            }
            "BODY" => Key::Body(self.arg(&word)?),
            "TEXT" => Key::Text(self.arg(&word)?),
            "MAILBOX" | "X-MAILBOX" => Key::Mailbox(self.arg(&word)?),
            "MAILBOX-GUID" => Key::MailboxGuid(self.arg(&word)?),
            "GUID" | "X-GUID" => Key::Guid(self.arg(&word)?),
            _ => match parse_set(&word) {
                Some(s) => Key::Seq(s),
                None => return Err(usage(format!("Unknown argument: {word}"))),
            },
        };
        Ok(k)
    }

    fn number(&mut self, key: &str) -> Result<u64, CommandError> {
        let v = self.arg(key)?;
        v.parse()
            .map_err(|_| usage(format!("Invalid number for {key}: {v}")))
    }

    fn size(&mut self, key: &str) -> Result<u64, CommandError> {
        let v = self.arg(key)?;
        parse_size(&v).ok_or_else(|| usage(format!("Invalid size: {v}")))
    }
}

/// `N[B|k|M|G|T]` (powers of 1024), as Dovecot's settings_get_size.
pub fn parse_size(v: &str) -> Option<u64> {
    let v = v.trim();
    let digits = v.find(|c: char| !c.is_ascii_digit()).unwrap_or(v.len());
    let n: u64 = v[..digits].parse().ok()?;
    let mult: u64 = match v[digits..].trim().to_ascii_uppercase().as_str() {
        "" | "B" => 1,
        "K" | "KB" => 1 << 10,
        "M" | "MB" => 1 << 20,
        "G" | "GB" => 1 << 30,
        "T" | "TB" => 1 << 40,
        _ => return None,
    };
    n.checked_mul(mult)
}

/// A sequence or UID set: `1`, `2:4`, `5:*`, `1,3:5`.
pub fn parse_set(v: &str) -> Option<Set> {
    let num = |s: &str| -> Option<u32> {
        if s == "*" {
            Some(u32::MAX)
        } else if !s.is_empty() && s.bytes().all(|b| b.is_ascii_digit()) {
            s.parse().ok().filter(|n| *n > 0)
        } else {
            None
        }
    };
    v.split(',')
        .map(|r| match r.split_once(':') {
            Some((a, b)) => {
                let (a, b) = (num(a)?, num(b)?);
                Some((a.min(b), a.max(b)))
            }
            None => num(r).map(|n| (n, n)),
        })
        .collect()
}

/// Whether `n` is in `set` where `*` is `last`.
pub fn in_set(set: &Set, n: u32, last: u32) -> bool {
    let fix = |x: u32| if x == u32::MAX { last } else { x };
    set.iter().any(|&(a, b)| {
        let (a, b) = (fix(a), fix(b));
        n >= a.min(b) && n <= a.max(b)
    })
}

/// A date argument as Dovecot's mail_parse_human_timestamp reads it.
pub fn parse_when(v: &str) -> Option<When> {
    let b = v.as_bytes();
    if b.len() == 10 && b[4] == b'-' && b[7] == b'-' {
        let y = v[..4].parse().ok()?;
        let m = v[5..7].parse().ok()?;
        let d = v[8..].parse().ok()?;
        return Some(When::Day(y, m, d));
    }
    let parts: Vec<&str> = v.split('-').collect();
    if parts.len() == 3 {
        if let (Ok(d), Some(m), Ok(y)) = (
            parts[0].parse::<i64>(),
            super::time::month(parts[1]),
            parts[2].parse::<i64>(),
        ) {
            return Some(When::Day(y, m, d));
        }
    }
    if !v.is_empty() && v.bytes().all(|c| c.is_ascii_digit()) {
        return v.parse().ok().map(When::Exact);
    }
    let secs = parse_interval(v)?;
    let now = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_secs() as i64)
        .unwrap_or(0);
    Some(When::Exact(now - secs as i64))
}

/// An interval as Dovecot's settings_get_time: `N unit` (secs, mins, hours, days, weeks).
fn parse_interval(v: &str) -> Option<u64> {
    let v = v.trim();
    let digits = v.find(|c: char| !c.is_ascii_digit())?;
    let n: u64 = v[..digits].parse().ok()?;
    let unit = v[digits..].trim().to_ascii_lowercase();
    let mult = match unit.as_str() {
        "s" | "sec" | "secs" | "second" | "seconds" => 1,
        "m" | "min" | "mins" | "minute" | "minutes" => 60,
        "h" | "hour" | "hours" => 3600,
        "d" | "day" | "days" => 86_400,
        "w" | "week" | "weeks" => 7 * 86_400,
        _ => return None,
    };
    n.checked_mul(mult)
}

/// The mailbox names the query limits itself to, as Dovecot's doveadm mailbox iteration finds
/// them: `MAILBOX` keys of the top-level AND (not inside OR); none when a `NOT MAILBOX` is
/// there. Returns (patterns, any has wildcards).
pub fn mailbox_patterns(k: &Key) -> (Vec<String>, bool) {
    fn walk(k: &Key, out: &mut Vec<String>, wild: &mut bool) -> bool {
        match k {
            Key::And(v) => v.iter().all(|k| walk(k, out, wild)),
            Key::Mailbox(m) => {
                *wild |= m.contains('*') || m.contains('%');
                out.push(m.clone());
                true
            }
            Key::Not(inner) if matches!(**inner, Key::Mailbox(_)) => {
                out.clear();
                false
            }
            _ => true,
        }
    }
    let mut out = Vec::new();
    let mut wild = false;
    walk(k, &mut out, &mut wild);
    (out, wild)
}

/// Whether a `MAILBOX-GUID` key is anywhere in the tree (then only the opened mailbox can
/// tell whether it matches).
pub fn has_mailbox_guid(k: &Key) -> bool {
    match k {
        Key::MailboxGuid(_) => true,
        Key::Not(a) => has_mailbox_guid(a),
        Key::Or(v) | Key::And(v) => v.iter().any(has_mailbox_guid),
        _ => false,
    }
}

/// Whether every branch has a key besides MAILBOX (expunge refuses "mailbox X" alone).
pub fn has_non_mailbox(k: &Key) -> bool {
    match k {
        Key::And(v) => v.iter().any(has_non_mailbox),
        Key::Or(v) => v.iter().all(has_non_mailbox),
        Key::Mailbox(_) | Key::MailboxGuid(_) => false,
        _ => true,
    }
}

/// What a mailbox-level check knows: `Some` when the mailbox keys alone decide.
pub fn match_mailbox(k: &Key, name: &str, guid: &str, sep: char) -> Option<bool> {
    match k {
        Key::Mailbox(m) => Some(mailbox_matches(m, name, sep)),
        Key::MailboxGuid(g) => Some(g.eq_ignore_ascii_case(guid)),
        Key::Not(inner) => match_mailbox(inner, name, guid, sep).map(|b| !b),
        Key::And(v) => {
            let mut all = Some(true);
            for k in v {
                match match_mailbox(k, name, guid, sep) {
                    Some(false) => return Some(false),
                    None => all = None,
                    Some(true) => {}
                }
            }
            all
        }
        Key::Or(v) => {
            let mut any = Some(false);
            for k in v {
                match match_mailbox(k, name, guid, sep) {
                    Some(true) => return Some(true),
                    None => any = None,
                    Some(false) => {}
                }
            }
            any
        }
        _ => None,
    }
}

/// A `MAILBOX` pattern against a mailbox's display name (`*` anything, `%` anything but the
/// separator; INBOX case-insensitively).
pub fn mailbox_matches(pattern: &str, name: &str, sep: char) -> bool {
    crate::service::imap::list::matches(pattern, name, sep)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn q(s: &str) -> Key {
        parse(&s.split(' ').map(String::from).collect::<Vec<_>>()).unwrap()
    }

    #[test]
    fn or_is_infix_over_its_level_and_parentheses_group() {
        assert_eq!(
            q("mailbox INBOX seen OR flagged"),
            Key::Or(vec![
                Key::Mailbox("INBOX".into()),
                Key::Flag(b'S'),
                Key::Flag(b'F')
            ])
        );
        assert_eq!(
            q("mailbox INBOX (seen OR flagged)"),
            Key::And(vec![
                Key::Mailbox("INBOX".into()),
                Key::Or(vec![Key::Flag(b'S'), Key::Flag(b'F')])
            ])
        );
        assert_eq!(
            q("not 2:*"),
            Key::Not(Box::new(Key::Seq(vec![(2, u32::MAX)])))
        );
        assert!(parse(&["(".into(), "all".into()]).is_err());
    }

    #[test]
    fn dates_sizes_and_patterns() {
        assert_eq!(parse_when("2026-11-02"), Some(When::Day(2026, 11, 2)));
        assert_eq!(parse_when("2-Nov-2026"), Some(When::Day(2026, 11, 2)));
        assert_eq!(parse_when("1700000000"), Some(When::Exact(1_700_000_000)));
        assert!(matches!(parse_when("30d"), Some(When::Exact(_))));
        assert_eq!(parse_size("10k"), Some(10 * 1024));
        let (p, wild) = mailbox_patterns(&q("mailbox Sub* seen"));
        assert_eq!((p, wild), (vec!["Sub*".to_string()], true));
        assert!(!has_non_mailbox(&q("mailbox INBOX")));
        assert!(has_non_mailbox(&q("mailbox INBOX all")));
    }
}
