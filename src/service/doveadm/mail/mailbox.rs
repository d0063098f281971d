//! `mailbox list`, `mailbox status`, `mailbox create`, `mailbox delete` on a user's Maildir
//! store. Names are shown as doveadm shows them (UTF-8; `mutf7` for the stored modified UTF-7)
//! with the store's separator (`.` for Maildir++, `/` for `LAYOUT=fs`); `list` includes parents
//! that are not mailboxes themselves, as Dovecot's list does, and INBOX comes last. Status
//! fields are Dovecot's (`messages recent uidnext uidvalidity unseen vsize guid firstsaved`,
//! `all`); roost keeps no modseqs, so `highestmodseq` is refused and left out of `all`.
//! `recent` counts the messages still in `new/` (no IMAP session has taken them in).
//! Create makes the folder (`cur/ new/ tmp/`, `maildirfolder`, `dovecot-uidlist`) and delete
//! removes it, with
//! Dovecot 2.3's exit codes (65 for "already exists", "isn't empty" and INBOX — whose mail
//! Dovecot's maildir delete expunges before refusing, and so does roost).

use std::fs;
use std::os::unix::fs::MetadataExt;

use serde::{Deserialize, Serialize};
use serde_json::Value;

use super::common::{mail_params, param, row, rows, Row};
use super::query::{self, Key};
use super::target::{self, mail_err, Target};
use super::work::{self, from_value, to_value};
use crate::mail::location::Layout;
use crate::mail::maildir::mailbox::Change;
use crate::mail::maildir::mailbox::UIDLIST;
use crate::mail::maildir::uidlist::Uidlist;
use crate::mail::maildir::{Flags, MessageEntry};
use crate::mail::{MailError, UserStore};
use crate::protocol::imap::utf7;
use crate::service::doveadm::spec::ParamKind;
use crate::service::doveadm::spec::{
    bool_param, string_array, string_param, CommandError, CommandFuture, CommandSpec, Context,
    Params,
};
use crate::service::imap::folders;

pub const LIST: CommandSpec = CommandSpec {
    name: "mailbox list",
    params: mail_params![
        param("mutf7", ParamKind::Bool, false, Some('7')),
        param("utf8", ParamKind::Bool, false, Some('8')),
        param("subscriptions", ParamKind::Bool, false, Some('s')),
        param("mailboxMask", ParamKind::Array, true, None),
    ],
    run: run_list,
};

pub const STATUS: CommandSpec = CommandSpec {
    name: "mailbox status",
    params: mail_params![
        param("totalSum", ParamKind::Bool, false, Some('t')),
        param("field", ParamKind::Array, true, None),
        param("mailboxMask", ParamKind::Array, true, None),
    ],
    run: run_status,
};

pub const CREATE: CommandSpec = CommandSpec {
    name: "mailbox create",
    params: mail_params![
        param("subscriptions", ParamKind::Bool, false, Some('s')),
        param("guid", ParamKind::String, false, Some('g')),
        param("mailbox", ParamKind::Array, true, None),
    ],
    run: run_create,
};

pub const DELETE: CommandSpec = CommandSpec {
    name: "mailbox delete",
    params: mail_params![
        param("requireEmpty", ParamKind::Bool, false, Some('e')),
        param("subscriptions", ParamKind::Bool, false, Some('s')),
        param("recursive", ParamKind::Bool, false, Some('r')),
        param("unsafe", ParamKind::Bool, false, Some('Z')),
        param("mailbox", ParamKind::Array, true, None),
    ],
    run: run_delete,
};

/// The store's hierarchy separator.
pub fn separator(store: &UserStore) -> char {
    folders::separator(&store.location)
}

/// A name as doveadm prints it (UTF-8), from its stored modified UTF-7 form.
pub fn vname(wire: &str) -> String {
    utf7::decode(wire.as_bytes()).unwrap_or_else(|_| wire.to_string())
}

