//! The structure scan: one pass over a whole message that finds every MIME part, its raw
//! header and body byte ranges and its `Content-*` data. A port of the state machine in
//! Dovecot's `message-parser.c` over a complete buffer instead of a stream, so that
//! malformed MIME splits exactly where Dovecot splits it:
//! - a boundary line is `--` + a boundary of *any* open multipart (newest first, longest
//!   prefix wins), so an outer boundary closes inner parts;
//! - the `[CR]LF` before a boundary line belongs to the boundary, not to the part before;
//! - a boundary line inside a part's header ends that header;
//! - `Content-Type` counts without `Mime-Version`; only the first one counts; a multipart
//!   without a usable boundary has no children; parts below `multipart/digest` default to
//!   `message/rfc822`;
//! - limits: nesting depth 100 and 10,000 parts (Dovecot's
//!   `MESSAGE_PARSER_DEFAULT_MAX_NESTED_MIME_PARTS` / `..._MAX_TOTAL_MIME_PARTS`); past them
//!   a part is kept as a leaf and flagged [`Flags::OVERFLOW`].
//!
//! The scan is iterative (no recursion), allocates one [`Part`] per part and keeps no copy
//! of the message, so its memory is bounded by the part limit, not the message size.

use std::ops::Range;

use super::header;
use super::rfc822::Parser;

/// Dovecot's `MESSAGE_PARSER_DEFAULT_MAX_NESTED_MIME_PARTS`.
pub const MAX_NESTED_MIME_PARTS: usize = 100;
/// Dovecot's `MESSAGE_PARSER_DEFAULT_MAX_TOTAL_MIME_PARTS`.
pub const MAX_TOTAL_MIME_PARTS: usize = 10_000;
/// Dovecot's `BOUNDARY_STRING_MAX_LEN`: longer boundaries are truncated.
const BOUNDARY_STRING_MAX_LEN: usize = 70 + 10;
const BOUNDARY_END_MAX_LEN: usize = BOUNDARY_STRING_MAX_LEN + 2 + 2;

/// Dovecot's `MESSAGE_PART_FLAG_*` as far as output depends on them.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Flags(pub u16);

impl Flags {
    pub const MULTIPART: u16 = 1;
    pub const MULTIPART_DIGEST: u16 = 2;
    pub const MESSAGE_RFC822: u16 = 4;
    pub const TEXT: u16 = 8;
    pub const IS_MIME: u16 = 16;
    pub const OVERFLOW: u16 = 32;

    pub fn has(self, f: u16) -> bool {
        self.0 & f != 0
    }
    fn set(&mut self, f: u16) {
        self.0 |= f;
    }
    fn clear(&mut self, f: u16) {
        self.0 &= !f;
    }
}

/// A `name=value` parameter of `Content-Type` or `Content-Disposition`.
pub use super::rfc822::Param;

/// The `Content-*` data of a part (Dovecot's `message_part_data`); `None` is absent.
#[derive(Debug, Clone, Default)]
pub struct PartData {
    pub content_type: Option<Vec<u8>>,
    pub content_subtype: Option<Vec<u8>>,
    pub content_type_params: Vec<Param>,
    pub content_transfer_encoding: Option<Vec<u8>>,
    pub content_id: Option<Vec<u8>>,
    pub content_description: Option<Vec<u8>>,
    pub content_disposition: Option<Vec<u8>>,
    pub content_disposition_params: Vec<Param>,
    pub content_language: Option<Vec<Vec<u8>>>,
    pub content_location: Option<Vec<u8>>,
    pub content_md5: Option<Vec<u8>>,
}

/// One MIME part. Indexes refer to [`Message::parts`]; part 0 is the whole message.
#[derive(Debug, Clone)]
pub struct Part {
    pub parent: Option<usize>,
    pub children: Vec<usize>,
    /// Raw header bytes, the ending empty line included.
    pub header: Range<usize>,
    /// Raw body bytes (for a multipart: preamble, boundaries, children and epilogue).
    pub body: Range<usize>,
    pub flags: Flags,
    pub data: PartData,
    /// Depth below the root (root 0).
    pub depth: usize,
}

