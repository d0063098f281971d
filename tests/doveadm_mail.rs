//! The doveadm mail and user commands (`roost::service::doveadm::mail`) against Dovecot's own
//! `doveadm` on identical copies of one Maildir: a private Dovecot 2.3 builds bob's mail
//! (`doveadm save`, `mailbox create`, `flags add`), the store is copied with `cp -a`, and every
//! command runs on both sides — roost's `CommandSpec::run` with a server-like `Context` (the
//! real auth service over a passwd-file, the real Maildir code), Dovecot's `doveadm -f json`.
//! The JSON must be the same, and after create/delete/flags/expunge so must the Maildir files
//! (cur/ and new/ names, dovecot-uidlist, dovecot-keywords, subscriptions, maildirfolder).
//! Fails if Dovecot (dovecot-core) is not installed.

mod common;

use std::collections::BTreeMap;
use std::fs;
use std::path::{Path, PathBuf};
use std::process::Command;
use std::sync::Arc;

use common::*;
use roost::runtime::hub::Hub;
use roost::service::doveadm::command::{find, Context, Params};
use serde_json::{json, Value};

/// Bob's messages: varied headers, sizes, an encoded subject, a MIME message.
fn messages() -> Vec<(Option<&'static str>, String)> {
    let plain = |i: u32, subject: &str, date: &str, body: &str| {
        format!(
            "From: Alice Example <alice@example.test>\nTo: bob@example.test, Carol <carol@example.test>\n\
Subject: {subject}\nDate: {date}\nMessage-ID: <m{i}@example.test>\n\n{body}"
        )
    };
    vec![
        (
            None,
            plain(1, "Hello 1", "Mon, 2 Nov 2026 10:01:00 +0000", "Body number 1\nsecond line\n"),
        ),
        (
            None,
            plain(2, "=?UTF-8?Q?caf=C3=A9?= time", "Tue, 3 Nov 2026 23:30:00 -0500", "Body number 2\n> quoted\nsnippet here\n"),
        ),
        (
            None,
            plain(3, "Big one", "1 Jan 2020 00:00:00 +0100", &"x".repeat(300)),
        ),
        (
            None,
            "From: dave@example.test\nSubject: mime\nMIME-Version: 1.0\nContent-Type: multipart/alternative; boundary=\"b1\"\n\n--b1\nContent-Type: text/plain; charset=utf-8\nContent-Transfer-Encoding: quoted-printable\n\nGr=C3=BC=C3=9Fe aus M=C3=BCnchen\n--b1\nContent-Type: text/html\n\n<p>hi</p>\n--b1--\n".to_string(),
        ),
        (Some("Lists"), plain(5, "list mail", "Wed, 4 Nov 2026 08:00:00 +0000", "in a folder\n")),
        (Some("Lists.Sub"), plain(6, "deep", "Wed, 4 Nov 2026 09:00:00 +0000", "deeper\n")),
    ]
}

/// Both sides of one comparison: the private Dovecot and roost's context on a copy.
struct Pair {
    dovecot: Dovecot,
    dir: TempDir,
    ctx: Context,
    rt: tokio::runtime::Runtime,
}