/// A name (or pattern) as given (UTF-8) in its stored form; INBOX in any case is INBOX.
pub fn wire(name: &str, sep: char) -> String {
    let name = name.strip_suffix(sep).unwrap_or(name);
    if name.eq_ignore_ascii_case("INBOX") {
        return "INBOX".into();
    }
    utf7::encode(name)
}

/// Every name the list shows (stored form), with whether it is a mailbox (not just a parent);
/// INBOX last.
pub fn listed(store: &UserStore) -> Result<Vec<(String, bool)>, MailError> {
    let names = folders::existing(&store.location)?;
    let sep = separator(store);
    let existing: std::collections::BTreeSet<String> = names.iter().cloned().collect();
    let mut all = existing.clone();
    // Parents that are not mailboxes themselves.
    for n in &names {
        let mut at = 0;
        while let Some(i) = n[at..].find(sep) {
            all.insert(n[..at + i].to_string());
            at += i + 1;
        }
    }
    let mut out: Vec<(String, bool)> = all
        .into_iter()
        .map(|n| {
            let selectable = existing.contains(&n);
            (n, selectable)
        })
        .collect();
    out.push(("INBOX".into(), true));
    Ok(out)
}

/// The mailboxes (stored names) a query visits, as Dovecot's doveadm mailbox iteration picks
/// them: the literal names of its top-level `MAILBOX` keys as given (existing or not), else
/// the selectable mailboxes in list order that its `MAILBOX` patterns and mailbox-level keys
/// do not rule out.
pub fn select(store: &UserStore, query: &Key) -> Result<Vec<String>, CommandError> {
    let sep = separator(store);
    let (patterns, wild) = query::mailbox_patterns(query);
    if !patterns.is_empty() && !wild {
        return Ok(patterns.iter().map(|p| wire(p, sep)).collect());
    }
    let has_guid_key = query::has_mailbox_guid(query);
    Ok(listed(store)
        .map_err(mail_err)?
        .into_iter()
        .filter(|(_, selectable)| *selectable)
        .map(|(n, _)| n)
        .filter(|n| {
            let v = vname(n);
            (patterns.is_empty() || patterns.iter().any(|p| query::mailbox_matches(p, &v, sep)))
                && (has_guid_key || query::match_mailbox(query, &v, "", sep) != Some(false))
        })
        .collect())
}

/// The query `mailbox status` and friends build from mailbox masks: one `MAILBOX` key, or
/// an OR of them.
pub fn masks_query(masks: &[String]) -> Key {
    let mut keys: Vec<Key> = masks.iter().map(|m| Key::Mailbox(m.clone())).collect();
    if keys.len() == 1 {
        keys.pop().expect("one")
    } else {
        Key::Or(keys)
    }
}

/// `mailbox list`'s masks (`*` when none is given).
fn list_masks(params: &Params) -> Result<Vec<String>, CommandError> {
    let mut masks = string_array(params, "mailboxMask")?;
    if masks.is_empty() {
        masks.push("*".into());
    }
    Ok(masks)
}

fn run_list(ctx: Context, params: Params) -> CommandFuture {
    Box::pin(async move {
        list_masks(&params)?;
        bool_param(&params, "mutf7")?;
        bool_param(&params, "subscriptions")?;
        let mut out: Vec<Row> = Vec::new();
        for user in target::users(&ctx, &params).await? {
            out.extend(from_value::<Vec<Row>>(
                work::run(&ctx, &user, LIST.name, list_work, &params).await?,
            )?);
        }
        Ok(rows(out))
    })
}

/// `mailbox list` for one user: its rows.
pub fn list_work(t: &Target, params: &Params) -> Result<Value, CommandError> {
    let masks = list_masks(params)?;
    let mutf7 = bool_param(params, "mutf7")?;
    let subscribed = bool_param(params, "subscriptions")?;
    let sep = separator(&t.store);
    let names: Vec<String> = if subscribed {
        folders::subscriptions(&t.store.location.root, sep)
    } else {
        listed(&t.store)
            .map_err(mail_err)?
            .into_iter()
            .map(|(n, _)| n)
            .collect()
    };
    Ok(rows(
        names
            .into_iter()
            .filter(|n| {
                masks
                    .iter()
                    .any(|m| crate::service::imap::list::matches(&wire(m, sep), n, sep))
            })
            .map(|n| row([("mailbox", if mutf7 { n } else { vname(&n) })]))
            .collect(),
    ))
}

