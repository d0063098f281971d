//! FETCH BODY and BODYSTRUCTURE, written as Dovecot's `imap-bodystructure.c` writes them
//! from a [`Message`] scan: default `("charset" "us-ascii")` for text parts, an empty
//! text/plain child for a multipart without parts, `application/octet-stream` for parts
//! cut off by the part limits, sizes as CRLF (virtual) sizes.

use super::envelope::Envelope;
use super::quote::{append_nstring_nolf, append_string};
use super::scan::{lines, virtual_size, Flags, Message, Param};

const EMPTY_BODY: &[u8] = b"(\"text\" \"plain\" (\"charset\" \"us-ascii\") NIL NIL \"7bit\" 0 0)";
const EMPTY_BODYSTRUCTURE: &[u8] =
    b"(\"text\" \"plain\" (\"charset\" \"us-ascii\") NIL NIL \"7bit\" 0 0 NIL NIL NIL NIL)";

impl Message<'_> {
    /// FETCH BODYSTRUCTURE's value, parentheses included.
    pub fn bodystructure(&self) -> Vec<u8> {
        self.body_or_structure(true)
    }

    /// FETCH BODY's value (no extension data), parentheses included.
    pub fn body(&self) -> Vec<u8> {
        self.body_or_structure(false)
    }

    fn body_or_structure(&self, extended: bool) -> Vec<u8> {
        let mut out = vec![b'('];
        self.write_part(0, extended, &mut out);
        out.push(b')');
        out
    }

    /// The ENVELOPE of the message (its top-level header).
    pub fn envelope(&self) -> Envelope {
        Envelope::parse(&self.raw[self.parts[0].header.clone()])
    }

    fn write_part(&self, idx: usize, extended: bool, out: &mut Vec<u8>) {
        // An explicit stack would bound this too; depth is already capped at
        // MAX_NESTED_MIME_PARTS (100) by the scan, so recursion stays shallow.
        if self.parts[idx].flags.has(Flags::MULTIPART) {
            self.write_multipart(idx, extended, out);
        } else {
            self.write_leaf(idx, extended, out);
        }
    }

    fn write_children(&self, idx: usize, extended: bool, out: &mut Vec<u8>) {
        for &c in &self.parts[idx].children {
            out.push(b'(');
            self.write_part(c, extended, out);
            out.push(b')');
        }
    }

    fn write_multipart(&self, idx: usize, extended: bool, out: &mut Vec<u8>) {
        let part = &self.parts[idx];
        let data = &part.data;
        if part.children.is_empty() {
            out.extend_from_slice(if extended {
                EMPTY_BODYSTRUCTURE
            } else {
                EMPTY_BODY
            });
        } else {
            self.write_children(idx, extended, out);
        }
        out.push(b' ');
        append_string(out, data.content_subtype.as_deref().unwrap_or(b""));
        if !extended {
            return;
        }
        out.push(b' ');
        write_params(out, &data.content_type_params, false);
        self.write_common(idx, out);
    }

    fn is_truncated(&self, idx: usize) -> bool {
        let part = &self.parts[idx];
        match (&part.data.content_type, &part.data.content_subtype) {
            (Some(t), sub) => {
                (t.eq_ignore_ascii_case(b"message")
                    && sub
                        .as_deref()
                        .is_some_and(|s| s.eq_ignore_ascii_case(b"rfc822")))
                    || t.eq_ignore_ascii_case(b"multipart")
            }
            (None, _) => part
                .parent
                .is_some_and(|p| self.parts[p].flags.has(Flags::MULTIPART_DIGEST)),
        }
    }

    fn write_leaf(&self, idx: usize, extended: bool, out: &mut Vec<u8>) {
        let part = &self.parts[idx];
        let data = &part.data;
        let rfc822 = part.flags.has(Flags::MESSAGE_RFC822);
        let text;
        if rfc822 {
            out.extend_from_slice(b"\"message\" \"rfc822\"");
            text = false;
        } else if self.is_truncated(idx) {
            out.extend_from_slice(b"\"application\" \"octet-stream\"");
            text = false;
        } else {
            match &data.content_type {
                None => {
                    text = true;
                    out.extend_from_slice(b"\"text\" \"plain\"");
                }
                Some(t) => {
                    text = t.eq_ignore_ascii_case(b"text");
                    append_string(out, t);
                    out.push(b' ');
                    append_string(out, data.content_subtype.as_deref().unwrap_or(b""));
                }
            }
        }
        out.push(b' ');
        write_params(out, &data.content_type_params, text);
        out.push(b' ');
        append_nstring_nolf(out, data.content_id.as_deref());
        out.push(b' ');
        append_nstring_nolf(out, data.content_description.as_deref());
        out.push(b' ');
        match &data.content_transfer_encoding {
            Some(e) => append_string(out, e),
            None => out.extend_from_slice(b"\"7bit\""),
        }
        let body = part.body.clone();
        out.extend_from_slice(format!(" {}", virtual_size(self.raw, body.clone())).as_bytes());
        if text {
            out.extend_from_slice(format!(" {}", lines(self.raw, body.clone())).as_bytes());
        } else if rfc822 {
            let child = part.children[0];
            let env = Envelope::parse(&self.raw[self.parts[child].header.clone()]);
            out.extend_from_slice(b" (");
            env.write(out);
            out.extend_from_slice(b") ");
            self.write_children(idx, extended, out);
            out.extend_from_slice(format!(" {}", lines(self.raw, body)).as_bytes());
        }
        if !extended {
            return;
        }
        out.push(b' ');
        append_nstring_nolf(out, data.content_md5.as_deref());
        self.write_common(idx, out);
    }

    fn write_common(&self, idx: usize, out: &mut Vec<u8>) {
        let data = &self.parts[idx].data;
        out.push(b' ');
        match &data.content_disposition {
            None => out.extend_from_slice(b"NIL"),
            Some(d) => {
                out.push(b'(');
                append_string(out, d);
                out.push(b' ');
                write_params(out, &data.content_disposition_params, false);
                out.push(b')');
            }
        }
        out.push(b' ');
        match &data.content_language {
            None => out.extend_from_slice(b"NIL"),
            Some(langs) => {
                out.push(b'(');
                for (i, l) in langs.iter().enumerate() {
                    if i > 0 {
                        out.push(b' ');
                    }
                    append_string(out, l);
                }
                out.push(b')');
            }
        }
        out.push(b' ');
        append_nstring_nolf(out, data.content_location.as_deref());
    }
}

/// `params_write`.
fn write_params(out: &mut Vec<u8>, params: &[Param], default_charset: bool) {
    if !default_charset && params.is_empty() {
        out.extend_from_slice(b"NIL");
        return;
    }
    out.push(b'(');
    let mut seen_charset = false;
    for (i, (k, v)) in params.iter().enumerate() {
        if i > 0 {
            out.push(b' ');
        }
        if default_charset && k.eq_ignore_ascii_case(b"charset") {
            seen_charset = true;
        }
        append_string(out, k);
        out.push(b' ');
        append_string(out, v);
    }
    if default_charset && !seen_charset {
        if !params.is_empty() {
            out.push(b' ');
        }
        out.extend_from_slice(b"\"charset\" \"us-ascii\"");
    }
    out.push(b')');
}
