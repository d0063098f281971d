//! The authenticated-state mailbox commands: SELECT/EXAMINE, CREATE, DELETE,
//! SUBSCRIBE/UNSUBSCRIBE, STATUS and APPEND (RENAME is in `rename.rs`, LIST/LSUB in
//! `listing.rs`), with Dovecot's replies (`NO [NONEXISTENT] Mailbox doesn't exist: X`,
//! `NO [ALREADYEXISTS] Mailbox already exists`, `NO [TRYCREATE] …`). Every name goes through
//! the namespace (`namespace.rs`: prefix, separator, Dovecot's refusals); names stay in wire
//! form (modified UTF-7, as Dovecot names the directories). `auto` mailboxes are created when
//! first opened.

use super::folders;
use super::message::parse_date_time;
use super::namespace::{Namespace, Target};
use super::selected::{letters_for, Selected};
use super::session::Imap;
use super::spool::Spool;
use crate::mail::maildir::index::{ensure_index, Shared};
use crate::mail::maildir::keywords::Keywords;
use crate::mail::maildir::Maildir;
use crate::mail::maildir::{filename, Flags};
use crate::mail::namespace::AutoMailbox;
use crate::mail::{blocking, MailError, UserStore};
use crate::protocol::imap::command::{
    AppendMessage, Command, SeqNum, SeqRange, SequenceSet, StatusItem,
};
use crate::protocol::imap::response::Untagged;
use crate::service::wire::Wire;

/// A mailbox a command names: its storage name (`INBOX` or a folder) and its client name.
#[derive(Clone, Debug)]
pub(super) struct Named {
    pub storage: String,
    pub vname: String,
    /// `auto = create|subscribe`: exists before it is on disk.
    pub auto: AutoMailbox,
}

/// Compressed `a:b,c` set of UIDs (sorted input).
pub(super) fn uid_set(uids: &[u32]) -> SequenceSet {
    let mut r: Vec<SeqRange> = Vec::new();
    for &u in uids {
        match r.last_mut() {
            Some(SeqRange {
                end: SeqNum::Value(e),
                ..
            }) if *e + 1 == u => *e = u,
            _ => r.push(SeqRange {
                start: SeqNum::Value(u),
                end: SeqNum::Value(u),
            }),
        }
    }
    SequenceSet::Ranges(r)
}

/// Opens a mailbox; an `auto` one missing on disk is created first (and, for `auto =
/// subscribe`, subscribed), as Dovecot creates them when they are first opened.
pub(super) fn open_auto(
    store: &UserStore,
    ns: &Namespace,
    named: &Named,
) -> Result<Maildir, MailError> {
    match store.mailbox(&named.storage, false) {
        Err(MailError::NoMailbox(_)) if named.auto != AutoMailbox::No => {
            let m = store.mailbox(&named.storage, true)?;
            if named.auto == AutoMailbox::Subscribe {
                let root = &store.location.root;
                let entry = ns.to_subscription(&named.vname);
                if !folders::subscriptions(root, ns.sep)
                    .iter()
                    .any(|s| s == entry)
                {
                    folders::set_subscribed(root, ns.sep, entry, true)?;
                }
            }
            Ok(m)
        }
        r => r,
    }
}

/// The STATUS values of a mailbox, from its index (brought up to date first: no folder scan
/// when nothing changed). RECENT counts the UIDs from the index's `first_recent_uid` on, as
/// Dovecot counts them, wherever the files are (mail stored with flags is in cur/).
pub(super) fn status_values(
    mbox: &Maildir,
    items: &[StatusItem],
) -> Result<Vec<(StatusItem, u64)>, MailError> {
    // Dovecot sends them in this order whatever the order asked.
    const ORDER: [StatusItem; 5] = [
        StatusItem::Messages,
        StatusItem::Recent,
        StatusItem::UidNext,
        StatusItem::UidValidity,
        StatusItem::Unseen,
    ];
    let ix = Shared::get(mbox);
    let mut g = ix.lock().unwrap_or_else(|p| p.into_inner());
    g.refresh(false, false)?;
    let seen = |name: &str| filename::split(name).1.is_some_and(|f| f.has(Flags::SEEN));
    Ok(ORDER
        .iter()
        .filter(|i| items.contains(i))
        .map(|i| {
            let v = match i {
                StatusItem::Messages => g.msgs.len() as u64,
                StatusItem::Recent => {
                    g.msgs.range(g.header.first_recent_uid.max(1)..).count() as u64
                }
                StatusItem::UidNext => g.header.next_uid as u64,
                StatusItem::UidValidity => g.header.uid_validity as u64,
                StatusItem::Unseen => g.msgs.values().filter(|m| !seen(&m.name)).count() as u64,
            };
            (*i, v)
        })
        .collect())
}

