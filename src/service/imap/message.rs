//! What FETCH and SEARCH need of one stored message without MIME parsing: the CRLF form IMAP
//! sends (Maildir stores LF), the header/body split, `HEADER.FIELDS` filtering, and IMAP
//! date-times (`17-Jul-1996 02:44:25 +0000`) to and from file times (Maildir's internal date
//! is the file's mtime, as in Dovecot).

use std::time::{Duration, SystemTime, UNIX_EPOCH};

/// LF line ends to CRLF (bare CRs kept).
pub fn to_crlf(lf: &[u8]) -> Vec<u8> {
    let mut out = Vec::with_capacity(lf.len() + lf.len() / 30 + 2);
    // Copies the runs between bare LFs whole (a byte-at-a-time loop was FETCH's top cost).
    let mut start = 0;
    for i in memchr::memchr_iter(b'\n', lf) {
        if i == 0 || lf[i - 1] != b'\r' {
            out.extend_from_slice(&lf[start..i]);
            out.extend_from_slice(b"\r\n");
            start = i + 1;
        }
    }
    out.extend_from_slice(&lf[start..]);
    out
}

/// Where the body starts (after the empty line; the whole message if there is none).
pub fn body_start(crlf: &[u8]) -> usize {
    if crlf.starts_with(b"\r\n") {
        return 2;
    }
    memchr::memmem::find(crlf, b"\r\n\r\n")
        .map(|i| i + 4)
        .unwrap_or(crlf.len())
}

/// The header fields named (or, with `not`, all others), followed by the empty line.
pub fn header_fields(header: &[u8], names: &[String], not: bool) -> Vec<u8> {
    let mut out = Vec::new();
    let mut keep = false;
    for line in header.split_inclusive(|&b| b == b'\n') {
        if line == b"\r\n" {
            break;
        }
        if !matches!(line.first(), Some(b' ' | b'\t')) {
            let name = line.split(|&b| b == b':').next().unwrap_or(b"");
            let named = names
                .iter()
                .any(|n| n.as_bytes().eq_ignore_ascii_case(name.trim_ascii()));
            keep = named != not;
        }
        if keep {
            out.extend_from_slice(line);
        }
    }
    out.extend_from_slice(b"\r\n");
    out
}

const MONTHS: [&str; 12] = [
    "Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec",
];

/// `dd-Mon-yyyy hh:mm:ss +0000` (UTC).
pub fn date_time(t: SystemTime) -> String {
    let secs = t
        .duration_since(UNIX_EPOCH)
        .map(|d| d.as_secs())
        .unwrap_or(0) as i64;
    let (y, m, d) = civil_from_days(secs.div_euclid(86_400));
    let rem = secs.rem_euclid(86_400);
    format!(
        "{d:02}-{}-{y:04} {:02}:{:02}:{:02} +0000",
        MONTHS[(m - 1) as usize],
        rem / 3600,
        rem % 3600 / 60,
        rem % 60
    )
}

/// Parses `dd-Mon-yyyy hh:mm:ss +zzzz` (the day may be space-padded).
pub fn parse_date_time(s: &str) -> Option<SystemTime> {
    let s = s.trim_start();
    let (date, rest) = s.split_once(' ')?;
    let (time, zone) = rest.split_once(' ')?;
    let days = parse_date(date)?;
    let mut hms = time.split(':').map(|p| p.parse::<i64>().ok());
    let (h, mi, se) = (hms.next()??, hms.next()??, hms.next()??);
    let sign = if zone.starts_with('-') { -1 } else { 1 };
    let z: i64 = zone.get(1..)?.parse().ok()?;
    let offset = sign * ((z / 100) * 3600 + (z % 100) * 60);
    let secs = days * 86_400 + h * 3600 + mi * 60 + se - offset;
    Some(UNIX_EPOCH + Duration::from_secs(u64::try_from(secs).ok()?))
}

/// Days since the epoch of `d-Mon-yyyy`.
pub fn parse_date(s: &str) -> Option<i64> {
    let mut p = s.split('-');
    let d: i64 = p.next()?.trim().parse().ok()?;
    let mon = p.next()?;
    let m = MONTHS.iter().position(|x| x.eq_ignore_ascii_case(mon))? as i64 + 1;
    let y: i64 = p.next()?.parse().ok()?;
    Some(days_from_civil(y, m, d))
}

/// Days since the epoch of a date.
pub fn days_from_civil(y: i64, m: i64, d: i64) -> i64 {
    let y = if m <= 2 { y - 1 } else { y };
    let era = y.div_euclid(400);
    let yoe = y - era * 400;
    let mp = (m + 9) % 12;
    let doy = (153 * mp + 2) / 5 + d - 1;
    let doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    era * 146_097 + doe - 719_468
}

fn civil_from_days(z: i64) -> (i64, i64, i64) {
    let z = z + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z.rem_euclid(146_097);
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let d = doy - (153 * mp + 2) / 5 + 1;
    let m = if mp < 10 { mp + 3 } else { mp - 9 };
    (yoe + era * 400 + i64::from(m <= 2), m, d)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn dates_round_trip_with_zones() {
        let t = parse_date_time("17-Jul-1996 02:44:25 -0700").unwrap();
        assert_eq!(date_time(t), "17-Jul-1996 09:44:25 +0000");
        let t = parse_date_time(" 1-Feb-2024 00:00:00 +0000").unwrap();
        assert_eq!(date_time(t), "01-Feb-2024 00:00:00 +0000");
    }

    #[test]
    fn header_split_and_fields() {
        assert_eq!(to_crlf(b"\na\r\nb\rc\n\nd"), b"\r\na\r\nb\rc\r\n\r\nd");
        let m = to_crlf(b"From: a\nSubject: s\n  more\nTo: b\n\nbody\n");
        let b = body_start(&m);
        assert_eq!(&m[b..], b"body\r\n");
        assert_eq!(
            header_fields(&m[..b], &["subject".into()], false),
            b"Subject: s\r\n  more\r\n\r\n"
        );
        assert_eq!(
            header_fields(&m[..b], &["subject".into()], true),
            b"From: a\r\nTo: b\r\n\r\n"
        );
    }
}