/// What `mailbox status` reports about one mailbox.
#[derive(Default, Clone, Serialize, Deserialize)]
pub struct Status {
    pub messages: u64,
    pub recent: u64,
    pub uidnext: u32,
    pub uidvalidity: u32,
    pub unseen: u64,
    pub vsize: u64,
    pub guid: String,
    /// Save time (ctime) of the first message.
    pub firstsaved: Option<i64>,
}

/// Reads a mailbox's status (blocking): a snapshot, which gives new files their UIDs first.
pub fn status_of(store: &UserStore, name: &str) -> Result<Status, MailError> {
    let mbox = store.mailbox(name, false)?;
    let snap = mbox.sync()?;
    let guid = Uidlist::read(&mbox.dir().join(UIDLIST))?
        .map(|l| l.guid)
        .unwrap_or_default();
    let firstsaved = snap
        .messages
        .first()
        .and_then(|e| fs::metadata(mbox.path_of(e)).ok())
        .map(|m| m.ctime());
    Ok(Status {
        messages: snap.messages.len() as u64,
        recent: snap.messages.iter().filter(|m| m.in_new).count() as u64,
        uidnext: snap.next_uid,
        uidvalidity: snap.uid_validity,
        unseen: snap
            .messages
            .iter()
            .filter(|m| !m.flags.has(Flags::SEEN))
            .count() as u64,
        vsize: snap.messages.iter().map(|m| m.vsize).sum(),
        guid,
        firstsaved,
    })
}

const STATUS_FIELDS: [&str; 8] = [
    "messages",
    "recent",
    "uidnext",
    "uidvalidity",
    "unseen",
    "vsize",
    "guid",
    "firstsaved",
];
const TOTAL_FIELDS: [&str; 4] = ["messages", "recent", "unseen", "vsize"];

/// The wanted fields in doveadm's output order.
fn status_fields(given: &[String], total: bool) -> Result<Vec<&'static str>, CommandError> {
    let words: Vec<&str> = given.iter().flat_map(|f| f.split_whitespace()).collect();
    if words.is_empty() {
        return Err(CommandError::Usage("No status fields".into()));
    }
    let mut wanted: Vec<&'static str> = Vec::new();
    for w in words {
        if w == "all" {
            wanted.extend(if total {
                &TOTAL_FIELDS[..]
            } else {
                &STATUS_FIELDS[..]
            });
            continue;
        }
        let Some(f) = STATUS_FIELDS.iter().find(|f| **f == w) else {
            return Err(CommandError::Usage(if w == "highestmodseq" {
                "Status field highestmodseq: roost keeps no modseqs".into()
            } else {
                format!("Unknown status field: {w}")
            }));
        };
        if total && !TOTAL_FIELDS.contains(f) {
            return Err(CommandError::Usage(format!(
                "Status field {w} can't be used with -t"
            )));
        }
        wanted.push(f);
    }
    Ok(STATUS_FIELDS
        .iter()
        .copied()
        .filter(|f| wanted.contains(f))
        .collect())
}

fn status_value(s: &Status, field: &str) -> String {
    match field {
        "messages" => s.messages.to_string(),
        "recent" => s.recent.to_string(),
        "uidnext" => s.uidnext.to_string(),
        "uidvalidity" => s.uidvalidity.to_string(),
        "unseen" => s.unseen.to_string(),
        "vsize" => s.vsize.to_string(),
        "guid" => s.guid.clone(),
        _ => s
            .firstsaved
            .map(|t| t.to_string())
            .unwrap_or_else(|| "never".into()),
    }
}

/// `mailbox status`'s masks (at least one).
fn status_masks(params: &Params) -> Result<Vec<String>, CommandError> {
    let masks = string_array(params, "mailboxMask")?;
    if masks.is_empty() {
        return Err(CommandError::Usage("Missing mailbox mask".into()));
    }
    Ok(masks)
}

