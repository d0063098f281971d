//! Dovecot 2.3's IMAP settings (`imap-settings.c`), with its names and defaults, flattened into
//! `Settings` at the top level of the configuration: `imap_capability` (replaces, or with a
//! leading `+` extends, the capability list of imap-login and imap), `imap_idle_notify_interval`,
//! `imap_max_line_length`, `imap_client_workarounds`, `imap_logout_format`, `imap_id_send`,
//! `imap_id_log`, `imap_fetch_failure` and `imap_hibernate_timeout`; their start-up checks
//! ([`check`]) and the small pieces of behaviour that read them: the capability strings, the ID
//! reply (`imap_id_reply_generate`) and the `ID sent:` log text.

use serde::{Deserialize, Serialize};

use crate::protocol::imap::command::IdField;
use crate::settings::values::{Size, Time};

/// `imap_fetch_failure`: what a FETCH does when a message cannot be read.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum FetchFailure {
    /// `* BYE FETCH failed: …` at the first failure (Dovecot's default).
    #[default]
    DisconnectImmediately,
    /// The other messages are sent, then the BYE.
    DisconnectAfter,
    /// The other messages are sent, then `NO [SERVERBUG]`; the BYE only when the client
    /// fetches a failed message again.
    NoAfter,
}

/// The workarounds of `imap_client_workarounds`.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Workarounds {
    /// New-mail EXISTS/RECENT (and expunges) only in replies to NOOP, CHECK and IDLE.
    pub delay_newmail: bool,
    /// A trailing hierarchy separator on a mailbox name is dropped.
    pub tb_extra_mailbox_sep: bool,
    /// LSUB replies carry mailbox flags.
    pub tb_lsub_flags: bool,
}

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(default)]
pub struct ImapSettings {
    /// Empty: roost's own list. A list: replaces it (imap-login shows it as is, plus
    /// STARTTLS/LOGINDISABLED/AUTH=). `+A B`: appended to the default list.
    pub imap_capability: String,
    /// `* OK Still here` this often during IDLE.
    pub imap_idle_notify_interval: Time,
    /// Longest command line (literals excluded) the imap service reads.
    pub imap_max_line_length: Size,
    /// `delay-newmail`, `tb-extra-mailbox-sep`, `tb-lsub-flags` (space/comma separated).
    pub imap_client_workarounds: String,
    /// The fields of the `Disconnected:` line.
    pub imap_logout_format: String,
    /// The server's ID reply: `key value` pairs, `*` = the default value.
    pub imap_id_send: String,
    /// Which of the client's ID fields to log (`*` = all).
    pub imap_id_log: String,
    pub imap_fetch_failure: FetchFailure,
    /// Accepted (an idle roost session already costs what a hibernated one does).
    pub imap_hibernate_timeout: Time,
}

pub const DEFAULT_LOGOUT_FORMAT: &str = "in=%i out=%o deleted=%{deleted} expunged=%{expunged} \
trashed=%{trashed} hdr_count=%{fetch_hdr_count} hdr_bytes=%{fetch_hdr_bytes} \
body_count=%{fetch_body_count} body_bytes=%{fetch_body_bytes}";

impl Default for ImapSettings {
    fn default() -> Self {
        ImapSettings {
            imap_capability: String::new(),
            imap_idle_notify_interval: Time::from_secs(120),
            imap_max_line_length: Size(64 * 1024),
            imap_client_workarounds: String::new(),
            imap_logout_format: DEFAULT_LOGOUT_FORMAT.into(),
            imap_id_send: "name *".into(),
            imap_id_log: String::new(),
            imap_fetch_failure: FetchFailure::DisconnectImmediately,
            imap_hibernate_timeout: Time::ZERO,
        }
    }
}

