//! Dovecot's event filter language (the unified one of 2.3.12+), the common subset, for
//! `log_debug` and `log_core_filter`: `KEY OP VALUE` comparisons joined by `AND`, `OR`, `NOT`
//! and parentheses. KEY is `event` (the event's `event` field), `category` (the service name,
//! `service:NAME`, and the log level: `debug`, `info`, `warning`, `error`), `source_location`
//! (`file.rs[:line]`), or any field name (`user`, `rip`, …). OP is `=` (wildcards `*` and `?`;
//! event names match case-sensitively, fields case-insensitively) or, for numbers, `<`, `>`,
//! `<=`, `>=`. VALUE is a word or a `"quoted string"` (`\"` and `\\` escaped).

use std::fmt;

/// A filter that did not parse.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("invalid event filter '{input}': {why}")]
pub struct FilterError {
    pub input: String,
    pub why: String,
}

/// What a filter is matched against: one log event.
#[derive(Debug, Default, Clone)]
pub struct Facts {
    /// The event's name (its `event` field), if it has one.
    pub event: Option<String>,
    pub categories: Vec<String>,
    pub file: Option<String>,
    pub line: Option<u32>,
    /// Field name → value as text.
    pub fields: Vec<(String, String)>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Op {
    Eq,
    Lt,
    Gt,
    Le,
    Ge,
}

#[derive(Debug, Clone, PartialEq, Eq)]
enum Key {
    Event,
    Category,
    SourceLocation,
    Field(String),
}

/// A parsed filter.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Filter {
    And(Box<Filter>, Box<Filter>),
    Or(Box<Filter>, Box<Filter>),
    Not(Box<Filter>),
    Cmp {
        key: KeyName,
        op: OpName,
        value: String,
    },
}

/// A comparison's key (public for tests and messages).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct KeyName(Key);

/// A comparison's operator.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct OpName(Op);

#[derive(Debug, Clone, PartialEq, Eq)]
enum Token {
    Open,
    Close,
    Op(Op),
    Word(String),
    /// A quoted string: never a keyword.
    Quoted(String),
}

fn tokenize(input: &str) -> Result<Vec<Token>, String> {
    let mut out = Vec::new();
    let mut chars = input.chars().peekable();
    while let Some(&c) = chars.peek() {
        match c {
            c if c.is_whitespace() => {
                chars.next();
            }
            '(' => {
                chars.next();
                out.push(Token::Open);
            }
            ')' => {
                chars.next();
                out.push(Token::Close);
            }
            '=' => {
                chars.next();
                out.push(Token::Op(Op::Eq));
            }
            '<' | '>' => {
                chars.next();
                let eq = chars.peek() == Some(&'=');
                if eq {
                    chars.next();
                }
                out.push(Token::Op(match (c, eq) {
                    ('<', false) => Op::Lt,
                    ('<', true) => Op::Le,
                    ('>', false) => Op::Gt,
                    _ => Op::Ge,
                }));
            }
            '"' => {
                chars.next();
                let mut s = String::new();
                loop {
                    match chars.next() {
                        None => return Err("unterminated quoted string".into()),
                        Some('"') => break,
                        Some('\\') => match chars.next() {
                            Some(e) => s.push(e),
                            None => return Err("unterminated quoted string".into()),
                        },
                        Some(ch) => s.push(ch),
                    }
                }
                out.push(Token::Quoted(s));
            }
            _ => {
                let mut s = String::new();
                while let Some(&ch) = chars.peek() {
                    if ch.is_whitespace() || "()=<>\"".contains(ch) {
                        break;
                    }
                    s.push(ch);
                    chars.next();
                }
                out.push(Token::Word(s));
            }
        }
    }
    Ok(out)
}

struct Parser {
    tokens: Vec<Token>,
    pos: usize,
}

impl Parser {
    fn peek(&self) -> Option<&Token> {
        self.tokens.get(self.pos)
    }

    fn keyword(&self, kw: &str) -> bool {
        matches!(self.peek(), Some(Token::Word(w)) if w.eq_ignore_ascii_case(kw))
    }

    fn or(&mut self) -> Result<Filter, String> {
        let mut left = self.and()?;
        while self.keyword("OR") {
            self.pos += 1;
            left = Filter::Or(Box::new(left), Box::new(self.and()?));
        }
        Ok(left)
    }

    fn and(&mut self) -> Result<Filter, String> {
        let mut left = self.not()?;
        while self.keyword("AND") {
            self.pos += 1;
            left = Filter::And(Box::new(left), Box::new(self.not()?));
        }
        Ok(left)
    }

    fn not(&mut self) -> Result<Filter, String> {
        if self.keyword("NOT") {
            self.pos += 1;
            return Ok(Filter::Not(Box::new(self.not()?)));
        }
        self.primary()
    }

