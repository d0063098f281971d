//! `quota get` and `quota recalc`. Roost has no quota plugin; it answers what Dovecot with
//! `quota = count:User quota` (which requires `quota_vsizes = yes`) and no limit prints: a
//! `STORAGE` row (the virtual sizes of every message in every mailbox, in kilobytes rounded
//! up) and a `MESSAGE` row (the number of messages), each with limit `-` and percent `0`. The count backend keeps nothing to recalculate, so `recalc` only
//! checks the user and answers `[]`.

use super::common::{mail_params, row, rows, Row};
use super::mailbox::listed;
use serde_json::Value;

use super::target::{self, mail_err, Target};
use super::work::{self, from_value, to_value};
use crate::service::doveadm::spec::{CommandError, CommandFuture, CommandSpec, Context, Params};

pub const GET: CommandSpec = CommandSpec {
    name: "quota get",
    params: mail_params![],
    run: run_get,
};

pub const RECALC: CommandSpec = CommandSpec {
    name: "quota recalc",
    params: mail_params![],
    run: run_recalc,
};

/// The quota root's name in the rows.
pub const ROOT: &str = "User quota";

fn run_get(ctx: Context, params: Params) -> CommandFuture {
    Box::pin(async move {
        let mut out: Vec<Row> = Vec::new();
        for user in target::users(&ctx, &params).await? {
            let (bytes, count): (u64, u64) =
                from_value(work::run(&ctx, &user, GET.name, get_work, &params).await?)?;
            for (kind, value) in [("STORAGE", bytes.div_ceil(1024)), ("MESSAGE", count)] {
                out.push(row([
                    ("root", ROOT.to_string()),
                    ("type", kind.to_string()),
                    ("value", value.to_string()),
                    ("limit", "-".to_string()),
                    ("percent", "0".to_string()),
                ]));
            }
        }
        Ok(rows(out))
    })
}

/// `quota get` for one user: the virtual bytes and the number of its messages.
pub fn get_work(t: &Target, _params: &Params) -> Result<Value, CommandError> {
    let mut bytes = 0u64;
    let mut count = 0u64;
    for (name, selectable) in listed(&t.store).map_err(mail_err)? {
        if !selectable {
            continue;
        }
        let snap = t
            .store
            .mailbox(&name, false)
            .and_then(|m| m.sync())
            .map_err(mail_err)?;
        bytes += snap.messages.iter().map(|m| m.vsize).sum::<u64>();
        count += snap.messages.len() as u64;
    }
    to_value(&(bytes, count))
}

fn run_recalc(ctx: Context, params: Params) -> CommandFuture {
    Box::pin(async move {
        for user in target::users(&ctx, &params).await? {
            work::run(&ctx, &user, RECALC.name, recalc_work, &params).await?;
        }
        Ok(rows(Vec::new()))
    })
}

/// `quota recalc` for one user: nothing to recalculate once its store opened.
pub fn recalc_work(_t: &Target, _params: &Params) -> Result<Value, CommandError> {
    Ok(Value::Null)
}
