//! SEARCH: flags, sizes, sequence and UID sets (SEARCHRES `$` included), NOT/OR/groups,
//! internal dates (BEFORE, ON, SINCE, OLDER, YOUNGER), sent dates (SENTBEFORE, SENTON,
//! SENTSINCE: the `Date:` header's day as written) and text keys (header fields, BODY, TEXT)
//! matched on decoded text as Dovecot matches them (`mail::mime::search`: encoded words,
//! transfer encodings and charsets undone, case-insensitive), with keys in any `CHARSET`
//! encoding_rs knows; answered as `* SEARCH` or ESEARCH (MIN, MAX, COUNT, ALL) and kept for
//! `$` with `RETURN (SAVE)` (RFC 5182). Messages are read in batches only when a text or
//! date key needs them.

use std::time::SystemTime;

use super::load::{load, Loaded};
use super::mailboxes::uid_set;
use super::selected::Selected;
use super::session::Imap;
use crate::mail::maildir::Flags;
use crate::mail::mime::decode::{key_to_utf8, CharsetError};
use crate::mail::mime::scan::{scan, Message};
use crate::mail::mime::search::HeaderKind;
use crate::protocol::imap::command::{Search, SearchKey, SearchReturn};
use crate::protocol::imap::response::Untagged;
use crate::service::wire::Wire;

impl Imap {
    pub(super) async fn search(&mut self, wire: &mut Wire, tag: &str, mut s: Search) {
        let save = s
            .returns
            .as_ref()
            .is_some_and(|r| r.contains(&SearchReturn::Save));
        if let Err(e) = convert_keys(&mut s.keys, s.charset.as_deref()) {
            return match e {
                CharsetError::Unknown => {
                    if save {
                        if let Some(sel) = self.selected.as_mut() {
                            sel.saved.clear();
                        }
                    }
                    self.reply(wire, tag, "NO", Some("BADCHARSET"), "Unknown charset")
                }
                CharsetError::Invalid => self.bad(
                    wire,
                    tag,
                    "Error in IMAP command SEARCH: Invalid search key",
                ),
            };
        }
        let sel = self.selected.as_ref().expect("checked");
        let idx: Vec<usize> = (0..sel.msgs.len()).collect();
        let needs_data = s.keys.iter().any(needs_text);
        let needs_date = s.keys.iter().any(needs_date);
        // Header keys on fields the index caches read no message file.
        let cached_headers = needs_data
            .then(|| super::cached::search_headers(&s.keys))
            .flatten();
        // Messages are read in batches, so a text search holds one batch in memory.
        let mut hits: Vec<u32> = Vec::new();
        for batch in idx.chunks(if needs_data { 64 } else { idx.len().max(1) }) {
            let loaded = match match &cached_headers {
                Some(_) => super::cached::load_headers(sel, batch, needs_date).await,
                None => load(sel, batch, needs_data, needs_date).await,
            } {
                Ok(l) => l,
                Err(e) => return self.mail_error(wire, tag, "", e),
            };
            for (k, &i) in batch.iter().enumerate() {
                let l = &loaded[k];
                let msg = l.data.as_deref().filter(|_| needs_data).map(scan);
                let m = Msg {
                    loaded: l,
                    msg: msg.as_ref(),
                };
                if s.keys.iter().all(|key| eval(key, sel, i, &m)) {
                    hits.push(if s.uid {
                        sel.msgs[i].entry.uid
                    } else {
                        i as u32 + 1
                    });
                }
            }
        }
        if save {
            let r = s.returns.as_deref().unwrap_or(&[]);
            let only_min_max = !r.contains(&SearchReturn::All)
                && !r.contains(&SearchReturn::Count)
                && (r.contains(&SearchReturn::Min) || r.contains(&SearchReturn::Max));
            let chosen: Vec<u32> = if only_min_max {
                let mut v = Vec::new();
                if r.contains(&SearchReturn::Min) {
                    v.extend(hits.first().copied());
                }
                if r.contains(&SearchReturn::Max) {
                    v.extend(hits.last().copied());
                }
                v
            } else {
                hits.clone()
            };
            let sel = self.selected.as_mut().expect("checked");
            let mut uids: Vec<u32> = chosen
                .iter()
                .map(|&n| {
                    if s.uid {
                        n
                    } else {
                        sel.msgs[n as usize - 1].entry.uid
                    }
                })
                .collect();
            uids.sort_unstable();
            uids.dedup();
            sel.saved = uids;
        }
        match &s.returns {
            None => Untagged::Search(hits).encode(wire.output()),
            // SAVE alone answers nothing but the tagged OK (RFC 5182).
            Some(r) if r.iter().all(|x| *x == SearchReturn::Save) && !r.is_empty() => {}
            Some(r) => {
                let all = r.is_empty() || r.contains(&SearchReturn::All);
                Untagged::ESearch {
                    tag,
                    uid: s.uid,
                    min: r
                        .contains(&SearchReturn::Min)
                        .then(|| hits.first().copied())
                        .flatten(),
                    max: r
                        .contains(&SearchReturn::Max)
                        .then(|| hits.last().copied())
                        .flatten(),
                    count: r
                        .contains(&SearchReturn::Count)
                        .then_some(hits.len() as u32),
                    all: (all && !hits.is_empty()).then(|| uid_set(&hits)),
                }
                .encode(wire.output())
            }
        }
        self.updates(wire, false).await;
        self.reply(wire, tag, "OK", None, "Search completed");
    }
}

