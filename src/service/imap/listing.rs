//! The LIST, LSUB and NAMESPACE commands: reads the folders on disk and the subscriptions
//! file, lets [`super::list`] decide the entries, sends them (with a LIST-STATUS `* STATUS`
//! after each selectable one; an `auto` mailbox is created when its status is read, as
//! Dovecot does), and answers `LIST "" ""` with the hierarchy root.

use super::folders;
use super::list::{Mailboxes, Query};
use super::mailboxes::{open_auto, status_values, Named};
use super::session::Imap;
use crate::mail::namespace::AutoMailbox;
use crate::mail::{blocking, MailError};
use crate::protocol::imap::command::{List, StatusItem};
use crate::protocol::imap::response::{ListEntry, Untagged};
use crate::service::wire::Wire;

/// A listing's entries with their STATUS values (when asked).
type Listed = Vec<(
    super::list::Entry,
    Option<Result<Vec<(StatusItem, u64)>, MailError>>,
)>;

impl Imap {
    pub(super) fn send_namespace(&self, wire: &mut Wire) {
        let ns = self.namespace();
        let (prefix, sep) = ns.personal();
        Untagged::Namespace([vec![(prefix, Some(sep))], Vec::new(), Vec::new()])
            .encode(wire.output());
    }

    pub(super) async fn list(&mut self, wire: &mut Wire, tag: &str, l: List) {
        let reference = String::from_utf8_lossy(&l.reference).into_owned();
        let patterns: Vec<String> = l
            .patterns
            .iter()
            .map(|p| String::from_utf8_lossy(p).into_owned())
            .collect();
        if l.selection.iter().any(|s| s == "RECURSIVEMATCH")
            && !l
                .selection
                .iter()
                .any(|s| s == "SUBSCRIBED" || s == "SPECIAL-USE")
        {
            return self.bad(
                wire,
                tag,
                "Error in IMAP command LIST: RECURSIVEMATCH must not be the only selection",
            );
        }
        if !l.extended && patterns.first().is_some_and(|p| p.is_empty()) {
            self.list_root(wire, &reference);
            return self.done(wire, tag, "List completed").await;
        }
        let q = Query::list(&l.selection, &reference, &patterns, &l.returns, l.extended);
        let status = l.returns.status.clone();
        self.send_listing(wire, tag, q, status, false).await;
    }

    pub(super) async fn lsub(
        &mut self,
        wire: &mut Wire,
        tag: &str,
        reference: &[u8],
        pattern: &[u8],
    ) {
        let q = Query::lsub(
            &String::from_utf8_lossy(reference),
            &String::from_utf8_lossy(pattern),
        );
        self.send_listing(wire, tag, q, None, true).await;
    }

    /// `LIST "" ""`: `* LIST (\Noselect) "sep" root` (the prefix a reference names, else the
    /// reference up to its first separator, as UW-IMAP answers).
    fn list_root(&self, wire: &mut Wire, reference: &str) {
        let ns = self.namespace();
        let root = if !ns.prefix.is_empty() && reference.starts_with(&ns.prefix) {
            ns.prefix.clone()
        } else {
            match reference.find(ns.sep) {
                Some(i) => reference[..=i].to_string(),
                None => String::new(),
            }
        };
        Untagged::List(ListEntry {
            attributes: vec!["\\Noselect"],
            delimiter: Some(ns.sep),
            mailbox: root.as_bytes(),
            child_info_subscribed: false,
        })
        .encode(wire.output());
    }

    async fn send_listing(
        &mut self,
        wire: &mut Wire,
        tag: &str,
        q: Query,
        status: Option<Vec<StatusItem>>,
        lsub: bool,
    ) {
        let store = self.store.clone();
        let ns = self.namespace();
        let r: Result<Listed, MailError> = blocking(move || {
            let subscriptions: Vec<String> = folders::subscriptions(&store.location.root, ns.sep)
                .iter()
                .map(|s| ns.from_subscription(s))
                .collect();
            // Selecting subscribed names with none subscribed lists nothing: no need to read
            // the folders on disk (LSUB of an account that never subscribed).
            let nothing_subscribed =
                subscriptions.is_empty() && !ns.auto().any(|a| a.auto == AutoMailbox::Subscribe);
            let disk = if q.select_subscribed && nothing_subscribed {
                Default::default()
            } else {
                folders::existing(&store.location)?
                    .iter()
                    .map(|f| ns.vname(f))
                    .collect()
            };
            let m = Mailboxes {
                ns: &ns,
                disk,
                subscriptions,
            };
            let entries = m.list(&q);
            let mut out = Vec::with_capacity(entries.len());
            for e in entries {
                let values = match &status {
                    Some(items) if e.status => {
                        let named = named_of(&ns, &e.name);
                        Some(open_auto(&store, &ns, &named).and_then(|m| status_values(&m, items)))
                    }
                    _ => None,
                };
                out.push((e, values));
            }
            Ok(out)
        })
        .await;
        let listed = match r {
            Ok(l) => l,
            Err(e) => return self.mail_error(wire, tag, "", e),
        };
        let sep = self.namespace().sep;
        for (e, values) in &listed {
            let entry = ListEntry {
                attributes: e.attributes.iter().map(String::as_str).collect(),
                delimiter: Some(sep),
                mailbox: e.name.as_bytes(),
                child_info_subscribed: e.child_subscribed,
            };
            let out = wire.output();
            if lsub {
                Untagged::Lsub(entry).encode(out);
            } else {
                Untagged::List(entry).encode(out);
            }
            match values {
                Some(Ok(items)) => Untagged::Status {
                    mailbox: e.name.as_bytes(),
                    items: items.clone(),
                }
                .encode(out),
                Some(Err(err)) => {
                    tracing::warn!(user = %self.user, mailbox = %e.name, error = %err, "LIST-STATUS failed");
                }
                None => {}
            }
        }
        let text = if lsub {
            "Lsub completed"
        } else {
            "List completed"
        };
        self.done(wire, tag, text).await;
    }
}

/// The storage side of a listed client name.
fn named_of(ns: &super::namespace::Namespace, vname: &str) -> Named {
    let storage = match ns.resolve(vname.as_bytes()) {
        Ok(super::namespace::Target::Folder(s)) => s,
        _ => "INBOX".into(),
    };
    Named {
        storage,
        vname: vname.to_string(),
        auto: ns.configured(vname).map(|c| c.auto).unwrap_or_default(),
    }
}
