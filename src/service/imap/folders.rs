//! The user's mailbox list as IMAP sees it: the names on disk (Maildir++ `.A.B` folders under
//! the root, or `A/B` directories with `LAYOUT=fs`), kept in their wire form (modified UTF-7,
//! as Dovecot names the directories), the hierarchy separator (`.` for Maildir++, `/` for fs),
//! LIST/LSUB wildcard matching (`*`, `%`), and Dovecot's `subscriptions` file
//! (`V\t2\n\n` then one name a line, the separator written as a tab).

use std::collections::BTreeSet;
use std::fs;
use std::path::Path;

use crate::mail::location::{Layout, MailLocation};
use crate::mail::MailError;

pub const SUBSCRIPTIONS: &str = "subscriptions";

/// The hierarchy separator of a store.
pub fn separator(loc: &MailLocation) -> char {
    match loc.layout {
        Layout::MaildirPlusPlus => '.',
        Layout::Fs => '/',
    }
}

/// Every existing mailbox except INBOX, in wire form.
pub fn existing(loc: &MailLocation) -> Result<Vec<String>, MailError> {
    let mut out = Vec::new();
    match loc.layout {
        Layout::MaildirPlusPlus => {
            let rd = match fs::read_dir(&loc.root) {
                Ok(rd) => rd,
                Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(out),
                Err(e) => return Err(MailError::io("readdir", &loc.root)(e)),
            };
            for ent in rd.flatten() {
                let Ok(name) = ent.file_name().into_string() else {
                    continue;
                };
                if let Some(n) = name.strip_prefix('.') {
                    if !n.is_empty() && n != "." && ent.path().join("cur").is_dir() {
                        out.push(n.to_string());
                    }
                }
            }
        }
        Layout::Fs => walk_fs(&loc.root, "", &loc.inbox, &mut out),
    }
    out.sort();
    Ok(out)
}

fn walk_fs(dir: &Path, prefix: &str, inbox: &Path, out: &mut Vec<String>) {
    let Ok(rd) = fs::read_dir(dir) else {
        return;
    };
    for ent in rd.flatten() {
        let Ok(name) = ent.file_name().into_string() else {
            continue;
        };
        let p = ent.path();
        if name.starts_with('.') || matches!(name.as_str(), "cur" | "new" | "tmp") {
            continue;
        }
        if !p.is_dir() || p == inbox {
            continue;
        }
        let full = format!("{prefix}{name}");
        if p.join("cur").is_dir() {
            out.push(full.clone());
        }
        walk_fs(&p, &format!("{full}/"), inbox, out);
    }
}

/// One LIST answer line's data.
#[derive(Debug, PartialEq, Eq)]
pub struct Listed {
    pub name: String,
    pub attributes: Vec<&'static str>,
}

/// LIST: the mailboxes (and missing parents, as `\Noselect`) matching `reference`+`pattern`.
pub fn list(names: &[String], sep: char, reference: &str, pattern: &str) -> Vec<Listed> {
    let full = format!("{reference}{pattern}");
    let mut all: BTreeSet<String> = names.iter().cloned().collect();
    let existing: BTreeSet<String> = all.clone();
    // Parents that are not mailboxes themselves.
    for n in names {
        let mut at = 0;
        while let Some(i) = n[at..].find(sep) {
            all.insert(n[..at + i].to_string());
            at += i + 1;
        }
    }
    let mut out = Vec::new();
    let has_children = |n: &str| {
        let p = format!("{n}{sep}");
        all.iter().any(|o| o.starts_with(&p))
    };
    for n in &all {
        if !matches(&full, n, sep) {
            continue;
        }
        let mut attributes = Vec::new();
        if !existing.contains(n) {
            attributes.push("\\Noselect");
        }
        attributes.push(if has_children(n) {
            "\\HasChildren"
        } else {
            "\\HasNoChildren"
        });
        out.push(Listed {
            name: n.clone(),
            attributes,
        });
    }
    if matches(&full, "INBOX", sep) {
        out.push(Listed {
            name: "INBOX".into(),
            attributes: vec!["\\HasNoChildren"],
        });
    }
    out
}

