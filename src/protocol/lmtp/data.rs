//! Message bodies: DATA (dot-stuffed, ends at a line holding only `.`) and BDAT (RFC 3030
//! chunks of exact length, via `smtp-proto`'s receiver). Lines may end in CRLF or a bare LF
//! (Dovecot accepts both; so `LF.LF` and `LF.CRLF` also end DATA). The body is returned as the
//! client sent it, less the stuffing, appended to a caller's buffer piece by piece (the caller
//! streams it to disk); line ends are normalised when the message is stored.

use smtp_proto::request::receiver::BdatReceiver;

/// Unstuffs a DATA body.
pub struct DataReader {
    state: State,
}

#[derive(Clone, Copy, PartialEq, Eq)]
enum State {
    /// At the start of a line.
    LineStart,
    /// Inside a line.
    InLine,
    /// Read a `.` at the start of a line.
    Dot,
    /// Read `.` and CR at the start of a line.
    DotCr,
}

/// What feeding bytes achieved.
#[derive(Debug, PartialEq, Eq)]
pub enum Progress {
    /// Needs more bytes; all input was consumed.
    More,
    /// The body is complete; this many input bytes were used (the rest is pipelined commands).
    Done(usize),
}

impl Default for DataReader {
    fn default() -> Self {
        DataReader::new()
    }
}

impl DataReader {
    pub fn new() -> DataReader {
        DataReader {
            state: State::LineStart,
        }
    }

    /// Appends the body bytes in `input` to `out`.
    pub fn feed(&mut self, input: &[u8], out: &mut Vec<u8>) -> Progress {
        let mut i = 0;
        while i < input.len() {
            match self.state {
                State::InLine => {
                    // Copy up to and including the next LF in one go.
                    match memchr::memchr(b'\n', &input[i..]) {
                        Some(p) => {
                            out.extend_from_slice(&input[i..=i + p]);
                            i += p + 1;
                            self.state = State::LineStart;
                        }
                        None => {
                            out.extend_from_slice(&input[i..]);
                            i = input.len();
                        }
                    }
                }
                State::LineStart => {
                    if input[i] == b'.' {
                        self.state = State::Dot;
                    } else {
                        self.state = State::InLine;
                        continue;
                    }
                    i += 1;
                }
                State::Dot => match input[i] {
                    b'\n' => return Progress::Done(i + 1),
                    b'\r' => {
                        self.state = State::DotCr;
                        i += 1;
                    }
                    // A stuffed dot: drop it, keep the rest of the line.
                    _ => self.state = State::InLine,
                },
                State::DotCr => {
                    if input[i] == b'\n' {
                        return Progress::Done(i + 1);
                    }
                    out.push(b'\r');
                    self.state = State::InLine;
                }
            }
        }
        Progress::More
    }
}

/// Collects one BDAT chunk.
pub struct BdatReader {
    inner: BdatReceiver,
}

impl BdatReader {
    pub fn new(size: usize, last: bool) -> BdatReader {
        BdatReader {
            inner: BdatReceiver::new(size, last),
        }
    }

    pub fn is_last(&self) -> bool {
        self.inner.is_last
    }

    /// Appends chunk bytes to `out`.
    pub fn feed(&mut self, input: &[u8], out: &mut Vec<u8>) -> Progress {
        let mut it = input.iter();
        let done = self.inner.ingest(&mut it, out);
        let used = input.len() - it.as_slice().len();
        if done {
            Progress::Done(used)
        } else {
            Progress::More
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn run(chunks: &[&[u8]]) -> (Vec<u8>, usize) {
        let mut r = DataReader::new();
        let mut body = Vec::new();
        for (i, c) in chunks.iter().enumerate() {
            if let Progress::Done(n) = r.feed(c, &mut body) {
                assert_eq!(i, chunks.len() - 1, "ended early");
                return (body, n);
            }
        }
        panic!("never ended");
    }

    #[test]
    fn unstuffs_and_stops_at_the_dot_line() {
        let (b, used) = run(&[b"a\r\n..dot\r\n.\r\nQUIT\r\n"]);
        assert_eq!(b, b"a\r\n.dot\r\n");
        assert_eq!(used, 13);
    }

    #[test]
    fn end_marker_split_across_reads() {
        let (b, _) = run(&[b"line\r", b"\n.", b"\r", b"\n"]);
        assert_eq!(b, b"line\r\n");
    }

    #[test]
    fn empty_message() {
        let (b, used) = run(&[b".\r\n"]);
        assert_eq!(b, b"");
        assert_eq!(used, 3);
    }

    #[test]
    fn bare_lf_lines_are_kept_and_end_data_too() {
        let (b, _) = run(&[b"a\nb\n..x\r\n.\r\n"]);
        assert_eq!(b, b"a\nb\n.x\r\n");
        let (b, used) = run(&[b"a\n.\nNOOP\r\n"]);
        assert_eq!((b.as_slice(), used), (&b"a\n"[..], 4));
        let (b, _) = run(&[b"a\n.", b"\r", b"\n"]);
        assert_eq!(b, b"a\n");
    }

    #[test]
    fn a_dot_line_with_more_text_is_unstuffed_not_an_end() {
        let (b, _) = run(&[b".\rx\r\n..\r\n.\r\n"]);
        assert_eq!(b, b"\rx\r\n.\r\n");
    }

    #[test]
    fn bdat_takes_exact_bytes() {
        let mut r = BdatReader::new(5, true);
        let mut out = Vec::new();
        assert_eq!(r.feed(b"ab", &mut out), Progress::More);
        assert_eq!(r.feed(b"cdeQUIT\r\n", &mut out), Progress::Done(3));
        assert_eq!(out, b"abcde");
        assert!(r.is_last());
    }
}
