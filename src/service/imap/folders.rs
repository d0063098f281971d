//! The user's mailbox list as IMAP sees it: the names on disk (Maildir++ `.A.B` folders under
//! the root, or `A/B` directories with `LAYOUT=fs`), kept in their wire form (modified UTF-7,
//! as Dovecot names the directories), the storage's hierarchy separator (`.` for Maildir++,
//! `/` for fs), and Dovecot's `subscriptions` file
//! (`V\t2\n\n` then one name a line, the separator written as a tab).

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
            // `cur/` is looked up relative to the root (two path components, not the whole
            // absolute path once per folder: with thousands of folders the path walks were
            // most of a LIST).
            let root = fs::File::open(&loc.root).map_err(MailError::io("open", &loc.root))?;
            for ent in rd.flatten() {
                let Ok(name) = ent.file_name().into_string() else {
                    continue;
                };
                let Some(n) = name.strip_prefix('.') else {
                    continue;
                };
                if n.is_empty() || n == "." || ent.file_type().is_ok_and(|t| t.is_file()) {
                    continue;
                }
                if has_cur(&root, &name) {
                    out.push(n.to_string());
                }
            }
        }
        Layout::Fs => walk_fs(&loc.root, "", &loc.inbox, &mut out),
    }
    out.sort();
    Ok(out)
}

/// Whether `dir/name/cur` is a directory (symlinks followed, as `Path::is_dir`).
fn has_cur(dir: &fs::File, name: &str) -> bool {
    use nix::sys::stat::{fstatat, SFlag};
    fstatat(
        dir,
        format!("{name}/cur").as_str(),
        nix::fcntl::AtFlags::empty(),
    )
    .is_ok_and(|st| SFlag::from_bits_truncate(st.st_mode) & SFlag::S_IFMT == SFlag::S_IFDIR)
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
