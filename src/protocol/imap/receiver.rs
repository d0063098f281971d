//! The incremental receiver: bytes from the client in, one command frame (or an event the
//! session must act on) out. It never holds more than `imap_max_line_length` bytes of a command
//! and never holds unprocessed input: [`Receiver::receive`] says how much of the input it used.
//!
//! Limits follow Dovecot 2.3's `imap-parser` (verified against the reference Dovecot):
//! - a line longer than the limit is skipped to its end and answered
//!   `BAD Error in IMAP command X: Too long argument` when one argument alone exceeds the limit,
//!   `... IMAP command line too large` otherwise (`* BAD Error in IMAP tag: ...` when even the
//!   tag is too long); the connection stays.
//! - a literal (other than an APPEND message) whose size does not fit in what is left of the
//!   limit is refused before any of it is read, with the fatal `* BYE Literal size too large`
//!   (for synchronising and non-synchronising literals alike: the latter's bytes are already
//!   on their way, so the connection cannot be resynchronised).
//! - an APPEND message literal is not bounded by the line limit (Dovecot streams it into the
//!   mail store); it is handed out in pieces as [`Event::MessageData`], never buffered.
//!
//! imap-login is stricter ([`Receiver::login`]): its parser limit is 8192 bytes (a larger
//! literal gets `* BYE Literal size too large`), but it holds a command in a 1024-byte input
//! buffer, and a command that outgrows it (a long line, or a literal's data) ends the
//! connection with `* BYE Input buffer full, aborting`. APPEND is not special there.
//! (Dovecot bounds the unconsumed part of the current argument by 1024; roost bounds the
//! whole pre-login command, which only differs for commands with several long arguments.)

use std::fmt;

/// Dovecot's default `imap_max_line_length` (64k).
pub const DEFAULT_MAX_LINE_LENGTH: usize = 64 * 1024;

/// imap-login's parser limit (Dovecot's `IMAP_LOGIN_MAX_LINE_LENGTH`).
pub const LOGIN_MAX_LINE_LENGTH: usize = 8192;

/// imap-login's input buffer (Dovecot's `LOGIN_MAX_INBUF_SIZE`).
pub const LOGIN_MAX_INBUF_SIZE: usize = 1024;

/// One complete command as received: its lines and inline literals, with the line ends and
/// literal markers as sent. Literals of APPEND messages are not in `bytes`; their markers are
/// listed in `streamed` (offsets of the `{`) so the tokenizer knows their data went elsewhere.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Frame {
    pub bytes: Vec<u8>,
    pub streamed: Vec<usize>,
}

impl Frame {
    /// The first line without its line end: what a session reads when it expects a line
    /// outside the command grammar (IDLE's `DONE`, an AUTHENTICATE response, `*` to cancel).
    pub fn line(&self) -> &[u8] {
        let end = memchr::memchr(b'\n', &self.bytes).unwrap_or(self.bytes.len());
        let line = &self.bytes[..end];
        line.strip_suffix(b"\r").unwrap_or(line)
    }
}

/// What the session must do next.
#[derive(Debug, PartialEq, Eq)]
pub enum Event<'a> {
    /// All input used; read more.
    NeedMore,
    /// A literal of `size` bytes follows and will be collected (it fits the limit). If `sync`,
    /// the client waits for the continuation `+ OK\r\n` before sending it.
    Literal { size: u64, sync: bool },
    /// An APPEND message of `size` bytes follows; its bytes come as [`Event::MessageData`]
    /// (the last piece completes it). If `sync`, send `+ OK\r\n` first.
    MessageStart { size: u64, sync: bool },
    /// A piece of the current APPEND message.
    MessageData(&'a [u8]),
    /// A complete command; parse it with [`super::parse::parse`].
    Command(Frame),
    /// Input the session must reject; see [`ReceiveError::response`].
    Error(ReceiveError),
}

/// A framing error, with what Dovecot says about it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ReceiveError {
    /// The tag, if it was read (`*` is used when not).
    pub tag: Option<String>,
    /// The command name as sent, if it was read.
    pub command: Option<String>,
    pub kind: ReceiveErrorKind,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum ReceiveErrorKind {
    /// One argument alone is longer than the limit (the rest of the line was skipped).
    TooLongArgument,
    /// The line is longer than the limit (the rest of the line was skipped).
    LineTooLarge,
    /// A literal that does not fit the limit, or whose size overflows. Fatal.
    LiteralTooLarge,
    /// imap-login: the command outgrew the input buffer. Fatal.
    InputBufferFull,
}

impl ReceiveError {
    /// Whether the connection must be closed after [`ReceiveError::response`].
    pub fn is_fatal(&self) -> bool {
        matches!(
            self.kind,
            ReceiveErrorKind::LiteralTooLarge | ReceiveErrorKind::InputBufferFull
        )
    }

