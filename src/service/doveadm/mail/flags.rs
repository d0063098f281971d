//! `flags add`, `flags remove`, `flags replace`: IMAP flag names (`\Seen`, `\Answered`,
//! `\Flagged`, `\Deleted`, `\Draft`; anything else is a keyword) on the messages a query
//! matches. Flags are Maildir filename letters; a new keyword gets the first free letter in
//! `dovecot-keywords` (written whole, then renamed, as IMAP STORE writes it). As Dovecot's
//! maildir does for a session that does not take new mail in, a message in `new/` is renamed
//! within `new/` (`new/NAME:2,S`); one in `cur/` within `cur/`.

use std::fs;
use std::io;

use serde_json::Value;

use super::common::{mail_params, param, rows};
use super::messages::{each_match, query_param, Missing};
use super::target::{self, mail_err, Target};
use super::work;
use crate::mail::maildir::keywords::Keywords;
use crate::mail::maildir::mailbox::fsync_dir;
use crate::mail::maildir::{filename, Flags};
use crate::mail::MailError;
use crate::service::doveadm::spec::ParamKind;
use crate::service::doveadm::spec::{
    string_array, CommandError, CommandFuture, CommandSpec, Context, Params,
};
use crate::service::imap::selected::letters_for;

const PARAMS: &[crate::service::doveadm::spec::Param] = mail_params![
    param("flag", ParamKind::Array, true, None),
    param("query", ParamKind::Array, true, None),
];

pub const ADD: CommandSpec = CommandSpec {
    name: "flags add",
    params: PARAMS,
    run: run_add,
};

pub const REMOVE: CommandSpec = CommandSpec {
    name: "flags remove",
    params: PARAMS,
    run: run_remove,
};

pub const REPLACE: CommandSpec = CommandSpec {
    name: "flags replace",
    params: PARAMS,
    run: run_replace,
};

#[derive(Clone, Copy, PartialEq, Eq)]
enum Mode {
    Add,
    Remove,
    Replace,
}

fn run_add(ctx: Context, params: Params) -> CommandFuture {
    Box::pin(run(ctx, params, Mode::Add))
}

fn run_remove(ctx: Context, params: Params) -> CommandFuture {
    Box::pin(run(ctx, params, Mode::Remove))
}

fn run_replace(ctx: Context, params: Params) -> CommandFuture {
    Box::pin(run(ctx, params, Mode::Replace))
}

/// The flag names given (at least one unless replacing; never `\Recent`).
fn flag_names(params: &Params, mode: Mode) -> Result<Vec<String>, CommandError> {
    let names: Vec<String> = string_array(params, "flag")?
        .iter()
        .flat_map(|f| f.split_whitespace().map(str::to_string).collect::<Vec<_>>())
        .collect();
    if names.is_empty() && mode != Mode::Replace {
        return Err(CommandError::Usage("Missing flags".into()));
    }
    if let Some(r) = names.iter().find(|n| n.eq_ignore_ascii_case("\\Recent")) {
        return Err(CommandError::Usage(format!("Invalid system flag: {r}")));
    }
    Ok(names)
}

async fn run(ctx: Context, params: Params, mode: Mode) -> Result<Value, CommandError> {
    flag_names(&params, mode)?;
    query_param(&params)?;
    let (name, per_user): (_, work::Work) = match mode {
        Mode::Add => (ADD.name, add_work),
        Mode::Remove => (REMOVE.name, remove_work),
        Mode::Replace => (REPLACE.name, replace_work),
    };
    for user in target::users(&ctx, &params).await? {
        work::run(&ctx, &user, name, per_user, &params).await?;
    }
    Ok(rows(Vec::new()))
}

/// `flags add` for one user.
pub fn add_work(t: &Target, params: &Params) -> Result<Value, CommandError> {
    change(t, params, Mode::Add)
}

/// `flags remove` for one user.
pub fn remove_work(t: &Target, params: &Params) -> Result<Value, CommandError> {
    change(t, params, Mode::Remove)
}

/// `flags replace` for one user.
pub fn replace_work(t: &Target, params: &Params) -> Result<Value, CommandError> {
    change(t, params, Mode::Replace)
}

fn change(t: &Target, params: &Params, mode: Mode) -> Result<Value, CommandError> {
    let names = flag_names(params, mode)?;
    let q = query_param(params)?;
    each_match(&t.store, &q, Missing::Fail, |view, hits| {
        let dir = view.mbox.dir();
        let mut kw = Keywords::read(dir).map_err(mail_err)?;
        let before = kw.clone();
        let given = if mode == Mode::Remove {
            // Removing a keyword the mailbox has never had changes nothing.
            let mut f = Flags::default();
            let mut probe = kw.clone();
            let known: Vec<String> = names
                .iter()
                .filter(|n| n.starts_with('\\') || kw.letter(n).is_some())
                .cloned()
                .collect();
            if let Some(l) = letters_for(&known, &mut probe) {
                f = l;
            }
            f
        } else {
            letters_for(&names, &mut kw)
                .ok_or_else(|| CommandError::Data("Too many keywords in mailbox".into()))?
        };
        if kw != before {
            kw.write(dir).map_err(mail_err)?;
        }
        let given: Vec<u8> = given.letters().bytes().collect();
        let mut renamed = false;
        for &i in hits {
            let e = &view.snap.messages[i];
            let mut f = match mode {
                Mode::Replace => Flags::default(),
                _ => e.flags.clone(),
            };
            for &l in &given {
                match mode {
                    Mode::Remove => f.remove(l),
                    _ => f.insert(l),
                }
            }
            // Letters without an IMAP name (Maildir's P) survive a replace.
            if mode == Mode::Replace && e.flags.has(Flags::PASSED) {
                f.insert(Flags::PASSED);
            }
            if f == e.flags {
                continue;
            }
            let src = view.mbox.path_of(e);
            let dst = src.with_file_name(filename::with_flags(&e.base, &f));
            match fs::rename(&src, &dst) {
                Ok(()) => renamed = true,
                // Expunged or renamed by someone else meanwhile.
                Err(err) if err.kind() == io::ErrorKind::NotFound => {}
                Err(err) => return Err(mail_err(MailError::io("rename", src)(err))),
            }
        }
        if renamed && view.mbox.fsyncs() {
            fsync_dir(&dir.join("cur")).map_err(mail_err)?;
            fsync_dir(&dir.join("new")).map_err(mail_err)?;
        }
        Ok(())
    })?;
    Ok(Value::Null)
}
