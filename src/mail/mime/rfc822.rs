//! RFC 822/2822 lexical parser, a port of Dovecot's `rfc822-parser.c`: comments, atoms,
//! dot-atoms, quoted strings, phrases, domains, MIME tokens, `Content-Type` and its
//! parameters. Each function returns Dovecot's tri-state: `-1` broken, `0` end of input,
//! `1` more input follows; callers mirror Dovecot's control flow with it, which is what
//! makes ENVELOPE and BODYSTRUCTURE output byte-identical on malformed input.

/// Dovecot's `rfc822_atext_chars`: 0 = special, 1 = atext, 2 = atext and MIME token,
/// 4 = atext but a MIME tspecial (`/`, `=`, `?`).
const ATEXT: [u8; 256] = {
    let mut t = [2u8; 256];
    let mut i = 0;
    while i < 33 {
        t[i] = 0;
        i += 1;
    }
    t[127] = 0;
    let specials = b"\"(),.:;<>@[\\]";
    let mut j = 0;
    while j < specials.len() {
        t[specials[j] as usize] = 0;
        j += 1;
    }
    let ones = b"!#$%&'*+-^_`{|}~";
    let mut k = 0;
    while k < ones.len() {
        t[ones[k] as usize] = 1;
        k += 1;
    }
    t[b'/' as usize] = 4;
    t[b'=' as usize] = 4;
    t[b'?' as usize] = 4;
    t
};

/// `IS_ATEXT`.
pub fn is_atext(c: u8) -> bool {
    ATEXT[c as usize] != 0
}

/// `IS_ATEXT_NON_TSPECIAL`.
pub fn is_token_char(c: u8) -> bool {
    ATEXT[c as usize] & 3 != 0
}

/// A cursor over one header value. `last_comment` collects the text of the last comment
/// skipped when enabled (the address parser uses it as a display name).
pub struct Parser<'a> {
    pub data: &'a [u8],
    pub pos: usize,
    pub last_comment: Option<Vec<u8>>,
    /// Replace NUL inside quoted strings/comments with U+FFFD (Dovecot does in addresses
    /// and parameters).
    pub nul_replacement: bool,
}

/// A `name=value` MIME parameter.
pub type Param = (Vec<u8>, Vec<u8>);

const REPLACEMENT: &[u8] = "\u{FFFD}".as_bytes();

impl<'a> Parser<'a> {
    pub fn new(data: &'a [u8]) -> Self {
        Parser {
            data,
            pos: 0,
            last_comment: None,
            nul_replacement: false,
        }
    }

    /// The current byte, NUL at the end (C strings are NUL-terminated; Dovecot relies on it).
    pub fn cur(&self) -> u8 {
        self.data.get(self.pos).copied().unwrap_or(0)
    }

    pub fn at_end(&self) -> bool {
        self.pos >= self.data.len()
    }

    fn more(&self) -> i32 {
        if self.at_end() {
            0
        } else {
            1
        }
    }

    /// `rfc822_skip_comment`; the cursor is on `(`.
    pub fn skip_comment(&mut self) -> i32 {
        let mut level = 1;
        if let Some(c) = self.last_comment.as_mut() {
            c.clear();
        }
        self.pos += 1;
        let mut start = self.pos;
        while self.pos < self.data.len() {
            match self.data[self.pos] {
                0 if self.nul_replacement => {
                    if let Some(c) = self.last_comment.as_mut() {
                        c.extend_from_slice(&self.data[start..self.pos]);
                        c.extend_from_slice(REPLACEMENT);
                        start = self.pos + 1;
                    }
                }
                b'(' => level += 1,
                b')' => {
                    level -= 1;
                    if level == 0 {
                        if let Some(c) = self.last_comment.as_mut() {
                            c.extend_from_slice(&self.data[start..self.pos]);
                        }
                        self.pos += 1;
                        return self.more();
                    }
                }
                b'\n' => {
                    if let Some(c) = self.last_comment.as_mut() {
                        let mut end = self.pos;
                        if end > start && self.data[end - 1] == b'\r' {
                            end -= 1;
                        }
                        c.extend_from_slice(&self.data[start..end]);
                        start = self.pos + 1;
                    }
                }
                b'\\' => {
                    self.pos += 1;
                    if self.pos >= self.data.len() {
                        return -1;
                    }
                    let n = self.data[self.pos];
                    if n == b'\r' || n == b'\n' || n == 0 {
                        self.pos -= 1;
                    } else {
                        if let Some(c) = self.last_comment.as_mut() {
                            c.extend_from_slice(&self.data[start..self.pos - 1]);
                        }
                        start = self.pos;
                    }
                }
                _ => {}
            }
            self.pos += 1;
        }
        -1
    }

