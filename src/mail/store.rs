//! A user's mail store: resolves `mail_location` (or the userdb `mail` field) with the user's
//! name and home, and opens mailboxes by name.

use std::sync::Arc;

use super::location::{Layout, MailLocation, UserVars};
use super::maildir::Maildir;
use super::settings::MailSettings;
use super::MailError;

/// One user's store.
#[derive(Clone, Debug)]
pub struct UserStore {
    pub user: String,
    pub location: MailLocation,
    fsync: bool,
    host: Arc<str>,
}

impl UserStore {
    /// Builds the store from the settings and the userdb fields (`mail`, `home`).
    pub fn new(
        settings: &MailSettings,
        user: &str,
        fields: &[(String, String)],
        host: &str,
    ) -> Result<UserStore, MailError> {
        let field = |k: &str| {
            fields
                .iter()
                .find(|(key, _)| key == k)
                .map(|(_, v)| v.as_str())
        };
        let spec = field("mail").unwrap_or(&settings.mail_location);
        let home = field("home").unwrap_or("");
        let location = MailLocation::parse(spec, &UserVars { user, home })?;
        Ok(UserStore {
            user: user.to_string(),
            location,
            fsync: settings.mail_fsync.enabled(),
            host: Arc::from(host),
        })
    }

    /// Opens mailbox `name`; INBOX is created on first use, other mailboxes only when `create`.
    pub fn mailbox(&self, name: &str, create: bool) -> Result<Maildir, MailError> {
        let dir = self.location.mailbox_dir(name)?;
        let is_inbox = name.eq_ignore_ascii_case("INBOX");
        if !is_inbox || self.location.inbox != self.location.root {
            // The root holds dovecot-uidvalidity and the Maildir++ folders.
            std::fs::create_dir_all(&self.location.root)
                .map_err(MailError::io("mkdir", &self.location.root))?;
        }
        Maildir::open_in(
            &dir,
            &self.location.root,
            create || is_inbox,
            self.fsync,
            &self.host,
            self.location.layout == Layout::MaildirPlusPlus,
        )
        .map_err(|e| match e {
            MailError::NoMailbox(_) => MailError::NoMailbox(name.to_string()),
            e => e,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn userdb_mail_field_overrides_mail_location() {
        let s = MailSettings {
            mail_location: "maildir:/nonexistent/%n".into(),
            ..Default::default()
        };
        let dir = std::env::temp_dir().join(format!("roost-store-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&dir);
        let fields = vec![
            ("home".to_string(), dir.display().to_string()),
            ("mail".to_string(), "maildir:~/Maildir".to_string()),
        ];
        let st = UserStore::new(&s, "bob@example.test", &fields, "h").unwrap();
        let inbox = st.mailbox("INBOX", false).unwrap();
        assert_eq!(inbox.dir(), dir.join("Maildir"));
        assert!(dir.join("Maildir/cur").is_dir());
        assert!(st.mailbox("Missing", false).is_err());
        let s2 = st.mailbox("Lists", true).unwrap();
        assert_eq!(s2.dir(), dir.join("Maildir/.Lists"));
    }
}
