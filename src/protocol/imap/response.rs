//! The response encoder: what the server sends, as bytes. Tagged and untagged status lines
//! with response codes, continuations, and the untagged data roost's imap service answers
//! with (CAPABILITY, LIST/LSUB with LIST-EXTENDED items, STATUS, SEARCH/ESEARCH, FLAGS,
//! EXISTS/RECENT/EXPUNGE, FETCH incl. literals, NAMESPACE, ENABLED, ID). Strings are written as
//! atoms, quoted strings or literals, whichever is valid and smallest, as Dovecot's
//! `imap-quote` does.

use super::command::{SequenceSet, StatusItem};

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Status {
    Ok,
    No,
    Bad,
    Bye,
    Preauth,
}

impl Status {
    pub fn as_str(self) -> &'static str {
        match self {
            Status::Ok => "OK",
            Status::No => "NO",
            Status::Bad => "BAD",
            Status::Bye => "BYE",
            Status::Preauth => "PREAUTH",
        }
    }
}

/// Response codes (RFC 3501 §7.1, UIDPLUS, RFC 5530 and friends).
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Code {
    Alert,
    BadCharset(Vec<String>),
    Capability(Vec<String>),
    Parse,
    PermanentFlags(Vec<String>),
    ReadOnly,
    ReadWrite,
    TryCreate,
    UidNext(u32),
    UidValidity(u32),
    Unseen(u32),
    /// UIDPLUS.
    AppendUid {
        uid_validity: u32,
        uids: SequenceSet,
    },
    /// UIDPLUS.
    CopyUid {
        uid_validity: u32,
        source: SequenceSet,
        dest: SequenceSet,
    },
    /// QRESYNC/UNSELECT-era `[CLOSED]`.
    Closed,
    /// RFC 5530 codes, by name (`NONEXISTENT`, `ALREADYEXISTS`, `SERVERBUG`, `OVERQUOTA`, ...).
    Other(String),
}

impl Code {
    fn encode(&self, out: &mut Vec<u8>) {
        out.push(b'[');
        match self {
            Code::Alert => out.extend_from_slice(b"ALERT"),
            Code::BadCharset(c) => {
                out.extend_from_slice(b"BADCHARSET");
                if !c.is_empty() {
                    out.extend_from_slice(b" ");
                    list(out, c.iter().map(|s| s.as_bytes()), astring);
                }
            }
            Code::Capability(c) => {
                out.extend_from_slice(b"CAPABILITY");
                for cap in c {
                    out.push(b' ');
                    out.extend_from_slice(cap.as_bytes());
                }
            }
            Code::Parse => out.extend_from_slice(b"PARSE"),
            Code::PermanentFlags(f) => {
                out.extend_from_slice(b"PERMANENTFLAGS ");
                flag_list(out, f);
            }
            Code::ReadOnly => out.extend_from_slice(b"READ-ONLY"),
            Code::ReadWrite => out.extend_from_slice(b"READ-WRITE"),
            Code::TryCreate => out.extend_from_slice(b"TRYCREATE"),
            Code::UidNext(n) => out.extend_from_slice(format!("UIDNEXT {n}").as_bytes()),
            Code::UidValidity(n) => out.extend_from_slice(format!("UIDVALIDITY {n}").as_bytes()),
            Code::Unseen(n) => out.extend_from_slice(format!("UNSEEN {n}").as_bytes()),
            Code::AppendUid { uid_validity, uids } => {
                out.extend_from_slice(format!("APPENDUID {uid_validity} {uids}").as_bytes())
            }
            Code::CopyUid {
                uid_validity,
                source,
                dest,
            } => {
                out.extend_from_slice(format!("COPYUID {uid_validity} {source} {dest}").as_bytes())
            }
            Code::Closed => out.extend_from_slice(b"CLOSED"),
            Code::Other(s) => out.extend_from_slice(s.as_bytes()),
        }
        out.extend_from_slice(b"] ");
    }
}