    fn primary(&mut self) -> Result<Filter, String> {
        match self.tokens.get(self.pos).cloned() {
            Some(Token::Open) => {
                self.pos += 1;
                let inner = self.or()?;
                if self.peek() != Some(&Token::Close) {
                    return Err("missing ')'".into());
                }
                self.pos += 1;
                Ok(inner)
            }
            Some(Token::Word(key)) => {
                self.pos += 1;
                if key.contains(':') {
                    return Err(format!(
                        "'{key}' is the pre-2.3.12 syntax; write it as KEY=VALUE (e.g. category=auth)"
                    ));
                }
                let op = match self.peek() {
                    Some(Token::Op(op)) => *op,
                    _ => {
                        return Err(format!(
                            "expected an operator (=, <, >, <=, >=) after '{key}'"
                        ))
                    }
                };
                self.pos += 1;
                let value = match self.tokens.get(self.pos) {
                    Some(Token::Word(v)) | Some(Token::Quoted(v)) => v.clone(),
                    _ => return Err(format!("expected a value after '{key}'")),
                };
                self.pos += 1;
                let key = match key.to_ascii_lowercase().as_str() {
                    "event" => Key::Event,
                    "category" => Key::Category,
                    "source_location" => Key::SourceLocation,
                    _ => Key::Field(key.clone()),
                };
                if op != Op::Eq && !matches!(key, Key::Field(_)) {
                    return Err(format!("only = can be used with '{}'", key_name(&key)));
                }
                if op != Op::Eq && value.parse::<i64>().is_err() {
                    return Err(format!("'{value}' is not a number"));
                }
                Ok(Filter::Cmp {
                    key: KeyName(key),
                    op: OpName(op),
                    value,
                })
            }
            Some(t) => Err(format!("unexpected {}", describe(&t))),
            None => Err("unexpected end of filter".into()),
        }
    }
}

fn key_name(k: &Key) -> &str {
    match k {
        Key::Event => "event",
        Key::Category => "category",
        Key::SourceLocation => "source_location",
        Key::Field(f) => f,
    }
}

fn describe(t: &Token) -> String {
    match t {
        Token::Open => "'('".into(),
        Token::Close => "')'".into(),
        Token::Op(_) => "operator".into(),
        Token::Word(w) | Token::Quoted(w) => format!("'{w}'"),
    }
}

impl Filter {
    /// Parses a filter; an empty one is an error (callers treat empty as "no filter").
    pub fn parse(input: &str) -> Result<Filter, FilterError> {
        let err = |why: String| FilterError {
            input: input.to_string(),
            why,
        };
        let tokens = tokenize(input).map_err(err)?;
        let mut p = Parser { tokens, pos: 0 };
        let f = p.or().map_err(err)?;
        if let Some(t) = p.peek() {
            return Err(err(format!(
                "unexpected {} (join conditions with AND or OR)",
                describe(t)
            )));
        }
        Ok(f)
    }

    pub fn matches(&self, facts: &Facts) -> bool {
        match self {
            Filter::And(a, b) => a.matches(facts) && b.matches(facts),
            Filter::Or(a, b) => a.matches(facts) || b.matches(facts),
            Filter::Not(a) => !a.matches(facts),
            Filter::Cmp { key, op, value } => cmp(&key.0, op.0, value, facts),
        }
    }
}

fn cmp(key: &Key, op: Op, value: &str, f: &Facts) -> bool {
    match key {
        Key::Event => f
            .event
            .as_deref()
            .is_some_and(|e| wildcard(value, e, false)),
        Key::Category => f.categories.iter().any(|c| c == value),
        Key::SourceLocation => {
            let (file, line) = match value.rsplit_once(':') {
                Some((file, l)) if l.parse::<u32>().is_ok() => (file, l.parse::<u32>().ok()),
                _ => (value, None),
            };
            let Some(ev_file) = f.file.as_deref() else {
                return false;
            };
            let base = ev_file.rsplit('/').next().unwrap_or(ev_file);
            (ev_file == file || base == file) && (line.is_none() || line == f.line)
        }
        Key::Field(name) => f
            .fields
            .iter()
            .filter(|(k, _)| k.eq_ignore_ascii_case(name))
            .any(|(_, v)| match op {
                Op::Eq => wildcard(value, v, true),
                _ => match (v.parse::<i64>(), value.parse::<i64>()) {
                    (Ok(a), Ok(b)) => match op {
                        Op::Lt => a < b,
                        Op::Gt => a > b,
                        Op::Le => a <= b,
                        Op::Ge => a >= b,
                        Op::Eq => a == b,
                    },
                    _ => false,
                },
            }),
    }
}

