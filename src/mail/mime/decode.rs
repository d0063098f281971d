//! Content decoding for SEARCH: RFC 2047 encoded words in headers, base64 and
//! quoted-printable bodies, and charsets to UTF-8. Charsets are converted with encoding_rs
//! (every WHATWG encoding label: ISO-8859-*, windows-125x, KOI8-*, Shift_JIS, EUC-*,
//! ISO-2022-JP, GB18030, Big5, UTF-16, …); ISO-8859-1 is kept as true Latin-1 (WHATWG maps
//! the label to windows-1252, iconv — what Dovecot uses — does not). A charset nobody knows
//! is read as UTF-8 where valid and U+FFFD elsewhere, so ASCII searches still work.

use base64::Engine as _;

/// Bytes in `charset` to UTF-8.
pub fn to_utf8(bytes: &[u8], charset: &[u8]) -> String {
    match lookup(charset) {
        Some(Charset::Latin1) => bytes.iter().map(|&b| b as char).collect(),
        Some(Charset::Other(enc)) => enc.decode_without_bom_handling(bytes).0.into_owned(),
        None => String::from_utf8_lossy(bytes).into_owned(),
    }
}

/// Why a SEARCH key could not be converted from its `CHARSET`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum CharsetError {
    /// No such charset (`NO [BADCHARSET]`).
    Unknown,
    /// Bytes that are not valid in it (Dovecot answers `BAD … Invalid search key`).
    Invalid,
}

/// A SEARCH key in `charset` to UTF-8, strictly: unknown charsets and invalid bytes fail.
pub fn key_to_utf8(bytes: &[u8], charset: &[u8]) -> Result<String, CharsetError> {
    match lookup(charset).ok_or(CharsetError::Unknown)? {
        Charset::Latin1 => Ok(bytes.iter().map(|&b| b as char).collect()),
        Charset::Other(enc) => enc
            .decode_without_bom_handling_and_without_replacement(bytes)
            .map(|s| s.into_owned())
            .ok_or(CharsetError::Invalid),
    }
}

enum Charset {
    Latin1,
    Other(&'static encoding_rs::Encoding),
}

fn lookup(charset: &[u8]) -> Option<Charset> {
    let label = String::from_utf8_lossy(charset).trim().to_ascii_lowercase();
    match label.as_str() {
        "iso-8859-1" | "iso8859-1" | "latin1" | "latin-1" | "l1" | "iso_8859-1" | "iso-ir-100"
        | "cp819" | "ibm819" => Some(Charset::Latin1),
        "us-ascii" | "ascii" | "utf8" => Some(Charset::Other(encoding_rs::UTF_8)),
        _ => encoding_rs::Encoding::for_label_no_replacement(label.as_bytes()).map(Charset::Other),
    }
}

/// Lenient base64 (non-alphabet bytes skipped, stops at padding), like Dovecot's.
pub fn base64(input: &[u8]) -> Vec<u8> {
    let mut clean: Vec<u8> = input
        .iter()
        .copied()
        .take_while(|&c| c != b'=')
        .filter(|c| c.is_ascii_alphanumeric() || *c == b'+' || *c == b'/')
        .collect();
    // A dangling single sextet carries no full byte.
    if clean.len() % 4 == 1 {
        clean.pop();
    }
    base64::engine::general_purpose::STANDARD_NO_PAD
        .decode(&clean)
        .or_else(|_| {
            base64::engine::GeneralPurpose::new(
                &base64::alphabet::STANDARD,
                base64::engine::GeneralPurposeConfig::new()
                    .with_decode_allow_trailing_bits(true)
                    .with_decode_padding_mode(base64::engine::DecodePaddingMode::Indifferent),
            )
            .decode(&clean)
        })
        .unwrap_or_default()
}

fn hex(c: u8) -> Option<u8> {
    (c as char).to_digit(16).map(|d| d as u8)
}

/// Quoted-printable; `header` also turns `_` into a space (RFC 2047 "Q").
pub fn quoted_printable(input: &[u8], header: bool) -> Vec<u8> {
    let mut out = Vec::with_capacity(input.len());
    let mut i = 0;
    while i < input.len() {
        let c = input[i];
        if c == b'=' {
            if let (Some(h), Some(l)) = (
                input.get(i + 1).and_then(|&c| hex(c)),
                input.get(i + 2).and_then(|&c| hex(c)),
            ) {
                out.push(h << 4 | l);
                i += 3;
                continue;
            }
            // Soft line break: "=" [blanks] [CR] LF.
            let mut j = i + 1;
            while j < input.len() && (input[j] == b' ' || input[j] == b'\t') {
                j += 1;
            }
            if input.get(j) == Some(&b'\r') {
                j += 1;
            }
            if input.get(j) == Some(&b'\n') {
                i = j + 1;
                continue;
            }
            out.push(c);
        } else if header && c == b'_' {
            out.push(b' ');
        } else {
            out.push(c);
        }
        i += 1;
    }
    out
}

/// One `=?charset?enc?text?=` at `s[0..]`: the decoded text and the bytes it took.
fn encoded_word(s: &[u8]) -> Option<(String, usize)> {
    if !s.starts_with(b"=?") {
        return None;
    }
    let q1 = 2 + memchr::memchr(b'?', &s[2..])?;
    let enc = *s.get(q1 + 1)?;
    if s.get(q1 + 2) != Some(&b'?') {
        return None;
    }
    let start = q1 + 3;
    let end = start + memchr::memmem::find(&s[start..], b"?=")?;
    let mut charset = &s[2..q1];
    if let Some(star) = memchr::memchr(b'*', charset) {
        charset = &charset[..star]; // RFC 2231 language suffix
    }
    let text = &s[start..end];
    let bytes = match enc.to_ascii_lowercase() {
        b'b' => base64(text),
        b'q' => quoted_printable(text, true),
        _ => return None,
    };
    Some((to_utf8(&bytes, charset), end + 2))
}

/// A header value with encoded words decoded and the result in UTF-8; blanks between two
/// encoded words are dropped (RFC 2047 6.2), as Dovecot's `message_header_decode` does.
pub fn header_value(value: &[u8]) -> String {
    let mut out = String::new();
    let mut i = 0;
    let mut plain_start = 0;
    let mut after_word = false;
    while i < value.len() {
        if value[i] == b'=' {
            if let Some((text, used)) = encoded_word(&value[i..]) {
                let between = &value[plain_start..i];
                if !(after_word && between.iter().all(|c| c.is_ascii_whitespace())) {
                    out.push_str(&String::from_utf8_lossy(between));
                }
                out.push_str(&text);
                i += used;
                plain_start = i;
                after_word = true;
                continue;
            }
        }
        i += 1;
    }
    out.push_str(&String::from_utf8_lossy(&value[plain_start..]));
    out
}