/// Variables `imap_logout_format` may use (long names; `%i`, `%o`, `%u`, `%n`, `%d`, `%s`,
/// `%r`, `%l` are the short ones).
pub const LOGOUT_VARIABLES: &[&str] = &[
    "input",
    "output",
    "session",
    "fetch_hdr_count",
    "fetch_hdr_bytes",
    "fetch_body_count",
    "fetch_body_bytes",
    "deleted",
    "expunged",
    "trashed",
    "autoexpunged",
    "appended",
    "user",
    "username",
    "domain",
    "service",
    "rip",
    "lip",
];

const SHORT_VARIABLES: &str = "ioundsrl";

/// Start-up checks; `Err((setting, message))` names the setting at fault.
pub fn check(s: &ImapSettings) -> Result<(), (&'static str, String)> {
    parse_workarounds(&s.imap_client_workarounds).map_err(|w| {
        (
            "imap_client_workarounds",
            format!("Unknown workaround: {w}"),
        )
    })?;
    if s.imap_max_line_length.0 < 1024 {
        return Err(("imap_max_line_length", "must be at least 1k".into()));
    }
    if s.imap_idle_notify_interval.is_zero() {
        return Err(("imap_idle_notify_interval", "must not be 0".into()));
    }
    if let Err(v) = expand_format(&s.imap_logout_format, |_| Some(String::new())) {
        return Err(("imap_logout_format", format!("Unknown variable: {v}")));
    }
    if parse_id_send(&s.imap_id_send).is_none() {
        return Err((
            "imap_id_send",
            "expected `key value` pairs (quoted strings, atoms or NIL)".into(),
        ));
    }
    Ok(())
}

/// Parses `imap_client_workarounds`; the unknown name is the error.
pub fn parse_workarounds(s: &str) -> Result<Workarounds, String> {
    let mut w = Workarounds::default();
    for word in crate::settings::values::split_list(s) {
        match word.to_ascii_lowercase().as_str() {
            "delay-newmail" => w.delay_newmail = true,
            "tb-extra-mailbox-sep" => w.tb_extra_mailbox_sep = true,
            "tb-lsub-flags" => w.tb_lsub_flags = true,
            _ => return Err(word),
        }
    }
    Ok(w)
}

impl ImapSettings {
    pub fn workarounds(&self) -> Workarounds {
        parse_workarounds(&self.imap_client_workarounds).unwrap_or_default()
    }

    /// The capability list after login from roost's own `default` list, by Dovecot's rule.
    pub fn capability(&self, default: &str) -> String {
        let c = self.imap_capability.trim();
        match c.strip_prefix('+') {
            _ if c.is_empty() => default.to_string(),
            Some(extra) => format!("{default} {}", extra.trim()),
            None => c.to_string(),
        }
    }

    /// Whether the list was given explicitly (imap-login then adds no LITERAL+ of its own).
    pub fn capability_explicit(&self) -> bool {
        let c = self.imap_capability.trim();
        !c.is_empty() && !c.starts_with('+')
    }

    /// `* ID …` for this configuration (without the `* ID ` and CRLF).
    pub fn id_reply(&self) -> String {
        id_reply(&self.imap_id_send)
    }
}

/// `imap_id_send`'s pairs: `None` when it does not parse.
fn parse_id_send(s: &str) -> Option<Vec<Option<String>>> {
    let mut out = Vec::new();
    let b = s.as_bytes();
    let mut i = 0;
    while i < b.len() {
        match b[i] {
            b' ' | b'\t' => i += 1,
            b'"' => {
                let mut v = String::new();
                i += 1;
                loop {
                    match *b.get(i)? {
                        b'"' => break,
                        b'\\' => {
                            v.push(*b.get(i + 1)? as char);
                            i += 2;
                        }
                        c => {
                            v.push(c as char);
                            i += 1;
                        }
                    }
                }
                i += 1;
                out.push(Some(v));
            }
            b'(' | b')' | b'{' => return None,
            _ => {
                let start = i;
                while i < b.len() && !matches!(b[i], b' ' | b'\t' | b'"' | b'(' | b')') {
                    i += 1;
                }
                let w = &s[start..i];
                out.push((!w.eq_ignore_ascii_case("NIL")).then(|| w.to_string()));
            }
        }
    }
    Some(out)
}