fn walk(k: &SearchKey, f: &dyn Fn(&SearchKey) -> bool) -> bool {
    match k {
        SearchKey::Not(a) => walk(a, f),
        SearchKey::Or(a, b) => walk(a, f) || walk(b, f),
        SearchKey::And(v) => v.iter().any(|a| walk(a, f)),
        other => f(other),
    }
}

fn needs_text(k: &SearchKey) -> bool {
    walk(k, &|k| {
        matches!(
            k,
            SearchKey::Bcc(_)
                | SearchKey::Body(_)
                | SearchKey::Cc(_)
                | SearchKey::From(_)
                | SearchKey::Header(..)
                | SearchKey::Subject(_)
                | SearchKey::Text(_)
                | SearchKey::To(_)
                | SearchKey::SentBefore(_)
                | SearchKey::SentOn(_)
                | SearchKey::SentSince(_)
        )
    })
}

fn needs_date(k: &SearchKey) -> bool {
    walk(k, &|k| {
        matches!(
            k,
            SearchKey::Before(_)
                | SearchKey::On(_)
                | SearchKey::Since(_)
                | SearchKey::Older(_)
                | SearchKey::Younger(_)
        )
    })
}

/// Converts every string of the keys to UTF-8 from `charset` (UTF-8 when absent); after
/// this the text keys hold valid UTF-8.
fn convert_keys(keys: &mut [SearchKey], charset: Option<&str>) -> Result<(), CharsetError> {
    let charset = charset.unwrap_or("UTF-8").as_bytes();
    // An unknown charset is refused even when no key holds text, as Dovecot refuses it.
    key_to_utf8(b"", charset)?;
    keys.iter_mut().try_for_each(|k| convert_key(k, charset))
}

fn convert_key(k: &mut SearchKey, charset: &[u8]) -> Result<(), CharsetError> {
    match k {
        SearchKey::Bcc(v)
        | SearchKey::Body(v)
        | SearchKey::Cc(v)
        | SearchKey::From(v)
        | SearchKey::Subject(v)
        | SearchKey::Text(v)
        | SearchKey::To(v)
        | SearchKey::Header(_, v) => *v = key_to_utf8(v, charset)?.into_bytes(),
        SearchKey::Not(a) => convert_key(a, charset)?,
        SearchKey::Or(a, b) => {
            convert_key(a, charset)?;
            convert_key(b, charset)?;
        }
        SearchKey::And(v) => v.iter_mut().try_for_each(|a| convert_key(a, charset))?,
        _ => {}
    }
    Ok(())
}

/// One message as the evaluator sees it: what was loaded and, for text and sent-date keys,
/// its MIME scan.
struct Msg<'a> {
    loaded: &'a Loaded,
    msg: Option<&'a Message<'a>>,
}

fn text(v: &[u8]) -> &str {
    std::str::from_utf8(v).unwrap_or("")
}

/// Whether the message's `name` header matches `value` as Dovecot's SEARCH does.
/// `HEADER name value` compares the value as it is; FROM/TO/CC/BCC/SUBJECT prepare it
/// (`HeaderKind::for_search_key`), as the recorded Dovecot answers in tests/mime_dovecot.rs do.
fn header_has(m: &Msg, name: &str, value: &[u8], kind: HeaderKind) -> bool {
    m.msg
        .is_some_and(|msg| msg.search_header(name, text(value), kind))
}

