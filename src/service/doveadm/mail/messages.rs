//! The message-level mail commands' common walk — the mailboxes a query names (as Dovecot's
//! doveadm mailbox iteration picks them), each mailbox's snapshot, and the query evaluated per
//! message — plus `search` (`mailbox-guid`, `uid` rows) and `expunge` (the files go; the
//! uidlist keeps its records until a later sync drops them, as Dovecot's maildir does).
//! Text keys use `mail::mime`'s search matching (decoded headers and bodies, as IMAP SEARCH).

use std::fs;
use std::os::unix::fs::MetadataExt;
use std::time::SystemTime;

use serde_json::Value;

use super::common::{mail_params, param, row, rows, Row};
use super::mailbox::{separator, vname};
use super::query::{self, DateKind, DateOp, Key, When};
use super::target::{self, mail_err, Target};
use super::work::{self, from_value};
use crate::mail::maildir::keywords::Keywords;
use crate::mail::maildir::mailbox::{Change, UIDLIST};
use crate::mail::maildir::uidlist::Uidlist;
use crate::mail::maildir::{Flags, Maildir, MessageEntry, Snapshot};
use crate::mail::mime::{self, HeaderKind};
use crate::mail::{MailError, UserStore};
use crate::service::doveadm::spec::ParamKind;
use crate::service::doveadm::spec::{
    bool_param, string_array, CommandError, CommandFuture, CommandSpec, Context, Params,
};
use crate::service::imap::folders;

pub const SEARCH: CommandSpec = CommandSpec {
    name: "search",
    params: mail_params![param("query", ParamKind::Array, true, None)],
    run: run_search,
};

pub const EXPUNGE: CommandSpec = CommandSpec {
    name: "expunge",
    params: mail_params![
        param("deleteEmptyMailbox", ParamKind::Bool, false, Some('d')),
        param("query", ParamKind::Array, true, None),
    ],
    run: run_expunge,
};

/// One mailbox as a command walks it.
pub struct BoxView {
    /// Stored (modified UTF-7) name.
    pub wire: String,
    /// Display name.
    pub vname: String,
    pub mbox: Maildir,
    pub snap: Snapshot,
    /// The uidlist's mailbox GUID.
    pub guid: String,
    pub keywords: Keywords,
}

/// What to do with a mailbox the query names that does not exist.
#[derive(Clone, Copy, PartialEq, Eq)]
pub enum Missing {
    /// Nothing to do there (fetch).
    Skip,
    /// Exit code 68 (search, flags, expunge).
    Fail,
}

/// What a message's evaluation may need from disk.
#[derive(Default)]
pub struct Loaded {
    /// The message as stored (LF line ends).
    pub data: Option<Vec<u8>>,
    pub mtime: Option<i64>,
    pub ctime: Option<i64>,
}

impl BoxView {
    fn open(store: &UserStore, wire: &str) -> Result<BoxView, MailError> {
        let mbox = store.mailbox(wire, false)?;
        let snap = mbox.sync()?;
        let guid = Uidlist::read(&mbox.dir().join(UIDLIST))?
            .map(|l| l.guid)
            .unwrap_or_default();
        let keywords = Keywords::read(mbox.dir())?;
        Ok(BoxView {
            wire: wire.to_string(),
            vname: vname(wire),
            mbox,
            snap,
            guid,
            keywords,
        })
    }

    /// Reads what `need` asks for of message `i` (a file gone meanwhile reads as nothing).
    pub fn load(&self, i: usize, data: bool, stat: bool) -> Loaded {
        let e = &self.snap.messages[i];
        let meta = stat
            .then(|| fs::metadata(self.mbox.path_of(e)).ok())
            .flatten();
        Loaded {
            data: data.then(|| self.mbox.read(e).ok()).flatten(),
            mtime: meta.as_ref().map(|m| m.mtime()),
            ctime: meta.as_ref().map(|m| m.ctime()),
        }
    }
}

/// Whether any key of the tree satisfies `f`.
fn any_key(k: &Key, f: &dyn Fn(&Key) -> bool) -> bool {
    match k {
        Key::Not(a) => any_key(a, f),
        Key::Or(v) | Key::And(v) => v.iter().any(|a| any_key(a, f)),
        other => f(other),
    }
}

