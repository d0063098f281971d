//! Mail work with the userdb's uid/gid: the one entry point LMTP and POP3 use to touch a user's
//! Maildir. [`MailAccess`] (one per server, in the hub) routes each user's work by
//! [`identity::route`]: in this process ([`local`]) when the identity is roost's own or none is
//! asked for, otherwise to a mail helper running as that uid/gid, started by the root launcher
//! (which checks the uid/gid against its own configuration). The server itself never regains
//! root. A server that never dropped root (`default_internal_user = root`) has no launcher and
//! does the work itself. Without a launcher and with another uid, the work fails with [`MailError::Identity`].

use std::fs::File;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;

use crate::privsep::launcher::Launcher;
use crate::privsep::mail_pool::{MailPool, SharedConn};
use crate::privsep::mail_proto as proto;
use crate::privsep::PrivsepError;
use crate::runtime::Hub;

use super::identity::{self, MailIdentity, Route};
use super::local::{self, DeliverTo};
use super::maildir::dotlock::Dotlock;
use super::maildir::mailbox::Change;
use super::maildir::{Maildir, MessageEntry, Snapshot};
use super::settings::MailSettings;
use super::MailError;

/// How this server reaches users' mail.
pub struct MailAccess {
    /// Mail helpers, when a root launcher process can start them.
    pool: Option<MailPool>,
}

fn helper_err(id: MailIdentity) -> impl FnOnce(PrivsepError) -> MailError {
    move |e| match e {
        PrivsepError::Launcher(m) | PrivsepError::Refused(m) => MailError::Identity(format!(
            "no mail helper for uid {} gid {}: {m}",
            id.uid, id.gid
        )),
        e => MailError::Internal(format!("mail helper uid {}: {e}", id.uid)),
    }
}

/// What the store of `user` is built from.
pub fn target(
    settings: &MailSettings,
    user: &str,
    fields: &[(String, String)],
    host: &str,
) -> DeliverTo {
    DeliverTo {
        user: user.to_string(),
        fields: fields.to_vec(),
        mail_location: settings.mail_location.clone(),
        fsync: settings.mail_fsync.enabled(),
        host: host.to_string(),
        ..DeliverTo::default()
    }
}

impl MailAccess {
    /// Local work only (no launcher).
    pub fn local() -> MailAccess {
        MailAccess { pool: None }
    }

    /// With mail helpers from `launcher` (a root launcher process).
    pub fn with_launcher(launcher: Arc<Launcher>) -> MailAccess {
        let pool = matches!(*launcher, Launcher::Process { .. }).then(|| MailPool::new(launcher));
        MailAccess { pool }
    }

    /// The server's access, created on first use from the hub's launcher.
    pub fn from_hub(hub: &Hub) -> Arc<MailAccess> {
        if let Some(a) = hub.get::<MailAccess>() {
            return a;
        }
        let made = match hub.get::<Launcher>() {
            Some(l) => MailAccess::with_launcher(l),
            None => MailAccess::local(),
        };
        hub.insert_if_absent(|| Arc::new(made));
        hub.get::<MailAccess>().expect("just inserted")
    }

    fn route(
        &self,
        settings: &MailSettings,
        fields: &[(String, String)],
    ) -> Result<Route, MailError> {
        // A server that kept root (`default_internal_user = root`: no privilege drop, no
        // launcher) writes everything itself, as before.
        if self.pool.is_none() && nix::unistd::geteuid().is_root() {
            return Ok(Route::Local);
        }
        identity::route(
            MailIdentity::resolve(settings, fields)?,
            self.pool.is_some(),
        )
    }

    /// The mail helper pool and the uid/gid of `fields`' user, when that user is served by a
    /// helper (`None`: in this process). IMAP runs whole sessions in such a helper.
    pub fn helper_for(
        &self,
        settings: &MailSettings,
        fields: &[(String, String)],
    ) -> Result<Option<(&MailPool, MailIdentity)>, MailError> {
        match self.route(settings, fields)? {
            Route::Local => Ok(None),
            Route::Helper(id) => Ok(self.pool.as_ref().map(|p| (p, id))),
        }
    }

    /// Whether `fields`' user is served in this process (blocking-free); an identity that
    /// cannot be served at all is the error.
    pub fn is_local(
        &self,
        settings: &MailSettings,
        fields: &[(String, String)],
    ) -> Result<bool, MailError> {
        Ok(self.route(settings, fields)? == Route::Local)
    }

    /// One request to a mail helper of `id` (from [`MailAccess::helper_for`]; blocking),
    /// answered within `timeout`; returns the reply's body. For work the server cannot do as
    /// itself (doveadm's mail commands for users of other uids).
    pub fn call_helper(
        &self,
        id: MailIdentity,
        head: &[&str],
        body: &[u8],
        timeout: std::time::Duration,
    ) -> Result<Vec<u8>, MailError> {
        let pool = self
            .pool
            .as_ref()
            .ok_or_else(|| MailError::Identity("no mail helpers without a launcher".into()))?;
        let m = pool
            .call_within(id, head, body, None, Some(timeout))
            .map_err(helper_err(id))?;
        proto::reply(&m.head)?;
        Ok(m.body)
    }

