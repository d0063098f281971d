//! The selected-state commands: FETCH (FLAGS, UID, INTERNALDATE, RFC822.SIZE, RFC822[.HEADER|
//! .TEXT], BODY[]/BODY.PEEK[] with HEADER, HEADER.FIELDS[.NOT], TEXT and partial `<n.m>`; a
//! non-peek body fetch sets \Seen and reports the new FLAGS), STORE (FLAGS/+FLAGS/-FLAGS,
//! `.SILENT`, keywords), SEARCH (in `search.rs`), COPY/MOVE with COPYUID, EXPUNGE/UID EXPUNGE, CLOSE, UNSELECT.
//! ENVELOPE, BODY, BODYSTRUCTURE and every `BODY[section]` come from `mail::mime`, which
//! writes them as Dovecot does.

use std::borrow::Cow;
use std::collections::HashSet;

use super::cached;
use super::load::{load, Loaded};
use super::mailboxes::uid_set;
use super::message::{body_start, date_time};
use super::selected::{flag_names, letters_for};
use super::session::Imap;
use crate::mail::maildir::index::ensure_index;
use crate::mail::maildir::index::CacheField;
use crate::mail::maildir::keywords::Keywords;
use crate::mail::maildir::mailbox::Change;
use crate::mail::maildir::{Flags, MessageEntry};
use crate::mail::{blocking, MailError};
use crate::protocol::imap::command::{
    Command, FetchAttr, FetchItems, Section, SectionText, SequenceSet, StoreMode,
};
use crate::protocol::imap::response::{FetchValue, Untagged};
use crate::service::imap::settings::FetchFailure;
use crate::service::wire::Wire;

/// A FETCH reads at most this much mail (CRLF bytes) before writing it out...
const FETCH_BATCH_BYTES: u64 = 1 << 20;
/// ...or this many messages.
const FETCH_BATCH_MESSAGES: usize = 256;

/// A section without body text (`HEADER`, `HEADER.FIELDS[.NOT]`, `MIME`): Dovecot counts its
/// FETCH as a header fetch.
fn header_only(s: &Section) -> bool {
    matches!(
        s.text,
        Some(
            SectionText::Header
                | SectionText::HeaderFields(_)
                | SectionText::HeaderFieldsNot(_)
                | SectionText::Mime
        )
    )
}

fn section_name(s: &Section, partial: Option<(u32, u32)>) -> String {
    let mut spec: Vec<String> = Vec::new();
    if !s.part.is_empty() {
        spec.push(
            s.part
                .iter()
                .map(|p| p.to_string())
                .collect::<Vec<_>>()
                .join("."),
        );
    }
    match &s.text {
        None => {}
        Some(SectionText::Header) => spec.push("HEADER".into()),
        Some(SectionText::Text) => spec.push("TEXT".into()),
        Some(SectionText::Mime) => spec.push("MIME".into()),
        Some(SectionText::HeaderFields(f)) => spec.push(format!("HEADER.FIELDS ({})", f.join(" "))),
        Some(SectionText::HeaderFieldsNot(f)) => {
            spec.push(format!("HEADER.FIELDS.NOT ({})", f.join(" ")))
        }
    }
    let mut name = format!("BODY[{}]", spec.join("."));
    if let Some((start, _)) = partial {
        name.push_str(&format!("<{start}>"));
    }
    name
}

/// `BODY[section]` bytes as Dovecot sends them (an empty string for a part that is not
/// there).
fn section_bytes<'a>(
    m: &'a crate::mail::mime::Message<'_>,
    s: &'a Section,
) -> std::borrow::Cow<'a, [u8]> {
    use crate::mail::mime::SectionText as T;
    let text = match &s.text {
        None => T::Full,
        Some(SectionText::Header) => T::Header,
        Some(SectionText::Text) => T::Text,
        Some(SectionText::Mime) => T::Mime,
        Some(SectionText::HeaderFields(f)) => T::HeaderFields(f),
        Some(SectionText::HeaderFieldsNot(f)) => T::HeaderFieldsNot(f),
    };
    m.section(&s.part, &text).unwrap_or_default()
}

/// `BODY[]`: the whole message, sent as read (no MIME scan).
fn whole(s: &Section) -> bool {
    s.part.is_empty() && s.text.is_none()
}

fn partial(d: &[u8], p: Option<(u32, u32)>) -> &[u8] {
    match p {
        None => d,
        Some((start, count)) => {
            let s = (start as usize).min(d.len());
            let e = s.saturating_add(count as usize).min(d.len());
            &d[s..e]
        }
    }
}