/// (needs the message text, needs the file's times)
fn needs(k: &Key) -> (bool, bool) {
    let data = any_key(k, &|k| {
        matches!(
            k,
            Key::Header(..) | Key::Body(_) | Key::Text(_) | Key::Date(DateKind::Sent, ..)
        )
    });
    let stat = any_key(k, &|k| {
        matches!(
            k,
            Key::Date(DateKind::Received | DateKind::Saved, ..) | Key::Older(_) | Key::Younger(_)
        )
    });
    (data, stat)
}

/// Walks the mailboxes `query` names, in order, calling `f` with each mailbox and the indexes
/// of its matching messages (blocking).
pub fn each_match(
    store: &UserStore,
    query: &Key,
    missing: Missing,
    mut f: impl FnMut(&BoxView, &[usize]) -> Result<(), CommandError>,
) -> Result<(), CommandError> {
    let sep = separator(store);
    let names = super::mailbox::select(store, query)?;
    let (need_data, need_stat) = needs(query);
    for name in names {
        let view = match BoxView::open(store, &name) {
            Ok(v) => v,
            Err(MailError::NoMailbox(_)) if missing == Missing::Skip => continue,
            Err(e) => return Err(mail_err(e)),
        };
        let mut hits = Vec::new();
        for i in 0..view.snap.messages.len() {
            let loaded = if need_data || need_stat {
                view.load(i, need_data, need_stat)
            } else {
                Loaded::default()
            };
            if eval(query, &view, i, &loaded, sep) {
                hits.push(i);
            }
        }
        f(&view, &hits)?;
    }
    Ok(())
}

fn now() -> i64 {
    SystemTime::now()
        .duration_since(SystemTime::UNIX_EPOCH)
        .map(|d| d.as_secs() as i64)
        .unwrap_or(0)
}

/// The `Date:` header: (UTC seconds, zone minutes); none or unparsable is time 0.
pub fn sent_date(msg: &mime::Message<'_>) -> (i64, i32) {
    msg.header_values("Date")
        .first()
        .and_then(|v| super::time::parse_rfc822(&String::from_utf8_lossy(v)))
        .unwrap_or((0, 0))
}

fn date_matches(kind: DateKind, op: DateOp, when: When, t: i64, tz: i32) -> bool {
    match when {
        When::Day(y, m, d) => {
            let day = crate::service::imap::message::days_from_civil(y, m, d);
            let msg_day = match kind {
                // The sent date's own calendar day (its zone).
                DateKind::Sent => (t + tz as i64 * 60).div_euclid(86_400),
                _ => {
                    let (my, mm, md) = super::time::local_date(t);
                    crate::service::imap::message::days_from_civil(my, mm, md)
                }
            };
            match op {
                DateOp::Before => msg_day < day,
                DateOp::On => msg_day == day,
                DateOp::Since => msg_day >= day,
            }
        }
        When::Exact(x) => match op {
            DateOp::Before => t < x,
            DateOp::On => t >= x && t < x + 86_400,
            DateOp::Since => t >= x,
        },
    }
}

/// Whether message `i` of `view` matches `k`.
pub fn eval(k: &Key, view: &BoxView, i: usize, l: &Loaded, sep: char) -> bool {
    let e: &MessageEntry = &view.snap.messages[i];
    let f = &e.flags;
    let data = l.data.as_deref().unwrap_or(&[]);
    let keyword = |name: &str| {
        (b'a'..=b'z').any(|c| {
            f.has(c)
                && view
                    .keywords
                    .name(c)
                    .is_some_and(|n| n.eq_ignore_ascii_case(name))
        })
    };
    match k {
        Key::All => true,
        Key::Flag(c) => f.has(*c),
        Key::NoFlag(c) => !f.has(*c),
        Key::Recent => e.in_new,
        Key::Old => !e.in_new,
        Key::New => e.in_new && !f.has(Flags::SEEN),
        Key::Keyword(n) => keyword(n),
        Key::Unkeyword(n) => !keyword(n),
        Key::Larger(n) => e.vsize > *n,
        Key::Smaller(n) => e.vsize < *n,
        Key::Uid(set) => {
            let last = view.snap.messages.last().map(|m| m.uid).unwrap_or(0);
            query::in_set(set, e.uid, last)
        }
        Key::Seq(set) => query::in_set(set, i as u32 + 1, view.snap.messages.len() as u32),
        Key::Date(kind, op, when) => {
            let (t, tz) = match kind {
                DateKind::Received => (l.mtime.unwrap_or(0), 0),
                DateKind::Saved => (l.ctime.unwrap_or(0), 0),
                DateKind::Sent => sent_date(&mime::scan(data)),
            };
            date_matches(*kind, *op, *when, t, tz)
        }
        Key::Older(s) => now() - l.mtime.unwrap_or(0) >= *s as i64,
        Key::Younger(s) => now() - l.mtime.unwrap_or(0) <= *s as i64,
        Key::Header(name, v) => {
            mime::scan(data).search_header(name, v, HeaderKind::for_search_key(name))
        }
        Key::Body(v) => mime::scan(data).search_body(v),
        Key::Text(v) => mime::scan(data).search_text(v),
        Key::Mailbox(p) => query::mailbox_matches(p, &view.vname, sep),
        Key::MailboxGuid(g) => g.eq_ignore_ascii_case(&view.guid),
        Key::Guid(g) => *g == e.guid,
        Key::Not(a) => !eval(a, view, i, l, sep),
        Key::Or(v) => v.iter().any(|a| eval(a, view, i, l, sep)),
        Key::And(v) => v.iter().all(|a| eval(a, view, i, l, sep)),
    }
}

