//! RENAME: a folder moves with its children (Maildir++ `.A` and `.A.*` directories, or the
//! `A` directory with `LAYOUT=fs`); `RENAME INBOX X` follows RFC 3501 — INBOX's messages move
//! (with their flags, keywords and internal dates) to the new mailbox X and INBOX stays, empty.
//! INBOX's children (`INBOX/kid`) move to `X/kid`, as Dovecot moves them when it renames an
//! INBOX of its own directory (with INBOX at the Maildir++ root Dovecot refuses the rename).

use super::folders;
use super::session::Imap;
use crate::mail::maildir::index::ensure_index;
use crate::mail::maildir::keywords::Keywords;
use crate::mail::maildir::mailbox::Change;
use crate::mail::namespace::AutoMailbox;
use crate::mail::{blocking, MailError, UserStore};
use crate::service::wire::Wire;

/// What a rename came to.
enum Renamed {
    Done,
    TargetExists,
}

impl Imap {
    pub(super) async fn rename(&mut self, wire: &mut Wire, tag: &str, from: &[u8], to: &[u8]) {
        let Some(from) = self.named(wire, tag, from) else {
            return;
        };
        let Some(to) = self.named(wire, tag, to) else {
            return;
        };
        let store = self.store.clone();
        let (f, t) = (from.clone(), to.clone());
        let r = blocking(move || {
            if f.storage.is_empty() {
                return Err(MailError::NoMailbox(f.vname.clone()));
            }
            let target_exists = t.storage == "INBOX"
                || t.storage.is_empty()
                || t.auto != AutoMailbox::No
                || store.mailbox(&t.storage, false).is_ok();
            if f.storage == "INBOX" {
                if target_exists {
                    return Ok(Renamed::TargetExists);
                }
                move_inbox(&store, &t.storage)?;
                return Ok(Renamed::Done);
            }
            store.mailbox(&f.storage, false)?;
            if target_exists {
                return Ok(Renamed::TargetExists);
            }
            rename_folder(&store, &f.storage, &t.storage)?;
            Ok(Renamed::Done)
        })
        .await;
        match r {
            Ok(Renamed::Done) => self.done(wire, tag, "Rename completed").await,
            Ok(Renamed::TargetExists) => self.reply(
                wire,
                tag,
                "NO",
                Some("ALREADYEXISTS"),
                "Target mailbox already exists",
            ),
            Err(e) => self.mail_error(wire, tag, &from.vname, e),
        }
    }
}

/// Renames folder `from` and its children to `to` (storage names).
fn rename_folder(store: &UserStore, from: &str, to: &str) -> Result<(), MailError> {
    let sep = folders::separator(&store.location);
    let all = folders::existing(&store.location)?;
    let prefix = format!("{from}{sep}");
    for n in all.iter().filter(|n| *n == from || n.starts_with(&prefix)) {
        let src = store.location.mailbox_dir(n)?;
        let dst = store
            .location
            .mailbox_dir(&format!("{to}{}", &n[from.len()..]))?;
        if let Some(p) = dst.parent() {
            std::fs::create_dir_all(p).map_err(MailError::io("mkdir", p))?;
        }
        std::fs::rename(&src, &dst).map_err(MailError::io("rename", &src))?;
    }
    Ok(())
}

/// RFC 3501's INBOX rename: a new mailbox `to` gets INBOX's messages (hard links, as COPY
/// makes them, in UID order, flags and keywords kept), then INBOX expunges them.
fn move_inbox(store: &UserStore, to: &str) -> Result<(), MailError> {
    let inbox = store.mailbox("INBOX", false)?;
    let dest = store.mailbox(to, true)?;
    ensure_index(&dest)?;
    let kw = Keywords::read(inbox.dir())?;
    if kw != Keywords::default() {
        kw.write(dest.dir())?;
    }
    let snap = inbox.sync()?;
    let mut moved = Vec::new();
    for e in &snap.messages {
        let src = inbox.path_of(e);
        match dest.link_tmp(&src) {
            Ok(base) => dest.commit_tmp_flagged(&base, e.size, e.vsize, &e.flags, None)?,
            Err(_) => {
                let Ok(data) = inbox.read(e) else {
                    continue; // expunged meanwhile
                };
                let mtime = std::fs::metadata(&src).and_then(|m| m.modified()).ok();
                dest.deliver_dated(&data, &e.flags, mtime)?
            }
        };
        moved.push((e.clone(), Change::Expunge));
    }
    inbox.apply(&moved)?;
    let sep = folders::separator(&store.location);
    let prefix = format!("INBOX{sep}");
    for kid in folders::existing(&store.location)? {
        if let Some(rest) = kid.strip_prefix(&prefix) {
            let dst = format!("{to}{sep}{rest}");
            if store.mailbox(&dst, false).is_err() {
                rename_folder(store, &kid, &dst)?;
            }
        }
    }
    Ok(())
}
