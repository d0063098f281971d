//! SEARCH: flags, sizes, sequence and UID sets, NOT/OR/groups, internal dates (BEFORE, ON,
//! SINCE, OLDER, YOUNGER) and text keys (header fields, BODY, TEXT; decoded and
//! case-folded as Dovecot searches, see `mail::mime::search`), answered as `* SEARCH` or ESEARCH (MIN, MAX, COUNT, ALL).
//! Messages are read in batches only when a text or date key needs them. Not yet: SENT*
//! keys and SEARCHRES `$` (`NO [CANNOT]`).

use std::time::SystemTime;

use super::mailboxes::uid_set;
use super::messages::{load, Loaded};
use super::selected::Selected;
use super::session::Imap;
use crate::mail::maildir::Flags;
use crate::protocol::imap::command::{Search, SearchKey, SearchReturn, SequenceSet};
use crate::protocol::imap::response::Untagged;
use crate::service::wire::Wire;

impl Imap {
    pub(super) async fn search(&mut self, wire: &mut Wire, tag: &str, s: Search) {
        if let Some(c) = &s.charset {
            if !c.eq_ignore_ascii_case("UTF-8") && !c.eq_ignore_ascii_case("US-ASCII") {
                return self.reply(wire, tag, "NO", Some("BADCHARSET"), "Unknown charset");
            }
        }
        if s.keys.iter().any(unsupported)
            || s.returns
                .as_ref()
                .is_some_and(|r| r.contains(&SearchReturn::Save))
        {
            return self.reply(
                wire,
                tag,
                "NO",
                Some("CANNOT"),
                "Search key not implemented yet",
            );
        }
        let sel = self.selected.as_ref().expect("checked");
        let idx: Vec<usize> = (0..sel.msgs.len()).collect();
        let needs_data = s.keys.iter().any(needs_text);
        let needs_date = s.keys.iter().any(needs_date);
        // Messages are read in batches, so a text search holds one batch in memory.
        let mut hits: Vec<u32> = Vec::new();
        for batch in idx.chunks(if needs_data { 64 } else { idx.len().max(1) }) {
            let loaded = match load(sel, batch, needs_data, needs_date).await {
                Ok(l) => l,
                Err(e) => return self.mail_error(wire, tag, "", e),
            };
            for (k, &i) in batch.iter().enumerate() {
                if s.keys.iter().all(|key| eval(key, sel, i, &loaded[k])) {
                    hits.push(if s.uid {
                        sel.msgs[i].entry.uid
                    } else {
                        i as u32 + 1
                    });
                }
            }
        }
        match &s.returns {
            None => Untagged::Search(hits).encode(wire.output()),
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

fn unsupported(k: &SearchKey) -> bool {
    walk(k, &|k| {
        matches!(
            k,
            SearchKey::SentBefore(_)
                | SearchKey::SentOn(_)
                | SearchKey::SentSince(_)
                | SearchKey::SequenceSet(SequenceSet::Saved)
                | SearchKey::Uid(SequenceSet::Saved)
        )
    })
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

/// Whether header field `name` of `data` contains `value` (case-insensitively).
fn lossy(b: &[u8]) -> String {
    String::from_utf8_lossy(b).into_owned()
}

fn header_has(data: &[u8], name: &str, value: &[u8]) -> bool {
    let kind = crate::mail::mime::HeaderKind::for_search_key(name);
    crate::mail::mime::scan(data).search_header(name, &lossy(value), kind)
}

fn eval(k: &SearchKey, sel: &Selected, i: usize, l: &Loaded) -> bool {
    let m = &sel.msgs[i];
    let f = &m.entry.flags;
    let data = l.data.as_deref().unwrap_or(&[]);
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
        SearchKey::Not(a) => !eval(a, sel, i, l),
        SearchKey::Or(a, b) => eval(a, sel, i, l) || eval(b, sel, i, l),
        SearchKey::And(v) => v.iter().all(|a| eval(a, sel, i, l)),
        SearchKey::Before(d) => days < date_days(d),
        SearchKey::On(d) => days == date_days(d),
        SearchKey::Since(d) => days >= date_days(d),
        SearchKey::Older(s) => age >= *s as u64,
        SearchKey::Younger(s) => age <= *s as u64,
        // Decoded as Dovecot searches (mail::mime::search): encoded words, transfer
        // encodings and charsets undone, case folded.
        SearchKey::Text(t) => crate::mail::mime::scan(data).search_text(&lossy(t)),
        SearchKey::Body(t) => crate::mail::mime::scan(data).search_body(&lossy(t)),
        SearchKey::Header(n, v) => header_has(data, &lossy(n), v),
        SearchKey::From(v) => header_has(data, "From", v),
        SearchKey::To(v) => header_has(data, "To", v),
        SearchKey::Cc(v) => header_has(data, "Cc", v),
        SearchKey::Bcc(v) => header_has(data, "Bcc", v),
        SearchKey::Subject(v) => header_has(data, "Subject", v),
        SearchKey::SentBefore(_) | SearchKey::SentOn(_) | SearchKey::SentSince(_) => false,
    }
}
