//! `fetch`: the fields doveadm's fetch prints for each message a query matches, one row per
//! message with the fields in the order asked: `user mailbox mailbox-guid seq uid guid flags
//! hdr body body.snippet text text.utf8 size.physical size.virtual date.received date.sent
//! date.saved` (and their `.unixtime` forms), `imap.envelope imap.body imap.bodystructure`
//! (from `mail::mime`, without the outer parentheses, as Dovecot caches them), `pop3.uidl`
//! and `pop3.order` (empty: roost keeps no POP3 UIDL overrides), and `hdr.NAME` with
//! `.utf8`, `.address`, `.address_name`. Bytes are the stored file's (LF line ends); the
//! received date is the file's mtime and the saved date its ctime, in local time. A mailbox
//! the query names that does not exist gives no rows (Dovecot's fetch ignores it). One user's
//! rows over [`MAX_ANSWER_BYTES`] are refused, and all users' rows count into the request's
//! answer budget (Dovecot streams; roost's answer is one JSON value).

use serde_json::Value;

use super::common::{mail_params, param, rows, Row};
use super::mailbox::vname;
use super::messages::{each_match, query_param, sent_date, BoxView, Loaded, Missing};
use super::target::{self, Target};
use super::time::local_string;
use super::work::{self, from_value};
use crate::mail::mime::{self, address::parse_address_list, decode};
use crate::service::doveadm::spec::ParamKind;
use crate::service::doveadm::spec::{
    string_array, CommandError, CommandFuture, CommandSpec, Context, Params,
};
use crate::service::imap::selected::flag_names;

pub const FETCH: CommandSpec = CommandSpec {
    name: "fetch",
    params: mail_params![
        param("field", ParamKind::Array, true, None),
        param("query", ParamKind::Array, true, None),
    ],
    run,
};

/// The answer is built whole (the command layer returns one JSON value), so it has a limit:
/// past this many bytes of field names and values the fetch fails (exit code 2).
pub const MAX_ANSWER_BYTES: usize = 64 << 20;

const FIELDS: &[&str] = &[
    "user",
    "mailbox",
    "mailbox-guid",
    "seq",
    "uid",
    "guid",
    "flags",
    "hdr",
    "body",
    "body.preview",
    "body.snippet",
    "text",
    "text.utf8",
    "size.physical",
    "size.virtual",
    "date.received",
    "date.sent",
    "date.saved",
    "date.received.unixtime",
    "date.sent.unixtime",
    "date.saved.unixtime",
    "imap.envelope",
    "imap.body",
    "imap.bodystructure",
    "pop3.uidl",
    "pop3.order",
];

/// Fields that read the message.
fn needs_data(f: &str) -> bool {
    f.starts_with("hdr")
        || f.starts_with("body")
        || f.starts_with("text")
        || f.starts_with("imap.")
        || f.starts_with("date.sent")
}

fn needs_stat(f: &str) -> bool {
    f.starts_with("date.received") || f.starts_with("date.saved")
}

fn check_field(f: &str) -> Result<(), CommandError> {
    if FIELDS.contains(&f) {
        return Ok(());
    }
    if let Some(h) = f.strip_prefix("hdr.") {
        let filter = h.split_once('.').map(|(_, x)| x);
        if matches!(
            filter,
            None | Some("utf8" | "address" | "address_name" | "address_name.utf8")
        ) {
            return Ok(());
        }
        return Err(CommandError::Usage(format!("Unknown header filter: {f}")));
    }
    Err(CommandError::Usage(format!("Unknown fetch field: {f}")))
}

/// The fields asked for (lower case, each checked).
fn fetch_fields(params: &Params) -> Result<Vec<String>, CommandError> {
    let fields: Vec<String> = string_array(params, "field")?
        .iter()
        .flat_map(|f| {
            f.split_whitespace()
                .map(|w| w.to_ascii_lowercase())
                .collect::<Vec<_>>()
        })
        .collect();
    if fields.is_empty() {
        return Err(CommandError::Usage("Missing fetch fields".into()));
    }
    for f in &fields {
        check_field(f)?;
    }
    Ok(fields)
}

