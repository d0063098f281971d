//! Message-number and line-count arguments of the POP3 transaction commands, checked exactly
//! as Dovecot 2.3's `get_msgnum()`/`get_size()` do (pop3-commands.c): a number must start
//! with a digit (no `+`, no `-`), must fit (`unsigned int` for message numbers, 64 bits for
//! sizes) and must be followed by the end of the line, or by a space when another argument
//! follows. The errors are Dovecot's reply texts, quoting the rest of the line as it does.

use std::fmt;

/// Why an argument is refused; `Display` gives the text after `-ERR `.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum ArgError {
    InvalidNumber(String),
    NumberTooLarge(String),
    NoiseAfterNumber(String),
    InvalidSize(String),
    SizeTooLarge(String),
    NoiseAfterSize(String),
}

impl fmt::Display for ArgError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            ArgError::InvalidNumber(a) => write!(f, "Invalid message number: {a}"),
            ArgError::NumberTooLarge(a) => write!(f, "Message number too large: {a}"),
            ArgError::NoiseAfterNumber(a) => write!(f, "Noise after message number: {a}"),
            ArgError::InvalidSize(a) => write!(f, "Invalid size: {a}"),
            ArgError::SizeTooLarge(a) => write!(f, "Size too large: {a}"),
            ArgError::NoiseAfterSize(a) => write!(f, "Noise after size: {a}"),
        }
    }
}

/// Splits `args` into its leading digits and the rest; `None` when it does not start with one.
fn digits(args: &str) -> Option<(&str, &str)> {
    let end = args
        .bytes()
        .position(|b| !b.is_ascii_digit())
        .unwrap_or(args.len());
    (end > 0).then(|| args.split_at(end))
}

/// A message number (1-based, not range-checked) and what follows it with leading spaces
/// skipped. `then_space`: another argument must follow (TOP).
pub fn msgnum(args: &str, then_space: bool) -> Result<(u32, &str), ArgError> {
    let (num, rest) = digits(args).ok_or_else(|| ArgError::InvalidNumber(args.into()))?;
    // Dovecot's str_parse_uint() stops after the digits even when they overflow.
    let num: u32 = num
        .parse()
        .map_err(|_| ArgError::NumberTooLarge(rest.into()))?;
    let follows_ok = if then_space {
        rest.starts_with(' ')
    } else {
        rest.is_empty()
    };
    if !follows_ok {
        return Err(ArgError::NoiseAfterNumber(rest.into()));
    }
    Ok((num, rest.trim_start_matches(' ')))
}

/// TOP's line count; nothing may follow it.
pub fn size(args: &str) -> Result<u64, ArgError> {
    let (num, rest) = digits(args).ok_or_else(|| ArgError::InvalidSize(args.into()))?;
    // str_parse_uoff() leaves the whole argument to be quoted when it overflows.
    let num: u64 = num
        .parse()
        .map_err(|_| ArgError::SizeTooLarge(args.into()))?;
    if !rest.is_empty() {
        return Err(ArgError::NoiseAfterSize(rest.into()));
    }
    Ok(num)
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Each case is what Dovecot 2.3.19.1 answered (after `-ERR `) to the argument part of
    /// `LIST <args>` / `TOP <args>`, recorded from a live session.
    #[test]
    fn message_numbers_are_refused_with_dovecots_texts() {
        let e = |a, sp| msgnum(a, sp).unwrap_err().to_string();
        assert_eq!(e("+1", false), "Invalid message number: +1");
        assert_eq!(e("-1", false), "Invalid message number: -1");
        assert_eq!(e("", false), "Invalid message number: ");
        assert_eq!(e("x 1", true), "Invalid message number: x 1");
        assert_eq!(e("1 2", false), "Noise after message number:  2");
        assert_eq!(e("1 ", false), "Noise after message number:  ");
        assert_eq!(e("1x", false), "Noise after message number: x");
        assert_eq!(e("1", true), "Noise after message number: ");
        assert_eq!(e("99999999999", false), "Message number too large: ");
        assert_eq!(e("99999999999x", false), "Message number too large: x");
        assert_eq!(e("99999999999 1", true), "Message number too large:  1");
        assert_eq!(msgnum("01", false), Ok((1, "")));
        assert_eq!(msgnum("4294967295", false), Ok((u32::MAX, "")));
        assert_eq!(msgnum("1  1", true), Ok((1, "1")));
    }

    #[test]
    fn top_line_counts_are_refused_with_dovecots_texts() {
        let e = |a| size(a).unwrap_err().to_string();
        assert_eq!(e("1 1"), "Noise after size:  1");
        assert_eq!(e("x"), "Invalid size: x");
        assert_eq!(e("-1"), "Invalid size: -1");
        assert_eq!(e("+1"), "Invalid size: +1");
        assert_eq!(
            e("99999999999999999999999x"),
            "Size too large: 99999999999999999999999x"
        );
        assert_eq!(
            e("18446744073709551616"),
            "Size too large: 18446744073709551616"
        );
        assert_eq!(size("18446744073709551615"), Ok(u64::MAX));
    }
}