impl Pair {
    fn new(tag: &str) -> Pair {
        let dir = TempDir::new(tag);
        let ddir = dir.join("dovecot");
        fs::create_dir_all(&ddir).unwrap();
        let dovecot = Dovecot::start(&ddir);
        dovecot.chown_mail();
        let d = |args: &[&str]| dovecot.doveadm(args, None);
        d(&[
            "mailbox",
            "create",
            "-u",
            "bob",
            "Lists",
            "Lists.Sub",
            "Ünï",
        ]);
        for (mbox, text) in messages() {
            let mut args = vec!["save", "-u", "bob"];
            if let Some(m) = mbox {
                args.extend(["-m", m]);
            }
            dovecot.doveadm(&args, Some(text.as_bytes()));
        }
        d(&[
            "flags", "add", "-u", "bob", "\\Seen", "mailbox", "INBOX", "uid", "1",
        ]);
        d(&[
            "flags",
            "add",
            "-u",
            "bob",
            "kw1 \\Flagged",
            "mailbox",
            "INBOX",
            "uid",
            "2",
        ]);
        d(&[
            "flags",
            "add",
            "-u",
            "bob",
            "\\Seen \\Answered",
            "mailbox",
            "Lists",
            "all",
        ]);
        d(&["mailbox", "subscribe", "-u", "bob", "INBOX", "Lists"]);

        // roost's copy of the same store.
        let rdir = dir.join("roost");
        fs::create_dir_all(rdir.join("mail")).unwrap();
        let st = Command::new("cp")
            .arg("-a")
            .arg(ddir.join("mail/bob"))
            .arg(rdir.join("mail/bob"))
            .status()
            .unwrap();
        assert!(st.success());
        fs::write(rdir.join("users"), "bob:{PLAIN}pass::::::\n").unwrap();
        let conf = rdir.join("roost.toml");
        fs::write(
            &conf,
            format!(
                "base_dir = \"{r}/run\"\nmail_location = \"maildir:{r}/mail/%n\"\n\
mail_uid = \"nobody\"\nmail_gid = \"nogroup\"\n\n\
[[passdb]]\ndriver = \"passwd-file\"\nargs = \"{r}/users\"\n\n\
[[userdb]]\ndriver = \"passwd-file\"\nargs = \"{r}/users\"\ndefault_fields = \"home={r}/home/%n\"\n",
                r = rdir.display()
            ),
        )
        .unwrap();
        let loaded =
            roost::settings::load::load_with_env(&roost::settings::ConfigSource::File(conf), false)
                .expect("roost config");
        let settings = Arc::new(loaded.settings);
        let hub = Arc::new(Hub::default());
        let rt = tokio::runtime::Builder::new_multi_thread()
            .worker_threads(1)
            .enable_all()
            .build()
            .unwrap();
        {
            let _g = rt.enter();
            roost::service::auth::factory("auth", &settings, &hub).expect("auth service");
        }
        Pair {
            dovecot,
            dir,
            ctx: Context::new(hub, settings),
            rt,
        }
    }

    fn ddir(&self) -> PathBuf {
        self.dir.join("dovecot")
    }

    fn rdir(&self) -> PathBuf {
        self.dir.join("roost")
    }

    /// Dovecot: `doveadm -f json ARGS` → (exit code, parsed stdout or Null).
    fn dove(&self, args: &[&str]) -> (i32, Value) {
        let out = Command::new("doveadm")
            .arg("-c")
            .arg(self.ddir().join("dovecot.conf"))
            .args(["-f", "json"])
            .args(args)
            .output()
            .expect("doveadm must be installed");
        let code = out.status.code().unwrap_or(-1);
        let text = String::from_utf8_lossy(&out.stdout);
        // A failed command answers only its exit code (the HTTP API's error), whatever it printed.
        let v = if code != 0 || text.trim().is_empty() {
            Value::Null
        } else {
            serde_json::from_str(&text).unwrap_or_else(|e| panic!("doveadm {args:?}: {e}: {text}"))
        };
        (code, v)
    }

    /// roost: the command's `run` with `params` → (exit code, value or Null).
    fn roost(&self, command: &str, params: Value) -> (i32, Value) {
        let spec = find(command).unwrap_or_else(|| panic!("no command {command}"));
        let params: Params = params.as_object().cloned().unwrap();
        let fut = (spec.run)(self.ctx.clone(), params);
        match self.rt.block_on(fut) {
            Ok(v) => (0, v),
            Err(e) => (e.exit_code(), Value::Null),
        }
    }

    /// Both sides must give the same answer.
    fn same(&self, dove_args: &[&str], command: &str, params: Value) -> Value {
        let (dc, dv) = self.dove(dove_args);
        let (rc, rv) = self.roost(command, params.clone());
        if let (Some(r), Some(d)) = (rv.as_array(), dv.as_array()) {
            // The first differing field, readably.
            for (i, (a, b)) in r.iter().zip(d).enumerate() {
                if let (Some(ao), Some(bo)) = (a.as_object(), b.as_object()) {
                    for (k, bv) in bo {
                        assert_eq!(
                            ao.get(k),
                            Some(bv),
                            "{command} {params}: row {i} field {k}: roost (left) vs doveadm (right)"
                        );
                    }
                }
            }
        }
        assert_eq!(
            (rc, &rv),
            (dc, &dv),
            "{command} {params}: roost (left) vs doveadm {dove_args:?} (right)"
        );
        rv
    }
}

