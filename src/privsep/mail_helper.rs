//! The mail helper: `roost __helper kind=mail user=<uid> group=<gid> …`, started by the root
//! launcher after it checked the uid/gid against its own configuration, already running as that
//! uid/gid (no capabilities, no-new-privs). It runs roost's own mail code ([`crate::mail::local`],
//! [`Maildir`]) for requests in [`super::mail_proto`]: deliveries, and the INBOX of POP3
//! sessions of its uid (each session's opened mailbox and lock live here, by session id, until
//! `CLOSE`), and doveadm's mail commands for its uid's users (`DOVEADM`,
//! [`crate::service::doveadm::mail::work`]). With no mailbox open it exits after [`IDLE_EXIT`] without a request, or when the server closes its socket.

use std::collections::HashMap;
use std::fs::File;
use std::os::fd::{AsRawFd, FromRawFd};
use std::os::unix::net::UnixStream;
use std::time::Duration;

use crate::mail::local::{self, DeliverTo};
use crate::mail::maildir::dotlock::Dotlock;
use crate::mail::maildir::Maildir;
use crate::mail::MailError;
use crate::service::doveadm::mail as doveadm_mail;

use super::error::PrivsepError;
use super::mail_proto::{self as proto, Msg};
use super::spec::HelperSpec;

/// An idle helper (no mailbox open) exits after this long without a request.
pub const IDLE_EXIT: Duration = Duration::from_secs(60);

/// The POP3 sessions' mailboxes this helper holds open, by session id.
#[derive(Default)]
struct State {
    open: HashMap<String, (Maildir, Option<Dotlock>)>,
}

/// A reply: head fields after `OK`, an inline body, or a file whose content is the body.
type Answer = Result<(Vec<String>, Vec<u8>, Option<File>), MailError>;

/// Waits until `fd` is readable; false after `timeout`.
fn readable(fd: i32, timeout: Duration) -> bool {
    let mut p = libc::pollfd {
        fd,
        events: libc::POLLIN,
        revents: 0,
    };
    loop {
        // SAFETY: one valid pollfd.
        let n = unsafe { libc::poll(&mut p, 1, timeout.as_millis() as i32) };
        if n >= 0 {
            return n > 0;
        }
        if std::io::Error::last_os_error().kind() != std::io::ErrorKind::Interrupted {
            return true;
        }
    }
}

fn reply(sock: i32, r: Answer) {
    let sent = match r {
        Ok((head, body, file)) => {
            let mut h = vec!["OK"];
            h.extend(head.iter().map(String::as_str));
            proto::send(sock, &h, &body, file.as_ref())
        }
        Err(e) => {
            let f = proto::fail(&e);
            proto::send(sock, &[&f[0], &f[1], &f[2]], &[], None)
        }
    };
    if let Err(e) = sent {
        eprintln!("roost mail helper: reply failed: {e}");
    }
}

fn bad(e: PrivsepError) -> MailError {
    MailError::Internal(e.to_string())
}

fn handle(st: &mut State, m: Msg) -> Answer {
    let none = || Ok((Vec::new(), Vec::new(), None));
    let args = &m.head[1..];
    match m.head[0].as_str() {
        "DELIVER" => {
            let num = |i: usize| args.get(i).and_then(|v| v.parse::<u64>().ok());
            let (Some(size), Some(vsize)) = (num(0), num(1)) else {
                return Err(MailError::Internal("DELIVER without sizes".into()));
            };
            let to = proto::decode_to(&args[2..]).map_err(bad)?;
            let spool = m
                .fd
                .map(File::from)
                .ok_or_else(|| MailError::Internal("DELIVER without the message file".into()))?;
            let uid = local::deliver_file(&to, &spool, (size, vsize))?;
            Ok((vec![uid.to_string()], Vec::new(), None))
        }
        "OPEN" => {
            let sid = args.first().ok_or_else(not_open)?.clone();
            st.open.remove(&sid);
            let lock = args.get(1).is_some_and(|l| l == "1");
            let to: DeliverTo = proto::decode_to(args.get(2..).unwrap_or(&[])).map_err(bad)?;
            let (inbox, lock, snap) = local::open_pop3(&to, lock)?;
            st.open.insert(sid, (inbox, lock));
            Ok((Vec::new(), proto::encode_snapshot(&snap), None))
        }
        "READ" => {
            let (inbox, _) = session(st, args)?;
            let e = proto::entry_from(&args[1..]).map_err(bad)?;
            match File::open(inbox.path_of(&e)) {
                Ok(f) => Ok((Vec::new(), Vec::new(), Some(f))),
                // Renamed by another process meanwhile: Maildir::read follows it.
                Err(_) => Ok((Vec::new(), inbox.read(&e)?, None)),
            }
        }
        "APPLY" => {
            let (inbox, _) = session(st, args)?;
            let body = match m.fd {
                Some(fd) => proto::read_all(&mut File::from(fd)).map_err(bad)?,
                None => m.body,
            };
            let changes = proto::decode_changes(&body).map_err(bad)?;
            inbox.apply(&changes)?;
            none()
        }
        "TOUCH" => {
            if let (_, Some(l)) = session(st, args)? {
                l.touch();
            }
            none()
        }
        "CLOSE" => {
            st.open
                .remove(args.first().map(String::as_str).unwrap_or(""));
            none()
        }
        // A doveadm mail command for this uid's user; its JSON answer carries its own errors.
        "DOVEADM" => {
            let body = match m.fd {
                Some(fd) => proto::read_all(&mut File::from(fd)).map_err(bad)?,
                None => m.body,
            };
            Ok((Vec::new(), doveadm_mail::serve_in_helper(&body), None))
        }
        other => Err(MailError::Internal(format!(
            "unknown mail helper request {other:?}"
        ))),
    }
}

