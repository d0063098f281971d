//! LIST and LSUB as Dovecot 2.3 answers them, without I/O: RFC 3501 LIST/LSUB, LIST-EXTENDED
//! (RFC 5258: selection SUBSCRIBED, REMOTE, RECURSIVEMATCH, SPECIAL-USE; return SUBSCRIBED,
//! CHILDREN, SPECIAL-USE; several patterns; `\NonExistent`; `CHILDINFO ("SUBSCRIBED")`),
//! SPECIAL-USE attributes (RFC 6154), which entries get a LIST-STATUS line, and the
//! `auto = create|subscribe` mailboxes counted as existing (and subscribed) before they are on
//! disk. Given the folders on disk and the subscriptions, it yields the entries to send.

use std::collections::{BTreeSet, HashMap};
use std::ops::Bound;

use super::namespace::Namespace;
use crate::mail::namespace::AutoMailbox;

const SUBSCRIBED: u16 = 1;
const NONEXISTENT: u16 = 2;
const CHILDREN: u16 = 4;
const NOCHILDREN: u16 = 8;
const NOINFERIORS: u16 = 16;
const CHILD_SUBSCRIBED: u16 = 32;

/// What the client asked for.
#[derive(Clone, Debug, Default)]
pub struct Query {
    pub lsub: bool,
    /// Reference and pattern joined, one per pattern.
    pub patterns: Vec<String>,
    /// Extended syntax was used (selection or return options, or a pattern list).
    pub extended: bool,
    pub select_subscribed: bool,
    pub select_special_use: bool,
    pub recursive: bool,
    pub return_subscribed: bool,
    pub return_children: bool,
    pub return_special_use: bool,
    /// LSUB with a pattern not ending in `%`: only subscribed names.
    pub lsub_only_subscribed: bool,
}

impl Query {
    /// From a LIST command (selection options upper-cased by the parser).
    pub fn list(
        selection: &[String],
        reference: &str,
        patterns: &[String],
        returns: &crate::protocol::imap::command::ListReturn,
        extended: bool,
    ) -> Query {
        let has = |s: &str| selection.iter().any(|x| x == s);
        let mut q = Query {
            patterns: patterns.iter().map(|p| format!("{reference}{p}")).collect(),
            extended,
            select_subscribed: has("SUBSCRIBED"),
            select_special_use: has("SPECIAL-USE"),
            recursive: has("RECURSIVEMATCH"),
            return_subscribed: returns.subscribed || has("SUBSCRIBED"),
            return_children: returns.children,
            return_special_use: returns.special_use || has("SPECIAL-USE"),
            ..Query::default()
        };
        if !extended {
            q.return_children = true;
            q.return_special_use = true;
        }
        q
    }

    /// From LSUB.
    pub fn lsub(reference: &str, pattern: &str) -> Query {
        Query {
            lsub: true,
            patterns: vec![format!("{reference}{pattern}")],
            select_subscribed: true,
            recursive: true,
            return_special_use: true,
            lsub_only_subscribed: !pattern.ends_with('%'),
            ..Query::default()
        }
    }
}

/// One `* LIST`/`* LSUB` line to send.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Entry {
    pub name: String,
    pub attributes: Vec<String>,
    /// ` (CHILDINFO ("SUBSCRIBED"))` follows.
    pub child_subscribed: bool,
    /// LIST-STATUS sends `* STATUS` for it.
    pub status: bool,
}

/// The user's mailboxes as the listing sees them.
pub struct Mailboxes<'a> {
    pub ns: &'a Namespace,
    /// Folders on disk, client names, INBOX excluded.
    pub disk: BTreeSet<String>,
    /// The subscriptions file's names as client names, in file order.
    pub subscriptions: Vec<String>,
}