impl Imap {
    /// The session's namespace (from the settings and the store's layout).
    pub(super) fn namespace(&self) -> Namespace {
        Namespace::new(&self.session.settings, self.store.location.layout)
    }

    /// Resolves a client's mailbox name; on a bad name the `NO` is sent and `None` returned.
    /// The namespace prefix itself resolves to `root` (a name with no mailbox behind it).
    ///
    /// A name ending in the separator is refused as Dovecot refuses it unless the
    /// `tb-extra-mailbox-sep` workaround is on (then the separator is dropped); CREATE drops
    /// it always ([`Imap::named_for_create`]).
    pub(super) fn named(&mut self, wire: &mut Wire, tag: &str, raw: &[u8]) -> Option<Named> {
        let ns = self.namespace();
        let sep = ns.personal().1;
        let workaround = self
            .session
            .settings
            .imap
            .workarounds()
            .tb_extra_mailbox_sep;
        if !workaround && raw.len() > 1 && raw.ends_with(&[sep as u8]) && sep.is_ascii() {
            self.reply(
                wire,
                tag,
                "NO",
                Some("CANNOT"),
                "Invalid mailbox name: Ends with hierarchy separator",
            );
            return None;
        }
        self.named_for_create(wire, tag, raw)
    }

    /// [`Imap::named`] without the trailing-separator check (CREATE `a/` creates `a`).
    pub(super) fn named_for_create(
        &mut self,
        wire: &mut Wire,
        tag: &str,
        raw: &[u8],
    ) -> Option<Named> {
        let ns = self.namespace();
        match ns.resolve(raw) {
            Ok(Target::Inbox) => Some(Named {
                storage: "INBOX".into(),
                vname: "INBOX".into(),
                auto: AutoMailbox::No,
            }),
            Ok(Target::Folder(storage)) => {
                let vname = ns.vname(&storage);
                let auto = ns.configured(&vname).map(|c| c.auto).unwrap_or_default();
                Some(Named {
                    storage,
                    vname,
                    auto,
                })
            }
            Ok(Target::Root) => {
                let root = ns.root().unwrap_or("").to_string();
                Some(Named {
                    storage: String::new(),
                    vname: root,
                    auto: AutoMailbox::No,
                })
            }
            Err(e) => {
                let (code, text) = e.reply();
                self.reply(wire, tag, "NO", code, &text);
                None
            }
        }
    }

    pub(super) async fn mail_command(
        &mut self,
        wire: &mut Wire,
        tag: &str,
        cmd: Command,
        appended: Vec<Result<Spool, String>>,
    ) {
        match cmd {
            Command::Select { mailbox } => self.select(wire, tag, &mailbox, false).await,
            Command::Examine { mailbox } => self.select(wire, tag, &mailbox, true).await,
            Command::Create { mailbox, .. } => self.create(wire, tag, &mailbox).await,
            Command::Delete { mailbox } => self.delete(wire, tag, &mailbox).await,
            Command::Rename { from, to } => self.rename(wire, tag, &from, &to).await,
            Command::Subscribe { mailbox } => self.subscribe(wire, tag, &mailbox, true).await,
            Command::Unsubscribe { mailbox } => self.subscribe(wire, tag, &mailbox, false).await,
            Command::List(l) => self.list(wire, tag, l).await,
            Command::Lsub { reference, pattern } => {
                self.lsub(wire, tag, &reference, &pattern).await
            }
            Command::Status { mailbox, items } => self.status(wire, tag, &mailbox, &items).await,
            Command::Append { mailbox, messages } => {
                self.append(wire, tag, &mailbox, messages, appended).await
            }
            Command::Copy { uid, set, mailbox } => {
                if let Some(mailbox) = self.destination(wire, tag, &mailbox).await {
                    let cmd = Command::Copy { uid, set, mailbox };
                    self.message_command(wire, tag, cmd, appended).await
                }
            }
            Command::Move { uid, set, mailbox } => {
                if let Some(mailbox) = self.destination(wire, tag, &mailbox).await {
                    let cmd = Command::Move { uid, set, mailbox };
                    self.message_command(wire, tag, cmd, appended).await
                }
            }
            other => self.message_command(wire, tag, other, appended).await,
        }
    }

