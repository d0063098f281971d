//! The command parser: a received [`Frame`] → [`Tagged`] command or a [`ParseError`] carrying
//! the BAD line Dovecot sends for it. Commands are recognised case-insensitively; each reads
//! its arguments from the tokenized line (see [`super::token`]), with SEARCH keys and FETCH
//! items in [`super::search`] and [`super::fetch`].

pub use super::args::parse_seqset;
use super::args::{flag, list_mailbox, ArgResult, Args, INVALID};
use super::command::*;
use super::receiver::Frame;
use super::token::{tokenize, Arg, TokenError};

/// A command Dovecot would answer with BAD (or an unknown one).
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
#[error("{}", String::from_utf8_lossy(&self.response()))]
pub struct ParseError {
    /// `None` when no valid tag was read (answer with `*`).
    pub tag: Option<String>,
    /// The command name as sent, when read.
    pub command: Option<String>,
    pub reason: String,
}

impl ParseError {
    fn new(tag: &str, command: &str, reason: impl Into<String>) -> ParseError {
        ParseError {
            tag: Some(tag.to_string()),
            command: Some(command.to_string()),
            reason: reason.into(),
        }
    }

    /// Whether the command name was unknown (Dovecot counts these for its bad-command limit
    /// like any other BAD).
    pub fn is_unknown_command(&self) -> bool {
        self.reason == "Unknown command"
    }

    /// The BAD line, as Dovecot words it; it ends in `.`, where Dovecot's imap inserts its
    /// timing (` (0.001 + 0.000 secs)`).
    pub fn response(&self) -> Vec<u8> {
        let text = match (&self.tag, &self.command) {
            (None, _) => format!("* BAD Error in IMAP tag: {}.", self.reason),
            (Some(t), None) => format!("{t} BAD Error in IMAP command: {}.", self.reason),
            (Some(t), Some(c)) => format!("{t} BAD Error in IMAP command {c}: {}.", self.reason),
        };
        let mut v = text.into_bytes();
        v.extend_from_slice(b"\r\n");
        v
    }
}

/// Parses one received command.
pub fn parse(frame: &Frame) -> Result<Tagged, ParseError> {
    let line = match tokenize(frame) {
        Ok(line) => line,
        // Dovecot never reads the arguments of these, so `NOOP (x` is answered OK there.
        Err(TokenError::Args { tag, name, .. })
            if argless(&name.to_ascii_uppercase()).is_some() =>
        {
            let command = argless(&name.to_ascii_uppercase()).expect("checked");
            return Ok(Tagged { tag, command });
        }
        Err(TokenError::InvalidTag) => {
            return Err(ParseError {
                tag: None,
                command: None,
                reason: "Invalid tag".into(),
            })
        }
        Err(TokenError::InvalidCommandName { tag }) => {
            return Err(ParseError {
                tag: Some(tag),
                command: None,
                reason: "Invalid command name".into(),
            })
        }
        Err(TokenError::Args { tag, name, reason }) => {
            return Err(ParseError::new(&tag, &name, reason))
        }
    };
    let upper = line.name.to_ascii_uppercase();
    if let Some(command) = argless(&upper) {
        return Ok(Tagged {
            tag: line.tag,
            command,
        });
    }
    let mut a = Args::new(&line.args);
    let command = command(&upper, &mut a)
        .and_then(|c| {
            if a.done() {
                Ok(c)
            } else {
                Err(INVALID.to_string())
            }
        })
        .map_err(|reason| ParseError::new(&line.tag, &line.name, reason))?;
    Ok(Tagged {
        tag: line.tag,
        command,
    })
}

/// The commands whose arguments Dovecot never reads: anything after their name is ignored.
fn argless(upper: &str) -> Option<Command> {
    Some(match upper {
        "CAPABILITY" => Command::Capability,
        "NOOP" => Command::Noop,
        "LOGOUT" => Command::Logout,
        "STARTTLS" => Command::StartTls,
        "NAMESPACE" => Command::Namespace,
        "IDLE" => Command::Idle,
        "CHECK" => Command::Check,
        "CLOSE" => Command::Close,
        "UNSELECT" => Command::Unselect,
        "EXPUNGE" => Command::Expunge,
        _ => return None,
    })
}

