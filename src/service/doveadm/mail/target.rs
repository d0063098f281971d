//! Whose mail a mail command works on: `user` (doveadm's `-u`) or every user the userdb can
//! list (`allUsers`, `-A`), looked up through the auth service's userdb like Dovecot's
//! mail_storage_service does; [`Target`] is one user's store (`mail_location` or the userdb
//! `mail` field), opened by `work.rs` in this process or in a mail helper of the user's uid.

use std::sync::Arc;

use crate::mail::{MailError, UserStore};
use crate::service::auth::api::{AuthHandle, ClientInfo, UserLookup};
use crate::service::auth::AuthCore;
use crate::service::doveadm::spec::{bool_param, string_param, CommandError, Context, Params};

/// One user's mail, ready to open mailboxes.
pub struct Target {
    pub user: String,
    pub store: UserStore,
}

/// The `ClientInfo` doveadm's lookups carry (`service=doveadm`).
pub fn doveadm_info() -> ClientInfo {
    ClientInfo {
        service: "doveadm".into(),
        secured: true,
        ..ClientInfo::default()
    }
}

pub fn auth(ctx: &Context) -> Result<Arc<AuthHandle>, CommandError> {
    ctx.hub
        .get::<AuthHandle>()
        .ok_or_else(|| CommandError::TempFail("auth service is not running".into()))
}

pub fn auth_core(ctx: &Context) -> Result<Arc<AuthCore>, CommandError> {
    ctx.hub
        .get::<AuthCore>()
        .ok_or_else(|| CommandError::TempFail("auth service is not running".into()))
}

/// The users a mail command runs for, in order.
pub async fn users(ctx: &Context, params: &Params) -> Result<Vec<String>, CommandError> {
    if string_param(params, "userFile").is_some() {
        return Err(CommandError::Usage("userFile (-F) is not supported".into()));
    }
    if bool_param(params, "allUsers")? {
        let core = auth_core(ctx)?;
        return core.engine.list_users().await.ok_or_else(|| {
            CommandError::TempFail("no userdb can list its users (allUsers)".into())
        });
    }
    match string_param(params, "user") {
        Some(u) if !u.is_empty() => Ok(vec![u.to_string()]),
        _ => Err(CommandError::Usage(
            "USER environment is missing and -u option not used".into(),
        )),
    }
}

/// The userdb fields of `user` (and its name as the userdb returns it).
pub async fn lookup(
    ctx: &Context,
    user: &str,
) -> Result<(String, Vec<(String, String)>), CommandError> {
    match auth(ctx)?.0.lookup_user(user, doveadm_info()).await {
        UserLookup::Found { user, fields } => Ok((user, fields)),
        UserLookup::NotFound => Err(CommandError::NoUser(format!("User doesn't exist: {user}"))),
        UserLookup::Failed(why) => Err(CommandError::TempFail(format!(
            "userdb lookup failed for {user}: {why}"
        ))),
    }
}

/// doveadm's exit code for a storage error.
pub fn mail_err(e: MailError) -> CommandError {
    match e {
        MailError::NoMailbox(n) => CommandError::NotFound(format!("Mailbox doesn't exist: {n}")),
        MailError::BadMailboxName(n) => CommandError::Data(format!("Invalid mailbox name: {n}")),
        // Logged once with the user by `work::run`.
        e => CommandError::TempFail(e.to_string()),
    }
}

/// Runs blocking mail work off the async threads.
pub async fn blocking<T: Send + 'static>(
    f: impl FnOnce() -> Result<T, CommandError> + Send + 'static,
) -> Result<T, CommandError> {
    tokio::task::spawn_blocking(f)
        .await
        .map_err(|e| CommandError::Software(format!("mail task failed: {e}")))?
}
