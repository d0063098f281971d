//! FETCH items: the macros `ALL`/`FAST`/`FULL`, single items and lists, and body sections
//! `BODY[1.2.HEADER.FIELDS (From To)]<0.100>` (which the tokenizer splits into an atom, a list
//! and an atom starting with `]`, as Dovecot's does).

use super::args::{ArgResult, Args, INVALID};
use super::command::{FetchAttr, FetchItems, Section, SectionText};
use super::token::Arg;

pub(crate) fn items(a: &mut Args) -> ArgResult<FetchItems> {
    let first = a.next().ok_or(INVALID)?;
    match first {
        Arg::List(l) => {
            let mut inner = Args::new(l);
            let mut items = Vec::new();
            while !inner.done() {
                items.push(attr(&mut inner)?);
            }
            if items.is_empty() {
                return Err(INVALID.into());
            }
            Ok(FetchItems {
                items,
                macro_used: None,
            })
        }
        Arg::Atom(w) => {
            use FetchAttr::*;
            let m = match w.to_ascii_uppercase().as_str() {
                "ALL" => Some(("ALL", vec![Flags, InternalDate, Rfc822Size, Envelope])),
                "FAST" => Some(("FAST", vec![Flags, InternalDate, Rfc822Size])),
                "FULL" => Some((
                    "FULL",
                    vec![Flags, InternalDate, Rfc822Size, Envelope, Body],
                )),
                _ => None,
            };
            if let Some((name, items)) = m {
                return Ok(FetchItems {
                    items,
                    macro_used: Some(name),
                });
            }
            // A single item: re-read it (and its section list) from the same cursor.
            let mut single = Args::new(std::slice::from_ref(first));
            let item = attr_with(&mut single, a)?;
            Ok(FetchItems {
                items: vec![item],
                macro_used: None,
            })
        }
        _ => Err(INVALID.into()),
    }
}

fn attr(a: &mut Args) -> ArgResult<FetchAttr> {
    let word = a.atom()?;
    attr_word(word, a)
}

/// Reads one item from `first` whose continuation (section list, `]...`) is in `rest`.
fn attr_with(first: &mut Args, rest: &mut Args) -> ArgResult<FetchAttr> {
    let word = first.atom()?;
    attr_word(word, rest)
}

fn attr_word(word: &str, a: &mut Args) -> ArgResult<FetchAttr> {
    let upper = word.to_ascii_uppercase();
    Ok(match upper.as_str() {
        "ENVELOPE" => FetchAttr::Envelope,
        "FLAGS" => FetchAttr::Flags,
        "INTERNALDATE" => FetchAttr::InternalDate,
        "RFC822" => FetchAttr::Rfc822,
        "RFC822.HEADER" => FetchAttr::Rfc822Header,
        "RFC822.SIZE" => FetchAttr::Rfc822Size,
        "RFC822.TEXT" => FetchAttr::Rfc822Text,
        "BODY" => FetchAttr::Body,
        "BODYSTRUCTURE" => FetchAttr::BodyStructure,
        "UID" => FetchAttr::Uid,
        _ => {
            let (peek, spec) = if let Some(s) = upper.strip_prefix("BODY.PEEK[") {
                (true, s)
            } else if let Some(s) = upper.strip_prefix("BODY[") {
                (false, s)
            } else {
                return Err(format!("Unknown parameter: {upper}"));
            };
            body_section(peek, spec, a)?
        }
    })
}

/// `spec` is what follows `BODY[`: either `section]<partial>` or `...HEADER.FIELDS` whose
/// field list and `]<partial>` are the next two arguments.
fn body_section(peek: bool, spec: &str, a: &mut Args) -> ArgResult<FetchAttr> {
    let bad = || "Invalid BODY[..] section".to_string();
    let (section_text, after) = match spec.split_once(']') {
        Some((s, after)) => (s.to_string(), after.to_string()),
        None => {
            // HEADER.FIELDS[.NOT] (list) ]<partial>
            let list = a.list().map_err(|_| bad())?;
            let mut fields = Vec::new();
            for f in list {
                let b = f.as_bytes().ok_or_else(bad)?;
                fields.push(String::from_utf8_lossy(b).to_ascii_uppercase());
            }
            if fields.is_empty() {
                return Err(bad());
            }
            let close = a.atom().map_err(|_| bad())?;
            let after = close.strip_prefix(']').ok_or_else(bad)?;
            let section = section(spec, Some(fields)).ok_or_else(bad)?;
            return Ok(FetchAttr::BodySection {
                peek,
                section,
                partial: partial(after).ok_or_else(bad)?,
            });
        }
    };
    let section = section(&section_text, None).ok_or_else(bad)?;
    Ok(FetchAttr::BodySection {
        peek,
        section,
        partial: partial(&after).ok_or_else(bad)?,
    })
}

/// `1.2.TEXT`, `HEADER`, `3.MIME`, `` (all), or with `fields`: `[1.]HEADER.FIELDS[.NOT]`.
fn section(s: &str, fields: Option<Vec<String>>) -> Option<Section> {
    let mut part = Vec::new();
    let mut rest = s;
    while let Some(c) = rest.chars().next() {
        if !c.is_ascii_digit() {
            break;
        }
        let end = rest.find('.').unwrap_or(rest.len());
        let n: u32 = rest[..end].parse().ok().filter(|&n| n > 0)?;
        part.push(n);
        rest = rest.get(end + 1..).unwrap_or("");
    }
    let text = match (rest, fields) {
        ("", None) => None,
        ("HEADER", None) => Some(SectionText::Header),
        ("TEXT", None) => Some(SectionText::Text),
        ("MIME", None) if !part.is_empty() => Some(SectionText::Mime),
        ("HEADER.FIELDS", Some(f)) => Some(SectionText::HeaderFields(f)),
        ("HEADER.FIELDS.NOT", Some(f)) => Some(SectionText::HeaderFieldsNot(f)),
        _ => return None,
    };
    Some(Section { part, text })
}

/// `` or `<start.count>`.
fn partial(s: &str) -> Option<Option<(u32, u32)>> {
    if s.is_empty() {
        return Some(None);
    }
    let inner = s.strip_prefix('<')?.strip_suffix('>')?;
    let (a, b) = inner.split_once('.')?;
    let start = a.parse().ok()?;
    // RFC 3501 wants a non-zero count; Dovecot takes `<n.0>` and answers an empty literal.
    let count: u32 = b.parse().ok()?;
    Some(Some((start, count)))
}