fn without(mut v: Value, keys: &[&str]) -> Value {
    if let Some(a) = v.as_array_mut() {
        for r in a {
            if let Some(o) = r.as_object_mut() {
                for k in keys {
                    o.remove(*k);
                }
            }
        }
    }
    v
}

#[test]
fn mailbox_list_and_status_match_doveadm() {
    let p = Pair::new("doveadm-status");
    // Dovecot lists in its list index's order; roost sorts. Both end with INBOX.
    let (dc, dv) = p.dove(&["mailbox", "list", "-u", "bob"]);
    let (rc, rv) = p.roost("mailbox list", json!({"user": "bob"}));
    assert_eq!((rc, dc), (0, 0));
    let names = |v: &Value| -> Vec<String> {
        v.as_array()
            .unwrap()
            .iter()
            .map(|r| r["mailbox"].as_str().unwrap().to_string())
            .collect()
    };
    let (mut dn, mut rn) = (names(&dv), names(&rv));
    assert_eq!(rn.last().map(String::as_str), Some("INBOX"), "{rv}");
    assert_eq!(dn.last().map(String::as_str), Some("INBOX"), "{dv}");
    dn.sort();
    rn.sort();
    assert_eq!(rn, dn);
    assert_eq!(rn, ["INBOX", "Lists", "Lists.Sub", "Ünï"]);
    p.same(
        &["mailbox", "list", "-u", "bob", "Lists*"],
        "mailbox list",
        json!({"user": "bob", "mailboxMask": ["Lists*"]}),
    );
    p.same(
        &["mailbox", "list", "-u", "bob", "-s"],
        "mailbox list",
        json!({"user": "bob", "subscriptions": true}),
    );
    let (_, m7) = p.roost(
        "mailbox list",
        json!({"user": "bob", "mutf7": true, "mailboxMask": ["Ü*"]}),
    );
    assert_eq!(m7, json!([{"mailbox": "&ANw-n&AO8-"}]));

    p.same(
        &["mailbox", "status", "-u", "bob", "messages recent uidnext uidvalidity unseen vsize guid", "INBOX"],
        "mailbox status",
        json!({"user": "bob", "field": ["messages", "recent", "uidnext", "uidvalidity", "unseen", "vsize", "guid"], "mailboxMask": ["INBOX"]}),
    );
    p.same(
        &[
            "mailbox",
            "status",
            "-u",
            "bob",
            "messages unseen",
            "Lists",
            "INBOX",
        ],
        "mailbox status",
        json!({"user": "bob", "field": ["messages unseen"], "mailboxMask": ["Lists", "INBOX"]}),
    );
    p.same(
        &["mailbox", "status", "-u", "bob", "-t", "all", "*"],
        "mailbox status",
        json!({"user": "bob", "totalSum": true, "field": ["all"], "mailboxMask": ["*"]}),
    );
    // `all`: roost has no modseqs; firstsaved is a ctime, which the copy changed.
    let (dc, dv) = p.dove(&["mailbox", "status", "-u", "bob", "all", "Lists*"]);
    let (rc, rv) = p.roost(
        "mailbox status",
        json!({"user": "bob", "field": ["all"], "mailboxMask": ["Lists*"]}),
    );
    assert_eq!((rc, dc), (0, 0));
    for (r, d) in rv.as_array().unwrap().iter().zip(dv.as_array().unwrap()) {
        assert_eq!(
            r["firstsaved"].as_str() == Some("never"),
            d["firstsaved"].as_str() == Some("never")
        );
    }
    assert_eq!(
        without(rv, &["firstsaved"]),
        without(dv, &["firstsaved", "highestmodseq"])
    );
    // allUsers: every user the passwd-file userdb lists (bob alone here).
    assert_eq!(
        p.roost(
            "mailbox status",
            json!({"allUsers": true, "field": ["messages"], "mailboxMask": ["INBOX"]})
        ),
        p.roost(
            "mailbox status",
            json!({"user": "bob", "field": ["messages"], "mailboxMask": ["INBOX"]})
        ),
    );
    // A mailbox that does not exist: 68 on both.
    p.same(
        &["mailbox", "status", "-u", "bob", "messages", "Nope"],
        "mailbox status",
        json!({"user": "bob", "field": ["messages"], "mailboxMask": ["Nope"]}),
    );
    // quota: Dovecot's count backend with no limit.
    let (qc, qv) = p.dove(&[
        "-o",
        "mail_plugins=quota",
        "-o",
        "plugin/quota=count:User quota",
        "-o",
        "plugin/quota_vsizes=yes",
        "quota",
        "get",
        "-u",
        "bob",
    ]);
    assert_eq!(
        (qc, p.roost("quota get", json!({"user": "bob"}))),
        (0, (0, qv))
    );
    assert_eq!(
        p.roost("quota recalc", json!({"user": "bob"})),
        (0, json!([]))
    );
}

