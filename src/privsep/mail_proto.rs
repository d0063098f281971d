//! The mail helper's framed protocol (one request frame, one reply frame, on the helper's
//! socket). A frame is a TAB-separated head line (fields `\x01`-escaped as in Dovecot's auth
//! protocol), then `\n`, then a body. The body travels inline, or, when a descriptor comes with
//! the frame (SCM_RIGHTS), it is that file's content: a memfd for large bodies, the message
//! file itself for `READ` replies.
//!
//! * `DELIVER <size> <vsize> <to>` + the spool file's descriptor → `OK <uid>` (the helper
//!   copies it into the recipient's tmp/, fsyncs, moves it into new/)
//! * `OPEN <session> <lock 0|1> <to>` → `OK` + snapshot (the helper keeps the session's
//!   mailbox and lock)
//! * `READ <session> <base> <name> <in_new>` → `OK` + the message file's descriptor
//! * `APPLY <session>` + changes → `OK`; `TOUCH <session>` → `OK`; `CLOSE <session>` → `OK`
//!   (drops the session's mailbox and lock)
//! * any failure → `FAIL <kind> <message>` (`lock`: the POP3 session lock is held; `temp`).

use std::fs::File;
use std::io::{Read, Seek, SeekFrom, Write};
use std::os::fd::{AsRawFd, FromRawFd, OwnedFd, RawFd};

use crate::mail::local::DeliverTo;
use crate::mail::maildir::mailbox::Change;
use crate::mail::maildir::{filename, Flags, MessageEntry, Snapshot};
use crate::mail::MailError;
use crate::protocol::auth::{tab_escape, tab_unescape};

use super::error::PrivsepError;
use super::frame;

/// Bodies larger than this go through a memfd instead of the frame.
pub const INLINE_MAX: usize = 256 * 1024;

/// The largest body read from a passed file (a message, a doveadm answer): the other side
/// cannot make the reader hold more than this.
pub const MAX_PASSED_BODY: u64 = 1 << 30;

/// A decoded frame: head fields and body.
pub struct Msg {
    pub head: Vec<String>,
    pub body: Vec<u8>,
    /// The descriptor that came with the frame, if the caller keeps it (`READ` replies).
    pub fd: Option<OwnedFd>,
}

fn io(what: &str) -> impl FnOnce(std::io::Error) -> PrivsepError + '_ {
    move |source| PrivsepError::Io {
        what: what.to_string(),
        source,
    }
}

/// A sealed-off anonymous file holding `data`.
pub fn memfd(data: &[u8]) -> Result<File, PrivsepError> {
    // SAFETY: a constant NUL-terminated name and flags; the result is checked.
    let fd = unsafe { libc::memfd_create(c"roost-mail".as_ptr(), libc::MFD_CLOEXEC) };
    if fd < 0 {
        return Err(io("memfd_create")(std::io::Error::last_os_error()));
    }
    // SAFETY: a fresh descriptor we own.
    let mut f = unsafe { File::from_raw_fd(fd) };
    f.write_all(data).map_err(io("write memfd"))?;
    Ok(f)
}

/// Reads a passed file from its start to its end.
pub fn read_all(f: &mut File) -> Result<Vec<u8>, PrivsepError> {
    f.seek(SeekFrom::Start(0)).map_err(io("seek"))?;
    let mut v = Vec::new();
    f.read_to_end(&mut v).map_err(io("read passed file"))?;
    Ok(v)
}

/// Sends head + body; `file` (when given) is passed instead of an inline body.
pub fn send(
    sock: RawFd,
    head: &[&str],
    body: &[u8],
    file: Option<&File>,
) -> Result<(), PrivsepError> {
    let mut line: Vec<u8> = head
        .iter()
        .map(|f| tab_escape(f))
        .collect::<Vec<_>>()
        .join("\t")
        .into_bytes();
    line.push(b'\n');
    if let Some(f) = file {
        return frame::send_with_fd(sock, &line, Some(f.as_raw_fd()));
    }
    if body.len() > INLINE_MAX {
        let m = memfd(body)?;
        return frame::send_with_fd(sock, &line, Some(m.as_raw_fd()));
    }
    line.extend_from_slice(body);
    frame::send_with_fd(sock, &line, None)
}

/// Receives one frame (`None` at EOF). With `keep_fd`, a passed descriptor is returned as is;
/// otherwise its content becomes the body.
pub fn recv(sock: RawFd, keep_fd: bool) -> Result<Option<Msg>, PrivsepError> {
    let Some((payload, fd)) = frame::recv_with_fd(sock)? else {
        return Ok(None);
    };
    let nl = payload
        .iter()
        .position(|&b| b == b'\n')
        .ok_or_else(|| PrivsepError::Protocol("mail frame without a head line".into()))?;
    let head = String::from_utf8_lossy(&payload[..nl])
        .split('\t')
        .map(tab_unescape)
        .collect();
    let mut body = payload[nl + 1..].to_vec();
    let mut kept = None;
    match fd {
        Some(fd) if keep_fd => kept = Some(fd),
        Some(fd) => {
            let mut f = File::from(fd);
            let len = f.metadata().map_err(io("stat passed file"))?.len();
            if len > MAX_PASSED_BODY {
                return Err(PrivsepError::Protocol(format!(
                    "a passed body of {len} bytes (at most {MAX_PASSED_BODY})"
                )));
            }
            body = read_all(&mut f)?;
        }
        None => {}
    }
    Ok(Some(Msg {
        head,
        body,
        fd: kept,
    }))
}

