//! `BODY[section]` extraction, following Dovecot's `imap-msgpart.c`: part paths walk
//! multipart children and step into message/rfc822 parts; `n` alone is the part's body,
//! `n.MIME` its own header, `n.HEADER`/`n.TEXT`/`n.HEADER.FIELDS` apply to the message
//! inside a message/rfc822 part. Output is what Dovecot sends: bare LFs become CRLF, NULs
//! become 0x80.

use std::borrow::Cow;
use std::ops::Range;

use super::header;
use super::scan::{Flags, Message};

/// What of a part to fetch (the text after the part path).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum SectionText<'a> {
    /// `BODY[]` or `BODY[1.2]`.
    Full,
    Header,
    HeaderFields(&'a [String]),
    HeaderFieldsNot(&'a [String]),
    Text,
    Mime,
}

impl Message<'_> {
    /// The part index a section path names (`imap_msgpart_find`), `None` if there is none.
    /// An empty path is the whole message (part 0).
    pub fn find_part(&self, path: &[u32]) -> Option<usize> {
        let mut part = 0usize;
        for (i, &num) in path.iter().enumerate() {
            let more = i + 1 < path.len();
            let p = &self.parts[part];
            if p.flags.has(Flags::MULTIPART) {
                let n = (num as usize).checked_sub(1)?;
                part = *p.children.get(n)?;
            } else if num != 1 || (more && !p.flags.has(Flags::MESSAGE_RFC822)) {
                return None;
            }
            if more && self.parts[part].flags.has(Flags::MESSAGE_RFC822) {
                part = *self.parts[part].children.first()?;
            }
        }
        Some(part)
    }

    /// Bytes of `BODY[path.text]` as Dovecot sends them; `None` when the part does not
    /// exist or is not a message/rfc822 for HEADER/TEXT (Dovecot then sends an empty
    /// string).
    pub fn section(&self, path: &[u32], text: &SectionText<'_>) -> Option<Cow<'_, [u8]>> {
        let part = self.find_part(path)?;
        let p = &self.parts[part];
        let range: Range<usize> = match (path.is_empty(), text) {
            (true, SectionText::Full) => 0..self.raw.len(),
            (false, SectionText::Full) => p.body.clone(),
            (false, SectionText::Mime) => p.header.clone(),
            (true, SectionText::Mime) => return None,
            (root, t) => {
                let m = if root {
                    p
                } else if p.flags.has(Flags::MESSAGE_RFC822) {
                    &self.parts[*p.children.first()?]
                } else {
                    return None;
                };
                match t {
                    SectionText::Header => m.header.clone(),
                    SectionText::Text => m.body.clone(),
                    SectionText::HeaderFields(names) => {
                        let h = m.header.start;
                        return Some(Cow::Owned(self.header_filter(h, names, true, root)));
                    }
                    SectionText::HeaderFieldsNot(names) => {
                        let h = m.header.start;
                        return Some(Cow::Owned(self.header_filter(h, names, false, false)));
                    }
                    SectionText::Full | SectionText::Mime => unreachable!("handled above"),
                }
            }
        };
        Some(crlf(&self.raw[range]))
    }

    /// Dovecot's header filter with `HIDE_BODY`: the matching (or non-matching) fields as
    /// they are, then the empty line if the header had one. Like Dovecot's, it reads from
    /// the header's start up to the first empty line, not up to the end the scan gave the
    /// header (they differ when a boundary cut the header short). The top-level
    /// `HEADER.FIELDS` comes from Dovecot's header cache instead, which always ends with
    /// the empty line (`always_eoh`).
    fn header_filter(
        &self,
        start: usize,
        names: &[String],
        include: bool,
        always_eoh: bool,
    ) -> Vec<u8> {
        let block = &self.raw[start..];
        let mut out = Vec::new();
        let (fields, eoh) = header::fields_and_eoh(block);
        for f in fields {
            let listed = names
                .iter()
                .any(|n| n.as_bytes().eq_ignore_ascii_case(f.name));
            if listed == include {
                out.extend_from_slice(&crlf(&block[f.raw.clone()]));
                if !out.ends_with(b"\n") {
                    out.extend_from_slice(b"\r\n");
                }
            }
        }
        if eoh || always_eoh {
            out.extend_from_slice(b"\r\n");
        }
        out
    }
}

/// What a non-BINARY FETCH sends for raw bytes: bare LF becomes CRLF and NUL becomes
/// 0x80 (Dovecot's `i_stream_create_nonuls(input, 0x80)`); borrowed when nothing changes.
pub fn crlf(bytes: &[u8]) -> Cow<'_, [u8]> {
    let bare = memchr::memchr_iter(b'\n', bytes).any(|i| i == 0 || bytes[i - 1] != b'\r');
    if !bare && memchr::memchr(0, bytes).is_none() {
        return Cow::Borrowed(bytes);
    }
    let mut out = Vec::with_capacity(bytes.len() + bytes.len() / 32);
    for (i, &c) in bytes.iter().enumerate() {
        if c == b'\n' && (i == 0 || bytes[i - 1] != b'\r') {
            out.push(b'\r');
        }
        out.push(if c == 0 { 0x80 } else { c });
    }
    Cow::Owned(out)
}
