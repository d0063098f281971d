//! Header fields of one header block, split the way Dovecot's `message-header-parser.c`
//! does with `SKIP_INITIAL_LWSP | DROP_CR` (the flags Dovecot's mail index parses with):
//! the name is what precedes the colon minus trailing blanks, the value starts after the
//! blanks following the colon, continuation lines are joined with `\n` (CR dropped) and
//! keep their leading blank. Each field also carries its raw byte range, newline
//! included, for `BODY[HEADER.FIELDS (...)]`.

use std::ops::Range;

/// One header field of a header block.
#[derive(Debug, Clone)]
pub struct Field<'a> {
    /// The name, empty for a line without a colon.
    pub name: &'a [u8],
    /// What lies between the name and the value (`:` and blanks), as Dovecot's `middle`.
    pub middle: &'a [u8],
    /// The unfolded value (`\n` between lines, CRs dropped).
    pub value: Vec<u8>,
    /// The raw bytes of the field in the block, continuation lines and newline included.
    pub raw: Range<usize>,
}

fn is_lwsp(c: u8) -> bool {
    c == b' ' || c == b'\t'
}

/// Splits `block` (a header block, optionally ending in the empty line) into fields.
/// Stops at the empty line.
pub fn fields(block: &[u8]) -> Vec<Field<'_>> {
    fields_and_eoh(block).0
}

/// [`fields`], and whether the block ends with the empty line.
pub fn fields_and_eoh(block: &[u8]) -> (Vec<Field<'_>>, bool) {
    let mut out: Vec<Field<'_>> = Vec::new();
    let mut pos = 0;
    while pos < block.len() {
        let (content_end, next) = line_at(block, pos);
        let line = &block[pos..content_end];
        if line.is_empty() && next > pos {
            // The empty line ending the header.
            return (out, true);
        }
        let continued = !out.is_empty() && is_lwsp(block[pos]);
        if continued {
            let f = out.last_mut().expect("checked non-empty");
            // Observed in Dovecot 2.3 (ENVELOPE of `Cc: a"q` CRLF SP CRLF vs CRLF SP SP
            // CRLF): a folded line of a single blank joins without the newline.
            if line.len() != 1 {
                f.value.push(b'\n');
            }
            f.value.extend_from_slice(line);
            f.raw.end = next;
        } else {
            out.push(field_from_line(line, pos, next));
        }
        if next == pos {
            break;
        }
        pos = next;
    }
    (out, false)
}

/// The value as Dovecot's `CLEAN_ONELINE` header parsing gives it (what SEARCH matches):
/// continuation lines joined without the newline, a leading tab turned into a space.
pub fn oneline(value: &[u8]) -> Vec<u8> {
    let mut out = Vec::with_capacity(value.len());
    let mut i = 0;
    while i < value.len() {
        if value[i] == b'\n' {
            if value.get(i + 1) == Some(&b'\t') {
                out.push(b' ');
                i += 2;
            } else {
                i += 1;
            }
            continue;
        }
        out.push(value[i]);
        i += 1;
    }
    out
}

/// The end of the line's content (before `[CR]LF`) and the start of the next line.
fn line_at(block: &[u8], pos: usize) -> (usize, usize) {
    match memchr::memchr(b'\n', &block[pos..]) {
        Some(i) => {
            let lf = pos + i;
            let end = if lf > pos && block[lf - 1] == b'\r' {
                lf - 1
            } else {
                lf
            };
            (end, lf + 1)
        }
        None => (block.len(), block.len()),
    }
}

fn field_from_line(line: &[u8], pos: usize, next: usize) -> Field<'_> {
    let Some(colon) = memchr::memchr(b':', line) else {
        return Field {
            name: b"",
            middle: b"",
            value: line.to_vec(),
            raw: pos..next,
        };
    };
    let mut name_end = colon;
    while name_end > 0 && is_lwsp(line[name_end - 1]) {
        name_end -= 1;
    }
    let rest = &line[colon + 1..];
    let mut skip = rest.iter().take_while(|c| is_lwsp(**c)).count();
    if skip == rest.len() && !rest.is_empty() {
        skip = 1;
    }
    Field {
        name: &line[..name_end],
        middle: &line[name_end..colon + 1 + skip],
        value: rest[skip..].to_vec(),
        raw: pos..next,
    }
}

/// Dovecot's `message_header_strdup`: NUL becomes U+FFFD.
pub fn strdup(value: &[u8]) -> Vec<u8> {
    let mut out = Vec::with_capacity(value.len());
    for &c in value {
        if c == 0 {
            out.extend_from_slice("\u{FFFD}".as_bytes());
        } else {
            out.push(c);
        }
    }
    out
}