#[test]
fn search_and_fetch_match_doveadm() {
    let p = Pair::new("doveadm-search");
    let queries: &[&[&str]] = &[
        &["all"],
        &["mailbox", "INBOX", "unseen"],
        &["seen", "OR", "flagged"],
        &["mailbox", "Lists*", "all"],
        &["mailbox", "INBOX", "uid", "2:*"],
        &["mailbox", "INBOX", "2,4"],
        &["larger", "400"],
        &["smaller", "1k"],
        &["subject", "café"],
        &["header", "message-id", "m3@"],
        &["body", "münchen"],
        &["text", "carol"],
        &["from", "dave"],
        &["keyword", "kw1"],
        &["not", "keyword", "kw1"],
        &["(", "answered", "flagged", ")", "OR", "deleted"],
        &["since", "2000-01-01"],
        &["before", "2000-01-01"],
        &["sentsince", "2026-11-03"],
        &["sentbefore", "2026-11-03"],
        &["senton", "3-Nov-2026"],
        &["savedsince", "1d"],
        &["new"],
        &["recent"],
        &["mailbox", "Nope", "all"],
    ];
    for q in queries {
        let mut args = vec!["search", "-u", "bob"];
        args.extend_from_slice(q);
        p.same(&args, "search", json!({"user": "bob", "query": q}));
    }
    let fields = "user mailbox mailbox-guid seq uid guid flags hdr body text text.utf8 \
size.physical size.virtual date.received date.sent date.received.unixtime date.sent.unixtime \
imap.envelope imap.body imap.bodystructure hdr.subject hdr.subject.utf8 hdr.to.address \
hdr.to.address_name body.snippet pop3.uidl";
    for q in [
        &["all"][..],
        &["mailbox", "Lists", "all"],
        &["mailbox", "Nope", "all"],
    ] {
        let mut args = vec!["fetch", "-u", "bob", fields];
        args.extend_from_slice(q);
        p.same(
            &args,
            "fetch",
            json!({"user": "bob", "field": [fields], "query": q}),
        );
    }
    // Unknown users and fields are refused as doveadm refuses them.
    p.same(
        &["search", "-u", "nobody-here", "all"],
        "search",
        json!({"user": "nobody-here", "query": ["all"]}),
    );
    assert_eq!(
        p.roost(
            "fetch",
            json!({"user": "bob", "field": ["nonsense"], "query": ["all"]})
        )
        .0,
        64
    );
}

/// The Maildir files of a store, as `path → content` (content only for Dovecot's small
/// files); index files, which roost does not keep, and tmp/ are left out.
fn files(root: &Path) -> BTreeMap<String, String> {
    fn walk(dir: &Path, rel: &str, out: &mut BTreeMap<String, String>) {
        let mut ents: Vec<_> = fs::read_dir(dir).unwrap().flatten().collect();
        ents.sort_by_key(|e| e.file_name());
        for e in ents {
            let name = e.file_name().into_string().unwrap();
            if name.starts_with("dovecot.index")
                || name.starts_with("dovecot.list.index")
                || name == "dovecot.mailbox.log"
                || name.starts_with("dovecot-uidvalidity")
                || name == "tmp"
            {
                continue;
            }
            let path = format!("{rel}{name}");
            if e.path().is_dir() {
                out.insert(format!("{path}/"), String::new());
                walk(&e.path(), &format!("{path}/"), out);
            } else {
                let keep = ["dovecot-uidlist", "dovecot-keywords", "subscriptions"];
                let content = if keep.contains(&name.as_str()) {
                    let text = fs::read_to_string(e.path()).unwrap();
                    // A new mailbox's GUID is random on each side.
                    match (name.as_str(), text.split_once('\n')) {
                        ("dovecot-uidlist", Some((head, rest))) => {
                            let head: Vec<String> = head
                                .split(' ')
                                .map(|w| {
                                    if w.starts_with('G') {
                                        "G*".into()
                                    } else {
                                        w.to_string()
                                    }
                                })
                                .collect();
                            format!("{}\n{rest}", head.join(" "))
                        }
                        _ => text,
                    }
                } else {
                    String::new()
                };
                out.insert(path, content);
            }
        }
    }
    let mut out = BTreeMap::new();
    walk(root, "", &mut out);
    out
}

