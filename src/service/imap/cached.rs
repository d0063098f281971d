//! FETCH and SEARCH from the folder index's cache (`mail::maildir::index`): which items a
//! cache can answer (ENVELOPE, BODY, BODYSTRUCTURE and top-level `HEADER.FIELDS` of names
//! in [`CACHED_HEADERS`]), looking them up for a batch of messages, and computing and
//! storing them the first time a message is read for them.

use std::collections::HashMap;

use super::load::{load, Loaded};
use super::selected::{lock, Selected};
use crate::mail::blocking;
use crate::mail::maildir::index::{headers_cached, CacheField, CACHED_HEADERS};
use crate::mail::mime::{Message, SectionText};
use crate::protocol::imap::command::{FetchAttr, SearchKey, SectionText as Text};

/// One message's cached values.
pub type Values = HashMap<CacheField, Vec<u8>>;

/// The cache field an item is answered from, `None` if it is not cacheable.
pub fn field_of(item: &FetchAttr) -> Option<CacheField> {
    match item {
        FetchAttr::Envelope => Some(CacheField::Envelope),
        FetchAttr::Body => Some(CacheField::Body),
        FetchAttr::BodyStructure => Some(CacheField::BodyStructure),
        FetchAttr::BodySection { section, .. } if section.part.is_empty() => match &section.text {
            Some(Text::HeaderFields(names)) if headers_cached(names) => Some(CacheField::Headers),
            _ => None,
        },
        _ => None,
    }
}

/// The fields to look up when every item that needs the message is cacheable; `None` when
/// some item needs the message file anyway.
pub fn plan(items: &[FetchAttr]) -> Option<Vec<CacheField>> {
    let mut fields = Vec::new();
    for it in items {
        match field_of(it) {
            Some(f) if !fields.contains(&f) => fields.push(f),
            Some(_) => {}
            None if needs_message(it) => return None,
            None => {}
        }
    }
    Some(fields)
}

fn needs_message(it: &FetchAttr) -> bool {
    matches!(
        it,
        FetchAttr::Rfc822
            | FetchAttr::Rfc822Header
            | FetchAttr::Rfc822Text
            | FetchAttr::BodySection { .. }
            | FetchAttr::Envelope
            | FetchAttr::Body
            | FetchAttr::BodyStructure
    )
}

/// The value of `field` for a parsed message.
pub fn compute(m: &Message<'_>, field: CacheField) -> Vec<u8> {
    match field {
        CacheField::Envelope => m.envelope().to_imap(),
        CacheField::Body => m.body(),
        CacheField::BodyStructure => m.bodystructure(),
        CacheField::Headers => {
            let names: Vec<String> = CACHED_HEADERS.iter().map(|s| s.to_string()).collect();
            m.section(&[], &SectionText::HeaderFields(&names))
                .map(|c| c.into_owned())
                .unwrap_or_else(|| b"\r\n".to_vec())
        }
    }
}

/// `BODY[HEADER.FIELDS (names)]` from the cached header lines (names all cached).
pub fn header_fields(cached: &[u8], names: &[String]) -> Vec<u8> {
    crate::mail::mime::scan(cached)
        .section(&[], &SectionText::HeaderFields(names))
        .map(|c| c.into_owned())
        .unwrap_or_else(|| b"\r\n".to_vec())
}

/// The cached values of `fields` for each message of `idx` (`None` where one is missing).
pub async fn lookup(sel: &Selected, idx: &[usize], fields: &[CacheField]) -> Vec<Option<Values>> {
    if fields.is_empty() {
        return idx.iter().map(|_| Some(Values::new())).collect();
    }
    let ix = sel.index.clone();
    let uids: Vec<u32> = idx.iter().map(|&i| sel.msgs[i].entry.uid).collect();
    let n = uids.len();
    let fields = fields.to_vec();
    blocking(move || {
        let g = lock(&ix);
        Ok(uids
            .iter()
            .map(|&uid| {
                let mut v = Values::new();
                for &f in &fields {
                    v.insert(f, g.cached(uid, f)?);
                }
                Some(v)
            })
            .collect())
    })
    .await
    .unwrap_or_else(|_: crate::mail::MailError| vec![None; n])
}

/// Stores values computed for a FETCH (errors only logged: the cache is an optimisation).
pub async fn store(sel: &Selected, items: Vec<(u32, CacheField, Vec<u8>)>) {
    if items.is_empty() {
        return;
    }
    let ix = sel.index.clone();
    if let Err(e) = blocking(move || lock(&ix).store_cache(items)).await {
        tracing::warn!(error = %e, "storing in the mailbox index cache failed");
    }
}