    /// A COPY/MOVE destination as the storage name the message commands open (an `auto`
    /// mailbox is created first).
    async fn destination(&mut self, wire: &mut Wire, tag: &str, raw: &[u8]) -> Option<Vec<u8>> {
        if self.selected.is_none() {
            // The message commands answer this themselves.
            return Some(raw.to_vec());
        }
        let named = self.named(wire, tag, raw)?;
        // The message commands name a missing mailbox by what they were given; when that is
        // not the client's name (another separator, a prefix), the answer is given here.
        let check = named.auto != AutoMailbox::No || named.vname != named.storage;
        if check {
            let (store, ns, n) = (self.store.clone(), self.namespace(), named.clone());
            let r = blocking(move || {
                if n.storage.is_empty() {
                    return Err(MailError::NoMailbox(n.vname.clone()));
                }
                open_auto(&store, &ns, &n).map(|_| ())
            })
            .await;
            match r {
                Ok(()) => {}
                Err(MailError::NoMailbox(_)) => {
                    let text = format!("Mailbox doesn't exist: {}", named.vname);
                    self.reply(wire, tag, "NO", Some("TRYCREATE"), &text);
                    return None;
                }
                Err(e) => {
                    self.mail_error(wire, tag, &named.vname, e);
                    return None;
                }
            }
        }
        Some(named.storage.into_bytes())
    }

    async fn create(&mut self, wire: &mut Wire, tag: &str, raw: &[u8]) {
        let Some(named) = self.named_for_create(wire, tag, raw) else {
            return;
        };
        if named.storage == "INBOX" || named.storage.is_empty() {
            return self.reply(
                wire,
                tag,
                "NO",
                Some("ALREADYEXISTS"),
                "Mailbox already exists",
            );
        }
        let store = self.store.clone();
        let n = named.storage.clone();
        let r = blocking(move || match store.mailbox(&n, false) {
            Ok(_) => Ok(false),
            Err(MailError::NoMailbox(_)) => store.mailbox(&n, true).map(|_| true),
            Err(e) => Err(e),
        })
        .await;
        match r {
            Ok(true) => self.done(wire, tag, "Create completed").await,
            Ok(false) => self.reply(
                wire,
                tag,
                "NO",
                Some("ALREADYEXISTS"),
                "Mailbox already exists",
            ),
            Err(e) => self.mail_error(wire, tag, &named.vname, e),
        }
    }

    async fn delete(&mut self, wire: &mut Wire, tag: &str, raw: &[u8]) {
        let Some(named) = self.named(wire, tag, raw) else {
            return;
        };
        if named.storage == "INBOX" {
            return self.reply(wire, tag, "NO", None, "INBOX can't be deleted");
        }
        if named.storage.is_empty() {
            let e = MailError::NoMailbox(named.vname.clone());
            return self.mail_error(wire, tag, &named.vname, e);
        }
        if self
            .selected
            .as_ref()
            .is_some_and(|s| s.name == named.storage)
        {
            self.selected = None;
        }
        let store = self.store.clone();
        let n = named.clone();
        let r = blocking(move || {
            let m = match store.mailbox(&n.storage, false) {
                // An auto mailbox not created yet: nothing to delete (Dovecot says OK).
                Err(MailError::NoMailbox(_)) if n.auto != AutoMailbox::No => return Ok(()),
                r => r?,
            };
            std::fs::remove_dir_all(m.dir()).map_err(MailError::io("rmdir", m.dir()))
        })
        .await;
        match r {
            Ok(()) => self.done(wire, tag, "Delete completed").await,
            Err(e) => self.mail_error(wire, tag, &named.vname, e),
        }
    }