/// The parsed `query` parameter.
pub fn query_param(params: &Params) -> Result<Key, CommandError> {
    query::parse(&string_array(params, "query")?)
}

fn run_search(ctx: Context, params: Params) -> CommandFuture {
    Box::pin(async move {
        query_param(&params)?;
        let mut out: Vec<Row> = Vec::new();
        for user in target::users(&ctx, &params).await? {
            out.extend(from_value::<Vec<Row>>(
                work::run(&ctx, &user, SEARCH.name, search_work, &params).await?,
            )?);
        }
        Ok(rows(out))
    })
}

/// `search` for one user: its rows.
pub fn search_work(t: &Target, params: &Params) -> Result<Value, CommandError> {
    let q = query_param(params)?;
    let mut found = Vec::new();
    each_match(&t.store, &q, Missing::Fail, |view, hits| {
        for &i in hits {
            found.push(row([
                ("mailbox-guid", view.guid.clone()),
                ("uid", view.snap.messages[i].uid.to_string()),
            ]));
        }
        Ok(())
    })?;
    Ok(rows(found))
}

/// `expunge`'s query (which must name more than mailboxes in each branch).
fn expunge_query(params: &Params) -> Result<Key, CommandError> {
    let q = query_param(params)?;
    if !query::has_non_mailbox(&q) {
        return Err(CommandError::Usage(
            "expunge: To avoid accidents, each branch in search query must contain something \
             else besides MAILBOX (e.g. just add \"all\" if you want everything)"
                .into(),
        ));
    }
    Ok(q)
}

fn run_expunge(ctx: Context, params: Params) -> CommandFuture {
    Box::pin(async move {
        expunge_query(&params)?;
        bool_param(&params, "deleteEmptyMailbox")?;
        for user in target::users(&ctx, &params).await? {
            work::run(&ctx, &user, EXPUNGE.name, expunge_work, &params).await?;
        }
        Ok(rows(Vec::new()))
    })
}

/// `expunge` for one user.
pub fn expunge_work(t: &Target, params: &Params) -> Result<Value, CommandError> {
    let q = expunge_query(params)?;
    let delete_empty = bool_param(params, "deleteEmptyMailbox")?;
    let mut emptied = Vec::new();
    each_match(&t.store, &q, Missing::Fail, |view, hits| {
        let changes: Vec<(MessageEntry, Change)> = hits
            .iter()
            .map(|&i| (view.snap.messages[i].clone(), Change::Expunge))
            .collect();
        view.mbox.apply(&changes).map_err(mail_err)?;
        // The expunge's sync: records of gone files dropped by Dovecot's rule.
        let after = view.mbox.sync_full().map_err(mail_err)?;
        if delete_empty && after.messages.is_empty() {
            emptied.push(view.wire.clone());
        }
        Ok(())
    })?;
    // `-d`: each mailbox left empty is deleted (INBOX refuses, exit code 65, as in Dovecot)
    // and unsubscribed.
    let sep = separator(&t.store);
    let root = &t.store.location.root;
    for wire in emptied {
        super::mailbox::delete_one(t, &wire, true)?;
        if folders::subscriptions(root, sep).contains(&wire) {
            folders::set_subscribed(root, sep, &wire, false).map_err(mail_err)?;
        }
    }
    Ok(Value::Null)
}
