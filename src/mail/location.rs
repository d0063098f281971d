//! `mail_location`: `maildir:PATH[:INBOX=PATH][:LAYOUT=fs][:KEY=VALUE…]` with Dovecot's
//! variables `%u` (user), `%n` (user part), `%d` (domain), `%h` (home), their long forms
//! (`%{user}`, `%{username}`, `%{domain}`, `%{home}`), `%L` lower-casing, `%%`, and a leading
//! `~/` for the home directory.

use std::path::PathBuf;

use super::MailError;

/// How folders map to directories.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Layout {
    /// Maildir++: `Folder.Sub` is the directory `.Folder.Sub` under the root.
    MaildirPlusPlus,
    /// `LAYOUT=fs`: `Folder/Sub` is the directory `Folder/Sub` under the root.
    Fs,
}

/// A resolved mail location for one user.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct MailLocation {
    pub root: PathBuf,
    /// Where INBOX lives (defaults to the root for Maildir++).
    pub inbox: PathBuf,
    pub layout: Layout,
}

/// The user a location is expanded for.
#[derive(Clone, Debug, Default)]
pub struct UserVars<'a> {
    pub user: &'a str,
    pub home: &'a str,
}

impl MailLocation {
    /// Parses and expands `spec` for a user.
    pub fn parse(spec: &str, vars: &UserVars<'_>) -> Result<MailLocation, MailError> {
        let bad = |why: &str| MailError::Location(spec.to_string(), why.to_string());
        let spec_t = spec.trim();
        if spec_t.is_empty() {
            return Err(bad(
                "empty: set mail_location or return a 'mail' userdb field",
            ));
        }
        let rest = match spec_t.split_once(':') {
            Some((driver, rest)) if driver.eq_ignore_ascii_case("maildir") => rest,
            Some((driver, _)) if !driver.contains('/') => {
                return Err(bad(&format!(
                    "mail storage '{driver}' is not supported (use maildir)"
                )))
            }
            _ => spec_t,
        };
        let mut parts = rest.split(':');
        let root_raw = parts.next().unwrap_or("");
        if root_raw.is_empty() {
            return Err(bad("no path"));
        }
        let root = PathBuf::from(expand(root_raw, vars).map_err(|e| bad(&e))?);
        let mut inbox = None;
        let mut layout = Layout::MaildirPlusPlus;
        for p in parts {
            let (k, v) = p.split_once('=').unwrap_or((p, ""));
            match k.to_ascii_uppercase().as_str() {
                "INBOX" => inbox = Some(PathBuf::from(expand(v, vars).map_err(|e| bad(&e))?)),
                "LAYOUT" => {
                    layout = match v.to_ascii_lowercase().as_str() {
                        "fs" => Layout::Fs,
                        "maildir++" => Layout::MaildirPlusPlus,
                        other => return Err(bad(&format!("unknown LAYOUT={other}"))),
                    }
                }
                // INDEX=, CONTROL=, VOLATILEDIR=, DIRNAME= … are accepted and have no effect:
                // roost keeps no index files and keeps control files with the messages.
                _ => {}
            }
        }
        if !root.is_absolute() {
            return Err(bad(
                "the path must be absolute (or start with ~/ and have a home)",
            ));
        }
        let inbox = inbox.unwrap_or_else(|| root.clone());
        Ok(MailLocation {
            root,
            inbox,
            layout,
        })
    }

    /// The directory of mailbox `name` (`INBOX` case-insensitively).
    pub fn mailbox_dir(&self, name: &str) -> Result<PathBuf, MailError> {
        if name.eq_ignore_ascii_case("INBOX") {
            return Ok(self.inbox.clone());
        }
        let bad = || MailError::BadMailboxName(name.to_string());
        if name.is_empty() || name.starts_with('/') || name.contains('\0') {
            return Err(bad());
        }
        match self.layout {
            Layout::MaildirPlusPlus => {
                if name.contains('/') || name.split('.').any(|p| p.is_empty() || p == "..") {
                    return Err(bad());
                }
                Ok(self.root.join(format!(".{name}")))
            }
            Layout::Fs => {
                if name
                    .split('/')
                    .any(|p| p.is_empty() || p == "." || p == "..")
                {
                    return Err(bad());
                }
                Ok(self.root.join(name))
            }
        }
    }
}

