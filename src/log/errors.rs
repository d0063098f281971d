//! The server's last warnings and errors, as Dovecot's log process keeps them for `doveadm log
//! errors`: the newest [`MAX_ERRORS`], each with its level, time, line prefix
//! (`imap(bob)<7><sess>: `) and text (at most [`MAX_TEXT`] bytes kept). The log layer records
//! every warning and error it writes; the `log` service's `log-errors` listener and the
//! doveadm `log errors` command read them.

use std::collections::VecDeque;
use std::sync::Mutex;

/// Errors kept (Dovecot's LOG_ERROR_BUFFER_MAX_LINES).
pub const MAX_ERRORS: usize = 1000;
/// Bytes of one error's text kept.
pub const MAX_TEXT: usize = 8192;

/// One warning or error as logged.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct LoggedError {
    /// Dovecot's type name: `warning`, `error`, `fatal` or `panic`.
    pub kind: &'static str,
    /// Unix seconds.
    pub timestamp: u64,
    pub prefix: String,
    pub text: String,
}

static ERRORS: Mutex<VecDeque<LoggedError>> = Mutex::new(VecDeque::new());

/// Keeps `e`, dropping the oldest when [`MAX_ERRORS`] are kept.
pub fn record(mut e: LoggedError) {
    if e.text.len() > MAX_TEXT {
        let mut end = MAX_TEXT;
        while !e.text.is_char_boundary(end) {
            end -= 1;
        }
        e.text.truncate(end);
    }
    let mut all = ERRORS.lock().unwrap_or_else(|p| p.into_inner());
    if all.len() >= MAX_ERRORS {
        all.pop_front();
    }
    all.push_back(e);
}

/// The kept errors, oldest first.
pub fn recent() -> Vec<LoggedError> {
    ERRORS
        .lock()
        .unwrap_or_else(|p| p.into_inner())
        .iter()
        .cloned()
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn keeps_the_newest_thousand_and_bounds_the_text() {
        let start = recent().len();
        for i in 0..(MAX_ERRORS + 5) {
            record(LoggedError {
                kind: "error",
                timestamp: i as u64,
                prefix: "test: ".into(),
                text: if i == MAX_ERRORS + 4 {
                    "é".repeat(MAX_TEXT)
                } else {
                    format!("error {i}")
                },
            });
        }
        let all = recent();
        assert_eq!(all.len(), MAX_ERRORS, "{start}");
        assert_eq!(all.last().unwrap().timestamp, (MAX_ERRORS + 4) as u64);
        assert!(all.last().unwrap().text.len() <= MAX_TEXT);
        assert!(all.iter().all(|e| e.timestamp >= 5 || e.prefix != "test: "));
    }
}