/// `tag STATUS [code] text\r\n` (`*` when `tag` is `None`).
pub fn status(
    out: &mut Vec<u8>,
    tag: Option<&str>,
    status: Status,
    code: Option<&Code>,
    text: &str,
) {
    out.extend_from_slice(tag.unwrap_or("*").as_bytes());
    out.push(b' ');
    out.extend_from_slice(status.as_str().as_bytes());
    out.push(b' ');
    if let Some(c) = code {
        c.encode(out);
    }
    out.extend_from_slice(text.as_bytes());
    out.extend_from_slice(b"\r\n");
}

/// `+ text\r\n` (`+ OK` is what Dovecot sends for a synchronising literal).
pub fn continuation(out: &mut Vec<u8>, text: &str) {
    out.extend_from_slice(b"+ ");
    out.extend_from_slice(text.as_bytes());
    out.extend_from_slice(b"\r\n");
}

/// A LIST/LSUB entry.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ListEntry<'a> {
    /// `\HasNoChildren`, `\Noselect`, `\Subscribed`, `\Sent`, ...
    pub attributes: Vec<&'a str>,
    /// `None` is NIL (flat namespace).
    pub delimiter: Option<char>,
    /// The name in wire form (modified UTF-7).
    pub mailbox: &'a [u8],
    /// LIST-EXTENDED `(CHILDINFO ("SUBSCRIBED"))`, as Dovecot writes it.
    pub child_info_subscribed: bool,
}

