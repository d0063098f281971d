//! The trace headers Dovecot's LMTP prepends: `Return-Path`, `Delivered-To` (single-recipient
//! transactions only) and `Received` in Dovecot's layout, with an RFC 5322 date.

use std::time::{SystemTime, UNIX_EPOCH};

/// What the Received header needs to know about the session.
pub struct Trace<'a> {
    pub helo: &'a str,
    /// Client IP, `None` on a unix socket.
    pub ip: Option<String>,
    pub hostname: &'a str,
    pub session_id: &'a str,
    pub mail_from: &'a str,
    /// Set when the transaction has exactly one recipient.
    pub single_rcpt: Option<&'a str>,
    pub tls: bool,
}

/// The headers, LF line ends (as stored).
pub fn trace_headers(t: &Trace<'_>, now: SystemTime) -> String {
    let mut h = format!("Return-Path: <{}>\n", t.mail_from);
    if let Some(r) = t.single_rcpt {
        h.push_str(&format!("Delivered-To: {r}\n"));
    }
    let from = match (&t.ip, t.helo.is_empty()) {
        (Some(ip), false) => format!("from {} ([{ip}])", t.helo),
        (Some(ip), true) => format!("from [{ip}]"),
        (None, false) => format!("from {}", t.helo),
        (None, true) => "from localhost".to_string(),
    };
    h.push_str(&format!(
        "Received: {from}\n\tby {} with {}\n\tid {}\n\t(envelope-from <{}>)",
        t.hostname,
        if t.tls { "LMTPS" } else { "LMTP" },
        t.session_id,
        t.mail_from
    ));
    if let Some(r) = t.single_rcpt {
        h.push_str(&format!("\n\tfor <{r}>"));
    }
    h.push_str(&format!("; {}\n", rfc5322_date(now)));
    h
}

/// `Sat, 28 Nov 2026 21:48:53 +0000` (UTC).
pub fn rfc5322_date(t: SystemTime) -> String {
    let secs = t
        .duration_since(UNIX_EPOCH)
        .map(|d| d.as_secs())
        .unwrap_or(0) as i64;
    let days = secs.div_euclid(86_400);
    let rem = secs.rem_euclid(86_400);
    let (y, m, d) = civil_from_days(days);
    const WD: [&str; 7] = ["Thu", "Fri", "Sat", "Sun", "Mon", "Tue", "Wed"];
    const MON: [&str; 12] = [
        "Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec",
    ];
    format!(
        "{}, {} {} {} {:02}:{:02}:{:02} +0000",
        WD[days.rem_euclid(7) as usize],
        d,
        MON[(m - 1) as usize],
        y,
        rem / 3600,
        rem % 3600 / 60,
        rem % 60
    )
}

/// Days since 1970-01-01 → (year, month, day), proleptic Gregorian (H. Hinnant's algorithm).
fn civil_from_days(z: i64) -> (i64, i64, i64) {
    let z = z + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z.rem_euclid(146_097);
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let d = doy - (153 * mp + 2) / 5 + 1;
    let m = if mp < 10 { mp + 3 } else { mp - 9 };
    let y = yoe + era * 400 + i64::from(m <= 2);
    (y, m, d)
}

#[cfg(test)]
mod tests;
