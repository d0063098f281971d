//! IMAP string output as Dovecot's `imap-quote.c` writes it: quoted when possible, a
//! literal for 8-bit bytes, CR/LF or more than four quote characters; the "for humans"
//! variant (subjects and display names) collapses whitespace and trims.

/// Dovecot's `QUOTED_MAX_ESCAPE_CHARS`.
const QUOTED_MAX_ESCAPE_CHARS: usize = 4;

fn append_literal(out: &mut Vec<u8>, s: &[u8]) {
    out.extend_from_slice(format!("{{{}}}\r\n", s.len()).as_bytes());
    out.extend_from_slice(s);
}

/// `imap_append_quoted`: drops CR, LF and 8-bit bytes, escapes `"` and `\`.
pub fn append_quoted(out: &mut Vec<u8>, s: &[u8]) {
    out.push(b'"');
    for &c in s {
        match c {
            b'\r' | b'\n' => {}
            b'"' | b'\\' => {
                out.push(b'\\');
                out.push(c);
            }
            c if c >= 0x80 => {}
            c => out.push(c),
        }
    }
    out.push(b'"');
}

/// `imap_append_nstring` (a NUL ends the string, as in C).
pub fn append_nstring(out: &mut Vec<u8>, s: Option<&[u8]>) {
    let Some(s) = s else {
        out.extend_from_slice(b"NIL");
        return;
    };
    let s = cstr(s);
    let mut escapes = 0;
    for &c in s {
        match c {
            b'"' | b'\\' => {
                escapes += 1;
                if escapes > QUOTED_MAX_ESCAPE_CHARS {
                    append_literal(out, s);
                    return;
                }
            }
            b'\r' | b'\n' => {
                append_literal(out, s);
                return;
            }
            c if c >= 0x80 => {
                append_literal(out, s);
                return;
            }
            _ => {}
        }
    }
    append_quoted(out, s);
}

/// `imap_append_string`.
pub fn append_string(out: &mut Vec<u8>, s: &[u8]) {
    append_nstring(out, Some(s));
}

fn cstr(s: &[u8]) -> &[u8] {
    match memchr::memchr(0, s) {
        Some(i) => &s[..i],
        None => s,
    }
}

/// `imap_append_nstring_nolf`: newlines become nothing, or one space where the next line
/// does not start with whitespace.
pub fn append_nstring_nolf(out: &mut Vec<u8>, s: Option<&[u8]>) {
    let Some(s) = s else {
        out.extend_from_slice(b"NIL");
        return;
    };
    let s = cstr(s);
    if !s.iter().any(|&c| c == b'\r' || c == b'\n') {
        append_nstring(out, Some(s));
        return;
    }
    let mut v = Vec::with_capacity(s.len());
    for (i, &c) in s.iter().enumerate() {
        if c != b'\r' && c != b'\n' {
            v.push(c);
        } else {
            let next = s.get(i + 1).copied().unwrap_or(0);
            if !matches!(next, b' ' | b'\t' | b'\r' | b'\n' | 0) {
                v.push(b' ');
            }
        }
    }
    append_nstring(out, Some(&v));
}

/// `imap_append_string_for_humans`: whitespace runs become one space, leading and
/// trailing whitespace go, NUL becomes 0x80; written as a literal if anything changed.
pub fn append_string_for_humans(out: &mut Vec<u8>, src: &[u8]) {
    let mut remove_count = 0;
    let mut whitespace_prefix = true;
    let mut last_lwsp = true;
    let mut modify = false;
    for &c in src {
        match c {
            0 => {
                last_lwsp = false;
                modify = true;
            }
            b'\r' | b'\n' | b'\t' | b' ' => {
                if c != b' ' {
                    modify = true;
                }
                if last_lwsp {
                    modify = true;
                    remove_count += 1;
                }
                last_lwsp = true;
            }
            b'"' | b'\\' => {
                modify = true;
                last_lwsp = false;
            }
            c => {
                if c & 0x80 != 0 {
                    modify = true;
                }
                last_lwsp = false;
            }
        }
        if !last_lwsp {
            whitespace_prefix = false;
        }
    }
    if last_lwsp && !src.is_empty() && !whitespace_prefix {
        modify = true;
        remove_count += 1;
    }
    if !modify {
        out.push(b'"');
        out.extend_from_slice(src);
        out.push(b'"');
        return;
    }
    if src.len() == remove_count {
        out.extend_from_slice(b"\"\"");
        return;
    }
    out.extend_from_slice(format!("{{{}}}\r\n", src.len() - remove_count).as_bytes());
    let pos = out.len();
    last_lwsp = true;
    whitespace_prefix = true;
    for &c in src {
        match c {
            0 => {
                out.push(0x80);
                last_lwsp = false;
            }
            b'\r' | b'\n' | b'\t' | b' ' => {
                if !last_lwsp {
                    out.push(b' ');
                }
                last_lwsp = true;
            }
            c => {
                last_lwsp = false;
                out.push(c);
            }
        }
        if !last_lwsp {
            whitespace_prefix = false;
        }
    }
    if last_lwsp && !src.is_empty() && !whitespace_prefix {
        out.pop();
    }
    debug_assert_eq!(out.len() - pos, src.len() - remove_count);
}
