//! Dovecot's `namespace NAME { … mailbox NAME { special_use auto } }` blocks as
//! `[namespace.NAME]` / `[namespace.NAME.mailbox.NAME]` tables, with Dovecot's defaults, and
//! the start-up checks of what roost supports: one private `inbox = yes` namespace (any
//! `prefix` and `separator`, listed, visible, with subscriptions) on `mail_location`. No block
//! at all is Dovecot's implicit namespace (`inbox = yes`, no prefix, the storage's separator).

use std::collections::BTreeMap;

use serde::{Deserialize, Deserializer, Serialize};

use crate::settings::values::lenient;

/// `type`.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum NamespaceType {
    #[default]
    Private,
    Shared,
    Public,
}

/// `list`: `yes`, `no` or `children` (TOML booleans work for the first two).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Default, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum NamespaceList {
    #[default]
    Yes,
    No,
    Children,
}

impl<'de> Deserialize<'de> for NamespaceList {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        struct V;
        impl serde::de::Visitor<'_> for V {
            type Value = NamespaceList;
            fn expecting(&self, f: &mut std::fmt::Formatter) -> std::fmt::Result {
                f.write_str("yes, no or children")
            }
            fn visit_bool<E: serde::de::Error>(self, v: bool) -> Result<NamespaceList, E> {
                Ok(if v {
                    NamespaceList::Yes
                } else {
                    NamespaceList::No
                })
            }
            fn visit_str<E: serde::de::Error>(self, v: &str) -> Result<NamespaceList, E> {
                if v.eq_ignore_ascii_case("children") {
                    return Ok(NamespaceList::Children);
                }
                crate::settings::values::parse_bool(v)
                    .map(|b| self.visit_bool::<E>(b).expect("infallible"))
                    .map_err(|_| E::custom(format!("Invalid list setting value: {v}")))
            }
        }
        d.deserialize_any(V)
    }
}

/// A mailbox's `auto`: created (and subscribed) without the client asking.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum AutoMailbox {
    #[default]
    No,
    Create,
    Subscribe,
}

/// A `mailbox NAME { }` block inside a namespace.
#[derive(Clone, Debug, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct MailboxSettings {
    /// Space-separated SPECIAL-USE attributes (`\Sent`, `\Trash \Junk`, …).
    pub special_use: String,
    pub auto: AutoMailbox,
}

/// A `namespace NAME { }` block.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct NamespaceSettings {
    #[serde(rename = "type")]
    pub ns_type: NamespaceType,
    /// One character; empty: the storage's own (`.` for Maildir++, `/` for `LAYOUT=fs`).
    pub separator: String,
    pub prefix: String,
    /// Empty: `mail_location` (the only value roost supports).
    pub location: String,
    #[serde(deserialize_with = "lenient::bool")]
    pub inbox: bool,
    #[serde(deserialize_with = "lenient::bool")]
    pub hidden: bool,
    pub list: NamespaceList,
    #[serde(deserialize_with = "lenient::bool")]
    pub subscriptions: bool,
    #[serde(deserialize_with = "lenient::bool")]
    pub ignore_on_failure: bool,
    #[serde(deserialize_with = "lenient::bool")]
    pub disabled: bool,
    pub mailbox: BTreeMap<String, MailboxSettings>,
}

impl Default for NamespaceSettings {
    fn default() -> Self {
        NamespaceSettings {
            ns_type: NamespaceType::Private,
            separator: String::new(),
            prefix: String::new(),
            location: String::new(),
            inbox: false,
            hidden: false,
            list: NamespaceList::Yes,
            subscriptions: true,
            ignore_on_failure: false,
            disabled: false,
            mailbox: BTreeMap::new(),
        }
    }
}

/// The SPECIAL-USE attributes Dovecot accepts (`mailbox_special_use_exists`).
pub const SPECIAL_USES: &[&str] = &[
    "\\All",
    "\\Archive",
    "\\Drafts",
    "\\Flagged",
    "\\Important",
    "\\Junk",
    "\\Sent",
    "\\Trash",
];

/// The namespace in effect: the one enabled block, or Dovecot's implicit one.
pub fn effective(blocks: &BTreeMap<String, NamespaceSettings>) -> NamespaceSettings {
    blocks
        .values()
        .find(|n| !n.disabled)
        .cloned()
        .unwrap_or(NamespaceSettings {
            inbox: true,
            ..NamespaceSettings::default()
        })
}

/// Whether any mailbox has a `special_use` (Dovecot then announces SPECIAL-USE).
pub fn has_special_use(blocks: &BTreeMap<String, NamespaceSettings>) -> bool {
    blocks
        .values()
        .filter(|n| !n.disabled)
        .any(|n| n.mailbox.values().any(|m| !m.special_use.trim().is_empty()))
}

/// The storage separator `mail_location` implies (per-user `mail` fields may differ).
pub fn storage_separator(mail_location: &str) -> char {
    let fs = mail_location
        .split(':')
        .any(|p| p.eq_ignore_ascii_case("LAYOUT=fs"));
    if fs {
        '/'
    } else {
        '.'
    }
}