#[test]
fn create_delete_flags_and_expunge_leave_dovecots_files() {
    let p = Pair::new("doveadm-change");
    let steps: Vec<(Vec<&str>, &str, Value)> = vec![
        (
            vec!["mailbox", "create", "-u", "bob", "-s", "New1", "Deep.Child"],
            "mailbox create",
            json!({"user": "bob", "subscriptions": true, "mailbox": ["New1", "Deep.Child"]}),
        ),
        (
            vec!["mailbox", "create", "-u", "bob", "New1"],
            "mailbox create",
            json!({"user": "bob", "mailbox": ["New1"]}),
        ),
        (
            vec![
                "flags",
                "add",
                "-u",
                "bob",
                "\\Seen kw2",
                "mailbox",
                "INBOX",
                "uid",
                "3",
            ],
            "flags add",
            json!({"user": "bob", "flag": ["\\Seen", "kw2"], "query": ["mailbox", "INBOX", "uid", "3"]}),
        ),
        (
            vec![
                "flags", "remove", "-u", "bob", "\\Seen", "mailbox", "INBOX", "uid", "1",
            ],
            "flags remove",
            json!({"user": "bob", "flag": ["\\Seen"], "query": ["mailbox", "INBOX", "uid", "1"]}),
        ),
        (
            vec![
                "flags",
                "replace",
                "-u",
                "bob",
                "\\Answered kw3",
                "mailbox",
                "INBOX",
                "uid",
                "2",
            ],
            "flags replace",
            json!({"user": "bob", "flag": ["\\Answered kw3"], "query": ["mailbox", "INBOX", "uid", "2"]}),
        ),
        (
            vec![
                "flags",
                "add",
                "-u",
                "bob",
                "\\Deleted",
                "mailbox",
                "INBOX",
                "smaller",
                "300",
            ],
            "flags add",
            json!({"user": "bob", "flag": ["\\Deleted"], "query": ["mailbox", "INBOX", "smaller", "300"]}),
        ),
        (
            vec!["expunge", "-u", "bob", "mailbox", "INBOX", "deleted"],
            "expunge",
            json!({"user": "bob", "query": ["mailbox", "INBOX", "deleted"]}),
        ),
        (
            vec!["expunge", "-u", "bob", "mailbox", "INBOX"],
            "expunge",
            json!({"user": "bob", "query": ["mailbox", "INBOX"]}),
        ),
        (
            vec!["mailbox", "delete", "-u", "bob", "INBOX"],
            "mailbox delete",
            json!({"user": "bob", "mailbox": ["INBOX"]}),
        ),
        (
            vec!["mailbox", "delete", "-u", "bob", "-e", "Lists"],
            "mailbox delete",
            json!({"user": "bob", "requireEmpty": true, "mailbox": ["Lists"]}),
        ),
        (
            vec!["mailbox", "delete", "-u", "bob", "-s", "New1", "Lists.Sub"],
            "mailbox delete",
            json!({"user": "bob", "subscriptions": true, "mailbox": ["New1", "Lists.Sub"]}),
        ),
        (
            vec!["mailbox", "delete", "-u", "bob", "Nope"],
            "mailbox delete",
            json!({"user": "bob", "mailbox": ["Nope"]}),
        ),
        (
            vec![
                "mailbox", "create", "-u", "bob", "Top", "Top.A", "Top.A.B", "Topper",
            ],
            "mailbox create",
            json!({"user": "bob", "mailbox": ["Top", "Top.A", "Top.A.B", "Topper"]}),
        ),
        (
            vec!["mailbox", "delete", "-u", "bob", "-r", "Top"],
            "mailbox delete",
            json!({"user": "bob", "recursive": true, "mailbox": ["Top"]}),
        ),
        (
            vec!["expunge", "-u", "bob", "-d", "mailbox", "Lists", "all"],
            "expunge",
            json!({"user": "bob", "deleteEmptyMailbox": true, "query": ["mailbox", "Lists", "all"]}),
        ),
    ];
    for (args, command, params) in steps {
        p.same(&args, command, params);
        let d = files(&p.ddir().join("mail/bob"));
        let r = files(&p.rdir().join("mail/bob"));
        assert_eq!(r, d, "after {args:?}: roost (left) vs Dovecot (right)");
    }
    // The files really changed as asked.
    let after = files(&p.rdir().join("mail/bob"));
    assert!(after.contains_key(".Deep.Child/maildirfolder"), "{after:?}");
    assert!(!after.keys().any(|k| k.starts_with(".New1")), "{after:?}");
    assert!(!after.keys().any(|k| k.starts_with(".Top.")), "{after:?}");
    assert!(after.contains_key(".Topper/"), "{after:?}");
    assert!(!after.contains_key(".Lists/"), "{after:?}");
    assert_eq!(after["subscriptions"], "V\t2\n\nINBOX\nDeep\tChild\n");
    assert!(after["dovecot-keywords"].contains("kw3"), "{after:?}");
}