    /// The reason text Dovecot uses.
    pub fn reason(&self) -> &'static str {
        match self.kind {
            ReceiveErrorKind::TooLongArgument => "Too long argument",
            ReceiveErrorKind::LineTooLarge => "IMAP command line too large",
            ReceiveErrorKind::LiteralTooLarge => "Literal size too large",
            ReceiveErrorKind::InputBufferFull => "Input buffer full, aborting",
        }
    }

    /// The response line Dovecot sends. BAD lines end in `.`, where Dovecot's imap inserts
    /// its timing (` (0.001 + 0.000 secs)`); BYE lines have neither.
    pub fn response(&self) -> Vec<u8> {
        let text = match (&self.tag, &self.command, self.is_fatal()) {
            (_, _, true) => format!("* BYE {}", self.reason()),
            (Some(tag), Some(cmd), _) => {
                format!("{tag} BAD Error in IMAP command {cmd}: {}.", self.reason())
            }
            (Some(tag), None, _) => {
                format!("{tag} BAD Error in IMAP command: {}.", self.reason())
            }
            (None, _, _) => format!("* BAD Error in IMAP tag: {}.", self.reason()),
        };
        let mut v = text.into_bytes();
        v.extend_from_slice(b"\r\n");
        v
    }
}

impl fmt::Display for ReceiveError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.reason())
    }
}

impl std::error::Error for ReceiveError {}

#[derive(Debug)]
enum State {
    /// Reading a line into the frame.
    Line,
    /// Collecting an inline literal into the frame.
    Literal { remaining: usize },
    /// Passing an APPEND message through.
    Message { remaining: u64 },
    /// Skipping the rest of an over-long line.
    Skip(Skip),
}

#[derive(Debug)]
struct Skip {
    tag: Option<String>,
    command: Option<String>,
    /// Length of the argument being skipped, and the longest seen.
    current_arg: usize,
    longest_arg: usize,
    in_quote: bool,
    escaped: bool,
}

/// The incremental receiver; see the module doc.
#[derive(Debug)]
pub struct Receiver {
    max_line_length: usize,
    /// imap-login's input buffer: the most a command may hold; `None` for imap.
    input_buffer: Option<usize>,
    stream_append: bool,
    frame: Frame,
    /// Where the current (unfinished) line starts in `frame.bytes`.
    line_start: usize,
    state: State,
}

impl Receiver {
    /// `max_line_length`: Dovecot's `imap_max_line_length` (bytes; 0 means the default).
    pub fn new(max_line_length: usize) -> Receiver {
        let max_line_length = if max_line_length == 0 {
            DEFAULT_MAX_LINE_LENGTH
        } else {
            max_line_length
        };
        Receiver {
            max_line_length,
            input_buffer: None,
            stream_append: true,
            frame: Frame::default(),
            line_start: 0,
            state: State::Line,
        }
    }

    /// Bytes of the current command held (never more than the limit).
    pub fn buffered(&self) -> usize {
        self.frame.bytes.len()
    }

    /// The receiver imap-login uses (see the module doc).
    pub fn login() -> Receiver {
        Receiver {
            input_buffer: Some(LOGIN_MAX_INBUF_SIZE),
            stream_append: false,
            ..Receiver::new(LOGIN_MAX_LINE_LENGTH)
        }
    }

    /// The most bytes of one command held.
    fn capacity(&self) -> usize {
        self.input_buffer
            .unwrap_or(usize::MAX)
            .min(self.max_line_length)
    }

    pub fn max_line_length(&self) -> usize {
        self.max_line_length
    }

    /// Whether the receiver is between commands (nothing of a command read yet).
    pub fn is_idle(&self) -> bool {
        matches!(self.state, State::Line) && self.frame.bytes.is_empty()
    }

