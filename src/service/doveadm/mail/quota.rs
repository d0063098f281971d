//! `quota get` and `quota recalc`. Roost has no quota plugin; it answers what Dovecot with
//! `quota = count:User quota` (which requires `quota_vsizes = yes`) and no limit prints: a
//! `STORAGE` row (the virtual sizes of every message in every mailbox, in kilobytes rounded
//! up) and a `MESSAGE` row (the number of messages), each with limit `-` and percent `0`. The count backend keeps nothing to recalculate, so `recalc` only
//! checks the user and answers `[]`.

use super::common::{mail_params, row, rows, Row};
use super::mailbox::listed;
use super::target::{self, blocking, mail_err};
use crate::service::doveadm::spec::{CommandFuture, CommandSpec, Context, Params};

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
            let t = target::open(&ctx, &user).await?;
            let (bytes, count) = blocking(move || {
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
                Ok((bytes, count))
            })
            .await?;
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

fn run_recalc(ctx: Context, params: Params) -> CommandFuture {
    Box::pin(async move {
        for user in target::users(&ctx, &params).await? {
            target::open(&ctx, &user).await?;
        }
        Ok(rows(Vec::new()))
    })
}