fn run(ctx: Context, params: Params) -> CommandFuture {
    Box::pin(async move {
        fetch_fields(&params)?;
        query_param(&params)?;
        let mut out: Vec<Row> = Vec::new();
        // Each user's rows are bounded here, all of them by the request's answer budget.
        for user in target::users(&ctx, &params).await? {
            out.extend(from_value::<Vec<Row>>(
                work::run(&ctx, &user, FETCH.name, work, &params).await?,
            )?);
        }
        Ok(rows(out))
    })
}

/// `fetch` for one user: its rows.
pub fn work(t: &Target, params: &Params) -> Result<Value, CommandError> {
    let fields = fetch_fields(params)?;
    let q = query_param(params)?;
    let data = fields.iter().any(|f| needs_data(f));
    let stat = fields.iter().any(|f| needs_stat(f));
    let mut found = Vec::new();
    let mut bytes = 0usize;
    each_match(&t.store, &q, Missing::Skip, |view, hits| {
        for &i in hits {
            let l = view.load(i, data, stat);
            let bytes_of = l.data.as_deref().unwrap_or(&[]);
            let msg = mime::scan(bytes_of);
            let mut r = Row::new();
            for f in &fields {
                let v = value(f, &t.user, view, i, &l, &msg);
                bytes += f.len() + v.len();
                r.insert(f.clone(), v.into());
            }
            if bytes > MAX_ANSWER_BYTES {
                return Err(CommandError::NotPossible(format!(
                    "fetch answer over {} MiB: narrow the query or the fields",
                    MAX_ANSWER_BYTES >> 20
                )));
            }
            found.push(r);
        }
        Ok(())
    })?;
    Ok(rows(found))
}

fn strip_parens(v: Vec<u8>) -> String {
    let s = String::from_utf8_lossy(&v).into_owned();
    s.strip_prefix('(')
        .and_then(|x| x.strip_suffix(')'))
        .map(str::to_string)
        .unwrap_or(s)
}

fn text(b: &[u8]) -> String {
    String::from_utf8_lossy(b).into_owned()
}

/// The preview Dovecot's body.snippet gives: the first text part's decoded text, quoted lines
/// left out, whitespace runs as one space, at most 200 characters.
fn snippet(msg: &mime::Message<'_>) -> String {
    let Some(body) = msg.body_texts().into_iter().next() else {
        return String::new();
    };
    let kept: Vec<&str> = body
        .lines()
        .filter(|l| !l.trim_start().starts_with('>'))
        .collect();
    let joined = kept.join(" ");
    let words: Vec<&str> = joined.split_whitespace().collect();
    words.join(" ").chars().take(200).collect()
}

fn value(
    f: &str,
    user: &str,
    view: &BoxView,
    i: usize,
    l: &Loaded,
    msg: &mime::Message<'_>,
) -> String {
    let e = &view.snap.messages[i];
    let data = l.data.as_deref().unwrap_or(&[]);
    let split = || {
        let h = msg.parts[0].header.clone();
        (h.start, h.end)
    };
    match f {
        "user" => user.to_string(),
        "mailbox" => vname(&view.wire),
        "mailbox-guid" => view.guid.clone(),
        "seq" => (i + 1).to_string(),
        "uid" => e.uid.to_string(),
        "guid" => e.guid.clone(),
        "flags" => flag_names(&e.flags, e.in_new, &view.keywords).join(" "),
        "hdr" => {
            let (a, b) = split();
            text(&data[a..b])
        }
        "body" => text(&data[split().1..]),
        "body.preview" | "body.snippet" => snippet(msg),
        "text" => text(data),
        "text.utf8" => text_utf8(data, msg),
        "size.physical" => e.size.to_string(),
        "size.virtual" => e.vsize.to_string(),
        "date.received" => local_string(l.mtime.unwrap_or(0)),
        "date.saved" => local_string(l.ctime.unwrap_or(0)),
        "date.received.unixtime" => l.mtime.unwrap_or(0).to_string(),
        "date.saved.unixtime" => l.ctime.unwrap_or(0).to_string(),
        "date.sent" => {
            let (t, tz) = sent_date(msg);
            let sign = if tz < 0 { '-' } else { '+' };
            let tz = tz.unsigned_abs();
            format!("{} ({sign}{:02}{:02})", local_string(t), tz / 60, tz % 60)
        }
        "date.sent.unixtime" => sent_date(msg).0.to_string(),
        "imap.envelope" => strip_parens(msg.envelope().to_imap()),
        "imap.body" => strip_parens(msg.body()),
        "imap.bodystructure" => strip_parens(msg.bodystructure()),
        "pop3.uidl" | "pop3.order" => String::new(),
        _ => header_field(f.strip_prefix("hdr.").unwrap_or(f), msg),
    }
}