    /// Feeds input; returns how many bytes were used and what happened. Call again with the
    /// unused rest until [`Event::NeedMore`].
    pub fn receive<'a>(&mut self, input: &'a [u8]) -> (usize, Event<'a>) {
        let capacity = self.capacity();
        match &mut self.state {
            State::Message { remaining } => {
                if input.is_empty() {
                    return (0, Event::NeedMore);
                }
                let n = (*remaining).min(input.len() as u64) as usize;
                *remaining -= n as u64;
                if *remaining == 0 {
                    self.state = State::Line;
                }
                (n, Event::MessageData(&input[..n]))
            }
            State::Literal { remaining } => {
                let n = (*remaining).min(input.len());
                if self.frame.bytes.len() + n > capacity {
                    return (n, self.fatal_kind(ReceiveErrorKind::InputBufferFull));
                }
                self.frame.bytes.extend_from_slice(&input[..n]);
                *remaining -= n;
                if *remaining == 0 {
                    self.state = State::Line;
                    self.line_start = self.frame.bytes.len();
                    let (used, ev) = self.receive(&input[n..]);
                    return (n + used, ev);
                }
                (n, Event::NeedMore)
            }
            State::Skip(_) => self.skip(input),
            State::Line => self.line(input),
        }
    }

    fn line<'a>(&mut self, input: &'a [u8]) -> (usize, Event<'a>) {
        let room = self.capacity() - self.frame.bytes.len();
        let window = &input[..input.len().min(room)];
        if let Some(p) = memchr::memchr(b'\n', window) {
            self.frame.bytes.extend_from_slice(&input[..=p]);
            let (used, ev) = self.line_end();
            return (p + 1 + used, ev);
        }
        if input.len() <= room {
            self.frame.bytes.extend_from_slice(input);
            return (input.len(), Event::NeedMore);
        }
        if self.input_buffer.is_some() {
            return (room, self.fatal_kind(ReceiveErrorKind::InputBufferFull));
        }
        // Over the limit without a line end: skip to the end of the line.
        let skip = self.start_skip(window);
        self.frame = Frame::default();
        self.line_start = 0;
        self.state = State::Skip(skip);
        let (used, ev) = self.skip(&input[room..]);
        (room + used, ev)
    }

    /// Builds the skip state from the current line (tag, command name, argument lengths).
    fn start_skip(&self, more: &[u8]) -> Skip {
        let mut all = self.frame.bytes.clone();
        all.extend_from_slice(more);
        let (tag, command) = tag_and_command(&all);
        let mut skip = Skip {
            tag,
            command,
            current_arg: 0,
            longest_arg: 0,
            in_quote: false,
            escaped: false,
        };
        skip.feed(&all[self.line_start..]);
        skip
    }

    fn skip<'a>(&mut self, input: &'a [u8]) -> (usize, Event<'a>) {
        let State::Skip(skip) = &mut self.state else {
            unreachable!("skip outside Skip state");
        };
        match memchr::memchr(b'\n', input) {
            Some(p) => {
                skip.feed(&input[..p]);
                let kind = if skip.longest_arg >= self.max_line_length {
                    ReceiveErrorKind::TooLongArgument
                } else {
                    ReceiveErrorKind::LineTooLarge
                };
                let err = ReceiveError {
                    tag: skip.tag.take(),
                    command: skip.command.take(),
                    kind,
                };
                // With no tag read, the tag itself was the long argument.
                self.state = State::Line;
                (p + 1, Event::Error(err))
            }
            None => {
                skip.feed(input);
                (input.len(), Event::NeedMore)
            }
        }
    }

    /// A line ended (its LF is the last byte of the frame): a literal marker or the command's end.
    fn line_end<'a>(&mut self) -> (usize, Event<'a>) {
        let line = &self.frame.bytes[self.line_start..];
        let body = line.strip_suffix(b"\n").unwrap_or(line);
        let body = body.strip_suffix(b"\r").unwrap_or(body);
        let Some(marker) = literal_marker(body) else {
            let frame = std::mem::take(&mut self.frame);
            self.line_start = 0;
            return (0, Event::Command(frame));
        };
        let marker_at = self.line_start + marker.open;
        let (tag, command) = tag_and_command(&self.frame.bytes);
        let Some(size) = marker.size else {
            return self.fatal(tag, command);
        };
        if self.stream_append
            && is_append_message(&self.frame.bytes[..marker_at], command.as_deref())
        {
            self.frame.streamed.push(marker_at);
            self.line_start = self.frame.bytes.len();
            if size == 0 {
                // Nothing to stream; announce it and carry on.
                return (
                    0,
                    Event::MessageStart {
                        size,
                        sync: marker.sync,
                    },
                );
            }
            self.state = State::Message { remaining: size };
            return (
                0,
                Event::MessageStart {
                    size,
                    sync: marker.sync,
                },
            );
        }
        let used = self.frame.bytes.len();
        if used >= self.max_line_length || size > (self.max_line_length - used) as u64 {
            return self.fatal(tag, command);
        }
        if size == 0 {
            self.line_start = self.frame.bytes.len();
            return (
                0,
                Event::Literal {
                    size,
                    sync: marker.sync,
                },
            );
        }
        self.state = State::Literal {
            remaining: size as usize,
        };
        (
            0,
            Event::Literal {
                size,
                sync: marker.sync,
            },
        )
    }

    fn fatal_kind<'a>(&mut self, kind: ReceiveErrorKind) -> Event<'a> {
        let (tag, command) = tag_and_command(&self.frame.bytes);
        self.frame = Frame::default();
        self.line_start = 0;
        self.state = State::Line;
        Event::Error(ReceiveError { tag, command, kind })
    }

    fn fatal<'a>(&mut self, tag: Option<String>, command: Option<String>) -> (usize, Event<'a>) {
        self.frame = Frame::default();
        self.line_start = 0;
        self.state = State::Line;
        (
            0,
            Event::Error(ReceiveError {
                tag,
                command,
                kind: ReceiveErrorKind::LiteralTooLarge,
            }),
        )
    }
}