impl Imap {
    pub(super) async fn message_command(
        &mut self,
        wire: &mut Wire,
        tag: &str,
        cmd: Command,
        _appended: Vec<Result<super::spool::Spool, String>>,
    ) {
        match cmd {
            Command::Close | Command::Unselect => {
                let close = matches!(cmd, Command::Close);
                let sel = self.selected.take().expect("checked by the caller");
                if close && !sel.readonly {
                    let doomed: Vec<(MessageEntry, Change)> = sel
                        .msgs
                        .iter()
                        .filter(|m| m.entry.flags.has(Flags::DELETED))
                        .map(|m| (m.entry.clone(), Change::Expunge))
                        .collect();
                    let mbox = sel.mbox.clone();
                    let n = doomed.len() as u64;
                    if let Err(e) = blocking(move || mbox.apply(&doomed)).await {
                        return self.mail_error(wire, tag, "", e);
                    }
                    self.stats.expunged += n;
                }
                let text = if close {
                    "Close completed"
                } else {
                    "Unselect completed"
                };
                self.reply(wire, tag, "OK", None, text);
            }
            Command::Expunge => self.expunge(wire, tag, None).await,
            Command::UidExpunge { set } => self.expunge(wire, tag, Some(set)).await,
            Command::Fetch { uid, set, items } => self.fetch(wire, tag, uid, set, items).await,
            Command::Store {
                uid,
                set,
                mode,
                silent,
                flags,
            } => self.store(wire, tag, uid, set, mode, silent, flags).await,
            Command::Search(s) => self.search(wire, tag, s).await,
            Command::Copy { uid, set, mailbox } => {
                self.copy(wire, tag, uid, set, mailbox, false).await
            }
            Command::Move { uid, set, mailbox } => {
                self.copy(wire, tag, uid, set, mailbox, true).await
            }
            other => {
                let text = format!("Error in IMAP command {}: Unknown command", other.name());
                self.bad(wire, tag, &text)
            }
        }
    }

    /// The messages a set names, or the BAD Dovecot sends for a sequence number past EXISTS.
    fn targets(
        &mut self,
        wire: &mut Wire,
        tag: &str,
        name: &str,
        uid: bool,
        set: &SequenceSet,
    ) -> Option<Vec<usize>> {
        let sel = self.selected.as_ref()?;
        if !uid && sel.seq_out_of_range(set) {
            let text = format!("Error in IMAP command {name}: Invalid messageset");
            self.bad(wire, tag, &text);
            return None;
        }
        Some(sel.resolve(set, uid))
    }

    async fn expunge(&mut self, wire: &mut Wire, tag: &str, only: Option<SequenceSet>) {
        let sel = self.selected.as_ref().expect("checked by the caller");
        if sel.readonly {
            return self.reply(wire, tag, "NO", Some("READ-ONLY"), "Mailbox is read-only.");
        }
        let allowed: Option<HashSet<usize>> = only
            .as_ref()
            .map(|s| sel.resolve(s, true).into_iter().collect());
        let doomed: Vec<(MessageEntry, Change)> = sel
            .msgs
            .iter()
            .enumerate()
            .filter(|(i, m)| {
                m.entry.flags.has(Flags::DELETED) && allowed.as_ref().is_none_or(|a| a.contains(i))
            })
            .map(|(_, m)| (m.entry.clone(), Change::Expunge))
            .collect();
        let mbox = sel.mbox.clone();
        let n = doomed.len() as u64;
        if let Err(e) = blocking(move || mbox.apply(&doomed)).await {
            return self.mail_error(wire, tag, "", e);
        }
        self.stats.expunged += n;
        self.done(wire, tag, "Expunge completed").await;
    }

