//! The user's namespace as IMAP sees it: the configured prefix and separator over the
//! store's folder names, the name mapping both ways (client name, "vname", in wire form ↔
//! storage name: `Sent/2024` ↔ Maildir++ `Sent.2024`), Dovecot's refusals of bad names with
//! its wording, the NAMESPACE reply, and the configured mailboxes (`special_use`, `auto`).

use crate::mail::location::Layout;
use crate::mail::namespace::{self, AutoMailbox, NamespaceSettings};
use crate::protocol::imap::utf7;
use crate::settings::Settings;

/// One configured mailbox, by its client name (wire form, with the prefix).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Configured {
    pub vname: String,
    /// `\Sent` etc., space separated as configured (normalised); empty if none.
    pub special_use: String,
    pub auto: AutoMailbox,
}

/// The namespace of a session.
#[derive(Clone, Debug)]
pub struct Namespace {
    /// Wire-form prefix (`""`, `INBOX/`, `Mail/`).
    pub prefix: String,
    pub sep: char,
    /// The storage's separator (`.` Maildir++, `/` fs).
    pub storage_sep: char,
    pub mailboxes: Vec<Configured>,
}

/// Where a client's mailbox name points.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Target {
    Inbox,
    /// A folder, by storage name.
    Folder(String),
    /// The namespace prefix itself (`Mail` for `Mail/`): no mailbox.
    Root,
}

/// A name Dovecot refuses, with its reply.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum NameError {
    NotUtf7,
    Empty,
    AdjacentSeparators,
    LeadingSeparator,
    Character(char),
    /// `/` in a Maildir++ name when the separator is not `/`.
    Slash,
    /// Outside the namespace prefix.
    NoNamespace(String),
}

impl NameError {
    /// `(response code, text)` of the `NO` reply.
    pub fn reply(&self) -> (Option<&'static str>, String) {
        match self {
            NameError::NotUtf7 => (None, "Mailbox name is not valid mUTF-7".into()),
            NameError::Empty => (Some("CANNOT"), "Invalid mailbox name: Name is empty".into()),
            NameError::AdjacentSeparators => (
                Some("CANNOT"),
                "Invalid mailbox name: Has adjacent hierarchy separators".into(),
            ),
            NameError::LeadingSeparator => (
                Some("CANNOT"),
                "Invalid mailbox name: Begins with hierarchy separator".into(),
            ),
            NameError::Character(c) => (
                Some("CANNOT"),
                format!("Character not allowed in mailbox name: '{c}'"),
            ),
            NameError::Slash => (
                Some("CANNOT"),
                "Invalid mailbox name: Name must not have '/' characters".into(),
            ),
            NameError::NoNamespace(p) => (
                None,
                format!(
                    "Client tried to access nonexistent namespace. (Mailbox name should \
                     probably be prefixed with: {p})"
                ),
            ),
        }
    }
}

impl Namespace {
    /// The namespace for a store with `layout`, from the settings.
    pub fn new(settings: &Settings, layout: Layout) -> Namespace {
        let ns: NamespaceSettings = namespace::effective(&settings.mail.namespace);
        let storage_sep = match layout {
            Layout::MaildirPlusPlus => '.',
            Layout::Fs => '/',
        };
        let sep = ns.separator.chars().next().unwrap_or(storage_sep);
        let prefix = utf7::encode(&ns.prefix);
        let mailboxes = ns
            .mailbox
            .iter()
            .map(|(name, m)| {
                let vname = if name.eq_ignore_ascii_case("INBOX") {
                    "INBOX".to_string()
                } else {
                    format!("{prefix}{}", utf7::encode(name))
                };
                Configured {
                    vname,
                    special_use: m
                        .special_use
                        .split_whitespace()
                        .collect::<Vec<_>>()
                        .join(" "),
                    auto: m.auto,
                }
            })
            .collect();
        Namespace {
            prefix,
            sep,
            storage_sep,
            mailboxes,
        }
    }

    /// `* NAMESPACE (("prefix" "sep")) NIL NIL` data.
    pub fn personal(&self) -> (&str, char) {
        (&self.prefix, self.sep)
    }

    /// Maps a client's name (wire form) to where it points; a trailing separator is dropped
    /// (`CREATE a/` creates `a`).
    pub fn resolve(&self, raw: &[u8]) -> Result<Target, NameError> {
        utf7::decode(raw).map_err(|_| NameError::NotUtf7)?;
        let s = std::str::from_utf8(raw).map_err(|_| NameError::NotUtf7)?;
        let s = s.strip_suffix(self.sep).unwrap_or(s);
        if s.eq_ignore_ascii_case("INBOX") {
            return Ok(Target::Inbox);
        }
        if s.is_empty() && self.prefix.is_empty() {
            return Err(NameError::Empty);
        }
        let rest = match self.strip_prefix(s) {
            Some(r) => r,
            None if format!("{s}{}", self.sep) == self.prefix => return Ok(Target::Root),
            None => return Err(NameError::NoNamespace(self.prefix.clone())),
        };
        if rest.is_empty() {
            return Ok(Target::Root);
        }
        if rest.eq_ignore_ascii_case("INBOX") {
            return Ok(Target::Inbox);
        }
        if rest.starts_with(self.sep) {
            return Err(NameError::LeadingSeparator);
        }
        let doubled = format!("{0}{0}", self.sep);
        if rest.contains(&doubled) {
            return Err(NameError::AdjacentSeparators);
        }
        if self.sep != self.storage_sep && rest.contains(self.storage_sep) {
            return Err(NameError::Character(self.storage_sep));
        }
        if self.storage_sep == '.' && self.sep != '/' && rest.contains('/') {
            return Err(NameError::Slash);
        }
        Ok(Target::Folder(
            rest.replace(self.sep, &self.storage_sep.to_string()),
        ))
    }