impl Skip {
    fn feed(&mut self, bytes: &[u8]) {
        for &b in bytes {
            if self.in_quote {
                self.current_arg += 1;
                if self.escaped {
                    self.escaped = false;
                } else if b == b'\\' {
                    self.escaped = true;
                } else if b == b'"' {
                    self.in_quote = false;
                }
            } else if matches!(b, b' ' | b'(' | b')' | b'\r') {
                self.end_arg();
            } else {
                if b == b'"' && self.current_arg == 0 {
                    self.in_quote = true;
                }
                self.current_arg += 1;
            }
            self.longest_arg = self.longest_arg.max(self.current_arg);
        }
    }

    fn end_arg(&mut self) {
        self.longest_arg = self.longest_arg.max(self.current_arg);
        self.current_arg = 0;
    }
}

struct Marker {
    /// Offset of `{` in the line.
    open: usize,
    /// None: the size overflows.
    size: Option<u64>,
    sync: bool,
}

/// `{N}` or `{N+}` at the end of a line (outside a quoted string), preceded by a space or `(`.
fn literal_marker(line: &[u8]) -> Option<Marker> {
    let inner_end = line.len().checked_sub(1)?;
    if line[inner_end] != b'}' {
        return None;
    }
    let open = line[..inner_end].iter().rposition(|&b| b == b'{')?;
    let mut digits = &line[open + 1..inner_end];
    let sync = match digits.strip_suffix(b"+") {
        Some(d) => {
            digits = d;
            false
        }
        None => true,
    };
    if digits.is_empty() || !digits.iter().all(u8::is_ascii_digit) {
        return None;
    }
    if open > 0 && !matches!(line[open - 1], b' ' | b'(') {
        return None;
    }
    if inside_quote(&line[..open]) {
        return None;
    }
    let size = digits.iter().try_fold(0u64, |acc, &d| {
        acc.checked_mul(10)?.checked_add((d - b'0') as u64)
    });
    Some(Marker { open, size, sync })
}

/// Whether a quoted string is open at the end of `prefix` (of the current line).
fn inside_quote(prefix: &[u8]) -> bool {
    let mut in_quote = false;
    let mut escaped = false;
    for &b in prefix {
        if in_quote {
            if escaped {
                escaped = false;
            } else if b == b'\\' {
                escaped = true;
            } else if b == b'"' {
                in_quote = false;
            }
        } else if b == b'"' {
            in_quote = true;
        }
    }
    in_quote
}

/// The tag and command name at the start of a frame, as far as they are complete.
fn tag_and_command(bytes: &[u8]) -> (Option<String>, Option<String>) {
    let word = |b: &[u8]| -> Option<(String, usize)> {
        let end = b.iter().position(|&c| matches!(c, b' ' | b'\r' | b'\n'))?;
        if end == 0 {
            return None;
        }
        Some((String::from_utf8_lossy(&b[..end]).into_owned(), end))
    };
    let Some((tag, end)) = word(bytes) else {
        return (None, None);
    };
    if bytes.get(end) != Some(&b' ') {
        return (Some(tag), None);
    }
    let rest = &bytes[end + 1..];
    let command = word(rest).map(|(mut name, n)| {
        // `UID FETCH` is named `UID FETCH` in Dovecot's errors.
        if name.eq_ignore_ascii_case("UID") && rest.get(n) == Some(&b' ') {
            if let Some((sub, _)) = word(&rest[n + 1..]) {
                name = format!("{name} {sub}");
            }
        }
        name
    });
    (Some(tag), command)
}

/// Whether a literal starting at the end of `before` is an APPEND message: the command is
/// APPEND and its mailbox argument is complete (Dovecot reads the mailbox bounded, then each
/// message's literal size only).
fn is_append_message(before: &[u8], command: Option<&str>) -> bool {
    if !command.is_some_and(|c| c.eq_ignore_ascii_case("APPEND")) {
        return false;
    }
    // Skip tag and command name; a complete argument must follow.
    let mut rest = before;
    for _ in 0..2 {
        match rest.iter().position(|&b| b == b' ') {
            Some(p) => rest = &rest[p + 1..],
            None => return false,
        }
    }
    let rest = rest.trim_ascii_start();
    !rest.is_empty()
}