/// Header fields a SEARCH key reads, when every text key is a header key (`None` if some
/// key needs the body or the whole text).
pub fn search_headers(keys: &[SearchKey]) -> Option<Vec<String>> {
    fn walk(k: &SearchKey, out: &mut Vec<String>) -> bool {
        let name = match k {
            SearchKey::Not(a) => return walk(a, out),
            SearchKey::Or(a, b) => return walk(a, out) && walk(b, out),
            SearchKey::And(v) => return v.iter().all(|a| walk(a, out)),
            SearchKey::Body(_) | SearchKey::Text(_) => return false,
            SearchKey::From(_) => "from".to_string(),
            SearchKey::To(_) => "to".to_string(),
            SearchKey::Cc(_) => "cc".to_string(),
            SearchKey::Bcc(_) => "bcc".to_string(),
            SearchKey::Subject(_) => "subject".to_string(),
            SearchKey::Header(n, _) => String::from_utf8_lossy(n).into_owned(),
            SearchKey::SentBefore(_) | SearchKey::SentOn(_) | SearchKey::SentSince(_) => {
                "date".to_string()
            }
            _ => return true,
        };
        out.push(name);
        true
    }
    let mut names = Vec::new();
    (keys.iter().all(|k| walk(k, &mut names)) && headers_cached(&names)).then_some(names)
}

/// For a SEARCH on cached header fields: each message's cached header lines (ending with
/// the empty line) in place of the message; the file is read (and the cache filled) only
/// where they are not cached yet.
pub(super) async fn load_headers(
    sel: &Selected,
    idx: &[usize],
    date: bool,
) -> Result<Vec<Loaded>, crate::mail::MailError> {
    let hits = lookup(sel, idx, &[CacheField::Headers]).await;
    let missing: Vec<usize> = idx
        .iter()
        .zip(&hits)
        .filter(|(_, h)| h.is_none())
        .map(|(&i, _)| i)
        .collect();
    let mut read = load(sel, &missing, true, false).await?.into_iter();
    let mut fill = Vec::new();
    let mut out = Vec::with_capacity(idx.len());
    for (k, &i) in idx.iter().enumerate() {
        let headers = match &hits[k] {
            Some(v) => v.get(&CacheField::Headers).cloned(),
            None => read.next().and_then(|l| l.data).map(|d| {
                let v = compute(&crate::mail::mime::scan(&d), CacheField::Headers);
                fill.push((sel.msgs[i].entry.uid, CacheField::Headers, v.clone()));
                v
            }),
        };
        out.push(Loaded {
            data: headers,
            mtime: date.then(|| sel.msgs[i].internal_date()),
            failed: None,
        });
    }
    store(sel, fill).await;
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The cached header lines, filtered again, give what the message itself gives for
    /// every subset clients ask for, over the whole MIME corpus (malformed ones included).
    #[test]
    fn cached_header_fields_answer_as_the_message_does() {
        let lists: Vec<Vec<String>> = [
            "From To Cc Bcc Subject Date Message-ID Priority X-Priority References Newsgroups In-Reply-To Content-Type Reply-To",
            "date subject from content-type to cc reply-to message-id references in-reply-to X-K9mail-Identity Chat-Version",
            "SUBJECT",
            "to FROM",
        ]
        .iter()
        .map(|l| l.split(' ').map(str::to_string).collect())
        .collect();
        let dir = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/data/mime");
        let mut seen = 0;
        for ent in std::fs::read_dir(&dir).unwrap() {
            let p = ent.unwrap().path();
            if p.extension().and_then(|e| e.to_str()) != Some("eml") {
                continue;
            }
            let raw = std::fs::read(&p).unwrap();
            let m = crate::mail::mime::scan(&raw);
            let cached = compute(&m, CacheField::Headers);
            for names in &lists {
                assert!(headers_cached(names));
                let direct = m
                    .section(&[], &SectionText::HeaderFields(names))
                    .unwrap()
                    .into_owned();
                assert_eq!(
                    String::from_utf8_lossy(&header_fields(&cached, names)),
                    String::from_utf8_lossy(&direct),
                    "{} {names:?}",
                    p.display()
                );
            }
            seen += 1;
        }
        assert!(seen > 20, "corpus not found in {}", dir.display());
    }
}