    /// Stores the spooled message (first `sizes.0` bytes of `spool`, LF line ends) for one
    /// recipient (blocking); returns its UID once on disk. The mail helper gets the spool
    /// file's descriptor and copies it itself.
    pub fn deliver_file(
        &self,
        settings: &MailSettings,
        to: &DeliverTo,
        spool: &File,
        (size, vsize): (u64, u64),
    ) -> Result<u32, MailError> {
        let id = match self.route(settings, &to.fields)? {
            Route::Local => return local::deliver_file(to, spool, (size, vsize)),
            Route::Helper(id) => id,
        };
        let pool = self.pool.as_ref().expect("routed to a helper");
        let mut head = vec!["DELIVER".to_string(), size.to_string(), vsize.to_string()];
        head.extend(proto::encode_to(to));
        let h: Vec<&str> = head.iter().map(String::as_str).collect();
        let m = pool
            .call(id, &h, &[], Some(spool))
            .map_err(helper_err(id))?;
        let rest = proto::reply(&m.head)?;
        rest.first()
            .and_then(|u| u.parse().ok())
            .ok_or_else(|| MailError::Internal("mail helper: DELIVER reply without a uid".into()))
    }
}

/// A POP3 session's INBOX: opened here, or held open by a mail helper it shares with other
/// sessions of its uid.
pub enum Inbox {
    Local {
        maildir: Maildir,
        lock: Option<Dotlock>,
    },
    Helper {
        conn: Arc<SharedConn>,
        /// This session's id on the helper.
        sid: String,
        locked: bool,
        closed: AtomicBool,
    },
}

impl Inbox {
    /// Opens INBOX (blocking): the session lock when `lock`, then a snapshot.
    pub fn open(
        access: &Arc<MailAccess>,
        settings: &MailSettings,
        to: &DeliverTo,
        lock: bool,
    ) -> Result<(Inbox, Snapshot), MailError> {
        let id = match access.route(settings, &to.fields)? {
            Route::Local => {
                let (maildir, lock, snap) = local::open_pop3(to, lock)?;
                return Ok((Inbox::Local { maildir, lock }, snap));
            }
            Route::Helper(id) => id,
        };
        let pool = access.pool.as_ref().expect("routed to a helper");
        let (conn, sid) = pool.session(id).map_err(helper_err(id))?;
        let inbox = Inbox::Helper {
            conn,
            sid,
            locked: lock,
            closed: AtomicBool::new(false),
        };
        let Inbox::Helper { conn, sid, .. } = &inbox else {
            unreachable!()
        };
        let mut head = vec![
            "OPEN".to_string(),
            sid.clone(),
            if lock { "1" } else { "0" }.to_string(),
        ];
        head.extend(proto::encode_to(to));
        let h: Vec<&str> = head.iter().map(String::as_str).collect();
        let m = conn.call(&h, &[]).map_err(helper_err(id))?;
        proto::reply(&m.head)?;
        let snap = proto::decode_snapshot(&m.body).map_err(helper_err(id))?;
        Ok((inbox, snap))
    }

    /// One request for this session: `verb <sid> args…`.
    fn call(&self, verb: &str, args: &[String], body: &[u8]) -> Result<proto::Msg, MailError> {
        let Inbox::Helper { conn, sid, .. } = self else {
            unreachable!("helper call on a local inbox")
        };
        let mut head = vec![verb, sid.as_str()];
        head.extend(args.iter().map(String::as_str));
        let m = conn.call(&head, body).map_err(helper_err(conn.id))?;
        proto::reply(&m.head)?;
        Ok(m)
    }

    /// A message's bytes as stored (blocking).
    pub fn read(&self, e: &MessageEntry) -> Result<Vec<u8>, MailError> {
        match self {
            Inbox::Local { maildir, .. } => maildir.read(e),
            Inbox::Helper { .. } => Ok(self.call("READ", &proto::entry_fields(e), &[])?.body),
        }
    }

    /// Commits expunges and flag changes (blocking).
    pub fn apply(&self, changes: &[(MessageEntry, Change)]) -> Result<(), MailError> {
        match self {
            Inbox::Local { maildir, .. } => maildir.apply(changes),
            Inbox::Helper { .. } => self
                .call("APPLY", &[], &proto::encode_changes(changes))
                .map(|_| ()),
        }
    }

    /// Whether the session holds the `pop3_lock_session` lock.
    pub fn locked(&self) -> bool {
        match self {
            Inbox::Local { lock, .. } => lock.is_some(),
            Inbox::Helper { locked, .. } => *locked,
        }
    }

    /// Touches the session lock (blocking).
    pub fn touch(&self) {
        match self {
            Inbox::Local { lock, .. } => {
                if let Some(l) = lock {
                    l.touch();
                }
            }
            Inbox::Helper { .. } => {
                let _ = self.call("TOUCH", &[], &[]);
            }
        }
    }

    /// Ends the session (blocking): releases the lock and the session's place on its helper.
    pub fn close(&self) {
        if let Inbox::Helper { conn, closed, .. } = self {
            if !closed.swap(true, Ordering::Relaxed) {
                let _ = self.call("CLOSE", &[], &[]);
                conn.leave();
            }
        }
    }
}

impl Drop for Inbox {
    fn drop(&mut self) {
        // A session that ended without close() (its task was cancelled): its mailbox stays
        // open on the helper until the helper ends, and a lock it held goes stale as Dovecot's
        // do (not touched any more). Count it out now so the helper takes other sessions.
        if let Inbox::Helper { conn, closed, .. } = self {
            if !closed.swap(true, Ordering::Relaxed) {
                conn.leave();
            }
        }
    }
}