    /// `rfc822_skip_lwsp`: whitespace, CR, LF and comments.
    pub fn skip_lwsp(&mut self) -> i32 {
        while self.pos < self.data.len() {
            let c = self.data[self.pos];
            if c == b' ' || c == b'\t' || c == b'\r' || c == b'\n' {
                self.pos += 1;
                continue;
            }
            if c != b'(' {
                break;
            }
            if self.skip_comment() < 0 {
                return -1;
            }
        }
        self.more()
    }

    /// `rfc822_parse_atom`.
    pub fn parse_atom(&mut self, out: &mut Vec<u8>) -> i32 {
        if self.at_end() || !is_atext(self.cur()) {
            return -1;
        }
        let start = self.pos;
        self.pos += 1;
        while self.pos < self.data.len() {
            if is_atext(self.data[self.pos]) {
                self.pos += 1;
                continue;
            }
            out.extend_from_slice(&self.data[start..self.pos]);
            return self.skip_lwsp();
        }
        out.extend_from_slice(&self.data[start..self.pos]);
        0
    }

    /// `rfc822_parse_dot_atom` (LWSP allowed around dots, as RFC 822 did).
    pub fn parse_dot_atom(&mut self, out: &mut Vec<u8>) -> i32 {
        if self.at_end() || !is_atext(self.cur()) {
            return -1;
        }
        let mut start = self.pos;
        self.pos += 1;
        while self.pos < self.data.len() {
            if is_atext(self.data[self.pos]) {
                self.pos += 1;
                continue;
            }
            if start == self.pos {
                return -1;
            }
            out.extend_from_slice(&self.data[start..self.pos]);
            let ret = self.skip_lwsp();
            if ret <= 0 {
                return ret;
            }
            if self.cur() != b'.' {
                return 1;
            }
            self.pos += 1;
            out.push(b'.');
            if self.skip_lwsp() <= 0 {
                return -1;
            }
            start = self.pos;
        }
        out.extend_from_slice(&self.data[start..self.pos]);
        0
    }

    /// `rfc822_parse_mime_token` (dots allowed).
    pub fn parse_mime_token(&mut self, out: &mut Vec<u8>) -> i32 {
        let start = self.pos;
        while self.pos < self.data.len() {
            let c = self.data[self.pos];
            if is_token_char(c) || c == b'.' {
                self.pos += 1;
                continue;
            }
            out.extend_from_slice(&self.data[start..self.pos]);
            return self.skip_lwsp();
        }
        out.extend_from_slice(&self.data[start..self.pos]);
        0
    }

    /// `rfc822_parse_quoted_string`; the cursor is on `"`.
    pub fn parse_quoted_string(&mut self, out: &mut Vec<u8>) -> i32 {
        self.pos += 1;
        let mut start = self.pos;
        while self.pos < self.data.len() {
            match self.data[self.pos] {
                0 if self.nul_replacement => {
                    out.extend_from_slice(&self.data[start..self.pos]);
                    out.extend_from_slice(REPLACEMENT);
                    start = self.pos + 1;
                }
                b'"' => {
                    out.extend_from_slice(&self.data[start..self.pos]);
                    self.pos += 1;
                    return self.skip_lwsp();
                }
                b'\n' => {
                    let mut end = self.pos;
                    if end > start && self.data[end - 1] == b'\r' {
                        end -= 1;
                    }
                    out.extend_from_slice(&self.data[start..end]);
                    start = self.pos + 1;
                }
                b'\\' => {
                    self.pos += 1;
                    if self.pos >= self.data.len() {
                        return -1;
                    }
                    let n = self.data[self.pos];
                    if n == b'\r' || n == b'\n' || n == 0 {
                        self.pos -= 1;
                    } else {
                        out.extend_from_slice(&self.data[start..self.pos - 1]);
                        start = self.pos;
                    }
                }
                _ => {}
            }
            self.pos += 1;
        }
        -1
    }