fn flag(b: bool) -> &'static str {
    if b {
        "1"
    } else {
        "0"
    }
}

/// `DeliverTo` as head fields.
pub fn encode_to(to: &DeliverTo) -> Vec<String> {
    let mut v = vec![
        to.user.clone(),
        to.mail_location.clone(),
        flag(to.fsync).into(),
        to.host.clone(),
        to.detail.clone(),
        flag(to.save_to_detail).into(),
        flag(to.autocreate).into(),
    ];
    v.extend(to.fields.iter().map(|(k, val)| format!("{k}={val}")));
    v
}

pub fn decode_to(f: &[String]) -> Result<DeliverTo, PrivsepError> {
    if f.len() < 7 {
        return Err(PrivsepError::Protocol("short mail request".into()));
    }
    Ok(DeliverTo {
        user: f[0].clone(),
        mail_location: f[1].clone(),
        fsync: f[2] == "1",
        host: f[3].clone(),
        detail: f[4].clone(),
        save_to_detail: f[5] == "1",
        autocreate: f[6] == "1",
        fields: f[7..]
            .iter()
            .map(|kv| {
                let (k, v) = kv.split_once('=').unwrap_or((kv, ""));
                (k.to_string(), v.to_string())
            })
            .collect(),
    })
}

fn line(fields: &[&str]) -> String {
    let mut s = fields
        .iter()
        .map(|f| tab_escape(f))
        .collect::<Vec<_>>()
        .join("\t");
    s.push('\n');
    s
}

fn fields(l: &str) -> Vec<String> {
    l.split('\t').map(tab_unescape).collect()
}

fn num<T: std::str::FromStr>(s: &str) -> Result<T, PrivsepError> {
    s.parse()
        .map_err(|_| PrivsepError::Protocol(format!("bad number {s:?}")))
}

pub fn encode_snapshot(s: &Snapshot) -> Vec<u8> {
    let mut out = line(&[&s.uid_validity.to_string(), &s.next_uid.to_string()]);
    for m in &s.messages {
        out.push_str(&line(&[
            &m.uid.to_string(),
            &m.base,
            &m.guid,
            &m.name,
            flag(m.in_new),
            &m.size.to_string(),
            &m.vsize.to_string(),
        ]));
    }
    out.into_bytes()
}

pub fn decode_snapshot(b: &[u8]) -> Result<Snapshot, PrivsepError> {
    let text = String::from_utf8_lossy(b);
    let mut lines = text.lines();
    let h = fields(lines.next().unwrap_or(""));
    if h.len() != 2 {
        return Err(PrivsepError::Protocol("bad snapshot header".into()));
    }
    let mut messages = Vec::new();
    for l in lines {
        let f = fields(l);
        if f.len() != 7 {
            return Err(PrivsepError::Protocol("bad snapshot line".into()));
        }
        messages.push(MessageEntry {
            uid: num(&f[0])?,
            base: f[1].clone(),
            guid: f[2].clone(),
            flags: filename::split(&f[3]).1.unwrap_or_default(),
            name: f[3].clone(),
            in_new: f[4] == "1",
            size: num(&f[5])?,
            vsize: num(&f[6])?,
        });
    }
    Ok(Snapshot {
        uid_validity: num(&h[0])?,
        next_uid: num(&h[1])?,
        messages,
    })
}

/// What `Maildir::read`/`apply` use of an entry: base, current name, new/ or cur/.
pub fn entry_fields(e: &MessageEntry) -> [String; 3] {
    [e.base.clone(), e.name.clone(), flag(e.in_new).to_string()]
}

pub fn entry_from(f: &[String]) -> Result<MessageEntry, PrivsepError> {
    if f.len() < 3 {
        return Err(PrivsepError::Protocol("short message entry".into()));
    }
    Ok(MessageEntry {
        uid: 0,
        base: f[0].clone(),
        guid: String::new(),
        flags: filename::split(&f[1]).1.unwrap_or_default(),
        name: f[1].clone(),
        in_new: f[2] == "1",
        size: 0,
        vsize: 0,
    })
}

pub fn encode_changes(changes: &[(MessageEntry, Change)]) -> Vec<u8> {
    let mut out = String::new();
    for (e, c) in changes {
        let kind = match c {
            Change::Expunge => "x".to_string(),
            Change::SetFlags(f) => format!("f{}", f.letters()),
        };
        let [b, n, i] = entry_fields(e);
        out.push_str(&line(&[&kind, &b, &n, &i]));
    }
    out.into_bytes()
}

