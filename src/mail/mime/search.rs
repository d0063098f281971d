//! SEARCH helpers: header-field lookup for `HEADER`, `FROM`, `TO`, `CC`, `BCC`, `SUBJECT`
//! and decoded-text search for `BODY` and `TEXT`, the way Dovecot's `index-search.c`
//! prepares values: address headers are reparsed and rewritten (`message_address_write`),
//! `Subject` has its whitespace runs compressed, then encoded words are decoded and the
//! match is a case-insensitive substring match. Dovecot compares titlecased, decomposed
//! Unicode; roost lowercases both sides (`str::to_lowercase`), which agrees for every
//! script without decomposition differences (it does not, e.g., match "é" written as
//! e + U+0301 against U+00E9).

use super::address::{parse_address_list, Address};
use super::decode;
use super::header;
use super::rfc822::Parser;
use super::scan::Message;

/// Which preparation a header search key uses (Dovecot's `SEARCH_HEADER*` types).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum HeaderKind {
    /// `HEADER name value`: the value as it is.
    Plain,
    /// `FROM`/`TO`/`CC`/`BCC`: the normalised address list.
    Address,
    /// `SUBJECT`: blanks compressed.
    CompressLwsp,
}

impl HeaderKind {
    /// The kind IMAP's `SEARCH <key>` uses for a header name.
    pub fn for_search_key(name: &str) -> HeaderKind {
        if ["from", "to", "cc", "bcc"]
            .iter()
            .any(|n| n.eq_ignore_ascii_case(name))
        {
            HeaderKind::Address
        } else if name.eq_ignore_ascii_case("subject") {
            HeaderKind::CompressLwsp
        } else {
            HeaderKind::Plain
        }
    }
}

fn normalize(s: &str) -> String {
    s.to_lowercase()
}

impl Message<'_> {
    /// The unfolded raw values of the top-level header fields named `name`.
    pub fn header_values(&self, name: &str) -> Vec<Vec<u8>> {
        header::fields(&self.raw[self.parts[0].header.clone()])
            .into_iter()
            .filter(|f| f.name.eq_ignore_ascii_case(name.as_bytes()))
            .map(|f| header::oneline(&f.value))
            .collect()
    }

    /// Whether a top-level `name` field matches `needle` as SEARCH does. An empty needle
    /// matches when the field exists.
    pub fn search_header(&self, name: &str, needle: &str, kind: HeaderKind) -> bool {
        let values = self.header_values(name);
        if needle.is_empty() {
            return !values.is_empty();
        }
        let needle = normalize(needle);
        values.iter().any(|v| {
            let prepared = match kind {
                HeaderKind::Plain => v.clone(),
                HeaderKind::Address => write_addresses(&parse_address_list(v, usize::MAX)),
                HeaderKind::CompressLwsp => compress_lwsp(v),
            };
            normalize(&decode::header_value(&prepared)).contains(&needle)
        })
    }

    /// Decoded UTF-8 text of every part Dovecot's `message_search` reads the body of:
    /// parts without children (a multipart whose boundary never came included) whose last
    /// Content-Type is text/* or message/* (an attached message cut off by the nesting
    /// limit is read as text), or that have none. Transfer encoding is
    /// undone and the charset converted as [`decode`] documents; in message order.
    pub fn body_texts(&self) -> Vec<String> {
        let mut out = Vec::new();
        for p in &self.parts {
            // Dovecot searches with the cached part tree (message-parser-from-parts.c),
            // which returns the body of every part without children, a multipart
            // without parts included.
            if !p.children.is_empty() {
                continue;
            }
            let Some((cte, charset)) = self.search_decoding(p.header.clone()) else {
                continue;
            };
            let raw = &self.raw[p.body.clone()];
            let bytes = match cte {
                Cte::Plain => raw.to_vec(),
                Cte::Base64 => decode::base64(raw),
                Cte::QuotedPrintable => decode::quoted_printable(raw, false),
            };
            out.push(decode::to_utf8(&bytes, &charset));
        }
        out
    }

    /// How `message_search` and `message_decoder` read a part's body, from its header:
    /// `None` when the body is not searched (the *last* Content-Type is not text/* or
    /// message/*, or the last Content-Transfer-Encoding is unknown or followed by
    /// anything but `;`), else the transfer encoding and the charset.
    fn search_decoding(&self, header: std::ops::Range<usize>) -> Option<(Cte, Vec<u8>)> {
        let mut text = true;
        let mut cte = Some(Cte::Plain);
        let mut charset = b"us-ascii".to_vec();
        for f in header::fields(&self.raw[header]) {
            let value = header::oneline(&f.value);
            if f.name.eq_ignore_ascii_case(b"Content-Type") {
                let mut p = Parser::new(&value);
                p.skip_lwsp();
                let mut ct = Vec::new();
                let ret = p.parse_content_type(&mut ct);
                let starts = |prefix: &[u8]| {
                    ct.len() >= prefix.len() && ct[..prefix.len()].eq_ignore_ascii_case(prefix)
                };
                text = starts(b"text/") || starts(b"message/");
                if ret > 0 {
                    if let Some((_, v)) = p
                        .parse_params()
                        .into_iter()
                        .find(|(k, _)| k.eq_ignore_ascii_case(b"charset"))
                    {
                        charset = v;
                    }
                }
            } else if f.name.eq_ignore_ascii_case(b"Content-Transfer-Encoding") {
                cte = parse_cte(&value);
            }
        }
        if text {
            cte.map(|c| (c, charset))
        } else {
            None
        }
    }

    /// SEARCH BODY: `needle` in the decoded text of a text part.
    pub fn search_body(&self, needle: &str) -> bool {
        let needle = normalize(needle);
        self.body_texts()
            .iter()
            .any(|t| normalize(t).contains(&needle))
    }

    /// SEARCH TEXT: `needle` in a decoded header value of any part (MIME headers and
    /// headers of attached messages included, as Dovecot's `message_search` does) or in
    /// the body.
    pub fn search_text(&self, needle: &str) -> bool {
        let n = normalize(needle);
        // Dovecot streams each part's header lines (name, middle, decoded value, CRLF)
        // through one substring matcher, so a match may span fields.
        self.parts.iter().any(|p| {
            let mut text = String::new();
            for f in header::fields(&self.raw[p.header.clone()]) {
                text.push_str(&String::from_utf8_lossy(f.name));
                text.push_str(&String::from_utf8_lossy(f.middle));
                text.push_str(&decode::header_value(&header::oneline(&f.value)));
                text.push_str("\r\n");
            }
            normalize(&text).contains(&n)
        }) || self.search_body(needle)
    }
}

