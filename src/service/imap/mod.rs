//! The `imap` post-login service: receives an authenticated connection from `imap-login`
//! (the `Handoff` carries the user, the userdb fields and the login command's tag, answered
//! `tag OK [CAPABILITY …] Logged in`) and serves the authenticated and selected states on
//! the user's Maildir store. `session.rs` is the loop and the mailbox-less commands,
//! `mailboxes.rs` the mailbox-list commands and APPEND, `messages.rs` the selected-state
//! commands (`search.rs` SEARCH), `selected.rs` the selected mailbox's view and its untagged updates,
//! `cached.rs` FETCH items from the folder index's cache, `handoff.rs` a session's start
//! data and outcome, `load.rs` message reads for FETCH and SEARCH,
//! `folders.rs` the folder list and subscriptions on disk, `namespace.rs` the configured
//! namespace (prefix, separator, special-use and auto mailboxes), `list.rs` LIST/LSUB's
//! entries (LIST-EXTENDED, SPECIAL-USE), `listing.rs` LIST/LSUB/NAMESPACE, `rename.rs`
//! RENAME (INBOX too), `message.rs` message bytes and
//! dates, `spool.rs` APPEND messages streamed to disk, `metrics.rs` its counters, `notify.rs`
//! inotify for IDLE.

pub mod cached;
pub mod folders;
pub mod handoff;
pub mod list;
pub mod listing;
mod load;
pub mod logout;
pub mod mailboxes;
pub mod message;
pub mod messages;
pub mod metrics;
pub mod namespace;
pub mod notify;
pub mod rename;
pub mod search;
pub mod selected;
pub mod session;
pub mod settings;
pub mod spool;
pub mod uid;

#[cfg(test)]
mod session_fuzz;
#[cfg(test)]
mod tests;

use std::sync::Arc;

use crate::net::Conn;
use crate::runtime::{BoxFuture, Hub, Service, ServiceError, Session};
use crate::settings::Settings;

pub struct ImapService;

impl Service for ImapService {
    fn serve(self: Arc<Self>, conn: Conn, session: Session) -> BoxFuture<()> {
        Box::pin(session::run(conn, session))
    }
}

/// Builds the service (registered by the master as `imap`).
pub fn factory(
    _name: &str,
    _settings: &Arc<Settings>,
    hub: &Arc<Hub>,
) -> Result<Arc<dyn Service>, ServiceError> {
    metrics::register();
    crate::service::anvil::Anvil::from_hub(hub);
    Ok(Arc::new(ImapService))
}
