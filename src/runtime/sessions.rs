//! The directory of post-login sessions as the admin side sees it (`roost who`, `roost kick`
//! over the master's control socket): one [`SessionRow`] per session, and the
//! [`SessionDirectory`] the `anvil` service implements and publishes in the hub as a
//! [`SessionDirectoryHandle`], so that the master's control socket reaches it without
//! importing the service.

use std::net::IpAddr;
use std::sync::Arc;

/// One post-login session, with the fields Dovecot's anvil and `doveadm who` know about.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct SessionRow {
    pub user: String,
    /// The protocol (`pop3`, `imap`): Dovecot's `proto` column.
    pub service: String,
    /// The virtual process serving it: Dovecot's `pid` column.
    pub vproc: u64,
    pub rip: Option<IpAddr>,
    pub lip: Option<IpAddr>,
    /// When it started, in seconds since the Unix epoch.
    pub since: u64,
    /// The login session id (as in the `Login:` log line's `session=<…>`).
    pub session_id: String,
}

#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum DirectoryError {
    /// A `kick` without any user or IP mask.
    #[error("user and/or ip[/bits] must be specified.")]
    NoMask,
    #[error("Multiple username masks not supported")]
    MultipleUserMasks,
    #[error("Multiple network masks not supported")]
    MultipleNetMasks,
}

/// What the admin commands need from anvil.
pub trait SessionDirectory: Send + Sync {
    /// Every post-login session, oldest first.
    fn who(&self) -> Vec<SessionRow>;
    /// Ends the sessions matching `masks` (a user mask with `*`/`?` wildcards and/or an
    /// `ip[/bits]`, as `doveadm kick` takes them) with their protocol's goodbye; returns the
    /// users whose sessions were kicked, sorted, without duplicates.
    fn kick(&self, masks: &[String]) -> Result<Vec<String>, DirectoryError>;
}

/// The handle in the hub (put there by the `anvil` service).
#[derive(Clone)]
pub struct SessionDirectoryHandle(pub Arc<dyn SessionDirectory>);