/// A body's transfer encoding as the search decoder knows it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Cte {
    Plain,
    Base64,
    QuotedPrintable,
}

/// `message_decoder_parse_cte`: `None` for an unknown encoding.
fn parse_cte(value: &[u8]) -> Option<Cte> {
    let mut p = Parser::new(value);
    p.skip_lwsp();
    let mut token = Vec::new();
    if p.parse_mime_token(&mut token) == 1 {
        p.skip_lwsp();
        if p.cur() != b';' {
            return None;
        }
    }
    match token.to_ascii_lowercase().as_slice() {
        b"7bit" | b"8bit" | b"binary" => Some(Cte::Plain),
        b"base64" => Some(Cte::Base64),
        b"quoted-printable" => Some(Cte::QuotedPrintable),
        _ => None,
    }
}

fn compress_lwsp(v: &[u8]) -> Vec<u8> {
    let mut out = Vec::with_capacity(v.len());
    let mut prev = true;
    for &c in v {
        if c == b' ' || c == b'\t' {
            if !prev {
                prev = true;
                out.push(b' ');
            }
        } else {
            prev = false;
            out.push(c);
        }
    }
    out
}

fn maybe_escape(out: &mut Vec<u8>, s: &[u8], escape_dot: bool) {
    if s.iter()
        .all(|&c| super::rfc822::is_atext(c) || (!escape_dot && c == b'.'))
    {
        out.extend_from_slice(s);
        return;
    }
    out.push(b'"');
    for &c in s {
        if c == b'"' || c == b'\\' || c == b'\'' {
            out.push(b'\\');
        }
        out.push(c);
    }
    out.push(b'"');
}

/// `message_address_write`.
fn write_addresses(addrs: &[Address]) -> Vec<u8> {
    let mut out = Vec::new();
    let mut first = true;
    let mut in_group = false;
    for a in addrs {
        if !first {
            out.extend_from_slice(b", ");
        }
        first = false;
        match (&a.domain, &a.mailbox) {
            (None, mailbox) => {
                if !in_group {
                    match mailbox {
                        Some(m) if !m.is_empty() => {
                            if memchr::memmem::find(m, b"=?").is_some() {
                                out.extend_from_slice(m);
                            } else {
                                maybe_escape(&mut out, m, true);
                            }
                        }
                        _ => out.extend_from_slice(b"\"\""),
                    }
                    out.extend_from_slice(b": ");
                    first = true;
                } else {
                    if out.ends_with(b", ") {
                        out.truncate(out.len() - 2);
                    } else if out.ends_with(b": ") {
                        out.truncate(out.len() - 1);
                    }
                    out.push(b';');
                }
                in_group = !in_group;
            }
            (Some(domain), mailbox) => {
                let mailbox = mailbox.as_deref().unwrap_or(b"");
                if let Some(n) = &a.name {
                    if memchr::memmem::find(n, b"=?").is_some() {
                        out.extend_from_slice(n);
                    } else {
                        maybe_escape(&mut out, n, true);
                    }
                }
                if a.route.is_some() || !mailbox.is_empty() || !domain.is_empty() {
                    if a.name.as_ref().is_some_and(|n| !n.is_empty()) {
                        out.push(b' ');
                    }
                    out.push(b'<');
                    if let Some(r) = &a.route {
                        out.extend_from_slice(r);
                        out.push(b':');
                    }
                    if mailbox.is_empty() {
                        out.extend_from_slice(b"\"\"");
                    } else {
                        maybe_escape(&mut out, mailbox, false);
                    }
                    if !domain.is_empty() {
                        out.push(b'@');
                        out.extend_from_slice(domain);
                    }
                    out.push(b'>');
                }
            }
        }
    }
    out
}