impl Part {
    pub fn is_multipart(&self) -> bool {
        self.flags.has(Flags::MULTIPART)
    }
    pub fn is_message_rfc822(&self) -> bool {
        self.flags.has(Flags::MESSAGE_RFC822)
    }
    pub fn is_text(&self) -> bool {
        self.flags.has(Flags::TEXT)
    }
}

/// A scanned message: the input and its parts.
#[derive(Debug, Clone)]
pub struct Message<'a> {
    pub raw: &'a [u8],
    pub parts: Vec<Part>,
}

/// Size of `range` with every bare LF counted as CRLF (Dovecot's virtual size).
pub fn virtual_size(raw: &[u8], range: Range<usize>) -> u64 {
    let mut n = (range.end - range.start) as u64;
    let start = range.start;
    for lf in memchr::memchr_iter(b'\n', &raw[range]) {
        let i = start + lf;
        if i == start || raw[i - 1] != b'\r' {
            n += 1;
        }
    }
    n
}

/// Number of LFs in `range` (Dovecot's line count).
pub fn lines(raw: &[u8], range: Range<usize>) -> u64 {
    memchr::memchr_iter(b'\n', &raw[range]).count() as u64
}

struct Boundary {
    part: usize,
    text: Vec<u8>,
    epilogue_found: bool,
}

enum Mode {
    Header,
    ToBoundary,
    Eof,
}

struct Scanner<'a> {
    raw: &'a [u8],
    parts: Vec<Part>,
    boundaries: Vec<Boundary>,
    cur: usize,
    pos: usize,
    /// Where the bytes attributed to the current part end (differs from `pos` only after a
    /// header cut short by a boundary, whose newline went to the parent).
    attributed_end: usize,
    /// Boundary of the multipart whose header is being read.
    last_boundary: Option<Vec<u8>>,
    /// Per part: the end of a newline it took over from a child's header that a boundary
    /// cut short (Dovecot adds that newline to the parent's body).
    absorbed: Vec<usize>,
}

/// Scans a whole RFC 5322 message. Never fails: malformed input yields Dovecot's idea of
/// its structure.
pub fn scan(raw: &[u8]) -> Message<'_> {
    let root = new_part(None, 0, 0);
    let mut s = Scanner {
        raw,
        parts: vec![root],
        boundaries: Vec::new(),
        cur: 0,
        pos: 0,
        attributed_end: 0,
        last_boundary: None,
        absorbed: vec![0],
    };
    let mut mode = Mode::Header;
    loop {
        mode = match mode {
            Mode::Header => s.header(),
            Mode::ToBoundary => s.body_to_boundary(),
            Mode::Eof => break,
        };
    }
    let end = raw.len();
    let mut p = Some(s.cur);
    while let Some(i) = p {
        s.parts[i].body.end = end;
        p = s.parts[i].parent;
    }
    Message {
        raw,
        parts: s.parts,
    }
}

/// Length of the newline ending at `end` (the empty line's `[CR]LF`).
fn eoh_len_at(raw: &[u8], end: usize) -> usize {
    if end >= 2 && raw[end - 2] == b'\r' {
        2
    } else {
        1
    }
}

fn new_part(parent: Option<usize>, start: usize, depth: usize) -> Part {
    Part {
        parent,
        children: Vec::new(),
        header: start..start,
        body: start..start,
        flags: Flags::default(),
        data: PartData::default(),
        depth,
    }
}