    async fn status(&mut self, wire: &mut Wire, tag: &str, raw: &[u8], items: &[StatusItem]) {
        let Some(named) = self.named(wire, tag, raw) else {
            return;
        };
        let (store, ns, n) = (self.store.clone(), self.namespace(), named.clone());
        let wanted = items.to_vec();
        let values = blocking(move || {
            if n.storage.is_empty() {
                return Err(MailError::NoMailbox(n.vname.clone()));
            }
            status_values(&open_auto(&store, &ns, &n)?, &wanted)
        })
        .await;
        let values = match values {
            Ok(v) => v,
            Err(e) => return self.mail_error(wire, tag, &named.vname, e),
        };
        // Dovecot echoes the name as the client wrote it (`Work.` under tb-extra-mailbox-sep).
        Untagged::Status {
            mailbox: raw,
            items: values,
        }
        .encode(wire.output());
        if self
            .selected
            .as_ref()
            .is_some_and(|s| s.name == named.storage)
        {
            // Dovecot's hint that the selected mailbox's data comes as untagged updates.
            self.updates(wire, true).await;
            self.reply(
                wire,
                tag,
                "OK",
                Some("CLIENTBUG"),
                "Status on selected mailbox completed",
            );
        } else {
            self.done(wire, tag, "Status completed").await;
        }
    }

    /// Dovecot's replies for a failed mailbox operation.
    pub(super) fn mail_error(&self, wire: &mut Wire, tag: &str, name: &str, e: MailError) {
        match e {
            MailError::NoMailbox(_) => self.reply(
                wire,
                tag,
                "NO",
                Some("NONEXISTENT"),
                &format!("Mailbox doesn't exist: {name}"),
            ),
            MailError::BadMailboxName(_) => {
                self.reply(wire, tag, "NO", None, "Invalid mailbox name")
            }
            e => {
                tracing::error!(user = %self.user, error = %e, "mail operation failed");
                self.reply(
                    wire,
                    tag,
                    "NO",
                    Some("SERVERBUG"),
                    "Internal error occurred. Refer to server log for more information.",
                )
            }
        }
    }

    async fn subscribe(&mut self, wire: &mut Wire, tag: &str, raw: &[u8], on: bool) {
        let Some(named) = self.named(wire, tag, raw) else {
            return;
        };
        let ns = self.namespace();
        let store = self.store.clone();
        let n = named.clone();
        let r = blocking(move || {
            let root = store.location.root.clone();
            if on && n.auto == AutoMailbox::No && n.storage != "INBOX" {
                // Dovecot subscribes only to mailboxes that exist (or have children).
                let on_disk = !n.storage.is_empty() && store.mailbox(&n.storage, false).is_ok();
                let parent = format!("{}{}", n.vname, ns.sep);
                let children = folders::existing(&store.location)?
                    .iter()
                    .any(|f| ns.vname(f).starts_with(&parent))
                    || ns.auto().any(|a| a.vname.starts_with(&parent));
                if !on_disk && !children {
                    return Ok(false);
                }
            }
            folders::set_subscribed(&root, ns.sep, ns.to_subscription(&n.vname), on)?;
            Ok(true)
        })
        .await;
        match r {
            Ok(true) if on => self.done(wire, tag, "Subscribe completed").await,
            Ok(true) => self.done(wire, tag, "Unsubscribe completed").await,
            Ok(false) => self.reply(
                wire,
                tag,
                "NO",
                None,
                &format!("Mailbox doesn't exist: {}", named.vname),
            ),
            Err(e) => self.mail_error(wire, tag, "", e),
        }
    }