#[test]
fn user_auth_and_pw_commands() {
    let p = Pair::new("doveadm-user");
    // `user`: Dovecot's HTTP API answers {mask: {field: value}}; its CLI prints field/value rows.
    let (dc, dv) = p.dove(&["user", "bob"]);
    assert_eq!(dc, 0);
    let mut want = serde_json::Map::new();
    for r in dv.as_array().unwrap() {
        let v = r["value"].as_str().unwrap().replace(
            &p.ddir().display().to_string(),
            &p.rdir().display().to_string(),
        );
        want.insert(r["field"].as_str().unwrap().to_string(), Value::String(v));
    }
    let (rc, rv) = p.roost("user", json!({"userMask": ["bob"]}));
    assert_eq!((rc, &rv), (0, &json!({"bob": want})));
    assert_eq!(
        p.roost("user", json!({"userMask": ["bob"], "field": "home"}))
            .1,
        json!({"bob": {"home": want["home"]}})
    );
    assert_eq!(
        p.roost("user", json!({"userMask": ["b*"]})).1,
        json!({"userList": ["bob"]})
    );
    let (uc, _) = p.dove(&["user", "nobody-here"]);
    assert_eq!(
        (uc, p.roost("user", json!({"userMask": ["nobody-here"]})).0),
        (67, 67)
    );

    // auth test / lookup / cache flush.
    let (tc, tv) = p.roost("auth test", json!({"user": "bob", "password": "pass"}));
    assert_eq!(
        (tc, &tv["bob"]["result"]),
        (0, &json!("auth succeeded")),
        "{tv}"
    );
    let bad = Command::new("doveadm")
        .arg("-c")
        .arg(p.ddir().join("dovecot.conf"))
        .args(["auth", "test", "bob", "wrong"])
        .output()
        .unwrap();
    assert_eq!(
        p.roost("auth test", json!({"user": "bob", "password": "wrong"}))
            .0,
        bad.status.code().unwrap()
    );
    assert_eq!(bad.status.code(), Some(77));
    let (lc, lv) = p.roost("auth lookup", json!({"user": ["bob"]}));
    assert_eq!(
        (lc, lv),
        (0, json!({"bob": {"source": "passdb", "user": "bob"}}))
    );
    assert_eq!(
        p.roost("auth lookup", json!({"user": ["nobody-here"]})).0,
        67
    );
    let (fc, fv) = p.roost("auth cache flush", json!({}));
    assert_eq!(fc, 0);
    assert!(fv[0]["entries"].is_string(), "{fv}");

    // pw: a hash Dovecot's doveadm verifies.
    let (pc, pv) = p.roost(
        "pw",
        json!({"scheme": "SHA512-CRYPT", "plaintext": "pass word"}),
    );
    assert_eq!(pc, 0);
    let hash = pv[0]["hash"].as_str().unwrap().to_string();
    let (rc, out) = doveadm(&["pw", "-t", &hash, "-p", "pass word"]);
    assert_eq!(rc, 0, "{out}");
    assert_eq!(
        p.roost("pw", json!({"testHash": hash, "plaintext": "pass word"}))
            .1[0]["hash"],
        json!(format!("{hash} (verified)"))
    );
    assert_eq!(
        p.roost("pw", json!({"testHash": hash, "plaintext": "other"}))
            .0,
        65
    );
    drop(p.dovecot);
}