    fn parse_atom_or_dot(&mut self, out: &mut Vec<u8>) -> i32 {
        let start = self.pos;
        while self.pos < self.data.len() {
            let c = self.data[self.pos];
            if is_atext(c) || c == b'.' {
                self.pos += 1;
                continue;
            }
            out.extend_from_slice(&self.data[start..self.pos]);
            return self.skip_lwsp();
        }
        out.extend_from_slice(&self.data[start..self.pos]);
        0
    }

    /// `rfc822_parse_phrase`: words (atoms, quoted strings, obsolete dots) joined by one space.
    pub fn parse_phrase(&mut self, out: &mut Vec<u8>) -> i32 {
        if self.at_end() {
            return 0;
        }
        if self.cur() == b'.' {
            return -1;
        }
        loop {
            let ret = if self.cur() == b'"' {
                self.parse_quoted_string(out)
            } else {
                self.parse_atom_or_dot(out)
            };
            if ret <= 0 {
                return ret;
            }
            let c = self.cur();
            if !is_atext(c) && c != b'"' && c != b'.' {
                break;
            }
            out.push(b' ');
        }
        self.skip_lwsp()
    }

    fn parse_domain_literal(&mut self, out: &mut Vec<u8>) -> i32 {
        let mut start = self.pos;
        self.pos += 1;
        while self.pos < self.data.len() {
            match self.data[self.pos] {
                0 if self.nul_replacement => {
                    out.extend_from_slice(&self.data[start..self.pos]);
                    out.extend_from_slice(REPLACEMENT);
                    start = self.pos + 1;
                }
                b'[' => return -1,
                b']' => {
                    out.extend_from_slice(&self.data[start..=self.pos]);
                    self.pos += 1;
                    return self.skip_lwsp();
                }
                b'\n' => {
                    let mut end = self.pos;
                    if end > start && self.data[end - 1] == b'\r' {
                        end -= 1;
                    }
                    out.extend_from_slice(&self.data[start..end]);
                    start = self.pos + 1;
                }
                b'\\' => {
                    self.pos += 1;
                    if self.pos >= self.data.len() {
                        return -1;
                    }
                    let n = self.data[self.pos];
                    if n == b'\r' || n == b'\n' || n == 0 {
                        out.extend_from_slice(&self.data[start..self.pos]);
                        start = self.pos;
                        self.pos -= 1;
                    }
                }
                _ => {}
            }
            self.pos += 1;
        }
        -1
    }

    /// `rfc822_parse_domain`; the cursor is on `@`.
    pub fn parse_domain(&mut self, out: &mut Vec<u8>) -> i32 {
        self.pos += 1;
        if self.skip_lwsp() <= 0 {
            return -1;
        }
        if self.cur() == b'[' {
            self.parse_domain_literal(out)
        } else {
            self.parse_dot_atom(out)
        }
    }

    /// `rfc822_parse_content_type`: `type/subtype` into `out`, or nothing and `-1`.
    pub fn parse_content_type(&mut self, out: &mut Vec<u8>) -> i32 {
        let pos0 = out.len();
        if self.skip_lwsp() <= 0 {
            return -1;
        }
        if self.parse_mime_token(out) <= 0 || out.len() == pos0 {
            return -1;
        }
        if self.cur() != b'/' {
            out.truncate(pos0);
            return -1;
        }
        self.pos += 1;
        if self.skip_lwsp() <= 0 {
            out.truncate(pos0);
            return -1;
        }
        out.push(b'/');
        let pos1 = out.len();
        let ret = self.parse_mime_token(out);
        if ret < 0 || out.len() == pos1 || (!self.at_end() && self.cur() != b';') {
            out.truncate(pos0);
            return -1;
        }
        ret
    }

