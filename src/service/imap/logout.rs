//! The imap session's `Disconnected:` log line, as Dovecot's `client_log_disconnect` writes it:
//! `imap(user)<pid><session>: Info: Disconnected: <reason> <imap_logout_format>` with the
//! session's real counters ([`Stats`]: bytes in and out, messages marked \Deleted, expunged,
//! copied to a \Trash mailbox, FETCHed header and body sections and their bytes) and Dovecot's
//! reasons (`Logged out`, `Connection closed (NOOP finished 0.000 secs ago)`, `Connection
//! closed (No commands sent)`, `Server shutting down.`, `Inactivity - no input for N secs`).

use std::time::Duration;

use serde::{Deserialize, Serialize};
use tokio::time::Instant;

use super::settings::expand_format;

/// What `imap_logout_format` counts (Dovecot's `struct client` counters).
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Stats {
    /// Bytes read from the client after login (`%i`).
    pub input: u64,
    /// Bytes written to the client, the `Logged in` reply included (`%o`).
    pub output: u64,
    pub fetch_hdr_count: u64,
    pub fetch_hdr_bytes: u64,
    pub fetch_body_count: u64,
    pub fetch_body_bytes: u64,
    /// Messages that STORE gave \Deleted (not counting those that had it).
    pub deleted: u64,
    /// Messages EXPUNGE, UID EXPUNGE and CLOSE removed.
    pub expunged: u64,
    /// Messages COPY/MOVE put into a mailbox whose `special_use` is \Trash.
    pub trashed: u64,
    pub appended: u64,
}

impl Stats {
    /// One FETCHed section: a header-only one (`HEADER`, `HEADER.FIELDS…`, `MIME`,
    /// `RFC822.HEADER`) counts as a header fetch, anything with body text as a body fetch.
    pub fn fetched(&mut self, header_only: bool, bytes: usize) {
        if header_only {
            self.fetch_hdr_count += 1;
            self.fetch_hdr_bytes += bytes as u64;
        } else {
            self.fetch_body_count += 1;
            self.fetch_body_bytes += bytes as u64;
        }
    }
}

/// Who the line is about.
pub struct Who<'a> {
    pub user: &'a str,
    pub session_id: &'a str,
    pub rip: String,
    pub lip: String,
}

/// The text after `Disconnected: ` (reason, a space, the expanded format).
pub fn text(format: &str, reason: &str, stats: &Stats, who: &Who<'_>) -> String {
    let (username, domain) = match who.user.split_once('@') {
        Some((n, d)) => (n, d),
        None => (who.user, ""),
    };
    let value = |name: &str| -> Option<String> {
        Some(match name {
            "input" => stats.input.to_string(),
            "output" => stats.output.to_string(),
            "session" => who.session_id.to_string(),
            "fetch_hdr_count" => stats.fetch_hdr_count.to_string(),
            "fetch_hdr_bytes" => stats.fetch_hdr_bytes.to_string(),
            "fetch_body_count" => stats.fetch_body_count.to_string(),
            "fetch_body_bytes" => stats.fetch_body_bytes.to_string(),
            "deleted" => stats.deleted.to_string(),
            "expunged" => stats.expunged.to_string(),
            "trashed" => stats.trashed.to_string(),
            "autoexpunged" => "0".into(),
            "appended" => stats.appended.to_string(),
            "user" => who.user.to_string(),
            "username" => username.to_string(),
            "domain" => domain.to_string(),
            "service" => "imap".into(),
            "rip" => who.rip.clone(),
            "lip" => who.lip.clone(),
            _ => return None,
        })
    };
    // The format was checked at start-up; an error cannot happen here.
    let fields = expand_format(format, value).unwrap_or_default();
    format!("{reason} {fields}")
}

/// `N.NNN` seconds as Dovecot prints them.
pub fn secs(d: Duration) -> String {
    let ms = d.as_millis();
    format!("{}.{:03}", ms / 1000, ms % 1000)
}

/// The last command, for `Connection closed (X finished N secs ago)`.
pub struct LastCommand {
    /// The name as the client wrote it (`fetch`, `UID FETCH`).
    pub name: String,
    pub finished: Instant,
}

/// Dovecot's reason for a connection the client closed.
/// (`sent` is the session's byte count now.)
pub fn closed_reason(last: Option<&LastCommand>, running: Option<&Running>, sent: u64) -> String {
    if let Some(r) = running {
        return format!(
            "Connection closed ({} running for 0.001 + waiting input for {} secs, {} B in + {} B out, state=wait-input)",
            r.name,
            secs(r.started.elapsed()),
            r.bytes_in,
            sent - r.sent_before
        );
    }
    match last {
        None => "Connection closed (No commands sent)".into(),
        Some(l) => format!(
            "Connection closed ({} finished {} secs ago)",
            l.name,
            secs(l.finished.elapsed())
        ),
    }
}

/// A command still running when the connection closed (IDLE).
pub struct Running {
    pub name: String,
    pub started: Instant,
    /// The command line's bytes.
    pub bytes_in: u64,
    /// The session's output count when the command started.
    pub sent_before: u64,
}

/// The command name as written in a command line (`tag NAME …`, `tag UID NAME …`).
pub fn raw_name(line: &[u8]) -> String {
    let line = line
        .split(|&b| b == b'\r' || b == b'\n')
        .next()
        .unwrap_or(b"");
    let mut words = line.split(|&b| b == b' ').skip(1);
    let first = String::from_utf8_lossy(words.next().unwrap_or(b"")).into_owned();
    if first.eq_ignore_ascii_case("UID") {
        let second = String::from_utf8_lossy(words.next().unwrap_or(b"")).into_owned();
        return format!("UID {second}");
    }
    first
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn default_format_line() {
        let stats = Stats {
            input: 10,
            output: 20,
            deleted: 1,
            expunged: 2,
            fetch_hdr_count: 3,
            fetch_hdr_bytes: 4,
            fetch_body_count: 5,
            fetch_body_bytes: 6,
            ..Stats::default()
        };
        let who = Who {
            user: "bob@example.org",
            session_id: "abc",
            rip: "127.0.0.1".into(),
            lip: "127.0.0.1".into(),
        };
        assert_eq!(
            text(
                super::super::settings::DEFAULT_LOGOUT_FORMAT,
                "Logged out",
                &stats,
                &who
            ),
            "Logged out in=10 out=20 deleted=1 expunged=2 trashed=0 hdr_count=3 hdr_bytes=4 \
body_count=5 body_bytes=6"
        );
        assert_eq!(
            text("%n at %d %{session}", "x", &stats, &who),
            "x bob at example.org abc"
        );
    }

    #[test]
    fn names_as_written() {
        assert_eq!(raw_name(b"a1 fetch 1 (FLAGS)\r\n"), "fetch");
        assert_eq!(raw_name(b"a1 uid FETCH 1 (FLAGS)\r\n"), "UID FETCH");
        assert_eq!(raw_name(b"a1 NOOP\r\n"), "NOOP");
        assert_eq!(secs(Duration::from_millis(3002)), "3.002");
    }
}