fn run_status(ctx: Context, params: Params) -> CommandFuture {
    Box::pin(async move {
        let total = bool_param(&params, "totalSum")?;
        let fields = status_fields(&string_array(&params, "field")?, total)?;
        status_masks(&params)?;
        let mut out: Vec<Row> = Vec::new();
        let mut sum = Status::default();
        for user in target::users(&ctx, &params).await? {
            let found: Vec<(String, Status)> =
                from_value(work::run(&ctx, &user, STATUS.name, status_work, &params).await?)?;
            for (name, s) in found {
                if total {
                    sum.messages += s.messages;
                    sum.recent += s.recent;
                    sum.unseen += s.unseen;
                    sum.vsize += s.vsize;
                    continue;
                }
                let mut r = row([("mailbox", vname(&name))]);
                for f in &fields {
                    r.insert((*f).into(), status_value(&s, f).into());
                }
                out.push(r);
            }
        }
        if total {
            out.push(
                fields
                    .iter()
                    .map(|f| ((*f).to_string(), status_value(&sum, f).into()))
                    .collect(),
            );
        }
        Ok(rows(out))
    })
}

/// `mailbox status` for one user: each matching mailbox (stored name) and its status.
pub fn status_work(t: &Target, params: &Params) -> Result<Value, CommandError> {
    let mut v = Vec::new();
    for name in select(&t.store, &masks_query(&status_masks(params)?))? {
        let s = status_of(&t.store, &name).map_err(mail_err)?;
        v.push((name, s));
    }
    to_value(&v)
}

fn mailbox_names(params: &Params) -> Result<Vec<String>, CommandError> {
    let names = string_array(params, "mailbox")?;
    if names.is_empty() {
        return Err(CommandError::Usage("Missing mailbox name".into()));
    }
    Ok(names)
}

fn run_create(ctx: Context, params: Params) -> CommandFuture {
    Box::pin(async move {
        create_params(&params)?;
        for user in target::users(&ctx, &params).await? {
            work::run(&ctx, &user, CREATE.name, create_work, &params).await?;
        }
        Ok(rows(Vec::new()))
    })
}

/// `mailbox create`'s names and whether to subscribe them.
fn create_params(params: &Params) -> Result<(Vec<String>, bool), CommandError> {
    let names = mailbox_names(params)?;
    if string_param(params, "guid").is_some() {
        return Err(CommandError::Usage(
            "guid (-g): roost does not set mailbox GUIDs".into(),
        ));
    }
    Ok((names, bool_param(params, "subscriptions")?))
}

/// `mailbox create` for one user.
pub fn create_work(t: &Target, params: &Params) -> Result<Value, CommandError> {
    let (names, subscribe) = create_params(params)?;
    create(t, &names, subscribe)?;
    Ok(Value::Null)
}

fn create(t: &Target, names: &[String], subscribe: bool) -> Result<(), CommandError> {
    let sep = separator(&t.store);
    for n in names {
        let w = wire(n, sep);
        let dir = t.store.location.mailbox_dir(&w).map_err(mail_err)?;
        if w == "INBOX" || dir.join("cur").is_dir() {
            return Err(CommandError::Data(format!(
                "Can't create mailbox {n}: Mailbox already exists"
            )));
        }
        // Dovecot's create also writes the new folder's dovecot-uidlist (next UIDVALIDITY from
        // dovecot-uidvalidity, a new mailbox GUID).
        t.store
            .mailbox(&w, true)
            .and_then(|m| m.sync())
            .map_err(mail_err)?;
        if subscribe {
            folders::set_subscribed(&t.store.location.root, sep, &w, true).map_err(mail_err)?;
        }
    }
    Ok(())
}

fn run_delete(ctx: Context, params: Params) -> CommandFuture {
    Box::pin(async move {
        delete_params(&params)?;
        for user in target::users(&ctx, &params).await? {
            work::run(&ctx, &user, DELETE.name, delete_work, &params).await?;
        }
        Ok(rows(Vec::new()))
    })
}