/// `text.utf8`, as Dovecot's message decoder gives it: every part's header with its values
/// decoded, and the body of every part without children with its transfer encoding undone
/// and, for text, its charset converted to UTF-8 (MIME boundaries are not part of it).
fn text_utf8(data: &[u8], m: &mime::Message<'_>) -> String {
    let mut out = String::new();
    for p in &m.parts {
        for fld in mime::header::fields(&data[p.header.clone()]) {
            out.push_str(&String::from_utf8_lossy(fld.name));
            out.push_str(&String::from_utf8_lossy(fld.middle));
            out.push_str(&decode::header_value(&mime::header::oneline(&fld.value)));
            out.push('\n');
        }
        out.push('\n');
        if !p.children.is_empty() {
            continue;
        }
        let raw = &data[p.body.clone()];
        let cte = p
            .data
            .content_transfer_encoding
            .as_deref()
            .map(|c| String::from_utf8_lossy(c).to_ascii_lowercase());
        let bytes = match cte.as_deref() {
            Some("base64") => decode::base64(raw),
            Some("quoted-printable") => decode::quoted_printable(raw, false),
            _ => raw.to_vec(),
        };
        let is_text = p
            .data
            .content_type
            .as_deref()
            .is_none_or(|t| t.eq_ignore_ascii_case(b"text"));
        if is_text {
            let charset = p
                .data
                .content_type_params
                .iter()
                .find(|(k, _)| k.eq_ignore_ascii_case(b"charset"))
                .map(|(_, v)| v.clone())
                .unwrap_or_else(|| b"us-ascii".to_vec());
            out.push_str(&decode::to_utf8(&bytes, &charset));
        } else {
            out.push_str(&String::from_utf8_lossy(&bytes));
        }
    }
    out
}

/// `hdr.NAME[.FILTER]`: the field's values, one a line.
fn header_field(spec: &str, msg: &mime::Message<'_>) -> String {
    let (name, filter) = match spec.split_once('.') {
        Some((n, f)) => (n, Some(f)),
        None => (spec, None),
    };
    let values = msg.header_values(name);
    match filter {
        None => values
            .iter()
            .map(|v| text(v))
            .collect::<Vec<_>>()
            .join("\n"),
        Some("utf8") => values
            .iter()
            .map(|v| decode::header_value(v))
            .collect::<Vec<_>>()
            .join("\n"),
        Some(filter) => {
            let joined = values.join(&b"\n"[..]);
            parse_address_list(&joined, usize::MAX)
                .iter()
                .map(|a| match filter {
                    "address" => {
                        let mut s = a.mailbox.as_deref().map(text).unwrap_or_default();
                        if let Some(d) = &a.domain {
                            s.push('@');
                            s.push_str(&text(d));
                        }
                        s
                    }
                    "address_name" => a.name.as_deref().map(text).unwrap_or_default(),
                    _ => a
                        .name
                        .as_deref()
                        .map(decode::header_value)
                        .unwrap_or_default(),
                })
                .collect::<Vec<_>>()
                .join("\n")
        }
    }
}
