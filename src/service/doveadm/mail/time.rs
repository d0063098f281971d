//! Times as doveadm prints and parses them: local time `%Y-%m-%d %H:%M:%S` (localtime_r, so
//! `TZ` applies as in Dovecot), a time's local date, and the RFC 5322 `Date:`
//! header (`[Day,] D Mon YYYY HH:MM[:SS] ±HHMM`, obsolete zone names as Dovecot's
//! message-date.c reads them) for `date.sent` and the SENT* search keys.

/// Broken-down local time of `secs`.
fn local_tm(secs: i64) -> libc::tm {
    // SAFETY: localtime_r only writes the tm it is given.
    unsafe {
        let t: libc::time_t = secs as libc::time_t;
        let mut tm: libc::tm = std::mem::zeroed();
        libc::localtime_r(&t, &mut tm);
        tm
    }
}

/// `YYYY-MM-DD HH:MM:SS` in local time (doveadm's unixdate2str).
pub fn local_string(secs: i64) -> String {
    let tm = local_tm(secs);
    format!(
        "{:04}-{:02}-{:02} {:02}:{:02}:{:02}",
        tm.tm_year + 1900,
        tm.tm_mon + 1,
        tm.tm_mday,
        tm.tm_hour,
        tm.tm_min,
        tm.tm_sec
    )
}

/// `Nov 30 17:26:04` in local time (Dovecot's LOG_TIMESTAMP_FORMAT, `%b %d %H:%M:%S`).
pub fn log_stamp(secs: i64) -> String {
    let tm = local_tm(secs);
    let m = MONTHS[tm.tm_mon.clamp(0, 11) as usize];
    format!(
        "{}{} {:02} {:02}:{:02}:{:02}",
        m[..1].to_ascii_uppercase(),
        &m[1..],
        tm.tm_mday,
        tm.tm_hour,
        tm.tm_min,
        tm.tm_sec
    )
}

/// `17:26:04` in local time.
pub fn local_clock(secs: i64) -> String {
    let tm = local_tm(secs);
    format!("{:02}:{:02}:{:02}", tm.tm_hour, tm.tm_min, tm.tm_sec)
}

/// The local date (year, month, day) of `secs`.
pub fn local_date(secs: i64) -> (i64, i64, i64) {
    let tm = local_tm(secs);
    (
        tm.tm_year as i64 + 1900,
        tm.tm_mon as i64 + 1,
        tm.tm_mday as i64,
    )
}

const MONTHS: [&str; 12] = [
    "jan", "feb", "mar", "apr", "may", "jun", "jul", "aug", "sep", "oct", "nov", "dec",
];

/// Month number (1-12) of a three-letter English name.
pub fn month(name: &str) -> Option<i64> {
    MONTHS
        .iter()
        .position(|m| m.eq_ignore_ascii_case(name))
        .map(|i| i as i64 + 1)
}

/// Obsolete and military zone names (RFC 2822 §4.3), in minutes.
fn zone_name(z: &str) -> Option<i32> {
    Some(match z.to_ascii_uppercase().as_str() {
        "UT" | "GMT" | "Z" => 0,
        "EDT" => -4 * 60,
        "EST" | "CDT" => -5 * 60,
        "CST" | "MDT" => -6 * 60,
        "MST" | "PDT" => -7 * 60,
        "PST" => -8 * 60,
        s if s.len() == 1 && s.as_bytes()[0].is_ascii_alphabetic() => 0,
        _ => return None,
    })
}

/// Parses a `Date:` value: (UTC seconds, zone offset in minutes).
pub fn parse_rfc822(value: &str) -> Option<(i64, i32)> {
    let mut s = value.trim();
    if let Some(i) = s.find(',') {
        s = &s[i + 1..];
    }
    let mut words = s.split_whitespace();
    let day: i64 = words.next()?.parse().ok()?;
    let mon = month(words.next()?.get(..3)?)?;
    let mut year: i64 = words.next()?.parse().ok()?;
    if year < 100 {
        year += if year < 70 { 2000 } else { 1900 };
    }
    let mut hms = words.next()?.split(':');
    let h: i64 = hms.next()?.parse().ok()?;
    let mi: i64 = hms.next()?.parse().ok()?;
    let se: i64 = hms.next().map(|x| x.parse().ok()).unwrap_or(Some(0))?;
    let tz = match words.next() {
        None => 0,
        Some(z) if z.starts_with('+') || z.starts_with('-') => {
            let n: i32 = z.get(1..5)?.parse().ok()?;
            let m = (n / 100) * 60 + n % 100;
            if z.starts_with('-') {
                -m
            } else {
                m
            }
        }
        Some(z) => zone_name(z).unwrap_or(0),
    };
    let days = crate::service::imap::message::days_from_civil(year, mon, day);
    let secs = days * 86_400 + h * 3600 + mi * 60 + se - tz as i64 * 60;
    Some((secs, tz))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn rfc822_dates_with_zones() {
        assert_eq!(
            parse_rfc822("Mon, 2 Nov 2026 10:02:00 +0000"),
            Some((1_793_613_720, 0))
        );
        assert_eq!(
            parse_rfc822("2 Nov 2026 12:02 +0200"),
            Some((1_793_613_720, 120))
        );
        assert_eq!(
            parse_rfc822("2 Nov 2026 05:02:00 EST").map(|x| x.1),
            Some(-300)
        );
        assert_eq!(parse_rfc822("garbage"), None);
    }
}