pub fn decode_changes(b: &[u8]) -> Result<Vec<(MessageEntry, Change)>, PrivsepError> {
    String::from_utf8_lossy(b)
        .lines()
        .map(|l| {
            let f = fields(l);
            let e = entry_from(f.get(1..).unwrap_or(&[]))?;
            let c = match f[0].as_str() {
                "x" => Change::Expunge,
                k if k.starts_with('f') => Change::SetFlags(Flags::from_info(&k[1..])),
                k => return Err(PrivsepError::Protocol(format!("bad change {k:?}"))),
            };
            Ok((e, c))
        })
        .collect()
}

/// A failure as reply head fields.
pub fn fail(e: &MailError) -> [String; 3] {
    let kind = match e {
        MailError::LockTimeout(_) => "lock",
        _ => "temp",
    };
    ["FAIL".into(), kind.into(), e.to_string()]
}

/// A reply head as a result: `OK …` → the fields after `OK`; `FAIL` → the mail error.
pub fn reply(head: &[String]) -> Result<&[String], MailError> {
    match head.first().map(String::as_str) {
        Some("OK") => Ok(&head[1..]),
        Some("FAIL") if head.get(1).map(String::as_str) == Some("lock") => Err(
            MailError::LockTimeout(head.get(2).cloned().unwrap_or_default().into()),
        ),
        Some("FAIL") => Err(MailError::Internal(format!(
            "mail helper: {}",
            head.get(2).map(String::as_str).unwrap_or("failed")
        ))),
        _ => Err(MailError::Internal(format!(
            "mail helper: bad reply {:?}",
            head.first()
        ))),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::os::unix::net::UnixStream;

    /// A passed file over the limit is refused by its size, without reading it (the memfd is
    /// sparse: it takes no memory).
    #[test]
    fn an_oversized_passed_body_is_refused_unread() {
        let (a, b) = UnixStream::pair().unwrap();
        let big = memfd(b"").unwrap();
        big.set_len(MAX_PASSED_BODY + 1).unwrap();
        send(a.as_raw_fd(), &["OK"], &[], Some(&big)).unwrap();
        match recv(b.as_raw_fd(), false) {
            Err(PrivsepError::Protocol(m)) => assert!(m.contains("passed body"), "{m}"),
            Err(e) => panic!("{e}"),
            Ok(_) => panic!("an oversized body was read"),
        }
        // At the limit's side of it, a passed body is read whole.
        let small = memfd(b"hello").unwrap();
        send(a.as_raw_fd(), &["OK"], &[], Some(&small)).unwrap();
        let m = recv(b.as_raw_fd(), false).unwrap().unwrap();
        assert_eq!(m.body, b"hello");
    }

    #[test]
    fn codecs_roundtrip() {
        let to = DeliverTo {
            user: "a\tb@x".into(),
            fields: vec![
                ("uid".into(), "2001".into()),
                ("home".into(), "/h\n".into()),
            ],
            mail_location: "maildir:~/M".into(),
            fsync: true,
            host: "h".into(),
            detail: "box".into(),
            save_to_detail: true,
            autocreate: false,
        };
        assert_eq!(decode_to(&encode_to(&to)).unwrap(), to);
        let e = MessageEntry {
            uid: 3,
            base: "1.M2P3.h,S=5,W=6".into(),
            guid: "g".into(),
            name: "1.M2P3.h,S=5,W=6:2,S".into(),
            in_new: false,
            flags: Flags::from_info("S"),
            size: 5,
            vsize: 6,
        };
        let snap = Snapshot {
            uid_validity: 7,
            next_uid: 4,
            messages: vec![e.clone()],
        };
        let back = decode_snapshot(&encode_snapshot(&snap)).unwrap();
        assert_eq!(back.messages, snap.messages);
        assert_eq!((back.uid_validity, back.next_uid), (7, 4));
        let ch = decode_changes(&encode_changes(&[
            (e.clone(), Change::Expunge),
            (e.clone(), Change::SetFlags(Flags::from_info("ST"))),
        ]))
        .unwrap();
        assert!(matches!(ch[0].1, Change::Expunge));
        assert!(matches!(&ch[1].1, Change::SetFlags(f) if f.letters() == "ST"));
        assert_eq!(ch[1].0.name, e.name);
    }

    #[test]
    fn large_bodies_go_through_a_memfd() {
        let (a, b) = UnixStream::pair().unwrap();
        let big = vec![b'x'; INLINE_MAX + 10];
        send(a.as_raw_fd(), &["DELIVER", "x"], &big, None).unwrap();
        send(a.as_raw_fd(), &["OK"], b"small", None).unwrap();
        let m = recv(b.as_raw_fd(), false).unwrap().unwrap();
        assert_eq!(
            (m.head, m.body.len()),
            (vec!["DELIVER".into(), "x".into()], big.len())
        );
        let m = recv(b.as_raw_fd(), false).unwrap().unwrap();
        assert_eq!(m.body, b"small");
        assert!(matches!(
            reply(&["FAIL".into(), "lock".into(), "p".into()]),
            Err(MailError::LockTimeout(_))
        ));
    }
}