/// Days since the epoch of the message's `Date:` day as written; 0 (1 January 1970) when
/// it has none that parses.
fn sent_days(m: &Msg) -> i64 {
    m.msg
        .and_then(|msg| msg.header_values("Date").into_iter().next())
        .and_then(|v| crate::mail::mime::date::parse(&v))
        .map(|(y, mo, d)| super::message::days_from_civil(y, mo as i64, d as i64))
        .unwrap_or(0)
}

fn eval(k: &SearchKey, sel: &Selected, i: usize, msg: &Msg) -> bool {
    let m = &sel.msgs[i];
    let f = &m.entry.flags;
    let l = msg.loaded;
    let days = l
        .mtime
        .and_then(|t| t.duration_since(SystemTime::UNIX_EPOCH).ok())
        .map(|d| d.as_secs() as i64 / 86_400)
        .unwrap_or(0);
    let age = l
        .mtime
        .and_then(|t| SystemTime::now().duration_since(t).ok())
        .map(|d| d.as_secs())
        .unwrap_or(0);
    let date_days = |d: &crate::protocol::imap::command::Date| {
        super::message::days_from_civil(d.year as i64, d.month as i64, d.day as i64)
    };
    let keyword = |name: &str| sel.keywords.letter(name).is_some_and(|l| f.has(l));
    match k {
        SearchKey::All => true,
        SearchKey::Answered => f.has(Flags::ANSWERED),
        SearchKey::Unanswered => !f.has(Flags::ANSWERED),
        SearchKey::Deleted => f.has(Flags::DELETED),
        SearchKey::Undeleted => !f.has(Flags::DELETED),
        SearchKey::Draft => f.has(Flags::DRAFT),
        SearchKey::Undraft => !f.has(Flags::DRAFT),
        SearchKey::Flagged => f.has(Flags::FLAGGED),
        SearchKey::Unflagged => !f.has(Flags::FLAGGED),
        SearchKey::Seen => f.has(Flags::SEEN),
        SearchKey::Unseen => !f.has(Flags::SEEN),
        SearchKey::Recent => m.recent,
        SearchKey::Old => !m.recent,
        SearchKey::New => m.recent && !f.has(Flags::SEEN),
        SearchKey::Keyword(n) => keyword(n),
        SearchKey::Unkeyword(n) => !keyword(n),
        SearchKey::Larger(n) => m.entry.vsize > *n as u64,
        SearchKey::Smaller(n) => m.entry.vsize < *n as u64,
        SearchKey::Uid(set) => sel.resolve(set, true).contains(&i),
        SearchKey::SequenceSet(set) => sel.resolve(set, false).contains(&i),
        SearchKey::Not(a) => !eval(a, sel, i, msg),
        SearchKey::Or(a, b) => eval(a, sel, i, msg) || eval(b, sel, i, msg),
        SearchKey::And(v) => v.iter().all(|a| eval(a, sel, i, msg)),
        SearchKey::Before(d) => days < date_days(d),
        SearchKey::On(d) => days == date_days(d),
        SearchKey::Since(d) => days >= date_days(d),
        SearchKey::SentBefore(d) => sent_days(msg) < date_days(d),
        SearchKey::SentOn(d) => sent_days(msg) == date_days(d),
        SearchKey::SentSince(d) => sent_days(msg) >= date_days(d),
        SearchKey::Older(s) => age >= *s as u64,
        SearchKey::Younger(s) => age <= *s as u64,
        SearchKey::Text(t) => msg.msg.is_some_and(|x| x.search_text(text(t))),
        SearchKey::Body(t) => msg.msg.is_some_and(|x| x.search_body(text(t))),
        SearchKey::Header(n, v) => {
            header_has(msg, &String::from_utf8_lossy(n), v, HeaderKind::Plain)
        }
        SearchKey::From(v) => header_has(msg, "From", v, HeaderKind::Address),
        SearchKey::To(v) => header_has(msg, "To", v, HeaderKind::Address),
        SearchKey::Cc(v) => header_has(msg, "Cc", v, HeaderKind::Address),
        SearchKey::Bcc(v) => header_has(msg, "Bcc", v, HeaderKind::Address),
        SearchKey::Subject(v) => header_has(msg, "Subject", v, HeaderKind::CompressLwsp),
    }
}