fn command(upper: &str, a: &mut Args) -> ArgResult<Command> {
    let (uid, name) = match upper.strip_prefix("UID ") {
        Some(rest) => (true, rest),
        None => (false, upper),
    };
    if uid
        && !matches!(
            name,
            "FETCH" | "STORE" | "COPY" | "MOVE" | "SEARCH" | "EXPUNGE"
        )
    {
        return Err("Unknown command".into());
    }
    Ok(match name {
        "AUTHENTICATE" => {
            let mechanism = a.atom()?.to_ascii_uppercase();
            let initial = a.optional(|a| a.atom().map(|s| s.as_bytes().to_vec()))?;
            Command::Authenticate { mechanism, initial }
        }
        "LOGIN" => Command::Login {
            username: a.astring()?,
            password: a.astring()?,
        },
        "SELECT" => Command::Select {
            mailbox: a.mailbox()?,
        },
        "EXAMINE" => Command::Examine {
            mailbox: a.mailbox()?,
        },
        "CREATE" => {
            let mailbox = a.mailbox()?;
            let mut special_use = Vec::new();
            if let Some(Arg::List(params)) = a.peek() {
                let mut p = Args::new(params);
                a.next();
                while !p.done() {
                    // Unknown parameters are ignored, as Dovecot does.
                    if p.atom()?.eq_ignore_ascii_case("USE") {
                        for f in p.list()? {
                            special_use.push(flag(f)?);
                        }
                    } else if !p.done() {
                        p.next();
                    }
                }
            }
            Command::Create {
                mailbox,
                special_use,
            }
        }
        "DELETE" => Command::Delete {
            mailbox: a.mailbox()?,
        },
        "RENAME" => Command::Rename {
            from: a.mailbox()?,
            to: a.mailbox()?,
        },
        "SUBSCRIBE" => Command::Subscribe {
            mailbox: a.mailbox()?,
        },
        "UNSUBSCRIBE" => Command::Unsubscribe {
            mailbox: a.mailbox()?,
        },
        "LIST" => Command::List(list(a)?),
        "LSUB" => Command::Lsub {
            reference: a.mailbox()?,
            pattern: a.list_mailbox()?,
        },
        "STATUS" => {
            let mailbox = a.mailbox()?;
            let items = status_items(a.list()?)?;
            Command::Status { mailbox, items }
        }
        "APPEND" => append(a)?,
        "ENABLE" => {
            let mut capabilities = Vec::new();
            while !a.done() {
                capabilities.push(a.atom()?.to_ascii_uppercase());
            }
            Command::Enable { capabilities }
        }
        "ID" => Command::Id { fields: id(a)? },
        "EXPUNGE" if uid => Command::UidExpunge { set: a.seqset()? },
        "SEARCH" => Command::Search(super::search::search(uid, a)?),
        "FETCH" => {
            let set = a.seqset()?;
            let items = super::fetch::items(a)?;
            Command::Fetch { uid, set, items }
        }
        "STORE" => {
            let set = a.seqset()?;
            let item = a.atom()?.to_ascii_uppercase();
            let (mode, rest) = match item.as_bytes().first() {
                Some(b'+') => (StoreMode::Add, &item[1..]),
                Some(b'-') => (StoreMode::Remove, &item[1..]),
                _ => (StoreMode::Replace, &item[..]),
            };
            let silent = match rest {
                "FLAGS" => false,
                "FLAGS.SILENT" => true,
                _ => return Err(INVALID.into()),
            };
            let flags = match a.peek() {
                Some(Arg::List(l)) => {
                    a.next();
                    l.iter().map(flag).collect::<ArgResult<_>>()?
                }
                _ => {
                    let mut v = Vec::new();
                    while !a.done() {
                        v.push(flag(a.next().expect("not done"))?);
                    }
                    v
                }
            };
            Command::Store {
                uid,
                set,
                mode,
                silent,
                flags,
            }
        }
        "COPY" => Command::Copy {
            uid,
            set: a.seqset()?,
            mailbox: a.mailbox()?,
        },
        "MOVE" => Command::Move {
            uid,
            set: a.seqset()?,
            mailbox: a.mailbox()?,
        },
        _ => return Err("Unknown command".into()),
    })
}