impl Scanner<'_> {
    fn total(&self) -> usize {
        self.parts.len()
    }

    /// The current part's parent takes the bytes up to `to` (a moved newline).
    fn absorb(&mut self, to: usize) {
        if let Some(parent) = self.parts[self.cur].parent {
            self.absorbed[parent] = self.absorbed[parent].max(to);
        }
    }

    fn too_many_nested(&self) -> bool {
        self.parts[self.cur].depth + 1 >= MAX_NESTED_MIME_PARTS
    }

    fn append_child(&mut self, is_mime: bool) {
        let depth = self.parts[self.cur].depth + 1;
        // Dovecot places a child at its parent's position plus the sizes so far, which is
        // behind the stream position when a newline went to the grandparent.
        let mut p = new_part(Some(self.cur), self.attributed_end, depth);
        if is_mime {
            p.flags.set(Flags::IS_MIME);
        }
        let idx = self.parts.len();
        self.parts.push(p);
        self.absorbed.push(0);
        self.parts[self.cur].children.push(idx);
        self.cur = idx;
    }

    /// `boundary_line_find` at a line start: the index of the matching boundary.
    fn boundary_line_find(&mut self, at: usize) -> Option<usize> {
        let data = &self.raw[at..];
        if data.len() < 2 || data[0] != b'-' || data[1] != b'-' {
            return None;
        }
        if self.total() >= MAX_TOTAL_MIME_PARTS {
            self.parts[self.cur].flags.set(Flags::OVERFLOW);
            return None;
        }
        let data = &data[2..];
        let mut trailing_dashes = false;
        let find_size = match memchr::memchr(b'\n', data) {
            Some(lf) => {
                let mut n = lf;
                if n > 0 && data[n - 1] == b'\r' {
                    n -= 1;
                }
                if n > 2 && data[n - 1] == b'-' && data[n - 2] == b'-' {
                    trailing_dashes = true;
                }
                n
            }
            None => data.len().min(BOUNDARY_END_MAX_LEN),
        };
        let line = &data[..find_size];
        let mut best: Option<usize> = None;
        for (i, b) in self.boundaries.iter().enumerate().rev() {
            let len = b.text.len();
            if len <= find_size
                && line[..len] == b.text[..]
                && best.is_none_or(|j| self.boundaries[j].text.len() < len)
            {
                best = Some(i);
                if len == find_size || (len + 2 == find_size && trailing_dashes) {
                    break;
                }
            }
        }
        let i = best?;
        let len = self.boundaries[i].text.len();
        self.boundaries[i].epilogue_found = data.len() >= len + 2 && &data[len..len + 2] == b"--";
        Some(i)
    }

    /// Reads the current part's header from `pos`, then decides how its body is read.
    fn header(&mut self) -> Mode {
        let start = self.parts[self.cur].header.start;
        let scan_start = self.pos;
        let raw = self.raw;
        let mut prev_nl = 0;
        let mut eoh = false;
        let hdr_end;
        loop {
            let pos = self.pos;
            if pos >= raw.len() {
                hdr_end = if pos == scan_start { start } else { raw.len() };
                break;
            }
            let eoh_len = match raw[pos] {
                b'\n' => 1,
                b'\r' if raw.get(pos + 1) == Some(&b'\n') => 2,
                _ => 0,
            };
            if eoh_len > 0 {
                eoh = true;
                hdr_end = pos + eoh_len;
                self.pos = hdr_end;
                break;
            }
            if !self.boundaries.is_empty() {
                if let Some(b) = self.boundary_line_find(pos) {
                    if self.boundaries[b].part != self.cur {
                        hdr_end = if pos == scan_start {
                            start
                        } else {
                            pos - prev_nl
                        };
                        if prev_nl > 0 {
                            self.absorb(pos);
                        }
                        break;
                    }
                }
            }
            match memchr::memchr(b'\n', &raw[pos..]) {
                Some(i) => {
                    let lf = pos + i;
                    prev_nl = if lf > pos && raw[lf - 1] == b'\r' {
                        2
                    } else {
                        1
                    };
                    self.pos = lf + 1;
                }
                None => {
                    prev_nl = 0;
                    self.pos = raw.len();
                }
            }
        }
        let cur = self.cur;
        self.parse_fields(start..hdr_end);

        let mut multipart = false;
        if eoh && self.last_boundary.is_some() && self.parts[cur].flags.has(Flags::IS_MIME) {
            if !self.too_many_nested() {
                let text = self.last_boundary.take().unwrap_or_default();
                self.boundaries.push(Boundary {
                    part: cur,
                    text,
                    epilogue_found: false,
                });
                multipart = true;
            } else {
                let f = &mut self.parts[cur].flags;
                f.set(Flags::OVERFLOW);
                f.clear(Flags::MULTIPART);
            }
        }
        let mut hdr_end = hdr_end;
        if eoh && !self.boundaries.is_empty() {
            // Dovecot looks for a boundary once more after the empty line; a body that
            // starts with an enclosing part's boundary takes the empty line's newline
            // away from this header, like any newline before a boundary.
            if let Some(b) = self.boundary_line_find(self.pos) {
                if self.boundaries[b].part != cur {
                    hdr_end -= eoh_len_at(raw, hdr_end);
                    self.absorb(self.pos);
                }
            }
        }
        self.parts[cur].header = start..hdr_end;
        self.parts[cur].body = hdr_end..hdr_end;
        self.attributed_end = hdr_end;
        self.last_boundary = None;
        let parent_digest = self.parts[cur]
            .parent
            .is_some_and(|p| self.parts[p].flags.has(Flags::MULTIPART_DIGEST));
        let part = &mut self.parts[cur];
        if !part.flags.has(Flags::IS_MIME) {
            part.flags = Flags::default();
            part.data = PartData::default();
        }
        if part.data.content_type.is_none() || !part.flags.has(Flags::IS_MIME) {
            if parent_digest {
                part.flags.set(Flags::MESSAGE_RFC822);
            } else {
                part.flags.set(Flags::TEXT);
            }
        }
        if multipart {
            Mode::ToBoundary
        } else if !part.flags.has(Flags::MESSAGE_RFC822) {
            self.body_mode()
        } else if !self.too_many_nested() && self.total() < MAX_TOTAL_MIME_PARTS {
            self.append_child(false);
            Mode::Header
        } else {
            let f = &mut self.parts[cur].flags;
            f.set(Flags::OVERFLOW);
            f.clear(Flags::MESSAGE_RFC822);
            self.body_mode()
        }
    }

    fn body_mode(&self) -> Mode {
        if self.boundaries.is_empty() {
            Mode::Eof
        } else {
            Mode::ToBoundary
        }
    }

    /// `parse_next_header`'s per-field work: MIME-ness, the first Content-Type, and the
    /// part data (`message_part_data_parse_from_header`).
    fn parse_fields(&mut self, range: Range<usize>) {
        let raw = self.raw;
        let cur = self.cur;
        let mut seen_ct = false;
        for f in header::fields(&raw[range]) {
            if f.name.eq_ignore_ascii_case(b"Mime-Version") {
                self.parts[cur].flags.set(Flags::IS_MIME);
            } else if f.name.eq_ignore_ascii_case(b"Content-Type") {
                self.parts[cur].flags.set(Flags::IS_MIME);
                if !seen_ct {
                    seen_ct = true;
                    self.content_type_flags(&f.value);
                }
            }
            if f.name.len() >= 8 && f.name[..8].eq_ignore_ascii_case(b"Content-") {
                parse_content_header(&mut self.parts[cur].data, &f.name[8..], &f.value);
            }
        }
    }

    /// `parse_content_type` of message-parser.c: flags and the boundary.
    fn content_type_flags(&mut self, value: &[u8]) {
        let mut p = Parser::new(value);
        p.skip_lwsp();
        let mut ct = Vec::new();
        let ret = p.parse_content_type(&mut ct);
        let flags = &mut self.parts[self.cur].flags;
        if ct.eq_ignore_ascii_case(b"message/rfc822") {
            flags.set(Flags::MESSAGE_RFC822);
        } else if ct.len() >= 4
            && ct[..4].eq_ignore_ascii_case(b"text")
            && (ct.len() == 4 || ct[4] == b'/')
        {
            flags.set(Flags::TEXT);
        } else if ct.len() >= 10 && ct[..10].eq_ignore_ascii_case(b"multipart/") {
            flags.set(Flags::MULTIPART);
            if ct[10..].eq_ignore_ascii_case(b"digest") {
                flags.set(Flags::MULTIPART_DIGEST);
            }
        }
        if ret < 0 || !flags.has(Flags::MULTIPART) || self.last_boundary.is_some() {
            return;
        }
        for (k, v) in p.parse_params() {
            if k.eq_ignore_ascii_case(b"boundary") {
                let mut v = v;
                v.truncate(BOUNDARY_STRING_MAX_LEN);
                self.last_boundary = Some(v);
                break;
            }
        }
    }

    /// `parse_next_body_to_boundary` from `pos` (a line start) to the next boundary line.
    fn body_to_boundary(&mut self) -> Mode {
        let raw = self.raw;
        let region = self.pos;
        let mut line = region;
        loop {
            if line >= raw.len() {
                return Mode::Eof;
            }
            if let Some(b) = self.boundary_line_find(line) {
                let end = if line == region {
                    self.attributed_end
                } else if line >= 2 && line - 2 >= region && raw[line - 2] == b'\r' {
                    line - 2
                } else {
                    line - 1
                };
                return self.part_finish(b, line, end);
            }
            match memchr::memchr(b'\n', &raw[line..]) {
                Some(i) => line += i + 1,
                None => return Mode::Eof,
            }
        }
    }

    /// `parse_part_finish` + `parse_next_body_skip_boundary_line`.
    fn part_finish(&mut self, b: usize, line: usize, end: usize) -> Mode {
        let owner = self.boundaries[b].part;
        let mut end = end;
        while self.cur != owner {
            let cur = self.cur;
            // A part that took a newline off its child's cut-short header ends after it.
            end = end.max(self.absorbed[cur]).max(self.parts[cur].body.start);
            self.parts[cur].body.end = end;
            self.cur = self.parts[cur]
                .parent
                .expect("boundary owner is an ancestor");
        }
        let len = self.boundaries[b].text.len();
        let epilogue = self.boundaries[b].epilogue_found;
        if epilogue {
            self.boundaries.truncate(b);
        } else {
            self.boundaries.truncate(b + 1);
        }
        let after = line + 2 + len + if epilogue { 2 } else { 0 };
        match memchr::memchr(b'\n', &self.raw[after..]) {
            Some(i) => self.pos = after + i + 1,
            None => {
                self.pos = self.raw.len();
                return Mode::Eof;
            }
        }
        self.attributed_end = self.pos;
        if self
            .boundaries
            .last()
            .is_none_or(|top| top.part != self.cur)
        {
            self.body_mode()
        } else {
            self.append_child(true);
            Mode::Header
        }
    }
}