/// The value `*` stands for (Dovecot's `imap_id_get_default`; roost answers as the Dovecot
/// 2.3 it replaces, as its greeting does).
fn id_default(key: &str) -> Option<String> {
    match key.to_ascii_lowercase().as_str() {
        "name" => Some("Dovecot".into()),
        "version" => Some("2.3.19.1".into()),
        "os" | "os-version" => nix::sys::utsname::uname().ok().map(|u| {
            let v = if key.eq_ignore_ascii_case("os") {
                u.sysname()
            } else {
                u.release()
            };
            v.to_string_lossy().into_owned()
        }),
        _ => None,
    }
}

fn quoted(s: &str) -> String {
    let mut o = String::from("\"");
    for c in s.chars() {
        if c == '"' || c == '\\' {
            o.push('\\');
        }
        o.push(c);
    }
    o.push('"');
    o
}

/// Dovecot's `imap_id_reply_generate`: `("name" "Dovecot" …)`, or `NIL`.
pub fn id_reply(settings: &str) -> String {
    let Some(args) = parse_id_send(settings) else {
        return "NIL".into();
    };
    if args.is_empty() {
        return "NIL".into();
    }
    let mut parts = Vec::new();
    let mut it = args.into_iter();
    while let Some(k) = it.next() {
        let Some(k) = k else {
            it.next();
            continue;
        };
        let v = match it.next() {
            None => None,
            Some(Some(v)) if v == "*" => id_default(&k),
            Some(v) => v,
        };
        parts.push(format!(
            "{} {}",
            quoted(&k),
            v.map(|v| quoted(&v)).unwrap_or_else(|| "NIL".into())
        ));
    }
    if parts.is_empty() {
        return "NIL".into();
    }
    format!("({})", parts.join(" "))
}

/// Dovecot's `imap_id_args_get_log_reply`: `key=value, …` of the fields `imap_id_log` names
/// (`*` = all), keys over 30 bytes skipped, values cut at 80; `None` when nothing to log.
pub fn id_log_text(settings: &str, fields: &[IdField]) -> Option<String> {
    let settings = settings.trim();
    if settings.is_empty() {
        return None;
    }
    let all = settings == "*";
    let keys: Vec<&str> = settings.split_whitespace().collect();
    let mut out = Vec::new();
    for (k, v) in fields {
        if k.len() > 30 {
            continue;
        }
        let key = String::from_utf8_lossy(k);
        if !all && !keys.iter().any(|w| w.eq_ignore_ascii_case(&key)) {
            continue;
        }
        let value = match v {
            Some(v) => sanitize(&String::from_utf8_lossy(v), 80),
            None => String::new(),
        };
        out.push(format!("{}={value}", sanitize(&key, 30)));
    }
    (!out.is_empty()).then(|| out.join(", "))
}

/// Dovecot's `str_sanitize`: control characters become `?`, and a value over `max` bytes is
/// cut with `...`.
fn sanitize(s: &str, max: usize) -> String {
    let clean: String = s
        .chars()
        .map(|c| if c.is_control() { '?' } else { c })
        .collect();
    if clean.len() <= max {
        return clean;
    }
    let mut cut = max.saturating_sub(3);
    while !clean.is_char_boundary(cut) {
        cut -= 1;
    }
    format!("{}...", &clean[..cut])
}

