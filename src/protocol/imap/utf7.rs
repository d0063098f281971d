//! Modified UTF-7 (RFC 3501 §5.1.3), the wire form of mailbox names: printable ASCII stands for
//! itself except `&`, which is written `&-`; everything else is UTF-16 in modified base64
//! (`,` for `/`, no padding) between `&` and `-`. [`decode`] is strict like Dovecot's
//! `imap_utf7_to_utf8` (a name it rejects gets "Mailbox name is not valid mUTF-7"): no
//! 8-bit bytes, no raw control characters, no empty or needlessly split shifts, no encoded
//! printable ASCII, no lone surrogates and no stray bits.

use thiserror::Error;

/// Why a name is not valid modified UTF-7.
#[derive(Debug, Clone, PartialEq, Eq, Error)]
pub enum Utf7Error {
    #[error("8-bit or control byte {0:#04x} outside a shift")]
    RawByte(u8),
    #[error("shift sequence not closed by '-'")]
    Unterminated,
    #[error("invalid base64 character {0:#04x} in a shift")]
    BadBase64(u8),
    #[error("shift sequence has leftover bits")]
    LeftoverBits,
    #[error("shift sequence encodes printable ASCII or is empty")]
    NeedlessShift,
    #[error("two shift sequences next to each other")]
    SplitShift,
    #[error("invalid UTF-16 surrogate")]
    BadSurrogate,
}

const B64: &[u8; 64] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+,";

fn b64_value(c: u8) -> Option<u32> {
    match c {
        b'A'..=b'Z' => Some((c - b'A') as u32),
        b'a'..=b'z' => Some((c - b'a') as u32 + 26),
        b'0'..=b'9' => Some((c - b'0') as u32 + 52),
        b'+' => Some(62),
        b',' => Some(63),
        _ => None,
    }
}

fn is_direct(c: char) -> bool {
    ('\x20'..='\x7e').contains(&c)
}

/// UTF-8 → modified UTF-7.
pub fn encode(name: &str) -> String {
    let mut out = String::with_capacity(name.len());
    let mut pending: Vec<u16> = Vec::new();
    let flush = |pending: &mut Vec<u16>, out: &mut String| {
        if pending.is_empty() {
            return;
        }
        out.push('&');
        let mut bits = 0u32;
        let mut nbits = 0u32;
        for unit in pending.drain(..) {
            bits = (bits << 16) | unit as u32;
            nbits += 16;
            while nbits >= 6 {
                nbits -= 6;
                out.push(B64[((bits >> nbits) & 0x3f) as usize] as char);
            }
        }
        if nbits > 0 {
            out.push(B64[((bits << (6 - nbits)) & 0x3f) as usize] as char);
        }
        out.push('-');
    };
    for c in name.chars() {
        if is_direct(c) {
            flush(&mut pending, &mut out);
            if c == '&' {
                out.push_str("&-");
            } else {
                out.push(c);
            }
        } else {
            let mut units = [0u16; 2];
            pending.extend_from_slice(c.encode_utf16(&mut units));
        }
    }
    flush(&mut pending, &mut out);
    out
}

/// Modified UTF-7 → UTF-8.
pub fn decode(wire: &[u8]) -> Result<String, Utf7Error> {
    let mut out = String::with_capacity(wire.len());
    let mut i = 0;
    let mut last_shift_end: Option<usize> = None;
    while i < wire.len() {
        let c = wire[i];
        if c != b'&' {
            if !(0x20..=0x7e).contains(&c) {
                return Err(Utf7Error::RawByte(c));
            }
            out.push(c as char);
            i += 1;
            continue;
        }
        // A shift: `&-` or `&base64-`.
        let start = i + 1;
        let end = start
            + wire[start..]
                .iter()
                .position(|&b| b == b'-')
                .ok_or(Utf7Error::Unterminated)?;
        if end == start {
            out.push('&');
            i = end + 1;
            continue;
        }
        if last_shift_end == Some(i) {
            return Err(Utf7Error::SplitShift);
        }
        let mut bits = 0u32;
        let mut nbits = 0u32;
        let mut units: Vec<u16> = Vec::new();
        for &b in &wire[start..end] {
            let v = b64_value(b).ok_or(Utf7Error::BadBase64(b))?;
            bits = (bits << 6) | v;
            nbits += 6;
            if nbits >= 16 {
                nbits -= 16;
                units.push(((bits >> nbits) & 0xffff) as u16);
                bits &= (1 << nbits) - 1;
            }
        }
        if nbits >= 6 || bits != 0 {
            return Err(Utf7Error::LeftoverBits);
        }
        for r in char::decode_utf16(units.iter().copied()) {
            let ch = r.map_err(|_| Utf7Error::BadSurrogate)?;
            if is_direct(ch) {
                return Err(Utf7Error::NeedlessShift);
            }
            out.push(ch);
        }
        i = end + 1;
        last_shift_end = Some(i);
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn rfc3501_example_round_trips() {
        // RFC 3501 §5.1.3: "~peter/mail/台北/日本語".
        let utf8 = "~peter/mail/\u{53f0}\u{5317}/\u{65e5}\u{672c}\u{8a9e}";
        let wire = "~peter/mail/&U,BTFw-/&ZeVnLIqe-";
        assert_eq!(encode(utf8), wire);
        assert_eq!(decode(wire.as_bytes()).unwrap(), utf8);
    }

    #[test]
    fn ampersand_and_astral_planes() {
        assert_eq!(encode("A&B"), "A&-B");
        assert_eq!(decode(b"A&-B").unwrap(), "A&B");
        assert_eq!(encode("Entwürfe"), "Entw&APw-rfe");
        let emoji = "\u{1f600}";
        assert_eq!(decode(encode(emoji).as_bytes()).unwrap(), emoji);
    }

    #[test]
    fn invalid_forms_are_rejected() {
        assert_eq!(decode(b"\xff"), Err(Utf7Error::RawByte(0xff)));
        assert_eq!(decode(b"&AGE"), Err(Utf7Error::Unterminated));
        assert_eq!(decode(b"&AGE-"), Err(Utf7Error::NeedlessShift)); // "a"
        assert_eq!(decode(b"&A*-"), Err(Utf7Error::BadBase64(b'*')));
        assert_eq!(decode(b"&APw-&APw-"), Err(Utf7Error::SplitShift));
        assert_eq!(decode(b"&2D0-"), Err(Utf7Error::BadSurrogate));
        assert_eq!(decode(b"&APx-"), Err(Utf7Error::LeftoverBits));
    }

    proptest::proptest! {
        #[test]
        fn any_string_round_trips(s in "\\PC{0,24}") {
            let wire = encode(&s);
            proptest::prop_assert!(wire.bytes().all(|b| (0x20..=0x7e).contains(&b)));
            proptest::prop_assert_eq!(decode(wire.as_bytes()).unwrap(), s);
        }

        #[test]
        fn decode_never_panics(b in proptest::collection::vec(proptest::num::u8::ANY, 0..32)) {
            if let Ok(s) = decode(&b) {
                let again = encode(&s);
                proptest::prop_assert_eq!(again.as_bytes(), &b[..]);
            }
        }
    }
}