/// `parse_content_header` of message-part-data.c; `name` follows `Content-`.
fn parse_content_header(data: &mut PartData, name: &[u8], value: &[u8]) {
    let eq = |s: &[u8]| name.eq_ignore_ascii_case(s);
    if eq(b"ID") && data.content_id.is_none() {
        data.content_id = Some(header::strdup(value));
    } else if eq(b"MD5") && data.content_md5.is_none() {
        data.content_md5 = Some(header::strdup(value));
    } else if eq(b"Type") && data.content_type.is_none() {
        let mut p = Parser::new(value);
        p.skip_lwsp();
        let mut ct = Vec::new();
        let ret = p.parse_content_type(&mut ct);
        match ct.iter().position(|&c| c == b'/') {
            Some(i) => {
                data.content_subtype = Some(ct[i + 1..].to_vec());
                data.content_type = Some(ct[..i].to_vec());
            }
            None => {
                data.content_subtype = Some(Vec::new());
                data.content_type = Some(ct);
            }
        }
        if ret >= 0 {
            data.content_type_params = p.parse_params();
        }
    } else if eq(b"Transfer-Encoding") && data.content_transfer_encoding.is_none() {
        let mut p = Parser::new(value);
        p.skip_lwsp();
        let mut s = Vec::new();
        if p.parse_mime_token(&mut s) >= 0 && p.skip_lwsp() == 0 && !s.is_empty() {
            data.content_transfer_encoding = Some(s);
        }
    } else if eq(b"Language") && data.content_language.is_none() {
        let mut p = Parser::new(value);
        let mut langs = Vec::new();
        p.skip_lwsp();
        loop {
            let mut s = Vec::new();
            if p.parse_atom(&mut s) < 0 {
                break;
            }
            langs.push(s);
            if p.at_end() || p.cur() != b',' {
                break;
            }
            p.pos += 1;
            p.skip_lwsp();
        }
        if !langs.is_empty() {
            data.content_language = Some(langs);
        }
    } else if eq(b"Location") && data.content_location.is_none() {
        data.content_location = Some(header::strdup(value));
    } else if eq(b"Description") && data.content_description.is_none() {
        data.content_description = Some(header::strdup(value));
    } else if eq(b"Disposition") && data.content_disposition_params.is_empty() {
        let mut p = Parser::new(value);
        p.skip_lwsp();
        let mut s = Vec::new();
        if p.parse_mime_token(&mut s) < 0 {
            return;
        }
        data.content_disposition = Some(s);
        data.content_disposition_params = p.parse_params();
    }
}