/// End to end: a running `roost serve` answers the mail commands over its doveadm HTTP API
/// (curl, Basic `doveadm:PASSWORD`) and the `roost doveadm` CLI (the doveadm-server socket),
/// and the flag change lands in the Maildir file name.
#[test]
fn mail_commands_through_the_http_api_and_the_cli() {
    let launch = Launch::new("doveadm-mail-e2e");
    let users = launch.dir().write("users", "bob:{PLAIN}pass::::::\n");
    let mail = launch.dir().join("mail");
    fs::create_dir_all(mail.join("bob/new")).unwrap();
    fs::create_dir_all(mail.join("bob/cur")).unwrap();
    fs::create_dir_all(mail.join("bob/tmp")).unwrap();
    let name = "1700000000.M1P1.example";
    fs::write(
        mail.join("bob/new").join(name),
        "Subject: over http\nFrom: a@example.test\n\nhello\n",
    )
    .unwrap();
    let http = free_port();
    let s = launch
        .config(&format!(
            "mail_location = \"maildir:{m}/%n\"\ndoveadm_password = \"secret\"\n\
[[passdb]]\ndriver = \"passwd-file\"\nargs = \"{u}\"\n\n\
[[userdb]]\ndriver = \"passwd-file\"\nargs = \"{u}\"\n\n\
[service.doveadm.inet_listener.http]\nport = {http}\n",
            m = mail.display(),
            u = users.display()
        ))
        .ready_on(&[http])
        .start();
    let body = r#"[["mailboxCreate",{"user":"bob","mailbox":["Work"]},"c"],
["flagsAdd",{"user":"bob","flag":["\\Seen"],"query":["mailbox","INBOX","all"]},"f"],
["fetch",{"user":"bob","field":["uid","flags","hdr.subject"],"query":["mailbox","INBOX","all"]},"x"],
["mailboxStatus",{"user":"bob","field":["messages","unseen"],"mailboxMask":["*"]},"s"],
["search",{"user":"nobody-here","query":["all"]},"n"]]"#;
    let out = Command::new("curl")
        .args(["-s", "-m", "20", "-u", "doveadm:secret"])
        .args(["-H", "Content-Type: application/json", "-d", body])
        .arg(format!("http://127.0.0.1:{http}/doveadm/v1"))
        .output()
        .expect("curl must be installed");
    let answer: Value = serde_json::from_slice(&out.stdout).unwrap_or_else(|e| {
        panic!(
            "{e}: {}\n{}",
            String::from_utf8_lossy(&out.stdout),
            s.log_text()
        )
    });
    assert_eq!(
        answer,
        json!([
            ["doveadmResponse", [], "c"],
            ["doveadmResponse", [], "f"],
            ["doveadmResponse", [{"uid": "1", "flags": "\\Seen \\Recent", "hdr.subject": "over http"}], "x"],
            ["doveadmResponse", [
                {"mailbox": "Work", "messages": "0", "unseen": "0"},
                {"mailbox": "INBOX", "messages": "1", "unseen": "0"}
            ], "s"],
            ["error", {"type": "exitCode", "exitCode": 67}, "n"]
        ]),
        "{}",
        s.log_text()
    );
    // Dovecot's maildir renames within new/ when the session does not take new mail in.
    assert!(mail.join("bob/new").join(format!("{name}:2,S")).exists());
    assert!(mail.join("bob/.Work/cur").is_dir());

    let r = s.cli(&[
        "doveadm", "-f", "json", "search", "-u", "bob", "mailbox", "INBOX", "all",
    ]);
    assert!(r.ok, "{}", r.all());
    let rows: Value =
        serde_json::from_str(&r.stdout).unwrap_or_else(|e| panic!("{e}: {}", r.all()));
    assert_eq!(rows[0]["uid"], json!("1"), "{rows}");
    assert_eq!(rows.as_array().map(Vec::len), Some(1), "{rows}");
    // As doveadm prints JSON: no newline after the array, `[]` for no rows.
    assert!(r.stdout.ends_with("\"}]"), "{:?}", r.stdout);
    let r = s.cli(&[
        "doveadm", "-f", "json", "search", "-u", "bob", "mailbox", "Work", "all",
    ]);
    assert_eq!(r.stdout, "[]", "{}", r.all());
    let r = s.cli(&["doveadm", "mailbox", "delete", "-u", "bob", "Nope"]);
    assert_eq!(r.code, Some(68), "{}", r.all());
}

