//! The sent date of a message for SEARCH SENTBEFORE/SENTON/SENTSINCE: the day of its
//! `Date:` header as written (RFC 3501: "disregarding time and timezone"), parsed as
//! leniently as Dovecot's `message_date_parse` (optional weekday, 2- or 4-digit year,
//! comments). A message without a parseable `Date:` counts as 1 January 1970, as Dovecot
//! counts it (its date is 0).

/// `(year, month, day)` of an RFC 5322 date-time value, or `None` if it does not parse.
pub fn parse(value: &[u8]) -> Option<(i64, u8, u8)> {
    let text = std::str::from_utf8(value).ok()?;
    // Comments `(...)` and commas are separators.
    let mut cleaned = String::with_capacity(text.len());
    let mut depth = 0usize;
    for c in text.chars() {
        match c {
            '(' => depth += 1,
            ')' if depth > 0 => depth -= 1,
            _ if depth > 0 => {}
            ',' => cleaned.push(' '),
            _ => cleaned.push(c),
        }
    }
    let mut words = cleaned.split_ascii_whitespace().peekable();
    // Optional day of week.
    if words
        .peek()
        .is_some_and(|w| w.chars().next().is_some_and(|c| c.is_ascii_alphabetic()))
    {
        words.next();
    }
    let day: u8 = words.next()?.parse().ok()?;
    let month = month(words.next()?)?;
    let year_word = words.next()?;
    if !year_word.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    let mut year: i64 = year_word.parse().ok()?;
    match year_word.len() {
        2 => year += if year < 70 { 2000 } else { 1900 },
        4 => {}
        _ => return None,
    }
    if !(1..=31).contains(&day) {
        return None;
    }
    // The time must be there and look like one (hh:mm[:ss]).
    let time = words.next()?;
    let mut hms = time.split(':');
    let h: u32 = hms.next()?.parse().ok()?;
    let m: u32 = hms.next()?.parse().ok()?;
    if h > 23 || m > 59 {
        return None;
    }
    Some((year, month, day))
}

fn month(w: &str) -> Option<u8> {
    const MONTHS: [&str; 12] = [
        "jan", "feb", "mar", "apr", "may", "jun", "jul", "aug", "sep", "oct", "nov", "dec",
    ];
    let w = w.get(..3)?.to_ascii_lowercase();
    MONTHS.iter().position(|m| *m == w).map(|i| i as u8 + 1)
}

#[cfg(test)]
mod tests {
    use super::parse;

    #[test]
    fn dates_parse_as_written() {
        assert_eq!(
            parse(b"Mon, 02 Mar 2020 23:30:00 -0800"),
            Some((2020, 3, 2))
        );
        assert_eq!(parse(b"3 Mar 2020 00:30 +1400"), Some((2020, 3, 3)));
        assert_eq!(
            parse(b"Tue (comment), 1 Jan 99 10:00:00 GMT"),
            Some((1999, 1, 1))
        );
        assert_eq!(parse(b"1 Jan 05 10:00:00 GMT"), Some((2005, 1, 1)));
        assert_eq!(parse(b"yesterday"), None);
        assert_eq!(parse(b"32 Jan 2020 10:00"), None);
        assert_eq!(parse(b"1 Foo 2020 10:00"), None);
    }
}