impl Mailboxes<'_> {
    /// Folders that exist: on disk or `auto`.
    fn existing(&self) -> Vec<String> {
        let mut all: Vec<String> = self.disk.iter().cloned().collect();
        for a in self.ns.auto() {
            if a.vname != "INBOX" && !all.contains(&a.vname) {
                all.push(a.vname.clone());
            }
        }
        all
    }

    fn exists(&self, name: &str) -> bool {
        name == "INBOX" || self.disk.contains(name) || self.ns.auto().any(|a| a.vname == name)
    }

    fn has_children(&self, name: &str) -> bool {
        let p = format!("{name}{}", self.ns.sep);
        self.disk
            .range::<str, _>((Bound::Included(p.as_str()), Bound::Unbounded))
            .next()
            .is_some_and(|d| d.starts_with(&p))
            || self.ns.auto().any(|a| a.vname.starts_with(&p))
    }

    /// Subscribed: in the file, or `auto = subscribe`.
    fn subscribed(&self, name: &str) -> bool {
        self.subscriptions.iter().any(|s| s == name)
            || self
                .ns
                .auto()
                .any(|a| a.auto == AutoMailbox::Subscribe && a.vname == name)
    }

    fn child_subscribed(&self, name: &str) -> bool {
        let p = format!("{name}{}", self.ns.sep);
        self.subscriptions.iter().any(|s| s.starts_with(&p))
    }

    fn matches(&self, q: &Query, name: &str) -> bool {
        q.patterns.iter().any(|p| matches(p, name, self.ns.sep))
    }

    /// LIST/LSUB entries in the order they are sent.
    pub fn list(&self, q: &Query) -> Vec<Entry> {
        let sep = self.ns.sep;
        // name → flags, in listing order
        let mut rows: Vec<(String, u16)> = Vec::new();
        let root = self.ns.root().map(str::to_string);
        let root_is_inbox = root
            .as_deref()
            .is_some_and(|r| r.eq_ignore_ascii_case("INBOX"));
        let mut inbox_done = false;
        // The namespace prefix first (Dovecot's mailbox_list_ns_prefix_return).
        if let Some(r) = &root {
            if self.matches(q, r) {
                let mut f = if root_is_inbox { 0 } else { NONEXISTENT };
                if root_is_inbox {
                    inbox_done = true;
                }
                if q.select_subscribed || q.return_subscribed {
                    if self.subscriptions.iter().any(|s| s == r) {
                        f |= SUBSCRIBED;
                    }
                    if self.child_subscribed(r) {
                        f |= CHILD_SUBSCRIBED;
                    }
                }
                let selected = !q.select_subscribed
                    || f & SUBSCRIBED != 0
                    || (q.recursive && f & CHILD_SUBSCRIBED != 0);
                if selected {
                    f |= if self.has_children(r) {
                        CHILDREN
                    } else {
                        NOCHILDREN
                    };
                    rows.push((r.clone(), f));
                }
            }
        }
        if q.select_subscribed {
            self.subscribed_rows(q, &root, &mut rows);
        } else {
            let existing = self.existing();
            let mut names: BTreeSet<String> = BTreeSet::new();
            for n in self.disk.iter() {
                names.insert(n.clone());
                parents(n, sep, &mut names);
            }
            let mut seen = names.clone();
            let mut order: Vec<String> = names.into_iter().collect();
            // auto mailboxes not on disk come after the ones on disk, as Dovecot lists them
            for n in &existing {
                if !seen.contains(n) {
                    let mut ps = BTreeSet::new();
                    parents(n, sep, &mut ps);
                    for p in ps {
                        if seen.insert(p.clone()) {
                            order.push(p);
                        }
                    }
                    seen.insert(n.clone());
                    order.push(n.clone());
                }
            }
            for n in order {
                if Some(&n) == root.as_ref() || n == "INBOX" || !self.matches(q, &n) {
                    continue;
                }
                let mut f = if self.exists(&n) { 0 } else { NONEXISTENT };
                f |= if self.has_children(&n) {
                    CHILDREN
                } else {
                    NOCHILDREN
                };
                if q.return_subscribed && self.subscribed(&n) {
                    f |= SUBSCRIBED;
                }
                rows.push((n, f));
            }
            if !inbox_done && self.matches(q, "INBOX") {
                let mut f = if q.return_subscribed && self.subscribed("INBOX") {
                    SUBSCRIBED
                } else {
                    0
                };
                if self.ns.prefix.is_empty() || root_is_inbox {
                    f |= if self.has_children("INBOX") {
                        CHILDREN
                    } else {
                        NOCHILDREN
                    };
                } else {
                    f |= NOINFERIORS;
                }
                rows.push(("INBOX".into(), f));
            }
        }
        rows.into_iter()
            .filter_map(|(name, f)| self.entry(q, name, f))
            .collect()
    }

    /// Subscription-driven listing (LSUB, `LIST (SUBSCRIBED)`): the subscribed names that
    /// match, and with RECURSIVEMATCH the nearest matching parent of a subscribed name that
    /// does not match (Dovecot's mailbox_list_iter_update).
    fn subscribed_rows(&self, q: &Query, root: &Option<String>, rows: &mut Vec<(String, u16)>) {
        let sep = self.ns.sep;
        let mut tree: Vec<(String, u16, bool)> = Vec::new(); // name, flags, matched
        let mut index: HashMap<String, usize> = HashMap::new();
        let mut node = |tree: &mut Vec<(String, u16, bool)>, n: &str| -> usize {
            *index.entry(n.to_string()).or_insert_with(|| {
                tree.push((n.to_string(), 0, false));
                tree.len() - 1
            })
        };
        let mut names: Vec<(String, bool)> = self
            .subscriptions
            .iter()
            .map(|s| (s.clone(), true))
            .collect();
        for a in self.ns.auto() {
            if a.auto == AutoMailbox::Subscribe && !names.iter().any(|(n, _)| *n == a.vname) {
                names.push((a.vname.clone(), false));
            }
        }
        for (name, from_file) in names {
            let mut cur = name.clone();
            let mut leaf = true;
            let mut add_matched = true;
            loop {
                if self.matches(q, &cur) {
                    let i = node(&mut tree, &cur);
                    tree[i].1 |= if leaf { SUBSCRIBED } else { CHILD_SUBSCRIBED };
                    if add_matched {
                        tree[i].2 = true;
                    }
                    add_matched = false;
                } else if !q.patterns.iter().any(|p| ancestor_matches(p, &cur, sep)) {
                    break;
                }
                if !q.recursive || !from_file {
                    break;
                }
                match cur.rfind(sep) {
                    Some(i) => cur.truncate(i),
                    None => break,
                }
                leaf = false;
            }
        }
        for (name, subs, matched) in tree {
            if !matched || Some(&name) == root.as_ref() {
                continue;
            }
            if q.lsub && q.lsub_only_subscribed && subs & SUBSCRIBED == 0 {
                continue;
            }
            let mut f = subs;
            if !q.lsub {
                if !self.exists(&name) {
                    f |= NONEXISTENT;
                }
                // A subscribed child counts as a child, as in Dovecot's subscription tree.
                f |= if self.has_children(&name) || subs & CHILD_SUBSCRIBED != 0 {
                    CHILDREN
                } else {
                    NOCHILDREN
                };
                if name == "INBOX" && !self.ns.prefix.is_empty() && self.ns.root() != Some("INBOX")
                {
                    f = (f & !(CHILDREN | NOCHILDREN)) | NOINFERIORS;
                }
            }
            rows.push((name, f));
        }
    }

    /// Dovecot's mailbox_flags2str and special-use selection for one row.
    fn entry(&self, q: &Query, name: String, mut f: u16) -> Option<Entry> {
        let special = if q.return_special_use {
            self.ns.special_use(&name)
        } else {
            ""
        };
        if q.select_special_use && special.is_empty() {
            return None;
        }
        let mut noselect = false;
        if f & NONEXISTENT != 0 && !q.extended {
            noselect = true;
            f &= !NONEXISTENT;
        }
        if !q.return_children {
            f &= !(CHILDREN | NOCHILDREN);
        }
        if f & CHILD_SUBSCRIBED != 0 && f & SUBSCRIBED == 0 && !q.extended {
            noselect = true;
        } else if !q.return_subscribed {
            f &= !SUBSCRIBED;
        }
        let mut attributes = Vec::new();
        if f & SUBSCRIBED != 0 {
            attributes.push("\\Subscribed".to_string());
        }
        if noselect {
            attributes.push("\\Noselect".into());
        }
        if f & NONEXISTENT != 0 {
            attributes.push("\\NonExistent".into());
        }
        if f & CHILDREN != 0 {
            attributes.push("\\HasChildren".into());
        } else if f & NOINFERIORS != 0 {
            attributes.push("\\NoInferiors".into());
        } else if f & NOCHILDREN != 0 {
            attributes.push("\\HasNoChildren".into());
        }
        attributes.extend(special.split_whitespace().map(str::to_string));
        let listed_subscribed = f & SUBSCRIBED != 0 || (q.lsub && f & CHILD_SUBSCRIBED == 0);
        let status = !noselect
            && f & NONEXISTENT == 0
            && (name != self.ns.root().unwrap_or("") || name == "INBOX")
            && (!q.select_subscribed || listed_subscribed);
        Some(Entry {
            child_subscribed: q.extended && q.recursive && f & CHILD_SUBSCRIBED != 0,
            name,
            attributes,
            status,
        })
    }
}

