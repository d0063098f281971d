//! The auth service's log lines about one request, in Dovecot 2.3's shape:
//! `NAME(USER,RIP,<SESSION>): MESSAGE`, where NAME is the passdb driver (`passwd-file`,
//! `static`, `shadow`) or the lowercased mechanism (`plain`, `cram-md5`), USER is `?` before a
//! username is known, and RIP and `<SESSION>` appear only when the client sent them. Info lines
//! (failed logins and why) are written only with `auth_verbose` (or `auth_debug`), as Dovecot
//! does; errors always. `auth_verbose_passwords` adds `(given password: …)` to login failures.

use std::fmt::Write as _;

use super::Engine;
use crate::service::auth::api::ClientInfo;
use crate::service::auth::schemes::hex_encode;

/// Dovecot's `MAX_LOG_USERNAME_LEN`.
const MAX_LOG_USERNAME_LEN: usize = 64;

/// `auth_verbose_passwords`: how a given password is shown (0 = not truncated).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum VerbosePasswords {
    No,
    Plain(usize),
    Sha1(usize),
}

impl VerbosePasswords {
    /// Parses `no`, `yes`/`plain`, `sha1`, each optionally followed by `:N`.
    pub fn parse(s: &str) -> Result<VerbosePasswords, String> {
        let (how, len) = match s.split_once(':') {
            Some((h, n)) => (
                h,
                n.parse::<usize>()
                    .map_err(|_| format!("auth_verbose_passwords: invalid truncation '{n}'"))?,
            ),
            None => (s, 0),
        };
        match how {
            "" | "no" => Ok(VerbosePasswords::No),
            "yes" | "plain" => Ok(VerbosePasswords::Plain(len)),
            "sha1" => Ok(VerbosePasswords::Sha1(len)),
            other => Err(format!(
                "auth_verbose_passwords: unknown value '{other}' (no, plain, sha1)"
            )),
        }
    }

    /// The password as logged, or `None` when passwords are not logged.
    fn show(self, password: &[u8]) -> Option<String> {
        let (mut text, len) = match self {
            VerbosePasswords::No => return None,
            VerbosePasswords::Plain(n) => (String::from_utf8_lossy(password).into_owned(), n),
            VerbosePasswords::Sha1(n) => {
                let d = ring::digest::digest(&ring::digest::SHA1_FOR_LEGACY_USE_ONLY, password);
                (hex_encode(d.as_ref()), n)
            }
        };
        if len > 0 {
            if let Some((i, _)) = text.char_indices().nth(len) {
                text.truncate(i);
            }
        }
        Some(text)
    }
}

/// Who a line is about: the passdb driver or mechanism, the user (if known) and the client.
pub struct Who<'a> {
    pub name: &'a str,
    pub user: Option<&'a str>,
    pub info: &'a ClientInfo,
}

impl Who<'_> {
    /// `NAME(USER,RIP,<SESSION>): `.
    pub fn prefix(&self) -> String {
        let mut s = String::with_capacity(64);
        s.push_str(self.name);
        s.push('(');
        match self.user {
            Some(u) => sanitize_into(&mut s, u, MAX_LOG_USERNAME_LEN),
            None => s.push('?'),
        }
        if let Some(a) = self.info.remote {
            let _ = write!(s, ",{}", a.ip());
        }
        if !self.info.session_id.is_empty() {
            let _ = write!(s, ",<{}>", self.info.session_id);
        }
        s.push_str("): ");
        s
    }
}

/// Dovecot's `str_sanitize_append`: control characters become `?`, and text longer than `max`
/// bytes is cut (at a character boundary) and ends with `...`.
fn sanitize_into(out: &mut String, s: &str, max: usize) {
    let cut = if s.len() > max {
        let mut end = max.saturating_sub(3);
        while !s.is_char_boundary(end) {
            end -= 1;
        }
        Some(end)
    } else {
        None
    };
    let text = &s[..cut.unwrap_or(s.len())];
    out.extend(text.chars().map(|c| if c.is_control() { '?' } else { c }));
    if cut.is_some() {
        out.push_str("...");
    }
}

impl Engine {
    /// `auth_verbose` (implied by `auth_debug`).
    pub fn verbose(&self) -> bool {
        self.cfg.auth_verbose || self.cfg.auth_debug
    }

    /// An Info line about a request, with `auth_verbose` only.
    pub fn log_info(&self, who: &Who, msg: &str) {
        if self.verbose() {
            tracing::info!("{}{msg}", who.prefix());
        }
    }

    /// An Error line about a request (always written).
    pub fn log_error(&self, who: &Who, msg: &str) {
        tracing::error!("{}{msg}", who.prefix());
    }

    /// A failed login (`Password mismatch`, `unknown user`): with `auth_verbose_passwords`
    /// the password given is appended, and ` - trying the next passdb` when one follows.
    pub fn log_login_failure(
        &self,
        who: &Who,
        msg: &str,
        password: Option<&[u8]>,
        next_passdb: bool,
    ) {
        if !self.verbose() {
            return;
        }
        let prefix = who.prefix();
        let shown = password.and_then(|p| self.verbose_passwords.show(p));
        match shown {
            None => tracing::info!("{prefix}{msg}"),
            Some(p) => {
                let next = if next_passdb {
                    " - trying the next passdb"
                } else {
                    ""
                };
                tracing::info!("{prefix}{msg} (given password: {p}){next}")
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn prefixes_as_dovecot_writes_them() {
        let mut info = ClientInfo::default();
        let who = |u, i: &ClientInfo| {
            Who {
                name: "passwd-file",
                user: u,
                info: i,
            }
            .prefix()
        };
        assert_eq!(who(Some("user1"), &info), "passwd-file(user1): ");
        info.remote = Some("192.0.2.7:5555".parse().unwrap());
        assert_eq!(who(Some("user1"), &info), "passwd-file(user1,192.0.2.7): ");
        info.session_id = "abc".into();
        assert_eq!(who(None, &info), "passwd-file(?,192.0.2.7,<abc>): ");
        let long = "x".repeat(70);
        assert_eq!(
            who(Some(&long), &info),
            format!("passwd-file({}...,192.0.2.7,<abc>): ", "x".repeat(61))
        );
        assert_eq!(
            who(Some("a\nb"), &info),
            "passwd-file(a?b,192.0.2.7,<abc>): "
        );
    }

    #[test]
    fn verbose_passwords_values() {
        assert_eq!(VerbosePasswords::parse("no"), Ok(VerbosePasswords::No));
        assert_eq!(
            VerbosePasswords::parse("plain:3"),
            Ok(VerbosePasswords::Plain(3))
        );
        assert!(VerbosePasswords::parse("rot13").is_err());
        assert!(VerbosePasswords::parse("sha1:x").is_err());
        assert_eq!(
            VerbosePasswords::Plain(3).show(b"wrongpw").as_deref(),
            Some("wro")
        );
        assert_eq!(
            VerbosePasswords::Sha1(0).show(b"pass").as_deref(),
            Some("9d4e1e23bd5b727046a9e3b4b7db57bd8d6ee684")
        );
        assert_eq!(VerbosePasswords::No.show(b"pass"), None);
    }
}