    /// `rfc822_parse_content_param`: `0` at the end, `-1` broken, `1` with `(key, value)`.
    pub fn parse_content_param(&mut self) -> (i32, Option<Param>) {
        if self.at_end() {
            return (0, None);
        }
        if self.cur() != b';' {
            return (-1, None);
        }
        self.pos += 1;
        if self.skip_lwsp() <= 0 {
            return (-1, None);
        }
        let mut key = Vec::new();
        if self.parse_mime_token(&mut key) <= 0 {
            return (-1, None);
        }
        if self.cur() != b'=' {
            return (-1, None);
        }
        self.pos += 1;
        let mut value = Vec::new();
        let mut ret = self.skip_lwsp();
        if ret <= 0 {
            // broken / no value
        } else if self.cur() == b'"' {
            ret = self.parse_quoted_string(&mut value);
        } else if self.cur() == b'=' {
            while !self.at_end() && !matches!(self.cur(), b';' | b' ' | b'\t' | b'\r' | b'\n') {
                value.push(self.cur());
                self.pos += 1;
            }
        } else {
            ret = self.parse_mime_token(&mut value);
        }
        (if ret < 0 { -1 } else { 1 }, Some((key, value)))
    }

    /// `rfc2231_parse`: every `key=value` in order, then the RFC 2231 parameters
    /// (`key*0=`, `key*1*=`, `key*=`) merged per key, Dovecot's way: values joined, a key
    /// with any extended section gets a trailing `*` and its value stays percent-encoded
    /// (`''` prefixed and `%` escaped where a plain section is mixed in). Keys with missing
    /// sections are kept as they were written.
    pub fn parse_params(&mut self) -> Vec<Param> {
        let saved = self.nul_replacement;
        self.nul_replacement = true;
        let mut out = Vec::new();
        // (key, value, idx, extended); idx deliberately carries over like Dovecot's.
        let mut ext: Vec<(Vec<u8>, Vec<u8>, u32, bool)> = Vec::new();
        let mut idx: u32 = 0;
        loop {
            let (ret, kv) = self.parse_content_param();
            if ret == 0 {
                break;
            }
            if ret < 0 {
                if self.at_end() {
                    break;
                }
                self.pos += 1;
                continue;
            }
            let Some((key, value)) = kv else { continue };
            if let Some(star) = key.iter().position(|&c| c == b'*') {
                let mut p = star;
                if p + 1 < key.len() {
                    p += 1;
                    idx = 0;
                    while p < key.len() && key[p].is_ascii_digit() {
                        idx = idx.wrapping_mul(10).wrapping_add(u32::from(key[p] - b'0'));
                        p += 1;
                    }
                }
                let extended = p < key.len() && key[p] == b'*';
                if extended {
                    p += 1;
                }
                if p >= key.len() {
                    ext.push((key[..star].to_vec(), value, idx, extended));
                    continue;
                }
            }
            out.push((key, value));
        }
        ext.sort_by(|a, b| a.0.cmp(&b.0).then(a.2.cmp(&b.2)));
        let mut i = 0;
        while i < ext.len() {
            let mut j = i;
            let mut ok = true;
            let mut have_extended = false;
            let mut next_idx = 0;
            while j < ext.len() && ext[j].0.eq_ignore_ascii_case(&ext[i].0) {
                if ext[j].2 != next_idx {
                    ok = false;
                }
                have_extended |= ext[j].3;
                next_idx += 1;
                j += 1;
            }
            if !ok {
                for e in &ext[i..j] {
                    let suffix = if e.3 {
                        format!("*{}*", e.2)
                    } else {
                        format!("*{}", e.2)
                    };
                    let mut k = e.0.clone();
                    k.extend_from_slice(suffix.as_bytes());
                    out.push((k, e.1.clone()));
                }
            } else {
                let mut v = Vec::new();
                if !ext[i].3 && have_extended {
                    v.extend_from_slice(b"''");
                }
                for e in &ext[i..j] {
                    if !e.3 && have_extended {
                        for &c in &e.1 {
                            if c == b'%' {
                                v.extend_from_slice(b"%25");
                            } else {
                                v.push(c);
                            }
                        }
                    } else {
                        v.extend_from_slice(&e.1);
                    }
                }
                let mut k = ext[i].0.clone();
                if have_extended {
                    k.push(b'*');
                }
                out.push((k, v));
            }
            i = j;
        }
        self.nul_replacement = saved;
        out
    }
}