/// Adds every parent of `name` (`a` and `a/b` for `a/b/c`).
fn parents(name: &str, sep: char, out: &mut BTreeSet<String>) {
    let mut at = 0;
    while let Some(i) = name[at..].find(sep) {
        out.insert(name[..at + i].to_string());
        at += i + 1;
    }
}

/// Whether `name` matches `pattern` (`*` anything, `%` anything but the separator; `INBOX`
/// and an `INBOX/` start case-insensitively).
pub fn matches(pattern: &str, name: &str, sep: char) -> bool {
    let (p, n) = inbox_case(pattern, name, sep);
    glob(p.as_bytes(), n.as_bytes(), sep as u8)
}

/// Whether `pattern` matches a parent of `name` (Dovecot's IMAP_MATCH_PARENT).
pub fn ancestor_matches(pattern: &str, name: &str, sep: char) -> bool {
    name.match_indices(sep)
        .any(|(i, _)| matches(pattern, &name[..i], sep))
}

fn inbox_case(pattern: &str, name: &str, sep: char) -> (String, String) {
    let is_inbox = name == "INBOX" || name.starts_with(&format!("INBOX{sep}"));
    if is_inbox
        && pattern.len() >= 5
        && pattern.is_char_boundary(5)
        && pattern[..5].eq_ignore_ascii_case("INBOX")
    {
        return (format!("INBOX{}", &pattern[5..]), name.to_string());
    }
    (pattern.to_string(), name.to_string())
}

