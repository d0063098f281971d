//! Where a mail command touches one user's mail: in this process when the user's userdb
//! uid/gid is the server's own (or none is asked for), otherwise in a mail helper running as
//! that uid/gid, started through the root launcher as for LMTP, POP3 and IMAP — so every file
//! a doveadm command creates, renames or removes belongs to the user, as with Dovecot's doveadm,
//! which drops to the user's uid itself.
//!
//! A command's per-user part is a blocking [`Work`], listed by command name in `mod.rs` for
//! the helper's side. The server looks the user up (auth's userdb), then either runs the work
//! here or sends the helper a `DOVEADM` request whose JSON body ([`Request`]) carries the
//! command's name, the user and its userdb fields, the mail settings, the hostname and the
//! parameters; the helper runs the same function on the same store and answers a JSON
//! [`Reply`] with the value or doveadm's exit code and message. The wait for a helper has a
//! deadline ([`HELPER_TIMEOUT`]); each result is counted into the request's answer budget.

use std::sync::Arc;
use std::time::Duration;

use serde::{Deserialize, Serialize};
use serde_json::Value;

use super::target::{self, blocking, Target};
use crate::mail::access::MailAccess;
use crate::mail::identity::MailIdentity;
use crate::mail::settings::MailSettings;
use crate::mail::UserStore;
use crate::service::doveadm::spec::{CommandError, Context, Params};

/// A command's work on one user's store (blocking); its value goes back to the command.
pub type Work = fn(&Target, &Params) -> Result<Value, CommandError>;

/// How long the server waits for a mail helper's answer to one command for one user (the
/// CLI itself waits 300 s for the whole command).
pub const HELPER_TIMEOUT: Duration = Duration::from_secs(280);

/// The body of a `DOVEADM` request to a mail helper.
#[derive(Serialize, Deserialize)]
pub struct Request {
    pub command: String,
    pub user: String,
    pub fields: Vec<(String, String)>,
    pub mail: MailSettings,
    pub host: String,
    pub params: Params,
}

/// The helper's answer.
#[derive(Serialize, Deserialize)]
pub enum Reply {
    Done(Value),
    Failed { code: i32, message: String },
}

/// The user's store, as a mail command opens it.
fn store(
    mail: &MailSettings,
    user: &str,
    fields: &[(String, String)],
    host: &str,
) -> Result<Target, CommandError> {
    let store = UserStore::new(mail, user, fields, host)
        .map_err(|e| CommandError::TempFail(format!("{user}: {e}")))?;
    Ok(Target {
        user: user.to_string(),
        store,
    })
}

/// Runs `work`, the per-user part of `command`, for `user` where that user's mail may be
/// touched.
pub async fn run(
    ctx: &Context,
    user: &str,
    command: &str,
    work: Work,
    params: &Params,
) -> Result<Value, CommandError> {
    let (user, fields) = target::lookup(ctx, user).await?;
    let mail = ctx.settings.mail.clone();
    let access = MailAccess::from_hub(&ctx.hub);
    let params = params.clone();
    let command = command.to_string();
    let logged = user.clone();
    let r = blocking(move || {
        let helper = access
            .helper_for(&mail, &fields)
            .map_err(|e| CommandError::TempFail(format!("{user}: {e}")))?;
        let host = mail.effective_hostname();
        let Some((_, id)) = helper else {
            return work(&store(&mail, &user, &fields, &host)?, &params);
        };
        let request = Request {
            command,
            user: user.clone(),
            fields,
            mail,
            host,
            params,
        };
        in_helper(&access, id, &request)
    })
    .await;
    // The user's share of the request's answer budget.
    let r = r.and_then(|v| {
        ctx.budget
            .spend(serde_json::to_vec(&v).map_or(0, |b| b.len()))
            .map(|()| v)
    });
    if let Err(e @ (CommandError::TempFail(_) | CommandError::Software(_))) = &r {
        // A storage or helper failure: the exit code alone says too little (Dovecot logs it
        // as `doveadm(user): Error: …`).
        tracing::error!(user = %logged, "{e}");
    }
    r
}

/// Sends `request` to a mail helper of `id`, its user's uid/gid, and returns its answer
/// (blocking).
fn in_helper(
    access: &Arc<MailAccess>,
    id: MailIdentity,
    request: &Request,
) -> Result<Value, CommandError> {
    let user = &request.user;
    let body = serde_json::to_vec(request)
        .map_err(|e| CommandError::Software(format!("doveadm request: {e}")))?;
    let m = access
        .call_helper(id, &["DOVEADM"], &body, HELPER_TIMEOUT)
        .map_err(|e| CommandError::TempFail(format!("{user}: {e}")))?;
    match serde_json::from_slice::<Reply>(&m) {
        Ok(Reply::Done(v)) => Ok(v),
        Ok(Reply::Failed { code, message }) => Err(CommandError::from_exit_code(code, message)),
        Err(e) => Err(CommandError::Software(format!(
            "{user}: unreadable answer from the mail helper: {e}"
        ))),
    }
}

/// The helper's side: runs one `DOVEADM` request body with the work `find` gives for its
/// command's name, and returns the JSON [`Reply`].
pub fn serve(body: &[u8], find: impl Fn(&str) -> Option<Work>) -> Vec<u8> {
    let reply = match serde_json::from_slice::<Request>(body) {
        Ok(r) => match find(&r.command) {
            Some(work) => {
                store(&r.mail, &r.user, &r.fields, &r.host).and_then(|t| work(&t, &r.params))
            }
            None => Err(CommandError::Software(format!(
                "{}: not a mail command",
                r.command
            ))),
        },
        Err(e) => Err(CommandError::Software(format!("bad doveadm request: {e}"))),
    };
    let reply = match reply {
        Ok(v) => Reply::Done(v),
        Err(e) => Reply::Failed {
            code: e.exit_code(),
            message: e.to_string(),
        },
    };
    serde_json::to_vec(&reply).unwrap_or_else(|_| {
        b"{\"Failed\":{\"code\":70,\"message\":\"answer not encodable\"}}".to_vec()
    })
}

/// A work's value as JSON.
pub fn to_value<T: Serialize>(v: &T) -> Result<Value, CommandError> {
    serde_json::to_value(v).map_err(|e| CommandError::Software(format!("doveadm answer: {e}")))
}

/// A work's value back from JSON.
pub fn from_value<T: serde::de::DeserializeOwned>(v: Value) -> Result<T, CommandError> {
    serde_json::from_value(v).map_err(|e| CommandError::Software(format!("doveadm answer: {e}")))
}