/// Expands `%x` / `%{name}` / `%%` with `value` (by long name); the unknown name is the error.
pub fn expand_format(
    format: &str,
    value: impl Fn(&str) -> Option<String>,
) -> Result<String, String> {
    let mut out = String::with_capacity(format.len() + 32);
    let mut chars = format.chars();
    while let Some(c) = chars.next() {
        if c != '%' {
            out.push(c);
            continue;
        }
        let name = match chars.next() {
            Some('%') => {
                out.push('%');
                continue;
            }
            Some('{') => {
                let n: String = chars.by_ref().take_while(|&c| c != '}').collect();
                n
            }
            Some(c) if SHORT_VARIABLES.contains(c) => match c {
                'i' => "input",
                'o' => "output",
                'u' => "user",
                'n' => "username",
                'd' => "domain",
                's' => "service",
                'r' => "rip",
                _ => "lip",
            }
            .to_string(),
            Some(c) => return Err(format!("%{c}")),
            None => return Err("%".into()),
        };
        if !LOGOUT_VARIABLES.contains(&name.as_str()) {
            return Err(name);
        }
        out.push_str(&value(&name).ok_or(name)?);
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn capability_follows_dovecots_rule() {
        let mut s = ImapSettings::default();
        assert_eq!(s.capability("IMAP4rev1 IDLE"), "IMAP4rev1 IDLE");
        s.imap_capability = "+XFOO XBAR".into();
        assert_eq!(s.capability("IMAP4rev1 IDLE"), "IMAP4rev1 IDLE XFOO XBAR");
        assert!(!s.capability_explicit());
        s.imap_capability = "IMAP4rev1 XONLY".into();
        assert_eq!(s.capability("IMAP4rev1 IDLE"), "IMAP4rev1 XONLY");
        assert!(s.capability_explicit());
    }

    #[test]
    fn id_reply_is_dovecots() {
        assert_eq!(id_reply("name *"), "(\"name\" \"Dovecot\")");
        assert_eq!(
            id_reply("name * support-url \"http://x\" vendor NIL"),
            "(\"name\" \"Dovecot\" \"support-url\" \"http://x\" \"vendor\" NIL)"
        );
        assert_eq!(id_reply(""), "NIL");
        assert_eq!(id_reply("name"), "(\"name\" NIL)");
        assert!(id_reply("os *").starts_with("(\"os\" \""));
    }

    #[test]
    fn id_log_picks_fields() {
        let f: Vec<IdField> = vec![
            (b"name".to_vec(), Some(b"Thunderbird".to_vec())),
            (b"version".to_vec(), Some(b"115.0\x01".to_vec())),
            (b"x".repeat(31), Some(b"dropped".to_vec())),
            (b"vendor".to_vec(), None),
        ];
        assert_eq!(
            id_log_text("*", &f).unwrap(),
            "name=Thunderbird, version=115.0?, vendor="
        );
        assert_eq!(id_log_text("NAME", &f).unwrap(), "name=Thunderbird");
        assert_eq!(id_log_text("", &f), None);
        assert_eq!(id_log_text("os", &f), None);
    }

    #[test]
    fn settings_are_checked() {
        let mut s = ImapSettings::default();
        assert!(check(&s).is_ok());
        s.imap_client_workarounds = "delay-newmail, tb-lsub-flags".into();
        assert!(check(&s).is_ok());
        assert!(s.workarounds().delay_newmail && s.workarounds().tb_lsub_flags);
        s.imap_client_workarounds = "outlook-idle".into();
        assert_eq!(
            check(&s).unwrap_err(),
            (
                "imap_client_workarounds",
                "Unknown workaround: outlook-idle".into()
            )
        );
        let mut s = ImapSettings {
            imap_logout_format: "in=%i bogus=%{bogus}".into(),
            ..ImapSettings::default()
        };
        assert_eq!(check(&s).unwrap_err().0, "imap_logout_format");
        s.imap_logout_format = "%x".into();
        assert!(check(&s).is_err());
    }

    #[test]
    fn format_expands() {
        let v = |n: &str| Some(format!("<{n}>"));
        assert_eq!(
            expand_format("in=%i %{deleted} %% %u", v).unwrap(),
            "in=<input> <deleted> % <user>"
        );
    }
}
