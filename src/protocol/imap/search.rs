//! SEARCH arguments: `[RETURN (...)]` (ESEARCH, SEARCHRES `SAVE`), `[CHARSET x]` and the
//! search keys of RFC 3501 §6.4.4 plus WITHIN's `OLDER`/`YOUNGER` and SEARCHRES's `$`.

use super::args::{parse_seqset, ArgResult, Args, INVALID};
use super::command::{Date, Search, SearchKey, SearchReturn};
use super::token::Arg;

pub(crate) fn search(uid: bool, a: &mut Args) -> ArgResult<Search> {
    let mut returns = None;
    if a.peek().and_then(Arg::keyword).as_deref() == Some("RETURN") {
        a.next();
        let mut r = Vec::new();
        for o in a.list()? {
            r.push(match o.keyword().as_deref() {
                Some("MIN") => SearchReturn::Min,
                Some("MAX") => SearchReturn::Max,
                Some("ALL") => SearchReturn::All,
                Some("COUNT") => SearchReturn::Count,
                Some("SAVE") => SearchReturn::Save,
                _ => return Err("Unknown SEARCH return option".into()),
            });
        }
        returns = Some(r);
    }
    let mut charset = None;
    if a.peek().and_then(Arg::keyword).as_deref() == Some("CHARSET") {
        a.next();
        charset = Some(String::from_utf8_lossy(&a.astring()?).into_owned());
    }
    let mut keys = Vec::new();
    while !a.done() {
        keys.push(key(a, 0)?);
    }
    if keys.is_empty() {
        return Err("Missing search parameters".into());
    }
    Ok(Search {
        uid,
        returns,
        charset,
        keys,
    })
}

const MAX_DEPTH: usize = 100;

fn key(a: &mut Args, depth: usize) -> ArgResult<SearchKey> {
    if depth > MAX_DEPTH {
        return Err("Too deep nesting".into());
    }
    let arg = a.next().ok_or("Missing argument")?;
    let word = match arg {
        Arg::List(l) => {
            let mut inner = Args::new(l);
            let mut keys = Vec::new();
            while !inner.done() {
                keys.push(key(&mut inner, depth + 1)?);
            }
            if keys.is_empty() {
                return Err(INVALID.into());
            }
            return Ok(SearchKey::And(keys));
        }
        Arg::Atom(w) => w,
        _ => return Err(INVALID.into()),
    };
    let upper = word.to_ascii_uppercase();
    let s = |a: &mut Args| a.astring();
    Ok(match upper.as_str() {
        "ALL" => SearchKey::All,
        "ANSWERED" => SearchKey::Answered,
        "BCC" => SearchKey::Bcc(s(a)?),
        "BEFORE" => SearchKey::Before(date(a)?),
        "BODY" => SearchKey::Body(s(a)?),
        "CC" => SearchKey::Cc(s(a)?),
        "DELETED" => SearchKey::Deleted,
        "DRAFT" => SearchKey::Draft,
        "FLAGGED" => SearchKey::Flagged,
        "FROM" => SearchKey::From(s(a)?),
        "HEADER" => {
            let field = s(a)?;
            SearchKey::Header(field, s(a)?)
        }
        "KEYWORD" => SearchKey::Keyword(super::args::flag(a.next().ok_or(INVALID)?)?),
        "LARGER" => SearchKey::Larger(a.number()?),
        "NEW" => SearchKey::New,
        "NOT" => SearchKey::Not(Box::new(key(a, depth + 1)?)),
        "OLD" => SearchKey::Old,
        "OLDER" => SearchKey::Older(interval(a)?),
        "ON" => SearchKey::On(date(a)?),
        "OR" => {
            let l = key(a, depth + 1)?;
            SearchKey::Or(Box::new(l), Box::new(key(a, depth + 1)?))
        }
        "RECENT" => SearchKey::Recent,
        "SEEN" => SearchKey::Seen,
        "SENTBEFORE" => SearchKey::SentBefore(date(a)?),
        "SENTON" => SearchKey::SentOn(date(a)?),
        "SENTSINCE" => SearchKey::SentSince(date(a)?),
        "SINCE" => SearchKey::Since(date(a)?),
        "SMALLER" => SearchKey::Smaller(a.number()?),
        "SUBJECT" => SearchKey::Subject(s(a)?),
        "TEXT" => SearchKey::Text(s(a)?),
        "TO" => SearchKey::To(s(a)?),
        "UID" => SearchKey::Uid(a.seqset()?),
        "UNANSWERED" => SearchKey::Unanswered,
        "UNDELETED" => SearchKey::Undeleted,
        "UNDRAFT" => SearchKey::Undraft,
        "UNFLAGGED" => SearchKey::Unflagged,
        "UNKEYWORD" => SearchKey::Unkeyword(super::args::flag(a.next().ok_or(INVALID)?)?),
        "UNSEEN" => SearchKey::Unseen,
        "YOUNGER" => SearchKey::Younger(interval(a)?),
        _ => match parse_seqset(word) {
            Some(set) => SearchKey::SequenceSet(set),
            None => return Err(format!("Unknown argument {upper}")),
        },
    })
}

/// WITHIN's interval: a positive number of seconds.
fn interval(a: &mut Args) -> ArgResult<u32> {
    match a.number()? {
        0 => Err(INVALID.into()),
        n => Ok(n),
    }
}

/// `1-Feb-1994` (atom or quoted).
fn date(a: &mut Args) -> ArgResult<Date> {
    let raw = a.astring()?;
    let s = std::str::from_utf8(&raw).map_err(|_| INVALID.to_string())?;
    parse_date(s).ok_or_else(|| "Invalid search date parameter".into())
}

pub(crate) fn parse_date(s: &str) -> Option<Date> {
    let mut parts = s.split('-');
    let (d, m, y) = (parts.next()?, parts.next()?, parts.next()?);
    if parts.next().is_some() || d.is_empty() || d.len() > 2 || y.len() != 4 {
        return None;
    }
    let day: u8 = d.parse().ok()?;
    let year: u16 = y.parse().ok()?;
    let month = month(m)?;
    if !(1..=31).contains(&day) {
        return None;
    }
    Some(Date { year, month, day })
}

/// `Jan` → 1 (case-insensitive).
pub(crate) fn month(m: &str) -> Option<u8> {
    const MONTHS: [&str; 12] = [
        "JAN", "FEB", "MAR", "APR", "MAY", "JUN", "JUL", "AUG", "SEP", "OCT", "NOV", "DEC",
    ];
    let upper = m.to_ascii_uppercase();
    MONTHS.iter().position(|&x| x == upper).map(|i| i as u8 + 1)
}