    async fn fetch(
        &mut self,
        wire: &mut Wire,
        tag: &str,
        uid: bool,
        set: SequenceSet,
        items: FetchItems,
    ) {
        let Some(idx) = self.targets(wire, tag, "FETCH", uid, &set) else {
            return;
        };
        let mut items = items.items;
        if uid && !items.contains(&FetchAttr::Uid) {
            items.insert(0, FetchAttr::Uid);
        }
        let needs_data = items.iter().any(|i| {
            matches!(
                i,
                FetchAttr::Rfc822
                    | FetchAttr::Rfc822Header
                    | FetchAttr::Rfc822Text
                    | FetchAttr::BodySection { .. }
                    | FetchAttr::Envelope
                    | FetchAttr::Body
                    | FetchAttr::BodyStructure
            )
        });
        // The MIME scan is skipped when only whole messages are asked for (`BODY[]`, the
        // usual download): they are sent as read.
        let needs_mime = items.iter().any(|i| match i {
            FetchAttr::BodySection { section, .. } => !whole(section),
            FetchAttr::Envelope | FetchAttr::Body | FetchAttr::BodyStructure => true,
            _ => false,
        });
        let sets_seen = items.iter().any(|i| {
            matches!(
                i,
                FetchAttr::Rfc822
                    | FetchAttr::Rfc822Text
                    | FetchAttr::BodySection { peek: false, .. }
            )
        });
        let sel = self.selected.as_mut().expect("checked");
        // \Seen from a body fetch is stored before the answer, which then carries FLAGS.
        let mut seen_set: HashSet<usize> = HashSet::new();
        if sets_seen && !sel.readonly {
            let changes: Vec<(MessageEntry, Change)> = idx
                .iter()
                .filter(|&&i| !sel.msgs[i].entry.flags.has(Flags::SEEN))
                .map(|&i| {
                    let mut f = sel.msgs[i].entry.flags.clone();
                    f.insert(Flags::SEEN);
                    seen_set.insert(i);
                    (sel.msgs[i].entry.clone(), Change::SetFlags(f))
                })
                .collect();
            let mbox = sel.mbox.clone();
            let c2 = changes.clone();
            if let Err(e) = blocking(move || mbox.apply(&c2)).await {
                return self.mail_error(wire, tag, "", e);
            }
            for i in &seen_set {
                sel.msgs[*i].entry.flags.insert(Flags::SEEN);
                let base = sel.msgs[*i].entry.base.clone();
                sel.msgs[*i].entry.name =
                    crate::mail::maildir::filename::with_flags(&base, &sel.msgs[*i].entry.flags);
                sel.msgs[*i].entry.in_new = false;
            }
        }
        // In batches, so a `FETCH 1:* BODY[]` holds about one batch of mail in memory; queued
        // output beyond the wire's bound is written out before the next batch is read.
        let mut batches: Vec<&[usize]> = Vec::new();
        let (mut start, mut bytes) = (0, 0u64);
        for (k, &i) in idx.iter().enumerate() {
            bytes += if needs_data {
                sel.msgs[i].entry.vsize
            } else {
                0
            };
            if bytes >= FETCH_BATCH_BYTES || k + 1 - start >= FETCH_BATCH_MESSAGES {
                batches.push(&idx[start..=k]);
                (start, bytes) = (k + 1, 0);
            }
        }
        if start < idx.len() {
            batches.push(&idx[start..]);
        }
        let mut failed: Vec<u32> = Vec::new();
        // ENVELOPE, BODY, BODYSTRUCTURE and the usual HEADER.FIELDS come from the index's
        // cache when every item that needs the message can (the file is not opened).
        let plan = if needs_data {
            cached::plan(&items)
        } else {
            None
        };
        'batches: for batch in batches {
            let hits = match &plan {
                Some(fields) => cached::lookup(sel, batch, fields).await,
                None => vec![None; batch.len()],
            };
            let missing: Vec<usize> = batch
                .iter()
                .zip(&hits)
                .filter(|(_, h)| h.is_none())
                .map(|(&i, _)| i)
                .collect();
            let mut loaded = match load(sel, &missing, needs_data, false).await {
                Ok(l) => l.into_iter(),
                Err(e) => {
                    tracing::error!(user = %self.user, error = %e, "FETCH failed");
                    let text = "Internal error occurred. Refer to server log for more information.";
                    return self.reply(wire, tag, "NO", Some("SERVERBUG"), text);
                }
            };
            let mut fill: Vec<(u32, CacheField, Vec<u8>)> = Vec::new();
            for (k, &i) in batch.iter().enumerate() {
                let m = &sel.msgs[i];
                let hit = hits[k].as_ref();
                let l = if hit.is_none() {
                    loaded.next().unwrap_or_default()
                } else {
                    Loaded::default()
                };
                if let Some(err) = &l.failed {
                    tracing::error!(user = %self.user, error = %err, "FETCH failed");
                    failed.push(m.entry.uid);
                    if self.session.settings.imap.imap_fetch_failure
                        == FetchFailure::DisconnectImmediately
                    {
                        break 'batches;
                    }
                    continue;
                }
                if needs_data && hit.is_none() && l.data.is_none() {
                    continue; // expunged by another session meanwhile
                }
                let data = l.data.as_deref().unwrap_or(&[]);
                let b = body_start(data);
                // The MIME structure (mail::mime), for ENVELOPE, BODY[STRUCTURE], sections.
                let mime = (needs_mime && hit.is_none()).then(|| crate::mail::mime::scan(data));
                // A cacheable value: from the cache, or computed and remembered.
                let mut value = |f: CacheField| -> Vec<u8> {
                    if let Some(v) = hit.and_then(|h| h.get(&f)) {
                        return v.clone();
                    }
                    let v = cached::compute(mime.as_ref().expect("scanned"), f);
                    fill.push((m.entry.uid, f, v.clone()));
                    v
                };
                let mut values: Vec<FetchValue> = Vec::new();
                let mut owned: Vec<(String, Cow<[u8]>)> = Vec::new();
                let mut order: Vec<Result<FetchValue, usize>> = Vec::new();
                for it in &items {
                    match it {
                        FetchAttr::Flags => order.push(Ok(FetchValue::Flags(sel.flags(m)))),
                        FetchAttr::Uid => order.push(Ok(FetchValue::Uid(m.entry.uid))),
                        FetchAttr::InternalDate => {
                            order.push(Ok(FetchValue::InternalDate(date_time(m.internal_date()))))
                        }
                        FetchAttr::Rfc822Size => {
                            order.push(Ok(FetchValue::Rfc822Size(m.entry.vsize)))
                        }
                        FetchAttr::Rfc822 => {
                            self.stats.fetched(false, data.len());
                            owned.push(("RFC822".into(), Cow::Borrowed(data)));
                            order.push(Err(owned.len() - 1));
                        }
                        FetchAttr::Rfc822Header => {
                            self.stats.fetched(true, b);
                            owned.push(("RFC822.HEADER".into(), Cow::Borrowed(&data[..b])));
                            order.push(Err(owned.len() - 1));
                        }
                        FetchAttr::Rfc822Text => {
                            self.stats.fetched(false, data.len() - b);
                            owned.push(("RFC822.TEXT".into(), Cow::Borrowed(&data[b..])));
                            order.push(Err(owned.len() - 1));
                        }
                        FetchAttr::BodySection {
                            section,
                            partial: p,
                            ..
                        } => {
                            let bytes: Cow<[u8]> = match (&section.text, cached::field_of(it)) {
                                _ if whole(section) => Cow::Borrowed(data),
                                (Some(SectionText::HeaderFields(names)), Some(f)) => {
                                    Cow::Owned(cached::header_fields(&value(f), names))
                                }
                                _ => Cow::Owned(
                                    section_bytes(mime.as_ref().expect("scanned"), section)
                                        .into_owned(),
                                ),
                            };
                            let part = match bytes {
                                Cow::Borrowed(d) => Cow::Borrowed(partial(d, *p)),
                                Cow::Owned(v) if p.is_none() => Cow::Owned(v),
                                Cow::Owned(v) => Cow::Owned(partial(&v, *p).to_vec()),
                            };
                            self.stats.fetched(header_only(section), part.len());
                            owned.push((section_name(section, *p), part));
                            order.push(Err(owned.len() - 1));
                        }
                        FetchAttr::Envelope => {
                            let env = value(CacheField::Envelope);
                            order.push(Ok(FetchValue::Raw("ENVELOPE", env)));
                        }
                        FetchAttr::Body => {
                            let body = value(CacheField::Body);
                            order.push(Ok(FetchValue::Raw("BODY", body)));
                        }
                        FetchAttr::BodyStructure => {
                            let bs = value(CacheField::BodyStructure);
                            order.push(Ok(FetchValue::Raw("BODYSTRUCTURE", bs)));
                        }
                    }
                }
                if seen_set.contains(&i) && !items.contains(&FetchAttr::Flags) {
                    order.push(Ok(FetchValue::Flags(sel.flags(m))));
                }
                // As Dovecot: the small items (UID, FLAGS, INTERNALDATE, RFC822.SIZE) come
                // first, each group in the order asked; the FLAGS a \Seen-setting fetch adds
                // ends the first group.
                order.sort_by_key(|o| {
                    !matches!(
                        o,
                        Ok(FetchValue::Uid(_)
                            | FetchValue::Flags(_)
                            | FetchValue::InternalDate(_)
                            | FetchValue::Rfc822Size(_))
                    )
                });
                for o in order {
                    values.push(match o {
                        Ok(v) => v,
                        Err(n) => FetchValue::Section(owned[n].0.clone(), Some(&owned[n].1)),
                    });
                }
                Untagged::Fetch {
                    seq: i as u32 + 1,
                    items: values,
                }
                .encode(wire.output());
            }
            cached::store(sel, fill).await;
            if wire.pending_output() > wire.max_output {
                let watch = crate::service::wire::Watch::new(&self.session, None);
                if wire.flush_watched(&watch).await.is_err() {
                    return; // the session loop sees the end on its next wait
                }
            }
        }
        if !failed.is_empty() {
            return self.fetch_failure(wire, tag, failed);
        }
        self.updates(wire, false).await;
        self.reply(wire, tag, "OK", None, "Fetch completed");
    }

    /// Messages that could not be read: `imap_fetch_failure` says whether the session ends
    /// (`* BYE FETCH failed: …`) or the FETCH gets `NO [SERVERBUG]` (`no-after`, unless the
    /// client asks again for a message that failed before).
    fn fetch_failure(&mut self, wire: &mut Wire, tag: &str, failed: Vec<u32>) {
        const INTERNAL: &str = "Internal error occurred. Refer to server log for more information.";
        let retry = failed.iter().any(|u| self.failed_uids.contains(u));
        if self.session.settings.imap.imap_fetch_failure != FetchFailure::NoAfter || retry {
            wire.queue(format!("* BYE FETCH failed: {INTERNAL}\r\n").as_bytes());
            self.status.set("no");
            self.fetch_failed = Some(format!(
                "FETCH failed: {} message(s) could not be read (uid {})",
                failed.len(),
                failed[0]
            ));
            return;
        }
        self.failed_uids.extend(failed);
        self.reply(wire, tag, "NO", Some("SERVERBUG"), INTERNAL);
    }

    #[allow(clippy::too_many_arguments)]
    async fn store(
        &mut self,
        wire: &mut Wire,
        tag: &str,
        uid: bool,
        set: SequenceSet,
        mode: StoreMode,
        silent: bool,
        flags: Vec<String>,
    ) {
        let Some(idx) = self.targets(wire, tag, "STORE", uid, &set) else {
            return;
        };
        let sel = self.selected.as_mut().expect("checked");
        if sel.readonly {
            return self.reply(wire, tag, "NO", Some("READ-ONLY"), "Mailbox is read-only.");
        }
        let mut kw = Keywords::read(sel.mbox.dir()).unwrap_or_else(|_| sel.keywords.clone());
        let before = kw.clone();
        let Some(given) = letters_for(&flags, &mut kw) else {
            return self.reply(wire, tag, "NO", None, "Too many keywords in mailbox");
        };
        let given: Vec<u8> = given.letters().bytes().collect();
        let mut changes = Vec::new();
        let mut new_flags = Vec::new();
        let mut deleted = 0u64;
        for &i in &idx {
            let old = &sel.msgs[i].entry.flags;
            let mut f = match mode {
                StoreMode::Replace => Flags::default(),
                _ => old.clone(),
            };
            for &l in &given {
                match mode {
                    StoreMode::Remove => f.remove(l),
                    _ => f.insert(l),
                }
            }
            // Letters roost does not map (Maildir's P) survive a replace.
            if mode == StoreMode::Replace && old.has(Flags::PASSED) {
                f.insert(Flags::PASSED);
            }
            if f.has(Flags::DELETED) && !old.has(Flags::DELETED) {
                deleted += 1;
            }
            new_flags.push(f.clone());
            if &f != old {
                changes.push((sel.msgs[i].entry.clone(), Change::SetFlags(f)));
            }
        }
        let mbox = sel.mbox.clone();
        let write_kw = kw != before;
        let kw2 = kw.clone();
        let r = blocking(move || {
            if write_kw {
                kw2.write(mbox.dir())?;
            }
            mbox.apply(&changes)
        })
        .await;
        if let Err(e) = r {
            return self.mail_error(wire, tag, "", e);
        }
        self.stats.deleted += deleted;
        if sel.keywords != kw {
            sel.keywords = kw;
            sel.announce_flags(wire.output());
        }
        for (k, &i) in idx.iter().enumerate() {
            let e = &mut sel.msgs[i].entry;
            e.flags = new_flags[k].clone();
            e.name = crate::mail::maildir::filename::with_flags(&e.base, &e.flags);
            e.in_new = false;
            if !silent {
                let mut items = vec![FetchValue::Flags(sel.flags(&sel.msgs[i]))];
                if uid {
                    // `* 2 FETCH (UID 2 FLAGS (…))`, UID first as Dovecot sends it.
                    items.insert(0, FetchValue::Uid(sel.msgs[i].entry.uid));
                }
                Untagged::Fetch {
                    seq: i as u32 + 1,
                    items,
                }
                .encode(wire.output());
            }
        }
        self.updates(wire, false).await;
        self.reply(wire, tag, "OK", None, "Store completed");
    }

    async fn copy(
        &mut self,
        wire: &mut Wire,
        tag: &str,
        uid: bool,
        set: SequenceSet,
        mailbox: Vec<u8>,
        mv: bool,
    ) {
        let Some(idx) = self.targets(wire, tag, if mv { "MOVE" } else { "COPY" }, uid, &set) else {
            return;
        };
        let name = String::from_utf8_lossy(&mailbox).into_owned();
        let name = if name.eq_ignore_ascii_case("INBOX") {
            "INBOX".to_string()
        } else {
            name
        };
        let sel = self.selected.as_ref().expect("checked");
        if mv && sel.readonly {
            return self.reply(wire, tag, "NO", Some("READ-ONLY"), "Mailbox is read-only.");
        }
        let src = sel.mbox.clone();
        let src_kw = sel.keywords.clone();
        let entries: Vec<MessageEntry> = idx.iter().map(|&i| sel.msgs[i].entry.clone()).collect();
        let store = self.store.clone();
        let n = name.clone();
        let r = blocking(move || {
            let dest = store.mailbox(&n, false)?;
            ensure_index(&dest)?;
            let mut kw = Keywords::read(dest.dir())?;
            let before = kw.clone();
            let mut pairs = Vec::new();
            let mut uid_validity = None;
            for e in &entries {
                let names = flag_names(&e.flags, false, &src_kw);
                let mut flags = letters_for(&names, &mut kw)
                    .ok_or_else(|| MailError::Internal("too many keywords".into()))?;
                if e.flags.has(Flags::PASSED) {
                    flags.insert(Flags::PASSED);
                }
                if kw != before {
                    kw.write(dest.dir())?;
                }
                // A hard link, as Dovecot's maildir_copy_with_hardlinks (the internal date
                // comes along); a copy when the file moved meanwhile or across file systems.
                // The flags go into the name as it is committed (no folder scan).
                let new_uid = match dest.link_tmp(&src.path_of(e)) {
                    Ok(base) => dest.commit_tmp_flagged(&base, e.size, e.vsize, &flags, None)?,
                    Err(_) => {
                        let Ok(data) = src.read(e) else {
                            continue; // expunged meanwhile
                        };
                        let mtime = std::fs::metadata(src.path_of(e)).and_then(|m| m.modified());
                        dest.deliver_dated(&data, &flags, mtime.ok())?
                    }
                };
                uid_validity = Some(new_uid.uid_validity);
                pairs.push((e.uid, new_uid.uid));
            }
            if mv {
                let doomed: Vec<(MessageEntry, Change)> = entries
                    .iter()
                    .map(|e| (e.clone(), Change::Expunge))
                    .collect();
                src.apply(&doomed)?;
            }
            let uv = uid_validity.map_or_else(|| dest.uid_validity(), Ok)?;
            Ok((uv, pairs))
        })
        .await;
        match r {
            Ok((uv, pairs)) => {
                let src_uids: Vec<u32> = pairs.iter().map(|p| p.0).collect();
                let dst_uids: Vec<u32> = pairs.iter().map(|p| p.1).collect();
                let code = format!("COPYUID {uv} {} {}", uid_set(&src_uids), uid_set(&dst_uids));
                if mv {
                    wire.queue(format!("* OK [{code}] Moved UIDs.\r\n").as_bytes());
                    self.done(wire, tag, "Move completed").await;
                } else {
                    self.updates(wire, true).await;
                    let text = if pairs.is_empty() {
                        "No messages found."
                    } else {
                        "Copy completed"
                    };
                    self.reply(
                        wire,
                        tag,
                        "OK",
                        (!pairs.is_empty()).then_some(code.as_str()),
                        text,
                    );
                }
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
