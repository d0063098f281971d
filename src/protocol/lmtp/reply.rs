//! SMTP/LMTP replies with enhanced status codes (RFC 3463), single- and multi-line.

use std::fmt;

#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Reply {
    pub code: u16,
    /// Enhanced status code (`2.1.5`), empty for replies that carry none (greeting, LHLO).
    pub esc: String,
    pub lines: Vec<String>,
}

impl Reply {
    pub fn new(code: u16, esc: &str, text: &str) -> Reply {
        Reply {
            code,
            esc: esc.to_string(),
            lines: vec![text.to_string()],
        }
    }

    /// A reply without an enhanced status code, one line per entry.
    pub fn plain(code: u16, lines: Vec<String>) -> Reply {
        Reply {
            code,
            esc: String::new(),
            lines,
        }
    }

    pub fn is_positive(&self) -> bool {
        self.code < 400
    }

    pub fn to_bytes(&self) -> Vec<u8> {
        self.to_string().into_bytes()
    }
}

impl fmt::Display for Reply {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let n = self.lines.len().max(1);
        for i in 0..n {
            let sep = if i + 1 == n { ' ' } else { '-' };
            let text = self.lines.get(i).map(String::as_str).unwrap_or("");
            if self.esc.is_empty() {
                write!(f, "{}{sep}{text}\r\n", self.code)?;
            } else {
                write!(f, "{}{sep}{} {text}\r\n", self.code, self.esc)?;
            }
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn single_and_multi_line() {
        assert_eq!(
            Reply::new(250, "2.1.0", "OK").to_string(),
            "250 2.1.0 OK\r\n"
        );
        let r = Reply::plain(250, vec!["mx".into(), "PIPELINING".into()]);
        assert_eq!(r.to_string(), "250-mx\r\n250 PIPELINING\r\n");
    }
}
