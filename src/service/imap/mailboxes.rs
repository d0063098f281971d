//! The authenticated-state mailbox commands: SELECT/EXAMINE, CREATE, DELETE, RENAME,
//! SUBSCRIBE/UNSUBSCRIBE, LIST/LSUB, STATUS and APPEND, with Dovecot's replies
//! (`NO [NONEXISTENT] Mailbox doesn't exist: X`, `NO [ALREADYEXISTS] Mailbox already exists`,
//! `NO [TRYCREATE] …`). Names stay in wire form (modified UTF-7, as Dovecot names the
//! directories) and are checked to decode.

use super::folders::{self, separator};
use super::message::parse_date_time;
use super::selected::{letters_for, Selected};
use super::session::Imap;
use super::spool::Spool;
use crate::mail::maildir::keywords::Keywords;
use crate::mail::maildir::mailbox::fsync_dir;
use crate::mail::maildir::{filename, Flags, Maildir};
use crate::mail::{blocking, MailError};
use crate::protocol::imap::command::{AppendMessage, Command, SeqNum, SeqRange, SequenceSet};
use crate::protocol::imap::response::{ListEntry, Untagged};
use crate::protocol::imap::utf7;
use crate::service::wire::Wire;

/// A mailbox name from the wire: INBOX normalised, a trailing separator dropped when
/// `strip` (CREATE, or the `tb-extra-mailbox-sep` workaround; otherwise such a name is
/// invalid, as in Dovecot), and checked to be valid modified UTF-7.
fn mailbox_name(raw: &[u8], sep: char, strip: bool) -> Option<String> {
    utf7::decode(raw).ok()?;
    let s = String::from_utf8(raw.to_vec()).ok()?;
    if !strip && s.len() > 1 && s.ends_with(sep) {
        return None;
    }
    let s = s.strip_suffix(sep).unwrap_or(&s).to_string();
    if s.eq_ignore_ascii_case("INBOX") {
        return Some("INBOX".into());
    }
    if s.is_empty() {
        return None;
    }
    Some(s)
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

impl Imap {
    pub(super) async fn mail_command(
        &mut self,
        wire: &mut Wire,
        tag: &str,
        cmd: Command,
        appended: Vec<Result<Spool, String>>,
    ) {
        let sep = separator(&self.store.location);
        let strip = self
            .session
            .settings
            .imap
            .workarounds()
            .tb_extra_mailbox_sep;
        let named = |raw: &[u8]| mailbox_name(raw, sep, strip);
        match cmd {
            Command::Select { mailbox } => self.select(wire, tag, named(&mailbox), false).await,
            Command::Examine { mailbox } => self.select(wire, tag, named(&mailbox), true).await,
            Command::Create { mailbox, .. } => {
                let Some(name) = mailbox_name(&mailbox, sep, true) else {
                    return self.reply(wire, tag, "NO", None, "Invalid mailbox name");
                };
                let store = self.store.clone();
                let n = name.clone();
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
                    Err(e) => self.mail_error(wire, tag, &name, e),
                }
            }
            Command::Delete { mailbox } => {
                let Some(name) = named(&mailbox) else {
                    return self.reply(wire, tag, "NO", None, "Invalid mailbox name");
                };
                if name == "INBOX" {
                    return self.reply(wire, tag, "NO", None, "INBOX can't be deleted.");
                }
                if self.selected.as_ref().is_some_and(|s| s.name == name) {
                    self.selected = None;
                }
                let store = self.store.clone();
                let n = name.clone();
                let r = blocking(move || {
                    let m = store.mailbox(&n, false)?;
                    std::fs::remove_dir_all(m.dir()).map_err(MailError::io("rmdir", m.dir()))
                })
                .await;
                match r {
                    Ok(()) => self.done(wire, tag, "Delete completed").await,
                    Err(e) => self.mail_error(wire, tag, &name, e),
                }
            }
            Command::Rename { from, to } => {
                let (Some(from), Some(to)) = (named(&from), named(&to)) else {
                    return self.reply(wire, tag, "NO", None, "Invalid mailbox name");
                };
                if from == "INBOX" {
                    return self.reply(wire, tag, "NO", None, "Renaming INBOX isn't supported.");
                }
                let store = self.store.clone();
                let (f, t) = (from.clone(), to.clone());
                let r = blocking(move || {
                    store.mailbox(&f, false)?;
                    if t == "INBOX" || store.mailbox(&t, false).is_ok() {
                        return Ok(false);
                    }
                    // The mailbox and its children.
                    let all = folders::existing(&store.location)?;
                    let prefix = format!("{f}{sep}");
                    for n in all.iter().filter(|n| **n == f || n.starts_with(&prefix)) {
                        let src = store.location.mailbox_dir(n)?;
                        let dst = store
                            .location
                            .mailbox_dir(&format!("{t}{}", &n[f.len()..]))?;
                        if let Some(p) = dst.parent() {
                            std::fs::create_dir_all(p).map_err(MailError::io("mkdir", p))?;
                        }
                        std::fs::rename(&src, &dst).map_err(MailError::io("rename", &src))?;
                    }
                    Ok(true)
                })
                .await;
                match r {
                    Ok(true) => self.done(wire, tag, "Rename completed").await,
                    Ok(false) => self.reply(
                        wire,
                        tag,
                        "NO",
                        Some("ALREADYEXISTS"),
                        "Target mailbox already exists",
                    ),
                    Err(e) => self.mail_error(wire, tag, &from, e),
                }
            }
            Command::Subscribe { mailbox } => {
                self.subscribe(wire, tag, named(&mailbox), true).await
            }
            Command::Unsubscribe { mailbox } => {
                self.subscribe(wire, tag, named(&mailbox), false).await
            }
            Command::List(l) => {
                let reference = String::from_utf8_lossy(&l.reference).into_owned();
                let store = self.store.clone();
                let names = blocking(move || folders::existing(&store.location)).await;
                let names = match names {
                    Ok(n) => n,
                    Err(e) => return self.mail_error(wire, tag, "", e),
                };
                let subs = folders::subscriptions(&self.store.location.root, sep);
                for p in &l.patterns {
                    let pattern = String::from_utf8_lossy(p);
                    if pattern.is_empty() {
                        Untagged::List(ListEntry {
                            attributes: vec!["\\Noselect"],
                            delimiter: Some(sep),
                            mailbox: b"",
                            child_info_subscribed: false,
                        })
                        .encode(wire.output());
                        continue;
                    }
                    for e in folders::list(&names, sep, &reference, &pattern) {
                        let subscribed = subs.contains(&e.name);
                        if l.selection.iter().any(|s| s == "SUBSCRIBED") && !subscribed {
                            continue;
                        }
                        let mut attributes = e.attributes.clone();
                        if subscribed && (l.returns.subscribed || !l.selection.is_empty()) {
                            attributes.push("\\Subscribed");
                        }
                        Untagged::List(ListEntry {
                            attributes,
                            delimiter: Some(sep),
                            mailbox: e.name.as_bytes(),
                            child_info_subscribed: false,
                        })
                        .encode(wire.output());
                    }
                }
                self.done(wire, tag, "List completed").await;
            }
            Command::Lsub { reference, pattern } => {
                let full = format!(
                    "{}{}",
                    String::from_utf8_lossy(&reference),
                    String::from_utf8_lossy(&pattern)
                );
                // `tb-lsub-flags`: LSUB carries the mailbox's flags (here: \Noselect for a
                // subscription whose mailbox does not exist); without it Dovecot sends none.
                let with_flags = self.session.settings.imap.workarounds().tb_lsub_flags;
                let existing = if with_flags {
                    let store = self.store.clone();
                    blocking(move || folders::existing(&store.location))
                        .await
                        .unwrap_or_default()
                } else {
                    Vec::new()
                };
                for n in folders::subscriptions(&self.store.location.root, sep) {
                    if folders::matches(&full, &n, sep) {
                        let missing = n != "INBOX" && !existing.contains(&n);
                        Untagged::Lsub(ListEntry {
                            attributes: if with_flags && missing {
                                vec!["\\Noselect"]
                            } else {
                                Vec::new()
                            },
                            delimiter: Some(sep),
                            mailbox: n.as_bytes(),
                            child_info_subscribed: false,
                        })
                        .encode(wire.output());
                    }
                }
                self.done(wire, tag, "Lsub completed").await;
            }
            Command::Status { mailbox, items } => {
                let Some(name) = named(&mailbox) else {
                    return self.reply(wire, tag, "NO", None, "Invalid mailbox name");
                };
                let store = self.store.clone();
                let n = name.clone();
                let snap = blocking(move || store.mailbox(&n, false)?.sync()).await;
                let snap = match snap {
                    Ok(s) => s,
                    Err(e) => return self.mail_error(wire, tag, &name, e),
                };
                use crate::protocol::imap::command::StatusItem as I;
                let values = items
                    .iter()
                    .map(|i| {
                        let v = match i {
                            I::Messages => snap.messages.len() as u64,
                            I::Recent => snap.messages.iter().filter(|m| m.in_new).count() as u64,
                            I::UidNext => snap.next_uid as u64,
                            I::UidValidity => snap.uid_validity as u64,
                            I::Unseen => {
                                snap.messages.iter().filter(|m| !m.flags.has(b'S')).count() as u64
                            }
                        };
                        (*i, v)
                    })
                    .collect();
                // The name as the client wrote it, as Dovecot echoes it.
                Untagged::Status {
                    mailbox: &mailbox,
                    items: values,
                }
                .encode(wire.output());
                if self.selected.as_ref().is_some_and(|s| s.name == name) {
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
            Command::Append { mailbox, messages } => {
                self.append(wire, tag, named(&mailbox), messages, appended)
                    .await
            }
            other => self.message_command(wire, tag, other, appended).await,
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

    async fn subscribe(&mut self, wire: &mut Wire, tag: &str, name: Option<String>, on: bool) {
        let Some(name) = name else {
            return self.reply(wire, tag, "NO", None, "Invalid mailbox name");
        };
        let root = self.store.location.root.clone();
        let sep = separator(&self.store.location);
        let r = blocking(move || folders::set_subscribed(&root, sep, &name, on)).await;
        match r {
            Ok(()) if on => self.done(wire, tag, "Subscribe completed").await,
            Ok(()) => self.done(wire, tag, "Unsubscribe completed").await,
            Err(e) => self.mail_error(wire, tag, "", e),
        }
    }

    async fn select(&mut self, wire: &mut Wire, tag: &str, name: Option<String>, readonly: bool) {
        if self.selected.take().is_some() {
            wire.queue(b"* OK [CLOSED] Previous mailbox closed.\r\n");
        }
        let Some(name) = name else {
            return self.reply(wire, tag, "NO", None, "Invalid mailbox name");
        };
        let store = self.store.clone();
        let n = name.clone();
        let opened =
            blocking(move || Selected::open(store.mailbox(&n, false)?, n.clone(), readonly)).await;
        let sel = match opened {
            Ok(s) => s,
            Err(MailError::NoMailbox(_)) => {
                return self.reply(
                    wire,
                    tag,
                    "NO",
                    None,
                    &format!("Mailbox doesn't exist: {name}"),
                )
            }
            Err(e) => return self.mail_error(wire, tag, &name, e),
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
        name: Option<String>,
        messages: Vec<AppendMessage>,
        data: Vec<Result<Spool, String>>,
    ) {
        let Some(name) = name else {
            return self.reply(wire, tag, "NO", None, "Invalid mailbox name");
        };
        if data.len() != messages.len() {
            return self.bad(
                wire,
                tag,
                "Error in IMAP command APPEND: Invalid arguments.",
            );
        }
        let mut spools = Vec::new();
        for d in data {
            let mut spool = match d {
                Ok(s) => s,
                Err(e) => return self.mail_error(wire, tag, &name, MailError::Internal(e)),
            };
            if let Err(e) = spool.finish().await {
                return self.mail_error(wire, tag, &name, e);
            }
            spools.push(spool);
        }
        let store = self.store.clone();
        let n = name.clone();
        let r = blocking(move || {
            let mbox = store.mailbox(&n, false)?;
            let mut kw = Keywords::read(mbox.dir())?;
            let before = kw.clone();
            let mut uids = Vec::new();
            for (m, mut spool) in messages.iter().zip(spools) {
                let flags = letters_for(&m.flags, &mut kw)
                    .ok_or_else(|| MailError::Internal("too many keywords".into()))?;
                if kw != before {
                    kw.write(mbox.dir())?;
                }
                // The flags go into the name as the file enters new/.
                let uid = spool.commit(&mbox, &flags)?;
                let date = m.date.as_deref().and_then(parse_date_time);
                finish_stored(&mbox, uid, &Flags::default(), date)?;
                uids.push(uid);
            }
            Ok((mbox.sync()?.uid_validity, uids))
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

/// Gives a message just committed to new/ its flags (in its name, staying in new/ so the next
/// session sees it \Recent, as Dovecot's index would report it) and its internal date (the
/// file's mtime).
pub(super) fn finish_stored(
    mbox: &Maildir,
    uid: u32,
    flags: &Flags,
    date: Option<std::time::SystemTime>,
) -> Result<(), MailError> {
    if let Some(t) = date {
        set_mtime(mbox, uid, t)?;
    }
    if !flags.is_empty() {
        let snap = mbox.sync()?;
        if let Some(e) = snap.messages.into_iter().find(|m| m.uid == uid) {
            let src = mbox.path_of(&e);
            let dst = src.with_file_name(filename::with_flags(&e.base, flags));
            std::fs::rename(&src, &dst).map_err(MailError::io("rename", &src))?;
            if mbox.fsyncs() {
                if let Some(dir) = dst.parent() {
                    fsync_dir(dir)?;
                }
            }
        }
    }
    Ok(())
}

/// Sets a stored message's file time (Maildir's internal date).
pub(super) fn set_mtime(
    mbox: &Maildir,
    uid: u32,
    t: std::time::SystemTime,
) -> Result<(), MailError> {
    let snap = mbox.sync()?;
    if let Some(e) = snap.messages.iter().find(|m| m.uid == uid) {
        let p = mbox.path_of(e);
        std::fs::File::options()
            .write(true)
            .open(&p)
            .and_then(|f| f.set_modified(t))
            .map_err(MailError::io("utime", &p))?;
    }
    Ok(())
}