/// The mailbox of the session named by the first argument.
fn session<'a>(
    st: &'a State,
    args: &[String],
) -> Result<&'a (Maildir, Option<Dotlock>), MailError> {
    args.first()
        .and_then(|sid| st.open.get(sid))
        .ok_or_else(not_open)
}

fn not_open() -> MailError {
    MailError::Internal("no mailbox open in this mail helper".into())
}

/// Serves requests on fd 3 until the server closes it (or the helper idles out).
pub fn serve_fd3(_spec: &HelperSpec) -> Result<(), PrivsepError> {
    // SAFETY: fd 3 was set up by the launcher as this helper's socket and is used only here.
    let s = unsafe { UnixStream::from_raw_fd(3) };
    let fd = s.as_raw_fd();
    let mut st = State::default();
    loop {
        if st.open.is_empty() && !readable(fd, IDLE_EXIT) {
            return Ok(());
        }
        let Some(m) = proto::recv(fd, true)? else {
            return Ok(());
        };
        if m.head.is_empty() || m.head[0].is_empty() {
            return Err(PrivsepError::Protocol("empty mail request".into()));
        }
        if m.head[0] == "IMAP" {
            // From now on this helper runs IMAP sessions (privsep::imap_helper).
            return super::imap_helper::serve(fd, m);
        }
        let answer = handle(&mut st, m);
        reply(fd, answer);
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::mail::maildir::mailbox::Change;

    fn msg(head: &[String], body: &[u8]) -> Msg {
        Msg {
            head: head.to_vec(),
            body: body.to_vec(),
            fd: None,
        }
    }

    #[test]
    fn requests_run_roosts_mail_code() {
        let dir = std::env::temp_dir().join(format!("roost-mailhelper-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&dir);
        let to = DeliverTo {
            user: "bob".into(),
            mail_location: format!("maildir:{}/%n", dir.display()),
            host: "h".into(),
            ..DeliverTo::default()
        };
        let mut st = State::default();
        for body in [&b"Subject: 1\n\none\n"[..], b"Subject: 2\n\ntwo\n"] {
            let vsize = crate::mail::maildir::virtual_size(body);
            let mut head = vec![
                "DELIVER".to_string(),
                body.len().to_string(),
                vsize.to_string(),
            ];
            head.extend(proto::encode_to(&to));
            let mut m = msg(&head, b"");
            m.fd = Some(proto::memfd(body).unwrap().into());
            handle(&mut st, m).unwrap();
            // Without the file there is nothing to deliver.
            assert!(handle(&mut st, msg(&head, body)).is_err());
        }
        // READ before OPEN has no mailbox.
        assert!(handle(
            &mut st,
            msg(
                &[
                    "READ".into(),
                    "s1".into(),
                    "a".into(),
                    "b".into(),
                    "1".into()
                ],
                b""
            )
        )
        .is_err());
        let mut open = vec!["OPEN".to_string(), "s1".to_string(), "1".to_string()];
        open.extend(proto::encode_to(&to));
        let (_, snap, _) = handle(&mut st, msg(&open, b"")).unwrap();
        let snap = proto::decode_snapshot(&snap).unwrap();
        assert_eq!(snap.messages.len(), 2);
        assert!(dir.join("bob/dovecot-pop3-session.lock").exists());
        let mut read = vec!["READ".to_string(), "s1".to_string()];
        read.extend(proto::entry_fields(&snap.messages[1]));
        let (_, _, file) = handle(&mut st, msg(&read, b"")).unwrap();
        let data = proto::read_all(&mut file.expect("the message file itself")).unwrap();
        assert_eq!(data, b"Subject: 2\n\ntwo\n");
        let changes = proto::encode_changes(&[(snap.messages[0].clone(), Change::Expunge)]);
        handle(&mut st, msg(&["APPLY".into(), "s1".into()], &changes)).unwrap();
        // A second session of the same uid is refused the lock while s1 holds it.
        let mut open2 = open.clone();
        open2[1] = "s2".into();
        assert!(matches!(
            handle(&mut st, msg(&open2, b"")),
            Err(MailError::LockTimeout(_))
        ));
        handle(&mut st, msg(&["CLOSE".into(), "s1".into()], b"")).unwrap();
        assert!(!dir.join("bob/dovecot-pop3-session.lock").exists());
        let (_, snap, _) = handle(&mut st, msg(&open, b"")).unwrap();
        assert_eq!(proto::decode_snapshot(&snap).unwrap().messages.len(), 1);
        assert!(handle(&mut st, msg(&["BOGUS".into()], b"")).is_err());
        std::fs::remove_dir_all(&dir).unwrap();
    }
}