    /// `s` without the prefix (the `INBOX` part of an `INBOX/` prefix case-insensitively).
    fn strip_prefix<'a>(&self, s: &'a str) -> Option<&'a str> {
        let p = &self.prefix;
        if p.len() > 5 && p[..5].eq_ignore_ascii_case("INBOX") && s.len() >= p.len() {
            let (head, rest) = s.split_at(p.len());
            if head[..5].eq_ignore_ascii_case("INBOX") && head[5..] == p[5..] {
                return Some(rest);
            }
            return None;
        }
        s.strip_prefix(p.as_str())
    }

    /// The client name of a storage folder name.
    pub fn vname(&self, storage: &str) -> String {
        if storage == "INBOX" {
            return storage.into();
        }
        format!(
            "{}{}",
            self.prefix,
            storage.replace(self.storage_sep, &self.sep.to_string())
        )
    }

    /// The prefix's own name (`Mail` for `Mail/`), if there is a prefix.
    pub fn root(&self) -> Option<&str> {
        self.prefix.strip_suffix(self.sep)
    }

    /// A subscriptions-file entry (relative to the prefix, our separator) → client name.
    pub fn from_subscription(&self, entry: &str) -> String {
        if entry == "INBOX" {
            return entry.into();
        }
        format!("{}{entry}", self.prefix)
    }

    /// A client name → its subscriptions-file entry.
    pub fn to_subscription<'a>(&self, vname: &'a str) -> &'a str {
        if vname == "INBOX" {
            return vname;
        }
        self.strip_prefix(vname).unwrap_or(vname)
    }

    /// The configured mailbox named `vname`.
    pub fn configured(&self, vname: &str) -> Option<&Configured> {
        self.mailboxes.iter().find(|m| m.vname == vname)
    }

    /// Mailboxes that exist without being created (`auto = create|subscribe`).
    pub fn auto(&self) -> impl Iterator<Item = &Configured> {
        self.mailboxes.iter().filter(|m| m.auto != AutoMailbox::No)
    }

    /// The special-use attributes of `vname` (empty if none).
    pub fn special_use(&self, vname: &str) -> &str {
        self.configured(vname)
            .map(|m| m.special_use.as_str())
            .unwrap_or("")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ns(prefix: &str, sep: char) -> Namespace {
        Namespace {
            prefix: prefix.into(),
            sep,
            storage_sep: '.',
            mailboxes: Vec::new(),
        }
    }

    #[test]
    fn names_map_to_maildirpp_folders() {
        let n = ns("", '/');
        assert_eq!(n.resolve(b"inbox"), Ok(Target::Inbox));
        assert_eq!(n.resolve(b"a/b/"), Ok(Target::Folder("a.b".into())));
        assert_eq!(n.resolve(b"a.b"), Err(NameError::Character('.')));
        assert_eq!(n.resolve(b"a//b"), Err(NameError::AdjacentSeparators));
        assert_eq!(n.resolve(b"/a"), Err(NameError::LeadingSeparator));
        assert_eq!(n.resolve(b""), Err(NameError::Empty));
        assert_eq!(n.resolve(b"&Jjo"), Err(NameError::NotUtf7));
        assert_eq!(n.vname("a.b"), "a/b");
        let d = ns("", '.');
        assert_eq!(d.resolve(b"a.b"), Ok(Target::Folder("a.b".into())));
        assert_eq!(d.resolve(b"a/b"), Err(NameError::Slash));
    }

    #[test]
    fn prefixes_are_required_and_stripped() {
        let n = ns("INBOX/", '/');
        assert_eq!(n.resolve(b"INBOX"), Ok(Target::Inbox));
        assert_eq!(n.resolve(b"inbox/Sent"), Ok(Target::Folder("Sent".into())));
        assert_eq!(n.resolve(b"INBOX/INBOX"), Ok(Target::Inbox));
        assert_eq!(
            n.resolve(b"foo"),
            Err(NameError::NoNamespace("INBOX/".into()))
        );
        assert_eq!(n.vname("a.b"), "INBOX/a/b");
        let m = ns("Mail/", '/');
        assert_eq!(m.resolve(b"Mail"), Ok(Target::Root));
        assert_eq!(m.resolve(b"Mail/x"), Ok(Target::Folder("x".into())));
        assert_eq!(m.to_subscription("Mail/x/y"), "x/y");
        assert_eq!(m.from_subscription("x/y"), "Mail/x/y");
        assert_eq!(m.root(), Some("Mail"));
    }
}
