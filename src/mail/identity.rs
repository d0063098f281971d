//! Whom a user's mail is accessed as: the userdb's `uid`/`gid` fields (names or numbers), else
//! `mail_uid`/`mail_gid`, as Dovecot resolves them; and where that access runs: in this
//! process when the identity is roost's own (or none was asked for), in a per-uid mail helper
//! when a root launcher can start one, and otherwise nowhere (a temporary failure naming the
//! uid problem, as Dovecot's `seteuid() failed` becomes `Temporary internal error`).

use nix::unistd::{Gid, Group, Uid, User};

use super::settings::MailSettings;
use super::MailError;

/// A uid/gid pair mail is written with.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub struct MailIdentity {
    pub uid: u32,
    pub gid: u32,
}

/// Where a user's mail work runs.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Route {
    /// In this process, with its own credentials.
    Local,
    /// In a mail helper running as this identity.
    Helper(MailIdentity),
}

fn uid_of(v: &str) -> Result<Uid, MailError> {
    if let Ok(n) = v.parse::<u32>() {
        return Ok(Uid::from_raw(n));
    }
    match User::from_name(v) {
        Ok(Some(u)) => Ok(u.uid),
        _ => Err(MailError::Identity(format!("unknown uid '{v}'"))),
    }
}

fn gid_of(v: &str) -> Result<Gid, MailError> {
    if let Ok(n) = v.parse::<u32>() {
        return Ok(Gid::from_raw(n));
    }
    match Group::from_name(v) {
        Ok(Some(g)) => Ok(g.gid),
        _ => Err(MailError::Identity(format!("unknown gid '{v}'"))),
    }
}

impl MailIdentity {
    /// The identity the userdb `fields` ask for (`uid`, `gid`), with `mail_uid`/`mail_gid`
    /// when a field is missing; `None` when neither names a uid. A uid without any gid uses
    /// the uid's primary group.
    pub fn resolve(
        settings: &MailSettings,
        fields: &[(String, String)],
    ) -> Result<Option<MailIdentity>, MailError> {
        let field = |k: &str| {
            fields
                .iter()
                .find(|(key, v)| key == k && !v.is_empty())
                .map(|(_, v)| v.as_str())
        };
        let uid =
            match field("uid").or((!settings.mail_uid.is_empty()).then_some(&*settings.mail_uid)) {
                Some(u) => uid_of(u)?,
                None => return Ok(None),
            };
        let gid = match field("gid").or((!settings.mail_gid.is_empty()).then_some(&*settings.mail_gid)) {
            Some(g) => gid_of(g)?,
            None => match User::from_uid(uid) {
                Ok(Some(u)) => u.gid,
                _ => {
                    return Err(MailError::Identity(format!(
                        "uid {uid} has no gid: the userdb returned none, mail_gid is not set and the uid has no passwd entry"
                    )))
                }
            },
        };
        Ok(Some(MailIdentity {
            uid: uid.as_raw(),
            gid: gid.as_raw(),
        }))
    }

    /// This process's effective identity.
    pub fn current() -> MailIdentity {
        MailIdentity {
            uid: nix::unistd::geteuid().as_raw(),
            gid: nix::unistd::getegid().as_raw(),
        }
    }
}

/// Where mail work for `wanted` runs, given whether a mail helper can be started (a root
/// launcher exists).
pub fn route(wanted: Option<MailIdentity>, helpers: bool) -> Result<Route, MailError> {
    let me = MailIdentity::current();
    match wanted {
        None => Ok(Route::Local),
        Some(w) if w == me => Ok(Route::Local),
        Some(w) if helpers => Ok(Route::Helper(w)),
        Some(w) => Err(MailError::Identity(format!(
            "cannot access mail as uid {} gid {}: roost runs as uid {} gid {} without root, so it cannot switch to the userdb's uid/gid (start roost as root, or return roost's own uid/gid from the userdb)",
            w.uid, w.gid, me.uid, me.gid
        ))),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn f(kv: &[(&str, &str)]) -> Vec<(String, String)> {
        kv.iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect()
    }

    #[test]
    fn userdb_fields_win_over_mail_uid() {
        let mut s = MailSettings::default();
        assert_eq!(MailIdentity::resolve(&s, &[]).unwrap(), None);
        let id = MailIdentity::resolve(&s, &f(&[("uid", "2001"), ("gid", "2002")])).unwrap();
        assert_eq!(
            id,
            Some(MailIdentity {
                uid: 2001,
                gid: 2002
            })
        );
        s.mail_uid = "3001".into();
        s.mail_gid = "3002".into();
        let id = MailIdentity::resolve(&s, &f(&[("uid", "2001")])).unwrap();
        assert_eq!(
            id,
            Some(MailIdentity {
                uid: 2001,
                gid: 3002
            })
        );
        let id = MailIdentity::resolve(&s, &[]).unwrap();
        assert_eq!(
            id,
            Some(MailIdentity {
                uid: 3001,
                gid: 3002
            })
        );
        // Names resolve through the system databases.
        s.mail_uid = "root".into();
        s.mail_gid = String::new();
        assert_eq!(
            MailIdentity::resolve(&s, &[]).unwrap(),
            Some(MailIdentity { uid: 0, gid: 0 })
        );
        assert!(MailIdentity::resolve(&s, &f(&[("uid", "no-such-user-zz")])).is_err());
        // A numeric uid without passwd entry and without any gid cannot be used.
        let none = MailSettings::default();
        assert!(MailIdentity::resolve(&none, &f(&[("uid", "3999999")])).is_err());
    }

    #[test]
    fn routes() {
        let me = MailIdentity::current();
        assert_eq!(route(None, false).unwrap(), Route::Local);
        assert_eq!(route(Some(me), false).unwrap(), Route::Local);
        let other = MailIdentity {
            uid: me.uid.wrapping_add(7),
            gid: me.gid,
        };
        assert_eq!(route(Some(other), true).unwrap(), Route::Helper(other));
        let e = route(Some(other), false).unwrap_err().to_string();
        assert!(e.contains(&format!("uid {}", other.uid)), "{e}");
        assert!(e.contains("without root"), "{e}");
    }
}