/// Whether `name` matches `pattern` (`*` anything, `%` anything but the separator; `INBOX`
/// case-insensitively).
pub fn matches(pattern: &str, name: &str, sep: char) -> bool {
    if name == "INBOX" {
        return glob(pattern.to_ascii_uppercase().as_bytes(), b"INBOX", sep as u8);
    }
    glob(pattern.as_bytes(), name.as_bytes(), sep as u8)
}

fn glob(p: &[u8], n: &[u8], sep: u8) -> bool {
    match p.first() {
        None => n.is_empty(),
        Some(b'*') => (0..=n.len()).any(|i| glob(&p[1..], &n[i..], sep)),
        Some(b'%') => {
            let stop = n.iter().position(|&c| c == sep).unwrap_or(n.len());
            (0..=stop).any(|i| glob(&p[1..], &n[i..], sep))
        }
        Some(&c) => n.first() == Some(&c) && glob(&p[1..], &n[1..], sep),
    }
}

/// The subscribed names (wire form, the store's separator).
pub fn subscriptions(root: &Path, sep: char) -> Vec<String> {
    let Ok(text) = fs::read_to_string(root.join(SUBSCRIPTIONS)) else {
        return Vec::new();
    };
    let body = text.strip_prefix("V\t2\n\n").unwrap_or(&text);
    body.lines()
        .filter(|l| !l.is_empty())
        .map(|l| l.replace('\t', &sep.to_string()))
        .collect()
}

/// Adds or removes `name` from the subscriptions file (written whole, then renamed).
pub fn set_subscribed(root: &Path, sep: char, name: &str, on: bool) -> Result<(), MailError> {
    let mut subs = subscriptions(root, sep);
    subs.retain(|s| s != name);
    if on {
        subs.push(name.to_string());
    }
    let mut text = String::from("V\t2\n\n");
    for s in &subs {
        text.push_str(&s.replace(sep, "\t"));
        text.push('\n');
    }
    fs::create_dir_all(root).map_err(MailError::io("mkdir", root))?;
    let tmp = root.join("subscriptions.lock");
    fs::write(&tmp, text).map_err(MailError::io("write", &tmp))?;
    let dest = root.join(SUBSCRIPTIONS);
    fs::rename(&tmp, &dest).map_err(MailError::io("rename", dest))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn wildcards_follow_rfc3501() {
        assert!(matches("*", "a.b", '.'));
        assert!(!matches("%", "a.b", '.'));
        assert!(matches("a.%", "a.b", '.'));
        assert!(matches("inbox", "INBOX", '.'));
        assert!(matches("In%", "INBOX", '.'));
        assert!(!matches("x*", "INBOX", '.'));
    }

    #[test]
    fn missing_parents_are_noselect_with_children() {
        let names = vec!["Sub.Child".to_string(), "Top".to_string()];
        let l = list(&names, '.', "", "%");
        assert_eq!(
            l,
            vec![
                Listed {
                    name: "Sub".into(),
                    attributes: vec!["\\Noselect", "\\HasChildren"]
                },
                Listed {
                    name: "Top".into(),
                    attributes: vec!["\\HasNoChildren"]
                },
                Listed {
                    name: "INBOX".into(),
                    attributes: vec!["\\HasNoChildren"]
                },
            ]
        );
    }

    #[test]
    fn subscriptions_file_is_dovecots_format() {
        let d = std::env::temp_dir().join(format!("roost-subs-{}", std::process::id()));
        let _ = fs::remove_dir_all(&d);
        set_subscribed(&d, '.', "Sub.Child", true).unwrap();
        set_subscribed(&d, '.', "INBOX", true).unwrap();
        assert_eq!(
            fs::read_to_string(d.join(SUBSCRIPTIONS)).unwrap(),
            "V\t2\n\nSub\tChild\nINBOX\n"
        );
        set_subscribed(&d, '.', "Sub.Child", false).unwrap();
        assert_eq!(subscriptions(&d, '.'), vec!["INBOX".to_string()]);
    }
}