/// One FETCH data item.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum FetchValue<'a> {
    Flags(Vec<String>),
    Uid(u32),
    /// The date-time string (`17-Jul-1996 02:44:25 -0700`).
    InternalDate(String),
    Rfc822Size(u64),
    /// Pre-encoded parenthesised data (ENVELOPE, BODY, BODYSTRUCTURE): `(name, bytes)`.
    Raw(&'static str, Vec<u8>),
    /// A string item sent as a literal or NIL: `RFC822`, `BODY[HEADER]<0>`, ...
    Section(String, Option<&'a [u8]>),
}

/// The untagged data responses.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Untagged<'a> {
    Capability(Vec<&'a str>),
    List(ListEntry<'a>),
    Lsub(ListEntry<'a>),
    Status {
        mailbox: &'a [u8],
        items: Vec<(StatusItem, u64)>,
    },
    Search(Vec<u32>),
    /// ESEARCH (RFC 4731): `* ESEARCH (TAG "t") UID MIN 1 MAX 9 COUNT 3 ALL 1:3`.
    ESearch {
        tag: &'a str,
        uid: bool,
        min: Option<u32>,
        max: Option<u32>,
        count: Option<u32>,
        all: Option<SequenceSet>,
    },
    Flags(Vec<String>),
    Exists(u32),
    Recent(u32),
    Expunge(u32),
    Fetch {
        seq: u32,
        items: Vec<FetchValue<'a>>,
    },
    /// Personal, other users', shared: each a list of (prefix, delimiter).
    Namespace([Vec<(&'a str, Option<char>)>; 3]),
    Enabled(Vec<&'a str>),
    Id(Option<Vec<(&'a str, Option<&'a str>)>>),
}

impl Untagged<'_> {
    /// Appends `* ...\r\n`.
    pub fn encode(&self, out: &mut Vec<u8>) {
        out.extend_from_slice(b"* ");
        match self {
            Untagged::Capability(caps) => {
                out.extend_from_slice(b"CAPABILITY");
                for c in caps {
                    out.push(b' ');
                    out.extend_from_slice(c.as_bytes());
                }
            }
            Untagged::List(e) => list_entry(out, b"LIST ", e),
            Untagged::Lsub(e) => list_entry(out, b"LSUB ", e),
            Untagged::Status { mailbox, items } => {
                out.extend_from_slice(b"STATUS ");
                astring(out, mailbox);
                out.extend_from_slice(b" (");
                for (i, (item, n)) in items.iter().enumerate() {
                    if i > 0 {
                        out.push(b' ');
                    }
                    out.extend_from_slice(format!("{} {n}", item.as_str()).as_bytes());
                }
                out.push(b')');
            }
            Untagged::Search(ids) => {
                out.extend_from_slice(b"SEARCH");
                for id in ids {
                    out.extend_from_slice(format!(" {id}").as_bytes());
                }
            }
            Untagged::ESearch {
                tag,
                uid,
                min,
                max,
                count,
                all,
            } => {
                out.extend_from_slice(b"ESEARCH (TAG ");
                quoted(out, tag.as_bytes());
                out.push(b')');
                if *uid {
                    out.extend_from_slice(b" UID");
                }
                for (name, v) in [("MIN", min), ("MAX", max), ("COUNT", count)] {
                    if let Some(v) = v {
                        out.extend_from_slice(format!(" {name} {v}").as_bytes());
                    }
                }
                if let Some(all) = all {
                    out.extend_from_slice(format!(" ALL {all}").as_bytes());
                }
            }
            Untagged::Flags(f) => {
                out.extend_from_slice(b"FLAGS ");
                flag_list(out, f);
            }
            Untagged::Exists(n) => out.extend_from_slice(format!("{n} EXISTS").as_bytes()),
            Untagged::Recent(n) => out.extend_from_slice(format!("{n} RECENT").as_bytes()),
            Untagged::Expunge(n) => out.extend_from_slice(format!("{n} EXPUNGE").as_bytes()),
            Untagged::Fetch { seq, items } => {
                out.extend_from_slice(format!("{seq} FETCH (").as_bytes());
                for (i, item) in items.iter().enumerate() {
                    if i > 0 {
                        out.push(b' ');
                    }
                    fetch_value(out, item);
                }
                out.push(b')');
            }
            Untagged::Namespace(kinds) => {
                out.extend_from_slice(b"NAMESPACE");
                for ns in kinds {
                    out.push(b' ');
                    if ns.is_empty() {
                        out.extend_from_slice(b"NIL");
                        continue;
                    }
                    out.push(b'(');
                    for (prefix, delim) in ns {
                        out.push(b'(');
                        quoted_or_literal(out, prefix.as_bytes());
                        out.push(b' ');
                        delimiter(out, *delim);
                        out.push(b')');
                    }
                    out.push(b')');
                }
            }
            Untagged::Enabled(caps) => {
                out.extend_from_slice(b"ENABLED");
                for c in caps {
                    out.push(b' ');
                    out.extend_from_slice(c.as_bytes());
                }
            }
            Untagged::Id(fields) => {
                out.extend_from_slice(b"ID ");
                match fields {
                    None => out.extend_from_slice(b"NIL"),
                    Some(f) => {
                        out.push(b'(');
                        for (i, (k, v)) in f.iter().enumerate() {
                            if i > 0 {
                                out.push(b' ');
                            }
                            quoted_or_literal(out, k.as_bytes());
                            out.push(b' ');
                            nstring(out, v.map(str::as_bytes));
                        }
                        out.push(b')');
                    }
                }
            }
        }
        out.extend_from_slice(b"\r\n");
    }
}

fn list_entry(out: &mut Vec<u8>, name: &[u8], e: &ListEntry) {
    out.extend_from_slice(name);
    out.push(b'(');
    for (i, a) in e.attributes.iter().enumerate() {
        if i > 0 {
            out.push(b' ');
        }
        out.extend_from_slice(a.as_bytes());
    }
    out.extend_from_slice(b") ");
    delimiter(out, e.delimiter);
    out.push(b' ');
    astring(out, e.mailbox);
    if e.child_info_subscribed {
        out.extend_from_slice(b" (CHILDINFO (\"SUBSCRIBED\"))");
    }
}

fn delimiter(out: &mut Vec<u8>, d: Option<char>) {
    match d {
        None => out.extend_from_slice(b"NIL"),
        Some(c) => {
            let mut buf = [0u8; 4];
            quoted(out, c.encode_utf8(&mut buf).as_bytes());
        }
    }
}

fn fetch_value(out: &mut Vec<u8>, v: &FetchValue) {
    match v {
        FetchValue::Flags(f) => {
            out.extend_from_slice(b"FLAGS ");
            flag_list(out, f);
        }
        FetchValue::Uid(u) => out.extend_from_slice(format!("UID {u}").as_bytes()),
        FetchValue::InternalDate(d) => {
            out.extend_from_slice(b"INTERNALDATE ");
            quoted(out, d.as_bytes());
        }
        FetchValue::Rfc822Size(n) => out.extend_from_slice(format!("RFC822.SIZE {n}").as_bytes()),
        FetchValue::Raw(name, bytes) => {
            out.extend_from_slice(name.as_bytes());
            out.push(b' ');
            out.extend_from_slice(bytes);
        }
        FetchValue::Section(name, data) => {
            out.extend_from_slice(name.as_bytes());
            out.push(b' ');
            match data {
                Some(d) => literal(out, d),
                None => out.extend_from_slice(b"NIL"),
            }
        }
    }
}

fn flag_list(out: &mut Vec<u8>, flags: &[String]) {
    out.push(b'(');
    for (i, f) in flags.iter().enumerate() {
        if i > 0 {
            out.push(b' ');
        }
        out.extend_from_slice(f.as_bytes());
    }
    out.push(b')');
}

fn list<'a>(
    out: &mut Vec<u8>,
    items: impl Iterator<Item = &'a [u8]>,
    each: fn(&mut Vec<u8>, &[u8]),
) {
    out.push(b'(');
    for (i, it) in items.enumerate() {
        if i > 0 {
            out.push(b' ');
        }
        each(out, it);
    }
    out.push(b')');
}

fn is_atom_char(b: u8) -> bool {
    b > 0x20 && b < 0x7f && !matches!(b, b'(' | b')' | b'{' | b'%' | b'*' | b'"' | b'\\' | b']')
}

/// An atom if possible, else a quoted string, else a literal.
pub fn astring(out: &mut Vec<u8>, s: &[u8]) {
    if !s.is_empty() && s.iter().all(|&b| is_atom_char(b)) && !s.eq_ignore_ascii_case(b"NIL") {
        out.extend_from_slice(s);
    } else {
        quoted_or_literal(out, s);
    }
}

/// A quoted string unless `s` holds bytes a quoted string cannot (CR, LF, NUL, 8-bit).
pub fn quoted_or_literal(out: &mut Vec<u8>, s: &[u8]) {
    if s.iter()
        .all(|&b| b != 0 && b != b'\r' && b != b'\n' && b < 0x80)
    {
        quoted(out, s);
    } else {
        literal(out, s);
    }
}

/// A string or NIL.
pub fn nstring(out: &mut Vec<u8>, s: Option<&[u8]>) {
    match s {
        Some(s) => quoted_or_literal(out, s),
        None => out.extend_from_slice(b"NIL"),
    }
}

/// `"..."` with `"` and `\` escaped (the caller checks the bytes are quotable).
pub fn quoted(out: &mut Vec<u8>, s: &[u8]) {
    out.push(b'"');
    for &b in s {
        if b == b'"' || b == b'\\' {
            out.push(b'\\');
        }
        out.push(b);
    }
    out.push(b'"');
}

/// `{N}\r\n` followed by the bytes.
pub fn literal(out: &mut Vec<u8>, s: &[u8]) {
    out.extend_from_slice(format!("{{{}}}\r\n", s.len()).as_bytes());
    out.extend_from_slice(s);
}
