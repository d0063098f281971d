//! What a pre-login client has tried, for the line Dovecot's login services log when such a
//! client goes away without logging in (`Disconnected: Connection closed (auth failed, 2
//! attempts in 8 secs): user=<bob>, method=PLAIN, rip=…`): the reason in parentheses follows
//! login-common's `client_get_extra_disconnect_reason` of Dovecot 2.3, so fail2ban filters
//! written for Dovecot match roost's lines.

use tokio::time::Instant;

/// A pre-login client's attempts so far.
#[derive(Debug)]
pub struct Tally {
    created: Instant,
    first_attempt: Option<Instant>,
    pub attempts: u32,
    /// The user of the last attempt, when the mechanism names one (`USER`, `LOGIN`, PLAIN).
    pub user: String,
    /// The mechanism of the last attempt (`PLAIN` for USER/PASS and LOGIN).
    pub method: String,
    pub tried_disabled_plaintext: bool,
    pub tried_unsupported_mech: bool,
    pub aborted: bool,
    /// The connection ended while the client owed a SASL response.
    pub unfinished_sasl: bool,
}

impl Tally {
    pub fn new(created: Instant) -> Tally {
        Tally {
            created,
            first_attempt: None,
            attempts: 0,
            user: String::new(),
            method: String::new(),
            tried_disabled_plaintext: false,
            tried_unsupported_mech: false,
            aborted: false,
            unfinished_sasl: false,
        }
    }

    /// An authentication attempt starts with `mechanism`; `user` when it is known.
    pub fn attempt(&mut self, now: Instant, mechanism: &str, user: Option<&str>) {
        self.attempts += 1;
        self.first_attempt.get_or_insert(now);
        self.method = mechanism.to_ascii_uppercase();
        if let Some(u) = user {
            self.user = u.to_string();
        }
    }

    /// The parenthesised part of the disconnect line.
    pub fn reason(&self, now: Instant) -> String {
        let secs = |from: Instant| now.saturating_duration_since(from).as_secs();
        if self.attempts == 0 {
            return format!("(no auth attempts in {} secs)", secs(self.created));
        }
        let auth_secs = self.first_attempt.map(secs).unwrap_or(0);
        if self.tried_disabled_plaintext {
            return "(tried to use disallowed plaintext auth)".into();
        }
        if self.tried_unsupported_mech {
            return "(tried to use unsupported auth mechanism)".into();
        }
        if self.unfinished_sasl && self.attempts == 1 {
            return format!("(client didn't finish SASL auth, waited {auth_secs} secs)");
        }
        if self.aborted && self.attempts == 1 {
            return "(aborted authentication)".into();
        }
        format!(
            "(auth failed, {} attempts in {auth_secs} secs)",
            self.attempts
        )
    }
}

/// The authentication identity of a SASL PLAIN message (`authzid\0authcid\0password`).
pub fn plain_user(message: &[u8]) -> Option<String> {
    let mut parts = message.split(|b| *b == 0);
    let _authzid = parts.next()?;
    let authcid = parts.next()?;
    parts.next()?;
    Some(String::from_utf8_lossy(authcid).into_owned())
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::time::Duration;

    #[test]
    fn reasons_in_dovecots_words() {
        let t0 = Instant::now();
        let s = |n| t0 + Duration::from_secs(n);
        let mut t = Tally::new(t0);
        assert_eq!(t.reason(s(0)), "(no auth attempts in 0 secs)");
        t.attempt(s(1), "plain", Some("bob"));
        assert_eq!(t.reason(s(4)), "(auth failed, 1 attempts in 3 secs)");
        t.attempt(s(5), "PLAIN", None);
        assert_eq!(t.reason(s(9)), "(auth failed, 2 attempts in 8 secs)");
        assert_eq!((t.user.as_str(), t.method.as_str()), ("bob", "PLAIN"));
        let mut t = Tally::new(t0);
        t.attempt(s(0), "PLAIN", None);
        t.unfinished_sasl = true;
        assert_eq!(
            t.reason(s(4)),
            "(client didn't finish SASL auth, waited 4 secs)"
        );
        let mut t = Tally::new(t0);
        t.attempt(s(0), "PLAIN", None);
        t.tried_disabled_plaintext = true;
        assert_eq!(t.reason(s(1)), "(tried to use disallowed plaintext auth)");
    }

    #[test]
    fn plain_identity() {
        assert_eq!(plain_user(b"\0bob\0pw").as_deref(), Some("bob"));
        assert_eq!(plain_user(b"admin\0bob\0pw").as_deref(), Some("bob"));
        assert_eq!(plain_user(b"bob"), None);
    }
}