/// Expands Dovecot variables in `s`.
pub fn expand(s: &str, vars: &UserVars<'_>) -> Result<String, String> {
    let (user_part, domain) = match vars.user.rsplit_once('@') {
        Some((n, d)) => (n, d),
        None => (vars.user, ""),
    };
    let mut out = String::new();
    let mut chars = s.chars().peekable();
    if let Some(rest) = s.strip_prefix("~/") {
        if vars.home.is_empty() {
            return Err("'~/' used but the user has no home directory".into());
        }
        out.push_str(vars.home.trim_end_matches('/'));
        out.push('/');
        chars = rest.chars().peekable();
    }
    while let Some(c) = chars.next() {
        if c != '%' {
            out.push(c);
            continue;
        }
        let mut lower = false;
        let mut upper = false;
        loop {
            match chars.peek() {
                Some('L') => lower = true,
                Some('U') => upper = true,
                _ => break,
            }
            chars.next();
        }
        let key: String = match chars.next() {
            Some('{') => {
                let mut k = String::new();
                for c in chars.by_ref() {
                    if c == '}' {
                        break;
                    }
                    k.push(c);
                }
                k
            }
            Some(c) => c.to_string(),
            None => return Err("'%' at the end".into()),
        };
        let value = match key.as_str() {
            "%" => "%",
            "u" | "user" => vars.user,
            "n" | "username" => user_part,
            "d" | "domain" => domain,
            "h" | "home" => {
                if vars.home.is_empty() {
                    return Err("%h used but the user has no home directory".into());
                }
                vars.home
            }
            other => return Err(format!("unknown variable %{other}")),
        };
        if lower {
            out.push_str(&value.to_lowercase());
        } else if upper {
            out.push_str(&value.to_uppercase());
        } else {
            out.push_str(value);
        }
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn vars() -> UserVars<'static> {
        UserVars {
            user: "Bob@Example.test",
            home: "/home/bob",
        }
    }

    #[test]
    fn expands_user_parts_and_home() {
        let l = MailLocation::parse("maildir:/var/mail/%d/%n", &vars()).unwrap();
        assert_eq!(l.root, PathBuf::from("/var/mail/Example.test/Bob"));
        assert_eq!(l.inbox, l.root);
        assert_eq!(l.layout, Layout::MaildirPlusPlus);
        let l = MailLocation::parse("maildir:~/Maildir", &vars()).unwrap();
        assert_eq!(l.root, PathBuf::from("/home/bob/Maildir"));
        let l = MailLocation::parse("maildir:%h/M/%Lu", &vars()).unwrap();
        assert_eq!(l.root, PathBuf::from("/home/bob/M/bob@example.test"));
        let l = MailLocation::parse("maildir:/m/%{username}%%", &vars()).unwrap();
        assert_eq!(l.root, PathBuf::from("/m/Bob%"));
    }

    #[test]
    fn options_inbox_and_layout() {
        let l =
            MailLocation::parse("maildir:~/mail:INBOX=/var/spool/%n:LAYOUT=fs", &vars()).unwrap();
        assert_eq!(l.inbox, PathBuf::from("/var/spool/Bob"));
        assert_eq!(l.layout, Layout::Fs);
        assert_eq!(
            l.mailbox_dir("inbox").unwrap(),
            PathBuf::from("/var/spool/Bob")
        );
        assert_eq!(
            l.mailbox_dir("A/B").unwrap(),
            PathBuf::from("/home/bob/mail/A/B")
        );
    }

    #[test]
    fn maildirpp_folders_are_dot_directories() {
        let l = MailLocation::parse("maildir:/m/%n", &vars()).unwrap();
        assert_eq!(
            l.mailbox_dir("Sent").unwrap(),
            PathBuf::from("/m/Bob/.Sent")
        );
        assert_eq!(l.mailbox_dir("A.B").unwrap(), PathBuf::from("/m/Bob/.A.B"));
        assert!(l.mailbox_dir("../x").is_err());
        assert!(l.mailbox_dir("a/b").is_err());
    }

    #[test]
    fn rejects_what_cannot_work() {
        assert!(MailLocation::parse("mbox:~/mail", &vars()).is_err());
        assert!(MailLocation::parse("maildir:relative/path", &vars()).is_err());
        assert!(MailLocation::parse("maildir:/m/%q", &vars()).is_err());
        let nohome = UserVars {
            user: "x",
            home: "",
        };
        assert!(MailLocation::parse("maildir:~/M", &nohome).is_err());
        assert!(MailLocation::parse("", &nohome).is_err());
    }
}