/// The roost CLI with no `-f` prints what doveadm prints with no `-f`: the flow formatter
/// for `mailbox list`, `mailbox status` and `search` (the mailbox and search titles hidden),
/// the pager for `fetch` (`hdr:`/`body:` then the raw text, a form feed between messages),
/// with `-f table` no title line when every title is hidden; `auth test` and `pw` as doveadm's
/// printf lines (a failed test too, exit code 77).
#[test]
fn the_cli_prints_in_doveadms_default_formats() {
    let p = Pair::new("doveadm-cli-formats");
    let launch = Launch::new("doveadm-cli-formats-roost");
    let server = launch
        .config(&format!(
            "{KEEP_ROOT}mail_location = \"maildir:{r}/mail/%n\"\n\
[[passdb]]\ndriver = \"passwd-file\"\nargs = \"{r}/users\"\n\n\
[[userdb]]\ndriver = \"passwd-file\"\nargs = \"{r}/users\"\n",
            r = p.rdir().display()
        ))
        .start();
    let dovecot = |args: &[&str]| p.dovecot.doveadm(args, None);
    let roost = |args: &[&str]| {
        let mut a = vec!["doveadm"];
        a.extend(args);
        let r = server.cli(&a);
        assert!(r.ok, "roost {args:?}: {}\n{}", r.all(), server.log_text());
        r.stdout
    };
    let sorted = |s: String| {
        let mut v: Vec<String> = s.lines().map(str::to_string).collect();
        v.sort();
        v
    };
    // Dovecot lists in its index's order; the lines are the same.
    for args in [
        &["mailbox", "list", "-u", "bob"][..],
        &["mailbox", "status", "-u", "bob", "messages unseen", "*"],
        &["-f", "table", "mailbox", "list", "-u", "bob"],
    ] {
        assert_eq!(sorted(roost(args)), sorted(dovecot(args)), "{args:?}");
    }
    for args in [
        &["search", "-u", "bob", "mailbox", "INBOX", "all"][..],
        &[
            "-f", "table", "search", "-u", "bob", "mailbox", "INBOX", "all",
        ],
        &[
            "-f", "tab", "search", "-u", "bob", "mailbox", "INBOX", "all",
        ],
        &[
            "fetch",
            "-u",
            "bob",
            "uid hdr body",
            "mailbox",
            "INBOX",
            "all",
        ],
        &[
            "-f",
            "flow",
            "fetch",
            "-u",
            "bob",
            "uid size.physical",
            "mailbox",
            "INBOX",
            "all",
        ],
    ] {
        assert_eq!(roost(args), dovecot(args), "{args:?}");
    }
    // Printed with printf by doveadm: `auth test` and `pw`.
    for args in [
        &["auth", "test", "bob", "pass"][..],
        &["pw", "-p", "x", "-t", "{PLAIN}x"],
        &["auth", "cache", "flush"],
    ] {
        assert_eq!(roost(args), dovecot(args), "{args:?}");
    }
    let failed = server.cli(&["doveadm", "auth", "test", "bob", "wrong"]);
    let dfailed = Command::new("doveadm")
        .arg("-c")
        .arg(p.ddir().join("dovecot.conf"))
        .args(["auth", "test", "bob", "wrong"])
        .output()
        .unwrap();
    assert_eq!(failed.code, dfailed.status.code());
    assert_eq!(failed.stdout, String::from_utf8_lossy(&dfailed.stdout));
    let fetched = roost(&["fetch", "-u", "bob", "uid hdr", "mailbox", "INBOX", "1:2"]);
    assert!(fetched.starts_with("uid: 1\nhdr:\nFrom: "), "{fetched:?}");
    assert!(fetched.contains("\n\x0c\nuid: 2\n"), "{fetched:?}");
}
