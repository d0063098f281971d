//! Frames between the server, the launcher and helpers: a 4-byte big-endian length, then that
//! many bytes (at most [`MAX_FRAME`]). On the launcher socket a frame may carry one file
//! descriptor (SCM_RIGHTS), which is how a new helper's socket reaches the server.

use std::io::{IoSlice, IoSliceMut, Read, Write};
use std::os::fd::{AsRawFd, FromRawFd, OwnedFd, RawFd};

use nix::sys::socket::{recvmsg, sendmsg, ControlMessage, ControlMessageOwned, MsgFlags};

use super::error::PrivsepError;

pub const MAX_FRAME: usize = 1 << 20;

/// Encodes one frame.
pub fn encode(payload: &[u8]) -> Vec<u8> {
    let mut v = Vec::with_capacity(payload.len() + 4);
    v.extend_from_slice(&(payload.len() as u32).to_be_bytes());
    v.extend_from_slice(payload);
    v
}

/// Decodes the first complete frame of `buf`: `(payload, bytes consumed)`, `Ok(None)` if more
/// bytes are needed.
pub fn decode(buf: &[u8]) -> Result<Option<(Vec<u8>, usize)>, PrivsepError> {
    if buf.len() < 4 {
        return Ok(None);
    }
    let len = u32::from_be_bytes(buf[..4].try_into().expect("4 bytes")) as usize;
    if len > MAX_FRAME {
        return Err(PrivsepError::Protocol(format!("frame of {len} bytes")));
    }
    if buf.len() < 4 + len {
        return Ok(None);
    }
    Ok(Some((buf[4..4 + len].to_vec(), 4 + len)))
}

/// Blocking: reads one frame (`None` at EOF).
pub fn read_frame(r: &mut impl Read) -> Result<Option<Vec<u8>>, PrivsepError> {
    let mut len = [0u8; 4];
    match r.read_exact(&mut len) {
        Ok(()) => {}
        Err(e) if e.kind() == std::io::ErrorKind::UnexpectedEof => return Ok(None),
        Err(e) => return Err(io("read frame", e)),
    }
    let n = u32::from_be_bytes(len) as usize;
    if n > MAX_FRAME {
        return Err(PrivsepError::Protocol(format!("frame of {n} bytes")));
    }
    let mut v = vec![0u8; n];
    r.read_exact(&mut v).map_err(|e| io("read frame", e))?;
    Ok(Some(v))
}

/// Blocking: writes one frame.
pub fn write_frame(w: &mut impl Write, payload: &[u8]) -> Result<(), PrivsepError> {
    w.write_all(&encode(payload))
        .map_err(|e| io("write frame", e))
}

fn io(what: &str, source: std::io::Error) -> PrivsepError {
    PrivsepError::Io {
        what: what.into(),
        source,
    }
}

/// Sends one frame with an optional descriptor over a unix socket (blocking).
pub fn send_with_fd(sock: RawFd, payload: &[u8], fd: Option<RawFd>) -> Result<(), PrivsepError> {
    let data = encode(payload);
    let iov = [IoSlice::new(&data)];
    let fds;
    let cmsg: Vec<ControlMessage> = match fd {
        Some(f) => {
            fds = [f];
            vec![ControlMessage::ScmRights(&fds)]
        }
        None => Vec::new(),
    };
    let n = sendmsg::<()>(sock, &iov, &cmsg, MsgFlags::empty(), None).map_err(|e| {
        PrivsepError::Sys {
            what: "sendmsg".into(),
            source: e,
        }
    })?;
    if n != data.len() {
        // Frames are small; a short write on a stream socket is finished plainly.
        let mut f = unsafe { std::fs::File::from_raw_fd(sock) };
        let r = f.write_all(&data[n..]);
        std::mem::forget(f);
        r.map_err(|e| io("write frame", e))?;
    }
    Ok(())
}

/// A received frame and the descriptor that came with it, if any.
pub type FrameWithFd = (Vec<u8>, Option<OwnedFd>);

/// Receives one frame and any descriptor sent with it (blocking). `None` at EOF.
pub fn recv_with_fd(sock: RawFd) -> Result<Option<FrameWithFd>, PrivsepError> {
    let mut head = [0u8; 4];
    let mut got = 0;
    let mut fd = None;
    while got < 4 {
        let mut cbuf = nix::cmsg_space!([RawFd; 1]);
        let mut iov = [IoSliceMut::new(&mut head[got..])];
        let msg = recvmsg::<()>(sock, &mut iov, Some(&mut cbuf), MsgFlags::MSG_CMSG_CLOEXEC)
            .map_err(|e| PrivsepError::Sys {
                what: "recvmsg".into(),
                source: e,
            })?;
        for c in msg.cmsgs().map_err(|e| PrivsepError::Sys {
            what: "cmsgs".into(),
            source: e,
        })? {
            if let ControlMessageOwned::ScmRights(v) = c {
                for f in v {
                    // SAFETY: the kernel just gave us this descriptor.
                    let owned = unsafe { OwnedFd::from_raw_fd(f) };
                    if fd.is_none() {
                        fd = Some(owned);
                    }
                }
            }
        }
        if msg.bytes == 0 {
            return Ok(None);
        }
        got += msg.bytes;
    }
    let n = u32::from_be_bytes(head) as usize;
    if n > MAX_FRAME {
        return Err(PrivsepError::Protocol(format!("frame of {n} bytes")));
    }
    let mut v = vec![0u8; n];
    // SAFETY: borrowing the caller's descriptor for a plain read; not closed here.
    let mut f = unsafe { std::fs::File::from_raw_fd(sock) };
    let r = f.read_exact(&mut v);
    std::mem::forget(f);
    r.map_err(|e| io("read frame", e))?;
    Ok(Some((v, fd)))
}

/// The raw descriptor of anything that has one.
pub fn raw(f: &impl AsRawFd) -> RawFd {
    f.as_raw_fd()
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;
    use std::os::unix::net::UnixStream;

    #[test]
    fn frames_and_fd_passing() {
        assert_eq!(
            decode(&encode(b"hello")).unwrap(),
            Some((b"hello".to_vec(), 9))
        );
        assert_eq!(decode(&encode(b"hello")[..6]).unwrap(), None);
        assert!(decode(&[0xff, 0xff, 0xff, 0xff]).is_err());
        let (a, b) = UnixStream::pair().unwrap();
        let (x, mut y) = UnixStream::pair().unwrap();
        send_with_fd(a.as_raw_fd(), b"take this", Some(x.as_raw_fd())).unwrap();
        send_with_fd(a.as_raw_fd(), b"plain", None).unwrap();
        let (p, fd) = recv_with_fd(b.as_raw_fd()).unwrap().unwrap();
        assert_eq!(p, b"take this");
        let mut passed = UnixStream::from(fd.unwrap());
        passed.write_all(b"via passed fd").unwrap();
        let mut buf = [0u8; 13];
        y.read_exact(&mut buf).unwrap();
        assert_eq!(&buf, b"via passed fd");
        let (p, fd) = recv_with_fd(b.as_raw_fd()).unwrap().unwrap();
        assert_eq!((p.as_slice(), fd.is_none()), (&b"plain"[..], true));
        drop(a);
        assert!(recv_with_fd(b.as_raw_fd()).unwrap().is_none());
    }

    proptest! {
        #[test]
        fn decode_never_panics(data in proptest::collection::vec(any::<u8>(), 0..40)) {
            let _ = decode(&data);
        }
    }
}