    async fn select(&mut self, wire: &mut Wire, tag: &str, raw: &[u8], readonly: bool) {
        if self.selected.take().is_some() {
            wire.queue(b"* OK [CLOSED] Previous mailbox closed.\r\n");
        }
        let Some(named) = self.named(wire, tag, raw) else {
            return;
        };
        let (store, ns, n) = (self.store.clone(), self.namespace(), named.clone());
        let opened = blocking(move || {
            if n.storage.is_empty() {
                return Err(MailError::NoMailbox(n.vname.clone()));
            }
            Selected::open(open_auto(&store, &ns, &n)?, n.storage.clone(), readonly)
        })
        .await;
        let sel = match opened {
            Ok(s) => s,
            Err(MailError::NoMailbox(_)) => {
                return self.reply(
                    wire,
                    tag,
                    "NO",
                    None,
                    &format!("Mailbox doesn't exist: {}", named.vname),
                )
            }
            Err(e) => return self.mail_error(wire, tag, &named.vname, e),
        };
        let out = wire.output();
        sel.announce_flags(out);
        Untagged::Exists(sel.exists()).encode(out);
        Untagged::Recent(sel.recent_count()).encode(out);
        if let Some(i) = sel.msgs.iter().position(|m| !m.entry.flags.has(b'S')) {
            out.extend_from_slice(format!("* OK [UNSEEN {}] First unseen.\r\n", i + 1).as_bytes());
        }
        out.extend_from_slice(
            format!("* OK [UIDVALIDITY {}] UIDs valid\r\n", sel.uid_validity).as_bytes(),
        );
        out.extend_from_slice(
            format!("* OK [UIDNEXT {}] Predicted next UID\r\n", sel.next_uid).as_bytes(),
        );
        self.selected = Some(sel);
        if readonly {
            self.reply(wire, tag, "OK", Some("READ-ONLY"), "Examine completed");
        } else {
            self.reply(wire, tag, "OK", Some("READ-WRITE"), "Select completed");
        }
    }

    /// APPEND (MULTIAPPEND): every message is stored (and fsynced, unless `mail_fsync =
    /// never`) before the OK; flags, keywords and the internal date are kept.
    async fn append(
        &mut self,
        wire: &mut Wire,
        tag: &str,
        raw: &[u8],
        messages: Vec<AppendMessage>,
        data: Vec<Result<Spool, String>>,
    ) {
        let Some(named) = self.named(wire, tag, raw) else {
            return;
        };
        let name = named.vname.clone();
        if data.len() != messages.len() {
            return self.bad(
                wire,
                tag,
                "Error in IMAP command APPEND: Invalid arguments.",
            );
        }
        let mut spools = Vec::new();
        for d in data {
            match d {
                Ok(s) => spools.push(s),
                Err(e) => return self.mail_error(wire, tag, &name, MailError::Internal(e)),
            }
        }
        let (store, ns, n) = (self.store.clone(), self.namespace(), named);
        // One blocking call writes and fsyncs the messages, then commits them.
        let r = blocking(move || {
            if n.storage.is_empty() {
                return Err(MailError::NoMailbox(n.vname.clone()));
            }
            let mbox = open_auto(&store, &ns, &n)?;
            // Messages with flags go to cur/: the index must exist first to keep them \Recent.
            ensure_index(&mbox)?;
            for spool in spools.iter_mut() {
                spool.finish(&mbox)?;
            }
            let mut kw = Keywords::read(mbox.dir())?;
            let before = kw.clone();
            let mut uids = Vec::new();
            let mut uid_validity = None;
            for (m, mut spool) in messages.iter().zip(spools) {
                let flags = letters_for(&m.flags, &mut kw)
                    .ok_or_else(|| MailError::Internal("too many keywords".into()))?;
                if kw != before {
                    kw.write(mbox.dir())?;
                }
                // The flags go into the name (cur/ with flags, new/ without) and the internal
                // date on the file as it enters: one rename, one uidlist line, no folder scan.
                let date = m.date.as_deref().and_then(parse_date_time);
                let a = spool.commit(&mbox, &flags, date)?;
                uid_validity = Some(a.uid_validity);
                uids.push(a.uid);
            }
            let uv = uid_validity.map_or_else(|| mbox.uid_validity(), Ok)?;
            Ok((uv, uids))
        })
        .await;
        match r {
            Ok((uv, uids)) => {
                self.stats.appended += uids.len() as u64;
                self.updates(wire, true).await;
                let code = format!("APPENDUID {uv} {}", uid_set(&uids));
                self.reply(wire, tag, "OK", Some(&code), "Append completed");
            }
            Err(MailError::NoMailbox(_)) => self.reply(
                wire,
                tag,
                "NO",
                Some("TRYCREATE"),
                &format!("Mailbox doesn't exist: {name}"),
            ),
            Err(e) => self.mail_error(wire, tag, &name, e),
        }
    }
}