fn glob(p: &[u8], n: &[u8], sep: u8) -> bool {
    match p.first() {
        None => n.is_empty(),
        Some(b'*') => (0..=n.len()).any(|i| glob(&p[1..], &n[i..], sep)),
        Some(b'%') => {
            let stop = n.iter().position(|&c| c == sep).unwrap_or(n.len());
            (0..=stop).any(|i| glob(&p[1..], &n[i..], sep))
        }
        Some(&c) => n.first() == Some(&c) && glob(&p[1..], &n[1..], sep),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::service::imap::namespace::Configured;

    fn ns() -> Namespace {
        Namespace {
            prefix: String::new(),
            sep: '/',
            storage_sep: '.',
            mailboxes: vec![
                Configured {
                    vname: "Trash".into(),
                    special_use: "\\Trash".into(),
                    auto: AutoMailbox::Subscribe,
                },
                Configured {
                    vname: "Sent".into(),
                    special_use: "\\Sent".into(),
                    auto: AutoMailbox::No,
                },
            ],
        }
    }

    fn lines(m: &Mailboxes, q: &Query) -> Vec<String> {
        m.list(q)
            .into_iter()
            .map(|e| {
                format!(
                    "({}) {}{}",
                    e.attributes.join(" "),
                    e.name,
                    if e.child_subscribed { " CHILDINFO" } else { "" }
                )
            })
            .collect()
    }

    #[test]
    fn plain_list_has_children_and_special_use() {
        let n = ns();
        let m = Mailboxes {
            ns: &n,
            disk: ["Sent".into(), "x/y/z".into()].into(),
            subscriptions: vec![],
        };
        let q = Query::list(&[], "", &["*".into()], &Default::default(), false);
        assert_eq!(
            lines(&m, &q),
            [
                "(\\HasNoChildren \\Sent) Sent",
                "(\\Noselect \\HasChildren) x",
                "(\\Noselect \\HasChildren) x/y",
                "(\\HasNoChildren) x/y/z",
                "(\\HasNoChildren \\Trash) Trash",
                "(\\HasNoChildren) INBOX",
            ]
        );
    }

    #[test]
    fn lsub_and_recursivematch_follow_dovecot() {
        let n = ns();
        let m = Mailboxes {
            ns: &n,
            disk: ["x".into(), "x/y/z".into()].into(),
            subscriptions: vec!["x/y/z".into(), "gone".into()],
        };
        assert_eq!(
            lines(&m, &Query::lsub("", "*")),
            ["() x/y/z", "() gone", "(\\Trash) Trash"]
        );
        assert_eq!(
            lines(&m, &Query::lsub("", "%")),
            ["(\\Noselect) x", "() gone", "(\\Trash) Trash"]
        );
        let sel = ["SUBSCRIBED".to_string(), "RECURSIVEMATCH".to_string()];
        let q = Query::list(&sel, "", &["%".into()], &Default::default(), true);
        assert_eq!(
            lines(&m, &q),
            [
                "() x CHILDINFO",
                "(\\Subscribed \\NonExistent) gone",
                "(\\Subscribed) Trash"
            ]
        );
        assert!(!m.list(&q)[1].status);
    }

    #[test]
    fn parent_matching() {
        assert!(ancestor_matches("%", "x/y/z", '/'));
        assert!(ancestor_matches("x/%", "x/y/z", '/'));
        assert!(!ancestor_matches("%", "x", '/'));
        assert!(!ancestor_matches("y*", "x/y", '/'));
        assert!(matches("inbox/%", "INBOX/a", '/'));
    }
}