/// Checks the blocks; an error is `(setting path, message)`.
pub fn check(
    blocks: &BTreeMap<String, NamespaceSettings>,
    mail_location: &str,
) -> Result<(), (String, String)> {
    let enabled: Vec<(&String, &NamespaceSettings)> =
        blocks.iter().filter(|(_, n)| !n.disabled).collect();
    if enabled.len() > 1 {
        let names: Vec<&str> = enabled.iter().map(|(k, _)| k.as_str()).collect();
        return Err((
            format!("namespace.{}", enabled[1].0),
            format!(
                "roost supports one namespace (the inbox = yes one); found {}: disable the others",
                names.join(", ")
            ),
        ));
    }
    let Some((name, ns)) = enabled.first() else {
        return Ok(());
    };
    let key = |k: &str| format!("namespace.{name}.{k}");
    let sep = match ns.separator.chars().count() {
        0 => storage_separator(mail_location),
        1 => ns.separator.chars().next().expect("one char"),
        _ => {
            return Err((
                key("separator"),
                format!(
                    "Namespace '{}': Hierarchy separator must be only one character long",
                    ns.prefix
                ),
            ))
        }
    };
    if ns.ns_type != NamespaceType::Private {
        return Err((
            key("type"),
            "only type = private is supported (shared and public namespaces are not)".into(),
        ));
    }
    if !ns.inbox {
        return Err((key("inbox"), "inbox=yes namespace missing".into()));
    }
    if ns.list != NamespaceList::Yes {
        return Err((key("list"), "list=yes namespace missing".into()));
    }
    if ns.hidden {
        return Err((key("hidden"), "hidden=no namespace missing".into()));
    }
    if !ns.subscriptions {
        return Err((
            key("subscriptions"),
            "subscriptions=yes namespace missing".into(),
        ));
    }
    if !ns.location.is_empty() {
        return Err((
            key("location"),
            "a namespace location of its own is not supported: leave it empty (mail_location \
             or the userdb's mail field is used)"
                .into(),
        ));
    }
    if !ns.prefix.is_empty() {
        if !ns.prefix.ends_with(sep) {
            return Err((
                key("prefix"),
                format!(
                    "list=yes requires prefix={} to end with separator {sep}",
                    ns.prefix
                ),
            ));
        }
        if ns.prefix.starts_with(sep) {
            return Err((
                key("prefix"),
                format!(
                    "list=yes requires prefix={} not to start with separator",
                    ns.prefix
                ),
            ));
        }
    }
    for (mbox, m) in &ns.mailbox {
        for u in m.special_use.split_whitespace() {
            if !SPECIAL_USES.iter().any(|s| s.eq_ignore_ascii_case(u)) {
                return Err((
                    key(&format!("mailbox.{mbox}.special_use")),
                    format!("mailbox {mbox}: unknown special_use: {u}"),
                ));
            }
        }
        if mbox.is_empty() {
            return Err((key("mailbox"), "a mailbox block needs a name".into()));
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn one(ns: NamespaceSettings) -> BTreeMap<String, NamespaceSettings> {
        BTreeMap::from([("inbox".to_string(), ns)])
    }

    #[test]
    fn implicit_namespace_is_inbox_without_prefix() {
        let e = effective(&BTreeMap::new());
        assert!(e.inbox);
        assert_eq!(e.prefix, "");
        assert!(check(&BTreeMap::new(), "maildir:~/Maildir").is_ok());
    }

    #[test]
    fn unsupported_values_name_their_setting() {
        let base = NamespaceSettings {
            inbox: true,
            ..Default::default()
        };
        let e = check(
            &one(NamespaceSettings {
                separator: "//".into(),
                ..base.clone()
            }),
            "",
        )
        .unwrap_err();
        assert_eq!(e.0, "namespace.inbox.separator");
        let e = check(
            &one(NamespaceSettings {
                prefix: "Mail".into(),
                separator: "/".into(),
                ..base.clone()
            }),
            "",
        )
        .unwrap_err();
        assert!(e.1.contains("to end with separator /"), "{e:?}");
        let e = check(
            &one(NamespaceSettings {
                inbox: false,
                ..base.clone()
            }),
            "",
        )
        .unwrap_err();
        assert_eq!(e.1, "inbox=yes namespace missing");
        let mut m = base.clone();
        m.mailbox.insert(
            "Sent".into(),
            MailboxSettings {
                special_use: "\\Sent \\Outbox".into(),
                auto: AutoMailbox::No,
            },
        );
        let e = check(&one(m), "").unwrap_err();
        assert_eq!(e.0, "namespace.inbox.mailbox.Sent.special_use");
        assert_eq!(e.1, "mailbox Sent: unknown special_use: \\Outbox");
        let mut two = one(base.clone());
        two.insert("other".into(), base.clone());
        assert!(check(&two, "").unwrap_err().1.contains("one namespace"));
        // A disabled second namespace is fine.
        two.get_mut("other").unwrap().disabled = true;
        assert!(check(&two, "").is_ok());
    }

    #[test]
    fn storage_separator_follows_the_layout() {
        assert_eq!(storage_separator("maildir:~/Maildir"), '.');
        assert_eq!(storage_separator("maildir:~/Maildir:LAYOUT=fs"), '/');
    }
}