/// `yes`/`no` (and `true`/`false`, `1`/`0`) as a boolean; anything else is not one.
pub fn yes_no(value: &str) -> Option<bool> {
    match value.trim().to_ascii_lowercase().as_str() {
        "yes" | "true" | "1" => Some(true),
        "no" | "false" | "0" => Some(false),
        _ => None,
    }
}

/// Checks a filter setting's value: empty is fine, and with `allow_yes_no` (`log_debug`) so
/// are `yes` and `no`; anything else must parse.
pub fn check_setting(value: &str, allow_yes_no: bool) -> Result<(), FilterError> {
    if value.trim().is_empty() || (allow_yes_no && yes_no(value).is_some()) {
        return Ok(());
    }
    Filter::parse(value.trim()).map(|_| ())
}

/// `*` and `?` wildcard match of the whole `text`.
pub fn wildcard(pattern: &str, text: &str, ignore_case: bool) -> bool {
    let norm = |s: &str| -> Vec<char> {
        if ignore_case {
            s.to_lowercase().chars().collect()
        } else {
            s.chars().collect()
        }
    };
    let (p, t) = (norm(pattern), norm(text));
    // Iterative match with backtracking to the last `*`.
    let (mut pi, mut ti) = (0, 0);
    let mut star: Option<(usize, usize)> = None;
    while ti < t.len() {
        if pi < p.len() && (p[pi] == '?' || p[pi] == t[ti]) {
            pi += 1;
            ti += 1;
        } else if pi < p.len() && p[pi] == '*' {
            star = Some((pi, ti));
            pi += 1;
        } else if let Some((sp, st)) = star {
            pi = sp + 1;
            ti = st + 1;
            star = Some((sp, st + 1));
        } else {
            return false;
        }
    }
    while pi < p.len() && p[pi] == '*' {
        pi += 1;
    }
    pi == p.len()
}

impl fmt::Display for Filter {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Filter::And(a, b) => write!(f, "({a} AND {b})"),
            Filter::Or(a, b) => write!(f, "({a} OR {b})"),
            Filter::Not(a) => write!(f, "NOT {a}"),
            Filter::Cmp { key, op, value } => {
                let op = match op.0 {
                    Op::Eq => "=",
                    Op::Lt => "<",
                    Op::Gt => ">",
                    Op::Le => "<=",
                    Op::Ge => ">=",
                };
                write!(f, "{}{op}\"{value}\"", key_name(&key.0))
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn facts() -> Facts {
        Facts {
            event: Some("imap_command_finished".into()),
            categories: vec!["auth".into(), "service:auth".into(), "debug".into()],
            file: Some("src/service/auth/mod.rs".into()),
            line: Some(42),
            fields: vec![
                ("user".into(), "Bob@Example.test".into()),
                ("bytes".into(), "120".into()),
            ],
        }
    }

    #[test]
    fn comparisons_and_boolean_operators() {
        let f = facts();
        for (text, want) in [
            ("category=auth", true),
            ("category=imap", false),
            ("category=\"service:auth\"", true),
            ("event=imap_command_*", true),
            ("event=IMAP_command_finished", false),
            ("user=bob@*", true),
            ("user=alice*", false),
            ("bytes>100 AND bytes<=120", true),
            ("bytes>=121", false),
            ("source_location=mod.rs:42", true),
            ("source_location=mod.rs:43", false),
            ("source_location=src/service/auth/mod.rs", true),
            ("category=imap OR user=b?b*", true),
            ("NOT category=auth", false),
            ("category=auth AND NOT (user=x OR user=y)", true),
            ("(category=imap or category=pop3) and user=*", false),
            ("missing=*", false),
        ] {
            assert_eq!(Filter::parse(text).unwrap().matches(&f), want, "{text}");
        }
    }

    #[test]
    fn bad_syntax_is_an_error_that_says_why() {
        for (text, why) in [
            ("category", "expected an operator"),
            ("category=", "expected a value"),
            ("category=auth user=bob", "join conditions with AND or OR"),
            ("(category=auth", "missing ')'"),
            ("category:auth", "pre-2.3.12 syntax"),
            ("event<3", "only = can be used"),
            ("bytes>many", "not a number"),
            ("user=\"bob", "unterminated"),
            ("AND", "expected an operator"),
        ] {
            let e = Filter::parse(text).unwrap_err();
            assert!(e.to_string().contains(why), "{text}: {e}");
        }
    }

    #[test]
    fn wildcards() {
        assert!(wildcard("*", "", false));
        assert!(wildcard("a*c", "abbbc", false));
        assert!(wildcard("a?c", "abc", false));
        assert!(!wildcard("a?c", "abbc", false));
        assert!(wildcard("*b*", "abc", false));
        assert!(!wildcard("ABC", "abc", false));
        assert!(wildcard("ABC", "abc", true));
    }
}