/// `LIST [(selection)] reference (pattern | (patterns)) [RETURN (options)]`.
fn list(a: &mut Args) -> ArgResult<List> {
    let mut l = List::default();
    if let Some(Arg::List(sel)) = a.peek() {
        a.next();
        l.extended = true;
        for s in sel {
            let s = s.keyword().ok_or(INVALID)?;
            match s.as_str() {
                "SUBSCRIBED" | "REMOTE" | "RECURSIVEMATCH" | "SPECIAL-USE" => l.selection.push(s),
                _ => return Err("Unknown select options".into()),
            }
        }
    }
    l.reference = a.mailbox()?;
    match a.peek() {
        Some(Arg::List(pats)) => {
            a.next();
            l.extended = true;
            for p in pats {
                l.patterns.push(list_mailbox(p)?);
            }
            if l.patterns.is_empty() {
                return Err(INVALID.into());
            }
        }
        _ => l.patterns.push(a.list_mailbox()?),
    }
    if !a.done() {
        if !a.atom()?.eq_ignore_ascii_case("RETURN") {
            return Err(INVALID.into());
        }
        l.extended = true;
        let opts = a.list()?;
        let mut o = Args::new(opts);
        while !o.done() {
            let k = o.atom()?.to_ascii_uppercase();
            match k.as_str() {
                "SUBSCRIBED" => l.returns.subscribed = true,
                "CHILDREN" => l.returns.children = true,
                "SPECIAL-USE" => l.returns.special_use = true,
                "STATUS" => l.returns.status = Some(status_items(o.list()?)?),
                _ => return Err("Unknown return options".into()),
            }
        }
    }
    Ok(l)
}

fn status_items(list: &[Arg]) -> ArgResult<Vec<StatusItem>> {
    if list.is_empty() {
        return Err("Empty status list".into());
    }
    list.iter()
        .map(|i| {
            let k = i.keyword().ok_or(INVALID)?;
            Ok(match k.as_str() {
                "MESSAGES" => StatusItem::Messages,
                "RECENT" => StatusItem::Recent,
                "UIDNEXT" => StatusItem::UidNext,
                "UIDVALIDITY" => StatusItem::UidValidity,
                "UNSEEN" => StatusItem::Unseen,
                _ => return Err(format!("Invalid status item {k}")),
            })
        })
        .collect()
}

/// `APPEND mailbox [flags] [date] literal` (repeated for MULTIAPPEND).
fn append(a: &mut Args) -> ArgResult<Command> {
    let mailbox = a.mailbox()?;
    let mut messages = Vec::new();
    loop {
        let mut flags = Vec::new();
        if let Some(Arg::List(l)) = a.peek() {
            a.next();
            flags = l.iter().map(flag).collect::<ArgResult<_>>()?;
        }
        let mut date = None;
        if let Some(Arg::Quoted(d)) = a.peek() {
            a.next();
            let d = String::from_utf8_lossy(d).into_owned();
            if !valid_date_time(&d) {
                return Err("Invalid internal date".into());
            }
            date = Some(d);
        }
        match a.next() {
            Some(Arg::Streamed(size)) => messages.push(AppendMessage {
                flags,
                date,
                size: *size,
            }),
            _ => return Err("Invalid arguments".into()),
        }
        if a.done() {
            break;
        }
    }
    Ok(Command::Append { mailbox, messages })
}

/// `ID NIL` or `ID ("name" "value" ...)`.
fn id(a: &mut Args) -> ArgResult<Option<Vec<IdField>>> {
    match a.next() {
        Some(Arg::Nil) => Ok(None),
        Some(Arg::List(l)) => {
            if l.len() % 2 != 0 {
                return Err(INVALID.into());
            }
            let mut out = Vec::new();
            for pair in l.chunks(2) {
                let name = match &pair[0] {
                    Arg::Quoted(b) | Arg::Literal(b) => b.clone(),
                    _ => return Err(INVALID.into()),
                };
                let value = match &pair[1] {
                    Arg::Nil => None,
                    Arg::Quoted(b) | Arg::Literal(b) => Some(b.clone()),
                    _ => return Err(INVALID.into()),
                };
                out.push((name, value));
            }
            Ok(Some(out))
        }
        _ => Err(INVALID.into()),
    }
}

/// `"17-Jul-1996 02:44:25 -0700"` (the day may be space-padded).
fn valid_date_time(s: &str) -> bool {
    let b = s.as_bytes();
    if b.len() != 26 {
        return false;
    }
    let day_ok = (b[0] == b' ' || b[0].is_ascii_digit()) && b[1].is_ascii_digit();
    let month_ok = super::search::month(&s[3..6]).is_some();
    let digits = |r: std::ops::Range<usize>| b[r].iter().all(u8::is_ascii_digit);
    day_ok
        && b[2] == b'-'
        && month_ok
        && b[6] == b'-'
        && digits(7..11)
        && b[11] == b' '
        && digits(12..14)
        && b[14] == b':'
        && digits(15..17)
        && b[17] == b':'
        && digits(18..20)
        && b[20] == b' '
        && matches!(b[21], b'+' | b'-')
        && digits(22..26)
}