/// `mailbox delete`'s names and its `requireEmpty`, `subscriptions`, `recursive` switches.
fn delete_params(params: &Params) -> Result<(Vec<String>, [bool; 3]), CommandError> {
    Ok((
        mailbox_names(params)?,
        [
            bool_param(params, "requireEmpty")?,
            bool_param(params, "subscriptions")?,
            bool_param(params, "recursive")?,
        ],
    ))
}

/// `mailbox delete` for one user.
pub fn delete_work(t: &Target, params: &Params) -> Result<Value, CommandError> {
    let (names, [require_empty, unsubscribe, recursive]) = delete_params(params)?;
    delete(t, &names, require_empty, unsubscribe, recursive)?;
    Ok(Value::Null)
}

fn delete(
    t: &Target,
    names: &[String],
    require_empty: bool,
    unsubscribe: bool,
    recursive: bool,
) -> Result<(), CommandError> {
    let sep = separator(&t.store);
    let mut todo: Vec<String> = names.iter().map(|n| wire(n, sep)).collect();
    if recursive {
        let all = listed(&t.store).map_err(mail_err)?;
        for n in names {
            let prefix = format!("{}{sep}", wire(n, sep));
            for (child, selectable) in &all {
                if *selectable && child.starts_with(&prefix) && !todo.contains(child) {
                    todo.push(child.clone());
                }
            }
        }
        // Children first, as Dovecot sorts them (reverse order).
        todo.sort_by(|a, b| b.cmp(a));
    }
    let mut first_err = None;
    for w in todo {
        if let Err(e) = delete_one(t, &w, require_empty) {
            first_err.get_or_insert(e);
        }
        if unsubscribe {
            folders::set_subscribed(&t.store.location.root, sep, &w, false).map_err(mail_err)?;
        }
    }
    first_err.map_or(Ok(()), Err)
}

/// Deletes one mailbox (stored name) as Dovecot's maildir delete does.
pub fn delete_one(t: &Target, w: &str, require_empty: bool) -> Result<(), CommandError> {
    let n = vname(w);
    let mbox = t.store.mailbox(w, false).map_err(mail_err)?;
    let snap = mbox.sync().map_err(mail_err)?;
    if require_empty && !snap.messages.is_empty() {
        return Err(CommandError::Data(format!(
            "Can't delete mailbox {n}: Mailbox isn't empty"
        )));
    }
    if w == "INBOX" {
        // Dovecot's maildir delete expunges the mail first, then refuses to remove INBOX
        // itself: the messages are gone and the command still fails.
        let all: Vec<(MessageEntry, Change)> = snap
            .messages
            .into_iter()
            .map(|e| (e, Change::Expunge))
            .collect();
        mbox.apply(&all).map_err(mail_err)?;
        mbox.sync_full().map_err(mail_err)?;
        return Err(CommandError::Data(format!(
            "Can't delete mailbox {n}: INBOX can't be deleted."
        )));
    }
    let dir = mbox.dir().to_path_buf();
    match t.store.location.layout {
        Layout::MaildirPlusPlus => {
            // Renamed out of the list first, then removed, as Dovecot's maildir delete does.
            let trash = dir.with_file_name(".DOVECOT-TRASHED");
            let _ = fs::remove_dir_all(&trash);
            fs::rename(&dir, &trash)
                .and_then(|_| fs::remove_dir_all(&trash))
                .map_err(|e| mail_err(MailError::io("delete", &dir)(e)))
        }
        Layout::Fs => {
            // LAYOUT=fs: the mail goes; a directory that still holds children stays.
            for sub in ["cur", "new", "tmp"] {
                let p = dir.join(sub);
                fs::remove_dir_all(&p).map_err(|e| mail_err(MailError::io("delete", &p)(e)))?;
            }
            for f in ["dovecot-uidlist", "dovecot-keywords", "maildirfolder"] {
                let _ = fs::remove_file(dir.join(f));
            }
            let _ = fs::remove_dir(&dir);
            Ok(())
        }
    }
}
