//! Syslog output (`log_path = syslog`): RFC 3164 datagrams on the local syslog socket
//! (`/dev/log`), `<PRI>Mmm dd hh:mm:ss dovecot: imap-login: Login: …`, as glibc's `syslog(3)`
//! sends them for Dovecot (ident `dovecot`, no pid, so that log parsers such as fail2ban's
//! dovecot filter keep matching). `syslog_facility` picks the facility; the level gives the
//! severity. The socket path can be moved with the `ROOST_SYSLOG_SOCKET` environment variable
//! (used by tests, which bind their own datagram socket).

use std::os::unix::net::UnixDatagram;
use std::path::PathBuf;
use std::sync::Mutex;

use tracing::Level;

/// The environment variable that overrides `/dev/log`.
pub const SOCKET_ENV: &str = "ROOST_SYSLOG_SOCKET";
/// The syslog ident, Dovecot's default `instance_name`.
pub const IDENT: &str = "dovecot";
/// How long one send may wait for room in syslogd's queue.
pub const SEND_TIMEOUT: std::time::Duration = std::time::Duration::from_secs(1);
/// Longest datagram sent; longer messages are cut (syslogd's usual limit is 8 KiB or more).
pub const MAX_DATAGRAM: usize = 8192;

/// Facility names as syslog.conf spells them → their numbers.
const FACILITIES: &[(&str, u8)] = &[
    ("kern", 0),
    ("user", 1),
    ("mail", 2),
    ("daemon", 3),
    ("auth", 4),
    ("syslog", 5),
    ("lpr", 6),
    ("news", 7),
    ("uucp", 8),
    ("cron", 9),
    ("authpriv", 10),
    ("ftp", 11),
    ("local0", 16),
    ("local1", 17),
    ("local2", 18),
    ("local3", 19),
    ("local4", 20),
    ("local5", 21),
    ("local6", 22),
    ("local7", 23),
];

/// The facility number of `name`, or an error listing the valid names.
pub fn facility(name: &str) -> Result<u8, String> {
    FACILITIES
        .iter()
        .find(|(n, _)| n.eq_ignore_ascii_case(name))
        .map(|(_, v)| *v)
        .ok_or_else(|| {
            format!(
                "syslog_facility: unknown facility '{name}' (use one of {})",
                FACILITIES
                    .iter()
                    .map(|(n, _)| *n)
                    .collect::<Vec<_>>()
                    .join(", ")
            )
        })
}

fn severity(level: &Level) -> u8 {
    match *level {
        Level::ERROR => 3,
        Level::WARN => 4,
        Level::INFO => 6,
        _ => 7,
    }
}

/// The `Mmm dd hh:mm:ss` timestamp of RFC 3164 (UTC).
fn timestamp(secs: u64) -> String {
    const MONTHS: [&str; 12] = [
        "Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec",
    ];
    let (_, m, d) = super::format::civil_from_days((secs / 86400) as i64);
    let rem = secs % 86400;
    format!(
        "{} {d:>2} {:02}:{:02}:{:02}",
        MONTHS[(m - 1) as usize],
        rem / 3600,
        (rem % 3600) / 60,
        rem % 60
    )
}

/// One datagram: `<PRI>TIMESTAMP dovecot: MESSAGE`.
pub fn datagram(facility: u8, level: &Level, secs: u64, message: &str) -> Vec<u8> {
    let pri = u16::from(facility) * 8 + u16::from(severity(level));
    let mut d = format!("<{pri}>{} {IDENT}: {message}", timestamp(secs)).into_bytes();
    d.truncate(MAX_DATAGRAM);
    d
}

/// The connection to the local syslog socket; reconnected when a send fails (syslogd
/// restarted), and on `log reopen`.
pub struct Syslog {
    facility: u8,
    path: PathBuf,
    sock: Mutex<Option<UnixDatagram>>,
}

impl Syslog {
    pub fn new(facility: u8) -> Syslog {
        let path = std::env::var_os(SOCKET_ENV)
            .map(PathBuf::from)
            .unwrap_or_else(|| PathBuf::from("/dev/log"));
        let s = Syslog {
            facility,
            path,
            sock: Mutex::new(None),
        };
        *s.sock.lock().unwrap() = s.connect();
        s
    }

    fn connect(&self) -> Option<UnixDatagram> {
        let sock = UnixDatagram::unbound().ok()?;
        sock.connect(&self.path).ok()?;
        // A stuck syslogd must not stall the server: a line that cannot be sent within this
        // is dropped.
        sock.set_write_timeout(Some(SEND_TIMEOUT)).ok()?;
        Some(sock)
    }

    /// Sends one message; a failure other than a timeout reconnects once and retries, then
    /// the line is dropped (as syslog(3) does when syslogd is gone).
    pub fn send(&self, level: &Level, secs: u64, message: &str) {
        let d = datagram(self.facility, level, secs, message);
        let mut sock = self.sock.lock().unwrap();
        if let Some(s) = sock.as_ref() {
            match s.send(&d) {
                Ok(_) => return,
                Err(e) if e.kind() == std::io::ErrorKind::WouldBlock => return,
                Err(e) if e.kind() == std::io::ErrorKind::TimedOut => return,
                Err(_) => {}
            }
        }
        *sock = self.connect();
        if let Some(s) = sock.as_ref() {
            let _ = s.send(&d);
        }
    }

    /// Reconnects (`log reopen`).
    pub fn reopen(&self) {
        let fresh = self.connect();
        *self.sock.lock().unwrap() = fresh;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn datagrams_are_rfc3164() {
        // 2026-11-28 21:52:07 UTC
        let secs = 20_785 * 86_400 + 21 * 3600 + 52 * 60 + 7;
        let d = datagram(2, &Level::INFO, secs, "imap-login: Login: user=<bob>");
        assert_eq!(
            String::from_utf8(d).unwrap(),
            "<22>Nov 28 21:52:07 dovecot: imap-login: Login: user=<bob>"
        );
        let d = datagram(16, &Level::ERROR, 86_400 * 3, "auth: Error: x");
        assert_eq!(
            String::from_utf8(d).unwrap(),
            "<131>Jan  4 00:00:00 dovecot: auth: Error: x"
        );
        assert_eq!(facility("LOCAL7"), Ok(23));
        assert!(facility("mial").unwrap_err().contains("local0"));
    }
}
